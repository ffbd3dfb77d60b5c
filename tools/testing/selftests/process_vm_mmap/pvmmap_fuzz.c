// SPDX-License-Identifier: GPL-2.0
/*
 * process_vm_mmap(2): a model-checked fuzzer.
 *
 * This process ("D") and its children and grandchildren ("agents", each
 * driven over a socket) map memory of every kind a clone may take, write,
 * read, protect, advise, move and unmap it, fork and exit, migrate its
 * pages, and clone ranges of one another and of themselves with every flag
 * and placement.  A model of every page says what each process must read:
 * each store writes a stamp that names its writer, its generation and its
 * page, so a wrong page says whose store it shows.
 *
 * After every step the checker compares what the step touched with the
 * model: the bytes (without swapping anything in, so that swapped-out
 * memory stays swapped out for the next clone), /proc/PID/maps, the PFNs of
 * a clone against its source (no data copied), and an erroring call with
 * the errno the contract gives for its input, in the contract's order of
 * checks, with the caller's and the source's maps unchanged.  After every
 * episode all its processes exit, and the memory and swap they used must
 * come back (leak_check()).  Threaded episodes race the clones against the
 * source's threads and check weaker invariants (see the threaded mode
 * below).  Motifs play the multi-step shapes known to hurt a page-table
 * copier (see the motifs in the generator).
 *
 * Deterministic given the seed as far as the kernel's choices are: one
 * generator draws every operation from one PRNG and looks only at the
 * model, the checker samples from another, and address space randomisation
 * is off.  A failure prints the command line that replays it; the seed and
 * a step counter go to the kernel log too, where a panic leaves them.
 *
 *   pvmmap_fuzz                      30 s of seed 1, 30 s of a fresh seed
 *   pvmmap_fuzz --seed N --time S    seed N for S seconds
 *   pvmmap_fuzz --seed N --steps K   seed N up to step K (a replay)
 *   pvmmap_fuzz --time S             fresh seeds, 120 s each, for S seconds
 *   --without OP,...                 not those operations (past a known bug)
 *   --verbose                        every step, and memory after each episode
 *
 * The contract: Documentation/userspace-api/process_vm_mmap.rst.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "../kselftest.h"
#include "pvmmap.h"
#include "pvmmap_data.h"

#ifndef MPOL_MF_MOVE_ALL
#define MPOL_MF_MOVE_ALL	4	/* linux/mempolicy.h: shared pages too */
#endif
#ifndef SEGV_PKUERR
#define SEGV_PKUERR		4
#endif

#define PAGE		4096UL
#define WORDS		(PAGE / 8)
#define PMD		(2UL * 1024 * 1024)
/* Where the fuzzer maps and places exact clones: nothing else is there. */
#define WIN_BASE	0x200000000000UL
#define WIN_SIZE	(256UL * 1024 * 1024)
#define VSYSCALL	0xffffffffff600000UL
#define MAX_PROCS	8
#define MAX_VMAS	128
#define MAX_TOUCHED	64
#define MAX_OBJS	48
#define MAX_DEAD	8
#define MAX_READ	1024		/* pages of one read request */
#define POOL_PAGES	(1024UL * 1024)
#define OBJ_POOL	(256UL * 1024)
#define TRACE		24		/* steps shown with a failure */
#define WLOG		4096		/* stores remembered for the reports */
#define CHUNK_S		120		/* seconds per seed with --time alone */

/* ---- Operations, the run and its report ---------------------------------- */

enum op {
	OP_MAP, OP_UNMAP, OP_PROTECT, OP_PKEY, OP_MADVISE, OP_WRITE, OP_READ,
	OP_CLONE, OP_MREMAP, OP_FORK, OP_EXIT, OP_MIGRATE, OP_SLEEP,
	OP_THREADS, OP_STOP, OP_NR
};

static const char * const op_name[OP_NR] = {
	"map", "munmap", "mprotect", "pkey_mprotect", "madvise", "write",
	"read", "clone", "mremap", "fork", "exit", "migrate", "sleep",
	"threads", "stop",
};

/*
 * --without takes these too: the check of PFNs after a clone (no data
 * copied), KSM (MADV_MERGEABLE) and page-out (MADV_PAGEOUT and COLD).
 */
enum { W_PFNS = OP_NR, W_KSM, W_PAGEOUT, W_NR };

static const char * const without_name[W_NR - OP_NR] = { "pfns", "ksm", "pageout" };

struct stats {
	unsigned long steps, episodes, threaded;
	unsigned long ops[OP_NR];
	unsigned long clones_ok, clones_refused, racing_clones, motifs;
	unsigned long pages_read, pfns_compared, pages_migrated;
	unsigned long pfns_copied;	/* of large folios whose split failed */
};

static struct {
	uint64_t seed;
	uint64_t rng;		/* the generator's stream: what is done */
	uint64_t crng;		/* the checker's stream: what is sampled */
	unsigned long max_steps;	/* --steps: stop after that step */
	double deadline;	/* CLOCK_MONOTONIC seconds */
	int episode;
	int failures;
	struct stats st;
	char trace[TRACE][224];
	unsigned long ntrace;
} run;

static struct stats total;
static char cmd[256];		/* how this program was started, for the replay lines */
static unsigned int without;	/* operations not to do (--without), a bit each */
static bool verbose;
static int kmsg_fd = -1;
static pid_t d_pid;		/* this process; agents are the others */

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * The kernel log survives a panic where the test's own output, behind
 * the runner's pipes, may not: the seed and the step counter go there too.
 */
static __printf(1, 2) void kmsg(const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int n;

	if (kmsg_fd < 0)
		return;
	n = snprintf(buf, sizeof(buf), "pvmmap_fuzz: ");
	va_start(ap, fmt);
	n += vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
	va_end(ap);
	if (n >= (int)sizeof(buf))
		n = sizeof(buf) - 1;
	if (write(kmsg_fd, buf, n) < 0)
		kmsg_fd = -1;
}

/* A failed check: say what, where, and how to get there again. */
static __printf(1, 2) void fail(const char *fmt, ...)
{
	va_list ap;

	if (++run.failures > 10)
		return;
	printf("# FAIL: seed %llu step %lu: ", (unsigned long long)run.seed,
	       run.st.steps);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (run.failures > 1)
		return;
	printf("# the last steps (episode %d):\n", run.episode);
	for (unsigned long i = run.ntrace > TRACE ? run.ntrace - TRACE : 0;
	     i < run.ntrace; i++)
		printf("#   %s\n", run.trace[i % TRACE]);
	printf("# replay: %s --seed %llu --steps %lu\n", cmd,
	       (unsigned long long)run.seed, run.st.steps);
	kmsg("FAIL seed %llu step %lu; replay: %s --seed %llu --steps %lu\n",
	     (unsigned long long)run.seed, run.st.steps, cmd,
	     (unsigned long long)run.seed, run.st.steps);
	fflush(stdout);
}

/* splitmix64: small, fast, and good enough to pick operations. */
static uint64_t mix(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static unsigned long below(unsigned long n)
{
	return n ? mix(&run.rng) % n : 0;
}

static bool chance(unsigned int percent)
{
	return below(100) < percent;
}

/* ---- Stamps: what a store writes ------------------------------------------ */

/*
 * A stamp names one store of one page: the slot of the writer (8 bits), a
 * generation counting the stores of the run (40 bits) and the page of the
 * store (16 bits; UNIFORM for stores that write the same page everywhere,
 * for KSM to merge).  Word i of the page holds stamp ^ (i * GOLDEN), so a
 * page that mixes two stores, or shows a store at another offset, is told
 * from a whole one.  0 is a page nobody wrote: zeros.
 */
#define GOLDEN		0x9e3779b97f4a7c15ULL
#define UNIFORM		0xffffUL

static uint64_t gen_counter;

static uint64_t stamp_make(int slot, uint64_t gen, unsigned long page)
{
	return (uint64_t)slot << 56 | (gen & 0xffffffffffULL) << 16 | page;
}

static uint64_t stamp_word(uint64_t stamp, unsigned long i)
{
	return stamp ? stamp ^ (i * GOLDEN) : 0;
}

/* The last stores, to say where a stamp was written. */
static struct {
	uint64_t gen;
	int slot;
	unsigned long addr;
} wlog[WLOG];

static const char *stamp_str(uint64_t s, char *buf, size_t size)
{
	uint64_t gen = s >> 16 & 0xffffffffffULL;
	unsigned long page = s & 0xffff;

	if (!s) {
		snprintf(buf, size, "zeros");
	} else if (wlog[gen % WLOG].gen == gen && page != UNIFORM) {
		snprintf(buf, size, "store %llu of P%d to %#lx",
			 (unsigned long long)gen, (int)(s >> 56),
			 wlog[gen % WLOG].addr + page * PAGE);
	} else {
		snprintf(buf, size, "store %llu of P%d, page %lu%s",
			 (unsigned long long)gen, (int)(s >> 56), page,
			 page == UNIFORM ? " (uniform)" : "");
	}
	return buf;
}

/* ---- Agents: the processes D drives ---------------------------------------- */

/*
 * One request to an agent (D serves its own with the same code).  Which
 * fields an operation reads is said at each act_*() below.
 */
struct req {
	int op;
	int prot;		/* MAP, PROTECT, PKEY */
	int advice;		/* MADVISE; MAP: advice after mapping */
	int how;		/* CLONE: T_*; WRITE: uniform; READ: present only */
	unsigned long addr;	/* the range in the acting process */
	unsigned long len;
	unsigned long dst;	/* CLONE: dst_addr; MREMAP: new address */
	unsigned long flags;	/* MAP: mmap flags; CLONE: PVMMAP_* */
	unsigned long offset;	/* MAP: file offset; THREADS: shared bytes */
	long target;		/* CLONE: pid, pidfd or raw value; MAP: pages of a new object */
	uint64_t stamp;		/* WRITE: the stamp of the first page */
	char path[96];		/* MAP: the file to open */
};

/* How a clone names its source. */
enum { T_PID, T_PIDFD, T_RAW };

/* What reading one page found. */
enum { RD_OK, RD_TORN, RD_SKIPPED, RD_FAULT };

struct rd {
	uint64_t stamp;		/* word 0 */
	unsigned int state;	/* RD_* */
	unsigned int info;	/* TORN: the first bad word; FAULT: signo << 8 | si_code */
};

struct reply {
	long ret;		/* the result, or -errno */
	unsigned long n;	/* READ: entries of rd */
	struct rd rd[MAX_READ];
};

static struct reply reply;	/* the answer to the last request */
static int agent_sock = -1;	/* an agent's end of its channel to D */

/*
 * A read or write the model says is allowed must not fault; when it does,
 * the agent reports the signal instead of dying (a protection key left in
 * a clone's PTEs shows as SEGV_PKUERR here).
 */
static sigjmp_buf fault_env;
static int fault_armed;
static unsigned int fault_info;

static void on_fault(int sig, siginfo_t *si, void *uc)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL };

	if (!__atomic_load_n(&fault_armed, __ATOMIC_SEQ_CST)) {
		/* Not ours (a thread of the threaded source): die of it. */
		sigaction(sig, &dfl, NULL);
		return;
	}
	fault_info = sig << 8 | si->si_code;
	__atomic_store_n(&fault_armed, 0, __ATOMIC_SEQ_CST);
	siglongjmp(fault_env, 1);
}

static void arm(int on)
{
	__atomic_store_n(&fault_armed, on, __ATOMIC_SEQ_CST);
}

/* Pagemap entries of [addr, addr + n pages) of @pid (0: self); 0 if none. */
static bool read_pagemap(pid_t pid, unsigned long addr, unsigned long n, uint64_t *out)
{
	char path[64];
	ssize_t want = n * sizeof(*out);
	int fd;
	bool ok;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	else
		snprintf(path, sizeof(path), "/proc/self/pagemap");
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return false;
	ok = pread(fd, out, want, addr / PAGE * sizeof(*out)) == want;
	close(fd);
	return ok;
}

#define PM_PRESENT	0x8000000000000000ULL
#define PM_PFN(e)	((e) & 0x7fffffffffffffULL)

static void read_page(const uint64_t *p, struct rd *out)
{
	uint64_t s;

	if (sigsetjmp(fault_env, 1)) {
		out->state = RD_FAULT;
		out->info = fault_info;
		return;
	}
	arm(1);
	s = __atomic_load_n(&p[0], __ATOMIC_RELAXED);
	out->stamp = s;
	out->state = RD_OK;
	for (unsigned long i = 1; i < WORDS; i++) {
		if (__atomic_load_n(&p[i], __ATOMIC_RELAXED) != stamp_word(s, i)) {
			out->state = RD_TORN;
			out->info = i;
			break;
		}
	}
	arm(0);
}

/*
 * READ [addr, addr + len): what each page holds.  how: only the pages that
 * are present (reading a swapped-out page would swap it in, and the next
 * clone would then not meet a swap entry).
 */
static long act_read(const struct req *r)
{
	static uint64_t pm[MAX_READ];
	unsigned long n = r->len / PAGE;

	if (n > MAX_READ)
		return -E2BIG;
	if (r->how && !read_pagemap(0, r->addr, n, pm))
		return -EIO;
	for (unsigned long i = 0; i < n; i++) {
		if (r->how && !(pm[i] & PM_PRESENT)) {
			reply.rd[i].state = RD_SKIPPED;
			continue;
		}
		read_page((const uint64_t *)(r->addr + i * PAGE), &reply.rd[i]);
	}
	reply.n = n;
	return 0;
}

/* WRITE [addr, addr + len): page i gets stamp + i, or stamp (how: uniform). */
static long act_write(const struct req *r)
{
	uint64_t *p = (uint64_t *)r->addr;
	unsigned long n = r->len / PAGE;

	if (sigsetjmp(fault_env, 1)) {
		reply.rd[0].info = fault_info;
		reply.n = 1;
		return -EFAULT;
	}
	arm(1);
	for (unsigned long i = 0; i < n; i++) {
		uint64_t s = r->how ? r->stamp : r->stamp + i;

		for (unsigned long w = 0; w < WORDS; w++)
			p[i * WORDS + w] = stamp_word(s, w);
	}
	arm(0);
	return 0;
}

/*
 * MAP len bytes with prot and flags at addr (0: where the kernel likes;
 * otherwise MAP_FIXED_NOREPLACE), of path at offset if there is a path;
 * then madvise(advice) if there is one.  Returns the address.
 */
static long act_map(const struct req *r)
{
	int fd = -1, flags = r->flags;
	void *p;

	if (r->path[0]) {
		fd = open(r->path, O_RDWR);
		if (fd < 0)
			return -errno;
	}
	if (r->addr)
		flags |= MAP_FIXED_NOREPLACE;
	p = mmap((void *)r->addr, r->len, r->prot, flags, fd, r->offset);
	if (fd >= 0)
		close(fd);
	if (p == MAP_FAILED)
		return -errno;
	if (r->advice && madvise(p, r->len, r->advice))
		return -errno;
	return (long)p;
}

/* PKEY: pkey_mprotect(addr, len, prot) with this process's key. */
static long act_pkey(const struct req *r)
{
	static int key = -1;

	if (key < 0) {
		key = syscall(__NR_pkey_alloc, 0, 0);
		if (key < 0)
			return -errno;
	}
	if (syscall(__NR_pkey_mprotect, r->addr, r->len, r->prot, key))
		return -errno;
	return key;
}

/* CLONE: process_vm_mmap(target, addr, len, dst, flags), target named as how says. */
static long act_clone(const struct req *r)
{
	long target = r->target, ret;
	int pidfd = -1, err;

	if (r->how == T_PIDFD) {
		pidfd = sys_pidfd_open(r->target, 0);
		if (pidfd < 0)
			return -1000 - errno;	/* not the call's errno */
		target = pidfd;
	}
	ret = sys_process_vm_mmap(target, r->addr, r->len, r->dst, r->flags);
	err = errno;
	if (pidfd >= 0)
		close(pidfd);
	return ret == -1 ? -err : ret;
}

static long act(const struct req *r, int fd);

static int send_msg(int sock, const void *buf, size_t len, int fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c;

	if (fd >= 0) {
		mh.msg_control = u.buf;
		mh.msg_controllen = sizeof(u.buf);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	return sendmsg(sock, &mh, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -1;
}

static ssize_t recv_msg(int sock, void *buf, size_t len, int *fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = u.buf, .msg_controllen = sizeof(u.buf),
	};
	struct cmsghdr *c;
	ssize_t n = recvmsg(sock, &mh, 0);

	*fd = -1;
	c = n > 0 ? CMSG_FIRSTHDR(&mh) : NULL;
	if (c && c->cmsg_type == SCM_RIGHTS)
		memcpy(fd, CMSG_DATA(c), sizeof(int));
	return n;
}

static size_t reply_size(void)
{
	return offsetof(struct reply, rd) + reply.n * sizeof(struct rd);
}

/*
 * An agent serves requests until D is gone (its socket reads EOF: D died,
 * or every agent would outlive a killed test) or tells it to exit.
 */
static __noreturn void agent_loop(void)
{
	static struct req r;
	int fd;

	for (;;) {
		if (recv_msg(agent_sock, &r, sizeof(r), &fd) != sizeof(r))
			_exit(0);
		reply.n = 0;
		reply.ret = act(&r, fd);
		if (send(agent_sock, &reply, reply_size(), MSG_NOSIGNAL) < 0)
			_exit(0);
		if (r.op == OP_EXIT)
			_exit(0);
	}
}

/*
 * The child of a fork becomes an agent on @sock: it keeps no other
 * descriptor (D's channels to the others must see EOF when D dies), and
 * leaves the reaping of its own children to the kernel.
 */
static __noreturn void become_agent(int sock)
{
	struct sigaction sa = { .sa_handler = SIG_IGN };

	sigaction(SIGCHLD, &sa, NULL);
	sa.sa_handler = SIG_DFL;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if (sock != 3 && dup2(sock, 3) < 0)
		_exit(1);
	syscall(__NR_close_range, 4, ~0U, 0);
	agent_sock = 3;
	kmsg_fd = -1;
	agent_loop();
}

/* FORK: a child that serves requests on @sock (sent along with the request). */
static long act_fork(int sock)
{
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid == 0)
		become_agent(sock);
	close(sock);
	return pid < 0 ? -errno : pid;
}

static long churn_start(const struct req *r);
static long churn_stop(void);

static long act(const struct req *r, int fd)
{
	void *p;

	switch (r->op) {
	case OP_MAP:
		return act_map(r);
	case OP_UNMAP:
		return munmap((void *)r->addr, r->len) ? -errno : 0;
	case OP_PROTECT:
		return mprotect((void *)r->addr, r->len, r->prot) ? -errno : 0;
	case OP_PKEY:
		return act_pkey(r);
	case OP_MADVISE:
		return madvise((void *)r->addr, r->len, r->advice) ? -errno : 0;
	case OP_WRITE:
		return act_write(r);
	case OP_READ:
		return act_read(r);
	case OP_CLONE:
		return act_clone(r);
	case OP_MREMAP:
		p = mremap((void *)r->addr, r->len, r->len,
			   MREMAP_MAYMOVE | MREMAP_FIXED, (void *)r->dst);
		return p == MAP_FAILED ? -errno : (long)p;
	case OP_FORK:
		return act_fork(fd);
	case OP_THREADS:
		return churn_start(r);
	case OP_STOP:
		return churn_stop();
	}
	return 0;
}

