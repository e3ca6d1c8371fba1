#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# seedmin.py — shrinks vgpu-fuzz session scripts by whole messages while their edge coverage stays.
"""usage: fuzz/seedmin.py [--target BIN] [--runs N] [--min-ms MS] [--dry-run] SEED...
       fuzz/seedmin.py --check SEED...

Each SEED (a session script, fuzz/harness.h) is cut into units: a message with the bulk and
alias records that follow it, or a channel close. Units are taken out, halves first, then
quarters and so on down to one (delta debugging), and a cut is kept when the script without
them still reaches every edge the whole script reaches on every one of N runs (afl-showmap -e:
edges, not hit counts; default 3 runs, the edges all of them saw). Traced programs repeat
themselves (a loop of launches, a graph run a hundred times), and each repetition costs every
mutant of the seed its run time while reaching nothing new: afl-fuzz's own trimming cannot cut
them, since any cut of bytes breaks the framing. SEED is rewritten in place unless
--dry-run; a line per seed says units, bytes and run time before and after. Seeds that run
in under --min-ms (default 0: all) are left alone.

--check only reads each SEED: every record whole (none cut short by the end of the file, as
a mutant may be but a seed should not), and the units adding up to the file.

The target defaults to $VGPU_BUILD/fuzz/afl/vgpu-fuzz (VGPU_BUILD: build/san); the simulator
is $VGPU_SIM_LIB or the one beside the target."""
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time

MSG, BULK, CLOSE, ALIAS = 0, 1, 2, 3
ASAN = ("abort_on_error=1:symbolize=0:detect_leaks=0:allocator_may_return_null=1:handle_abort=0:"
        "quarantine_size_mb=16:malloc_context_size=0")


def records(data):
    """(start, end, kind, whole) of each record; whole is False for one the end cuts short
    (the harness clamps it to what is there)."""
    off = 0
    while off < len(data):
        kind = (data[off] >> 1) & 3
        start, whole = off, True
        if kind == CLOSE:
            off += 1
        else:
            hdr = 9 if kind == MSG else 5
            if off + hdr > len(data):
                off, whole = len(data), False
            else:
                ln = struct.unpack_from("<I", data, off + hdr - 4)[0]
                whole = off + hdr + ln <= len(data)
                off = min(len(data), off + hdr + ln)
        yield start, off, kind, whole


