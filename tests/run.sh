#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Test runner: runs each test program with a timeout. Exit 0 = pass, 77 = skip (the test's
# last output line says why), anything else = fail. Ends with "N passed, M failed[, K skipped]".
set -u
timeout_s=300
jobs=1
while [ $# -gt 0 ]; do
  case $1 in
    --timeout) timeout_s=${2:?--timeout needs seconds}; shift 2 ;;
    --jobs) jobs=${2:?--jobs needs a number}; shift 2 ;;
    *) break ;;
  esac
done
if [ "${1:-}" = "--help" ] || [ $# -eq 0 ]; then
  echo "usage: tests/run.sh [--timeout SECONDS] [--jobs N] TEST..."
  echo "Runs each TEST (an executable), N at a time (default 1), in the order given; logs go to"
  echo "\${VGPU_BUILD:-build}/test-logs/NAME.log. A line per test as it ends; at the end the run's"
  echo "wall time, the tests' summed time and the five longest (NAME.us: each one's microseconds), their"
  echo "summed CPU time and the five busiest (NAME.cpu: milliseconds, user + system), then a summary."
  [ "${1:-}" = "--help" ] && exit 0 || exit 2
fi
case $jobs in ''|*[!0-9]*|0) echo "tests/run.sh: --jobs needs a number from 1" >&2; exit 2 ;; esac

logdir=${VGPU_BUILD:-build}/test-logs
mkdir -p "$logdir"
pass=0; fail=0; skip=0
failed=(); skipped=()
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# One test: its log, its line, and its exit status in $logdir/NAME.rc for the summary.
run_one() {
  local t=$1 name log start rc us secs why cpu
  name=$(basename "$t")
  log=$logdir/$name.log
  start=${EPOCHREALTIME/./}
  timeout --kill-after=10 "$timeout_s" "$t" >"$log" 2>&1
  rc=$?
  us=$(( ${EPOCHREALTIME/./} - start )); secs=$((us/1000000)).$(( (us/100000)%10 ))
  echo "$rc" >"$logdir/$name.rc"
  echo "$us" >"$logdir/$name.us"
  # the CPU time of the test and what it waited for (bash's times: this subshell's
  # children), in milliseconds: where the machine's time went when tests share it
  # (times itself in this shell: in a command substitution it would count that one's children)
  times >"$logdir/$name.cpu"
  cpu=$(awk 'NR == 2 { t = 0; for (i = 1; i <= 2; i++) { split($i, p, "m"); t += p[1] * 60 + p[2] }
                       printf "%d", t * 1000 }' "$logdir/$name.cpu")
  echo "${cpu:-0}" >"$logdir/$name.cpu"
  case $rc in
    0)  printf 'PASS  %-40s %6ss\n' "$name" "$secs" ;;
    77) why=$(grep -v '^\s*$' "$log" | tail -n 1)
        printf 'SKIP  %-40s %6ss  (%s)\n' "$name" "$secs" "${why:-no reason given}" ;;
    124|137) printf 'FAIL  %-40s %6ss  (timeout)\n' "$name" "$secs" ;;
    *)  printf 'FAIL  %-40s %6ss  (exit %d)\n' "$name" "$secs" "$rc" ;;
  esac
}

for t in "$@"; do rm -f "$logdir/$(basename "$t")".{rc,us,cpu}; done
run_start=${EPOCHREALTIME/./}
for t in "$@"; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n; done
  run_one "$t" &
done
wait

wall=$(( (${EPOCHREALTIME/./} - run_start) / 1000000 ))
sum=0; cpusum=0; longest=(); busiest=()
for t in "$@"; do
  name=$(basename "$t")
  rc=$(cat "$logdir/$name.rc" 2>/dev/null || echo 1)
  us=$(cat "$logdir/$name.us" 2>/dev/null || echo 0)
  ms=$(cat "$logdir/$name.cpu" 2>/dev/null || echo 0)
  sum=$((sum + us)); longest+=("$us $name")
  cpusum=$((cpusum + ms)); busiest+=("$ms $name")
  case $rc in
    0)  pass=$((pass+1)) ;;
    77) skip=$((skip+1)); why=$(grep -v '^\s*$' "$logdir/$name.log" | tail -n 1)
        skipped+=("$name: ${why:-no reason given}") ;;
    124|137) fail=$((fail+1)); failed+=("$name (timeout after ${timeout_s}s)") ;;
    *)  fail=$((fail+1)); failed+=("$name (exit $rc)") ;;
  esac
done

if [ $fail -gt 0 ]; then
  echo
  for f in "${failed[@]}"; do
    echo "--- $f; last lines of its log:"
    tail -n 25 "$logdir/$(basename "${f%% (*}").log" | sed 's/^/    /'
  done
fi
if [ $skip -gt 0 ]; then
  echo; echo "skipped:"; for s in "${skipped[@]}"; do echo "  $s"; done
fi
echo
# Where the time went (before the summary, which stays the last line): the run's wall time,
# the tests' summed time and the longest ones, their CPU time and the busiest.
# top5 PER_SECOND "AMOUNT NAME"...: the five largest, "NAME 1.2 s, ..."
top5() {
  local per=$1; shift
  printf '%s\n' "$@" | sort -rn | head -n 5 |
    awk -v per="$per" '{printf "%s%s %.1f s", (NR > 1 ? ", " : ""), $2, $1 / per}'
}
printf 'time: %dm%02ds for the run, %d s of tests summed over %d job(s); longest: %s\n' \
  $((wall / 60)) $((wall % 60)) $((sum / 1000000)) "$jobs" "$(top5 1e6 "${longest[@]}")"
printf 'cpu: %d s of CPU time (user + system) summed; the most: %s\n' $((cpusum / 1000)) "$(top5 1e3 "${busiest[@]}")"
if [ $skip -gt 0 ]; then
  echo "$pass passed, $fail failed, $skip skipped"
else
  echo "$pass passed, $fail failed"
fi
[ $fail -eq 0 ] && [ $((pass+skip)) -gt 0 ]
