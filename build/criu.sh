#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# build/criu.sh JOB [OUTDIR]: CRIU (tools/criu) in the VM, x86_64 only
# (criu is built for the host).  JOB is
#   e2e    make criu-e2e (in make check): the hand-off end to end on the
#          test kernel (tools/criu/e2e.sh);
#   bench  make criu: 512 MiB restored three ways on the perf kernel
#          (tools/criu/bench.sh; CRIU_MIB sizes it), table and criu.csv;
#   zdtm   make criu-zdtm: zdtm's memory tests through the hand-off on the
#          test kernel (tools/criu/zdtm.sh, tests from zdtm-build.sh).
# Builds the kernel (build/kernel.sh), CRIU with tools/criu/patches
# (tools/criu/build.sh) and tools/criu/workload.c (static), puts criu, the
# libraries ldd names (at their ldd paths), the workload and the guest
# scripts into the extra directory, and runs tools/criu/JOB.sh there as
# /extra/run.sh (build/guest-run.sh, which fails on a kernel report on the
# console).
#
# Environment: VM_TIMEOUT, VM_MEM as build/vm.sh reads them; CRIU_FLAVOUR
# (test or perf) overrides the job's kernel.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
JOB=${1:?usage: criu.sh e2e|bench|zdtm [OUTDIR]}
DEST=${2:-$ROOT/out/criu-$JOB}
log() { printf 'criu-%s: %s\n' "$JOB" "$*" >&2; }
case $JOB in
e2e | zdtm) flavour=test mem=2G timeout=600 cmdline= ;;
bench)
	flavour=perf mem=4G timeout=1800
	cmdline="pvmmap.zram=2G pvmmap.criu_mib=${CRIU_MIB:-512}"
	;;
*) log "unknown job (e2e, bench, zdtm)"; exit 2 ;;
esac
flavour=${CRIU_FLAVOUR:-$flavour}
if [ "${ARCH:-x86_64}" != x86_64 ]; then
	log "x86_64 only (criu is built for the host)"
	exit 1
fi
export ARCH=x86_64
t=$SECONDS
OUT=$("$ROOT/build/kernel.sh" $flavour)
log "kernel.sh $flavour: $((SECONDS - t)) s ($OUT)"
t=$SECONDS
CRIU=$("$ROOT/tools/criu/build.sh")
log "tools/criu/build.sh: $((SECONDS - t)) s ($CRIU)"

extra=$(mktemp -d)
trap 'rm -rf "$extra"' EXIT
gcc -static -O2 -Wall -Wextra -Werror -isystem "$OUT/usr/include" \
	-o "$extra/workload" "$ROOT/tools/criu/workload.c"
install -D -m 0755 "$CRIU" "$extra/usr/sbin/criu"
# Every library ldd names, and the loader, at its path (the guest links
# /extra/lib, /extra/lib64 into place).
ldd "$CRIU" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' |
	while read -r lib; do
		install -D -m 0755 "$(readlink -f "$lib")" "$extra$lib"
	done
install -m 0644 "$ROOT/tools/criu/guest-env.sh" "$extra/guest-env.sh"
install -m 0755 "$ROOT/tools/criu/$JOB.sh" "$extra/run.sh"
if [ "$JOB" = zdtm ]; then
	t=$SECONDS
	"$ROOT/tools/criu/zdtm-build.sh" "$extra/zdtm"
	log "tools/criu/zdtm-build.sh: $((SECONDS - t)) s"
fi
log "extra: $(du -sh "$extra" | cut -f1), $(find "$extra" -name '*.so*' | wc -l) libraries"

# Only the series' own kselftests go into the initramfs (none run here):
# mm's would only cost build time.
t=$SECONDS
KSFT_TARGETS=${KSFT_TARGETS:-process_vm_mmap} VM_TIMEOUT=${VM_TIMEOUT:-$timeout} \
	VM_MEM=${VM_MEM:-$mem} CMDLINE_EXTRA="${CMDLINE_EXTRA:-} $cmdline" \
	"$ROOT/build/guest-run.sh" "$OUT" "$DEST" "$extra" "criu-$JOB"
log "guest-run.sh (initramfs + VM): $((SECONDS - t)) s; VM $(cat "$DEST/seconds") s"
grep -q "^CRIU-${JOB^^} PASS" "$DEST/output.txt" || { log "no PASS line"; exit 1; }
log "passed (console: $DEST/console.log, output: $DEST/output.txt)"
