#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Every symbol the CUDA toolkit's libcuda.so stub exports (what applications link against)
# must be exported by libvgpu, i.e. listed in generated/libvgpu.map, and the map must not
# export cu* names libcuda does not have. Where libvgpu is built ($VGPU_BUILD/libvgpu), every
# name the map lists must also be defined there: the linker drops a listed name nothing
# defines without a word (a custom call whose stub was never written), and the CUDA runtime
# then finds no entry point for it (cudaErrorCallRequiresNewerDriver).
set -u
if [ "${1:-}" = "--help" ]; then
  echo "usage: abi_check.sh   (cwd = repo root; CUDA_HOME defaults to /usr/local/cuda)"
  exit 0
fi
stub=${CUDA_HOME:-/usr/local/cuda}/lib64/stubs/libcuda.so
if [ ! -r "$stub" ]; then echo "abi_check: no $stub to compare with"; exit 77; fi
if ! command -v nm >/dev/null; then echo "abi_check: nm (binutils) is not installed"; exit 77; fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
nm -D --defined-only "$stub" | awk '$3 ~ /^cu/ {print $3}' | sort -u >"$tmp/stub"
sed -n 's/^[[:space:]]*\(cu[A-Za-z0-9_]*\);$/\1/p' generated/libvgpu.map | sort -u >"$tmp/map"
missing=$(comm -23 "$tmp/stub" "$tmp/map")
extra=$(comm -13 "$tmp/stub" "$tmp/map")
rc=0
if [ -n "$missing" ]; then
  echo "abi_check: libcuda exports names libvgpu would not (classify them in spec/cuda.spec, add their header with --extra-header):"
  echo "$missing" | sed 's/^/  /'; rc=1
fi
if [ -n "$extra" ]; then
  echo "abi_check: libvgpu.map exports names libcuda does not have:"; echo "$extra" | sed 's/^/  /'; rc=1
fi
lib=${VGPU_BUILD:-build/san}/libvgpu/libcuda.so.1
if [ -r "$lib" ]; then
  nm -D --defined-only "$lib" | awk '$3 ~ /^cu/ {print $3}' | sort -u >"$tmp/lib"
  # (and the graphics interop names libvgpu adds to the map's: runtime/interop.c)
  grep -v '^#' libvgpu/interop.names | awk 'NF { print $1 }' | sort -u >"$tmp/interop"
  undefined=$(sort -u "$tmp/map" "$tmp/interop" | comm -23 - "$tmp/lib")
  if [ -n "$undefined" ]; then
    echo "abi_check: libvgpu.map lists names $lib does not define (write their stubs):"
    echo "$undefined" | sed 's/^/  /'; rc=1
  else
    echo "abi_check: $lib defines all $(wc -l <"$tmp/map") names of libvgpu.map and the $(wc -l <"$tmp/interop") of libvgpu/interop.names"
  fi
else
  echo "abi_check: $lib is not built: its exports were not compared with the map"
fi
[ $rc -eq 0 ] && echo "abi_check: libvgpu.map matches the $(wc -l <"$tmp/stub") cu* exports of $stub"
exit $rc