/* ---- The model: what every process must read ------------------------------- */

enum kind { K_ANON, K_SHARED, K_FILE };

/* What a mapping was made as; its clones keep it, for the generator and the reports. */
enum backing {
	B_4K, B_MTHP, B_THP, B_THP_OFF, B_SHANON, B_MEMFD, B_TMPFS, B_EXT4,
	B_PRIV_MEMFD, B_PRIV_TMPFS, B_PRIV_EXT4, B_NR
};

static const char * const backing_name[B_NR] = {
	"anon", "anon mTHP", "anon THP", "anon THP unaligned", "shared anon",
	"memfd", "tmpfs", "ext4", "private memfd", "private tmpfs", "private ext4",
};

/* The objects shared mappings and private file mappings map. */
enum { O_SHANON, O_MEMFD, O_TMPFS, O_EXT4 };

struct mobj {
	int type;
	int fd;			/* D's descriptor, -1 for shared anonymous memory */
	char path[96];		/* what a mapper opens */
	unsigned long ino;	/* as /proc/PID/maps shows it (learnt for shared anon) */
	unsigned long npages;
	uint64_t *pages;	/* the stamp each page of the object holds */
};

/* A page of a private mapping. */
struct mpage {
	uint64_t stamp;		/* what this process stored (or inherited) */
	bool file;		/* K_FILE, never written privately: reads the file */
	bool maybe_zero;	/* MADV_FREE: the kernel may drop it, zeros, until written */
};

struct mvma {
	unsigned long start, end;
	int prot;
	enum kind kind;
	enum backing backing;
	int obj;		/* K_SHARED, K_FILE */
	unsigned long pgoff;	/* the object page at start */
	int pkey;
	bool nofork, wipe;	/* MADV_DONTFORK, MADV_WIPEONFORK */
	struct mpage *pg;	/* K_ANON, K_FILE: one per page */
};

struct proc {
	bool live;
	pid_t pid;
	int sock;		/* D's end of the channel, -1 for D */
	int pidfd;		/* D's pidfd of it */
	bool d_child;		/* D reaps it */
	int nvma;
	struct mvma vma[MAX_VMAS];	/* sorted, disjoint */
	/* Ranges this process had mapped this episode: the kernel must agree there. */
	int ntouched;
	struct {
		unsigned long start, end;
	} touched[MAX_TOUCHED];
};

static struct proc procs[MAX_PROCS];
static struct mobj objs[MAX_OBJS];
static int nobjs;
static struct mpage page_pool[POOL_PAGES];
static unsigned long pool_used;
static uint64_t obj_pool[OBJ_POOL];
static unsigned long obj_used;
/* Exited processes, to be named as sources: ESRCH. */
static struct {
	pid_t pid;
	int pidfd;
} dead[MAX_DEAD];
static int ndead;
static unsigned long task_size;
static bool have_vsyscall;

static struct mpage *pool_alloc(unsigned long n)
{
	struct mpage *p;

	if (pool_used + n > POOL_PAGES)
		ksft_exit_fail_msg("model: page pool exhausted\n");
	p = &page_pool[pool_used];
	pool_used += n;
	memset(p, 0, n * sizeof(*p));
	return p;
}

/* The first VMA of @p that ends above @addr (nvma if none). */
static int vma_index(const struct proc *p, unsigned long addr)
{
	int i = 0;

	while (i < p->nvma && p->vma[i].end <= addr)
		i++;
	return i;
}

static struct mvma *vma_at(struct proc *p, unsigned long addr)
{
	int i = vma_index(p, addr);

	return i < p->nvma && p->vma[i].start <= addr ? &p->vma[i] : NULL;
}

static bool range_free(const struct proc *p, unsigned long start, unsigned long end)
{
	int i = vma_index(p, start);

	return i == p->nvma || p->vma[i].start >= end;
}

static void touch(struct proc *p, unsigned long start, unsigned long end)
{
	for (int i = 0; i < p->ntouched; i++) {
		if (start <= p->touched[i].end && p->touched[i].start <= end) {
			if (start < p->touched[i].start)
				p->touched[i].start = start;
			if (end > p->touched[i].end)
				p->touched[i].end = end;
			return;
		}
	}
	/* Full: that range goes unwatched by the maps check, nothing worse. */
	if (p->ntouched < MAX_TOUCHED) {
		p->touched[p->ntouched].start = start;
		p->touched[p->ntouched].end = end;
		p->ntouched++;
	}
}

static void vma_make_room(struct proc *p, int i)
{
	if (p->nvma == MAX_VMAS)
		ksft_exit_fail_msg("model: more than %d mappings in P%d\n",
				   MAX_VMAS, (int)(p - procs));
	memmove(&p->vma[i + 1], &p->vma[i], (p->nvma - i) * sizeof(p->vma[0]));
	p->nvma++;
}

/* Cut the VMA of @p that spans @addr in two there. */
static void vma_split(struct proc *p, unsigned long addr)
{
	int i = vma_index(p, addr);
	unsigned long k;
	struct mvma *v;

	if (i == p->nvma || p->vma[i].start >= addr)
		return;
	vma_make_room(p, i);
	v = &p->vma[i];
	k = (addr - v->start) / PAGE;
	v[0].end = addr;
	v[1].start = addr;
	v[1].pgoff += k;
	if (v[1].pg)
		v[1].pg += k;
}

static void vma_remove(struct proc *p, int i)
{
	p->nvma--;
	memmove(&p->vma[i], &p->vma[i + 1], (p->nvma - i) * sizeof(p->vma[0]));
}

static void model_insert(struct proc *p, const struct mvma *v)
{
	int i = vma_index(p, v->start);

	vma_make_room(p, i);
	p->vma[i] = *v;
	touch(p, v->start, v->end);
}

/* Split the VMAs at both ends of [start, end); return the index after the last inside. */
static int model_range(struct proc *p, unsigned long start, unsigned long end, int *first)
{
	int i;

	vma_split(p, start);
	vma_split(p, end);
	*first = vma_index(p, start);
	for (i = *first; i < p->nvma && p->vma[i].start < end; i++)
		;
	return i;
}

static void model_unmap(struct proc *p, unsigned long start, unsigned long end)
{
	int first, last = model_range(p, start, end, &first);

	while (last-- > first)
		vma_remove(p, first);
}

/* What the page at @addr of @v must read; *maybe_zero: zeros will do too. */
static uint64_t expected(const struct mvma *v, unsigned long addr, bool *maybe_zero)
{
	unsigned long i = (addr - v->start) / PAGE;

	*maybe_zero = false;
	if (v->kind == K_SHARED || (v->kind == K_FILE && v->pg[i].file))
		return objs[v->obj].pages[v->pgoff + i];
	*maybe_zero = v->pg[i].maybe_zero;
	return v->pg[i].stamp;
}

/* A store to [start, start + n pages) of @p: private pages change here only. */
static void model_write(struct proc *p, unsigned long start, unsigned long n,
			uint64_t stamp, bool uniform)
{
	for (unsigned long i = 0; i < n; i++) {
		unsigned long a = start + i * PAGE;
		struct mvma *v = vma_at(p, a);
		unsigned long k = (a - v->start) / PAGE;
		uint64_t s = uniform ? stamp : stamp + i;

		if (v->kind == K_SHARED) {
			objs[v->obj].pages[v->pgoff + k] = s;
		} else {
			v->pg[k].stamp = s;
			v->pg[k].file = false;
			v->pg[k].maybe_zero = false;
		}
	}
}

/* A private copy of @n pages: fork() and a clone give each side its own. */
static struct mpage *pages_copy(const struct mpage *from, unsigned long n)
{
	struct mpage *to;

	if (!from)
		return NULL;
	to = pool_alloc(n);
	memcpy(to, from, n * sizeof(*to));
	return to;
}

/*
 * A clone of [src, src + len) of @q at @dst in @p, as the contract says:
 * the protections, kinds and files of the source, private pages
 * copy-on-write (the same values, each side its own from now on), shared
 * pages the same, no protection key, no DONTFORK/WIPEONFORK.
 */
static void model_clone(struct proc *p, struct proc *q, unsigned long src,
			unsigned long len, unsigned long dst, bool fixed, bool move)
{
	static struct mvma piece[MAX_VMAS];
	int first, last, n = 0;

	if (fixed)
		model_unmap(p, dst, dst + len);
	last = model_range(q, src, src + len, &first);
	for (int i = first; i < last; i++) {
		struct mvma v = q->vma[i];

		v.pg = pages_copy(v.pg, (v.end - v.start) / PAGE);
		v.start = dst + (q->vma[i].start - src);
		v.end = dst + (q->vma[i].end - src);
		v.pkey = 0;
		v.nofork = false;
		v.wipe = false;
		piece[n++] = v;
	}
	if (move)
		model_unmap(q, src, src + len);
	for (int i = 0; i < n; i++)
		model_insert(p, &piece[i]);
}

/* fork() of @p into @c: DONTFORK stays behind, WIPEONFORK comes as zeros. */
static void model_fork(struct proc *p, struct proc *c)
{
	c->nvma = 0;
	for (int i = 0; i < p->nvma; i++) {
		struct mvma v = p->vma[i];
		unsigned long n = (v.end - v.start) / PAGE;

		if (v.nofork)
			continue;
		v.pg = pages_copy(v.pg, n);
		if (v.wipe)
			memset(v.pg, 0, n * sizeof(*v.pg));
		c->vma[c->nvma++] = v;
	}
	c->ntouched = p->ntouched;
	memcpy(c->touched, p->touched, sizeof(c->touched));
}

static void model_madvise(struct proc *p, unsigned long start, unsigned long end, int advice)
{
	int first, last = model_range(p, start, end, &first);

	for (int i = first; i < last; i++) {
		struct mvma *v = &p->vma[i];
		unsigned long n = (v->end - v->start) / PAGE;

		for (unsigned long k = 0; v->pg && k < n; k++) {
			if (advice == MADV_DONTNEED) {
				v->pg[k].stamp = 0;
				v->pg[k].maybe_zero = false;
				v->pg[k].file = v->kind == K_FILE;
			} else if (advice == MADV_FREE) {
				v->pg[k].maybe_zero = v->pg[k].stamp != 0;
			}
		}
		if (advice == MADV_DONTFORK || advice == MADV_DOFORK)
			v->nofork = advice == MADV_DONTFORK;
		if (advice == MADV_WIPEONFORK || advice == MADV_KEEPONFORK)
			v->wipe = advice == MADV_WIPEONFORK;
	}
}

/* mremap() of [old, old + len), inside one VMA, to @new: the same pages, moved. */
static void model_mremap(struct proc *p, unsigned long old, unsigned long len, unsigned long new)
{
	int first;
	struct mvma v;

	model_range(p, old, old + len, &first);
	v = p->vma[first];
	vma_remove(p, first);
	model_unmap(p, new, new + len);
	v.start = new;
	v.end = new + len;
	model_insert(p, &v);
}

/* How a step names the source of a clone. */
enum { TK_PROC, TK_BADF, TK_DEAD };

struct step {
	enum op op;
	int slot;		/* who acts */
	int src;		/* CLONE: the source; FORK: the child */
	int tk;			/* CLONE: TK_* */
	enum backing backing;	/* MAP */
	int obj;		/* MAP: the object, -1 for a new one */
	int node;		/* MIGRATE: the target node */
	struct req r;		/* what the acting process is asked */
};

static bool overlaps(unsigned long a, unsigned long b, unsigned long len)
{
	return a < b + len && b < a + len;
}

/*
 * What the contract says the clone @s asks for returns: 0 for success or -errno,
 * checking in the contract's order: the arguments; the target (EBADF,
 * ESRCH); permission (always granted here); a source in the vsyscall page;
 * the two checks that need the target's address space; the source
 * mappings in address order (a hole, then a kind that cannot be cloned);
 * and a destination FIXED_NOREPLACE finds taken.
 */
static int contract_errno(const struct step *s)
{
	const struct req *r = &s->r;
	unsigned long fl = r->flags, end = r->addr + r->len;
	bool exact = fl & (PVMMAP_FIXED | PVMMAP_FIXED_NOREPLACE);
	struct proc *q = &procs[s->src];

	if (fl & ~(unsigned long)(PVMMAP_FIXED | PVMMAP_FIXED_NOREPLACE |
				  PVMMAP_PIDFD | PVMMAP_MOVE))
		return -EINVAL;
	if ((fl & PVMMAP_FIXED) && (fl & PVMMAP_FIXED_NOREPLACE))
		return -EINVAL;
	if (!(fl & PVMMAP_PIDFD) && r->target <= 0)
		return -EINVAL;
	if (!r->len || ((r->addr | r->len) & (PAGE - 1)) || end < r->addr)
		return -EINVAL;
	if (exact && ((r->dst & (PAGE - 1)) || r->dst + r->len < r->dst ||
		      r->dst + r->len > task_size))
		return -EINVAL;
	if (s->tk == TK_BADF)
		return -EBADF;
	if (s->tk == TK_DEAD)
		return -ESRCH;
	if (have_vsyscall && r->addr >= VSYSCALL && r->addr < VSYSCALL + PAGE)
		return -EOPNOTSUPP;
	if (end > task_size)
		return -EINVAL;
	if (exact && s->slot == s->src && overlaps(r->dst, r->addr, r->len))
		return -EINVAL;
	for (unsigned long a = r->addr; a < end;) {
		struct mvma *v = vma_at(q, a);

		if (!v)
			return -EFAULT;
		if (v->nofork || v->wipe)
			return -EOPNOTSUPP;
		a = v->end < end ? v->end : end;
	}
	if ((fl & PVMMAP_FIXED_NOREPLACE) &&
	    !range_free(&procs[s->slot], r->dst, r->dst + r->len))
		return -EEXIST;
	return 0;
}

/* ---- Talking to the processes ----------------------------------------------- */

/* Ask process @slot to do @r (D does its own), passing @fd along; the reply is in reply. */
static long call(int slot, const struct req *r, int fd)
{
	struct proc *p = &procs[slot];
	ssize_t n;

	if (slot == 0)
		return act(r, fd);
	if (send_msg(p->sock, r, sizeof(*r), fd) == 0) {
		n = recv(p->sock, &reply, sizeof(reply), 0);
		if (n >= (ssize_t)offsetof(struct reply, rd))
			return reply.ret;
	}
	fail("P%d (pid %d) died during %s", slot, p->pid, op_name[r->op]);
	return -EPIPE;
}

static const char *errno_name(int e)
{
	static char buf[32];

	switch (e) {
	case 0: return "success";
	case EINVAL: return "EINVAL";
	case EBADF: return "EBADF";
	case ESRCH: return "ESRCH";
	case EPERM: return "EPERM";
	case EACCES: return "EACCES";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case EFAULT: return "EFAULT";
	case EEXIST: return "EEXIST";
	case ENOMEM: return "ENOMEM";
	case EAGAIN: return "EAGAIN";
	case EINTR: return "EINTR";
	}
	snprintf(buf, sizeof(buf), "errno %d", e);
	return buf;
}

/* ---- The checker -------------------------------------------------------------- */

/* Where else the model has @s: the reports say whose page a wrong one shows. */
static const char *model_where(uint64_t s, int slot, unsigned long addr, char *buf, size_t size)
{
	bool mz;

	buf[0] = 0;
	if (!s)
		return buf;
	for (int i = 0; i < MAX_PROCS; i++) {
		struct proc *p = &procs[i];

		for (int k = 0; p->live && k < p->nvma; k++) {
			struct mvma *v = &p->vma[k];

			for (unsigned long a = v->start; a < v->end; a += PAGE) {
				if ((i != slot || a != addr) && expected(v, a, &mz) == s) {
					snprintf(buf, size, "; the model has it at P%d %#lx (%s)",
						 i, a, backing_name[v->backing]);
					return buf;
				}
			}
		}
	}
	return buf;
}

static void compare_page(int slot, const struct mvma *v, unsigned long a, const struct rd *rd)
{
	char want[96], got[96], where[128];
	bool maybe_zero;
	uint64_t e;

	if (rd->state == RD_SKIPPED)
		return;
	run.st.pages_read++;
	if (rd->state == RD_FAULT) {
		fail("P%d: reading %#lx (%s) faulted: signal %u si_code %u%s", slot, a,
		     backing_name[v->backing], rd->info >> 8, rd->info & 0xff,
		     rd->info == (SIGSEGV << 8 | SEGV_PKUERR) ?
		     " (SEGV_PKUERR: a protection key in the PTE)" : "");
		return;
	}
	e = expected(v, a, &maybe_zero);
	if (rd->state == RD_TORN) {
		fail("P%d: page %#lx (%s) is torn at word %u: word 0 is from %s, the model says %s",
		     slot, a, backing_name[v->backing], rd->info,
		     stamp_str(rd->stamp, got, sizeof(got)), stamp_str(e, want, sizeof(want)));
		return;
	}
	if (rd->stamp == e || (maybe_zero && !rd->stamp))
		return;
	fail("P%d: page %#lx (%s) holds %s, the model says %s%s", slot, a,
	     backing_name[v->backing], stamp_str(rd->stamp, got, sizeof(got)),
	     stamp_str(e, want, sizeof(want)),
	     model_where(rd->stamp, slot, a, where, sizeof(where)));
}

/*
 * Read [start, end) of @slot where the model says it is readable and
 * compare every page.  present_only: skip pages that are not present, so
 * that the check swaps nothing in.
 */
static void check_bytes(int slot, unsigned long start, unsigned long end, bool present_only)
{
	struct proc *p = &procs[slot];

	start &= ~(PAGE - 1);
	for (int i = vma_index(p, start); i < p->nvma && p->vma[i].start < end; i++) {
		struct mvma *v = &p->vma[i];
		unsigned long lo = v->start > start ? v->start : start;
		unsigned long hi = v->end < end ? v->end : end, n;

		if (!(v->prot & PROT_READ))
			continue;
		for (unsigned long a = lo; a < hi && !run.failures; a += n * PAGE) {
			struct req r = { .op = OP_READ, .addr = a, .how = present_only };

			/* Whole pages: a refused clone's range may end inside one. */
			n = (hi - a + PAGE - 1) / PAGE;
			n = n < MAX_READ ? n : MAX_READ;
			r.len = n * PAGE;
			if (call(slot, &r, -1)) {
				fail("P%d: reading %#lx+%#lx failed: %ld", slot, a, r.len,
				     reply.ret);
				return;
			}
			for (unsigned long k = 0; k < n && !run.failures; k++)
				compare_page(slot, v, a + k * PAGE, &reply.rd[k]);
		}
	}
}

static void check_all_bytes(int slot, bool present_only)
{
	check_bytes(slot, 0, ~0UL, present_only);
}

