#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Checkpoint, restore and migration of a zone between two proxies on one machine (two
# "nodes", each with its own --state-dir): a program streaming copies and launches while it
# holds 64 MiB of device memory (its context made over another one it created, and a third
# pushed over both for 100 ms every round: a checkpoint carries each thread's context stack) is
# checkpointed while it runs, stopped and thawed, moved
# from proxy A to proxy B with checkpoint --stop + restore (a thread it starts then joins the
# zone on B through A's redirect), and back with migrate, both channels moving; its results
# and the held memory are verified and it sees no error, and its registration's budget
# follows it. A zone writing a module global (its address kept), one copying through
# pinned host memory, one using memory pools, one launching a graph and one using virtual
# memory management move there and back
# (one whose executable graph was changed in a way checkpoints do not follow is refused). With
# --checkpoint-globals copy (as on a GPU) a global's value moves by name and a zone holding a
# global's address moves with the old address translated to the reloaded module's. An nvcc-built
# CUDA runtime program is moved there and back too, and a zone on the second of two devices
# with blocking launches (CUDA_VISIBLE_DEVICES=1 CUDA_LAUNCH_BLOCKING=1) keeps both; stream-ordered
# memory a zone made on device 1 of two, in a context since destroyed, comes back on device 1.
# Corrupted, truncated, foreign and future-version checkpoint files are refused with a clear
# error and leave
# the receiving proxy without a zone. Prints the measured pause.
set -u
B=${VGPU_BUILD:-build/san}
case ${1:-} in
  --help) sed -n '3,/^set -u/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
