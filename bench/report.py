#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Turn the CSV of pvmmap_bench into a Markdown table and an SVG plot.

    bench/report.py CSV [--md OUT.md] [--svg OUT.svg] [--title TEXT]

The Markdown has, per backing, a table of sizes x mechanisms with the
median time and, in parentheses, its ratio to readv and to fork of the same
size and backing; then, for the largest size measured (1 GiB in a full
run), the swap-ins, the extra memory and the checks.  The SVG has one
log-log panel per backing (time against size, one line per mechanism) and
a legend.  Without --md or --svg the Markdown goes to stdout.  Standard
library only.
"""
import argparse
import csv
import math
import sys
from xml.sax.saxutils import escape

REQUIRED = ["mechanism", "backing", "size_bytes", "runs", "median_ns",
            "min_ns", "swapins", "extra_kib", "ok"]

MECHS = ["pvmmap", "pvmmap_move", "pvmmap_move_forked", "pvmmap_move_pinned",
         "readv", "writev_128k", "memfd_map", "memfd_copy", "vmsplice",
         "uffd_copy", "fork"]

DEFINITIONS = {
    "pvmmap": "process_vm_mmap(pid, src, len, 0, 0): copy-on-write clone, "
              "nothing touched afterwards",
    "pvmmap_move": "process_vm_mmap() with PVMMAP_MOVE (source set up again "
                   "before each run, untimed)",
    "pvmmap_move_forked": "pvmmap_move of a range that a child of the source "
                          "shares since fork() (forked before each run, "
                          "untimed): write-protected entries of pages "
                          "mapped twice",
    "pvmmap_move_pinned": "pvmmap_move of a range pinned as io_uring fixed "
                          "buffers (before each run, untimed): the kernel "
                          "copies pinned pages, the slow path",
    "readv": "one process_vm_readv() into a fresh private buffer, its page "
             "faults included",
    "writev_128k": "the source pushes with process_vm_writev(), one call per "
                   "128 KiB; request to completion",
    "memfd_map": "the data in a memfd; mmap(MAP_SHARED|MAP_POPULATE) "
                 "(shared memory, not private anonymous)",
    "memfd_copy": "the same memfd, mmap + memcpy() into a fresh private "
                  "buffer",
    "vmsplice": "the source vmsplice()s into a 1 MiB pipe, the taker read()s "
                "into a fresh buffer",
    "uffd_copy": "per 1 MiB: process_vm_readv() into a staging buffer, then "
                 "UFFDIO_COPY into a registered range",
    "fork": "fork() of the source holding the range (page-table-copy lower "
            "bound)",
}

BACKINGS = ["small", "thp", "swapped"]
BACKING_TITLES = {
    "small": "4 KiB pages",
    "thp": "transparent huge pages",
    "swapped": "swapped out",
}

# Colour, dash pattern, marker, line width: distinct in colour and in shape.
STYLE = {
    "pvmmap":      ("#d62728", None,  "circle",   3.0),
    "pvmmap_move": ("#ff7f0e", None,  "square",   3.0),
    "pvmmap_move_forked": ("#bcbd22", "6,3", "square", 2.4),
    "pvmmap_move_pinned": ("#843c0c", "2,3", "diamond", 2.4),
    "readv":       ("#1f77b4", None,  "triangle", 1.8),
    "writev_128k": ("#17becf", "6,3", "diamond",  1.8),
    "memfd_map":   ("#2ca02c", None,  "square",   1.8),
    "memfd_copy":  ("#8c564b", "6,3", "circle",   1.8),
    "vmsplice":    ("#9467bd", "2,3", "triangle", 1.8),
    "uffd_copy":   ("#e377c2", None,  "diamond",  1.8),
    "fork":        ("#111111", "8,4", "circle",   1.8),
}
DEFAULT_STYLE = ("#7f7f7f", None, "circle", 1.5)


def to_int(s):
    s = (s or "").strip()
    return int(s) if s else None


def load(path):
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
        if missing:
            sys.exit("report.py: %s: missing columns: %s"
                     % (path, ", ".join(missing)))
        rows = []
        for r in reader:
            row = {
                "mechanism": r["mechanism"],
                "backing": r["backing"],
                "size": int(r["size_bytes"]),
                "runs": to_int(r["runs"]) or 0,
                "median": to_int(r["median_ns"]),
                "min": to_int(r["min_ns"]),
                "swapins": to_int(r["swapins"]),
                "extra_kib": to_int(r["extra_kib"]),
                "ok": r["ok"],
                "backing_pct": to_int(r.get("backing_pct")),
                "dst_thp_pct": to_int(r.get("dst_thp_pct")),
                "note": r.get("note") or "",
            }
            rows.append(row)
    return rows


def ordered(values, order):
    """The values in @order first, then the others as they came."""
    seen = list(dict.fromkeys(values))
    return [v for v in order if v in seen] + [v for v in seen
                                              if v not in order]


def fmt_size(b):
    for unit, name in ((1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")):
        if b >= unit and b % unit == 0:
            return "%d %s" % (b // unit, name)
    return "%d B" % b


def short_size(b):
    for unit, name in ((1 << 30, "G"), (1 << 20, "M"), (1 << 10, "K")):
        if b >= unit and b % unit == 0:
            return "%d%s" % (b // unit, name)
    return str(b)


def sig3(x):
    """Three significant digits, no exponent."""
    if x >= 100:
        return "%.0f" % x
    if x >= 10:
        return "%.1f" % x
    return "%.2f" % x


def fmt_time(ns):
    if ns is None:
        return "-"
    for unit, name in ((1e9, "s"), (1e6, "ms"), (1e3, "µs")):
        if ns >= unit * 0.9995:     # 999.6 µs is "1.00 ms", not "1000 µs"
            return "%s %s" % (sig3(ns / unit), name)
    return "%d ns" % ns


def fmt_ratio(r):
    if r is None:
        return "-"
    if r >= 100:
        return "%.0f" % r
    if r >= 10:
        return "%.1f" % r
    if r >= 0.01:
        return "%.2f" % r
    if r >= 0.0001:
        return "%.4f" % r
    return "<0.0001"


def fmt_kib(k):
    if k is None:
        return "-"
    a = abs(k)
    if a >= 1 << 20:
        return "%s GiB" % sig3(k / float(1 << 20))
    if a >= 1 << 10:
        return "%s MiB" % sig3(k / 1024.0)
    return "%d KiB" % k


def fmt_pct(v):
    return "-" if v is None else "%d%%" % v


def measured(row):
    return row is not None and row["runs"] > 0 and row["median"] is not None


class Table:
    """The rows indexed by (backing, size, mechanism)."""

    def __init__(self, rows):
        self.rows = rows
        self.cell = {(r["backing"], r["size"], r["mechanism"]): r
                     for r in rows}
        self.backings = ordered([r["backing"] for r in rows], BACKINGS)
        self.mechs = ordered([r["mechanism"] for r in rows], MECHS)

    def sizes(self, backing):
        """The sizes of @backing with something measured (or all if none)."""
        rows = [r for r in self.rows if r["backing"] == backing]
        done = {r["size"] for r in rows if measured(r)}
        return sorted(done or {r["size"] for r in rows})

    def get(self, backing, size, mech):
        return self.cell.get((backing, size, mech))

    def ratio(self, row, base):
        b = self.get(row["backing"], row["size"], base)
        if not measured(row) or not measured(b) or b["median"] <= 0:
            return None
        return row["median"] / float(b["median"])


def md_cell(t, row):
    if row is None:
        return ""
    if row["ok"] == "skip" or not measured(row):
        return "skip" if row["ok"] == "skip" else "**FAIL**"
    text = "%s (%s / %s)" % (fmt_time(row["median"]),
                             fmt_ratio(t.ratio(row, "readv")),
                             fmt_ratio(t.ratio(row, "fork")))
    if row["ok"] != "yes":
        text = "**FAIL** " + text
    return text


def md_skips(t, backing):
    """One line per reason a cell of @backing was skipped or failed."""
    reasons = {}
    for r in t.rows:
        if r["backing"] != backing or r["ok"] == "yes":
            continue
        key = ("skipped" if r["ok"] == "skip" else "FAILED", r["note"] or "?")
        reasons.setdefault(key, []).append(r)
    lines = []
    for (what, note), rs in reasons.items():
        mechs = ordered([r["mechanism"] for r in rs], MECHS)
        sizes = sorted({r["size"] for r in rs})
        lines.append("- %s: %s (%s; %s)" % (
            what, note, ", ".join(mechs),
            ", ".join(short_size(s) for s in sizes)))
    return lines


def markdown(t, title):
    out = ["## %s" % title, ""]
    out.append("Median time of one transfer of the range into the taker; in "
               "parentheses, that time relative to `readv` and to `fork` of "
               "the same size and backing (below 1: faster). Times under QEMU "
               "TCG are emulated: compare ratios, not absolute values.")
    out.append("")
    for m in t.mechs:
        if m in DEFINITIONS:
            out.append("- `%s`: %s" % (m, DEFINITIONS[m]))
    out.append("")
    for b in t.backings:
        sizes = t.sizes(b)
        if not sizes:
            continue
        mechs = [m for m in t.mechs
                 if any(t.get(b, s, m) for s in sizes)]
        out.append("### %s: %s" % (b, BACKING_TITLES.get(b, b)))
        out.append("")
        out.append("| mechanism | " + " | ".join(fmt_size(s) for s in sizes)
                   + " |")
        out.append("|---|" + "---:|" * len(sizes))
        for m in mechs:
            out.append("| `%s` | " % m + " | ".join(
                md_cell(t, t.get(b, s, m)) for s in sizes) + " |")
        out.append("")
        big = max(sizes)
        out.append("At %s: swap-ins during one call (largest of the runs), "
                   "extra memory (drop of free memory across the call, "
                   "result held; median), share of the source in the "
                   "backing's state, share of the result mapped by PMDs."
                   % fmt_size(big))
        out.append("")
        out.append("| mechanism | median | min | × readv | × fork | "
                   "swap-ins | extra memory | source | result in PMDs | "
                   "checked |")
        out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
        for m in mechs:
            r = t.get(b, big, m)
            if r is None:
                continue
            if not measured(r):
                out.append("| `%s` | %s | | | | | | | | %s |" % (
                    m, "skip" if r["ok"] == "skip" else "**FAIL**",
                    r["ok"]))
                continue
            out.append("| `%s` | %s | %s | %s | %s | %s | %s | %s | %s | %s |"
                       % (m, fmt_time(r["median"]), fmt_time(r["min"]),
                          fmt_ratio(t.ratio(r, "readv")),
                          fmt_ratio(t.ratio(r, "fork")),
                          "-" if r["swapins"] is None else r["swapins"],
                          fmt_kib(r["extra_kib"]), fmt_pct(r["backing_pct"]),
                          fmt_pct(r["dst_thp_pct"]),
                          "yes" if r["ok"] == "yes" else "**%s**" % r["ok"]))
        out.append("")
        skips = md_skips(t, b)
        if skips:
            out.extend(skips)
            out.append("")
    return "\n".join(out)


# ---- SVG ------------------------------------------------------------------

FONT = "DejaVu Sans, Helvetica, Arial, sans-serif"


def marker(shape, x, y, color, r=4.0):
    if shape == "square":
        return ('<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" '
                'fill="%s"/>' % (x - r, y - r, 2 * r, 2 * r, color))
    if shape == "triangle":
        return ('<path d="M%.1f %.1f L%.1f %.1f L%.1f %.1f Z" fill="%s"/>'
                % (x, y - r * 1.2, x - r * 1.1, y + r * 0.8, x + r * 1.1,
                   y + r * 0.8, color))
    if shape == "diamond":
        return ('<path d="M%.1f %.1f L%.1f %.1f L%.1f %.1f L%.1f %.1f Z" '
                'fill="%s"/>' % (x, y - r * 1.3, x + r, y, x, y + r * 1.3,
                                 x - r, y, color))
    return '<circle cx="%.1f" cy="%.1f" r="%.1f" fill="%s"/>' % (x, y, r,
                                                                 color)


def cross(x, y, r=5.0):
    return ('<path d="M%.1f %.1f L%.1f %.1f M%.1f %.1f L%.1f %.1f" '
            'stroke="#d00000" stroke-width="2.5"/>'
            % (x - r, y - r, x + r, y + r, x - r, y + r, x + r, y - r))


def time_label(ns):
    for unit, name in ((1e9, "s"), (1e6, "ms"), (1e3, "µs")):
        if ns >= unit:
            return "%g %s" % (ns / unit, name)
    return "%g ns" % ns


def text(x, y, s, size=13, anchor="start", weight="normal", color="#222",
         extra=""):
    return ('<text x="%.1f" y="%.1f" font-size="%d" text-anchor="%s" '
            'font-weight="%s" fill="%s"%s>%s</text>'
            % (x, y, size, anchor, weight, color, extra, escape(s)))


def svg(t, title):
    points = [r for r in t.rows if measured(r) and r["median"] > 0]
    panel_w, panel_h = 480, 360
    margin_l, margin_r, margin_t, margin_b = 78, 22, 44, 58
    cols = 2
    n_panels = len(t.backings) + 1          # the last slot is the legend
    rows_n = (n_panels + cols - 1) // cols
    top = 70
    width = cols * panel_w
    height = top + rows_n * panel_h + 10

    sizes = sorted({r["size"] for r in t.rows})
    if points:
        lo = min(min(r["median"], r["min"] or r["median"]) for r in points)
        hi = max(r["median"] for r in points)
    else:
        lo, hi = 1e3, 1e6
    y_lo = 10 ** math.floor(math.log10(lo))
    y_hi = 10 ** math.ceil(math.log10(hi))
    if y_hi <= y_lo:
        y_hi = y_lo * 10
    x_lo = math.log2(min(sizes)) - 0.6 if sizes else 10
    x_hi = math.log2(max(sizes)) + 0.6 if sizes else 30

    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           '<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
           'viewBox="0 0 %d %d" font-family="%s">'
           % (width, height, width, height, FONT),
           '<rect x="0" y="0" width="%d" height="%d" fill="#ffffff"/>'
           % (width, height),
           text(width / 2, 28, title, 19, "middle", "bold"),
           text(width / 2, 50, "Median time of one transfer against the "
                "size of the range, log-log. QEMU TCG: compare ratios, not "
                "absolute times.", 13, "middle", color="#555")]

    for i, b in enumerate(t.backings):
        ox = (i % cols) * panel_w
        oy = top + (i // cols) * panel_h
        px0, px1 = ox + margin_l, ox + panel_w - margin_r
        py0, py1 = oy + margin_t, oy + panel_h - margin_b

        def X(size):
            return px0 + (math.log2(size) - x_lo) / (x_hi - x_lo) * (px1 - px0)

        def Y(ns):
            f = (math.log10(ns) - math.log10(y_lo)) / (
                math.log10(y_hi) - math.log10(y_lo))
            return py1 - f * (py1 - py0)

        out.append(text((px0 + px1) / 2, oy + 26, "%s: %s"
                        % (b, BACKING_TITLES.get(b, b)), 15, "middle",
                        "bold"))
        out.append('<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" '
                   'fill="#fafafa" stroke="#888" stroke-width="1"/>'
                   % (px0, py0, px1 - px0, py1 - py0))
        decade = y_lo
        while decade <= y_hi * 1.0001:
            y = Y(decade)
            out.append('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" '
                       'stroke="#ddd" stroke-width="1"/>' % (px0, y, px1, y))
            out.append(text(px0 - 6, y + 4, time_label(decade), 11, "end"))
            decade *= 10
        for s in sizes:
            x = X(s)
            out.append('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" '
                       'stroke="#e6e6e6" stroke-width="1"/>'
                       % (x, py0, x, py1))
            out.append(text(x, py1 + 16, short_size(s), 11, "middle"))
        out.append(text((px0 + px1) / 2, py1 + 38, "size of the range "
                        "(bytes, log scale)", 12, "middle"))
        out.append(text(ox + 16, (py0 + py1) / 2, "median time (log scale)",
                        12, "middle",
                        extra=' transform="rotate(-90 %.1f %.1f)"'
                        % (ox + 16, (py0 + py1) / 2)))

        drawn = 0
        for m in t.mechs:
            color, dash, shape, lw = STYLE.get(m, DEFAULT_STYLE)
            pts = [r for r in points if r["backing"] == b
                   and r["mechanism"] == m]
            pts.sort(key=lambda r: r["size"])
            if not pts:
                continue
            drawn += 1
            coords = " ".join("%.1f,%.1f" % (X(r["size"]), Y(r["median"]))
                              for r in pts)
            out.append('<polyline points="%s" fill="none" stroke="%s" '
                       'stroke-width="%.1f"%s stroke-linejoin="round"/>'
                       % (coords, color, lw,
                          ' stroke-dasharray="%s"' % dash if dash else ""))
            for r in pts:
                out.append(marker(shape, X(r["size"]), Y(r["median"]),
                                  color))
                if r["ok"] != "yes":
                    out.append(cross(X(r["size"]), Y(r["median"])))
        if not drawn:
            notes = sorted({r["note"] for r in t.rows if r["backing"] == b
                            and r["note"]})
            out.append(text((px0 + px1) / 2, (py0 + py1) / 2,
                            "nothing measured", 14, "middle", "bold",
                            "#a00"))
            for j, n in enumerate(notes[:3]):
                out.append(text((px0 + px1) / 2, (py0 + py1) / 2 + 20
                                + 16 * j, n[:60], 11, "middle",
                                color="#a00"))

    # The legend, in the slot after the last panel.
    i = len(t.backings)
    ox = (i % cols) * panel_w + margin_l
    oy = top + (i // cols) * panel_h + margin_t
    out.append(text(ox, oy, "mechanism", 14, weight="bold"))
    for j, m in enumerate(t.mechs):
        color, dash, shape, lw = STYLE.get(m, DEFAULT_STYLE)
        y = oy + 24 + 24 * j
        out.append('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" '
                   'stroke="%s" stroke-width="%.1f"%s/>'
                   % (ox, y, ox + 44, y, color, lw,
                      ' stroke-dasharray="%s"' % dash if dash else ""))
        out.append(marker(shape, ox + 22, y, color))
        out.append(text(ox + 54, y + 4, m, 13))
    y = oy + 24 + 24 * len(t.mechs) + 8
    out.append(cross(ox + 22, y))
    out.append(text(ox + 54, y + 4, "result check failed", 13))
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("csv", help="the CSV pvmmap_bench wrote (--csv)")
    ap.add_argument("--md", help="write the Markdown tables here")
    ap.add_argument("--svg", help="write the SVG plot here")
    ap.add_argument("--title", default="process_vm_mmap against the "
                    "alternatives", help="heading of both outputs")
    args = ap.parse_args()

    t = Table(load(args.csv))
    if not t.rows:
        sys.exit("report.py: %s: no rows" % args.csv)
    md = markdown(t, args.title)
    if args.md:
        with open(args.md, "w", encoding="utf-8") as f:
            f.write(md + "\n")
    if args.svg:
        with open(args.svg, "w", encoding="utf-8") as f:
            f.write(svg(t, args.title))
    if not args.md and not args.svg:
        print(md)


if __name__ == "__main__":
    main()
