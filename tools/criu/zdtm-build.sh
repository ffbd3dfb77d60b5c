#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# tools/criu/zdtm-build.sh DESTDIR: build CRIU's zdtm memory tests for the
# VM (build/criu.sh zdtm; tools/criu/zdtm.sh runs them there).
#
# The tests are those of test/zdtm/static in the patched CRIU tree that
# tools/criu/build.sh made (it prints the criu binary in that tree) whose
# names match ZDTM_TESTS (default: maps* cow* mprotect* thp*).  zdtm's
# lib and the tests are built with zdtm's own Makefiles, statically, in a
# copy of test/zdtm under $CACHE/criu-zdtm/ (building in the CRIU tree
# would leave objects and a changed .gitignore there); the copy is kept and
# reused while the CRIU tree, ZDTM_TESTS and this script stay the same.
#
# DESTDIR receives, per test NAME that builds: the binary NAME and NAME.zt,
# shell assignments that zdtm.sh sources in the guest:
#   zt_args      the arguments zdtm's Makefile starts the test with
#                (`make -n NAME.pid`: --pidfile, --outfile, --filename...)
#   zt_suid      1 if the .desc has the suid flag (zdtm.py then runs the
#                test as root), else 0 (run as uid 18943, as zdtm.py does)
#   zt_flavor    the .desc's flavours (empty: all)
#   zt_feature   criu check --feature names the .desc requires
#   zt_flags     the .desc's other flags (noauto, nolazy, crfail...)
#   zt_opts      extra criu options of the .desc for dump and restore;
#   zt_dopts,    and for dump only, restore only
#   zt_ropts
#   zt_timeout   the .desc's timeout (zdtm.py's default: 30 s)
# and NAME.checkskip when the test has one.  A test that does not build
# gets only NAME.zt, with zt_skip saying why.
set -euo pipefail
# zdtm's Makefiles build for the host and read ARCH as CRIU's does: not
# the project's (see build.sh).
unset ARCH SUBARCH CROSS_COMPILE MAKEFLAGS MFLAGS MAKELEVEL

DEST=${1:?usage: zdtm-build.sh DESTDIR}
HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${CACHE:-$HOME/.cache/pvmmap}
ZDTM_TESTS=${ZDTM_TESTS:-maps* cow* mprotect* thp*}
JOBS=${JOBS:-2}
log() { printf 'zdtm-build: %s\n' "$*" >&2; }
# sq STRING: STRING quoted for sh (the guest's busybox ash).
sq() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"; }

criu=$("$HERE/build.sh")
tree=${criu%/criu/criu}
src=$tree/test/zdtm
[ -d "$src/static" ] || { log "no $src/static (criu at $criu)"; exit 1; }

# --- The copy of test/zdtm, keyed by the CRIU tree, the selection and
# this script ------------------------------------------------------------------
key=$( (basename "$tree"; echo "$ZDTM_TESTS"; cat "$0") | sha256sum | cut -c1-12)
top=$CACHE/criu-zdtm
work=$top/$key
mkdir -p "$top"
exec 9>"$top/.lock"
flock 9

if [ ! -f "$work/.built" ]; then
	log "building zdtm's lib and tests in $work"
	rm -rf "$work" "$work.tmp"
	mkdir -p "$work.tmp"
	cp -a "$src/Makefile" "$src/Makefile.inc" "$src/lib" "$src/static" "$work.tmp/"
	w=$work.tmp
	# The tests: the .c files of static/ that match (those that the
	# static Makefile starts with its NAME.pid rule: see below).
	names=()
	read -r -a pats <<<"$ZDTM_TESTS"
	for c in "$w/static"/*.c; do
		c=$(basename "$c" .c)
		for p in "${pats[@]}"; do
			# shellcheck disable=SC2254 # p is a glob
			case $c in $p) names+=("$c"); break ;; esac
		done
	done
	[ ${#names[@]} -gt 0 ] || { log "no test matches '$ZDTM_TESTS'"; exit 1; }
	start=$SECONDS
	# LDFLAGS from the environment: the Makefiles append to it.
	LDFLAGS=-static make -s -C "$w/lib" -j"$JOBS" libzdtmtst.a >"$w/lib.log" 2>&1 ||
		{ cat "$w/lib.log" >&2; log "zdtm's lib does not build"; exit 1; }
	mkdir -p "$w/out" "$w/logs"
	for t in "${names[@]}"; do
		zt=$w/out/$t.zt
		# The start command of zdtm's Makefile (./NAME --pidfile=...),
		# after the commands that would build NAME.
		cmd=$(make -n -s -C "$w/static" "$t.pid" 2>/dev/null | tail -n 1) || true
		case "$cmd" in
		"./$t "*) ;;
		*) log "$t: not a test of the static Makefile, left out"; continue ;;
		esac
		if ! LDFLAGS=-static make -s -C "$w/static" "$t" >"$w/logs/$t.log" 2>&1; then
			why=$(grep -m1 -E 'error|undefined' "$w/logs/$t.log" || tail -n 1 "$w/logs/$t.log")
			log "$t does not build: $why"
			echo "zt_skip=$(sq "does not build on the host: $why")" >"$zt"
			continue
		fi
		if command -v file >/dev/null &&
			! file -b "$w/static/$t" | grep -q 'statically linked'; then
			log "$t is not static"
		fi
		# The .desc is a Python literal; zdtm.py evaluates it too.
		desc=$w/static/$t.desc
		[ -f "$desc" ] || desc=/dev/null
		python3 - "$desc" "${cmd#"./$t "}" >"$zt" <<-'EOF'
			import ast, shlex, sys
			text = open(sys.argv[1]).read()
			lines = [l for l in text.splitlines() if not l.lstrip().startswith('#')]
			d = ast.literal_eval('\n'.join(lines)) if ''.join(lines).strip() else {}
			flags = d.get('flags', '').split()
			out = {
			    'zt_args': sys.argv[2],
			    'zt_suid': '1' if 'suid' in flags else '0',
			    'zt_flavor': d.get('flavor', ''),
			    'zt_feature': d.get('feature', ''),
			    'zt_flags': ' '.join(f for f in flags if f != 'suid'),
			    'zt_opts': d.get('opts', ''),
			    'zt_dopts': d.get('dopts', ''),
			    'zt_ropts': d.get('ropts', ''),
			    'zt_timeout': str(d.get('timeout', '30')),
			    'zt_skip': '',
			}
			for k, v in out.items():
			    print('%s=%s' % (k, shlex.quote(v)))
		EOF
		# Stripped: 1 MiB less each in the initramfs.
		install -s -m 0755 "$w/static/$t" "$w/out/$t"
		if [ -f "$w/static/$t.checkskip" ]; then
			install -m 0755 "$w/static/$t.checkskip" "$w/out/"
		fi
	done
	log "built $(find "$w/out" -name '*.zt' | wc -l) test(s) in $((SECONDS - start)) s"
	touch "$w/.built"
	mv "$w" "$work"
	# Copies for other trees or versions of this script only take room.
	for old in "$top"/*; do
		[ "$old" = "$work" ] || [ "$old" = "$top/.lock" ] || rm -rf "$old"
	done
fi

mkdir -p "$DEST"
cp -a "$work/out/." "$DEST/"
list=""
for f in "$DEST"/*.zt; do list="$list $(basename "$f" .zt)"; done
log "in $DEST:$list"
