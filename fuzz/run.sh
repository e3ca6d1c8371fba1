#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# fuzz/run.sh — a time-bounded AFL++ campaign on vgpu-proxy's decoder and dispatch (or the ring consumer); fails on any crash or hang.
set -u

usage() {
	cat <<'EOF'
usage: fuzz/run.sh [--target decoder|ring|xs|ckpt] [--out DIR] [--jobs N] [--no-build]
                   [--no-cmplog] [--record] [--note TEXT] [--help]

Runs afl-fuzz for FUZZ_SECONDS (default 60) on one target, then prints execs/s (each instance's
over the run and over its last minute too), total execs, paths (corpus entries) and edge
coverage, and exits 1 if afl-fuzz saved any crash or hang
(afl-fuzz 4.04c itself exits 0 even then). Inputs that crashed are left in OUT/default/crashes
(OUT/main and OUT/fK with --jobs):
replay one with  $VGPU_BUILD/fuzz/vgpu-fuzz FILE  (the sanitizer build prints the report).
The target's stderr is kept in OUT/afl.log (OUT/afl-INSTANCE.log with --jobs; AFL_DEBUG_CHILD=0
drops it), and the lines that say why it aborted are printed at the end of a run that saved a
crash: the reason stays known even for a crash that does not replay.

Hangs: a test case that runs past the timeout is run again by afl-fuzz with AFL_HANG_TMOUT
(5 x the timeout) before it is saved; each saved hang is then replayed here with the gcc
build under a limit of 10 x the timeout. One that finishes is reported as a timeout of a
loaded machine and does not fail the run (FUZZ_STRICT_HANGS=1: it does); one that hangs
again fails it.

  --target T    decoder (default): session scripts through the proxy's channel loop, decoder,
                dispatch and zone tables into the simulator, with isolation oracles;
                ring: arbitrary shared-region contents against the ring consumer.
                xs: a Xen guest's xenstore claims and grant directory pages.
                ckpt: checkpoint files as a proxy reads them before restoring a zone.
  --out DIR     afl-fuzz output directory (default: $VGPU_BUILD/fuzz/out-TARGET, emptied first)
  --jobs N      N afl-fuzz instances on one queue (a main one, with the CMPLOG build, and N-1
                secondaries: one core each, each bound to its core unless N exceeds the
                cores or AFL_NO_AFFINITY is set); the figures are their sums, edges the most
                any instance saw (default 1, or FUZZ_JOBS)
  --no-build    do not run make fuzz-build first
  --no-cmplog   do not add the CMPLOG build (-c)
  --record      append a row with this run's numbers to the campaign table at the end of
                docs/perf/fuzz.md (FUZZ_RECORD=FILE: another file) and update its cumulative
                table (fuzz/totals.py)
  --note TEXT   the row's notes column (what this run was for)

Environment: FUZZ_SECONDS (60), FUZZ_JOBS (1), VGPU_BUILD (build/rel), AFL_FUZZ (afl-fuzz), FUZZ_TIMEOUT_MS (2000),
AFL_HANG_TMOUT (5 x FUZZ_TIMEOUT_MS), AFL_NO_AFFINITY, FUZZ_STRICT_HANGS, FUZZ_RECORD.
Seeds: fuzz/corpus/ (decoder), fuzz/corpus-ring/, fuzz/corpus-xs/ or fuzz/corpus-ckpt/; dictionary fuzz/vgpu.dict.
EOF
}

target=decoder out= build=1 cmplog=1 record=0 note= jobs=${FUZZ_JOBS:-1}
while [ $# -gt 0 ]; do
	case $1 in
	-h|--help) usage; exit 0 ;;
	--target) target=${2:?--target needs decoder, ring, xs or ckpt}; shift ;;
	--out) out=${2:?--out needs a directory}; shift ;;
	--jobs) jobs=${2:?--jobs needs a number}; shift ;;
	--no-build) build=0 ;;
	--no-cmplog) cmplog=0 ;;
	--record) record=1 ;;
	--note) note=${2?--note needs a text}; shift ;;
	*) echo "fuzz/run.sh: unknown argument '$1'; see fuzz/run.sh --help" >&2; exit 2 ;;
	esac
	shift
done

