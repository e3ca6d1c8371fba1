#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A CUDA library on the simulator that ships its kernels as SASS only: cuBLAS on the default
# device (compute capability 7.5: its GEMMs run kernels with no PTX; on a device newer than it
# knows, VGPU_SIM_CC=13.0, it takes its PTX kernels: tests/gpu/sim_cublas.sh). tests/gpu/cublas_gemm must fail on it promptly and with one
# clear line, directly and through libvgpu + vgpu-proxy, never crash or hang. (cuFFT ships PTX
# for the sizes tests/gpu/cufft_c2c uses and runs there: tests/gpu/lib_compare.sh --must-run.)
set -u
usage() {
  cat <<EOF
usage: tests/gpu/sass_only.sh [--strict]
Runs $B_DEFAULT/tests/gpu/cublas_gemm on the simulator, directly (libcudasim.so as libcuda.so.1)
and as a zone (libvgpu -> vgpu-proxy --backend sim). Each run must end within ${RUN_TIMEOUT}s,
without a signal or a sanitizer report, with a non-zero status and one of:
  no-binary  exit 3, "NO KERNEL IMAGE: ..." on stdout and the simulator's CUDA_ERROR_NO_BINARY_FOR_GPU
             explanation ("the simulator needs PTX") in its log: the library's kernels were refused
             or exit 1 with the library's own status (cuBLAS turns the driver's error into
             CUBLAS_STATUS_EXECUTION_FAILED) and that same explanation in the simulator's log of
             this run. This is cuBLAS 13.1 with CUDA 13.0, directly and through vgpu
  refused    exit 1 and one line "FAIL ...: CALL: <CUBLAS_STATUS_...>": the library gave up before
             loading any kernel
--strict accepts only no-binary (make test runs it so). VGPU_BUILD (default build/san), CUDA_HOME
(default /usr/local/cuda).
Exit: 0 pass, 1 fail, 77 skip (cuBLAS not installed).
EOF
}
B_DEFAULT=build/san
RUN_TIMEOUT=60
strict=
case ${1:-} in
  --help) usage; exit 0 ;;
  --strict) strict=1 ;;
  "") ;;
  *) echo "sass_only.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
esac
B=${VGPU_BUILD:-$B_DEFAULT}
cuda_home=${CUDA_HOME:-/usr/local/cuda}
if [ ! -e "$cuda_home/lib64/libcublas.so" ]; then
  echo "skip: $cuda_home/lib64/libcublas.so is not installed (cuBLAS comes with the CUDA toolkit)"
  exit 77
fi
progs="$B/tests/gpu/cublas_gemm"
for p in $progs; do
  [ -x "$p" ] || { echo "FAIL: $p is not built (make B=$B $p)"; exit 1; }
done

. tests/proxy_lib.sh
proxy_need_sim "$B" sim
proxy_start "$B" sim --log-level info || exit 1
tmp=$PROXY_TMP
mkdir "$tmp/direct"
ln -s "$PWD/$B/sim/libcudasim.so" "$tmp/direct/libcuda.so.1"
# The libraries' own allocations are not freed when they give up; that is not what is tested.
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0

# Driver entry points that cuBLAS 13.1 and cuFFT 12 resolve by name (dlsym on libcuda.so.1) as
# they initialize; a missing one makes them give up before loading any kernel.
wanted="cuLinkCreate_v2 cuLinkAddData_v2 cuLinkAddFile_v2 cuLinkComplete cuLinkDestroy
  cuTensorMapEncodeTiled cuStreamWaitValue32 cuStreamBatchMemOp cuStreamGetCaptureInfo_v2
  cuGraphKernelNodeGetParams cuGraphExecKernelNodeSetParams cuGraphInstantiate cuMemPrefetchAsync"
exported=$(nm -D --defined-only "$B/sim/libcudasim.so" 2>/dev/null | awk '{print $3}')
missing=
for s in $wanted; do
  grep -qx "$s" <<<"$exported" || missing="$missing $s"
done

