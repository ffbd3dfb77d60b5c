// SPDX-License-Identifier: GPL-2.0
/*
 * process_vm_mmap(2): every allocation of a clone fails in turn.
 *
 * For each shape of clone in the table below, a caller process calls
 * process_vm_mmap() with /proc/thread-self/fail-nth set to 1, 2, 3, ...
 * (the nth slab or page allocation of the call fails, see
 * Documentation/fault-injection/fault-injection.rst) until a call makes
 * fewer allocations than that and succeeds.  Each call starts from a fresh
 * source and destination, so that every nth meets the same sequence of
 * allocations.  After each failed call one checker holds the kernel to the
 * "Errors" section of Documentation/userspace-api/process_vm_mmap.rst:
 *
 *  - the errno is ENOMEM, and the kernel printed no report;
 *  - the caller's mappings are as they were (with PVMMAP_FIXED the
 *    replaced range may be left unmapped), and so are its bytes;
 *  - the source's mappings, pages (pagemap: PFNs and swap entries) and
 *    bytes are as they were, but for what a successful call also does to
 *    the source: write protection and split huge PMDs do not show there,
 *    a swap-in does and is allowed.
 *
 * Once the caller and the source have exited, the memory and slab counters
 * must be back where they were.  A call that succeeds although an
 * allocation failed (the kernel fell back, e.g. readahead) must have made a
 * right clone.
 *
 * Two tests per shape: "one" fails the nth allocation only; "from" fails
 * the nth and every later allocation of the call (memory stays short), so
 * that the allocations of the error path fail too: the unmap that undoes a
 * partial clone, for instance.
 *
 * Needs root, debugfs, CONFIG_FAULT_INJECTION_DEBUG_FS, FAILSLAB and
 * FAIL_PAGE_ALLOC; the ext4 shape needs $PVMMAP_FS_DIR (the VM's ext4 disk).
 * FAILNTH_VERBOSE=2 in the environment has the injected failures print their
 * stacks on the console (rate-limited by the knobs verbose_ratelimit_*), to
 * see which allocation an nth is; those of __GFP_NOWARN allocations print
 * nothing, and mempool's (fail_mempool_alloc, which fail-nth counts too)
 * always print one line.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <linux/membarrier.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../kselftest_harness.h"
#include "pvmmap.h"
#include "pvmmap_data.h"

#define PMD_SIZE	(2UL << 20)
#define MAX_LEN		(2 * PMD_SIZE)
#define MAX_PAGES	(MAX_LEN / 4096)
#define MAX_AREAS	256
/* No shape has near that many allocations: a sweep that gets there is stuck. */
#define MAX_NTH		3000
#define DEBUGFS		"/sys/kernel/debug/"

enum backing { ANON, THP, MEMFD, EXT4 };
enum dest { CHOSEN, SHIFTED, OVER_LIVE };
enum mode { FAIL_ONE, FAIL_FROM };

/*
 * The debugfs knobs, as the two modes set them.  Sleeping (GFP_KERNEL)
 * allocations, user pages (GFP_HIGHUSER) and order-0 pages (page tables,
 * copied pages) are what a clone allocates: all eligible.  No message per
 * injected failure.  fail-nth fails the nth allocation whatever the rest
 * says; "from" then fails every allocation of the tasks with make-it-fail,
 * which only the caller sets, only around the call.
 */
static const struct knob {
	const char *path;
	const char *one, *from;
} knobs[] = {
	{ "failslab/ignore-gfp-wait", "N", "N" },
	{ "failslab/cache-filter", "N", "N" },
	{ "failslab/verbose", "0", "0" },
	{ "failslab/task-filter", "Y", "Y" },
	{ "failslab/probability", "0", "100" },
	{ "failslab/interval", "1", "1" },
	{ "failslab/times", "-1", "-1" },
	{ "failslab/space", "0", "0" },
	{ "fail_page_alloc/ignore-gfp-wait", "N", "N" },
	{ "fail_page_alloc/ignore-gfp-highmem", "N", "N" },
	{ "fail_page_alloc/min-order", "0", "0" },
	{ "fail_page_alloc/verbose", "0", "0" },
	{ "fail_page_alloc/task-filter", "Y", "Y" },
	{ "fail_page_alloc/probability", "0", "100" },
	{ "fail_page_alloc/interval", "1", "1" },
	{ "fail_page_alloc/times", "-1", "-1" },
	{ "fail_page_alloc/space", "0", "0" },
	/*
	 * No page of the source may move while the checker compares its
	 * PFNs before and after a call: no khugepaged collapse of a range a
	 * call split (an hour between scans), no proactive compaction.
	 */
	{ "/sys/kernel/mm/transparent_hugepage/khugepaged/scan_sleep_millisecs",
	  "3600000", "3600000" },
	{ "/proc/sys/vm/compaction_proactiveness", "0", "0" },
};

#define NR_KNOBS	ARRAY_SIZE(knobs)

