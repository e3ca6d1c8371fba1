#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# NVIDIA's CUDA samples (11.8, as Debian ships their sources in nvidia-cuda-samples), built
# unmodified with this toolkit's nvcc and run directly on the backend and as zones: each must
# end as it does directly (passed, or waived for a device feature, with the same status).
set -u
# the samples make test builds and runs (quick to build and to run on the simulator)
QUICK=0_Introduction/vectorAdd,0_Introduction/simpleCallback,3_CUDA_Features/cdpSimpleQuicksort,3_CUDA_Features/simpleCudaGraphs
# every sample of the 11.8 set that CUDA 13 still builds (no graphics, MPI or second GPU) and
# the simulator runs within a minute
ALL=0_Introduction/vectorAdd,0_Introduction/asyncAPI,0_Introduction/c++11_cuda,0_Introduction/clock,\
0_Introduction/cppIntegration,0_Introduction/cppOverload,0_Introduction/cudaOpenMP,\
0_Introduction/fp16ScalarProduct,0_Introduction/mergeSort,0_Introduction/simpleAWBarrier,\
0_Introduction/simpleAssert,0_Introduction/simpleAtomicIntrinsics,0_Introduction/simpleCallback,\
0_Introduction/simpleCooperativeGroups,0_Introduction/simpleCubemapTexture,\
0_Introduction/simpleLayeredTexture,0_Introduction/simpleMultiGPU,0_Introduction/simpleOccupancy,\
0_Introduction/simplePrintf,0_Introduction/simpleSeparateCompilation,0_Introduction/simpleSurfaceWrite,\
0_Introduction/simpleTemplates,0_Introduction/simpleTexture,0_Introduction/simpleVoteIntrinsics,\
0_Introduction/simpleZeroCopy,0_Introduction/template,1_Utilities/deviceQueryDrv,1_Utilities/topologyQuery,\
2_Concepts_and_Techniques/MC_EstimatePiInlineP,2_Concepts_and_Techniques/MC_EstimatePiInlineQ,\
2_Concepts_and_Techniques/MC_EstimatePiP,2_Concepts_and_Techniques/MC_EstimatePiQ,\
2_Concepts_and_Techniques/MC_SingleAsianOptionP,2_Concepts_and_Techniques/dct8x8,\
2_Concepts_and_Techniques/histogram,2_Concepts_and_Techniques/inlinePTX,2_Concepts_and_Techniques/scalarProd,\
2_Concepts_and_Techniques/shfl_scan,2_Concepts_and_Techniques/streamOrderedAllocation,\
2_Concepts_and_Techniques/threadFenceReduction,3_CUDA_Features/StreamPriorities,3_CUDA_Features/binaryPartitionCG,\
3_CUDA_Features/cdpBezierTessellation,3_CUDA_Features/cdpSimplePrint,3_CUDA_Features/cdpSimpleQuicksort,\
3_CUDA_Features/newdelete,3_CUDA_Features/ptxjit,3_CUDA_Features/warpAggregatedAtomicsCG,\
3_CUDA_Features/simpleCudaGraphs,3_CUDA_Features/graphMemoryNodes
# more that pass, left out of the set for their time on the simulator (--samples runs them):
# jacobiCudaGraphs (70 s each way)
SLOW=3_CUDA_Features/jacobiCudaGraphs
usage() {
  cat <<EOF
usage: tests/gpu/cuda_samples.sh [--out DIR] [--all | --samples DIR,...] [--jobs N] [--timeout S]
Fetches Debian's nvidia-cuda-samples (the CUDA 11.8 samples' sources, from the non-free
component) into the build folder with deploy/debfetch.sh, builds the samples named with their
own Makefiles and this toolkit's nvcc (for sm_75 SASS and compute_75 PTX; C++17, which CUDA
13's headers require), and runs each directly on the backend and through libvgpu + vgpu-proxy.
A sample passes when both runs end the same way: 0 (passed) or 2 (waived: the sample says
which device feature it lacks). Default: a quick set of $(echo "$QUICK" | tr ',' '\n' | wc -l); --all: the $(echo "$ALL" | tr ',' '\n' | wc -l) that CUDA 13
builds and the simulator runs within a minute each. Slower on the simulator (--samples): ${SLOW//,/ }.
Environment: VGPU_BUILD (default build/rel), VGPU_E2E_BACKEND (default cuda; sim: the simulator),
CUDA_HOME (default /usr/local/cuda), CUDA_SAMPLES_DIR (a folder holding the samples'
Samples/ and Common/; default: fetched into \$VGPU_BUILD/thirdparty/cuda-samples).
Exit: 0 pass, 1 fail, 77 skip (the samples could not be had; the last line says why).
EOF
}
out=
list=$QUICK
jobs=2
limit=120
while [ $# -gt 0 ]; do
  case $1 in
    --help) usage; exit 0 ;;
    --out) out=${2:?--out needs a directory}; shift 2 ;;
    --all) list=$ALL; shift ;;
    --samples) list=${2:?--samples needs a list}; shift 2 ;;
    --jobs) jobs=${2:?--jobs needs a number}; shift 2 ;;
    --timeout) limit=${2:?--timeout needs seconds}; shift 2 ;;
    *) echo "cuda_samples.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
