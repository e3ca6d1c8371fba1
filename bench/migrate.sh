#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Migration pause: a program streaming copies and launches while it holds 64 MiB of device
# memory is moved back and forth between two proxies (vgpuctl migrate, simulator backend);
# each move's pause is what vgpuctl measures from stopping the zone to its channels being
# served by the other proxy. Baseline in the same run, alternating with the moves: moving
# the same 64 MiB inside one process (device -> fresh host memory -> fresh device memory,
# bench/move_floor), the least any migration of it costs. Reports min/median/max and the ratio
# of the medians; writes docs/perf/migrate.md unless --no-write.
set -eu
B=${VGPU_BUILD:-build/rel}
runs=8; write=1; out=docs/perf/migrate.md; devva=driver
usage="usage: bench/migrate.sh [--runs N] [--no-write] [--device-va driver|fixed]   (VGPU_BUILD=build/rel)
  --runs N    moves (default 8), each followed by one baseline run
  --no-write  print the report without writing $out
  --device-va where the proxies place the zone's device memory (default driver; fixed: the
              window a restore on a GPU needs)"
while [ $# -gt 0 ]; do
  case $1 in
    --runs) [ $# -ge 2 ] || { echo "bench/migrate.sh: --runs needs a number" >&2; exit 2; }; runs=$2; shift ;;
    --no-write) write= ;;
    --device-va) [ $# -ge 2 ] || { echo "bench/migrate.sh: --device-va needs driver or fixed" >&2; exit 2; }; devva=$2; shift ;;
    --help) echo "$usage"; exit 0 ;;
    *) echo "bench/migrate.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done
case $runs in ''|*[!0-9]*|0) echo "bench/migrate.sh: --runs wants a positive number, not '$runs'" >&2; exit 2 ;; esac
export LC_ALL=C
sim=$PWD/$B/sim/libcudasim.so
for f in "$sim" "$B/proxy/vgpu-proxy" "$B/tests/restart/stream_app" "$B/bench/move_floor"; do
  [ -e "$f" ] || { echo "bench/migrate.sh: $f is not built (make B=$B all $B/tests/restart/stream_app)" >&2; exit 2; }
done
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vgpu-bench-migrate.XXXXXX")
pids=
cleanup() { for p in $pids; do kill -INT "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
for n in a b; do
  "$B/proxy/vgpu-proxy" --listen "$tmp/$n.sock" --backend sim --sim-lib "$sim" --state-dir "$tmp/state-$n" \
    --device-va "$devva" --log-level warn >"$tmp/$n.log" 2>&1 &
  pids="$pids $!"
done
for _ in $(seq 100); do [ -S "$tmp/a.sock" ] && [ -S "$tmp/b.sock" ] && break; sleep 0.1; done
ctl() { local n=$1; shift; "$B/proxy/vgpuctl" --listen "$tmp/$n.sock" "$@"; }
zone_of() { ctl "$1" stats | awk '$1 == "zone" { print $2; exit }'; }

secs=$((runs * 2 + 6))
VGPU_PROXY=$tmp/a.sock LD_LIBRARY_PATH=$PWD/$B/libvgpu "$B/tests/restart/stream_app" \
  "$PWD/$B/tests/kernels/basic.fatbin" "$secs" $((64 << 20)) --no-late >"$tmp/app.out" 2>&1 &
app=$!
for _ in $(seq 100); do [ -n "$(zone_of a)" ] && break; sleep 0.1; done
sleep 1
mkdir "$tmp/direct"
ln -s "$sim" "$tmp/direct/libcuda.so.1"
at=a
for i in $(seq "$runs"); do
  to=$([ $at = a ] && echo b || echo a)
  echo "bench/migrate: move $i/$runs ($at -> $to) ..." >&2
  out_i=$(ctl "$at" migrate "$(zone_of "$at")" --to "$tmp/$to.sock.ctl")
  grep -o 'paused at most [0-9.]* ms' <<<"$out_i" | awk '{ print "pause_ms", $4, "ms" }' >>"$tmp/pause.txt"
  at=$to
  sleep 0.3
  LD_LIBRARY_PATH=$tmp/direct "$B/bench/move_floor" $((64 << 20)) 1 >>"$tmp/floor.txt"
  sleep 0.3
done
wait "$app" || { echo "bench/migrate.sh: the program failed across the moves:"; cat "$tmp/app.out"; exit 1; }
stat3() { sort -g | awk '{ v[NR] = $1 } END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2;
  printf "%.1f %.1f %.1f\n", v[1], m, v[NR] }'; }
read -r pmin pmed pmax < <(awk '{ print $2 }' "$tmp/pause.txt" | stat3)
read -r fmin fmed fmax < <(awk '{ print $2 }' "$tmp/floor.txt" | stat3)
ratio=$(awk -v p="$pmed" -v f="$fmed" 'BEGIN { printf "%.2f", p / f }')
goal=$(awk -v p="$pmed" 'BEGIN { print (p < 100 ? "met" : "not met") }')
report=$(cat <<EOT
# Migration pause (bench/migrate.sh)

$(date -u +%Y-%m-%d), $(nproc) CPUs, simulator backend (a CPU test double of the driver), $runs moves
of a zone holding 64 MiB while its program streams copies and launches (\`vgpuctl migrate\`
between two proxies on this machine; the checkpoint streams from one worker into the other's
restore). Baseline, alternating with the moves: the same 64 MiB moved inside one process
(device -> fresh host memory -> fresh device memory, \`bench/move_floor\`). The proxies place
device memory with \`--device-va $devva\`.

| figure | min | median | max |
|---|---|---|---|
| pause of a move (ms) | $pmin | $pmed | $pmax |
| baseline: 64 MiB moved in one process (ms) | $fmin | $fmed | $fmax |
| ratio of the medians (move / baseline) | | $ratio | |

Goal (issue: < 100 ms for a zone holding 64 MiB, simulator): **$goal** (median $pmed ms).
The program's own longest round across the moves: $(grep -o 'longest round [0-9.]* ms' "$tmp/app.out" | awk '{ print $3 }') ms.
EOT
)
echo "$report"
[ -n "$write" ] && echo "$report" >"$out" && echo "bench/migrate.sh: wrote $out" >&2
exit 0