/* Stores through shared mappings (clones among them) reach the file: read it. */
static void check_files(void)
{
	static uint64_t buf[WORDS];
	char want[96], got[96];

	for (int i = 0; i < nobjs && !run.failures; i++) {
		for (unsigned long k = 0; objs[i].fd >= 0 && k < objs[i].npages; k++) {
			uint64_t e = objs[i].pages[k];
			unsigned long w = 0;

			if (pread(objs[i].fd, buf, PAGE, k * PAGE) != PAGE) {
				fail("reading %s: %s", objs[i].path, strerror(errno));
				return;
			}
			while (w < WORDS && buf[w] == stamp_word(e, w))
				w++;
			if (w < WORDS) {
				fail("page %lu of %s holds %s at word %lu, the model says %s", k,
				     objs[i].path, stamp_str(buf[0], got, sizeof(got)), w,
				     stamp_str(e, want, sizeof(want)));
				return;
			}
		}
	}
}

/* One line of /proc/PID/maps. */
struct kmap {
	unsigned long start, end, off, ino;
	int prot;
	bool shared, stack;
};

#define MAPS_TEXT	(128 * 1024)
#define MAX_KMAPS	2048

static char maps_text[3][MAPS_TEXT];	/* 0, 1: before a clone; 2: now */
static struct kmap kmaps[2][MAX_KMAPS];

static bool maps_read(pid_t pid, char *buf)
{
	char path[64];
	size_t len = 0;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return false;
	while (len < MAPS_TEXT - 1 && (n = read(fd, buf + len, MAPS_TEXT - 1 - len)) > 0)
		len += n;
	buf[len] = 0;
	close(fd);
	return true;
}

static int maps_parse(const char *text, struct kmap *m)
{
	int n = 0;

	for (const char *l = text, *eol; *l && n < MAX_KMAPS; l = *eol ? eol + 1 : eol) {
		char perms[8];
		unsigned int maj, min;

		eol = strchrnul(l, '\n');
		if (sscanf(l, "%lx-%lx %7s %lx %x:%x %lu", &m[n].start, &m[n].end, perms,
			   &m[n].off, &maj, &min, &m[n].ino) != 7)
			continue;
		m[n].prot = (perms[0] == 'r' ? PROT_READ : 0) |
			    (perms[1] == 'w' ? PROT_WRITE : 0) |
			    (perms[2] == 'x' ? PROT_EXEC : 0);
		m[n].shared = perms[3] == 's';
		m[n].stack = strstr(l, "[stack]") && strstr(l, "[stack]") < eol;
		n++;
	}
	return n;
}

static const struct kmap *kmap_at(const struct kmap *m, int n, unsigned long addr)
{
	for (int i = 0; i < n; i++)
		if (m[i].start <= addr && addr < m[i].end)
			return &m[i];
	return NULL;
}

/* The kernel's maps of @slot agree with the model wherever the fuzzer maps. */
static void check_maps(int slot)
{
	struct proc *p = &procs[slot];
	struct kmap *m = kmaps[0];
	int n;

	if (!p->live || run.failures)
		return;
	if (!maps_read(p->pid, maps_text[2])) {
		fail("P%d: cannot read /proc/%d/maps", slot, p->pid);
		return;
	}
	n = maps_parse(maps_text[2], m);
	/* What the model maps, the kernel maps alike. */
	for (int i = 0; i < p->nvma; i++) {
		struct mvma *v = &p->vma[i];

		for (unsigned long a = v->start; a < v->end;) {
			const struct kmap *e = kmap_at(m, n, a);
			struct mobj *o = &objs[v->obj];
			bool shared = v->kind == K_SHARED;

			if (!e) {
				fail("P%d: the model maps %#lx-%#lx (%s), the kernel not %#lx",
				     slot, v->start, v->end, backing_name[v->backing], a);
				return;
			}
			if (e->prot != v->prot || e->shared != shared) {
				fail("P%d: %#lx is mapped prot %d %s, the model: prot %d %s (%s)",
				     slot, a, e->prot, e->shared ? "shared" : "private", v->prot,
				     v->kind == K_SHARED ? "shared" : "private",
				     backing_name[v->backing]);
				return;
			}
			if (v->kind != K_ANON && !o->ino)
				o->ino = e->ino;	/* shared anon: learnt */
			if (v->kind == K_ANON ? e->ino != 0 :
			    e->ino != o->ino ||
			    e->off + (a - e->start) != (v->pgoff + (a - v->start) / PAGE) * PAGE) {
				fail("P%d: %#lx maps inode %lu at %#lx, the model %lu at %#lx (%s)",
				     slot, a, e->ino, e->off + (a - e->start),
				     v->kind == K_ANON ? 0 : o->ino,
				     (v->pgoff + (a - v->start) / PAGE) * PAGE,
				     backing_name[v->backing]);
				return;
			}
			a = e->end < v->end ? e->end : v->end;
		}
	}
	/* And nothing else where the fuzzer maps: the window, and what it mapped before. */
	for (int i = 0; i < n; i++) {
		for (int t = -1; t < p->ntouched; t++) {
			unsigned long lo = t < 0 ? WIN_BASE : p->touched[t].start;
			unsigned long hi = t < 0 ? WIN_BASE + WIN_SIZE : p->touched[t].end;

			lo = lo > m[i].start ? lo : m[i].start;
			hi = hi < m[i].end ? hi : m[i].end;
			for (unsigned long a = lo; a < hi;) {
				struct mvma *v = vma_at(p, a);

				if (!v) {
					fail("P%d: the kernel maps %#lx-%#lx, the model not %#lx",
					     slot, m[i].start, m[i].end, a);
					return;
				}
				a = v->end;
			}
		}
	}
}

/* Show a maps text in the log, as KTAP diagnostics. */
static void print_maps(const char *what, const char *text)
{
	ksft_print_msg("%s:\n", what);
	for (const char *l = text, *eol; *l; l = *eol ? eol + 1 : eol) {
		eol = strchrnul(l, '\n');
		ksft_print_msg("  %.*s\n", (int)(eol - l), l);
	}
}

/* Split @m into the entries outside [dst, dst + len) (clipped) and those inside; no stack. */
static void maps_split(const struct kmap *m, int n, unsigned long dst, unsigned long len,
		       struct kmap *out, int *nout, struct kmap *in, int *nin)
{
	*nout = 0;
	*nin = 0;
	for (int i = 0; i < n; i++) {
		struct kmap e = m[i];

		/* The stack grows as the fuzzer calls deeper: not the clone's doing. */
		if (e.stack)
			continue;
		if (!len || e.end <= dst || e.start >= dst + len) {
			out[(*nout)++] = e;
			continue;
		}
		if (e.start < dst) {
			out[*nout] = e;
			out[(*nout)++].end = dst;
		}
		if (e.end > dst + len) {
			out[*nout] = e;
			out[*nout].off += dst + len - e.start;
			out[(*nout)++].start = dst + len;
		}
		in[*nin] = e;
		in[*nin].start = e.start > dst ? e.start : dst;
		in[(*nin)++].end = e.end < dst + len ? e.end : dst + len;
	}
}

static bool maps_equal(const struct kmap *a, int na, const struct kmap *b, int nb)
{
	if (na != nb)
		return false;
	for (int i = 0; i < na; i++)
		if (a[i].start != b[i].start || a[i].end != b[i].end || a[i].prot != b[i].prot ||
		    a[i].ino != b[i].ino || a[i].shared != b[i].shared)
			return false;
	return true;
}

/*
 * After a refused clone the maps are as they were before it (maps_text
 * @which); a refused PVMMAP_FIXED clone may have left its destination
 * [dst, dst + len) unmapped (as mmap(2) may), and the model then follows.
 */
static void check_unchanged(int slot, int which, unsigned long dst, unsigned long len)
{
	static struct kmap bo[MAX_KMAPS], bi[MAX_KMAPS], ao[MAX_KMAPS], ai[MAX_KMAPS];
	int nb, na, nbo, nbi, nao, nai;

	if (!maps_read(procs[slot].pid, maps_text[2])) {
		fail("P%d: cannot read its maps", slot);
		return;
	}
	if (!strcmp(maps_text[which], maps_text[2]))
		return;
	nb = maps_parse(maps_text[which], kmaps[0]);
	na = maps_parse(maps_text[2], kmaps[1]);
	maps_split(kmaps[0], nb, dst, len, bo, &nbo, bi, &nbi);
	maps_split(kmaps[1], na, dst, len, ao, &nao, ai, &nai);
	if (maps_equal(bo, nbo, ao, nao)) {
		if (maps_equal(bi, nbi, ai, nai))
			return;
		if (!nai) {
			model_unmap(&procs[slot], dst, dst + len);
			return;
		}
	}
	fail("P%d: a refused clone changed its maps", slot);
	print_maps("before", maps_text[which]);
	print_maps("after", maps_text[2]);
}

/*
 * No data copied: right after a clone, its pages are the source's pages
 * (same PFNs), except those the contract says are copied: KSM pages, and
 * pages of a large folio mapped by the caller already or by a third
 * process (a clone from oneself, or from a process that shares the folio
 * since fork()).  Sampled: up to 64 pages of the range, present in the
 * source before and after the call at the same PFN.
 */
#define KPF_COMPOUND_HEAD	0x8000ULL	/* bit 15 */
#define KPF_COMPOUND_TAIL	0x10000ULL	/* bit 16 */
#define KPF_KSM			0x200000ULL	/* bit 21 */
#define KPF_THP			0x400000ULL	/* bit 22 */
#define KPF_ZERO_PAGE		0x1000000ULL	/* bit 24 */
#define KPF_LARGE		(KPF_COMPOUND_HEAD | KPF_COMPOUND_TAIL | KPF_THP)
#define SAMPLES			64

static int kpageflags_fd = -1, kpagecount_fd = -1;

static struct {
	unsigned long off;	/* the page in the range */
	uint64_t pm;		/* the source's pagemap entry before the call */
	uint64_t flags;		/* its kpageflags */
	bool may_copy;
} sample[SAMPLES];
static int nsamples;

static uint64_t kpage(int fd, uint64_t pfn)
{
	uint64_t v = 0;

	if (pread(fd, &v, sizeof(v), pfn * sizeof(v)) != sizeof(v))
		return 0;
	return v;
}

/* Whether a page of the large folio around @pfn is mapped more than once. */
static bool folio_shared(uint64_t pfn)
{
	static uint64_t fl[512], cnt[512];
	uint64_t base = pfn & ~511ULL;
	unsigned long i = pfn - base, lo = i, hi = i + 1;

	if (pread(kpageflags_fd, fl, sizeof(fl), base * 8) != sizeof(fl) ||
	    pread(kpagecount_fd, cnt, sizeof(cnt), base * 8) != sizeof(cnt))
		return true;
	while (lo > 0 && (fl[lo] & KPF_COMPOUND_TAIL))
		lo--;
	while (hi < 512 && (fl[hi] & KPF_COMPOUND_TAIL))
		hi++;
	for (unsigned long k = lo; k < hi; k++)
		if (cnt[k] > 1)
			return true;
	return false;
}

static uint64_t pm_buf[2][2048];

static void pfn_before(const struct step *s)
{
	unsigned long n = s->r.len / PAGE;
	bool self = s->slot == s->src;

	nsamples = 0;
	if (kpageflags_fd < 0 || n > 2048 || without & 1U << W_PFNS ||
	    !read_pagemap(procs[s->src].pid, s->r.addr, n, pm_buf[0]))
		return;
	for (int i = 0; i < SAMPLES && i < (int)n; i++) {
		unsigned long off = n <= SAMPLES ? i : mix(&run.crng) % n;
		uint64_t pm = pm_buf[0][off], fl;

		if (!(pm & PM_PRESENT) || !PM_PFN(pm))
			continue;
		fl = kpage(kpageflags_fd, PM_PFN(pm));
		sample[nsamples].off = off;
		sample[nsamples].pm = pm;
		sample[nsamples].flags = fl;
		sample[nsamples].may_copy = (fl & KPF_KSM) ||
			((fl & KPF_LARGE) &&
			 (self || folio_shared(PM_PFN(pm))));
		nsamples++;
	}
}

static void pfn_after(const struct step *s, unsigned long dst, bool moved)
{
	unsigned long n = s->r.len / PAGE;

	if (!nsamples || !read_pagemap(procs[s->slot].pid, dst, n, pm_buf[1]) ||
	    (!moved && !read_pagemap(procs[s->src].pid, s->r.addr, n, pm_buf[0])))
		return;
	for (int i = 0; i < nsamples; i++) {
		uint64_t d = pm_buf[1][sample[i].off], was = PM_PFN(sample[i].pm);
		uint64_t wflags, dflags;

		if (!(d & PM_PRESENT) || sample[i].may_copy)
			continue;
		if (!moved && (!(pm_buf[0][sample[i].off] & PM_PRESENT) ||
			       PM_PFN(pm_buf[0][sample[i].off]) != was))
			continue;	/* ksmd, khugepaged or reclaim moved it meanwhile */
		wflags = kpage(kpageflags_fd, was);
		if (wflags & KPF_KSM)
			continue;
		dflags = kpage(kpageflags_fd, PM_PFN(d));
		if (sample[i].flags & KPF_ZERO_PAGE) {
			if (!(dflags & KPF_ZERO_PAGE))
				fail("P%d: clone of a zero page of P%d at %#lx maps PFN %#llx",
				     s->slot, s->src, s->r.addr + sample[i].off * PAGE,
				     (unsigned long long)PM_PFN(d));
			continue;
		}
		/*
		 * A large folio split for the clone maps its pages of zeroes
		 * to the zero page, in the source and in the clone, as the
		 * contract says a split does.  The zero page copies no data,
		 * whatever the source's page was when sampled (seed
		 * 1796051450932990856 sampled one with no flags: mid-split);
		 * the model's byte check says whether zeroes were right.
		 */
		if (dflags & KPF_ZERO_PAGE)
			continue;
		run.st.pfns_compared++;
		if (PM_PFN(d) == was)
			continue;
		/*
		 * A large folio the clone may not share whole is split; where
		 * the split fails (a reference reclaim or compaction holds for
		 * a moment, a pin) its pages are copied, as the contract says.
		 * Then the source's page is still in a large folio after the
		 * call; after a MOVE there is no source to look at.
		 */
		if ((sample[i].flags & KPF_LARGE) && (moved || (wflags & KPF_LARGE))) {
			run.st.pfns_copied++;
			continue;
		}
		fail("P%d: clone %#lx of P%d %#lx: PFN %#llx, not %#llx (%#llx): copied",
		     s->slot, dst + sample[i].off * PAGE, s->src,
		     s->r.addr + sample[i].off * PAGE, (unsigned long long)PM_PFN(d),
		     (unsigned long long)was, (unsigned long long)sample[i].flags);
		return;
	}
}

/*
 * Memory and swap come back once every process of an episode has exited:
 * each /proc/meminfo field below within its tolerance of what it was at
 * the start (after dropping the page cache and reclaimable slab).  MemFree
 * counts the pages on the per-CPU free lists too (/proc/zoneinfo: tens of
 * MB of them come and go), and still drifts a few MB with the slab; swap
 * slots may stay with a swap-cache page a while; the others are exact but
 * for D's own stack and heap.  Waits up to 10 s for lazy frees.
 */
static const struct {
	const char *name;
	long tolerance_kb;
	int sign;		/* -1: must not fall by more, +1: must not rise by more */
} mem_field[] = {
	{ "MemFree", 8192, -1 }, { "SwapFree", 2048, -1 },	/* MemFree first */
	{ "Committed_AS", 4096, 1 }, { "AnonPages", 2048, 1 }, { "Shmem", 1024, 1 },
	{ "PageTables", 1024, 1 },
};

#define MEM_FIELDS	ARRAY_SIZE(mem_field)

static long base_mem[MEM_FIELDS], worst_mem[MEM_FIELDS];
static char base_meminfo[8192];	/* all of it, to show what moved when a check fails */

static void meminfo_now(long *kb)
{
	write_file("/proc/sys/vm/drop_caches", "3");
	for (unsigned int i = 0; i < MEM_FIELDS; i++)
		kb[i] = kb_of("/proc/meminfo", mem_field[i].name);
	kb[0] += pcp_kb();
}

static void read_meminfo(char *buf, size_t size)
{
	int fd = open("/proc/meminfo", O_RDONLY);
	ssize_t n = fd < 0 ? 0 : read(fd, buf, size - 1);

	buf[n > 0 ? n : 0] = 0;
	if (fd >= 0)
		close(fd);
}

/* Every field of /proc/meminfo that moved by more than 256 kB since the start. */
static void print_meminfo_moves(void)
{
	static char now_text[8192];
	char key[64];
	long v, then;

	ksft_print_msg("  per-CPU free lists: %ld kB\n", pcp_kb());
	read_meminfo(now_text, sizeof(now_text));
	for (const char *l = now_text, *eol; *l; l = *eol ? eol + 1 : eol) {
		eol = strchrnul(l, '\n');
		if (sscanf(l, "%63[^:]: %ld", key, &v) != 2)
			continue;
		then = 0;
		for (const char *b = base_meminfo, *e; *b; b = *e ? e + 1 : e) {
			e = strchrnul(b, '\n');
			if (!strncmp(b, key, strlen(key)) && b[strlen(key)] == ':')
				sscanf(b + strlen(key), ": %ld", &then);
		}
		if (labs(v - then) > 256)
			ksft_print_msg("  %s: %ld kB, %ld at the start\n", key, v, then);
	}
}

static bool leak_check(const char *when)
{
	long kb[MEM_FIELDS], d;
	unsigned int i, bad = 0;

	for (int t = 0; t < 40; t++) {
		meminfo_now(kb);
		for (i = 0, bad = 0; i < MEM_FIELDS; i++)
			bad += (kb[i] - base_mem[i]) * mem_field[i].sign >
			       mem_field[i].tolerance_kb;
		if (!bad)
			break;
		usleep(250 * 1000);
	}
	for (i = 0; i < MEM_FIELDS; i++) {
		d = (kb[i] - base_mem[i]) * mem_field[i].sign;
		if (d > worst_mem[i])
			worst_mem[i] = d;
		if (bad && d > mem_field[i].tolerance_kb)
			fail("%s: %s is %ld kB, %ld at the start (tolerance %ld kB)", when,
			     mem_field[i].name, kb[i], base_mem[i], mem_field[i].tolerance_kb);
	}
	if (bad || verbose)
		print_meminfo_moves();
	return !bad;
}

/*
 * Kernel reports a step provoked (WARNING, BUG, ...): the runner finds
 * them on the console too, but only here is it known which step it was.
 */
static int kmsg_read_fd = -1;

static void check_kernel_log(void)
{
	static const char * const report[] = {
		"WARNING:", "BUG:", "BUG kmalloc", "kernel BUG at", "Oops:",
		"general protection fault", "page_table_check", "Bad page",
		"list_add corruption", "list_del corruption", "UBSAN:", "KFENCE:",
		"possible circular locking", "possible recursive locking",
		"inconsistent lock state", "suspicious RCU usage",
	};
	static char rec[4096];
	ssize_t n;

	while (kmsg_read_fd >= 0) {
		n = read(kmsg_read_fd, rec, sizeof(rec) - 1);
		if (n < 0 && errno == EPIPE)
			continue;	/* records lost to the ring's wrap: go on */
		if (n <= 0)
			return;
		rec[n] = 0;
		for (unsigned int i = 0; i < ARRAY_SIZE(report); i++) {
			char *msg = strchr(rec, ';');

			if (msg && strstr(msg, report[i])) {
				msg[strcspn(msg, "\n")] = 0;
				fail("the kernel reported: %s", msg + 1);
				break;
			}
		}
	}
}

