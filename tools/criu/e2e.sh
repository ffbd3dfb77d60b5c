#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# /extra/run.sh of make criu-e2e (build/criu.sh e2e), in the VM: the
# process_vm_mmap() hand-off of CRIU end to end.
#
#   criu page-server --pvmmap-handoff  <-  criu dump --page-server (loopback)
#   (the server's pages to swap)
#   criu restore --pvmmap-handoff -d   (moves them: process_vm_mmap MOVE)
#   the restored workload checks every byte and writes again
#
# Exits non-zero on any failed step, a bad verdict, or no page moved.
. /extra/guest-env.sh
W=/tmp/criu-e2e
IMG=$W/img
PORT=27027

fail() {
	echo "CRIU-E2E FAIL: $*"
	show_logs "$IMG"/*.log
	exit 1
}

echo "kernel $(uname -r), $(grep -c . /proc/swaps) swap line(s): $(tail -n +2 /proc/swaps | awk '{ print $1, $3 "k" }')"

echo "== criu --version"
"$CRIU" --version || fail "criu does not run (libraries?)"
echo "== criu check (its complaints, if any)"
"$CRIU" check >$W.check 2>&1
rc=$?
sed 's/^/  /' $W.check
echo "  (criu check exit $rc)"
echo "== criu check --feature process_vm_mmap"
"$CRIU" check --feature process_vm_mmap 2>&1 | sed 's/^/  /'

mkdir -p "$IMG"

# --- page server ------------------------------------------------------------
echo "== criu page-server --pvmmap-handoff"
"$CRIU" page-server -D "$IMG" --address 127.0.0.1 --port $PORT --pvmmap-handoff \
	--daemon --pidfile "$W/ps.pid" -v4 -o page-server.log || fail "page-server did not start"
ps_pid=$(cat "$W/ps.pid")
echo "page server pid $ps_pid"

# --- workload and dump ------------------------------------------------------
echo "== workload"
"$X/workload" "$W" >$W.wl || fail "workload did not start"
cat $W.wl
pid=$(sed -n 's/^workload pid \([0-9]*\) ready.*/\1/p' $W.wl)
[ -n "$pid" ] && [ -d /proc/$pid ] || fail "no workload process"
echo "workload pid $pid: $(grep -E 'VmRSS|VmSwap' /proc/$pid/status | tr -s ' \t' ' ' | tr '\n' ' ')"

echo "== criu dump -t $pid --page-server"
t=$(uptime_s)
"$CRIU" dump -t "$pid" -D "$IMG" --page-server --address 127.0.0.1 --port $PORT \
	-v4 -o dump.log || fail "criu dump failed"
echo "dump took $(since "$t")"
# The task was killed; its zombie is reaped by init.
wait_gone "$pid" 50 || fail "the workload (pid $pid) is still there after the dump"
echo "workload pid $pid is gone"
kill -0 "$ps_pid" 2>/dev/null || fail "the page server exited after the dump"
grep -h 'pvmmap\|Hand-off' "$IMG/page-server.log" | sed 's/^/  /'
ls "$IMG" | tr '\n' ' '; echo
# Shared memory still goes to images (pagemap-shmem-*, its pages-*.img);
# the tasks' own pages must not: at most the 4 MiB shared region here.
img_kb=$(du -ck "$IMG"/pages-*.img 2>/dev/null | tail -n 1 | cut -f1)
echo "pages-*.img: ${img_kb:-0} KiB (the shared region)"
[ "${img_kb:-0}" -le 4200 ] || fail "the page server wrote the tasks' pages to images: no hand-off"

# --- the server's pages to swap ---------------------------------------------
echo "== page out the page server's arena (process_madvise MADV_PAGEOUT)"
"$X/workload" pageout "$ps_pid" | sed 's/^/  /'

# --- restore ----------------------------------------------------------------
in0=$(pswpin)
echo "== criu restore --pvmmap-handoff -d (pswpin $in0)"
t=$(uptime_s)
"$CRIU" restore -D "$IMG" --pvmmap-handoff -d -v4 -o restore.log || fail "criu restore failed"
in1=$(pswpin)
echo "restore took $(since "$t"); pswpin $in0 -> $in1 (+$((in1 - in0)) during the restore)"
[ -d /proc/$pid ] || fail "no restored task with pid $pid"
echo "restored pid $pid: $(grep -E 'VmRSS|VmSwap' /proc/$pid/status | tr -s ' \t' ' ' | tr '\n' ' ')"
echo "restored pid $pid's mappings:"
sed 's/^/  /' /proc/$pid/maps
grep -h 'pvmmap' "$IMG/restore.log" | grep -v 'Moved ' | sed 's/^/  /'
echo "  ($(grep -c 'pvmmap: Moved ' "$IMG/restore.log") 'Moved' line(s) at -v4; first ones:)"
grep -h 'pvmmap: Moved ' "$IMG/restore.log" | head -n 8 | sed 's/^/    /'
i=0
while kill -0 "$ps_pid" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
kill -0 "$ps_pid" 2>/dev/null && echo "warning: the page server (pid $ps_pid) is still running"
grep -h 'Hand-off .* over' "$IMG/page-server.log" | sed 's/^/  /'

# --- verify -----------------------------------------------------------------
echo "== ask the restored workload to verify (SIGUSR1)"
kill -USR1 "$pid" || fail "cannot signal pid $pid"
wait_file "$W/verdict" 600 || fail "no verdict from pid $pid"
in2=$(pswpin)
echo "VERDICT: $(cat "$W/verdict")"
echo "pswpin after the verification: $in2 (+$((in2 - in1)): the moved swap entries read by the task)"
kill "$pid" 2>/dev/null

moved=$(pvmmap_pages "$IMG" moved)
read_=$(pvmmap_pages "$IMG" read)
echo "CRIU-E2E: $moved pages moved, $read_ pages read; pswpin +$((in1 - in0)) during the restore"
grep -q '^OK ' "$W/verdict" || fail "the restored workload found bad pages"
[ "$moved" -gt 0 ] || fail "no page was moved"
echo "CRIU-E2E PASS"
