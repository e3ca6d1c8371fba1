#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The "vgpu" RuntimeClass through the CRI, as the kubelet drives it, on this machine:
#   a private containerd (own config, root, state and socket) with the vgpu runtime handler
#   (containerd-shim-vgpu-v1) and runc; a private vgpu-proxy (simulator backend,
#   --require-registration); a locally built pause image and an image holding only a
#   driver-API test program and libc (no CUDA library); then tests/k8s/cri_check.py runs
#   pods through runtime.v1.RuntimeService and prints one PASS/FAIL line per check.
# Everything it starts is stopped, unmounted and removed on every exit path.
#
#   tests/k8s/run.sh [--keep] [BUILD_DIR]     BUILD_DIR: release build (default build/rel)
#   --keep   leave the work directory (logs) in place
# Needs root (exit 77 = skipped otherwise), containerd, runc, python3-grpcio, grpc_tools,
# Go (the shim is built by deploy/shim/build.sh): deploy/deps.sh --all installs them.
set -euo pipefail

usage() { sed -n '3,14p' "$0" | sed 's/^# \{0,1\}//'; }
keep=0
B=build/rel
for a in "$@"; do
  case $a in
    -h|--help) usage; exit 0 ;;
    --keep) keep=1 ;;
    -*) echo "run.sh: unknown option $a" >&2; usage >&2; exit 2 ;;
    *) B=$a ;;
  esac
done
cd "$(dirname "$0")/../.."
ROOT=$PWD
start_s=$SECONDS

if [ "$(id -u)" -ne 0 ]; then
  echo "skip: containerd and runc need root to run pods (run tests/k8s/run.sh as root)"
  exit 77
fi
PY=/usr/bin/python3   # Debian's python3-grpcio / python3-grpc-tools live there
need() { command -v "$1" >/dev/null || { echo "run.sh: error: $1 not found ($2; deploy/deps.sh --all installs it)" >&2; exit 1; }; }
need containerd "package containerd"
need ctr "package containerd"
need runc "package runc"
need gcc "package build-essential"
"$PY" -c 'import grpc, grpc_tools' 2>/dev/null ||
  { echo "run.sh: error: $PY lacks grpc / grpc_tools (packages python3-grpcio python3-grpc-tools)" >&2; exit 1; }
for f in "$B/proxy/vgpu-proxy" "$B/proxy/vgpuctl" "$B/libvgpu/libcuda.so.1" "$B/sim/libcudasim.so"; do
  [ -f "$f" ] || { echo "run.sh: error: $f is not built (make B=$B)" >&2; exit 1; }
done
CUDA_HOME=${CUDA_HOME:-/usr/local/cuda}
[ -f "$CUDA_HOME/include/cuda.h" ] || { echo "run.sh: error: $CUDA_HOME/include/cuda.h not found (set CUDA_HOME)" >&2; exit 1; }

T=$(mktemp -d /tmp/vgpu-k8s.XXXXXX)
chmod 711 "$T"
CSOCK=$T/containerd.sock
# The zone socket has a directory of its own (pods get that directory mounted, so a
# restarted proxy's socket reaches them); the control socket and the registry live beside it.
PROXY_SOCK=$T/proxy/zone/proxy.sock
PROXY_CTL=$T/proxy/ctl.sock
CTD_PID=

# Every process whose command line names our containerd socket: the shims it started.
our_shims() {
  local p
  for p in /proc/[0-9]*; do
    tr "\\0" " " 2>/dev/null <"$p/cmdline" | grep -qF -- "-address $CSOCK " && echo "${p#/proc/}"
  done
  return 0
}

