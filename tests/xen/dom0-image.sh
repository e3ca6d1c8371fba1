#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds the initramfs of the test's Dom0 (booted by tests/xen/run.sh under Xen in QEMU):
# busybox, the Xen toolstack (xl, xenstored, xen-init-dom0, xenconsoled, xenstore-*) with its
# libraries, the Xen kernel modules, vgpu-proxy with the simulator, the transport tests, the
# zone image with its xl config, and the expected output of the zone programs.
set -euo pipefail

usage() {
  cat <<'USAGE'
usage: tests/xen/dom0-image.sh --zone ZONEDIR --expected DIR [--build DIR] [--kernel FILE] OUT.cpio.gz

  --zone DIR       zone image (deploy/zone-image/build.sh output: vmlinuz, zone.cpio.gz)
  --expected DIR   NAME.out files: what each zone program prints directly on the simulator
  --build DIR      release build tree (default build/rel)
  --kernel FILE    Dom0 kernel whose modules go in (default: the newest /boot/vmlinuz-*)
  --help           this text
USAGE
}

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
B=build/rel zone= expected= kernel= out=
while [ $# -gt 0 ]; do
  case $1 in
    --build) B=${2:?--build needs a directory}; shift 2 ;;
    --zone) zone=${2:?--zone needs a directory}; shift 2 ;;
    --expected) expected=${2:?--expected needs a directory}; shift 2 ;;
    --kernel) kernel=${2:?--kernel needs a file}; shift 2 ;;
    --help|-h) usage; exit 0 ;;
    -*) echo "dom0-image.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) out=$1; shift ;;
  esac
done
[ -n "$out" ] && [ -n "$zone" ] && [ -n "$expected" ] || { usage >&2; exit 2; }
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
  SOURCE_DATE_EPOCH=$(git -C "$top" log -1 --format=%ct 2>/dev/null || echo 1700000000)
fi
. "$top/deploy/zone-image/initramfs.sh"
[ -n "$kernel" ] || kernel=$(ls /boot/vmlinuz-* 2>/dev/null | sort -V | tail -n 1)
[ -f "$kernel" ] || ir_die "no Dom0 kernel (/boot/vmlinuz-*; install linux-image-amd64)"
kver=$(basename "$kernel"); kver=${kver#vmlinuz-}
xbin=/usr/lib/xen-4.17/bin
[ -x "$xbin/xl" ] || ir_die "$xbin/xl not found (install xen-utils-4.17)"
for f in "$zone/vmlinuz" "$zone/zone.cpio.gz"; do [ -f "$f" ] || ir_die "zone image file $f missing"; done

ir_begin "$(dirname "$out")/dom0-root"
ir_busybox
ir_file "$here/dom0-init" /init 755
ir_file "$here/dom0-test.sh" /vgpu/dom0-test.sh 755
for t in xl xenstored xen-init-dom0 xenconsoled xenstore; do
  src=$xbin/$t; [ "$t" = xenstore ] && src=/usr/bin/xenstore
  ir_elf "$src" "/usr/sbin/$t"
done
for t in read write ls list rm chmod; do ln -sf xenstore "$IR_ROOT/usr/sbin/xenstore-$t"; done
ir_file /etc/xen/xl.conf /etc/xen/xl.conf
mkdir -p "$IR_ROOT"/var/lib/xen "$IR_ROOT"/var/lib/xenstored "$IR_ROOT"/var/log/xen/console
# privcmd + xenfs for the toolstack, evtchn, gntdev (map zones' grants) and gntalloc (the
# loopback test grants Dom0's own pages; 8192 grants = 32 MiB)
ir_modules "$kver" xen-evtchn xen-gntdev xen-gntalloc=limit=8192 xen-privcmd xenfs

ir_elf "$B/proxy/vgpu-proxy" /vgpu/bin/vgpu-proxy
ir_elf "$B/proxy/vgpuctl" /vgpu/bin/vgpuctl
ir_elf "$B/sim/libcudasim.so" /vgpu/lib/libcudasim.so 755
for t in ring_xen ring_xen_mock; do ir_elf "$B/tests/ring/$t" "/vgpu/bin/$t"; done
ir_elf "$B/tests/xen/xen_loopback" /vgpu/bin/xen_loopback
ir_file "$zone/vmlinuz" /vgpu/zone/vmlinuz
ir_file "$zone/zone.cpio.gz" /vgpu/zone/zone.cpio.gz
ir_file "$here/zone.cfg" /vgpu/zone/zone.cfg
for f in "$expected"/*.out; do ir_file "$f" "/vgpu/expected/$(basename "$f")"; done
ir_pack "$out"
echo "dom0 image: $out $(du -h "$out" | cut -f1) (kernel modules of $kver)"
