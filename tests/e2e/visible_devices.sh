#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# CUDA_VISIBLE_DEVICES in a zone: libvgpu applies the program's list over the zone's devices as
# the driver applies it over the machine's. On a simulator with three devices, for each list:
# tests/e2e/visible (cuInit's answer, the count, each ordinal's bus id and UUID, memory used on
# each, which ordinal each bus id finds) must print the same through vgpu as directly; so must
# NVML's view (tests/e2e/nvml) and a runtime-API program using every visible device
# (tests/runtime/devices) under a list of two; a list that hides every device must fail cuInit
# with CUDA_ERROR_NO_DEVICE without a zone being made; a list that renumbers the zone's devices
# (which a zone cannot do yet: libvgpu/devices.c) must fail cuInit with CUDA_ERROR_NOT_SUPPORTED
# and a line saying why, where directly the simulator takes it.
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
compare "nvml [0,1]" "0,1" "$B/tests/e2e/nvml"
compare "runtime devices [0,1]" "0,1" "$B/tests/runtime/devices"
# lists that renumber the zone's devices: directly they do; a zone refuses them at cuInit, clearly
for list in "1" "2,0" "$uuid2" "0,2"; do
  n=$((n + 1))
  label="renumbering-$n [$list]"
  CUDA_VISIBLE_DEVICES=$list VGPU_PROXY=$PROXY_SOCK VGPU_E2E_PROXY=1 LD_LIBRARY_PATH=$PWD/$B/libvgpu \
    "$B/tests/e2e/visible" >"$tmp/$label.zone" 2>"$tmp/$label.zone.err"
  CUDA_VISIBLE_DEVICES=$list direct_run "$B" sim "$tmp/$label.direct" "$tmp/$label.direct.err" "$B/tests/e2e/visible"
  if ! grep -qx "cuInit: CUDA_ERROR_NOT_SUPPORTED" "$tmp/$label.zone" ||
     ! grep -q "CUDA_VISIBLE_DEVICES=$list names the zone's device [0-9]* as device [0-9]*" "$tmp/$label.zone.err"; then
    echo "FAIL: $label: a zone must refuse it at cuInit, saying why"; cat "$tmp/$label.zone" "$tmp/$label.zone.err"; fail=1
  elif ! grep -qx "cuInit: CUDA_SUCCESS" "$tmp/$label.direct"; then
    echo "FAIL: $label: directly the simulator should take it"; cat "$tmp/$label.direct" "$tmp/$label.direct.err"; fail=1
  else
    echo "ok: $label: refused in a zone ($(grep -o 'names the zone.s device [0-9]* as device [0-9]*' "$tmp/$label.zone.err")), taken directly ($(grep '^devices' "$tmp/$label.direct"))"
  fi
done

proxy_stop || { echo "FAIL: vgpu-proxy exited badly; its log:"; cat "$tmp/proxy.log"; fail=1; }
[ $fail -eq 0 ] && echo "PASS: CUDA_VISIBLE_DEVICES selects the same devices through vgpu as directly, or is refused clearly"
exit $fail
