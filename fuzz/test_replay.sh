#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# fuzz/test_replay.sh — replays the seed corpora and every regression input through the sanitizer builds of vgpu-fuzz, vgpu-fuzz-ring, vgpu-fuzz-xs and vgpu-fuzz-ckpt (no AFL needed).
set -u
if [ "${1:-}" = --help ]; then
	echo "usage: fuzz/test_replay.sh  (VGPU_BUILD=build/san): runs \$VGPU_BUILD/fuzz/vgpu-fuzz on fuzz/corpus/* and fuzz/regress/*"
	exit 0
fi
B=${VGPU_BUILD:-build/san}
bin=$B/fuzz/vgpu-fuzz
if [ ! -x "$bin" ]; then
	echo "FAIL: $bin is not built (make B=$B $bin)"; exit 1
fi
n=0 failed=0
for f in fuzz/corpus/* fuzz/regress/*; do
	[ -f "$f" ] || continue
	case $f in *.md) continue ;; esac
	n=$((n + 1))
	# allops-*: inputs that need the opcodes the fuzzer holds back (fuzz/known/README.md).
	all=0; case $(basename "$f") in allops-*) all=1 ;; esac
	if ! out=$(VGPU_FUZZ_ALL_OPS=$all "$bin" "$f" 2>&1); then
		echo "FAIL: $f:"; echo "$out" | grep -v "lacks .* remoted entry points" | tail -40
		failed=$((failed + 1))
	fi
done
# The small targets: each file of their seed and regression directories once.
replay() { # TARGET-BINARY LABEL DIR...
	local bin=$1 label=$2 f out
	shift 2
	for f in "$@"; do
		[ -f "$f" ] || continue
		n=$((n + 1))
		if ! out=$("$bin" "$f" 2>&1); then
			echo "FAIL: $f ($label target):"; echo "$out" | tail -40
			failed=$((failed + 1))
		fi
	done
}
replay "$B/fuzz/vgpu-fuzz-ring" ring fuzz/corpus-ring/* fuzz/regress-ring/*
replay "$B/fuzz/vgpu-fuzz-xs" xs fuzz/corpus-xs/* fuzz/regress-xs/*
replay "$B/fuzz/vgpu-fuzz-ckpt" ckpt fuzz/corpus-ckpt/* fuzz/regress-ckpt/*
# The oracles can fire: with the harness breaking each property on purpose
# (VGPU_FUZZ_SABOTAGE), a seed that exercises it must abort with the oracle's message.
for sab in memory:fuzz/corpus/memory-0064 ownership:fuzz/corpus/memory-0064 reply:fuzz/corpus/memory-0064 \
	   kernel:fuzz/corpus/kernels-run-all spaces:fuzz/corpus/kernels-cross-zone leaks:fuzz/corpus/rt-graph_build-all \
	   vmm-leaks:fuzz/corpus/vmm-0032; do
	n=$((n + 1))
	out=$(VGPU_FUZZ_SABOTAGE=${sab%%:*} "$bin" "${sab#*:}" 2>&1)
	rc=$?
	if [ $rc -eq 0 ] || ! echo "$out" | grep -q "ORACLE VIOLATED"; then
		echo "FAIL: the ${sab%%:*} oracle did not fire on ${sab#*:} with VGPU_FUZZ_SABOTAGE=${sab%%:*} (exit $rc)"
		failed=$((failed + 1))
	fi
done
# What one input leaves mapped the next finds: afl-fuzz runs up to 100,000 inputs in one
# process, so every mapping a run leaves behind (an address reservation the zone did not free,
# say) adds up until the kernel's limit on mappings makes the sanitizer's next mmap fail and
# abort on an innocent input. Each seed 40 times in one process against once: the process's
# mappings may differ only by the allocator's own growth.
maps_after() { VGPU_FUZZ_MAPS=1 "$bin" "$@" 2>&1 >/dev/null | sed -n 's/^vgpu-fuzz: \([0-9]*\) mappings$/\1/p'; }
for f in fuzz/corpus/vmm-* fuzz/corpus/memory-0016 fuzz/corpus/rt-graph_capture-all fuzz/corpus/pinned-all; do
	[ -f "$f" ] || continue
	n=$((n + 1))
	again=(); for ((k = 0; k < 40; k++)); do again+=("$f"); done
	once=$(maps_after "$f") many=$(maps_after "${again[@]}")
	if [ -z "$once" ] || [ -z "$many" ] || [ "$many" -gt $((once + 8)) ]; then
		echo "FAIL: $f leaves mappings behind: ${once:-?} mappings after one run, ${many:-?} after 40 in one process"
		failed=$((failed + 1))
	fi
done
if [ $n -eq 0 ]; then
	echo "FAIL: no input found in fuzz/corpus or fuzz/regress"; exit 1
fi
# The seeds are whole session scripts (fuzz/seedmin.py cuts them by whole messages; a record
# cut short by the end of a file is a mutant's, not a seed's).
if ! python3 fuzz/seedmin.py --check fuzz/corpus/*; then
	echo "FAIL: a seed in fuzz/corpus is not a whole session script (above)"
	failed=$((failed + 1))
fi
echo "$((n - failed)) of $n inputs replayed cleanly (isolation oracles; ASan+UBSan+LeakSanitizer in a SAN=1 build)"
[ $failed -eq 0 ]
