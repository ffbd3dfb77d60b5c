// SPDX-License-Identifier: GPL-2.0
/*
 * The process that make criu-e2e dumps and restores (tools/criu/e2e.sh),
 * built static.
 *
 *   workload DIR [MIB]
 *	Forks a detached child (setsid, stdio on /dev/null, no other fd)
 *	that maps
 *	  - 4k:   private anonymous, 4 KiB pages only (MADV_NOHUGEPAGE),
 *		  every 16th page left unwritten (a hole: zero after the
 *		  restore too); 32 MiB, or MIB / 2 (make criu);
 *	  - thp:  private anonymous, 2 MiB aligned, MADV_HUGEPAGE; 16 MiB,
 *		  or MIB / 2;
 *	  - shm:  shared anonymous;
 *	  - file: a private mapping of DIR/workload.file, every other page
 *		  written (copied on write), the rest as the file has them;
 *	writes a pattern of its own into each page, pages half of the 4k
 *	and thp regions out (MADV_PAGEOUT, to the guest's zram swap), and
 *	waits for SIGUSR1.  The parent prints the child's pid and what its
 *	regions look like, and exits once the child is ready.
 *	On SIGUSR1 the child checks every byte of every region, writes a
 *	new pattern into every region and checks it back, and
 *	writes the verdict to DIR/verdict ("OK ..." or "FAIL ...",
 *	renamed into place when complete); then it waits again (a second
 *	SIGUSR1 redoes the check against the new pattern; SIGTERM ends it).
 *
 *   workload pageout PID
 *	Pages out, with process_madvise(MADV_PAGEOUT), the private
 *	anonymous read-write mappings of PID of at least 1 MiB (for a
 *	criu page-server --pvmmap-handoff: its arena), and prints how much
 *	of PID went to swap (VmSwap).
 *
 *   workload arena-swap PID
 *	Prints the KiB on swap of those mappings of PID (smaps' Swap).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef SYS_process_madvise
#define SYS_process_madvise 440
#endif

#define PAGE 4096UL
#define HPAGE (2UL << 20)
#define SZ_SHM (4UL << 20)
#define SZ_FILE (4UL << 20)

enum { R_4K, R_THP, R_SHM, R_FILE, NR_REGIONS };
static const char *const names[NR_REGIONS] = { "4k", "thp", "shm", "file" };
static unsigned char *base[NR_REGIONS];
static unsigned long size[NR_REGIONS] = { 32UL << 20, 16UL << 20, SZ_SHM, SZ_FILE };
static const char *dir;
static volatile sig_atomic_t requested;

static void die(const char *fmt, ...)
{
	va_list ap;
	int e = errno;

	va_start(ap, fmt);
	fprintf(stderr, "workload: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, ": %s\n", strerror(e));
	va_end(ap);
	exit(1);
}

/* The 64-bit word at offset off of region r, in generation gen. */
static uint64_t word(int r, unsigned long off, unsigned int gen)
{
	uint64_t x = ((uint64_t)gen << 60) ^ ((uint64_t)r << 48) ^ off;

	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* The file's own content: generation 0 of region "file". */
static uint64_t file_word(unsigned long off)
{
	return word(R_FILE, off, 0);
}

/* Whether page p of region r holds the pattern of generation gen (else
 * what it should hold: zero for a hole, the file's data). */
static int written(int r, unsigned long p, unsigned int gen)
{
	switch (r) {
	case R_4K:
		return p % 16 != 15;
	case R_FILE:
		return gen > 1 || p % 2 == 0;
	default:
		return 1;
	}
}

static uint64_t expected(int r, unsigned long off, unsigned int gen)
{
	unsigned long p = off / PAGE;

	if (written(r, p, gen))
		return word(r, off, gen);
	return r == R_FILE ? file_word(off) : 0;
}

static void fill(int r, unsigned int gen)
{
	for (unsigned long p = 0; p < size[r] / PAGE; p++) {
		if (!written(r, p, gen))
			continue;
		uint64_t *w = (uint64_t *)(base[r] + p * PAGE);

		for (unsigned long i = 0; i < PAGE / 8; i++)
			w[i] = word(r, p * PAGE + i * 8, gen);
	}
}

/* Bad pages of region r against generation gen; the first is described
 * in first[]. */
static unsigned long check(int r, unsigned int gen, char *first, size_t len)
{
	unsigned long bad = 0;

	for (unsigned long p = 0; p < size[r] / PAGE; p++) {
		const uint64_t *w = (const uint64_t *)(base[r] + p * PAGE);

		for (unsigned long i = 0; i < PAGE / 8; i++) {
			unsigned long off = p * PAGE + i * 8;

			if (w[i] == expected(r, off, gen))
				continue;
			if (!bad++ && !first[0])
				snprintf(first, len, " first: %s+%#lx is %#llx, not %#llx",
					 names[r], off, (unsigned long long)w[i],
					 (unsigned long long)expected(r, off, gen));
			break;
		}
	}
	return bad;
}

/* Sum of the named field (kB) of the smaps entries of @pid (0: self)
 * within [a, a + len). */
static unsigned long smaps_kb(pid_t pid, const void *a, unsigned long len, const char *field)
{
	unsigned long start, end, kb, sum = 0, lo = (unsigned long)a;
	char line[512], path[64];
	int in = 0;
	size_t fl = strlen(field);
	FILE *f;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/smaps", pid);
	else
		snprintf(path, sizeof(path), "/proc/self/smaps");
	f = fopen(path, "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &start, &end) == 2 && strchr(line, '-') < strchr(line, ' ')) {
			in = start >= lo && end <= lo + len;
			continue;
		}
		if (in && !strncmp(line, field, fl) && line[fl] == ':' &&
		    sscanf(line + fl + 1, "%lu", &kb) == 1)
			sum += kb;
	}
	fclose(f);
	return sum;
}

