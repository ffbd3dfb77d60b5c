// SPDX-License-Identifier: GPL-2.0
/*
 * A CRIU-style page-server hand-off, three ways.
 *
 * A sender streams N MiB of reproducible pseudo-random data over an AF_UNIX
 * stream socket to a page server, which receives it into its memory; part of
 * that memory is then pushed to swap (MADV_PAGEOUT), as memory pressure
 * would.  A restorer then takes the memory over:
 *
 *   move    process_vm_mmap(2) with PVMMAP_MOVE: the page tables of the
 *           server's range move to the restorer, at the same address when it
 *           is free there (PVMMAP_FIXED), else where the kernel chooses; no
 *           data is copied and swapped-out pages stay on swap.
 *   writev  the server copies its range into a private anonymous mapping
 *           of the restorer with process_vm_writev(2), 128 KiB per call;
 *           the restorer tells the server the address over a socket.
 *   memfd   the server's data is in a memfd, whose fd goes to the restorer
 *           with SCM_RIGHTS; the restorer maps it and copies it into private
 *           anonymous memory, then drops the memfd.
 *
 * Each method gets a fresh server, which receives the data again and pages
 * the same part out, so that all three start from the same state.  The
 * restorer checks the data against the checksum the sender computed from the
 * generator and reports the time of the hand-off, the peak memory of the
 * server and restorer together, the swap-ins, whether it ended up with
 * private anonymous memory and whether the server still holds the range.
 *
 * Peak memory: by default the server and restorer of a method run in a
 * fresh cgroup v2 (mounted at /sys/fs/cgroup when nothing is mounted there),
 * and memory.peak is reset (a write, Linux >= 6.12) just before the hand-off
 * and read just after it.  When memcg cannot be used (not root, a v1
 * hierarchy, no memory controller, memory.peak not resettable), a thread of
 * the restorer samples MemAvailable every millisecond instead: peak = the
 * pair's RssAnon + RssShmem at the request + the largest drop of
 * MemAvailable during the hand-off.  The output says which one ran.
 *
 * Times under QEMU TCG are emulated: only compare them within one run.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/vfs.h>
#include <sys/wait.h>

/*
 * The syscall's number and flags: from the patched kernel's uapi headers
 * when built against them, else the selftests' fallbacks.
 */
#include "../tools/testing/selftests/process_vm_mmap/pvmmap.h"
#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT		21
#endif
#define CGROUP2_MAGIC		0x63677270
#define SYSFS_MAGIC		0x62656572

#define KIB			1024UL
#define MIB			(1024UL * 1024)
#define XFER_CHUNK		MIB		/* socket transfer, memfd copy */
#define WRITEV_CHUNK		(128 * KIB)	/* process_vm_writev() call */
#define COLD_BLOCK		(2 * MIB)	/* page-out granule (a THP) */
#define GEN_PAGE		4096UL		/* generator reseeds per 4 KiB */
#define GEN_SEED		0x70766d6d6170ULL
#define SAMPLE_NS		1000000L	/* MemAvailable sampling period */
#define CG_ROOT			"/sys/fs/cgroup"

enum method { M_MOVE, M_WRITEV, M_MEMFD, NR_METHODS };

static const char *const method_name[NR_METHODS] = { "move", "writev", "memfd" };

static struct options {
	unsigned long mib;
	unsigned int swap_ppm;		/* fraction paged out, per million */
	const char *csv;
	unsigned int methods;		/* bit per enum method */
	bool memfd_copy;		/* memfd: copy from anon at hand-off */
	bool release;			/* copy methods free as they go */
	enum { PEAK_AUTO, PEAK_CGROUP, PEAK_SAMPLE } peak;
} opt = {
	.mib = 256,
	.swap_ppm = 500000,
	.csv = "/tmp/handoff.csv",
	.methods = (1U << NR_METHODS) - 1,
};

/* Set up once by main(): where the pairs' cgroups go, or why nowhere. */
static bool cg_usable;
static bool cg_mounted;
static char cg_why[128];

/* ------------------------------------------------------------------ util */

static void die(const char *what)
{
	fprintf(stderr, "handoff: %s: %s\n", what, strerror(errno));
	exit(2);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int read_full(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len) {
		ssize_t n = read(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EPIPE;
		p += n;
		len -= n;
	}
	return 0;
}

static int write_full(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= n;
	}
	return 0;
}

