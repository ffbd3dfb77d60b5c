#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Install what the build needs and is missing, and fetch the tools that
# Debian bookworm does not ship in a recent enough version.  Idempotent:
# a second run with everything present prints nothing and takes a second.
#
# Everything downloaded lands in $CACHE (default ~/.cache/pvmmap), outside
# the clone, so that a fresh clone on the same machine reuses it.
#
# Outputs (for the Makefile, via $CACHE/toolchain.mk):
#   RUST_LIB_SRC   rust-src of the same upstream version as rustc
#   BINDGEN        bindgen-cli binary
#   LIBCLANG_PATH  directory holding a libclang.so new enough for bindgen
set -euo pipefail

CACHE=${CACHE:-$HOME/.cache/pvmmap}
BINDGEN_VERSION=${BINDGEN_VERSION:-0.72.1}
LIBCLANG_VERSION=${LIBCLANG_VERSION:-18.1.1}
# The suite that carries linux-source-7.3 and a rust-src matching rustc.
EXTRA_SUITE=${EXTRA_SUITE:-trixie-backports}

mkdir -p "$CACHE"
log() { printf 'setup: %s\n' "$*" >&2; }
# shellcheck source=build/apt-private.sh
. "$(dirname "$0")/apt-private.sh"

# --- Debian packages ------------------------------------------------------
# The mm selftests link statically against libcap (mlock-random-test),
# libnuma (migration, rmap, ksm_tests) and liburing (the io_uring cases of
# cow and gup_longterm; without it they are skipped): their -dev packages
# ship the static archives.  mandoc and groff-base lint the man page;
# python3-venv holds the Sphinx of make docs.  The arm64 kernel and its
# static kselftests are cross-compiled (gcc-aarch64-linux-gnu,
# libc6-dev-arm64-cross) and booted with qemu-system-arm's
# qemu-system-aarch64.
APT_PKGS="qemu-system-x86 busybox-static cpio flex bison bc libelf-dev
	  libssl-dev xz-utils e2fsprogs rsync python3 kmod libcap-dev
	  libnuma-dev liburing-dev mandoc groff-base python3-venv
	  gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-system-arm"
# shellcheck disable=SC2086
apt_install_missing $APT_PKGS

