#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Compare two VM runs of the same kselftests:

    build/mm-compare.py [--table FILE] [--summary FILE] EXPECTED_LIST A:LOGDIR B:LOGDIR

A and B name the kernels (e.g. series, pristine); each LOGDIR holds the
output.log and console.log of build/vm.sh.  EXPECTED_LIST is the
kselftest-list.txt both ran.

Prints one row per result, for both kernels: each test's own result
("(exit)": ok, skip, or not ok with the runner's exit=N or TIMEOUT) and
every result the test printed (ok, not ok, skip, xfail); "-" where a
kernel has no such result.  A test that printed the same name twice is
told apart by the occurrence number.  Then a summary per test with the
time it took on each kernel (from the test markers guest-init writes to
the kernel console) and the kernel reports on the console (WARNING, BUG,
...; the patterns of build/vmcheck.py), put down to the test that was
running.

Exits 1 when any result differs, when the kernels' reports differ (a
report on one kernel only, or different kinds for one test), or when a
run did not reach its end; 0 when everything is identical (reports that
both kernels printed are listed, not failed).
"""

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmcheck  # noqa: E402  (REPORT_RE, REPORTS)

HEADER_RE = re.compile(r"^# selftests: (\S+): (\S+)\s*$")
# A result line: "ok 3 name # SKIP reason"; the test's own results have
# one "# " prefix (the runner's), the runner's results none.
RESULT_RE = re.compile(r"^(not ok|ok)\s+\d+\s*(.*)$")
# guest-init's markers: "ksft: UPTIME selftests: mm: cow", "ksft: UPTIME end".
MARK_RE = re.compile(r"ksft: (\d+\.\d+) (?:selftests: (\S+): (\S+)|(end))\s*$")
TIME_RE = re.compile(r"^\[\s*\d+\.\d+\]\s*")
NUMBER_RE = re.compile(r"\d+(?:\.\d+)?")


def split_result(rest):
    """'name # SKIP why' -> (name, directive, detail)."""
    name, sep, comment = rest.partition(" # ")
    if not sep and rest.startswith("# "):
        name, comment = "", rest[2:]
    name = name.strip()
    comment = comment.strip()
    directive = comment.split(" ", 1)[0].upper() if comment else ""
    # "ok 7 # SKIP wp-fork on anon (feature missing)": the reason is all
    # there is to tell the result by.
    if not name and directive in ("SKIP", "TODO", "XFAIL"):
        name = comment.split(" ", 1)[1] if " " in comment else ""
    return name, directive, comment


def status_of(ok, directive, comment, top):
    if directive == "SKIP":
        return "skip"
    if directive == "XFAIL":
        return "xfail"
    if directive == "TODO":
        return "todo"
    if ok:
        return "ok"
    # The runner says why a test failed: exit=N or TIMEOUT N seconds.
    if top and comment:
        return "not ok (%s)" % comment.split(" seconds")[0].lower()
    return "not ok"


def parse_output(path):
    """Return ({(test, subtest, n): status}, [keys in order], ended)."""
    results, order = {}, []
    current = None
    seen = {}
    ended = False
    try:
        lines = open(path, errors="replace").read().splitlines()
    except FileNotFoundError:
        lines = []
    for line in lines:
        line = line.rstrip("\r")
        if line.startswith("PVMMAP-END"):
            ended = True
            continue
        m = HEADER_RE.match(line)
        if m:
            current = "%s:%s" % (m.group(1), m.group(2))
            continue
        if line.startswith("# "):
            if current is None:
                continue
            m = RESULT_RE.match(line[2:])
            if not m:
                continue
            name, directive, comment = split_result(m.group(2))
            # Measurements in a name ("transact_test Extra pages 229
            # (0.5%)") differ from run to run: compare with them as "#".
            name = NUMBER_RE.sub("#", name)
            n = seen.get((current, name), 0) + 1
            seen[(current, name)] = n
            key = (current, name, n)
            results[key] = status_of(m.group(1) == "ok", directive, comment,
                                     False)
            order.append(key)
            continue
        m = RESULT_RE.match(line)
        if m:
            name, directive, comment = split_result(m.group(2))
            t = re.match(r"selftests: (\S+): (\S+)$", name)
            if not t:
                continue
            key = ("%s:%s" % (t.group(1), t.group(2)), "(exit)", 1)
            results[key] = status_of(m.group(1) == "ok", directive, comment,
                                     True)
            order.append(key)
            current = None
    return results, order, ended


def kind_of(line):
    for pat in vmcheck.REPORTS:
        if re.search(pat, line):
            return pat.replace("\\", "").rstrip(": ").strip()
    return "?"


def parse_console(path):
    """Return ({test: seconds}, [(test, kind, line)]).

    A test's time runs from its marker to the next; a report belongs to
    the test whose marker precedes it, "(boot)" or "(end)".
    """
    times, reports = {}, []
    current, since = "(boot)", None
    try:
        lines = open(path, errors="replace").read().splitlines()
    except FileNotFoundError:
        lines = []
    for line in lines:
        m = MARK_RE.search(line)
        if m:
            now = float(m.group(1))
            if since is not None:
                times[current] = now - since
            current = "(end)" if m.group(4) else "%s:%s" % (m.group(2),
                                                            m.group(3))
            since = now
            continue
        if vmcheck.REPORT_RE.search(line):
            text = TIME_RE.sub("", line.rstrip("\r")).strip()
            reports.append((current, kind_of(line), text))
    return times, reports


def merge_order(a, b):
    """Keys of both runs in run order: B's extra keys after A's neighbour."""
    out = list(a)
    pos = {k: i for i, k in enumerate(out)}
    prev = None
    for k in b:
        if k not in pos:
            i = pos[prev] + 1 if prev in pos else len(out)
            out.insert(i, k)
            pos = {k2: j for j, k2 in enumerate(out)}
        prev = k
    return out


def main():
    args = sys.argv[1:]
    table_file = summary_file = None
    while args and args[0].startswith("--"):
        if args[0] == "--table":
            table_file = args[1]
        elif args[0] == "--summary":
            summary_file = args[1]
        else:
            sys.exit(__doc__)
        args = args[2:]
    if len(args) != 3:
        sys.exit(__doc__)
    expected = [l.strip() for l in open(args[0]) if l.strip()]
    (na, da), (nb, db) = (a.split(":", 1) for a in args[1:])

    ra, oa, enda = parse_output(da + "/output.log")
    rb, ob, endb = parse_output(db + "/output.log")
    ta, repa = parse_console(da + "/console.log")
    tb, repb = parse_console(db + "/console.log")
    # A test that printed nothing at all still gets its row.
    for e in expected:
        for r, o in ((ra, oa), (rb, ob)):
            if (e, "(exit)", 1) not in r:
                r[(e, "(exit)", 1)] = "missing"
                o.append((e, "(exit)", 1))
    keys = merge_order(oa, ob)
    tests = []
    for k in keys:
        if k[0] not in tests:
            tests.append(k[0])

    diffs = []
    rows = ["| test | result | %s | %s | |" % (na, nb),
            "|---|---|---|---|---|"]
    for k in keys:
        sa, sb = ra.get(k, "-"), rb.get(k, "-")
        name = k[1] if k[2] == 1 else "%s (#%d)" % (k[1], k[2])
        mark = "" if sa == sb else "**differs**"
        if sa != sb:
            diffs.append((k[0], name, sa, sb))
        rows.append("| %s | %s | %s | %s | %s |" % (
            k[0].split(":", 1)[1], name.replace("|", "\\|"), sa, sb, mark))
    table = "\n".join(rows) + "\n"

    def counts(r, test):
        c = {"ok": 0, "not ok": 0, "skip": 0}
        for k, s in r.items():
            if k[0] == test and k[1] != "(exit)":
                s = "not ok" if s.startswith("not ok") else s
                c[s] = c.get(s, 0) + 1
        return "%d/%d/%d" % (c["ok"], c["not ok"], c["skip"])

    def reps(rep, test):
        kinds = sorted(r[1] for r in rep if r[0] == test)
        return ", ".join(kinds) if kinds else "none"

    def secs(t, test):
        return "%.0f" % t[test] if test in t else "-"

    srows = ["| test | %s | %s | ok/not ok/skip %s | ok/not ok/skip %s "
             "| s %s | s %s | reports %s | reports %s |"
             % (na, nb, na, nb, na, nb, na, nb),
             "|---|---|---|---|---|---|---|---|---|"]
    report_tests = sorted({r[0] for r in repa + repb},
                          key=lambda t: (t != "(boot)", t))
    for test in tests + [t for t in report_tests if t not in tests]:
        srows.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            test.split(":", 1)[-1], ra.get((test, "(exit)", 1), "-"),
            rb.get((test, "(exit)", 1), "-"), counts(ra, test),
            counts(rb, test), secs(ta, test), secs(tb, test),
            reps(repa, test), reps(repb, test)))
        if reps(repa, test) != reps(repb, test):
            diffs.append((test, "kernel reports", reps(repa, test),
                          reps(repb, test)))
    summary = "\n".join(srows) + "\n"

    problems = []
    for n, end in ((na, enda), (nb, endb)):
        if not end:
            problems.append("the %s run did not reach its end marker" % n)

    print(table)
    print(summary)
    for n, rep in ((na, repa), (nb, repb)):
        for test, kind, text in rep[:20]:
            print("%s: report during %s: %s" % (n, test, text))
    nres = sum(1 for k in keys if k[1] != "(exit)")
    print("mm-compare: %d tests, %d results: %d on %s, %d on %s"
          % (len(tests), nres, sum(1 for k in ra if k[1] != "(exit)"), na,
             sum(1 for k in rb if k[1] != "(exit)"), nb))
    if table_file:
        open(table_file, "w").write(table)
    if summary_file:
        open(summary_file, "w").write(summary)
    for p in problems:
        print("FAIL: " + p)
    for test, name, sa, sb in diffs:
        print("DIFF: %s: %s: %s %s, %s %s" % (test, name, na, sa, nb, sb))
    if diffs or problems:
        print("mm-compare: %d difference(s)" % len(diffs))
        sys.exit(1)
    both = {r[0] for r in repa} & {r[0] for r in repb}
    if both:
        print("mm-compare: identical, but both kernels printed reports "
              "during: %s" % ", ".join(sorted(both)))
    else:
        print("mm-compare: identical")


if __name__ == "__main__":
    main()
