#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# build/bench.sh BUILD_DIR OUTDIR: `make bench`.  Builds bench/pvmmap_bench.c
# against the patched kernel's headers, runs it in the VM (bench/run.sh,
# through build/guest-run.sh), and leaves in OUTDIR: bench.csv (every cell,
# raw numbers), bench.md (the tables of bench/report.py) and bench.svg (time
# against size).
#
# BENCH_SET=smoke|medium|full (full: 4 KiB to 1 GiB); BENCH_ARGS go to the
# program (e.g. "--backings thp --runs 3").  The VM gets VM_MEM (6G) and a
# zram swap of BENCH_ZRAM (3G) so that 1 GiB can be swapped out.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:?usage: bench.sh BUILD_DIR OUTDIR}
DEST=${2:?}
SET=${BENCH_SET:-full}
extra=$(mktemp -d)
trap 'rm -rf "$extra"' EXIT

# shellcheck source=build/arch.sh
. "$ROOT/build/arch.sh"
arch_of "$OUT"
"${CROSS_COMPILE}gcc" -static -O2 -Wall -Wextra -Werror -isystem "$OUT/usr/include" \
	-o "$extra/pvmmap_bench" "$ROOT/bench/pvmmap_bench.c"
install -m 0755 "$ROOT/bench/run.sh" "$extra/run.sh"
args=${BENCH_ARGS:-}
rc=0
VM_MEM=${VM_MEM:-6G} VM_TIMEOUT=${VM_TIMEOUT:-5400} \
	CMDLINE_EXTRA="pvmmap.bench=$SET pvmmap.zram=${BENCH_ZRAM:-3G} pvmmap.args=${args// /@}" \
	"$ROOT/build/guest-run.sh" "$OUT" "$DEST" "$extra" bench || rc=$?
# A failed result check still leaves its tables: the CSV says which cell.
if [ -s "$DEST/bench.csv" ]; then
	python3 "$ROOT/bench/report.py" "$DEST/bench.csv" --md "$DEST/bench.md" \
		--svg "$DEST/bench.svg"
fi
echo "(CSV: $DEST/bench.csv; tables: $DEST/bench.md; plot: $DEST/bench.svg)"
exit "$rc"
