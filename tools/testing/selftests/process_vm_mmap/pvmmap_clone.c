// SPDX-License-Identifier: GPL-2.0
/*
 * process_vm_mmap(2): what a clone of private anonymous memory is.
 *
 * The source is a "peer": a child that maps and fills its range after the
 * fork (so that nothing is shared with the test by fork()), then obeys
 * commands sent over a pipe.  Each test checks one rule of the contract
 * (Documentation/userspace-api/process_vm_mmap.rst): copy-on-write both
 * ways, no data copied (same PFNs), huge pages kept huge, placement,
 * PVMMAP_MOVE, pidfds, errors that leave nothing behind.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>
#include <poll.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/uio.h>
#include <linux/io_uring.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <linux/userfaultfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../kselftest_harness.h"
#include "pvmmap.h"
#include "pvmmap_data.h"
#include "pvmmap_peer.h"

FIXTURE(peer)
{
	struct peer p;
};

FIXTURE_VARIANT(peer)
{
	enum backing backing;
	unsigned long len;
};

FIXTURE_VARIANT_ADD(peer, small) { .backing = SMALL, .len = 64 * 4096 };
FIXTURE_VARIANT_ADD(peer, thp) { .backing = THP, .len = 2 * PMD_SIZE };

FIXTURE_SETUP(peer)
{
	page_size = sysconf(_SC_PAGESIZE);
	ASSERT_TRUE(peer_start(&self->p, variant->len, variant->backing));
}

FIXTURE_TEARDOWN(peer)
{
	peer_stop(&self->p);
}

/* The clone holds the data; later writes on either side stay on that side. */
TEST_F(peer, cow_both_ways)
{
	char *c = clone_of(self->p.pid, self->p.addr, self->p.len, NULL, 0);

	ASSERT_NE(NULL, c);
	EXPECT_TRUE(holds(c, self->p.len, 'A'));
	fill(c, self->p.len, 'B');
	EXPECT_EQ(1, peer_do(&self->p, CMD_CHECK, 'A'));
	EXPECT_EQ(1, peer_do(&self->p, CMD_WRITE, 'C'));
	EXPECT_TRUE(holds(c, self->p.len, 'B'));
	EXPECT_EQ(1, peer_do(&self->p, CMD_CHECK, 'C'));
	munmap(c, self->p.len);
}

/* The other order: the source writes first. */
TEST_F(peer, cow_source_writes_first)
{
	char *c = clone_of(self->p.pid, self->p.addr, self->p.len, NULL, 0);

	ASSERT_NE(NULL, c);
	EXPECT_EQ(1, peer_do(&self->p, CMD_WRITE, 'C'));
	EXPECT_TRUE(holds(c, self->p.len, 'A'));
	munmap(c, self->p.len);
}

/* No data copied: the clone maps the source's very pages. */
TEST_F(peer, zero_copy)
{
	char *c = clone_of(self->p.pid, self->p.addr, self->p.len, NULL, 0);
	unsigned long i, same = 0, pages = self->p.len / page_size;

	ASSERT_NE(NULL, c);
	if (geteuid() != 0) {
		munmap(c, self->p.len);
		SKIP(return, "PFNs in pagemap need root");
	}
	for (i = 0; i < pages; i++) {
		uint64_t mine = pfn_of(0, (unsigned long)c + i * page_size);

		same += mine && mine == pfn_of(self->p.pid,
				(unsigned long)self->p.addr + i * page_size);
	}
	EXPECT_EQ(pages, same);
	munmap(c, self->p.len);
}

/* A clone of a clone is a clone: all three stay apart. */
TEST_F(peer, clone_of_a_clone)
{
	char *c1 = clone_of(self->p.pid, self->p.addr, self->p.len, NULL, 0);
	char *c2;

	ASSERT_NE(NULL, c1);
	c2 = clone_of(getpid(), c1, self->p.len, NULL, 0);
	ASSERT_NE(NULL, c2);
	EXPECT_TRUE(holds(c2, self->p.len, 'A'));
	fill(c1, self->p.len, 'B');
	EXPECT_TRUE(holds(c2, self->p.len, 'A'));
	fill(c2, self->p.len, 'C');
	EXPECT_TRUE(holds(c1, self->p.len, 'B'));
	EXPECT_EQ(1, peer_do(&self->p, CMD_CHECK, 'A'));
	munmap(c1, self->p.len);
	munmap(c2, self->p.len);
}

/* PVMMAP_PIDFD names the same process. */
TEST_F(peer, through_a_pidfd)
{
	int pidfd = sys_pidfd_open(self->p.pid, 0);
	char *c;

	ASSERT_GE(pidfd, 0);
	c = clone_of(pidfd, self->p.addr, self->p.len, NULL, PVMMAP_PIDFD);
	ASSERT_NE(NULL, c);
	EXPECT_TRUE(holds(c, self->p.len, 'A'));
	munmap(c, self->p.len);
	close(pidfd);
}

/* FIXED_NOREPLACE over a mapping: EEXIST, and the mapping is untouched. */
TEST_F(peer, noreplace_over_a_mapping)
{
	char *mine = mmap(NULL, self->p.len, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ASSERT_NE(MAP_FAILED, mine);
	fill(mine, self->p.len, 'Z');
	errno = 0;
	EXPECT_EQ(NULL, clone_of(self->p.pid, self->p.addr, self->p.len, mine,
				 PVMMAP_FIXED_NOREPLACE));
	EXPECT_EQ(EEXIST, errno);
	EXPECT_TRUE(holds(mine, self->p.len, 'Z'));
	/* FIXED replaces it. */
	EXPECT_EQ(mine, clone_of(self->p.pid, self->p.addr, self->p.len, mine,
				 PVMMAP_FIXED));
	EXPECT_TRUE(holds(mine, self->p.len, 'A'));
	munmap(mine, self->p.len);
}

/* A kernel-chosen address is congruent to the source modulo PMD_SIZE. */
TEST_F(peer, chosen_address_is_congruent)
{
	char *c = clone_of(self->p.pid, self->p.addr, self->p.len, NULL, 0);

	ASSERT_NE(NULL, c);
	if (self->p.len >= PMD_SIZE)
		EXPECT_EQ(0, ((unsigned long)c - (unsigned long)self->p.addr) &
			     (PMD_SIZE - 1));
	munmap(c, self->p.len);
}

/*
 * PVMMAP_MOVE: the source range is gone from the source, the clone holds
 * the data and owns it: the caller maps each page alone (pagemap's
 * "exclusively mapped", bit 56).  Its first write usually copies nothing,
 * but may: a reference that the source's CPU holds for a moment (a
 * per-CPU LRU batch) makes that fault copy, as after fork() and the
 * child's exit.
 */
TEST_F(peer, move)
{
	char *c = clone_of(self->p.pid, self->p.addr, self->p.len, NULL,
			   PVMMAP_MOVE);
	unsigned long off, shared = 0;
	int status;

	ASSERT_NE(NULL, c);
	EXPECT_TRUE(holds(c, self->p.len, 'A'));
	for (off = 0; off < self->p.len; off += page_size)
		if (!(pagemap_of(0, (unsigned long)c + off) & (1ULL << 56)))
			shared++;
	EXPECT_EQ(0, shared);
	c[0] = 'x';
	/* Touching the moved range kills the source, as after munmap(). */
	EXPECT_EQ(-1, peer_do(&self->p, CMD_CHECK, 'A'));
	ASSERT_EQ(self->p.pid, waitpid(self->p.pid, &status, 0));
	EXPECT_TRUE(WIFSIGNALED(status));
	EXPECT_EQ(SIGSEGV, WTERMSIG(status));
	munmap(c, self->p.len);
}

/*
 * Pages out the peer's range (MADV_PAGEOUT); returns how many of its pages
 * are on swap then, or -1 if the peer failed the command.
 */
static long page_out(struct peer *p)
{
	if (peer_do(p, CMD_PAGEOUT, 0) != 1)
		return -1;
	return swapped_pages(p->pid, (unsigned long)p->addr, p->len);
}

/* Minor page faults this process has taken so far. */
static long minor_faults(void)
{
	struct rusage ru;

	return getrusage(RUSAGE_SELF, &ru) ? -1 : ru.ru_minflt;
}

/* A "Key: N kB" line of /proc/@pid/status, or -1. */
static long status_kb(pid_t pid, const char *key)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	return kb_of(path, key);
}

/*
 * PVMMAP_MOVE hands the source's entries over as they are: a page that the
 * source alone mapped and had written stays writable, so the caller's
 * writes take no page fault (a clone followed by an unmap leaves every
 * entry write-protected: a fault per page, or per THP), and the anonymous
 * RSS moves from the source to the caller, page for page.  A THP moves as
 * its PMD mapping and stays huge.
 */
