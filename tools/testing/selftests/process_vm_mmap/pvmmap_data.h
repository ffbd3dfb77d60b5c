/* SPDX-License-Identifier: GPL-2.0 */
/*
 * process_vm_mmap(2) selftests: data with a pattern that tells each page of
 * each version apart, and where a page is (PFNs), for the suites that
 * check what a clone holds.
 */
#ifndef __SELFTEST_PVMMAP_DATA_H
#define __SELFTEST_PVMMAP_DATA_H

#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The page size; each test sets it before it uses the helpers below. */
static long page_size;

/* A byte that says which page of which version of the data this is. */
static inline char pattern(unsigned long page, char version)
{
	return (char)(page * 7 + version);
}

static inline void fill(char *p, unsigned long len, char version)
{
	for (unsigned long i = 0; i < len / page_size; i++)
		memset(p + i * page_size, pattern(i, version), page_size);
}

/* Whether every byte of every page holds @version's pattern. */
static inline bool holds(const char *p, unsigned long len, char version)
{
	for (unsigned long i = 0; i < len; i++)
		if (p[i] != pattern(i / page_size, version))
			return false;
	return true;
}

/* The pagemap entry of @addr in process @pid (0: self), 0 if unreadable. */
static inline uint64_t pagemap_of(pid_t pid, unsigned long addr)
{
	char path[64];
	uint64_t ent = 0;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid ? pid : getpid());
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	if (pread(fd, &ent, sizeof(ent), addr / page_size * sizeof(ent)) !=
	    sizeof(ent))
		ent = 0;
	close(fd);
	return ent;
}

/* The PFN mapped at @addr in process @pid (0: self), 0 if none. */
static inline uint64_t pfn_of(pid_t pid, unsigned long addr)
{
	uint64_t ent = pagemap_of(pid, addr);

	if (!(ent & (1ULL << 63)))
		return 0;
	return ent & ((1ULL << 55) - 1);
}

#endif /* __SELFTEST_PVMMAP_DATA_H */
