#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# build/criu-e2e.sh [OUTDIR]: the job of `make criu-e2e`.  CRIU restores a
# process through process_vm_mmap() in the VM (issue 11): builds the test
# kernel (build/kernel.sh test), CRIU with tools/criu/patches
# (tools/criu/build.sh) and tools/criu/workload.c (static), puts criu, the
# libraries ldd names (at their ldd paths) and the workload into the extra
# directory, and runs tools/criu/e2e.sh there as /extra/run.sh
# (build/guest-run.sh, which fails on a kernel report on the console).
# x86_64 only: criu is built for the host.
#
# Environment: VM_TIMEOUT (600), VM_MEM (2G) as build/vm.sh reads them.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DEST=${1:-$ROOT/out/criu-e2e}
log() { printf 'criu-e2e: %s\n' "$*" >&2; }
if [ "${ARCH:-x86_64}" != x86_64 ]; then
	log "x86_64 only (criu is built for the host)"
	exit 1
fi
export ARCH=x86_64
t=$SECONDS
OUT=$("$ROOT/build/kernel.sh" test)
log "kernel.sh test: $((SECONDS - t)) s ($OUT)"
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
install -m 0755 "$ROOT/tools/criu/e2e.sh" "$extra/run.sh"
log "extra: $(du -sh "$extra" | cut -f1), $(find "$extra" -name '*.so*' | wc -l) libraries"

# Only the series' own kselftests go into the initramfs (none run here):
# mm's would only cost build time.
t=$SECONDS
KSFT_TARGETS=${KSFT_TARGETS:-process_vm_mmap} VM_TIMEOUT=${VM_TIMEOUT:-600} \
	"$ROOT/build/guest-run.sh" "$OUT" "$DEST" "$extra" criu-e2e
log "guest-run.sh (initramfs + VM): $((SECONDS - t)) s; VM $(cat "$DEST/seconds") s"
grep -q '^CRIU-E2E PASS' "$DEST/output.txt" || { log "no PASS line"; exit 1; }
log "passed (console: $DEST/console.log, output: $DEST/output.txt)"