TEST_F(peer, move_hands_over_writable_entries)
{
	long faults, anon, src_anon, src_huge_kb;
	char *c;

	src_huge_kb = anon_huge_kb(self->p.pid, (unsigned long)self->p.addr);
	anon = kb_of("/proc/self/status", "RssAnon");
	src_anon = status_kb(self->p.pid, "RssAnon");
	ASSERT_LE((long)(self->p.len / 1024), src_anon);
	c = clone_of(self->p.pid, self->p.addr, self->p.len, NULL,
		     PVMMAP_MOVE);
	ASSERT_NE(NULL, c);
	EXPECT_EQ(anon + (long)(self->p.len / 1024),
		  kb_of("/proc/self/status", "RssAnon"));
	EXPECT_EQ(src_anon - (long)(self->p.len / 1024),
		  status_kb(self->p.pid, "RssAnon"));
	if (variant->backing == THP)
		EXPECT_EQ(src_huge_kb, anon_huge_kb(0, (unsigned long)c));
	faults = minor_faults();
	fill(c, self->p.len, 'B');
	/* One for whatever else this process touched meanwhile. */
	EXPECT_GE(1, minor_faults() - faults);
	EXPECT_TRUE(holds(c, self->p.len, 'B'));
	munmap(c, self->p.len);
}

/*
 * A huge page that a clone already shares into this process is not moved
 * into it a second time: a large folio is mapped at most once in each
 * process, or a write through one mapping would show through the other.
 */
TEST_F(peer, move_after_clone_keeps_the_two_apart)
{
	char *c, *m;

	c = clone_of(self->p.pid, self->p.addr, self->p.len, NULL, 0);
	ASSERT_NE(NULL, c);
	m = clone_of(self->p.pid, self->p.addr, self->p.len, NULL,
		     PVMMAP_MOVE);
	ASSERT_NE(NULL, m);
	fill(c, self->p.len, 'B');
	EXPECT_TRUE(holds(m, self->p.len, 'A'));
	fill(m, self->p.len, 'C');
	EXPECT_TRUE(holds(c, self->p.len, 'B'));
	munmap(c, self->p.len);
	munmap(m, self->p.len);
}

/*
 * PVMMAP_MOVE of swapped-out pages: the swap entries move, nothing is read
 * back (as in swapped_out_stays_out), and the caller's VmSwap grows by
 * what the source's shrinks.
 */
TEST_F(peer, move_of_swapped_out_pages)
{
	long out, pswpin, swap, src_swap;
	char *c;

	out = page_out(&self->p);
	ASSERT_LE(0, out);
	if (!out)
		SKIP(return, "nothing was swapped out (no swap, or not root)");
	swap = kb_of("/proc/self/status", "VmSwap");
	src_swap = status_kb(self->p.pid, "VmSwap");
	pswpin = vm_event("pswpin");
	c = clone_of(self->p.pid, self->p.addr, self->p.len, NULL,
		     PVMMAP_MOVE);
	ASSERT_NE(NULL, c);
	EXPECT_GT(out, vm_event("pswpin") - pswpin);
	EXPECT_EQ(out, (long)swapped_pages(0, (unsigned long)c, self->p.len));
	EXPECT_EQ(swap + (long)(out * page_size / 1024),
		  kb_of("/proc/self/status", "VmSwap"));
	EXPECT_EQ(src_swap - (long)(out * page_size / 1024),
		  status_kb(self->p.pid, "VmSwap"));
	EXPECT_TRUE(holds(c, self->p.len, 'A'));
	munmap(c, self->p.len);
}

/* The pid of the one child of @pid (CONFIG_PROC_CHILDREN), or -1. */
static pid_t child_of(pid_t pid)
{
	char path[64];
	FILE *f;
	int child = -1;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", pid, pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fscanf(f, "%d", &child) != 1)
		child = -1;
	fclose(f);
	return child;
}

/* Whether @len bytes of @pid at @addr all read @v. */
static bool remote_holds(pid_t pid, void *addr, unsigned long len, char v)
{
	char *buf = malloc(len);
	struct iovec local = { buf, len }, remote = { addr, len };
	bool ret;

	if (!buf)
		return false;
	ret = process_vm_readv(pid, &local, 1, &remote, 1, 0) == (ssize_t)len &&
	      holds(buf, len, v);
	free(buf);
	return ret;
}

/*
 * PVMMAP_MOVE of pages that a third process shares since fork(): they
 * move (or are cloned) copy-on-write as they were; the caller's writes
 * and the third process's stay apart, and neither sees the other's.
 */
TEST_F(peer, move_of_pages_shared_since_fork)
{
	pid_t child;
	char *c;

	ASSERT_EQ(1, peer_do(&self->p, CMD_FORK, 0));
	child = child_of(self->p.pid);
	ASSERT_LT(0, child);
	c = clone_of(self->p.pid, self->p.addr, self->p.len, NULL,
		     PVMMAP_MOVE);
	ASSERT_NE(NULL, c);
	EXPECT_TRUE(holds(c, self->p.len, 'A'));
	EXPECT_TRUE(remote_holds(child, self->p.addr, self->p.len, 'A'));
	fill(c, self->p.len, 'B');
	EXPECT_TRUE(remote_holds(child, self->p.addr, self->p.len, 'A'));
	EXPECT_TRUE(holds(c, self->p.len, 'B'));
	munmap(c, self->p.len);
}

/*
 * Swapped-out pages stay on swap: the call reads nothing back (the
 * caller's pagemap shows them swapped; pswpin, which counts every
 * process's swap-ins, grows by fewer than them), and both sides read the
 * right data afterwards.
 */
TEST_F(peer, swapped_out_stays_out)
{
	long out, pswpin;
	char *c;

	out = page_out(&self->p);
	ASSERT_LE(0, out);
	if (!out)
		SKIP(return, "nothing was swapped out (no swap, or not root)");
	pswpin = vm_event("pswpin");
	c = clone_of(self->p.pid, self->p.addr, self->p.len, NULL, 0);
	ASSERT_NE(NULL, c);
	EXPECT_GT(out, vm_event("pswpin") - pswpin);
	EXPECT_EQ(out, (long)swapped_pages(0, (unsigned long)c, self->p.len));
	EXPECT_TRUE(holds(c, self->p.len, 'A'));
	fill(c, self->p.len, 'B');
	EXPECT_EQ(1, peer_do(&self->p, CMD_CHECK, 'A'));
	munmap(c, self->p.len);
}

/* Huge pages stay huge when the destination is congruent. */
TEST_F(peer, huge_stays_huge)
{
	char *c;
	long src_kb;

	if (variant->backing != THP)
		SKIP(return, "for THP backings");
	src_kb = anon_huge_kb(self->p.pid, (unsigned long)self->p.addr);
	if (src_kb <= 0)
		SKIP(return, "the source got no huge pages (THP disabled?)");
	c = clone_of(self->p.pid, self->p.addr, self->p.len, NULL, 0);
	ASSERT_NE(NULL, c);
	EXPECT_EQ(src_kb, anon_huge_kb(0, (unsigned long)c));
	EXPECT_TRUE(holds(c, self->p.len, 'A'));
	munmap(c, self->p.len);
}

/*
 * A non-congruent FIXED destination works: the source's huge pages are
 * split, and shared page by page.
 */
