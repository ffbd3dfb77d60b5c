#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# /extra/run.sh of make criu-zdtm (build/criu.sh zdtm), in the VM: CRIU's
# zdtm memory tests (tools/criu/zdtm-build.sh put them in /extra/zdtm)
# through the process_vm_mmap() hand-off, without zdtm.py (no python
# here).  Per test, what zdtm.py's host flavour ("h") does, twice:
#
#   stock    ./NAME --pidfile=NAME.pid --outfile=NAME.out [...] (as zdtm's
#            Makefile starts it, as uid 18943 unless the .desc says suid);
#            criu dump -t PID -D IMG; criu restore -D IMG -d; SIGTERM;
#            NAME.out must end in PASS
#   handoff  the same, with criu page-server --pvmmap-handoff on loopback,
#            criu dump --page-server, criu restore --pvmmap-handoff -d
#            (restore.log: "pvmmap: N pages moved, M pages read")
#
# One line per test and way; the last line is "CRIU-ZDTM PASS" when every
# test that passed the stock way passed the hand-off way too, at least one
# did, the hand-off moved at least one page and no test was left out for
# want of time; else "CRIU-ZDTM FAIL ...".
#
# Under TCG a test takes 5-10 s both ways, maps05 (4096 small VMAs) about
# a minute, maps04 (512 MiB) two, maps06 (30720 VMAs) eight or more:
# maps05 and maps04 run last, maps06 only when asked for (CMDLINE_EXTRA=
# pvmmap.zdtm_tests=maps06 VM_TIMEOUT=1500).  Kernel command line
# (build/criu.sh passes CMDLINE_EXTRA on):
#   pvmmap.zdtm_tests=T1,T2  run these tests only, in this order
#   pvmmap.zdtm_budget=S     start no test after S s of uptime (400; the
#                            VM has VM_TIMEOUT, 600 s, boot included)
# shellcheck source=tools/criu/guest-env.sh
. /extra/guest-env.sh
T=$X/zdtm
R=/tmp/zdtm
PORT=27100
LAST="maps05 maps04"
SLOW="maps06"
BUDGET=400
only=""
# shellcheck disable=SC2013 # its words
for arg in $(cat /proc/cmdline); do
	case "$arg" in
	pvmmap.zdtm_tests=*) only=$(echo "${arg#*=}" | tr , ' ') ;;
	pvmmap.zdtm_budget=*) BUDGET=${arg#*=} ;;
	esac
done
t0=$(uptime_s)
mkdir -p "$R"

# say TEXT: a line of the report, with the uptime.
say() { echo "zdtm: [$(uptime_s | cut -d. -f1) s] $*"; }
# indent FILE [N]: the last N (40) lines of FILE, indented.
indent() { [ -f "$1" ] && tail -n "${2:-40}" "$1" | sed 's/^/      /'; }
elapsed() { echo "$t0 $(uptime_s)" | awk '{ printf "%d", $2 - $1 }'; }
# holders PID: the processes that keep the number PID in use: PID itself
# (a zombie too) and the members of its process group and session (a test
# calls setsid()).  The restore needs the number free.
holders() {
	# Fields after the comm's ")": state ppid pgrp session.
	awk -v p="$1" 'FNR == 1 { l = $0; sub(/.*\) /, "", l); split(l, f, " ")
		if (FILENAME == "/proc/" p "/stat" || f[3] == p || f[4] == p) {
			n = FILENAME; gsub(/[^0-9]/, "", n)
			printf "%s(%s pgrp %s sid %s) ", n, f[1], f[3], f[4] } }' \
		/proc/[0-9]*/stat 2>/dev/null
}
# gone PID SECONDS: wait until nothing holds PID (zombie reaped by init:
# the tests and the page server are daemons), as zdtm.py's kill(pid, 0)
# loop.
gone() {
	i=0
	while [ -n "$(holders "$1")" ] && [ $i -lt $(($2 * 10)) ]; do sleep 0.1; i=$((i + 1)); done
	[ -z "$(holders "$1")" ]
}
# maps_of PID: the task's mappings as zdtm.py's get_visible_state() sees
# them: start-end and protection, adjacent ranges of the same protection
# merged.  (zdtm.py compares them only in its namespace flavours: here
# they are a note, not a verdict.)
maps_of() {
	# (Strings: busybox awk takes "167e9000" for a number.)
	awk '{ split($1, a, "-"); b = a[1] ""; f = a[2] ""
		if (n && b == e && $2 == p) { e = f; next }
		if (n++) print s "-" e, p
		s = b; e = f; p = $2 }
		END { if (n) print s "-" e, p }' "/proc/$1/maps"
}
# img_kib DIR: KiB of pages-*.img in DIR.
img_kib() {
	du -ck "$1"/pages-*.img 2>/dev/null | tail -n 1 | cut -f1
}
# log_errors DIR: the errors of the criu logs in DIR, indented.
log_errors() {
	show_logs "$1"/*.log | sed 's/^/      /'
}

# load NAME: the test's NAME.zt (zdtm-build.sh) over the defaults.
load() {
	zt_args='' zt_suid=0 zt_flavor='' zt_feature='' zt_flags='' zt_opts=''
	zt_dopts='' zt_ropts='' zt_timeout=30 zt_skip=''
	# shellcheck disable=SC1090 # written by zdtm-build.sh
	. "$T/$1.zt"
}

# skip_reason NAME: why zdtm.py would not run NAME in the h flavour here
# (nothing if it would).
skip_reason() {
	if [ -n "$zt_skip" ]; then
		echo "$zt_skip"
		return
	fi
	if [ ! -x "$T/$1" ]; then
		echo "no binary in $T"
		return
	fi
	if [ -n "$zt_flavor" ]; then
		case " $zt_flavor " in
		*" h "*) ;;
		*) echo "flavours '$zt_flavor' do not include h (host)"; return ;;
		esac
	fi
	for f in $zt_flags; do
		case $f in
		crfail | reqrst | samens | excl)
			echo "flag $f: what zdtm.py does for it is not emulated"
			return
			;;
		esac
	done
	for f in $zt_feature; do
		"$CRIU" check --no-default-config --feature "$f" >/dev/null 2>&1 ||
			{ echo "criu check --feature $f: not supported"; return; }
	done
	if [ -f "$T/$1.checkskip" ] && ! sh "$T/$1.checkskip" >/dev/null 2>&1; then
		echo "$1.checkskip says skip"
	fi
}

# run_way NAME WAY: one test, one way (stock or handoff).  Prints the
# result line; sets res (PASS, FAIL, SKIP) and moved.
run_way() {
	name=$1 way=$2
	dir=$R/$way/$name
	img=$dir/img
	res=FAIL moved=0
	note=""
	echo "zdtm: $name $way" >/dev/kmsg
	rm -rf "$dir"
	mkdir -p "$img"
	cp "$T/$name" "$dir/"
	# zdtm.py makes the test's directory writable for the test's uid.
	chmod 0777 "$dir"

	# --- start, as zdtm's Makefile does (NAME.pid rule) --------------------
	rm -f "$dir/$name.pid"
	(
		cd "$dir" || exit 1
		export TMPDIR=/tmp
		if [ "$zt_suid" != 1 ]; then
			export ZDTM_UID=18943 ZDTM_GID=58467 ZDTM_GROUPS="27495 48244"
		fi
		# shellcheck disable=SC2086 # the arguments of the Makefile's rule
		exec ./"$name" $zt_args
	) >"$dir/start.log" 2>&1 &
	spid=$!
	i=0
	while [ ! -s "$dir/$name.pid" ] && kill -0 $spid 2>/dev/null &&
		[ $i -lt $((zt_timeout * 10)) ]; do
		sleep 0.1
		i=$((i + 1))
	done
	if [ ! -s "$dir/$name.pid" ]; then
		kill -KILL $spid 2>/dev/null
		wait $spid 2>/dev/null
		res=SKIP
		say "$name $way SKIP (does not start here: no pidfile in ${zt_timeout} s)"
		indent "$dir/start.log" 10
		indent "$dir/$name.out.inprogress" 10
		rm -rf "$dir"
		return
	fi
	wait $spid
	pid=$(cat "$dir/$name.pid")
	maps_of "$pid" >"$dir/maps.before"

	# --- dump ---------------------------------------------------------------
	ps_opts=""
	if [ "$way" = handoff ]; then
		PORT=$((PORT + 1))
		if ! "$CRIU" page-server --no-default-config -D "$img" --address 127.0.0.1 \
			--port $PORT --pvmmap-handoff --daemon --pidfile "$img/ps.pid" \
			-v4 -o page-server.log; then
			say "$name $way FAIL (criu page-server did not start)"
			log_errors "$img"
			kill -KILL -"$pid" 2>/dev/null
			return
		fi
		ps_opts="--page-server --address 127.0.0.1 --port $PORT"
	fi
	t=$(uptime_s)
	# shellcheck disable=SC2086 # option lists
	if ! "$CRIU" dump --no-default-config -v4 -o dump.log -D "$img" -t "$pid" \
		--pidfile "$dir/$name.pid" --timeout 10 $zt_opts $zt_dopts $ps_opts; then
		why=""
		grep -q "Can't get bound dev" "$img/dump.log" &&
			why=": a socket, which criu cannot dump on a kernel without CONFIG_NETDEVICES (SO_BINDTODEVICE)"
		say "$name $way FAIL (criu dump failed$why)"
		log_errors "$img"
		kill -KILL -"$pid" 2>/dev/null
		[ -f "$img/ps.pid" ] && kill -KILL "$(cat "$img/ps.pid")" 2>/dev/null
		return
	fi
	td=$(since "$t")
	# zdtm.py: the dumped task must go, and its pidfile with it.
	if ! gone "$pid" 30; then
		say "$name $way FAIL (pid $pid still there after the dump)"
		kill -KILL -"$pid" 2>/dev/null
		[ -f "$img/ps.pid" ] && kill -KILL "$(cat "$img/ps.pid")" 2>/dev/null
		return
	fi
	rm -f "$dir/$name.pid"
	kib=$(img_kib "$img")
	ps_pid=""
	if [ "$way" = handoff ]; then
		ps_pid=$(cat "$img/ps.pid")
		[ -d "/proc/$ps_pid" ] || note="$note; the page server is gone after the dump"
	fi

	# --- restore ------------------------------------------------------------
	r_opts=""
	[ "$way" = handoff ] && r_opts="--pvmmap-handoff"
	t=$(uptime_s)
	for try in 1 2; do
		# shellcheck disable=SC2086 # option lists
		"$CRIU" restore --no-default-config -v4 -o restore.log -D "$img" \
			--pidfile "$dir/$name.pid" --restore-detached --display-stats \
			$zt_opts $zt_ropts $r_opts >"$img/restore.out" 2>&1 && break
		# The pid still taken although its task is gone (seen with
		# maps06, either way: clone3() set_tid EEXIST while no process
		# has that pid, process group or session): say so, try again
		# once.  Nothing was restored, nor taken from the server.
		if [ $try = 2 ] || ! grep -q "Can't fork for $pid: File exists" "$img/restore.log"; then
			try=fail
			break
		fi
		note="$note; restore retried: pid $pid was taken (holders: $(holders "$pid"))"
		cp "$img/restore.log" "$img/restore-1.log"
		sleep 1
	done
	if [ "$try" = fail ]; then
		say "$name $way FAIL (criu restore failed$note)"
		log_errors "$img"
		[ -n "$ps_pid" ] && kill -KILL "$ps_pid" 2>/dev/null
		return
	fi
	tr_=$(since "$t")
	# patches/0005: the tasks' time in putting their memory back.
	mem=$(sed -n 's/.*Memory restore time: \([0-9]*\) us.*/\1/p' "$img/restore.out" |
		awk '{ printf ", memory %.2f s", $1 / 1e6 }')
	rpid=$(cat "$dir/$name.pid" 2>/dev/null)
	[ "$rpid" = "$pid" ] || note="$note; restored pid '$rpid', not $pid"
	if [ -n "$ps_pid" ]; then
		gone "$ps_pid" 10 || {
			note="$note; the page server did not exit after the restore"
			kill -KILL "$ps_pid" 2>/dev/null
		}
	fi
	maps_of "$pid" >"$dir/maps.after" 2>/dev/null
	if cmp -s "$dir/maps.before" "$dir/maps.after"; then
		maps="maps same"
	else
		maps="maps differ"
	fi

	# --- stop and check, as zdtm.py's stop() --------------------------------
	kill -TERM "$pid" 2>/dev/null
	if ! gone "$pid" "$zt_timeout"; then
		note="$note; pid $pid did not exit on SIGTERM"
		kill -KILL -"$pid" 2>/dev/null
	fi
	out=$dir/$name.out
	if [ -f "$out" ] && tail -n 1 "$out" |
		awk '{ for (i = 1; i <= NF; i++) if ($i == "PASS") f = 1 } END { exit !f }'; then
		res=PASS
	fi
	if [ "$way" = handoff ]; then
		moved=$(pvmmap_pages "$img" moved)
		calls=$(grep -c 'pvmmap: Moved ' "$img/restore.log")
		pages="moved $moved read $(pvmmap_pages "$img" read) in $calls call(s), pages-*.img ${kib:-0} KiB"
	else
		pages="pages-*.img ${kib:-0} KiB"
	fi
	say "$name $way $res ($pages; dump $td, restore $tr_$mem; $maps$note)"
	if [ "$res" != PASS ]; then
		echo "      --- $name.out (or .out.inprogress)"
		indent "$out" 15 || indent "$out.inprogress" 15
		log_errors "$img"
	fi
	if [ "$maps" = "maps differ" ]; then
		diff "$dir/maps.before" "$dir/maps.after" | grep '^[-+][0-9a-f]' | head -n 12 | sed 's/^/      /'
	fi
	rm -rf "$dir"
}

