#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Writes the seed corpus of the checkpoint-file fuzz target (fuzz/corpus-ckpt/): checkpoints
built record by record as proxy/ckpt.c writes them. Byte 0 of each seed selects the form
(fuzz/ckpt.c): 0 = payload only (the target adds a valid header), 1 = a whole file."""
import os
import struct
import sys
import zlib

(R_ZONE, R_RANGES, R_SLOTS, R_CTX, R_MODULE, R_FUNC, R_STREAM, R_EVENT, R_ALLOC, R_END, R_POOL, R_GLOBAL,
 R_PINNED, R_CHAN, R_GRAPH, R_GEXEC, R_VMEM, R_VMAP, R_GVAL, R_OUTPUT) = range(1, 21)
NO_SLOT = 0xFFFFFFFF


def rec(t, body):
    return struct.pack("<IIQ", t, 0, len(body)) + body


def s(v):
    v = v.encode()
    return struct.pack("<I", len(v)) + v


def zone(slots, name="app", reg="", source="/run/vgpu/state/zone-1.sock", devices=None, env=None):
    body = struct.pack("<IIQ", 1, slots, 0x1234567880000000) + bytes(range(16)) + s(name) + s(reg) + s(source)
    if devices is not None:
        body += s(devices)
    if env is not None:
        body += s(env)
    return rec(R_ZONE, body)


def slots(gens):
    return rec(R_SLOTS, struct.pack("<I", len(gens)) + b"".join(struct.pack("<I", g) for g in gens))


def ranges(pairs):
    return rec(R_RANGES, struct.pack("<II", len(pairs), 0) + b"".join(struct.pack("<QQ", b, n) for b, n in pairs))


def end(body_so_far, nrec):
    """The end record: how many records came before it, and the CRC-32C of the bytes before it."""
    return rec(R_END, struct.pack("<II", nrec, crc32c(body_so_far)))


PTX = b""".version 8.0
.target sm_80
.address_size 64
.visible .entry k(.param .u64 p)
{
ret;
}
"""


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


def full_file(payload, version=2):
    hdr = b"VGPUCKPT" + struct.pack("<IIQII", version, 64, len(payload), 0, 2)
    return hdr + bytes(64 - len(hdr)) + payload


def payload(records):
    body = b"".join(records)
    return body + end(body, len(records))


def seeds():
    a1 = rec(R_ALLOC, struct.pack("<QQII", 0x7F0000200000, 64, 0, 0) + bytes(range(64)))
    a2 = rec(R_ALLOC, struct.pack("<QQII", 0x7F0000200040, 16, 5, 0) + b"\xaa" * 16)
    recs = [zone(8), ranges([(0x7F0000200000, 64), (0x7F0000200040, 16)]), slots([1, 1, 3, 1, 2, 1, 1, 5]),
            rec(R_CTX, struct.pack("<IIII", 0, 1, 0, 0)),
            rec(R_CTX, struct.pack("<IIII", 5, 0, 0, 8)),
            rec(R_MODULE, struct.pack("<IIQ", 1, 0, len(PTX)) + PTX),
            rec(R_FUNC, struct.pack("<III", 2, 1, 1) + b"k"),
            rec(R_STREAM, struct.pack("<IIII", 3, 0, 1, 0xFFFFFFFF)),
            rec(R_EVENT, struct.pack("<III", 4, NO_SLOT, 0)),
            a1, a2]
    yield "all-records", b"\x00" + payload(recs)
    yield "whole-file", b"\x01" + full_file(payload(recs))
    # the first format (version 1, before stream-ordered allocations had a kind of their own)
    yield "whole-file-v1", b"\x01" + full_file(payload(recs), 1)
    yield "empty-zone", b"\x00" + payload([zone(0, source=""), ranges([]), slots([])])
    # a zone whose process chose devices (CUDA_VISIBLE_DEVICES): the proxy's ordinals, in its order
    yield "devices", b"\x00" + payload([zone(8, devices="2,0")] + recs[1:])
    # and its driver settings (after the devices; "" for all of them)
    yield "driver-env", b"\x00" + payload([zone(8, devices="", env="CUDA_LAUNCH_BLOCKING=1 CUDA_MODULE_LOADING=EAGER")]
                                          + recs[1:])
    alloc = rec(R_ALLOC, struct.pack("<QQII", 0x7F0000200000, 64, NO_SLOT, 0) + bytes(64))
    yield "allocs-only", b"\x00" + payload([zone(1), ranges([(0x7F0000200000, 64)]), slots([1]), alloc])
    # a stream-ordered allocation: owned by no context, its device (1) in the kind word's bits 8-15
    ordered = rec(R_ALLOC, struct.pack("<QQII", 0x7F0000200000, 64, NO_SLOT, 2 | 1 << 8) + bytes(range(64)))
    yield "ordered-alloc", b"\x00" + payload([zone(1), ranges([(0x7F0000200000, 64)]), slots([1]), ordered])
    yield "ctx-module", b"\x00" + payload([zone(8), ranges([]), recs[2], recs[3], recs[4], recs[5]])
    # a primary context the zone reset (kind 2: idle, nothing made in it) beside a created one
    idle = rec(R_CTX, struct.pack("<IIII", 0, 2, 0, 0))
    yield "idle-primary", b"\x00" + payload([zone(8), ranges([]), recs[2], idle, recs[4], recs[5]])
    # memory pools (between the events and the allocations): slot 6 one the zone created,
    # current on its device, slot 7 device 0's default pool
    # slot, owner, kind, device, allocation type, location type, usage, current, max size,
    # release threshold, reuse flags, 0
    created = rec(R_POOL, struct.pack("<IIIIIIIIQQII", 6, 0, 1, 0, 1, 1, 0, 1, 1 << 30, 1 << 20, 5, 0))
    default = rec(R_POOL, struct.pack("<IIIIIIIIQQII", 7, NO_SLOT, 0, 0, 0, 0, 0, 0, 0, 48 << 20, 7, 0))
    yield "pools", b"\x00" + payload(recs[:9] + [created, default] + recs[9:])
    # module globals (after the allocations): the module in slot 1 keeps two globals at the
    # two allocations' addresses; module slot, name length, address, size, name
    g1 = rec(R_GLOBAL, struct.pack("<IIQQ", 1, 11, 0x7F0000200000, 64) + b"dev_counter")
    g2 = rec(R_GLOBAL, struct.pack("<IIQQ", 1, 7, 0x7F0000200040, 16) + b"c_scale")
    yield "globals", b"\x00" + payload(recs + [g1, g2])
    # the same written by a worker whose driver cannot place a module global: the globals'
    # allocation records flagged (1) as a global's bytes, which a restorer of that kind keeps
    # for the global records instead of mapping memory there
    h1 = rec(R_ALLOC, struct.pack("<QQII", 0x7F0000200000, 64, 0, 1) + bytes(range(64)))
    h2 = rec(R_ALLOC, struct.pack("<QQII", 0x7F0000200040, 16, 5, 1) + b"\xaa" * 16)
    yield "globals-held", b"\x00" + payload(recs[:-2] + [h1, h2, g1, g2])
    # a zone saved with checkpoint --stop: its pinned regions (slot, 0, bytes, memfd inode,
    # id key, the saving worker's address of it; slots ascending) and channels (ring memfd inode, current context slot,
    # contexts below it, the server end's four ring indices), after the allocations and globals
    key = 0x8000000012345678
    p1 = rec(R_PINNED, struct.pack("<IIQQQQ", 0, 0, 1 << 20, 4242, key, 0x200000000000))
    p2 = rec(R_PINNED, struct.pack("<IIQQQ", 3, 0, 8192, 4243, key))   # written before addresses were kept
    c1 = rec(R_CHAN, struct.pack("<QIIIIII", 777, 0, 0, 0x1040, 0x2000, 0x1040, 0))
    c2 = rec(R_CHAN, struct.pack("<QIIIIII", 778, NO_SLOT, 0, 0x10, 0, 0x10, 0))
    yield "rejoin", b"\x00" + payload(recs + [g1, g2, p1, p2, c1, c2])
    # a thread whose stack held contexts below its current one (cuCtxCreate over another,
    # cuCtxPushCurrent): their count in the third field, their slots, bottom first, after the
    # ring indices
    c3 = rec(R_CHAN, struct.pack("<QIIIIIIII", 779, 0, 2, 0x20, 0, 0x20, 0, 0, 0))
    yield "context-stack", b"\x00" + payload(recs + [g1, g2, p1, c1, c3])
    # device output the zone had not taken (after the channels): stream, 0, the text
    o1 = rec(R_OUTPUT, struct.pack("<II", 0, 0) + b"kernel says 4242\n")
    o2 = rec(R_OUTPUT, struct.pack("<II", 1, 0) + b"a.cu:7: fail: block: [0,0,0], thread: [0,0,0] Assertion failed.\n")
    yield "output", b"\x00" + payload(recs + [p1, c1, o1, o2])
    # a graph (slot 6, with a node handle at slot 7) and an executable graph's copy, after the
    # globals: node count, 0, then per node {slot, type, dependencies, body bytes,
    # dependency indices, body}: a kernel (function slot 2, grid, block, shared memory, one
    # 8-byte parameter), a memset after it, an event record node and an empty node after both
    def nodes(kslot):
        kbody = struct.pack("<IIIIIIIIII", 2, 4, 1, 1, 64, 1, 1, 0, 1, 8) + struct.pack("<Q", 0x7F0000200000)
        mbody = struct.pack("<QQIIQQ", 0x7F0000200000, 0, 7, 4, 16, 1)
        cbody = struct.pack("<QQQQQQQQQ", 0x7F0000200000, 0x7F0000200040, 0, 0, 0, 0, 16, 1, 1)
        return (struct.pack("<II", 5, 0)
                + struct.pack("<IIII", kslot, 0, 0, len(kbody)) + kbody
                + struct.pack("<IIIII", NO_SLOT, 2, 1, len(mbody), 0) + mbody
                + struct.pack("<IIIII", NO_SLOT, 1, 1, len(cbody), 1) + cbody
                + struct.pack("<IIIIII", NO_SLOT, 7, 1, 4, 2, 4)
                + struct.pack("<IIIIII", NO_SLOT, 5, 2, 0, 2, 3))
    gslots = slots([1, 1, 3, 1, 2, 1, 1, 1, 1])
    graph = rec(R_GRAPH, struct.pack("<II", 6, 0) + nodes(7))
    gexec = rec(R_GEXEC, struct.pack("<IIQ", 8, 0, 1) + nodes(NO_SLOT))
    grecs = [zone(9), recs[1], gslots] + recs[3:]
    yield "graphs", b"\x00" + payload(grecs + [graph, gexec])
    # a child graph node (type 4) after the kernel: its body is a graph of its own (one empty
    # node, then a child graph holding a memset), nodes without slots
    inner = struct.pack("<II", 1, 0) + struct.pack("<IIII", NO_SLOT, 2, 0, 40) + struct.pack("<QQIIQQ", 0x7F0000200000, 0, 7, 4, 16, 1)
    child = (struct.pack("<II", 2, 0) + struct.pack("<IIII", NO_SLOT, 5, 0, 0)
             + struct.pack("<IIIII", NO_SLOT, 4, 1, len(inner), 0) + inner)
    kbody = struct.pack("<IIIIIIIIII", 2, 4, 1, 1, 64, 1, 1, 0, 1, 8) + struct.pack("<Q", 0x7F0000200000)
    cgraph = rec(R_GRAPH, struct.pack("<II", 6, 0) + struct.pack("<II", 2, 0)
                 + struct.pack("<IIII", 7, 0, 0, len(kbody)) + kbody
                 + struct.pack("<IIIII", NO_SLOT, 4, 1, len(child), 0) + child)
    yield "graphs-child", b"\x00" + payload(grecs + [cgraph])
    # virtual memory management: the ranges record's second word counts the address
    # reservations that follow the allocations' ranges; a physical allocation (id, size, id
    # key, type 1, device location 0, references, its bytes) and a mapping of it (address,
    # size, offset, allocation id, access 3, 0), after the allocations
    vkey = 0xE90CD82600000000
    vranges = rec(R_RANGES, struct.pack("<II", 2, 1) + struct.pack("<QQ", 0x7F0000200000, 64)
                  + struct.pack("<QQ", 0x7F0000200040, 16) + struct.pack("<QQ", 0x7F0000400000, 8192))
    vmem = rec(R_VMEM, struct.pack("<QQQIIII", vkey ^ 1, 8192, vkey, 1, 1, 0, 0) + bytes(range(256)) * 32)
    vmap = rec(R_VMAP, struct.pack("<QQQQII", 0x7F0000400000, 8192, 0, vkey ^ 1, 3, 0))
    yield "vmm", b"\x00" + payload([recs[0], vranges] + recs[2:] + [vmem, vmap])
    # module globals carried by value, as on a GPU driver (after the globals, before the
    # graphs): module slot, name length, value length, name, value
    v1 = rec(R_GVAL, struct.pack("<IIQ", 1, 11, 4) + b"dev_counter" + struct.pack("<I", 300))
    v2 = rec(R_GVAL, struct.pack("<IIQ", 1, 9, 32) + b"dev_table" + bytes(range(32)))
    yield "global-values", b"\x00" + payload(recs + [g2, v1, v2, p1, c1])


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus-ckpt")
    os.makedirs(out, exist_ok=True)
    for name, data in seeds():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
    assert crc32c(b"123456789") == 0xE3069283  # the CRC-32C check value
    return 0


if __name__ == "__main__":
    sys.exit(main())
