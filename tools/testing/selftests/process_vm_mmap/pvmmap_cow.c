// SPDX-License-Identifier: GPL-2.0
/*
 * process_vm_mmap(2): what else can reach a folio that a clone shares.
 *
 * Copy-on-write after a clone relies on what fork() relies on: a page of
 * an anonymous large folio is mapped at most once in each process (else
 * the write fault reuses the folio and the write shows through the other
 * mapping), and KSM's reverse map finds every mapping of a KSM page.
 * Each test here builds one way for a second reference to reach the
 * caller, or for a page to leave the reverse map's sight: through the swap
 * cache, a second clone, fork(), KSM merging after the clone; and the
 * protection keys of the source.  Then the source goes away, and the
 * caller checks what it holds as an adversary would: every mapping is
 * written in turn while the others must keep their data, each goes
 * through mprotect(PROT_READ) and back (page_table_check), and reclaim
 * and migration must reach every page.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <linux/io_uring.h>
#include <unistd.h>

#include "../kselftest_harness.h"
#include "pvmmap.h"
#include "pvmmap_data.h"
#include "pvmmap_peer.h"

#define THP_SYSFS	"/sys/kernel/mm/transparent_hugepage"
#define KSM_SYSFS	"/sys/kernel/mm/ksm"
#define MAX_SIZES	16

/* The THP size settings, to put back as they were. */
struct thp_saved {
	int n;
	char name[MAX_SIZES][32];
	char value[MAX_SIZES][16];
};

/* The bracketed word of a sysfs choice ("always [madvise] never"). */
static bool read_choice(const char *path, char *out, size_t size)
{
	char buf[128], *l, *r;
	FILE *f = fopen(path, "r");

	if (!f)
		return false;
	if (!fgets(buf, sizeof(buf), f)) {
		fclose(f);
		return false;
	}
	fclose(f);
	l = strchr(buf, '[');
	r = l ? strchr(l, ']') : NULL;
	if (!r || (size_t)(r - l) > size)
		return false;
	memcpy(out, l + 1, r - l - 1);
	out[r - l - 1] = '\0';
	return true;
}

/*
 * Let anonymous memory get folios of @kb only (PMD-sized included), where
 * MADV_HUGEPAGE asks for them; saves the old settings in @saved.
 */
static bool thp_only(unsigned long kb, struct thp_saved *saved)
{
	char path[160], want[32];
	struct dirent *d;
	bool found = false;
	DIR *dir = opendir(THP_SYSFS);

	saved->n = 0;
	if (!dir)
		return false;
	snprintf(want, sizeof(want), "hugepages-%lukB", kb);
	while ((d = readdir(dir)) && saved->n < MAX_SIZES) {
		int i = saved->n;

		if (strncmp(d->d_name, "hugepages-", 10) ||
		    strlen(d->d_name) >= sizeof(saved->name[i]))
			continue;
		strcpy(saved->name[i], d->d_name);
		snprintf(path, sizeof(path), THP_SYSFS "/%s/enabled",
			 saved->name[i]);
		if (!read_choice(path, saved->value[i], sizeof(saved->value[i])))
			continue;
		saved->n++;
		if (!strcmp(d->d_name, want))
			found = !write_file(path, "madvise");
		else
			write_file(path, "never");
	}
	closedir(dir);
	return found;
}

static void thp_restore(const struct thp_saved *saved)
{
	char path[160];

	for (int i = 0; i < saved->n; i++) {
		snprintf(path, sizeof(path), THP_SYSFS "/%s/enabled",
			 saved->name[i]);
		write_file(path, saved->value[i]);
	}
}

/* Whether the page at @addr of @pid is part of a large folio. */
static bool in_large_folio(pid_t pid, unsigned long addr)
{
	uint64_t flags = page_flags(pid, addr);

	return flags & (1ULL << KPF_THP) &&
	       flags & (1ULL << KPF_COMPOUND_HEAD | 1ULL << KPF_COMPOUND_TAIL);
}

static bool have_swap(void)
{
	return kb_of("/proc/meminfo", "SwapTotal") > 0;
}

/*
 * The swap cache: a source child maps 2 MiB in folios of one size, pages
 * them out, and the caller clones the range twice in ways that let a
 * page reach it twice: the swap cache holds a large folio for entries
 * that the first clone duplicated.
 */
FIXTURE(swapcache)
{
	struct thp_saved thp;
	struct peer p;
	unsigned long len;
};

FIXTURE_VARIANT(swapcache)
{
	unsigned long kb;
};

