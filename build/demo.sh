#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# build/demo.sh BUILD_DIR OUTDIR: the main job of `make run`.  Builds the
# demonstration program against the patched kernel's headers, boots the
# kernel with it, shows what it printed and keeps its CSV in OUTDIR.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:?usage: demo.sh BUILD_DIR OUTDIR}
DEST=${2:?}
mkdir -p "$DEST"
extra=$(mktemp -d)
trap 'rm -rf "$extra"' EXIT

gcc -static -O2 -Wall -Werror -isystem "$OUT/usr/include" \
	-o "$extra/pvmmap_demo" "$ROOT/demo/pvmmap_demo.c"
install -m 0755 "$ROOT/demo/run.sh" "$extra/run.sh"
"$ROOT/build/initramfs.sh" "$OUT" "$DEST/initramfs-run.cpio.gz" "$extra"
"$ROOT/build/vm.sh" "$OUT" "$DEST/initramfs-run.cpio.gz" run "$DEST"
sed -n '/^PVMMAP-BEGIN/,/^PVMMAP-END/p' "$DEST/output.log" |
	sed '/^PVMMAP-/d; /^CSV-BEGIN/,/^CSV-END/d'
sed -n '/^CSV-BEGIN/,/^CSV-END/p' "$DEST/output.log" | sed '1d;$d' >"$DEST/demo.csv"
echo "(CSV: $DEST/demo.csv; console: $DEST/console.log)"
python3 "$ROOT/build/vmcheck.py" --reports-only "$DEST" >/dev/null || {
	python3 "$ROOT/build/vmcheck.py" --reports-only "$DEST"; exit 1; }