TEST_F(peer, huge_to_a_non_congruent_address)
{
	unsigned long len = self->p.len;
	char *area = mmap(NULL, len + PMD_SIZE, PROT_NONE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *dst, *c;

	ASSERT_NE(MAP_FAILED, area);
	dst = (char *)((((unsigned long)area + PMD_SIZE - 1) & ~(PMD_SIZE - 1)) +
		       page_size);
	c = clone_of(self->p.pid, self->p.addr, len, dst, PVMMAP_FIXED);
	ASSERT_EQ(dst, c);
	EXPECT_TRUE(holds(c, len, 'A'));
	/* Split, not copied: the clone maps the source's very pages. */
	if (geteuid() == 0)
		for (unsigned long i = 0; i < len; i += page_size)
			ASSERT_EQ(pfn_of(self->p.pid,
					 (unsigned long)self->p.addr + i),
				  pfn_of(0, (unsigned long)c + i));
	fill(c, len, 'B');
	EXPECT_EQ(1, peer_do(&self->p, CMD_CHECK, 'A'));
	EXPECT_EQ(1, peer_do(&self->p, CMD_WRITE, 'C'));
	EXPECT_TRUE(holds(c, len, 'B'));
	munmap(area, len + PMD_SIZE);
}

/*
 * A clone from one's own process: a large folio must not end up mapped
 * twice in one mm where a write could show through both mappings; nor
 * when the THP was swapped out, since swap-in may bring it back large.
 */
FIXTURE(self_thp)
{
	char *src;
	unsigned long len;
};

FIXTURE_VARIANT(self_thp)
{
	bool swapped;
};

FIXTURE_VARIANT_ADD(self_thp, resident) { .swapped = false };
FIXTURE_VARIANT_ADD(self_thp, swapped) { .swapped = true };

FIXTURE_SETUP(self_thp)
{
	page_size = sysconf(_SC_PAGESIZE);
	self->len = 2 * PMD_SIZE;
	self->src = map_backing(self->len, THP);
	ASSERT_NE(NULL, self->src);
	fill(self->src, self->len, 'A');
	if (variant->swapped &&
	    (madvise(self->src, self->len, MADV_PAGEOUT) ||
	     !swapped_pages(0, (unsigned long)self->src, self->len)))
		SKIP(return, "nothing was swapped out (no swap, or not root)");
}

FIXTURE_TEARDOWN(self_thp)
{
	munmap(self->src, self->len);
}

TEST_F(self_thp, clone_stays_apart)
{
	char *m[2] = { self->src }, v[2] = { 'A', 'A' };

	m[1] = clone_of(getpid(), self->src, self->len, NULL, 0);
	ASSERT_NE(NULL, m[1]);
	EXPECT_TRUE(holds(m[1], self->len, 'A'));
	EXPECT_TRUE(all_apart(m, v, 2, self->len));
	munmap(m[1], self->len);
}

/*
 * The case from the 2019 review: A forks B, A clones B's range (which
 * still shares A's huge pages), B exits, A writes its own mapping.  The
 * clone must not change.
 */
TEST(fork_then_clone_back)
{
	unsigned long len = 2 * PMD_SIZE;
	char *mine, *c;
	pid_t b;

	page_size = sysconf(_SC_PAGESIZE);
	mine = map_backing(len, THP);
	ASSERT_NE(NULL, mine);
	fill(mine, len, 'A');
	b = fork_waiter();
	ASSERT_GE(b, 0);
	c = clone_of(b, mine, len, NULL, 0);
	ASSERT_NE(NULL, c);
	reap(b);
	EXPECT_TRUE(all_apart((char *[]){ mine, c }, (char [2]){ 'A', 'A' },
			      2, len));
	munmap(c, len);
	munmap(mine, len);
}

/*
 * A forks B; A moves its copy away and clones B's range back to the very
 * address where B has it.  The huge pages A and B share must not end up
 * mapped twice in A: once B is gone, a write at one address of A must not
 * show at the other.
 */
TEST(clone_to_the_same_address_as_in_a_fork_child)
{
	unsigned long len = 2 * PMD_SIZE;
	char *x, *y, *c;
	pid_t b;

	page_size = sysconf(_SC_PAGESIZE);
	x = map_backing(len, THP);
	ASSERT_NE(NULL, x);
	fill(x, len, 'A');
	b = fork_waiter();
	ASSERT_GE(b, 0);
	y = mremap(x, len, len, MREMAP_MAYMOVE | MREMAP_FIXED,
		   map_backing(len, THP));
	ASSERT_NE(MAP_FAILED, y);
	c = clone_of(b, x, len, x, PVMMAP_FIXED_NOREPLACE);
	ASSERT_EQ(x, c);
	reap(b);
	EXPECT_TRUE(all_apart((char *[]){ y, c }, (char [2]){ 'A', 'A' },
			      2, len));
	munmap(c, len);
	munmap(y, len);
}

/* PVMMAP_MOVE within one process: the range moves, as with mremap(). */
TEST(move_within_self)
{
	unsigned long len = 16 * 4096;
	char *src, *c;

	page_size = sysconf(_SC_PAGESIZE);
	src = map_backing(len, SMALL);
	ASSERT_NE(NULL, src);
	fill(src, len, 'A');
	c = clone_of(getpid(), src, len, NULL, PVMMAP_MOVE);
	ASSERT_NE(NULL, c);
	EXPECT_TRUE(holds(c, len, 'A'));
	/* msync() fails with ENOMEM on unmapped memory. */
	EXPECT_EQ(-1, msync(src, len, MS_ASYNC));
	EXPECT_EQ(ENOMEM, errno);
	munmap(c, len);
}

#ifndef __NR_mseal
#define __NR_mseal 462
#endif

/*
 * Sealed source mappings: they can be cloned (the clone is not sealed and
 * can be unmapped) but not moved away (EPERM, nothing changed).
 */
TEST(sealed_source)
{
	unsigned long len = 4 * 4096;
	char *src, *c;

	page_size = sysconf(_SC_PAGESIZE);
	src = map_backing(len, SMALL);
	ASSERT_NE(NULL, src);
	fill(src, len, 'A');
	if (syscall(__NR_mseal, src, len, 0))
		SKIP(return, "no mseal()");
	errno = 0;
	EXPECT_EQ(NULL, clone_of(getpid(), src, len, NULL, PVMMAP_MOVE));
	EXPECT_EQ(EPERM, errno);
	EXPECT_TRUE(holds(src, len, 'A'));
	c = clone_of(getpid(), src, len, NULL, 0);
	ASSERT_NE(NULL, c);
	EXPECT_TRUE(holds(c, len, 'A'));
	EXPECT_EQ(0, munmap(c, len));
	/* The source is still sealed. */
	EXPECT_EQ(-1, munmap(src, len));
	EXPECT_EQ(EPERM, errno);
}

/* A hole anywhere in the range: EFAULT, and nothing is mapped. */
TEST(hole_is_efault)
{
	unsigned long len;
	char *src, *dst;

	page_size = sysconf(_SC_PAGESIZE);
	len = 3 * page_size;
	/* Pages 0 and 2 mapped, holes at 1 and 3. */
	src = map_backing(4 * page_size, SMALL);
	ASSERT_NE(NULL, src);
	fill(src, 4 * page_size, 'A');
	ASSERT_EQ(0, munmap(src + page_size, page_size));
	ASSERT_EQ(0, munmap(src + 3 * page_size, page_size));
	/* A free destination, to see that the failed call leaves it free. */
	dst = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, dst);
	ASSERT_EQ(0, munmap(dst, len));
	errno = 0;
	EXPECT_EQ(NULL, clone_of(getpid(), src, len, dst,
				 PVMMAP_FIXED_NOREPLACE));
	EXPECT_EQ(EFAULT, errno);
	/* msync() fails with ENOMEM on unmapped memory. */
	EXPECT_EQ(-1, msync(dst, len, MS_ASYNC));
	EXPECT_EQ(ENOMEM, errno);
	/* A hole at the end. */
	errno = 0;
	EXPECT_EQ(NULL, clone_of(getpid(), src + 2 * page_size, 2 * page_size,
				 NULL, 0));
	EXPECT_EQ(EFAULT, errno);
	munmap(src, len);
}

/* Only private anonymous memory in this version: the rest is refused. */
/* RLIMIT_AS is the caller's: past it the clone fails and maps nothing. */
TEST(rlimit_as_is_enomem)
{
	unsigned long len = 256 * 4096;
	struct rlimit lim;
	char *src;
	pid_t child;
	int status;

	page_size = sysconf(_SC_PAGESIZE);
	src = map_backing(len, SMALL);
	ASSERT_NE(NULL, src);
	fill(src, len, 'A');
	child = fork();
	ASSERT_GE(child, 0);
	if (child == 0) {
		FILE *f = fopen("/proc/self/statm", "r");
		unsigned long pages;

		/* Room for half the clone on top of what is mapped now. */
		if (!f || fscanf(f, "%lu", &pages) != 1)
			_exit(11);
		fclose(f);
		lim.rlim_cur = pages * page_size + len / 2;
		lim.rlim_max = lim.rlim_cur;
		if (setrlimit(RLIMIT_AS, &lim))
			_exit(12);
		errno = 0;
		if (clone_of(getppid(), src, len, NULL, 0) || errno != ENOMEM)
			_exit(13);
		_exit(0);
	}
	ASSERT_EQ(child, waitpid(child, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	munmap(src, len);
}

/*
 * A thousand clone/unmap cycles (whose clones are written to, so that they
 * own pages) leave the map count, the commit charge and the anon memory
 * where they were.
 */
TEST(cycles_leave_nothing_behind)
{
	unsigned long len = 16 * 4096;
	long maps, committed, anon;
	char *src;
	int i;

	page_size = sysconf(_SC_PAGESIZE);
	src = map_backing(len, SMALL);
	ASSERT_NE(NULL, src);
	fill(src, len, 'A');
	maps = map_count();
	committed = kb_of("/proc/meminfo", "Committed_AS");
	anon = kb_of("/proc/self/status", "RssAnon");
	for (i = 0; i < 1000; i++) {
		char *c = clone_of(getpid(), src, len, NULL, 0);

		ASSERT_NE(NULL, c);
		if (i % 100 == 0)
			ASSERT_TRUE(holds(c, len, 'A'));
		c[(i % 16) * page_size] = 'x';
		ASSERT_EQ(0, munmap(c, len));
	}
	EXPECT_EQ(maps, map_count());
	/* Other processes may move the global commit charge a little. */
	EXPECT_GT(committed + 256, kb_of("/proc/meminfo", "Committed_AS"));
	EXPECT_EQ(anon, kb_of("/proc/self/status", "RssAnon"));
	EXPECT_TRUE(holds(src, len, 'A'));
	munmap(src, len);
}

/*
 * A range over several VMAs with different protections is cloned as
 * several VMAs with the same protections, copy-on-write each.
 */
TEST(several_vmas_keep_their_protections)
{
	unsigned long len, i;
	char *src, *c;
	int prot[4] = { PROT_READ | PROT_WRITE, PROT_READ, PROT_READ | PROT_WRITE,
			PROT_NONE };

	page_size = sysconf(_SC_PAGESIZE);
	len = 16 * page_size;
	src = map_backing(len, SMALL);
	ASSERT_NE(NULL, src);
	fill(src, len, 'A');
	for (i = 0; i < 4; i++)
		ASSERT_EQ(0, mprotect(src + i * 4 * page_size, 4 * page_size,
				      prot[i]));
	c = clone_of(getpid(), src, len, NULL, 0);
	ASSERT_NE(NULL, c);
	for (i = 0; i < 4; i++) {
		char line[256];
		unsigned long start, end;
		char perms[5] = "";
		FILE *f = fopen("/proc/self/maps", "r");
		unsigned long at = (unsigned long)c + i * 4 * page_size;

		ASSERT_NE(NULL, f);
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "%lx-%lx %4s", &start, &end, perms) == 3 &&
			    start <= at && at < end)
				break;
		fclose(f);
		EXPECT_EQ(prot[i] & PROT_READ ? 'r' : '-', perms[0]);
		EXPECT_EQ(prot[i] & PROT_WRITE ? 'w' : '-', perms[1]);
		EXPECT_EQ('p', perms[3]);
	}
	EXPECT_TRUE(holds(c, 12 * page_size, 'A'));
	mprotect(src, len, PROT_READ | PROT_WRITE);
	mprotect(c, len, PROT_READ | PROT_WRITE);
	/* Even the PROT_NONE part holds the source's pages. */
	EXPECT_EQ(0, memcmp(c + 12 * page_size, src + 12 * page_size,
			    4 * page_size));
	fill(c, len, 'B');
	EXPECT_TRUE(holds(src, len, 'A'));
	munmap(c, len);
	munmap(src, len);
}

