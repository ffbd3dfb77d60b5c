# SPDX-License-Identifier: GPL-2.0
#
# Sourced by the scripts that build for or boot a kernel: arch_of BUILD_DIR
# sets, from the build's .config (build/kernel.sh's ARCH),
#   ARCH           x86_64 or arm64
#   CROSS_COMPILE  the prefix of the C toolchain for the guest's programs
#   RUST_TARGET    the Rust target of the guest's programs
#   KIMAGE         the kernel image QEMU boots
arch_of() {
	if grep -qx CONFIG_ARM64=y "$1/.config"; then
		ARCH=arm64
		CROSS_COMPILE=aarch64-linux-gnu-
		RUST_TARGET=aarch64-unknown-linux-gnu
		KIMAGE=$1/arch/arm64/boot/Image
	else
		ARCH=x86_64
		CROSS_COMPILE=
		RUST_TARGET=x86_64-unknown-linux-gnu
		KIMAGE=$1/arch/x86/boot/bzImage
	fi
}
