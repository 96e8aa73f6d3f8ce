#!/usr/bin/env python3
"""Prints the SDK x operation compatibility matrix from one run's reports.

Usage: matrix.py DIR   (DIR holds node.xml, the Node test runner's JUnit report, and
python.jsonl, written by python/conftest.py). Test names are "sdk | operation | what".
A cell is `pass N` when all N tests of that operation passed, `FAIL f/N` when f failed, and
`skip` when all were skipped; `-` means the SDK has no such test.
"""

import json
import os
import sys
import xml.etree.ElementTree as ET

SDKS = [
    ("api", "@novu/api 3.19.1"),
    ("node", "@novu/node 2.6.6"),
    ("py", "novu-py 3.19.0"),
    ("pyc", "novu 1.14.0"),
]


def node_results(path):
    if not os.path.exists(path):
        return []
    out = []
    for case in ET.parse(path).getroot().iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            outcome = "failed"
        elif case.find("skipped") is not None:
            outcome = "skipped"
        else:
            outcome = "passed"
        out.append((case.get("name", ""), outcome))
    return out


def python_results(path):
    if not os.path.exists(path):
        return []
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                r = json.loads(line)
                out.append((r["name"], r["outcome"]))
    return out


def main():
    base = sys.argv[1] if len(sys.argv) > 1 else "."
    results = node_results(os.path.join(base, "node.xml")) + python_results(os.path.join(base, "python.jsonl"))
    cells = {}  # (op, sdk) -> [passed, failed, skipped]
    for name, outcome in results:
        parts = [p.strip() for p in name.split("|")]
        if len(parts) < 3:
            continue
        sdk, op = parts[0], parts[1]
        c = cells.setdefault((op, sdk), [0, 0, 0])
        c[{"passed": 0, "failed": 1, "skipped": 2}[outcome]] += 1
    if not cells:
        print("sdk-tests: no results to tabulate")
        return
    ops = sorted({op for op, _ in cells}, key=lambda o: (o.split(".")[0], o))
    header = ["operation"] + [label for _, label in SDKS]
    rows = []
    for op in ops:
        row = [op]
        for sdk, _ in SDKS:
            c = cells.get((op, sdk))
            if c is None:
                row.append("-")
            elif c[1]:
                row.append(f"FAIL {c[1]}/{sum(c)}")
            elif c[0]:
                row.append(f"pass {c[0]}" + (f" (+{c[2]} skip)" if c[2] else ""))
            else:
                row.append(f"skip {c[2]}")
        rows.append(row)
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
    line = lambda r: "| " + " | ".join(v.ljust(w) for v, w in zip(r, widths)) + " |"
    print()
    print("SDK compatibility matrix (tests per operation)")
    print(line(header))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print(line(r))
    totals = {}
    for (op, sdk), c in cells.items():
        t = totals.setdefault(sdk, [0, 0, 0])
        for i in range(3):
            t[i] += c[i]
    print()
    for sdk, label in SDKS:
        if sdk in totals:
            p, f, s = totals[sdk]
            print(f"  {label:18} {p} passed, {f} failed, {s} skipped")


if __name__ == "__main__":
    main()
