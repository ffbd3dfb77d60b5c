/* SPDX-License-Identifier: GPL-2.0 */
/*
 * process_vm_mmap(2) selftests: a source process to clone from (a "peer"),
 * the backings it maps, and what /proc says about pages (swapped, huge,
 * counters), for the suites that clone private memory.
 *
 * A peer is a child that maps and fills its range after the fork (so that
 * nothing is shared with the test by fork()), then obeys one-byte commands
 * sent over a pipe, each answered with one byte.
 */
#ifndef __SELFTEST_PVMMAP_PEER_H
#define __SELFTEST_PVMMAP_PEER_H

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <linux/mempolicy.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "pvmmap.h"
#include "pvmmap_data.h"

#define PMD_SIZE	(2UL << 20)

/*
 * SMALL: 4 KiB pages only.  THP: PMD-aligned and MADV_HUGEPAGE, so it gets
 * the largest folios the THP settings allow there: PMD-sized by default,
 * one mTHP size where a test enabled only that one (see mthp_only()).
 */
enum backing { SMALL, THP };

/* Map @len bytes of private anonymous memory; THP: aligned and huge. */
static inline char *map_backing(unsigned long len, enum backing b)
{
	char *p, *aligned;

	if (b == SMALL) {
		p = mmap(NULL, len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p != MAP_FAILED)
			madvise(p, len, MADV_NOHUGEPAGE);
		return p == MAP_FAILED ? NULL : p;
	}
	p = mmap(NULL, len + PMD_SIZE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	aligned = (char *)(((unsigned long)p + PMD_SIZE - 1) & ~(PMD_SIZE - 1));
	if (aligned > p)
		munmap(p, aligned - p);
	munmap(aligned + len, p + PMD_SIZE - aligned);
	madvise(aligned, len, MADV_HUGEPAGE);
	return aligned;
}

/* pagemap bits 62 and 63 */
#define PM_SWAP		0x4000000000000000ULL
#define PM_PRESENT	0x8000000000000000ULL

/* /proc/kpageflags bits. */
#define KPF_COMPOUND_HEAD	15
#define KPF_COMPOUND_TAIL	16
#define KPF_THP			22
#define KPF_ZERO_PAGE		24

/* The /proc/kpageflags of the page at @addr of @pid, 0 if not present. */
static inline uint64_t page_flags(pid_t pid, unsigned long addr)
{
	uint64_t ent = pagemap_of(pid, addr), flags = 0;
	int fd;

	if (!(ent & PM_PRESENT))
		return 0;
	fd = open("/proc/kpageflags", O_RDONLY);
	if (fd < 0)
		return 0;
	if (pread(fd, &flags, sizeof(flags),
		  (ent & ((1ULL << 55) - 1)) * sizeof(flags)) != sizeof(flags))
		flags = 0;
	close(fd);
	return flags;
}

/* How many pages of [@addr, @addr + @len) of @pid are swapped out. */
static inline unsigned long swapped_pages(pid_t pid, unsigned long addr,
					  unsigned long len)
{
	unsigned long n = 0, i;
	char path[64];
	uint64_t ent;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid ? pid : getpid());
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	for (i = addr / page_size; i < (addr + len) / page_size; i++)
		if (pread(fd, &ent, sizeof(ent), i * sizeof(ent)) ==
		    sizeof(ent) && (ent & PM_SWAP))
			n++;
	close(fd);
	return n;
}

/* A counter of /proc/vmstat, or -1. */
static inline long vm_event(const char *name)
{
	char key[64];
	long val, ret = -1;
	FILE *f = fopen("/proc/vmstat", "r");

	if (!f)
		return -1;
	while (fscanf(f, "%63s %ld", key, &val) == 2)
		if (!strcmp(key, name))
			ret = val;
	fclose(f);
	return ret;
}

/* kB of AnonHugePages in the smaps entry of @pid's VMA at @addr. */
static inline long anon_huge_kb(pid_t pid, unsigned long addr)
{
	char path[64], line[256];
	unsigned long start, end;
	bool in = false;
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/smaps", pid ? pid : getpid());
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &start, &end) == 2) {
			in = start <= addr && addr < end;
			continue;
		}
		if (in && sscanf(line, "AnonHugePages: %ld kB", &kb) == 1)
			break;
	}
	fclose(f);
	return kb;
}

/* How many NUMA nodes have memory (0 if /sys says nothing). */
static inline int memory_nodes(void)
{
	char path[64];
	int n = 0;

	for (int i = 0; i < 64; i++) {
		snprintf(path, sizeof(path),
			 "/sys/devices/system/node/node%d/meminfo", i);
		n += !access(path, R_OK);
	}
	return n;
}

