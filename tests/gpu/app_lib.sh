# SPDX-License-Identifier: MIT
# app_lib.sh — sourced by the scripts that run an installed third-party program (hashcat,
# FFmpeg) directly on the backend and as a zone: the proxy, the two environments, verdicts.
#   app_start NAME       starts a private vgpu-proxy on the backend (sets APP_TMP) and fills
#                        APP_DIRECT_ENV / APP_VGPU_ENV: what `env` needs for each kind of run
#                        (programs that dlopen libcuda.so, libcuda.so.1, libnvidia-ml.so.1 and
#                        NVRTC find the backend's or libvgpu's, and the toolkit's)
#   app_fail WHY         records a failure (printed now, summed up by app_finish)
#   app_finish PASSLINE  stops the proxy (OUT_DIR, when set, gets its log) and exits 0/1
# Environment: VGPU_BUILD (default build/rel), VGPU_E2E_BACKEND (default cuda), CUDA_HOME.

. tests/proxy_lib.sh
APP_B=${VGPU_BUILD:-build/rel}
APP_BACKEND=${VGPU_E2E_BACKEND:-cuda}
APP_CUDA_HOME=${CUDA_HOME:-/usr/local/cuda}
app_failed=0
app_why=

app_start() {
  app_name=$1
  [ "$APP_BACKEND" = sim ] && proxy_need_sim "$APP_B" sim
  proxy_start "$APP_B" "$APP_BACKEND" --log-level info || exit 1
  APP_TMP=$PROXY_TMP
  local path=${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  # directly: the real driver (its NVML), or the simulator as libcuda.so(.1) beside vgpu's NVML
  # (the simulator has none of its own)
  APP_DIRECT_ENV=(LD_LIBRARY_PATH="$APP_CUDA_HOME/lib64$path")
  if [ "$APP_BACKEND" = sim ]; then
    mkdir "$APP_TMP/direct"
    ln -s "$PWD/$APP_B/sim/libcudasim.so" "$APP_TMP/direct/libcuda.so.1"
    ln -s "$PWD/$APP_B/sim/libcudasim.so" "$APP_TMP/direct/libcuda.so"
    ln -s "$PWD/$APP_B/libvgpu/libnvidia-ml.so.1" "$APP_TMP/direct/libnvidia-ml.so.1"
    APP_DIRECT_ENV=(LD_LIBRARY_PATH="$APP_TMP/direct:$APP_CUDA_HOME/lib64$path")
  fi
  APP_VGPU_ENV=(VGPU_PROXY="$PROXY_SOCK" LD_LIBRARY_PATH="$PWD/$APP_B/libvgpu:$APP_CUDA_HOME/lib64$path")
  # A sanitized build (make test's): the program is not, so the sanitizers' runtimes must be
  # loaded first, and the program's own leaks at exit are not vgpu's to report.
  proxy_san_env "$APP_B"
  APP_DIRECT_ENV+=("${PROXY_SAN_ENV[@]}")
  APP_VGPU_ENV+=("${PROXY_SAN_ENV[@]}")
}

app_fail() {
  echo "FAIL: $*"
  app_failed=1
  app_why=${app_why:+$app_why; }$*
}

app_finish() {
  proxy_stop
  local prc=$?
  [ -n "${OUT_DIR:-}" ] && { mkdir -p "$OUT_DIR"; cp "$APP_TMP/proxy.log" "$OUT_DIR/$app_name.proxy.log"; }
  [ $prc -eq 0 ] || app_fail "vgpu-proxy exited $prc on SIGTERM"
  if [ $app_failed -ne 0 ]; then
    echo "--- proxy log:"; tail -n 30 "$APP_TMP/proxy.log" 2>/dev/null
    echo "FAIL: $app_why"
    exit 1
  fi
  echo "PASS: $*"
  exit 0
}
