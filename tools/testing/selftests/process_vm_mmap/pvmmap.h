/* SPDX-License-Identifier: GPL-2.0 */
/*
 * process_vm_mmap(2) selftests: the raw syscall and its flags, and the
 * process and /proc helpers the suites share.
 */
#ifndef __SELFTEST_PVMMAP_H
#define __SELFTEST_PVMMAP_H

#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/mman.h>

#ifndef __NR_process_vm_mmap
#define __NR_process_vm_mmap 473
#endif
#ifndef __NR_pidfd_open
#define __NR_pidfd_open 434
#endif

#ifndef PIDFD_SELF
#define PIDFD_SELF		-10000	/* linux/pidfd.h: the calling thread */
#endif

#ifndef PVMMAP_FIXED
#define PVMMAP_FIXED		0x01
#define PVMMAP_FIXED_NOREPLACE	0x02
#define PVMMAP_PIDFD		0x04
#define PVMMAP_MOVE		0x08
#endif

static inline long sys_process_vm_mmap(int pid, unsigned long src_addr,
				       unsigned long len, unsigned long dst_addr,
				       unsigned long flags)
{
	return syscall(__NR_process_vm_mmap, pid, src_addr, len, dst_addr,
		       flags);
}

static inline int sys_pidfd_open(pid_t pid, unsigned int flags)
{
	return syscall(__NR_pidfd_open, pid, flags);
}

/*
 * Fork a child that only waits to be killed (and dies with its parent,
 * whatever happens to the test); returns its pid.
 */
static inline pid_t fork_waiter(void)
{
	pid_t child = fork();

	if (child == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		pause();
		_exit(0);
	}
	return child;
}

/* Kill @child and wait for it. */
static inline void reap(pid_t child)
{
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
}

/* A "Key: N kB" line of @file (/proc/meminfo, /proc/self/status), or -1. */
static inline long kb_of(const char *file, const char *key)
{
	char line[256];
	long kb = -1;
	size_t n = strlen(key);
	FILE *f = fopen(file, "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, n) && line[n] == ':')
			kb = strtol(line + n + 1, NULL, 10);
	fclose(f);
	return kb;
}

/* kB on the per-CPU free lists (/proc/zoneinfo), which MemFree does not count. */
static inline long pcp_kb(void)
{
	char line[256];
	long n = 0, count;
	FILE *f = fopen("/proc/zoneinfo", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, " count: %ld", &count) == 1)
			n += count;
	if (f)
		fclose(f);
	return n * (sysconf(_SC_PAGESIZE) / 1024);
}

/*
 * Free memory in kB, steady enough to compare across a call: MemFree with
 * the per-CPU counter deltas folded in (/proc/sys/vm/stat_refresh, root
 * only) and the per-CPU free lists, which refill from the buddy allocator
 * by megabytes at a time (MemAvailable leaves them out).
 */
static inline long free_kb(void)
{
	int fd = open("/proc/sys/vm/stat_refresh", O_RDONLY);
	char c;

	if (fd >= 0) {
		if (read(fd, &c, 1) < 0)
			c = 0;
		close(fd);
	}
	return kb_of("/proc/meminfo", "MemFree") + pcp_kb();
}

/* Write @s into the file at @path (sysfs, tracefs): 0, or -1. */
static inline int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_TRUNC);
	int ret;

	if (fd < 0)
		return -1;
	ret = write(fd, s, strlen(s)) == (ssize_t)strlen(s) ? 0 : -1;
	close(fd);
	return ret;
}

/* The number of mappings of this process, -1 if /proc is not there. */
static inline long map_count(void)
{
	char line[512];
	long n = 0;
	FILE *f = fopen("/proc/self/maps", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		n++;
	fclose(f);
	return n;
}

/*
 * The value of @key ("Locked", "VmFlags", ...) in /proc/self/smaps for the
 * mapping at @addr, in @val.
 */
static inline bool smaps_value(unsigned long addr, const char *key,
			       char *val, int size)
{
	unsigned long start, end;
	bool in = false, found = false;
	size_t n = strlen(key);
	char line[512];
	FILE *f = fopen("/proc/self/smaps", "r");

	while (f && !found && fgets(line, sizeof(line), f)) {
		/* A mapping's header; "Key:" lines do not scan as a range. */
		if (sscanf(line, "%lx-%lx ", &start, &end) == 2) {
			in = start == addr;
		} else if (in && !strncmp(line, key, n) && line[n] == ':') {
			size_t l = strlen(line + n + 1);

			l = l < (size_t)size ? l : (size_t)size - 1;
			memcpy(val, line + n + 1, l);
			val[l] = '\0';
			found = true;
		}
	}
	if (f)
		fclose(f);
	return found;
}

/* Whether the mapping at @addr has the VmFlags flag @flag ("lo", "mg"). */
static inline bool has_vmflag(unsigned long addr, const char *flag)
{
	char flags[256], *tok, *save;

	if (!smaps_value(addr, "VmFlags", flags, sizeof(flags)))
		return false;
	for (tok = strtok_r(flags, "\n ", &save); tok;
	     tok = strtok_r(NULL, "\n ", &save))
		if (!strcmp(tok, flag))
			return true;
	return false;
}

#endif /* __SELFTEST_PVMMAP_H */