/* Read a small text file (a /proc or cgroup file) into buf. */
static int read_text(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

static int write_text(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	int ret;

	if (fd < 0)
		return -errno;
	ret = write_full(fd, text, strlen(text));
	close(fd);
	return ret;
}

/*
 * The value of "key" in a "key value" or "Key: value kB" file such as
 * /proc/vmstat or /proc/meminfo, or -1.
 */
static long proc_value(const char *path, const char *key)
{
	size_t klen = strlen(key);
	char line[256];
	long val = -1;
	FILE *f = fopen(path, "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, key, klen) &&
		    (line[klen] == ' ' || line[klen] == ':')) {
			val = strtol(line + klen + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return val;
}

static long vmstat(const char *key)
{
	return proc_value("/proc/vmstat", key);
}

/* A /proc/PID/status field, in KiB. */
static long status_kib(pid_t pid, const char *key)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	return proc_value(path, key);
}

/* --------------------------------------------------- data and checksum */

static uint64_t splitmix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* Fill buf with the data at byte offset off (both multiples of GEN_PAGE). */
static void generate(void *buf, size_t len, unsigned long off)
{
	uint64_t *w = buf;

	for (size_t pg = 0; pg < len / GEN_PAGE; pg++) {
		uint64_t s = splitmix64(GEN_SEED ^ (off / GEN_PAGE + pg)) | 1;

		for (size_t i = 0; i < GEN_PAGE / 8; i++) {
			s ^= s << 13;
			s ^= s >> 7;
			s ^= s << 17;
			*w++ = s;
		}
	}
}

/*
 * A position-dependent checksum over 64-bit words: each step is a bijection
 * of h for a given word, so a change of any one word always changes it.
 */
static uint64_t csum_update(uint64_t h, const void *buf, size_t len)
{
	const uint64_t *w = buf;

	for (size_t i = 0; i < len / 8; i++) {
		h = (h ^ w[i]) * 0x100000001b3ULL;
		h ^= h >> 29;
	}
	return h;
}

/* ----------------------------------------------------------- smaps */

/* What /proc/PID/smaps says about the mappings over [start, end). */
struct range_info {
	unsigned long covered;		/* bytes of the range mapped */
	long rss_kib, swap_kib, anon_kib, shared_kib;
	bool not_anon;			/* a mapping has an inode or a name */
	bool not_private;		/* a mapping is shared */
};

static int smaps_range(pid_t pid, unsigned long start, unsigned long end,
		       struct range_info *ri)
{
	char path[64], line[512];
	bool in = false;
	FILE *f;

	memset(ri, 0, sizeof(*ri));
	snprintf(path, sizeof(path), "/proc/%d/smaps", pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi, ino;
		char perms[8];
		long kib;
		int n;

		if (sscanf(line, "%lx-%lx %7s %*x %*x:%*x %lu %n",
			   &lo, &hi, perms, &ino, &n) == 4) {
			in = lo < end && hi > start;
			if (!in)
				continue;
			ri->covered += (hi < end ? hi : end) - (lo > start ? lo : start);
			/* " %n" skipped the newline when there is no name. */
			ri->not_anon |= ino != 0 || line[n];
			ri->not_private |= perms[3] != 'p';
			continue;
		}
		if (!in)
			continue;
		if (sscanf(line, "Rss: %ld", &kib) == 1)
			ri->rss_kib += kib;
		else if (sscanf(line, "Swap: %ld", &kib) == 1)
			ri->swap_kib += kib;
		else if (sscanf(line, "Anonymous: %ld", &kib) == 1)
			ri->anon_kib += kib;
		else if (sscanf(line, "Shared_Clean: %ld", &kib) == 1 ||
			 sscanf(line, "Shared_Dirty: %ld", &kib) == 1)
			ri->shared_kib += kib;
	}
	fclose(f);
	return 0;
}

/* Is [addr, addr + len) unmapped in the calling process? */
static bool range_free(unsigned long addr, unsigned long len)
{
	struct range_info ri;

	return !smaps_range(getpid(), addr, addr + len, &ri) && !ri.covered;
}

/* --------------------------------------------------------------- cgroup */

/*
 * Make CG_ROOT a cgroup v2 hierarchy with the memory controller enabled for
 * its children, mounting it when nothing is mounted there yet (the VM's
 * busybox init mounts no cgroup).  Anything else mounted there (a v1
 * hierarchy, as on many hosts) is left alone.
 */
static void cgroup_setup(void)
{
	char buf[512];
	struct statfs sf;

	if (opt.peak == PEAK_SAMPLE) {
		snprintf(cg_why, sizeof(cg_why), "--peak sample");
		return;
	}
	if (statfs(CG_ROOT, &sf)) {
		snprintf(cg_why, sizeof(cg_why), "no %s", CG_ROOT);
		return;
	}
	if (sf.f_type == SYSFS_MAGIC) {
		if (mount("cgroup2", CG_ROOT, "cgroup2", 0, NULL)) {
			snprintf(cg_why, sizeof(cg_why), "mount cgroup2: %s",
				 strerror(errno));
			return;
		}
		cg_mounted = true;
	} else if (sf.f_type != CGROUP2_MAGIC) {
		snprintf(cg_why, sizeof(cg_why),
			 "%s is not cgroup v2 (a v1 hierarchy?)", CG_ROOT);
		return;
	}
	if (access(CG_ROOT, W_OK)) {
		snprintf(cg_why, sizeof(cg_why), "%s not writable (not root?)",
			 CG_ROOT);
		return;
	}
	if (read_text(CG_ROOT "/cgroup.controllers", buf, sizeof(buf)) ||
	    !strstr(buf, "memory")) {
		snprintf(cg_why, sizeof(cg_why),
			 "no memory controller in cgroup v2");
		return;
	}
	if (read_text(CG_ROOT "/cgroup.subtree_control", buf, sizeof(buf)) ||
	    !strstr(buf, "memory")) {
		int ret = write_text(CG_ROOT "/cgroup.subtree_control", "+memory");

		if (ret) {
			snprintf(cg_why, sizeof(cg_why),
				 "cannot enable memory in %s: %s", CG_ROOT,
				 strerror(-ret));
			return;
		}
	}
	cg_usable = true;
}

/* A fresh cgroup for one method's pair; path[0] = 0 when there is none. */
static void cgroup_create(enum method m, char *path, size_t size)
{
	path[0] = '\0';
	if (!cg_usable)
		return;
	snprintf(path, size, CG_ROOT "/handoff-%d-%s", getpid(), method_name[m]);
	if (mkdir(path, 0755)) {
		snprintf(cg_why, sizeof(cg_why), "mkdir %s: %s", path,
			 strerror(errno));
		path[0] = '\0';
	}
}

/* Move the calling process into the cgroup at path. */
static void cgroup_join(const char *path)
{
	char procs[PATH_MAX], pid[16];

	if (!path[0])
		return;
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", path);
	snprintf(pid, sizeof(pid), "%d", getpid());
	if (write_text(procs, pid))
		die("joining the cgroup");
}

static void cgroup_remove(const char *path)
{
	/* The last member may still be on its way out. */
	for (int i = 0; path[0] && i < 100; i++) {
		if (!rmdir(path) || errno != EBUSY)
			return;
		usleep(10000);
	}
}

/* -------------------------------------------------- peak of the pair */

struct peak {
	int fd;				/* memory.peak, or -1: sampling */
	char how[192];
	/* sampling */
	pthread_t thread;
	long base_kib, avail0_kib;
	long min_avail_kib;		/* atomic */
	int samples, stop;		/* atomic */
};

static long mem_available_kib(int fd)
{
	char buf[2048], *p;
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

	if (n <= 0)
		return -1;
	buf[n] = '\0';
	p = strstr(buf, "MemAvailable:");
	return p ? strtol(p + 13, NULL, 10) : -1;
}

/*
 * The sampler's stack is static: a stack mmap()ed by pthread_create() would
 * land where the server's range is in the server (both inherit the layout of
 * the main process), the very place where the restorer wants the range.
 */
static char sampler_stack[256 * 1024] __attribute__((aligned(64)));

static void *sampler(void *arg)
{
	struct peak *pk = arg;
	struct timespec ts = { 0, SAMPLE_NS };
	int fd = open("/proc/meminfo", O_RDONLY | O_CLOEXEC);

	while (fd >= 0 && !__atomic_load_n(&pk->stop, __ATOMIC_ACQUIRE)) {
		long avail = mem_available_kib(fd);

		if (avail >= 0 &&
		    avail < __atomic_load_n(&pk->min_avail_kib, __ATOMIC_RELAXED))
			__atomic_store_n(&pk->min_avail_kib, avail,
					 __ATOMIC_RELAXED);
		__atomic_add_fetch(&pk->samples, 1, __ATOMIC_RELEASE);
		nanosleep(&ts, NULL);
	}
	if (fd >= 0)
		close(fd);
	return NULL;
}

static long pair_rss_kib(pid_t server)
{
	return status_kib(server, "RssAnon") + status_kib(server, "RssShmem") +
	       status_kib(getpid(), "RssAnon") + status_kib(getpid(), "RssShmem");
}

/*
 * Start measuring just before the hand-off: reset memory.peak of the pair's
 * cgroup (the reset holds for reads through the same fd), or start the
 * MemAvailable sampler.
 */
static void peak_start(struct peak *pk, const char *cg, pid_t server)
{
	char path[PATH_MAX];
	pthread_attr_t attr;
	int fd;

	pk->fd = -1;
	if (cg[0]) {
		snprintf(path, sizeof(path), "%s/memory.peak", cg);
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd >= 0 && !write_full(fd, "reset\n", 6)) {
			pk->fd = fd;
			snprintf(pk->how, sizeof(pk->how),
				 "cgroup v2 memory.peak, reset at the request");
			return;
		}
		snprintf(pk->how, sizeof(pk->how),
			 "MemAvailable sampled every 1 ms (memory.peak: %s)",
			 fd < 0 ? strerror(errno) : "not resettable");
		if (fd >= 0)
			close(fd);
	} else {
		snprintf(pk->how, sizeof(pk->how),
			 "MemAvailable sampled every 1 ms (no memcg: %s)", cg_why);
	}
	fd = open("/proc/meminfo", O_RDONLY | O_CLOEXEC);
	pk->avail0_kib = fd >= 0 ? mem_available_kib(fd) : -1;
	if (fd >= 0)
		close(fd);
	pk->min_avail_kib = pk->avail0_kib;
	pk->base_kib = pair_rss_kib(server);
	pk->samples = 0;
	pk->stop = 0;
	if (pthread_attr_init(&attr) ||
	    pthread_attr_setstack(&attr, sampler_stack, sizeof(sampler_stack)) ||
	    pthread_create(&pk->thread, &attr, sampler, pk))
		die("pthread_create");
	pthread_attr_destroy(&attr);
	while (!__atomic_load_n(&pk->samples, __ATOMIC_ACQUIRE))
		sched_yield();
}

/* Stop measuring; the pair's peak in MiB. */
static double peak_stop(struct peak *pk)
{
	char buf[64];
	long avail;
	ssize_t n;
	int fd;

	if (pk->fd >= 0) {
		n = pread(pk->fd, buf, sizeof(buf) - 1, 0);
		close(pk->fd);
		if (n <= 0)
			return -1;
		buf[n] = '\0';
		return strtod(buf, NULL) / MIB;
	}
	__atomic_store_n(&pk->stop, 1, __ATOMIC_RELEASE);
	pthread_join(pk->thread, NULL);
	if (pk->avail0_kib < 0)
		return -1;
	fd = open("/proc/meminfo", O_RDONLY | O_CLOEXEC);
	avail = fd >= 0 ? mem_available_kib(fd) : -1;
	if (avail >= 0 && avail < pk->min_avail_kib)
		pk->min_avail_kib = avail;
	if (fd >= 0)
		close(fd);
	return (pk->base_kib + pk->avail0_kib - pk->min_avail_kib) / 1024.0;
}

/* ------------------------------------------------------ control socket */

enum { REQ_WRITEV = 1, REQ_MEMFD, REQ_BYE, REPLY };

/* Restorer -> server requests and server -> restorer replies. */
struct ctl_msg {
	int type;
	int err;			/* reply: 0 or an errno */
	pid_t pid;			/* REQ_WRITEV: the restorer */
	unsigned long addr;		/* REQ_WRITEV: its destination */
	unsigned long kept;		/* REQ_BYE reply: what the server holds */
};

/* Send a message with fd attached when fd >= 0 (SCM_RIGHTS). */
static int ctl_send(int sock, const struct ctl_msg *msg, int fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { (void *)msg, sizeof(*msg) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (fd >= 0) {
		struct cmsghdr *c;

		mh.msg_control = u.buf;
		mh.msg_controllen = sizeof(u.buf);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	return sendmsg(sock, &mh, MSG_NOSIGNAL) == sizeof(*msg) ? 0 : -EPIPE;
}

/* Receive a message, and into *fd the descriptor it carries (or -1). */
static int ctl_recv(int sock, struct ctl_msg *msg, int *fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { msg, sizeof(*msg) };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = u.buf, .msg_controllen = sizeof(u.buf),
	};
	struct cmsghdr *c;
	ssize_t n;

	do
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n != sizeof(*msg))
		return n < 0 ? -errno : -EPIPE;
	if (fd) {
		*fd = -1;
		c = CMSG_FIRSTHDR(&mh);
		if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
			memcpy(fd, CMSG_DATA(c), sizeof(int));
	}
	return 0;
}

/* ----------------------------------------------------------- the sender */

/*
 * Generate the data and write it to the socket in XFER_CHUNK pieces; the
 * checksum of what was sent goes to sum_fd.
 */
static void run_sender(int sock, int sum_fd, unsigned long len)
{
	char *chunk = malloc(XFER_CHUNK);
	uint64_t sum = len;

	if (!chunk)
		die("malloc");
	for (unsigned long off = 0; off < len; off += XFER_CHUNK) {
		generate(chunk, XFER_CHUNK, off);
		sum = csum_update(sum, chunk, XFER_CHUNK);
		if (write_full(sock, chunk, XFER_CHUNK))
			_exit(1);
	}
	write_full(sum_fd, &sum, sizeof(sum));
	_exit(0);
}

/* ------------------------------------------------------- the page server */

/* Server -> main process, once the data is in and partly paged out. */
struct ready {
	int err;			/* 0, or errno of what failed */
	char what[48];			/* what failed */
	unsigned long addr;		/* the server's range */
	double recv_ms;
	unsigned long pageout_bytes;	/* asked to page out */
	long swap_kib;			/* smaps Swap of the range afterwards */
	long pswpout;			/* /proc/vmstat delta */
};

struct server {
	enum method method;
	unsigned long len;
	char *buf;			/* the data */
	int memfd;			/* memfd behind buf, or -1 */
};

static bool cold_block(unsigned long i)
{
	unsigned long long a = (unsigned long long)i * opt.swap_ppm / 1000000;
	unsigned long long b = (unsigned long long)(i + 1) * opt.swap_ppm / 1000000;

	return b > a;
}

/*
 * Receive the data into private anonymous memory (or, for the memfd method,
 * straight into the memfd: see serve_memfd()), then page out the chosen
 * fraction of it, spread evenly over the range in COLD_BLOCK units.
 */
static int server_receive(struct server *s, int sock, struct ready *rd)
{
	unsigned long next = 1;
	double t0 = now_ms();
	struct range_info ri;
	long out0;

	s->memfd = -1;
	if (s->method == M_MEMFD && !opt.memfd_copy) {
		s->memfd = memfd_create("handoff", MFD_CLOEXEC);
		if (s->memfd < 0 || ftruncate(s->memfd, s->len)) {
			snprintf(rd->what, sizeof(rd->what), "memfd");
			return -errno;
		}
		s->buf = mmap(NULL, s->len, PROT_READ | PROT_WRITE, MAP_SHARED,
			      s->memfd, 0);
	} else {
		s->buf = mmap(NULL, s->len, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	}
	if (s->buf == MAP_FAILED) {
		snprintf(rd->what, sizeof(rd->what), "mmap");
		return -errno;
	}
	rd->addr = (unsigned long)s->buf;

	fprintf(stderr, "  server: receiving %lu MiB:", opt.mib);
	for (unsigned long off = 0; off < s->len; off += XFER_CHUNK) {
		int ret = read_full(sock, s->buf + off, XFER_CHUNK);

		if (ret) {
			snprintf(rd->what, sizeof(rd->what), "receive");
			return ret;
		}
		while ((off + XFER_CHUNK) * 10 >= next * s->len && next <= 10)
			fprintf(stderr, " %lu%%", next++ * 10);
	}
	rd->recv_ms = now_ms() - t0;
	fprintf(stderr, " (%.1f s)\n", rd->recv_ms / 1e3);

	if (proc_value("/proc/meminfo", "SwapTotal") <= 0)
		return 0;	/* pages would only be unmapped, not paged out */
	out0 = vmstat("pswpout");
	for (unsigned long i = 0; i * COLD_BLOCK < s->len; i++) {
		unsigned long off = i * COLD_BLOCK;
		unsigned long n = s->len - off < COLD_BLOCK ? s->len - off : COLD_BLOCK;

		if (!cold_block(i))
			continue;
		if (madvise(s->buf + off, n, MADV_PAGEOUT)) {
			snprintf(rd->what, sizeof(rd->what), "MADV_PAGEOUT");
			return -errno;
		}
		rd->pageout_bytes += n;
	}
	rd->pswpout = vmstat("pswpout") - out0;
	if (!smaps_range(getpid(), rd->addr, rd->addr + s->len, &ri))
		rd->swap_kib = ri.swap_kib;
	return 0;
}

/* Write the range into the restorer at addr, WRITEV_CHUNK per call. */
static int serve_writev(struct server *s, pid_t pid, unsigned long addr)
{
	for (unsigned long off = 0; off < s->len;) {
		unsigned long n = s->len - off < WRITEV_CHUNK ? s->len - off : WRITEV_CHUNK;
		struct iovec local = { s->buf + off, n };
		struct iovec remote = { (void *)(addr + off), n };
		ssize_t done = process_vm_writev(pid, &local, 1, &remote, 1, 0);

		if (done <= 0)
			return done < 0 ? -errno : -EFAULT;
		if (opt.release)
			madvise(s->buf + off, done, MADV_DONTNEED);
		off += done;
	}
	return 0;
}

/*
 * The memfd the restorer gets.  A page server that hands off through an fd
 * receives straight into the memfd (the default here): that costs no extra
 * copy and no second copy of the data on the server's side, and is how one
 * would build such a server.  --memfd-copy models instead a server that
 * keeps its pages in private anonymous memory, like the other methods, and
 * copies them into a fresh memfd when asked, inside the hand-off.
 */
static int serve_memfd(struct server *s, int *fd)
{
	int ret;

	if (s->memfd >= 0) {
		*fd = s->memfd;
		return 0;
	}
	*fd = memfd_create("handoff", MFD_CLOEXEC);
	if (*fd < 0 || ftruncate(*fd, s->len))
		return -errno;
	for (unsigned long off = 0; off < s->len; off += XFER_CHUNK) {
		ret = write_full(*fd, s->buf + off, XFER_CHUNK);
		if (ret)
			return ret;
		if (opt.release)
			madvise(s->buf + off, XFER_CHUNK, MADV_DONTNEED);
	}
	return 0;
}

/*
 * What the server still holds of the data, resident or in swap: its range
 * (gone after a MOVE) and, when its data lives in a memfd, the memfd.
 */
static unsigned long server_kept(struct server *s)
{
	unsigned long addr = (unsigned long)s->buf, kept = 0;
	struct range_info ri;
	struct stat st;

	if (!smaps_range(getpid(), addr, addr + s->len, &ri))
		kept = (ri.rss_kib + ri.swap_kib) * KIB;
	if (s->memfd >= 0 && !fstat(s->memfd, &st) &&
	    (unsigned long)st.st_blocks * 512 > kept)
		kept = st.st_blocks * 512;
	return kept;
}

static void run_server(enum method m, int data, int ctl, int ready_fd)
{
	struct server s = { .method = m, .len = opt.mib * MIB };
	struct ready rd = { 0 };
	struct ctl_msg req, rep;
	int fd;

	rd.err = -server_receive(&s, data, &rd);
	close(data);
	write_full(ready_fd, &rd, sizeof(rd));
	close(ready_fd);
	if (rd.err)
		_exit(1);

	/* Serve requests until the restorer says goodbye or goes away. */
	while (!ctl_recv(ctl, &req, NULL)) {
		rep = (struct ctl_msg){ .type = REPLY };
		fd = -1;
		switch (req.type) {
		case REQ_WRITEV:
			rep.err = -serve_writev(&s, req.pid, req.addr);
			break;
		case REQ_MEMFD:
			rep.err = -serve_memfd(&s, &fd);
			break;
		case REQ_BYE:
			rep.kept = server_kept(&s);
			break;
		default:
			rep.err = EINVAL;
		}
		if (ctl_send(ctl, &rep, rep.err ? -1 : fd) || req.type == REQ_BYE)
			break;
		if (fd >= 0 && fd != s.memfd)
			close(fd);	/* the restorer has its own now */
	}
	_exit(0);
}

/* ---------------------------------------------------------- the restorer */

enum { RES_OK, RES_UNAVAILABLE, RES_FAILED };

/* Restorer -> main process. */
struct result {
	int status;
	char what[64];			/* what failed, or where it landed */
	double ms;			/* the hand-off */
	double peak_mib;
	char peak_how[192];
	long swapins;			/* pswpin during the hand-off */
	double verify_ms;
	long verify_swapins;
	bool sum_ok;
	int private_anon;		/* 1 yes, 0 no, -1 not checked */
	char anon_why[48];
	double server_keeps_mib;	/* what the server holds, or -1 */
	double paged_out_mib;		/* in swap before the hand-off */
};

struct restore_ctx {
	pid_t server;
	unsigned long src;		/* the server's range */
	unsigned long len;
	bool fixed;			/* move: to src, free here */
	uint64_t sum;			/* the sender's checksum */
	const char *cg;
};

/* process_vm_mmap(PVMMAP_MOVE) of the server's range; the address or 0. */
static unsigned long take_move(struct restore_ctx *c, struct result *r)
{
	unsigned long dst = c->fixed ? c->src : 0;
	unsigned long flags = PVMMAP_MOVE | (c->fixed ? PVMMAP_FIXED : 0);
	long ret;

	ret = syscall(__NR_process_vm_mmap, c->server, c->src, c->len, dst, flags);
	if (ret == -1) {
		r->status = errno == ENOSYS ? RES_UNAVAILABLE : RES_FAILED;
		snprintf(r->what, sizeof(r->what), "process_vm_mmap: %s",
			 strerror(errno));
		return 0;
	}
	snprintf(r->what, sizeof(r->what), "%s",
		 dst ? "at the server's address (FIXED)" : "at the kernel's choice");
	return ret;
}

static unsigned long take_writev(int ctl, struct restore_ctx *c, struct result *r)
{
	struct ctl_msg msg = { .type = REQ_WRITEV, .pid = getpid() };
	char *dst = mmap(NULL, c->len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int err;

	if (dst == MAP_FAILED) {
		err = errno;
		snprintf(r->what, sizeof(r->what), "mmap: %s", strerror(err));
		goto fail;
	}
	msg.addr = (unsigned long)dst;
	err = -ctl_send(ctl, &msg, -1);
	if (!err)
		err = -ctl_recv(ctl, &msg, NULL);
	if (!err)
		err = msg.err;
	if (!err) {
		snprintf(r->what, sizeof(r->what), "%lu calls of %lu KiB",
			 c->len / WRITEV_CHUNK, WRITEV_CHUNK / KIB);
		return (unsigned long)dst;
	}
	snprintf(r->what, sizeof(r->what), "process_vm_writev: %s", strerror(err));
fail:
	r->status = RES_FAILED;
	return 0;
}

/*
 * The restorer maps the memfd and copies it into private anonymous memory,
 * then drops the memfd.  It cannot simply keep the memfd mapped: a restored
 * task expects the anonymous private memory it had.  A MAP_SHARED memfd
 * mapping would be shared, not copy-on-write, with the task's children after
 * fork(), MADV_DONTNEED would not zero it, and /proc/PID/maps and the next
 * checkpoint would see a file; a MAP_PRIVATE mapping of it is a private file
 * mapping, whose unwritten pages stay in the memfd and keep it alive, and
 * which still is not anonymous memory.  Hence the copy, the cost of this path.
 */
static unsigned long take_memfd(int ctl, struct restore_ctx *c, struct result *r)
{
	struct ctl_msg msg = { .type = REQ_MEMFD };
	char *src, *dst;
	int fd = -1, err;

	err = -ctl_send(ctl, &msg, -1);
	if (!err)
		err = -ctl_recv(ctl, &msg, &fd);
	if (!err)
		err = msg.err ? msg.err : fd < 0 ? EBADF : 0;
	if (err) {
		snprintf(r->what, sizeof(r->what), "memfd from server: %s",
			 strerror(err));
		goto fail;
	}
	src = mmap(NULL, c->len, PROT_READ, MAP_SHARED, fd, 0);
	dst = mmap(NULL, c->len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (src == MAP_FAILED || dst == MAP_FAILED) {
		err = errno;
		snprintf(r->what, sizeof(r->what), "mmap: %s", strerror(err));
		close(fd);
		goto fail;
	}
	for (unsigned long off = 0; off < c->len; off += XFER_CHUNK) {
		memcpy(dst + off, src + off, XFER_CHUNK);
		if (opt.release)
			fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				  off, XFER_CHUNK);
	}
	munmap(src, c->len);
	close(fd);
	snprintf(r->what, sizeof(r->what), "%s",
		 opt.memfd_copy ? "server copied its anon into a memfd"
				: "server received into the memfd");
	return (unsigned long)dst;
fail:
	r->status = RES_FAILED;
	return 0;
}

/* Private anonymous memory, as a restored task needs it? */
static void check_private_anon(unsigned long addr, unsigned long len,
			       struct result *r)
{
	struct range_info ri;

	if (smaps_range(getpid(), addr, addr + len, &ri)) {
		snprintf(r->anon_why, sizeof(r->anon_why), "no smaps");
		r->private_anon = 0;
		return;
	}
	if (ri.covered != len)
		snprintf(r->anon_why, sizeof(r->anon_why), "range not mapped");
	else if (ri.not_anon)
		snprintf(r->anon_why, sizeof(r->anon_why), "file-backed");
	else if (ri.not_private)
		snprintf(r->anon_why, sizeof(r->anon_why), "shared mapping");
	else if (ri.shared_kib)
		snprintf(r->anon_why, sizeof(r->anon_why), "%ld KiB shared",
			 ri.shared_kib);
	else if (ri.anon_kib != ri.rss_kib)
		snprintf(r->anon_why, sizeof(r->anon_why),
			 "Anonymous %ld != Rss %ld kB", ri.anon_kib, ri.rss_kib);
	r->private_anon = !r->anon_why[0];
}

static void run_restorer(enum method m, int ctl, int res_fd,
			 struct restore_ctx *c)
{
	struct result r = { .status = RES_OK, .private_anon = -1 };
	struct ctl_msg bye = { .type = REQ_BYE };
	unsigned long addr = 0;
	struct peak pk;
	long in0;
	double t0;

	prctl(PR_SET_PTRACER, getppid());	/* Yama: let the server in */
	in0 = vmstat("pswpin");
	peak_start(&pk, c->cg, c->server);
	/*
	 * A restored task wants its memory at its original address: take it
	 * there if that is free here.  Checked last, once the sampler's stack
	 * is mapped, since PVMMAP_FIXED replaces whatever is in the way.
	 */
	c->fixed = m == M_MOVE && range_free(c->src, c->len);
	t0 = now_ms();
	if (m == M_MOVE)
		addr = take_move(c, &r);
	else if (m == M_WRITEV)
		addr = take_writev(ctl, c, &r);
	else
		addr = take_memfd(ctl, c, &r);
	r.ms = now_ms() - t0;
	r.peak_mib = peak_stop(&pk);
	r.swapins = vmstat("pswpin") - in0;
	snprintf(r.peak_how, sizeof(r.peak_how), "%s", pk.how);

	/*
	 * Ask the server what it still holds, and let it exit; EOF on the
	 * socket says that its memory is gone.
	 */
	if (!ctl_send(ctl, &bye, -1) && !ctl_recv(ctl, &bye, NULL))
		r.server_keeps_mib = (double)bye.kept / MIB;
	else
		r.server_keeps_mib = -1;
	while (!ctl_recv(ctl, &bye, NULL))
		;

	if (r.status == RES_OK) {
		in0 = vmstat("pswpin");
		t0 = now_ms();
		r.sum_ok = csum_update(c->len, (void *)addr, c->len) == c->sum;
		r.verify_ms = now_ms() - t0;
		r.verify_swapins = vmstat("pswpin") - in0;
		check_private_anon(addr, c->len, &r);
	}
	write_full(res_fd, &r, sizeof(r));
	_exit(0);
}

/* ---------------------------------------------------------- one method */

static const char *method_label(enum method m)
{
	switch (m) {
	case M_MOVE:
		return "process_vm_mmap MOVE";
	case M_WRITEV:
		return opt.release ? "process_vm_writev (free)" : "process_vm_writev";
	default:
		return opt.memfd_copy ? "memfd copy + SCM_RIGHTS" : "memfd + SCM_RIGHTS";
	}
}

/*
 * Fork a child that dies with the main process, joins cgroup cg if set and
 * keeps, of the descriptors above stderr, only a, b and c (so that each
 * pipe and socket sees EOF when its real users are gone).
 */
static pid_t spawn(const char *cg, int a, int b, int c)
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (int fd = 3; fd < 1024; fd++)
			if (fd != a && fd != b && fd != c)
				close(fd);
		if (cg)
			cgroup_join(cg);
	}
	return pid;
}

/*
 * One method from scratch: sender and server fill a fresh server, then a
 * restorer takes its memory.  Returns the sender's checksum through *sum.
 */
static void run_method(enum method m, struct result *r, uint64_t *sum)
{
	int data[2], ctl[2], ready[2], sums[2], res[2];
	pid_t sender, server, restorer;
	struct restore_ctx c = { .len = opt.mib * MIB };
	char cg[PATH_MAX];
	struct ready rd = { 0 };

	memset(r, 0, sizeof(*r));
	r->status = RES_FAILED;
	r->private_anon = -1;
	printf("\n== %s: %s\n", method_name[m], method_label(m));
	cgroup_create(m, cg, sizeof(cg));
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, data) ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ctl) ||
	    pipe2(ready, O_CLOEXEC) || pipe2(sums, O_CLOEXEC) ||
	    pipe2(res, O_CLOEXEC))
		die("socketpair/pipe");

	sender = spawn(NULL, data[0], sums[1], -1);
	if (sender == 0)
		run_sender(data[0], sums[1], c.len);
	server = spawn(cg, data[1], ctl[0], ready[1]);
	if (server == 0) {
		prctl(PR_SET_PTRACER, getppid());	/* Yama: the restorer */
		run_server(m, data[1], ctl[0], ready[1]);
	}
	close(data[0]);
	close(data[1]);
	close(ctl[0]);
	close(ready[1]);
	close(sums[1]);

	if (read_full(ready[0], &rd, sizeof(rd)) || rd.err) {
		if (rd.err)
			snprintf(r->what, sizeof(r->what), "server: %s: %s",
				 rd.what, strerror(rd.err));
		else
			snprintf(r->what, sizeof(r->what), "server died");
		goto out;
	}
	if (read_full(sums[0], sum, sizeof(*sum))) {
		snprintf(r->what, sizeof(r->what), "sender died");
		goto out;
	}
	waitpid(sender, NULL, 0);
	sender = 0;
	printf("  server %d: %lu MiB at %#lx received in %.0f ms\n", server,
	       opt.mib, rd.addr, rd.recv_ms);
	if (proc_value("/proc/meminfo", "SwapTotal") <= 0)
		printf("  page-out: no swap is active, nothing can go out "
		       "(continuing with all %lu MiB resident)\n", opt.mib);
	else
		printf("  page-out: asked %.1f MiB, in swap %.1f MiB (smaps Swap), "
		       "pswpout +%ld pages%s\n", (double)rd.pageout_bytes / MIB,
		       rd.swap_kib / 1024.0, rd.pswpout,
		       rd.pageout_bytes && !rd.swap_kib ? ": NOTHING went out" : "");

	c.server = server;
	c.src = rd.addr;
	c.sum = *sum;
	c.cg = cg;
	restorer = spawn(cg, ctl[1], res[1], -1);
	if (restorer == 0)
		run_restorer(m, ctl[1], res[1], &c);
	close(res[1]);
	if (read_full(res[0], r, sizeof(*r))) {
		r->status = RES_FAILED;
		snprintf(r->what, sizeof(r->what), "restorer died");
	}
	waitpid(restorer, NULL, 0);
	r->paged_out_mib = rd.swap_kib / 1024.0;
