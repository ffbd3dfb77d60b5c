#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# build/crate.sh DEST: the userspace crate (tools/process_vm_mmap) built
# static for the guest: the pvmmap tool, and the test binaries that need no
# host path (the library's unit tests and its syscall tests) as
# crate-unit and crate-syscall.  RUST_TARGET (default x86_64) and
# CROSS_COMPILE (the linker's prefix) pick the guest's architecture; where
# rustup has no standard library for the target, nothing is built and the
# guest's smoke test reports the crate's tests as skipped.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DEST=${1:?usage: crate.sh DEST}
TARGET=${RUST_TARGET:-x86_64-unknown-linux-gnu}
export RUSTFLAGS='-C target-feature=+crt-static'
if ! rustup target list --installed 2>/dev/null | grep -qx "$TARGET"; then
	echo "crate: no Rust standard library for $TARGET (rustup target add $TARGET): not built" >&2
	exit 0
fi
linker_var=CARGO_TARGET_$(echo "$TARGET" | tr 'a-z-' 'A-Z_')_LINKER
export "$linker_var=${CROSS_COMPILE:-}gcc"
cd "$ROOT"
cargo build -q --release --target "$TARGET" -p process-vm-mmap --bin pvmmap
install -m 0755 "target/$TARGET/release/pvmmap" "$DEST/pvmmap"
# The test executables, by name, from cargo's JSON messages.
cargo test -q --release --target "$TARGET" -p process-vm-mmap --lib \
	--test syscall --no-run --message-format=json |
	python3 -c '
import json, shutil, sys
dest = sys.argv[1]
for line in sys.stdin:
    m = json.loads(line)
    exe = m.get("executable")
    if m.get("reason") != "compiler-artifact" or not exe or not m["profile"]["test"]:
        continue
    kind = m["target"]["kind"][0]
    name = "crate-unit" if kind == "lib" else "crate-" + m["target"]["name"]
    shutil.copy(exe, "%s/%s" % (dest, name))
' "$DEST"
