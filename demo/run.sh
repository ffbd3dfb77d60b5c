#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Runs in the VM (pvmmap.mode=run): the demonstration of `make run`.
echo "kernel: $(uname -r)"
/extra/pvmmap_demo /tmp/demo.csv
echo "CSV-BEGIN"
cat /tmp/demo.csv
echo "CSV-END"