case $jobs in
''|*[!0-9]*|0) echo "fuzz/run.sh: --jobs must be a number of instances (1 or more), not '$jobs'" >&2; exit 2 ;;
esac
B=${VGPU_BUILD:-build/rel}
secs=${FUZZ_SECONDS:-60}
afl=${AFL_FUZZ:-afl-fuzz}
tmo=${FUZZ_TIMEOUT_MS:-2000}
case $target in
decoder) bin=$B/fuzz/afl/vgpu-fuzz; cmp=$B/fuzz/afl/vgpu-fuzz-cmplog; seeds=fuzz/corpus; replay=$B/fuzz/vgpu-fuzz ;;
ring) bin=$B/fuzz/afl/vgpu-fuzz-ring; cmp=$B/fuzz/afl/vgpu-fuzz-ring-cmplog; seeds=fuzz/corpus-ring; replay=$B/fuzz/vgpu-fuzz-ring ;;
xs) bin=$B/fuzz/afl/vgpu-fuzz-xs; cmp=$B/fuzz/afl/vgpu-fuzz-xs-cmplog; seeds=fuzz/corpus-xs; replay=$B/fuzz/vgpu-fuzz-xs ;;
ckpt) bin=$B/fuzz/afl/vgpu-fuzz-ckpt; cmp=$B/fuzz/afl/vgpu-fuzz-ckpt-cmplog; seeds=fuzz/corpus-ckpt; replay=$B/fuzz/vgpu-fuzz-ckpt ;;
*) echo "fuzz/run.sh: --target must be decoder, ring, xs or ckpt, not '$target'" >&2; exit 2 ;;
esac
out=${out:-$B/fuzz/out-$target}
record_file=${FUZZ_RECORD:-docs/perf/fuzz.md}
if [ $record = 1 ] && ! tail -n 1 "$record_file" 2>/dev/null | grep -q '^|'; then
	echo "fuzz/run.sh: --record: $record_file does not end with a table row to append to" >&2
	exit 2
fi

if ! command -v "$afl" >/dev/null 2>&1; then
	echo "fuzz/run.sh: $afl is not installed; run deploy/deps.sh (it installs afl++)" >&2
	exit 77
fi
if [ $build = 1 ]; then
	san=0; case $B in *san*) san=1 ;; esac
	make --no-print-directory -s B="$B" SAN=$san fuzz-build >/dev/null || {
		echo "fuzz/run.sh: building the fuzz targets failed (make B=$B fuzz-build)" >&2; exit 1; }
fi
for f in "$bin" "$seeds"; do
	[ -e "$f" ] || { echo "fuzz/run.sh: $f is missing; run make B=$B fuzz-build" >&2; exit 1; }
done

rm -rf "$out"
mkdir -p "$out"
export AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1
# Each instance is bound to a core of its own (afl-fuzz picks a free one), and its target with
# it: every input is a round of hand-offs between afl-fuzz, the fork server and the target,
# which on one core are context switches and across cores wake-ups by interrupt. 150 s runs of
# two instances, alternating: 4,682-5,193 execs/s summed bound, 3,354-4,348 not
# (docs/perf/fuzz.md). More instances than cores, or AFL_NO_AFFINITY=1 set, run unbound.
if [ -n "${AFL_NO_AFFINITY:-}" ] || [ "$jobs" -gt "$(nproc 2>/dev/null || echo 1)" ]; then
	export AFL_NO_AFFINITY=1
