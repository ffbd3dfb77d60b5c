#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The pvmmap_smoke kselftest collection (see build/smoke.sh), in KTAP: the
# benchmark and the page-server hand-off at smoke sizes, the userspace
# crate's tests and its tool, and the man page's example program, all
# against the real system call.
cd "$(dirname "$0")" || exit 1
n=0
fail=0
result() { # result NAME RC
	n=$((n + 1))
	if [ "$2" -eq 0 ]; then
		echo "ok $n $1"
	else
		echo "not ok $n $1 # exit=$2"
		fail=1
	fi
}
# build/crate.sh builds nothing where rustup has no standard library for
# the guest's architecture: the crate's results are skipped then.
skip_unbuilt() { # skip_unbuilt NAME
	n=$((n + 1))
	echo "ok $n $1 # SKIP not built: no Rust standard library for this architecture"
}
run() { # run NAME COMMAND...: its output as KTAP diagnostics
	name=$1
	shift
	case "$1" in
	./crate-* | ./pvmmap)
		[ -x "$1" ] || { skip_unbuilt "$name"; return; } ;;
	esac
	"$@" >/tmp/smoke.out 2>&1
	rc=$?
	sed 's/^/# /' /tmp/smoke.out
	result "$name" "$rc"
}

echo "TAP version 13"
echo "1..7"
run "pvmmap_bench --smoke" ./pvmmap_bench --smoke --csv /tmp/smoke-bench.csv
# The MOVE row must have run: "unavailable" means no system call.
run "handoff, 16 MiB" sh -c \
	'./handoff -m 16 --csv /tmp/smoke-handoff.csv && ! grep -q unavailable /tmp/smoke-handoff.csv'
run "crate unit tests" ./crate-unit
run "crate syscall tests" ./crate-syscall
run "pvmmap --help" ./pvmmap --help
# The man page's EXAMPLES program prints what the page says it prints.
run "process_vm_mmap(2) EXAMPLES program" sh -c \
	'./process_vm_mmap-example >/tmp/smoke-example.out; rc=$?; cat /tmp/smoke-example.out; [ $rc -eq 0 ] && cmp /tmp/smoke-example.out process_vm_mmap-example.out'

# pvmmap dump of a sleeping process's stack equals what /proc/PID/mem reads.
if [ ! -x ./pvmmap ]; then
	skip_unbuilt "pvmmap dump of another process's stack"
	exit $fail
fi
sleep 1000 &
pid=$!
sleep 1
range=$(grep '\[stack\]' /proc/$pid/maps | cut -d' ' -f1)
start=$((0x${range%-*}))
end=$((0x${range#*-}))
rc=1
if ./pvmmap dump $pid $start $((end - start)) /tmp/smoke-clone &&
	dd if=/proc/$pid/mem of=/tmp/smoke-mem bs=4096 skip=$((start / 4096)) \
		count=$(((end - start) / 4096)) 2>/dev/null &&
	cmp /tmp/smoke-clone /tmp/smoke-mem; then
	rc=0
fi
kill $pid
result "pvmmap dump of another process's stack" $rc
exit $fail