/* A knob's path: debugfs's fault-injection files, or a path of its own. */
static void knob_path(char *path, size_t size, const struct knob *k)
{
	snprintf(path, size, "%s%s", k->path[0] == '/' ? "" : DEBUGFS, k->path);
}

/*
 * What must be back once the processes are gone, and by how much it may
 * have grown meanwhile (other activity, per-CPU caches): kB for meminfo,
 * pages for vmstat and "free" (free pages, those in the per-CPU lists
 * included: MemFree alone swings by megabytes with THPs there), objects
 * for a slab cache (after a shrink).  A leak per failed call grows them by
 * the number of failed calls at least.  Not maple_node: its nodes are
 * freed by kfree_rcu() batches that no shrink flushes, and its count lags
 * for seconds.
 */
static const struct counter {
	const char *file;	/* "meminfo", "vmstat", "free" or "slab" */
	const char *key;
	int sign;		/* -1: a leak makes it shrink */
	long slack;
} counters[] = {
	{ "free", "free_pages", -1, 256 },
	{ "meminfo", "AnonPages", 1, 256 },
	{ "meminfo", "Shmem", 1, 256 },
	{ "meminfo", "PageTables", 1, 16 },
	{ "meminfo", "SwapFree", -1, 256 },
	{ "meminfo", "Committed_AS", 1, 256 },
	{ "meminfo", "SUnreclaim", 1, 512 },
	{ "vmstat", "nr_anon_transparent_hugepages", 1, 0 },
	{ "vmstat", "nr_mapped", 1, 64 },
	{ "vmstat", "nr_swapcached", 1, 64 },
	{ "slab", "vm_area_struct", 1, 8 },
	{ "slab", "anon_vma", 1, 8 },
	{ "slab", "anon_vma_chain", 1, 8 },
};

#define NR_COUNTERS	ARRAY_SIZE(counters)

FIXTURE(failnth)
{
	char saved[NR_KNOBS][32];
	bool configured;
};

/*
 * A shape of clone.  The source range is surrounded by a page of the same
 * mapping on each side, so that every piece is part of a VMA.
 */
struct shape {
	enum backing backing;	/* THP: PMD-aligned, MADV_HUGEPAGE */
	unsigned long len;
	int vmas;		/* 3: the middle third is read-only */
	bool swapped;		/* MADV_PAGEOUT before each call */
	bool self;		/* the caller clones its own range */
	enum dest dest;		/* SHIFTED: FIXED_NOREPLACE, not PMD-congruent */
	bool move;		/* PVMMAP_MOVE */
};

FIXTURE_VARIANT(failnth)
{
	struct shape shape;
};

/* The table of shapes. */
FIXTURE_VARIANT_ADD(failnth, pages_4k) {
	.shape = { .backing = ANON, .len = 64 * 4096 } };
FIXTURE_VARIANT_ADD(failnth, thp_congruent) {
	.shape = { .backing = THP, .len = 2 * PMD_SIZE } };
FIXTURE_VARIANT_ADD(failnth, thp_not_congruent) {
	.shape = { .backing = THP, .len = 2 * PMD_SIZE, .dest = SHIFTED } };
FIXTURE_VARIANT_ADD(failnth, swapped_out) {
	.shape = { .backing = ANON, .len = 64 * 4096, .swapped = true } };
FIXTURE_VARIANT_ADD(failnth, memfd_shared) {
	.shape = { .backing = MEMFD, .len = 64 * 4096 } };
FIXTURE_VARIANT_ADD(failnth, ext4_file) {
	.shape = { .backing = EXT4, .len = 64 * 4096 } };
FIXTURE_VARIANT_ADD(failnth, three_vmas) {
	.shape = { .backing = ANON, .len = 48 * 4096, .vmas = 3 } };
FIXTURE_VARIANT_ADD(failnth, fixed_over_live) {
	.shape = { .backing = ANON, .len = 64 * 4096, .dest = OVER_LIVE } };
FIXTURE_VARIANT_ADD(failnth, move) {
	.shape = { .backing = ANON, .len = 64 * 4096, .move = true } };
FIXTURE_VARIANT_ADD(failnth, self_clone) {
	.shape = { .backing = ANON, .len = 64 * 4096, .self = true } };
FIXTURE_VARIANT_ADD(failnth, self_swapped) {
	.shape = { .backing = ANON, .len = 16 * 4096, .self = true,
		   .swapped = true } };

/* One process's mappings; adjacent compatible lines are merged. */
struct area {
	unsigned long start, end, off;
	char attr[128];		/* perms, device, inode, path */
};

struct maps {
	int n;
	struct area a[MAX_AREAS];
};

/* What the checker compares, taken before and after a call. */
struct snap {
	struct maps caller, source;
	uint64_t pagemap[MAX_PAGES];
};

/* The caller's state: it is a process of its own, forked for one shape. */
static struct run {
	const struct shape *v;
	enum mode mode;
	pid_t src_pid;		/* the source: a peer, or the caller itself */
	int cmd, ack;		/* pipes to the peer */
	char *src;		/* the source range, in src_pid */
	char *area;		/* reserved for the destination, PROT_NONE */
	unsigned long area_len;
	char *dst;		/* in the area: the hint, or the exact address */
	char path[256];		/* the ext4 file */
	int fail_nth, make_it_fail, kmsg;
	unsigned long taint;
	int nth, broken, console_lines;
	char outcome[MAX_NTH + 1];
} run;

