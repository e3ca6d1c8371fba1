#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make gpu-kit: makes a build tree self-contained for a GPU machine without the build
# dependencies: copies the shared libraries its programs need beyond glibc, the C++ runtime and
# the CUDA toolkit into BUILD/lib (and libvgpu's into BUILD/libvgpu, beside it), then lists every
# file of the kit in BUILD/lib/gpu-kit.files (tests/gpu/check.sh uses the tree only when all
# exist) and where it was built in BUILD/lib/gpu-kit.info. When BUILD is over the 64 MiB a GPU
# run can carry, the kit's files alone are hard-linked into a lean tree to carry instead.
set -eu
if [ "${1:-}" = "--help" ] || [ $# -lt 2 ]; then
  echo "usage: tests/gpu/kit.sh BUILD_DIR FILE...   (run by 'make B=BUILD_DIR gpu-kit')"
  echo "Copies the non-system shared libraries FILE... need into BUILD_DIR/lib, writes"
  echo "BUILD_DIR/lib/gpu-kit.files and BUILD_DIR/lib/gpu-kit.info, and prints the paths to carry."
  [ "${1:-}" = "--help" ] && exit 0 || exit 2
fi
B=${1%/}
shift

# Present on any machine that can run the kit: glibc, the compiler's runtime, the NVIDIA driver
# and the CUDA toolkit (nvcc is there). Everything else a program needs is copied.
system='^(linux-vdso|ld-linux-x86-64|libc|libm|libdl|libpthread|librt|libresolv|libutil|libstdc\+\+|libgcc_s|libcuda|libcudart|libcublas|libcublasLt|libcufft|libcurand|libcusparse|libcusolver|libcudnn[a-z_]*|libnvJitLink|libnvrtc|libnccl)\.so'

is_elf() { [ "$(head -c 4 "$1" 2>/dev/null | od -An -c | tr -d ' ')" = '177ELF' ]; }

# needed FILE: "soname path" of each shared library FILE loads, as resolved here.
needed() { ldd "$1" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// { print $1, $3 }'; }

mkdir -p "$B/lib"
staged=()
stage() { # stage DIR SONAME PATH: copy PATH (the file, not a link) to DIR/SONAME once
  if [ ! -e "$1/$2" ] || ! cmp -s "$3" "$1/$2"; then cp -fL "$3" "$1/$2"; fi
  staged+=("$1/$2")
}
for f in "$@"; do
  [ -f "$f" ] || { echo "kit.sh: $f is missing" >&2; exit 1; }
  is_elf "$f" || continue
  while read -r so path; do
    [[ $so =~ $system ]] && continue
    stage "$B/lib" "$so" "$path"
    # zones run with LD_LIBRARY_PATH=BUILD/libvgpu only: libvgpu's own needs go beside it
    [ "$f" = "$B/libvgpu/libcuda.so.1" ] && stage "$B/libvgpu" "$so" "$path"
  done < <(needed "$f")
done

{
  printf '%s\n' "$@"
  printf '%s\n' "${staged[@]}" | sort -u
} >"$B/lib/gpu-kit.files.tmp"
mv "$B/lib/gpu-kit.files.tmp" "$B/lib/gpu-kit.files"
{
  echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo ' (with uncommitted changes)')"
  echo "built: $(date -u +%Y-%m-%dT%H:%MZ) on $(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME"), $(ldd --version | head -n 1 | awk '{print "glibc", $NF}')"
  echo "nvcc: $(${NVCC:-nvcc} --version 2>/dev/null | awk -F', ' '/release/ {print $2}')"
  echo "needs at run time: glibc >= $(for f in "$@"; do is_elf "$f" && objdump -T "$f" 2>/dev/null; done |
      grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -n 1)"
} >"$B/lib/gpu-kit.info"

echo "gpu-kit: $(wc -l <"$B/lib/gpu-kit.files") files in $B (list: $B/lib/gpu-kit.files)"
sed 's/^/gpu-kit: /' "$B/lib/gpu-kit.info"
echo "gpu-kit: libraries copied into $B/lib: $(cd "$B/lib" && ls -- *.so* 2>/dev/null | tr '\n' ' ')"
# What to carry to the GPU machine: the tree when it fits in 64 MiB; else the kit's files alone,
# hard-linked into a lean tree LEAN/B that tests/gpu/check.sh links back into B (the kit's
# scripts name their programs by B's path). A build tree also holds objects, fuzz builds and
# the unit and adversarial tests, which a GPU run does not need.
total=$(du -sb "$B" | awk '{print $1}')
if [ "$total" -le $((64 << 20)) ]; then
  echo "gpu-kit: $B is $((total >> 20)) MiB; carry: $B"
  exit 0
fi
case $B in */*) lean=${B%/*}/gpu-kit ;; *) lean=gpu-kit ;; esac
rm -rf "$lean"
while read -r f; do
  mkdir -p "$lean/${f%/*}"
  ln -f "$f" "$lean/$f" 2>/dev/null || cp -p "$f" "$lean/$f"
done <"$B/lib/gpu-kit.files"
for f in gpu-kit.files gpu-kit.info; do ln -f "$B/lib/$f" "$lean/$B/lib/$f" 2>/dev/null || cp -p "$B/lib/$f" "$lean/$B/lib/$f"; done
lean_bytes=$(du -sb "$lean" | awk '{print $1}')
echo "gpu-kit: $B is $((total >> 20)) MiB; the kit's files alone, in $lean, are $((lean_bytes >> 20)) MiB"
# The sources travel too and, with the lean tree, can pass the limit (58 + 6.5 MiB on
# 2026-12-04; the tree alone passed it on 2026-12-05): the same tree compressed, which
# check.sh unpacks when the tree is not there, is what travels then.
xz_bytes=
if command -v xz >/dev/null 2>&1; then
  rm -f "$lean.tar.xz"
  if tar cf - -C "$lean" . | xz -T0 -6 >"$lean.tar.xz.tmp" && mv "$lean.tar.xz.tmp" "$lean.tar.xz"; then
    xz_bytes=$(stat -c %s "$lean.tar.xz")
  else
    rm -f "$lean.tar.xz.tmp"
    echo "gpu-kit: could not compress $lean (xz)" >&2
  fi
fi
if [ "$lean_bytes" -le $((64 << 20)) ]; then
  echo "gpu-kit: carry: $lean  (then make B=$B gpu-check: tests/gpu/check.sh links $lean/$B back into $B)"
  if [ -n "$xz_bytes" ]; then
    echo "gpu-kit: or carry: $lean.tar.xz ($((xz_bytes >> 20)) MiB, when the sources and $lean" \
      "together pass 64 MiB; check.sh unpacks it into $lean)"
  fi
elif [ -n "$xz_bytes" ] && [ "$xz_bytes" -le $((64 << 20)) ]; then
  echo "gpu-kit: carry: $lean.tar.xz ($((xz_bytes >> 20)) MiB; the tree itself is over the 64 MiB a GPU run can" \
    "carry; check.sh unpacks it into $lean)"
else
  echo "gpu-kit: the kit is over the 64 MiB a GPU run can carry${xz_bytes:+, compressed too ($((xz_bytes >> 20)) MiB)}" >&2
  exit 1
fi
