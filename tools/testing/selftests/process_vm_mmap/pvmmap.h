/* SPDX-License-Identifier: GPL-2.0 */
/* process_vm_mmap(2) selftests: the raw syscall and its flags. */
#ifndef __SELFTEST_PVMMAP_H
#define __SELFTEST_PVMMAP_H

#include <signal.h>
#include <stdio.h>
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

#endif /* __SELFTEST_PVMMAP_H */