esac
sim=$PWD/$B/sim/libcudasim.so
[ -f "$sim" ] || { echo "skip: $sim is not built"; exit 77; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vgpu-migrate.XXXXXX")
app_pid=
pa=
pb=
pc=
pd=
cleanup() {
  [ -n "$app_pid" ] && kill -KILL "$app_pid" 2>/dev/null
  for p in $pa $pb $pc $pd; do kill -INT "$p" 2>/dev/null; done
  for p in $pa $pb $pc $pd; do wait "$p" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*"
  for n in a b c d; do
    [ -f "$tmp/$n.log" ] && { echo "--- proxy $n:"; tail -n 25 "$tmp/$n.log"; }
  done
  echo "--- program:"; cat "$tmp/app.out"
  exit 1
}
pass() { echo "ok: $*"; }

start() { # start NAME [OPTION...]: a proxy listening on $tmp/NAME.sock with state in $tmp/state-NAME
  local n=$1
  shift
  "$PWD/$B/proxy/vgpu-proxy" --listen "$tmp/$n.sock" --backend sim --sim-lib "$sim" \
    --state-dir "$tmp/state-$n" --require-registration --log-level info "$@" >"$tmp/$n.log" 2>&1 &
  eval "p$n=$!"
  for _ in $(seq 100); do grep -q "listening on" "$tmp/$n.log" && return 0; sleep 0.1; done
  fail "proxy $n did not start"
}
ctl() { local n=$1; shift; "$B/proxy/vgpuctl" --listen "$tmp/$n.sock" "$@"; }
zone_of() { ctl "$1" stats | awk '$1 == "zone" { print $2; exit }'; }
calls_of() { ctl "$1" stats | grep -o ' calls=[0-9]*' | head -n 1 | cut -d= -f2; }
nzones() { ctl "$1" stats | awk '$1 == "zones" { print $2 }'; }

start a
start b
# The pod's registration exists on both nodes (the orchestrator makes it where the pod may run).
tok=$(ctl a register pod1 --mem 256M) || fail "register on A"
ctl b register pod1 --mem 256M >/dev/null || fail "register on B"
export VGPU_PROXY=$tmp/a.sock LD_LIBRARY_PATH=$PWD/$B/libvgpu VGPU_LOG=1 VGPU_ZONE_TOKEN=$tok
"$B/tests/restart/stream_app" "$PWD/$B/tests/kernels/basic.fatbin" 26 $((64 << 20)) --timing --late-on-signal --idle-primary --hold-pushed 100 --stacked --until "$tmp/app.stop" \
  >"$tmp/app.out" 2>&1 &
app_pid=$!
for _ in $(seq 100); do [ -n "$(zone_of a)" ] && break; sleep 0.1; done
za=$(zone_of a)
[ -n "$za" ] || fail "the program's zone does not show on proxy A"
sleep 1

# A checkpoint while the program runs: written, private, and the zone goes on.
out=$(ctl a checkpoint "$za" "$tmp/snap.ckpt") || fail "checkpoint refused: $out"
grep -q "1 channels" <<<"$out" || fail "unexpected checkpoint summary: $out"
[ "$(stat -c %a "$tmp/snap.ckpt")" = 600 ] || fail "the checkpoint (it holds the zone's token) is not mode 0600"
c0=$(calls_of a); sleep 0.5; c1=$(calls_of a)
[ "$c1" -gt "$c0" ] || fail "the zone did not go on after a checkpoint ($c0 -> $c1 calls)"
pass "checkpoint of a running zone: $out"

# Hostile requests on the zone's state socket (anyone who can reach STATE_DIR): each is closed
# or refused with its reason, the worker keeps no fd of them, and the zone goes on, unstopped.
wpid=$(grep -o "zone $za '[^']*' connected from pid [0-9]*: worker [0-9]*" "$tmp/a.log" | head -n 1 | awk '{ print $NF }')
[ -n "$wpid" ] || fail "proxy A did not log the zone's worker"
nfd0=$(ls /proc/"$wpid"/fd | wc -l)
poke() { # KIND EXPECTED
  local o
  o=$("$B/tests/migrate/state_poke" "$tmp/state-a/zone-$za.sock" "$1" 2>&1) || fail "state socket, $1: $o"
  grep -q "$2" <<<"$o" || fail "state socket, $1: expected '$2', got: $o"
}
for k in short oversize version magic ckpt-nofd ckpt-2fds thaw-fds adopt; do poke "$k" "^closed"; done
poke take-token "status=-13 msg=not this zone's token"
poke ckpt-rdonly "status=-9 msg=writing the checkpoint failed"
poke silent "^closed after 1[0-9][0-9][0-9] ms"
kill -0 "$wpid" 2>/dev/null || fail "the worker died of a hostile state-socket request"
nfd1=$(ls /proc/"$wpid"/fd | wc -l)
[ "$nfd1" = "$nfd0" ] || fail "the worker's open fds went $nfd0 -> $nfd1 across the hostile requests"
c0=$(calls_of a); sleep 0.5; c1=$(calls_of a)
[ "$c1" -gt "$c0" ] || fail "the zone did not go on after the hostile requests ($c0 -> $c1 calls)"
pass "11 hostile state-socket requests closed or refused (wrong size, version, magic, fd count, token, a read-only file, silence); the worker kept $nfd0 fds and the zone went on"

# Hostile restore commands on B's control socket: each answered with its reason, B keeps no
# descriptor of them and has no zone.
sfd0=$(ls /proc/"$pb"/fd | wc -l)
cpoke() { # KIND EXPECTED
  local o
  o=$("$B/tests/migrate/state_poke" --ctl "$tmp/b.sock.ctl" "$1" 2>&1) || fail "restore command $1: $o"
  grep -q "$2" <<<"$o" || fail "restore command $1: expected '$2', got: $o"
}
cpoke restore-pipe "neither a regular file nor a stream"
cpoke restore-garbage "not a vgpu checkpoint"
cpoke restore-empty "not a vgpu checkpoint"
cpoke restore-2fds "not a vgpu checkpoint"
cpoke restore-replace-bad "replace= expects a zone id"
cpoke restore-nofd "error unknown command 'restore-fd'"
cpoke restore-relative "expected the checkpoint's absolute path"
cpoke restore-dir "neither a regular file nor a stream"
sfd1=$(ls /proc/"$pb"/fd | wc -l)
[ "$sfd1" = "$sfd0" ] || fail "proxy B's open fds went $sfd0 -> $sfd1 across the hostile restore commands"
[ "$(nzones b)" = 0 ] || fail "a hostile restore command left a zone on proxy B: $(ctl b stats)"
pass "8 hostile restore commands (a pipe, garbage or nothing on the stream, two descriptors, a bad replace=, none, a relative path, a directory) refused with their reason; B kept $sfd0 fds and no zone"

# Bad files are refused by B with a reason, and B is left without a zone.
refused() { # FILE EXPECTED-REASON WHAT
  local o
  if o=$(ctl b restore "$1" 2>&1); then fail "$3 was restored: $o"; fi
  grep -q "$2" <<<"$o" || fail "$3: unexpected refusal: $o"
  [ "$(nzones b)" = 0 ] || fail "$3 left a zone on proxy B: $(ctl b stats)"
  pass "$3 refused: ${o#vgpuctl: }"
}
cp "$tmp/snap.ckpt" "$tmp/corrupt.ckpt"
printf '\xff\xfe' | dd of="$tmp/corrupt.ckpt" bs=1 seek=$(( $(stat -c %s "$tmp/snap.ckpt") / 2 )) conv=notrunc 2>/dev/null
refused "$tmp/corrupt.ckpt" "checksum mismatch" "a corrupted checkpoint"
head -c $(( $(stat -c %s "$tmp/snap.ckpt") - 4096 )) "$tmp/snap.ckpt" >"$tmp/short.ckpt"
refused "$tmp/short.ckpt" "truncated or extended" "a truncated checkpoint"
head -c 70000 /dev/urandom >"$tmp/foreign.ckpt"
refused "$tmp/foreign.ckpt" "not a vgpu checkpoint" "a foreign file"
cp "$tmp/snap.ckpt" "$tmp/future.ckpt"
printf '\x09' | dd of="$tmp/future.ckpt" bs=1 seek=8 conv=notrunc 2>/dev/null
refused "$tmp/future.ckpt" "format version 9" "a checkpoint of a future format"
: >"$tmp/empty.ckpt"
refused "$tmp/empty.ckpt" "not a vgpu checkpoint" "an empty file"
# The snapshot is sound, but its zone runs on A: its channels cannot be taken, nothing restored.
refused "$tmp/snap.ckpt" "zone is running" "a checkpoint of a zone still running elsewhere"
kill -0 "$app_pid" 2>/dev/null || fail "the program ended"

# vgpuctl inspect checks a file offline (no proxy asked) by the restore's rules: the sound
# snapshot passes and says what it holds (not the zone's token), and each bad file above is
# refused with the restore's reason and exit status 1.
out=$("$B/proxy/vgpuctl" inspect "$tmp/snap.ckpt" 2>&1) || fail "vgpuctl inspect refused a sound checkpoint: $out"
grep -q "format version 2, $(stat -c %s "$tmp/snap.ckpt") bytes; every record and the checksum check out" <<<"$out" &&
	grep -q "registration   pod1" <<<"$out" && grep -Eq "allocations    [1-9][0-9]*, [1-9]" <<<"$out" &&
	grep -q "taken on       the simulator" <<<"$out" || fail "vgpuctl inspect: unexpected report: $out"
! grep -Eq '[0-9a-f]{32}' <<<"$out" || fail "vgpuctl inspect printed something like a token: $out"
for bad in "corrupt:checksum mismatch" "short:truncated or extended" "foreign:not a vgpu checkpoint" \
	   "future:format version 9" "empty:not a vgpu checkpoint"; do
	rc=0; o=$("$B/proxy/vgpuctl" inspect "$tmp/${bad%%:*}.ckpt" 2>&1) || rc=$?
	[ "$rc" = 1 ] && grep -q "${bad#*:}" <<<"$o" || fail "vgpuctl inspect ${bad%%:*}.ckpt: exit $rc: $o"
done
rc=0; o=$("$B/proxy/vgpuctl" inspect "$tmp/no-such.ckpt" 2>&1) || rc=$?
[ "$rc" = 2 ] && grep -q "cannot open" <<<"$o" || fail "vgpuctl inspect of a missing file: exit $rc: $o"
pass "vgpuctl inspect: the sound checkpoint checks out offline ($(grep -o 'allocations .*' <<<"$out")); corrupted, truncated, foreign, future-format and empty files refused with their reasons"

# Stopped means stopped; thaw lets it go on.
out=$(ctl a checkpoint "$za" "$tmp/stop.ckpt" --stop) || fail "checkpoint --stop refused: $out"
sleep 0.2; c0=$(calls_of a); sleep 0.5; c1=$(calls_of a)
[ "$c1" = "$c0" ] || fail "the zone made calls while stopped ($c0 -> $c1)"
ctl a thaw "$za" >/dev/null || fail "thaw refused"
sleep 0.5; c2=$(calls_of a)
[ "$c2" -gt "$c1" ] || fail "the zone did not go on after thaw ($c1 -> $c2 calls)"
pass "checkpoint --stop stops the zone between two calls ($c0 calls, unchanged for 0.5 s); thaw lets it go on"

# A -> B: checkpoint --stop, restore on B (which takes the zone's channel over).
ctl a checkpoint "$za" "$tmp/move.ckpt" --stop >/dev/null || fail "checkpoint --stop refused"
out=$(ctl b restore "$tmp/move.ckpt") || fail "restore on B failed: $out"
grep -q "1 channels taken over" <<<"$out" || fail "unexpected restore summary: $out"
for _ in $(seq 50); do [ "$(nzones a)" = 0 ] && break; sleep 0.1; done
[ "$(nzones a)" = 0 ] || fail "the zone is still on proxy A after its restore on B: $(ctl a stats)"
zb=$(zone_of b)
c0=$(calls_of b); sleep 0.5; c1=$(calls_of b)
[ "$c1" -gt "$c0" ] || fail "the program makes no calls on proxy B ($c0 -> $c1)"
pass "moved A -> B with checkpoint --stop + restore: $out"
# Its registration's budget moved with it: charged on B, released on A.
ctl b stats | grep -q ' reg=pod1' || fail "the restored zone is not under registration pod1 on B: $(ctl b stats)"
used_b=$(ctl b list | awk '$2 == "pod1" { for (i = 3; i <= NF; i++) if ($i ~ /^used=/) print substr($i, 6) }')
[ "${used_b:-0}" -ge $((64 << 20)) ] || fail "registration pod1 on B is not charged the zone's memory: $(ctl b list)"
ctl a list | grep -q '^reg pod1 .* zones=0 used=0 ' || fail "registration pod1 on A still holds the zone: $(ctl a list)"
pass "the zone's memory moved to registration pod1's budget on B ($used_b bytes) and left A's"

# The program's thread started now (SIGUSR1: after the move however long the steps before
# took) opens its channel where VGPU_PROXY says, at A: A tells it the zone moved to B, and it
# joins there.
kill -USR1 "$app_pid"
for _ in $(seq 100); do ctl b stats | grep -q ' channels=2 ' && break; sleep 0.1; done
ctl b stats | grep -q ' channels=2 ' || fail "the program's late thread did not join the zone on B: $(ctl b stats)"
grep -q "its zone moved to another proxy" "$tmp/a.log" || fail "proxy A did not send the late thread to B"
pass "a thread started after the move joined the zone on B (A redirected its JOIN)"

# B -> A in one command, its pause measured: both channels move.
out=$(ctl b migrate "$zb" --to "$tmp/a.sock.ctl") || fail "migrate B -> A failed: $out"
grep -q "2 channels taken over" <<<"$out" || fail "not both channels moved: $out"
pause=$(grep -o 'paused at most [0-9.]* ms' <<<"$out" | grep -o '[0-9.]*')
[ -n "$pause" ] || fail "migrate did not report the pause: $out"
for _ in $(seq 50); do [ "$(nzones b)" = 0 ] && break; sleep 0.1; done
[ "$(nzones b)" = 0 ] && [ "$(nzones a)" = 1 ] || fail "after migrate B -> A: A has $(nzones a) zones, B $(nzones b)"
pass "migrated B -> A: $(tr '\n' ' ' <<<"$out")"

# A zone holding the address of a module global moves there and back: the restored module's
# global takes its old address (the simulator can place it; a GPU driver cannot, and the
# checkpoint is refused there), written every round and read by the module's kernel. One
# copying through pinned host memory moves with it (its regions are handed over with the
# channels, same ids) and back.
zmain=$(zone_of a)
others() { ctl a stats | awk -v m="$zmain" '$1 == "zone" && $2 != m { print $2; exit }'; }
side() { # side OUT ARGS...: a second stream_app on A; sets spid and szone
  local out=$1
  shift
  "$B/tests/restart/stream_app" "$PWD/$B/tests/kernels/basic.fatbin" "$@" >"$out" 2>&1 &
  spid=$!
  for _ in $(seq 100); do [ -n "$(others)" ] && break; sleep 0.1; done
  szone=$(others)
  [ -n "$szone" ] || fail "the zone of stream_app $* does not show"
}
# there_and_back NAME WHAT FLAG [CHECK_ON_B]: stream_app FLAG on A, moved to B (where
# CHECK_ON_B, a command, must hold) and back while it runs; it must finish verified.
there_and_back() {
  local name=$1 what=$2 flag=$3 check=${4:-}
  for _ in $(seq 50); do [ -z "$(others)" ] && break; sleep 0.1; done
  side "$tmp/$name.out" 4 0 --no-late "$flag" --until "$tmp/$name.stop"
  local pid=$spid z=$szone out out2
  sleep 0.5
  out=$(ctl a migrate "$z" --to "$tmp/b.sock.ctl") || fail "migrating a zone $what failed: $out"
  [ -z "$check" ] || eval "$check" || fail "on B, '$check' does not hold: $(ctl b stats)"
  sleep 0.5
  out2=$(ctl b migrate "$(zone_of b)" --to "$tmp/a.sock.ctl") || fail "migrating it back failed: $out2"
  touch "$tmp/$name.stop"
  wait "$pid" || fail "the program $what failed across the moves: $(cat "$tmp/$name.out")"
  pass "a zone $what moved A -> B -> A: $(cat "$tmp/$name.out")"
}
there_and_back global "writing a module global every round, read by its kernel," --global
there_and_back pinned "copying through pinned host memory (its region moving with it)" --pinned \
  "ctl b stats | grep -q ' pinned=1048576 '"
# Memory pools move too: the default pool's release threshold, a created pool (same handle,
# its attributes) that is the device's current pool, both allocating every round.
there_and_back pools "with memory pools (a default pool's threshold, a created pool made current, both allocating)" --pools
# A graph built by capture (memset, kernel, device copy) plus an empty node and a child graph
# (a memset), kept with its
# executable graph and its node handles: rebuilt node by node at the same slots, and the
# executable graph instantiated again from the copy of its graph kept since it was made.
there_and_back graph "with a graph and its executable graph (memset, kernel, copy, empty and child graph nodes), launched every round," --graph
# Virtual memory management: a reservation, two physical allocations (one released while
# mapped, one mapped from an offset), written and read every round, the handle a mapping
# retains and its properties checked, one more reference to it held across the moves (the
# driver must count it too); the zone names its allocations by ids a restore keeps.
there_and_back vmm "with virtual memory management (a reservation, a physical allocation released while mapped, one mapped from an offset)," --vmm
# Device output the zone has not taken yet moves with it: a kernel's printf waits in A's
# worker (the program makes no call), the zone moves to B, and the program's next call brings
# the text from B, once.
for _ in $(seq 50); do [ -z "$(others)" ] && break; sleep 0.1; done
side "$tmp/printf.out" 1 0 --no-late --printf-on-signal
for _ in $(seq 100); do grep -q "waiting for SIGUSR1" "$tmp/printf.out" && break; sleep 0.1; done
out=$(ctl a migrate "$szone" --to "$tmp/b.sock.ctl") || fail "migrating a zone with untaken device output failed: $out"
grep -q "kernel says" "$tmp/printf.out" && fail "the device output reached the program before it made a call"
kill -USR1 "$spid"
wait "$spid" || fail "the program with untaken device output failed after the move: $(cat "$tmp/printf.out")"
[ "$(grep -c '^kernel says 4242$' "$tmp/printf.out")" = 1 ] ||
  fail "the device output did not reach the program once after the move: $(cat "$tmp/printf.out")"
pass "device output not yet taken moved with its zone A -> B and reached the program once there"
# An executable graph changed in a way checkpoints do not follow is refused, naming the call,
# and the zone goes on.
for _ in $(seq 50); do [ -z "$(others)" ] && break; sleep 0.1; done
side "$tmp/gchanged.out" 2 0 --no-late --graph-set-enabled --until "$tmp/gchanged.stop"
for _ in $(seq 100); do grep -q "executable graph changed" "$tmp/gchanged.out" && break; sleep 0.1; done
if out=$(ctl a checkpoint "$szone" "$tmp/gchanged.ckpt" 2>&1); then fail "a changed executable graph was checkpointed: $out"; fi
grep -q "changed by cuGraphNodeSetEnabled" <<<"$out" || fail "unexpected refusal of a changed executable graph: $out"
touch "$tmp/gchanged.stop"
wait "$spid" || fail "the program with a changed executable graph failed after the refused checkpoint: $(cat "$tmp/gchanged.out")"
pass "an executable graph changed by cuGraphNodeSetEnabled is refused: ${out#vgpuctl: }"
# A zone with a conditional graph node is refused, saying why, and goes on.
for _ in $(seq 50); do [ -z "$(others)" ] && break; sleep 0.1; done
side "$tmp/gcond.out" 2 0 --no-late --graph-conditional --until "$tmp/gcond.stop"
for _ in $(seq 100); do grep -q "conditional node made" "$tmp/gcond.out" && break; sleep 0.1; done
if out=$(ctl a checkpoint "$szone" "$tmp/gcond.ckpt" 2>&1); then fail "a zone with a conditional node was checkpointed: $out"; fi
grep -q "conditional graph nodes" <<<"$out" || fail "unexpected refusal of a zone with a conditional node: $out"
touch "$tmp/gcond.stop"
wait "$spid" || fail "the program with a conditional node failed after the refused checkpoint: $(cat "$tmp/gcond.out")"
pass "a zone with a conditional graph node is refused: ${out#vgpuctl: }"

touch "$tmp/app.stop"
wait "$app_pid"; rc=$?; app_pid=
[ $rc -eq 0 ] || fail "the program failed across the moves (exit $rc)"
grep -Eq "rounds verified, and a late thread.s ([5-9]|[1-9][0-9]+), held memory intact" "$tmp/app.out" || fail "unexpected program output"
pass "the program ran on across 3 moves, every round, its late thread's and its 64 MiB verified: $(cat "$tmp/app.out")"
# An unmodified CUDA runtime program (nvcc defaults, the runtime linked statically): its
# zone holds what the runtime made (primary context, its module and kernels, a stream, an
# event) and 64 MiB; moved A -> B -> A while it runs, every round and the memory verified.
for _ in $(seq 50); do [ "$(nzones a)" = 0 ] && break; sleep 0.1; done
"$B/tests/migrate/rt_loop" 4 --until "$tmp/rt.stop" >"$tmp/rt.out" 2>&1 &
rt_pid=$!
# once it is past its start-up (the runtime loads its module on the first launch)
for _ in $(seq 200); do [ "$(calls_of a 2>/dev/null || echo 0)" -gt 300 ] 2>/dev/null && break; sleep 0.1; done
out=$(ctl a migrate "$(zone_of a)" --to "$tmp/b.sock.ctl") || fail "migrating the runtime program A -> B failed: $out"
sleep 1
out2=$(ctl b migrate "$(zone_of b)" --to "$tmp/a.sock.ctl") || fail "migrating the runtime program B -> A failed: $out2"
touch "$tmp/rt.stop"
wait "$rt_pid" || fail "the runtime program failed across the moves: $(cat "$tmp/rt.out")"
grep -q "rounds verified, globals kept, graph launched every round, held memory intact" "$tmp/rt.out" || fail "unexpected runtime program output: $(cat "$tmp/rt.out")"
pass "a CUDA runtime program (static cudart) moved A -> B -> A while running: $(grep -o 'paused at most [0-9.]* ms' <<<"$out$out2" | tr '\n' ' ')- $(cat "$tmp/rt.out")"

# Module globals as on a GPU driver, which cannot put a module's global at a given address:
# two more proxies with --checkpoint-globals copy. A zone whose kernels count in a module
# global it never asked the address of moves C -> D -> C, the global's value going by name
# into the restored module's own (the program checks the count every round: a global back at
# its initial value fails it). A zone that took a global's address moves there and back too:
# the reloaded module has the global elsewhere, and the worker translates the old address
# wherever the zone names it (copies, a 2D copy, a kernel's parameter, the address asked for
# again: stream_app --global checks each every round), as does the nvcc-built runtime
# program, whose runtime took its __constant__'s and __device__ global's addresses.
VGPU_SIM_DEVICES=2 start c --checkpoint-globals copy   # (two devices each: the devices case below)
VGPU_SIM_DEVICES=2 start d --checkpoint-globals copy
tok2=$(ctl c register pod2 --mem 256M) || fail "register on C"
ctl d register pod2 --mem 256M >/dev/null || fail "register on D"
# cd_there_and_back NAME WHAT CALLS PROGRAM ARGS...: PROGRAM on C, moved to D once its zone
# made CALLS calls (past its start-up), and back, while it runs
cd_there_and_back() {
  local name=$1 what=$2 calls=$3 out out2 gpid
  shift 3
  for _ in $(seq 50); do [ -z "$(zone_of c)" ] && break; sleep 0.1; done
  VGPU_PROXY=$tmp/c.sock VGPU_ZONE_TOKEN=$tok2 "$@" --until "$tmp/$name.stop" >"$tmp/$name.out" 2>&1 &
  gpid=$!
  for _ in $(seq 100); do [ -n "$(zone_of c)" ] && break; sleep 0.1; done
  sleep 0.5
  for _ in $(seq 200); do [ "$(calls_of c 2>/dev/null || echo 0)" -gt "$calls" ] 2>/dev/null && break; sleep 0.1; done
  out=$(ctl c migrate "$(zone_of c)" --to "$tmp/d.sock.ctl") ||
    fail "migrating a zone $what C -> D failed: $out; the program: $(cat "$tmp/$name.out")"
  sleep 0.5
  out2=$(ctl d migrate "$(zone_of d)" --to "$tmp/c.sock.ctl") ||
    fail "migrating it back D -> C failed: $out2; the program: $(cat "$tmp/$name.out")"
  touch "$tmp/$name.stop"
  wait "$gpid" || fail "the program $what failed across the moves: $(cat "$tmp/$name.out")"
  pass "a zone $what moved C -> D -> C: $(cat "$tmp/$name.out")"
}
cd_there_and_back gval "counting in a module global, its value carried by name," 0 \
  "$B/tests/restart/stream_app" "$PWD/$B/tests/kernels/basic.fatbin" 4 0 --no-late --global-value
cd_there_and_back gaddr "holding a module global's address, translated where the reloaded module has it," 0 \
  "$B/tests/restart/stream_app" "$PWD/$B/tests/kernels/basic.fatbin" 4 0 --no-late --global
grep -q "module global dev_counter: known to the zone at 0x[0-9a-f]*, its module has it at 0x[0-9a-f]*; translated" \
  "$tmp/d.log" || fail "D did not translate the zone's module global: $(grep -i global "$tmp/d.log" | tail -3)"
# Stream-ordered memory on the second device, in a context since destroyed: no context owns
# it, so its checkpoint record names its device, and it must come back on that device
# (stream_app checks the pointer's device every round).
cd_there_and_back pools1 "with stream-ordered memory of a destroyed context on device 1 of two," 0 \
  "$B/tests/restart/stream_app" "$PWD/$B/tests/kernels/basic.fatbin" 4 0 --no-late --pools --device 1
cd_there_and_back rtcopy "of the CUDA runtime program (static cudart), its runtime holding module globals' addresses," 300 \
  "$B/tests/migrate/rt_loop" 4
grep -q "rounds verified, globals kept, graph launched every round, held memory intact" "$tmp/rtcopy.out" ||
  fail "unexpected runtime program output on C: $(cat "$tmp/rtcopy.out")"

# A zone whose program chose the second of two devices (CUDA_VISIBLE_DEVICES=1, its device 0)
# and blocking launches (CUDA_LAUNCH_BLOCKING=1) moves with those choices: the restoring
# worker starts its driver with the same device and setting, and a checkpoint of it is
# refused by a proxy that has one device, saying why.
for _ in $(seq 50); do [ -z "$(zone_of c)" ] && break; sleep 0.1; done
CUDA_VISIBLE_DEVICES=1 CUDA_LAUNCH_BLOCKING=1 VGPU_PROXY=$tmp/c.sock VGPU_ZONE_TOKEN=$tok2 \
  "$B/tests/restart/stream_app" "$PWD/$B/tests/kernels/basic.fatbin" 4 0 --no-late --until "$tmp/devices.stop" >"$tmp/devices.out" 2>&1 &
gpid=$!
for _ in $(seq 100); do [ -n "$(zone_of c)" ] && break; sleep 0.1; done
sleep 0.5
out=$(ctl c checkpoint "$(zone_of c)" "$tmp/devices.ckpt") || fail "checkpointing the zone on device 1 failed: $out"
out=$(ctl c migrate "$(zone_of c)" --to "$tmp/d.sock.ctl") || fail "migrating the zone on device 1 C -> D failed: $out"
grep -q "its driver starts with CUDA_VISIBLE_DEVICES=1\$" "$tmp/d.log" ||
  fail "D did not start the zone's driver on the device it had: $(grep -i 'devices' "$tmp/d.log" | tail -3)"
grep -q "the zone's driver starts with its process's settings CUDA_LAUNCH_BLOCKING=1\$" "$tmp/d.log" ||
  fail "D did not start the zone's driver with its settings: $(grep -i 'settings' "$tmp/d.log" | tail -3)"
sleep 0.5
out=$(ctl d migrate "$(zone_of d)" --to "$tmp/c.sock.ctl") || fail "migrating it back D -> C failed: $out"
touch "$tmp/devices.stop"
wait "$gpid" || fail "the program on device 1 failed across the moves: $(cat "$tmp/devices.out")"
pass "a zone on the second of two devices with blocking launches (CUDA_VISIBLE_DEVICES=1 CUDA_LAUNCH_BLOCKING=1) moved C -> D -> C so: $(cat "$tmp/devices.out")"
ctl b register pod2 --mem 256M >/dev/null || fail "register pod2 on B"
refused "$tmp/devices.ckpt" "not devices of this proxy, which shows zones 1" \
  "a checkpoint of a zone on device 1 of two, on a proxy with one device,"

for p in $pa $pb $pc $pd; do kill -INT "$p"; done
for p in $pa $pb $pc $pd; do wait "$p"; done
pa= pb= pc= pd=
if ls "$tmp"/state-[abcd]/* >/dev/null 2>&1; then fail "state sockets left behind"; fi
# (a sanitizer build: no worker or supervisor reported an error or a leak)
if grep -E "AddressSanitizer|runtime error|LeakSanitizer" "$tmp"/[abcd].log; then fail "a sanitizer report"; fi
echo "migrate: zone holding 64 MiB paused ${pause} ms (simulator; goal < 100 ms)"
