#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Provide a pristine Linux 7.3 tree and print its path on stdout.
#
# KSRC=/path/to/linux-7.3 uses that tree as it is (it is never modified).
# Otherwise the newest linux-source-7.3 Debian offers is downloaded through
# the private apt configuration that setup.sh made, and unpacked once under
# $CACHE/linux-<version>.
set -euo pipefail

CACHE=${CACHE:-$HOME/.cache/pvmmap}
EXTRA_SUITE=${EXTRA_SUITE:-trixie-backports}
log() { printf 'fetch-kernel: %s\n' "$*" >&2; }

if [ -n "${KSRC:-}" ]; then
	[ -f "$KSRC/Makefile" ] || { log "KSRC=$KSRC is not a kernel tree"; exit 1; }
	grep -q '^VERSION = 7$' "$KSRC/Makefile" && grep -q '^PATCHLEVEL = 3$' "$KSRC/Makefile" ||
		{ log "KSRC=$KSRC is not Linux 7.3"; exit 1; }
	echo "$KSRC"
	exit 0
fi

# shellcheck source=build/apt-private.sh
. "$(dirname "$0")/apt-private.sh"
[ -s "$APTDIR/sources.list" ] || { log "run build/setup.sh first"; exit 1; }

# Pick the newest 7.3.y on offer; fall back to the newest tree already
# unpacked when the package lists cannot be read (e.g. offline rerun).
ver=$(apt_cache madison linux-source-7.3 2>/dev/null |
	awk -F'|' '{gsub(/ /,"",$2); print $2}' | sort -V | tail -n1 || true)
if [ -z "$ver" ]; then
	tree=$(ls -d "$CACHE"/linux-7.3* 2>/dev/null | sort -V | tail -n1 || true)
	[ -n "$tree" ] || { log "linux-source-7.3 not found in $EXTRA_SUITE"; exit 1; }
	echo "$tree"
	exit 0
fi
tree=$CACHE/linux-${ver//[~+]/_}
if [ ! -f "$tree/.pristine" ]; then
	log "fetching linux-source-7.3 $ver"
	tmp=$(mktemp -d)
	(cd "$tmp" && apt_private download "linux-source-7.3=$ver" >/dev/null)
	dpkg-deb -x "$tmp"/*.deb "$tmp/x"
	rm -rf "$tree" "$tree.tmp"
	mkdir -p "$tree.tmp"
	tar -C "$tree.tmp" --strip-components=1 -xf "$tmp"/x/usr/src/linux-source-7.3.tar.xz
	rm -rf "$tmp"
	touch "$tree.tmp/.pristine"
	mv "$tree.tmp" "$tree"
fi
echo "$tree"