fi
export AFL_SKIP_BIN_CHECK=${AFL_SKIP_BIN_CHECK:-} AFL_QUIET=1
# The target's stderr goes to the instance's log instead of /dev/null: it is silent unless
# something aborts, and then it says what (a sanitizer report, an oracle's reason, a failed
# assertion), which a crash that does not replay would otherwise take with it.
# (afl-fuzz only asks whether the variable is set, so AFL_DEBUG_CHILD=0 unsets it here.)
if [ "${AFL_DEBUG_CHILD:-1}" = 0 ]; then unset AFL_DEBUG_CHILD; else export AFL_DEBUG_CHILD=1; fi
# afl-fuzz saves a timeout as a hang at once unless AFL_HANG_TMOUT is longer than -t: then it
# runs the input again with that limit first (a test case takes well under 100 ms here, so
# only a stalled machine or a real hang gets past the timeout twice).
export AFL_HANG_TMOUT=${AFL_HANG_TMOUT:-$((tmo * 5))}
# The target is persistent: leaks are checked by the replay test (LeakSanitizer at exit), not here.
# A small quarantine and no allocation stacks make it ~1.7x faster; a crash is replayed with the
# gcc build for the full report anyway. clear_shadow_mmap_threshold: shadow of up to 8 MiB is
# cleared with memset, not by remapping it (which freed the pages, to be faulted in again by
# the next allocation there): the same shadow values, ~1.3x faster (docs/perf/fuzz.md).
export ASAN_OPTIONS=abort_on_error=1:symbolize=0:detect_leaks=0:allocator_may_return_null=1:handle_abort=0:quarantine_size_mb=16:malloc_context_size=0:clear_shadow_mmap_threshold=8388608
export UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=0
case $B in /*) absB=$B ;; *) absB=$PWD/$B ;; esac
export VGPU_SIM_LIB=${VGPU_SIM_LIB:-$absB/fuzz/afl/libcudasim.so}

args=(-i "$seeds" -o "$out" -m none -t "$tmo" -V "$secs")
[ $target = decoder ] && args+=(-x fuzz/vgpu.dict)
cargs=()
[ $cmplog = 1 ] && [ -x "$cmp" ] && cargs=(-c "$cmp")
load0=$(cut -d' ' -f1 /proc/loadavg 2>/dev/null)
if [ "$jobs" = 1 ]; then
	insts=(default)
	echo "fuzz/run.sh: $target for ${secs}s: $afl ${args[*]} ${cargs[*]} -- $bin"
	"$afl" "${args[@]}" "${cargs[@]}" -- "$bin" >"$out/afl.log" 2>&1
	rc=$?
else
	# One queue: the main instance (CMPLOG; afl++ runs no deterministic stages without -D) and secondaries that sync
	# with it; each writes its own log.
	insts=(main) pids=()
	echo "fuzz/run.sh: $target for ${secs}s, $jobs instances: $afl ${args[*]} -M main ${cargs[*]} -- $bin (and -S f2..f$jobs)"
	"$afl" "${args[@]}" -M main "${cargs[@]}" -- "$bin" >"$out/afl-main.log" 2>&1 &
	pids+=($!)
	for ((k = 2; k <= jobs; k++)); do
		insts+=("f$k")
		"$afl" "${args[@]}" -S "f$k" -- "$bin" >"$out/afl-f$k.log" 2>&1 &
		pids+=($!)
	done
	rc=0
	for p in "${pids[@]}"; do wait "$p" || rc=$?; done
fi
# afl-fuzz sometimes leaves a forkserver of this target stopped and orphaned when it exits
# (seen with the CMPLOG build): end those, orphans only, so another run's live ones stay
for p in $(pgrep -x -f "$cmp|$bin" 2>/dev/null); do
	[ "$(ps -o ppid= -p "$p" 2>/dev/null | tr -d ' ')" = 1 ] && kill -KILL "$p" 2>/dev/null
done
load1=$(cut -d' ' -f1 /proc/loadavg 2>/dev/null)
stats=$out/${insts[0]}/fuzzer_stats
if [ ! -f "$stats" ]; then
	echo "fuzz/run.sh: afl-fuzz did not start (exit $rc); the end of its log:" >&2
	tail -30 "$out"/afl*.log >&2
	exit 1
fi
get() { sed -n "s/^$1 *: *//p" "$stats"; }
# a figure summed over the instances (execs, rates, crashes), or the largest (edges)
# field $2 of instance $1's fuzzer_stats (empty when absent)
stat_of() { sed -n "s/^$2 *: *//p" "$out/$1/fuzzer_stats" 2>/dev/null; }
sum() { local t=0 v i; for i in "${insts[@]}"; do v=$(stat_of "$i" "$1"); t=$(awk -v a="$t" -v b="${v:-0}" 'BEGIN { printf "%.2f", a + b }'); done; echo "${t%.00}"; }
most() { local m=0 v i; for i in "${insts[@]}"; do v=$(stat_of "$i" "$1"); [ "${v:-0}" -gt "$m" ] && m=$v; done; echo "$m"; }
# Each instance's rate over the whole run and over its last minute: calibration and the CMPLOG
# stage on the seeds weigh on the first (the main instance's core also runs the CMPLOG
# build, whose executions afl-fuzz does not count), the second is nearer the steady rate.
per_inst=
for i in "${insts[@]}"; do
	r=$(stat_of "$i" execs_per_sec)
	l=$(stat_of "$i" execs_ps_last_min)
	per_inst="$per_inst${per_inst:+, }$i $(awk -v v="${r:-0}" 'BEGIN { printf "%.0f", v }')"
	[ -z "$l" ] || per_inst="$per_inst (last minute $(awk -v v="$l" 'BEGIN { printf "%.0f", v }'))"
