#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# build/kernel.sh FLAVOUR [--config-only]
#
# Build the patched Linux 7.3 of one flavour (test: debug options on; perf:
# off) out of tree, under $CACHE, and print nothing else on stdout than the
# path of the build directory.  --config-only stops after generating and
# checking the .config.
#
# ARCH=x86_64 (default) or ARCH=arm64: the arm64 kernel is cross-compiled
# (CROSS_COMPILE=aarch64-linux-gnu-, Debian's gcc-aarch64-linux-gnu; the
# same rustc, whose aarch64 target the kernel names), with its own build
# directories; the pristine flavours are x86_64's only.
#
# The pristine flavour is Linux 7.3 without the series, configured as the
# test kernel but for the options only the series has: the reference that
# make mm-regress runs mm's selftests on.  pristine-perf is the same tree
# configured as the perf kernel: what fork() costs without the series
# (make bench with ACCEL=icount).
#
#   $CACHE/src-<kver>            pristine + series (only changed files are
#                                rewritten, so make stays incremental)
#   $CACHE/src-<kver>-pristine   a copy of the pristine tree (the pristine
#                                flavour; its own copy, so that nothing
#                                built from it writes into the tree
#                                fetch-kernel.sh keeps)
#   $CACHE/build-<kver>-<flavour> O= directory (x86_64)
#   $CACHE/build-<kver>-<arch>-<flavour> O= directory (other architectures)
#
# The build directory is keyed by kernel version and flavour; inside it a
# stamp keyed by the series content and the config fragments lets a rerun
# with no change skip make altogether.  Any change reruns make, which only
# rebuilds what the change touched.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${CACHE:-$HOME/.cache/pvmmap}
FLAVOUR=${1:?usage: kernel.sh test|perf|pristine|pristine-perf [--config-only]}
CONFIG_ONLY=${2:-}
JOBS=${JOBS:-$(nproc)}
log() { printf 'kernel[%s]: %s\n' "$FLAVOUR" "$*" >&2; }

# SERIES_ONLY: options that exist only with the series applied, left out of
# the pristine flavour's configuration and of its check.
SERIES_ONLY="CONFIG_PROCESS_VM_MMAP CONFIG_PROCESS_VM_MMAP_KUNIT_TEST"
ARCH=${ARCH:-x86_64}
case "$ARCH" in
x86_64) CROSS_COMPILE= IMAGE=arch/x86/boot/bzImage OUTSUFFIX= ;;
arm64) CROSS_COMPILE=aarch64-linux-gnu- IMAGE=arch/arm64/boot/Image OUTSUFFIX=-arm64 ;;
*) log "unknown ARCH $ARCH (x86_64, arm64)"; exit 1 ;;
esac
# The fragments: common, the architecture's, the flavour's, and the
# architecture's part of the flavour's where it has one.
case "$FLAVOUR" in
test|pristine) FRAGMENTS="base.config $ARCH.config debug.config $ARCH-debug.config" ;;
perf|pristine-perf) FRAGMENTS="base.config $ARCH.config perf.config" ;;
*) log "unknown flavour"; exit 1 ;;
esac
PRISTINE_TREE=0
case "$FLAVOUR" in pristine*) PRISTINE_TREE=1 ;; esac
if [ "$PRISTINE_TREE" = 1 ] && [ "$ARCH" != x86_64 ]; then
	log "the pristine flavours are built for x86_64 only"
	exit 1
fi
# The configuration: the fragments, minus the series' options for the
# pristine flavour.
fragments() {
	(cd "$ROOT/configs" && cat $FRAGMENTS) |
		if [ "$PRISTINE_TREE" = 1 ]; then
			grep -v -E "^($(echo $SERIES_ONLY | tr ' ' '|'))=|^# ($(echo $SERIES_ONLY | tr ' ' '|')) is not set"
		else
			cat
		fi
}

# shellcheck disable=SC1091
eval "$(sed -n 's/^\([A-Z_]*\) := \(.*\)$/\1="\2"/p' "$CACHE/toolchain.mk")"
export LIBCLANG_PATH
PRISTINE=$(readlink -f "$("$ROOT/build/fetch-kernel.sh")")
KVER=$(basename "$PRISTINE" | sed 's/^linux-//')
if [ "$PRISTINE_TREE" = 1 ]; then
	SRC=$CACHE/src-$KVER-pristine
