#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make demo: until vgpu-proxy exists, a ring demo — two processes exchange messages and a
# bulk stream over the shm transport and print round-trip time and bandwidth.
set -eu
if [ "${1:-}" = "--help" ] || [ $# -ne 1 ]; then
  echo "usage: tests/demo.sh BUILD_DIR   (e.g. build/rel; run by 'make demo')"
  [ "${1:-}" = "--help" ] && exit 0 || exit 2
fi
bench=$1/bench/ring
if [ ! -x "$bench" ]; then
  echo "demo: $bench is missing; build it first with: make B=$1 all" >&2
  exit 1
fi
echo "vgpu ring demo: a client and a server process talk over a memfd grant ring"
echo "(the full demo with vgpu-proxy replaces this once the proxy lands)"
echo
"$bench" --quick