done
echo "run time       : $(get run_time)s"
echo "execs/s        : $(sum execs_per_sec)${insts[1]:+ (summed over $jobs instances)}"
echo "per instance   : $per_inst execs/s"
echo "total execs    : $(sum execs_done)"
echo "paths (corpus) : $(get corpus_count) (found here: $(get corpus_found))"
echo "edge coverage  : $(most edges_found) edges, bitmap $(get bitmap_cvg)"
echo "stability      : $(get stability)"
echo "crashes/hangs  : $(sum saved_crashes) / $(sum saved_hangs)"
n_crash=$(find "$out"/*/crashes -type f ! -name README.txt 2>/dev/null | wc -l)
# What the target said when it aborted, from each instance's log (the first 20 such lines)
if [ "$n_crash" -gt 0 ] || [ "$(sum saved_crashes)" != 0 ]; then
	for i in "${insts[@]}"; do
		log=$out/afl.log
		[ "$jobs" = 1 ] || log=$out/afl-$i.log
		grep -a -n -E 'ORACLE VIOLATED|ERROR: AddressSanitizer|SUMMARY: |runtime error|Assertion .* failed|vgpu-fuzz[^:]*:' \
			"$log" 2>/dev/null | head -20 | sed -e 's/\x1b\[[0-9;]*m//g' -e "s|^|target said    : $i: |"
	done
fi
n_hang=$(find "$out"/*/hangs -type f 2>/dev/null | wc -l)
# Each saved hang once more, in a fresh process with a generous limit: one that finishes was
# a stalled machine, or needs the state earlier test cases left (it stays in hangs/ either way).
[ -x "$replay" ] || replay=$bin
lim=$(( (tmo * 10 + 999) / 1000 ))
n_hang_real=0 n_hang_slow=0
for f in "$out"/*/hangs/*; do
	[ -f "$f" ] || continue
	t0=$(date +%s%N)
	timeout -k 5 "$lim" "$replay" "$f" >/dev/null 2>&1
	hrc=$? ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	if [ $hrc -eq 0 ]; then
		n_hang_slow=$((n_hang_slow + 1))
		echo "hang           : $f finished in $ms ms in a fresh process"
	else
		n_hang_real=$((n_hang_real + 1))
		[ $hrc -eq 124 ] || [ $hrc -eq 137 ] && why="hangs again (over ${lim}s)" || why="fails (exit $hrc)"
		echo "hang           : $f $why in a fresh process"
	fi
done
if [ $record = 1 ]; then
	commit=$(git rev-parse --short HEAD 2>/dev/null || echo "?")
	git diff --quiet HEAD -- fuzz proxy runtime sim generated 2>/dev/null || commit="$commit+wt"
	hangs=$n_hang
	[ $n_hang_slow -gt 0 ] && hangs="$n_hang ($n_hang_slow finished on replay)"
	inst_note="; execs/s $per_inst"
	[ "$jobs" -gt 1 ] && inst_note="; $jobs instances, execs and execs/s summed ($per_inst)"
	printf '| %s | %s | %s | %s | %s | %s / %s | %s | %s | %s | %s | load %s-%s%s%s |\n' \
		"$(date -u +%F)" "$target" "$(get run_time)" "$(sum execs_done)" "$(sum execs_per_sec)" \
		"$(get corpus_count)" "$(most edges_found)" "$(get stability)" "$n_crash" "$hangs" "$commit" \
		"$load0" "$load1" "$inst_note" "${note:+; $note}" >>"$record_file"
	echo "recorded in    : $record_file"
	python3 "$(dirname "$0")/totals.py" --write "$record_file" ||
		echo "fuzz/run.sh: the cumulative table of $record_file was not updated" >&2
fi
if [ "$n_crash" -gt 0 ] || [ "$(get saved_crashes)" != 0 ] || [ $n_hang_real -gt 0 ] ||
   { [ "${FUZZ_STRICT_HANGS:-0}" = 1 ] && [ "$n_hang" -gt 0 ]; }; then
	echo "FAIL: afl-fuzz saved $n_crash crash(es) and $n_hang hang(s) ($n_hang_real hang or fail again when replayed)" \
	     "in $out/*/{crashes,hangs}; replay each with $replay FILE, fix, and add the input to fuzz/regress/"
	exit 1
fi
if [ "$n_hang" -gt 0 ]; then
	echo "note: $n_hang hang(s) finished when replayed: timeouts of a loaded machine, not counted" \
	     "(FUZZ_STRICT_HANGS=1 counts them); they are in $out/*/hangs"
fi
if [ $rc -ne 0 ]; then
	echo "FAIL: afl-fuzz exited $rc; see $out/afl*.log" >&2
	exit 1
fi
echo "PASS: no crash and no hang in ${secs}s"