else
	SRC=$CACHE/src-$KVER
fi
OUT=$CACHE/build-$KVER$OUTSUFFIX-$FLAVOUR
mkdir -p "$OUT"

# Serialise builds that share the source tree.
exec 9>"$SRC.lock"
flock 9

if [ "$PRISTINE_TREE" = 1 ]; then
	# Made once (a tree of a new version has a new name); the rename
	# makes a copy that was interrupted invisible.
	if [ ! -f "$SRC/.pristine" ]; then
		log "copying the pristine tree to $SRC"
		rm -rf "$SRC" "$SRC.tmp"
		cp -a "$PRISTINE" "$SRC.tmp"
		mv "$SRC.tmp" "$SRC"
	fi
	# The key below hashes the files the series touches; here, none.
	: >"$SRC/.series-files"
else
	python3 "$ROOT/build/series.py" apply "$PRISTINE" "$SRC" >&2
fi

KMAKE=(make -s -C "$SRC" O="$OUT" -j"$JOBS" LLVM= ARCH="$ARCH"
       CROSS_COMPILE="$CROSS_COMPILE" CC="${CROSS_COMPILE}gcc"
       RUST_LIB_SRC="$RUST_LIB_SRC" BINDGEN="$BINDGEN" CLIPPY=1)

# --- config -----------------------------------------------------------------
# What the kernel is made of: the config fragments, the toolchain, and the
# content of every file the series touches.
key=$( (fragments; rustc --version; "${CROSS_COMPILE}gcc" --version;
	cd "$SRC" && xargs -r -a .series-files sha1sum) | sha1sum | cut -c1-16)
fragkey=$(fragments | sha1sum | cut -c1-16)
if [ ! -f "$OUT/.config" ] || [ "$(cat "$OUT/.fragkey" 2>/dev/null)" != "$fragkey" ]; then
	log "configuring (allnoconfig + $FRAGMENTS)"
	cat_frags=$(mktemp)
	fragments >"$cat_frags"
	"${KMAKE[@]}" KCONFIG_ALLCONFIG="$cat_frags" allnoconfig >&2
	"${KMAKE[@]}" olddefconfig >&2
	rm -f "$cat_frags"
	echo "$fragkey" >"$OUT/.fragkey"
fi
# Every option a fragment names must have stuck (for the pristine
# flavour, every option but the series' own).
bad=0
while IFS= read -r line; do
	case "$line" in
	CONFIG_*=*)
		grep -qxF "$line" "$OUT/.config" || { log "did not stick: $line"; bad=1; } ;;
	"# CONFIG_"*" is not set")
		opt=${line#\# }; opt=${opt%% *}
		grep -q "^$opt=" "$OUT/.config" && { log "did not stick: $line"; bad=1; } ;;
	esac
done < <(fragments)
if [ "$bad" -ne 0 ]; then
	rm -f "$OUT/.fragkey"
	exit 1
fi

if [ "$CONFIG_ONLY" = --config-only ]; then
	log "config checked: $OUT/.config"
	exit 0
fi

# --- build ------------------------------------------------------------------
if [ "$(cat "$OUT/.buildkey" 2>/dev/null)" != "$key" ] || [ ! -f "$OUT/$IMAGE" ]; then
	log "building (make -j$JOBS, incremental)"
	start=$(date +%s)
	rm -f "$OUT/.buildkey"
	# Keep the whole log: warnings in the series' files fail the build below.
	"${KMAKE[@]}" "$(basename "$IMAGE")" headers 2>"$OUT/build.log" >&2 || {
		tail -n 60 "$OUT/build.log" >&2; exit 1; }
	# A diagnostic's location line ("--> path:line") names the file.
	if grep -B4 -A12 -E '^ *--> .*/(mm/process_vm_mmap|rust/kernel/task\.rs)' \
		"$OUT/build.log" >&2 ||
		grep -E '(^|/)mm/process_vm_mmap[^ ]*: (warning|error)' "$OUT/build.log" >&2; then
		log "the series' files have compiler or clippy warnings (see above)"
		exit 1
	fi
	echo "$key" >"$OUT/.buildkey"
	log "built in $(( $(date +%s) - start )) s"
fi
echo "$OUT"
