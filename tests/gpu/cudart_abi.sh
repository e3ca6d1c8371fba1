#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Programs built against older CUDA runtimes, directly and as a zone: tests/gpu/cudart_abi
# registers its fatbin and runs its checks through each runtime library given, by default
# CUDA 11.8's libcudart.so.11.0 (Debian's libcudart11.0, the runtime PyTorch's cu118 builds
# and most deployed CUDA 11 software carry) and the toolkit's own.
set -u
usage() {
  cat <<EOF2
usage: tests/gpu/cudart_abi.sh [--out DIR] [LIBCUDART...]
Runs \$VGPU_BUILD/tests/gpu/cudart_abi against each CUDA runtime library named (default: CUDA
11.8's, fetched from Debian's non-free component into the build folder by deploy/debfetch.sh,
and \$CUDA_HOME/lib64/libcudart.so), directly on the backend and through libvgpu + vgpu-proxy;
every check must pass and the two outputs must be the same. With --out, the outputs are kept in DIR.
Environment: VGPU_BUILD (default build/rel), VGPU_E2E_BACKEND (default cuda; sim: the simulator),
CUDA_HOME (default /usr/local/cuda).
Exit: 0 pass, 1 fail, 77 skip (no runtime library could be had; the last line says why).
EOF2
}
out=
libs=()
while [ $# -gt 0 ]; do
  case $1 in
    --help) usage; exit 0 ;;
    --out) out=${2:?--out needs a directory}; shift 2 ;;
    -*) echo "cudart_abi.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    *) libs+=("$1"); shift ;;
  esac
done
OUT_DIR=$out
B=${VGPU_BUILD:-build/rel}
prog=$B/tests/gpu/cudart_abi
fatbin=$B/tests/kernels/cudart_abi.fatbin
for f in "$prog" "$fatbin"; do
  [ -e "$f" ] || { echo "cudart_abi.sh: $f is not built (make B=$B $f)" >&2; exit 2; }
done
if [ ${#libs[@]} -eq 0 ]; then
  d=$B/thirdparty/cudart11
  if deploy/debfetch.sh --dest "$d" libcudart11.0 >&2; then
    libs+=("$(cd "$d/root/usr/lib/x86_64-linux-gnu" && pwd)/libcudart.so.11.0")
  else
    echo "cudart_abi.sh: CUDA 11.8's runtime (Debian's libcudart11.0) could not be fetched; testing the toolkit's only" >&2
  fi
  t=${CUDA_HOME:-/usr/local/cuda}/lib64/libcudart.so
  [ -e "$t" ] && libs+=("$t")
fi
if [ ${#libs[@]} -eq 0 ]; then
  echo "skip: no CUDA runtime library to test (neither Debian's libcudart11.0 nor the toolkit's libcudart.so)"
  exit 77
fi

. tests/gpu/app_lib.sh
app_start cudart_abi
n=0
for lib in "${libs[@]}"; do
  n=$((n + 1))
  for mode in direct vgpu; do
    if [ $mode = direct ]; then envv=("${APP_DIRECT_ENV[@]}"); else envv=("${APP_VGPU_ENV[@]}"); fi
    env "${envv[@]}" timeout --kill-after=5 120 "$prog" "$lib" "$fatbin" >"$APP_TMP/$n.$mode" 2>"$APP_TMP/$n.$mode.err"
    rc=$?
    echo "== $(basename "$lib") $mode: exit $rc, $(grep '^     runtime' "$APP_TMP/$n.$mode" | sed 's/^ *//'), $(tail -n1 "$APP_TMP/$n.$mode")"
    grep '^FAIL' "$APP_TMP/$n.$mode" | sed 's/^/   /'
    [ $rc -eq 0 ] || { app_fail "$(basename "$lib") $mode (exit $rc)"; tail -n 5 "$APP_TMP/$n.$mode.err" | sed 's/^/   | /'; }
    [ -n "$OUT_DIR" ] && { mkdir -p "$OUT_DIR"; cp "$APP_TMP/$n.$mode" "$OUT_DIR/$(basename "$lib").$mode.out"; }
  done
  cmp -s "$APP_TMP/$n.direct" "$APP_TMP/$n.vgpu" || app_fail "$(basename "$lib"): the outputs differ directly and through vgpu"
done
app_finish "$n CUDA runtime libraries ($(for l in "${libs[@]}"; do basename "$l"; done | tr '\n' ' ' | sed 's/ $//')): every check passed directly and through vgpu, the same output"
