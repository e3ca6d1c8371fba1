#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs one runtime-API test program (tests/runtime/NAME.cu), built twice by nvcc — with the
# CUDA runtime linked statically (nvcc's default) and with -cudart shared — each through
# libvgpu + vgpu-proxy and directly on the backend (tests/e2e/run.sh), and checks that the
# two builds print the same. Each program verifies its own results against the host; one
# whose output is its result (tests/runtime/NAME.expected) must print exactly that.
#   tests/runtime/run.sh STATIC_BINARY SHARED_BINARY
set -u
static=${1:?usage: tests/runtime/run.sh STATIC_BINARY SHARED_BINARY}
shared=${2:?usage: tests/runtime/run.sh STATIC_BINARY SHARED_BINARY}
tmp=$(mktemp -d /tmp/vgpu-rt.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# Programs whose processes share device memory (IPC handles) run as zones of one registration;
# programs of two GPUs get two simulated devices (on a GPU machine, the machine's devices).
case $(basename "$static") in
  ipc_share) export VGPU_E2E_REGISTER=1 ;;
  peer_access) export VGPU_SIM_DEVICES=2 ;;
esac
# Each build's output directly on the backend, kept by tests/e2e/run.sh (which compared it with
# the zone's), is what the two builds compare: the static and shared builds print the same.
for bin in "$static" "$shared"; do
  VGPU_E2E_DIRECT_OUT=$tmp/$(basename "$bin").out tests/e2e/run.sh "$bin" >"$tmp/$(basename "$bin").log" 2>&1
  rc=$?
  cat "$tmp/$(basename "$bin").log"
  [ $rc -eq 77 ] && exit 77   # skipped: its last line says why
  [ $rc -eq 0 ] || exit 1
done
if ! diff -u "$tmp/$(basename "$static").out" "$tmp/$(basename "$shared").out"; then
  echo "FAIL: $(basename "$static") prints differently when built with -cudart shared"
  exit 1
fi
# A program whose output is its result (device printf) prints exactly what NAME.expected holds.
expected=tests/runtime/$(basename "$static").expected
if [ -f "$expected" ] && ! diff -u "$expected" "$tmp/$(basename "$static").out"; then
  echo "FAIL: $(basename "$static") does not print what $expected holds"
  exit 1
fi
echo "PASS: $(basename "$static"): static and shared cudart, directly and through vgpu, all agree"
