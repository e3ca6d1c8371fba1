#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Zones outlive their supervisor (vgpu-proxy --state-dir): a program streaming copies and
# launches, in a registered zone, runs across a SIGKILL of the supervisor and a new one
# started with the same options, then across a SIGTERM upgrade to a fresh copy of the
# binary, and then moved (vgpuctl migrate to the same proxy) from its old worker into a
# worker of the upgraded binary; its results are verified and it sees no error. The zone
# (id, worker, registration, memory) and the registration's budget are the same across the
# restarts. Then 20 restarts in
# a row leave one worker per zone, no fd or memory growth in it, and no stray supervisor;
# SIGINT ends every zone and leaves nothing in the state directory.
set -u
B=${VGPU_BUILD:-build/san}
case ${1:-} in
  --help) sed -n '3,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
esac
sim=$PWD/$B/sim/libcudasim.so
[ -f "$sim" ] || { echo "skip: $sim is not built"; exit 77; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vgpu-restart.XXXXXX")
sock=$tmp/run/proxy.sock
state=$tmp/state
app_pid=
sv_pid=
wpid=
cleanup() {
  [ -n "$app_pid" ] && kill -KILL "$app_pid" 2>/dev/null
  [ -n "$sv_pid" ] && kill -INT "$sv_pid" 2>/dev/null && wait "$sv_pid" 2>/dev/null
  [ -n "$wpid" ] && kill -KILL "$wpid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*"
  echo "--- the first and the last supervisor's logs:"; tail -n 30 "$tmp/sv1.log" "$tmp/sv$nsv.log"
  exit 1
}
pass() { echo "ok: $*"; }

bin=$PWD/$B/proxy/vgpu-proxy
nsv=0
start() { # start [BINARY [OPTIONS]]: a supervisor with the same options each time
  local b=${1:-$bin}
  shift $(( $# > 0 ? 1 : 0 ))
  nsv=$((nsv + 1))
  "$b" --listen "$sock" --backend sim --sim-lib "$sim" --state-dir "$state" --registry "$tmp/registry" \
    --require-registration --log-level info "$@" >"$tmp/sv$nsv.log" 2>&1 &
  sv_pid=$!
  for _ in $(seq 100); do grep -q "listening on" "$tmp/sv$nsv.log" && return 0; sleep 0.1; done
  fail "supervisor $nsv did not start"
}
ctl() { "$B/proxy/vgpuctl" --listen "$sock" "$@"; }
# The zone's lasting identity in --stats: id, name, worker, registration, memory held.
zone_line() { ctl stats | awk '$1 == "zone" { printf "zone %s", $2; for (i = 3; i <= NF; i++) if ($i ~ /^(name|worker|reg)=/) printf " %s", $i; print "" }'; }
adopted() { # wait for the newest supervisor to say it adopted the zones
  for _ in $(seq 50); do grep -q "adopted from" "$tmp/sv$nsv.log" && return 0; sleep 0.1; done
  return 1
}
workers() { pgrep -c -f '^vgpu-zone-' 2>/dev/null || pgrep -c 'vgpu-zone-' ; }

start
tok=$(ctl register pod1 --mem 256M) || fail "register"
export VGPU_PROXY=$sock VGPU_ZONE_TOKEN=$tok LD_LIBRARY_PATH=$PWD/$B/libvgpu VGPU_LOG=1
"$B/tests/restart/stream_app" "$PWD/$B/tests/kernels/basic.fatbin" 10 0 --until "$tmp/app.stop" >"$tmp/app.out" 2>&1 &
app_pid=$!
for _ in $(seq 100); do [ -n "$(ctl stats 2>/dev/null)" ] && break; sleep 0.1; done
sleep 1
before=$(zone_line)
[ -n "$before" ] || fail "the zone does not show in --stats"
list_before=$(ctl list)

kill -KILL "$sv_pid"; wait "$sv_pid" 2>/dev/null
sleep 0.5
kill -0 "$app_pid" 2>/dev/null || fail "the program ended with the supervisor: $(cat "$tmp/app.out")"
start
adopted || fail "the new supervisor adopted nothing"
after=$(zone_line)
[ "$after" = "$before" ] || fail "the zone changed across a SIGKILL restart: '$before' -> '$after'"
[ "$(ctl list | awk '{print $1, $2, $3}')" = "$(awk '{print $1, $2, $3}' <<<"$list_before")" ] || fail "the registration changed: '$list_before' -> '$(ctl list)'"
pass "supervisor SIGKILLed and restarted: zone, worker, registration and budget kept ($after)"

cp "$bin" "$tmp/vgpu-proxy-new"
kill -TERM "$sv_pid"; wait "$sv_pid"
grep -q "left running for the next supervisor" "$tmp/sv$nsv.log" || fail "SIGTERM did not leave the zones"
start "$tmp/vgpu-proxy-new"
adopted || fail "the upgraded supervisor adopted nothing"
[ "$(zone_line)" = "$before" ] || fail "the zone changed across the upgrade"
pass "SIGTERM upgrade to a fresh binary: the zone adopted as it was"
# Its worker still runs the old binary: moving the zone to this same proxy puts it in a new
# worker of the upgraded one (forked by the new supervisor), the program running on.
zid=$(ctl stats | awk '$1 == "zone" { print $2; exit }')
old_w=$(ctl stats | awk '$1 == "zone" { for (i = 3; i <= NF; i++) if ($i ~ /^worker=/) print substr($i, 8); exit }')
out=$(ctl migrate "$zid" --to "$sock.ctl") || fail "moving the zone into a worker of the upgraded binary failed: $out"
# the old worker exits once it has handed the zone over; the supervisor sees it go
for _ in $(seq 50); do [ "$(ctl stats | grep -c '^zone ')" = 1 ] && break; sleep 0.1; done
[ "$(ctl stats | grep -c '^zone ')" = 1 ] || fail "not one zone after the move: $(ctl stats)"
new_w=$(ctl stats | awk '$1 == "zone" { for (i = 3; i <= NF; i++) if ($i ~ /^worker=/) print substr($i, 8); exit }')
[ -n "$new_w" ] && [ "$new_w" != "$old_w" ] || fail "the zone is still in worker $old_w"
[ "$(readlink "/proc/$new_w/exe")" = "$tmp/vgpu-proxy-new" ] || fail "worker $new_w runs $(readlink "/proc/$new_w/exe"), not the upgraded binary"
for _ in $(seq 50); do kill -0 "$old_w" 2>/dev/null || break; sleep 0.1; done
kill -0 "$old_w" 2>/dev/null && fail "the old worker $old_w did not exit after handing the zone over"
pass "the zone moved from worker $old_w (old binary) into worker $new_w of the upgraded binary: $(head -n 1 <<<"$out")"

touch "$tmp/app.stop"
wait "$app_pid"; rc=$?; app_pid=
[ $rc -eq 0 ] || fail "the program failed across the restarts (exit $rc): $(cat "$tmp/app.out")"
grep -Eq "rounds verified, and a late thread's ([5-9]|[1-9][0-9]+)" "$tmp/app.out" || fail "unexpected output: $(cat "$tmp/app.out")"
pass "the program ran on, all rounds verified, a thread started after a restart joined: $(cat "$tmp/app.out")"

# 20 restarts under an idle zone: nothing accumulates.
mkfifo "$tmp/hold.in"
"$B/tests/isolation/zone_hold" 1048576 <"$tmp/hold.in" >"$tmp/hold.out" 2>&1 &
app_pid=$!
exec 7>"$tmp/hold.in"
for _ in $(seq 100); do grep -q ready "$tmp/hold.out" && break; sleep 0.1; done
grep -q ready "$tmp/hold.out" || fail "zone_hold did not start: $(cat "$tmp/hold.out")"
wpid=$(ctl stats | grep -o 'worker=[0-9]*' | tail -n 1 | cut -d= -f2)
nfd0=$(ls /proc/"$wpid"/fd | wc -l)
rss0=$(awk '/VmRSS/ {print $2}' /proc/"$wpid"/status)
budget0=$(ctl list | grep '^reg pod1')   # limits, zones, bytes and handles charged to the budget
grep -q ' zones=1 used=[1-9]' <<<"$budget0" || fail "the registration's budget does not show the live zone: $budget0"
for i in $(seq 20); do
  if [ $((i % 2)) -eq 0 ]; then kill -KILL "$sv_pid"; else kill -TERM "$sv_pid"; fi
  wait "$sv_pid" 2>/dev/null
  start
  adopted || fail "restart $i: nothing adopted"
done
[ "$(ctl stats | grep -c '^zone ')" -eq 1 ] || fail "after 20 restarts: not exactly the one live zone: $(ctl stats)"
nfd1=$(ls /proc/"$wpid"/fd | wc -l)
rss1=$(awk '/VmRSS/ {print $2}' /proc/"$wpid"/status)
[ "$nfd1" -eq "$nfd0" ] || fail "the worker's fds went from $nfd0 to $nfd1 over 20 restarts"
[ "$rss1" -le $((rss0 + 4096)) ] || fail "the worker's memory went from $rss0 to $rss1 KiB over 20 restarts"
budget1=$(ctl list | grep '^reg pod1')
[ "$budget1" = "$budget0" ] || fail "the registration's budget changed over 20 restarts: '$budget0' -> '$budget1'"
# supervisors (workers rename themselves vgpu-zone-N) of this test, not other proxies on the machine
nsup=$(for p in $(pgrep -x vgpu-proxy); do grep -qaF -- "$sock" /proc/"$p"/cmdline 2>/dev/null && echo "$p"; done | wc -l)
[ "$nsup" -eq 1 ] || fail "$nsup supervisors running after 20 restarts"
echo "go" >&7; exec 7>&-
wait "$app_pid"; rc=$?; app_pid=
[ $rc -eq 0 ] || fail "zone_hold failed after 20 restarts: $(cat "$tmp/hold.out")"
pass "20 restarts: the one live zone, the worker's fds $nfd0 -> $nfd1, memory $rss0 -> $rss1 KiB, one supervisor, the budget as it was ($budget1)"

# SIGINT ends everything: no worker, no state socket left.
kill -INT "$sv_pid"; wait "$sv_pid"; sv_pid=
sleep 0.5
left=$(ls "$state" | wc -l)
[ "$left" -eq 0 ] || fail "state directory not empty after SIGINT: $(ls "$state")"
if grep -E "AddressSanitizer|runtime error|LeakSanitizer" "$tmp"/sv*.log; then fail "a sanitizer report"; fi
pass "SIGINT ended every zone; the state directory is empty"

# A worker no supervisor adopts within --adopt-timeout ends its zone.
start "$bin" --adopt-timeout 1
tok=$(ctl list | awk '/^reg pod1/ {print "ok"}')
[ -n "$tok" ] || fail "the registration did not survive"
mkfifo "$tmp/hold2.in"
"$B/tests/isolation/zone_hold" 1048576 <"$tmp/hold2.in" >"$tmp/hold2.out" 2>&1 &
app_pid=$!
exec 7>"$tmp/hold2.in"
for _ in $(seq 100); do grep -q ready "$tmp/hold2.out" && break; sleep 0.1; done
wpid=$(ctl stats | grep -o 'worker=[0-9]*' | tail -n 1 | cut -d= -f2)
kill -KILL "$sv_pid"; wait "$sv_pid" 2>/dev/null; sv_pid=
for _ in $(seq 50); do kill -0 "$wpid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$wpid" 2>/dev/null && fail "the orphaned worker $wpid is still there 5 s after a 1 s --adopt-timeout"
echo "go" >&7; exec 7>&-
wait "$app_pid"; rc=$?; app_pid=
[ $rc -eq 3 ] || fail "zone_hold should have lost its zone (exit 3), got $rc: $(cat "$tmp/hold2.out")"
[ "$(ls "$state" | wc -l)" -eq 0 ] || fail "state directory not empty after the timeout: $(ls "$state")"
pass "an orphaned worker ended its zone after --adopt-timeout; its client saw the channel closed"
echo "PASS: zones outlive their supervisor"
