#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# build/bench.sh BUILD_DIR OUTDIR: `make bench`.  Builds bench/pvmmap_bench.c
# against the patched kernel's headers, runs it in the VM (bench/run.sh),
# and leaves in OUTDIR: bench.csv (every cell, raw numbers), bench.md (the
# tables of bench/report.py) and bench.svg (time against size).
#
# BENCH_SET=smoke|medium|full (full: 4 KiB to 1 GiB); BENCH_ARGS go to the
# program (e.g. "--backings thp --runs 3").  The VM gets VM_MEM (6G) and a
# zram swap of BENCH_ZRAM (3G) so that 1 GiB can be swapped out.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:?usage: bench.sh BUILD_DIR OUTDIR}
DEST=${2:?}
SET=${BENCH_SET:-full}
mkdir -p "$DEST"
extra=$(mktemp -d)
trap 'rm -rf "$extra"' EXIT

gcc -static -O2 -Wall -Wextra -Werror -isystem "$OUT/usr/include" \
	-o "$extra/pvmmap_bench" "$ROOT/bench/pvmmap_bench.c"
install -m 0755 "$ROOT/bench/run.sh" "$extra/run.sh"
"$ROOT/build/initramfs.sh" "$OUT" "$DEST/initramfs-bench.cpio.gz" "$extra"
args=${BENCH_ARGS:-}
VM_MEM=${VM_MEM:-6G} VM_TIMEOUT=${VM_TIMEOUT:-5400} \
	CMDLINE_EXTRA="pvmmap.bench=$SET pvmmap.zram=${BENCH_ZRAM:-3G} pvmmap.args=${args// /@}" \
	"$ROOT/build/vm.sh" "$OUT" "$DEST/initramfs-bench.cpio.gz" run "$DEST"
sed -n '/^PVMMAP-BEGIN/,/^PVMMAP-END/p' "$DEST/output.log" |
	sed '/^PVMMAP-/d; /^CSV-BEGIN/,/^CSV-END/d'
sed -n '/^CSV-BEGIN/,/^CSV-END/p' "$DEST/output.log" | sed '1d;$d' >"$DEST/bench.csv"
python3 "$ROOT/bench/report.py" "$DEST/bench.csv" --md "$DEST/bench.md" \
	--svg "$DEST/bench.svg"
echo "(CSV: $DEST/bench.csv; tables: $DEST/bench.md; plot: $DEST/bench.svg)"
python3 "$ROOT/build/vmcheck.py" --reports-only "$DEST" >/dev/null || {
	python3 "$ROOT/build/vmcheck.py" --reports-only "$DEST"; exit 1; }
grep -q '^PVMMAP-EXIT 0' "$DEST/output.log" || {
	echo "bench: the benchmark failed (see above)" >&2; exit 1; }
