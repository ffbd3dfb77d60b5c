#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Build CRIU from Debian's source package, with the project's patches
# (tools/criu/patches/*.patch, git format-patch output, applied in name
# order), and print the path of the criu binary on stdout.  Everything
# else goes to stderr.
#
# Idempotent: the source is downloaded once, and each build lives under
# $CACHE/criu-<version>/build-<hash of the patches>, so a rerun with the
# same patches prints the path without touching the network.  The tree is
# a git repository (base commit tagged v<upstream version>, one commit per
# patch): work on the patches there and `git format-patch v4.2.1` them
# back into tools/criu/patches/.
#
# CRIU 4.2.x is not in bookworm (3.17.1) nor trixie (4.1.1): forky and sid
# offer it.  Its source comes through a private apt configuration of
# deb-src lines under $CACHE/apt-src; the system's sources stay untouched.
# The build dependencies come from bookworm, which is new enough.
#
# Environment:
#   CRIU_VERSION   Debian version of the source package (default 4.2.1-1)
#   CRIU_SUITES    suites whose Sources are searched (default "forky sid")
#   WERROR         1 makes CRIU's warnings errors, as upstream does by
#                  default (default 0: warnings are shown, the build goes on)
#   JOBS           make -j (default 2)
set -euo pipefail
# CRIU is built for the host.  The project's ARCH names the guest kernel's
# (x86_64, arm64; the top Makefile exports it, and make check passes it
# on the command line, so that it reaches a sub-make through MAKEFLAGS as
# well): CRIU's Makefile takes its own names (x86, aarch64) from ARCH and
# refuses "x86_64".
unset ARCH SUBARCH CROSS_COMPILE MAKEFLAGS MFLAGS MAKELEVEL

CACHE=${CACHE:-$HOME/.cache/pvmmap}
CRIU_VERSION=${CRIU_VERSION:-4.2.1-1}
CRIU_SUITES=${CRIU_SUITES:-forky sid}
WERROR=${WERROR:-0}
JOBS=${JOBS:-2}
HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=$HERE/../../build
log() { printf 'criu-build: %s\n' "$*" >&2; }