/* MADV_PAGEOUT of [@addr, @addr + @len) from each CPU this process may use. */
static inline void pageout_everywhere(char *addr, unsigned long len)
{
	cpu_set_t all, one;

	if (sched_getaffinity(0, sizeof(all), &all)) {
		madvise(addr, len, MADV_PAGEOUT);
		return;
	}
	for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
		if (!CPU_ISSET(cpu, &all))
			continue;
		CPU_ZERO(&one);
		CPU_SET(cpu, &one);
		if (!sched_setaffinity(0, sizeof(one), &one))
			madvise(addr, len, MADV_PAGEOUT);
	}
	sched_setaffinity(0, sizeof(all), &all);
}

/*
 * Whether reclaim and migration reach every page of [@addr, @addr + @len),
 * which the calling process alone maps: move_pages() moves each to the
 * other NUMA node (where there are two), and MADV_PAGEOUT pushes each out
 * to swap.  A mapping that the reverse map cannot find (a KSM page at an
 * address its rmap_item does not know) stays where it is.  Returns 0, or
 * the number of pages that did not move or stayed in memory.
 */
static inline unsigned long reaches_every_page(char *addr, unsigned long len)
{
	unsigned long n = len / page_size, unmoved = 0, unswapped = 0, i;
	void **pages = calloc(n, sizeof(*pages));
	int *nodes = calloc(n, sizeof(*nodes));
	int *status = calloc(n, sizeof(*status));

	if (!pages || !nodes || !status)
		return n;
	for (i = 0; i < n; i++)
		pages[i] = addr + i * page_size;
	/*
	 * The status move_pages() gives a page of a large folio that it moved
	 * with an earlier page is not the node: ask where each page is after.
	 */
	if (memory_nodes() >= 2 &&
	    !syscall(__NR_move_pages, 0, n, pages, NULL, status, 0)) {
		for (i = 0; i < n; i++)
			nodes[i] = status[i] == 0 ? 1 : 0;
		syscall(__NR_move_pages, 0, n, pages, nodes, status,
			MPOL_MF_MOVE);
		syscall(__NR_move_pages, 0, n, pages, NULL, status, 0);
		for (i = 0; i < n; i++)
			if (status[i] != nodes[i] && !unmoved++)
				printf("# page %lu did not move (%d)\n", i,
				       status[i]);
	}
	free(pages);
	free(nodes);
	free(status);
	/*
	 * MADV_PAGEOUT skips folios that sit in another CPU's LRU batch:
	 * page out from every CPU in turn, each draining its own batch.
	 */
	pageout_everywhere(addr, len);
	/* A page of zeroes that reclaim mapped to the zero page is freed too. */
	for (i = 0; i < n; i++) {
		unsigned long a = (unsigned long)addr + i * page_size;

		if (pagemap_of(0, a) & PM_SWAP ||
		    page_flags(0, a) & (1ULL << KPF_ZERO_PAGE))
			continue;
		if (!unswapped++)
			printf("# page %lu did not go out to swap\n", i);
	}
	if (unmoved || unswapped)
		printf("# %lu pages did not move, %lu did not go out to swap\n",
		       unmoved, unswapped);
	return unmoved + unswapped;
}

/*
 * The adversary's check of @n mappings of this process that each hold
 * version @v[i] on its own: each is written in turn while all the others
 * must keep theirs; then each goes read-only and back and is written
 * again (page_table_check sees a page writable in two places); last,
 * reclaim and migration must reach every page.
 */
static inline bool all_apart(char **map, char *v, int n, unsigned long len)
{
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < n; i++) {
			if (round == 1 &&
			    (mprotect(map[i], len, PROT_READ) ||
			     mprotect(map[i], len, PROT_READ | PROT_WRITE)))
				return false;
			v[i] = 'B' + round * n + i;
			fill(map[i], len, v[i]);
			for (int j = 0; j < n; j++)
				if (!holds(map[j], len, v[j])) {
					printf("# writing mapping %d changed mapping %d\n",
					       i, j);
					return false;
				}
		}
	}
	for (int i = 0; i < n; i++) {
		unsigned long missed = reaches_every_page(map[i], len);

		if (missed) {
			printf("# %lu pages of mapping %d out of reach\n",
			       missed, i);
			return false;
		}
	}
	return true;
}

struct peer {
	pid_t pid;
	int cmd;	/* test -> peer */
	int ack;	/* peer -> test */
	char *addr;
	unsigned long len;
};

