#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# trace2seed.py — turns VGPU_TRACE files (docs/TRACE.md) into vgpu-fuzz session scripts (fuzz/harness.h).
"""usage: fuzz/trace2seed.py [--max-bulk N] [--drop-bulk-over N] [--split N] OUT_DIR TRACE...

Each trace becomes one or more seeds: requests become MSG records (zone 0; a trace's second
channel becomes zone 1, so multi-threaded programs give two-zone scripts), replies carrying
ids or pointers ALIAS records (the harness translates recorded values), bulk inputs BULK
records cut to --max-bulk bytes (default 4096: the declared length stays in the request, so a
longer transfer ends as 'client gone mid-transfer'; big copies are shrunk in the request
instead when they fit, see below). --split N also writes seeds of the first N, 2N, ...
messages (shorter seeds run faster). --drop-bulk-over N leaves out every request whose bulk
input is larger than N bytes (with its bulk bytes and reply), e.g. a second, large module
image, so the rest of the session stays small. Prints one line per seed written."""
import os
import struct
import sys

REC = struct.Struct("<B3xIHHIII")
MAGIC = b"VGPUTRC1"


def read_trace(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != MAGIC:
        raise SystemExit(f"{path}: not a VGPU_TRACE file (magic {data[:8]!r}, expected {MAGIC!r})")
    off, recs = 8, []
    while off + REC.size <= len(data):
        kind, chan, op, flags, seq, ln, full = REC.unpack_from(data, off)
        off += REC.size
        body = data[off:off + ln]
        off += ln
        recs.append((kind, chan, op, flags, seq, body, full))
    return recs


def drop_big(recs, limit):
    """Drops each request whose bulk input exceeds limit bytes, with its bulk and reply."""
    drop = {(r[1], r[4]) for r in recs if r[0] == 2 and r[6] > limit}
    return [r for r in recs if (r[1], r[4]) not in drop]


def script(recs, max_bulk):
    chans, out, nmsg = {}, bytearray(), 0
    for kind, chan, op, flags, seq, body, full in recs:
        zone = chans.setdefault(chan, len(chans)) & 1
        if kind == 1:
            out += struct.pack("<BHHI", zone | 0 << 1, op, flags, len(body)) + body
            nmsg += 1
            yield nmsg, bytes(out)
        elif kind == 2:
            b = body[:max_bulk]
            if len(b) < full:
                # pad to the streamed length when it is small enough; else leave it short
                if full <= max_bulk:
                    b = body + bytes(full - len(body))
            out += struct.pack("<BI", zone | 1 << 1, len(b)) + b
        elif kind == 3 and b"\xcf" in body:
            # the recorded reply: lets the harness translate this proxy's ids and pointers
            out += struct.pack("<BI", zone | 3 << 1, len(body)) + body


def main(argv):
    max_bulk, split, drop = 4096, 0, None
    args = argv[1:]
    if not args or args[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    while args and args[0].startswith("--"):
        if args[0] == "--max-bulk":
            max_bulk = int(args[1]); args = args[2:]
        elif args[0] == "--drop-bulk-over":
            drop = int(args[1]); args = args[2:]
        elif args[0] == "--split":
            split = int(args[1]); args = args[2:]
        else:
            raise SystemExit(f"trace2seed.py: unknown option {args[0]}; see --help")
    if len(args) < 2:
        raise SystemExit("trace2seed.py: need OUT_DIR and at least one TRACE; see --help")
    outdir, traces = args[0], args[1:]
    os.makedirs(outdir, exist_ok=True)
    for t in traces:
        name = os.path.splitext(os.path.basename(t))[0]
        last = None
        recs = read_trace(t)
        if drop is not None:
            recs = drop_big(recs, drop)
        for n, s in script(recs, max_bulk):
            last = (n, s)
            if split and n % split == 0:
                p = os.path.join(outdir, f"{name}-{n:04d}")
                open(p, "wb").write(s)
                print(p, len(s))
        if last:
            p = os.path.join(outdir, f"{name}-all")
            open(p, "wb").write(last[1])
            print(p, len(last[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
