#!/bin/sh
# SPDX-License-Identifier: MIT
# The test itself, run by /init in the test's Dom0 (busybox sh). Reports on the console, one
# line each, for tests/xen/run.sh on the host to parse:
#   VGPU-XEN PROGRESS <what is happening>
#   VGPU-XEN RESULT <step> PASS|FAIL <detail>
#   VGPU-XEN LOG <step> <a line of evidence: test output, proxy log, zone console>
# Steps: 1 the Xen transport in Dom0, 2 zone programs through vgpu-proxy over grant tables and
# event channels, 3 a zone destroyed mid-transfer is cleaned up and a second zone is served,
# 4 a zone whose token is not a registration's is refused, 5 a process that dies inside a
# live guest loses its zone while the guest's next process is served, 6 the proxy restarted
# under a streaming guest, 7 a guest's zone saved, its worker killed and the file restored:
# the guest's channel rejoins. The proxy runs with
# --require-registration: each zone is registered and given its token through xenstore
# (vgpu/token under its home, readable by it alone) while it is still paused.
SOCK=/run/vgpu/proxy.sock
CONS=/var/log/xen/console
PROXY_PID=
T0=$(cut -d. -f1 /proc/uptime)

say() { echo "VGPU-XEN PROGRESS [dom0 $(( $(cut -d. -f1 /proc/uptime) - T0 ))s] $*"; }
result() { step=$1 st=$2; shift 2; echo "VGPU-XEN RESULT $step $st $*"; }
evidence() { step=$1 file=$2; [ -f "$file" ] && sed "s/^/VGPU-XEN LOG $step /" "$file" | tr -d '\r'; }

# ---- step 1: the transport's own tests on real grant tables and event channels ----
say "step 1: ring_xen, ring_xen_mock, xen_loopback (Dom0 grants to itself)"
ok=1; why=
for t in ring_xen ring_xen_mock xen_loopback; do
  timeout 120 "/vgpu/bin/$t" >"/tmp/$t.log" 2>&1
  rc=$?
  evidence 1 "/tmp/$t.log"
  case "$t:$rc" in
    *:0|ring_xen:77) ;; # ring_xen skips its no-Xen checks where /dev/xen exists
    *) ok=0; why="$why $t exited $rc;" ;;
  esac
done
rtt=$(grep -h 'rtt' /tmp/xen_loopback.log | sed 's/^xen_loopback: //' | tr '\n' ';' | sed 's/;$//; s/;/; /g')
if [ $ok = 1 ]; then result 1 PASS "Xen transport in Dom0 (TCG: $rtt)"; else result 1 FAIL "$why"; fi

# ---- the proxy, serving zones that bootstrap through xenstore ----
proxy_stats() { vgpu-proxy --stats --listen "$SOCK" 2>&1; }
start_proxy() {
  mkdir -p /run/vgpu
  say "starting vgpu-proxy --transport xen (simulator backend)"
  vgpu-proxy --transport xen --listen "$SOCK" --backend sim --sim-lib /vgpu/lib/libcudasim.so \
    --require-registration --state-dir /run/vgpu/state --registry /run/vgpu/registry \
    --log-level debug >>/tmp/proxy.log 2>&1 &
  PROXY_PID=$!
  i=0
  while [ $i -lt 100 ]; do
    [ -S "$SOCK" ] && return 0
    kill -0 $PROXY_PID 2>/dev/null || break
    sleep 0.1; i=$((i + 1))
  done
  return 1
}

