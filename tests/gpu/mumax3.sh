#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# mumax3 (Debian's, unmodified: a micromagnetic simulator written in Go, calling the driver
# API through cgo, loading its kernels as PTX, with cuFFT 10 and cuRAND from CUDA 11) directly
# on the backend and as a zone: three scripts whose expect() checks are physics with known
# answers (tests/gpu/mumax3/*.mx3) must pass in both runs, with the same verdicts.
set -u
usage() {
  cat <<EOF2
usage: tests/gpu/mumax3.sh [--out DIR] [--scripts NAME,...]
Runs tests/gpu/mumax3/{larmor,demag,sp4}.mx3 (or those --scripts names) with Debian's mumax3
directly on the backend and through libvgpu + vgpu-proxy. mumax3 and CUDA 11.8's cuFFT (libcufft10) come from Debian's
contrib and non-free components, fetched and unpacked under the build folder by
deploy/debfetch.sh (the system's APT sources are left as they are); cuRAND is the toolkit's.
On the simulator the device reports compute capability 13.0 (VGPU_SIM_CC), newer than cuFFT
10 knows, so that it takes the FFT kernels it ships as PTX. With --out, the outputs are kept.
Environment: VGPU_BUILD (default build/rel), VGPU_E2E_BACKEND (default cuda; sim: the simulator),
CUDA_HOME (default /usr/local/cuda), MUMAX3_DIR (a folder holding usr/bin/mumax3 and
usr/lib/x86_64-linux-gnu/libcufft.so.10; default: fetched into \$VGPU_BUILD/thirdparty/mumax3),
MUMAX3_TIMEOUT (seconds per run, default 300).
Exit: 0 pass, 1 fail, 77 skip (mumax3 or cuFFT 10 could not be had; the last line says why).
EOF2
}
out=
scripts=(larmor demag sp4)
while [ $# -gt 0 ]; do
  case $1 in
    --help) usage; exit 0 ;;
    --out) out=${2:?--out needs a directory}; shift 2 ;;
    --scripts) IFS=, read -r -a scripts <<<"${2:?--scripts needs names}"; shift 2 ;;
    *) echo "mumax3.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
done
OUT_DIR=$out
limit=${MUMAX3_TIMEOUT:-300}
root=${MUMAX3_DIR:-}
if [ -z "$root" ]; then
  d=${VGPU_BUILD:-build/rel}/thirdparty/mumax3
  if ! deploy/debfetch.sh --dest "$d" mumax3 libcufft10 >&2; then
    echo "skip: Debian's mumax3 and libcufft10 could not be fetched from the archive's contrib and non-free components (deploy/debfetch.sh said why above)"
    exit 77
  fi
  root=$d/root
fi
root=$(cd "$root" 2>/dev/null && pwd) || { echo "skip: ${MUMAX3_DIR:-} does not exist"; exit 77; }
if [ ! -x "$root/usr/bin/mumax3" ] || [ ! -e "$root/usr/lib/x86_64-linux-gnu/libcufft.so.10" ]; then
  echo "skip: $root holds no usr/bin/mumax3 or no usr/lib/x86_64-linux-gnu/libcufft.so.10"
  exit 77
fi

# cuFFT 10's kernels are SASS for the GPUs CUDA 11.8 knew and PTX for the newest of them:
# the simulator, which runs PTX only, reports a newer device so that cuFFT takes the PTX
[ "${VGPU_E2E_BACKEND:-cuda}" = sim ] && export VGPU_SIM_CC=${VGPU_SIM_CC:-13.0}
. tests/gpu/app_lib.sh
app_start mumax3
lib=$root/usr/lib/x86_64-linux-gnu
for s in "${scripts[@]}"; do
  [ -f "tests/gpu/mumax3/$s.mx3" ] || { echo "mumax3.sh: no script tests/gpu/mumax3/$s.mx3" >&2; proxy_stop; exit 2; }
done
for mode in direct vgpu; do
  if [ $mode = direct ]; then envv=("${APP_DIRECT_ENV[@]}"); else envv=("${APP_VGPU_ENV[@]}"); fi
  # (the libraries' folder first: libcufft.so.10 and mumax3's own)
  for i in "${!envv[@]}"; do
    case ${envv[$i]} in LD_LIBRARY_PATH=*) envv[$i]="LD_LIBRARY_PATH=${envv[$i]#LD_LIBRARY_PATH=}:$lib" ;; esac
  done
  for s in "${scripts[@]}"; do
    dir=$APP_TMP/$mode
    mkdir -p "$dir"
    cp "tests/gpu/mumax3/$s.mx3" "$dir/"
    t0=$EPOCHREALTIME
    (cd "$dir" && env "${envv[@]}" timeout --kill-after=5 "$limit" "$root/usr/bin/mumax3" -cache "" -http "" -f "$s.mx3" \
       >"$s.log" 2>&1)
    rc=$?
    took=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
    # expect()'s verdicts: "//NAME : VALUE OK"; a failed one ends the run with "have: ... want: ..."
    sed -n 's/^\/\/\(.*\) : [^ ]* OK$/\1 OK/p' "$dir/$s.log" >"$dir/$s.verdicts"
    nok=$(wc -l <"$dir/$s.verdicts")
    want=$(grep -c '^expect(' "tests/gpu/mumax3/$s.mx3")
    echo "== mumax3 $s.mx3 $mode: exit $rc, ${took}s, $nok of $want checks passed"
    grep -h 'have:' "$dir/$s.log" | sed 's/^/   /'
    if [ $rc -ne 0 ] || [ "$nok" -ne "$want" ]; then
      app_fail "mumax3 $s.mx3 $mode (exit $rc)"
      grep -v '^//' "$dir/$s.log" | grep -v '^[A-Za-z_]*[(=:]' | tail -n 8 | sed 's/^/   | /'
    fi
    [ -n "$OUT_DIR" ] && { mkdir -p "$OUT_DIR"; cp "$dir/$s.log" "$OUT_DIR/$s.$mode.log"; }
  done
done
for s in "${scripts[@]}"; do
  cmp -s "$APP_TMP/direct/$s.verdicts" "$APP_TMP/vgpu/$s.verdicts" || app_fail "mumax3 $s.mx3: the verdicts differ directly and through vgpu"
done
app_finish "mumax3 passes its $(cat "$APP_TMP"/vgpu/*.verdicts | wc -l) physics checks directly and through vgpu (${scripts[*]})"
