#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Zone registration against a real vgpu-proxy started with --require-registration:
#   the control socket is root's only; a zone without a token, with a forged token or with
#   a dropped registration's token is refused (CUDA_ERROR_NOT_PERMITTED from cuInit); a
#   registered zone runs with its registration's name and memory limit; unregistering ends
#   its live zones at once and frees what they held; bad control commands are refused.
set -u
B=${VGPU_BUILD:-build/san}
backend=${VGPU_E2E_BACKEND:-sim}
. tests/proxy_lib.sh
proxy_need_sim "$B" "$backend"
fail() { echo "FAIL: $*"; echo "--- proxy log:"; cat "$PROXY_LOG"; exit 1; }
pass() { echo "ok: $*"; }
proxy_start "$B" "$backend" --require-registration --socket-mode 0666 --log-level info || exit 1
tmp=$PROXY_TMP
ctl() { "$B/proxy/vgpuctl" --listen "$PROXY_SOCK" "$@"; }
export VGPU_PROXY=$PROXY_SOCK LD_LIBRARY_PATH=$PWD/$B/libvgpu VGPU_LOG=0
hold=$B/tests/isolation/zone_hold
device=$B/tests/e2e/device
MiB=$((1 << 20))

mode=$(stat -c %a "$PROXY_SOCK.ctl")
[ "$mode" = 600 ] || fail "control socket mode is $mode, expected 600"
mode=$(stat -c %a "$PROXY_SOCK")
[ "$mode" = 666 ] || fail "zone socket mode is $mode, expected 666 (--socket-mode 0666)"
pass "control socket is mode 600, the zone socket as --socket-mode says"

out=$("$device" 2>&1) && fail "a zone without a token was accepted: $out"
grep -q CUDA_ERROR_NOT_PERMITTED <<<"$out" || fail "no token: expected CUDA_ERROR_NOT_PERMITTED, got: $out"
pass "a zone without a token is refused (CUDA_ERROR_NOT_PERMITTED)"

tok_a=$(ctl register pod-a --mem 16M) || fail "register pod-a"
[[ $tok_a =~ ^[0-9a-f]{32}$ ]] || fail "register printed '$tok_a', expected 32 hex digits"
tok_b=$(ctl register pod-b --mem 1M) || fail "register pod-b"
[ "$tok_a" != "$tok_b" ] || fail "two registrations got the same token"
err=$(ctl register pod-a 2>&1) && fail "registering pod-a twice succeeded"
grep -q "already registered" <<<"$err" || fail "duplicate register: unexpected message: $err"
for bad in 'a/b' '../x' "$(printf 'x%.0s' $(seq 64))"; do
  err=$(ctl register "$bad" 2>&1) && fail "register accepted the name '$bad'"
