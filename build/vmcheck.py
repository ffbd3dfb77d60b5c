#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Judge a VM test run: build/vmcheck.py LOGDIR EXPECTED_LIST

(--reports-only LOGDIR: only the end marker and the kernel reports.)

Reads LOGDIR/output.log (KTAP from run_kselftest.sh, on its own serial
port) and LOGDIR/console.log (the kernel console), and fails when:

  - the run did not reach its end marker (timeout, crash, panic);
  - any test result is "not ok" (a SKIP is reported, not failed);
  - a collection of EXPECTED_LIST (kselftest-list.txt) printed no result,
    or a test binary printed fewer results than its plan announced;
  - the kernel printed a report: WARNING, BUG, Oops, a lockdep report,
    page_table_check, a KFENCE report, a panic, RCU stalls.

Prints a summary ending in the plain line "N passed, N failed, N skipped".
"""

import re
import sys

# Headers of kernel reports; matching headers, not the word "lockdep"
# (a lockdep kernel prints "RCU lockdep checking is enabled" at boot).
REPORTS = [
    r"WARNING: ",
    r"BUG: ",
    r"BUG kmalloc",
    r"kernel BUG at",
    r"Oops: ",
    r"general protection fault",
    r"Kernel panic",
    r"possible circular locking dependency",
    r"possible recursive locking",
    r"inconsistent lock state",
    r"suspicious RCU usage",
    r"INFO: possible irq lock inversion",
    r"INFO: rcu_\w+ detected stalls",
    r"INFO: task .* blocked for more than",
    r"page_table_check",
    r"KFENCE: ",
    r"UBSAN: ",
    r"Bad page (map|state)",
    r"rust_panic|panicked at",
    r"list_(add|del) corruption",
]
REPORT_RE = re.compile("|".join("(?:%s)" % r for r in REPORTS))

# "ok 3 name # SKIP reason"; the name may be empty ("ok 652 # SKIP ...").
RESULT_RE = re.compile(r"^(\s*(?:# )*)(not ok|ok) (\d+)\s*(.*?)"
                       r"(?:\s*#\s*(SKIP|TODO|XFAIL)\b(.*))?$", re.IGNORECASE)
PLAN_RE = re.compile(r"^(\s*(?:# )*)1\.\.(\d+)")


def parse_ktap(lines):
    """Return (results, short_blocks).

    results: (prefix, ok, name, directive, reason) for every result line;
    the top level has an empty prefix, a test binary's own lines "# ".
    short_blocks: names of top-level results whose binary announced a plan
    "1..N" and printed fewer than N results.
    """
    results, short = [], []
    plan, seen, nested = None, 0, False
    for line in lines:
        line = line.rstrip("\r\n")
        m = PLAN_RE.match(line)
        if m and m.group(1):
            plan, seen = int(m.group(2)), 0
            continue
        m = RESULT_RE.match(line)
        if not m:
            continue
        prefix = m.group(1)
        directive = (m.group(5) or "").upper()
        results.append((prefix, m.group(2) == "ok", m.group(4).strip(),
                        directive, (m.group(6) or "").strip()))
        if prefix.strip() == "#":
            seen += 1
            nested = True
        elif not prefix:
            if plan is not None and seen < plan:
                short.append("%s (plan %d, %d results)"
                             % (m.group(4).strip(), plan, seen))
            # A binary that did not run (not built, not executable) gets
            # an exit code the runner may call XFAIL, with no KTAP of its
            # own.
            elif plan is None and not nested and directive != "SKIP":
                short.append("%s (no KTAP from the test binary)"
                             % m.group(4).strip())
            plan, seen, nested = None, 0, False
    return results, short


def failure_context(out, result):
    """What a failed test printed, back to its "RUN" line (at most 20 lines):
    CI shows only the summary, so the summary carries the reason."""
    prefix, name = result[0], result[2]
    if not prefix:
        return ""
    for i, line in enumerate(out):
        m = RESULT_RE.match(line.rstrip("\r\n"))
        if not m or m.group(2) != "not ok" or m.group(4).strip() != name:
            continue
        ctx = []
        for prev in reversed(out[max(0, i - 40):i]):
            if "RUN " in prev and name in prev:
                break
            ctx.append(prev.rstrip())
        ctx = list(reversed(ctx))[-20:]
        return "".join("\n      " + c for c in ctx)
    return ""


def main():
    args = sys.argv[1:]
    reports_only = args[:1] == ["--reports-only"]
    if reports_only:
        args = args[1:]
    if len(args) != (1 if reports_only else 2):
        sys.exit("usage: vmcheck.py LOGDIR EXPECTED_LIST | --reports-only LOGDIR")
    logdir = args[0]
    problems = []
    try:
        out = open(logdir + "/output.log", errors="replace").read().splitlines()
    except FileNotFoundError:
        out = []
    console = open(logdir + "/console.log", errors="replace").read().splitlines()
    status = open(logdir + "/status").read().strip()

    if status != "done":
        problems.append("VM run ended with status %r" % status)
    if not any(l.startswith("PVMMAP-END") for l in out):
        problems.append("the guest did not reach its end marker (timeout or crash)")

    for i, line in enumerate(console):
        if REPORT_RE.search(line):
            ctx = "\n      ".join(console[i:i + 12])
            problems.append("kernel report on the console:\n      " + ctx)
            break

    if reports_only:
        for p in problems:
            print("FAIL: " + p)
        sys.exit(1 if problems else 0)

    results, short = parse_ktap(out)
    # Group the nested results by indentation prefix: top-level results are
    # "ok N selftests: COLLECTION: TEST"; the binary's own results are
    # prefixed with "# ".
    top = [r for r in results if r[0] == ""]
    inner = [r for r in results if r[0] != ""]
    passed = sum(1 for r in inner if r[1] and r[3] != "SKIP")
    skipped = [r for r in inner if r[3] == "SKIP"]
    failed = [r for r in inner if not r[1] and r[3] not in ("SKIP", "TODO", "XFAIL")]
    failed += [r for r in top if not r[1] and r[3] != "SKIP"]

    expected = [l.strip() for l in open(args[1]) if l.strip()]
    for e in expected:
        coll, test = e.split(":", 1)
        name = "selftests: %s: %s" % (coll, test)
        # A failed binary's line ends in "# exit=N" (no KTAP directive).
        if not any(re.sub(r"\s*#\s*exit=\d+$", "", r[2]) == name for r in top):
            problems.append("no result for %s" % name)

    for name in short:
        problems.append("missing results: %s" % name)

    for r in failed:
        problems.append("not ok: %s%s" % (r[2], failure_context(out, r)))
    for r in skipped[:5]:
        print("skipped: %s (%s)" % (r[2] or "-", r[4]))
    if len(skipped) > 5:
        print("skipped: %d more" % (len(skipped) - 5))
    print("vm-check: %d kernel console lines, %d KTAP results" % (len(console), len(results)))
    for p in problems:
        print("FAIL: " + p)
    # A run with problems but no failed test counts as one failure.
    nfailed = len(failed) or (1 if problems else 0)
    print("%d passed, %d failed, %d skipped" % (passed, nfailed, len(skipped)))
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