# --- A private apt configuration for the newer suite ------------------------
apt_private_ready=""
apt_private_update() {
	[ -n "$apt_private_ready" ] && return 0
	mkdir -p "$APTDIR/lists/partial" "$APTDIR/archives/partial" "$APTDIR/cache"
	if [ ! -s "$APTDIR/sources.list" ]; then
		local uri
		uri=$(system_debian_mirror)
		[ -n "$uri" ] || { log "cannot find the system's Debian mirror"; exit 1; }
		echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri $EXTRA_SUITE main" \
			>"$APTDIR/sources.list"
	fi
	# Refresh the lists at most once a day.
	if [ -z "$(find "$APTDIR/lists" -maxdepth 1 -name '*Packages*' -mtime -1 2>/dev/null)" ]; then
		log "updating the private package lists ($EXTRA_SUITE)"
		apt_private update >/dev/null
	fi
	apt_private_ready=1
}
# apt_download PKG[=VER] DESTDIR: extract a .deb into DESTDIR.
apt_download() {
	local pkg=$1 dest=$2 tmp
	apt_private_update
	tmp=$(mktemp -d)
	(cd "$tmp" && apt_private download "$pkg" >/dev/null)
	mkdir -p "$dest"
	dpkg-deb -x "$tmp"/*.deb "$dest"
	rm -rf "$tmp"
}

# --- rust-src matching rustc ---------------------------------------------
RUSTC_VER=$(rustc --version | awk '{print $2}')
RUST_SRC_DIR=$CACHE/rust-src-$RUSTC_VER
RUST_LIB_SRC=$RUST_SRC_DIR/usr/src/rustc-$RUSTC_VER/library
if [ ! -d "$RUST_LIB_SRC/core" ]; then
	apt_private_update
	ver=$(apt_cache madison rust-src 2>/dev/null | awk -F'|' '{gsub(/ /,"",$2); print $2}' |
		grep "^$RUSTC_VER+" | head -n1 || true)
	[ -n "$ver" ] || { log "no rust-src $RUSTC_VER in $EXTRA_SUITE"; exit 1; }
	log "fetching rust-src $ver"
	rm -rf "$RUST_SRC_DIR"
	apt_download "rust-src=$ver" "$RUST_SRC_DIR"
fi

# --- libclang (bookworm's 14 is too old for the 7.3 bindgen check) --------
LIBCLANG_DIR=$CACHE/libclang-$LIBCLANG_VERSION
find_libclang() { find "$LIBCLANG_DIR" -name libclang.so -print -quit 2>/dev/null; }
if [ -z "$(find_libclang)" ]; then
	log "fetching libclang $LIBCLANG_VERSION wheel"
	tmp=$(mktemp -d)
	python3 -m pip download -q --no-deps --only-binary=:all: \
		-d "$tmp" "libclang==$LIBCLANG_VERSION" >/dev/null
	rm -rf "$LIBCLANG_DIR"
	mkdir -p "$LIBCLANG_DIR"
	python3 -m zipfile -e "$tmp"/*.whl "$LIBCLANG_DIR"
	rm -rf "$tmp"
fi
LIBCLANG_PATH=$(dirname "$(find_libclang)")

# --- bindgen-cli -----------------------------------------------------------
BINDGEN_ROOT=$CACHE/bindgen-$BINDGEN_VERSION
BINDGEN=$BINDGEN_ROOT/bin/bindgen
if [ ! -x "$BINDGEN" ]; then
	log "building bindgen-cli $BINDGEN_VERSION (about 2 minutes)"
	cargo install -q --locked bindgen-cli --version "$BINDGEN_VERSION" \
		--root "$BINDGEN_ROOT"
fi

# --- arm64: busybox for the guest, static libraries, the crate's std -------
# From the system's own suite, for arm64, through a second private apt
# configuration that lists only that suite's arm64 packages: busybox-static,
# and the static libraries mm's selftests link (as on x86_64: libnuma,
# libcap, liburing), unpacked into a directory the selftests' build is
# pointed at (build/initramfs.sh).
BUSYBOX_ARM64=$CACHE/busybox-arm64/bin/busybox
if [ ! -x "$BUSYBOX_ARM64" ]; then
	log "fetching busybox-static for arm64"
	rm -rf "$CACHE/busybox-arm64.tmp"
	apt_arm64_download "$CACHE/busybox-arm64.tmp" busybox-static
	rm -rf "$CACHE/busybox-arm64"
	mv "$CACHE/busybox-arm64.tmp" "$CACHE/busybox-arm64"
fi
LIBS_ARM64=$CACHE/libs-arm64
if [ ! -f "$LIBS_ARM64/usr/lib/aarch64-linux-gnu/liburing.a" ]; then
	log "fetching libnuma-dev, libcap-dev, liburing-dev for arm64"
	rm -rf "$LIBS_ARM64.tmp"
	apt_arm64_download "$LIBS_ARM64.tmp" libnuma-dev libnuma1 libcap-dev \
		libcap2 liburing-dev liburing2
	rm -rf "$LIBS_ARM64"
	mv "$LIBS_ARM64.tmp" "$LIBS_ARM64"
fi
# The userspace crate's tests run on arm64 too when rustup can add the
# target's standard library; without it they run on x86_64 only (the
# arm64 run says so).
RUST_ARM64=aarch64-unknown-linux-gnu
if ! rustup target list --installed 2>/dev/null | grep -qx "$RUST_ARM64"; then
	log "adding the Rust target $RUST_ARM64 (standard library)"
	timeout 600 rustup target add "$RUST_ARM64" >/dev/null 2>&1 ||
		log "rustup could not add $RUST_ARM64: the crate's tests will not run on arm64"
fi

cat >"$CACHE/toolchain.mk.tmp" <<EOF
RUST_LIB_SRC := $RUST_LIB_SRC
BINDGEN := $BINDGEN
LIBCLANG_PATH := $LIBCLANG_PATH
BUSYBOX_ARM64 := $BUSYBOX_ARM64
LIBS_ARM64 := $LIBS_ARM64
EOF
mv "$CACHE/toolchain.mk.tmp" "$CACHE/toolchain.mk"