# start_zone NAME PROGRAMS [TOKEN]: boot a PV zone running PROGRAMS (comma-separated). It is
# created paused, registered with the proxy as NAME (or given TOKEN instead), handed its token
# in xenstore, then unpaused: what an orchestrator does for each zone.
start_zone() {
  rm -f "$CONS/guest-$1.log"
  xl create -p /vgpu/zone/zone.cfg "name=\"$1\"" \
    "extra=\"console=hvc0 quiet loglevel=3 vgpu.name=$1 vgpu.run=$2\"" >"/tmp/xl-$1.log" 2>&1 || {
    cat "/tmp/xl-$1.log"; return 1; }
  d=$(xl domid "$1") || return 1
  tok=${3:-}
  if [ -z "$tok" ]; then
    tok=$(vgpuctl --listen "$SOCK" register "$1" 2>>"/tmp/xl-$1.log") || return 1
  fi
  xenstore-write "/local/domain/$d/vgpu/token" "$tok" &&
    xenstore-chmod "/local/domain/$d/vgpu/token" n0 "r$d" || return 1
  xl unpause "$1" >>"/tmp/xl-$1.log" 2>&1
}
# stop_zone NAME: destroy it and drop its registration
stop_zone() {
  xl destroy "$1" >/dev/null 2>&1
  vgpuctl --listen "$SOCK" unregister "$1" >/dev/null 2>&1
}
# wait_console NAME PATTERN SECONDS: 0 when the zone's console shows PATTERN, 1 when the zone
# ended without it, 2 on timeout
wait_console() {
  n=0
  while [ $n -lt $(($3 * 5)) ]; do
    grep -q "$2" "$CONS/guest-$1.log" 2>/dev/null && return 0
    xl domid "$1" >/dev/null 2>&1 || { grep -q "$2" "$CONS/guest-$1.log" 2>/dev/null && return 0; return 1; }
    sleep 0.2; n=$((n + 1))
  done
  return 2
}
# check_prog NAME PROG: PROG's rc is 0 and its stdout in zone NAME equals the expected output
check_prog() {
  tr -d '\r' <"$CONS/guest-$1.log" | awk -v p="$2" -v out="/tmp/$1-$2.out" -v err="/tmp/$1-$2.err" '
    $0 == "VGPU-ZONE BEGIN " p { on = 1; printf "" > out; printf "" > err; next }
    on && /^O\|/ { print substr($0, 3) > out; next }
    on && /^E\|/ { print substr($0, 3) > err; next }
    on && index($0, "VGPU-ZONE END " p " rc=") == 1 { sub(/.* rc=/, ""); print; exit }' >"/tmp/$1-$2.rc"
  rc=$(cat "/tmp/$1-$2.rc")
  [ "$rc" = 0 ] || { echo "$2 exited ${rc:-?(no result)} ($(head -n 1 "/tmp/$1-$2.err" 2>/dev/null))"; return 1; }
  diff -u "/vgpu/expected/${2%%:*}.out" "/tmp/$1-$2.out" >"/tmp/$1-$2.diff" ||
    { echo "$2 printed something else than on the simulator directly"; return 1; }
}
# finish STEP TEXT: PASS with TEXT when $why is empty, else FAIL with $why and the proxy log
finish() {
  if [ -z "$why" ]; then result "$1" PASS "$2"; else evidence "$1" /tmp/proxy.log; result "$1" FAIL "$why"; fi
}
# zone_lines: stats lines of live zones
zone_lines() { proxy_stats | grep '^zone ' ; }

if ! start_proxy; then
  evidence 2 /tmp/proxy.log
  result 2 FAIL "vgpu-proxy --transport xen did not start (log above)"
  result 3 FAIL "no proxy"
  exit 0
fi

