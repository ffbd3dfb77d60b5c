// SPDX-License-Identifier: GPL-2.0
/*
 * pvmmap_bench: process_vm_mmap(2) against what a user can do instead to
 * get another process's private anonymous memory into its own address
 * space.  Objection 1 of the 2019 review: "needs a benchmark against a
 * reasonable alternative": splice, a memfd mapped in both tasks,
 * process_vm_writev with a 128 KiB buffer; and objection 7: UFFDIO_COPY.
 *
 * Model.  A "source" child holds a range of private anonymous memory (a
 * memfd for the memfd rows) filled with a known pattern.  The parent, the
 * "taker", obtains the same data in its own address space by each
 * mechanism.  Only the transfer is timed (CLOCK_MONOTONIC): creating and
 * filling the source, paging it out, mapping the taker's destination
 * buffer (never prefaulted), checking the result and unmapping it are
 * not.  A fresh source process is forked for every cell (mechanism x
 * backing x size), while the taker holds nothing big, so the source's
 * address space is the range and a small static program.  Each cell runs
 * --warmup untimed runs (cells up to 16 MiB only: under QEMU TCG the first
 * pass over a code path pays for its translation) and then --runs timed
 * runs (--big-runs from 256 MiB); the median and the minimum are reported.
 *
 * Mechanisms: what one run does, and what its time covers.
 *  pvmmap       process_vm_mmap(pid, src, len, 0, 0): the COW clone at the
 *               address the kernel picks; nothing is touched afterwards.
 *               The clone is checked, then unmapped, both untimed.
 *  pvmmap_move  the same with PVMMAP_MOVE.  The source range is created
 *               and filled again before each run (untimed).  The kernel
 *               moves the entries as they are; what cannot move (a page
 *               pinned for DMA, a KSM page, a large folio mapped by PTEs)
 *               it clones and unmaps from the source, copying only the
 *               pinned pages.
 *  pvmmap_move_forked
 *               pvmmap_move of a range that a child of the source shares
 *               since fork(): before each run (untimed) the source forks a
 *               child that only waits, so the entries that move are
 *               write-protected and their pages mapped by two processes;
 *               they still move as they are, copy-on-write shared with
 *               the child.  The child is killed and reaped when the range
 *               is set up again, released, or the source exits (and dies
 *               with the source: PR_SET_PDEATHSIG).
 *  pvmmap_move_pinned
 *               pvmmap_move of a range pinned for DMA: before each run
 *               (untimed) the source registers its range as io_uring fixed
 *               buffers (IORING_REGISTER_BUFFERS, at most 1 GiB per iovec,
 *               RLIMIT_MEMLOCK raised).  The pin holder could still write
 *               a pinned page, so the kernel copies each one into the taker
 *               instead of moving it: the slow path.  The buffers are
 *               unregistered (unpinned) and the ring closed when the range
 *               is set up again, released, or the source exits.  Skipped,
 *               the note saying why, when io_uring is missing or disabled
 *               or the registration fails; skipped for swapped (pinning
 *               swaps the range back in).
 *  readv        one process_vm_readv() of the whole range (one iovec on
 *               each side) into a fresh private anonymous buffer: the page
 *               faults of the destination are in the time.
 *  writev_128k  the source pushes with process_vm_writev(), one call per
 *               128 KiB, into a fresh buffer of the taker whose address it
 *               gets through a pipe; timed in the taker from sending the
 *               request to reading the completion (the faults of the
 *               destination are in the time).
 *  memfd_map    the data lives in a memfd of the source (the taker got the
 *               fd beforehand with pidfd_getfd()); the taker mmaps it
 *               MAP_SHARED | MAP_POPULATE, so its page tables are filled as
 *               pvmmap leaves them.  The result is shared file memory, not
 *               the private anonymous memory a restored task needs.
 *  memfd_copy   the same memfd, mmap MAP_SHARED and memcpy() into a fresh
 *               private anonymous buffer (faults on both sides timed).
 *  vmsplice     the source vmsplice()s its range (no SPLICE_F_GIFT) into a
 *               pipe of 1 MiB (F_SETPIPE_SZ; the note says what was
 *               granted), the taker read()s it into a fresh buffer; timed
 *               from the request to the last byte read.
 *  uffd_copy    the taker registers a fresh range with userfaultfd
 *               (MISSING mode; creating the uffd and registering untimed)
 *               and fills it 1 MiB at a time: process_vm_readv() from the
 *               source into a staging buffer (prefaulted, reused), then
 *               UFFDIO_COPY from there.  Both steps are timed: the data
 *               has to reach the taker somehow, as in a page server.
 *  fork         fork() in the source, which maps the range and nothing
 *               else big: from the call to its return in the parent of the
 *               fork.  The child waits on a pipe until the memory counters
 *               are read, then checks the data and _exit()s; waitpid() is
 *               not timed.  The page-table-copy lower bound.
 *
 * Backings of the source range (and of the taker's destination buffers):
 *  small    4 KiB pages (MADV_NOHUGEPAGE).
 *  thp      2 MiB aligned, MADV_HUGEPAGE; sizes below 2 MiB are skipped.
 *           The fraction really huge is read from smaps_rollup.  For the
 *           memfd rows that depends on shmem_enabled, which is left alone.
 *  swapped  4 KiB pages paged out with MADV_PAGEOUT before every run
 *           (untimed); the fraction swapped is read from smaps_rollup
 *           (Swap).  Skipped when the system has no swap.
 *
 * Columns (the CSV has the raw numbers; report.py turns them into tables):
 *  median_ns, min_ns  of the timed runs.
 *  swapins      the largest /proc/vmstat pswpin delta across the timed
 *               section of one run.
 *  extra_kib    the median over the runs of the drop of free memory
 *               (/proc/zoneinfo: free pages plus the per-CPU free lists,
 *               after /proc/sys/vm/stat_refresh), read just before the
 *               transfer and just after it with the result still held.
 *               System-wide: it counts copies, page tables, pages swapped
 *               back in, slab, and whatever else the system did meanwhile
 *               (tens of KiB when idle).  Not MemAvailable: that leaves
 *               out the per-CPU lists, which move by megabytes at a time.
 *  ok           yes: every run's result was checked page by page; no: a
 *               check or a call failed (the program exits 1); skip: not run
 *               (the note says why).
 *  backing_pct  the smallest share of the source range, over the runs, in
 *               the state its backing names (small: not huge; thp: huge;
 *               swapped: on swap).
 *  dst_thp_pct  the share of the result mapped by PMDs (AnonHugePages, or
 *               ShmemPmdMapped for memfd_map) after the last run.
 *  note         why a cell was skipped or failed, and what it measured.
 *
 * Memory: at most about two copies of the range are held at once (a copy
 * in the taker and the source's pages, swapped back in or not); a cell is
 * skipped when MemAvailable is short of that.  Run as root in the VM:
 * process_vm_*, pidfd_getfd() and process_vm_mmap() need ptrace access to
 * the child (plain same-uid access suffices without Yama), userfaultfd
 * needs root or vm.unprivileged_userfaultfd (UFFD_USER_MODE_ONLY is tried).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/io_uring.h>
#include <linux/mman.h>
#include <linux/userfaultfd.h>

/*
 * The syscall's number and flags: from the patched kernel's uapi headers
 * when built against them, else the selftests' fallbacks.
 */
#include "../tools/testing/selftests/process_vm_mmap/pvmmap.h"
#ifndef __NR_pidfd_getfd
#define __NR_pidfd_getfd	438
#endif
#ifndef __NR_io_uring_setup
#define __NR_io_uring_setup	425
#endif
#ifndef __NR_io_uring_register
#define __NR_io_uring_register	427
#endif
#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT		21
#endif
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ	22
#endif
#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY	1
#endif

#define KiB			(1UL << 10)
#define MiB			(1UL << 20)
#define GiB			(1UL << 30)
#define PMD_SIZE		(2 * MiB)
#define WRITEV_CHUNK		(128 * KiB)
#define UFFD_CHUNK		(1 * MiB)
#define SPLICE_PIPE_SIZE	(1 * MiB)
#define PIN_CHUNK		(1 * GiB)	/* per fixed buffer: older kernels' limit */
#define BIG_SIZE		(256 * MiB)	/* --big-runs from here */
#define WARMUP_MAX_SIZE		(16 * MiB)	/* no warm-up above */
#define MEM_MARGIN		(64 * MiB)
#define MAX_SIZES		16
#define MAX_RUNS		1000
#define NOTE_LEN		192

