#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# build/man.sh BUILD_DIR OUTDIR: `make man`.  Lints the man page
# man-pages/man/man2/process_vm_mmap.2 as the man-pages project does
# (mandoc -Tlint, groff -ww), builds the program of its EXAMPLES against
# the patched kernel's headers (BUILD_DIR/usr/include), and exports the
# page as a patch for the man-pages project: OUTDIR/0001-*.patch, which
# `git am` applies to a man-pages tree (man/man2/process_vm_mmap.2).
#
# mandoc's "lower case character in document title" is not a finding:
# man-pages writes page titles in lower case, and filters it too.
#
# build/man.sh --example BUILD_DIR DIR: only build the EXAMPLES program,
# static, as DIR/process_vm_mmap-example, and put the output the page shows
# for it in DIR/process_vm_mmap-example.out (build/smoke.sh: the VM runs it).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
EXAMPLE_ONLY=
if [ "${1:-}" = --example ]; then
	EXAMPLE_ONLY=1
	shift
fi
OUT=${1:?usage: man.sh [--example] BUILD_DIR OUTDIR}
DEST=${2:?}
PAGE=$ROOT/man-pages/man/man2/process_vm_mmap.2
log() { printf 'man: %s\n' "$*" >&2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The program between the page's SRC BEGIN and SRC END comments, with the
# roff escapes undone.
example_source() {
	sed -n '/^\.\\" SRC BEGIN/,/^\.\\" SRC END/p' "$PAGE" |
		sed -e '/^\.\\" SRC /d' -e '/^\.EX$/d' -e '/^\.EE$/d' \
		    -e 's/^\\&$//' -e 's/\\-/-/g' -e 's/\\e/\\/g'
}

if [ -n "$EXAMPLE_ONLY" ]; then
	# shellcheck source=build/arch.sh
	. "$ROOT/build/arch.sh"
	arch_of "$OUT"
	example_source >"$tmp/example.c"
	"${CROSS_COMPILE}gcc" -static -Wall -Wextra -Werror -O2 -isystem "$OUT/usr/include" \
		-o "$DEST/process_vm_mmap-example" "$tmp/example.c"
	# The lines after the page's "$ ./a.out", up to the end of the example.
	sed -n '/^\$ \\fB\.\/a\.out\\fP$/,/^\.EE$/p' "$PAGE" | sed '1d;$d' \
		>"$DEST/process_vm_mmap-example.out"
	[ -s "$DEST/process_vm_mmap-example.out" ] || {
		log "no output of ./a.out in the page"; exit 1; }
	exit 0
fi

fail=0
lint=$(mandoc -Tlint -Wstyle "$PAGE" 2>&1 |
	grep -v 'STYLE: lower case character in document title' || true)
if [ -n "$lint" ]; then
	echo "$lint" >&2
	log "mandoc -Tlint has findings"
	fail=1
fi
if ! groff -man -t -ww -Tutf8 -z "$PAGE" 2>"$tmp/groff" || [ -s "$tmp/groff" ]; then
	cat "$tmp/groff" >&2
	log "groff -ww has warnings"
	fail=1
fi

example_source >"$tmp/example.c"
if [ ! -s "$tmp/example.c" ]; then
	log "no program between SRC BEGIN and SRC END"
	fail=1
elif ! gcc -Wall -Wextra -Werror -O2 -isystem "$OUT/usr/include" \
	-o "$tmp/example" "$tmp/example.c"; then
	log "the EXAMPLES program does not build"
	fail=1
fi
[ "$fail" -eq 0 ] || exit 1

# The patch for the man-pages list: a new page, committed in a scratch
# repository with man-pages' layout.
repo=$tmp/man-pages
mkdir -p "$repo/man/man2" "$DEST"
git -C "$repo" init -q
git -C "$repo" -c user.name=pvmmap -c user.email=pvmmap@localhost \
	commit -q --allow-empty -m base
cp "$PAGE" "$repo/man/man2/process_vm_mmap.2"
git -C "$repo" add man/man2/process_vm_mmap.2
git -C "$repo" -c user.name="${GIT_AUTHOR_NAME:-process_vm_mmap series}" \
	-c user.email="${GIT_AUTHOR_EMAIL:-pvmmap@localhost}" commit -q -F - <<'MSG'
man/man2/process_vm_mmap.2: Document the new system call

process_vm_mmap() clones the mappings of a range of another process (or
of the caller) into the caller: private memory copy-on-write as after
fork(2), shared memory shared, swapped-out pages left on swap, huge
pages kept huge.  It is proposed as an RFC for Linux 7.3; this page
follows the contract in the kernel's
Documentation/userspace-api/process_vm_mmap.rst.
MSG
rm -f "$DEST"/0*.patch
git -C "$repo" format-patch -q -1 -o "$DEST"
# The patch must apply where the page does not exist yet.
check=$tmp/check
git -C "$repo" worktree add -q --detach "$check" HEAD~1
git -C "$check" am -q "$DEST"/0001-*.patch
log "lint clean, EXAMPLES builds; patch: $(ls "$DEST"/0001-*.patch)"