# ---- step 2: driver-API programs in a zone, through libvgpu over grants + event channels ----
PROGS=device,memory,kernels,threads,procaddr,errors,fork,pinned,nvml
say "step 2: booting zone-a (PV domU, 256 MB) to run $PROGS and zone_grants"
if start_zone zone-a "$PROGS,zone_grants,device:0,device:1"; then
  say "zone-a is domain $(xl domid zone-a 2>/dev/null); waiting for its programs"
  wait_console zone-a "VGPU-ZONE DONE" 150; w=$?
  say "zone-a finished (wait status $w)"
  evidence 2 "$CONS/guest-zone-a.log"
  why=
  if [ $w != 0 ]; then why="zone-a did not finish (status $w: 1 ended early, 2 timeout);"; fi
  for p in $(echo $PROGS | tr , ' '); do
    # the first failure with its reason, the others by name (usually the same cause)
    r=$(check_prog zone-a "$p") || {
      if [ -z "$why" ]; then why="$r;"; else why="$why ${r%% (*};"; fi
      evidence 2 "/tmp/zone-a-$p.diff"; }
  done
  # zone_grants: hostile pinned regions (references never granted, read-only, too few) are
  # refused and the channel goes on; its own verdict, no simulator run to compare with
  check_prog zone-a zone_grants >/dev/null 2>&1   # only to extract its output and exit status
  if ! grep -q '^zone_grants: PASS' /tmp/zone-a-zone_grants.out 2>/dev/null || [ "$(cat /tmp/zone-a-zone_grants.rc)" != 0 ]; then
    why="$why zone_grants: $(grep -v 'as expected' /tmp/zone-a-zone_grants.out 2>/dev/null | head -n 2 | tr '\n' ' ')$(head -n 1 /tmp/zone-a-zone_grants.err 2>/dev/null);"
  fi
  # CUDA_VISIBLE_DEVICES from the guest (the channel's "visible" key): "0" is the proxy's one
  # device, as without a list; "1" names none of its devices, so cuInit fails and no zone is made
  r=$(check_prog zone-a device:0) || why="$why with CUDA_VISIBLE_DEVICES=0: $r;"
  check_prog zone-a device:1 >/dev/null 2>&1
  if [ "$(cat /tmp/zone-a-device:1.rc)" = 0 ] ||
     ! grep -q "CUDA_VISIBLE_DEVICES names none of the devices zones are shown" /tmp/proxy.log; then
    why="$why a guest's CUDA_VISIBLE_DEVICES=1 was not refused by the proxy (exit $(cat /tmp/zone-a-device:1.rc));"
  fi
  stop_zone zone-a
  # The pinned program's regions are pages the guest granted to Dom0, which its worker maps:
  # its copies move no byte through the ring (the worker says how many at the zone's end).
  for _ in $(seq 50); do grep -q "pinned host memory and the device without the ring" /tmp/proxy.log && break; sleep 0.2; done
  moved=$(grep -o "moved [0-9]* bytes between pinned host memory and the device without the ring" /tmp/proxy.log | awk '{ s += $2 } END { print s + 0 }')
  [ "${moved:-0}" -gt 0 ] || why="$why pinned copies went through the ring, not through the granted pages;"
  finish 2 "$(echo $PROGS | tr , ' ' | wc -w) programs ($PROGS) in a PV zone through libvgpu + vgpu-proxy over grant tables and event channels, output equal to the simulator's; a guest's CUDA_VISIBLE_DEVICES read by the proxy (0 its device, 1 none: refused); pinned host memory is pages the guest granted to Dom0: $moved bytes copied without the ring; pinned regions of references never granted, granted read-only or too few refused, the channel served on"
else
  evidence 2 /tmp/xl-zone-a.log
  result 2 FAIL "xl create zone-a failed"
fi

