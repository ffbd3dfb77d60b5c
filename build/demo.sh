#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# build/demo.sh BUILD_DIR OUTDIR: the main job of `make run`.  Builds the
# page-server hand-off and the request table against the patched kernel's
# headers and runs them in the VM (build/guest-run.sh), which leaves
# handoff.csv and demo.csv in OUTDIR.  HANDOFF_ARGS are handed to
# demo/handoff.c (e.g. "-m 512"); VM_MEM sizes the VM.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:?usage: demo.sh BUILD_DIR OUTDIR}
DEST=${2:?}
extra=$(mktemp -d)
trap 'rm -rf "$extra"' EXIT

# shellcheck source=build/arch.sh
. "$ROOT/build/arch.sh"
arch_of "$OUT"
cflags=(-static -O2 -Wall -Wextra -Werror -isystem "$OUT/usr/include")
"${CROSS_COMPILE}gcc" "${cflags[@]}" -o "$extra/pvmmap_demo" "$ROOT/demo/pvmmap_demo.c"
"${CROSS_COMPILE}gcc" "${cflags[@]}" -o "$extra/handoff" "$ROOT/demo/handoff.c" -lpthread
install -m 0755 "$ROOT/demo/run.sh" "$extra/run.sh"
handoff=${HANDOFF_ARGS:-}
CMDLINE_EXTRA="pvmmap.handoff=${handoff// /@}" \
	"$ROOT/build/guest-run.sh" "$OUT" "$DEST" "$extra" run
echo "(CSV: $DEST/handoff.csv, $DEST/demo.csv; console: $DEST/console.log)"
