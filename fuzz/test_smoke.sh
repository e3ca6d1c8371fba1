#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# fuzz/test_smoke.sh — a short AFL++ run of the decoder target (FUZZ_SMOKE_SECONDS, default 30) as part of make test.
set -u
if [ "${1:-}" = --help ]; then
	echo "usage: fuzz/test_smoke.sh  (VGPU_BUILD=build/san, FUZZ_SMOKE_SECONDS=30): fuzz/run.sh for a short while; fails on any crash or hang"
	exit 0
fi
if ! command -v afl-fuzz >/dev/null 2>&1 || ! command -v afl-clang-fast >/dev/null 2>&1; then
	echo "skip: afl-fuzz/afl-clang-fast are not installed (deploy/deps.sh installs afl++)"; exit 77
fi
B=${VGPU_BUILD:-build/san}
out=$(mktemp -d "${TMPDIR:-/tmp}/vgpu-fuzz-smoke.XXXXXX")
trap 'rm -rf "$out"' EXIT
FUZZ_SECONDS=${FUZZ_SMOKE_SECONDS:-30} VGPU_BUILD=$B fuzz/run.sh --out "$out/afl"
