# SPDX-License-Identifier: MIT
# Sourced by deploy/zone-image/build.sh (the zone) and tests/xen/dom0-image.sh (the test's
# Dom0): small helpers that assemble a busybox initramfs from files of this machine and pack
# it reproducibly (sorted newc cpio, owner 0:0, every mtime = SOURCE_DATE_EPOCH, gzip -n).
#
#   ir_begin DIR                 start an empty root at DIR (removed first)
#   ir_busybox                   /bin/busybox (static) and a link for each of its applets
#   ir_file SRC DEST [MODE]      copy one file (DEST absolute inside the root)
#   ir_elf SRC DEST [MODE]       copy an ELF program or library and every shared library it
#                                needs (ldd) into /lib/x86_64-linux-gnu, the loader into /lib64;
#                                sonames in IR_PROVIDED (e.g. libcuda.so.1) are installed by the
#                                caller and may be missing on this machine
#   ir_modules KVER MOD[=PARAMS]...  copy kernel modules and their dependencies (modules.dep);
#                                append "path params" lines, dependencies first, to
#                                /etc/modules.load, which the init scripts insmod in order
#   ir_pack OUT.cpio.gz          pack the root; prints nothing
# Errors say what was missing and exit (the callers run with set -euo pipefail).

IR_ROOT=
IR_PROVIDED=${IR_PROVIDED:-}
: "${SOURCE_DATE_EPOCH:=1700000000}"
export SOURCE_DATE_EPOCH

ir_die() { echo "$(basename "$0"): $*" >&2; exit 1; }

ir_begin() {
  IR_ROOT=$1
  rm -rf "$IR_ROOT"
  mkdir -p "$IR_ROOT"/{bin,sbin,etc,dev,proc,sys,run,tmp,root,lib64,lib/x86_64-linux-gnu,usr/bin,usr/sbin,usr/lib/x86_64-linux-gnu,var/log}
  chmod 1777 "$IR_ROOT/tmp"
  ln -s ../run "$IR_ROOT/var/run"
}

ir_busybox() {
  local bb=/bin/busybox a
  [ -x "$bb" ] || ir_die "$bb not found (install busybox-static)"
  file -L "$bb" 2>/dev/null | grep -q 'statically linked' || ldd "$bb" 2>&1 | grep -q 'not a dynamic' ||
    ir_die "$bb is not statically linked (install busybox-static, not busybox)"
  install -m 755 "$bb" "$IR_ROOT/bin/busybox"
  for a in $("$bb" --list); do
    [ "$a" = busybox ] && continue
    [ -e "$IR_ROOT/bin/$a" ] || ln -s busybox "$IR_ROOT/bin/$a"
  done
}

ir_file() {
  local src=$1 dest=$2 mode=${3:-644}
  [ -f "$src" ] || ir_die "missing file $src"
  mkdir -p "$IR_ROOT$(dirname "$dest")"
  install -m "$mode" "$src" "$IR_ROOT$dest"
}

# Every library of SRC by its soname path as ldd resolves it on this machine.
ir_elf() {
  local src=$1 dest=$2 mode=${3:-755} lib out missing
  ir_file "$src" "$dest" "$mode"
  out=$(ldd "$src" 2>&1) || {
    echo "$out" | grep -q 'not a dynamic executable' && return 0
    ir_die "ldd $src failed: $out"
  }
  missing=$(echo "$out" | awk '/=> not found/{print $1}')
  for lib in $missing; do
    case " $IR_PROVIDED " in
      *" $lib "*) ;;
      *) ir_die "$src needs $lib, which this machine lacks (ldd: not found)" ;;
    esac
  done
  for lib in $(echo "$out" | awk '/=> \//{print $3} /^[ \t]*\/lib64\//{print $1}'); do
    case $lib in
      */ld-linux-x86-64.so.2) [ -e "$IR_ROOT/lib64/ld-linux-x86-64.so.2" ] ||
                                install -m 755 "$(readlink -f "$lib")" "$IR_ROOT/lib64/ld-linux-x86-64.so.2" ;;
      *) [ -e "$IR_ROOT/lib/x86_64-linux-gnu/$(basename "$lib")" ] ||
           install -m 644 "$(readlink -f "$lib")" "$IR_ROOT/lib/x86_64-linux-gnu/$(basename "$lib")" ;;
    esac
  done
  # glibc dlopen()s libgcc_s for pthread_cancel and unwinding (xl aborts without it)
  if echo "$out" | grep -q 'libc\.so\.6' && [ ! -e "$IR_ROOT/lib/x86_64-linux-gnu/libgcc_s.so.1" ]; then
    lib=$(ldconfig -p | awk '/libgcc_s\.so\.1 .*x86-64/ && !f {print $NF; f = 1}')
    [ -n "$lib" ] || ir_die "libgcc_s.so.1 not found (ldconfig -p); glibc programs need it for pthread_cancel"
    install -m 644 "$(readlink -f "$lib")" "$IR_ROOT/lib/x86_64-linux-gnu/libgcc_s.so.1"
  fi
}

ir_modules() {
  local kver=$1 dir dep spec name params path d
  shift
  dir=/lib/modules/$kver
  dep=$dir/modules.dep
  [ -f "$dep" ] || ir_die "$dep not found (install linux-image-$kver, or pass another kernel)"
  for spec in "$@"; do
    name=${spec%%=*}; params=
    [ "$spec" != "$name" ] && params=${spec#*=}
    path=$(awk -F: -v n="$name" '{ b=$1; sub(/.*\//, "", b); sub(/\.ko(\.(xz|zst|gz))?$/, "", b);
             gsub(/_/, "-", b); m=n; gsub(/_/, "-", m); if (b == m) { print $1; exit } }' "$dep")
    [ -n "$path" ] || ir_die "kernel module $name not in $dep"
    for d in $(awk -F: -v p="$path" '$1 == p { print $2 }' "$dep" | tr ' ' '\n' | tac) "$path"; do
      [ -n "$d" ] || continue
      grep -q "^/lib/modules/$kver/${d%.ko*}.ko " "$IR_ROOT/etc/modules.load" 2>/dev/null && continue
      mkdir -p "$IR_ROOT$dir/$(dirname "$d")"
      case $d in
        *.ko)     install -m 644 "$dir/$d" "$IR_ROOT$dir/$d" ;;
        *.ko.xz)  xz -dc "$dir/$d" >"$IR_ROOT$dir/${d%.xz}" ;;
        *.ko.zst) zstd -qdc "$dir/$d" >"$IR_ROOT$dir/${d%.zst}" ;;
        *.ko.gz)  gzip -dc "$dir/$d" >"$IR_ROOT$dir/${d%.gz}" ;;
        *) ir_die "unexpected module file $d" ;;
      esac
      if [ "$d" = "$path" ]; then
        echo "/lib/modules/$kver/${d%.ko*}.ko $params" >>"$IR_ROOT/etc/modules.load"
      else
        echo "/lib/modules/$kver/${d%.ko*}.ko " >>"$IR_ROOT/etc/modules.load"
      fi
    done
  done
}

ir_pack() {
  local out=$1
  mkdir -p "$(dirname "$out")"
  out=$(cd "$(dirname "$out")" && pwd)/$(basename "$out")
  find "$IR_ROOT" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
  (cd "$IR_ROOT" && find . -mindepth 1 | LC_ALL=C sort |
     cpio --quiet -o -H newc -R 0:0 --reproducible) | gzip -n -9 >"$out.tmp"
  mv "$out.tmp" "$out"
}