/* ---- The generator: what to do next ----------------------------------------------- */

static unsigned long mthp_pages;	/* this episode's mTHP size, 0 for none */
static const char *fs_dir;		/* $PVMMAP_FS_DIR: an ext4 mount */
static bool have_thp, have_pkeys, two_nodes;

/* A live process: D counts twice (it is the caller of most clones). */
static int pick_slot(bool agents_only)
{
	int live[MAX_PROCS + 1], n = 0;

	for (int i = agents_only ? 1 : 0; i < MAX_PROCS; i++)
		if (procs[i].live)
			live[n++] = i;
	if (!agents_only)
		live[n++] = 0;
	return n ? live[below(n)] : -1;
}

static int free_slot(void)
{
	for (int i = 1; i < MAX_PROCS; i++)
		if (!procs[i].live)
			return i;
	return -1;
}

/*
 * Recently interesting ranges (cloned, cloned to, paged out, forked):
 * the next steps come back to them often, which is how the shapes that
 * need several steps in a row (page out, clone twice, exit the source,
 * write one clone) come up.
 */
#define FOCUS	4

static struct {
	int slot;
	unsigned long start, end;
} focus[FOCUS];
static unsigned int nfocus;

static void focus_push(int slot, unsigned long start, unsigned long end)
{
	focus[nfocus % FOCUS].slot = slot;
	focus[nfocus % FOCUS].start = start;
	focus[nfocus % FOCUS].end = end;
	nfocus++;
}

/* A focus range, of @slot unless -1, whose first page is still mapped. */
static bool focus_pick(int slot, int *out, unsigned long *start, unsigned long *end)
{
	unsigned int n = nfocus < FOCUS ? nfocus : FOCUS, i;

	if (!n)
		return false;
	i = (nfocus - 1 - below(n)) % FOCUS;
	if ((slot >= 0 && focus[i].slot != slot) || !procs[focus[i].slot].live ||
	    !vma_at(&procs[focus[i].slot], focus[i].start))
		return false;
	*out = focus[i].slot;
	*start = focus[i].start;
	*end = focus[i].end;
	return true;
}

/* Every page of [start, end) mapped in @p with at least @prot. */
static bool range_has(struct proc *p, unsigned long start, unsigned long end, int prot)
{
	for (unsigned long a = start; a < end;) {
		struct mvma *v = vma_at(p, a);

		if (!v || (v->prot & prot) != prot)
			return false;
		a = v->end;
	}
	return true;
}

/* A VMA of @p with at least @prot (and anonymous private if @anon), or NULL. */
static struct mvma *pick_vma(struct proc *p, int prot, bool anon)
{
	int cand[MAX_VMAS], n = 0;

	for (int i = 0; i < p->nvma; i++)
		if ((p->vma[i].prot & prot) == prot && (!anon || p->vma[i].kind == K_ANON))
			cand[n++] = i;
	return n ? &p->vma[cand[below(n)]] : NULL;
}

/* The pages of the folios a mapping was made with: ranges are cut along them, or across. */
static unsigned long folio_pages(const struct mvma *v)
{
	if (v->backing == B_THP || v->backing == B_THP_OFF)
		return PMD / PAGE;
	if (v->backing == B_MTHP && mthp_pages)
		return mthp_pages;
	return 1;
}

/* A part of @v: all of it, whole folios of it, or any pages (at most @max). */
static void pick_part(const struct mvma *v, unsigned long max, unsigned long *start,
		      unsigned long *end)
{
	unsigned long n = (v->end - v->start) / PAGE, f = folio_pages(v) * PAGE, a, len;
	unsigned long lo = (v->start + f - 1) / f * f, hi = v->end / f * f;
	unsigned int how = below(10);

	if (how < 3 && n <= max) {
		*start = v->start;
		*end = v->end;
		return;
	}
	if (how < 7 && f > PAGE && hi > lo && (hi - lo) / PAGE <= max) {
		a = below((hi - lo) / f);
		len = 1 + below((hi - lo) / f - a);
		*start = lo + a * f;
		*end = *start + len * f;
		return;
	}
	a = below(n);
	len = 1 + below(n - a < max ? n - a : max);
	*start = v->start + a * PAGE;
	*end = *start + len * PAGE;
}

/*
 * A range from inside one VMA of @p to inside a later one, with what lies
 * between (holes too: only in the window, where nothing but the model's
 * mappings can be).
 */
static bool pick_span(struct proc *p, unsigned long *start, unsigned long *end)
{
	int i, j;

	if (p->nvma < 2)
		return false;
	i = below(p->nvma - 1);
	j = i + 1 + below(p->nvma - i - 1 < 4 ? p->nvma - i - 1 : 4);
	for (int k = i; k < j; k++)
		if (p->vma[k].end != p->vma[k + 1].start &&
		    (p->vma[k].end < WIN_BASE || p->vma[k + 1].start > WIN_BASE + WIN_SIZE))
			return false;
	*start = p->vma[i].start + below((p->vma[i].end - p->vma[i].start) / PAGE) * PAGE;
	*end = p->vma[j].start + (1 + below((p->vma[j].end - p->vma[j].start) / PAGE)) * PAGE;
	return *end - *start <= 2048 * PAGE;
}

/* A free range of @len in @p's window at a multiple of @align plus @skew; 0 if none. */
static unsigned long pick_free(struct proc *p, unsigned long len, unsigned long align,
			       unsigned long skew)
{
	for (int t = 0; t < 16; t++) {
		unsigned long a = WIN_BASE + below((WIN_SIZE - len - PMD) / align) * align + skew;

		if (range_free(p, a, a + len))
			return a;
	}
	return 0;
}

/* Whether a clone may be put exactly at [d, d + len) of @p: the window, or the model's own. */
static bool dst_ok(struct proc *p, unsigned long d, unsigned long len)
{
	if (d >= WIN_BASE && d + len <= WIN_BASE + WIN_SIZE)
		return true;
	return range_has(p, d, d + len, PROT_NONE);
}

/* A mapping of @b in @slot: its size, place, protection and object. */
static bool gen_map_as(struct step *s, int slot, enum backing b)
{
	struct req *r = &s->r;
	unsigned long n, align = PAGE, skew = 0, extra;
	struct proc *p = &procs[slot];
	int otype = -1;

	s->slot = slot;
	if (p->nvma > MAX_VMAS - 24)
		return false;
	if ((b == B_MTHP && !mthp_pages) || ((b == B_THP || b == B_THP_OFF) && !have_thp) ||
	    ((b == B_EXT4 || b == B_PRIV_EXT4) && !fs_dir))
		return false;
	s->op = OP_MAP;
	s->backing = b;
	r->op = OP_MAP;
	r->prot = chance(90) ? PROT_READ | PROT_WRITE : PROT_READ;
	r->flags = MAP_PRIVATE | MAP_ANONYMOUS;
	switch (b) {
	case B_4K:
		n = 1 + below(48);
		r->advice = MADV_NOHUGEPAGE;
		break;
	case B_MTHP:
		n = mthp_pages * (1 + below(4)) + (chance(25) ? below(mthp_pages) : 0);
		align = mthp_pages * PAGE;
		break;
	case B_THP:
	case B_THP_OFF:
		n = PMD / PAGE * (1 + below(2));
		align = PMD;
		r->advice = MADV_HUGEPAGE;
		if (b == B_THP_OFF) {
			skew = (1 + below(PMD / PAGE - 1)) * PAGE;
			n += 1 + below(64);
		}
		break;
	default:
		n = 1 + below(64);
		otype = b == B_SHANON ? O_SHANON :
			b == B_MEMFD || b == B_PRIV_MEMFD ? O_MEMFD :
			b == B_TMPFS || b == B_PRIV_TMPFS ? O_TMPFS : O_EXT4;
		r->flags = b == B_SHANON ? MAP_SHARED | MAP_ANONYMOUS :
			   b <= B_EXT4 ? MAP_SHARED : MAP_PRIVATE;
		break;
	}
	r->len = n * PAGE;
	r->addr = chance(80) ? pick_free(p, r->len, align, skew) : 0;
	/* A file already mapped elsewhere (half the time), or a new one. */
	s->obj = -1;
	if (otype > O_SHANON && (chance(50) || nobjs == MAX_OBJS)) {
		int i = below(nobjs ? nobjs : 1);

		for (int t = 0; t < nobjs; t++, i = (i + 1) % nobjs) {
			if (objs[i].type == otype && objs[i].npages >= n) {
				s->obj = i;
				r->offset = below(objs[i].npages - n + 1) * PAGE;
				break;
			}
		}
	}
	if (otype >= 0 && s->obj < 0) {
		if (nobjs == MAX_OBJS)
			return false;
		/* Shared anonymous memory is as large as its first mapping. */
		extra = otype == O_SHANON ? 0 : below(8);
		r->offset = below(extra + 1) * PAGE;
		r->target = n + extra;	/* the new object's pages */
	}
	return true;
}

static bool gen_map(struct step *s)
{
	static const unsigned int weight[B_NR] = { 14, 12, 8, 5, 6, 5, 4, 4, 3, 3, 3 };
	unsigned int w = 0, pick;
	enum backing b;
	int slot = pick_slot(false);

	for (b = 0; b < B_NR; b++)
		w += weight[b];
	pick = below(w);
	for (b = 0; pick >= weight[b]; b++)
		pick -= weight[b];
	return gen_map_as(s, slot, b);
}

static bool gen_write(struct step *s)
{
	unsigned long start, end;
	struct mvma *v;

	s->slot = pick_slot(false);
	if (!(chance(40) && focus_pick(-1, &s->slot, &start, &end) &&
	      range_has(&procs[s->slot], start, end, PROT_WRITE))) {
		v = pick_vma(&procs[s->slot], PROT_WRITE, false);
		if (!v)
			return false;
		pick_part(v, MAX_READ, &start, &end);
	}
	if (end - start > MAX_READ * PAGE)
		end = start + MAX_READ * PAGE;
	s->op = OP_WRITE;
	s->r.op = OP_WRITE;
	s->r.addr = start;
	s->r.len = end - start;
	s->r.how = chance(20);	/* uniform: pages KSM can merge */
	return true;
}

static bool gen_read(struct step *s)
{
	unsigned long start, end;
	struct mvma *v;

	s->slot = pick_slot(false);
	if (!(chance(40) && focus_pick(-1, &s->slot, &start, &end))) {
		v = pick_vma(&procs[s->slot], PROT_READ, false);
		if (!v)
			return false;
		pick_part(v, 4 * MAX_READ, &start, &end);
	}
	s->op = OP_READ;
	s->r.op = OP_READ;
	s->r.addr = start;
	s->r.len = end - start;
	return true;
}

/* A follow-up the generator owes: mprotect(RW) after mprotect(R), for one. */
static struct step queued;
static bool have_queued;

static bool gen_protect_or_pkey(struct step *s, bool pkey)
{
	static const int prots[] = { PROT_NONE, PROT_READ, PROT_READ | PROT_WRITE };
	unsigned long start, end;
	struct proc *p;
	struct mvma *v;

	if (pkey && !have_pkeys)
		return false;
	/* Protection keys in sources: agents (D's PKRU then shows a stray key). */
	s->slot = pick_slot(pkey);
	if (s->slot < 0)
		return false;
	p = &procs[s->slot];
	if (p->nvma > MAX_VMAS - 4)
		return false;
	if (!(chance(40) && focus_pick(s->slot, &s->slot, &start, &end) &&
	      range_has(p, start, end, PROT_NONE))) {
		v = pick_vma(p, PROT_NONE, false);
		if (!v)
			return false;
		pick_part(v, ~0UL, &start, &end);
	}
	s->op = pkey ? OP_PKEY : OP_PROTECT;
	s->r.op = s->op;
	s->r.addr = start;
	s->r.len = end - start;
	s->r.prot = pkey ? PROT_READ | PROT_WRITE : prots[below(3)];
	/* Read-only and back: a write-protect and a write-enable pass over the PTEs. */
	if (!pkey && chance(30)) {
		s->r.prot = PROT_READ;
		queued = *s;
		queued.r.prot = PROT_READ | PROT_WRITE;
		have_queued = true;
	}
	return true;
}

static bool gen_madvise(struct step *s)
{
	static const struct {
		int advice;
		unsigned int weight;
		bool anon;
	} adv[] = {
		{ MADV_PAGEOUT, 30, false }, { MADV_DONTNEED, 10, false },
		{ MADV_FREE, 8, true }, { MADV_COLLAPSE, 8, true },
		{ MADV_MERGEABLE, 14, true }, { MADV_UNMERGEABLE, 2, true },
		{ MADV_DONTFORK, 5, false }, { MADV_DOFORK, 4, false },
		{ MADV_WIPEONFORK, 4, true }, { MADV_KEEPONFORK, 3, true },
		{ MADV_COLD, 3, false },
	};
	unsigned int w = 0, pick, i;
	unsigned long start, end;
	struct proc *p;
	struct mvma *v;

	for (i = 0; i < ARRAY_SIZE(adv); i++)
		w += adv[i].weight;
	pick = below(w);
	for (i = 0; pick >= adv[i].weight; i++)
		pick -= adv[i].weight;
	if ((without & 1U << W_KSM && adv[i].advice == MADV_MERGEABLE) ||
	    (without & 1U << W_PAGEOUT &&
	     (adv[i].advice == MADV_PAGEOUT || adv[i].advice == MADV_COLD)))
		return false;
	s->slot = pick_slot(false);
	p = &procs[s->slot];
	if (p->nvma > MAX_VMAS - 4)
		return false;
	v = pick_vma(p, PROT_NONE, adv[i].anon);
	if (!v)
		return false;
	pick_part(v, ~0UL, &start, &end);
	/* Page-out, merging and collapse often hit what was just cloned or paged out. */
	if (!adv[i].anon || adv[i].advice == MADV_MERGEABLE || adv[i].advice == MADV_COLLAPSE) {
		int slot;
		unsigned long fs, fe;

		if (chance(50) && focus_pick(-1, &slot, &fs, &fe)) {
			struct mvma *f = vma_at(&procs[slot], fs);

			if (f && fe <= f->end && (!adv[i].anon || f->kind == K_ANON)) {
				s->slot = slot;
				start = fs;
				end = fe;
			}
		}
	}
	s->op = OP_MADVISE;
	s->r.op = OP_MADVISE;
	s->r.advice = adv[i].advice;
	s->r.addr = start;
	s->r.len = end - start;
	if (adv[i].advice == MADV_PAGEOUT)
		focus_push(s->slot, start, end);
	return true;
}

static bool gen_unmap(struct step *s)
{
	unsigned long start, end;
	struct proc *p;

	s->slot = pick_slot(false);
	p = &procs[s->slot];
	if (!p->nvma || p->nvma > MAX_VMAS - 4)
		return false;
	if (!(chance(30) && pick_span(p, &start, &end)))
		pick_part(&p->vma[below(p->nvma)], ~0UL, &start, &end);
	s->op = OP_UNMAP;
	s->r.op = OP_UNMAP;
	s->r.addr = start;
	s->r.len = end - start;
	return true;
}

static bool gen_mremap(struct step *s)
{
	unsigned long start, end;
	struct proc *p;
	struct mvma *v;

	s->slot = pick_slot(false);
	p = &procs[s->slot];
	if (!p->nvma || p->nvma > MAX_VMAS - 4)
		return false;
	v = &p->vma[below(p->nvma)];
	pick_part(v, ~0UL, &start, &end);
	s->op = OP_MREMAP;
	s->r.op = OP_MREMAP;
	s->r.addr = start;
	s->r.len = end - start;
	s->r.dst = pick_free(p, s->r.len, chance(50) ? PMD : PAGE,
			     chance(50) ? start % PMD : 0);
	return s->r.dst != 0;
}

static bool gen_fork(struct step *s)
{
	s->slot = pick_slot(false);
	s->src = free_slot();
	if (s->src < 0)
		return false;
	s->op = OP_FORK;
	s->r.op = OP_FORK;
	return true;
}

static bool gen_exit(struct step *s)
{
	unsigned long start, end;

	/* The source of the last clones, often: its clones then live on alone. */
	if (!(chance(50) && focus_pick(-1, &s->slot, &start, &end) && s->slot))
		s->slot = pick_slot(true);
	if (s->slot <= 0)
		return false;
	s->op = OP_EXIT;
	s->r.op = OP_EXIT;
	return true;
}

static bool gen_migrate(struct step *s)
{
	unsigned long start, end;
	struct mvma *v;

	if (!two_nodes)
		return false;
	s->slot = pick_slot(false);
	if (!(chance(50) && focus_pick(-1, &s->slot, &start, &end))) {
		v = pick_vma(&procs[s->slot], PROT_NONE, false);
		if (!v)
			return false;
		pick_part(v, 512, &start, &end);
	}
	if (end - start > 512 * PAGE)
		end = start + 512 * PAGE;
	s->op = OP_MIGRATE;
	s->r.addr = start;
	s->r.len = end - start;
	s->node = below(2);
	return true;
}

static bool gen_sleep(struct step *s)
{
	/* Time for ksmd and khugepaged to act on what the last steps did. */
	s->op = OP_SLEEP;
	s->r.len = 20 + below(200);
	return true;
}

/* An exact destination in @p for a clone of [src, src + len) (of @p itself if @self). */
static unsigned long pick_dst(struct proc *p, bool self, unsigned long src, unsigned long len)
{
	for (int t = 0; t < 8; t++) {
		unsigned long d;

		switch (below(4)) {
		case 0:		/* over a mapping, a clone made before often */
			if (!p->nvma)
				continue;
			d = p->vma[below(p->nvma)].start;
			break;
		case 1:		/* congruent: huge pages may stay huge */
			d = WIN_BASE + below(WIN_SIZE / PMD - 8) * PMD + src % PMD;
			break;
		default:
			d = WIN_BASE + below((WIN_SIZE - len - PMD) / PAGE) * PAGE;
			break;
		}
		if (!(self && overlaps(d, src, len)) && dst_ok(p, d, len))
			return d;
	}
	return 0;
}

