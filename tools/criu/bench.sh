#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# /extra/run.sh of make criu (build/criu.sh bench), in the VM: a workload
# of MIB MiB of private anonymous memory (tools/criu/workload: half 4 KiB
# pages, half THP, half of it paged out; kernel argument
# pvmmap.criu_mib=, default 512) dumped and restored three ways, each from
# a fresh workload:
#
#   stock-ps   criu page-server (images on tmpfs) <- criu dump --page-server;
#              criu restore reads the images
#   stock-img  criu dump to images on tmpfs; criu restore reads them
#   handoff    criu page-server --pvmmap-handoff <- criu dump --page-server;
#              criu restore --pvmmap-handoff moves the pages
#
# The workload runs in cgroup "src"; the page server (or, for stock-img,
# the dump that writes the images) and the restore run in a fresh cgroup
# "dst-WAY", whose memory.peak is the peak of what the destination holds:
# received pages plus the restored task (--manage-cgroups=ignore keeps the
# task there).  Before each restore, memory.reclaim pushes half of the data
# the destination holds to swap, as a loaded host would have done to a
# page server waiting for its restore.
#
# Prints one table and the CSV block "criu" (build/guest-run.sh keeps it as
# criu.csv).  Fails if a restored workload finds a bad byte, if the
# hand-off moved no page, or on a failed step; the targets are reported,
# not enforced.
. /extra/guest-env.sh
W=/tmp/criu-bench
PORT=27028
MIB=512
for arg in $(cat /proc/cmdline); do
	case "$arg" in
	pvmmap.criu_mib=*) MIB=${arg#pvmmap.criu_mib=} ;;
	esac
done
CG=/sys/fs/cgroup

fail() {
	echo "CRIU-BENCH FAIL: $*"
	show_logs "$W"/*/img/*.log
	exit 1
}

# in_cg CGROUP CMD...: CMD in cgroup CGROUP (its children stay there).
in_cg() {
	cg=$1
	shift
	sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$CG/$cg" "$@"
}
# The value of "KEY: N" in FILE (criu --display-stats), or 0.
stat_of() {
	sed -n "s/^$2: \([0-9]*\).*/\1/p" "$1" | head -n 1 | awk '{ print $1 + 0 }'
}
kib() { echo $(($(cat "$1") / 1024)); }

mkdir -p $W && mount -t tmpfs tmpfs $W || fail "tmpfs"
echo +memory >$CG/cgroup.subtree_control || fail "no memory controller"
mkdir -p $CG/src
echo "kernel $(uname -r); $(grep MemTotal /proc/meminfo | tr -s ' '); swap $(tail -n +2 /proc/swaps | awk '{ print $1, $3 "k" }')"
echo "workload: $MIB MiB private anonymous (half 4 KiB pages, half THP; half paged out)"
"$CRIU" check --feature process_vm_mmap >/dev/null 2>&1 || fail "criu: no process_vm_mmap"

# run_way WAY: one dump and restore; appends a CSV row to $W/rows.
run_way() {
	way=$1
	D=$W/$way
	IMG=$D/img
	mkdir -p "$IMG"
	mkdir "$CG/dst-$way" || fail "cgroup dst-$way"
	echo "== $way"
	in_cg src "$X/workload" "$D" "$MIB" >"$D/wl.out" || fail "$way: workload did not start"
	pid=$(sed -n 's/^workload pid \([0-9]*\) ready.*/\1/p' "$D/wl.out")
	[ -n "$pid" ] && [ -d "/proc/$pid" ] || fail "$way: no workload process"

	dumpopt="-t $pid -D $IMG --manage-cgroups=ignore --display-stats -v3 -o dump.log"
	case $way in
	stock-ps | handoff)
		psopt=
		[ "$way" = handoff ] && psopt=--pvmmap-handoff
		# shellcheck disable=SC2086
		in_cg "dst-$way" "$CRIU" page-server -D "$IMG" --address 127.0.0.1 --port $PORT \
			$psopt --daemon --pidfile "$D/ps.pid" -v3 -o page-server.log ||
			fail "$way: page-server did not start"
		# shellcheck disable=SC2086
		in_cg src "$CRIU" dump $dumpopt --page-server --address 127.0.0.1 --port $PORT \
			>"$D/dump.out" 2>&1 || fail "$way: criu dump failed"
		;;
	stock-img)
		# shellcheck disable=SC2086
		in_cg "dst-$way" "$CRIU" dump $dumpopt >"$D/dump.out" 2>&1 ||
			fail "$way: criu dump failed"
		;;
	esac
	wait_gone "$pid" 100 || fail "$way: the workload is still there after the dump"
	written=$(stat_of "$D/dump.out" "Memory pages written")
	data_kib=$((written * 4))

	# Half of what the destination holds to swap.
	echo "$((data_kib / 2))K" >"$CG/dst-$way/memory.reclaim" 2>/dev/null
	swap_kib=$(kib "$CG/dst-$way/memory.swap.current")
	held_kib=$(kib "$CG/dst-$way/memory.current")
	# What of the hand-off server's arena is on swap: the moved pages of
	# it must stay there.
	server_swap=0
	[ "$way" = handoff ] && server_swap=$("$X/workload" arena-swap "$(cat "$D/ps.pid")")

	in0=$(pswpin)
	t=$(uptime_s)
	ropt=
	[ "$way" = handoff ] && ropt=--pvmmap-handoff
	# shellcheck disable=SC2086
	in_cg "dst-$way" "$CRIU" restore -D "$IMG" $ropt -d --manage-cgroups=ignore \
		--display-stats -v3 -o restore.log >"$D/restore.out" 2>&1 ||
		fail "$way: criu restore failed"
	wall=$(echo "$t $(uptime_s)" | awk '{ printf "%.3f", $2 - $1 }')
	swapins=$(($(pswpin) - in0))
	[ -d "/proc/$pid" ] || fail "$way: no restored task with pid $pid"
	peak_restore=$(kib "$CG/dst-$way/memory.peak")
	task_swap=$(awk '$1 == "VmSwap:" { print $2 }' "/proc/$pid/status")
	restore_us=$(stat_of "$D/restore.out" "Restore time")
	mem_us=$(stat_of "$D/restore.out" "Memory restore time")
	restored=$(stat_of "$D/restore.out" "Pages restored")
	moved=0
	read_=0
	if [ "$way" = handoff ]; then
		moved=$(pvmmap_pages "$IMG" moved)
		read_=$(pvmmap_pages "$IMG" read)
		[ "$moved" -gt 0 ] || fail "handoff: no page was moved"
		wait_gone "$(cat "$D/ps.pid")" 50 || echo "warning: the hand-off server is still running"
	fi

	kill -USR1 "$pid" || fail "$way: cannot signal pid $pid"
	wait_file "$D/verdict" 3000 || fail "$way: no verdict from pid $pid"
	verdict=$(cut -d' ' -f1 "$D/verdict")
	pages=$(sed -n 's/.* bad page(s) of \([0-9]*\);.*/\1/p' "$D/verdict")
	peak_after=$(kib "$CG/dst-$way/memory.peak")
	swap_peak=$(kib "$CG/dst-$way/memory.swap.peak")
	echo "  dump: $written pages written; destination held $held_kib KiB + $swap_kib KiB on swap" \
		"(the hand-off server's arena: $server_swap KiB)"
	echo "  restore: wall $wall s; $(grep -E '^(Restore|Memory restore) time' "$D/restore.out" | tr '\n' ';')" \
		"pages restored $restored, moved $moved, read $read_; pswpin +$swapins;" \
		"restored task VmSwap $task_swap kB"
	echo "  verdict: $(cat "$D/verdict")"
	kill "$pid"
	wait_gone "$pid" 100
	[ "$verdict" = OK ] || fail "$way: the restored workload found bad pages"
	echo "$way,$data_kib,$written,$restored,$moved,$read_,$restore_us,$mem_us,$wall,$swapins,$swap_kib,$server_swap,$task_swap,$peak_restore,$peak_after,$swap_peak,$((pages * 4096)),$verdict" >>$W/rows
	rm -rf "$IMG"
	rmdir "$CG/dst-$way" 2>/dev/null
	return 0
}