upstream=${CRIU_VERSION%-*}
upstream=${upstream#*:}
top=$CACHE/criu-$CRIU_VERSION
mkdir -p "$top"

# Serialise concurrent runs: they would share the download and the tree.
exec 9>"$top/.lock"
flock 9

# --- Which build: keyed by the patches' names and contents ------------------
# (cd first, so that the hash does not depend on where the clone is.)
patches=()
if [ -d "$HERE/patches" ]; then
	while IFS= read -r p; do patches+=("$p"); done < <(
		cd "$HERE/patches" && find . -maxdepth 1 -name '*.patch' -printf '%f\n' | LC_ALL=C sort)
fi
if [ ${#patches[@]} -eq 0 ]; then
	hash=nopatches
else
	hash=$(cd "$HERE/patches" && sha256sum -- "${patches[@]}" | sha256sum | cut -c1-12)
fi
tree=$top/build-$hash
bin=$tree/criu/criu
if [ -f "$tree/.built" ] && [ -x "$bin" ]; then
	echo "$bin"
	exit 0
fi

# --- Build dependencies, from the system's own suite ---------------------
# Bookworm's are new enough for 4.2.x (libnftables 1.0.6 has the API that
# CRIU calls API_1).  As build/setup.sh does: install what is missing when
# root, else say what to install.  asciidoc/xmlto are not needed: no docs.
# shellcheck source=build/apt-private.sh
. "$BUILD/apt-private.sh"
DEPS="gcc make pkg-config libbsd-dev libcap-dev libgnutls28-dev libnet1-dev
      libnftables-dev libnl-3-dev libprotobuf-c-dev libprotobuf-dev
      protobuf-c-compiler protobuf-compiler python3-protobuf uuid-dev git"
# shellcheck disable=SC2086
apt_install_missing $DEPS

# --- Source: the upstream tarball of the Debian source package -------------
# Only the .orig tarball (upstream's release) is used: --tar-only leaves
# out criu_*.debian.tar.xz, Debian's packaging, which CRIU's own Makefile
# does not need and which the mirror answered 404 for (2026-12-01).  apt
# checks the tarball's hash against the signed Sources index.
orig=$top/dl/criu_$upstream.orig.tar.xz
if [ ! -s "$orig" ]; then
	SRCDIR=$CACHE/apt-src
	APT_OPTS_SRC=(-o Dir::Etc::SourceList="$SRCDIR/sources.list"
		      -o Dir::Etc::SourceParts=/dev/null
		      -o Dir::State::Lists="$SRCDIR/lists"
		      -o Dir::Cache="$SRCDIR/cache"
		      -o APT::Sandbox::User=root
		      -o Debug::NoLocking=1)
	mkdir -p "$SRCDIR/lists/partial" "$SRCDIR/cache"
	want=""
	for s in $CRIU_SUITES; do want="${want}$s "; done
	if [ ! -s "$SRCDIR/sources.list" ] || [ "$(cat "$SRCDIR/suites" 2>/dev/null)" != "$want" ]; then
		uri=$(system_debian_mirror)
		[ -n "$uri" ] || { log "cannot find the system's Debian mirror"; exit 1; }
		for s in $CRIU_SUITES; do
			echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri $s main"
		done >"$SRCDIR/sources.list"
		echo "$want" >"$SRCDIR/suites"
		rm -f "$SRCDIR"/lists/*Sources*
	fi
	if [ -z "$(find "$SRCDIR/lists" -maxdepth 1 -name '*Sources*' -mtime -1 2>/dev/null)" ]; then
		log "updating the source package lists ($CRIU_SUITES)"
		apt-get -q "${APT_OPTS_SRC[@]}" update >/dev/null
	fi
	if ! apt-cache "${APT_OPTS_SRC[@]}" showsrc criu 2>/dev/null |
			grep -qx "Version: $CRIU_VERSION"; then
		log "criu $CRIU_VERSION is not in $CRIU_SUITES; on offer:"
		apt-cache "${APT_OPTS_SRC[@]}" madison criu >&2 || true
		exit 1
	fi
	log "fetching the criu $CRIU_VERSION source"
	rm -rf "$top/dl.tmp"
	mkdir -p "$top/dl.tmp"
	(cd "$top/dl.tmp" &&
	 apt-get -q "${APT_OPTS_SRC[@]}" source --download-only --tar-only \
		"criu=$CRIU_VERSION" >/dev/null)
	[ -s "$top/dl.tmp/criu_$upstream.orig.tar.xz" ] ||
		{ log "no criu_$upstream.orig.tar.xz came down"; exit 1; }
	rm -rf "$top/dl"
	mv "$top/dl.tmp" "$top/dl"
fi

# --- Tree: unpacked, then one commit per patch ------------------------------
# Unpacked anew when the patches change (another hash, another tree); a
# tree whose patches applied but whose build failed is reused as it is, so
# that make only rebuilds what changed.
gitq() {
	git -C "$tree.tmp" -c user.name=criu-build -c user.email=criu-build@localhost \
		-c commit.gpgsign=false -c core.hooksPath=/dev/null "$@"
}
if [ ! -f "$tree/.patched" ]; then
	log "unpacking criu $upstream into $tree"
	rm -rf "$tree" "$tree.tmp"
	mkdir -p "$tree.tmp"
	tar -C "$tree.tmp" --strip-components=1 -xf "$orig"
	gitq init -q
	gitq add -A
	gitq commit -q -m "criu $upstream (Debian $CRIU_VERSION, upstream tarball)"
	gitq tag -a -m "criu $upstream" "v$upstream"
	for p in "${patches[@]}"; do
		log "applying $p"
		# The failed am is left in progress there, to look at.
		gitq am -q --keep-cr "$HERE/patches/$p" >&2 ||
			{ log "$p does not apply to criu $upstream: see $tree.tmp"; exit 1; }
	done
	# CRIU's cache of `git describe` and this script's stamps stay out of
	# git status.
	printf '/%s\n' .gitid .patched .built >>"$tree.tmp/.git/info/exclude"
	touch "$tree.tmp/.patched"
	mv "$tree.tmp" "$tree"
fi

# --- Build: the criu binary only (no docs, no libcriu, crit or plugins) -----
# The whole log is kept next to the tree; warnings are counted at the end
# because the parallel build interleaves them with the CC lines.
log "building criu (make -j$JOBS criu WERROR=$WERROR), log in $tree.log"
start=$SECONDS
make -C "$tree" -j"$JOBS" WERROR="$WERROR" criu 2>&1 | tee "$tree.log" >&2
[ -x "$bin" ] || { log "no $bin"; exit 1; }
warnings=$(grep -c 'warning:' "$tree.log" || true)
log "built in $((SECONDS - start)) s, $warnings warning(s)"
[ "$warnings" -eq 0 ] || grep 'warning:' "$tree.log" | sort -u >&2
touch "$tree/.built"

# Older trees of this version (other patches) only take room.
for old in "$top"/build-*; do
	[ "$old" = "$tree" ] || [ "$old" = "$tree.log" ] || rm -rf "$old"
done
echo "$bin"