/* Make a clone step wrong in one way (the contract says how it fails). */
static void inject_error(struct step *s)
{
	struct req *r = &s->r;
	unsigned long d, len;

	switch (below(14)) {
	case 0:
		r->flags |= 1UL << (4 + below(28));
		break;
	case 1:
		r->flags |= PVMMAP_FIXED | PVMMAP_FIXED_NOREPLACE;
		break;
	case 2:
		r->flags &= ~(unsigned long)PVMMAP_PIDFD;
		r->how = T_RAW;
		r->target = -(long)below(2);
		break;
	case 3:
		r->len = 0;
		break;
	case 4:
		r->addr += 1 + below(PAGE - 1);
		break;
	case 5:
		r->len += 1 + below(PAGE - 1);
		break;
	case 6:
		r->addr = -2 * PAGE;
		r->len = r->len < 3 * PAGE ? 3 * PAGE : r->len;
		break;
	case 7:
		r->flags = (r->flags & ~(unsigned long)PVMMAP_FIXED_NOREPLACE) | PVMMAP_FIXED;
		r->dst |= 1 + below(PAGE - 1);
		break;
	case 8:
		r->flags = (r->flags & ~(unsigned long)PVMMAP_FIXED) | PVMMAP_FIXED_NOREPLACE;
		r->dst = task_size - r->len + PAGE * (1 + below(4));
		break;
	case 9:
		r->addr = task_size - PAGE * below(2);
		r->len = 2 * PAGE;
		break;
	case 10:
		r->flags |= PVMMAP_PIDFD;
		r->how = T_RAW;
		r->target = chance(50) ? 1000 + (long)below(100) : 0;
		s->tk = TK_BADF;
		break;
	case 11:
		if (!ndead)
			break;
		r->how = T_RAW;
		r->target = dead[below(ndead)].pid;
		r->flags &= ~(unsigned long)PVMMAP_PIDFD;
		if (s->slot == 0 && chance(50)) {
			r->flags |= PVMMAP_PIDFD;
			r->target = dead[below(ndead)].pidfd;
		}
		s->tk = TK_DEAD;
		break;
	case 12:
		r->addr = VSYSCALL;
		r->len = PAGE;
		break;
	case 13:	/* an exact destination over the source in one address space */
		if (s->slot != s->src)
			break;
		/*
		 * Often past the source's end too: EINVAL comes before EFAULT.
		 * Only with the exact destination over the source, which makes
		 * it EINVAL: past the end may be a mapping the model does not
		 * know (outside its window, the C library's).
		 */
		len = r->len + (chance(50) ? (1 + below(4)) * PAGE : 0);
		/* Where a wrong success would replace only the model's own mappings. */
		d = r->addr + below(r->len / PAGE) * PAGE;
		if (dst_ok(&procs[s->slot], d, len)) {
			r->flags = (r->flags & ~(unsigned long)PVMMAP_FIXED_NOREPLACE) |
				   PVMMAP_FIXED;
			r->dst = d;
			r->len = len;
		}
		break;
	}
}

static bool gen_clone(struct step *s)
{
	struct req *r = &s->r;
	unsigned long start, end;
	unsigned int place;
	struct proc *p, *q;

	/* The caller: D mostly, any agent too. */
	s->slot = chance(65) ? 0 : pick_slot(true);
	if (s->slot < 0)
		s->slot = 0;
	p = &procs[s->slot];
	if (p->nvma > MAX_VMAS - 24)
		return false;
	/* The source and its range: the focus, the caller itself, anyone. */
	if (!(chance(45) && focus_pick(-1, &s->src, &start, &end))) {
		s->src = chance(25) ? s->slot : pick_slot(false);
		q = &procs[s->src];
		if (!q->nvma)
			return false;
		if (!(chance(15) && pick_span(q, &start, &end)))
			pick_part(&q->vma[below(q->nvma)], 2048, &start, &end);
	}
	if (end - start > 2048 * PAGE)
		return false;
	s->op = OP_CLONE;
	s->tk = TK_PROC;
	r->op = OP_CLONE;
	r->addr = start;
	r->len = end - start;
	/* How the source is named: a pid, a pidfd (D's, or the caller's), PIDFD_SELF. */
	r->how = T_PID;
	r->target = procs[s->src].pid;
	if (chance(30)) {
		r->flags |= PVMMAP_PIDFD;
		if (s->slot == s->src && chance(40)) {
			r->how = T_RAW;
			r->target = PIDFD_SELF;
		} else if (s->slot == 0) {
			r->how = T_RAW;
			r->target = procs[s->src].pidfd;
		} else {
			r->how = T_PIDFD;
		}
	}
	/* Where it goes: a hint, or exactly, over what is there or not. */
	place = below(100);
	if (place < 35) {
		r->dst = chance(50) ? 0 : WIN_BASE + below(WIN_SIZE / PAGE) * PAGE;
	} else {
		r->flags |= place < 75 ? PVMMAP_FIXED : PVMMAP_FIXED_NOREPLACE;
		r->dst = pick_dst(p, s->slot == s->src, start, r->len);
		if (!r->dst)
			return false;
	}
	if (chance(15))
		r->flags |= PVMMAP_MOVE;
	/* Wrong in one way, or two: which errno wins is the order of the checks. */
	if (chance(12)) {
		inject_error(s);
		if (chance(30))
			inject_error(s);
	}
	focus_push(s->src, start, end);
	return true;
}

static bool gen_protect(struct step *s)
{
	return gen_protect_or_pkey(s, false);
}

static bool gen_pkey(struct step *s)
{
	return gen_protect_or_pkey(s, true);
}

/* One generator per operation D may choose, and how often it chooses it. */
static const struct {
	bool (*gen)(struct step *s);
	unsigned int weight;
} gens[] = {
	{ gen_map, 8 }, { gen_unmap, 4 }, { gen_protect, 5 }, { gen_pkey, 2 },
	{ gen_madvise, 12 }, { gen_write, 14 }, { gen_read, 5 }, { gen_clone, 24 },
	{ gen_mremap, 3 }, { gen_fork, 3 }, { gen_exit, 2 }, { gen_migrate, 3 },
	{ gen_sleep, 1 },
};

/*
 * Motifs: shapes that take several steps in a row, which random steps
 * seldom line up, played now and then among them with random parameters.
 * Each is a known way to hurt a page-table copier:
 *   M_SWAP_TWICE  a source pages large folios out, the caller clones the
 *                 range twice (reading in between, or the source does),
 *                 the source exits, the caller writes one clone and reads
 *                 the other, write-protects the first and enables it again;
 *   M_SELF        a range cloned twice from oneself, then written;
 *   M_FORK_BACK   fork, then clone back (or on) what the two share;
 *   M_KSM         a clone, then KSM merges what it shares, then migration
 *                 (or page-out) of the clone, and writes;
 *   M_PKEY        a clone of memory under a protection key, read;
 *   M_THP_SPLIT   a THP cloned to an address not congruent to it.
 */
enum motif { M_NONE, M_SWAP_TWICE, M_SELF, M_FORK_BACK, M_KSM, M_PKEY, M_THP_SPLIT, M_NR };

static const char * const motif_name[M_NR] = {
	"", "swap-twice", "self", "fork-back", "ksm", "pkey", "thp-split",
};

static struct {
	enum motif m;
	int step;		/* the next step of it */
	bool mapped;		/* it mapped its source's memory itself */
	int src, child;
	unsigned long start, end;	/* the source range */
	unsigned long clone[2];		/* where its clones went, 0 if they did not */
} mo;

/* The last clone placed, which the executor notes for the motifs. */
static struct {
	int slot;
	unsigned long start;
} last_clone;

static bool motif_end(void)
{
	mo.m = M_NONE;
	return false;
}

static void mk(struct step *s, enum op what, int slot, unsigned long start, unsigned long end)
{
	memset(s, 0, sizeof(*s));
	s->op = what;
	s->slot = slot;
	s->obj = -1;
	s->r.op = what;
	s->r.addr = start;
	s->r.len = end - start;
}

static void mk_clone(struct step *s, int caller, int src, unsigned long flags, unsigned long dst)
{
	mk(s, OP_CLONE, caller, mo.start, mo.end);
	s->src = src;
	s->tk = TK_PROC;
	s->r.how = T_PID;
	s->r.target = procs[src].pid;
	s->r.flags = dst ? flags : 0;
	s->r.dst = dst;
	last_clone.slot = -1;
}

/* The clone the last step made, as clone @i of the motif (0 if it failed). */
static unsigned long took_clone(int i)
{
	mo.clone[i] = last_clone.slot == 0 ? last_clone.start : 0;
	return mo.clone[i];
}

/* Whether [start, start + the motif's length) is mapped in @slot. */
static bool still(int slot, unsigned long start)
{
	return start && slot >= 0 && procs[slot].live &&
	       range_has(&procs[slot], start, start + mo.end - mo.start, PROT_READ);
}

/*
 * The first step: @slot's memory of @b (mapped now if it has none),
 * written (uniformly for KSM to merge it).  THP_SPLIT takes one whole
 * huge page of it.
 */
static bool motif_source(struct step *s, int slot, enum backing b)
{
	struct proc *p = &procs[slot < 0 ? 0 : slot];
	int cand[MAX_VMAS], n = 0;
	struct mvma *v;

	if (slot < 0)
		return motif_end();
	for (int i = 0; i < p->nvma; i++) {
		v = &p->vma[i];
		if (v->kind == K_ANON && v->prot == (PROT_READ | PROT_WRITE) && !v->nofork &&
		    !v->wipe && v->backing == b &&
		    (mo.m != M_THP_SPLIT || v->end - v->start >= PMD))
			cand[n++] = i;
	}
	if (!n) {
		/* Map it, and come back to this step. */
		if (mo.mapped || !gen_map_as(s, slot, b))
			return motif_end();
		mo.mapped = true;
		mo.step--;
		return true;
	}
	v = &p->vma[cand[below(n)]];
	mo.src = slot;
	pick_part(v, 256, &mo.start, &mo.end);
	if (mo.m == M_THP_SPLIT) {
		mo.start = v->start;
		mo.end = v->start + PMD;
	}
	mk(s, OP_WRITE, slot, mo.start, mo.end);
	s->r.how = mo.m == M_KSM;
	return true;
}

/* Read @len bytes at @start in @slot, or (not mapped) sleep a little. */
static void mk_read(struct step *s, int slot, unsigned long start)
{
	if (still(slot, start))
		mk(s, OP_READ, slot, start, start + mo.end - mo.start);
	else
		mk(s, OP_SLEEP, 0, 0, 20);
}

static void mk_write(struct step *s, int slot, unsigned long start)
{
	if (still(slot, start) && range_has(&procs[slot], start, start + mo.end - mo.start,
					    PROT_READ | PROT_WRITE))
		mk(s, OP_WRITE, slot, start, start + mo.end - mo.start);
	else
		mk_read(s, slot, start);
}

/* Migration if there is a second node, page-out otherwise. */
static void mk_move_away(struct step *s, int slot, unsigned long start)
{
	if (!still(slot, start)) {
		mk(s, OP_SLEEP, 0, 0, 20);
	} else if (two_nodes && !(without & 1U << OP_MIGRATE) && chance(50)) {
		mk(s, OP_MIGRATE, slot, start, start + mo.end - mo.start);
		s->node = below(2);
	} else {
		mk(s, OP_MADVISE, slot, start, start + mo.end - mo.start);
		s->r.advice = MADV_PAGEOUT;
	}
}

static enum backing large_folios(void)
{
	if (mthp_pages && chance(70))
		return B_MTHP;
	return have_thp && chance(60) ? B_THP : B_4K;
}

static bool motif_swap_twice(struct step *s, int k)
{
	unsigned long dst;

	switch (k) {
	case 0:
		return motif_source(s, pick_slot(true), mthp_pages ? B_MTHP : large_folios());
	case 1:
		mk(s, OP_MADVISE, mo.src, mo.start, mo.end);
		s->r.advice = MADV_PAGEOUT;
		return still(mo.src, mo.start) || motif_end();
	case 2:
	case 5:
		dst = chance(50) ? pick_dst(&procs[0], false, mo.start, mo.end - mo.start) : 0;
		mk_clone(s, 0, mo.src, PVMMAP_FIXED, dst);
		return still(mo.src, mo.start) || motif_end();
	case 3:
		/* The first clone: read, or not. */
		took_clone(0);
		if (chance(50))
			mk_read(s, 0, mo.clone[0]);
		else
			mk(s, OP_SLEEP, 0, 0, 10);
		return true;
	case 4:
		/* The source reads its range, or pages it out again. */
		if (chance(30)) {
			mk_read(s, mo.src, mo.start);
		} else {
			mk(s, OP_MADVISE, mo.src, mo.start, mo.end);
			s->r.advice = MADV_PAGEOUT;
		}
		return still(mo.src, mo.start) || motif_end();
	case 6:
		took_clone(1);
		if (chance(70) && mo.src)
			mk(s, OP_EXIT, mo.src, 0, 0);
		else
			mk_read(s, mo.src, mo.start);
		return true;
	case 7:
		mk_write(s, 0, mo.clone[0]);
		return true;
	case 8:
		mk_read(s, 0, mo.clone[1]);
		return true;
	case 9:
		if (!still(0, mo.clone[0]))
			return motif_end();
		mk(s, OP_PROTECT, 0, mo.clone[0], mo.clone[0] + mo.end - mo.start);
		s->r.prot = PROT_READ;
		queued = *s;
		queued.r.prot = PROT_READ | PROT_WRITE;
		have_queued = true;
		return true;
	}
	return motif_end();
}

static bool motif_self(struct step *s, int k)
{
	switch (k) {
	case 0:
		return motif_source(s, 0, large_folios());
	case 1:
	case 2:
		if (k == 2)
			took_clone(0);
		if (!still(0, mo.start))
			return motif_end();
		mk_clone(s, 0, 0, PVMMAP_FIXED,
			 k == 2 ? pick_dst(&procs[0], true, mo.start, mo.end - mo.start) : 0);
		return true;
	case 3:
		took_clone(1);
		mk_write(s, 0, mo.start);
		return true;
	case 4:
		mk_read(s, 0, mo.clone[0]);
		return true;
	case 5:
		mk_write(s, 0, mo.clone[0]);
		return true;
	case 6:
		mk_read(s, 0, mo.clone[1]);
		return true;
	}
	return motif_end();
}

static bool motif_fork_back(struct step *s, int k)
{
	switch (k) {
	case 0:
		return motif_source(s, 0, large_folios());
	case 1:
		mo.child = free_slot();
		if (mo.child < 0)
			return motif_end();
		mk(s, OP_FORK, 0, 0, 0);
		s->src = mo.child;
		return true;
	case 2:
		/* Back into the parent, or on from the parent into the child. */
		if (!still(mo.child, mo.start))
			return motif_end();
		if (chance(50))
			mk_clone(s, 0, mo.child, 0, 0);
		else
			mk_clone(s, mo.child, 0, 0, 0);
		return true;
	case 3:
		took_clone(0);
		mk_write(s, mo.child, mo.start);
		return true;
	case 4:
		mk_read(s, 0, mo.clone[0]);
		return true;
	case 5:
		mk_write(s, 0, mo.clone[0] ? mo.clone[0] : mo.start);
		return true;
	case 6:
		mk_read(s, mo.child, mo.start);
		return true;
	}
	return motif_end();
}

static bool motif_ksm(struct step *s, int k)
{
	switch (k) {
	case 0:
		return motif_source(s, pick_slot(true), large_folios());
	case 1:
		if (!still(mo.src, mo.start))
			return motif_end();
		mk_clone(s, 0, mo.src, 0, 0);
		return true;
	case 2:
		/* Merging turned on for the source's range, or for the clone. */
		if (!took_clone(0))
			return motif_end();
		if (chance(50) && still(mo.src, mo.start))
			mk(s, OP_MADVISE, mo.src, mo.start, mo.end);
		else
			mk(s, OP_MADVISE, 0, mo.clone[0], mo.clone[0] + mo.end - mo.start);
		s->r.advice = MADV_MERGEABLE;
		return true;
	case 3:
		mk(s, OP_SLEEP, 0, 0, 200 + below(400));
		return true;
	case 4:
	case 7:
		mk_move_away(s, 0, mo.clone[0]);
		return true;
	case 5:
		mk_write(s, mo.src, mo.start);
		return true;
	case 6:
		if (chance(50) && mo.src)
			mk(s, OP_EXIT, mo.src, 0, 0);
		else
			mk_read(s, 0, mo.clone[0]);
		return true;
	case 8:
		mk_write(s, 0, mo.clone[0]);
		return true;
	}
	return motif_end();
}

static bool motif_pkey(struct step *s, int k)
{
	switch (k) {
	case 0:
		return motif_source(s, pick_slot(true), large_folios());
	case 1:
		if (!still(mo.src, mo.start))
			return motif_end();
		mk(s, OP_PKEY, mo.src, mo.start, mo.end);
		s->r.prot = PROT_READ | PROT_WRITE;
		return true;
	case 2:
		mk_clone(s, 0, mo.src, 0, 0);
		return true;
	case 3:
		took_clone(0);
		mk_read(s, 0, mo.clone[0]);
		return true;
	}
	return motif_end();
}

static bool motif_thp_split(struct step *s, int k)
{
	unsigned long dst;

	switch (k) {
	case 0:
		return motif_source(s, chance(70) ? pick_slot(true) : 0, B_THP);
	case 1:
		mk(s, OP_MADVISE, mo.src, mo.start, mo.end);
		s->r.advice = MADV_COLLAPSE;
		return true;
	case 2:
		dst = WIN_BASE + below(WIN_SIZE / PMD - 8) * PMD;
		dst += (1 + below(PMD / PAGE - 1)) * PAGE;
		if (!still(mo.src, mo.start))
			return motif_end();
		mk_clone(s, 0, mo.src, PVMMAP_FIXED, dst);
		return true;
	case 3:
		took_clone(0);
		mk_read(s, 0, mo.clone[0]);
		return true;
	case 4:
		mk_write(s, mo.src, mo.start);
		return true;
	case 5:
		mk_read(s, 0, mo.clone[0]);
		return true;
	}
	return motif_end();
}

/* The next step of the motif being played, false when there is none. */
static bool motif_next(struct step *s)
{
	int k = mo.step++;

	/* Room in the model for what the motif clones. */
	if (procs[0].nvma > MAX_VMAS - 24 || procs[mo.src].nvma > MAX_VMAS - 24)
		return motif_end();
	switch (mo.m) {
	case M_SWAP_TWICE:
		return motif_swap_twice(s, k);
	case M_SELF:
		return motif_self(s, k);
	case M_FORK_BACK:
		return motif_fork_back(s, k);
	case M_KSM:
		return motif_ksm(s, k);
	case M_PKEY:
		return motif_pkey(s, k);
	case M_THP_SPLIT:
		return motif_thp_split(s, k);
	default:
		return false;
	}
}

static void motif_start(void)
{
#define B(op)	(1U << (op))
	/* The operations each motif does (beyond write, read, clone and sleep). */
	static const unsigned int uses[M_NR] = {
		[M_SWAP_TWICE] = B(OP_MADVISE) | B(OP_EXIT) | B(OP_PROTECT) | B(W_PAGEOUT),
		[M_FORK_BACK] = B(OP_FORK),
		[M_KSM] = B(OP_MADVISE) | B(OP_EXIT) | B(W_KSM) | B(W_PAGEOUT),
		[M_PKEY] = B(OP_PKEY),
		[M_THP_SPLIT] = B(OP_MADVISE),
	};
	const unsigned int always = B(OP_WRITE) | B(OP_READ) | B(OP_CLONE) | B(OP_SLEEP);
#undef B

	memset(&mo, 0, sizeof(mo));
	mo.m = 1 + below(M_NR - 1);
	/* Not what it cannot do, nor what --without leaves out. */
	if ((mo.m == M_PKEY && !have_pkeys) || (mo.m == M_THP_SPLIT && !have_thp) ||
	    without & (uses[mo.m] | always)) {
		mo.m = M_NONE;
		return;
	}
	run.st.motifs++;
	if (verbose)
		printf("# motif %s\n", motif_name[mo.m]);
}

