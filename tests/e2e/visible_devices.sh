#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# CUDA_VISIBLE_DEVICES in a zone: the proxy starts the zone's driver with the program's list
# read over the devices it shows zones, as the driver reads it over the machine's. On a
# simulator with three devices, for each list: tests/e2e/visible (cuInit's answer, the count,
# each ordinal's bus id and UUID, memory used on each, which ordinal each bus id finds) must
# print the same through vgpu as directly, lists that renumber devices ("1", "2,0", a UUID)
# included; so must NVML's view (tests/e2e/nvml: every device counted whatever the list says,
# as NVIDIA's, those it hides by index only) and a runtime-API program using every visible
# device (tests/runtime/devices) under lists of two; a list that hides every device must fail
# cuInit with CUDA_ERROR_NO_DEVICE without a zone being made. Then a proxy that has a list of
# its own: a zone's list is read over the devices that list leaves the proxy (through vgpu
# "1" under the proxy's "2,0,1" is directly "0"), and no zone reaches a device the proxy's
# list hides, by index or by UUID (CUDA_ERROR_NO_DEVICE, no zone made).
set -u
B=${VGPU_BUILD:-build/san}
for p in "$B/tests/e2e/visible" "$B/tests/e2e/nvml" "$B/tests/runtime/devices"; do
  [ -x "$p" ] || { echo "FAIL: $p is not built (make B=$B $p)"; exit 1; }
done
unset CUDA_VISIBLE_DEVICES
export VGPU_SIM_DEVICES=3   # the proxy's simulator and the direct runs alike
. tests/proxy_lib.sh
proxy_need_sim "$B" sim
proxy_start "$B" sim --log-level info || exit 1
tmp=$PROXY_TMP
fail=0
export VGPU_KERNELS=$PWD/$B/tests/kernels

# compare LABEL LIST PROGRAM: PROGRAM under CUDA_VISIBLE_DEVICES=LIST through vgpu and directly
compare() {
  local label=$1 list=$2 prog=$3
  CUDA_VISIBLE_DEVICES=$list VGPU_PROXY=$PROXY_SOCK VGPU_E2E_PROXY=1 LD_LIBRARY_PATH=$PWD/$B/libvgpu \
    "$prog" >"$tmp/$label.zone" 2>"$tmp/$label.zone.err"
  local zrc=$?
  CUDA_VISIBLE_DEVICES=$list direct_run "$B" sim "$tmp/$label.direct" "$tmp/$label.direct.err" "$prog"
  local drc=$?
  if [ $zrc -ne 0 ] || [ $drc -ne 0 ]; then
    echo "FAIL: $label: exit $zrc through vgpu, $drc directly"
    sed 's/^/   zone   | /' "$tmp/$label.zone" "$tmp/$label.zone.err"
    sed 's/^/   direct | /' "$tmp/$label.direct" "$tmp/$label.direct.err"
    fail=1; return
  fi
  if ! diff -u "$tmp/$label.direct" "$tmp/$label.zone"; then
    echo "FAIL: $label prints something else through vgpu than directly"; fail=1; return
  fi
  echo "ok: $label: $(grep -E '^(cuInit|devices|nvml:)' "$tmp/$label.zone" | head -2 | tr '\n' ' ')"
}

uuid0=GPU-76677075-2d73-696d-2d64-657600000000   # the simulator's first device
uuid2=GPU-76677075-2d73-696d-2d64-657600000002   # and its third
n=0
# lists that hide every device whatever the devices are: no zone is made for them
for list in "" "-1" "none"; do
  n=$((n + 1))
  compare "visible-$n [$list]" "$list" "$B/tests/e2e/visible"
done
nohide=$(grep -c "opened (new zone" "$tmp/proxy.log")
if [ "$nohide" -ne 0 ]; then
  echo "FAIL: the proxy opened $nohide zones for programs whose list hides every device"; fail=1
else
  echo "ok: no zone made for a list that hides every device"
fi
# lists that keep the zone's first devices in order, or name none of them
for list in "0" "0,1" "0,1,2" "0,0,1" "0,7,1" " 0 , 1 " "$uuid0" "$uuid0,1" "3" "GPU-7667" "GPU-ffff"; do
  n=$((n + 1))
  compare "visible-$n [$list]" "$list" "$B/tests/e2e/visible"
done
# lists that renumber the zone's devices: its driver numbers them as the program chose
for list in "1" "2,0" "$uuid2" "0,2" "2,1,0" "1,$uuid0"; do
  n=$((n + 1))
  compare "renumbering-$n [$list]" "$list" "$B/tests/e2e/visible"