static void describe(char *buf, size_t len)
{
	size_t n = 0;

	for (int r = 0; r < NR_REGIONS; r++)
		n += snprintf(buf + n, len - n, "%s%s=%luk(rss %lu swap %lu thp %lu)",
			      r ? " " : "", names[r], size[r] >> 10,
			      smaps_kb(0, base[r], size[r], "Rss"),
			      smaps_kb(0, base[r], size[r], "Swap"),
			      smaps_kb(0, base[r], size[r], "AnonHugePages"));
}

static void verdict(unsigned int gen)
{
	char first[256] = "", desc[512], path[4096], tmp[4096];
	unsigned long bad = 0, wbad = 0, pages = 0;
	FILE *f;

	/* What was dumped, then (the first time) what the restored task
	 * writes now: its own pages after a move must take writes. */
	for (int r = 0; r < NR_REGIONS; r++) {
		bad += check(r, gen, first, sizeof(first));
		pages += size[r] / PAGE;
	}
	describe(desc, sizeof(desc));
	for (int r = 0; r < NR_REGIONS; r++) {
		fill(r, gen + 1);
		wbad += check(r, gen + 1, first, sizeof(first));
	}
	snprintf(path, sizeof(path), "%s/verdict", dir);
	snprintf(tmp, sizeof(tmp), "%s/verdict.tmp", dir);
	f = fopen(tmp, "w");
	if (!f)
		return;
	fprintf(f, "%s pid %d: %lu bad page(s) of %lu; after new writes %lu bad; %s%s\n",
		bad || wbad ? "FAIL" : "OK", getpid(), bad, pages, wbad, desc, first);
	fclose(f);
	rename(tmp, path);
}

static void on_usr1(int sig)
{
	(void)sig;
	requested = 1;
}

