#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Runs in the VM as /extra/run.sh (pvmmap.mode=run, see build/guest-init),
# with pvmmap_bench next to it: the benchmark's table, then its CSV between
# "CSV-BEGIN bench" and CSV-END for the host to cut out (build/guest-run.sh).
#
# pvmmap.bench= on the kernel command line picks the set:
#   smoke   --smoke: every mechanism and backing at 4 KiB and 2 MiB, seconds
#   medium  sizes up to 64 MiB
#   full    4 KiB to 1 GiB (default; give the VM 4 GiB and a long timeout)
# pvmmap.args= (@ for spaces) and arguments given to this script are
# passed on to pvmmap_bench.
set=full
extra=
for arg in $(cat /proc/cmdline); do
	case "$arg" in
	pvmmap.bench=*) set=${arg#pvmmap.bench=} ;;
	pvmmap.args=*) extra=$(echo "${arg#pvmmap.args=}" | tr @ ' ') ;;
	esac
done
case "$set" in
smoke) opts=--smoke ;;
medium) opts="--sizes 4K,64K,1M,16M,64M" ;;
full) opts= ;;
*) echo "run.sh: pvmmap.bench=$set: smoke, medium or full" >&2; exit 2 ;;
esac
echo "kernel: $(uname -r); benchmark set: $set"
# shellcheck disable=SC2086
"$(dirname "$0")/pvmmap_bench" $opts $extra --csv /tmp/bench.csv "$@"
rc=$?
echo "CSV-BEGIN bench"
cat /tmp/bench.csv
echo "CSV-END"
exit $rc