FIXTURE_VARIANT_ADD(swapcache, mthp16) { .kb = 16 };
FIXTURE_VARIANT_ADD(swapcache, mthp64) { .kb = 64 };
FIXTURE_VARIANT_ADD(swapcache, mthp1024) { .kb = 1024 };
FIXTURE_VARIANT_ADD(swapcache, pmd) { .kb = 2048 };

FIXTURE_SETUP(swapcache)
{
	page_size = sysconf(_SC_PAGESIZE);
	self->len = PMD_SIZE;
	self->p.pid = 0;
	if (!thp_only(variant->kb, &self->thp))
		SKIP(return, "no %lu kB folios for anonymous memory", variant->kb);
	if (!have_swap())
		SKIP(return, "no swap");
	ASSERT_TRUE(peer_start(&self->p, self->len, THP));
	if (!in_large_folio(self->p.pid, (unsigned long)self->p.addr))
		SKIP(return, "the source got no %lu kB folio", variant->kb);
	ASSERT_EQ(1, peer_do(&self->p, CMD_PAGEOUT, 0));
	if (swapped_pages(self->p.pid, (unsigned long)self->p.addr,
			  self->len) != self->len / page_size)
		SKIP(return, "the source range did not go out to swap");
}

FIXTURE_TEARDOWN(swapcache)
{
	if (self->p.pid > 0)
		peer_stop(&self->p);
	thp_restore(&self->thp);
}

/* Two clones of the same swapped-out range. */
TEST_F(swapcache, clone_twice)
{
	char *c[2], v[2] = { 'A', 'A' };

	c[0] = clone_of(self->p.pid, self->p.addr, self->len, NULL, 0);
	ASSERT_NE(NULL, c[0]);
	c[1] = clone_of(self->p.pid, self->p.addr, self->len, NULL, 0);
	ASSERT_NE(NULL, c[1]);
	peer_stop(&self->p);
	self->p.pid = 0;
	EXPECT_TRUE(holds(c[0], self->len, 'A'));
	EXPECT_TRUE(holds(c[1], self->len, 'A'));
	EXPECT_TRUE(all_apart(c, v, 2, self->len));
	munmap(c[0], self->len);
	munmap(c[1], self->len);
}

/* The source reads its range back (through the swap cache) in between. */
TEST_F(swapcache, source_reads_in_between)
{
	char *c[2], v[2] = { 'A', 'A' };

	c[0] = clone_of(self->p.pid, self->p.addr, self->len, NULL, 0);
	ASSERT_NE(NULL, c[0]);
	ASSERT_EQ(1, peer_do(&self->p, CMD_TOUCH, 0));
	c[1] = clone_of(self->p.pid, self->p.addr, self->len, NULL, 0);
	ASSERT_NE(NULL, c[1]);
	peer_stop(&self->p);
	self->p.pid = 0;
	EXPECT_TRUE(holds(c[0], self->len, 'A'));
	EXPECT_TRUE(holds(c[1], self->len, 'A'));
	EXPECT_TRUE(all_apart(c, v, 2, self->len));
	munmap(c[0], self->len);
	munmap(c[1], self->len);
}

/*
 * The caller reads its first clone back in between: the folio stays in
 * the swap cache, the source's entries now have one reference each.
 */
TEST_F(swapcache, caller_reads_in_between)
{
	char *c[2], v[2] = { 'A', 'A' };

	c[0] = clone_of(self->p.pid, self->p.addr, self->len, NULL, 0);
	ASSERT_NE(NULL, c[0]);
	EXPECT_TRUE(holds(c[0], self->len, 'A'));
	c[1] = clone_of(self->p.pid, self->p.addr, self->len, NULL, 0);
	ASSERT_NE(NULL, c[1]);
	peer_stop(&self->p);
	self->p.pid = 0;
	EXPECT_TRUE(holds(c[1], self->len, 'A'));
	EXPECT_TRUE(all_apart(c, v, 2, self->len));
	munmap(c[0], self->len);
	munmap(c[1], self->len);
}

/*
 * A child clones its parent's range while it holds the swap entries of
 * that range it inherited by fork(); the parent then lets go of it.
 */
