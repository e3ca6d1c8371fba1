#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# fuzz/test_smoke.sh — a short AFL++ run of the decoder target (FUZZ_SMOKE_SECONDS, default 30) as part of make test.
set -u
if [ "${1:-}" = --help ]; then
	echo "usage: fuzz/test_smoke.sh  (VGPU_BUILD=build/san, FUZZ_SMOKE_SECONDS=30): fuzz/run.sh for a short while;"
	echo "fails on any crash, and on a hang that hangs again when replayed (fuzz/run.sh --help);"
	echo "what afl-fuzz saved is kept in \$VGPU_BUILD/fuzz/smoke-findings/"
	echo "builds nothing: make check (or make B=\$VGPU_BUILD fuzz-build) builds the AFL targets first"
	exit 0
fi
if ! command -v afl-fuzz >/dev/null 2>&1 || ! command -v afl-clang-fast >/dev/null 2>&1; then
	echo "skip: afl-fuzz/afl-clang-fast are not installed (deploy/deps.sh installs afl++)"; exit 77
fi
B=${VGPU_BUILD:-build/san}
out=$(mktemp -d "${TMPDIR:-/tmp}/vgpu-fuzz-smoke.XXXXXX")
trap 'rm -rf "$out"' EXIT
# make builds every AFL target before the tests (fuzz/module.mk), so none is built here
FUZZ_SECONDS=${FUZZ_SMOKE_SECONDS:-30} VGPU_BUILD=$B fuzz/run.sh --no-build --out "$out/afl"
rc=$?
# Crashes and hangs outlive the temporary directory, for replaying them.
if [ -n "$(find "$out/afl/default/crashes" "$out/afl/default/hangs" -type f ! -name README.txt 2>/dev/null)" ]; then
	keep=$B/fuzz/smoke-findings
	rm -rf "$keep"
	mkdir -p "$keep"
	cp -r "$out/afl/default/crashes" "$out/afl/default/hangs" "$keep/" 2>/dev/null
	echo "fuzz/test_smoke.sh: the crashes and hangs of this run are kept in $keep"
fi
exit $rc
