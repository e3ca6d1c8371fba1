#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs one end-to-end driver-API program twice and compares what it prints:
#   1. as a zone: libvgpu as libcuda.so.1 -> vgpu-proxy (its own, on a private socket) -> backend
#   2. directly on the backend (the simulator's libcudasim.so, or the real libcuda.so.1)
# VGPU_E2E_BACKEND=sim (default) or cuda (a machine with an NVIDIA GPU).
set -u
prog=${1:?usage: tests/e2e/run.sh PROGRAM}
B=${VGPU_BUILD:-build/san}
backend=${VGPU_E2E_BACKEND:-sim}
name=$(basename "$prog")

sim=$PWD/$B/sim/libcudasim.so
if [ "$backend" = sim ] && [ ! -f "$sim" ]; then
  echo "skip: $sim is not built (the simulator backend is needed without a GPU)"; exit 77
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vgpu-e2e-$name.XXXXXX")
proxy_pid=
cleanup() {
  [ -n "$proxy_pid" ] && kill -TERM "$proxy_pid" 2>/dev/null && wait "$proxy_pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT

"$B/proxy/vgpu-proxy" --listen "$tmp/proxy.sock" --backend "$backend" --sim-lib "$sim" --log-level info \
  >"$tmp/proxy.log" 2>&1 &
proxy_pid=$!
for _ in $(seq 100); do [ -S "$tmp/proxy.sock" ] && break; sleep 0.1; done
if [ ! -S "$tmp/proxy.sock" ]; then
  echo "FAIL: vgpu-proxy did not start; its log:"; cat "$tmp/proxy.log"; exit 1
fi

export VGPU_KERNELS=$PWD/$B/tests/kernels
echo "== $name through libvgpu + vgpu-proxy ($backend)"
VGPU_PROXY=$tmp/proxy.sock VGPU_E2E_PROXY=1 LD_LIBRARY_PATH=$PWD/$B/libvgpu "$prog" >"$tmp/zone.out" 2>"$tmp/zone.err"
rc=$?
cat "$tmp/zone.out" "$tmp/zone.err"
if [ $rc -ne 0 ]; then
  echo "FAIL: $name exited $rc through the proxy; proxy log:"; cat "$tmp/proxy.log"; exit 1
fi

echo "== $name directly on the backend"
mkdir "$tmp/direct"
if [ "$backend" = sim ]; then
  ln -s "$sim" "$tmp/direct/libcuda.so.1"
  LD_LIBRARY_PATH=$tmp/direct "$prog" >"$tmp/direct.out" 2>"$tmp/direct.err"
else
  "$prog" >"$tmp/direct.out" 2>"$tmp/direct.err"
fi
rc=$?
cat "$tmp/direct.out" "$tmp/direct.err"
if [ $rc -ne 0 ]; then
  echo "FAIL: $name exited $rc directly on the backend"; exit 1
fi
if ! diff -u "$tmp/direct.out" "$tmp/zone.out"; then
  echo "FAIL: $name printed something different through the proxy"; exit 1
fi

kill -TERM "$proxy_pid"; wait "$proxy_pid"; prc=$?; proxy_pid=
if [ $prc -ne 0 ]; then
  echo "FAIL: vgpu-proxy exited $prc on SIGTERM; its log:"; cat "$tmp/proxy.log"; exit 1
fi
if grep -E "AddressSanitizer|runtime error|killed by signal" "$tmp/proxy.log" | grep -v "signal 15 (Terminated)"; then
  echo "FAIL: a proxy process failed; its log:"; cat "$tmp/proxy.log"; exit 1
fi
echo "PASS: $name gives the same output through the proxy and directly"
