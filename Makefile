# SPDX-License-Identifier: GPL-2.0
#
# process_vm_mmap(2) for Linux 7.3: the one entry point.
#
#   make check   host tests, lint, series export, man page, docs, test
#                kernels and VM tests for x86_64 and arm64
#   make run     boot the patched kernel and show the syscall at work
#   make bench   the benchmark against the alternatives (long: see README)
#   make soak    the fuzzer alone in the VM for SOAK_S seconds (default 600)
#   make mm-regress  mm's selftests on the test kernel and a pristine 7.3
#   make criu-e2e  CRIU dumps and restores through process_vm_mmap in the VM
#   make criu    CRIU's restore of 512 MiB three ways (stock, hand-off)
#   make criu-zdtm  CRIU's zdtm memory tests through the hand-off
#
# Everything fetched or built goes to $(CACHE), outside the clone, keyed by
# kernel version and flavour, so a rerun is incremental.  See README.md.

CACHE ?= $(HOME)/.cache/pvmmap
OUTDIR ?= $(CURDIR)/out
export CACHE

# Kernel flavours: "test" has the debug options, "perf" has none.
FLAVOUR ?= test
# The guest's architecture: x86_64 or arm64 (cross-compiled, booted on
# qemu-system-aarch64).  Exported: build/kernel.sh reads it.
ARCH ?= x86_64
export ARCH
# Outputs of another architecture than x86_64 are kept apart.
ARCHSUF := $(if $(filter-out x86_64,$(ARCH)),-$(ARCH))

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
.PHONY: help setup host-test lint series config kernel man docs initramfs vm-test check run bench \
	soak mm-regress devtree refresh fmt clean-cache

help:
	@sed -n 's/^#   //p' Makefile
	@echo "Other targets: setup host-test lint series config kernel man docs initramfs vm-test"
	@echo "Editing kernel files: make devtree; edit and commit there; make refresh"

setup:
	@build/setup.sh

host-test: setup
	@echo "== host tests (cargo test)"
	@cargo test --release -q --workspace 2>&1 | grep -v '^$$'

kernel: setup
	@out=$$(build/kernel.sh $(FLAVOUR)) && . build/arch.sh && arch_of "$$out" && \
	  echo "kernel: $$KIMAGE"

# Generate both flavours' .config of both architectures and check that
# every option stuck.
config: setup
	@echo "== kernel configs (test, perf; x86_64, arm64)"
	@for arch in x86_64 arm64; do \
	  ARCH=$$arch build/kernel.sh test --config-only && \
	  ARCH=$$arch build/kernel.sh perf --config-only; \
	done

# Format the Rust files the series adds (kernel style) and the host crates.
fmt:
	@rustfmt --edition 2021 --config-path rustfmt.toml \
	  $$(git ls-files 'mm/*.rs' 'rust/*.rs')
	@cargo fmt --all

lint: series
	@echo "== lint (rustfmt, checkpatch --strict)"
	@SERIES_DIR=$(OUTDIR)/series build/lint.sh

series: setup
	@echo "== series export (git format-patch, git am check)"
	@python3 build/series.py export "$$(build/fetch-kernel.sh)" $(OUTDIR)/series

# The man page: lint as man-pages does, build its EXAMPLES program, and
# export it as a patch for the man-pages project ($(OUTDIR)/man-pages).
man: setup
	@echo "== man page (mandoc -Tlint, groff -ww, EXAMPLES build, man-pages patch)"
	@out=$$(build/kernel.sh $(FLAVOUR)) && build/man.sh "$$out" $(OUTDIR)/man-pages

# The series' documentation builds without a warning of its own: kernel-doc
# -Wall, htmldocs of userspace-api (Sphinx from PyPI), rustdoc.
docs: setup
	@echo "== docs (kernel-doc -Wall, htmldocs SPHINXDIRS=userspace-api, rustdoc)"
	@out=$$(build/kernel.sh $(FLAVOUR)) && build/docs.sh "$$out" $(OUTDIR)/docs

initramfs: setup
	@out=$$(build/kernel.sh $(FLAVOUR)) && \
	  build/initramfs.sh "$$out" $(OUTDIR)/initramfs$(ARCHSUF)-$(FLAVOUR).cpio.gz