for way in stock-ps stock-img handoff; do
	run_way $way
done

echo
echo "CRIU restore of $MIB MiB, three ways (one VM run; times are TCG's)"
awk -F, '
{
	w[NR] = $1; data[NR] = $2; rest[NR] = $4; mv[NR] = $5; rd[NR] = $6
	rus[NR] = $7; mus[NR] = $8; wall[NR] = $9; swin[NR] = $10; sw[NR] = $11
	ssw[NR] = $12; tsw[NR] = $13; pr[NR] = $14; pa[NR] = $15; vb[NR] = $17; v[NR] = $18
}
END {
	# Awk names: busybox awk has sin(), so no array may be called so.
	printf "%-9s | %13s | %10s | %10s | %7s | %13s | %6s | %15s | %15s | %s\n", "way",
	       "pages", "criu", "memory", "wall", "swap MiB", "pswpin", "peak at", "peak after",
	       "verified"
	printf "%-9s | %13s | %10s | %10s | %7s | %13s | %6s | %15s | %15s | %s\n", "",
	       "moved/read", "restore", "restore", "", "server->task", "", "restore", "use (x data)", ""
	for (i = 1; i <= NR; i++) {
		p = w[i] == "handoff" ? mv[i] "/" rd[i] : "-/" rest[i]
		printf "%-9s | %13s | %7.0f ms | %7.0f ms | %5.2f s | %5.0f -> %5.0f | %6d | %4d MiB %5.2fx | %4d MiB %5.2fx | %d MiB %s\n",
		       w[i], p, rus[i] / 1000, mus[i] / 1000, wall[i], sw[i] / 1024, tsw[i] / 1024,
		       swin[i], pr[i] / 1024, pr[i] / data[i], pa[i] / 1024, pa[i] / data[i],
		       vb[i] / 1048576, v[i]
	}
	# Rows: 1 stock-ps, 2 stock-img, 3 handoff.
	printf "memory restore: stock-ps/handoff %.1fx (target >= 10x), stock-img/handoff %.1fx\n",
	       mus[1] / mus[3], mus[2] / mus[3]
	printf "criu restore (stats): stock-ps/handoff %.2fx, stock-img/handoff %.2fx; wall %.2fx, %.2fx\n",
	       rus[1] / rus[3], rus[2] / rus[3], wall[1] / wall[3], wall[2] / wall[3]
	printf "peak at restore: handoff %.2fx the data (target <= 1.1x), stock-ps %.2fx, stock-img %.2fx\n",
	       pr[3] / data[3], pr[1] / data[1], pr[2] / data[2]
	printf "handoff: %d swap-ins during the restore (%d pages went the copy way, and the shared memory is read from images);\n",
	       swin[3], rd[3]
	printf "  the server'"'"'s arena had %d KiB on swap, the restored task has %d KiB: %d KiB left swap (at most the %d KiB copied)\n",
	       ssw[3], tsw[3], (ssw[3] > tsw[3] ? ssw[3] - tsw[3] : 0), rd[3] * 4
}' $W/rows
echo "CSV-BEGIN criu"
echo "way,data_kib,dump_pages_written,pages_restored,pages_moved,pages_read,restore_us,mem_restore_us,restore_wall_s,pswpin_restore,dst_swap_kib,server_swap_kib,task_swap_kib,peak_restore_kib,peak_after_use_kib,swap_peak_kib,bytes_verified,verdict"
cat $W/rows
echo "CSV-END"
echo "CRIU-BENCH PASS"
