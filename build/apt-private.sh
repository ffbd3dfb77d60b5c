# SPDX-License-Identifier: GPL-2.0
#
# Sourced by build/setup.sh and build/fetch-kernel.sh: a private apt
# configuration under $CACHE/apt, only used to *download* .debs of a newer
# suite.  The system's sources stay untouched; the mirror is the one the
# system already uses for Debian (setup.sh writes sources.list).
APTDIR=$CACHE/apt
APT_OPTS=(-o Dir::Etc::SourceList="$APTDIR/sources.list"
	  -o Dir::Etc::SourceParts=/dev/null
	  -o Dir::State::Lists="$APTDIR/lists"
	  -o Dir::Cache="$APTDIR/cache"
	  -o Dir::Cache::Archives="$APTDIR/archives"
	  -o APT::Sandbox::User=root
	  -o Debug::NoLocking=1)
apt_private() { apt-get -q "${APT_OPTS[@]}" "$@"; }
# apt_install_missing PKG...: installs those of the system's PKGs that are
# not installed (root only; otherwise says which, through the caller's
# log(), and fails).
apt_install_missing() {
	local p missing=""

	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
			missing="$missing $p"
	done
	[ -n "$missing" ] || return 0
	log "installing:$missing"
	if [ "$(id -u)" -ne 0 ]; then
		log "not root: install these by hand:$missing"
		return 1
	fi
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null &&
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			--no-install-recommends $missing >/dev/null
}
# The Debian mirror the system's own sources use (deb822 or one-line
# format), for the private configurations' sources.list.
system_debian_mirror() {
	local uri
	uri=$(sed -n 's/^URIs:[[:space:]]*//p' /etc/apt/sources.list.d/*.sources \
		/dev/null 2>/dev/null | grep -v security | grep debian | head -n1)
	[ -n "$uri" ] || uri=$(awk '/^deb / && $2 ~ /debian$/ {print $2; exit}' \
		/etc/apt/sources.list 2>/dev/null)
	echo "$uri"
}
apt_cache() { apt-cache "${APT_OPTS[@]}" "$@"; }

# The system's own suite for arm64 (busybox-static for the arm64 guest):
# its own lists under $CACHE/apt-arm64, the same mirror and suite as the
# system's sources.
APTDIR_ARM64=$CACHE/apt-arm64
APT_OPTS_ARM64=(-o Dir::Etc::SourceList="$APTDIR_ARM64/sources.list"
		-o Dir::Etc::SourceParts=/dev/null
		-o Dir::State::Lists="$APTDIR_ARM64/lists"
		-o Dir::Cache="$APTDIR_ARM64/cache"
		-o Dir::Cache::Archives="$APTDIR_ARM64/archives"
		-o APT::Architecture=arm64 -o APT::Architectures::=arm64
		-o APT::Sandbox::User=root
		-o Debug::NoLocking=1)
# apt_arm64_download DESTDIR PKG...: extract the PKGs' arm64 .debs into
# DESTDIR.
apt_arm64_download() {
	local dest=$1 tmp uri suite pkg
	shift
	mkdir -p "$APTDIR_ARM64/lists/partial" "$APTDIR_ARM64/archives/partial" \
		"$APTDIR_ARM64/cache"
	if [ ! -s "$APTDIR_ARM64/sources.list" ]; then
		uri=$(system_debian_mirror)
		suite=$(. /etc/os-release && echo "$VERSION_CODENAME")
		[ -n "$uri" ] && [ -n "$suite" ] || return 1
		echo "deb [arch=arm64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri $suite main" \
			>"$APTDIR_ARM64/sources.list"
	fi
	apt-get -q "${APT_OPTS_ARM64[@]}" update >/dev/null
	tmp=$(mktemp -d)
	for pkg in "$@"; do
		(cd "$tmp" && apt-get -q "${APT_OPTS_ARM64[@]}" download "$pkg:arm64" >/dev/null)
	done
	mkdir -p "$dest"
	for deb in "$tmp"/*.deb; do
		dpkg-deb -x "$deb" "$dest"
	done
	rm -rf "$tmp"
}
