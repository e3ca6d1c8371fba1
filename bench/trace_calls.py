#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# trace_calls.py — which calls a program sends to vgpu-proxy, and which of them wait for a reply.
"""usage: bench/trace_calls.py [--top N] [--per N] TRACE...

Reads VGPU_TRACE files (docs/TRACE.md) and prints, per call (opcode name from
generated/vgpu_ops.h), how many requests were sent, how many of them were synchronous (the
program waited for the reply: one ring round trip each) and how many bulk bytes went with
them, most synchronous calls first. --per N divides the counts by N (e.g. the number of
training steps the program ran) to give calls per step. Where a program is slower through
vgpu than directly, the synchronous calls are where its time goes."""
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fuzz"))
from trace2seed import read_trace  # noqa: E402

ASYNC = 1


def op_names():
    """The generated calls' opcodes (generated/vgpu_ops.h) and the control ones (runtime/session.h)."""
    top = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    names = {}
    for rel, pat in (("generated/vgpu_ops.h", r"\s*VGPU_OP_(\w+) = (\d+),"),
                     ("runtime/session.h", r"\s*VGPU_OP_(\w+)\s*= (0x[0-9a-fA-F]+),")):
        with open(os.path.join(top, rel)) as f:
            for line in f:
                m = re.match(pat, line)
                if m:
                    names[int(m.group(2), 0)] = m.group(1) if rel.startswith("generated") else f"({m.group(1)})"
    return names


def main(argv):
    top, per, files = 40, 1.0, []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("-h", "--help"):
            print(__doc__)
            return 0
        if a in ("--top", "--per"):
            if i + 1 >= len(argv):
                print(f"trace_calls.py: {a} needs a number", file=sys.stderr)
                return 2
            try:
                v = float(argv[i + 1])
            except ValueError:
                print(f"trace_calls.py: {a} needs a number, not {argv[i + 1]!r}", file=sys.stderr)
                return 2
            if v <= 0:
                print(f"trace_calls.py: {a} must be positive", file=sys.stderr)
                return 2
            if a == "--top":
                top = int(v)
            else:
                per = v
            i += 2
            continue
        files.append(a)
        i += 1
    if not files:
        print(__doc__, file=sys.stderr)
        return 2
    names = op_names()
    calls, sync, bulk = {}, {}, {}
    for path in files:
        try:
            recs = read_trace(path)
        except OSError as e:
            print(f"trace_calls.py: {path}: {e.strerror}", file=sys.stderr)
            return 1
        for kind, _chan, op, flags, _seq, _body, full in recs:
            if kind == 1:
                calls[op] = calls.get(op, 0) + 1
                if not flags & ASYNC:
                    sync[op] = sync.get(op, 0) + 1
            elif kind == 2:
                bulk[op] = bulk.get(op, 0) + full
    total, total_sync = sum(calls.values()), sum(sync.values())
    print(f"{total} requests ({total / per:.1f} per unit), {total_sync} synchronous ({total_sync / per:.1f} per unit)")
    print(f"{'call':<44} {'requests':>10} {'synchronous':>12} {'bulk bytes':>12}")
    order = sorted(calls, key=lambda o: (-sync.get(o, 0), -calls[o]))
    for op in order[:top]:
        print(f"{names.get(op, f'opcode {op}'):<44} {calls[op] / per:>10.1f} {sync.get(op, 0) / per:>12.1f} "
              f"{bulk.get(op, 0) / per:>12.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