done
compare "nvml [0,1]" "0,1" "$B/tests/e2e/nvml"
compare "nvml [2,1]" "2,1" "$B/tests/e2e/nvml"
compare "nvml [1]" "1" "$B/tests/e2e/nvml"
# NVML numbers devices whatever the list says, as NVIDIA's: PyTorch's device count takes an
# index list's entries below NVML's count, so under "1" NVML must count all three
if ! grep -qx "nvml: 3 devices" "$tmp/nvml [1].zone" || ! grep -qx "device 0: hidden by CUDA_VISIBLE_DEVICES" "$tmp/nvml [1].zone"; then
  echo "FAIL: under CUDA_VISIBLE_DEVICES=1 the zone's NVML does not count the three devices, device 0 hidden:"
  cat "$tmp/nvml [1].zone"; fail=1
fi
compare "runtime devices [0,1]" "0,1" "$B/tests/runtime/devices"
compare "runtime devices [2,0]" "2,0" "$B/tests/runtime/devices"
if ! grep -q "devices 2,0" "$tmp/proxy.log" ||
   ! grep -q "its driver starts with CUDA_VISIBLE_DEVICES=2,0" "$tmp/proxy.log"; then
  echo "FAIL: the proxy's log does not say which devices a zone's driver started with"; fail=1
fi
proxy_stop || { echo "FAIL: vgpu-proxy exited badly; its log:"; cat "$tmp/proxy.log"; fail=1; }

# compose LABEL PROXYLIST ZONELIST DIRECTLIST: the visible program in a zone with ZONELIST on a
# proxy started with PROXYLIST prints what it prints directly with DIRECTLIST
compose() {
  local label=$1 plist=$2 zlist=$3 dlist=$4
  CUDA_VISIBLE_DEVICES=$zlist VGPU_PROXY=$PROXY_SOCK VGPU_E2E_PROXY=1 LD_LIBRARY_PATH=$PWD/$B/libvgpu \
    "$B/tests/e2e/visible" >"$tmp/$label.zone" 2>"$tmp/$label.zone.err"
  CUDA_VISIBLE_DEVICES=$dlist direct_run "$B" sim "$tmp/$label.direct" "$tmp/$label.direct.err" "$B/tests/e2e/visible"
  if ! diff -u "$tmp/$label.direct" "$tmp/$label.zone"; then
    echo "FAIL: $label: [$zlist] in a zone of a proxy with [$plist] is not [$dlist] directly"
    cat "$tmp/$label.zone.err"; fail=1; return
  fi
  echo "ok: $label: [$zlist] over the proxy's [$plist] is [$dlist]: $(grep -E '^(cuInit|devices)' "$tmp/$label.zone" | tr '\n' ' ')"
}

CUDA_VISIBLE_DEVICES="2,0,1" proxy_start "$B" sim --log-level info || exit 1
tmp=$PROXY_TMP
compose "proxy-list-1" "2,0,1" "1" "0"
compose "proxy-list-2" "2,0,1" "2,0" "1,2"
compose "proxy-list-3" "2,0,1" "$uuid0" "0"
compose "proxy-list-4" "2,0,1" "0,1,2" "2,0,1"
compose "proxy-list-5" "2,0,1" "0,3,1" "2"
proxy_stop || { echo "FAIL: vgpu-proxy exited badly; its log:"; cat "$tmp/proxy.log"; fail=1; }

# the proxy's list ends at its second entry (no device 7): it shows zones device 1 alone
CUDA_VISIBLE_DEVICES="1,7,0" proxy_start "$B" sim --log-level info || exit 1
tmp=$PROXY_TMP
compose "proxy-short-1" "1,7,0" "0" "1"
compose "proxy-short-2" "1,7,0" "$uuid0" "-1"
compose "proxy-short-3" "1,7,0" "1" "-1"
compose "proxy-short-4" "1,7,0" "$uuid2,0" "-1"
made=$(grep -c "opened (new zone" "$tmp/proxy.log")
refused=$(grep -c "its CUDA_VISIBLE_DEVICES names none of the devices zones are shown" "$tmp/proxy.log")
if [ "$made" -ne 1 ] || [ "$refused" -ne 3 ]; then
  echo "FAIL: a proxy showing one device made $made zones and refused $refused (want 1 and 3)"; fail=1
else
  echo "ok: no zone reaches a device the proxy's own list hides (3 lists refused, no zone made for them)"
fi
proxy_stop || { echo "FAIL: vgpu-proxy exited badly; its log:"; cat "$tmp/proxy.log"; fail=1; }
[ $fail -eq 0 ] && echo "PASS: CUDA_VISIBLE_DEVICES selects the same devices in the same order through vgpu as directly"
exit $fail