# TESTS=COLLECTION:TEST[,...] (e.g. process_vm_mmap:pvmmap_cow) runs only
# those kselftests.
TESTS ?=
vm-test: setup
	@echo "== VM tests ($(ARCH) $(FLAVOUR) kernel, KUnit, kselftests$(if $(TESTS),: $(TESTS)))"
	@out=$$(build/kernel.sh $(FLAVOUR)) && \
	  build/smoke.sh "$$out" $(OUTDIR)/smoke$(ARCHSUF) && \
	  build/initramfs.sh "$$out" $(OUTDIR)/initramfs$(ARCHSUF)-$(FLAVOUR).cpio.gz $(OUTDIR)/smoke$(ARCHSUF) && \
	  list="$$out/kselftest-install/kselftest-list.txt" && \
	  if [ -n "$(TESTS)" ]; then \
	    mkdir -p $(OUTDIR) && list=$(OUTDIR)/vm-test$(ARCHSUF)-list.txt && \
	    echo "$(TESTS)" | tr , '\n' >"$$list"; \
	  fi && \
	  CMDLINE_EXTRA="$(if $(TESTS),pvmmap.tests=$(TESTS))" \
	  VM_TIMEOUT=$${VM_TIMEOUT:-2400} build/vm.sh "$$out" $(OUTDIR)/initramfs$(ARCHSUF)-$(FLAVOUR).cpio.gz test $(OUTDIR)/vm-test$(ARCHSUF) && \
	  python3 build/vmcheck.py $(OUTDIR)/vm-test$(ARCHSUF) "$$list"

check: setup
	@start=$$(date +%s); \
	$(MAKE) -s host-test series lint config man docs vm-test criu-e2e FLAVOUR=test ARCH=x86_64; \
	echo "make check: x86_64 done in $$(( $$(date +%s) - start )) s"; \
	$(MAKE) -s vm-test FLAVOUR=test ARCH=arm64; \
	echo "make check: all passed in $$(( $$(date +%s) - start )) s"

# The demonstration and the benchmark run on the kernel without debug
# options (RUN_FLAVOUR=test to see them on the test kernel).
RUN_FLAVOUR ?= perf

run: setup
	@out=$$(build/kernel.sh $(RUN_FLAVOUR)) && \
	  build/demo.sh "$$out" $(OUTDIR)/run$(ARCHSUF)

# BENCH_SET=smoke|medium|full, BENCH_ARGS: see build/bench.sh.
bench: setup
	@out=$$(build/kernel.sh $(RUN_FLAVOUR)) && \
	  build/bench.sh "$$out" $(OUTDIR)/bench$(ARCHSUF)

# The fuzzer (pvmmap_fuzz) alone in the VM on the test kernel, fresh seeds.
SOAK_S ?= 600
soak: setup
	@out=$$(build/kernel.sh test) && build/soak.sh "$$out" $(OUTDIR)/soak$(ARCHSUF) $(SOAK_S)
# mm's selftests (build/mm-tests) on the test kernel and on a pristine 7.3
# of the same configuration (FLAVOUR=pristine of build/kernel.sh): every
# result compared, any difference fails.
mm-regress: setup
	@echo "== mm selftests: series against pristine 7.3"
	@build/mm-regress.sh $(OUTDIR)/mm-regress

# CRIU 4.2.1 with tools/criu/patches: page server, dump, restore through
# process_vm_mmap() in the VM on the test kernel (x86_64; part of check).
.PHONY: criu-e2e
criu-e2e: setup
	@echo "== CRIU hand-off end to end (tools/criu)"
	@build/criu.sh e2e $(OUTDIR)/criu-e2e

# The same at CRIU_MIB (512) MiB on the perf kernel, three ways side by
# side: stock CRIU with a page server, with images only, and the hand-off.
# One table, and $(OUTDIR)/criu/criu.csv.
CRIU_MIB ?= 512
export CRIU_MIB
.PHONY: criu
criu: setup
	@echo "== CRIU restore of $(CRIU_MIB) MiB: stock and hand-off (tools/criu/bench.sh)"
	@build/criu.sh bench $(OUTDIR)/criu

# zdtm's memory tests (maps, cow, mprotect, thp) the stock way and through
# the hand-off, on the test kernel (not in check: 5 minutes of VM).
.PHONY: criu-zdtm
criu-zdtm: setup
	@echo "== CRIU zdtm memory tests, stock and through the hand-off (tools/criu/zdtm.sh)"
	@build/criu.sh zdtm $(OUTDIR)/criu-zdtm

# A git worktree of 7.3 with one commit per patch, for changes to existing
# kernel files; "make refresh" writes its commits back into patches/.
DEVTREE ?= $(CACHE)/dev
devtree: setup
	@python3 build/series.py devtree "$$(build/fetch-kernel.sh)" $(DEVTREE)

refresh:
	@python3 build/series.py refresh $(DEVTREE)

clean-cache:
	rm -rf $(CACHE)
