#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make gpu-check: every GPU check in one run on a machine with an NVIDIA GPU (or, with
# VGPU_E2E_BACKEND=sim, on the simulator), each step under a timeout, one report at the end.
set -u
usage() {
  cat <<EOF
usage: tests/gpu/check.sh [--build DIR] [--out DIR] [--budget SECONDS] [--jobs N] [--skip STEPS]
                          [--archive FILE.tar.gz]
Runs, each under a timeout and each recorded as PASS, FAIL or SKIP (a failure does not stop
the run): the driver-API end-to-end suite and the runtime-API suite (directly and through vgpu,
outputs identical), checkpoint, migration and restore of a running zone, the simulator's
refusal of SASS-only libraries, cuBLAS, cuFFT, cuRAND, cuSPARSE, cuSOLVER, cuDNN, NVRTC, NCCL
and VkFFT directly and through vgpu, hashcat, FFmpeg's CUDA filters, mumax3, PyCUDA and NVIDIA's CUDA
samples directly and through vgpu (where installed), a program built against CUDA 11.8's runtime and the toolkit's, PyTorch directly and through vgpu (when torch imports), numba and CuPy
directly and through vgpu (when they import), and the end-to-end
benchmark. Writes OUT/docs/perf/gpu.md (GPU, driver, date, every figure), OUT/summary.md and
OUT/logs/, and ends with the summary table.
  --build DIR       the build tree (default build/rel). Used as it is when DIR/lib/gpu-kit.files
                    lists only files that exist (make B=DIR gpu-kit, docs/GPU.md); otherwise it is
                    built only where the build dependencies are installed
  --out DIR         where everything is written (default \$OUT if set, else build/gpu-check)
  --no-build        never build: an incomplete DIR is a failed step (the other steps still run)
  --budget SECONDS  the whole run's time limit; later steps get what is left (default 450)
  --jobs N          test scripts run at once in the two suites (default 4, at most the CPUs)
  --skip STEPS      leave out these steps (comma-separated names from the summary table, e.g.
                    bench,pylibs): recorded as SKIP, their time left to the others
  --archive FILE    also write the whole output folder as one .tar.gz (to bring back from a
                    borrowed machine in one file)
VGPU_E2E_BACKEND=cuda|sim|auto (default auto: cuda when nvidia-smi -L answers, else sim).
PYTHON (default python3) is the interpreter with torch. Exit: 0 when no step failed.
EOF
}
B=build/rel
out=${OUT:-build/gpu-check}
budget=450
jobs=4
skip=,
archive=
build_ok=1
while [ $# -gt 0 ]; do
  case $1 in
    --help) usage; exit 0 ;;
    --build) B=${2:?--build needs a directory}; shift 2 ;;
    --out) out=${2:?--out needs a directory}; shift 2 ;;
    --no-build) build_ok=; shift ;;
    --budget) budget=${2:?--budget needs seconds}; shift 2 ;;
    --jobs) jobs=${2:?--jobs needs a number}; shift 2 ;;
    --skip) skip=,${2:?--skip needs step names},; shift 2 ;;
    --archive) archive=${2:?--archive needs a file name}; shift 2 ;;
    *) echo "check.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done