# ---- step 3: xl destroy in the middle of a transfer; the proxy frees the zone, serves the next ----
say "step 3: booting zone-kill (zone_stream: 16 MiB copies in a loop)"
why=
i=0
while [ $i -lt 50 ] && [ -n "$(zone_lines)" ]; do sleep 0.2; i=$((i + 1)); done
if [ -n "$(zone_lines)" ]; then why="zones of zone-a still listed before step 3: $(zone_lines | tr '\n' ';');"; fi
workers0=$(pidof vgpu-proxy | wc -w)
if start_zone zone-kill zone_stream; then
  dom=$(xl domid zone-kill 2>/dev/null)
  wait_console zone-kill "O|zone_stream: streaming" 120; w=$?
  evidence 3 "$CONS/guest-zone-kill.log"
  if [ $w != 0 ]; then
    why="$why zone-kill (domain $dom) never streamed (status $w);"
  else
    # two samples of the zone's bulk counters: they move, so the destroy lands mid-transfer
    # (a round is 2 x 16 MiB in chunks of at most 256 KiB)
    s1=$(zone_lines); sleep 0.5; before=$(zone_lines)
    echo "$s1" | sed 's/^/VGPU-XEN LOG 3 stats: /'
    echo "$before" | sed 's/^/VGPU-XEN LOG 3 stats 0.5 s later, just before xl destroy: /'
    b1=$(echo "$s1" | sed -n 's/.* bulk_in=\([0-9]*\).*/\1/p'); b2=$(echo "$before" | sed -n 's/.* bulk_in=\([0-9]*\).*/\1/p')
    if [ -z "$before" ]; then why="$why the streaming zone is not in the proxy's stats;"
    elif [ -z "$b1" ] || [ "$b1" = "$b2" ]; then why="$why the zone's bulk_in did not move (${b1:-?} then ${b2:-?}): no transfer in flight;"
    fi
    say "xl destroy zone-kill (domain $dom) mid-transfer"
    xl destroy zone-kill
    i=0
    while [ $i -lt 100 ] && [ -n "$(zone_lines)" ]; do sleep 0.1; i=$((i + 1)); done
    after=$(zone_lines)
    if [ -n "$after" ]; then
      why="$why 10 s after xl destroy the proxy still lists: $(echo "$after" | tr '\n' ';');"
    else
      say "the proxy dropped the zone $((i / 10)).$((i % 10)) s after xl destroy"
    fi
    workers1=$(pidof vgpu-proxy | wc -w)
    [ "$workers1" = "$workers0" ] ||
      why="$why $workers1 vgpu-proxy processes after the zone ended, $workers0 before it;"
    kill -0 $PROXY_PID 2>/dev/null || why="$why vgpu-proxy died;"
  fi
  stop_zone zone-kill
else
  evidence 3 /tmp/xl-zone-kill.log
  why="$why xl create zone-kill failed;"
fi
say "step 3: booting zone-b (device, memory) after the destroyed zone"
if start_zone zone-b device,memory; then
  wait_console zone-b "VGPU-ZONE DONE" 120; w=$?
  evidence 3 "$CONS/guest-zone-b.log"
  [ $w = 0 ] || why="$why zone-b did not finish (status $w);"
  for p in device memory; do
    r=$(check_prog zone-b "$p") || { why="$why zone-b: $r;"; evidence 3 "/tmp/zone-b-$p.diff"; }
  done
  stop_zone zone-b
else
  evidence 3 /tmp/xl-zone-b.log
  why="$why xl create zone-b failed;"
fi
finish 3 "zone destroyed mid-transfer: the proxy dropped it and its worker; a second zone ran device+memory"
# ---- step 4: a guest whose token is not a registration's gets no GPU ----
say "step 4: booting zone-forged (device) with a token that was never registered"
why=
if start_zone zone-forged device 00112233445566778899aabbccddeeff; then
  wait_console zone-forged "VGPU-ZONE DONE" 120; w=$?
  evidence 4 "$CONS/guest-zone-forged.log"
  [ $w = 0 ] || why="zone-forged did not finish (status $w);"
  tr -d '\r' <"$CONS/guest-zone-forged.log" >/tmp/forged.log
  grep -q '^VGPU-ZONE END device rc=0' /tmp/forged.log && why="$why device ran with a forged token;"
  grep -q 'cuInit.*CUDA_ERROR_NOT_PERMITTED' /tmp/forged.log ||
    why="$why device did not fail with CUDA_ERROR_NOT_PERMITTED;"
  grep -q 'refused a new zone from domain' /tmp/proxy.log || why="$why the proxy did not log the refusal;"
  stop_zone zone-forged
else
  evidence 4 /tmp/xl-zone-forged.log
  why="$why xl create zone-forged failed;"