static void generate(struct step *s)
{
	unsigned int w = 0, pick, i;

	if (have_queued) {
		*s = queued;
		have_queued = false;
		return;
	}
	if (!mo.m && chance(6))
		motif_start();
	memset(s, 0, sizeof(*s));
	s->obj = -1;
	if (mo.m && motif_next(s))
		return;
	for (i = 0; i < ARRAY_SIZE(gens); i++)
		w += without & 1U << i ? 0 : gens[i].weight;
	do {
		memset(s, 0, sizeof(*s));
		s->obj = -1;
		pick = below(w);
		for (i = 0; without & 1U << i || pick >= gens[i].weight; i++)
			pick -= without & 1U << i ? 0 : gens[i].weight;
		/* Too little mapped to do much: map. */
		if (procs[0].nvma + procs[1].nvma < 2 && chance(70))
			i = 0;
	} while (!gens[i].gen(s));
}

/* ---- The executor: do a step, follow it in the model, check it ------------------- */

static void trace_step(const struct step *s)
{
	char *t = run.trace[run.ntrace++ % TRACE];
	size_t size = sizeof(run.trace[0]);
	const struct req *r = &s->r;
	int n = snprintf(t, size, "%lu: P%d %s", run.st.steps, s->slot, op_name[s->op]);

	switch (s->op) {
	case OP_MAP:
		snprintf(t + n, size - n, " %s %#lx+%#lx prot %d obj %d off %#lx",
			 backing_name[s->backing], r->addr, r->len, r->prot, s->obj, r->offset);
		break;
	case OP_CLONE:
		snprintf(t + n, size - n, " P%d %#lx+%#lx to %#lx flags %#lx target %ld%s",
			 s->src, r->addr, r->len, r->dst, r->flags, r->target,
			 r->how == T_PIDFD ? " (pidfd)" : "");
		break;
	case OP_FORK:
		snprintf(t + n, size - n, " P%d", s->src);
		break;
	case OP_EXIT:
		break;
	case OP_MADVISE:
		snprintf(t + n, size - n, " %#lx+%#lx advice %d", r->addr, r->len, r->advice);
		break;
	case OP_PROTECT:
	case OP_PKEY:
		snprintf(t + n, size - n, " %#lx+%#lx prot %d", r->addr, r->len, r->prot);
		break;
	case OP_MREMAP:
		snprintf(t + n, size - n, " %#lx+%#lx to %#lx", r->addr, r->len, r->dst);
		break;
	case OP_MIGRATE:
		snprintf(t + n, size - n, " %#lx+%#lx to node %d", r->addr, r->len, s->node);
		break;
	case OP_SLEEP:
		snprintf(t + n, size - n, " %lu ms", r->len);
		break;
	default:
		snprintf(t + n, size - n, " %#lx+%#lx%s", r->addr, r->len,
			 s->op == OP_WRITE && r->how ? " uniform" : "");
		break;
	}
	if (verbose)
		printf("# %s\n", t);
}

/* Add what the kernel answered to the trace of the current step. */
static void trace_result(long ret)
{
	char *t = run.trace[(run.ntrace - 1) % TRACE];
	size_t n = strlen(t);

	if (ret < 0 && ret > -4096)
		snprintf(t + n, sizeof(run.trace[0]) - n, " = %s", errno_name(-ret));
	else
		snprintf(t + n, sizeof(run.trace[0]) - n, " = %#lx", ret);
	if (verbose)
		printf("#   %s\n", t + n);
}

static int obj_new(int type, unsigned long npages)
{
	struct mobj *o = &objs[nobjs];
	struct stat st;

	o->type = type;
	o->npages = npages;
	o->pages = obj_pool + obj_used;
	memset(o->pages, 0, npages * sizeof(*o->pages));
	obj_used += npages;
	o->fd = -1;
	o->ino = 0;
	o->path[0] = 0;
	if (type == O_MEMFD) {
		o->fd = memfd_create("pvmmap_fuzz", 0);
		snprintf(o->path, sizeof(o->path), "/proc/%d/fd/%d", d_pid, o->fd);
	} else if (type != O_SHANON) {
		snprintf(o->path, sizeof(o->path), "%s/pvmmap_fuzz.%d.%d",
			 type == O_TMPFS ? "/dev/shm" : fs_dir, d_pid, nobjs);
		o->fd = open(o->path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	}
	if (type != O_SHANON) {
		if (o->fd < 0 || ftruncate(o->fd, npages * PAGE) || fstat(o->fd, &st))
			ksft_exit_fail_msg("cannot make %s: %s\n", o->path, strerror(errno));
		o->ino = st.st_ino;
	}
	return nobjs++;
}

static void exec_map(struct step *s)
{
	static const int otype[B_NR] = {
		[B_SHANON] = O_SHANON, [B_MEMFD] = O_MEMFD, [B_TMPFS] = O_TMPFS,
		[B_EXT4] = O_EXT4, [B_PRIV_MEMFD] = O_MEMFD, [B_PRIV_TMPFS] = O_TMPFS,
		[B_PRIV_EXT4] = O_EXT4,
	};
	struct proc *p = &procs[s->slot];
	struct req *r = &s->r;
	struct mvma v = { .prot = r->prot, .backing = s->backing };
	unsigned long n = r->len / PAGE;
	long ret;

	v.kind = s->backing <= B_THP_OFF ? K_ANON : s->backing <= B_EXT4 ? K_SHARED : K_FILE;
	if (v.kind != K_ANON) {
		if (s->obj < 0)
			s->obj = obj_new(otype[s->backing], r->target);
		snprintf(r->path, sizeof(r->path), "%s", objs[s->obj].path);
		v.obj = s->obj;
		v.pgoff = r->offset / PAGE;
	}
	ret = call(s->slot, r, -1);
	trace_result(ret);
	if (ret < 0 && ret > -4096) {
		fail("P%d: mmap of %s at %#lx failed: %s", s->slot, backing_name[s->backing],
		     r->addr, strerror(-ret));
		return;
	}
	if ((r->addr && (unsigned long)ret != r->addr) || !range_free(p, ret, ret + r->len)) {
		fail("P%d: mmap returned %#lx: over what the model maps", s->slot, ret);
		return;
	}
	v.start = ret;
	v.end = ret + r->len;
	if (v.kind != K_SHARED) {
		v.pg = pool_alloc(n);
		for (unsigned long k = 0; k < n; k++)
			v.pg[k].file = v.kind == K_FILE;
	}
	model_insert(p, &v);
	check_maps(s->slot);
	check_bytes(s->slot, v.start, v.end, true);
}

/* The stamps a store involves: the values it replaces and the values it writes. */
static uint64_t involved[2 * MAX_READ];
static unsigned long ninvolved;

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static bool is_involved(uint64_t s)
{
	return s && bsearch(&s, involved, ninvolved, sizeof(s), cmp_u64);
}

/*
 * A store must show wherever the model shares the page (the same page of
 * a file), and must not where the model keeps the value it replaced
 * (copy-on-write siblings: the clones, the fork children, the source of a
 * clone).  Read all of those pages, up to 512, wherever they are.
 */
static void check_siblings(int slot, unsigned long start, unsigned long end)
{
	long budget = 512;
	bool mz;

	qsort(involved, ninvolved, sizeof(involved[0]), cmp_u64);
	for (int i = 0; i < MAX_PROCS && budget > 0; i++) {
		struct proc *p = &procs[i];

		for (int k = 0; p->live && k < p->nvma && budget > 0; k++) {
			struct mvma *v = &p->vma[k];
			unsigned long from = 0;

			if (!(v->prot & PROT_READ))
				continue;
			for (unsigned long a = v->start; a <= v->end && budget > 0; a += PAGE) {
				bool hit = a < v->end && !(i == slot && a >= start && a < end) &&
					   is_involved(expected(v, a, &mz));

				if (hit && !from)
					from = a;
				if (from && (!hit || --budget == 0)) {
					check_bytes(i, from, hit ? a + PAGE : a, false);
					from = 0;
				}
			}
		}
	}
}

static void exec_write(struct step *s)
{
	struct proc *p = &procs[s->slot];
	struct req *r = &s->r;
	unsigned long n = r->len / PAGE;
	uint64_t gen = ++gen_counter;
	bool mz;

	r->stamp = stamp_make(s->slot, gen, r->how ? UNIFORM : 0);
	wlog[gen % WLOG].gen = gen;
	wlog[gen % WLOG].slot = s->slot;
	wlog[gen % WLOG].addr = r->addr;
	ninvolved = 0;
	for (unsigned long k = 0; k < n; k++) {
		unsigned long a = r->addr + k * PAGE;

		involved[ninvolved++] = expected(vma_at(p, a), a, &mz);
		involved[ninvolved++] = r->how ? r->stamp : r->stamp + k;
	}
	if (call(s->slot, r, -1)) {
		fail("P%d: writing %#lx+%#lx faulted: signal %u si_code %u", s->slot, r->addr,
		     r->len, reply.rd[0].info >> 8, reply.rd[0].info & 0xff);
		return;
	}
	model_write(p, r->addr, n, r->stamp, r->how);
	check_bytes(s->slot, r->addr, r->addr + r->len, false);
	check_siblings(s->slot, r->addr, r->addr + r->len);
}

static void exec_protect(struct step *s)
{
	struct proc *p = &procs[s->slot];
	struct req *r = &s->r;
	int first, last;
	long ret = call(s->slot, r, -1);

	trace_result(ret);
	if (ret < 0) {
		fail("P%d: %s(%#lx+%#lx, %d) failed: %s", s->slot, op_name[s->op], r->addr,
		     r->len, r->prot, strerror(-ret));
		return;
	}
	last = model_range(p, r->addr, r->addr + r->len, &first);
	for (int i = first; i < last; i++) {
		p->vma[i].prot = r->prot;
		if (s->op == OP_PKEY)
			p->vma[i].pkey = ret;
	}
	check_maps(s->slot);
	check_bytes(s->slot, r->addr, r->addr + r->len, true);
}

/*
 * MADV_PAGEOUT reaches every page that only this process maps.  Other
 * pages may stay for reasons of their own (shared, locked, not on the LRU
 * yet); a KSM page mapped once, still present after two more tries, is one
 * the reverse map cannot find here (KSM knows one address per process, the
 * one it merged at).
 */
static void check_paged_out(struct step *s)
{
	static uint64_t pm[512];
	static bool ksm1[512];
	unsigned long n = s->r.len / PAGE < 512 ? s->r.len / PAGE : 512, k, left = 0;
	pid_t pid = procs[s->slot].pid;

	if (kpageflags_fd < 0 || !read_pagemap(pid, s->r.addr, n, pm))
		return;
	for (k = 0; k < n; k++) {
		ksm1[k] = (pm[k] & PM_PRESENT) && PM_PFN(pm[k]) &&
			  (kpage(kpageflags_fd, PM_PFN(pm[k])) & KPF_KSM) &&
			  kpage(kpagecount_fd, PM_PFN(pm[k])) == 1;
		left += ksm1[k];
	}
	for (int t = 0; t < 2 && left; t++) {
		usleep(50 * 1000);
		call(s->slot, &s->r, -1);
		if (!read_pagemap(pid, s->r.addr, n, pm))
			return;
		for (k = 0, left = 0; k < n; k++) {
			ksm1[k] = ksm1[k] && (pm[k] & PM_PRESENT) &&
				  (kpage(kpageflags_fd, PM_PFN(pm[k])) & KPF_KSM) &&
				  kpage(kpagecount_fd, PM_PFN(pm[k])) == 1;
			left += ksm1[k];
		}
	}
	for (k = 0; k < n && left; k++) {
		if (ksm1[k]) {
			fail("P%d: %lu KSM pages mapped once stay after MADV_PAGEOUT: %#lx (%#llx)",
			     s->slot, left, s->r.addr + k * PAGE,
			     (unsigned long long)PM_PFN(pm[k]));
			return;
		}
	}
}

static void exec_madvise(struct step *s)
{
	struct req *r = &s->r;
	long ret = call(s->slot, r, -1);
	int first;

	trace_result(ret);
	/* Some advice splits the VMA (KSM's flag): the model's VMAs stay within the kernel's. */
	model_range(&procs[s->slot], r->addr, r->addr + r->len, &first);
	switch (r->advice) {
	case MADV_DONTNEED:
	case MADV_FREE:
	case MADV_DONTFORK:
	case MADV_DOFORK:
	case MADV_WIPEONFORK:
	case MADV_KEEPONFORK:
		/* These the model follows: they must work. */
		if (ret) {
			fail("P%d: madvise(%#lx+%#lx, %d) failed: %s", s->slot, r->addr, r->len,
			     r->advice, strerror(-ret));
			return;
		}
		model_madvise(&procs[s->slot], r->addr, r->addr + r->len, r->advice);
		break;
	}
	check_maps(s->slot);
	if (r->advice == MADV_DONTNEED || r->advice == MADV_FREE)
		check_bytes(s->slot, r->addr, r->addr + r->len, true);
	if (r->advice == MADV_PAGEOUT && !ret)
		check_paged_out(s);
}

static void exec_unmap(struct step *s)
{
	long ret = call(s->slot, &s->r, -1);

	if (ret) {
		fail("P%d: munmap(%#lx+%#lx) failed: %s", s->slot, s->r.addr, s->r.len,
		     strerror(-ret));
		return;
	}
	model_unmap(&procs[s->slot], s->r.addr, s->r.addr + s->r.len);
	check_maps(s->slot);
}

static void exec_mremap(struct step *s)
{
	struct req *r = &s->r;
	long ret = call(s->slot, r, -1);

	trace_result(ret);
	if ((unsigned long)ret != r->dst) {
		fail("P%d: mremap(%#lx+%#lx) to %#lx: %ld", s->slot, r->addr, r->len, r->dst, ret);
		return;
	}
	model_mremap(&procs[s->slot], r->addr, r->len, r->dst);
	check_maps(s->slot);
	check_bytes(s->slot, r->dst, r->dst + r->len, true);
}

static void exec_fork(struct step *s)
{
	struct proc *p = &procs[s->slot], *c = &procs[s->src];
	int sv[2];
	long ret;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv))
		ksft_exit_fail_msg("socketpair: %s\n", strerror(errno));
	if (s->slot == 0) {
		ret = act_fork(sv[1]);
	} else {
		ret = call(s->slot, &s->r, sv[1]);
		close(sv[1]);
	}
	trace_result(ret);
	if (ret < 0) {
		close(sv[0]);
		fail("P%d: fork failed: %s", s->slot, strerror(-ret));
		return;
	}
	c->live = true;
	c->pid = ret;
	c->sock = sv[0];
	c->pidfd = sys_pidfd_open(c->pid, 0);
	c->d_child = s->slot == 0;
	model_fork(p, c);
	check_maps(s->src);
	check_all_bytes(s->src, true);
	/* Fork, then clone back (or on): what the two share is the next focus. */
	if (c->nvma) {
		struct mvma *v = &c->vma[below(c->nvma)];

		focus_push(s->src, v->start, v->end);
	}
}

static void exec_exit(struct step *s)
{
	struct proc *p = &procs[s->slot];
	int status;
	char c;

	if (call(s->slot, &s->r, -1))
		return;
	/* EOF on its socket: it has exited, its address space is gone. */
	while (recv(p->sock, &c, 1, 0) > 0)
		;
	close(p->sock);
	if (p->d_child) {
		if (waitpid(p->pid, &status, 0) != p->pid || !WIFEXITED(status) ||
		    WEXITSTATUS(status))
			fail("P%d (pid %d) did not exit cleanly: status %#x", s->slot, p->pid,
			     status);
	}
	/* Its pid and D's pidfd now name a process that is gone: ESRCH. */
	if (ndead == MAX_DEAD) {
		close(dead[0].pidfd);
		memmove(&dead[0], &dead[1], sizeof(dead[0]) * --ndead);
	}
	dead[ndead].pid = p->pid;
	dead[ndead].pidfd = p->pidfd;
	ndead++;
	p->live = false;
	p->nvma = 0;
	p->ntouched = 0;
}

/*
 * Migration between the two nodes: every present page of the range must
 * end up on the target node (three tries for pages that were busy), or
 * something maps it where the reverse map does not look.
 */
static void exec_migrate(struct step *s)
{
	static void *pages[512];
	static int nodes[512], status[512], where[512];
	struct proc *p = &procs[s->slot];
	unsigned long n = s->r.len / PAGE, stuck = 0, first = 0, moved = 0;
	uint64_t pm = 0, fl = 0, cnt = 0;

	for (unsigned long k = 0; k < n; k++) {
		pages[k] = (void *)(s->r.addr + k * PAGE);
		nodes[k] = s->node;
	}
	for (int attempt = 0; attempt < 3; attempt++) {
		if (syscall(__NR_move_pages, p->pid, n, pages, nodes, status,
			    MPOL_MF_MOVE_ALL) < 0 ||
		    syscall(__NR_move_pages, p->pid, n, pages, NULL, where, 0) < 0) {
			fail("P%d: move_pages: %s", s->slot, strerror(errno));
			return;
		}
		stuck = 0;
		moved = 0;
		for (unsigned long k = 0; k < n; k++) {
			if (where[k] == s->node)
				moved++;
			if (where[k] < 0 || where[k] == s->node)
				continue;
			/* The zero page stays where it is: it is nobody's to move. */
			if (!read_pagemap(p->pid, s->r.addr + k * PAGE, 1, &pm) ||
			    (kpage(kpageflags_fd, PM_PFN(pm)) & KPF_ZERO_PAGE))
				continue;
			if (!stuck++)
				first = k;
		}
		if (!stuck)
			break;
		usleep(20 * 1000);
	}
	run.st.pages_migrated += moved;
	if (stuck) {
		read_pagemap(p->pid, s->r.addr + first * PAGE, 1, &pm);
		fl = kpage(kpageflags_fd, PM_PFN(pm));
		cnt = kpage(kpagecount_fd, PM_PFN(pm));
		fail("P%d: %lu pages of %#lx+%#lx stay off node %d, the first %#lx on node %d",
		     s->slot, stuck, s->r.addr, s->r.len, s->node, s->r.addr + first * PAGE,
		     where[first]);
		ksft_print_msg("  it is PFN %#llx, kpageflags %#llx, mapcount %llu, status %d\n",
			       (unsigned long long)PM_PFN(pm), (unsigned long long)fl,
			       (unsigned long long)cnt, status[first]);
		return;
	}
	check_bytes(s->slot, s->r.addr, s->r.addr + s->r.len, true);
}