/* A run's return value when the cell cannot be measured here (not an error). */
#define SKIP			1

static unsigned long page_size;

enum backing { B_SMALL, B_THP, B_SWAPPED, NR_BACKINGS };

static const char *const backing_names[NR_BACKINGS] = {
	"small", "thp", "swapped",
};

/* ---- time, counters ---------------------------------------------------- */

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* The value of "@key <number>" or "@key: <number> kB" in @path, or -1. */
static long long read_key(const char *path, const char *key)
{
	size_t klen = strlen(key);
	long long val = -1;
	char line[256];
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, key, klen) == 0 &&
		    (line[klen] == ' ' || line[klen] == ':' ||
		     line[klen] == '\t')) {
			val = strtoll(line + klen + 1 + (line[klen] == ':'),
				      NULL, 10);
			break;
		}
	}
	fclose(f);
	return val;
}

static long long mem_available_kib(void)
{
	return read_key("/proc/meminfo", "MemAvailable");
}

/*
 * Free memory in KiB, exactly enough to take differences: the free pages
 * of every zone plus the pages on the per-CPU free lists (both from
 * /proc/zoneinfo; MemFree and MemAvailable leave out the per-CPU lists,
 * which the kernel fills and drains by hundreds of pages at a time), after
 * folding the per-CPU counter deltas into the global counters
 * (/proc/sys/vm/stat_refresh, root only).
 */
static long long free_kib(void)
{
	int fd = open("/proc/sys/vm/stat_refresh", O_RDONLY);
	long long pages = 0, v;
	char line[256];
	FILE *f;

	if (fd >= 0) {
		if (read(fd, line, 1) < 0)
			line[0] = 0;
		close(fd);
	}
	f = fopen("/proc/zoneinfo", "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, " pages free %lld", &v) == 1 ||
		    sscanf(line, " count: %lld", &v) == 1)
			pages += v;
	fclose(f);
	return pages * (long long)(page_size / KiB);
}

static long long pswpin(void)
{
	return read_key("/proc/vmstat", "pswpin");
}

/* A field of /proc/<pid>/smaps_rollup in KiB (0 if absent). */
static long long rollup_kib(pid_t pid, const char *key)
{
	char path[64];
	long long v;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", pid);
	else
		snprintf(path, sizeof(path), "/proc/self/smaps_rollup");
	v = read_key(path, key);
	return v < 0 ? 0 : v;
}

static int pct_of(long long kib, unsigned long len)
{
	long long p = kib * 1024 * 100 / (long long)len;

	return p > 100 ? 100 : (p < 0 ? 0 : (int)p);
}

/* ---- the pattern ------------------------------------------------------- */

static bool incompressible;	/* --incompressible */

/*
 * Page @idx of a range filled with @seed: its first word names the page
 * and the fill; the rest is one byte repeated (compresses well in zram:
 * swap-in is then cheap, so say so) or, with --incompressible, xorshift
 * output seeded from the first word.
 */
static uint64_t page_word(unsigned long idx, unsigned int seed)
{
	return ((uint64_t)seed << 44) ^ (idx * 0x9e3779b97f4a7c15ULL) ^ 0x50564d4dULL;
}

static unsigned char page_byte(unsigned long idx, unsigned int seed)
{
	return (unsigned char)(idx * 31 + seed * 7 + 1);
}

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void fill_page(char *p, unsigned long idx, unsigned int seed)
{
	uint64_t w = page_word(idx, seed), s = w | 1;
	uint64_t *q = (uint64_t *)p;

	q[0] = w;
	if (!incompressible) {
		memset(p + 8, page_byte(idx, seed), page_size - 8);
		return;
	}
	for (unsigned long i = 1; i < page_size / 8; i++)
		q[i] = xorshift(&s);
}

static bool page_ok(const char *p, unsigned long idx, unsigned int seed)
{
	uint64_t w = page_word(idx, seed), s = w | 1;
	const uint64_t *q = (const uint64_t *)p;

	if (q[0] != w)
		return false;
	if (!incompressible)
		return (unsigned char)p[8] == page_byte(idx, seed) &&
		       memcmp(p + 8, p + 9, page_size - 9) == 0;
	for (unsigned long i = 1; i < page_size / 8; i++)
		if (q[i] != xorshift(&s))
			return false;
	return true;
}

static void fill_range(char *p, unsigned long len, unsigned int seed)
{
	for (unsigned long off = 0; off < len; off += page_size)
		fill_page(p + off, off / page_size, seed);
}

/* The offset of the first page of @p that is not as filled, or -1. */
static long check_range(const char *p, unsigned long len, unsigned int seed)
{
	for (unsigned long off = 0; off < len; off += page_size)
		if (!page_ok(p + off, off / page_size, seed))
			return (long)off;
	return -1;
}

/* ---- mappings ---------------------------------------------------------- */

/*
 * Map @len bytes for @backing: private anonymous, or @fd shared when
 * @fd >= 0; 2 MiB aligned and MADV_HUGEPAGE for thp, MADV_NOHUGEPAGE
 * otherwise.  Returns NULL with errno set on failure.
 */
