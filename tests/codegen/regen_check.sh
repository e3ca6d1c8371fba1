#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Fails when generated/ is not what vgpu-codegen makes from cuda.h + spec/cuda.spec now,
# and checks that two runs give byte-identical output (deterministic, idempotent).
# Keep the options in step with the regen target in codegen/module.mk.
set -u
if [ "${1:-}" = "--help" ]; then
  echo "usage: regen_check.sh   (cwd = repo root, VGPU_BUILD = build dir holding codegen/vgpu-codegen)"
  exit 0
fi
cg=${VGPU_BUILD:-build/rel}/codegen/vgpu-codegen
cuda_h=${CUDA_H:-/usr/local/cuda/include/cuda.h}
if [ ! -x "$cg" ]; then echo "regen_check: $cg not built (make $cg)"; exit 1; fi
if [ ! -r "$cuda_h" ]; then echo "regen_check: $cuda_h not found; install the CUDA toolkit headers"; exit 77; fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/a" "$tmp/b"
for d in a b; do
  if ! "$cg" --quiet --header "$cuda_h" --extra-header "$(dirname "$cuda_h")/cudaProfiler.h" --spec spec/cuda.spec --out "$tmp/$d"; then
    echo "regen_check: vgpu-codegen failed on spec/cuda.spec (see above)"; exit 1
  fi
done
if ! diff -r "$tmp/a" "$tmp/b" >/dev/null; then
  echo "regen_check: two runs of vgpu-codegen differ: output is not deterministic"; exit 1
fi
if ! diff -r -u generated "$tmp/a" >"$tmp/diff"; then
  head -n 40 "$tmp/diff"
  echo "generated/ is stale: run make regen"
  exit 1
fi
echo "generated/ is up to date ($(ls generated | wc -l) files)"