static bool maps_overlap(const char *text, unsigned long start, unsigned long len)
{
	int n = maps_parse(text, kmaps[1]);

	for (int i = 0; i < n; i++)
		if (kmaps[1][i].start < start + len && start < kmaps[1][i].end)
			return true;
	return false;
}

static void exec_clone(struct step *s)
{
	struct req *r = &s->r;
	struct proc *p = &procs[s->slot], *q = &procs[s->src];
	bool self = s->slot == s->src, move = r->flags & PVMMAP_MOVE;
	bool exact = r->flags & (PVMMAP_FIXED | PVMMAP_FIXED_NOREPLACE);
	bool dst_valid = exact && !(r->dst & (PAGE - 1)) && r->dst + r->len > r->dst &&
			 r->dst + r->len <= task_size;
	bool fixed_ok = dst_valid && (r->flags & PVMMAP_FIXED);
	int want = contract_errno(s);
	long ret;

	/* What must not change if it fails. */
	if (!maps_read(p->pid, maps_text[0]) || (!self && !maps_read(q->pid, maps_text[1]))) {
		fail("P%d: cannot read the maps", s->slot);
		return;
	}
	nsamples = 0;
	if (!want)
		pfn_before(s);
	ret = call(s->slot, r, -1);
	trace_result(ret);
	if (ret <= -1000) {
		fail("P%d: pidfd_open(%ld): %s", s->slot, r->target, strerror(-ret - 1000));
		return;
	}
	if (ret < 0) {
		run.st.clones_refused++;
		if (ret != want)
			fail("P%d: clone of P%d %#lx+%#lx to %#lx flags %#lx: %s, the contract: %s",
			     s->slot, s->src, r->addr, r->len, r->dst, r->flags,
			     errno_name(-ret), errno_name(-want));
		check_unchanged(s->slot, 0, fixed_ok ? r->dst : 0, fixed_ok ? r->len : 0);
		if (!self)
			check_unchanged(s->src, 1, 0, 0);
		/* And the bytes: of the source, and of the caller where the clone was to go. */
		check_bytes(s->src, r->addr, r->addr + r->len, true);
		if (dst_valid)
			check_bytes(s->slot, r->dst, r->dst + r->len, true);
		return;
	}
	if (want) {
		fail("P%d: clone of P%d %#lx+%#lx to %#lx flags %#lx: %#lx, the contract: %s",
		     s->slot, s->src, r->addr, r->len, r->dst, r->flags, ret, errno_name(-want));
		touch(p, ret, ret + r->len);	/* for the teardown to unmap */
		return;
	}
	run.st.clones_ok++;
	if (exact && (unsigned long)ret != r->dst) {
		fail("P%d: clone placed at %#lx, asked for exactly %#lx", s->slot, ret, r->dst);
		return;
	}
	if (!exact && (ret & (PAGE - 1) || maps_overlap(maps_text[0], ret, r->len))) {
		fail("P%d: clone placed at %#lx+%#lx, over a mapping (no PVMMAP_FIXED)", s->slot,
		     ret, r->len);
		return;
	}
	/* Congruent, "so that huge pages stay huge": only a range that covers a PMD can. */
	if (!exact && r->len >= PMD && (ret - r->addr) % PMD) {
		fail("P%d: clone of %#lx+%#lx placed at %#lx, not congruent modulo the PMD size",
		     s->slot, r->addr, r->len, ret);
		return;
	}
	model_clone(p, q, r->addr, r->len, ret, exact, move);
	pfn_after(s, ret, move);
	check_maps(s->slot);
	if (!self)
		check_maps(s->src);
	check_bytes(s->slot, ret, ret + r->len, true);
	if (!move)
		check_bytes(s->src, r->addr, r->addr + r->len, true);
	focus_push(s->slot, ret, ret + r->len);
	last_clone.slot = s->slot;
	last_clone.start = ret;
}

static void exec_step(struct step *s)
{
	run.st.ops[s->op]++;
	switch (s->op) {
	case OP_MAP:
		exec_map(s);
		break;
	case OP_UNMAP:
		exec_unmap(s);
		break;
	case OP_PROTECT:
	case OP_PKEY:
		exec_protect(s);
		break;
	case OP_MADVISE:
		exec_madvise(s);
		break;
	case OP_WRITE:
		exec_write(s);
		break;
	case OP_READ:
		check_bytes(s->slot, s->r.addr, s->r.addr + s->r.len, false);
		break;
	case OP_CLONE:
		exec_clone(s);
		break;
	case OP_MREMAP:
		exec_mremap(s);
		break;
	case OP_FORK:
		exec_fork(s);
		break;
	case OP_EXIT:
		exec_exit(s);
		break;
	case OP_MIGRATE:
		exec_migrate(s);
		break;
	default:
		usleep(s->r.len * 1000);
		break;
	}
}

static void beat(void);

/* ---- Threaded mode ------------------------------------------------------------------ */

/*
 * The source's threads write, mprotect, munmap and re-map, and madvise its
 * memory while D clones ranges of it.  Which state of a page a clone
 * catches is up to the scheduler, so the model cannot say what each page
 * holds; these invariants hold whatever the timing, and are checked:
 *
 *  - racing pages (written by the writer thread, or dropped by the
 *    advisor): every word of a clone is 0 (a fresh page) or a value some
 *    writer stored at that very place (its tag names the place), from no
 *    later generation than the writer had published;
 *  - pages no thread writes (the mprotect quarter): exactly their first
 *    value; the re-mapped quarter: its first value or zeros;
 *  - a clone of private memory is a snapshot: read again later, while the
 *    source keeps writing, it has not changed;
 *  - a clone fails only with EFAULT (a hole the re-mapping thread made) or
 *    EAGAIN (the source changed between the two looks), and the caller's
 *    maps are then as they were;
 *  - no kernel report (the runner reads the console) and no memory left
 *    behind (the leak check after the episode).
 *
 * PVMMAP_MOVE is not used here: it would unmap memory under the source's
 * threads, which would then die of SIGSEGV.
 */
struct churn_ctl {
	uint64_t gen;		/* the writer's generation, published before its stores */
	int stop;
};

static struct {
	uint64_t *priv, *shared;
	unsigned long npriv, nshared;	/* pages */
	struct churn_ctl *ctl;
	pthread_t t[4];
	int nthreads;
} churn;

/* The value a writer stores at @place (a word index) in generation @gen. */
static uint64_t churn_word(unsigned long place, uint64_t gen)
{
	return (uint64_t)(place + 1) << 32 | (uint32_t)gen;
}

static void churn_fill(uint64_t *p, unsigned long first_page, unsigned long npages)
{
	for (unsigned long i = 0; i < npages * WORDS; i++)
		__atomic_store_n(&p[i], churn_word(first_page * WORDS + i, 0), __ATOMIC_RELAXED);
}

static bool churn_stopped(void)
{
	return __atomic_load_n(&churn.ctl->stop, __ATOMIC_RELAXED);
}

/* Writes quarters 0 and 3 of the private memory, and the shared memory. */
static void *churn_writer(void *arg)
{
	unsigned long q = churn.npriv / 4;
	uint64_t g = 0;

	while (!churn_stopped()) {
		unsigned long w = ++g % WORDS;

		__atomic_store_n(&churn.ctl->gen, g, __ATOMIC_RELEASE);
		for (unsigned long p = 0; p < churn.npriv; p++) {
			if (p == q)
				p = 3 * q;
			__atomic_store_n(&churn.priv[p * WORDS + w],
					 churn_word(p * WORDS + w, g), __ATOMIC_RELAXED);
		}
		for (unsigned long p = 0; p < churn.nshared; p++)
			__atomic_store_n(&churn.shared[p * WORDS + w],
					 churn_word((churn.npriv + p) * WORDS + w, g),
					 __ATOMIC_RELAXED);
	}
	return NULL;
}

/* Quarter 1: read-only and back, never written. */
static void *churn_protector(void *arg)
{
	unsigned long q = churn.npriv / 4;
	char *part = (char *)(churn.priv + q * WORDS);

	while (!churn_stopped()) {
		mprotect(part, q * PAGE, PROT_READ);
		mprotect(part, q * PAGE, PROT_READ | PROT_WRITE);
	}
	return NULL;
}

