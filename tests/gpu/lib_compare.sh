#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs a CUDA-library program (tests/gpu/cublas_gemm, cufft_c2c) directly on the real driver and
# as a zone (libvgpu as libcuda.so.1 -> a private vgpu-proxy on the real driver), checks that both
# verify their results and print the same, and reports the wall time of each run.
set -u
usage() {
  cat <<EOF
usage: tests/gpu/lib_compare.sh [--out DIR] [--must-run] [--arg A]... PROGRAM
Runs PROGRAM directly (once to warm the page cache, once timed; on the simulator once) and
through libvgpu + vgpu-proxy (timed); PASS when all runs exit 0 and print the same. With --out, the outputs and
a line "time_s direct=D vgpu=V ratio=R" (in DIR/NAME.time) are kept in DIR.
On the simulator (VGPU_E2E_BACKEND=sim) a program whose library has no PTX for its kernels
(cuBLAS: its direct run fails and the simulator says it needs PTX) skips, unless --must-run (cuFFT runs there: make
test uses it so); tests/gpu/sass_only.sh checks that such programs fail cleanly.
--arg A passes A to every run of PROGRAM (repeat for more). On the simulator the direct runs get
vgpu's libnvidia-ml.so.1 beside the simulator's libcuda.so.1 (the simulator has no NVML of its
own; NCCL needs one), as a zone gets it beside libvgpu.
Environment: VGPU_BUILD (default build/rel), VGPU_E2E_BACKEND (default cuda),
CUDA_HOME (default /usr/local/cuda), LIB_COMPARE_TIMEOUT (seconds per run, default 120).
Exit: 0 pass, 1 fail, 77 skip (the last line says why).
EOF
}
out=
must_run=
prog_args=()
while [ $# -gt 0 ]; do
  case $1 in
    --help) usage; exit 0 ;;
    --out) out=${2:?--out needs a directory}; shift 2 ;;
    --must-run) must_run=1; shift ;;
    --arg) prog_args+=("${2?--arg needs a value}"); shift 2 ;;
    -*) echo "lib_compare.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    *) break ;;
  esac
done
[ $# -eq 1 ] || { usage >&2; exit 2; }
prog=$1
name=$(basename "$prog")
B=${VGPU_BUILD:-build/rel}
backend=${VGPU_E2E_BACKEND:-cuda}
cuda_home=${CUDA_HOME:-/usr/local/cuda}
limit=${LIB_COMPARE_TIMEOUT:-120}

for lib in libcublas.so libcufft.so; do
  if [ ! -e "$cuda_home/lib64/$lib" ]; then
    echo "skip: $cuda_home/lib64/$lib is not installed (the CUDA toolkit's cuBLAS and cuFFT are needed)"
    exit 77
  fi
done
if [ ! -x "$prog" ]; then
  case $name in
    cudnn_ops) if [ ! -e "$cuda_home/lib64/libcudnn.so" ]; then
        echo "skip: $cuda_home/lib64/libcudnn.so is not installed (cuDNN is installed beside the toolkit where it is)"
        exit 77
      fi ;;
    nccl_ops) if [ ! -e "$cuda_home/lib64/libnccl.so" ]; then
        echo "skip: $cuda_home/lib64/libnccl.so is not installed (NCCL is installed beside the toolkit where it is)"
        exit 77
      fi ;;
    vkfft) if [ ! -e /usr/include/vkFFT.h ]; then
        echo "skip: /usr/include/vkFFT.h is not installed (Debian's libvkfft-dev: deploy/deps.sh installs it)"
        exit 77
      fi ;;
  esac
  echo "FAIL: $prog is not built (make B=$B gpu-kit)"; exit 1
fi
# a library the program needs and this machine lacks (cuDNN on a GPU machine without it);
# libcuda.so.1 is the driver's, the simulator's or libvgpu's, given to each run below
missing_so=$(ldd "$prog" 2>/dev/null | awk '/not found/ && $1 != "libcuda.so.1" { print $1 }' | tr '\n' ' ')
if [ -n "$missing_so" ]; then
  echo "skip: $name needs ${missing_so% }, which this machine does not have"
  exit 77
fi

. tests/proxy_lib.sh
[ "$backend" = sim ] && proxy_need_sim "$B" sim
proxy_start "$B" "$backend" --log-level info || exit 1
tmp=$PROXY_TMP

