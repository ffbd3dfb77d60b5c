#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# build/initramfs.sh BUILD_DIR OUT.cpio.gz [EXTRA_DIR]
#
# Build the kselftests of the series statically with the kselftest install
# machinery, and pack them with busybox and build/guest-init into an
# initramfs.  EXTRA_DIR, if given, is copied to /extra in the guest; its
# kselftest/ subdirectory, if any, holds more collections and their
# kselftest-list.txt lines (list.txt), run with the others.
#
# The architecture is the kernel's (ARCH of build/kernel.sh, read from the
# build's .config): for arm64 the kselftests are cross-compiled and busybox
# is Debian's arm64 busybox-static (build/setup.sh fetches it), and mm's
# selftests link the arm64 static libraries (libnuma, libcap, liburing)
# that setup.sh unpacks into $CACHE/libs-arm64.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:?usage: initramfs.sh BUILD_DIR OUT.cpio.gz [EXTRA_DIR]}
CPIO=${2:?}
EXTRA=${3:-}
SRC=$(readlink -f "$OUT/source")
# Kselftest collections this series adds or relies on, and which of their
# tests run: all of process_vm_mmap; of mm, those of build/mm-tests, which
# exercise the page-table copier that the series changes and what meets
# the entries it copies: the "check" set (make check) or, MM_SET=regress,
# the "regress" set (make mm-regress).
MM_TESTS=$ROOT/build/mm-tests
MM_SET=${MM_SET:-check}
# mm_tests [args]: the set's lines of build/mm-tests, as "NAME ARGS...".
mm_tests() {
	awk -v set="$MM_SET" '!/^#/ && NF && ($2 == "both" || $2 == set) {
		line = $1; for (i = 3; i <= NF; i++) line = line " " $i
		print line }' "$MM_TESTS"
}
default_run() {
	for coll in $KSFT_TARGETS; do
		case "$coll" in
		mm) mm_tests | awk '{ printf "mm:%s ", $1 }' ;;
		*) printf '%s:* ' "$coll" ;;
		esac
	done
}
# shellcheck source=build/arch.sh
. "$ROOT/build/arch.sh"
arch_of "$OUT"
KSFT_TARGETS=${KSFT_TARGETS:-process_vm_mmap mm}
if [ "$ARCH" = arm64 ]; then
	eval "$(sed -n 's/^\(BUSYBOX_ARM64\|LIBS_ARM64\) := \(.*\)$/\1="\2"/p' "${CACHE:-$HOME/.cache/pvmmap}/toolchain.mk")"
	BUSYBOX=$BUSYBOX_ARM64
	USERCFLAGS="-I$LIBS_ARM64/usr/include"
	USERLDFLAGS="-L$LIBS_ARM64/usr/lib/aarch64-linux-gnu"
else
	BUSYBOX=/bin/busybox
	USERCFLAGS= USERLDFLAGS=
fi
KSFT_RUN=${KSFT_RUN:-$(default_run)}
log() { printf 'initramfs: %s\n' "$*" >&2; }

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

# --- kselftests, static, installed the kselftest way -------------------------
KSFT=$OUT/kselftest-install
rm -rf "$KSFT"
# mm's Makefile probes for liburing once and keeps the answer in the source
# tree, which every architecture's build shares: probe again each time, with
# this build's compiler and flags (a stale "no liburing" compiles cow's and
# gup_longterm's io_uring cases out without a word).
rm -f "$SRC/tools/testing/selftests/mm/local_config.mk" \
	"$SRC/tools/testing/selftests/mm/local_config.h_gen"
# LDFLAGS from the environment: the collections' Makefiles append to it.
if ! LDFLAGS=-static make -s -C "$SRC/tools/testing/selftests" O="$OUT" \
	ARCH="$ARCH" CROSS_COMPILE="$CROSS_COMPILE" \
	USERCFLAGS="$USERCFLAGS" USERLDFLAGS="$USERLDFLAGS" \
	TARGETS="$KSFT_TARGETS" KSFT_INSTALL_PATH="$KSFT" install \
	>"$OUT/kselftest.log" 2>&1; then
	cat "$OUT/kselftest.log" >&2
	log "kselftest build failed"
	exit 1
fi
# The selftests' make keeps going past a target that fails to build.
if grep -E 'error:|\*\*\* .*Error [0-9]' "$OUT/kselftest.log" >&2; then
	log "kselftest build failed (see above)"
	exit 1
