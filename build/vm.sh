#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# build/vm.sh BUILD_DIR INITRAMFS MODE LOGDIR
#
# Boot the kernel of BUILD_DIR with INITRAMFS in QEMU, with pvmmap.mode=MODE
# (see build/guest-init), and leave the kernel console in LOGDIR/console.log
# and what the guest's programs printed in LOGDIR/output.log.  A fresh ext4
# image (LOGDIR/disk.img) is the guest's virtio disk: a real block
# filesystem for the page-cache file tests.
#
# numa=fake=2 splits the guest's memory into two NUMA nodes where the
# kernel has NUMA emulation (the test kernel), so that migration can be
# tested; other kernels ignore it.
#
# The machine is the kernel's architecture (build/arch.sh): x86_64 on
# qemu-system-x86_64 (console ttyS0, tests' output ttyS1), arm64 on
# qemu-system-aarch64's virt machine with -cpu max (BTI, PAC, MTE with
# mte=on; pauth-impdef=on: QEMU's cheap PAC algorithm, for TCG's speed),
# console ttyAMA0, tests' output on a virtio console (hvc0).
#
# TCG by default: /dev/kvm on these machines is not hardware
# virtualisation.  ACCEL=kvm asks for KVM where it works.  ACCEL=icount is
# TCG on one host thread with the guest's clocks driven by the count of
# instructions executed (1 ns each): a time measured in the guest is then
# the work done, whatever else the host runs, and the same in every run,
# so that two kernels can be compared across VM runs (make bench).
# CMDLINE_EXTRA is appended to the kernel command line (pvmmap.* options
# of the guest).
set -euo pipefail

OUT=${1:?usage: vm.sh BUILD_DIR INITRAMFS MODE LOGDIR}
INITRD=${2:?}
MODE=${3:?}
LOGDIR=${4:?}
ACCEL=${ACCEL:-tcg}
VM_MEM=${VM_MEM:-2G}
VM_CPUS=${VM_CPUS:-2}
VM_TIMEOUT=${VM_TIMEOUT:-1200}
log() { printf 'vm: %s\n' "$*" >&2; }
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=build/arch.sh
. "$ROOT/build/arch.sh"
arch_of "$OUT"

mkdir -p "$LOGDIR"
rm -f "$LOGDIR/console.log" "$LOGDIR/output.log"
# What the kernel was built with, for build/vmcheck.py (which KUnit suites
# must have run).
cp "$OUT/.config" "$LOGDIR/kernel.config"
case "$ARCH" in
arm64) cpu=max,pauth-impdef=on ;;
*) cpu=max ;;
esac
case "$ACCEL" in
tcg) accel=(-accel tcg,thread=multi -cpu "$cpu") ;;
kvm) accel=(-accel kvm -cpu host) ;;
icount) accel=(-accel tcg,thread=single -icount shift=0,sleep=off -cpu "$cpu") ;;
*) log "ACCEL is tcg, icount or kvm"; exit 1 ;;
esac
case "$ARCH" in
arm64)
	qemu=(qemu-system-aarch64 -M virt,gic-version=3,mte=on
	      -drive "file=$LOGDIR/disk.img,if=none,format=raw,id=disk"
	      -device virtio-blk-pci,drive=disk
	      -serial "file:$LOGDIR/console.log"
	      -device virtio-serial-pci
	      -chardev "file,id=tests,path=$LOGDIR/output.log"
	      -device virtconsole,chardev=tests)
	console=ttyAMA0 ;;
*)
	qemu=(qemu-system-x86_64
	      -drive "file=$LOGDIR/disk.img,if=virtio,format=raw"
	      -serial "file:$LOGDIR/console.log" -serial "file:$LOGDIR/output.log")
	console=ttyS0 ;;
esac

# Sparse; made anew each run so that no run sees another's files.
mkfs.ext4 -q -F "$LOGDIR/disk.img" 256M
log "booting $ARCH ($ACCEL, $VM_CPUS cpus, $VM_MEM, mode $MODE, timeout ${VM_TIMEOUT}s)"
start=$(date +%s.%N)
rc=0
timeout --foreground -k 10 "$VM_TIMEOUT" \
	"${qemu[@]}" "${accel[@]}" -smp "$VM_CPUS" -m "$VM_MEM" \
	-nographic -no-reboot -nodefaults \
	-kernel "$KIMAGE" -initrd "$INITRD" \
	-append "console=$console panic=-1 oops=panic panic_on_warn=0 loglevel=7 numa=fake=2 pvmmap.mode=$MODE ${CMDLINE_EXTRA:-}" \
	</dev/null || rc=$?
end=$(date +%s.%N)
printf '%.1f\n' "$(echo "$end - $start" | bc)" >"$LOGDIR/seconds"
if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
	log "timed out after ${VM_TIMEOUT}s"
	echo timeout >"$LOGDIR/status"
elif [ "$rc" -ne 0 ]; then
	log "qemu exited with $rc"
	echo "qemu-$rc" >"$LOGDIR/status"
else
	echo done >"$LOGDIR/status"
fi
log "VM ran $(cat "$LOGDIR/seconds") s; logs in $LOGDIR"