cleanup() {
  local rc=$? pids p m
  trap - EXIT INT TERM
  set +e
  if [ -n "$CTD_PID" ] && kill -0 "$CTD_PID" 2>/dev/null; then
    timeout 90 "$PY" tests/k8s/cri_check.py --gen "$T/gen" --cri "$CSOCK" cleanup >>"$T/cleanup.log" 2>&1
    kill -TERM "$CTD_PID"; wait "$CTD_PID" 2>/dev/null
  fi
  pids=$(our_shims)
  if [ -n "$pids" ]; then
    echo "cleanup: stopping leftover shims: $pids"
    for p in $pids; do kill -KILL "$p" 2>/dev/null; done
  fi
  # Containers whose shim is gone (runc state in its default root for namespace k8s.io;
  # only the ids of our bundles), then the shim sockets (containerd 1.6 keeps them in
  # /run/containerd/s) named in those bundles.
  for m in "$T"/state/io.containerd.runtime.v2.task/k8s.io/*/; do
    [ -d "$m" ] || continue
    echo "cleanup: removing leftover container $(basename "$m")"
    runc --root /run/containerd/runc/k8s.io delete --force "$(basename "$m")" >/dev/null 2>&1
  done
  for m in "$T"/state/io.containerd.runtime.v2.task/*/*/address; do
    [ -f "$m" ] && rm -f "$(sed 's|^unix://||' "$m")"
  done
  [ -x "$T/proxy/stop.sh" ] && "$T/proxy/stop.sh"
  # Anything still mounted under the work directory (rootfs, shm, netns), deepest first.
  awk -v t="$T/" 'index($2, t) == 1 { print $2 }' /proc/self/mounts | sort -r | while read -r m; do
    umount -l "$m" 2>/dev/null
  done
  if [ $keep = 1 ] || [ $rc -ne 0 ]; then
    echo "work directory kept: $T (containerd.log, proxy.log, logs/)"
    [ $keep = 1 ] || { echo "--- containerd.log (last 30 lines)"; tail -n 30 "$T/containerd.log" 2>/dev/null;
                       echo "--- proxy.log (last 20 lines)"; tail -n 20 "$T/proxy.log" 2>/dev/null; }
  else
    rm -rf "$T"
  fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== building the shim and the test images"
deploy/shim/build.sh build/shim >/dev/null
mkdir -p "$T/bin"
cp build/shim/containerd-shim-vgpu-v1 "$T/bin/"   # alone on containerd's PATH
SHIM=$T/bin/containerd-shim-vgpu-v1
mkdir -p "$T/img" "$T/gen"
gcc -O2 -Wall -Wextra -Werror -static -o "$T/img/pause" tests/k8s/pause.c
gcc -O2 -Wall -Wextra -Werror -I"$CUDA_HOME/include" -o "$T/img/cuda_check" tests/k8s/cuda_check.c -ldl
"$PY" tests/k8s/mkimage.py --name docker.io/vgpu/pause:test --out "$T/img/pause.tar" \
  --entrypoint /pause "$T/img/pause=/pause" >/dev/null
"$PY" tests/k8s/mkimage.py --name docker.io/vgpu/cuda-check:test --out "$T/img/check.tar" --lib-deps \
  --entrypoint /cuda_check "$T/img/cuda_check=/cuda_check" >/dev/null
"$PY" -m grpc_tools.protoc -Itests/k8s --python_out="$T/gen" --grpc_python_out="$T/gen" tests/k8s/cri.proto

# What the node installs: libvgpu and the libraries it needs that an image may lack.
LIBDIR=$T/libvgpu
mkdir -p "$LIBDIR"
cp "$B/libvgpu/libcuda.so.1" "$B/libvgpu/libnvidia-ml.so.1" "$LIBDIR/"
extra=("\"$LIBDIR/libnvidia-ml.so.1\"")
while read -r lib; do
  case $(basename "$lib") in libc.so.*|ld-linux*|libm.so.*|libpthread.so.*|libdl.so.*) continue ;; esac
  cp -L "$lib" "$LIBDIR/"; extra+=("\"$LIBDIR/$(basename "$lib")\"")
done < <(ldd "$B/libvgpu/libcuda.so.1" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }')

echo "== starting vgpu-proxy (simulator backend, --require-registration, --registry)"
mkdir -p "$T/proxy"
# stop.sh / start.sh: also used by the checks to restart the proxy under running pods.
cat >"$T/proxy/stop.sh" <<EOF
#!/bin/sh
p=\$(cat "$T/proxy/pid" 2>/dev/null) || exit 0
kill -TERM "\$p" 2>/dev/null
for i in \$(seq 100); do kill -0 "\$p" 2>/dev/null || break; sleep 0.1; done
rm -f "$T/proxy/pid"
EOF
cat >"$T/proxy/start.sh" <<EOF
#!/bin/sh
"$ROOT/$B/proxy/vgpu-proxy" --listen "$PROXY_SOCK" --ctl "$PROXY_CTL" --registry "$T/proxy/registry" \\
  --state-dir "$T/proxy/state" \\
  --backend sim --sim-lib "$ROOT/$B/sim/libcudasim.so" --require-registration --socket-mode 0666 \\
  --log-level info >>"$T/proxy.log" 2>&1 &