out:
	close(ctl[1]);
	close(ready[0]);
	close(sums[0]);
	close(res[0]);
	if (sender > 0)
		kill(sender, SIGKILL);
	kill(server, SIGKILL);
	waitpid(server, NULL, 0);
	if (sender > 0)
		waitpid(sender, NULL, 0);
	cgroup_remove(cg);
	if (r->status == RES_OK)
		printf("  hand-off: %s, %.1f ms; verify: %.1f ms, %ld swap-ins\n",
		       r->what, r->ms, r->verify_ms, r->verify_swapins);
	else
		printf("  %s: %s\n", r->status == RES_UNAVAILABLE ?
		       "unavailable" : "FAILED", r->what);
}

/* --------------------------------------------------------- the report */

static const char *anon_str(const struct result *r)
{
	return r->private_anon < 0 ? "-" : r->private_anon ? "yes" : "no";
}

/* A failed hand-off: the process_vm_mmap row may fail only with ENOSYS. */
static bool row_failed(enum method m, const struct result *r)
{
	if (r->status == RES_UNAVAILABLE)
		return false;
	if (r->status != RES_OK || !r->sum_ok)
		return true;
	/* MOVE hands the memory over: the server must not keep any. */
	return m == M_MOVE && r->server_keeps_mib != 0;
}

