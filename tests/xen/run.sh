#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make test-xen: boots Xen 4.17 under QEMU (TCG, no KVM needed) with a test Dom0 and checks,
# one PASS/FAIL line each:
#   1. the Xen transport in Dom0 on real grant tables and event channels (xen_loopback)
#   2. vgpu-proxy in Dom0 (simulator backend, --transport xen) serving a PV zone whose
#      driver-API programs run through libvgpu; their output must equal the simulator's
#   3. a zone destroyed (xl destroy) in the middle of a transfer is dropped by the proxy, and a
#      second zone is served afterwards
#   4. a guest whose token is no registration's is refused (the proxy runs with
#      --require-registration; each zone gets its token through xenstore while paused)
#   5. a process SIGKILLed inside a live guest loses its zone (the liveness page), and the
#      guest's next process is served
#   6. vgpu-proxy restarted (SIGTERM, a new supervisor) under a streaming guest: same worker
#   7. a streaming guest's zone saved (checkpoint --stop), its worker SIGKILLed, the file
#      restored: the guest's channel rejoins the restored zone with the same grants and port
# Builds the zone image (deploy/zone-image/build.sh) and the Dom0 image (dom0-image.sh) into
# build/xen first. SKIP (exit 77) only where Xen/QEMU cannot run here. QEMU is always stopped.
set -euo pipefail

usage() {
  cat <<'USAGE'
usage: tests/xen/run.sh [--build DIR] [--timeout SECONDS]

  --build DIR        release build tree with the programs (default build/rel; make test-xen
                     builds it)
  --timeout SECONDS  stop QEMU after this long (default 280)
  --help             this text
Output: build/xen/ (images, serial.log: the whole serial console of the run).
USAGE
}

B=build/rel timeout_s=280
while [ $# -gt 0 ]; do
  case $1 in
    --build) B=${2:?--build needs a directory}; shift 2 ;;
    --timeout) timeout_s=${2:?--timeout needs seconds}; shift 2 ;;
    --help|-h) usage; exit 0 ;;
    *) echo "tests/xen/run.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
cd "$(dirname "$0")/../.."
out=build/xen
T0=$SECONDS
say() { printf '[%3ds] %s\n' $((SECONDS - T0)) "$*"; }
skip() { echo "SKIP: $*"; exit 77; }

# ---- can Xen/QEMU run here? ----
[ "$(id -u)" = 0 ] || skip "not root (the kernel in /boot is readable by root only, and images are built from system files)"
xen_gz=/boot/xen-4.17-amd64.gz
kernel=$(ls /boot/vmlinuz-* 2>/dev/null | sort -V | tail -n 1 || true)
for need in /usr/bin/qemu-system-x86_64:qemu-system-x86 "$xen_gz":xen-hypervisor-4.17-amd64 \
            /usr/lib/xen-4.17/bin/xl:xen-utils-4.17 /bin/busybox:busybox-static /usr/bin/cpio:cpio \
            "${kernel:-/boot/vmlinuz-none}":linux-image-amd64; do
  [ -e "${need%%:*}" ] || skip "${need%%:*} missing (install ${need#*:}; deploy/deps.sh --all installs the packages)"
done
[ -d "$B" ] || { echo "FAIL: build tree $B does not exist (make test-xen builds it)"; exit 1; }
B=$(cd "$B" && pwd)
for f in "$B/proxy/vgpu-proxy" "$B/sim/libcudasim.so" "$B/libvgpu/libcuda.so.1" "$B/tests/xen/xen_loopback"; do
  [ -f "$f" ] || { echo "FAIL: $f is not built (make test-xen builds everything)"; exit 1; }
done

# ---- images ----
mkdir -p "$out"
say "building the zone image"
deploy/zone-image/build.sh --build "$B" --kernel "$kernel" "$out/zone" | sed 's/^/       /'
say "expected output: the zone programs directly on the simulator"
rm -rf "$out/expected" "$out/direct"; mkdir -p "$out/expected" "$out/direct"
ln -s "$B/sim/libcudasim.so" "$out/direct/libcuda.so.1"
ln -s "$B/libvgpu/libnvidia-ml.so.1" "$out/direct/libnvidia-ml.so.1"
for p in device memory kernels threads procaddr errors fork pinned nvml; do
  if ! VGPU_KERNELS=$B/tests/kernels LD_LIBRARY_PATH=$out/direct timeout 60 "$B/tests/e2e/$p" \
       >"$out/expected/$p.out" 2>"$out/expected/$p.err"; then
    echo "FAIL: $p fails directly on the simulator, so there is nothing to compare the zone with:"
    cat "$out/expected/$p.err"; exit 1
  fi