enum {
	CMD_WRITE = 'w',	/* fill with version */
	CMD_CHECK = 'c',	/* holds version? */
	CMD_PAGEOUT = 'p',	/* MADV_PAGEOUT */
	CMD_TOUCH = 't',	/* read every page (swap-in) */
	CMD_MERGEABLE = 'm',	/* MADV_MERGEABLE */
	CMD_PKEY = 'k',		/* a protection key the caller has not */
	CMD_SAME = 's',		/* every byte the same: KSM merges them */
	CMD_REACH = 'r',	/* reaches_every_page() */
	CMD_FORK = 'f',		/* fork a child that shares the range */
	CMD_POISON = 'x',	/* MADV_HWPOISON of page (version) */
	CMD_GUARD = 'g',	/* MADV_GUARD_INSTALL on page (version) */
	CMD_QUIT = 'q',
};

static inline bool peer_pkey(struct peer *p)
{
	int pkey = syscall(__NR_pkey_alloc, 0, 0);

	return pkey > 0 && !syscall(__NR_pkey_mprotect, p->addr, p->len,
				    PROT_READ | PROT_WRITE, pkey);
}

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL	102
#endif

static void peer_ignore(int sig)
{
}

/*
 * Poisons page @i of the range: the memory-failure code sends the caller
 * SIGBUS, which a peer survives to be cloned.
 */
static inline bool peer_poison(struct peer *p, int i)
{
	signal(SIGBUS, peer_ignore);
	return !madvise(p->addr + i * page_size, page_size, MADV_HWPOISON);
}

/* A child of the peer that shares its range until the peer dies. */
static inline bool peer_fork(void)
{
	pid_t child = fork();

	if (child == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		pause();
		_exit(0);
	}
	return child > 0;
}

static inline void peer_loop(struct peer *p, int cmd, int ack)
{
	char c[2], r;

	while (read(cmd, c, 2) == 2) {
		switch (c[0]) {
		case CMD_WRITE:
			fill(p->addr, p->len, c[1]);
			r = 1;
			break;
		case CMD_CHECK:
			r = holds(p->addr, p->len, c[1]);
			break;
		case CMD_PAGEOUT:
			r = !madvise(p->addr, p->len, MADV_PAGEOUT);
			break;
		case CMD_TOUCH:
			for (unsigned long i = 0; i < p->len; i += page_size)
				(void)__atomic_load_n(p->addr + i,
						      __ATOMIC_RELAXED);
			r = 1;
			break;
		case CMD_SAME:
			memset(p->addr, c[1], p->len);
			r = 1;
			break;
		case CMD_REACH:
			r = reaches_every_page(p->addr, p->len) == 0;
			break;
		case CMD_MERGEABLE:
			r = !madvise(p->addr, p->len, MADV_MERGEABLE);
			break;
		case CMD_PKEY:
			r = peer_pkey(p);
			break;
		case CMD_FORK:
			r = peer_fork();
			break;
		case CMD_POISON:
			r = peer_poison(p, c[1]);
			break;
		case CMD_GUARD:
			r = !madvise(p->addr + c[1] * page_size, page_size,
				     MADV_GUARD_INSTALL);
			break;
		default:
			_exit(0);
		}
		if (write(ack, &r, 1) != 1)
			_exit(1);
	}
	_exit(0);
}

/* Starts a peer that maps @len bytes of @b and fills them with 'A'. */
static inline bool peer_start(struct peer *p, unsigned long len,
			      enum backing b)
{
	int to[2], from[2];

	if (pipe(to) || pipe(from))
		return false;
	p->len = len;
	p->pid = fork();
	if (p->pid < 0)
		return false;
	if (p->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(to[1]);
		close(from[0]);
		p->addr = map_backing(len, b);
		if (!p->addr)
			_exit(1);
		fill(p->addr, len, 'A');
		if (write(from[1], &p->addr, sizeof(p->addr)) != sizeof(p->addr))
			_exit(1);
		peer_loop(p, to[0], from[1]);
	}
	close(to[0]);
	close(from[1]);
	p->cmd = to[1];
	p->ack = from[0];
	return read(p->ack, &p->addr, sizeof(p->addr)) == sizeof(p->addr);
}

/* Send a command; returns the peer's answer, or -1 if it died. */
static inline int peer_do(struct peer *p, char cmd, char version)
{
	char c[2] = { cmd, version }, r;

	if (write(p->cmd, c, 2) != 2 || read(p->ack, &r, 1) != 1)
		return -1;
	return r;
}

static inline void peer_stop(struct peer *p)
{
	reap(p->pid);
	close(p->cmd);
	close(p->ack);
}

static inline char *clone_of(pid_t pid, void *src, unsigned long len,
			     void *dst, unsigned long flags)
{
	long ret = sys_process_vm_mmap(pid, (unsigned long)src, len,
				       (unsigned long)dst, flags);

	return ret < 0 ? NULL : (char *)ret;
}

#endif /* __SELFTEST_PVMMAP_PEER_H */