#define ROW_S	"%-24s | %11s | %11s | %9s | %8s | %8s | %12s\n"
#define ROW_V	"%-24s | %11.1f | %11.1f | %9ld | %8s | %8s | %12.1f\n"

/* What the columns mean, and what the table leaves out. */
static void report_notes(const struct result *res, const char *how)
{
	for (int m = 0; m < NR_METHODS; m++)
		if ((opt.methods & (1U << m)) && res[m].private_anon == 0)
			printf("%s: not private anonymous memory: %s\n",
			       method_label(m), res[m].anon_why);
	printf("\ntime: from the restorer's request to the data in place, "
	       "verification excluded (TCG time is emulated)\n");
	printf("peak: %s\n", how ? how : "-");
	for (int m = 0; m < NR_METHODS; m++)
		if ((opt.methods & (1U << m)) && res[m].status == RES_OK &&
		    strcmp(res[m].peak_how, how))
			printf("peak (%s): %s\n", method_name[m], res[m].peak_how);
	printf("swap-ins: /proc/vmstat pswpin delta over the hand-off "
	       "(system-wide); what stays on swap is read back at first "
	       "touch, as by the verification:\n");
	for (int m = 0; m < NR_METHODS; m++)
		if ((opt.methods & (1U << m)) && res[m].status == RES_OK)
			printf("  %-24s verify %.1f ms, %ld swap-ins\n",
			       method_label(m), res[m].verify_ms,
			       res[m].verify_swapins);
	printf("private anon?: the restorer's smaps over its range once the "
	       "server is gone: no inode or name, private, Shared_* 0, "
	       "Anonymous == Rss\n");
	printf("server keeps: what the server still holds of the data after "
	       "the hand-off (Rss + Swap of its range, or its memfd's "
	       "blocks)\n");
}