/* The map count limit is the caller's: past it, ENOMEM and nothing mapped. */
TEST(map_count_limit_is_enomem)
{
	unsigned long len, i;
	char *src, old[32] = "";
	long maps;
	FILE *f;

	page_size = sysconf(_SC_PAGESIZE);
	if (geteuid() != 0)
		SKIP(return, "needs root for vm.max_map_count");
	len = 8 * page_size;
	src = map_backing(len, SMALL);
	ASSERT_NE(NULL, src);
	fill(src, len, 'A');
	/* Eight VMAs in the source. */
	for (i = 0; i < 8; i += 2)
		ASSERT_EQ(0, mprotect(src + i * page_size, page_size, PROT_READ));
	f = fopen("/proc/sys/vm/max_map_count", "r");
	ASSERT_NE(NULL, f);
	ASSERT_NE(NULL, fgets(old, sizeof(old), f));
	fclose(f);
	maps = map_count();
	/* Room for four more VMAs, not eight. */
	f = fopen("/proc/sys/vm/max_map_count", "w");
	ASSERT_NE(NULL, f);
	fprintf(f, "%ld\n", maps + 4);
	fclose(f);
	errno = 0;
	EXPECT_EQ(NULL, clone_of(getpid(), src, len, NULL, 0));
	EXPECT_EQ(ENOMEM, errno);
	EXPECT_EQ(maps, map_count());
	f = fopen("/proc/sys/vm/max_map_count", "w");
	ASSERT_NE(NULL, f);
	fputs(old, f);
	fclose(f);
	munmap(src, len);
}

/* No data copied: cloning 32 MiB does not take 32 MiB of memory. */
TEST(memory_is_not_copied)
{
	unsigned long len = 32UL << 20;
	long before, after;
	char *src, *c;

	page_size = sysconf(_SC_PAGESIZE);
	src = map_backing(len, SMALL);
	ASSERT_NE(NULL, src);
	fill(src, len, 'A');
	before = free_kb();
	c = clone_of(getpid(), src, len, NULL, 0);
	ASSERT_NE(NULL, c);
	after = free_kb();
	/* Page tables only: 8 KiB per 4 MiB; allow 1 MiB of noise. */
	EXPECT_GT(after + 1024 + (long)(len >> 10) / 512, before);
	ksft_print_msg("free: %ld kB before, %ld kB after cloning %lu kB\n",
		       before, after, len >> 10);
	EXPECT_TRUE(holds(c, len, 'A'));
	munmap(c, len);
	munmap(src, len);
}

/* Turn ksmd on, fast; returns false if there is no KSM. */
static bool ksm_run(void)
{
	FILE *f;

	f = fopen("/sys/kernel/mm/ksm/sleep_millisecs", "w");
	if (!f)
		return false;
	fputs("0", f);
	fclose(f);
	f = fopen("/sys/kernel/mm/ksm/run", "w");
	if (!f)
		return false;
	fputs("1", f);
	fclose(f);
	return true;
}

/*
 * KSM pages are known to their rmap_item at one address: a clone must not
 * share them at another.  The clone stays right while ksmd keeps working.
 */
TEST(ksm_pages)
{
	unsigned long len = 32 * 4096, i;
	long merged = 0;
	char *src, *c;

	page_size = sysconf(_SC_PAGESIZE);
	if (!ksm_run())
		SKIP(return, "no KSM");
	src = map_backing(len, SMALL);
	ASSERT_NE(NULL, src);
	memset(src, 'K', len);
	ASSERT_EQ(0, madvise(src, len, MADV_MERGEABLE));
	for (i = 0; i < 300 && merged <= 0; i++) {
		usleep(100 * 1000);
		merged = kb_of("/proc/self/status", "KsmMerging");
		if (merged < 0) {
			FILE *f = fopen("/proc/self/ksm_stat", "r");
			char key[64];
			long v;

			merged = 0;
			while (f && fscanf(f, "%63s %ld", key, &v) == 2)
				if (!strcmp(key, "ksm_merging_pages"))
					merged = v;
			if (f)
				fclose(f);
		}
	}
	if (merged <= 0)
		SKIP(return, "ksmd merged nothing in 30 s");
	c = clone_of(getpid(), src, len, NULL, 0);
	ASSERT_NE(NULL, c);
	for (i = 0; i < len; i++)
		ASSERT_EQ('K', c[i]);
	usleep(500 * 1000);	/* let ksmd look at the clone */
	c[0] = 'c';
	src[page_size] = 's';
	EXPECT_EQ('K', src[0]);
	EXPECT_EQ('K', c[page_size]);
	for (i = 2 * page_size; i < len; i++)
		ASSERT_EQ('K', c[i]);
	madvise(src, len, MADV_UNMERGEABLE);
	munmap(c, len);
	munmap(src, len);
}

/*
 * Maps @len bytes of 4 KiB pages filled with 'A' at *@src and pins them as
 * an io_uring fixed buffer.  Returns the ring's fd, -1 without io_uring,
 * -2 if the mapping or the registration failed.
 */
static int pinned_range(unsigned long len, char **src)
{
	struct io_uring_params params = { 0 };
	struct iovec iov;
	int ring;

	*src = map_backing(len, SMALL);
	if (!*src)
		return -2;
	fill(*src, len, 'A');
	ring = syscall(__NR_io_uring_setup, 1, &params);
	if (ring < 0)
		return -1;
	iov.iov_base = *src;
	iov.iov_len = len;
	if (syscall(__NR_io_uring_register, ring, IORING_REGISTER_BUFFERS,
		    &iov, 1)) {
		close(ring);
		return -2;
	}
	return ring;
}

/*
 * A page pinned for DMA (an io_uring fixed buffer) is copied into the
 * clone, as fork() does: the pinned page stays the source's, writable, at
 * the same PFN, and the two sides stay apart.
 */
TEST(pinned_pages_are_copied)
{
	unsigned long len = 4 * 4096;
	uint64_t pfn_before;
	char *src, *c;
	int ring;

	page_size = sysconf(_SC_PAGESIZE);
	ring = pinned_range(len, &src);
	if (ring == -1)
		SKIP(return, "no io_uring");
	ASSERT_LE(0, ring);
	pfn_before = pfn_of(0, (unsigned long)src);
	c = clone_of(getpid(), src, len, NULL, 0);
	ASSERT_NE(NULL, c);
	EXPECT_TRUE(holds(c, len, 'A'));
	if (geteuid() == 0) {
		EXPECT_NE(pfn_of(0, (unsigned long)src), pfn_of(0, (unsigned long)c));
		EXPECT_EQ(pfn_before, pfn_of(0, (unsigned long)src));
	}
	fill(src, len, 'B');
	EXPECT_TRUE(holds(c, len, 'A'));
	if (geteuid() == 0)
		EXPECT_EQ(pfn_before, pfn_of(0, (unsigned long)src));
	fill(c, len, 'C');
	EXPECT_TRUE(holds(src, len, 'B'));
	close(ring);
	munmap(c, len);
	munmap(src, len);
}

/*
 * PVMMAP_MOVE of pages pinned for DMA: the pin holder must not write into
 * the caller's memory after the hand-off, so the pinned pages are copied
 * and the pinned PFNs stay with the pin (then unmapped with the source);
 * the caller's copy holds the data.
 */
