#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# IPC handles between zones against a real vgpu-proxy: two registrations (two pods), the
# program tests/isolation/ipc_zones.c opens zones of each and of none and checks that a handle
# opens only in a zone of the registration that exported it, only what was exported, and
# nothing once it was freed or its zone ended. The proxy's log must show no sanitizer report.
set -u
B=${VGPU_BUILD:-build/san}
backend=${VGPU_E2E_BACKEND:-sim}
. tests/proxy_lib.sh
proxy_need_sim "$B" "$backend"
fail() { echo "FAIL: $*"; echo "--- proxy log:"; cat "$PROXY_LOG"; exit 1; }

proxy_start "$B" "$backend" --log-level debug || exit 1
ctl() { "$B/proxy/vgpuctl" --listen "$PROXY_SOCK" "$@"; }
VGPU_TEST_TOKEN_A=$(ctl register pod-a) || fail "register pod-a"
VGPU_TEST_TOKEN_B=$(ctl register pod-b) || fail "register pod-b"
export VGPU_TEST_TOKEN_A VGPU_TEST_TOKEN_B VGPU_PROXY=$PROXY_SOCK LD_LIBRARY_PATH=$PWD/$B/libvgpu VGPU_LOG=0
"$B/tests/isolation/ipc_zones" || fail "ipc_zones"
grep -q "cuIpcOpenMemHandle: 1048576 bytes of another zone of the registration" "$PROXY_LOG" ||
  fail "the proxy's log does not show the import"
grep -q "zone closed 1 IPC mapping" "$PROXY_LOG" && fail "a zone that closed what it opened had a mapping left to close"
proxy_stop || fail "vgpu-proxy exited $? on SIGTERM"
if grep -E "AddressSanitizer|runtime error|killed by signal" "$PROXY_LOG" | grep -v "signal 15 (Terminated)"; then
  fail "a proxy process failed"
fi
echo "PASS: IPC handles open only within their registration"