now() { local t=${EPOCHREALTIME/./}; echo "$t"; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b - a) / 1e6 }'; }
fail=0
why=
failed() { echo "FAIL: $*"; fail=1; why=${why:+$why; }$*; }
run() { # run LABEL [ENV...]: runs the program, keeps stdout/stderr, sets rc and took
  local label=$1; shift
  local t0; t0=$(now)
  env "$@" timeout --kill-after=5 "$limit" "$prog" "${prog_args[@]}" >"$tmp/$label.out" 2>"$tmp/$label.err"
  rc=$?
  took=$(secs "$t0" "$(now)")
  echo "== $name $label: exit $rc, ${took}s"
  cat "$tmp/$label.out"
  [ -s "$tmp/$label.err" ] && sed 's/^/   stderr | /' "$tmp/$label.err"
  case $rc in
    0) ;;
    3) failed "$name ($label): the driver has no usable binary for the library's kernels" ;;
    124|137) failed "$name ($label): no answer within ${limit}s" ;;
    *) failed "$name ($label) exited $rc: $(grep -v '^\s*$' "$tmp/$label.out" | tail -n 1)" ;;
  esac
}

# directly: the real driver, or the simulator's library as libcuda.so.1
direct_env=()
if [ "$backend" = sim ]; then
  mkdir "$tmp/direct"
  ln -s "$PWD/$B/sim/libcudasim.so" "$tmp/direct/libcuda.so.1"
  ln -s "$PWD/$B/libvgpu/libnvidia-ml.so.1" "$tmp/direct/libnvidia-ml.so.1"
  direct_env=(LD_LIBRARY_PATH="$tmp/direct${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}")
fi
# the first run warms the page cache for the timed ones on a GPU; the simulator's runs are
# all CPU time, so there the one direct run is the timed one
first=warmup
[ "$backend" = sim ] && first=direct
run $first "${direct_env[@]}"
t_direct=$took
if [ "$backend" = sim ] && [ "$rc" -ne 0 ] && [ -z "$must_run" ] && grep -q "simulator needs PTX" "$tmp/direct.err"; then
  proxy_stop
  echo "skip: $name needs a GPU: its library's kernels ship as SASS only and the simulator interprets PTX; tests/gpu/sass_only.sh checks that it fails cleanly there"
  exit 77
fi
run vgpu VGPU_PROXY="$PROXY_SOCK" LD_LIBRARY_PATH="$PWD/$B/libvgpu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
t_vgpu=$took
if [ $first = warmup ]; then
  run direct "${direct_env[@]}"
  t_direct=$took
else
  cp "$tmp/direct.out" "$tmp/warmup.out"
fi

if ! diff -u "$tmp/direct.out" "$tmp/vgpu.out"; then
  failed "$name printed something different through vgpu"
fi
if ! diff -q "$tmp/warmup.out" "$tmp/direct.out" >/dev/null; then
  failed "$name printed differently on two direct runs"
fi
ratio=$(awk -v v="$t_vgpu" -v d="$t_direct" 'BEGIN { if (d > 0) printf "%.2f", v / d; else print "-" }')
echo "time_s direct=$t_direct vgpu=$t_vgpu ratio=$ratio"
# The programs time their library calls on the GPU (stderr lines "perf WHAT: X us ..."):
# one table row per call, directly and through vgpu.
perf=$(awk -F': ' '
  { run = FILENAME == ARGV[1] ? 1 : 2 }
  /^perf / { k = substr($1, 6); split($2, w, " "); v[run, k] = w[1]; if (run == 1) keys[++n] = k }
  END {
    if (!n) exit
    print "| library call | direct (us per call) | through vgpu (us per call) | ratio |"
    print "|---|---:|---:|---:|"
    for (i = 1; i <= n; i++) {
      k = keys[i]; d = v[1, k]; z = v[2, k]
      printf "| %s | %s | %s | %s |\n", k, d, (z == "" ? "-" : z), (d > 0 && z != "" ? sprintf("%.2fx", z / d) : "-")
    }
  }' "$tmp/direct.err" "$tmp/vgpu.err")
[ -n "$perf" ] && echo "$perf"
if [ -n "$out" ]; then
  mkdir -p "$out"
  for f in direct.out direct.err vgpu.out vgpu.err; do cp "$tmp/$f" "$out/$name.$f"; done
  echo "time_s direct=$t_direct vgpu=$t_vgpu ratio=$ratio" >"$out/$name.time"
  [ -n "$perf" ] && echo "$perf" >"$out/$name.perf.md"
fi

proxy_stop; prc=$?
[ -n "$out" ] && cp "$tmp/proxy.log" "$out/$name.proxy.log"
if [ $prc -ne 0 ]; then
  failed "vgpu-proxy exited $prc on SIGTERM"
fi
if [ $fail -ne 0 ]; then
  echo "--- proxy log:"; tail -n 30 "$tmp/proxy.log" 2>/dev/null
  echo "FAIL: $why"
  exit 1
fi
echo "PASS: $name verified its results directly and through vgpu, with the same output"