fail=0
pass_no_binary=0
check() { # check LABEL LOGFILE: classifies the run whose output is in $tmp/LABEL.{out,err}
  local label=$1 log=$2 out=$tmp/$1.out err=$tmp/$1.err
  echo "== $label: exit $rc, ${took}s"
  sed 's/^/   stdout | /' "$out"
  grep -v '^\s*$' "$err" | head -n 8 | sed 's/^/   stderr | /'
  if grep -qE "AddressSanitizer|LeakSanitizer|runtime error:" "$err"; then
    echo "FAIL: $label: a sanitizer report"; fail=1; return
  fi
  case $rc in
    0) echo "FAIL: $label: ran to the end on the simulator; it was expected to refuse SASS-only kernels"
       fail=1 ;;
    3) if ! grep -q "^NO KERNEL IMAGE: " "$out"; then
         echo "FAIL: $label: exit 3 without the NO KERNEL IMAGE line"; fail=1
       elif ! grep -q "simulator needs PTX" "$log"; then
         echo "FAIL: $label: exit 3 but the simulator did not say that it needs PTX ($log)"; fail=1
       else
         echo "ok: $label: no binary for the simulator (CUDA_ERROR_NO_BINARY_FOR_GPU: it needs PTX)"
         pass_no_binary=$((pass_no_binary + 1))
       fi ;;
    1) local call
       call=$(sed -n 's/^FAIL [^ ]*: \([a-zA-Z0-9_]*\)(.*: \(CUBLAS_STATUS_[A-Z_]*\|CUFFT_[A-Z_]*\) (last runtime error .*/\1: \2/p' "$out")
       if [ "$(grep -c . "$out")" -ne 1 ] || [ -z "$call" ]; then
         echo "FAIL: $label: exit 1 without exactly one clear FAIL line naming the library's status"
         fail=1
       elif grep -q "simulator needs PTX" "$log"; then
         # the library swallowed the driver's error into its own status; the simulator's
         # log says which: its kernels were refused (CUDA_ERROR_NO_BINARY_FOR_GPU), by name
         local named
         named=$(grep -o "no PTX (kernel [A-Za-z0-9_]*" "$log" | head -n 1 | sed 's/.*(kernel //')
         if [ -z "$named" ]; then
           echo "FAIL: $label: the simulator's refusal does not name the module's kernel ($log)"; fail=1; return
         fi
         echo "ok: $label: no binary for the simulator (CUDA_ERROR_NO_BINARY_FOR_GPU: it needs PTX; kernel $named), reported by the library as $call"
         pass_no_binary=$((pass_no_binary + 1))
       elif [ -n "$strict" ]; then
         echo "FAIL: $label: the library gave up ($call); --strict wants the no-binary refusal"; fail=1
       else
         echo "ok: $label: the library gave up cleanly, none of its kernels ran ($call)"
       fi ;;
    124|137) echo "FAIL: $label: hung (no exit within ${RUN_TIMEOUT}s)"; fail=1 ;;
    *) if [ "$rc" -gt 128 ]; then
         echo "FAIL: $label: killed by signal $((rc - 128))"
       else
         echo "FAIL: $label: exit $rc"
       fi
       fail=1 ;;
  esac
}

now() { local t=${EPOCHREALTIME/./}; echo "$t"; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b - a) / 1e6 }'; }
for p in $progs; do
  name=$(basename "$p")
  t0=$(now)
  env -u VGPU_SIM_QUIET LD_LIBRARY_PATH="$tmp/direct${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" timeout --kill-after=5 $RUN_TIMEOUT "$p" \
    >"$tmp/$name.direct.out" 2>"$tmp/$name.direct.err"
  rc=$?; took=$(secs "$t0" "$(now)")
  check "$name.direct" "$tmp/$name.direct.err"
  t0=$(now)
  logstart=$(wc -l <"$tmp/proxy.log")
  VGPU_PROXY=$PROXY_SOCK LD_LIBRARY_PATH=$PWD/$B/libvgpu timeout --kill-after=5 $RUN_TIMEOUT "$p" \
    >"$tmp/$name.vgpu.out" 2>"$tmp/$name.vgpu.err"
  rc=$?; took=$(secs "$t0" "$(now)")
  sleep 0.2 # the zone's worker logs its end after the program's
  tail -n +$((logstart + 1)) "$tmp/proxy.log" >"$tmp/$name.vgpu.log"
  check "$name.vgpu" "$tmp/$name.vgpu.log"
done

proxy_stop; prc=$?
if [ $prc -ne 0 ]; then
  echo "FAIL: vgpu-proxy exited $prc on SIGTERM"; fail=1
fi
if grep -E "AddressSanitizer|runtime error|killed by signal" "$tmp/proxy.log" | grep -v "signal 15 (Terminated)"; then
  echo "FAIL: a proxy process failed"; fail=1
fi
if [ -n "$missing" ]; then
  echo "note: libcudasim.so does not export these entry points that cuBLAS/cuFFT look up by name:$missing"
fi
if [ $fail -ne 0 ]; then
  echo "--- proxy log:"; tail -n 30 "$tmp/proxy.log"
  exit 1
fi
if [ $pass_no_binary -eq 2 ]; then
  echo "PASS: cuBLAS is refused by the simulator (no binary for it), directly and through vgpu"
else
  echo "PASS: cuBLAS fails cleanly on the simulator, directly and through vgpu ($pass_no_binary of 2 runs reached the kernels' refusal, the library gave up before that in the others)"
fi