fi
if grep 'missing liburing support' "$OUT/kselftest.log" >&2; then
	log "mm's selftests found no liburing (libs-arm64 or liburing-dev missing?)"
	exit 1
fi
if grep -i 'warning' "$OUT/kselftest.log" | grep process_vm_mmap >&2; then
	log "kselftest build has warnings (see above)"
	exit 1
fi
# Keep only the tests that run, in the list run_kselftest.sh reads and on
# disk (the mm collection is large).
keep=$(mktemp)
# A pattern with * selects from the list; a plain collection:test names a
# program the collection builds, listed or not (mm lists only wrappers
# that need bash).
for pat in $KSFT_RUN; do
	case "$pat" in
	*'*'*)
		grep -x -- "$(printf '%s' "$pat" | sed 's/\*/.*/')" \
			"$KSFT/kselftest-list.txt" ;;
	*)
		[ -x "$KSFT/${pat%%:*}/${pat#*:}" ] && echo "$pat" ;;
	esac || { log "no kselftest matches $pat"; exit 1; }
done >"$keep"
mv "$keep" "$KSFT/kselftest-list.txt"
for coll in $KSFT_TARGETS; do
	for f in "$KSFT/$coll"/*; do
		case "$(basename "$f")" in settings|config) continue ;; esac
		grep -qx "$coll:$(basename "$f")" "$KSFT/kselftest-list.txt" || rm -rf "$f"
	done
done

# Collections built outside the kernel tree (build/smoke.sh) join them.
if [ -n "$EXTRA" ] && [ -d "$EXTRA/kselftest" ]; then
	for coll in "$EXTRA"/kselftest/*/; do
		cp -a "$coll" "$KSFT/"
	done
	cat "$EXTRA/kselftest/list.txt" >>"$KSFT/kselftest-list.txt"
fi

# --- root filesystem --------------------------------------------------------
mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,mnt,root,etc}
cp "$BUSYBOX" "$stage/bin/busybox"
# The applets of the host's busybox: the same Debian version as the arm64
# one, which the host cannot run.
for app in $(/bin/busybox --list); do
	case "$app" in busybox) continue ;; esac
	ln -sf /bin/busybox "$stage/bin/$app"
	# run_kselftest.sh looks for /usr/bin/timeout.
	ln -sf /bin/busybox "$stage/usr/bin/$app"
done
cp -a "$KSFT" "$stage/kselftest"
# kselftest's runner calls coreutils' "timeout --foreground"; busybox's
# timeout has no such option (and needs none: there is no job control).
rm "$stage/usr/bin/timeout"
printf '%s\n' '#!/bin/sh' '[ "$1" = --foreground ] && shift' \
	'exec /bin/busybox timeout "$@"' >"$stage/usr/bin/timeout"
chmod 0755 "$stage/usr/bin/timeout"
install -m 0755 "$ROOT/build/guest-init" "$stage/init"
# The set's arguments of build/mm-tests, in the variables kselftest's
# runner reads (KSELFTEST_<NAME>_ARGS: the name upper-cased, other than
# [A-Za-z0-9_] made "_"); guest-init sources the file.
mm_tests | awk 'NF > 1 {
	name = toupper($1); gsub(/[^A-Z0-9_]/, "_", name)
	args = $2; for (i = 3; i <= NF; i++) args = args " " $i
	if (args ~ /\047/) { print "quote in the arguments of " $1 >"/dev/stderr"; exit 1 }
	printf "export KSELFTEST_%s_ARGS=\047%s\047\n", name, args }' \
	>"$stage/etc/ksft-args"
echo 'root:x:0:0:root:/root:/bin/sh' >"$stage/etc/passwd"
echo 'nobody:x:65534:65534:nobody:/:/bin/false' >>"$stage/etc/passwd"
echo 'root:x:0:' >"$stage/etc/group"
if [ -n "$EXTRA" ]; then
	cp -a "$EXTRA" "$stage/extra"
	rm -rf "$stage/extra/kselftest"
fi

# /dev/console must exist before devtmpfs is mounted, or init's output is
# lost.
mknod -m 600 "$stage/dev/console" c 5 1
(
	cd "$stage"
	find . -mindepth 1 | sed 's#^\./##' | cpio -o -H newc -R 0:0 --quiet
) >"$CPIO.tmp"
gzip -n -1 <"$CPIO.tmp" >"$CPIO"
rm -f "$CPIO.tmp"
log "$(du -h "$CPIO" | cut -f1) initramfs with $(wc -l <"$KSFT/kselftest-list.txt") kselftest(s)"
