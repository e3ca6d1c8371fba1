#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Checkpoint, migration and restore on the backend make gpu-check runs on (the real driver on
# a GPU machine, VGPU_E2E_BACKEND=cuda; the simulator otherwise): two proxies on this machine,
# a program streaming copies and launches while holding 16 MiB and launching a captured graph
# every round is moved A -> B -> A while it runs (the pause of each move printed), then saved
# with checkpoint --stop, its whole proxy killed and the file restored by a new proxy (the
# program's channel rejoins); every round and the held memory are verified. The proxies carry
# module globals by value (--checkpoint-globals copy: what a GPU driver allows, and the same
# on the simulator): a program whose kernels count in a module global it never asked the
# address of moves A -> B -> A with the count checked every round, and so do one that took a
# global's address (written, read, given to a kernel and copied in 2D through it every round)
# and an nvcc-built CUDA runtime program (cudart asks for its __constant__'s and __device__
# global's addresses): the reloaded module has its globals elsewhere, and the new worker
# translates the old addresses (docs/ARCHITECTURE.md). The proxies place zones' device memory
# at fixed addresses (--device-va fixed, the default here; --device-va driver to try the
# driver's own placement), which a GPU driver gives a new worker again; a program allocating
# from the default pool and from a pool it created and made current (its context made over
# another, two on its thread's stack) moves A -> B -> A too.
set -u
B=${VGPU_BUILD:-build/rel}
backend=${VGPU_E2E_BACKEND:-sim}
devva=fixed
while [ $# -gt 0 ]; do
  case $1 in
    --help) sed -n '3,/^set -u/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
    --device-va) devva=${2:?--device-va needs driver or fixed}; shift 2 ;;
    *) echo "tests/gpu/migrate_check.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
  esac
done
for f in "$B/proxy/vgpu-proxy" "$B/proxy/vgpuctl" "$B/tests/restart/stream_app" "$B/tests/migrate/rt_loop" \
         "$B/tests/kernels/basic.fatbin"; do
  [ -e "$f" ] || { echo "skip: $f is not built"; exit 77; }