static char *map_range(unsigned long len, enum backing backing, int fd)
{
	unsigned long align = backing == B_THP ? PMD_SIZE : page_size;
	unsigned long res, start;
	int flags = fd >= 0 ? MAP_SHARED : MAP_PRIVATE | MAP_ANONYMOUS;
	void *p;

	p = mmap(NULL, len + align, PROT_NONE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	res = (unsigned long)p;
	start = (res + align - 1) & ~(align - 1);
	p = mmap((void *)start, len, PROT_READ | PROT_WRITE, flags | MAP_FIXED,
		 fd, 0);
	if (p == MAP_FAILED) {
		int err = errno;

		munmap((void *)res, len + align);
		errno = err;
		return NULL;
	}
	if (start > res)
		munmap((void *)res, start - res);
	if (res + len + align > start + len)
		munmap((void *)(start + len), res + len + align - start - len);
	madvise(p, len, backing == B_THP ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
	return p;
}

/* ---- the source process ------------------------------------------------ */

enum op { OP_SETUP, OP_PREPARE, OP_WRITEV, OP_VMSPLICE, OP_FORK, OP_SHARE,
	  OP_PIN, OP_RELEASE, OP_EXIT };

/* One request or reply on the pipes between taker and source. */
struct msg {
	int op;
	int err;		/* reply: 0 or an errno */
	int backing;		/* setup */
	int memfd;		/* setup: hold the data in a memfd */
	unsigned long addr;	/* setup reply: the range; writev: the dest */
	unsigned long len;
	unsigned int seed;	/* setup reply */
	int fd;			/* setup reply: the memfd in the source */
	int pct;		/* prepare reply: backing_pct */
	bool ok;		/* fork reply: the child's check */
	int thp_pct;		/* fork reply: the child's PMD share */
	long long ns;		/* fork reply */
	long long swapins;	/* fork reply */
	long long extra_kib;	/* fork reply */
	bool ring;		/* pin reply: err is the registration's */
};

static void die(const char *what)
{
	fprintf(stderr, "bench: %s: %s\n", what, strerror(errno));
	exit(2);
}

static void send_msg(int fd, const struct msg *m)
{
	if (write(fd, m, sizeof(*m)) != sizeof(*m))
		die("pipe write");
}

static void recv_msg(int fd, struct msg *m)
{
	ssize_t n = read(fd, m, sizeof(*m));

	if (n != sizeof(*m)) {
		if (n >= 0)
			errno = EPIPE;
		die("pipe read (the source died?)");
	}
}

struct source {
	pid_t taker;
	int cmd_r, rep_w, splice_w;
	pid_t sharer;		/* a child sharing the range since fork(), or 0 */
	int ring;		/* an io_uring pinning the range, or -1 */
	enum backing backing;
	bool memfd;
	int fd;
	char *addr;
	unsigned long len;
	unsigned int seed;
};

/*
 * Undo source_share() and source_pin() before the range is set up again,
 * released, or the source exits: kill and reap the sharer (its copy of the
 * range goes with it, and children do not pile up over the runs), and
 * unregister the buffers, which unpins them in this call rather than in the
 * ring's teardown, which the kernel defers to a worker after close().
 */
static void source_drop(struct source *s)
{
	if (s->sharer > 0) {
		kill(s->sharer, SIGKILL);
		waitpid(s->sharer, NULL, 0);
		s->sharer = 0;
	}
	if (s->ring >= 0) {
		syscall(__NR_io_uring_register, s->ring,
			IORING_UNREGISTER_BUFFERS, NULL, 0);
		close(s->ring);
		s->ring = -1;
	}
}

static int source_setup(struct source *s, const struct msg *req,
			struct msg *rep)
{
	static unsigned int seed;

	source_drop(s);
	s->backing = req->backing;
	s->memfd = req->memfd;
	s->len = req->len;
	s->fd = -1;
	if (s->memfd) {
		s->fd = memfd_create("pvmmap_bench", 0);
		if (s->fd < 0)
			return errno;
		if (ftruncate(s->fd, s->len))
			return errno;
	}
	s->addr = map_range(s->len, s->backing, s->fd);
	if (!s->addr)
		return errno;
	s->seed = ++seed + (getpid() << 8);
	fill_range(s->addr, s->len, s->seed);
	rep->addr = (unsigned long)s->addr;
	rep->seed = s->seed;
	rep->fd = s->fd;
	return 0;
}

static bool all_swapped(struct source *s)
{
	return rollup_kib(0, "Swap") * (long long)KiB >= (long long)s->len;
}

/*
 * Page the range out.  MADV_PAGEOUT only sees pages mapped by the caller:
 * memfd pages the taker swapped in are in the page cache but not in the
 * source's page tables, so map them first.  It also skips pages still in
 * a CPU's batch of pages waiting to be added to the LRU (just faulted or
 * swapped in, maybe by the taker on another CPU); madvise() drains the
 * batch of the CPU it runs on, so while some pages stay in, run it again
 * on each CPU (a few rounds at most: the caller reports what is left).
 */
static int source_pageout(struct source *s)
{
	cpu_set_t all, one;

	if (s->memfd && madvise(s->addr, s->len, MADV_POPULATE_READ)) {
		for (unsigned long off = 0; off < s->len; off += page_size)
			(void)*(volatile char *)(s->addr + off);
	}
	if (madvise(s->addr, s->len, MADV_PAGEOUT))
		return errno;
	if (all_swapped(s) || sched_getaffinity(0, sizeof(all), &all))
		return 0;
	for (int round = 0; round < 3 && !all_swapped(s); round++) {
		for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
			if (!CPU_ISSET(cpu, &all))
				continue;
			CPU_ZERO(&one);
			CPU_SET(cpu, &one);
			if (sched_setaffinity(0, sizeof(one), &one) == 0 &&
			    madvise(s->addr, s->len, MADV_PAGEOUT))
				return errno;
		}
	}
	sched_setaffinity(0, sizeof(all), &all);
	return 0;
}

/*
 * Before each run: put the range back in the state its backing names.
 * Swapped: page it out.  Otherwise write the first word of every page
 * again (with its own value), so that PTEs a COW clone or fork
 * write-protected are writable again, as in a process that is running.
 */
static int source_prepare(struct source *s, struct msg *rep)
{
	long long huge;

	if (s->backing == B_SWAPPED) {
		int err = source_pageout(s);

		if (err)
			return err;
	} else {
		for (unsigned long off = 0; off < s->len; off += page_size)
			*(volatile uint64_t *)(s->addr + off) =
				page_word(off / page_size, s->seed);
	}
	huge = rollup_kib(0, s->memfd ? "ShmemPmdMapped" : "AnonHugePages");
	switch (s->backing) {
	case B_SMALL:
		rep->pct = 100 - pct_of(huge, s->len);
		break;
	case B_THP:
		rep->pct = pct_of(huge, s->len);
		break;
	default:
		rep->pct = pct_of(rollup_kib(0, "Swap"), s->len);
		break;
	}
	return 0;
}

static int source_writev(struct source *s, const struct msg *req)
{
	for (unsigned long off = 0; off < s->len;) {
		unsigned long n = s->len - off < WRITEV_CHUNK ?
				  s->len - off : WRITEV_CHUNK;
		struct iovec l = { s->addr + off, n };
		struct iovec r = { (void *)(req->addr + off), n };
		ssize_t done = process_vm_writev(s->taker, &l, 1, &r, 1, 0);

		if (done <= 0)
			return done < 0 ? errno : EIO;
		off += done;
	}
	return 0;
}

static int source_vmsplice(struct source *s)
{
	for (unsigned long off = 0; off < s->len;) {
		struct iovec iov = { s->addr + off, s->len - off };
		ssize_t n = vmsplice(s->splice_w, &iov, 1, 0);

		if (n <= 0)
			return n < 0 ? errno : EIO;
		off += n;
	}
	return 0;
}

struct fork_result {
	bool ok;
	int thp_pct;
};

/* Time fork() with the range mapped; the child checks its copy. */
static int source_fork(struct source *s, struct msg *rep)
{
	long long before, in, t0, t1;
	struct fork_result fr = { false, -1 };
	int go[2], res[2], status;
	pid_t pid;

	if (pipe(go) || pipe(res))
		return errno;
	before = free_kib();
	in = pswpin();
	t0 = now_ns();
	pid = fork();
	t1 = now_ns();
	if (pid == 0) {
		char c;

		if (read(go[0], &c, 1) != 1)
			_exit(1);
		fr.ok = check_range(s->addr, s->len, s->seed) < 0;
		fr.thp_pct = pct_of(rollup_kib(0, s->memfd ? "ShmemPmdMapped" :
						   "AnonHugePages"), s->len);
		_exit(write(res[1], &fr, sizeof(fr)) == sizeof(fr) ? 0 : 1);
	}
	if (pid < 0)
		return errno;
	rep->ns = t1 - t0;
	rep->extra_kib = before - free_kib();
	rep->swapins = pswpin() - in;
	if (write(go[1], "v", 1) != 1 ||
	    read(res[0], &fr, sizeof(fr)) != sizeof(fr))
		fr.ok = false;
	waitpid(pid, &status, 0);
	rep->ok = fr.ok && WIFEXITED(status) && WEXITSTATUS(status) == 0;
	rep->thp_pct = fr.thp_pct;
	close(go[0]);
	close(go[1]);
	close(res[0]);
	close(res[1]);
	return 0;
}

/*
 * Fork a child that keeps the range mapped, as a child of a task that
 * gives its memory away would: fork() write-protects the entries on both
 * sides and the pages are then mapped twice.  The child only waits to be
 * killed by source_drop(), and dies with the source.  It says it is ready
 * (its prctl() done) before the reply, so that nothing of it runs in the
 * taker's timed section.
 */
static int source_share(struct source *s)
{
	pid_t parent = getpid();
	int ready[2], err;
	ssize_t n;
	char c;

	source_drop(s);
	if (pipe(ready))
		return errno;
	s->sharer = fork();
	if (s->sharer == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(1);
		/* Keep no end of the taker's pipes open past the source. */
		close(s->cmd_r);
		close(s->rep_w);
		close(s->splice_w);
		close(ready[0]);
		if (write(ready[1], "r", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	err = s->sharer < 0 ? errno : 0;
	close(ready[1]);
	if (s->sharer < 0) {
		s->sharer = 0;
		close(ready[0]);
		return err;
	}
	n = read(ready[0], &c, 1);
	close(ready[0]);
	if (n != 1) {
		source_drop(s);
		return ECHILD;
	}
	return 0;
}

/*
 * Pin the range for DMA as an io_uring user or a driver would: register it
 * as io_uring fixed buffers (FOLL_PIN | FOLL_LONGTERM), at most PIN_CHUNK
 * per iovec and UIO_MAXIOV iovecs.  The pins last until source_drop().
 * Pinned pages count against RLIMIT_MEMLOCK without CAP_IPC_LOCK: raise it,
 * to infinity as root, else the soft limit to the hard one (the
 * registration then says ENOMEM if that was not enough).
 */
static int source_pin(struct source *s, struct msg *rep)
{
	struct rlimit lim = { RLIM_INFINITY, RLIM_INFINITY };
	struct io_uring_params params = { 0 };
	unsigned long nr = (s->len + PIN_CHUNK - 1) / PIN_CHUNK;
	struct iovec *iov;
	int err = 0;

	source_drop(s);
	if (nr > UIO_MAXIOV)
		return E2BIG;
	iov = calloc(nr, sizeof(*iov));
	if (!iov)
		return ENOMEM;
	for (unsigned long i = 0; i < nr; i++) {
		iov[i].iov_base = s->addr + i * PIN_CHUNK;
		iov[i].iov_len = s->len - i * PIN_CHUNK < PIN_CHUNK ?
				 s->len - i * PIN_CHUNK : PIN_CHUNK;
	}
	if (setrlimit(RLIMIT_MEMLOCK, &lim) &&
	    getrlimit(RLIMIT_MEMLOCK, &lim) == 0) {
		lim.rlim_cur = lim.rlim_max;
		setrlimit(RLIMIT_MEMLOCK, &lim);
	}
	s->ring = syscall(__NR_io_uring_setup, 1, &params);
	if (s->ring < 0) {
		err = errno;
		s->ring = -1;
	} else if (syscall(__NR_io_uring_register, s->ring,
			   IORING_REGISTER_BUFFERS, iov, nr) < 0) {
		err = errno;
		rep->ring = true;
		close(s->ring);
		s->ring = -1;
	}
	free(iov);
	return err;
}

static void source_release(struct source *s)
{
	source_drop(s);
	/* After PVMMAP_MOVE the range is gone already: munmap() is a no-op. */
	if (s->addr)
		munmap(s->addr, s->len);
	if (s->fd >= 0)
		close(s->fd);
	s->addr = NULL;
	s->fd = -1;
}

static void source_main(int cmd_r, int rep_w, int splice_w, pid_t taker)
{
	struct source s = { .taker = taker, .cmd_r = cmd_r, .rep_w = rep_w,
			    .splice_w = splice_w, .fd = -1, .ring = -1 };
	struct msg req, rep;

	for (;;) {
		recv_msg(cmd_r, &req);
		memset(&rep, 0, sizeof(rep));
		rep.op = req.op;
		switch (req.op) {
		case OP_SETUP:
			rep.err = source_setup(&s, &req, &rep);
			break;
		case OP_PREPARE:
			rep.err = source_prepare(&s, &rep);
			break;
		case OP_WRITEV:
			rep.err = source_writev(&s, &req);
			break;
		case OP_VMSPLICE:
			rep.err = source_vmsplice(&s);
			break;
		case OP_FORK:
			rep.err = source_fork(&s, &rep);
			break;
		case OP_SHARE:
			rep.err = source_share(&s);
			break;
		case OP_PIN:
			rep.err = source_pin(&s, &rep);
			break;
		case OP_RELEASE:
			source_release(&s);
			break;
		case OP_EXIT:
			source_drop(&s);
			_exit(0);
		}
		send_msg(rep_w, &rep);
	}
}

/* ---- the taker's side of a cell ---------------------------------------- */

struct ctx;
struct run;

/* A mechanism: how one run gets the range into the taker. */
struct mech {
	const char *name;
	int (*run)(struct ctx *x, struct run *r);
	bool pvmmap;		/* needs process_vm_mmap */
	bool memfd;		/* the source's data lives in a memfd */
	bool fresh;		/* the run consumes the source range */
	int copies;		/* copies of the range held at once */
	const char *what;	/* the definition, for the notes */
};

/* One cell's context in the taker. */
struct ctx {
	const struct mech *mech;
	enum backing backing;
	unsigned long len;
	pid_t src;
	int cmd_w, rep_r, splice_r;
	unsigned long src_addr;
	unsigned int seed;
	int src_fd;		/* the memfd's number in the source */
	int memfd;		/* the taker's copy of it */
	int uffd;
	char *staging;
	char note[NOTE_LEN];
	char failure[NOTE_LEN];
};

/* One timed run. */
struct run {
	long long ns;
	long long swapins;
	long long extra_kib;
	int thp_pct;		/* -1: not measured */
	bool ok;
};

/* The counters around the timed section. */
struct span {
	long long t, free, swapin;
};

static void span_begin(struct span *s)
{
	s->free = free_kib();
	s->swapin = pswpin();
	s->t = now_ns();
}

static void span_end(const struct span *s, struct run *r)
{
	r->ns = now_ns() - s->t;
	r->extra_kib = s->free - free_kib();
	r->swapins = pswpin() - s->swapin;
}

static struct msg request(struct ctx *x, struct msg *req)
{
	struct msg rep;

	send_msg(x->cmd_w, req);
	recv_msg(x->rep_r, &rep);
	return rep;
}

static void add_note(char *note, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void add_note(char *note, const char *fmt, ...)
{
	size_t n = strlen(note);
	va_list ap;

	if (n && n + 2 < NOTE_LEN) {
		strcpy(note + n, "; ");
		n += 2;
	}
	va_start(ap, fmt);
	vsnprintf(note + n, NOTE_LEN - n, fmt, ap);
	va_end(ap);
}

/* Check the taker's result @p, untimed; a mismatch is loud. */
static bool check_result(struct ctx *x, const char *p, struct run *r)
{
	long off = check_range(p, x->len, x->seed);

	if (off < 0)
		return true;
	fprintf(stderr,
		"bench: FAIL: %s %s %lu: page at offset %ld of the result differs from the source's data\n",
		x->mech->name, backing_names[x->backing], x->len, off);
	if (!x->failure[0])
		snprintf(x->failure, NOTE_LEN, "data differs at offset %ld",
			 off);
	r->ok = false;
	return false;
}

static int result_thp_pct(struct ctx *x, const char *key)
{
	return pct_of(rollup_kib(0, key), x->len);
}

static int run_pvmmap_flags(struct ctx *x, struct run *r, unsigned long flags)
{
	struct span s;
	long addr;

	span_begin(&s);
	addr = sys_process_vm_mmap(x->src, x->src_addr, x->len, 0, flags);
	span_end(&s, r);
	if (addr == -1)
		return -errno;
	r->thp_pct = result_thp_pct(x, "AnonHugePages");
	r->ok = true;
	check_result(x, (const char *)addr, r);
	munmap((void *)addr, x->len);
	return 0;
}

static int run_pvmmap(struct ctx *x, struct run *r)
{
	return run_pvmmap_flags(x, r, 0);
}

static int run_pvmmap_move(struct ctx *x, struct run *r)
{
	return run_pvmmap_flags(x, r, PVMMAP_MOVE);
}

/* PVMMAP_MOVE of a range a child of the source shares (forked untimed). */
static int run_pvmmap_move_forked(struct ctx *x, struct run *r)
{
	struct msg req = { .op = OP_SHARE }, rep;

	rep = request(x, &req);
	if (rep.err)
		return -rep.err;
	return run_pvmmap_flags(x, r, PVMMAP_MOVE);
}

/*
 * PVMMAP_MOVE of a range pinned as io_uring fixed buffers (untimed): the
 * kernel copies the pinned pages.  No io_uring, or a registration this
 * system refuses, is not an error of process_vm_mmap(): skip, saying why.
 */
static int run_pvmmap_move_pinned(struct ctx *x, struct run *r)
{
	struct msg req = { .op = OP_PIN }, rep;

	rep = request(x, &req);
	if (rep.err) {
		snprintf(x->note, NOTE_LEN, "%s: %s",
			 rep.ring ? "IORING_REGISTER_BUFFERS failed" :
				    "no io_uring: io_uring_setup",
			 strerror(rep.err));
		return SKIP;
	}
	return run_pvmmap_flags(x, r, PVMMAP_MOVE);
}

/* A fresh destination buffer of the taker, not faulted in. */
static char *dest_buffer(struct ctx *x)
{
	return map_range(x->len, x->backing, -1);
}

/* Check, measure and unmap a private anonymous result. */
static void finish_private(struct ctx *x, char *dst, struct run *r)
{
	r->thp_pct = result_thp_pct(x, "AnonHugePages");
	r->ok = true;
	check_result(x, dst, r);
	munmap(dst, x->len);
}

static int run_readv(struct ctx *x, struct run *r)
{
	char *dst = dest_buffer(x);
	struct span s;
	int err = 0;

	if (!dst)
		return -errno;
	span_begin(&s);
	for (unsigned long off = 0; off < x->len;) {
		struct iovec l = { dst + off, x->len - off };
		struct iovec rv = { (void *)(x->src_addr + off), x->len - off };
		ssize_t n = process_vm_readv(x->src, &l, 1, &rv, 1, 0);

		if (n <= 0) {
			err = n < 0 ? -errno : -EIO;
			break;
		}
		off += n;
	}
	span_end(&s, r);
	if (err) {
		munmap(dst, x->len);
		return err;
	}
	finish_private(x, dst, r);
	return 0;
}

static int run_writev(struct ctx *x, struct run *r)
{
	char *dst = dest_buffer(x);
	struct msg req = { .op = OP_WRITEV }, rep;
	struct span s;

	if (!dst)
		return -errno;
	req.addr = (unsigned long)dst;
	span_begin(&s);
	rep = request(x, &req);
	span_end(&s, r);
	if (rep.err) {
		munmap(dst, x->len);
		return -rep.err;
	}
	finish_private(x, dst, r);
	return 0;
}

/* Get the source's memfd into the taker (untimed, once per cell). */
static int take_memfd(struct ctx *x)
{
	int pidfd = syscall(__NR_pidfd_open, x->src, 0);
	char path[64];

	if (pidfd >= 0) {
		x->memfd = syscall(__NR_pidfd_getfd, pidfd, x->src_fd, 0);
		close(pidfd);
	}
	if (x->memfd < 0) {
		snprintf(path, sizeof(path), "/proc/%d/fd/%d", x->src, x->src_fd);
		x->memfd = open(path, O_RDWR);
	}
	return x->memfd < 0 ? -errno : 0;
}

static int run_memfd_map(struct ctx *x, struct run *r)
{
	struct span s;
	char *p;

	span_begin(&s);
	p = mmap(NULL, x->len, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_POPULATE, x->memfd, 0);
	span_end(&s, r);
	if (p == MAP_FAILED)
		return -errno;
	r->thp_pct = result_thp_pct(x, "ShmemPmdMapped");
	r->ok = true;
	check_result(x, p, r);
	munmap(p, x->len);
	return 0;
}

static int run_memfd_copy(struct ctx *x, struct run *r)
{
	char *dst = dest_buffer(x), *p;
	struct span s;

	if (!dst)
		return -errno;
	span_begin(&s);
	p = mmap(NULL, x->len, PROT_READ, MAP_SHARED, x->memfd, 0);
	if (p != MAP_FAILED)
		memcpy(dst, p, x->len);
	span_end(&s, r);
	if (p == MAP_FAILED) {
		munmap(dst, x->len);
		return -errno;
	}
	munmap(p, x->len);
	finish_private(x, dst, r);
	return 0;
}

static int run_vmsplice(struct ctx *x, struct run *r)
{
	char *dst = dest_buffer(x);
	struct msg req = { .op = OP_VMSPLICE }, rep = { .err = 0 };
	struct pollfd pfd[2] = {
		{ .fd = x->splice_r, .events = POLLIN },
		{ .fd = x->rep_r, .events = POLLIN },
	};
	unsigned long off = 0;
	bool replied = false;
	struct span s;
	int err = 0;

	if (!dst)
		return -errno;
	span_begin(&s);
	send_msg(x->cmd_w, &req);
	while (off < x->len) {
		ssize_t n = read(x->splice_r, dst + off, x->len - off);

		if (n > 0) {
			off += n;
			continue;
		}
		if (n == 0) {		/* the source is gone */
			err = -EPIPE;
			break;
		}
		if (errno != EAGAIN) {
			err = -errno;
			break;
		}
		/* The pipe is empty: wait for data or a failed source. */
		if (poll(pfd, 2, -1) < 0) {
			err = -errno;
			break;
		}
		if (!replied && (pfd[1].revents & POLLIN)) {
			recv_msg(x->rep_r, &rep);
			replied = true;
			pfd[1].fd = -1;
			if (rep.err) {
				err = -rep.err;
				break;
			}
		}
	}
	if (!replied)
		recv_msg(x->rep_r, &rep);
	span_end(&s, r);
	if (!err && rep.err)
		err = -rep.err;
	if (err) {
		munmap(dst, x->len);
		return err;
	}
	finish_private(x, dst, r);
	return 0;
}

/* A userfaultfd for the cell, and the staging buffer (untimed). */
static int uffd_open(struct ctx *x)
{
	struct uffdio_api api = { .api = UFFD_API };
	int flags = O_CLOEXEC | O_NONBLOCK;

	x->uffd = syscall(__NR_userfaultfd, flags);
	if (x->uffd < 0 && errno == EPERM)
		x->uffd = syscall(__NR_userfaultfd, flags | UFFD_USER_MODE_ONLY);
#ifdef USERFAULTFD_IOC_NEW
	if (x->uffd < 0) {
		int dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);

		if (dev >= 0) {
			x->uffd = ioctl(dev, USERFAULTFD_IOC_NEW, flags);
			close(dev);
		}
	}
#endif
	if (x->uffd < 0) {
		snprintf(x->note, NOTE_LEN, "no userfaultfd: %s",
			 strerror(errno));
		return SKIP;
	}
	if (ioctl(x->uffd, UFFDIO_API, &api))
		return -errno;
	x->staging = map_range(UFFD_CHUNK, B_SMALL, -1);
	if (!x->staging)
		return -errno;
	memset(x->staging, 0, UFFD_CHUNK);
	return 0;
}

static int uffd_copy_chunk(struct ctx *x, char *dst, unsigned long n)
{
	unsigned long done = 0;

	while (done < n) {
		struct uffdio_copy c = {
			.dst = (unsigned long)dst + done,
			.src = (unsigned long)x->staging + done,
			.len = n - done,
		};

		if (ioctl(x->uffd, UFFDIO_COPY, &c) == 0) {
			done += c.len;
			continue;
		}
		if (errno != EAGAIN || c.copy <= 0)
			return -errno;
		done += c.copy;
	}
	return 0;
}

static int run_uffd_copy(struct ctx *x, struct run *r)
{
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };
	struct uffdio_range range;
	struct span s;
	char *dst;
	int err = 0;

	if (x->uffd < 0) {
		err = uffd_open(x);
		if (err)
			return err;
	}
	dst = dest_buffer(x);
	if (!dst)
		return -errno;
	reg.range.start = (unsigned long)dst;
	reg.range.len = x->len;
	if (ioctl(x->uffd, UFFDIO_REGISTER, &reg)) {
		err = -errno;
		munmap(dst, x->len);
		return err;
	}
	span_begin(&s);
	for (unsigned long off = 0; off < x->len && !err;) {
		unsigned long n = x->len - off < UFFD_CHUNK ? x->len - off :
							       UFFD_CHUNK;
		struct iovec l = { x->staging, n };
		struct iovec rv = { (void *)(x->src_addr + off), n };
		ssize_t got = process_vm_readv(x->src, &l, 1, &rv, 1, 0);

		if (got <= 0) {
			err = got < 0 ? -errno : -EIO;
			break;
		}
		err = uffd_copy_chunk(x, dst + off, got);
		off += got;
	}
	span_end(&s, r);
	range = reg.range;
	ioctl(x->uffd, UFFDIO_UNREGISTER, &range);
	if (err) {
		munmap(dst, x->len);
		return err;
	}
	finish_private(x, dst, r);
	return 0;
}

static int run_fork(struct ctx *x, struct run *r)
{
	struct msg req = { .op = OP_FORK }, rep;

	rep = request(x, &req);
	if (rep.err)
		return -rep.err;
	r->ns = rep.ns;
	r->swapins = rep.swapins;
	r->extra_kib = rep.extra_kib;
	r->thp_pct = rep.thp_pct;
	r->ok = rep.ok;
	if (!rep.ok) {
		fprintf(stderr, "bench: FAIL: fork %s %lu: the child's copy differs from the source's data\n",
			backing_names[x->backing], x->len);
		snprintf(x->failure, NOTE_LEN, "the fork child's data differs");
	}
	return 0;
}

/* ---- the mechanisms ---------------------------------------------------- */

static const struct mech mechs[] = {
	{ "pvmmap", run_pvmmap, true, false, false, 1,
	  "process_vm_mmap(pid, src, len, 0, 0): COW clone, nothing touched after" },
	{ "pvmmap_move", run_pvmmap_move, true, false, true, 1,
	  "process_vm_mmap(.., PVMMAP_MOVE); source set up again before each run" },
	{ "pvmmap_move_forked", run_pvmmap_move_forked, true, false, true, 1,
	  "pvmmap_move of a range a child of the source shares since fork() (forked untimed)" },
	{ "pvmmap_move_pinned", run_pvmmap_move_pinned, true, false, true, 2,
	  "pvmmap_move of a range pinned as io_uring fixed buffers (untimed): pinned pages are copied" },
	{ "readv", run_readv, false, false, false, 2,
	  "one process_vm_readv() into a fresh private buffer; its faults are timed" },
	{ "writev_128k", run_writev, false, false, false, 2,
	  "source pushes with process_vm_writev(), one call per 128 KiB; request to completion" },
	{ "memfd_map", run_memfd_map, false, true, false, 1,
	  "source data in a memfd; taker mmap(MAP_SHARED|MAP_POPULATE): shared, not private anon" },
	{ "memfd_copy", run_memfd_copy, false, true, false, 2,
	  "memfd mmap(MAP_SHARED) + memcpy() into a fresh private buffer" },
	{ "vmsplice", run_vmsplice, false, false, false, 2,
	  "source vmsplice()s into a pipe, taker read()s into a fresh buffer" },
	{ "uffd_copy", run_uffd_copy, false, false, false, 2,
	  "per 1 MiB: process_vm_readv() to a staging buffer + UFFDIO_COPY into a registered range" },
	{ "fork", run_fork, false, false, false, 1,
	  "fork() of the source holding the range: call to return in the parent" },
};

#define NR_MECHS ((int)(sizeof(mechs) / sizeof(mechs[0])))

/* ---- cells ------------------------------------------------------------- */

enum status { ST_OK, ST_FAIL, ST_SKIP };

struct cell {
	int mech;
	enum backing backing;
	unsigned long size;
	enum status status;
	int runs;
	long long median_ns, min_ns, swapins, extra_kib;
	int backing_pct, dst_thp_pct;
	char note[NOTE_LEN];
};

struct opts {
	unsigned long sizes[MAX_SIZES];
	int nr_sizes;
	unsigned long max_size;
	bool mech_on[NR_MECHS];
	bool backing_on[NR_BACKINGS];
	int runs, big_runs, warmup;
	const char *csv;
};

static struct opts opt = {
	.runs = 5, .big_runs = 3, .warmup = 1, .csv = "/tmp/bench.csv",
};

static bool pvmmap_ok;
static char pvmmap_why[NOTE_LEN];
static bool any_failed;

static int cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return x < y ? -1 : x > y;
}

static long long median(long long *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_ll);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int start_source(struct ctx *x)
{
	int cmd[2], rep[2], spl[2];
	pid_t taker = getpid();
	int sz;

	if (pipe(cmd) || pipe(rep) || pipe2(spl, O_NONBLOCK))
		return -errno;
	sz = fcntl(spl[1], F_SETPIPE_SZ, SPLICE_PIPE_SIZE);
	if (sz < 0)
		sz = fcntl(spl[1], F_GETPIPE_SZ);
	if (strcmp(x->mech->name, "vmsplice") == 0)
		add_note(x->note, "pipe %d KiB", sz / 1024);
	/* The source blocks in vmsplice(): only the taker's end is O_NONBLOCK. */
	fcntl(spl[1], F_SETFL, 0);
	x->src = fork();
	if (x->src < 0)
		return -errno;
	if (x->src == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != taker)
			_exit(1);
		close(cmd[1]);
		close(rep[0]);
		close(spl[0]);
		source_main(cmd[0], rep[1], spl[1], taker);
	}
	close(cmd[0]);
	close(rep[1]);
	close(spl[1]);
	x->cmd_w = cmd[1];
	x->rep_r = rep[0];
	x->splice_r = spl[0];
	return 0;
}

static void stop_source(struct ctx *x)
{
	struct msg req = { .op = OP_EXIT };

	send_msg(x->cmd_w, &req);
	waitpid(x->src, NULL, 0);
	close(x->cmd_w);
	close(x->rep_r);
	close(x->splice_r);
	if (x->memfd >= 0)
		close(x->memfd);
	if (x->uffd >= 0)
		close(x->uffd);
	if (x->staging)
		munmap(x->staging, UFFD_CHUNK);
}

static int setup_source(struct ctx *x)
{
	struct msg req = { .op = OP_SETUP, .backing = x->backing,
			   .memfd = x->mech->memfd, .len = x->len }, rep;

	rep = request(x, &req);
	if (rep.err)
		return -rep.err;
	x->src_addr = rep.addr;
	x->seed = rep.seed;
	x->src_fd = rep.fd;
	if (x->mech->memfd && x->memfd < 0)
		return take_memfd(x);
	return 0;
}

static bool thp_too_small(const struct cell *c)
{
	return c->backing == B_THP && c->size < PMD_SIZE;
}

/* Why @c cannot run here, in its note; false if it can. */
static bool cell_skipped(struct cell *c)
{
	const struct mech *m = &mechs[c->mech];
	long long avail = mem_available_kib() * KiB;
	int copies = m->copies;

	if (thp_too_small(c)) {
		snprintf(c->note, NOTE_LEN, "smaller than a huge page");
		return true;
	}
	if (c->backing == B_SWAPPED && read_key("/proc/meminfo", "SwapTotal") <= 0) {
		snprintf(c->note, NOTE_LEN, "no swap (SwapTotal 0)");
		return true;
	}
	if (c->backing == B_SWAPPED && m->run == run_pvmmap_move_pinned) {
		snprintf(c->note, NOTE_LEN, "pinning swaps the range back in");
		return true;
	}
	if (m->pvmmap && !pvmmap_ok) {
		snprintf(c->note, NOTE_LEN, "%s", pvmmap_why);
		return true;
	}
	/* Checking a swapped result swaps it in; zram holds random data whole. */
	if (c->backing == B_SWAPPED && copies < 2)
		copies = 2;
	if (c->backing == B_SWAPPED && incompressible)
		copies++;
	if (avail < (long long)(copies * c->size + MEM_MARGIN)) {
		snprintf(c->note, NOTE_LEN,
			 "needs %lu MiB, MemAvailable %lld MiB",
			 (copies * c->size + MEM_MARGIN) / MiB, avail / MiB);
		return true;
	}
	return false;
}

static const char *size_str(unsigned long size, char *buf, size_t n)
{
	if (size >= GiB && size % GiB == 0)
		snprintf(buf, n, "%luG", size / GiB);
	else if (size >= MiB && size % MiB == 0)
		snprintf(buf, n, "%luM", size / MiB);
	else if (size % KiB == 0)
		snprintf(buf, n, "%luK", size / KiB);
	else
		snprintf(buf, n, "%lu", size);
	return buf;
}

static const char *time_str(long long ns, char *buf, size_t n)
{
	if (ns < 10000)
		snprintf(buf, n, "%lld ns", ns);
	else if (ns < 10000000)
		snprintf(buf, n, "%.1f us", ns / 1e3);
	else if (ns < 10000000000LL)
		snprintf(buf, n, "%.1f ms", ns / 1e6);
	else
		snprintf(buf, n, "%.2f s", ns / 1e9);
	return buf;
}

static void run_cell(struct cell *c, int idx, int total)
{
	const struct mech *m = &mechs[c->mech];
	struct ctx x = { .mech = m, .backing = c->backing, .len = c->size,
			 .memfd = -1, .uffd = -1 };
	int runs = c->size >= BIG_SIZE ? opt.big_runs : opt.runs;
	int warm = c->size <= WARMUP_MAX_SIZE ? opt.warmup : 0;
	long long ns[MAX_RUNS], extra[MAX_RUNS];
	char sbuf[24], tbuf[32];
	int err = 0, done = 0;

	c->status = ST_SKIP;
	c->backing_pct = -1;
	c->dst_thp_pct = -1;
	if (cell_skipped(c))
		goto out;
	err = start_source(&x);
	if (err)
		goto fail;
	if (!m->fresh)
		err = setup_source(&x);
	c->backing_pct = 100;
	for (int i = 0; !err && i < warm + runs; i++) {
		struct msg req = { .op = OP_PREPARE }, rep;
		struct run r = { .thp_pct = -1 };

		if (m->fresh)
			err = setup_source(&x);
		if (err)
			break;
		rep = request(&x, &req);
		if (rep.err) {
			err = -rep.err;
			break;
		}
		err = m->run(&x, &r);
		if (err)
			break;
		if (!r.ok)
			c->status = ST_FAIL;
		if (i < warm)
			continue;
		if (rep.pct < c->backing_pct)
			c->backing_pct = rep.pct;
		ns[done] = r.ns;
		extra[done] = r.extra_kib;
		if (r.swapins > c->swapins)
			c->swapins = r.swapins;
		c->dst_thp_pct = r.thp_pct;
		done++;
	}
	if (!err) {
		struct msg req = { .op = OP_RELEASE };

		request(&x, &req);
	}
	stop_source(&x);
	snprintf(c->note, NOTE_LEN, "%s", x.note);
	if (err == SKIP) {
		c->status = ST_SKIP;
		c->backing_pct = -1;
		goto out;
	}
	if (err)
		goto fail;
	c->runs = done;
	c->median_ns = median(ns, done);
	c->min_ns = ns[0];	/* sorted by median() */
	c->extra_kib = median(extra, done);
	if (c->status == ST_FAIL) {
		add_note(c->note, "%s", x.failure);
		any_failed = true;
	} else {
		c->status = ST_OK;
	}
	if (c->backing == B_SWAPPED && c->backing_pct < 100)
		add_note(c->note, "source only %d%% swapped out",
			 c->backing_pct);
	if (c->backing == B_THP && c->backing_pct < 100)
		add_note(c->note, "source only %d%% huge", c->backing_pct);
	goto out;
fail:
	c->status = ST_FAIL;
	c->runs = done;
	if (done) {
		c->median_ns = median(ns, done);
		c->min_ns = ns[0];
		c->extra_kib = median(extra, done);
	} else {
		c->backing_pct = -1;
	}
	add_note(c->note, "error: %s", strerror(-err));
	fprintf(stderr, "bench: FAIL: %s %s %lu: %s\n", m->name,
		backing_names[c->backing], c->size, strerror(-err));
	any_failed = true;
out:
	fprintf(stderr, "bench: [%d/%d] %-18s %-7s %5s: ", idx, total, m->name,
		backing_names[c->backing], size_str(c->size, sbuf, sizeof(sbuf)));
	if (c->status == ST_SKIP)
		fprintf(stderr, "skipped (%s)\n", c->note);
	else
		fprintf(stderr, "%s median of %d%s%s\n",
			c->runs ? time_str(c->median_ns, tbuf, sizeof(tbuf)) : "-",
			c->runs, c->status == ST_OK ? "" : "  FAILED: ",
			c->status == ST_OK ? "" : c->note);
}

/* ---- the probe --------------------------------------------------------- */

/*
 * Is process_vm_mmap() here?  Only ENOSYS skips its cells; any other
 * failure of a one-page self-clone is reported, and the cells run (and
 * fail) to show what happens at each size.
 */
static void probe_pvmmap(void)
{
	char *p = map_range(page_size, B_SMALL, -1);
	long addr;

	if (!p)
		die("mmap");
	fill_range(p, page_size, 1);
	addr = sys_process_vm_mmap(getpid(), (unsigned long)p, page_size, 0, 0);
	if (addr == -1 && errno == ENOSYS) {
		snprintf(pvmmap_why, NOTE_LEN,
			 "ENOSYS: this kernel has no process_vm_mmap");
	} else if (addr == -1) {
		pvmmap_ok = true;
		snprintf(pvmmap_why, NOTE_LEN,
			 "FAIL: a one-page self clone failed: %s",
			 strerror(errno));
	} else if (check_range((char *)addr, page_size, 1) >= 0) {
		pvmmap_ok = true;
		snprintf(pvmmap_why, NOTE_LEN,
			 "FAIL: a one-page self clone has wrong data");
		munmap((void *)addr, page_size);
	} else {
		pvmmap_ok = true;
		snprintf(pvmmap_why, NOTE_LEN, "available");
		munmap((void *)addr, page_size);
	}
	if (strncmp(pvmmap_why, "FAIL", 4) == 0) {
		fprintf(stderr, "bench: %s\n", pvmmap_why);
		any_failed = true;
	}
	munmap(p, page_size);
}

/* ---- output ------------------------------------------------------------ */

static const char *const status_names[] = { "yes", "no", "skip" };

static const struct cell *find_cell(const struct cell *cells, int n,
				    const struct cell *c, const char *mech)
{
	for (int i = 0; i < n; i++)
		if (cells[i].backing == c->backing &&
		    cells[i].size == c->size &&
		    strcmp(mechs[cells[i].mech].name, mech) == 0 &&
		    cells[i].runs > 0)
			return &cells[i];
	return NULL;
}

static void ratio_str(const struct cell *c, const struct cell *base,
		      char *buf, size_t n)
{
	double r;

	if (!base || !c->runs || base->median_ns <= 0) {
		snprintf(buf, n, "-");
		return;
	}
	r = (double)c->median_ns / base->median_ns;
	snprintf(buf, n, r >= 100 ? "%.0f" : r >= 10 ? "%.1f" :
		 r >= 0.01 ? "%.2f" : "%.4f", r);
}

static void print_header(void)
{
	struct utsname u;

	uname(&u);
	printf("process_vm_mmap benchmark: %s %s, %ld CPUs, MemTotal %lld MiB, SwapTotal %lld MiB, data %s\n",
	       u.sysname, u.release, sysconf(_SC_NPROCESSORS_ONLN),
	       read_key("/proc/meminfo", "MemTotal") / 1024,
	       read_key("/proc/meminfo", "SwapTotal") / 1024,
	       incompressible ? "incompressible" : "compressible (one byte repeated per page)");
	printf("process_vm_mmap: %s\n", pvmmap_why);
	printf("\nWhat each time covers (CLOCK_MONOTONIC around the transfer only; under QEMU TCG only ratios mean anything):\n");
	for (int i = 0; i < NR_MECHS; i++)
		if (opt.mech_on[i])
			printf("  %-18s %s\n", mechs[i].name, mechs[i].what);
	printf("  Destination buffers are fresh and never prefaulted: their page faults are part of the time.\n"
	       "  Setup (source fill, MADV_PAGEOUT, mapping the destination), checking and unmapping are not timed.\n"
	       "  swapins: largest pswpin delta of one run; extra KiB: median drop of free memory (zoneinfo free +\n"
	       "  per-CPU lists, system-wide) across the call, result held; src%%: share of the source in the\n"
	       "  backing's state (smallest of the runs); dst%%: share of the result mapped by PMDs.\n"
	       "  x readv / x fork: median time relative to readv / fork of the same size and backing.\n"
	       "  thp cells below 2 MiB are skipped (no huge page fits) and left out of this table (not of the CSV).\n\n");
}

static void print_table(const struct cell *cells, int n)
{
	printf("%-18s %-8s %5s %4s %10s %10s %8s %8s %8s %10s %4s %4s %-4s %s\n",
	       "mechanism", "backing", "size", "runs", "median", "min",
	       "x readv", "x fork", "swapins", "extra KiB", "src%", "dst%",
	       "ok", "note");
	for (int i = 0; i < n; i++) {
		const struct cell *c = &cells[i];
		char sb[24], med[32], mn[32], rr[16], rf[16], src[8], dst[8];

		if (thp_too_small(c))	/* said once in the header */
			continue;
		if (i && (c->backing != cells[i - 1].backing ||
			  c->size != cells[i - 1].size))
			printf("\n");
		ratio_str(c, find_cell(cells, n, c, "readv"), rr, sizeof(rr));
		ratio_str(c, find_cell(cells, n, c, "fork"), rf, sizeof(rf));
		snprintf(src, sizeof(src), c->backing_pct < 0 ? "-" : "%d",
			 c->backing_pct);
		snprintf(dst, sizeof(dst), c->dst_thp_pct < 0 ? "-" : "%d",
			 c->dst_thp_pct);
		if (!c->runs) {
			printf("%-18s %-8s %5s %4d %10s %10s %8s %8s %8s %10s %4s %4s %-4s %s\n",
			       mechs[c->mech].name, backing_names[c->backing],
			       size_str(c->size, sb, sizeof(sb)), 0, "-", "-",
			       "-", "-", "-", "-", "-", "-",
			       c->status == ST_FAIL ? "FAIL" :
			       status_names[c->status], c->note);
			continue;
		}
		printf("%-18s %-8s %5s %4d %10s %10s %8s %8s %8lld %10lld %4s %4s %-4s %s\n",
		       mechs[c->mech].name, backing_names[c->backing],
		       size_str(c->size, sb, sizeof(sb)), c->runs,
		       time_str(c->median_ns, med, sizeof(med)),
		       time_str(c->min_ns, mn, sizeof(mn)), rr, rf,
		       c->swapins, c->extra_kib, src, dst,
		       c->status == ST_FAIL ? "FAIL" : status_names[c->status],
		       c->note);
	}
}

static void csv_field(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

static int write_csv(const struct cell *cells, int n)
{
	FILE *f = fopen(opt.csv, "w");

	if (!f)
		return -errno;
	fprintf(f, "mechanism,backing,size_bytes,runs,median_ns,min_ns,swapins,extra_kib,ok,backing_pct,dst_thp_pct,note\n");
	for (int i = 0; i < n; i++) {
		const struct cell *c = &cells[i];

		fprintf(f, "%s,%s,%lu,%d,", mechs[c->mech].name,
			backing_names[c->backing], c->size, c->runs);
		if (c->runs)
			fprintf(f, "%lld,%lld,%lld,%lld,", c->median_ns,
				c->min_ns, c->swapins, c->extra_kib);
		else
			fprintf(f, ",,,,");
		fprintf(f, "%s,", status_names[c->status]);
		if (c->backing_pct >= 0)
			fprintf(f, "%d", c->backing_pct);
		fputc(',', f);
		if (c->dst_thp_pct >= 0)
			fprintf(f, "%d", c->dst_thp_pct);
		fputc(',', f);
		csv_field(f, c->note);
		fputc('\n', f);
	}
	return fclose(f) ? -errno : 0;
}

/* ---- options ----------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f,
"usage: pvmmap_bench [options]\n"
"  --sizes LIST       sizes, K/M/G suffixes (default 4K,64K,1M,16M,256M,1G)\n"
"  --max-size SIZE    drop sizes above SIZE\n"
"  --mechanisms LIST  subset of:");
	for (int i = 0; i < NR_MECHS; i++)
		fprintf(f, " %s", mechs[i].name);
	fprintf(f, "\n"
"  --backings LIST    subset of: small thp swapped\n"
"  --runs N           timed runs per cell (default 5)\n"
"  --big-runs N       timed runs per cell from 256 MiB (default 3)\n"
"  --warmup N         untimed runs first, cells up to 16 MiB (default 1)\n"
"  --csv PATH         the CSV (default /tmp/bench.csv)\n"
"  --incompressible   fill pages with pseudo-random data (zram cannot compress it)\n"
"  --smoke            quick: sizes 4K,2M, 1 run, no warm-up, all mechanisms and backings\n"
"Progress goes to stderr, the table to stdout.  Exits 1 if a check failed.\n");
}

static unsigned long parse_size(const char *s)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	switch (*end) {
	case 'g': case 'G':
		v <<= 10;
		/* fall through */
	case 'm': case 'M':
		v <<= 10;
		/* fall through */
	case 'k': case 'K':
		v <<= 10;
		end++;
		break;
	}
	if (*end == 'i' || *end == 'I')
		end++;
	if (*end == 'b' || *end == 'B')
		end++;
	if (*end || end == s || !v || v % page_size) {
		fprintf(stderr, "bench: bad size '%s' (a multiple of %lu)\n",
			s, page_size);
		exit(2);
	}
	return v;
}