B=${B%/}
# A lean kit carried on its own (make gpu-kit, when the build tree is too large to carry):
# its files go back to B's paths, which its scripts name, unless B already holds that kit.
case $B in */*) lean=${B%/*}/gpu-kit ;; *) lean=gpu-kit ;; esac
# ... or carried compressed (make gpu-kit writes LEAN.tar.xz): unpacked first
if [ ! -f "$lean/$B/lib/gpu-kit.files" ] && [ -f "$lean.tar.xz" ]; then
  echo "check.sh: unpacking $lean.tar.xz into $lean"
  mkdir -p "$lean" && tar xJf "$lean.tar.xz" -C "$lean" || { echo "check.sh: cannot unpack $lean.tar.xz" >&2; exit 2; }
fi
if [ -f "$lean/$B/lib/gpu-kit.files" ] && ! cmp -s "$lean/$B/lib/gpu-kit.info" "$B/lib/gpu-kit.info" 2>/dev/null; then
  echo "check.sh: linking the kit in $lean/$B into $B"
  mkdir -p "$B" && cp -al --remove-destination "$lean/$B/." "$B/" || exit 2
fi
mkdir -p "$out/logs" "$out/docs/perf" || exit 2
out=$(cd "$out" && pwd)
report=$out/docs/perf/gpu.md
ncpu=$(nproc 2>/dev/null || echo 2)
[ "$jobs" -gt "$ncpu" ] && jobs=$ncpu
[ "$jobs" -lt 1 ] && jobs=1
t_start=$(date +%s)
deadline=$((t_start + budget))

backend=${VGPU_E2E_BACKEND:-auto}
if [ "$backend" = auto ]; then
  if nvidia-smi -L >/dev/null 2>&1 || [ -e /proc/driver/nvidia/version ]; then backend=cuda; else backend=sim; fi
fi
case $backend in
  cuda|sim) ;;
  *) echo "check.sh: VGPU_E2E_BACKEND must be cuda, sim or auto, not '$backend'" >&2; exit 2 ;;
esac
export VGPU_E2E_BACKEND=$backend VGPU_BUILD=$B
# The kit's own copies of the libraries its programs need (make gpu-kit); zones get them from
# $B/libvgpu, where the scripts point LD_LIBRARY_PATH.
export LD_LIBRARY_PATH=$PWD/$B/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
py=${PYTHON:-python3}

# ---- steps: each records NAME RESULT SECONDS DETAIL ----
names=(); results=(); secs=(); details=()
record() {
  local d=$4
  [ ${#d} -gt 300 ] && d="${d:0:297}..."
  names+=("$1"); results+=("$2"); secs+=("$3"); details+=("$d")
  printf '%-5s %-11s %4ss  %s\n' "$2" "$1" "$3" "$d"
}
left() { echo $((deadline - $(date +%s))); }
# step NAME WANT_SECONDS CMD...: runs CMD under min(WANT, time left), output in logs/NAME.log;
# sets rc (124 = timed out, 125 = not run: no time left) and took.
step() {
  local name=$1 want=$2 t; shift 2
  t=$(left); [ "$t" -gt "$want" ] && t=$want
  echo "== $name (up to ${t}s): $*" >"$out/logs/$name.log"
  case $skip in *,"$name",*) rc=126; took=0; return ;; esac
  if [ "$t" -lt 15 ]; then rc=125; took=0; return; fi
  local t0; t0=$(date +%s)
  timeout --kill-after=10 "$t" "$@" >>"$out/logs/$name.log" 2>&1
  rc=$?
  took=$(($(date +%s) - t0))
  [ $rc -eq 137 ] && rc=124
  step_limit=$t
}
last_line() { grep -v '^\s*$' "$out/logs/$1.log" | tail -n 1; }
# judge NAME [DETAIL]: records a step from rc (0 pass, 77 skip, else fail)
judge() {
  local name=$1 detail=${2:-}
  case $rc in
    0) record "$name" PASS "$took" "${detail:-$(last_line "$name")}" ;;
    77) record "$name" SKIP "$took" "$(last_line "$name" | sed 's/^skip: //')" ;;
    124) record "$name" FAIL "$took" "timed out after ${step_limit}s; ${detail:-$(last_line "$name")}" ;;
    125) record "$name" SKIP 0 "no time left in the ${budget}s budget" ;;
    126) record "$name" SKIP 0 "left out (--skip)" ;;
    *) record "$name" FAIL "$took" "exit $rc: ${detail:-$(last_line "$name")}" ;;
  esac
}

echo "gpu-check: build $B, backend $backend, output $out, budget ${budget}s, $jobs jobs"

# 1. the build tree: a complete kit is used as it is; nothing is rebuilt on the GPU machine.
kit=$B/lib/gpu-kit.files
missing=()
if [ -f "$kit" ]; then
  while read -r f; do [ -e "$f" ] || missing+=("$f"); done <"$kit"
fi
t0=$(date +%s)
if [ -f "$kit" ] && [ ${#missing[@]} -eq 0 ]; then
  record kit PASS 0 "prebuilt $B used as it is: $(sed -n 's/^commit: //p' "$B/lib/gpu-kit.info" 2>/dev/null)"
elif [ -n "$build_ok" ] && [ -e /usr/include/msgpack.h ] && [ -x "$(command -v "${NVCC:-${CUDA_HOME:-/usr/local/cuda}/bin/nvcc}")" ]; then
  why="no $kit"
  [ -f "$kit" ] && why="${#missing[@]} of its files missing (first: ${missing[0]})"
  echo "gpu-check: $B is not a complete kit ($why): building it (make B=$B gpu-kit)"
  step kit 400 make -j"$ncpu" --no-print-directory B="$B" gpu-kit
  judge kit "built here: make B=$B gpu-kit ($why)"
else
  why="no $kit"
  [ -f "$kit" ] && why="${#missing[@]} of its files missing (first: ${missing[0]})"
  record kit FAIL 0 "$B is not a complete kit ($why)${build_ok:+ and this machine lacks the build dependencies}: build it elsewhere with make B=$B gpu-kit and bring $B (docs/GPU.md)"
fi
# The kit's programs must load here (glibc version, the copied libraries): ldd says what is not.
notfound=
for f in "$B/proxy/vgpu-proxy" "$B/sim/libcudasim.so" "$B/bench/ring" "$B/tests/gpu/cublas_gemm" "$B/tests/gpu/cufft_c2c" "$B/tests/gpu/curand_host" "$B/tests/gpu/cusparse_spmv"; do
  [ -e "$f" ] || continue
  notfound+=$(ldd "$f" 2>&1 | grep -E 'not found|No such' | sed "s|^|$(basename "$f"): |")
done
notfound+=$(LD_LIBRARY_PATH=$PWD/$B/libvgpu ldd "$B/libvgpu/libcuda.so.1" 2>&1 | grep -E 'not found|No such' | sed 's/^/libvgpu: /')
if [ -n "$notfound" ]; then
  record loader FAIL 0 "the kit's programs cannot load here: $(echo "$notfound" | tr -s ' \t\n' ' ' | cut -c1-300)"
fi

# 2. the machine
if [ "$backend" = cuda ]; then
  gpu=$(nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv,noheader 2>/dev/null ||
        nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null)
  [ -n "$gpu" ] || gpu="unknown (nvidia-smi does not answer), $(sed -n 's/.*Kernel Module *\([0-9.]*\).*/\1/p' /proc/driver/nvidia/version 2>/dev/null)"
  gpu_name=$(echo "$gpu" | head -n 1 | cut -d, -f1 | sed 's/^ *//')
  driver=$(echo "$gpu" | head -n 1 | cut -d, -f2 | sed 's/^ *//')
  cuda_drv=$(nvidia-smi 2>/dev/null | sed -n 's/.*CUDA Version: *\([0-9.]*\).*/\1/p' | head -n 1)
  backend_label="the NVIDIA driver ($gpu_name, driver $driver, CUDA ${cuda_drv:-?})"
  # Without persistence mode the driver tears the GPU down whenever no process has it open,
  # and every cuInit (each test program, each zone's worker) pays for bringing it up again:
  # an nvidia-smi polling in the background keeps it up for the run. It changes no result.
  persistence=$(nvidia-smi --query-gpu=persistence_mode --format=csv,noheader 2>/dev/null | head -n 1)
  if [ "$persistence" = Disabled ]; then
    nvidia-smi --query-gpu=name --format=csv,noheader -l 5 >/dev/null 2>&1 &
    keeper=$!
    trap 'kill "$keeper" 2>/dev/null' EXIT
    persistence="Disabled (a background nvidia-smi kept the driver loaded during the run)"
  fi
