#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# hashcat (Debian's, unmodified) on its CUDA backend, directly and as a zone: it dlopens
# libcuda.so and libnvrtc.so, loads every NVML monitoring call at start (and gave up, then
# crashed, on the first missing one: vgpu's NVML answers them "not supported"), compiles its
# kernels with NVRTC, self-tests them against known hashes, and cracks an MD5 and a SHA-256
# by brute force over a mask. Each run must find exactly the planted passwords.
set -u
usage() {
  cat <<EOF
usage: tests/gpu/hashcat.sh [--out DIR] [--modes M,...]
Runs hashcat -a 3 (mask attack, CUDA backend only) on an MD5 and a SHA-256 hash directly on the
backend and through libvgpu + vgpu-proxy, each with an empty kernel cache of its own, and
checks that every run cracks both. With --out, the runs' output is kept in DIR; --modes picks
the hash modes (0 MD5, 1400 SHA-256; default both).
Environment: VGPU_BUILD (default build/rel), VGPU_E2E_BACKEND (default cuda; sim: the simulator),
CUDA_HOME (default /usr/local/cuda: its libnvrtc.so), HASHCAT (default hashcat),
HASHCAT_TIMEOUT (seconds per run, default 300).
Exit: 0 pass, 1 fail, 77 skip (hashcat or NVRTC is not installed; the last line says why).
EOF
}
out=
modes=0,1400
while [ $# -gt 0 ]; do
  case $1 in
    --help) usage; exit 0 ;;
    --out) out=${2:?--out needs a directory}; shift 2 ;;
    --modes) modes=${2:?--modes needs a list}; shift 2 ;;
    *) echo "hashcat.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
done
hc=${HASHCAT:-hashcat}
limit=${HASHCAT_TIMEOUT:-300}
OUT_DIR=$out

if ! command -v "$hc" >/dev/null; then
  echo "skip: $hc is not installed (Debian's hashcat package: deploy/deps.sh installs it)"
  exit 77
fi
if [ ! -e "${CUDA_HOME:-/usr/local/cuda}/lib64/libnvrtc.so" ]; then
  echo "skip: ${CUDA_HOME:-/usr/local/cuda}/lib64/libnvrtc.so is not installed (hashcat compiles its CUDA kernels with NVRTC)"
  exit 77
fi

# the planted passwords and their hashes: hashcat mode, mask, password
cases=()
for m in ${modes//,/ }; do
  case $m in
    0) cases+=("0 ?d?d?d 123") ;;
    1400) cases+=("1400 ?d?d?d?d 4242") ;;
    *) echo "hashcat.sh: --modes takes 0 and 1400, not $m" >&2; exit 2 ;;
  esac
done

. tests/gpu/app_lib.sh
app_start hashcat

crack() { # crack LABEL [ENV...]: every case, each with a fresh kernel cache
  local label=$1; shift
  for c in "${cases[@]}"; do
    set -- $c "$@"
    local mode=$1 mask=$2 word=$3; shift 3
    local hash dir=$APP_TMP/$label-$mode
    case $mode in
      0) hash=$(printf %s "$word" | md5sum | cut -d' ' -f1) ;;
      *) hash=$(printf %s "$word" | sha256sum | cut -d' ' -f1) ;;
    esac
    mkdir -p "$dir/home"
    echo "$hash" >"$dir/hash"
    local t0=$EPOCHREALTIME
    # (-n 1 -u 1: one block of work per launch, as the simulator's speed asks; --force only
    # allows setting them by hand)
    (cd "$dir" && env HOME="$dir/home" XDG_CACHE_HOME="$dir/home/.cache" XDG_DATA_HOME="$dir/home/.local" \
       XDG_CONFIG_HOME="$dir/home/.config" "$@" timeout --kill-after=5 "$limit" "$hc" -m "$mode" -a 3 hash "$mask" \
       --backend-ignore-opencl -D 2 --potfile-disable --quiet -n 1 -u 1 --force --outfile cracked --outfile-format 2 \
       >"$dir/out" 2>"$dir/err")
    local rc=$?
    local took; took=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
    local got; got=$(cat "$dir/cracked" 2>/dev/null)
    echo "== hashcat -m $mode $label: exit $rc, ${took}s, cracked: ${got:-nothing}"
    sed 's/^/   stderr | /' "$dir/err" | grep -v '^   stderr | $' | head -n 20
    if [ $rc -ne 0 ]; then
      app_fail "hashcat -m $mode ($label) exited $rc: $(grep -v '^\s*$' "$dir/out" "$dir/err" | tail -n 1)"
    elif [ "$got" != "$word" ]; then
      app_fail "hashcat -m $mode ($label) cracked '${got}', not the planted '$word'"
    fi
    [ -n "$out" ] && { mkdir -p "$out"; cp "$dir/out" "$out/hashcat-$mode.$label.out"; cp "$dir/err" "$out/hashcat-$mode.$label.err"; }
  done
}

crack direct "${APP_DIRECT_ENV[@]}"
crack vgpu "${APP_VGPU_ENV[@]}"
app_finish "hashcat cracked MD5 and SHA-256 on its CUDA backend directly and through vgpu"