echo "kernel $(uname -r), $(awk '$1 == "MemTotal:" { print $2 / 1024 " MiB" }' /proc/meminfo)," \
	"swap $(tail -n +2 /proc/swaps | awk '{ print $1, $3 "k" }'), overcommit $(cat /proc/sys/vm/overcommit_memory)," \
	"nr_hugepages $(cat /proc/sys/vm/nr_hugepages), THP $(cat /sys/kernel/mm/transparent_hugepage/enabled)"
"$CRIU" --version | tr '\n' ' '
echo
if ! "$CRIU" check --no-default-config --feature process_vm_mmap; then
	echo "CRIU-ZDTM FAIL: no process_vm_mmap (criu check --feature process_vm_mmap)"
	exit 1
fi

# The order: what zdtm-build.sh built, LAST at the end; SLOW only when
# pvmmap.zdtm_tests names it.
all=""
for f in "$T"/*.zt; do all="$all $(basename "$f" .zt)"; done
if [ -n "$only" ]; then
	tests=$only
else
	tests=""
	for name in $all; do
		case " $LAST $SLOW " in *" $name "*) continue ;; esac
		tests="$tests $name"
	done
	for name in $LAST; do
		case " $all " in *" $name "*) tests="$tests $name" ;; esac
	done
	for name in $SLOW; do
		case " $all " in
		*" $name "*)
			why="slow under TCG: 8 minutes or more; pvmmap.zdtm_tests=$name runs it"
			say "$name stock SKIP ($why)"
			say "$name handoff SKIP ($why)"
			;;
		esac
	done
fi
echo "tests:$tests (budget: none started after $BUDGET s of uptime; uptime now $(uptime_s) s)"
total_moved=0
nrun=0
failed=""
notrun=""
stock_only_fail=""
for name in $tests; do
	if [ ! -f "$T/$name.zt" ]; then
		say "$name stock SKIP (not in $T)"
		continue
	fi
	load "$name"
	why=$(skip_reason "$name")
	if [ -n "$why" ]; then
		say "$name stock SKIP ($why)"
		say "$name handoff SKIP ($why)"
		continue
	fi
	if [ "$(uptime_s | cut -d. -f1)" -ge "$BUDGET" ]; then
		say "$name stock SKIP (time budget: uptime over $BUDGET s)"
		say "$name handoff SKIP (time budget)"
		notrun="$notrun $name"
		continue
	fi
	# maps03 maps 10 GiB: more than this VM's RAM and swap, which the
	# default overcommit heuristic refuses.
	oc=$(cat /proc/sys/vm/overcommit_memory)
	case $name in
	maps03)
		echo 1 >/proc/sys/vm/overcommit_memory
		say "$name: vm.overcommit_memory=1 for this test (a 10 GiB VMA in a small VM)"
		;;
	esac
	[ -n "$zt_flags" ] && say "$name: .desc flags: $zt_flags"
	t_test=$(uptime_s)
	run_way "$name" stock
	stock=$res
	if [ "$stock" = SKIP ]; then
		say "$name handoff SKIP (the test does not start here)"
		echo "$oc" >/proc/sys/vm/overcommit_memory
		continue
	fi
	run_way "$name" handoff
	echo "$oc" >/proc/sys/vm/overcommit_memory
	total_moved=$((total_moved + moved))
	say "$name: both ways in $(since "$t_test")"
	if [ "$stock" = PASS ]; then
		nrun=$((nrun + 1))
		[ "$res" = PASS ] || failed="$failed $name"
	else
		stock_only_fail="$stock_only_fail $name(stock $stock, handoff $res)"
	fi
done

echo "zdtm: $nrun test(s) passed the stock way; hand-off: $total_moved pages moved in all;" \
	"tests in $(elapsed) s"
[ -n "$stock_only_fail" ] && echo "zdtm: failed the stock way (not counted):$stock_only_fail"
if [ -n "$failed" ] || [ -n "$notrun" ] || [ "$nrun" -eq 0 ] || [ "$total_moved" -eq 0 ]; then
	why=""
	[ -n "$failed" ] && why="$why; passed stock but not hand-off:$failed"
	[ -n "$notrun" ] && why="$why; not run (time budget):$notrun"
	[ "$nrun" -eq 0 ] && why="$why; no test passed the stock way"
	[ "$total_moved" -eq 0 ] && why="$why; the hand-off moved no page"
	echo "CRIU-ZDTM FAIL:${why#;}"
	exit 1
fi
echo "CRIU-ZDTM PASS"