TEST(pinned_pages_are_copied_on_move)
{
	unsigned long len, off;
	uint64_t pfn_before[4];
	char *src, *c;
	int ring;

	page_size = sysconf(_SC_PAGESIZE);
	len = 4 * page_size;
	ring = pinned_range(len, &src);
	if (ring == -1)
		SKIP(return, "no io_uring");
	ASSERT_LE(0, ring);
	for (off = 0; off < len; off += page_size)
		pfn_before[off / page_size] = pfn_of(0, (unsigned long)src + off);
	c = clone_of(getpid(), src, len, NULL, PVMMAP_MOVE);
	ASSERT_NE(NULL, c);
	EXPECT_TRUE(holds(c, len, 'A'));
	if (geteuid() == 0)
		for (off = 0; off < len; off += page_size)
			EXPECT_NE(pfn_before[off / page_size],
				  pfn_of(0, (unsigned long)c + off));
	fill(c, len, 'C');
	EXPECT_TRUE(holds(c, len, 'C'));
	close(ring);
	munmap(c, len);
}

/*
 * A page that a pipe still references after vmsplice(2) (a reference
 * without a pin) moves write-protected: the caller's first write copies
 * it, so what the pipe delivers is what the source spliced, never what the
 * caller wrote after the move.
 */
TEST(move_of_vmspliced_pages_keeps_the_pipe_apart)
{
	unsigned long len;
	struct iovec iov;
	char *src, *m, *buf;
	int pipefd[2];

	page_size = sysconf(_SC_PAGESIZE);
	len = 4 * page_size;
	src = map_backing(len, SMALL);
	ASSERT_NE(NULL, src);
	fill(src, len, 'A');
	ASSERT_EQ(0, pipe(pipefd));
	iov.iov_base = src;
	iov.iov_len = len;
	ASSERT_EQ((ssize_t)len, vmsplice(pipefd[1], &iov, 1, 0));
	m = clone_of(getpid(), src, len, NULL, PVMMAP_MOVE);
	ASSERT_NE(NULL, m);
	fill(m, len, 'B');
	buf = malloc(len);
	ASSERT_NE(NULL, buf);
	ASSERT_EQ((ssize_t)len, read(pipefd[0], buf, len));
	EXPECT_TRUE(holds(buf, len, 'A'));
	EXPECT_TRUE(holds(m, len, 'B'));
	free(buf);
	close(pipefd[0]);
	close(pipefd[1]);
	munmap(m, len);
}

/*
 * PVMMAP_MOVE of mlocked memory: the result is not locked (mlock is not
 * inherited), so its pages are no longer mlocked: Mlocked goes back down.
 */
TEST(move_of_mlocked_memory_unlocks_it)
{
	unsigned long len = 16UL << 20;
	long mlocked;
	char *src, *m;

	page_size = sysconf(_SC_PAGESIZE);
	src = map_backing(len, SMALL);
	ASSERT_NE(NULL, src);
	fill(src, len, 'A');
	mlocked = kb_of("/proc/meminfo", "Mlocked");
	if (mlock(src, len))
		SKIP(return, "mlock: %s", strerror(errno));
	ASSERT_LE(mlocked + (long)(len >> 10) - 1024,
		  kb_of("/proc/meminfo", "Mlocked"));
	m = clone_of(getpid(), src, len, NULL, PVMMAP_MOVE);
	ASSERT_NE(NULL, m);
	EXPECT_GT(mlocked + 1024, kb_of("/proc/meminfo", "Mlocked"));
	EXPECT_TRUE(holds(m, len, 'A'));
	munmap(m, len);
}

/*
 * PVMMAP_MOVE of the huge zero page: the caller holds its own reference to
 * it, so it outlives the source and the shrinker (drop_caches) while the
 * caller maps it.
 */
TEST(move_of_the_huge_zero_page_outlives_the_source)
{
	unsigned long len = 2 * PMD_SIZE;
	unsigned long i, nonzero = 0;
	pid_t child;
	int ack[2];
	char *src = NULL, *m;

	page_size = sysconf(_SC_PAGESIZE);
	ASSERT_EQ(0, pipe(ack));
	child = fork();
	ASSERT_LE(0, child);
	if (child == 0) {
		char c = 0;

		src = map_backing(len, THP);
		for (unsigned long i = 0; src && i < len; i += page_size)
			c |= __atomic_load_n(src + i, __ATOMIC_RELAXED);
		if (write(ack[1], &src, sizeof(src)) != sizeof(src) || c)
			_exit(1);
		pause();
		_exit(0);
	}
	ASSERT_EQ(sizeof(src), read(ack[0], &src, sizeof(src)));
	ASSERT_NE(NULL, src);
	if (geteuid() != 0 ||
	    !(page_flags(child, (unsigned long)src) & (1ULL << KPF_ZERO_PAGE))) {
		reap(child);
		SKIP(return, "no huge zero page here (not root, or disabled)");
	}
	m = clone_of(child, src, len, NULL, PVMMAP_MOVE);
	ASSERT_NE(NULL, m);
	reap(child);
	write_file("/proc/sys/vm/drop_caches", "3");
	EXPECT_TRUE(page_flags(0, (unsigned long)m) & (1ULL << KPF_ZERO_PAGE));
	for (i = 0; i < len; i++)
		nonzero += m[i] != 0;
	EXPECT_EQ(0, nonzero);
	fill(m, len, 'B');
	EXPECT_TRUE(holds(m, len, 'B'));
	munmap(m, len);
}

/*
 * What page @i of the @n pages of move_of_whole_page_tables_moves_their_counts
 * holds: the first table cycles through all four kinds, the second
 * alternates swapped-out and zero pages.
 */
enum table_page { WRITTEN, SWAPPED, ZERO, UNTOUCHED };

static enum table_page table_page(unsigned long i, unsigned long n)
{
	if (i < n / 2)
		return i % 4;
	return i % 2 ? ZERO : SWAPPED;
}

/* Whether the source wrote page @i (its data then went to swap or not). */
static bool table_page_written(unsigned long i, unsigned long n)
{
	return table_page(i, n) == WRITTEN || table_page(i, n) == SWAPPED;
}

/*
 * What a whole page table of a move holds decides how it moves; a table's
 * pages, swap entries and zero pages all arrive, and the counters follow:
 * the first table mixes written, swapped-out, zero (read, never written)
 * and untouched pages, the second holds only swap entries and zero pages.
 * The caller's RssAnon and VmSwap grow by what the source's shrink, the
 * source's shrink by what it had there, nothing is read back from swap
 * (as in swapped_out_stays_out), and every page holds what the source left
 * in it.
 */
TEST(move_of_whole_page_tables_moves_their_counts)
{
	unsigned long len = 2 * PMD_SIZE, n, i, swapped, written = 0;
	long anon, swap, src_anon, src_swap, pswpin, now[5];
	int ack[2], ok = 1;
	char *src = NULL, *c;
	pid_t child;

	page_size = sysconf(_SC_PAGESIZE);
	n = len / page_size;
	ASSERT_EQ(0, pipe(ack));
	child = fork();
	ASSERT_LE(0, child);
	if (child == 0) {
		char z = 0;

		/* PMD-aligned as for THP, but of 4 KiB pages. */
		src = map_backing(len, THP);
		if (!src || madvise(src, len, MADV_NOHUGEPAGE))
			_exit(1);
		for (i = 0; i < n; i++) {
			char *page = src + i * page_size;

			if (table_page_written(i, n))
				memset(page, pattern(i, 'A'), page_size);
			if (table_page(i, n) == ZERO)
				z |= __atomic_load_n(page, __ATOMIC_RELAXED);
		}
		for (i = 0; i < n; i++) {
			if (table_page(i, n) == SWAPPED)
				madvise(src + i * page_size, page_size,
					MADV_PAGEOUT);
		}
		if (write(ack[1], &src, sizeof(src)) != sizeof(src) || z)
			_exit(1);
		pause();
		_exit(0);
	}
	ASSERT_EQ(sizeof(src), read(ack[0], &src, sizeof(src)));
	ASSERT_NE(NULL, src);
	swapped = swapped_pages(child, (unsigned long)src, len);
	if (!swapped) {
		reap(child);
		SKIP(return, "nothing was swapped out (no swap, or not root)");
	}
	for (i = 0; i < n; i++)
		written += table_page_written(i, n);
	/* Every counter read before any check: a message would grow the heap. */
	pswpin = vm_event("pswpin");
	anon = kb_of("/proc/self/status", "RssAnon");
	swap = kb_of("/proc/self/status", "VmSwap");
	src_anon = status_kb(child, "RssAnon");
	src_swap = status_kb(child, "VmSwap");
	c = clone_of(child, src, len, NULL, PVMMAP_MOVE);
	now[0] = kb_of("/proc/self/status", "RssAnon");
	now[1] = kb_of("/proc/self/status", "VmSwap");
	now[2] = status_kb(child, "RssAnon");
	now[3] = status_kb(child, "VmSwap");
	now[4] = vm_event("pswpin");
	ASSERT_NE(NULL, c);
	EXPECT_EQ(anon + (long)((written - swapped) * page_size / 1024), now[0]);
	EXPECT_EQ(swap + (long)(swapped * page_size / 1024), now[1]);
	EXPECT_EQ(src_anon - (long)((written - swapped) * page_size / 1024),
		  now[2]);
	EXPECT_EQ(src_swap - (long)(swapped * page_size / 1024), now[3]);
	EXPECT_GT((long)swapped, now[4] - pswpin);
	EXPECT_EQ(swapped, swapped_pages(0, (unsigned long)c, len));
	reap(child);
	for (i = 0; i < n; i++) {
		char want = table_page_written(i, n) ? pattern(i, 'A') : 0;
		const char *page = c + i * page_size;

		for (unsigned long b = 0; b < (unsigned long)page_size; b++)
			ok &= page[b] == want;
	}
	EXPECT_TRUE(ok);
	munmap(c, len);
}