done
[ "$backend" = sim ] && [ ! -f "$B/sim/libcudasim.so" ] && { echo "skip: the simulator is not built"; exit 77; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vgpu-migrate-check.XXXXXX")
pids=
cleanup() {
  for p in $pids; do kill -KILL "$p" 2>/dev/null; done
  pkill -KILL -P $$ 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*"
  for f in "$tmp"/*.log "$tmp"/*.out; do [ -f "$f" ] && { echo "--- $f:"; tail -n 20 "$f"; }; done
  exit 1
}
start() { # start NAME (the sockets of a proxy killed before are stale: gone first)
  rm -f "$tmp/$1.sock" "$tmp/$1.sock.ctl"
  "$PWD/$B/proxy/vgpu-proxy" --listen "$tmp/$1.sock" --backend "$backend" --sim-lib "$PWD/$B/sim/libcudasim.so" \
    --state-dir "$tmp/state-$1" --checkpoint-globals copy --device-va "$devva" --log-level info >>"$tmp/$1.log" 2>&1 &
  eval "p$1=$!"
  pids="$pids $!"
  disown $!   # killed on purpose below: no job notices
  for _ in $(seq 150); do [ -S "$tmp/$1.sock" ] && [ -S "$tmp/$1.sock.ctl" ] && return 0; sleep 0.1; done
  fail "proxy $1 did not start"
}
stop_pid() { # stop_pid SIGNAL PID: signal it and wait (up to 10 s) until it is gone
  kill -"$1" "$2" 2>/dev/null
  for _ in $(seq 100); do kill -0 "$2" 2>/dev/null || return 0; sleep 0.1; done
}
ctl() { local n=$1; shift; "$B/proxy/vgpuctl" --listen "$tmp/$n.sock" "$@"; }
zone_of() { ctl "$1" stats | awk '$1 == "zone" { print $2; exit }'; }
calls_of() { ctl "$1" stats | grep -o ' calls=[0-9]*' | head -n 1 | cut -d= -f2; }
nzones() { ctl "$1" stats | awk '$1 == "zones" { print $2 }'; }
no_zone() { # no_zone NAME: wait until the proxy has no zone left (the last program's ended)
  for _ in $(seq 100); do [ "$(nzones "$1")" = 0 ] && return 0; sleep 0.1; done
  fail "proxy $1 still has a zone: $(ctl "$1" stats)"
}
# the programs load libvgpu as libcuda.so.1; the proxies must not (they load the driver)
zone_libs=$PWD/$B/libvgpu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export VGPU_LOG=1

echo "migrate_check: backend $backend, device memory placed by --device-va $devva"
start a
start b
export VGPU_PROXY=$tmp/a.sock
LD_LIBRARY_PATH=$zone_libs "$B/tests/restart/stream_app" "$PWD/$B/tests/kernels/basic.fatbin" 6 $((16 << 20)) --no-late --graph --until "$tmp/app.stop" >"$tmp/app.out" 2>&1 &
app=$!
pids="$pids $app"
for _ in $(seq 150); do [ "$(calls_of a 2>/dev/null || echo 0)" -gt 50 ] 2>/dev/null && break; sleep 0.1; done
z=$(zone_of a)
[ -n "$z" ] || fail "the program's zone does not show on proxy A"
out=$(ctl a migrate "$z" --to "$tmp/b.sock.ctl" 2>&1) || fail "migrate A -> B: $out"
p1=$(grep -o 'paused at most [0-9.]* ms' <<<"$out")
sleep 1
out=$(ctl b migrate "$(zone_of b)" --to "$tmp/a.sock.ctl" 2>&1) || fail "migrate B -> A: $out"
p2=$(grep -o 'paused at most [0-9.]* ms' <<<"$out")
touch "$tmp/app.stop"
wait "$app" || fail "the program failed across the moves"
echo "PASS: moved A -> B -> A while running ($p1; $p2): $(cat "$tmp/app.out")"
no_zone a

LD_LIBRARY_PATH=$zone_libs "$B/tests/restart/stream_app" "$PWD/$B/tests/kernels/basic.fatbin" 5 $((16 << 20)) --no-late --graph --until "$tmp/app2.stop" >"$tmp/app2.out" 2>&1 &
app=$!
pids="$pids $app"
for _ in $(seq 150); do [ "$(calls_of a 2>/dev/null || echo 0)" -gt 50 ] 2>/dev/null && break; sleep 0.1; done
z=$(zone_of a)
out=$(ctl a checkpoint "$z" "$tmp/saved.ckpt" --stop 2>&1) || fail "checkpoint --stop: $out"
workers=$(pgrep -P "$pa")   # its own zone workers, not another proxy's on this machine
stop_pid KILL "$pa"
# shellcheck disable=SC2086
[ -n "$workers" ] && kill -KILL $workers 2>/dev/null
sleep 0.5
start a
out=$(ctl a restore "$tmp/saved.ckpt" 2>&1) || fail "restore from the file after its proxy was killed: $out"
touch "$tmp/app2.stop"
wait "$app" || fail "the program failed after its zone was restored from the file"
grep -q "served again by the restored zone" "$tmp/app2.out" || fail "the program did not rejoin"
echo "PASS: saved, proxy killed, restored from the file by a new proxy: $(tail -n 1 "$tmp/app2.out")"
no_zone a

# there_and_back NAME CALLS WHAT PROGRAM ARGS...: PROGRAM on A, moved to B once its zone made
# CALLS calls (past its start-up), and back, while it runs; it must finish verified
there_and_back() {
  local name=$1 calls=$2 what=$3 prog out
  shift 3
  LD_LIBRARY_PATH=$zone_libs "$@" --until "$tmp/$name.stop" >"$tmp/$name.out" 2>&1 &
  prog=$!
  pids="$pids $prog"
  for _ in $(seq 200); do [ "$(calls_of a 2>/dev/null || echo 0)" -gt "$calls" ] 2>/dev/null && break; sleep 0.1; done
  out=$(ctl a migrate "$(zone_of a)" --to "$tmp/b.sock.ctl" 2>&1) ||
    fail "migrate A -> B of $what: $out; the program: $(cat "$tmp/$name.out")"
  sleep 0.5
  out=$(ctl b migrate "$(zone_of b)" --to "$tmp/a.sock.ctl" 2>&1) ||
    fail "migrate $what B -> A: $out; the program: $(cat "$tmp/$name.out")"
  touch "$tmp/$name.stop"
  wait "$prog" || fail "$what failed across the moves: $(cat "$tmp/$name.out")"
  no_zone a
}
there_and_back rt 300 "the runtime program" "$B/tests/migrate/rt_loop" 4
grep -q "rounds verified, globals kept" "$tmp/rt.out" || fail "unexpected runtime program output: $(cat "$tmp/rt.out")"
echo "PASS: the runtime program (its module globals' addresses translated) moved A -> B -> A: $(cat "$tmp/rt.out")"
grep -h "known to the zone at" "$tmp"/[ab].log | head -n 2
there_and_back gaddr 50 "the program holding a module global's address" \
  "$B/tests/restart/stream_app" "$PWD/$B/tests/kernels/basic.fatbin" 4 0 --no-late --global
echo "PASS: a module global's address kept A -> B -> A (translated): $(cat "$tmp/gaddr.out")"
there_and_back gval 50 "the program counting in a module global" \
  "$B/tests/restart/stream_app" "$PWD/$B/tests/kernels/basic.fatbin" 4 0 --no-late --global-value
echo "PASS: a module global's value moved A -> B -> A by name: $(cat "$tmp/gval.out")"
there_and_back pools 50 "the program using memory pools (a created one made current)" \
  "$B/tests/restart/stream_app" "$PWD/$B/tests/kernels/basic.fatbin" 4 0 --no-late --pools --stacked
echo "PASS: stream-ordered memory of the default pool and of a created one, and a context made over another, moved A -> B -> A: $(cat "$tmp/pools.out")"
stop_pid INT "$pa"
stop_pid INT "$pb"
if grep -E "AddressSanitizer|runtime error|LeakSanitizer" "$tmp"/*.log; then fail "a sanitizer report"; fi
# with fixed addresses, every allocation must have had them (a fallback to the driver's
# placement still moves on the simulator, but would not on a GPU)
if [ "$devva" = fixed ] && grep "outside the fixed window" "$tmp"/*.log; then
  fail "device memory was placed outside the fixed window"
fi
echo "migrate_check: all passed ($backend, --device-va $devva)"
