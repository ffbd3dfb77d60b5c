#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# build/mm-regress.sh OUTDIR
#
# The series changes fork()'s page-table copier, so the kernel's own mm
# selftests must give the same results with and without it.  Build the test
# kernel and a pristine 7.3 of the same configuration (build/kernel.sh test,
# pristine; incremental), check that their .configs differ only in the
# series' own options, build the "regress" set of build/mm-tests once into
# one initramfs, boot each kernel with it (same guest, same command line,
# one after the other), and compare every result with build/mm-compare.py.
#
# OUTDIR/series and OUTDIR/pristine hold each run's output.log and
# console.log; OUTDIR/table.md and OUTDIR/summary.md the comparison.
# Fails on any difference.  MM_VM_TIMEOUT bounds each VM run.
#
# The guest has 3 vCPUs (MM_VM_CPUS), one more than make check's: mm's
# migration test runs its page-touching threads on all CPUs but two and
# skips with fewer than three.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUTDIR=${1:?usage: mm-regress.sh OUTDIR}
MM_VM_TIMEOUT=${MM_VM_TIMEOUT:-2400}
MM_VM_CPUS=${MM_VM_CPUS:-3}
log() { printf 'mm-regress: %s\n' "$*" >&2; }
start=$(date +%s)

series=$("$ROOT/build/kernel.sh" test)
pristine=$("$ROOT/build/kernel.sh" pristine)

# The same configuration but for what only the series has.
series_only=$(sed -n 's/^SERIES_ONLY="\(.*\)"$/\1/p' "$ROOT/build/kernel.sh" | tr ' ' '|')
if ! diff <(grep -v -E "^# Linux|(^|# )($series_only)[= ]" "$series/.config") \
	<(grep -v -E "^# Linux|(^|# )($series_only)[= ]" "$pristine/.config") >&2; then
	log "the two kernels' configurations differ (above)"
	exit 1
fi

# One initramfs for both: the same test binaries, built from the series'
# tree (the series does not change tools/testing/selftests/mm).
mkdir -p "$OUTDIR"
KSFT_TARGETS=mm MM_SET=regress \
	"$ROOT/build/initramfs.sh" "$series" "$OUTDIR/initramfs.cpio.gz"
cp "$series/kselftest-install/kselftest-list.txt" "$OUTDIR/list.txt"

for k in series pristine; do
	if [ "$k" = series ]; then build=$series; else build=$pristine; fi
	VM_TIMEOUT=$MM_VM_TIMEOUT VM_CPUS=$MM_VM_CPUS "$ROOT/build/vm.sh" "$build" \
		"$OUTDIR/initramfs.cpio.gz" test "$OUTDIR/$k"
done

rc=0
python3 "$ROOT/build/mm-compare.py" --table "$OUTDIR/table.md" \
	--summary "$OUTDIR/summary.md" "$OUTDIR/list.txt" \
	"series:$OUTDIR/series" "pristine:$OUTDIR/pristine" || rc=$?
log "VM time: series $(cat "$OUTDIR/series/seconds") s, pristine $(cat "$OUTDIR/pristine/seconds") s; whole run $(( $(date +%s) - start )) s"
exit "$rc"