static struct snap before, after;
static char image[MAX_LEN];	/* what the source range holds */
static char buf[MAX_LEN];	/* the source range, read */
static char text[256 << 10];	/* a /proc file, read without malloc() */

static void die(const char *what)
{
	printf("# setup: %s: %s\n", what, strerror(errno));
	fflush(stdout);
	_exit(KSFT_FAIL);
}

/* A rule of the contract the call broke: say which, for which nth. */
static void __printf(1, 2) broken(const char *fmt, ...)
{
	va_list ap;

	printf("# nth %d: ", run.nth);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	run.broken++;
}

/* Read a whole file into text[]; its length, or -1. */
static long read_text(const char *path)
{
	long n = 0, got;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return -1;
	while ((got = read(fd, text + n, sizeof(text) - 1 - n)) > 0)
		n += got;
	close(fd);
	text[n] = 0;
	return n;
}

static bool read_maps(pid_t pid, struct maps *m)
{
	char path[64], *line, *next;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	if (read_text(path) < 0)
		return false;
	m->n = 0;
	for (line = text; *line; line = next) {
		struct area *prev = m->n ? &m->a[m->n - 1] : NULL, cur;
		unsigned long inode;
		char perms[5], dev[16];
		int name = 0;

		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		else
			next = line + strlen(line);
		if (sscanf(line, "%lx-%lx %4s %lx %15s %lu %n", &cur.start,
			   &cur.end, perms, &cur.off, dev, &inode, &name) < 6)
			return false;
		snprintf(cur.attr, sizeof(cur.attr), "%s %s %lu %s", perms, dev,
			 inode, name ? line + name : "");
		/* Anonymous memory shows offset 0: its offset is its address. */
		if (!inode)
			cur.off = cur.start;
		/* A split VMA reads as one area: the contract is per address. */
		if (prev && prev->end == cur.start &&
		    prev->off + (prev->end - prev->start) == cur.off &&
		    !strcmp(prev->attr, cur.attr)) {
			prev->end = cur.end;
			continue;
		}
		if (m->n == MAX_AREAS)
			return false;
		m->a[m->n++] = cur;
	}
	return true;
}

static const struct area *area_at(const struct maps *m, unsigned long addr)
{
	for (int i = 0; i < m->n; i++)
		if (m->a[i].start <= addr && addr < m->a[i].end)
			return &m->a[i];
	return NULL;
}

/*
 * Whether @now keeps what @was maps: every area of @now is part of an area
 * of @was with the same attributes at the same addresses (nothing new),
 * and every address @was maps outside [@hole, @hole_end) is still mapped
 * (nothing gone).  Prints the first difference.
 */
static bool maps_kept(const char *who, const struct maps *was,
		      const struct maps *now, unsigned long hole,
		      unsigned long hole_end)
{
	const struct area *a, *b;
	int i;

	for (i = 0; i < now->n; i++) {
		a = &now->a[i];
		b = area_at(was, a->start);
		if (!b || a->end > b->end || strcmp(a->attr, b->attr) ||
		    a->off - b->off != a->start - b->start) {
			broken("%s maps %lx-%lx %s, new", who, a->start, a->end,
			       a->attr);
			return false;
		}
	}
	for (i = 0; i < was->n; i++) {
		unsigned long piece[2][2] = {
			{ was->a[i].start, was->a[i].end < hole ? was->a[i].end : hole },
			{ was->a[i].start > hole_end ? was->a[i].start : hole_end,
			  was->a[i].end },
		};

		for (int p = 0; p < 2; p++) {
			if (piece[p][0] >= piece[p][1])
				continue;
			a = area_at(now, piece[p][0]);
			if (!a || a->end < piece[p][1]) {
				broken("%s lost %lx-%lx %s", who, piece[p][0],
				       piece[p][1], was->a[i].attr);
				return false;
			}
		}
	}
	return true;
}

static bool read_pagemap(pid_t pid, unsigned long addr, unsigned long len,
			 uint64_t *ent)
{
	char path[64];
	size_t size = len / page_size * sizeof(*ent);
	bool ok;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return false;
	ok = pread(fd, ent, size, addr / page_size * sizeof(*ent)) == (ssize_t)size;
	close(fd);
	return ok;
}

#define PM_PRESENT	0x8000000000000000ULL
#define PM_SWAP		0x4000000000000000ULL
#define PM_PFN		0x007fffffffffffffULL

/*
 * The pagemap PFN of the shared zero page: what a read fault of a fresh
 * private anonymous page maps.
 */