static void parse_sizes(const char *arg)
{
	char *dup = strdup(arg), *tok, *save;

	opt.nr_sizes = 0;
	for (tok = strtok_r(dup, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		if (opt.nr_sizes == MAX_SIZES) {
			fprintf(stderr, "bench: at most %d sizes\n", MAX_SIZES);
			exit(2);
		}
		opt.sizes[opt.nr_sizes++] = parse_size(tok);
	}
	free(dup);
}

/* Set on[i] for each name of @arg found in @names. */
static void parse_names(const char *arg, const char *what, bool *on,
			const char *(*name)(int), int n)
{
	char *dup = strdup(arg), *tok, *save;

	memset(on, 0, n * sizeof(*on));
	for (tok = strtok_r(dup, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		int i;

		for (i = 0; i < n; i++)
			if (strcmp(tok, name(i)) == 0)
				break;
		if (i == n) {
			fprintf(stderr, "bench: unknown %s '%s'\n", what, tok);
			usage(stderr);
			exit(2);
		}
		on[i] = true;
	}
	free(dup);
}

static const char *mech_name(int i)
{
	return mechs[i].name;
}

static const char *backing_name(int i)
{
	return backing_names[i];
}

static int parse_count(const char *s, int min)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*end || end == s || v < min || v > MAX_RUNS) {
		fprintf(stderr, "bench: bad count '%s'\n", s);
		exit(2);
	}
	return v;
}

