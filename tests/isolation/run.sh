#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Isolation between zones, against a real vgpu-proxy on a private socket (simulator backend):
#   two_zones: zone B refused everything of zone A's; quota; a zone killed mid-transfer
#   cycles:    200 zones connect and disconnect; the supervisor's fds and memory stay flat
# and afterwards the proxy's stats show no zone left (everything freed).
set -u
B=${VGPU_BUILD:-build/san}
backend=${VGPU_E2E_BACKEND:-sim}
quota=$((64 << 20))
. tests/proxy_lib.sh
proxy_need_sim "$B" "$backend"
fail() { echo "FAIL: $*"; echo "--- proxy log:"; cat "${PROXY_LOG:-/dev/null}"; exit 1; }
# what a zone is told of the device's memory is chosen from two views, nothing else
out=$("$B/proxy/vgpu-proxy" --zone-mem-view nope 2>&1); rc=$?
[ $rc -eq 2 ] && grep -q -- "--zone-mem-view nope: expected quota or device" <<<"$out" ||
  fail "vgpu-proxy --zone-mem-view nope: exit $rc, said: $out"
# (the default, quota, is what two_zones checks; adv_fixedva runs with device)
proxy_start "$B" "$backend" --zone-mem-limit "$quota" --zone-mem-view quota --log-level info || exit 1
tmp=$PROXY_TMP proxy_pid=$PROXY_PID

export VGPU_PROXY=$PROXY_SOCK LD_LIBRARY_PATH=$PWD/$B/libvgpu VGPU_KERNELS=$PWD/$B/tests/kernels
export VGPU_LOG=0

# Wait until the proxy reports no zone (workers notice a vanished zone within ~100 ms).
zones_gone() {
  for _ in $(seq 100); do
    z=$("$B/proxy/vgpu-proxy" --stats --listen "$tmp/proxy.sock" | awk '/^zones/ {print $2}')
    [ "$z" = 0 ] && return 0
    sleep 0.1
  done
  "$B/proxy/vgpu-proxy" --stats --listen "$tmp/proxy.sock"
  return 1
}

"$B/tests/isolation/two_zones" "$quota" || fail "two_zones"
zones_gone || fail "zones still held by the proxy after all zone processes ended"
grep -q "zone freed" "$tmp/proxy.log" || fail "no zone was freed"

fds() { ls "/proc/$proxy_pid/fd" | wc -l; }
rss() { awk '/^VmRSS/ {print $2}' "/proc/$proxy_pid/status"; }
"$B/tests/isolation/cycles" 20 || fail "warm-up cycles"
zones_gone || fail "zones left after warm-up"
fd0=$(fds); rss0=$(rss)
"$B/tests/isolation/cycles" 200 || fail "200 connect/disconnect cycles"
zones_gone || fail "zones left after 200 cycles"
fd1=$(fds); rss1=$(rss)
echo "supervisor: fds $fd0 -> $fd1, RSS ${rss0} kB -> ${rss1} kB over 200 zones"
[ "$fd1" -le "$fd0" ] || fail "supervisor leaked file descriptors ($fd0 -> $fd1)"
[ $((rss1 - rss0)) -lt 2048 ] || fail "supervisor memory grew by $((rss1 - rss0)) kB over 200 zones"

if grep -E "AddressSanitizer|runtime error|LeakSanitizer" "$tmp/proxy.log"; then fail "sanitizer report in the proxy"; fi
proxy_stop; prc=$?
[ $prc -eq 0 ] || fail "vgpu-proxy exited $prc on SIGTERM"
echo "PASS: isolation"
