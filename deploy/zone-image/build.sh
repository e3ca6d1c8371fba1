#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds the zone image: what a Xen PV guest (a zone) boots from, with libvgpu installed as
# the system's libcuda.so.1. Writes OUTDIR/vmlinuz (the kernel, copied) and OUTDIR/zone.cpio.gz
# (the initramfs); prints their sizes. Reproducible: the same inputs give the same bytes.
set -euo pipefail

usage() {
  cat <<'USAGE'
usage: deploy/zone-image/build.sh [OPTIONS] OUTDIR

Builds a zone (Xen PV domU) image: OUTDIR/vmlinuz + OUTDIR/zone.cpio.gz.
  --build DIR      release build tree with libvgpu and the programs (default build/rel)
  --kernel FILE    guest kernel (default: the newest /boot/vmlinuz-*); its modules must be
                   in /lib/modules/<version>
  --no-tests       leave out the test programs and kernels (only libvgpu and the basics)
  --add SRC:DEST   also install file SRC at DEST (e.g. an application; repeatable); ELF
                   files bring their shared libraries
  --help           this text

Environment: SOURCE_DATE_EPOCH (mtime of every file; default: the last commit's time).
See deploy/zone-image/README.md for what goes in and how a zone uses it.
USAGE
}

here=$(cd "$(dirname "$0")" && pwd)
B=build/rel kernel= tests=1 adds=() out=
while [ $# -gt 0 ]; do
  case $1 in
    --build) B=${2:?--build needs a directory}; shift 2 ;;
    --kernel) kernel=${2:?--kernel needs a file}; shift 2 ;;
    --no-tests) tests=0; shift ;;
    --add) adds+=("${2:?--add needs SRC:DEST}"); shift 2 ;;
    --help|-h) usage; exit 0 ;;
    -*) echo "build.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) [ -z "$out" ] || { echo "build.sh: one OUTDIR only (got $out and $1)" >&2; exit 2; }; out=$1; shift ;;
  esac
done
[ -n "$out" ] || { usage >&2; exit 2; }
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
  SOURCE_DATE_EPOCH=$(git -C "$here" log -1 --format=%ct 2>/dev/null || echo 1700000000)
fi
. "$here/initramfs.sh"
IR_PROVIDED="libcuda.so.1 libnvidia-ml.so.1" # libvgpu and vgpu's NVML, installed below

if [ -z "$kernel" ]; then
  kernel=$(ls /boot/vmlinuz-* 2>/dev/null | sort -V | tail -n 1) ||
    true
  [ -n "$kernel" ] || ir_die "no /boot/vmlinuz-* (install linux-image-amd64) and no --kernel given"
fi
[ -f "$kernel" ] || ir_die "kernel $kernel not found"
kver=$(basename "$kernel"); kver=${kver#vmlinuz-}
[ -d "/lib/modules/$kver" ] || ir_die "no modules for kernel $kver in /lib/modules/$kver (pass --kernel)"
lib=$B/libvgpu/libcuda.so.1
[ -f "$lib" ] || ir_die "$lib not built (run make)"

mkdir -p "$out"
ir_begin "$out/root"
ir_busybox
ir_file "$here/init" /init 755
# libvgpu where the dynamic loader looks by default, so unmodified programs find it
ir_elf "$lib" /usr/lib/x86_64-linux-gnu/libcuda.so.1 755
ln -s libcuda.so.1 "$IR_ROOT/usr/lib/x86_64-linux-gnu/libcuda.so"
# and NVML's device questions answered through it (libvgpu/nvml/)
[ -f "$B/libvgpu/libnvidia-ml.so.1" ] || ir_die "$B/libvgpu/libnvidia-ml.so.1 not built (run make)"
ir_elf "$B/libvgpu/libnvidia-ml.so.1" /usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1 755
# grant pages (gntalloc; 131072 grants = 512 MiB: libvgpu maps one ~8 MiB channel per thread,
# and grants each pinned region page by page; the xl config's max_grant_frames bounds it too)
# and event channels; the xenbus device (/dev/xen/xenbus, for libxenstore) is built in
ir_modules "$kver" xen-evtchn xen-gntalloc=limit=131072
mkdir -p "$IR_ROOT/etc/vgpu"
cat >"$IR_ROOT/etc/vgpu/zone.env" <<ENV
VGPU_TRANSPORT=xen
VGPU_KERNELS=/opt/vgpu/kernels
ENV
if [ "$tests" = 1 ]; then
  # as tests/e2e/run.sh does for programs that run through the proxy
  echo "VGPU_E2E_PROXY=1" >>"$IR_ROOT/etc/vgpu/zone.env"
  for p in "$B"/tests/e2e/{device,memory,kernels,threads,procaddr,errors,fork,pinned,nvml} "$B/tests/xen/zone_stream" \
           "$B/tests/xen/zone_grants"; do
    [ -f "$p" ] || ir_die "test program $p not built (run make xen-progs)"
    ir_elf "$p" "/opt/vgpu/bin/$(basename "$p")"
  done
  ln -sf zone_stream "$IR_ROOT/opt/vgpu/bin/zone_crash"   # the same program, dying mid-transfer
  for k in "$B"/tests/kernels/*; do
    case $k in *.ptx|*.fatbin|*.cubin) ir_file "$k" "/opt/vgpu/kernels/$(basename "$k")" ;; esac
  done
fi
for a in "${adds[@]}"; do
  src=${a%%:*} dest=${a#*:}
  [ "$src" != "$a" ] && [ "${dest#/}" != "$dest" ] || ir_die "--add $a: expected SRC:/absolute/DEST"
  if file -L "$src" | grep -q ELF; then ir_elf "$src" "$dest"; else ir_file "$src" "$dest" 755; fi
done
ir_pack "$out/zone.cpio.gz"
install -m 644 "$kernel" "$out/vmlinuz"
touch -d "@$SOURCE_DATE_EPOCH" "$out/vmlinuz"

k=$(stat -c %s "$out/vmlinuz"); r=$(stat -c %s "$out/zone.cpio.gz"); u=$(du -sb "$IR_ROOT" | cut -f1)
awk -v o="$out" -v kv="$kver" -v k="$k" -v r="$r" -v u="$u" 'BEGIN {
  printf "zone image: %s/vmlinuz %.1f MB (kernel %s) + %s/zone.cpio.gz %.1f MB (%.1f MB unpacked) = %.1f MB\n",
         o, k / 1e6, kv, o, r / 1e6, u / 1e6, (k + r) / 1e6 }'