/* Quarter 2: unmapped, mapped anew, filled with its first values again. */
static void *churn_remapper(void *arg)
{
	unsigned long q = churn.npriv / 4;
	uint64_t *part = churn.priv + 2 * q * WORDS;

	while (!churn_stopped()) {
		munmap(part, q * PAGE);
		if (mmap(part, q * PAGE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED)
			break;
		churn_fill(part, 2 * q, q);
	}
	return NULL;
}

/* Quarter 3 (which the writer writes too): dropped, paged out, collapsed, merged. */
static void *churn_advisor(void *arg)
{
	static const int advice[] = {
		MADV_DONTNEED, MADV_PAGEOUT, MADV_COLLAPSE, MADV_MERGEABLE, MADV_COLD,
	};
	unsigned long q = churn.npriv / 4;
	char *part = (char *)(churn.priv + 3 * q * WORDS);

	for (unsigned int i = 0; !churn_stopped(); i++) {
		int a = advice[i % 5];

		if (!(without & 1U << W_KSM && a == MADV_MERGEABLE) &&
		    !(without & 1U << W_PAGEOUT && (a == MADV_PAGEOUT || a == MADV_COLD)))
			madvise(part, q * PAGE, a);
		usleep(1000);
	}
	return NULL;
}

/*
 * THREADS: map len bytes of private memory at addr (advice: its THP
 * advice) and offset bytes of shared memory after it, fill them, and start
 * the threads; dst is the control page D shares with this process.
 */
static long churn_start(const struct req *r)
{
	void *(*fn[4])(void *) = { churn_writer, churn_protector, churn_remapper, churn_advisor };

	churn.ctl = (struct churn_ctl *)r->dst;
	churn.npriv = r->len / PAGE;
	churn.nshared = r->offset / PAGE;
	churn.priv = mmap((void *)r->addr, r->len, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	churn.shared = mmap((void *)(r->addr + r->len + PMD), r->offset, PROT_READ | PROT_WRITE,
			    MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (churn.priv == MAP_FAILED || churn.shared == MAP_FAILED)
		return -errno;
	if (r->advice)
		madvise(churn.priv, r->len, r->advice);
	churn_fill(churn.priv, 0, churn.npriv);
	churn_fill(churn.shared, churn.npriv, churn.nshared);
	for (churn.nthreads = 0; churn.nthreads < 4; churn.nthreads++)
		if (pthread_create(&churn.t[churn.nthreads], NULL, fn[churn.nthreads], NULL))
			return -EAGAIN;
	return 0;
}

static long churn_stop(void)
{
	__atomic_store_n(&churn.ctl->stop, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < churn.nthreads; i++)
		pthread_join(churn.t[i], NULL);
	return 0;
}

static uint64_t fnv(const uint64_t *p, unsigned long words)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (unsigned long i = 0; i < words; i++)
		h = (h ^ __atomic_load_n(&p[i], __ATOMIC_RELAXED)) * 0x100000001b3ULL;
	return h;
}

/* Check a clone of pages [first, first + n) of the threaded source's memory. */
static void churn_check(const struct churn_ctl *ctl, const uint64_t *c, unsigned long first,
			unsigned long n, unsigned long npriv)
{
	unsigned long q = npriv / 4;

	for (unsigned long i = 0; i < n && !run.failures; i++) {
		unsigned long page = first + i;

		for (unsigned long w = 0; w < WORDS; w++) {
			uint64_t v = __atomic_load_n(&c[i * WORDS + w], __ATOMIC_RELAXED);
			unsigned long place = page * WORDS + w;
			uint64_t gen = __atomic_load_n(&ctl->gen, __ATOMIC_ACQUIRE);
			bool ok;

			if (page >= q && page < 2 * q)
				ok = v == churn_word(place, 0);
			else if (page >= 2 * q && page < 3 * q)
				ok = !v || v == churn_word(place, 0);
			else
				ok = !v || (v >> 32 == place + 1 && (uint32_t)v <= gen);
			if (!ok) {
				fail("threaded: page %lu word %lu of a clone: %#llx, not stored",
				     page, w, (unsigned long long)v);
				return;
			}
		}
	}
}

static void threaded_episode(void)
{
	/* Where D puts its clones: the window's upper half, nothing else there. */
	const unsigned long area = WIN_BASE + WIN_SIZE / 2, src_base = WIN_BASE + 8 * PMD;
	unsigned long npriv, nshared = 16, nsteps = 30 + below(120);
	struct churn_ctl *ctl;
	struct step s = { .op = OP_FORK, .slot = 0, .src = 1, .r.op = OP_FORK };
	struct req r = { .op = OP_THREADS, .addr = src_base, .offset = nshared * PAGE };
	long ret;

	run.st.threaded++;
	ctl = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ctl == MAP_FAILED)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	switch (below(3)) {
	case 0:
		npriv = 64;
		r.advice = MADV_NOHUGEPAGE;
		break;
	case 1:
		npriv = have_thp ? 2 * PMD / PAGE : 64;
		r.advice = have_thp ? MADV_HUGEPAGE : 0;
		break;
	default:
		npriv = mthp_pages ? 8 * mthp_pages : 64;
		break;
	}
	r.len = npriv * PAGE;
	r.dst = (unsigned long)ctl;
	run.st.steps++;
	beat();
	trace_step(&s);
	exec_fork(&s);
	if (run.failures)
		goto out;
	ret = call(1, &r, -1);
	if (ret) {
		fail("threaded: the source could not start: %s", strerror(-ret));
		goto out;
	}
	while (nsteps-- && !run.failures && !(run.max_steps ? run.st.steps >= run.max_steps :
					       now() >= run.deadline)) {
		/* Every draw before the call: what the race decides must not shift the stream. */
		bool shared = chance(25), exact = chance(60), keep = chance(50);
		unsigned long n = shared ? nshared : npriv, first = below(n);
		unsigned long len = (chance(20) ? n - first : 1 + below(n - first)) * PAGE;
		unsigned long src = shared ? src_base + r.len + PMD : src_base;
		unsigned long flags = 0, dst = 0;
		uint64_t *c, h;

		src += first * PAGE;
		if (exact) {
			flags = chance(70) ? PVMMAP_FIXED : PVMMAP_FIXED_NOREPLACE;
			dst = area + below(WIN_SIZE / 2 / PMD - 4) * PMD +
			      (chance(50) ? src % PMD : below(PMD / PAGE) * PAGE);
		}
		s.op = OP_CLONE;
		s.slot = 0;
		s.src = 1;
		s.r = (struct req){ .op = OP_CLONE, .addr = src, .len = len, .dst = dst,
				    .flags = flags, .target = procs[1].pid };
		if (chance(30)) {
			s.r.flags |= PVMMAP_PIDFD;
			s.r.target = procs[1].pidfd;
		}
		run.st.steps++;
		beat();
		run.st.ops[OP_CLONE]++;
		run.st.racing_clones++;
		trace_step(&s);
		if (run.st.steps % 25 == 0)
			kmsg("seed %llu step %lu\n", (unsigned long long)run.seed, run.st.steps);
		maps_read(d_pid, maps_text[0]);
		ret = sys_process_vm_mmap(s.r.target, src, len, dst, s.r.flags);
		if (ret == -1) {
			ret = -errno;
			trace_result(ret);
			/* EEXIST: a clone kept from before is where NOREPLACE asked. */
			if (ret != -EFAULT && ret != -EAGAIN &&
			    !(ret == -EEXIST && (flags & PVMMAP_FIXED_NOREPLACE)))
				fail("threaded: clone of %#lx+%#lx to %#lx flags %#lx: %s", src,
				     len, dst, s.r.flags, errno_name(-ret));
			check_unchanged(0, 0, (flags & PVMMAP_FIXED) ? dst : 0,
					(flags & PVMMAP_FIXED) ? len : 0);
			continue;
		}
		trace_result(ret);
		c = (uint64_t *)ret;
		if (exact && (unsigned long)ret != dst) {
			fail("threaded: clone placed at %#lx, asked for exactly %#lx", ret, dst);
			break;
		}
		h = fnv(c, len / 8);
		churn_check(ctl, c, (shared ? npriv : 0) + first, len / PAGE, npriv);
		check_kernel_log();
		sched_yield();
		usleep(1000);
		if (!shared && fnv(c, len / 8) != h)
			fail("threaded: the clone of private %#lx+%#lx changed as the source wrote",
			     ret, len);
		/* Keep some, for later FIXED clones to replace; the area goes at the end. */
		if (!exact || !keep)
			munmap(c, len);
	}
out:
	if (procs[1].live) {
		s.op = OP_EXIT;
		s.slot = 1;
		s.r = (struct req){ .op = OP_EXIT };
		call(1, &(struct req){ .op = OP_STOP }, -1);
		run.st.steps++;
		beat();
		trace_step(&s);
		exec_exit(&s);
	}
	munmap((void *)area, WIN_SIZE / 2);
	munmap(ctl, PAGE);
}

/* ---- Episodes and runs ----------------------------------------------------------------- */

static const unsigned int mthp_kb[] = { 16, 32, 64, 128, 256, 512, 1024 };
#define NR_MTHP	ARRAY_SIZE(mthp_kb)
static bool mthp_ok[NR_MTHP];

/* The sysfs knobs the fuzzer sets, with what they were, to put back at exit. */
static struct {
	char path[128];
	char val[32];
} knob[32];
static int nknobs;

static void knob_set(const char *path, const char *val)
{
	int i;

	for (i = 0; i < nknobs && strcmp(knob[i].path, path); i++)
		;
	if (i == nknobs && nknobs < 32) {
		char buf[128] = "", *b, *e;
		FILE *f = fopen(path, "r");

		if (!f)
			return;
		if (!fgets(buf, sizeof(buf), f))
			buf[0] = 0;
		fclose(f);
		/* "always [madvise] never": the one in brackets. */
		b = strchr(buf, '[');
		e = b ? strchr(b, ']') : NULL;
		if (b && e) {
			*e = 0;
			b++;
		} else {
			b = buf;
			b[strcspn(b, "\n")] = 0;
		}
		snprintf(knob[i].path, sizeof(knob[i].path), "%s", path);
		snprintf(knob[i].val, sizeof(knob[i].val), "%s", b);
		nknobs++;
	}
	write_file(path, val);
}

static void restore_knobs(void)
{
	for (int i = 0; i < nknobs; i++)
		write_file(knob[i].path, knob[i].val);
}

/* This episode's mTHP size: one size always, the others never (0: none). */
static void set_mthp(unsigned int kb)
{
	char path[128];

	mthp_pages = kb * 1024 / PAGE;
	for (unsigned int i = 0; i < NR_MTHP; i++) {
		if (!mthp_ok[i])
			continue;
		snprintf(path, sizeof(path),
			 "/sys/kernel/mm/transparent_hugepage/hugepages-%ukB/enabled", mthp_kb[i]);
		knob_set(path, mthp_kb[i] == kb ? "always" : "never");
	}
}

static bool out_of_time(void)
{
	if (run.failures)
		return true;
	if (run.max_steps)
		return run.st.steps >= run.max_steps;
	return now() >= run.deadline;
}

/*
 * The watchdog, a child of D, watches D's heartbeat (the steps it has done,
 * in a page they share): when it stands still for WATCHDOG_S seconds (a
 * call that never returns: a deadlock in the kernel or in the fuzzer), it
 * prints the kernel stacks of D and its processes and kills D, so that the
 * run ends with a report instead of the runner's timeout.
 */
#define WATCHDOG_S	180

static struct watch {
	unsigned long beat;
	uint64_t seed;
	unsigned long step;
	pid_t pids[MAX_PROCS];
} *watch;

static void beat(void)
{
	if (!watch)
		return;
	watch->beat++;
	watch->seed = run.seed;
	watch->step = run.st.steps;
	for (int i = 0; i < MAX_PROCS; i++)
		watch->pids[i] = procs[i].live ? procs[i].pid : 0;
}

static void print_stack(pid_t pid)
{
	char path[64], buf[4096];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stack", pid);
	fd = open(path, O_RDONLY);
	n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = 0;
	ksft_print_msg("pid %d in the kernel:\n", pid);
	print_maps("stack", buf);
}

static void start_watchdog(void)
{
	unsigned long last = 0;
	double since = now();

	watch = mmap(NULL, sizeof(*watch), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		     -1, 0);
	if (watch == MAP_FAILED) {
		watch = NULL;
		return;
	}
	fflush(stdout);
	if (fork())
		return;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	while (getppid() == d_pid) {
		sleep(5);
		if (__atomic_load_n(&watch->beat, __ATOMIC_RELAXED) != last) {
			last = __atomic_load_n(&watch->beat, __ATOMIC_RELAXED);
			since = now();
			continue;
		}
		if (now() - since < WATCHDOG_S)
			continue;
		printf("# FAIL: step %lu of seed %llu has not ended in %d s: a call hangs\n",
		       watch->step, (unsigned long long)watch->seed, WATCHDOG_S);
		printf("# replay: %s --seed %llu --steps %lu\n", cmd,
		       (unsigned long long)watch->seed, watch->step);
		kmsg("no step for %d s: a call hangs\n", WATCHDOG_S);
		print_stack(d_pid);
		for (int i = 1; i < MAX_PROCS; i++)
			if (watch->pids[i])
				print_stack(watch->pids[i]);
		fflush(stdout);
		kill(d_pid, SIGTERM);
		sleep(5);
		kill(d_pid, SIGKILL);
		for (int i = 1; i < MAX_PROCS; i++)
			if (watch->pids[i])
				kill(watch->pids[i], SIGKILL);
		restore_knobs();
		_exit(KSFT_FAIL);
	}
	_exit(0);
}

static void do_step(struct step *s)
{
	run.st.steps++;
	beat();
	trace_step(s);
	if (run.st.steps % 25 == 0)
		kmsg("seed %llu step %lu\n", (unsigned long long)run.seed, run.st.steps);
	exec_step(s);
	check_kernel_log();
}

static void check_everything(bool present_only)
{
	for (int i = 0; i < MAX_PROCS && !run.failures; i++) {
		if (!procs[i].live)
			continue;
		check_maps(i);
		check_all_bytes(i, present_only);
	}
}

/* Every process of the episode exits; D unmaps its part and closes the files. */
static void teardown(void)
{
	double until = now() + 10;
	int status;

	for (int i = 1; i < MAX_PROCS; i++)
		if (procs[i].live)
			kill(procs[i].pid, SIGKILL);
	for (int i = 1; i < MAX_PROCS; i++) {
		if (!procs[i].live)
			continue;
		if (procs[i].d_child)
			waitpid(procs[i].pid, &status, 0);
		close(procs[i].sock);
		close(procs[i].pidfd);
	}
	/*
	 * Gone once reaped: by their parent, or here, as the subreaper of
	 * grandchildren whose parent died before them.
	 */
	for (int i = 1; i < MAX_PROCS; i++) {
		while (procs[i].live && kill(procs[i].pid, 0) == 0 && now() < until) {
			waitpid(-1, &status, WNOHANG);
			usleep(1000);
		}
	}
	/* All D mapped, whatever the model knows of it (after a failure, not all). */
	for (int i = 0; i < procs[0].ntouched; i++)
		munmap((void *)procs[0].touched[i].start,
		       procs[0].touched[i].end - procs[0].touched[i].start);
	munmap((void *)WIN_BASE, WIN_SIZE);
	close(procs[0].pidfd);
	for (int i = 0; i < nobjs; i++) {
		if (objs[i].fd >= 0)
			close(objs[i].fd);
		if (objs[i].type == O_TMPFS || objs[i].type == O_EXT4)
			unlink(objs[i].path);
	}
	for (int i = 0; i < ndead; i++)
		close(dead[i].pidfd);
	memset(procs, 0, sizeof(procs));
	nobjs = 0;
	ndead = 0;
}

static void run_episode(void)
{
	unsigned long nsteps;
	struct step s;
	unsigned int n;

	run.episode++;
	run.st.episodes++;
	memset(procs, 0, sizeof(procs));
	pool_used = 0;
	obj_used = 0;
	nfocus = 0;
	have_queued = false;
	mo.m = M_NONE;
	procs[0].live = true;
	procs[0].pid = d_pid;
	procs[0].sock = -1;
	procs[0].pidfd = sys_pidfd_open(d_pid, 0);
	/* One mTHP size per episode (or none): every size meets the clones in turn. */
	n = below(NR_MTHP + 2);
	set_mthp(n < NR_MTHP && mthp_ok[n] ? mthp_kb[n] : 0);
	if (chance(10) && !(without & 1U << OP_THREADS)) {
		threaded_episode();
	} else {
		/* One to three sources that start with nothing of D's. */
		for (n = 1 + below(3); n > 0 && !out_of_time(); n--) {
			memset(&s, 0, sizeof(s));
			s.op = OP_FORK;
			s.src = free_slot();
			s.r.op = OP_FORK;
			do_step(&s);
		}
		for (nsteps = 40 + below(260); nsteps && !out_of_time(); nsteps--) {
			/* The model's page pool holds one episode's pages. */
			if (pool_used > POOL_PAGES / 2)
				break;
			generate(&s);
			do_step(&s);
			if (run.st.steps % 64 == 0)
				check_everything(true);
		}
		/* The end of an episode reads everything, swapped out or not. */
		if (!run.failures)
			check_everything(false);
		check_files();
	}
	teardown();
	check_kernel_log();	/* what the exits provoked */
	if (!run.failures)
		leak_check("after the episode");
}

static void stats_add(struct stats *to, const struct stats *from)
{
	to->steps += from->steps;
	to->episodes += from->episodes;
	to->threaded += from->threaded;
	for (int i = 0; i < OP_NR; i++)
		to->ops[i] += from->ops[i];
	to->clones_ok += from->clones_ok;
	to->clones_refused += from->clones_refused;
	to->racing_clones += from->racing_clones;
	to->motifs += from->motifs;
	to->pages_read += from->pages_read;
	to->pfns_compared += from->pfns_compared;
	to->pfns_copied += from->pfns_copied;
	to->pages_migrated += from->pages_migrated;
}

static void stats_print(const char *what, const struct stats *st, double seconds)
{
	char ops[512];
	int n = 0;

	for (int i = 0; i < OP_THREADS; i++)
		n += snprintf(ops + n, sizeof(ops) - n, "%s%s %lu", i ? ", " : "", op_name[i],
			      st->ops[i]);
	ksft_print_msg("%s: %lu steps in %.0f s, %lu episodes (%lu threaded), %lu motifs\n",
		       what, st->steps, seconds, st->episodes, st->threaded, st->motifs);
	ksft_print_msg("%s: operations: %s\n", what, ops);
	ksft_print_msg("%s: clones: %lu placed, %lu refused, %lu against threads\n", what,
		       st->clones_ok, st->clones_refused, st->racing_clones);
	ksft_print_msg("%s: pages compared with the model %lu, PFNs %lu, pages migrated %lu\n",
		       what, st->pages_read, st->pfns_compared, st->pages_migrated);
	ksft_print_msg("%s: pages copied where the split of a large folio failed: %lu\n",
		       what, st->pfns_copied);
}

/* One seed for @seconds (or up to step @max_steps): episodes until time is up. */
static bool run_seed(uint64_t seed, double seconds, unsigned long max_steps)
{
	double start = now();
	char what[64];

	memset(&run, 0, sizeof(run));
	run.seed = seed;
	run.rng = seed;
	run.crng = seed ^ 0x5eed5eed5eed5eedULL;
	run.max_steps = max_steps;
	run.deadline = start + seconds;
	gen_counter = 0;
	memset(wlog, 0, sizeof(wlog));
	if (max_steps)
		ksft_print_msg("seed %llu up to step %lu\n", (unsigned long long)seed, max_steps);
	else
		ksft_print_msg("seed %llu for %.0f s; replay: %s --seed %llu --time %.0f\n",
			       (unsigned long long)seed, seconds, cmd,
			       (unsigned long long)seed, seconds);
	kmsg("seed %llu starts; after a crash: %s --seed %llu --steps <last step logged + 25>\n",
	     (unsigned long long)seed, cmd, (unsigned long long)seed);
	while (!out_of_time())
		run_episode();
	snprintf(what, sizeof(what), "seed %llu", (unsigned long long)seed);
	stats_print(what, &run.st, now() - start);
	stats_add(&total, &run.st);
	kmsg("seed %llu ends after %lu steps: %s\n", (unsigned long long)seed, run.st.steps,
	     run.failures ? "FAILED" : "ok");
	return !run.failures;
}

/* ---- Setup and main ------------------------------------------------------------------- */

static void cleanup(void)
{
	if (getpid() != d_pid)
		return;
	for (int i = 1; i < MAX_PROCS; i++)
		if (procs[i].live)
			kill(procs[i].pid, SIGKILL);
	for (int i = 0; i < nobjs; i++)
		if (objs[i].type == O_TMPFS || objs[i].type == O_EXT4)
			unlink(objs[i].path);
	restore_knobs();
}

static void on_term(int sig)
{
	cleanup();
	_exit(KSFT_FAIL);
}

/* Whether this CPU and kernel have protection keys (probed in a child: PKRU is per thread). */
static bool probe_pkeys(void)
{
	int status;
	pid_t pid = fork();

	if (pid == 0)
		_exit(syscall(__NR_pkey_alloc, 0, 0) < 0);
	return pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	       !WEXITSTATUS(status);
}

static void setup(void)
{
	struct sigaction sa = { .sa_sigaction = on_fault, .sa_flags = SA_SIGINFO };
	const char *thp = "/sys/kernel/mm/transparent_hugepage";
	char path[128], buf[64] = "";
	void *p;
	FILE *f;

	kmsg_fd = open("/dev/kmsg", O_WRONLY);
	kmsg_read_fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);
	if (kmsg_read_fd >= 0)
		lseek(kmsg_read_fd, 0, SEEK_END);	/* only what comes from now on */
	kpageflags_fd = open("/proc/kpageflags", O_RDONLY);
	kpagecount_fd = open("/proc/kpagecount", O_RDONLY);
	/* Grandchildren whose parent exits are reaped here, not by init. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	sa.sa_flags = 0;
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	atexit(cleanup);

	snprintf(path, sizeof(path), "%s/enabled", thp);
	have_thp = access(path, W_OK) == 0;
	f = fopen(path, "r");
	if (f) {
		if (fgets(buf, sizeof(buf), f) && strstr(buf, "[never]"))
			knob_set(path, "madvise");
		fclose(f);
	}
	for (unsigned int i = 0; i < NR_MTHP; i++) {
		snprintf(path, sizeof(path), "%s/hugepages-%ukB/enabled", thp, mthp_kb[i]);
		mthp_ok[i] = access(path, W_OK) == 0;
	}
	snprintf(path, sizeof(path), "%s/hugepages-2048kB/enabled", thp);
	if (access(path, W_OK) == 0)
		knob_set(path, "inherit");
	/* ksmd fast, to merge what the clones share while they do. */
	knob_set("/sys/kernel/mm/ksm/run", "1");
	knob_set("/sys/kernel/mm/ksm/pages_to_scan", "1000");
	knob_set("/sys/kernel/mm/ksm/sleep_millisecs", "20");

	fs_dir = getenv("PVMMAP_FS_DIR");
	if (fs_dir && access(fs_dir, W_OK))
		fs_dir = NULL;
	/* move_pages() needs CONFIG_NUMA_MIGRATION, a second node and PFNs to report. */
	two_nodes = access("/sys/devices/system/node/node1", F_OK) == 0 && kpageflags_fd >= 0 &&
		    syscall(__NR_move_pages, 0, 0, NULL, NULL, NULL, 0) == 0;
	have_pkeys = probe_pkeys();
	/* TASK_SIZE: 47 bits, or 56 with five-level page tables. */
	p = mmap((void *)(1UL << 47), PAGE, PROT_NONE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	task_size = p == MAP_FAILED ? (1UL << 47) - PAGE : (1UL << 56) - PAGE;
	if (p != MAP_FAILED)
		munmap(p, PAGE);
	maps_read(d_pid, maps_text[0]);
	have_vsyscall = strstr(maps_text[0], "[vsyscall]");
	ksft_print_msg("THP %s, mTHP sizes%s%s%s%s%s%s%s, ext4 %s\n", have_thp ? "yes" : "no",
		       mthp_ok[0] ? " 16K" : "", mthp_ok[1] ? " 32K" : "", mthp_ok[2] ? " 64K" : "",
		       mthp_ok[3] ? " 128K" : "", mthp_ok[4] ? " 256K" : "",
		       mthp_ok[5] ? " 512K" : "", mthp_ok[6] ? " 1M" : "",
		       fs_dir ? fs_dir : "no ($PVMMAP_FS_DIR)");
	ksft_print_msg("migration between two NUMA nodes %s, pkeys %s, PFNs %s, TASK_SIZE %#lx\n",
		       two_nodes ? "yes" : "no", have_pkeys ? "yes" : "no",
		       kpageflags_fd >= 0 ? "yes" : "no", task_size);
}

/* --without a,b: those operations are not generated (and are named in the replay lines). */
static void parse_without(const char *list)
{
	size_t n = strlen(cmd);

	for (int i = 1; i < W_NR; i++) {
		const char *name = i >= OP_NR ? without_name[i - OP_NR] : op_name[i];
		const char *at = strstr(list, name);
		size_t len = strlen(name);

		if (at && (at == list || at[-1] == ',') && (!at[len] || at[len] == ','))
			without |= 1U << i;
	}
	snprintf(cmd + n, sizeof(cmd) - n, " --without %s", list);
}

static void print_usage(void)
{
	printf("usage: %s [--seed N] [--time S | --steps K] [--without OP,...] [--verbose]\n",
	       cmd);
	printf("  no options: 30 s of seed 1, then 30 s of a seed from the clock\n");
	printf("  --time S alone: seeds from the clock, %d s each, for S seconds\n", CHUNK_S);
	printf("  --without: operations not to do (past a known bug), of:");
	for (int i = 1; i < OP_NR; i++)
		printf(" %s", op_name[i]);
	printf(", and pfns (the check that a clone copied no page), ksm, pageout\n");
	exit(KSFT_FAIL);
}

int main(int argc, char **argv)
{
	uint64_t seeds[64];
	double secs[64], seconds = 0;
	unsigned long max_steps = 0;
	bool have_seed = false, ok;
	double began;
	int nruns = 0, persona;
	char self[256];
	ssize_t n;
	uint64_t seed = 0;

	snprintf(cmd, sizeof(cmd), "%s", argv[0]);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
			seed = strtoull(argv[++i], NULL, 0);
			have_seed = true;
		} else if (!strcmp(argv[i], "--time") && i + 1 < argc) {
			seconds = strtod(argv[++i], NULL);
		} else if (!strcmp(argv[i], "--steps") && i + 1 < argc) {
			max_steps = strtoul(argv[++i], NULL, 0);
		} else if (!strcmp(argv[i], "--without") && i + 1 < argc) {
			parse_without(argv[++i]);
		} else if (!strcmp(argv[i], "--verbose")) {
			verbose = true;
		} else {
			print_usage();
		}
	}
	/* The same addresses every run: the kernel's choices then repeat too. */
	persona = personality(0xffffffff);
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (persona != -1 && !(persona & ADDR_NO_RANDOMIZE) && n > 0 &&
	    personality(persona | ADDR_NO_RANDOMIZE) != -1) {
		self[n] = 0;
		execv(self, argv);
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	page_size = sysconf(_SC_PAGESIZE);
	d_pid = getpid();
	ksft_print_header();
	if (page_size != (long)PAGE)
		ksft_exit_skip("the fuzzer assumes 4 KiB pages\n");
	if (geteuid())
		ksft_exit_skip("needs root: sysfs knobs, PFNs, move_pages of all pages\n");
	errno = 0;
	if (sys_process_vm_mmap(d_pid, 0, 0, 0, 0) != -1 || errno == ENOSYS)
		ksft_exit_skip("no process_vm_mmap(2)\n");
	if (have_seed) {
		seeds[nruns] = seed;
		secs[nruns++] = seconds ? seconds : 60;
	} else if (seconds) {
		for (double left = seconds; left > 0 && nruns < 64; left -= CHUNK_S) {
			seeds[nruns] = 0;
			secs[nruns++] = left < CHUNK_S ? left : CHUNK_S;
		}
	} else {
		seeds[nruns] = 1;
		secs[nruns++] = 30;
		seeds[nruns] = 0;
		secs[nruns++] = 30;
	}
	ksft_set_plan(nruns + 1);
	setup();
	start_watchdog();
	/* D's own memory at its largest before the baseline: the model's pools in RAM. */
	memset(page_pool, 0, sizeof(page_pool));
	memset(obj_pool, 0, sizeof(obj_pool));
	meminfo_now(base_mem);
	read_meminfo(base_meminfo, sizeof(base_meminfo));
	began = now();
	for (int i = 0; i < nruns; i++) {
		struct timespec ts;

		/* A fresh seed: the clock's nanoseconds, printed before it is used. */
		if (!seeds[i]) {
			clock_gettime(CLOCK_REALTIME, &ts);
			seeds[i] = (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
		}
		ok = run_seed(seeds[i], secs[i], max_steps);
		ksft_test_result(ok, "seed %llu%s\n", (unsigned long long)seeds[i],
				 i == 0 && seeds[i] == 1 && !have_seed ? " (fixed)" : "");
		if (!ok)
			ksft_print_msg("replay: %s --seed %llu --steps %lu\n", cmd,
				       (unsigned long long)seeds[i], run.st.steps);
	}
	stats_print("all seeds", &total, now() - began);
	memset(&run, 0, sizeof(run));
	ok = leak_check("after all seeds");
	for (unsigned int i = 0; i < MEM_FIELDS; i++)
		ksft_print_msg("after the episodes, %s at worst %c%ld kB (tolerance %ld kB)\n",
			       mem_field[i].name, mem_field[i].sign < 0 ? '-' : '+', worst_mem[i],
			       mem_field[i].tolerance_kb);
	ksft_test_result(ok, "memory and swap returned after all processes exited\n");
	cleanup();
	ksft_finished();
}
