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
    page_table_check, a KFENCE report, a panic, RCU stalls;
  - KUnit, which runs at boot and prints KTAP on the console: any "not ok",
    fewer suites than its plan, or, in a kernel built with
    CONFIG_PROCESS_VM_MMAP_KUNIT_TEST (LOGDIR/kernel.config, which
    build/vm.sh copies), a suite of the series' sources that printed no
    result.  Its cases count in the summary.

Prints a summary ending in the plain line "N passed, N failed, N skipped".
"""

import glob
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

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


# "[   12.345678] " before each console line.
TIMESTAMP_RE = re.compile(r"^\[\s*\d+\.\d+\] ?")
KUNIT_SUITE_RE = re.compile(r"kunit_tests\((\w+)\)")


def series_kunit_suites():
    """The KUnit suites the series' Rust sources declare."""
    suites = set()
    for path in glob.glob(os.path.join(ROOT, "mm", "process_vm_mmap*", "**", "*.rs"),
                          recursive=True) + \
            glob.glob(os.path.join(ROOT, "mm", "process_vm_mmap*.rs")):
        with open(path, encoding="utf-8") as f:
            suites.update(KUNIT_SUITE_RE.findall(f.read()))
    return sorted(suites)


def check_kunit(console, logdir):
    """KUnit's boot-time KTAP on the console: (passed, failed, skipped,
    problems), counting test cases; suites are the top level, their cases
    are indented by four spaces."""
    lines = [TIMESTAMP_RE.sub("", l, count=1).rstrip() for l in console]
    try:
        config = open(os.path.join(logdir, "kernel.config")).read().splitlines()
    except FileNotFoundError:
        config = []
    expect = series_kunit_suites() \
        if "CONFIG_PROCESS_VM_MMAP_KUNIT_TEST=y" in config else []
    problems = []
    try:
        start = lines.index("KTAP version 1")
    except ValueError:
        start = None
    if start is None:
        if expect:
            problems.append("KUnit printed no KTAP on the console")
        return 0, 0, 0, problems
    plan, suites = None, {}
    passed = failed = skipped = 0
    case_failures = []
    for line in lines[start + 1:]:
        m = PLAN_RE.match(line)
        if m and not m.group(1) and plan is None:
            plan = int(m.group(2))
            continue
        m = RESULT_RE.match(line)
        if not m:
            continue
        indent, ok, name = m.group(1), m.group(2) == "ok", m.group(4).strip()
        directive = (m.group(5) or "").upper()
        if indent == "":
            suites[name] = ok or directive == "SKIP"
        elif indent == "    ":
            if directive == "SKIP":
                skipped += 1
            elif ok:
                passed += 1
            else:
                failed += 1
                case_failures.append(name)
    for name, ok in sorted(suites.items()):
        if not ok:
            problems.append("KUnit suite not ok: %s" % name)
    for name in case_failures:
        problems.append("KUnit case not ok: %s" % name)
    if plan is not None and len(suites) < plan:
        problems.append("KUnit: %d suites of a plan of %d printed a result"
                        % (len(suites), plan))
    for name in expect:
        if name not in suites:
            problems.append("KUnit: no result for the series' suite %s" % name)
    print("kunit: %d suites (%s), %d cases passed, %d failed, %d skipped"
          % (len(suites), ", ".join(n for n in expect if n in suites) or "none of the series'",
             passed, failed, skipped))
    return passed, failed, skipped, problems


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

    k_passed, k_failed, k_skipped, k_problems = check_kunit(console, logdir)
    problems += k_problems

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
    nfailed = len(failed) + k_failed or (1 if problems else 0)
    print("%d passed, %d failed, %d skipped"
          % (passed + k_passed, nfailed, len(skipped) + k_skipped))
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