fi
left=$(vgpuctl --listen "$SOCK" list | grep -c '^reg ')
[ "$left" = 0 ] || why="$why $left registrations left after every zone was stopped;"
finish 4 "a guest with a token that is no registration's is refused (cuInit: CUDA_ERROR_NOT_PERMITTED); no registration left"
# ---- step 5: a process that dies inside a live guest: its zone ends, the guest's others stay ----
say "step 5: booting zone-crash (zone_crash SIGKILLs itself mid-transfer, then zone_stream runs)"
why=
if start_zone zone-crash zone_crash,zone_stream; then
  wait_console zone-crash "O|zone_stream: streaming" 120; w=$?
  evidence 5 "$CONS/guest-zone-crash.log"
  grep -q 'zone_crash: SIGKILL to myself mid-transfer' "$CONS/guest-zone-crash.log" ||
    why="zone_crash did not reach its SIGKILL;"
  [ $w = 0 ] || why="$why the second program never streamed (status $w);"
  if [ -z "$why" ]; then
    i=0
    while [ $i -lt 100 ] && [ "$(zone_lines | grep -c 'reg=zone-crash$')" != 1 ]; do sleep 0.1; i=$((i + 1)); done
    n=$(zone_lines | grep -c 'reg=zone-crash$')
    zone_lines | sed 's/^/VGPU-XEN LOG 5 stats: /'
    if [ "$n" != 1 ]; then
      why="$why $n zones of the guest listed 10 s after its first process died (expected 1: the streaming one);"
    else
      say "the dead process's zone was dropped $((i / 10)).$((i % 10)) s after the second one streamed"
    fi
    xl domid zone-crash >/dev/null 2>&1 || why="$why the guest is gone: the check proved nothing;"
  fi
  stop_zone zone-crash
else
  evidence 5 /tmp/xl-zone-crash.log
  why="$why xl create zone-crash failed;"
fi
finish 5 "a process SIGKILLed inside a live guest mid-transfer: its zone ended (liveness page), the guest's next process was served"

# ---- step 6: the proxy restarted (an upgrade) under a guest streaming copies ----
say "step 6: booting zone-restart (zone_stream), then restarting vgpu-proxy under it"
why=
if start_zone zone-restart zone_stream; then
  wait_console zone-restart "O|zone_stream: streaming" 120; w=$?
  [ $w = 0 ] || why="zone-restart never streamed (status $w);"
  if [ -z "$why" ]; then
    before=$(zone_lines | grep 'reg=zone-restart$')
    wpid=$(echo "$before" | sed -n 's/.* worker=\([0-9]*\).*/\1/p')
    echo "$before" | sed 's/^/VGPU-XEN LOG 6 before: /'
    say "SIGTERM to the supervisor (pid $PROXY_PID): its zones are left running"
    kill -TERM $PROXY_PID
    wait $PROXY_PID
    kill -0 "$wpid" 2>/dev/null || why="$why the zone's worker $wpid ended with the supervisor;"
    start_proxy || why="$why the new supervisor did not start;"
    i=0
    while [ $i -lt 100 ] && ! grep -q "adopted from" /tmp/proxy.log; do sleep 0.1; i=$((i + 1)); done
    grep -q "adopted from" /tmp/proxy.log || why="$why the new supervisor adopted nothing;"
    s1=$(zone_lines | grep 'reg=zone-restart$'); sleep 1; s2=$(zone_lines | grep 'reg=zone-restart$')
    echo "$s2" | sed 's/^/VGPU-XEN LOG 6 after: /'
    b1=$(echo "$s1" | sed -n 's/.* bulk_in=\([0-9]*\).*/\1/p'); b2=$(echo "$s2" | sed -n 's/.* bulk_in=\([0-9]*\).*/\1/p')
    w2=$(echo "$s2" | sed -n 's/.* worker=\([0-9]*\).*/\1/p')
    [ "$w2" = "$wpid" ] || why="$why the zone's worker is ${w2:-gone} after the restart, was $wpid;"
    if [ -z "$b1" ] || [ "$b1" = "$b2" ]; then why="$why the guest's copies did not go on after the restart (bulk_in ${b1:-?} then ${b2:-?});"; fi
    grep -q "VGPU-ZONE END zone_stream" "$CONS/guest-zone-restart.log" && why="$why zone_stream ended in the guest;"
    # the adopted zone still ends with its domain
    xl destroy zone-restart >/dev/null 2>&1
    i=0
    while [ $i -lt 100 ] && [ -n "$(zone_lines | grep 'reg=zone-restart$')" ]; do sleep 0.1; i=$((i + 1)); done
    [ -z "$(zone_lines | grep 'reg=zone-restart$')" ] || why="$why the adopted zone outlived its domain;"
  fi
  evidence 6 "$CONS/guest-zone-restart.log"
  stop_zone zone-restart