static uint64_t zero_pfn(void)
{
	static uint64_t pfn;
	uint64_t ent;
	char *p;

	if (pfn)
		return pfn;
	p = mmap(NULL, page_size, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS,
		 -1, 0);
	if (p == MAP_FAILED)
		return 0;
	(void)__atomic_load_n(p, __ATOMIC_RELAXED);
	if (read_pagemap(getpid(), (unsigned long)p, page_size, &ent))
		pfn = ent & PM_PFN;
	munmap(p, page_size);
	return pfn;
}

static unsigned long swapped_pages(const uint64_t *ent)
{
	unsigned long n = 0;

	for (unsigned long i = 0; i < run.v->len / page_size; i++)
		n += !!(ent[i] & PM_SWAP);
	return n;
}

/* Whether the source range holds image[] (reading it swaps it in). */
static bool source_holds_image(void)
{
	struct iovec local = { buf, run.v->len }, remote = { run.src, run.v->len };

	if (run.v->self)
		return !memcmp(run.src, image, run.v->len);
	return process_vm_readv(run.src_pid, &local, 1, &remote, 1, 0) ==
	       (ssize_t)run.v->len && !memcmp(buf, image, run.v->len);
}

/* The byte page @i of the range holds: anon data, or the file's. */
static char version_of(unsigned long i)
{
	return run.v->backing == EXT4 && i % 2 ? 'F' : 'A';
}

/*
 * Map and fill the source range as the shape says, in the calling process
 * (the peer, or the caller for a self-clone).
 */
