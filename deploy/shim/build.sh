#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds containerd-shim-vgpu-v1 offline with Debian's Go packages
# (golang-go, golang-github-containerd-containerd-dev): GOPATH mode, no module proxy.
#   deploy/shim/build.sh [OUT_DIR]      default OUT_DIR: build/shim
#   deploy/shim/build.sh --test         also run the unit tests (go test)
set -euo pipefail

usage() { sed -n '3,6p' "$0" | sed 's/^# \{0,1\}//'; }
run_tests=0
out=
for a in "$@"; do
  case $a in
    -h|--help) usage; exit 0 ;;
    --test) run_tests=1 ;;
    -*) echo "build.sh: unknown option $a" >&2; usage >&2; exit 2 ;;
    *) out=$a ;;
  esac
done

src=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$src/../.." && pwd)
out=${out:-$root/build/shim}
mkdir -p "$out"
out=$(cd "$out" && pwd)

gocode=${VGPU_GOCODE:-/usr/share/gocode}
if ! command -v go >/dev/null; then
  echo "build.sh: error: go not found (apt-get install golang-go)" >&2; exit 1
fi
if [ ! -d "$gocode/src/github.com/containerd/containerd/runtime/v2/shim" ]; then
  echo "build.sh: error: $gocode has no containerd sources (apt-get install golang-github-containerd-containerd-dev)" >&2
  exit 1
fi

export GO111MODULE=off GOPATH=$gocode GOPROXY=off GOFLAGS= CGO_ENABLED=0
export GOCACHE=${GOCACHE:-$root/build/shim/gocache}
cd "$src"
if [ $run_tests = 1 ]; then
  go vet .
  go test -count=1 .
fi
go build -trimpath -o "$out/containerd-shim-vgpu-v1.tmp" .
mv "$out/containerd-shim-vgpu-v1.tmp" "$out/containerd-shim-vgpu-v1"
echo "built $out/containerd-shim-vgpu-v1"