static void *map_thp(void)
{
	/* 2 MiB aligned, so that the region is made of whole PMDs. */
	unsigned char *p = mmap(NULL, size[R_THP] + HPAGE, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned char *a;

	if (p == MAP_FAILED)
		die("mmap thp");
	a = (unsigned char *)(((unsigned long)p + HPAGE - 1) & ~(HPAGE - 1));
	if (a > p)
		munmap(p, a - p);
	munmap(a + size[R_THP], p + HPAGE - a);
	if (madvise(a, size[R_THP], MADV_HUGEPAGE))
		die("MADV_HUGEPAGE");
	return a;
}

static int setup(void)
{
	char path[4096];
	int fd;

	base[R_4K] = mmap(NULL, size[R_4K], PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base[R_4K] == MAP_FAILED)
		die("mmap 4k");
	if (madvise(base[R_4K], size[R_4K], MADV_NOHUGEPAGE))
		die("MADV_NOHUGEPAGE");
	base[R_THP] = map_thp();
	base[R_SHM] = mmap(NULL, SZ_SHM, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (base[R_SHM] == MAP_FAILED)
		die("mmap shm");

	/* The file: generation 0 of "file"; kept for the restore. */
	snprintf(path, sizeof(path), "%s/workload.file", dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		die("open %s", path);
	for (unsigned long off = 0; off < SZ_FILE; off += 8) {
		uint64_t w = file_word(off);

		if (pwrite(fd, &w, 8, off) != 8)
			die("write %s", path);
	}
	base[R_FILE] = mmap(NULL, SZ_FILE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	if (base[R_FILE] == MAP_FAILED)
		die("mmap file");
	close(fd);

	for (int r = 0; r < NR_REGIONS; r++)
		fill(r, 1);
	/* Half of each private anonymous region to swap. */
	if (madvise(base[R_4K], size[R_4K] / 2, MADV_PAGEOUT))
		die("MADV_PAGEOUT 4k");
	if (madvise(base[R_THP], size[R_THP] / 2, MADV_PAGEOUT))
		die("MADV_PAGEOUT thp");
	return 0;
}

static int workload(void)
{
	int pipefd[2], fd;
	char desc[512], buf[600];
	sigset_t usr1, old;
	pid_t pid;
	ssize_t n;

	if (pipe(pipefd))
		die("pipe");
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid > 0) {
		close(pipefd[1]);
		n = read(pipefd[0], buf, sizeof(buf) - 1);
		if (n <= 0) {
			fprintf(stderr, "workload: the child failed to start\n");
			return 1;
		}
		buf[n] = 0;
		printf("workload pid %d ready: %s\n", pid, buf);
		return 0;
	}

	close(pipefd[0]);
	setsid();
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigprocmask(SIG_BLOCK, &usr1, &old);
	signal(SIGUSR1, on_usr1);
	setup();
	describe(desc, sizeof(desc));
	/* Only /dev/null on 0-2, nothing else: nothing external to dump. */
	fd = open("/dev/null", O_RDWR);
	if (fd < 0)
		die("/dev/null");
	dup2(fd, 0);
	dup2(fd, 1);
	dup2(fd, 2);
	if (fd > 2)
		close(fd);
	if (write(pipefd[1], desc, strlen(desc)) < 0)
		return 1;
	/* The pipe and whatever the caller left open. */
	syscall(SYS_close_range, 3, ~0U, 0);

	for (unsigned int gen = 1;; gen++) {
		while (!requested)
			sigsuspend(&old);
		requested = 0;
		verdict(gen);
	}
}

#define MAX_ARENA 256

/* The private anonymous read-write mappings of @pid of at least 1 MiB (a
 * hand-off page server's arena) into @iov; returns how many. */
static int arena(pid_t pid, struct iovec iov[MAX_ARENA])
{
	char path[64], line[512], perm[8], rest[256];
	unsigned long start, end;
	int niov = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "r");
	if (!f)
		die("%s", path);
	while (fgets(line, sizeof(line), f) && niov < MAX_ARENA) {
		rest[0] = 0;
		if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %255s", &start, &end, perm, rest) < 3)
			continue;
		if (strcmp(perm, "rw-p") || rest[0] || end - start < (1UL << 20))
			continue;
		iov[niov].iov_base = (void *)start;
		iov[niov++].iov_len = end - start;
	}
	fclose(f);
	return niov;
}

/* workload pageout PID */
static int pageout(pid_t pid)
{
	char path[64], line[512];
	unsigned long total = 0;
	struct iovec iov[MAX_ARENA];
	int niov, pidfd;
	FILE *f;

	pidfd = syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0)
		die("pidfd_open %d", pid);
	niov = arena(pid, iov);
	for (int i = 0; i < niov; i++) {
		total += iov[i].iov_len;
		/* One range per call: process_madvise() stops at the first
		 * range it cannot advise. */
		if (syscall(SYS_process_madvise, pidfd, &iov[i], 1, MADV_PAGEOUT, 0) < 0)
			fprintf(stderr, "workload: process_madvise(%d, %p+%#zx, MADV_PAGEOUT): %s\n",
				pid, iov[i].iov_base, iov[i].iov_len, strerror(errno));
	}
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "r");
	if (!f)
		die("%s", path);
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmSwap:", 7) || !strncmp(line, "VmRSS:", 6))
			printf("pageout %d: %s", pid, line);
	fclose(f);
	printf("pageout %d: %d range(s), %lu KiB advised\n", pid, niov, total >> 10);
	return 0;
}

/* workload arena-swap PID */
static int arena_swap(pid_t pid)
{
	struct iovec iov[MAX_ARENA];
	unsigned long kb = 0;
	int niov = arena(pid, iov);

	for (int i = 0; i < niov; i++)
		kb += smaps_kb(pid, iov[i].iov_base, iov[i].iov_len, "Swap");
	printf("%lu\n", kb);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "pageout"))
		return pageout(atoi(argv[2]));
	if (argc == 3 && !strcmp(argv[1], "arena-swap"))
		return arena_swap(atoi(argv[2]));
	if (argc != 2 && argc != 3) {
		fprintf(stderr, "usage: workload DIR [MIB] | workload pageout|arena-swap PID\n");
		return 2;
	}
	if (argc == 3) {
		unsigned long mib = strtoul(argv[2], NULL, 0);

		if (mib < 4 || mib % 4) {
			fprintf(stderr, "workload: MIB must be a multiple of 4\n");
			return 2;
		}
		size[R_4K] = mib << 19;
		size[R_THP] = mib << 19;
	}
	dir = argv[1];
	return workload();
}
