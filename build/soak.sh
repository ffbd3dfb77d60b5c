#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# build/soak.sh BUILD_DIR OUTDIR SECONDS
#
# Run the fuzzer (pvmmap_fuzz) alone in the VM on the kernel of BUILD_DIR
# for SECONDS, with seeds from the clock (pvmmap.mode=run: /extra/run.sh),
# then print its seeds and operation counts.  Fails on a failed seed, a
# kernel report on the console, or a guest that did not finish; after a
# crash, the console's last "pvmmap_fuzz: seed N step K" line says what
# to replay (pvmmap_fuzz --seed N --steps K+25).  FUZZ_ARGS replaces
# "--time SECONDS" (a replay in the VM: FUZZ_ARGS="--seed N --steps K").
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:?usage: soak.sh BUILD_DIR OUTDIR SECONDS}
DEST=${2:?}
SECS=${3:?}
EXTRA=$DEST/extra
rm -rf "$EXTRA"
mkdir -p "$EXTRA"
printf '%s\n' '#!/bin/sh' \
	"cd /kselftest/process_vm_mmap && exec ./pvmmap_fuzz ${FUZZ_ARGS:---time $SECS}" \
	>"$EXTRA/run.sh"
chmod 0755 "$EXTRA/run.sh"
# Only the fuzzer's collection is built; the guest gets time to tear down.
export KSFT_TARGETS=process_vm_mmap KSFT_RUN=process_vm_mmap:pvmmap_fuzz
export VM_TIMEOUT=${VM_TIMEOUT:-$((SECS + 600))}
rc=0
"$ROOT/build/guest-run.sh" "$OUT" "$DEST" "$EXTRA" soak >"$DEST/soak.txt" || rc=$?
echo "== soak: pvmmap_fuzz ${FUZZ_ARGS:---time $SECS}: $(cat "$DEST/seconds") s in the VM"
grep -E '^(not )?ok [0-9]+ |^# (seed [0-9]+|all seeds): |^# (FAIL|replay|after episodes)' \
	"$DEST/soak.txt" || true
if [ "$rc" -ne 0 ]; then
	tail -n 30 "$DEST/soak.txt"
	grep -a 'pvmmap_fuzz: seed' "$DEST/console.log" | tail -n 2 || true
	echo "soak: FAILED (logs in $DEST)" >&2
fi
exit "$rc"
