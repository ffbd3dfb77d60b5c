#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# build/smoke.sh BUILD_DIR EXTRA_DIR
#
# Build what `make check` runs besides the kselftests, as one more
# kselftest collection (pvmmap_smoke) under EXTRA_DIR/kselftest, which
# build/initramfs.sh merges into the guest's kselftests: the benchmark and
# the page-server hand-off at a smoke size (they must keep working; their
# numbers come from `make bench` and `make run`), and the userspace crate
# against the real system call (its unit and syscall tests, the pvmmap
# tool), and the man page's example program.  All static, against the
# patched kernel's uapi headers.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:?usage: smoke.sh BUILD_DIR EXTRA_DIR}
DEST=${2:?}
COLL=$DEST/kselftest/pvmmap_smoke
rm -rf "$DEST/kselftest"
mkdir -p "$COLL"

# shellcheck source=build/arch.sh
. "$ROOT/build/arch.sh"
arch_of "$OUT"
cflags=(-static -O2 -Wall -Wextra -Werror -isystem "$OUT/usr/include")
"${CROSS_COMPILE}gcc" "${cflags[@]}" -o "$COLL/pvmmap_bench" "$ROOT/bench/pvmmap_bench.c"
"${CROSS_COMPILE}gcc" "${cflags[@]}" -o "$COLL/handoff" "$ROOT/demo/handoff.c" -lpthread
RUST_TARGET=$RUST_TARGET CROSS_COMPILE=$CROSS_COMPILE "$ROOT/build/crate.sh" "$COLL"
# The program of the man page's EXAMPLES, and the output the page shows.
"$ROOT/build/man.sh" --example "$OUT" "$COLL"
install -m 0755 "$ROOT/build/guest-smoke.sh" "$COLL/smoke.sh"
# The runner's default of 45 s is for one test; this is seven.
echo "timeout=300" >"$COLL/settings"
echo "pvmmap_smoke:smoke.sh" >"$DEST/kselftest/list.txt"