done
err=$(ctl register pod-c --mem lots 2>&1) && fail "register accepted --mem lots"
out=$(printf 'register pod-d color=red\n' | python3 -c '
import socket,sys
s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(sys.stdin.buffer.read())
print(s.makefile().read(), end="")' "$PROXY_SOCK.ctl")
grep -q '^error .*bad option' <<<"$out" || fail "raw 'register pod-d color=red' answered: $out"
out=$(printf 'frobnicate\n' | python3 -c '
import socket,sys
s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(sys.stdin.buffer.read())
print(s.makefile().read(), end="")' "$PROXY_SOCK.ctl")
grep -q '^error unknown command' <<<"$out" || fail "an unknown command answered: $out"
ctl list | grep -q '^regs 2$' || fail "list after the refused commands: $(ctl list)"
pass "register: 32-hex tokens, distinct; duplicates, bad names, bad options, unknown commands refused"

out=$(VGPU_ZONE_TOKEN=$(printf '%032x' 12345) "$device" 2>&1) && fail "a forged token was accepted: $out"
grep -q CUDA_ERROR_NOT_PERMITTED <<<"$out" || fail "forged token: got: $out"
out=$(VGPU_ZONE_TOKEN=xyz "$device" 2>&1) && fail "a malformed token was accepted: $out"
grep -q CUDA_ERROR_NOT_PERMITTED <<<"$out" || fail "malformed token: got: $out"
pass "forged and malformed tokens are refused"

out=$(VGPU_ZONE_TOKEN=$tok_a "$device" 2>&1) || fail "pod-a's zone failed: $out"
echo "$tok_b" >"$tmp/tok_b"
out=$(VGPU_ZONE_TOKEN_FILE=$tmp/tok_b "$device" 2>&1) || fail "pod-b's zone (token file) failed: $out"
pass "registered zones run (token in the environment, token in a file)"

# pod-b's 1 MiB limit holds; pod-a's 16 MiB allows 4 MiB.
out=$(VGPU_ZONE_TOKEN=$tok_b "$hold" $((4 * MiB)) </dev/null 2>&1) && fail "pod-b allocated past its 1 MiB limit: $out"
grep -q 'cuMemAlloc.*CUDA_ERROR_OUT_OF_MEMORY' <<<"$out" || fail "pod-b over its limit: got: $out"
pass "a registration's memory limit holds (CUDA_ERROR_OUT_OF_MEMORY)"

# A live zone of pod-a (a process holding memory until it reads a line).
start_hold() { # BYTES: sets hold_pid; its input is fd 3
  rm -f "$tmp/in" "$tmp/hold.out"
  mkfifo "$tmp/in"
  VGPU_ZONE_TOKEN=$tok_a "$hold" "$1" <"$tmp/in" >"$tmp/hold.out" 2>&1 &
  hold_pid=$!
  exec 3>"$tmp/in"
  for _ in $(seq 100); do grep -q ready "$tmp/hold.out" && break; sleep 0.1; done
  grep -q ready "$tmp/hold.out" || fail "zone_hold never got ready: $(cat "$tmp/hold.out")"
}
start_hold $((4 * MiB))
st=$(ctl stats)
grep -q "name=pod-a .* mem=$((4 * MiB)) .* reg=pod-a$" <<<"$st" || fail "stats do not show pod-a's zone with 4 MiB: $st"
ctl list | grep -q "^reg pod-a mem=16777216 handles=65536 zones=1 used=$((4 * MiB)) handles_used=1$" || fail "list: $(ctl list)"
pass "a registered zone is listed under its registration with its memory"

# The limit is the registration's (a pod's), not each process's: with 4 MiB held by one
# process, another process of pod-a gets 12 MiB but not 13.
out=$(VGPU_ZONE_TOKEN=$tok_a "$hold" $((13 * MiB)) </dev/null 2>&1) && fail "pod-a's second process went past the shared 16 MiB: $out"
grep -q 'cuMemAlloc.*CUDA_ERROR_OUT_OF_MEMORY' <<<"$out" || fail "pod-a, 4 + 13 MiB: got: $out"
out=$(VGPU_ZONE_TOKEN=$tok_a "$hold" $((12 * MiB)) </dev/null 2>&1) || fail "pod-a, 4 + 12 MiB refused: $out"
pass "the memory limit is shared by all the processes of a registration (4 + 13 MiB refused, 4 + 12 MiB served)"
# What each process is told of the device's memory is the registration's: 16 MiB in all, of
# which 12 were free to the first (it held 4), and none to the second (its 12 filled it).
grep -q "^ready free=$((12 * MiB)) total=$((16 * MiB))$" "$tmp/hold.out" || fail "pod-a's first process was told: $(cat "$tmp/hold.out")"
grep -q "^ready free=0 total=$((16 * MiB))$" <<<"$out" || fail "pod-a's second process was told: $out"
pass "a registration's processes are told its memory as the device's (16 MiB; 12 free, then none)"

# The handle limit is the registration's too: each zone_hold holds one handle (its context);
# with handles=2, two processes fit and a third is refused.
hold_bg() { # TOKEN OUTFILE: a holder that waits on fd 4's fifo
  VGPU_ZONE_TOKEN=$1 "$hold" 4096 <"$tmp/hin" >"$2" 2>&1 &
}
tok_h=$(ctl register pod-h --handles 2) || fail "register pod-h"
rm -f "$tmp/hin"; mkfifo "$tmp/hin"
hold_bg "$tok_h" "$tmp/h1.out"; h1=$!
hold_bg "$tok_h" "$tmp/h2.out"; h2=$!
exec 4>"$tmp/hin"
for _ in $(seq 100); do grep -q ready "$tmp/h1.out" && grep -q ready "$tmp/h2.out" && break; sleep 0.1; done
grep -q ready "$tmp/h1.out" && grep -q ready "$tmp/h2.out" || fail "two holders of pod-h: $(cat "$tmp/h1.out" "$tmp/h2.out")"
ctl list | grep -q '^reg pod-h .* zones=2 .* handles_used=2$' || fail "pod-h list: $(ctl list)"
out=$(VGPU_ZONE_TOKEN=$tok_h "$hold" 4096 </dev/null 2>&1) && fail "a third process of pod-h got a context past handles=2: $out"
grep -q 'cuCtxCreate.*CUDA_ERROR_OUT_OF_MEMORY' <<<"$out" || fail "pod-h's third process: got: $out"
echo go >&4; echo go >&4
exec 4>&-
wait $h1 || fail "pod-h's first holder failed: $(cat "$tmp/h1.out")"
wait $h2 || fail "pod-h's second holder failed: $(cat "$tmp/h2.out")"
for _ in $(seq 50); do ctl list | grep -q '^reg pod-h .* zones=0 used=0 handles_used=0$' && break; sleep 0.1; done
ctl list | grep -q '^reg pod-h .* zones=0 used=0 handles_used=0$' || fail "pod-h after its processes ended: $(ctl list)"
[ "$(ctl unregister pod-h)" = 0 ] || fail "unregister pod-h"
pass "the handle limit is shared by a registration's processes (2 contexts served, the third refused)"

# A worker killed behind the proxy's back: its bytes leave the registration's budget.
for _ in $(seq 50); do ctl list | grep -q "^reg pod-a .* zones=1 used=$((4 * MiB)) handles_used=1$" && break; sleep 0.1; done
wpid=$(ctl stats | awk '/reg=pod-a$/ { for (i = 1; i <= NF; i++) if ($i ~ /^worker=/) print substr($i, 8) }')
[ -n "$wpid" ] || fail "no worker pid for pod-a in: $(ctl stats)"
kill -KILL "$wpid"
for _ in $(seq 50); do ctl list | grep -q '^reg pod-a .* zones=0 used=0 handles_used=0$' && break; sleep 0.1; done
ctl list | grep -q '^reg pod-a .* zones=0 used=0 handles_used=0$' || fail "after its worker was killed, list: $(ctl list)"
echo go >&3
exec 3>&-
wait "$hold_pid"
[ $? = 3 ] || fail "the process whose worker was killed did not see its calls fail: $(cat "$tmp/hold.out")"
out=$(VGPU_ZONE_TOKEN=$tok_a "$hold" $((16 * MiB)) </dev/null 2>&1) || fail "pod-a's whole budget after the kill: $out"
pass "a killed worker's memory returns to its registration's budget (16 MiB served again)"

for _ in $(seq 50); do ctl list | grep -q '^reg pod-a .* zones=0 used=0 handles_used=0$' && break; sleep 0.1; done
start_hold $((4 * MiB))
n=$(ctl unregister pod-a) || fail "unregister pod-a"
[ "$n" = 1 ] || fail "unregister pod-a ended $n zones, expected 1"
st=$(ctl stats)
grep -q '^zones 0$' <<<"$st" || fail "after unregister, stats: $st"
ctl list | grep -q pod-a && fail "pod-a still listed after unregister"
echo go >&3
exec 3>&-
wait "$hold_pid"
rc=$?
[ $rc = 3 ] || fail "pod-a's process exited $rc after its zone ended (expected 3: a failed call): $(cat "$tmp/hold.out")"
out=$(VGPU_ZONE_TOKEN=$tok_a "$device" 2>&1) && fail "pod-a's dropped token still works: $out"
grep -q CUDA_ERROR_NOT_PERMITTED <<<"$out" || fail "dropped token: got: $out"
pass "unregister ends the live zone at once (stats: 0 zones), its process sees calls fail, its token is refused"

err=$(ctl unregister pod-a 2>&1) && fail "unregistering pod-a twice succeeded"
grep -q "not registered" <<<"$err" || fail "second unregister: $err"
[ "$(ctl unregister pod-b)" = 0 ] || fail "unregister pod-b (no live zone)"
ctl list | grep -q '^regs 0$' || fail "list at the end: $(ctl list)"
pass "unregister of an unknown name is refused; nothing is left registered"

proxy_stop || fail "vgpu-proxy exited non-zero"
grep -q '\] error: \|AddressSanitizer\|runtime error' "$PROXY_LOG" && fail "proxy log has errors"

# --registry and --ctl: registrations outlive a restart; the control socket lives elsewhere.
reg=$tmp/state/registry ctlsock=$tmp/ctl/control.sock zsock=$tmp/zones/proxy.sock
run_proxy() { # extra options...; sets P2 (pid), waits for the control socket
  "$B/proxy/vgpu-proxy" --listen "$zsock" --ctl "$ctlsock" --registry "$reg" --backend "$backend" \
    --sim-lib "$PWD/$B/sim/libcudasim.so" --require-registration "$@" >>"$tmp/p2.log" 2>&1 &
  P2=$!
  for _ in $(seq 100); do [ -S "$ctlsock" ] && return 0; kill -0 $P2 2>/dev/null || return 1; sleep 0.1; done
  return 1
}
c2() { "$B/proxy/vgpuctl" --ctl "$ctlsock" "$@"; }
mkdir -p "$tmp/state"
run_proxy || { cat "$tmp/p2.log"; fail "the proxy with --registry did not start"; }
[ ! -e "$zsock.ctl" ] || fail "--ctl given, yet $zsock.ctl exists"
t1=$(c2 register keep --mem 8M --handles 99) && t2=$(c2 register drop) || fail "register with --registry"
[ "$(c2 unregister drop)" = 0 ] || fail "unregister drop"
[ "$(stat -c %a "$reg")" = 600 ] || fail "registry mode $(stat -c %a "$reg"), expected 600"
grep -q "^reg keep $t1 mem=8388608 handles=99$" "$reg" || fail "registry content: $(cat "$reg")"
grep -q drop "$reg" && fail "an unregistered name is still in the registry"
kill -TERM $P2; wait $P2
run_proxy || { cat "$tmp/p2.log"; fail "the proxy did not restart with its registry"; }
c2 list | grep -q '^reg keep mem=8388608 handles=99 zones=0 used=0 handles_used=0$' || fail "after restart, list: $(c2 list)"
out=$(VGPU_PROXY=$zsock VGPU_ZONE_TOKEN=$t1 "$device" 2>&1) || fail "keep's token after the restart: $out"
out=$(VGPU_PROXY=$zsock VGPU_ZONE_TOKEN=$t2 "$device" 2>&1) && fail "drop's token works after the restart: $out"
kill -TERM $P2; wait $P2
pass "--registry: registrations (token, limits) survive a restart, dropped ones do not; the file is 0600"

cp "$reg" "$tmp/good"
sed -i "s/$t1/${t1%?}g/" "$reg"
run_proxy && { kill $P2; fail "the proxy started with a malformed registry"; }
grep -q "registry $reg:2: bad token" "$tmp/p2.log" || fail "malformed registry: $(tail -n 2 "$tmp/p2.log")"
cp "$tmp/good" "$reg"; chmod 644 "$reg"
run_proxy && { kill $P2; fail "the proxy started with a registry others can read"; }
grep -q "readable or writable by others" "$tmp/p2.log" || fail "mode 644 registry: $(tail -n 2 "$tmp/p2.log")"
pass "a malformed registry (file:line) or one others can read stops the proxy at start"
echo "registration: all checks passed"
