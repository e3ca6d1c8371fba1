#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# fuzz/totals.py — sums the fuzzing campaigns recorded in docs/perf/fuzz.md per target and rewrites its cumulative table.
"""usage: fuzz/totals.py [--write] [FILE]

Reads the campaign tables of FILE (default docs/perf/fuzz.md): the rows of "Campaigns before
2026-12-03" (decoder target, numbered runs) and every row of the campaign record that
fuzz/run.sh --record appends. Prints one line per target: campaigns, fuzzing time,
executions, crashes and hangs saved, the most edges one campaign reached. With --write the
table between the lines "<!-- totals -->" and "<!-- /totals -->" of FILE is replaced by
the same figures (fuzz/run.sh --record does this after appending its row).
"""
import os
import re
import sys


def num(s):
    s = s.strip().replace(",", "").replace("*", "")
    try:
        return float(s)
    except ValueError:
        return None


def duration(s):
    """'7 min 02 s' or '41 min 00 s' -> seconds; a plain number is seconds."""
    s = s.strip().replace("*", "")
    m = re.fullmatch(r"(?:(\d+) min)?\s*(?:(\d+) s)?", s)
    if m and (m.group(1) or m.group(2)):
        return int(m.group(1) or 0) * 60 + int(m.group(2) or 0)
    v = num(s)
    return v


def cells(line):
    return [c.strip() for c in line.strip().strip("|").split("|")]


def collect(text):
    totals = {}

    def add(target, secs, execs, crashes, hangs, edges):
        t = totals.setdefault(target, {"runs": 0, "secs": 0.0, "execs": 0, "crashes": 0, "hangs": 0, "edges": 0})
        t["runs"] += 1
        t["secs"] += secs or 0
        t["execs"] += int(execs or 0)
        t["crashes"] += int(crashes or 0)
        t["hangs"] += int(hangs or 0)
        t["edges"] = max(t["edges"], int(edges or 0))

    section = None
    for line in text.splitlines():
        if line.startswith("## "):
            section = line[3:].strip()
            continue
        if not line.startswith("|") or line.startswith("|---"):
            continue
        c = cells(line)
        if section and section.startswith("Campaigns before") and c and c[0].isdigit() and len(c) >= 8:
            # | run | duration | execs | execs/s | paths | edges | stability | crashes / hangs | notes |
            ch = c[7].split("/")
            add("decoder", duration(c[1]), num(c[2]), num(ch[0]), num(ch[1]) if len(ch) > 1 else 0, num(c[5]))
        elif section == "Campaign record" and len(c) >= 10 and re.fullmatch(r"\d{4}-\d\d-\d\d", c[0]):
            # | date | target | s | execs | execs/s | paths / edges | stability | crashes | hangs | commit | notes |
            pe = c[5].split("/")
            add(c[1], num(c[2]), num(c[3]), num(c[7]), num(c[8]), num(pe[1]) if len(pe) > 1 else None)
    return totals


def table(totals):
    out = ["| target | campaigns | fuzzing time | executions | crashes / hangs saved | most edges in one campaign |",
           "|---|---:|---:|---:|---:|---:|"]
    for target in sorted(totals, key=lambda k: -totals[k]["execs"]):
        t = totals[target]
        h, rem = divmod(int(t["secs"]), 3600)
        out.append("| %s | %d | %d h %02d min | %s | %d / %d | %d |" % (
            target, t["runs"], h, rem // 60, "{:,}".format(t["execs"]), t["crashes"], t["hangs"], t["edges"]))
    return out


def main(argv):
    write = "--write" in argv
    args = [a for a in argv if a != "--write"]
    if any(a in ("-h", "--help") for a in args):
        print(__doc__.strip())
        return 0
    path = args[0] if args else "docs/perf/fuzz.md"
    try:
        with open(path) as f:
            text = f.read()
    except OSError as e:
        print("fuzz/totals.py: cannot read %s: %s" % (path, e.strerror), file=sys.stderr)
        return 1
    rows = table(collect(text))
    if not write:
        print("\n".join(rows))
        return 0
    lines = text.split("\n")
    try:
        a = lines.index("<!-- totals -->")
        b = lines.index("<!-- /totals -->", a)
    except ValueError:
        print("fuzz/totals.py: %s has no '<!-- totals -->' ... '<!-- /totals -->' lines to fill" % path,
              file=sys.stderr)
        return 1
    lines[a + 1:b] = rows
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write("\n".join(lines))
    os.replace(tmp, path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