done
say "building the Dom0 image"
tests/xen/dom0-image.sh --build "$B" --kernel "$kernel" --zone "$out/zone" --expected "$out/expected" \
  "$out/dom0.cpio.gz" | sed 's/^/       /'
gzip -dc "$xen_gz" >"$out/xen.elf"

# ---- boot ----
log=$out/serial.log
: >"$log"
qpid=
stop_qemu() {
  if [ -n "$qpid" ] && kill -0 "$qpid" 2>/dev/null; then kill -TERM "$qpid" 2>/dev/null || true; sleep 1; kill -KILL "$qpid" 2>/dev/null || true; fi
  qpid=
}
trap stop_qemu EXIT
trap 'stop_qemu; exit 130' INT TERM
say "booting Xen 4.17 + Dom0 under QEMU TCG (2 vCPUs, 2 GiB; Dom0 1 GiB); serial console in $log"
timeout --kill-after=5 "$timeout_s" qemu-system-x86_64 -machine q35 -accel tcg -cpu qemu64,+svm \
  -m 2048 -smp 2 -display none -monitor none -serial stdio -no-reboot -kernel "$out/xen.elf" \
  -append "console=com1 dom0_mem=1024M,max:1024M noreboot gnttab_max_frames=256" \
  -initrd "$kernel console=hvc0 earlyprintk=xen,$out/dom0.cpio.gz" </dev/null >"$log" 2>&1 &
qpid=$!

declare -A res=() detail=()
saw_xen=0 saw_linux=0
while IFS= read -r line; do
  line=${line%$'\r'}
  case $line in
    *"Xen version 4.17"*) [ $saw_xen = 1 ] || { saw_xen=1; say "Xen is booting"; } ;;
    *"Linux version"*) [ $saw_linux = 1 ] || { saw_linux=1; say "the Dom0 kernel is booting"; } ;;
    "VGPU-XEN PROGRESS "*) say "${line#VGPU-XEN PROGRESS }" ;;
    "VGPU-XEN RESULT "*)
      r=${line#VGPU-XEN RESULT }; step=${r%% *}; r=${r#* }; st=${r%% *}; d=${r#* }
      res[$step]=$st; detail[$step]=$d
      say "step $step: $st" ;;
    "VGPU-XEN END"*) say "Dom0 finished; powering off" ;;
  esac
done < <(tail -n +1 -f --pid="$qpid" "$log")
wait "$qpid" && qrc=0 || qrc=$?
qpid=
if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then say "QEMU stopped after the ${timeout_s}s timeout"; fi

# ---- results ----
names=([1]="Xen transport in Dom0 (self-grant loopback, bulk, peer death)"
       [2]="zone programs through libvgpu + vgpu-proxy over grant tables and event channels"
       [3]="zone destroyed mid-transfer is freed; a second zone is served"
       [4]="a guest whose token is no registration's is refused"
       [5]="a process dying inside a live guest loses its zone"
       [6]="the proxy restarted under a running guest keeps its zone"
       [7]="a guest's saved zone restored from its file after its worker was killed: the guest's channel rejoins")
fail=0
for step in 1 2 3 4 5 6 7; do
  if [ "${res[$step]:-}" = PASS ]; then
    echo "PASS: step $step: ${detail[$step]}"
  else
    fail=1
    echo "FAIL: step $step: ${names[$step]}: ${detail[$step]:-no result (QEMU exit status $qrc)}"
    # the zones' error lines and diffs first, then the end of the rest (proxy log)
    grep -a "^VGPU-XEN LOG $step " "$log" | tr -d '\r' | sed 's/^VGPU-XEN LOG [0-9] //' >"$out/evidence-$step.txt" || true
    grep -E '^(E\||VGPU-ZONE (BEGIN|END)|[-+@]|stats)' "$out/evidence-$step.txt" | head -n 40 | sed 's/^/    /' || true
    echo "    ..."
    grep -vE '^(E\||O\||VGPU-ZONE (BEGIN|END)|[-+@]|stats)' "$out/evidence-$step.txt" | tail -n 30 | sed 's/^/    /' || true
  fi
done
if [ -z "${res[1]:-}" ]; then
  echo "last lines of the serial console ($log):"
  tail -n 30 "$log" | tr -d '\r' | sed 's/^/    /'
fi
say "done"
exit $fail