TEST_F(swapcache, child_clones_what_it_inherited)
{
	char *mine, go;
	int to_child[2], to_parent[2], status;
	pid_t child;

	/* This test is its own source: the peer is not needed. */
	peer_stop(&self->p);
	self->p.pid = 0;
	mine = map_backing(self->len, THP);
	ASSERT_NE(NULL, mine);
	fill(mine, self->len, 'A');
	if (!in_large_folio(0, (unsigned long)mine))
		SKIP(return, "no %lu kB folio", variant->kb);
	ASSERT_EQ(0, madvise(mine, self->len, MADV_PAGEOUT));
	if (swapped_pages(0, (unsigned long)mine, self->len) !=
	    self->len / page_size)
		SKIP(return, "the range did not go out to swap");
	ASSERT_EQ(0, pipe(to_child));
	ASSERT_EQ(0, pipe(to_parent));
	child = fork();
	ASSERT_LE(0, child);
	if (child == 0) {
		char *c[2] = { mine, NULL }, v[2] = { 'A', 'A' };

		c[1] = clone_of(getppid(), mine, self->len, NULL, 0);
		if (!c[1] || write(to_parent[1], "c", 1) != 1 ||
		    read(to_child[0], &go, 1) != 1)
			_exit(2);
		_exit(holds(c[0], self->len, 'A') &&
		      holds(c[1], self->len, 'A') &&
		      all_apart(c, v, 2, self->len) ? 0 : 1);
	}
	ASSERT_EQ(1, read(to_parent[0], &go, 1));
	ASSERT_EQ(0, munmap(mine, self->len));
	ASSERT_EQ(1, write(to_child[1], "g", 1));
	ASSERT_EQ(child, waitpid(child, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
}

/* KSM, set to scan fast; its settings put back afterwards. */
struct ksm_saved {
	char run[16], pages[16], sleep[16];
};

static bool ksm_read(const char *name, char *val, size_t size)
{
	char path[128];
	FILE *f;
	bool ok;

	snprintf(path, sizeof(path), KSM_SYSFS "/%s", name);
	f = fopen(path, "r");
	if (!f)
		return false;
	ok = !!fgets(val, size, f);
	fclose(f);
	val[strcspn(val, "\n")] = '\0';
	return ok;
}

static long ksm_value(const char *name)
{
	char val[32];

	return ksm_read(name, val, sizeof(val)) ? strtol(val, NULL, 10) : -1;
}

static bool ksm_fast(struct ksm_saved *saved)
{
	return ksm_read("run", saved->run, sizeof(saved->run)) &&
	       ksm_read("pages_to_scan", saved->pages, sizeof(saved->pages)) &&
	       ksm_read("sleep_millisecs", saved->sleep, sizeof(saved->sleep)) &&
	       !write_file(KSM_SYSFS "/pages_to_scan", "5000") &&
	       !write_file(KSM_SYSFS "/sleep_millisecs", "10") &&
	       !write_file(KSM_SYSFS "/run", "1");
}

static void ksm_restore(const struct ksm_saved *saved)
{
	write_file(KSM_SYSFS "/pages_to_scan", saved->pages);
	write_file(KSM_SYSFS "/sleep_millisecs", saved->sleep);
	write_file(KSM_SYSFS "/run", saved->run);
}

/* Waits until ksmd has scanned everything @scans more times (max 60 s). */
static bool ksm_scanned(int scans)
{
	long start = ksm_value("full_scans");

	for (int i = 0; i < 600 && start >= 0; i++) {
		if (ksm_value("full_scans") >= start + scans)
			return true;
		usleep(100 * 1000);
	}
	return false;
}

FIXTURE(ksm)
{
	struct ksm_saved saved;
	struct peer p;
	unsigned long len;
};

FIXTURE_SETUP(ksm)
{
	page_size = sysconf(_SC_PAGESIZE);
	self->len = 64 * page_size;
	self->p.pid = 0;
	if (!ksm_fast(&self->saved))
		SKIP(return, "no KSM");
	if (!have_swap())
		SKIP(return, "no swap");
	ASSERT_TRUE(peer_start(&self->p, self->len, SMALL));
	/* Identical pages, with a byte no other test merges. */
	ASSERT_EQ(1, peer_do(&self->p, CMD_SAME, 'k'));
}

FIXTURE_TEARDOWN(ksm)
{
	if (self->p.pid > 0)
		peer_stop(&self->p);
	ksm_restore(&self->saved);
}

static bool all_bytes(const char *p, unsigned long len, char c)
{
	for (unsigned long i = 0; i < len; i++)
		if (p[i] != c)
			return false;
	return true;
}

/*
 * The source becomes mergeable after the clone: ksmd must not turn the
 * pages it shares with the clone into KSM pages that the clone maps where
 * the reverse map does not look.
 */
TEST_F(ksm, source_merges_after_the_clone)
{
	char *c;

	c = clone_of(self->p.pid, self->p.addr, self->len, NULL, 0);
	ASSERT_NE(NULL, c);
	ASSERT_EQ(1, peer_do(&self->p, CMD_MERGEABLE, 0));
	ASSERT_TRUE(ksm_scanned(3));
	peer_stop(&self->p);
	self->p.pid = 0;
	EXPECT_TRUE(all_bytes(c, self->len, 'k'));
	EXPECT_EQ(0UL, reaches_every_page(c, self->len));
	munmap(c, self->len);
}

/*
 * The clone is made mergeable (as MADV_MERGEABLE or PR_SET_MEMORY_MERGE
 * would make it) by a caller that then exits: the pages the source still
 * maps must stay within the reverse map's reach.
 */
TEST_F(ksm, clone_merges)
{
	int status;
	pid_t d = fork();

	ASSERT_LE(0, d);
	if (d == 0) {
		char *c = clone_of(self->p.pid, self->p.addr, self->len, NULL, 0);

		if (!c || madvise(c, self->len, MADV_MERGEABLE) ||
		    !ksm_scanned(3))
			_exit(1);
		_exit(0);
	}
	ASSERT_EQ(d, waitpid(d, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status));
	EXPECT_EQ(1, peer_do(&self->p, CMD_REACH, 0));
}

/*
 * The signal that reading [@p, @p + @len) raised, 0 if none; its si_code
 * in probe_code.  Both are written by the handler: atomics, so that the
 * compiler reads them from memory after siglongjmp().
 */
static sigjmp_buf probe_jmp;
static int probe_sig, probe_code;

static void probe_handler(int sig, siginfo_t *si, void *uc)
{
	__atomic_store_n(&probe_sig, sig, __ATOMIC_RELAXED);
	__atomic_store_n(&probe_code, si->si_code, __ATOMIC_RELAXED);
	siglongjmp(probe_jmp, 1);
}

static int read_faults(const char *p, unsigned long len)
{
	struct sigaction sa = { .sa_sigaction = probe_handler,
				.sa_flags = SA_SIGINFO }, old_segv, old_bus;

	__atomic_store_n(&probe_sig, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&probe_code, 0, __ATOMIC_RELAXED);
	sigaction(SIGSEGV, &sa, &old_segv);
	sigaction(SIGBUS, &sa, &old_bus);
	if (sigsetjmp(probe_jmp, 1) == 0)
		for (unsigned long i = 0; i < len; i++)
			(void)__atomic_load_n(p + i, __ATOMIC_RELAXED);
	sigaction(SIGSEGV, &old_segv, NULL);
	sigaction(SIGBUS, &old_bus, NULL);
	return __atomic_load_n(&probe_sig, __ATOMIC_RELAXED);
}

/*
 * Protection keys: the source's pages carry its key in their page table
 * entries; the clone has key 0 (as its VMA says), so the caller, whose
 * PKRU denies keys it never allocated, reads and writes it.
 */

FIXTURE(pkey)
{
	struct peer p;
};

FIXTURE_VARIANT(pkey)
{
	enum backing backing;
	unsigned long len;
};

FIXTURE_VARIANT_ADD(pkey, small) { .backing = SMALL, .len = 16 * 4096 };
FIXTURE_VARIANT_ADD(pkey, thp) { .backing = THP, .len = PMD_SIZE };

FIXTURE_SETUP(pkey)
{
	page_size = sysconf(_SC_PAGESIZE);
	ASSERT_TRUE(peer_start(&self->p, variant->len, variant->backing));
	/*
	 * Only the source allocates a key: pkey_alloc() would give this
	 * process access to it, and its default PKRU must stay as it is.
	 */
	if (peer_do(&self->p, CMD_PKEY, 0) != 1)
		SKIP(return, "no protection keys");
}

FIXTURE_TEARDOWN(pkey)
{
	if (self->p.pid > 0)
		peer_stop(&self->p);
}

TEST_F(pkey, clone_has_key_0)
{
	unsigned long len = variant->len;
	char *c;

	c = clone_of(self->p.pid, self->p.addr, len, NULL, 0);
	ASSERT_NE(NULL, c);
	if (variant->backing == THP)
		EXPECT_LT(0, anon_huge_kb(0, (unsigned long)c));
	if (read_faults(c, len))
		ksft_print_msg("signal %d, si_code %d reading the clone\n",
			       probe_sig, probe_code);
	ASSERT_EQ(0, __atomic_load_n(&probe_sig, __ATOMIC_RELAXED));
	EXPECT_TRUE(holds(c, len, 'A'));
	fill(c, len, 'B');
	EXPECT_TRUE(holds(c, len, 'B'));
	EXPECT_EQ(1, peer_do(&self->p, CMD_CHECK, 'A'));
	munmap(c, len);
}

/*
 * An execute-only mapping (mmap(PROT_EXEC) where the CPU can deny reads of
 * executable memory: x86 with protection keys, arm64 with EPAN) stays
 * execute-only in a clone, as after mmap(PROT_EXEC) in the caller: on x86
 * with the caller's execute-only key, not key 0.  The clone still runs.
 */
TEST(execute_only_stays_execute_only)
{
	char *src, *c;

	page_size = sysconf(_SC_PAGESIZE);
	src = mmap(NULL, page_size, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, src);
#if defined(__x86_64__)
	memset(src, 0xc3, page_size);			/* ret */
#elif defined(__aarch64__)
	for (unsigned long i = 0; i < page_size; i += 4)
		*(uint32_t *)(src + i) = 0xd65f03c0;	/* ret */
#endif
	__builtin___clear_cache(src, src + page_size);
	ASSERT_EQ(0, mprotect(src, page_size, PROT_EXEC));
	if (!read_faults(src, 1)) {
		munmap(src, page_size);
		SKIP(return, "PROT_EXEC memory is readable on this CPU");
	}
	c = clone_of(getpid(), src, page_size, NULL, 0);
	ASSERT_NE(NULL, c);
	EXPECT_EQ(SIGSEGV, read_faults(c, 1));
	((void (*)(void))c)();
	munmap(c, page_size);
	munmap(src, page_size);
}

/*
 * The rows of the sharing rule for large folios, one folio size per
 * variant (mTHP sizes and PMD-sized): where a clone shares a large folio
 * (same PFNs, still a large folio), where it splits it first (same PFNs,
 * small folios) and where it must copy (different PFNs).
 */
FIXTURE(large)
{
	struct thp_saved thp;
	struct peer p;
	unsigned long len;
};

FIXTURE_VARIANT(large)
{
	unsigned long kb;
};

FIXTURE_VARIANT_ADD(large, mthp16) { .kb = 16 };
FIXTURE_VARIANT_ADD(large, mthp64) { .kb = 64 };
FIXTURE_VARIANT_ADD(large, mthp1024) { .kb = 1024 };
FIXTURE_VARIANT_ADD(large, pmd) { .kb = 2048 };

FIXTURE_SETUP(large)
{
	page_size = sysconf(_SC_PAGESIZE);
	self->len = PMD_SIZE;
	self->p.pid = 0;
	if (geteuid() != 0)
		SKIP(return, "PFNs and page flags need root");
	if (!thp_only(variant->kb, &self->thp))
		SKIP(return, "no %lu kB folios for anonymous memory", variant->kb);
	ASSERT_TRUE(peer_start(&self->p, self->len, THP));
	if (!in_large_folio(self->p.pid, (unsigned long)self->p.addr))
		SKIP(return, "the source got no %lu kB folio", variant->kb);
}

FIXTURE_TEARDOWN(large)
{
	if (self->p.pid > 0)
		peer_stop(&self->p);
	thp_restore(&self->thp);
}

/* Whether every page of @c maps the PFN of @pid's page at @src. */
static bool same_pages(pid_t pid, const char *src, const char *c,
		       unsigned long len)
{
	for (unsigned long i = 0; i < len; i += page_size)
		if (pfn_of(pid, (unsigned long)src + i) !=
		    pfn_of(0, (unsigned long)c + i) ||
		    !pfn_of(0, (unsigned long)c + i))
			return false;
	return true;
}

/* How many pages of @c of @pid are in a large folio. */
static unsigned long large_pages(pid_t pid, const char *c, unsigned long len)
{
	unsigned long n = 0;

	for (unsigned long i = 0; i < len; i += page_size)
		n += in_large_folio(pid, (unsigned long)c + i);
	return n;
}

/* Mapped by the source alone, named by no swap entry: shared as it is. */
TEST_F(large, alone_is_shared_whole)
{
	char *c[1], v[1] = { 'A' };

	c[0] = clone_of(self->p.pid, self->p.addr, self->len, NULL, 0);
	ASSERT_NE(NULL, c[0]);
	EXPECT_TRUE(same_pages(self->p.pid, self->p.addr, c[0], self->len));
	EXPECT_EQ(self->len / page_size, large_pages(0, c[0], self->len));
	peer_stop(&self->p);
	self->p.pid = 0;
	EXPECT_TRUE(all_apart(c, v, 1, self->len));
	munmap(c[0], self->len);
}

/* Mapped by a child of the source too: split, then shared. */
TEST_F(large, mapped_elsewhere_is_split)
{
	char *c[1], v[1] = { 'A' };

	ASSERT_EQ(1, peer_do(&self->p, CMD_FORK, 0));
	c[0] = clone_of(self->p.pid, self->p.addr, self->len, NULL, 0);
	ASSERT_NE(NULL, c[0]);
	EXPECT_TRUE(same_pages(self->p.pid, self->p.addr, c[0], self->len));
	EXPECT_EQ(0UL, large_pages(0, c[0], self->len));
	peer_stop(&self->p);
	self->p.pid = 0;
	EXPECT_TRUE(all_apart(c, v, 1, self->len));
	munmap(c[0], self->len);
}

/*
 * Read back from swap by the source, so in the swap cache, but named by
 * no swap entry any more: released from the swap cache and shared whole.
 */
TEST_F(large, swap_cached_alone_is_shared_whole)
{
	char *c[1], v[1] = { 'A' };

	if (!have_swap())
		SKIP(return, "no swap");
	ASSERT_EQ(1, peer_do(&self->p, CMD_PAGEOUT, 0));
	ASSERT_EQ(1, peer_do(&self->p, CMD_TOUCH, 0));
	if (!in_large_folio(self->p.pid, (unsigned long)self->p.addr))
		SKIP(return, "swap-in brought no %lu kB folio back", variant->kb);
	c[0] = clone_of(self->p.pid, self->p.addr, self->len, NULL, 0);
	ASSERT_NE(NULL, c[0]);
	EXPECT_TRUE(same_pages(self->p.pid, self->p.addr, c[0], self->len));
	EXPECT_EQ(large_pages(self->p.pid, self->p.addr, self->len),
		  large_pages(0, c[0], self->len));
	peer_stop(&self->p);
	self->p.pid = 0;
	EXPECT_TRUE(all_apart(c, v, 1, self->len));
	munmap(c[0], self->len);
}

/* Into the caller itself: split, then shared. */
TEST_F(large, into_the_caller_is_split)
{
	char *m[2], v[2] = { 'A', 'A' };

	peer_stop(&self->p);
	self->p.pid = 0;
	m[0] = map_backing(self->len, THP);
	ASSERT_NE(NULL, m[0]);
	fill(m[0], self->len, 'A');
	if (!in_large_folio(0, (unsigned long)m[0]))
		SKIP(return, "no %lu kB folio", variant->kb);
	m[1] = clone_of(getpid(), m[0], self->len, NULL, 0);
	ASSERT_NE(NULL, m[1]);
	EXPECT_TRUE(same_pages(0, m[0], m[1], self->len));
	EXPECT_EQ(0UL, large_pages(0, m[1], self->len));
	EXPECT_TRUE(all_apart(m, v, 2, self->len));
	munmap(m[0], self->len);
	munmap(m[1], self->len);
}

/*
 * A large folio that cannot be split, since an io_uring fixed buffer pins
 * it: copied (new PFNs), the pinned pages stay the source's.
 */
TEST_F(large, pinned_into_the_caller_is_copied)
{
	struct io_uring_params params = { 0 };
	char *m[2], v[2] = { 'A', 'A' };
	struct iovec iov;
	int ring;

	peer_stop(&self->p);
	self->p.pid = 0;
	m[0] = map_backing(self->len, THP);
	ASSERT_NE(NULL, m[0]);
	fill(m[0], self->len, 'A');
	if (!in_large_folio(0, (unsigned long)m[0]))
		SKIP(return, "no %lu kB folio", variant->kb);
	ring = syscall(__NR_io_uring_setup, 1, &params);
	if (ring < 0)
		SKIP(return, "no io_uring");
	iov.iov_base = m[0];
	iov.iov_len = self->len;
	ASSERT_EQ(0, syscall(__NR_io_uring_register, ring,
			     IORING_REGISTER_BUFFERS, &iov, 1));
	m[1] = clone_of(getpid(), m[0], self->len, NULL, 0);
	ASSERT_NE(NULL, m[1]);
	EXPECT_TRUE(holds(m[1], self->len, 'A'));
	for (unsigned long i = 0; i < self->len; i += page_size)
		ASSERT_NE(pfn_of(0, (unsigned long)m[0] + i),
			  pfn_of(0, (unsigned long)m[1] + i));
	close(ring);
	EXPECT_TRUE(all_apart(m, v, 2, self->len));
	munmap(m[0], self->len);
	munmap(m[1], self->len);
}

/*
 * A process that refuses THPs (PR_SET_THP_DISABLE) gets no huge PMD from a
 * clone: the THP is split and its pages shared.
 */
TEST(thp_refused_by_the_caller)
{
	unsigned long len = PMD_SIZE;
	struct peer p;
	int status;
	pid_t d;

	page_size = sysconf(_SC_PAGESIZE);
	ASSERT_TRUE(peer_start(&p, len, THP));
	if (anon_huge_kb(p.pid, (unsigned long)p.addr) <= 0) {
		peer_stop(&p);
		SKIP(return, "the source got no huge PMD");
	}
	d = fork();
	ASSERT_LE(0, d);
	if (d == 0) {
		char *c;

		if (prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0))
			_exit(2);
		c = clone_of(p.pid, p.addr, len, NULL, 0);
		_exit(c && anon_huge_kb(0, (unsigned long)c) == 0 &&
		      (geteuid() || same_pages(p.pid, p.addr, c, len)) &&
		      holds(c, len, 'A') ? 0 : 1);
	}
	ASSERT_EQ(d, waitpid(d, &status, 0));
	peer_stop(&p);
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
}

/*
 * Swap entries that another process holds too (a fork() child here) are
 * read back into the source before the clone shares the pages.
 */
TEST(swap_entries_held_twice_are_read_back)
{
	unsigned long len = 64 * 4096, n;
	char *m[2], v[2] = { 'A', 'A' };
	long pswpin;
	pid_t w;

	page_size = sysconf(_SC_PAGESIZE);
	if (!have_swap())
		SKIP(return, "no swap");
	m[0] = map_backing(len, SMALL);
	ASSERT_NE(NULL, m[0]);
	fill(m[0], len, 'A');
	ASSERT_EQ(0, madvise(m[0], len, MADV_PAGEOUT));
	n = swapped_pages(0, (unsigned long)m[0], len);
	if (n != len / page_size)
		SKIP(return, "the range did not go out to swap");
	w = fork_waiter();
	ASSERT_LE(0, w);
	pswpin = vm_event("pswpin");
	m[1] = clone_of(w, m[0], len, NULL, 0);
	ASSERT_NE(NULL, m[1]);
	EXPECT_LE(pswpin + (long)n, vm_event("pswpin"));
	EXPECT_EQ(0UL, swapped_pages(0, (unsigned long)m[1], len));
	reap(w);
	EXPECT_TRUE(holds(m[1], len, 'A'));
	EXPECT_TRUE(all_apart(m, v, 2, len));
	munmap(m[0], len);
	munmap(m[1], len);
}

/*
 * A hardware-poisoned page: the clone gets the poison, as a fork() child
 * does (SIGBUS on access), and the other pages.
 */
TEST(poisoned_page_stays_poisoned)
{
	unsigned long len = 8 * 4096;
	struct peer p;
	char *c;

	page_size = sysconf(_SC_PAGESIZE);
	if (geteuid() != 0)
		SKIP(return, "MADV_HWPOISON needs CAP_SYS_ADMIN");
	ASSERT_TRUE(peer_start(&p, len, SMALL));
	if (peer_do(&p, CMD_POISON, 3) != 1) {
		peer_stop(&p);
		SKIP(return, "no MADV_HWPOISON (CONFIG_MEMORY_FAILURE)");
	}
	c = clone_of(p.pid, p.addr, len, NULL, 0);
	peer_stop(&p);
	ASSERT_NE(NULL, c);
	EXPECT_EQ(SIGBUS, read_faults(c + 3 * page_size, page_size));
	EXPECT_TRUE(holds(c, 3 * page_size, 'A'));
	for (unsigned long i = 4; i < len / page_size; i++)
		EXPECT_EQ(pattern(i, 'A'), c[i * page_size]);
	munmap(c, len);
}

/* A guard page (MADV_GUARD_INSTALL) is a guard page in the clone too. */
TEST(guard_page_stays_a_guard)
{
	unsigned long len = 8 * 4096;
	struct peer p;
	char *c;

	page_size = sysconf(_SC_PAGESIZE);
	ASSERT_TRUE(peer_start(&p, len, SMALL));
	if (peer_do(&p, CMD_GUARD, 2) != 1) {
		peer_stop(&p);
		SKIP(return, "no guard regions");
	}
	c = clone_of(p.pid, p.addr, len, NULL, 0);
	peer_stop(&p);
	ASSERT_NE(NULL, c);
	EXPECT_EQ(SIGSEGV, read_faults(c + 2 * page_size, page_size));
	EXPECT_EQ(0, read_faults(c, 2 * page_size));
	EXPECT_EQ(0, read_faults(c + 3 * page_size, len - 3 * page_size));
	munmap(c, len);
}

/*
 * Pages under migration: the source's thread moves its pages between the
 * two NUMA nodes while the caller clones them; each clone holds the data.
 */
TEST(pages_under_migration)
{
	unsigned long len = 64 * 4096, clones = 0;
	int to[2], status;
	time_t end;
	char *src;
	pid_t s;

	page_size = sysconf(_SC_PAGESIZE);
	if (memory_nodes() < 2)
		SKIP(return, "one NUMA node");
	ASSERT_EQ(0, pipe(to));
	s = fork();
	ASSERT_LE(0, s);
	if (s == 0) {
		void *pages[64];
		int nodes[64], st[64];

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		src = map_backing(len, SMALL);
		if (!src)
			_exit(1);
		fill(src, len, 'A');
		if (write(to[1], &src, sizeof(src)) != sizeof(src))
			_exit(1);
		for (int i = 0; i < 64; i++)
			pages[i] = src + i * page_size;
		for (int round = 0;; round++) {
			for (int i = 0; i < 64; i++)
				nodes[i] = round & 1;
			syscall(__NR_move_pages, 0, 64, pages, nodes, st,
				MPOL_MF_MOVE);
		}
	}
	ASSERT_EQ(sizeof(src), read(to[0], &src, sizeof(src)));
	end = time(NULL) + 5;
	while (time(NULL) < end) {
		char *c = clone_of(s, src, len, NULL, 0);

		ASSERT_NE(NULL, c);
		ASSERT_TRUE(holds(c, len, 'A'));
		munmap(c, len);
		clones++;
	}
	kill(s, SIGKILL);
	ASSERT_EQ(s, waitpid(s, &status, 0));
	ksft_print_msg("%lu clones while the source migrated\n", clones);
}

/*
 * A fatal signal ends a clone that brings many pages back from swap
 * (swap entries a fork() child holds too): the caller dies at once, not
 * when the clone would have been done.
 */
static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Forks a process that clones @len of @w at @src; returns its pid. */
static pid_t cloner(pid_t w, char *src, unsigned long len)
{
	pid_t d = fork();

	if (d == 0)
		_exit(clone_of(w, src, len, NULL, 0) ? 0 : 1);
	return d;
}

/* Tests that take longer than the harness's default 30 s under TCG. */
FIXTURE(slow) {};
FIXTURE_SETUP(slow) {}
FIXTURE_TEARDOWN(slow) {}

TEST_F_TIMEOUT(slow, fatal_signal_ends_a_long_clone, 300)
{
	unsigned long len = 32UL << 20;
	double t0, full, killed;
	char *timed, *killed_src;
	int status;
	pid_t w, d;

	page_size = sysconf(_SC_PAGESIZE);
	if (!have_swap())
		SKIP(return, "no swap");
	timed = map_backing(len, SMALL);
	killed_src = map_backing(len, SMALL);
	ASSERT_NE(NULL, timed);
	ASSERT_NE(NULL, killed_src);
	memset(timed, 'A', len);
	memset(killed_src, 'A', len);
	ASSERT_EQ(0, madvise(timed, len, MADV_PAGEOUT));
	ASSERT_EQ(0, madvise(killed_src, len, MADV_PAGEOUT));
	if (swapped_pages(0, (unsigned long)timed, len) < len / page_size / 2 ||
	    swapped_pages(0, (unsigned long)killed_src, len) <
	    len / page_size / 2)
		SKIP(return, "the ranges did not go out to swap");
	/* The child holds every swap entry too: each is read back first. */
	w = fork_waiter();
	ASSERT_LE(0, w);
	t0 = now();
	d = cloner(w, timed, len);
	ASSERT_EQ(d, waitpid(d, &status, 0));
	full = now() - t0;
	ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	d = cloner(w, killed_src, len);
	usleep(full * 1e6 / 10);
	/* Still cloning: the kill lands in the middle. */
	ASSERT_EQ(0, waitpid(d, &status, WNOHANG));
	t0 = now();
	kill(d, SIGKILL);
	ASSERT_EQ(d, waitpid(d, &status, 0));
	killed = now() - t0;
	reap(w);
	ksft_print_msg("whole clone %.2f s, dead %.3f s after SIGKILL\n",
		       full, killed);
	EXPECT_TRUE(WIFSIGNALED(status));
	EXPECT_LT(killed, full / 3);
	munmap(timed, len);
	munmap(killed_src, len);
}

TEST_HARNESS_MAIN