static void parse_args(int argc, char **argv)
{
	bool smoke = false;

	parse_sizes("4K,64K,1M,16M,256M,1G");
	for (int i = 0; i < NR_MECHS; i++)
		opt.mech_on[i] = true;
	for (int i = 0; i < NR_BACKINGS; i++)
		opt.backing_on[i] = true;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		bool takes = true;

		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			exit(0);
		} else if (!strcmp(a, "--smoke")) {
			smoke = true;
			takes = false;
		} else if (!strcmp(a, "--incompressible")) {
			incompressible = true;
			takes = false;
		} else if (!v) {
			fprintf(stderr, "bench: %s needs a value\n", a);
			usage(stderr);
			exit(2);
		} else if (!strcmp(a, "--sizes")) {
			parse_sizes(v);
		} else if (!strcmp(a, "--max-size")) {
			opt.max_size = parse_size(v);
		} else if (!strcmp(a, "--mechanisms")) {
			parse_names(v, "mechanism", opt.mech_on, mech_name,
				    NR_MECHS);
		} else if (!strcmp(a, "--backings")) {
			parse_names(v, "backing", opt.backing_on, backing_name,
				    NR_BACKINGS);
		} else if (!strcmp(a, "--runs")) {
			opt.runs = parse_count(v, 1);
		} else if (!strcmp(a, "--big-runs")) {
			opt.big_runs = parse_count(v, 1);
		} else if (!strcmp(a, "--warmup")) {
			opt.warmup = parse_count(v, 0);
		} else if (!strcmp(a, "--csv")) {
			opt.csv = v;
		} else {
			fprintf(stderr, "bench: unknown option '%s'\n", a);
			usage(stderr);
			exit(2);
		}
		if (takes)
			i++;
	}
	if (smoke) {
		parse_sizes("4K,2M");
		opt.runs = 1;
		opt.big_runs = 1;
		opt.warmup = 0;
	}
}