echo \$! >"$T/proxy/pid"
for i in \$(seq 100); do [ -S "$PROXY_CTL" ] && exit 0; sleep 0.1; done
echo "vgpu-proxy did not start"; exit 1
EOF
chmod +x "$T/proxy/stop.sh" "$T/proxy/start.sh"
"$T/proxy/start.sh" || { echo "FAIL: vgpu-proxy did not start"; cat "$T/proxy.log"; exit 1; }

cat >"$T/shim.json" <<EOF
{
  "proxy_socket": "$PROXY_SOCK",
  "control_socket": "$PROXY_CTL",
  "container_socket": "/run/vgpu/zone/proxy.sock",
  "mount_socket_dir": true,
  "libvgpu": "$LIBDIR/libcuda.so.1",
  "extra_libs": [$(IFS=,; echo "${extra[*]:-}")],
  "state_dir": "$T/pods",
  "max_memory": "1Gi"
}
EOF
"$SHIM" check-config "$T/shim.json" >/dev/null

cat >"$T/containerd.toml" <<EOF
version = 2
root = "$T/root"
state = "$T/state"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
                    "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs",
                    "io.containerd.internal.v1.tracing", "io.containerd.tracing.processor.v1.otlp"]
[grpc]
  address = "$CSOCK"
[ttrpc]
  address = "$CSOCK.ttrpc"
[debug]
  level = "info"
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$T/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "docker.io/vgpu/pause:test"
  restrict_oom_score_adj = true
  disable_apparmor = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$T/cni/bin"
    conf_dir = "$T/cni/conf"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "native"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
EOF
# The vgpu RuntimeClass's handler: the snippet a node installs, with this run's shim config.
grep -q '^ *ConfigPath = "/etc/vgpu/shim.json"$' deploy/k8s/containerd-vgpu.toml ||
  { echo "run.sh: error: deploy/k8s/containerd-vgpu.toml has no ConfigPath line to point at the test's config" >&2; exit 1; }
sed "s|\"/etc/vgpu/shim.json\"|\"$T/shim.json\"|" deploy/k8s/containerd-vgpu.toml >>"$T/containerd.toml"

echo "== starting a private containerd ($CSOCK)"
# The shim is found on containerd's PATH (containerd 1.6 ignores runtime_path for sandboxes).
PATH=$T/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  containerd --config "$T/containerd.toml" >"$T/containerd.log" 2>&1 &
CTD_PID=$!
for _ in $(seq 150); do [ -S "$CSOCK" ] && break; kill -0 "$CTD_PID" 2>/dev/null || break; sleep 0.1; done
[ -S "$CSOCK" ] || { echo "FAIL: containerd did not start"; exit 1; }
for img in pause check; do
  ctr -a "$CSOCK" -n k8s.io images import --snapshotter native "$T/img/$img.tar" >/dev/null
done
echo "   images: $(ctr -a "$CSOCK" -n k8s.io images ls -q | grep vgpu | tr '\n' ' ')"

echo "== checks through the CRI"
set +e
"$PY" tests/k8s/cri_check.py --gen "$T/gen" --cri "$CSOCK" --vgpuctl "$B/proxy/vgpuctl" --proxy "$PROXY_SOCK" \
  --ctl "$PROXY_CTL" --restart-proxy "$T/proxy/stop.sh && $T/proxy/start.sh" \
  --stop-proxy "$T/proxy/stop.sh" --start-proxy "$T/proxy/start.sh" --gc "$SHIM gc $T/shim.json" \
  --image docker.io/vgpu/cuda-check:test --work "$T" --state-dir "$T/pods" --libvgpu-dir "$LIBDIR"
rc=$?
set -e
if grep -E "AddressSanitizer|runtime error" "$T/proxy.log"; then
  echo "FAIL: vgpu-proxy reported an error (see above)"; rc=1
fi
echo "== $( [ $rc -eq 0 ] && echo all checks passed || echo some checks FAILED ) in $((SECONDS - start_s)) s"
exit $rc