else
  gpu="none: the simulator (libcudasim.so, a CPU test double of the CUDA driver) stands in"
  gpu_name="none (simulator)"; driver="none (simulator)"; cuda_drv=
  backend_label="the simulator, a CPU test double of the driver (no GPU: the figures below are not GPU figures)"
fi
echo "gpu-check: backend: $backend_label"

# 3. the driver-API end-to-end suite (tests/e2e + isolation, and IPC handles between zones of
#    one registration and not beyond), directly and through vgpu
# isolation.sh first: its 200 zones take longest; the others run beside it
# The tests of this tree's sources (tests/e2e/*.c, tests/runtime/*.cu), not whatever scripts
# an older build left in $B: a stale one would test code that is no longer there.
e2e_tests=("$B/tests/isolation/isolation.sh" "$B/tests/isolation/ipc.sh")   # (ipc.sh: IPC between workers of one driver)
# (visible.c is not one of them: tests/e2e/visible_devices.sh runs it on three simulated devices)
for s in tests/e2e/*.c; do
  [ "$s" = tests/e2e/visible.c ] || e2e_tests+=("$B/tests/e2e/e2e_$(basename "$s" .c).sh")
done
rt_tests=()
for s in tests/runtime/*.cu; do rt_tests+=("$B/tests/runtime/rt_$(basename "$s" .cu).sh"); done
per=$(( $(left) < 150 ? $(left) : 150 ))
step e2e 180 tests/run.sh --timeout "$per" --jobs "$jobs" "${e2e_tests[@]}"
judge e2e
# 3b. the end-to-end benchmark (make bench-gpu): the full one when there is time and a GPU.
# Right after the suite that shows the path works, before the long library steps, so that a
# run short of time still brings back the figures.
quick=
if [ "$backend" = sim ] || [ "$(left)" -lt 200 ]; then quick=--quick; fi
# two alternating runs: medians that one noisy run cannot decide, within the step's time;
# the pageable copies also with the 4 MiB bulk area libvgpu asked for before it asked for
# 1 MiB (chosen on the simulator, where it was 2-4x faster): which is better on a GPU; and
# with large pageable copies split between the calling thread and three helper threads
# (VGPU_COPY_THREADS=3) against the default, the calling thread alone
step bench 240 bench/zone.sh --no-write $quick --runs 2 --bulk-kib 4096 --copy-threads 3
if [ $rc -eq 0 ]; then
  judge bench "$(grep -c '^| [a-z]' "$out/logs/bench.log") measurements${quick:+ (--quick)}; $(grep -o 'trivial call through vgpu = [0-9.]*x[^.]*' "$out/logs/bench.log")"
else
  judge bench
fi

# 3c. where the driver places device memory, and whether a fresh process (a restoring worker)
# gets another's addresses back: a few seconds, the answers for restores on a GPU
step va-probe 60 tests/gpu/va_probe.sh
judge va-probe "$(grep '^va-probe' "$out/logs/va-probe.log" | tail -n 1)"

# 4. the runtime-API suite (tests/runtime: static and shared cudart), directly and through vgpu
per=$(( $(left) < 120 ? $(left) : 120 ))
step runtime 240 tests/run.sh --timeout "$per" --jobs "$jobs" "${rt_tests[@]}"
judge runtime
# 4b. checkpoint, migration between two proxies and restore from a file after the proxy is
# killed, on this backend (tests/gpu/migrate_check.sh)
step migrate 90 tests/gpu/migrate_check.sh
judge migrate "$(grep -o 'paused at most [0-9.]* ms' "$out/logs/migrate.log" | tr '\n' ' ')$(last_line migrate)"
mkdir -p "$out/logs/tests"
for t in "${e2e_tests[@]}" "${rt_tests[@]}"; do
  l=$B/test-logs/$(basename "$t").log
  [ -f "$l" ] && cp "$l" "$out/logs/tests/"
done

# 4c. programs with zones' device memory at fixed addresses (--device-va fixed, what restoring
# a zone into a new worker needs on a GPU; stream-ordered allocations there too): a sample of
# both suites, directly and through vgpu
fixed_tests=()
for n in e2e/e2e_memory e2e/e2e_vmm e2e/e2e_kernels e2e/e2e_threads runtime/rt_saxpy runtime/rt_device_reset \
         runtime/rt_thrust_algos runtime/rt_memcpy_2d runtime/rt_graph_capture runtime/rt_mem_pools \
         runtime/rt_malloc_async runtime/rt_graph_memory; do
  fixed_tests+=("$B/tests/$n.sh")
done
VGPU_E2E_PROXY_ARGS="--device-va fixed" step fixed-va 90 tests/run.sh --timeout 80 --jobs "$jobs" \
  "${fixed_tests[@]}"
judge fixed-va
# cuBLAS (its workspace and matrices in the window) the same way
cc=
[ "$backend" = sim ] && cc=13.0   # (where cuBLAS's PTX kernels run on the simulator)
VGPU_SIM_CC=${cc:-${VGPU_SIM_CC:-}} VGPU_E2E_PROXY_ARGS="--device-va fixed" step cublas-fixed-va 60 \
  tests/gpu/lib_compare.sh --out "$out/libs-fixed-va" "$B/tests/gpu/cublas_gemm"
judge cublas-fixed-va

# 5. the simulator refuses the SASS-only CUDA libraries cleanly (the kit has the simulator)
step sass-only 60 tests/gpu/sass_only.sh
judge sass-only

# 6, 7. cuBLAS, cuFFT, cuRAND, cuSPARSE, cuSOLVER, cuDNN, NVRTC, NCCL and VkFFT directly and through vgpu
for p in cublas_gemm cufft_c2c curand_host cusparse_spmv cusolver_dn cudnn_ops cudnn_graph nvrtc_jit nccl_ops vkfft; do
  # (on the simulator NCCL's kernels need a device of their PTX's capability, and cuBLAS,
  # which cuSOLVER's SVD and cuDNN's FFT convolutions call, one newer than it knows, where it
  # takes its PTX kernels: docs/SIM.md)
  cc=
  if [ "$backend" = sim ]; then
    case $p in
      nccl_ops) cc=12.0 ;;
      cublas_gemm|cusolver_dn|cudnn_ops|cudnn_graph) cc=13.0 ;;
    esac
  fi
  VGPU_SIM_CC=${cc:-${VGPU_SIM_CC:-}} step "$p" 90 tests/gpu/lib_compare.sh --out "$out/libs" "$B/tests/gpu/$p"
  d=
  [ -f "$out/libs/$p.time" ] && d="$(grep -c 'verified' "$out/libs/$p.direct.out") checks verified; $(cat "$out/libs/$p.time")"
  [ $rc -eq 0 ] || d=
  judge "$p" "$d"
done

# 7b. hashcat (Debian's, where it is installed) on its CUDA backend directly and through vgpu
step hashcat 120 tests/gpu/hashcat.sh --out "$out/hashcat"
judge hashcat
# 7c. FFmpeg's CUDA filters (where Debian's FFmpeg is installed) directly and through vgpu
step ffmpeg 90 tests/gpu/ffmpeg.sh --out "$out/ffmpeg"
judge ffmpeg
# 7c'. a program as an older nvcc builds it, through CUDA 11.8's runtime (where it can be had)
# and the toolkit's, directly and through vgpu
step cudart_abi 60 tests/gpu/cudart_abi.sh --out "$out/cudart_abi"
judge cudart_abi
# 7c''. mumax3 (Debian's, where it can be had) directly and through vgpu, physics checked
step mumax3 120 tests/gpu/mumax3.sh --out "$out/mumax3"
judge mumax3
# 7c3. NVIDIA's CUDA samples (where their sources can be had) built here, run both ways: all
# of them on a GPU, the quick set on the simulator (whose runs take minutes)
set_arg=--all
[ "$backend" = sim ] && set_arg=
step cuda_samples 240 tests/gpu/cuda_samples.sh $set_arg --jobs 8 --timeout 30 --out "$out/cuda_samples"
judge cuda_samples
# 7d. PyCUDA (Debian's, where its Python and PyCUDA can be had) directly and through vgpu
step pycuda 120 tests/gpu/pycuda.sh --out "$out/pycuda"
judge pycuda

# 8. numba (every kernel through the JIT linker) and CuPy directly and through vgpu: before
# PyTorch, which has run through vgpu before and CuPy has not (each step bounds its own time)
PYLIBS_TIMEOUT=$(( $(left) / 3 < 90 ? $(left) / 3 : 90 )) PYTHON=$py \
  step pylibs 200 tests/gpu/pylibs_compare.sh --out "$out/pylibs"
judge pylibs "$(grep -c ': verified' "$out/pylibs/vgpu.out" 2>/dev/null) checks verified through vgpu"

# 8b. PyTorch directly and through vgpu
PYTORCH_TIMEOUT=$(( $(left) / 2 < 150 ? $(left) / 2 : 150 )) PYTHON=$py \
  step pytorch 320 tests/gpu/pytorch_compare.sh --calls --out "$out/pytorch"
d=
[ -f "$out/pytorch/pytorch.txt" ] && d=$(grep -E '^(losses|step time conv)' "$out/pytorch/pytorch.txt" | tr '\n' ';' | sed 's/;$//')
judge pytorch "$d"

# ---- the report ----
total=$(($(date +%s) - t_start))
nfail=0
for r in "${results[@]}"; do [ "$r" = FAIL ] && nfail=$((nfail + 1)); done
summary() {
  echo "| step | result | seconds | detail |"
  echo "|---|---|---:|---|"
  for i in "${!names[@]}"; do
    echo "| ${names[i]} | ${results[i]} | ${secs[i]} | $(echo "${details[i]}" | sed 's/|/\\|/g') |"
  done
}
summary >"$out/summary.md"
section_tests() { # section_tests STEP: every test of a step with its time, from its log
  grep -E '^(PASS|FAIL|SKIP) ' "$out/logs/$1.log" | sort -k2,2 | sed 's/^/    /'
  grep -E '^[0-9]+ passed, [0-9]+ failed' "$out/logs/$1.log" | tail -n 1 | sed 's/^/    /'
  grep -E '^--- ' "$out/logs/$1.log" | sed 's/^--- /    failed: /'
}
{
  echo "# GPU check (\`make gpu-check\`, tests/gpu/check.sh)"
  echo
  if [ "$backend" = cuda ]; then
    echo "GPU: **$gpu_name**, driver $driver (CUDA ${cuda_drv:-?}); \`nvidia-smi --query-gpu\`: $gpu."
    echo "Persistence mode: ${persistence:-unknown}."
  else
    echo "**No GPU: run on the simulator** (\`VGPU_E2E_BACKEND=sim\`), libcudasim.so, a CPU test"
    echo "double of the CUDA driver. The steps that need a GPU are skipped; no figure here is a GPU figure."
  fi
  echo
  echo "Date: $(date -u +'%Y-%m-%d %H:%M UTC'). Host: $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), $ncpu CPUs."
  echo "Build: \`$B\`; $(tr '\n' ';' <"$B/lib/gpu-kit.info" 2>/dev/null | sed 's/;$//; s/;/; /g')."
  echo "Backend: $backend_label. Whole run: ${total}s of a ${budget}s budget; $nfail step(s) failed."
  echo
  echo "## Summary"
  echo
  summary
  echo
  echo "## Driver-API end-to-end suite (tests/e2e, isolation): directly and through vgpu, outputs identical"
  echo
  section_tests e2e
  echo
  echo "## Runtime-API suite (tests/runtime, static and shared cudart): directly and through vgpu"
  echo
  section_tests runtime
  echo
  echo "## Device addresses in fresh processes (tests/gpu/va_probe.sh)"
  echo
  grep -E '^(randomised|not randomised|FAIL|va-probe)' "$out/logs/va-probe.log" 2>/dev/null | sed 's/^/    /'
  echo
  echo "## CUDA libraries on the simulator (tests/gpu/sass_only.sh)"
  echo
  grep -E '^(ok|FAIL|PASS|note):' "$out/logs/sass-only.log" | sed 's/^/    /'
  echo
  for p in cublas_gemm cufft_c2c curand_host cusparse_spmv cusolver_dn cudnn_ops cudnn_graph nvrtc_jit nccl_ops vkfft; do
    case $p in
      cublas_gemm) what="cuBLAS: SGEMM, DGEMM, strided-batched SGEMM, half and bfloat16 GemmEx, a cuBLASLt matmul with bias and ReLU" ;;
      cufft_c2c) what="cuFFT: 1D C2C forward+inverse, R2C, Z2Z, 2D, 3D, C2R" ;;
      curand_host) what="cuRAND host API: seven generators against cuRAND's host generators" ;;
      cusparse_spmv) what="cuSPARSE: SpMV and SpMM, CSR and COO, against the host" ;;
      cusolver_dn) what="cuSOLVER: LU and Cholesky solves, the symmetric eigensolver, the SVD, against the host" ;;
      cudnn_ops) what="cuDNN: a convolutional layer's forward and backward passes, pooling, activations, softmax" ;;
      cudnn_graph) what="cuDNN's backend API as PyTorch reaches it: every engine configuration its heuristics offer for a convolution's three operations" ;;
      vkfft) what="VkFFT (a third-party library, Debian's libvkfft-dev): C2C single and double, 2D batched, Bluestein, R2C, a four-step 65536, kernels it writes and compiles with NVRTC at plan time" ;;
      nccl_ops) what="NCCL: communicators over the visible devices (vgpu's NVML in the zone), all-reduce, broadcast, all-gather, reduce-scatter, a ring of sends" ;;
      *) what="NVRTC: kernels compiled at run time for the device, loaded through the driver API" ;;
    esac
    echo "## $p ($what) directly and through vgpu"
    echo
    if [ -f "$out/libs/$p.time" ]; then
      echo "Wall time of the whole program (its library's initialization included): $(cat "$out/libs/$p.time")."
      echo
      if [ -f "$out/libs/$p.perf.md" ]; then
        echo "GPU time of the library calls (CUDA events around 20 calls; stderr of the programs):"
        echo
        cat "$out/libs/$p.perf.md"
        echo
      fi
      echo "Output directly on the driver:"
      echo
      sed 's/^/    /' "$out/libs/$p.direct.out"
      if ! cmp -s "$out/libs/$p.direct.out" "$out/libs/$p.vgpu.out"; then
        echo; echo "Through vgpu it printed:"; echo; sed 's/^/    /' "$out/libs/$p.vgpu.out"
      fi
      for r in direct vgpu; do
        if grep -v '^perf ' "$out/libs/$p.$r.err" | grep -q .; then
          echo; echo "Its stderr ($r):"; echo
          grep -v '^perf ' "$out/libs/$p.$r.err" | grep -v '^\s*$' | head -n 8 | sed 's/^/    /'
        fi
      done
    else
      echo "    $(last_line "$p")"
    fi
    echo
  done
  echo "## PyTorch (tests/gpu/pytorch_step.py) directly and through vgpu"
  echo
  if [ -f "$out/pytorch/pytorch.txt" ]; then
    sed 's/^/- /' "$out/pytorch/pytorch.txt"
  else
    echo "    $(last_line pytorch)"
  fi
  echo
  if [ -f "$out/pytorch/calls.txt" ]; then
    echo "Calls a training step sends through vgpu (bench/trace_calls.py over VGPU_TRACE):"
    echo
    sed 's/^/    /' "$out/pytorch/calls.txt"
    echo
  fi
  echo "## numba and CuPy (tests/gpu/pylibs_step.py) directly and through vgpu"
  echo
  if [ -f "$out/pylibs/vgpu.out" ]; then
    sed 's/^/- /' "$out/pylibs/vgpu.out"
  fi
  echo "    $(last_line pylibs)"
  echo
  echo "## End-to-end benchmark (bench/zone.sh${quick:+ $quick})"
  echo
  if grep -q '^# End-to-end benchmark' "$out/logs/bench.log"; then
    sed -n '/^# End-to-end benchmark/,$p' "$out/logs/bench.log" | sed '1d; s/^#/###/'
  else
    echo "    $(last_line bench)"
  fi
  echo
  echo "Logs: \`logs/\` beside \`docs/\` in the output folder (one per step; \`logs/tests/\` per test)."
} >"$report"

echo
echo "gpu-check summary ($backend_label; ${total}s):"
summary
echo
echo "gpu-check: report written to $report (logs in $out/logs)"
if [ -n "$archive" ]; then
  if tar czf "$archive" -C "$(dirname "$out")" "$(basename "$out")"; then
    echo "gpu-check: everything in one file: $archive"
  else
    echo "gpu-check: could not write $archive" >&2
  fi
fi
[ $nfail -eq 0 ]
