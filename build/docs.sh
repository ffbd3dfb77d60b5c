#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# build/docs.sh BUILD_DIR OUTDIR: `make docs`.  The documentation of the
# series must build without a warning of its own:
#  - kernel-doc -none -Wall on every C file the series adds or changes: no
#    warning that the same file of pristine 7.3 does not have (line numbers
#    aside), so every helper the series documents is documented whole;
#  - make htmldocs SPHINXDIRS=userspace-api, with Sphinx from PyPI as
#    Documentation/sphinx/requirements.txt names it (a venv in the cache):
#    no warning or error in the contract (process_vm_mmap.rst) or the index
#    that lists it; the HTML goes to OUTDIR/html;
#  - make rustdoc of the kernel in BUILD_DIR: no warning in the series' Rust
#    files.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:?usage: docs.sh BUILD_DIR OUTDIR}
DEST=${2:?}
CACHE=${CACHE:-$HOME/.cache/pvmmap}
SRC=$(readlink -f "$OUT/source")
PRISTINE=$(readlink -f "$("$ROOT/build/fetch-kernel.sh")")
log() { printf 'docs: %s\n' "$*" >&2; }
mkdir -p "$DEST"
fail=0

# --- kernel-doc ---------------------------------------------------------------
kdoc() { # kdoc TREE FILE: its warnings without line numbers
	(cd "$1" && scripts/kernel-doc -none -Wall "$2" 2>&1 |
		sed -E 's/:[0-9]+( |:)/\1/' | sort -u)
}
n=0
for f in $(grep -E '\.[ch]$' "$SRC/.series-files" | grep -v '^tools/'); do
	new=$(comm -23 <(kdoc "$SRC" "$f") \
		<(if [ -f "$PRISTINE/$f" ]; then kdoc "$PRISTINE" "$f"; fi))
	if [ -n "$new" ]; then
		echo "$new" >&2
		fail=1
	fi
	n=$((n + 1))
done
[ "$fail" -eq 0 ] && log "kernel-doc -Wall: no new warning in $n C files"

# --- htmldocs -------------------------------------------------------------------
venv=$CACHE/sphinx-venv
req=$SRC/Documentation/sphinx/requirements.txt
if [ ! -x "$venv/bin/sphinx-build" ] ||
	! cmp -s "$req" "$venv/requirements.txt"; then
	log "installing Sphinx into $venv"
	rm -rf "$venv"
	python3 -m venv "$venv"
	"$venv/bin/pip" install -q -r "$req" >&2
	cp "$req" "$venv/requirements.txt"
fi
log "htmldocs SPHINXDIRS=userspace-api ($("$venv/bin/sphinx-build" --version))"
hlog=$DEST/htmldocs.log
if ! PATH=$venv/bin:$PATH make -s -C "$SRC" O="$DEST/htmldocs-build" \
	SPHINXDIRS=userspace-api htmldocs >"$hlog" 2>&1; then
	tail -n 30 "$hlog" >&2
	log "htmldocs failed"
	fail=1
fi
if grep -E 'process_vm_mmap|userspace-api/index' "$hlog" |
	grep -iE 'warning|error' >&2; then
	log "htmldocs: warnings in the contract (above)"
	fail=1
else
	others=$(grep -ciE 'warning|error' "$hlog" || true)
	log "htmldocs: no warning in the contract ($others elsewhere in userspace-api, pristine's)"
fi
rm -rf "$DEST/html"
cp -a "$DEST/htmldocs-build/Documentation/output/userspace-api" "$DEST/html" 2>/dev/null ||
	cp -a "$DEST/htmldocs-build/Documentation/output" "$DEST/html" 2>/dev/null || true

# --- rustdoc --------------------------------------------------------------------
# shellcheck disable=SC1091
eval "$(sed -n 's/^\([A-Z_]*\) := \(.*\)$/\1="\2"/p' "$CACHE/toolchain.mk")"
export LIBCLANG_PATH
rlog=$DEST/rustdoc.log
if ! make -s -C "$SRC" O="$OUT" LLVM= CC=gcc RUST_LIB_SRC="$RUST_LIB_SRC" \
	BINDGEN="$BINDGEN" rustdoc >"$rlog" 2>&1; then
	tail -n 30 "$rlog" >&2
	log "rustdoc failed"
	fail=1
fi
if grep -B2 -A12 -E '^ *--> .*(mm/process_vm_mmap|rust/kernel/(task|mm)\.rs)' "$rlog" >&2; then
	log "rustdoc: warnings in the series' Rust files (above)"
	fail=1
else
	log "rustdoc: no warning in the series' Rust files ($(grep -c '^warning' "$rlog" || true) elsewhere)"
fi
exit "$fail"
