#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# numba and CuPy through vgpu: tests/gpu/pylibs_step.py directly on the real driver and as a
# zone (libvgpu as libcuda.so.1 -> a private vgpu-proxy); every check must verify both ways
# and the two runs must print the same lines.
set -u
usage() {
  cat <<USAGE
usage: tests/gpu/pylibs_compare.sh [--out DIR]
Runs tests/gpu/pylibs_step.py directly and through libvgpu + vgpu-proxy; PASS when every check
that ran verified both ways and the outputs agree. With --out the outputs and the proxy log
are kept in DIR.
Environment: PYTHON (default python3), VGPU_BUILD (default build/rel), VGPU_E2E_BACKEND
(default cuda; sim skips: numba needs libNVVM and both need SASS libraries), PYLIBS_TIMEOUT
(seconds per run, default 120).
Exit: 0 pass, 1 fail, 77 skip (neither numba nor CuPy runs here; the last line says why).
USAGE
}
out=
while [ $# -gt 0 ]; do
  case $1 in
    --help) usage; exit 0 ;;
    --out) out=${2:?--out needs a directory}; shift 2 ;;
    *) echo "pylibs_compare.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done
py=${PYTHON:-python3}
B=${VGPU_BUILD:-build/rel}
backend=${VGPU_E2E_BACKEND:-cuda}
limit=${PYLIBS_TIMEOUT:-120}
if [ "$backend" = sim ]; then
  echo "skip: numba and CuPy need a GPU: numba compiles with libNVVM and CuPy's libraries are SASS only"
  exit 77
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vgpu-pylibs.XXXXXX")
. tests/proxy_lib.sh
trap 'proxy_cleanup; rm -rf "$tmp"' EXIT

run() { # run LABEL [ENV...]
  local label=$1; shift
  env "$@" timeout --kill-after=10 "$limit" "$py" tests/gpu/pylibs_step.py >"$tmp/$label.out" 2>"$tmp/$label.err"
  rc=$?
  echo "== $label: exit $rc"
  sed 's/^/   stdout | /' "$tmp/$label.out"
  grep -v '^\s*$' "$tmp/$label.err" | tail -n 12 | sed 's/^/   stderr | /'
}

run direct
case $rc in
  0) ;;
  77) echo "skip: $(grep ': skip: ' "$tmp/direct.out" | tr '\n' ';' | sed 's/;$//')"; exit 77 ;;
  *) echo "FAIL: pylibs_step.py failed directly on the driver (exit $rc)"; exit 1 ;;
esac
proxy_start "$B" "$backend" --log-level info || exit 1
run vgpu VGPU_PROXY="$PROXY_SOCK" LD_LIBRARY_PATH="$PWD/$B/libvgpu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
vrc=$rc
proxy_stop; prc=$?
if [ -n "$out" ]; then
  mkdir -p "$out"
  cp "$tmp"/direct.* "$tmp"/vgpu.* "$out/" 2>/dev/null
  cp "$PROXY_LOG" "$out/proxy.log" 2>/dev/null
fi
fail=0
[ $vrc -eq 0 ] || { echo "through vgpu pylibs_step.py exited $vrc"; fail=1; }
[ $prc -eq 0 ] || { echo "vgpu-proxy exited $prc on SIGTERM"; fail=1; }
if ! diff -u "$tmp/direct.out" "$tmp/vgpu.out"; then echo "the outputs differ"; fail=1; fi
if [ $fail -ne 0 ]; then
  echo "--- proxy log (last lines):"; tail -n 20 "$PROXY_LOG"
  echo "FAIL: numba/CuPy through vgpu do not match the direct run"
  exit 1
fi
echo "PASS: $(grep -c ': verified' "$tmp/vgpu.out") numba/CuPy checks verified directly and through vgpu"