/* The table on stdout, the same rows with more detail in the CSV. */
static void report(const struct result *res)
{
	FILE *csv = fopen(opt.csv, "w");
	const char *how = NULL;

	printf("\n" ROW_S, "method", "time (ms)", "peak (MiB)", "swap-ins",
	       "private", "checksum", "server keeps");
	printf(ROW_S, "", "", "of the pair", "(pages)", "anon?", "ok", "(MiB)");
	if (csv)
		fprintf(csv, "method,status,time_ms,peak_pair_mib,swapins_pages,"
			"private_anon,checksum_ok,server_keeps_mib,paged_out_mib,"
			"verify_ms,verify_swapins_pages,detail,peak_source\n");
	else
		fprintf(stderr, "handoff: %s: %s\n", opt.csv, strerror(errno));
	for (int m = 0; m < NR_METHODS; m++) {
		const struct result *r = &res[m];

		if (!(opt.methods & (1U << m)))
			continue;
		if (r->status != RES_OK) {
			const char *st = r->status == RES_UNAVAILABLE ?
					 "unavailable" : "FAILED";

			printf(ROW_S, method_label(m), st, "-", "-", "-", "-", "-");
			if (csv)
				fprintf(csv, "%s,%s,,,,,,,%.1f,,,\"%s\",\n",
					method_name[m], st, r->paged_out_mib,
					r->what);
			continue;
		}
		if (!how)
			how = r->peak_how;
		printf(ROW_V, method_label(m), r->ms, r->peak_mib, r->swapins,
		       anon_str(r), r->sum_ok ? "yes" : "NO", r->server_keeps_mib);
		if (csv)
			fprintf(csv, "%s,ok,%.1f,%.1f,%ld,%s,%s,%.1f,%.1f,%.1f,%ld,"
				"\"%s%s%s\",\"%s\"\n", method_name[m], r->ms,
				r->peak_mib, r->swapins, anon_str(r),
				r->sum_ok ? "yes" : "no", r->server_keeps_mib,
				r->paged_out_mib, r->verify_ms, r->verify_swapins,
				r->what, r->anon_why[0] ? "; " : "", r->anon_why,
				r->peak_how);
	}
	report_notes(res, how);
	if (csv) {
		fclose(csv);
		printf("CSV: %s\n", opt.csv);
	}
}

