// SPDX-License-Identifier: GPL-2.0
/*
 * The demonstration `make run` boots: process_vm_mmap(2) in the patched
 * kernel, asked to do each thing its contract names, with the answer it
 * gives and the cost of each answer as a ratio to getpid(2) (timing under
 * QEMU TCG is emulated: only ratios within one run mean anything).
 *
 * Writes a table to stdout and the same rows as CSV to the file named by
 * its first argument.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../tools/testing/selftests/process_vm_mmap/pvmmap.h"

#define ITERS 20000

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

struct req {
	const char *what;
	int pid;
	unsigned long src, len, dst, flags;
};

/* Under TCG the first run of any code path pays for its translation. */
static double time_getpid(void)
{
	double t0;

	for (int i = 0; i < ITERS / 10; i++)
		syscall(SYS_getpid);
	t0 = now_ns();
	for (int i = 0; i < ITERS; i++)
		syscall(SYS_getpid);
	return (now_ns() - t0) / ITERS;
}

int main(int argc, char **argv)
{
	long page = sysconf(_SC_PAGESIZE);
	char *buf = mmap(NULL, 16 * page, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned long src = (unsigned long)buf;
	pid_t self = getpid(), zombie, other;
	int pidfd = sys_pidfd_open(self, 0);
	FILE *csv = argc > 1 ? fopen(argv[1], "w") : NULL;
	double base;

	memset(buf, 1, 16 * page);
	zombie = fork();
	if (zombie == 0)
		_exit(0);
	waitpid(zombie, NULL, 0);	/* reaped: the pid names no one */
	other = fork();
	if (other == 0) {
		pause();
		_exit(0);
	}

	/*
	 * Above any user address space; on arm64 bits 63..56 are a TBI tag
	 * (1 << 57 would untag to 0, a hole: EFAULT).
	 */
#ifdef __aarch64__
	const unsigned long past_task_size = 1UL << 55;
#else
	const unsigned long past_task_size = 1UL << 57;
#endif
	struct req reqs[] = {
		{ "unknown flag", self, src, page, 0, 0x100 },
		{ "FIXED|FIXED_NOREPLACE", self, src, page, 0, PVMMAP_FIXED | PVMMAP_FIXED_NOREPLACE },
		{ "len 0", self, src, 0, 0, 0 },
		{ "unaligned src", self, src + 1, page, 0, 0 },
		{ "range past TASK_SIZE", self, past_task_size, page, 0, 0 },
		{ "pid 0", 0, src, page, 0, 0 },
		{ "FIXED over own source", self, src, 2 * page, src + page, PVMMAP_FIXED },
		{ "PIDFD, fd 0 (not a pidfd)", 0, src, page, 0, PVMMAP_PIDFD },
		{ "reaped pid", zombie, src, page, 0, 0 },
		{ "kernel thread (pid 2)", 2, src, page, 0, 0 },
		{ "self, all checks pass", self, src, 16 * page, 0, 0 },
		{ "pidfd of self", pidfd, src, 16 * page, 0, PVMMAP_PIDFD },
		{ "child, all checks pass", other, src, 16 * page, 0, 0 },
	};

	base = time_getpid();
	printf("process_vm_mmap(2) in Linux %s\n\n", "7.3 + series");
	printf("%-28s %-12s %10s %10s\n", "request", "result", "ns/call", "x getpid");
	printf("%-28s %-12s %10.0f %10.2f\n", "(getpid, for scale)", "-", base, 1.0);
	if (csv)
		fprintf(csv, "request,result,ns_per_call,ratio_to_getpid\n"
			"getpid,-,%.0f,1.00\n", base);
	for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
		struct req *r = &reqs[i];
		long ret = sys_process_vm_mmap(r->pid, r->src, r->len, r->dst, r->flags);
		const char *res = ret >= 0 ? "ok" : strerrorname_np(errno);
		double t0;

		if (ret >= 0)
			munmap((void *)ret, r->len);
		for (int k = 0; k < ITERS / 10; k++) {
			long w = sys_process_vm_mmap(r->pid, r->src, r->len,
						     r->dst, r->flags);

			if (w >= 0)
				munmap((void *)w, r->len);
		}
		t0 = now_ns();
		for (int k = 0; k < ITERS; k++) {
			ret = sys_process_vm_mmap(r->pid, r->src, r->len, r->dst, r->flags);
			if (ret >= 0)
				munmap((void *)ret, r->len);
		}
		t0 = (now_ns() - t0) / ITERS;
		printf("%-28s %-12s %10.0f %10.2f\n", r->what, res, t0, t0 / base);
		if (csv)
			fprintf(csv, "%s,%s,%.0f,%.2f\n", r->what, res, t0, t0 / base);
	}
	kill(other, SIGKILL);
	waitpid(other, NULL, 0);
	if (csv)
		fclose(csv);
	return 0;
}
