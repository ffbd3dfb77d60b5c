#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# build/guest-run.sh BUILD_DIR OUTDIR EXTRA_DIR NAME: boot the kernel of
# BUILD_DIR with EXTRA_DIR as /extra (its run.sh runs: pvmmap.mode=run),
# print what the guest printed, keep each block between "CSV-BEGIN X" and
# "CSV-END" as OUTDIR/X.csv, and fail on a kernel report on the console or
# a non-zero exit of run.sh.  What `make run` and `make bench` share; the
# environment of build/vm.sh (VM_MEM, VM_TIMEOUT, CMDLINE_EXTRA) passes on.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:?usage: guest-run.sh BUILD_DIR OUTDIR EXTRA_DIR NAME}
DEST=${2:?}
EXTRA=${3:?}
NAME=${4:?}
mkdir -p "$DEST"
"$ROOT/build/initramfs.sh" "$OUT" "$DEST/initramfs-$NAME.cpio.gz" "$EXTRA"
"$ROOT/build/vm.sh" "$OUT" "$DEST/initramfs-$NAME.cpio.gz" run "$DEST"
# The serial port ends lines with CR LF.
log=$DEST/output.txt
tr -d '\r' <"$DEST/output.log" >"$log"
sed -n '/^PVMMAP-BEGIN/,/^PVMMAP-END/p' "$log" |
	sed '/^PVMMAP-/d; /^CSV-BEGIN/,/^CSV-END/d'
for csv in $(sed -n 's/^CSV-BEGIN //p' "$log"); do
	sed -n "/^CSV-BEGIN $csv\$/,/^CSV-END/p" "$log" | sed '1d;$d' >"$DEST/$csv.csv"
done
python3 "$ROOT/build/vmcheck.py" --reports-only "$DEST" >/dev/null || {
	python3 "$ROOT/build/vmcheck.py" --reports-only "$DEST"; exit 1; }
grep -q '^PVMMAP-EXIT 0' "$log" || {
	echo "$NAME: the program in the VM failed (see above)" >&2; exit 1; }
