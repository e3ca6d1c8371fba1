#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# PyCUDA (Debian's python3-pycuda, unmodified: its extension is built against CUDA 11.8's
# headers) directly on the backend and as a zone: tests/gpu/pycuda_check.py, whose every
# check is verified against numpy, must pass in both runs with the same output.
set -u
usage() {
  cat <<EOF
usage: tests/gpu/pycuda.sh [--out DIR]
Runs tests/gpu/pycuda_check.py with Debian's PyCUDA directly on the backend and through
libvgpu + vgpu-proxy, and compares the two outputs. The runs share a fresh kernel cache: the
direct one compiles PyCUDA's kernels with nvcc, the zone loads the same binaries.
PyCUDA comes from Debian's contrib component, fetched and unpacked under the build folder by
deploy/debfetch.sh (the system's APT sources are left as they are); its dependencies from
main are installed by deploy/deps.sh. With --out, the runs' output is kept in DIR.
On the simulator (which runs PTX only), the nvcc that PyCUDA calls for its cubins is a wrapper
that writes a fatbin holding the same SASS and the PTX beside it under the cubin's name.
Environment: VGPU_BUILD (default build/rel), VGPU_E2E_BACKEND (default cuda; sim: the simulator),
CUDA_HOME (default /usr/local/cuda: nvcc), PYCUDA_DIR (a folder holding PyCUDA's package;
default: fetched into \$VGPU_BUILD/thirdparty/pycuda), PYCUDA_TIMEOUT (seconds per run, default 600).
Exit: 0 pass, 1 fail, 77 skip (Python's numpy, nvcc or PyCUDA is missing; the last line says why).
EOF
}
out=
while [ $# -gt 0 ]; do
  case $1 in
    --help) usage; exit 0 ;;
    --out) out=${2:?--out needs a directory}; shift 2 ;;
    *) echo "pycuda.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
done
OUT_DIR=$out
limit=${PYCUDA_TIMEOUT:-600}
cuda_home=${CUDA_HOME:-/usr/local/cuda}
py=/usr/bin/python3   # Debian's Python: PyCUDA's extension is built for it, with Debian's numpy

if ! "$py" -c 'import numpy, pytools, mako' 2>/dev/null; then
  echo "skip: $py cannot import numpy, pytools and mako (Debian's python3-numpy, python3-pytools, python3-mako: deploy/deps.sh installs them)"
  exit 77
fi
if [ ! -x "$cuda_home/bin/nvcc" ]; then
  echo "skip: $cuda_home/bin/nvcc is not installed (PyCUDA compiles its kernels with nvcc at run time)"
  exit 77
fi
site=${PYCUDA_DIR:-}
if [ -z "$site" ]; then
  fetched=${VGPU_BUILD:-build/rel}/thirdparty/pycuda
  if ! deploy/debfetch.sh --dest "$fetched" python3-pycuda >&2; then
    echo "skip: Debian's python3-pycuda could not be fetched from the archive's contrib component (deploy/debfetch.sh said why above)"
    exit 77
  fi
  site=$fetched/root/usr/lib/python3/dist-packages
fi
if [ ! -d "$site/pycuda" ]; then
  echo "skip: $site holds no pycuda package"
  exit 77
fi
site=$(cd "$site" && pwd)

. tests/gpu/app_lib.sh
app_start pycuda

# PyCUDA runs nvcc from PATH: a wrapper that runs the toolkit's without the sanitizers'
# runtimes a sanitized build preloads into the program (nvcc's own tools crash under them).
# The simulator runs PTX only: PyCUDA asks nvcc for a cubin of the device's SASS, which the
# wrapper then writes as a fatbin with the same SASS and its PTX, under the name PyCUDA reads.
bin=$APP_TMP/nvcc-wrapper
mkdir -p "$bin"
fatbin=0
[ "$APP_BACKEND" = sim ] && fatbin=1
cat >"$bin/nvcc" <<EOF
#!/usr/bin/env bash
# (tests/gpu/pycuda.sh) the toolkit's nvcc, without preloaded sanitizers; on the simulator
# a cubin asked for is written as a fatbin with PTX
unset LD_PRELOAD
args=(); cubin=0
for a in "\$@"; do
  if [ $fatbin = 1 ] && [ "\$a" = --cubin ]; then args+=(--fatbin); cubin=1; else args+=("\$a"); fi
done
[ \$cubin = 1 ] && exec "$cuda_home/bin/nvcc" "\${args[@]}" -o kernel.cubin
exec "$cuda_home/bin/nvcc" "\$@"
EOF
chmod +x "$bin/nvcc"

run() { # run LABEL [ENV...]
  local label=$1; shift
  local dir=$APP_TMP/$label
  mkdir -p "$dir" "$APP_TMP/cache"
  local t0=$EPOCHREALTIME
  (cd "$dir" && env PATH="$bin:$PATH" PYTHONPATH="$site" XDG_CACHE_HOME="$APP_TMP/cache" "$@" \
     timeout --kill-after=5 "$limit" "$py" "$OLDPWD/tests/gpu/pycuda_check.py" >"$dir/out" 2>"$dir/err")
  local rc=$?
  local took; took=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
  grep -E '^(ok|FAIL) |^pycuda:' "$dir/out" >"$dir/checks"
  echo "== PyCUDA $label: exit $rc, ${took}s: $(tail -n1 "$dir/checks")"
  grep '^FAIL ' "$dir/checks" | sed 's/^/   /'
  if [ $rc -ne 0 ] || ! grep -q '^pycuda: [0-9]* checks, 0 failed$' "$dir/checks"; then
    app_fail "PyCUDA $label (exit $rc)"
    tail -n 15 "$dir/err" | sed 's/^/   | /'
  fi
  # PyCUDA reports a context it could not clean up on stderr, the exit status unchanged
  if grep -q 'clean-up operation failed' "$dir/err"; then
    app_fail "PyCUDA $label: a clean-up at exit failed: $(grep -A1 'clean-up operation failed' "$dir/err" | tail -n1)"
  fi
  [ -n "$OUT_DIR" ] && { mkdir -p "$OUT_DIR"; cp "$dir/out" "$OUT_DIR/pycuda-$label.out"; cp "$dir/err" "$OUT_DIR/pycuda-$label.err"; }
}

echo "PyCUDA $(cat "${fetched:-/dev/null}/python3-pycuda.version" 2>/dev/null || echo "from $site") on the $APP_BACKEND backend"
run direct "${APP_DIRECT_ENV[@]}"
run vgpu "${APP_VGPU_ENV[@]}"
if ! cmp -s "$APP_TMP/direct/checks" "$APP_TMP/vgpu/checks"; then
  app_fail "PyCUDA's checks differ directly and through vgpu"
  diff "$APP_TMP/direct/checks" "$APP_TMP/vgpu/checks" | head -n 20
fi
app_finish "PyCUDA passes $(grep -c '^ok ' "$APP_TMP/vgpu/checks") checks directly and through vgpu, the same output"
