#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Style checks on what the series adds or changes:
#  - rustfmt with the kernel's .rustfmt.toml on every Rust file the series
#    touches (what `make rustfmtcheck` does, limited to our files), and on
#    the host crates;
#  - scripts/checkpatch.pl --strict on every exported patch (C, Rust,
#    Kconfig, commit messages).
# Clippy runs in the kernel build itself (CLIPPY=1, see build/kernel.sh).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${CACHE:-$HOME/.cache/pvmmap}
PRISTINE=$("$ROOT/build/fetch-kernel.sh")
KVER=$(basename "$PRISTINE" | sed 's/^linux-//')
SRC=$CACHE/src-$KVER
fail=0

# Bring the source tree up to date (cheap when nothing changed).
(
	exec 9>"$CACHE/src-$KVER.lock"
	flock 9
	python3 "$ROOT/build/series.py" apply "$PRISTINE" "$SRC" >&2
)

mapfile -t rs < <(cd "$SRC" && grep '\.rs$' .series-files)
if ! (cd "$SRC" && rustfmt --check --edition 2021 --config-path .rustfmt.toml "${rs[@]}"); then
	echo "lint: rustfmt would change the files above" >&2
	fail=1
fi
if ! (cd "$ROOT" && cargo fmt --all --check); then
	echo "lint: cargo fmt would change the host crates" >&2
	fail=1
fi

# The exported series: the one `make series` wrote (SERIES_DIR), or a fresh
# export when run alone.
tmp=${SERIES_DIR:-}
if [ -z "$tmp" ]; then
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	python3 "$ROOT/build/series.py" export "$PRISTINE" "$tmp" >/dev/null
fi
for p in "$tmp"/0*.patch; do
	case "$p" in */0000-cover-letter.patch) continue ;; esac
	# A selftest must compare errno with ENOSYS to skip on kernels
	# without the syscall; kernel code may not (checkpatch's ENOSYS rule),
	# so the rule is off only for patches that change nothing else.
	ignore=()
	if ! grep '^+++ b/' "$p" | grep -qv -e '^+++ b/tools/testing/' \
		-e '^+++ b/MAINTAINERS'; then
		ignore=(--ignore ENOSYS)
	fi
	if ! out=$("$SRC/scripts/checkpatch.pl" --strict --no-tree --quiet \
		"${ignore[@]}" "$p" 2>&1); then
		echo "lint: checkpatch on $(basename "$p"):" >&2
		echo "$out" >&2
		fail=1
	elif [ -n "$out" ]; then
		echo "lint: checkpatch on $(basename "$p"):" >&2
		echo "$out" >&2
		fail=1
	fi
done
[ "$fail" -eq 0 ] && echo "lint: rustfmt and checkpatch --strict clean"
exit "$fail"
