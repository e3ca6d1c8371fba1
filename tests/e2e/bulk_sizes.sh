#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# VGPU_BULK_KIB sets the bulk area a zone's channels ask for. The memory program (every copy
# direction, 64 MiB both ways, odd sizes and offsets) runs through the proxy with the
# smallest and the largest area, and with a value that is not a power of two, which must be
# said once on stderr and replaced by the default; the output must equal the direct run's
# each time, and the proxy's log must show the area the channel really has. Then with its
# large pageable copies split between helper threads (VGPU_COPY_THREADS=1 and 3, which must
# say they started; 3 with the smallest area too, whose steps are too small to split) and
# with a value that is not a number of helpers, which must be said and copy alone; and a
# program forking after its helpers started, whose child must start its own.
set -u
B=${VGPU_BUILD:-build/san}
backend=${VGPU_E2E_BACKEND:-sim}
prog=$PWD/$B/tests/e2e/memory
. tests/proxy_lib.sh
proxy_need_sim "$B" "$backend"
[ -x "$prog" ] || { echo "FAIL: $prog is not built"; exit 1; }
export VGPU_KERNELS=$PWD/$B/tests/kernels
proxy_start "$B" "$backend" --log-level info || exit 1
tmp=$PROXY_TMP

direct_run "$B" "$backend" "$tmp/direct.out" "$tmp/direct.err" "$prog" ||
  { echo "FAIL: memory failed directly on the backend:"; cat "$tmp/direct.out" "$tmp/direct.err"; exit 1; }

fail=0
# value of VGPU_BULK_KIB, the area the proxy must report, whether a warning is expected,
# VGPU_COPY_THREADS (- : unset) and how many helpers must say they started (- : none)
for run in "64 64 0 - -" "65536 65536 0 - -" "1000 1024 1 - -" "1024 1024 0 1 1" "1024 1024 0 3 3" "64 64 0 3 3" \
           "1024 1024 0 x -"; do
  set -- $run
  kib=$1 want=$2 warn=$3 threads=$4 helpers=$5
  [ "$threads" = - ] && threads=
  before=$(wc -l <"$PROXY_LOG")
  VGPU_COPY_THREADS=$threads VGPU_LOG=2 VGPU_BULK_KIB=$kib VGPU_PROXY=$PROXY_SOCK LD_LIBRARY_PATH=$PWD/$B/libvgpu \
    "$prog" >"$tmp/zone.out" 2>"$tmp/zone.err"
  rc=$?
  if [ $rc -ne 0 ]; then
    echo "FAIL: VGPU_BULK_KIB=$kib: memory exited $rc through the proxy:"; cat "$tmp/zone.out" "$tmp/zone.err"; fail=1; continue
  fi
  if ! diff -u "$tmp/direct.out" "$tmp/zone.out"; then
    echo "FAIL: VGPU_BULK_KIB=$kib: output differs from the direct run"; fail=1
  fi
  got=$(tail -n +"$((before + 1))" "$PROXY_LOG" | grep -o "channel [0-9]* opened (new zone[^)]*bulk area [0-9]* KiB)" | head -1)
  case $got in
    *"bulk area $want KiB)") echo "ok: VGPU_BULK_KIB=$kib: $got" ;;
    *) echo "FAIL: VGPU_BULK_KIB=$kib: the proxy's log says '${got:-nothing}', not a bulk area of $want KiB"; fail=1 ;;
  esac
  nwarn=$(grep -c "VGPU_BULK_KIB=$kib: expected a power of two from 64 to 65536" "$tmp/zone.err")
  if [ "$nwarn" -ne "$warn" ]; then
    echo "FAIL: VGPU_BULK_KIB=$kib: $nwarn warnings on stderr, expected $warn:"; cat "$tmp/zone.err"; fail=1
  fi
  said=$(grep -o "large pageable copies: [0-9]* helper threads" "$tmp/zone.err" | head -n 1)
  if [ "$helpers" != - ] && [ "$said" != "large pageable copies: $helpers helper threads" ]; then
    echo "FAIL: VGPU_COPY_THREADS=$threads: the program said '${said:-nothing}', not that $helpers helpers started"; fail=1
  elif [ "$helpers" = - ] && [ -n "$said" ] && [ -n "$threads" ]; then
    echo "FAIL: VGPU_COPY_THREADS=$threads: helpers started ($said)"; fail=1
  elif [ -n "$threads" ]; then
    echo "ok: VGPU_COPY_THREADS=$threads, bulk area $kib KiB: the direct output${said:+ ($said)}"
  fi
  if [ "$threads" = x ] && ! grep -q "VGPU_COPY_THREADS=x is not a number of helper threads" "$tmp/zone.err"; then
    echo "FAIL: VGPU_COPY_THREADS=x was not refused on stderr:"; cat "$tmp/zone.err"; fail=1
  fi
done

# A child forked after its parent's helpers started (they do not follow it into the child)
# starts its own: both copy 3 MiB round trips before, beside and after each other.
fork_prog=$PWD/$B/tests/e2e/fork
if VGPU_E2E_PROXY=1 VGPU_COPY_THREADS=2 VGPU_LOG=2 VGPU_PROXY=$PROXY_SOCK LD_LIBRARY_PATH=$PWD/$B/libvgpu \
     "$fork_prog" >"$tmp/fork.out" 2>"$tmp/fork.err" && grep -qx "fork: ok" "$tmp/fork.out"; then
  n=$(grep -c "large pageable copies: 2 helper threads" "$tmp/fork.err")
  if [ "$n" = 2 ]; then
    echo "ok: VGPU_COPY_THREADS=2: a forked child started its own helpers and both processes' copies verified"
  else
    echo "FAIL: VGPU_COPY_THREADS=2: $n of the parent and child said their helpers started, expected 2:"; cat "$tmp/fork.err"; fail=1
  fi
else
  echo "FAIL: VGPU_COPY_THREADS=2: the fork program failed:"; cat "$tmp/fork.out" "$tmp/fork.err"; fail=1
fi

proxy_stop || { echo "FAIL: vgpu-proxy exited badly on SIGTERM; its log:"; cat "$PROXY_LOG"; exit 1; }
if grep -E "AddressSanitizer|runtime error|killed by signal" "$PROXY_LOG" | grep -v "signal 15 (Terminated)"; then
  echo "FAIL: a proxy process failed; its log:"; cat "$PROXY_LOG"; exit 1
fi
[ $fail -eq 0 ] || exit 1
echo "PASS: the memory program gives the direct output with 64 KiB, 64 MiB and the default bulk areas, and with its large copies split between 1 or 3 helper threads"