/*
 * Concurrency: the source's threads write, fault, mprotect, munmap and
 * re-map in the range while this process clones it in a loop.  Nothing
 * crashes, no kernel report appears (the runner checks), and every cloned
 * word is one the source stored at that place: its high half names the
 * page, or the page is fresh (zero).
 */
#define CHURN_PAGES	64
#define CHURN_SECONDS	10

struct churn {
	uint64_t *base;
	bool stop;	/* read and written with __atomic builtins */
};

static void *churn_write(void *arg)
{
	struct churn *ch = arg;
	uint64_t gen = 0;

	while (!__atomic_load_n(&ch->stop, __ATOMIC_RELAXED)) {
		gen++;
		for (int i = 0; i < CHURN_PAGES / 2; i++)
			__atomic_store_n(&ch->base[i * page_size / 8],
					 (uint64_t)i << 32 | (uint32_t)gen,
					 __ATOMIC_RELAXED);
	}
	return NULL;
}

static void *churn_mprotect(void *arg)
{
	struct churn *ch = arg;
	char *part = (char *)ch->base + CHURN_PAGES / 2 * page_size;

	while (!__atomic_load_n(&ch->stop, __ATOMIC_RELAXED)) {
		mprotect(part, 8 * page_size, PROT_READ);
		mprotect(part, 8 * page_size, PROT_READ | PROT_WRITE);
	}
	return NULL;
}