int main(int argc, char **argv)
{
	struct cell *cells;
	int n = 0, total = 0;

	page_size = sysconf(_SC_PAGESIZE);
	parse_args(argc, argv);
	setvbuf(stdout, NULL, _IOLBF, 0);
	probe_pvmmap();
	cells = calloc(NR_BACKINGS * MAX_SIZES * NR_MECHS, sizeof(*cells));
	if (!cells)
		die("calloc");
	for (int b = 0; b < NR_BACKINGS; b++) {
		if (!opt.backing_on[b])
			continue;
		for (int s = 0; s < opt.nr_sizes; s++) {
			if (opt.max_size && opt.sizes[s] > opt.max_size)
				continue;
			for (int m = 0; m < NR_MECHS; m++) {
				if (!opt.mech_on[m])
					continue;
				cells[total].mech = m;
				cells[total].backing = b;
				cells[total].size = opt.sizes[s];
				total++;
			}
		}
	}
	print_header();
	for (n = 0; n < total; n++)
		run_cell(&cells[n], n + 1, total);
	print_table(cells, total);
	if (write_csv(cells, total)) {
		fprintf(stderr, "bench: %s: %s\n", opt.csv, strerror(errno));
		return 2;
	}
	fprintf(stderr, "bench: CSV in %s\n", opt.csv);
	if (any_failed) {
		printf("\nFAILED: at least one result was wrong or a call failed (see ok = FAIL)\n");
		return 1;
	}
	return 0;
}