static char *make_source(void)
{
	const struct shape *v = run.v;
	unsigned long len = v->len, i;
	int flags = MAP_FIXED | MAP_PRIVATE, fd = -1;
	char *area, *src;

	/* PMD-aligned, for THP; the other shapes do not mind. */
	area = mmap(NULL, len + 2 * PMD_SIZE, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (area == MAP_FAILED)
		return NULL;
	src = (char *)(((unsigned long)area + PMD_SIZE) & ~(PMD_SIZE - 1));
	if (v->backing == MEMFD) {
		fd = memfd_create("pvmmap_failnth", 0);
		if (fd < 0 || ftruncate(fd, len + 2 * page_size))
			return NULL;
		flags = MAP_FIXED | MAP_SHARED;
	} else if (v->backing == EXT4) {
		fd = open(run.path, O_RDONLY);
		if (fd < 0)
			return NULL;
	} else {
		flags |= MAP_ANONYMOUS;
	}
	if (mmap(src - page_size, len + 2 * page_size, PROT_READ | PROT_WRITE,
		 flags, fd, 0) == MAP_FAILED)
		return NULL;
	if (fd >= 0)
		close(fd);
	munmap(area, src - page_size - area);
	munmap(src + len + page_size, area + len + 2 * PMD_SIZE -
	       (src + len + page_size));
	if (v->backing == THP)
		madvise(src - page_size, len + 2 * page_size, MADV_HUGEPAGE);
	if (v->backing == ANON)
		madvise(src - page_size, len + 2 * page_size, MADV_NOHUGEPAGE);
	/* A file's pages are its own, mapped, but for the even ones: written. */
	if (v->backing == EXT4 && madvise(src, len, MADV_POPULATE_READ))
		return NULL;
	for (i = 0; i < len / page_size; i++)
		if (version_of(i) == 'A')
			memset(src + i * page_size, pattern(i, 'A'), page_size);
	if (v->vmas == 3 && mprotect(src + len / 3, len / 3, PROT_READ))
		return NULL;
	if (v->swapped)
		madvise(src, len, MADV_PAGEOUT);
	return src;
}

/* The peer: makes a fresh source range on each 'r', until EOF. */
static void peer_loop(int cmd, int ack)
{
	char *src = NULL, c;

	while (read(cmd, &c, 1) == 1) {
		if (src)
			munmap(src - page_size, run.v->len + 2 * page_size);
		src = make_source();
		if (write(ack, &src, sizeof(src)) != sizeof(src))
			break;
	}
	_exit(0);
}

static void reset_source(void)
{
	char c = 'r';

	if (run.v->self) {
		if (run.src)
			munmap(run.src - page_size, run.v->len + 2 * page_size);
		run.src = make_source();
	} else if (write(run.cmd, &c, 1) != 1 ||
		   read(run.ack, &run.src, sizeof(run.src)) != sizeof(run.src)) {
		run.src = NULL;
	}
	if (!run.src)
		die("making the source");
}

/* The live mapping PVMMAP_FIXED replaces: the range and a page each side. */
static void map_live(void)
{
	char *live = run.dst - page_size;
	unsigned long i, len = run.v->len + 2 * page_size;

	if (mmap(live, len, PROT_READ | PROT_WRITE,
		 MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED)
		die("mapping the live range");
	for (i = 0; i < len / page_size; i++)
		memset(live + i * page_size, pattern(i, 'Z'), page_size);
}

/* Whether the pages of the live mapping that are still mapped hold it. */
static bool live_kept(const struct maps *m)
{
	char *live = run.dst - page_size;
	unsigned long i, len = run.v->len + 2 * page_size;

	for (i = 0; i < len / page_size; i++) {
		char *p = live + i * page_size;

		if (area_at(m, (unsigned long)p) &&
		    (p[0] != pattern(i, 'Z') || p[page_size - 1] != pattern(i, 'Z')))
			return false;
	}
	return true;
}

/*
 * Make the destination ready: the address to pass.  A chosen or a shifted
 * destination gets the reserved area as a hole of its own (2 MiB free on
 * each side), so that every call allocates its page tables: none of a
 * previous clone is left there.  Nothing else maps until the call.
 */
static unsigned long prepare_dest(void)
{
	if (run.v->dest == OVER_LIVE)
		map_live();
	else
		munmap(run.area, run.area_len);
	return (unsigned long)run.dst;
}

/* Reserve the area again, over whatever the call left there. */
static void reserve_dest(void)
{
	if (mmap(run.area, run.area_len, PROT_NONE,
		 MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED)
		die("reserving the destination");
}

static void snapshot(struct snap *s)
{
	if (!read_maps(getpid(), &s->caller) ||
	    (!run.v->self && !read_maps(run.src_pid, &s->source)) ||
	    !read_pagemap(run.src_pid, (unsigned long)run.src, run.v->len,
			  s->pagemap))
		die("reading /proc");
}

static unsigned long read_taint(void)
{
	if (read_text("/proc/sys/kernel/tainted") < 0)
		return 0;
	return strtoul(text, NULL, 10);
}

/*
 * Read what the kernel printed since the last time; print and count the
 * reports (a WARN, a BUG, the undo that failed, ...) as broken rules, and a
 * new taint.  @when says when they were printed, if not by the call.
 */
static void kernel_log(const char *when)
{
	static const char * const reports[] = {
		"WARNING", "BUG", "Oops", "could not undo", "page_table_check",
		"Bad page", "corruption", "UBSAN", "KFENCE", "panic",
		"leaked out", "circular locking", "general protection",
	};
	char rec[1024], *msg;
	unsigned long taint;
	ssize_t n;

	for (;;) {
		n = read(run.kmsg, rec, sizeof(rec) - 1);
		if (n < 0 && errno == EPIPE)	/* overwritten records */
			continue;
		if (n <= 0)
			break;
		rec[n] = 0;
		msg = strchr(rec, ';');
		msg = msg ? msg + 1 : rec;
		msg[strcspn(msg, "\n")] = 0;
		run.console_lines++;
		for (unsigned long i = 0; i < ARRAY_SIZE(reports); i++)
			if (strstr(msg, reports[i])) {
				broken("kernel%s: %s", when, msg);
				break;
			}
	}
	taint = read_taint();
	if (taint & ~run.taint)
		broken("kernel taint %lu%s, was %lu", taint, when, run.taint);
	run.taint = taint;
}

/*
 * process_vm_mmap() with the nth allocation failing (and, for FAIL_FROM,
 * every later one); *injected tells whether it did fail one.  Nothing
 * between the writes that arm and disarm the injection may allocate or
 * fault: all of it ran once before the sweep.
 */
static long call_failing(unsigned long dst, int nth, bool *injected, int *err)
{
	unsigned long flags = (run.v->move ? PVMMAP_MOVE : 0) |
		(run.v->dest == SHIFTED ? PVMMAP_FIXED_NOREPLACE : 0) |
		(run.v->dest == OVER_LIVE ? PVMMAP_FIXED : 0);
	char num[16], left[16] = "";
	int len = snprintf(num, sizeof(num), "%d", nth);
	bool from = run.mode == FAIL_FROM && nth;
	long ret;

	if ((from && write(run.make_it_fail, "1", 1) != 1) ||
	    write(run.fail_nth, num, len) != len)
		die("arming fail-nth");
	ret = sys_process_vm_mmap(run.src_pid, (unsigned long)run.src,
				  run.v->len, dst, flags);
	*err = errno;
	if ((from && write(run.make_it_fail, "0", 1) != 1) ||
	    pread(run.fail_nth, left, sizeof(left) - 1, 0) <= 0 ||
	    write(run.fail_nth, "0", 1) != 1)
		die("disarming fail-nth");
	*injected = nth && atoi(left) == 0;
	return ret;
}

/*
 * The one checker: what a call whose nth allocation failed left behind.
 * Unmaps whatever new it finds, so that the next call starts clean.
 */
static void check_failure(int err)
{
	const struct shape *v = run.v;
	unsigned long hole = 0, hole_end = 0;
	int was = run.broken;

	snapshot(&after);
	if (err != ENOMEM)
		broken("errno %d (%s), the contract says ENOMEM", err,
		       strerror(err));
	/* As for MAP_FIXED, the replaced range may be left unmapped. */
	if (v->dest == OVER_LIVE) {
		hole = (unsigned long)run.dst;
		hole_end = hole + v->len;
	}
	if (!maps_kept("the caller", &before.caller, &after.caller, hole,
		       hole_end)) {
		for (int i = 0; i < after.caller.n; i++)
			if (!area_at(&before.caller, after.caller.a[i].start))
				munmap((void *)after.caller.a[i].start,
				       after.caller.a[i].end - after.caller.a[i].start);
	}
	if (v->dest == OVER_LIVE && !live_kept(&after.caller))
		broken("the bytes of the replaced range changed");
	if (!v->self)
		maps_kept("the source", &before.source, &after.source, 0, 0);
	for (unsigned long i = 0; i < v->len / page_size; i++) {
		uint64_t b = before.pagemap[i], a = after.pagemap[i];

		/*
		 * A swap-in is allowed, and so is a split of a large folio,
		 * which maps its pages of zeroes to the shared zero page;
		 * anything else is a change.
		 */
		if (a != b && !((b & PM_SWAP) && (a & PM_PRESENT)) &&
		    !((b & PM_PRESENT) && (a & PM_PRESENT) &&
		      (a & PM_PFN) == zero_pfn())) {
			broken("source page %lu: pagemap %#llx, was %#llx", i,
			       (unsigned long long)a, (unsigned long long)b);
			break;
		}
	}
	if (!v->swapped && !source_holds_image())
		broken("the source's bytes changed");
	kernel_log("");
	run.outcome[run.nth - 1] = run.broken == was ? 'E' : '!';
}

/* The clone a successful call made: where and what it is; then unmap it. */
static void check_clone(char *c, bool injected)
{
	const struct shape *v = run.v;
	int was = run.broken;
	struct maps *peer = &after.source;

	if (v->dest != CHOSEN && c != run.dst)
		broken("the clone is at %p, not at %p", c, run.dst);
	if (v->backing == THP && v->dest == CHOSEN &&
	    ((unsigned long)c - (unsigned long)run.src) % PMD_SIZE)
		broken("the clone at %p is not PMD-congruent to %p", c, run.src);
	if (memcmp(c, image, v->len))
		broken("the clone does not hold the source's bytes");
	if (v->dest == OVER_LIVE) {
		/* The margins of the live mapping are not replaced. */
		if (c[-1] != pattern(0, 'Z') ||
		    c[v->len] != pattern(v->len / page_size + 1, 'Z'))
			broken("PVMMAP_FIXED replaced more than the range");
	}
	if (v->move && !v->self &&
	    (!read_maps(run.src_pid, peer) ||
	     area_at(peer, (unsigned long)run.src)))
		broken("PVMMAP_MOVE left the source range mapped");
	munmap(c, v->len);
	kernel_log("");
	if (injected)
		run.outcome[run.nth - 1] = run.broken == was ? 'a' : '!';
}

/* Print what each nth did: E ENOMEM, a absorbed (succeeded), ! broken. */
static void print_outcomes(void)
{
	int n = strlen(run.outcome);

	for (int i = 0; i < n; i += 60)
		printf("# nth %4d-%-4d %.60s\n", i + 1,
		       i + 60 < n ? i + 60 : n, run.outcome + i);
}

/* The sweep: nth = 1, 2, ... until a call has no nth allocation. */
static void sweep(void)
{
	bool injected;
	long ret;
	int err;

	for (run.nth = 1; run.nth <= MAX_NTH; run.nth++) {
		unsigned long dst;

		reset_source();
		dst = prepare_dest();
		snapshot(&before);
		if (!run.v->swapped && !source_holds_image())
			die("the new source does not hold its bytes");
		kernel_log(" (making the next source)");
		ret = call_failing(dst, run.nth, &injected, &err);
		if (ret >= 0)
			check_clone((char *)ret, injected);
		else if (injected)
			check_failure(err);
		else
			broken("failed with %s, no allocation failed",
			       strerror(err));
		reserve_dest();
		if (!injected)
			break;
	}
	if (run.nth > MAX_NTH)
		broken("still failing after %d allocations", MAX_NTH);
}

static int open_proc(const char *name)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/thread-self/%s", name);
	fd = open(path, O_RDWR);
	if (fd < 0)
		die(path);
	return fd;
}

/* The ext4 file: its pages hold version 'F', a margin page each side. */
static int make_file(void)
{
	const char *dir = getenv("PVMMAP_FS_DIR");
	unsigned long i, pages = run.v->len / page_size + 2;
	int fd;

	if (!dir)
		return -1;
	snprintf(run.path, sizeof(run.path), "%s/pvmmap_failnth-XXXXXX", dir);
	fd = mkstemp(run.path);
	if (fd < 0)
		die("making the ext4 file");
	for (i = 0; i < pages; i++) {
		memset(buf, pattern(i - 1, 'F'), page_size);
		if (pwrite(fd, buf, page_size, i * page_size) != page_size)
			die("writing the ext4 file");
	}
	close(fd);
	return 0;
}

/* kB of AnonHugePages of @pid's mapping at @addr (smaps), or -1. */
static long anon_huge_kb(pid_t pid, unsigned long addr)
{
	unsigned long start, end;
	char path[64], *line;
	bool in = false;
	long kb;

	snprintf(path, sizeof(path), "/proc/%d/smaps", pid);
	if (read_text(path) < 0)
		return -1;
	for (line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		if (sscanf(line, "%lx-%lx ", &start, &end) == 2)
			in = start <= addr && addr < end;
		else if (in && sscanf(line, "AnonHugePages: %ld kB", &kb) == 1)
			return kb;
	}
	return -1;
}

/* Start the peer, or make the range in the caller itself. */
static void start_source(void)
{
	int to[2], from[2];

	if (run.v->self) {
		run.src_pid = getpid();
		return;
	}
	if (pipe(to) || pipe(from))
		die("pipe");
	run.src_pid = fork();
	if (run.src_pid < 0)
		die("fork");
	if (run.src_pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(to[1]);
		close(from[0]);
		peer_loop(to[0], from[1]);
	}
	close(to[0]);
	close(from[1]);
	run.cmd = to[1];
	run.ack = from[0];
}

/*
 * Whether the shape can be made here: swap for the swapped shapes, THP for
 * the THP shapes.  Then one call with nothing armed, which also runs once
 * all the code between arming and disarming the injection.
 */
static int rehearse(void)
{
	const struct shape *v = run.v;
	bool injected;
	long ret;
	int err;

	reset_source();
	if (v->swapped &&
	    (!read_pagemap(run.src_pid, (unsigned long)run.src, v->len,
			   before.pagemap) || !swapped_pages(before.pagemap))) {
		printf("# nothing was swapped out (no swap?)\n");
		return KSFT_SKIP;
	}
	if (v->backing == THP &&
	    anon_huge_kb(run.src_pid, (unsigned long)run.src) < 2048) {
		printf("# the source got no huge page (no THP?)\n");
		return KSFT_SKIP;
	}
	run.nth = 0;
	ret = call_failing(prepare_dest(), 0, &injected, &err);
	if (ret < 0) {
		errno = err;
		die("the clone with no fault injection");
	}
	munmap((void *)ret, v->len);
	reserve_dest();
	return KSFT_PASS;
}

static int count_of(char outcome)
{
	int n = 0;

	for (char *p = run.outcome; *p; p++)
		n += *p == outcome;
	return n;
}

/* The caller, a process of its own: the exit status is the verdict. */
static int caller(const struct shape *v, enum mode mode)
{
	struct timespec t0, t1;
	int ret;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	run.v = v;
	run.mode = mode;
	for (unsigned long i = 0; i < v->len / page_size; i++)
		memset(image + i * page_size, pattern(i, version_of(i)), page_size);
	if (v->backing == EXT4 && make_file()) {
		printf("# no PVMMAP_FS_DIR (an ext4 directory)\n");
		return KSFT_SKIP;
	}
	start_source();
	/* The destination stays at one place for the whole sweep. */
	run.area_len = v->len + 6 * PMD_SIZE;
	run.area = mmap(NULL, run.area_len, PROT_NONE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (run.area == MAP_FAILED)
		die("reserving the destination");
	run.dst = (char *)(((unsigned long)run.area + 3 * PMD_SIZE) &
			   ~(PMD_SIZE - 1));
	if (v->dest == SHIFTED)
		run.dst += page_size;	/* not congruent to the source */
	run.fail_nth = open_proc("fail-nth");
	run.make_it_fail = open_proc("make-it-fail");
	run.kmsg = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);
	if (run.kmsg < 0 || lseek(run.kmsg, 0, SEEK_END) < 0)
		die("/dev/kmsg");
	run.taint = read_taint();

	ret = rehearse();
	if (ret == KSFT_PASS) {
		sweep();
		print_outcomes();
		clock_gettime(CLOCK_MONOTONIC, &t1);
		printf("# %d injection points: %d ENOMEM, %d absorbed, %d broken",
		       run.nth - 1, count_of('E'), count_of('a'), count_of('!'));
		printf(" (%d rules); %d console lines; %.1f s\n", run.broken,
		       run.console_lines, t1.tv_sec - t0.tv_sec +
		       (t1.tv_nsec - t0.tv_nsec) / 1e9);
		ret = run.broken ? KSFT_FAIL : KSFT_PASS;
	}
	if (!v->self) {
		close(run.cmd);
		waitpid(run.src_pid, NULL, 0);
	}
	if (run.path[0])
		unlink(run.path);
	return ret;
}

static long counter_value(const struct counter *c)
{
	char path[128], *p;
	size_t n = strlen(c->key);

	if (!strcmp(c->file, "meminfo"))
		return kb_of("/proc/meminfo", c->key);
	if (!strcmp(c->file, "slab")) {
		/* Flush the per-CPU slabs and sheaves into the count. */
		snprintf(path, sizeof(path), "/sys/kernel/slab/%s/shrink", c->key);
		write_file(path, "1");
		snprintf(path, sizeof(path), "/sys/kernel/slab/%s/objects", c->key);
		return read_text(path) < 0 ? -1 : strtol(text, NULL, 10);
	}
	if (!strcmp(c->file, "free")) {
		static const struct counter nr_free = { "vmstat", "nr_free_pages" };
		long pages = counter_value(&nr_free), count;

		if (read_text("/proc/zoneinfo") < 0)
			return -1;
		for (p = strstr(text, "count:"); p; p = strstr(p + 1, "count:"))
			if (sscanf(p, "count: %ld", &count) == 1)
				pages += count;
		return pages;
	}
	if (read_text("/proc/vmstat") < 0)
		return -1;
	for (p = text; p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, c->key, n) && p[n] == ' ')
			return strtol(p + n, NULL, 10);
	return -1;
}

/* Let freed memory come back: page cache, RCU-freed objects, per-CPU counts. */
static void read_counters(long *val)
{
	/* Page tables are freed after a grace period, which this waits for. */
	syscall(__NR_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0);
	/* 4: without a message on the console. */
	write_file("/proc/sys/vm/drop_caches", "7");
	write_file("/proc/sys/vm/stat_refresh", "1");
	for (unsigned long i = 0; i < NR_COUNTERS; i++)
		val[i] = counter_value(&counters[i]);
}

/* The counters are back (within their slack), or 5 s have passed. */
static void check_counters(struct __test_metadata *_metadata, const long *was)
{
	long now[NR_COUNTERS], grew;
	unsigned long i;
	int try, over;

	char waited[256] = "";

	for (try = 0; try < 20; try++) {
		read_counters(now);
		for (i = 0, over = 0; i < NR_COUNTERS; i++) {
			if (counters[i].sign * (now[i] - was[i]) <= counters[i].slack)
				continue;
			if (!try)
				snprintf(waited + strlen(waited),
					 sizeof(waited) - strlen(waited), " %s",
					 counters[i].key);
			over++;
		}
		if (!over)
			break;
		usleep(250 * 1000);
	}
	printf("# counters after exit");
	if (try)
		printf(" (waited %d x 250 ms for%s)", try, waited);
	printf(":");
	for (i = 0; i < NR_COUNTERS; i++)
		if (now[i] != was[i])
			printf(" %s %+ld", counters[i].key, now[i] - was[i]);
	printf("\n");
	for (i = 0; i < NR_COUNTERS; i++) {
		if (was[i] < 0)
			continue;
		grew = counters[i].sign * (now[i] - was[i]);
		EXPECT_GE(counters[i].slack, grew)
			TH_LOG("%s %s: %ld, was %ld", counters[i].file,
			       counters[i].key, now[i], was[i]);
	}
}

FIXTURE_SETUP(failnth)
{
	char path[128];

	page_size = sysconf(_SC_PAGESIZE);
	if (geteuid())
		SKIP(return, "needs root (debugfs, PFNs in pagemap)");
	for (unsigned long i = 0; i < NR_KNOBS; i++) {
		knob_path(path, sizeof(path), &knobs[i]);
		if (read_text(path) <= 0)
			SKIP(return, "no %s (fault injection, THP)",
			     path);
		snprintf(self->saved[i], sizeof(self->saved[i]), "%.20s", text);
	}
	if (access("/proc/thread-self/fail-nth", W_OK))
		SKIP(return, "no /proc/thread-self/fail-nth");
}

FIXTURE_TEARDOWN(failnth)
{
	char path[128];

	if (!self->configured)
		return;
	for (unsigned long i = 0; i < NR_KNOBS; i++) {
		knob_path(path, sizeof(path), &knobs[i]);
		EXPECT_EQ(0, write_file(path, self->saved[i]));
	}
}

/* Sweep a shape in a caller process; check the counters once it is gone. */
static void sweep_shape(struct __test_metadata *_metadata,
			const struct shape *v, enum mode mode)
{
	const char *verbose = getenv("FAILNTH_VERBOSE");
	struct timespec t0, t1;
	long was[NR_COUNTERS];
	char path[128];
	int status;
	pid_t pid;

	clock_gettime(CLOCK_MONOTONIC, &t0);

	for (unsigned long i = 0; i < NR_KNOBS; i++) {
		const char *val = mode == FAIL_ONE ? knobs[i].one : knobs[i].from;

		if (verbose && strstr(knobs[i].path, "/verbose"))
			val = verbose;
		knob_path(path, sizeof(path), &knobs[i]);
		ASSERT_EQ(0, write_file(path, val)) TH_LOG("writing %s", path);
	}
	read_counters(was);
	fflush(stdout);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		status = caller(v, mode);
		fflush(stdout);
		_exit(status);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	check_counters(_metadata, was);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("# %.1f s in all\n", t1.tv_sec - t0.tv_sec +
	       (t1.tv_nsec - t0.tv_nsec) / 1e9);
	ASSERT_TRUE(WIFEXITED(status));
	if (WEXITSTATUS(status) == KSFT_SKIP)
		SKIP(return, "see above");
	EXPECT_EQ(KSFT_PASS, WEXITSTATUS(status));
}

TEST_F_TIMEOUT(failnth, one, 120)
{
	self->configured = true;
	sweep_shape(_metadata, &variant->shape, FAIL_ONE);
}

TEST_F_TIMEOUT(failnth, from, 120)
{
	self->configured = true;
	sweep_shape(_metadata, &variant->shape, FAIL_FROM);
}

TEST_HARNESS_MAIN