else
  evidence 6 /tmp/xl-zone-restart.log
  why="$why xl create zone-restart failed;"
fi
finish 6 "vgpu-proxy restarted (SIGTERM, new supervisor with the same --state-dir) under a guest streaming copies: the same worker went on serving it, and the adopted zone ended with its domain"

# ---- step 7: a guest's zone saved, its worker killed, restored from the file: its channel rejoins ----
say "step 7: booting zone-rejoin (zone_stream), saving its zone, killing its worker, restoring the file"
why=
if start_zone zone-rejoin zone_stream; then
  wait_console zone-rejoin "O|zone_stream: streaming" 120; w=$?
  [ $w = 0 ] || why="zone-rejoin never streamed (status $w);"
  if [ -z "$why" ]; then
    line=$(zone_lines | grep 'reg=zone-rejoin$')
    zid=$(echo "$line" | awk '{ print $2 }')
    wpid=$(echo "$line" | sed -n 's/.* worker=\([0-9]*\).*/\1/p')
    out=$(vgpuctl --listen "$SOCK" checkpoint "$zid" /tmp/rejoin.ckpt --stop 2>&1) || why="checkpoint --stop refused: $out;"
    echo "$out" | sed 's/^/VGPU-XEN LOG 7 /'
    say "SIGKILL to the zone's worker (pid $wpid), its zone saved"
    kill -KILL "$wpid" 2>/dev/null
    sleep 1
    grep -q "VGPU-ZONE END zone_stream" "$CONS/guest-zone-rejoin.log" && why="$why zone_stream ended when its worker was killed;"
    out=$(vgpuctl --listen "$SOCK" restore /tmp/rejoin.ckpt 2>&1) || why="$why restore refused: $out;"
    echo "$out" | sed 's/^/VGPU-XEN LOG 7 /'
    i=0
    while [ $i -lt 100 ] && ! grep -q "of domain [0-9]* rejoined" /tmp/proxy.log; do sleep 0.1; i=$((i + 1)); done
    grep -q "of domain [0-9]* rejoined" /tmp/proxy.log || why="$why the guest's channel did not rejoin;"
    s1=$(zone_lines | grep 'reg=zone-rejoin$'); sleep 1; s2=$(zone_lines | grep 'reg=zone-rejoin$')
    echo "$s2" | sed 's/^/VGPU-XEN LOG 7 after: /'
    b1=$(echo "$s1" | sed -n 's/.* bulk_in=\([0-9]*\).*/\1/p'); b2=$(echo "$s2" | sed -n 's/.* bulk_in=\([0-9]*\).*/\1/p')
    if [ -z "$b1" ] || [ "$b1" = "$b2" ]; then why="$why the guest's copies did not go on in the restored zone (bulk_in ${b1:-?} then ${b2:-?});"; fi
    grep -q "VGPU-ZONE END zone_stream" "$CONS/guest-zone-rejoin.log" && why="$why zone_stream ended in the guest;"
  fi
  evidence 7 "$CONS/guest-zone-rejoin.log"
  stop_zone zone-rejoin
else
  evidence 7 /tmp/xl-zone-rejoin.log
  why="$why xl create zone-rejoin failed;"
fi
finish 7 "a guest's zone saved (checkpoint --stop), its worker SIGKILLed and the file restored: the guest's channel rejoined the restored zone (same grants and port) and its copies went on"

say "stopping vgpu-proxy"
kill -INT $PROXY_PID   # SIGINT: its zones end too (SIGTERM would leave them for a next supervisor)
wait $PROXY_PID
echo "VGPU-XEN LOG proxy exit status $?"
exit 0
