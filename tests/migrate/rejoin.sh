#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Restoring a zone from a file after its whole proxy is gone: a program streaming copies and
# launches from two threads (through pinned host memory, virtual memory and a graph too; its
# context made over another it created, so its thread has two stacked)
# while it holds 16 MiB is saved with
# `vgpuctl checkpoint --stop`, its proxy (supervisor and worker) is killed with SIGKILL, a
# new proxy starts on the same socket and restores the file; the program's channel,
# waiting all along, rejoins the restored zone with its ring and pinned region, and the
# program finishes with every round and its memory verified. A program whose zone was not
# saved, or was saved and thawed, fails at once when its worker dies (no wait), and one whose
# ring moved on after the checkpoint it is restored from is refused with the reason (its
# state would be stale).
set -u
B=${VGPU_BUILD:-build/san}
case ${1:-} in
  --help) sed -n '3,/^set -u/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
esac
sim=$PWD/$B/sim/libcudasim.so
[ -f "$sim" ] || { echo "skip: $sim is not built"; exit 77; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vgpu-rejoin.XXXXXX")
pids=
cleanup() {
  for p in $pids; do kill -KILL "$p" 2>/dev/null; done
  pkill -KILL -P $$ 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*"
  echo "--- proxy:"; tail -n 30 "$tmp/p.log"
  for f in "$tmp"/*.out; do echo "--- $f:"; cat "$f"; done
  exit 1
}
pass() { echo "ok: $*"; }

sup=
start() { # a proxy on $tmp/p.sock (the same socket every time, as after a node's restart)
  : >"$tmp/p.log.new"
  "$PWD/$B/proxy/vgpu-proxy" --listen "$tmp/p.sock" --backend sim --sim-lib "$sim" \
    --state-dir "$tmp/state" --log-level info --rejoin-timeout 60 >"$tmp/p.log.new" 2>&1 &
  sup=$!
  pids="$pids $sup"
  disown "$sup"   # killed on purpose: no job notices
  for _ in $(seq 100); do grep -q "listening on" "$tmp/p.log.new" && break; sleep 0.1; done
  grep -q "listening on" "$tmp/p.log.new" || { cat "$tmp/p.log.new" >>"$tmp/p.log"; fail "the proxy did not start"; }
}
stop_all() { # kill the proxy outright: supervisor and every worker, nothing tidied up
  # (its own workers only: another proxy on this machine, a test beside this one, keeps its zones)
  local workers
  workers=$(pgrep -P "$sup")
  kill -KILL "$sup" 2>/dev/null
  # shellcheck disable=SC2086
  [ -n "$workers" ] && kill -KILL $workers 2>/dev/null
  for _ in $(seq 100); do kill -0 "$sup" 2>/dev/null || break; sleep 0.1; done
  cat "$tmp/p.log.new" >>"$tmp/p.log"
}
ctl() { "$B/proxy/vgpuctl" --listen "$tmp/p.sock" "$@"; }
zone_of() { ctl stats | awk '$1 == "zone" { print $2; exit }'; }
calls_of() { ctl stats | grep -o ' calls=[0-9]*' | head -n 1 | cut -d= -f2; }
app() { # app NAME ARGS...: stream_app in the background; sets apid and z
  local name=$1
  shift
  "$B/tests/restart/stream_app" "$PWD/$B/tests/kernels/basic.fatbin" "$@" >"$tmp/$name.out" 2>&1 &
  apid=$!
  pids="$pids $apid"
  z=
  for _ in $(seq 100); do z=$(zone_of); [ -n "$z" ] && break; sleep 0.1; done
  [ -n "$z" ] || fail "the zone of $name does not show"
  for _ in $(seq 100); do [ "$(calls_of)" -gt 50 ] 2>/dev/null && break; sleep 0.1; done
}
export VGPU_PROXY=$tmp/p.sock LD_LIBRARY_PATH=$PWD/$B/libvgpu VGPU_LOG=1

# 1. Saved, proxy killed, restored by a new proxy from the file: the program goes on, both
# its threads' channels rejoining (the second one started halfway), with its pinned region,
# its virtual memory (ids kept) and its graph.
start
app saved 5 $((16 << 20)) --pinned --vmm --graph --stacked --until "$tmp/saved.stop"
for _ in $(seq 100); do ctl stats | grep -q ' channels=2 ' && break; sleep 0.1; done
ctl stats | grep -q ' channels=2 ' || fail "the program's second thread did not join: $(ctl stats)"
out=$(ctl checkpoint "$z" "$tmp/saved.ckpt" --stop) || fail "checkpoint --stop refused: $out"
stop_all
sleep 1   # the program's thread notices (its liveness probe) and waits for a restore
kill -0 "$apid" 2>/dev/null || fail "the program ended when its proxy was killed"
start
out=$(ctl restore "$tmp/saved.ckpt") || fail "restore from the file failed: $out"
grep -q "0 channels taken over.*its worker is gone: its programs' 2 channels rejoin" <<<"$out" ||
  fail "unexpected restore summary: $out"
touch "$tmp/saved.stop"
wait "$apid" || fail "the program failed after its zone was restored"
grep -Eq "rounds verified, and a late thread's [0-9]+, held memory intact" "$tmp/saved.out" || fail "unexpected program output"
[ "$(grep -c "channel served again by the restored zone" "$tmp/saved.out")" = 2 ] || fail "the program's two threads did not both rejoin"
[ "$(grep -c "rejoined (client pid" "$tmp/p.log.new")" = 2 ] || fail "the proxy did not log both rejoins"
grep -q "ring moved on\|cannot rejoin" "$tmp/p.log.new" && fail "a rejoin was refused"
grep -q "pinned region 0 (1048576 bytes) offered again" "$tmp/p.log.new" || fail "the proxy did not log the pinned region"
for _ in $(seq 50); do [ -z "$(zone_of)" ] && break; sleep 0.1; done
[ -z "$(zone_of)" ] || fail "the restored zone outlived its program: $(ctl stats)"
pass "saved with checkpoint --stop, its whole proxy SIGKILLed, restored from the file by a new proxy: the program's two channels and its pinned region rejoined, its virtual memory and graph restored; $(tail -n 1 "$tmp/saved.out")"

# 2. Not saved: the worker's death fails the program at once (nothing to wait for).
app unsaved 30 0 --no-late
t0=$(date +%s%N)
pkill -KILL -P "$sup" -x "vgpu-zone-$z"
wait "$apid" && fail "the program went on without its worker"
t1=$(date +%s%N)
grep -q "waiting up to" "$tmp/unsaved.out" && fail "the program waited for a restore of a zone never saved"
[ $(( (t1 - t0) / 1000000 )) -lt 20000 ] || fail "the program took $(( (t1 - t0) / 1000000 )) ms to fail"
pass "a zone not saved: its program failed when its worker died, without waiting ($(grep -c . "$tmp/unsaved.out") lines of error)"

# 2b. Saved, then thawed: the zone went on, so its worker's death fails the program at once too.
app thawed 30 0 --no-late
ctl checkpoint "$z" "$tmp/thawed.ckpt" --stop >/dev/null || fail "checkpoint --stop refused"
ctl thaw "$z" >/dev/null || fail "thaw refused"
sleep 0.3
pkill -KILL -P "$sup" -x "vgpu-zone-$z"
t0=$(date +%s%N)
wait "$apid" && fail "the program went on without its worker"
t1=$(date +%s%N)
grep -q "waiting up to" "$tmp/thawed.out" && fail "the program waited for a restore of a zone thawed after its save"
[ $(( (t1 - t0) / 1000000 )) -lt 20000 ] || fail "the program took $(( (t1 - t0) / 1000000 )) ms to fail"
pass "a zone saved and then thawed: its program failed when its worker died, without waiting"

# 3. A ring that moved on after the checkpoint restored: refused, with the reason.
app stale 30 0 --no-late
ctl checkpoint "$z" "$tmp/old.ckpt" --stop >/dev/null || fail "checkpoint --stop refused"
ctl thaw "$z" >/dev/null || fail "thaw refused"
sleep 0.5
ctl checkpoint "$z" "$tmp/new.ckpt" --stop >/dev/null || fail "the second checkpoint --stop was refused"
stop_all
start
out=$(ctl restore "$tmp/old.ckpt") || fail "restore of the older file failed: $out"
wait "$apid" && fail "the program went on with the state of an older checkpoint"
grep -q "refused this channel: the ring moved on after the checkpoint" "$tmp/stale.out" ||
  fail "the program did not report why it was refused"
grep -q "cannot rejoin: the ring moved on" "$tmp/p.log.new" || fail "the proxy did not log the refusal"
ctl stats | grep -q ' rejoin_wait=1 ' || fail "the restored zone does not show its channel still to rejoin: $(ctl stats)"
pass "a ring that moved on after the checkpoint restored is refused: $(grep -o 'refused this channel: .*' "$tmp/stale.out")"

kill -INT "$sup"
for _ in $(seq 100); do kill -0 "$sup" 2>/dev/null || break; sleep 0.1; done
cat "$tmp/p.log.new" >>"$tmp/p.log"
if grep -E "AddressSanitizer|runtime error|LeakSanitizer" "$tmp/p.log" "$tmp"/*.out; then fail "a sanitizer report"; fi
echo "rejoin: 4 scenarios passed"