/* ---------------------------------------------------------------- main */

static void usage(FILE *f)
{
	fprintf(f,
"usage: handoff [options]\n"
"A page server receives data over a socket, part of it goes to swap, and a\n"
"restorer takes it over three ways: process_vm_mmap(PVMMAP_MOVE),\n"
"process_vm_writev() in 128 KiB chunks, and a memfd passed with SCM_RIGHTS.\n"
"\n"
"  -m, --mib MIB         data size in MiB (default 256)\n"
"  -s, --swap FRACTION   part of the server's range paged out, 0..1\n"
"                        (default 0.5, spread in 2 MiB blocks)\n"
"  -c, --csv PATH        CSV output (default /tmp/handoff.csv)\n"
"      --methods LIST    comma-separated subset of move,writev,memfd\n"
"      --memfd-copy      memfd: the server keeps its data in private anon and\n"
"                        copies it into a memfd at the hand-off (default: it\n"
"                        receives straight into the memfd)\n"
"      --release         copy methods free the server's copy chunk by chunk\n"
"      --peak HOW        auto (default), cgroup or sample: how the pair's peak\n"
"                        memory is measured (cgroup v2 memory.peak, or\n"
"                        MemAvailable sampled every 1 ms)\n"
"  -h, --help            this text\n"
"\n"
"Exit status: 0 if every available method verified, 1 if a checksum or a\n"
"hand-off failed (process_vm_mmap failing with ENOSYS is \"unavailable\"),\n"
"2 on a setup error.\n");
}

