#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/trace_calls.py against a trace made here with known contents (docs/TRACE.md's
# format): the counts per call, the synchronous ones, the bulk bytes, --per, and the refusals
# of a file that is not a trace, a missing file and a bad option.
set -u
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vgpu-tracecalls.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; [ -f "$tmp/out" ] && cat "$tmp/out"; exit 1; }
op() { sed -n "s/^\s*VGPU_OP_$1 = \([0-9]*\),.*/\1/p" generated/vgpu_ops.h; }
alloc=$(op cuMemAlloc_v2) launch=$(op cuLaunchKernel) htod=$(op cuMemcpyHtoD_v2)
[ -n "$alloc" ] && [ -n "$launch" ] && [ -n "$htod" ] || fail "opcodes not found in generated/vgpu_ops.h"

# 3 synchronous allocations with replies, 5 posted launches, 2 synchronous copies of
# 4096 and 1000 bytes, 1 pinned-region map (a control message, 0xff02)
python3 - "$tmp/t.trace" "$alloc" "$launch" "$htod" <<'EOF'
import struct, sys
path, alloc, launch, htod = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rec = struct.Struct("<B3xIHHIII")
out, seq = [b"VGPUTRC1"], 0
def put(kind, opc, flags, body, full=None):
    out.append(rec.pack(kind, 1, opc, flags, seq, len(body), len(body) if full is None else full) + body)
for _ in range(3):
    seq += 1; put(1, alloc, 0, b"\x91\x00"); put(3, alloc, 2, b"\x92\x00\x01")
for _ in range(5):
    seq += 1; put(1, launch, 1, b"\x90")
for n in (4096, 1000):
    seq += 1; put(1, htod, 0, b"\x90"); put(2, htod, 0, b"x" * n); put(3, htod, 2, b"\x91\x00")
seq += 1; put(1, 0xff02, 0, b"\x90"); put(3, 0xff02, 2, b"\x91\x00")
open(path, "wb").write(b"".join(out))
EOF

python3 bench/trace_calls.py "$tmp/t.trace" >"$tmp/out" 2>&1 || fail "trace_calls.py exited $?"
grep -q '^11 requests (11.0 per unit), 6 synchronous (6.0 per unit)$' "$tmp/out" || fail "totals"
row() { awk -v n="$1" '$1 == n { print $2, $3, $4 }' "$tmp/out"; }
[ "$(row cuMemAlloc_v2)" = "3.0 3.0 0" ] || fail "cuMemAlloc_v2 row: $(row cuMemAlloc_v2)"
[ "$(row cuLaunchKernel)" = "5.0 0.0 0" ] || fail "cuLaunchKernel row: $(row cuLaunchKernel)"
[ "$(row cuMemcpyHtoD_v2)" = "2.0 2.0 5096" ] || fail "cuMemcpyHtoD_v2 row: $(row cuMemcpyHtoD_v2)"
[ "$(row '(PINNED_MAP)')" = "1.0 1.0 0" ] || fail "control message row: $(row '(PINNED_MAP)')"
# most synchronous first: the allocations, then the copies
[ "$(awk 'NR == 3 { print $1 } NR == 4 { print $1 }' "$tmp/out" | tr '\n' ' ')" = "cuMemAlloc_v2 cuMemcpyHtoD_v2 " ] ||
  fail "order"
python3 bench/trace_calls.py --per 2 "$tmp/t.trace" >"$tmp/out" 2>&1 || fail "--per exited $?"
[ "$(row cuLaunchKernel)" = "2.5 0.0 0" ] || fail "--per 2: $(row cuLaunchKernel)"

printf 'not a trace' >"$tmp/bad"
if python3 bench/trace_calls.py "$tmp/bad" >"$tmp/out" 2>&1 || ! grep -q 'not a VGPU_TRACE file' "$tmp/out"; then
  fail "a file that is not a trace was not refused with the reason"
fi
if python3 bench/trace_calls.py "$tmp/none" >"$tmp/out" 2>&1 || ! grep -q 'No such file' "$tmp/out"; then
  fail "a missing file was not refused with the reason"
fi
if python3 bench/trace_calls.py --per 0 "$tmp/t.trace" >"$tmp/out" 2>&1 || ! grep -q 'must be positive' "$tmp/out"; then
  fail "--per 0 was not refused"
fi
echo "PASS: trace_calls.py counts calls, synchronous ones and bulk bytes of a known trace; refuses bad input"