done
OUT_DIR=$out
B=${VGPU_BUILD:-build/rel}
cuda_home=${CUDA_HOME:-/usr/local/cuda}
top=${CUDA_SAMPLES_DIR:-}
if [ -z "$top" ]; then
  d=$B/thirdparty/cuda-samples
  if ! deploy/debfetch.sh --dest "$d" nvidia-cuda-samples >&2; then
    echo "skip: Debian's nvidia-cuda-samples could not be fetched from the archive's non-free component (deploy/debfetch.sh said why above)"
    exit 77
  fi
  top=$d/root/usr/share/doc/nvidia-cuda-toolkit/examples
fi
if [ ! -d "$top/Samples" ] || [ ! -d "$top/Common" ]; then
  echo "skip: $top holds no Samples/ and Common/"
  exit 77
fi
top=$(cd "$top" && pwd)
if [ ! -x "$cuda_home/bin/nvcc" ]; then
  echo "skip: $cuda_home/bin/nvcc is not installed (the samples are built here)"
  exit 77
fi
IFS=, read -r -a samples <<<"$list"
for s in "${samples[@]}"; do
  [ -f "$top/Samples/$s/Makefile" ] || { echo "cuda_samples.sh: no sample $s under $top/Samples" >&2; exit 2; }
done

# Build (the samples' own Makefiles, in place; a built sample is not built again). Their
# Makefiles ask for C++11 and every GPU from sm_35; CUDA 13 takes C++17 and sm_75 up: SMS
# names the GPU, and the nvcc they run is one that asks for C++17 where they say C++11.
echo "building ${#samples[@]} CUDA samples (jobs: $jobs)"
wrap=$(mktemp -d "${TMPDIR:-/tmp}/vgpu-samples-nvcc.XXXXXX")
cat >"$wrap/nvcc" <<EOF
#!/usr/bin/env bash
args=()
for a in "\$@"; do [ "\$a" = --std=c++11 ] && a=--std=c++17; args+=("\$a"); done
exec "$cuda_home/bin/nvcc" "\${args[@]}"
EOF
chmod +x "$wrap/nvcc"
build_one() {
  local s=$1 log
  log=$top/Samples/$s/.vgpu-build.log
  if make -C "$top/Samples/$s" SMS=75 CUDA_PATH="$cuda_home" NVCC="$wrap/nvcc -ccbin g++" >"$log" 2>&1; then
    echo "built $s"
  else
    echo "FAIL: building $s: $(grep -m1 'error' "$log")"
    return 1
  fi
}
export -f build_one
export top cuda_home wrap
if ! printf '%s\n' "${samples[@]}" | xargs -P "$jobs" -I{} bash -c 'build_one "$@"' _ {} | sed 's/^/  /'; then
  build_failed=1
fi
rm -rf "$wrap"

. tests/gpu/app_lib.sh
app_start cuda_samples
[ "${build_failed:-0}" = 1 ] && app_fail "some samples did not build"
passed=0 waived=0
for s in "${samples[@]}"; do
  n=$(basename "$s")
  bin=$top/Samples/$s/$n
  [ -x "$bin" ] || { app_fail "$s: no program $n was built"; continue; }
  for mode in direct vgpu; do
    if [ $mode = direct ]; then envv=("${APP_DIRECT_ENV[@]}"); else envv=("${APP_VGPU_ENV[@]}"); fi
    (cd "$top/Samples/$s" && env "${envv[@]}" timeout --kill-after=5 "$limit" "./$n" </dev/null \
       >"$APP_TMP/$n.$mode" 2>&1)
    echo $? >"$APP_TMP/$n.$mode.rc"
  done
  r1=$(cat "$APP_TMP/$n.direct.rc") r2=$(cat "$APP_TMP/$n.vgpu.rc")
  last=$(grep -a -v '^[[:space:]]*$' "$APP_TMP/$n.vgpu" | tail -n1 | cut -c1-100)
  if [ "$r1" = 0 ] && [ "$r2" = 0 ]; then
    passed=$((passed + 1))
    echo "  pass   $s: $last"
  elif [ "$r1" = 2 ] && [ "$r2" = 2 ]; then
    waived=$((waived + 1))
    echo "  waived $s (both ways): $last"
  else
    app_fail "$s: exit $r1 directly, $r2 through vgpu"
    grep -a -i 'error\|fail' "$APP_TMP/$n.vgpu" "$APP_TMP/$n.direct" | head -n 4 | sed 's/^/     | /'
  fi
  [ -n "$OUT_DIR" ] && { mkdir -p "$OUT_DIR"; cp "$APP_TMP/$n.direct" "$APP_TMP/$n.vgpu" "$OUT_DIR/" 2>/dev/null; }
done
app_finish "$passed CUDA samples passed directly and through vgpu, $waived waived both ways for a device feature"
