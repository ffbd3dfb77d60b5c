#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# build/demo.sh BUILD_DIR OUTDIR: the main job of `make run`.  Builds the
# page-server hand-off and the request table against the patched kernel's
# headers, boots the kernel with them, shows what they printed and keeps
# their CSVs in OUTDIR.  HANDOFF_ARGS are handed to demo/handoff.c (e.g.
# "-m 512"); VM_MEM sizes the VM.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:?usage: demo.sh BUILD_DIR OUTDIR}
DEST=${2:?}
mkdir -p "$DEST"
extra=$(mktemp -d)
trap 'rm -rf "$extra"' EXIT

cflags=(-static -O2 -Wall -Wextra -Werror -isystem "$OUT/usr/include")
gcc "${cflags[@]}" -o "$extra/pvmmap_demo" "$ROOT/demo/pvmmap_demo.c"
gcc "${cflags[@]}" -o "$extra/handoff" "$ROOT/demo/handoff.c" -lpthread
install -m 0755 "$ROOT/demo/run.sh" "$extra/run.sh"
"$ROOT/build/initramfs.sh" "$OUT" "$DEST/initramfs-run.cpio.gz" "$extra"
handoff=${HANDOFF_ARGS:-}
CMDLINE_EXTRA="pvmmap.handoff=${handoff// /@}" \
	"$ROOT/build/vm.sh" "$OUT" "$DEST/initramfs-run.cpio.gz" run "$DEST"
sed -n '/^PVMMAP-BEGIN/,/^PVMMAP-END/p' "$DEST/output.log" |
	sed '/^PVMMAP-/d; /^CSV-BEGIN/,/^CSV-END/d'
for name in handoff demo; do
	sed -n "/^CSV-BEGIN $name\$/,/^CSV-END/p" "$DEST/output.log" |
		sed '1d;$d' >"$DEST/$name.csv"
done
echo "(CSV: $DEST/handoff.csv, $DEST/demo.csv; console: $DEST/console.log)"
python3 "$ROOT/build/vmcheck.py" --reports-only "$DEST" >/dev/null || {
	python3 "$ROOT/build/vmcheck.py" --reports-only "$DEST"; exit 1; }
grep -q '^PVMMAP-EXIT 0' "$DEST/output.log" || {
	echo "run: the demonstration failed (see above)" >&2; exit 1; }
