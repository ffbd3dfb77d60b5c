#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Runs in the VM (pvmmap.mode=run): the demonstration of `make run`.
#
# First the main job: a CRIU-style page server hands received memory, part
# of it swapped out, to a restored process three ways (handoff; options from
# pvmmap.handoff= on the kernel command line, @ for spaces).  Then
# the syscall's answers to a table of requests (pvmmap_demo).  Each CSV
# goes between "CSV-BEGIN name" and "CSV-END" for the host to cut out.
echo "kernel: $(uname -r)"
opts=
for arg in $(cat /proc/cmdline); do
	case "$arg" in pvmmap.handoff=*) opts=$(echo "${arg#pvmmap.handoff=}" | tr @ ' ') ;; esac
done
rc=0
# shellcheck disable=SC2086
/extra/handoff $opts --csv /tmp/handoff.csv || rc=1
echo
/extra/pvmmap_demo /tmp/demo.csv || rc=1
for name in handoff demo; do
	echo "CSV-BEGIN $name"
	cat /tmp/$name.csv
	echo "CSV-END"
done
exit $rc
