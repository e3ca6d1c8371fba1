#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""usage: fuzz/cross_zone.py SEED OUT

Makes a two-zone vgpu-fuzz script (fuzz/harness.h) from a one-zone seed recorded with the
harness's fixed simulator arena (VGPU_SIM_ARENA_BASE, fuzz/README.md): zone 0 runs the seed
up to its first stream or context synchronisation after a kernel launch, keeping its memory,
then zone 1 runs the whole seed. Zone 1's device allocations land elsewhere, but its kernel
parameters still hold the recorded pointers, which are zone 0's: every kernel of zone 1 aims
at zone 0's memory. The simulator must refuse those accesses (CUDA_ERROR_ILLEGAL_ADDRESS) and
the kernel oracle proves nothing of zone 0 was touched (VGPU_FUZZ_SABOTAGE=spaces removes the
refusal, and the oracle must fire)."""
import struct
import sys

LAUNCH = {230, 231}          # cuLaunchKernel, _ptsz (generated/vgpu_ops.h)
SYNC = {246, 247, 56, 57}    # cuStreamSynchronize (+_ptsz), cuCtxSynchronize (+_v2)


def records(data):
    off = 0
    while off < len(data):
        ctl = data[off]
        kind = (ctl >> 1) & 3
        if kind == 0:
            op, _flags, ln = struct.unpack_from("<HHI", data, off + 1)
            end = off + 9 + ln
        elif kind == 2:
            op, end = None, off + 1
        else:
            (ln,) = struct.unpack_from("<I", data, off + 1)
            op, end = None, off + 5 + ln
        yield off, end, kind, op
        off = end


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    data = open(sys.argv[1], "rb").read()
    recs = list(records(data))
    launched, cut = False, None
    for i, (off, end, kind, op) in enumerate(recs):
        if kind == 0 and op in LAUNCH:
            launched = True
        if kind == 0 and launched and op in SYNC:
            cut = i + 1
            while cut < len(recs) and recs[cut][2] == 3:   # its reply's ALIAS record
                cut += 1
            break
    if cut is None:
        sys.exit(f"{sys.argv[1]}: no synchronisation after a kernel launch")
    zone0 = data[:recs[cut][0]] if cut < len(recs) else data
    zone1 = bytearray()
    for off, end, _kind, _op in recs:
        rec = bytearray(data[off:end])
        rec[0] |= 1
        zone1 += rec
    with open(sys.argv[2], "wb") as f:
        f.write(zone0 + zone1)
    print(f"{sys.argv[2]}: zone 0 runs {cut} of {len(recs)} records, then zone 1 all of them")


if __name__ == "__main__":
    main()
