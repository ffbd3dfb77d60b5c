# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
#
# Sourced by the guest scripts of build/criu.sh (e2e.sh, bench.sh,
# zdtm.sh) in the VM: puts CRIU's libraries where ldd found them, mounts
# what CRIU needs that build/guest-init does not set up, and defines the
# helpers the scripts share.
#
# /extra holds criu (usr/sbin/criu), the libraries ldd names at their
# paths (lib/..., lib64/...) and tools/criu/workload (static).
# It mounts over /run, /sys/fs/cgroup and /dev/pts: the VM's only.
if [ ! -x /extra/run.sh ]; then
	echo "guest-env.sh: not in the VM of build/criu.sh" >&2
	exit 1
fi
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
X=/extra
CRIU=$X/usr/sbin/criu
export X CRIU

for d in "$X"/lib "$X"/lib64 "$X"/usr/lib; do
	[ -d "$d" ] || continue
	t=${d#"$X"}
	[ -e "$t" ] || ln -s "$d" "$t"
done
mkdir -p /run && mount -t tmpfs tmpfs /run
mkdir -p /sys/fs/cgroup && mount -t cgroup2 cgroup2 /sys/fs/cgroup
mkdir -p /dev/pts && mount -t devpts devpts /dev/pts && ln -sf pts/ptmx /dev/ptmx
ifconfig lo 127.0.0.1 up

uptime_s() { read -r up _ </proc/uptime; echo "$up"; }
since() { echo "$1 $(uptime_s)" | awk '{ printf "%.2f s", $2 - $1 }'; }
pswpin() { awk '$1 == "pswpin" { print $2 }' /proc/vmstat; }

# show_logs LOG...: the errors, pvmmap lines (but the per-call "Moved"
# ones of -v4) and last lines of CRIU's logs.
show_logs() {
	for f in "$@"; do
		[ -f "$f" ] || continue
		echo "--- errors and last lines of $f"
		grep -E 'Error|error|pvmmap|Warn' "$f" | grep -v 'pvmmap: Moved ' | head -n 30
		tail -n 30 "$f"
	done
}

# wait_gone PID TENTHS: wait up to TENTHS tenths of a second for PID to go.
wait_gone() {
	i=0
	while [ -d "/proc/$1" ] && [ $i -lt "$2" ]; do sleep 0.1; i=$((i + 1)); done
	[ ! -d "/proc/$1" ]
}

# wait_file FILE TENTHS: wait up to TENTHS tenths of a second for FILE.
wait_file() {
	i=0
	while [ ! -f "$1" ] && [ $i -lt "$2" ]; do sleep 0.1; i=$((i + 1)); done
	[ -f "$1" ]
}

# pvmmap_pages DIR moved|read: the pages restore.log in DIR says took each
# way (criu restore --pvmmap-handoff logs "pvmmap: N pages moved, M pages
# read" per task).
pvmmap_pages() {
	sed -n 's/.*pvmmap: \([0-9]*\) pages moved, \([0-9]*\) pages read.*/\1 \2/p' "$1/restore.log" |
		awk -v w="$2" '{ s += (w == "moved" ? $1 : $2) } END { print s + 0 }'
}