def read_seed(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise SystemExit(f"seedmin.py: {path}: {e.strerror}")


def units(data):
    """The script as a list of units (bytes): a message and the records after it that are not
    messages or closes, or a close (records before the first message make a unit of their own)."""
    out, cur = [], None
    for start, end, kind, _ in records(data):
        rec = data[start:end]
        if kind in (MSG, CLOSE) or cur is None:
            if cur is not None:
                out.append(bytes(cur))
            cur = bytearray(rec)
            if kind == CLOSE:
                out.append(bytes(cur))
                cur = None
        else:
            cur += rec
    if cur is not None:
        out.append(bytes(cur))
    return out


class Target:
    def __init__(self, binary, runs):
        self.binary, self.runs, self.execs = binary, runs, 0
        self.env = dict(os.environ, ASAN_OPTIONS=os.environ.get("ASAN_OPTIONS", ASAN), AFL_QUIET="1")
        if "VGPU_SIM_LIB" not in self.env:
            self.env["VGPU_SIM_LIB"] = os.path.join(os.path.dirname(binary), "libcudasim.so")
        self.tmp = tempfile.mkdtemp(prefix="seedmin.")

    def edges(self, data):
        """The edges afl-showmap saw on one run of data."""
        self.execs += 1
        out = os.path.join(self.tmp, "map")
        subprocess.run(["afl-showmap", "-q", "-e", "-m", "none", "-t", "10000", "-o", out, "--", self.binary],
                       input=data, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            with open(out) as f:
                return {line.split(":")[0] for line in f if line.strip()}
        except FileNotFoundError:
            return set()

    def stable_edges(self, data):
        e = self.edges(data)
        for _ in range(self.runs - 1):
            e &= self.edges(data)
        return e

    def covers(self, data, want):
        return want <= self.edges(data)

    def run_ms(self, data, reps=5):
        """The median time of reps runs of data in one process (VGPU_FUZZ_TIME)."""
        inp = os.path.join(self.tmp, "t")
        with open(inp, "wb") as f:
            f.write(data)
        env = dict(self.env, VGPU_FUZZ_TIME="1")
        r = subprocess.run([self.binary] + [inp] * (reps + 1), env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, text=True)
        t = sorted(int(line.split()[2]) for line in r.stderr.splitlines() if line.startswith("vgpu-fuzz: time"))[1:]
        return t[len(t) // 2] / 1000 if t else float("nan")


def minimise(t, us, want):
    """Delta debugging over units: the smallest list found that still covers want."""
    n = 2
    while len(us) >= 2:
        size = max(1, len(us) // n)
        cut = False
        i = 0
        while i < len(us):
            cand = us[:i] + us[i + size:]
            if cand and t.covers(b"".join(cand), want):
                us = cand
                cut = True
            else:
                i += size
        if size == 1 and not cut:
            break
        n = n if cut else n * 2
        if size == 1:
            n = len(us)
    return us


def main(argv):
    args = argv[1:]
    runs, min_ms, dry, binary, check = 3, 0.0, False, None, False
    if args and args[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    if not args:
        print(__doc__, file=sys.stderr)
        return 2
    while args and args[0].startswith("--"):
        a = args.pop(0)
        if a == "--runs":
            runs = int(args.pop(0))
        elif a == "--min-ms":
            min_ms = float(args.pop(0))
        elif a == "--dry-run":
            dry = True
        elif a == "--check":
            check = True
        elif a == "--target":
            binary = args.pop(0)
        else:
            raise SystemExit(f"seedmin.py: unknown option {a}; see --help")
    if not args:
        raise SystemExit("seedmin.py: no seed given; see --help")
    if check:
        bad = 0
        for path in args:
            data = read_seed(path)
            cut = [r for r in records(data) if not r[3]]
            us = units(data)
            if cut:
                print(f"seedmin.py: {path}: the record at byte {cut[0][0]} is cut short by the end of the file",
                      file=sys.stderr)
            elif b"".join(us) != data:
                print(f"seedmin.py: {path}: its {len(us)} units do not add up to it", file=sys.stderr)
            else:
                continue
            bad += 1
        print(f"seedmin.py: {len(args) - bad} of {len(args)} seeds read whole, in units that add up to them")
        return 1 if bad else 0
    binary = binary or os.path.join(os.environ.get("VGPU_BUILD", "build/san"), "fuzz/afl/vgpu-fuzz")
    if not os.access(binary, os.X_OK):
        raise SystemExit(f"seedmin.py: {binary} is not there; build it (make B=build/san SAN=1 fuzz-build)")
    if not shutil.which("afl-showmap"):
        raise SystemExit("seedmin.py: afl-showmap not found (apt-get install afl++)")
    t = Target(os.path.abspath(binary), runs)
    for path in args:
        data = read_seed(path)
        ms0 = t.run_ms(data)
        if ms0 < min_ms:
            print(f"{path}: {ms0:.2f} ms, under {min_ms} ms: left alone")
            continue
        us = units(data)
        if b"".join(us) != data:
            raise SystemExit(f"seedmin.py: {path}: the units do not add up to the file (a parser bug)")
        want = t.stable_edges(data)
        if not want:
            print(f"{path}: afl-showmap saw no edges (is the target an afl-clang-fast build?)", file=sys.stderr)
            return 1
        e0, t0 = t.execs, time.time()
        out = minimise(t, us, want)
        new = b"".join(out)
        # the cut seed once more against the edges of the whole one, over the same N runs
        if t.stable_edges(new) < want:
            print(f"{path}: the cut seed lost edges on a later run; left alone")
            continue
        ms1 = t.run_ms(new)
        print(f"{path}: {len(us)} -> {len(out)} units, {len(data)} -> {len(new)} bytes, "
              f"{ms0:.2f} -> {ms1:.2f} ms a run, {len(want)} edges kept "
              f"({t.execs - e0} runs, {time.time() - t0:.0f} s)")
        if not dry and new != data:
            with open(path, "wb") as f:
                f.write(new)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
