#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs one end-to-end driver-API program twice and compares what it prints:
#   1. as a zone: libvgpu as libcuda.so.1 -> vgpu-proxy (its own, on a private socket) -> backend
#   2. directly on the backend (the simulator's libcudasim.so, or the real libcuda.so.1)
# VGPU_E2E_BACKEND=sim (default) or cuda (a machine with an NVIDIA GPU); VGPU_E2E_PROXY_ARGS:
# more vgpu-proxy options (e.g. --device-va fixed; tests/proxy_lib.sh); VGPU_E2E_DIRECT_OUT: a
# file to keep the direct run's output in (tests/runtime/run.sh compares two builds' with it).
set -u
prog=${1:?usage: tests/e2e/run.sh PROGRAM}
B=${VGPU_BUILD:-build/san}
backend=${VGPU_E2E_BACKEND:-sim}
name=$(basename "$prog")

. tests/proxy_lib.sh
proxy_need_sim "$B" "$backend"
# tests/e2e/NAME.proxylog (below) may ask for the proxy's debug log with a line "@debug"
expect=tests/e2e/$name.proxylog
level=info
[ -f "$expect" ] && grep -qx '@debug' "$expect" && level=debug
proxy_start "$B" "$backend" --log-level $level || exit 1
tmp=$PROXY_TMP
# VGPU_E2E_REGISTER=1: the program's processes are zones of one registration (a pod's), as
# programs that share memory between processes (IPC handles) need
if [ "${VGPU_E2E_REGISTER:-0}" = 1 ]; then
  token=$("$B/proxy/vgpuctl" --listen "$PROXY_SOCK" register e2e-pod) || { echo "FAIL: vgpuctl register"; exit 1; }
  export VGPU_ZONE_TOKEN=$token
fi

export VGPU_KERNELS=$PWD/$B/tests/kernels
echo "== $name through libvgpu + vgpu-proxy ($backend)"
VGPU_PROXY=$PROXY_SOCK VGPU_E2E_PROXY=1 LD_LIBRARY_PATH=$PWD/$B/libvgpu "$prog" >"$tmp/zone.out" 2>"$tmp/zone.err"
rc=$?
cat "$tmp/zone.out" "$tmp/zone.err"
if [ $rc -ne 0 ]; then
  echo "FAIL: $name exited $rc through the proxy; proxy log:"; cat "$tmp/proxy.log"; exit 1
fi

echo "== $name directly on the backend"
direct_run "$B" "$backend" "$tmp/direct.out" "$tmp/direct.err" "$prog"
rc=$?
cat "$tmp/direct.out" "$tmp/direct.err"
if [ $rc -ne 0 ]; then
  echo "FAIL: $name exited $rc directly on the backend"; exit 1
fi
if ! diff -u "$tmp/direct.out" "$tmp/zone.out"; then
  echo "FAIL: $name printed something different through the proxy"; exit 1
fi
if [ -n "${VGPU_E2E_DIRECT_OUT:-}" ] && ! cp "$tmp/direct.out" "$VGPU_E2E_DIRECT_OUT"; then
  echo "FAIL: cannot keep the direct run's output in $VGPU_E2E_DIRECT_OUT"; exit 1
fi

# What the proxy must have logged for this program (tests/e2e/NAME.proxylog: one
# extended regular expression per line), e.g. that a path was taken at all; a line
# starting with '!' names what no line of the log may match ("@debug": see above).
if [ -f "$expect" ]; then
  # the zone ends when its worker notices the program is gone (within a liveness period)
  for _ in $(seq 100); do grep -q "zone freed" "$tmp/proxy.log" && break; sleep 0.1; done
  while IFS= read -r re; do
    [ -n "$re" ] || continue
    case $re in
      @debug) ;;
      '!'*)
        if grep -E "${re#!}" "$tmp/proxy.log"; then
          echo "FAIL: the proxy log has the line above, matching '${re#!}' ($expect); its log:"; cat "$tmp/proxy.log"; exit 1
        fi ;;
      *)
        if ! grep -qE "$re" "$tmp/proxy.log"; then
          echo "FAIL: the proxy log has no line matching '$re' ($expect); its log:"; cat "$tmp/proxy.log"; exit 1
        fi ;;
    esac
  done <"$expect"
fi
proxy_stop; prc=$?
if [ $prc -ne 0 ]; then
  echo "FAIL: vgpu-proxy exited $prc on SIGTERM; its log:"; cat "$tmp/proxy.log"; exit 1
fi
if grep -E "AddressSanitizer|runtime error|killed by signal" "$tmp/proxy.log" | grep -v "signal 15 (Terminated)"; then
  echo "FAIL: a proxy process failed; its log:"; cat "$tmp/proxy.log"; exit 1
fi
echo "PASS: $name gives the same output through the proxy and directly"
