# SPDX-License-Identifier: MIT
# Sourced by the scripts that run zones against a private vgpu-proxy (end-to-end, isolation,
# demo, benchmark): start it on a socket in a temporary directory, stop it, clean up.
#   proxy_start BUILD_DIR BACKEND [vgpu-proxy options...]   sets PROXY_TMP, PROXY_SOCK, PROXY_PID, PROXY_LOG
#                                                           (and adds $VGPU_E2E_PROXY_ARGS, e.g. --device-va fixed)
#   proxy_stop                                              SIGTERM, wait; returns the proxy's exit status
#   direct_run BUILD_DIR BACKEND OUT ERR PROGRAM [ARGS...]   the program directly on the backend
# An EXIT trap stops the proxy and removes PROXY_TMP whatever happens.

PROXY_PID=
PROXY_TMP=

proxy_cleanup() {
  if [ -n "$PROXY_PID" ]; then kill -TERM "$PROXY_PID" 2>/dev/null; wait "$PROXY_PID" 2>/dev/null; fi
  [ -n "$PROXY_TMP" ] && rm -rf "$PROXY_TMP"
}
trap proxy_cleanup EXIT

proxy_start() {
  local b=$1 backend=$2
  shift 2
  PROXY_TMP=$(mktemp -d "${TMPDIR:-/tmp}/vgpu-$(basename "$0" .sh).XXXXXX")
  PROXY_SOCK=$PROXY_TMP/proxy.sock
  PROXY_LOG=$PROXY_TMP/proxy.log
  # shellcheck disable=SC2086  # (more options, split on purpose)
  "$b/proxy/vgpu-proxy" --listen "$PROXY_SOCK" --backend "$backend" --sim-lib "$PWD/$b/sim/libcudasim.so" \
    "$@" ${VGPU_E2E_PROXY_ARGS:-} >"$PROXY_LOG" 2>&1 &
  PROXY_PID=$!
  for _ in $(seq 100); do [ -S "$PROXY_SOCK" ] && return 0; sleep 0.1; done
  echo "vgpu-proxy did not start; its log:"; cat "$PROXY_LOG"
  return 1
}

proxy_stop() {
  local rc
  kill -TERM "$PROXY_PID"; wait "$PROXY_PID"; rc=$?
  PROXY_PID=
  return $rc
}

# For running an unsanitized program (a third party's) over a sanitized build's libvgpu or
# simulator (make test's): PROXY_SAN_ENV gets the env assignments that load the sanitizers'
# runtimes first (and leave the program's own leaks at exit unreported); empty otherwise.
proxy_san_env() {
  local b=$1 asan ubsan
  PROXY_SAN_ENV=()
  asan=$(ldd "$b/libvgpu/libcuda.so.1" 2>/dev/null | awk '/libasan/ { print $3 }')
  ubsan=$(ldd "$b/libvgpu/libcuda.so.1" 2>/dev/null | awk '/libubsan/ { print $3 }')
  [ -n "$asan" ] && PROXY_SAN_ENV=(LD_PRELOAD="$asan${ubsan:+:$ubsan}"
                                   ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0")
  return 0
}

# The simulator is needed when there is no GPU; say so (exit 77 = skip) if it is not built.
proxy_need_sim() {
  local b=$1 backend=$2
  if [ "$backend" = sim ] && [ ! -f "$b/sim/libcudasim.so" ]; then
    echo "skip: $b/sim/libcudasim.so is not built (the simulator backend is needed without a GPU)"
    exit 77
  fi
}

# The program directly on the backend, its stdout and stderr to OUT and ERR: on the simulator
# through a libcuda.so.1 link to it in PROXY_TMP/direct (beside vgpu's libnvidia-ml.so.1, as a
# zone has it: the simulator has no NVML), else on the libcuda.so.1 (and NVML) the system finds.
# Returns the program's exit status.
direct_run() {
  local b=$1 backend=$2 o=$3 e=$4
  shift 4
  if [ "$backend" = sim ]; then
    mkdir -p "$PROXY_TMP/direct"
    ln -sf "$PWD/$b/sim/libcudasim.so" "$PROXY_TMP/direct/libcuda.so.1"
    ln -sf "$PWD/$b/libvgpu/libnvidia-ml.so.1" "$PROXY_TMP/direct/libnvidia-ml.so.1"
    LD_LIBRARY_PATH=$PROXY_TMP/direct "$@" >"$o" 2>"$e"
  else
    "$@" >"$o" 2>"$e"
  fi
}
