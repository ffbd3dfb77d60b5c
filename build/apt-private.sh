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
apt_cache() { apt-cache "${APT_OPTS[@]}" "$@"; }
