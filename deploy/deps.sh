#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs the Debian packages vgpu needs, only when some are missing. Idempotent and fast
# (one dpkg query) when everything is present.
#   deploy/deps.sh          what building, the demo and the unit/end-to-end tests need
#   deploy/deps.sh --all    also the whole-system tests' (Xen under QEMU, containerd + Go)
set -euo pipefail
all=0
case ${1:-} in
  --all) all=1 ;;
  "") ;;
  --help|-h) sed -n '3,6p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "deps: unknown option $1 (expected --all or nothing)" >&2; exit 2 ;;
esac

PKGS=(
  build-essential pkg-config
  libclang-14-dev clang-14         # vgpu-codegen walks cuda.h with libclang
  libmsgpack-dev                   # wire codec (msgpack-c)
  afl++                            # fuzzing (fuzz/)
  libxen-dev                       # Xen grant-table / event-channel transport
  libzstd-dev liblz4-dev           # decompressing PTX inside nvcc fatbins (sim/)
  libvkfft-dev                     # VkFFT, a third-party library run as a zone (tests/gpu/vkfft)
  hashcat                          # a third-party CUDA program run as a zone (tests/gpu/hashcat.sh)
  ffmpeg                           # FFmpeg's CUDA filters run as a zone (tests/gpu/ffmpeg.sh)
  # PyCUDA run as a zone (tests/gpu/pycuda.sh): what Debian's python3-pycuda needs from main
  # (the package itself is in contrib: deploy/debfetch.sh unpacks it in the build folder)
  python3-numpy python3-pytools python3-mako python3-appdirs python3-decorator
  libboost-python1.74.0 libboost-thread1.74.0
)
if [ $all = 1 ]; then
  PKGS+=(
    # make test-xen: Xen 4.17 booted under QEMU (TCG), Dom0 and zone images built from these
    xen-hypervisor-4.17-amd64 xen-utils-4.17 qemu-system-x86 linux-image-amd64 busybox-static cpio
    # make test-k8s and make shim: private containerd + runc, the Go shim, the CRI from Python
    containerd runc golang-go golang-github-containerd-containerd-dev
    python3-grpcio python3-grpc-tools python3-protobuf protobuf-compiler
  )
fi
PKGS+=(${VGPU_EXTRA_PKGS:-})

missing=()
for p in "${PKGS[@]}"; do
  s=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [ "$s" = installed ] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "deps: installing missing Debian packages: ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "deps: error: not root; run as root or install them yourself:" >&2
  echo "  sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "deps: installed ${#missing[@]} package(s)"

if [ ! -f "${CUDA_HOME:-/usr/local/cuda}/include/cuda.h" ]; then
  echo "deps: warning: ${CUDA_HOME:-/usr/local/cuda}/include/cuda.h not found; set CUDA_HOME to the CUDA 13 toolkit" >&2
fi