static void *churn_remap(void *arg)
{
	struct churn *ch = arg;
	char *part = (char *)ch->base + (CHURN_PAGES / 2 + 8) * page_size;
	unsigned long plen = (CHURN_PAGES / 2 - 8) * page_size;

	while (!__atomic_load_n(&ch->stop, __ATOMIC_RELAXED)) {
		munmap(part, plen);
		if (mmap(part, plen, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED)
			break;
		for (unsigned long i = 0; i < plen / page_size; i++)
			*(uint64_t *)(part + i * page_size) =
				(uint64_t)(CHURN_PAGES / 2 + 8 + i) << 32;
	}
	return NULL;
}

TEST(concurrent_churn)
{
	unsigned long len = CHURN_PAGES * 4096;
	int to[2], status;
	uint64_t *base;
	long clones = 0, bad = 0;
	time_t end;
	pid_t src;

	page_size = sysconf(_SC_PAGESIZE);
	ASSERT_EQ(0, pipe(to));
	src = fork();
	ASSERT_GE(src, 0);
	if (src == 0) {
		struct churn ch = { .stop = false };
		pthread_t t[3];
		char c;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		ch.base = (uint64_t *)map_backing(len, SMALL);
		if (!ch.base)
			_exit(1);
		for (int i = 0; i < CHURN_PAGES; i++)
			ch.base[i * page_size / 8] = (uint64_t)i << 32;
		if (write(to[1], &ch.base, sizeof(ch.base)) != sizeof(ch.base))
			_exit(1);
		pthread_create(&t[0], NULL, churn_write, &ch);
		pthread_create(&t[1], NULL, churn_mprotect, &ch);
		pthread_create(&t[2], NULL, churn_remap, &ch);
		if (read(to[1], &c, 1) < 0)	/* blocks until killed */
			pause();
		pause();
		_exit(0);
	}
	ASSERT_EQ(sizeof(base), read(to[0], &base, sizeof(base)));
	end = time(NULL) + CHURN_SECONDS;
	while (time(NULL) < end) {
		uint64_t *c = (uint64_t *)clone_of(src, base, len, NULL, 0);

		if (!c) {
			/* A hole from the re-mapping thread is fine. */
			ASSERT_TRUE(errno == EFAULT || errno == EOPNOTSUPP);
			continue;
		}
		clones++;
		for (int i = 0; i < CHURN_PAGES; i++) {
			uint64_t w = c[i * page_size / 8];

			if (w && w >> 32 != (uint64_t)i)
				bad++;
		}
		munmap(c, len);
	}
	kill(src, SIGKILL);
	ASSERT_EQ(src, waitpid(src, &status, 0));
	EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	EXPECT_EQ(0, bad);
	EXPECT_LT(0, clones);
	ksft_print_msg("%ld clones in %d s\n", clones, CHURN_SECONDS);
}

/*
 * The caller's defaults for a new mapping apply to a clone as mmap(2)
 * applies them.  Each runs in a child: mlockall() and prctl() stay there.
 */
static int in_child(int (*fn)(struct peer *p), struct peer *p)
{
	int status;
	pid_t d = fork();

	if (d == 0)
		_exit(fn(p));
	if (d < 0 || waitpid(d, &status, 0) != d || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

/* mlockall(MCL_FUTURE): the clone is locked, its pages in memory. */
static int clone_under_mlockall(struct peer *p)
{
	long before;
	char locked[64], *c;

	if (mlockall(MCL_CURRENT | MCL_FUTURE))
		return 2;
	before = kb_of("/proc/self/status", "VmLck");
	c = clone_of(p->pid, p->addr, p->len, NULL, 0);
	if (!c)
		return 3;
	if (!has_vmflag((unsigned long)c, "lo"))
		return 4;
	if (kb_of("/proc/self/status", "VmLck") != before + (long)p->len / 1024)
		return 5;
	if (!smaps_value((unsigned long)c, "Locked", locked, sizeof(locked)) ||
	    strtol(locked, NULL, 10) != (long)p->len / 1024)
		return 6;
	if (swapped_pages(0, (unsigned long)c, p->len))
		return 7;
	return holds(c, p->len, 'A') ? 0 : 8;
}

TEST(mlockall_future_locks_the_clone)
{
	struct peer p;

	page_size = sysconf(_SC_PAGESIZE);
	ASSERT_TRUE(peer_start(&p, 32 * 4096, SMALL));
	/* Half of it on swap: populating brings it back. */
	peer_do(&p, CMD_PAGEOUT, 0);
	EXPECT_EQ(0, in_child(clone_under_mlockall, &p));
	peer_stop(&p);
}

/* Over RLIMIT_MEMLOCK, a locked clone is EAGAIN, as mmap(2) says. */
static int clone_over_memlock(struct peer *p)
{
	struct rlimit rl = { 0, 0 };
	long maps;

	/* CAP_IPC_LOCK ignores the limit: be nobody (as the source is). */
	if (mlockall(MCL_FUTURE) || setrlimit(RLIMIT_MEMLOCK, &rl))
		return 2;
	maps = map_count();
	errno = 0;
	if (clone_of(p->pid, p->addr, p->len, NULL, 0))
		return 3;
	if (errno != EAGAIN)
		return 10 + errno;
	return map_count() == maps ? 0 : 4;
}

TEST(mlockall_over_the_limit_is_eagain)
{
	struct peer p;
	int status;
	pid_t d;

	page_size = sysconf(_SC_PAGESIZE);
	if (geteuid() != 0)
		SKIP(return, "needs root to switch uids");
	d = fork();
	ASSERT_LE(0, d);
	if (d == 0) {
		/* Dumpable again after the uid change, so that it may attach. */
		if (setresgid(65534, 65534, 65534) ||
		    setresuid(65534, 65534, 65534) ||
		    prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) ||
		    !peer_start(&p, 8 * 4096, SMALL))
			_exit(1);
		_exit(in_child(clone_over_memlock, &p));
	}
	ASSERT_EQ(d, waitpid(d, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
}

/* PR_SET_MEMORY_MERGE: the clone is mergeable, as a new mmap() would be. */
static int clone_with_merge_any(struct peer *p)
{
	char *c;

	if (prctl(PR_SET_MEMORY_MERGE, 1, 0, 0, 0))
		return 2;
	c = clone_of(p->pid, p->addr, p->len, NULL, 0);
	if (!c)
		return 3;
	return has_vmflag((unsigned long)c, "mg") ? 0 : 4;
}

TEST(memory_merge_makes_the_clone_mergeable)
{
	struct peer p;

	page_size = sysconf(_SC_PAGESIZE);
	if (prctl(PR_GET_MEMORY_MERGE, 0, 0, 0, 0) < 0)
		SKIP(return, "no PR_SET_MEMORY_MERGE (KSM)");
	ASSERT_TRUE(peer_start(&p, 8 * 4096, SMALL));
	EXPECT_EQ(0, in_child(clone_with_merge_any, &p));
	peer_stop(&p);
}

/* The clone is new to soft-dirty trackers, as after mmap(2). */
TEST(clone_is_soft_dirty)
{
	struct peer p;
	char *c, *fresh;

	page_size = sysconf(_SC_PAGESIZE);
	/* A new mapping is soft-dirty where the kernel tracks it (not arm64). */
	fresh = mmap(NULL, page_size, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS,
		     -1, 0);
	ASSERT_NE(MAP_FAILED, fresh);
	if (!has_vmflag((unsigned long)fresh, "sd")) {
		munmap(fresh, page_size);
		SKIP(return, "no soft-dirty tracking: mmap() gives no \"sd\"");
	}
	munmap(fresh, page_size);
	ASSERT_TRUE(peer_start(&p, 8 * 4096, SMALL));
	c = clone_of(p.pid, p.addr, p.len, NULL, 0);
	peer_stop(&p);
	ASSERT_NE(NULL, c);
	EXPECT_TRUE(has_vmflag((unsigned long)c, "sd"));
	munmap(c, 8 * page_size);
}

#ifdef __aarch64__
#include <setjmp.h>
#include <sys/auxv.h>
#ifndef PROT_BTI
#define PROT_BTI	0x10
#endif
#ifndef HWCAP2_BTI
#define HWCAP2_BTI	0x20000
#endif

#define A64_RET		0xd65f03c0	/* ret */
#define A64_BTI_C	0xd503245f	/* bti c: a landing pad for blr */

/*
 * The arm64 tests' faults (SIGILL of BTI, SIGSEGV of MTE): the handler
 * notes si_code and jumps back to the access that faulted.
 */
static sigjmp_buf fault_env;
static int fault_code;

static void on_fault(int sig, siginfo_t *si, void *uc)
{
	__atomic_store_n(&fault_code, si->si_code, __ATOMIC_RELAXED);
	siglongjmp(fault_env, 1);
}

/*
 * Calls code at @fn indirectly (blr); returns si_code of a SIGILL, or 0.
 * A branch target exception is SIGILL with ILL_ILLOPC (do_el0_bti()); the
 * code called is a valid "ret", so no other SIGILL can come of it.
 */
static int call_indirect(char *fn)
{
	void (*f)(void) = (void (*)(void))fn;

	__atomic_store_n(&fault_code, 0, __ATOMIC_RELAXED);
	if (sigsetjmp(fault_env, 1) == 0)
		f();
	return __atomic_load_n(&fault_code, __ATOMIC_RELAXED);
}

/*
 * On arm64 a clone keeps the BTI guard of its source (PROT_BTI,
 * VM_ARM64_BTI, "bt" in smaps), as fork() does: the clone is the same
 * code with the same protection.  An indirect branch into a guarded page
 * must land on a BTI instruction, in the clone as in the source, or the
 * CPU raises a branch target exception (SIGILL).
 */
TEST(bti_guard_is_kept)
{
	struct sigaction sa = { .sa_sigaction = on_fault,
				.sa_flags = SA_SIGINFO };
	uint32_t *code;
	char *src, *c;

	page_size = sysconf(_SC_PAGESIZE);
	if (!(getauxval(AT_HWCAP2) & HWCAP2_BTI))
		SKIP(return, "the CPU has no BTI");
	src = mmap(NULL, page_size, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, src);
	code = (uint32_t *)src;
	code[0] = A64_RET;	/* no landing pad */
	code[1] = A64_BTI_C;
	code[2] = A64_RET;
	__builtin___clear_cache(src, src + 12);
	ASSERT_EQ(0, mprotect(src, page_size,
			      PROT_READ | PROT_EXEC | PROT_BTI));
	ASSERT_EQ(0, sigaction(SIGILL, &sa, NULL));
	/* The CPU enforces the guard: the source faults without a pad. */
	ASSERT_EQ(0, call_indirect(src + 4));
	ASSERT_EQ(ILL_ILLOPC, call_indirect(src));

	c = clone_of(getpid(), src, page_size, NULL, 0);
	ASSERT_NE(NULL, c);
	EXPECT_TRUE(has_vmflag((unsigned long)c, "bt"));
	EXPECT_EQ(0, call_indirect(c + 4));
	EXPECT_EQ(ILL_ILLOPC, call_indirect(c));
	signal(SIGILL, SIG_DFL);
	munmap(c, page_size);
	munmap(src, page_size);
}

#ifndef PROT_MTE
#define PROT_MTE	0x20
#endif
#ifndef HWCAP2_MTE
#define HWCAP2_MTE	0x40000
#endif
#ifndef PR_SET_TAGGED_ADDR_CTRL
#define PR_SET_TAGGED_ADDR_CTRL	55
#define PR_TAGGED_ADDR_ENABLE	1UL
#endif
#ifndef PR_MTE_TCF_SYNC
#define PR_MTE_TCF_SYNC	2UL
#endif
#ifndef SEGV_MTESERR
#define SEGV_MTESERR	9
#endif

/* @p with the logical tag (top byte) @tag. */
static char *with_tag(char *p, unsigned long tag)
{
	return (char *)(((uintptr_t)p & ~(0xffUL << 56)) | (tag << 56));
}

/* Reads a byte at @p; returns si_code of a SIGSEGV, or 0 (*@val set). */
static int read_checked(char *p, char *val)
{
	__atomic_store_n(&fault_code, 0, __ATOMIC_RELAXED);
	if (sigsetjmp(fault_env, 1) == 0)
		*val = __atomic_load_n(p, __ATOMIC_RELAXED);
	return __atomic_load_n(&fault_code, __ATOMIC_RELAXED);
}

/* Writes @val at @p; returns si_code of a SIGSEGV, or 0. */
static int write_checked(char *p, char val)
{
	__atomic_store_n(&fault_code, 0, __ATOMIC_RELAXED);
	if (sigsetjmp(fault_env, 1) == 0)
		__atomic_store_n(p, val, __ATOMIC_RELAXED);
	return __atomic_load_n(&fault_code, __ATOMIC_RELAXED);
}

/*
 * A clone of MTE-tagged memory (PROT_MTE) is tagged memory too: the tags
 * live with the page, which the clone shares, and its VMA keeps VM_MTE
 * ("mt"), so that accesses through the clone are checked against the same
 * tags.  A copy-on-write copies the tags with the data.
 */
TEST(mte_tags_are_shared_and_copied)
{
	struct sigaction sa = { .sa_sigaction = on_fault,
				.sa_flags = SA_SIGINFO };
	char *src, *c, v;
	unsigned long off;

	page_size = sysconf(_SC_PAGESIZE);
	if (!(getauxval(AT_HWCAP2) & HWCAP2_MTE))
		SKIP(return, "the CPU has no MTE");
	ASSERT_EQ(0, prctl(PR_SET_TAGGED_ADDR_CTRL,
			   PR_TAGGED_ADDR_ENABLE | PR_MTE_TCF_SYNC, 0, 0, 0));
	src = mmap(NULL, page_size, PROT_READ | PROT_WRITE | PROT_MTE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, src);
	ASSERT_EQ(0, sigaction(SIGSEGV, &sa, NULL));
	/* Tag 3 on every granule, then data through the tagged pointer. */
	for (off = 0; off < page_size; off += 16)
		asm volatile(".arch armv8.5-a+memtag\n\tstg %0, [%0]"
			     : : "r"(with_tag(src + off, 3)) : "memory");
	for (off = 0; off < page_size; off++)
		ASSERT_EQ(0, write_checked(with_tag(src + off, 3), 0x5a));
	ASSERT_EQ(SEGV_MTESERR, read_checked(with_tag(src, 5), &v));

	c = clone_of(getpid(), src, page_size, NULL, 0);
	ASSERT_NE(NULL, c);
	EXPECT_TRUE(has_vmflag((unsigned long)c, "mt"));
	EXPECT_EQ(0, read_checked(with_tag(c + 100, 3), &v));
	EXPECT_EQ(0x5a, v);
	EXPECT_EQ(SEGV_MTESERR, read_checked(with_tag(c + 100, 5), &v));
	/* Copy-on-write: the clone's own page has the tags too. */
	EXPECT_EQ(0, write_checked(with_tag(c + 100, 3), 1));
	EXPECT_EQ(0, read_checked(with_tag(c + 100, 3), &v));
	EXPECT_EQ(1, v);
	EXPECT_EQ(SEGV_MTESERR, read_checked(with_tag(c + 200, 5), &v));
	EXPECT_EQ(0, read_checked(with_tag(src + 100, 3), &v));
	EXPECT_EQ(0x5a, v);
	signal(SIGSEGV, SIG_DFL);
	prctl(PR_SET_TAGGED_ADDR_CTRL, 0, 0, 0, 0);
	munmap(c, page_size);
	munmap(src, page_size);
}

/*
 * With the tagged address ABI (TBI), the source address may carry a tag
 * in its top byte: it is untagged as the target's mm untags it, as
 * process_madvise(2) does.
 */
TEST(tagged_source_address)
{
	char *src, *c;

	page_size = sysconf(_SC_PAGESIZE);
	if (prctl(PR_SET_TAGGED_ADDR_CTRL, PR_TAGGED_ADDR_ENABLE, 0, 0, 0))
		SKIP(return, "no tagged address ABI");
	src = mmap(NULL, 4 * page_size, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, src);
	memset(src, 0x3c, 4 * page_size);
	c = clone_of(getpid(), with_tag(src, 0x2a), 4 * page_size, NULL, 0);
	ASSERT_NE(NULL, c);
	EXPECT_EQ(0, memcmp(c, src, 4 * page_size));
	prctl(PR_SET_TAGGED_ADDR_CTRL, 0, 0, 0, 0);
	munmap(c, 4 * page_size);
	munmap(src, 4 * page_size);
}
#endif /* __aarch64__ */

/* The kernel's taint flags: TAINT_WARN (bit 9) once a WARN fired. */
#define TAINT_WARN_MASK	512UL

static unsigned long taint(void)
{
	unsigned long t = 0;
	FILE *f = fopen("/proc/sys/kernel/tainted", "r");

	if (f) {
		if (fscanf(f, "%lu", &t) != 1)
			t = 0;
		fclose(f);
	}
	return t;
}

/*
 * A private clone keeps its source's page offset (rmap finds the pages it
 * shares by it).  Marked MADV_WIPEONFORK, it is an unfaulted anonymous
 * mapping in a fork() child, whose page offset must then follow its
 * address (mm/vma.h's assert_sane_pgoff()): else a partial munmap() in the
 * child warns in __split_vma().  The offset of an anonymous mapping does
 * not show in /proc/PID/maps; the warning shows as a new taint (and on
 * the console, which the runner checks).
 */
TEST(wiped_on_fork_clone_splits_in_the_child)
{
	unsigned long len = 16 * 4096;
	struct peer p;
	char *c, *spot;
	int status;
	pid_t pid;

	page_size = sysconf(_SC_PAGESIZE);
	if (taint() & TAINT_WARN_MASK)
		SKIP(return, "the kernel has warned already: a new warning would not show");
	ASSERT_TRUE(peer_start(&p, len, SMALL));
	/* Anywhere but the source's address, where the offsets would agree. */
	spot = mmap(NULL, 2 * len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, spot);
	if (spot == p.addr)
		spot += len;
	c = clone_of(p.pid, p.addr, len, spot, PVMMAP_FIXED);
	peer_stop(&p);
	ASSERT_EQ(spot, c);
	ASSERT_EQ(0, madvise(c, len, MADV_WIPEONFORK));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		if (c[0] || c[len - 1])
			_exit(1);
		if (munmap(c + 4 * page_size, page_size))
			_exit(2);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status))
		TH_LOG("child: 1 not wiped, 2 munmap failed");
	EXPECT_FALSE(taint() & TAINT_WARN_MASK)
		TH_LOG("the child's munmap() of a page of the clone warned");
	EXPECT_TRUE(holds(c, len, 'A'));
	munmap(spot, 2 * len);
}

/*
 * A PVMMAP_FIXED destination over a range registered with userfaultfd
 * delivers UFFD_EVENT_UNMAP, as munmap(2) and mmap(MAP_FIXED) do.  Like
 * them, the call waits until the event is read: another thread reads it.
 */
struct uffd_reader {
	int uffd;
	struct uffd_msg msg;
	ssize_t got;
};

static void *read_uffd_event(void *arg)
{
	struct uffd_reader *r = arg;
	struct pollfd pfd = { .fd = r->uffd, .events = POLLIN };

	r->got = -1;
	if (poll(&pfd, 1, 30000) == 1)
		r->got = read(r->uffd, &r->msg, sizeof(r->msg));
	return NULL;
}

TEST(fixed_over_userfaultfd_range_reports_unmap)
{
	struct uffdio_api api = { .api = UFFD_API,
				  .features = UFFD_FEATURE_EVENT_UNMAP };
	unsigned long len = 8 * 4096;
	struct uffdio_register reg;
	struct uffd_reader r;
	pthread_t reader;
	struct peer p;
	char *mine;
	int uffd;

	page_size = sysconf(_SC_PAGESIZE);
	uffd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (uffd < 0)
		SKIP(return, "no userfaultfd (%s)", strerror(errno));
	ASSERT_EQ(0, ioctl(uffd, UFFDIO_API, &api));
	mine = map_backing(len, SMALL);
	ASSERT_NE(NULL, mine);
	reg.range.start = (unsigned long)mine;
	reg.range.len = len;
	reg.mode = UFFDIO_REGISTER_MODE_MISSING;
	ASSERT_EQ(0, ioctl(uffd, UFFDIO_REGISTER, &reg));
	ASSERT_TRUE(peer_start(&p, len, SMALL));
	r.uffd = uffd;
	ASSERT_EQ(0, pthread_create(&reader, NULL, read_uffd_event, &r));
	ASSERT_EQ(mine, clone_of(p.pid, p.addr, len, mine, PVMMAP_FIXED));
	pthread_join(reader, NULL);
	peer_stop(&p);
	EXPECT_TRUE(holds(mine, len, 'A'));
	ASSERT_EQ(sizeof(r.msg), r.got);
	EXPECT_EQ(UFFD_EVENT_UNMAP, r.msg.event);
	EXPECT_EQ((unsigned long)mine, r.msg.arg.remove.start);
	EXPECT_EQ((unsigned long)mine + len, r.msg.arg.remove.end);
	munmap(mine, len);
	close(uffd);
}

/*
 * An OOM-reaped source (here reaped by process_mrelease(2) as it dies)
 * has lost its pages while its page tables still seem to describe them: a
 * clone of it is EFAULT, as process_vm_readv(2) is, never zero pages.
 *
 * To meet the source reaped but not yet gone, one of its threads keeps
 * its mmap lock busy with fork()s of a large range when it is killed:
 * the reaper queues for the lock first, then the clone, which finds the
 * reaped mm once it gets both locks.  Whether a call meets the source
 * before the reap, after it, or gone (ESRCH) is still a race; what it
 * returns must always be one of those.
 */
#ifndef __NR_process_mrelease
#define __NR_process_mrelease 448
#endif

struct reaped {
	char *addr;
	pid_t forker;	/* the thread that forks */
};

static void *fork_loop(void *arg)
{
	__atomic_store_n((pid_t *)arg, gettid(), __ATOMIC_RELEASE);
	for (;;) {
		pid_t child = fork();

		if (child == 0)
			_exit(0);
		if (child > 0)
			waitpid(child, NULL, 0);
	}
	return NULL;
}

static pid_t forking_source(unsigned long len, struct reaped *r)
{
	int to[2];
	pid_t s;

	if (pipe(to))
		return -1;
	s = fork();
	if (s == 0) {
		pthread_t t;

		r->addr = map_backing(len, SMALL);
		if (!r->addr)
			_exit(1);
		fill(r->addr, len, 'A');
		r->forker = 0;
		pthread_create(&t, NULL, fork_loop, &r->forker);
		while (!__atomic_load_n(&r->forker, __ATOMIC_ACQUIRE))
			usleep(1000);
		if (write(to[1], r, sizeof(*r)) != sizeof(*r))
			_exit(1);
		pause();
		_exit(0);
	}
	close(to[1]);
	if (s < 0 || read(to[0], r, sizeof(*r)) != sizeof(*r))
		s = -1;
	close(to[0]);
	return s;
}

static void *mrelease(void *arg)
{
	syscall(__NR_process_mrelease, *(int *)arg, 0);
	return NULL;
}

/* Tests that take longer than the harness's default 30 s under TCG. */
FIXTURE(slow) {};
FIXTURE_SETUP(slow) {}
FIXTURE_TEARDOWN(slow) {}

TEST_F_TIMEOUT(slow, oom_reaped_source_is_efault, 300)
{
	unsigned long len = 32UL << 20;
	int reaped = 0, before = 0, gone = 0;

	page_size = sysconf(_SC_PAGESIZE);
	for (int i = 0; i < 8; i++) {
		struct reaped r;
		pid_t s = forking_source(len, &r);
		int pidfd, status;
		pthread_t reaper;
		char *c;

		ASSERT_LT(0, s);
		pidfd = sys_pidfd_open(s, 0);
		ASSERT_LE(0, pidfd);
		usleep(100 * 1000);
		kill(s, SIGKILL);
		ASSERT_EQ(0, pthread_create(&reaper, NULL, mrelease, &pidfd));
		usleep(10 * 1000);
		/* The forking thread's id names the process while it has an mm. */
		c = clone_of(r.forker, r.addr, len, NULL, 0);
		if (c) {
			ASSERT_TRUE(holds(c, len, 'A'));
			munmap(c, len);
			before++;
		} else if (errno == EFAULT) {
			reaped++;
		} else {
			ASSERT_EQ(ESRCH, errno);
			gone++;
		}
		pthread_join(reaper, NULL);
		close(pidfd);
		ASSERT_EQ(s, waitpid(s, &status, 0));
	}
	ksft_print_msg("clone before the reap %d, after it %d, source gone %d\n",
		       before, reaped, gone);
}

TEST_HARNESS_MAIN