static void parse_methods(const char *list)
{
	char *dup = strdup(list), *tok, *save = NULL;

	opt.methods = 0;
	for (tok = strtok_r(dup, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		int m;

		for (m = 0; m < NR_METHODS && strcmp(tok, method_name[m]); m++)
			;
		if (m == NR_METHODS) {
			fprintf(stderr, "handoff: unknown method %s\n", tok);
			exit(2);
		}
		opt.methods |= 1U << m;
	}
	free(dup);
}

static void parse_args(int argc, char **argv)
{
	enum { O_METHODS = 256, O_MEMFD_COPY, O_RELEASE, O_PEAK };
	static const struct option longopts[] = {
		{ "mib", required_argument, NULL, 'm' },
		{ "swap", required_argument, NULL, 's' },
		{ "csv", required_argument, NULL, 'c' },
		{ "methods", required_argument, NULL, O_METHODS },
		{ "memfd-copy", no_argument, NULL, O_MEMFD_COPY },
		{ "release", no_argument, NULL, O_RELEASE },
		{ "peak", required_argument, NULL, O_PEAK },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	char *end;
	double f;
	int c;

	while ((c = getopt_long(argc, argv, "m:s:c:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'm':
			opt.mib = strtoul(optarg, &end, 10);
			if (*end || !opt.mib || opt.mib > (1UL << 20))
				goto bad;
			break;
		case 's':
			f = strtod(optarg, &end);
			if (*end || !(f >= 0 && f <= 1))
				goto bad;
			opt.swap_ppm = f * 1000000 + 0.5;
			break;
		case 'c':
			opt.csv = optarg;
			break;
		case O_METHODS:
			parse_methods(optarg);
			break;
		case O_MEMFD_COPY:
			opt.memfd_copy = true;
			break;
		case O_RELEASE:
			opt.release = true;
			break;
		case O_PEAK:
			if (!strcmp(optarg, "auto"))
				opt.peak = PEAK_AUTO;
			else if (!strcmp(optarg, "cgroup"))
				opt.peak = PEAK_CGROUP;
			else if (!strcmp(optarg, "sample"))
				opt.peak = PEAK_SAMPLE;
			else
				goto bad;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			exit(2);
		}
	}
	if (optind == argc)
		return;
	optarg = argv[optind];
bad:
	fprintf(stderr, "handoff: bad argument: %s\n", optarg);
	usage(stderr);
	exit(2);
}

int main(int argc, char **argv)
{
	struct result res[NR_METHODS] = { 0 };
	uint64_t sum, first_sum = 0;
	bool have_sum = false;
	int failed = 0;
	long swap_kib;

	parse_args(argc, argv);
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	cgroup_setup();
	if (opt.peak == PEAK_CGROUP && !cg_usable) {
		fprintf(stderr, "handoff: --peak cgroup: %s\n", cg_why);
		return 2;
	}

	swap_kib = proc_value("/proc/meminfo", "SwapTotal");
	printf("page-server hand-off: %lu MiB, %.0f%% paged out, swap %s",
	       opt.mib, opt.swap_ppm / 1e4, swap_kib > 0 ? "" : "none active\n");
	if (swap_kib > 0)
		printf("%ld MiB active\n", swap_kib / 1024);
	printf("peak memory of the pair: %s%s\n",
	       cg_usable ? "cgroup v2 memory.peak, a fresh cgroup per method" :
			   "MemAvailable sampled every 1 ms; no memcg: ",
	       cg_usable ? (cg_mounted ? " (mounted cgroup2 at " CG_ROOT ")" : "")
			 : cg_why);

	for (int m = 0; m < NR_METHODS; m++) {
		if (!(opt.methods & (1U << m)))
			continue;
		sum = 0;
		run_method(m, &res[m], &sum);
		if (sum && have_sum && sum != first_sum) {
			fprintf(stderr, "handoff: the sender is not reproducible\n");
			failed = 1;
		}
		if (sum && !have_sum) {
			first_sum = sum;
			have_sum = true;
		}
		failed |= row_failed(m, &res[m]);
		if (m == M_MOVE && res[m].status == RES_OK && res[m].server_keeps_mib != 0)
			printf("  MOVE left %.1f MiB in the server\n",
			       res[m].server_keeps_mib);
	}
	report(res);
	if (cg_mounted)
		umount(CG_ROOT);
	return failed;
}
