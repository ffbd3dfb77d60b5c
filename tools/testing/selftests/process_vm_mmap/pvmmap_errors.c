// SPDX-License-Identifier: GPL-2.0
/*
 * process_vm_mmap(2): the checks that come before any mm work.
 *
 * One test per errno rule of the contract
 * (Documentation/userspace-api/process_vm_mmap.rst):
 * argument checks (EINVAL), pidfd resolution (EBADF), target lookup (ESRCH)
 * and the ptrace attach gate (EPERM).  Each test also makes sure the rule
 * does not fire where it must not, so a check that refuses everything fails.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../kselftest_harness.h"
#include "pvmmap.h"

static long page_size;

/* A private anonymous range of @pages pages in this process. */
static char *map_pages(int pages)
{
	char *p = mmap(NULL, pages * page_size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	memset(p, 0x5a, pages * page_size);
	return p;
}

/*
 * The errno of a call, or 0 if it succeeded (the clone is then unmapped
 * again, so that tests can call it in a loop).
 */
static int call_errno(int pid, unsigned long src, unsigned long len,
		      unsigned long dst, unsigned long flags)
{
	long ret;

	errno = 0;
	ret = sys_process_vm_mmap(pid, src, len, dst, flags);
	if (ret >= 0) {
		munmap((void *)ret, len);
		return 0;
	}
	return errno;
}

/* What a request that passes every check of this suite returns. */
#define CHECKS_PASSED 0

/* The whole suite is about a syscall that a kernel may not have. */
static void __attribute__((constructor)) require_syscall(void)
{
	if (sys_process_vm_mmap(0, 0, 0, 0, 0) == -1 && errno == ENOSYS)
		ksft_exit_skip("process_vm_mmap() is not available (CONFIG_PROCESS_VM_MMAP)\n");
}

FIXTURE(args)
{
	char *buf;		/* four pages of 0x5a */
	unsigned long src;	/* the same, as an address */
	unsigned long len;
	pid_t self;
};

FIXTURE_SETUP(args)
{
	page_size = sysconf(_SC_PAGESIZE);
	self->len = 4 * page_size;
	self->buf = map_pages(4);
	ASSERT_NE(NULL, self->buf);
	self->src = (unsigned long)self->buf;
	self->self = getpid();
}

FIXTURE_TEARDOWN(args)
{
	munmap(self->buf, self->len);
}

TEST_F(args, unknown_flags)
{
	unsigned long bit;

	for (bit = 0x10; bit; bit <<= 1)
		EXPECT_EQ(EINVAL, call_errno(self->self, self->src, self->len,
					     0, bit));
}

TEST_F(args, fixed_with_noreplace)
{
	EXPECT_EQ(EINVAL, call_errno(self->self, self->src, self->len, 0,
				     PVMMAP_FIXED | PVMMAP_FIXED_NOREPLACE));
}

TEST_F(args, zero_length)
{
	EXPECT_EQ(EINVAL, call_errno(self->self, self->src, 0, 0, 0));
}

TEST_F(args, unaligned_source)
{
	EXPECT_EQ(EINVAL, call_errno(self->self, self->src + 1, page_size, 0,
				     0));
	EXPECT_EQ(EINVAL, call_errno(self->self, self->src, page_size + 1, 0,
				     0));
	EXPECT_EQ(EINVAL, call_errno(self->self, self->src, page_size - 1, 0,
				     0));
}

TEST_F(args, unaligned_fixed_destination)
{
	EXPECT_EQ(EINVAL, call_errno(self->self, self->src, page_size,
				     0x10000001UL, PVMMAP_FIXED));
	EXPECT_EQ(EINVAL, call_errno(self->self, self->src, page_size,
				     0x10000800UL, PVMMAP_FIXED_NOREPLACE));
}

/* A hint is only a hint: an unaligned one is not an error (as for mmap). */
TEST_F(args, unaligned_hint_is_not_checked)
{
	int err = call_errno(self->self, self->src, page_size, 0x10000001UL, 0);

	EXPECT_EQ(CHECKS_PASSED, err);
}

TEST_F(args, source_range_overflows)
{
	unsigned long top = -(unsigned long)page_size;

	EXPECT_EQ(EINVAL, call_errno(self->self, top, 2 * page_size, 0, 0));
	EXPECT_EQ(EINVAL, call_errno(self->self, self->src,
				     -(unsigned long)page_size, 0, 0));
}

TEST_F(args, source_range_above_user_space)
{
#ifdef __aarch64__
	/*
	 * Above TASK_SIZE with any VA size: bits 63..56 are a tag under TBI,
	 * which untagging sign-extends from bit 55.
	 */
	unsigned long high = 1UL << 55;
#else
	/* Above TASK_SIZE with 4 and with 5 page-table levels. */
	unsigned long high = 1UL << 57;
#endif

	EXPECT_EQ(EINVAL, call_errno(self->self, high, page_size, 0, 0));
}

TEST_F(args, fixed_destination_out_of_range)
{
	unsigned long top = -(unsigned long)page_size;

	EXPECT_EQ(EINVAL, call_errno(self->self, self->src, 2 * page_size, top,
				     PVMMAP_FIXED));
	EXPECT_EQ(EINVAL, call_errno(self->self, self->src, page_size,
				     1UL << 57, PVMMAP_FIXED_NOREPLACE));
}

TEST_F(args, pid_not_positive)
{
	EXPECT_EQ(EINVAL, call_errno(0, self->src, self->len, 0, 0));
	EXPECT_EQ(EINVAL, call_errno(-1, self->src, self->len, 0, 0));
	EXPECT_EQ(EINVAL, call_errno(INT32_MIN, self->src, self->len, 0, 0));
}

/* A FIXED destination over the source of the same process would unmap it. */
TEST_F(args, fixed_overlapping_source_in_self)
{
	unsigned long src = self->src;
	unsigned long half = 2 * page_size;

	EXPECT_EQ(EINVAL, call_errno(self->self, src, half, src + page_size,
				     PVMMAP_FIXED));
	EXPECT_EQ(EINVAL, call_errno(self->self, src + page_size, half, src,
				     PVMMAP_FIXED));
	EXPECT_EQ(EINVAL, call_errno(self->self, src, half, src,
				     PVMMAP_FIXED_NOREPLACE));
	/* Adjacent is not overlapping. */
	EXPECT_EQ(CHECKS_PASSED, call_errno(self->self, src, half, src + half,
					    PVMMAP_FIXED));
	/* The source is untouched by the refused calls. */
	EXPECT_EQ(0x5a, self->buf[0]);
	EXPECT_EQ(0x5a, self->buf[page_size]);
}

/* The rule is about one address space: another process's range may overlap. */
TEST_F(args, fixed_overlap_only_checked_in_same_mm)
{
	pid_t child = fork_waiter();
	int err;

	ASSERT_GE(child, 0);
	err = call_errno(child, self->src, self->len, self->src, PVMMAP_FIXED);
	EXPECT_EQ(CHECKS_PASSED, err);
	reap(child);
}

TEST(pidfd_not_a_pidfd)
{
	int fd = open("/proc/self/stat", O_RDONLY);
	char *src;

	page_size = sysconf(_SC_PAGESIZE);
	src = map_pages(1);
	ASSERT_NE(NULL, src);
	ASSERT_GE(fd, 0);
	EXPECT_EQ(EBADF, call_errno(fd, (unsigned long)src, page_size, 0,
				    PVMMAP_PIDFD));
	EXPECT_EQ(EBADF, call_errno(-1, (unsigned long)src, page_size, 0,
				    PVMMAP_PIDFD));
	close(fd);
	/* A closed fd number. */
	EXPECT_EQ(EBADF, call_errno(fd, (unsigned long)src, page_size, 0,
				    PVMMAP_PIDFD));
	munmap(src, page_size);
}

TEST(pidfd_of_live_process)
{
	int pidfd = sys_pidfd_open(getpid(), 0);
	char *src;
	int err;

	page_size = sysconf(_SC_PAGESIZE);
	src = map_pages(1);
	ASSERT_NE(NULL, src);
	ASSERT_GE(pidfd, 0);
	err = call_errno(pidfd, (unsigned long)src, page_size, 0, PVMMAP_PIDFD);
	EXPECT_EQ(CHECKS_PASSED, err);
	close(pidfd);
	munmap(src, page_size);
}

/* PIDFD_SELF is not an fd: pidfd_get_task() resolves it to the caller. */
TEST(pidfd_self)
{
	char *src;
	int err;

	page_size = sysconf(_SC_PAGESIZE);
	src = map_pages(1);
	ASSERT_NE(NULL, src);
	err = call_errno(PIDFD_SELF, (unsigned long)src, page_size, 0,
			 PVMMAP_PIDFD);
	EXPECT_EQ(CHECKS_PASSED, err);
	munmap(src, page_size);
}

/* Fork a child that exits at once; returns its pid, not yet reaped. */
static pid_t exited_child(void)
{
	pid_t child = fork();

	if (child == 0)
		_exit(0);
	return child;
}

TEST(reaped_pid)
{
	pid_t child = exited_child();

	page_size = sysconf(_SC_PAGESIZE);
	ASSERT_GT(child, 0);
	ASSERT_EQ(child, waitpid(child, NULL, 0));
	EXPECT_EQ(ESRCH, call_errno(child, 0x10000000UL, page_size, 0, 0));
}

TEST(zombie_has_no_mm)
{
	pid_t child = exited_child();
	siginfo_t info;

	page_size = sysconf(_SC_PAGESIZE);
	ASSERT_GT(child, 0);
	/* Wait for the exit without reaping: the task exists, its mm does not. */
	ASSERT_EQ(0, waitid(P_PID, child, &info, WEXITED | WNOWAIT));
	EXPECT_EQ(ESRCH, call_errno(child, 0x10000000UL, page_size, 0, 0));
	waitpid(child, NULL, 0);
}

TEST(pidfd_of_exited_process)
{
	pid_t child = exited_child();
	int pidfd;

	page_size = sysconf(_SC_PAGESIZE);
	ASSERT_GT(child, 0);
	pidfd = sys_pidfd_open(child, 0);
	ASSERT_GE(pidfd, 0);
	ASSERT_EQ(child, waitpid(child, NULL, 0));
	EXPECT_EQ(ESRCH, call_errno(pidfd, 0x10000000UL, page_size, 0,
				    PVMMAP_PIDFD));
	close(pidfd);
}

TEST(no_such_pid)
{
	FILE *f = fopen("/proc/sys/kernel/pid_max", "r");
	int pid_max = 0;

	page_size = sysconf(_SC_PAGESIZE);
	ASSERT_NE(NULL, f);
	ASSERT_EQ(1, fscanf(f, "%d", &pid_max));
	fclose(f);
	/* No pid can be pid_max or above. */
	EXPECT_EQ(ESRCH, call_errno(pid_max, 0x10000000UL, page_size, 0, 0));
	EXPECT_EQ(ESRCH, call_errno(INT32_MAX, 0x10000000UL, page_size, 0, 0));
}

/* kthreadd, pid 2, is a kernel thread: it has no user address space. */
TEST(kernel_thread)
{
	char comm[32] = "";
	FILE *f = fopen("/proc/2/comm", "r");

	page_size = sysconf(_SC_PAGESIZE);
	if (!f || !fgets(comm, sizeof(comm), f) || strcmp(comm, "kthreadd\n")) {
		if (f)
			fclose(f);
		SKIP(return, "pid 2 is not kthreadd (pid namespace?)");
	}
	fclose(f);
	EXPECT_EQ(ESRCH, call_errno(2, 0x10000000UL, page_size, 0, 0));
}

/* Exit status of a child whose setup failed; no errno is 255. */
#define SETUP_FAILED 255

/*
 * Call process_vm_mmap(@target, @addr) from a child that has dropped to
 * @uid, and return the errno it saw (0 for success, -1 if the child could
 * not be set up).
 */
static int errno_as_uid(uid_t uid, pid_t target, unsigned long addr)
{
	pid_t child = fork();
	int status;

	if (child == 0) {
		if (setresgid(uid, uid, uid) || setresuid(uid, uid, uid))
			_exit(SETUP_FAILED);
		_exit(call_errno(target, addr, page_size, 0, 0));
	}
	if (child < 0 || waitpid(child, &status, 0) != child ||
	    !WIFEXITED(status) || WEXITSTATUS(status) == SETUP_FAILED)
		return -1;
	return WEXITSTATUS(status);
}

/*
 * A child running as @uid that maps one page, reports its address through
 * @addr and waits to be killed.  @dumpable says whether it undoes the
 * non-dumpable state that a credential change leaves (as execve() would).
 * It lets any process trace it, so that Yama's ptrace_scope does not decide
 * the tests in its place.
 */
static pid_t target_as_uid(uid_t uid, bool dumpable, unsigned long *addr)
{
	int pipefd[2];
	pid_t child;

	if (pipe(pipefd))
		return -1;
	child = fork();
	if (child == 0) {
		char *p;

		close(pipefd[0]);
		/* A credential change clears the death signal: set it after. */
		if (setresgid(uid, uid, uid) || setresuid(uid, uid, uid) ||
		    prctl(PR_SET_DUMPABLE, dumpable ? 1 : 0) ||
		    prctl(PR_SET_PDEATHSIG, SIGKILL))
			_exit(SETUP_FAILED);
		prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY);
		p = map_pages(1);
		if (!p || write(pipefd[1], &p, sizeof(p)) != sizeof(p))
			_exit(SETUP_FAILED);
		pause();
		_exit(0);
	}
	close(pipefd[1]);
	if (child > 0 && read(pipefd[0], addr, sizeof(*addr)) != sizeof(*addr)) {
		reap(child);
		child = -1;
	}
	close(pipefd[0]);
	return child;
}

TEST(another_uid_is_refused)
{
	unsigned long addr;
	pid_t target;

	page_size = sysconf(_SC_PAGESIZE);
	if (geteuid() != 0)
		SKIP(return, "needs root to switch uids");
	target = target_as_uid(0, true, &addr);
	ASSERT_GT(target, 0);
	EXPECT_EQ(EPERM, errno_as_uid(65534, target, addr));
	reap(target);
}

TEST(same_uid_is_allowed)
{
	unsigned long addr;
	pid_t target;

	page_size = sysconf(_SC_PAGESIZE);
	if (geteuid() != 0)
		SKIP(return, "needs root to switch uids");
	target = target_as_uid(65534, true, &addr);
	ASSERT_GT(target, 0);
	EXPECT_EQ(CHECKS_PASSED, errno_as_uid(65534, target, addr));
	reap(target);
}

/* A non-dumpable process is off limits to its own uid, as for ptrace. */
TEST(non_dumpable_target_is_refused)
{
	unsigned long addr;
	pid_t target;

	page_size = sysconf(_SC_PAGESIZE);
	if (geteuid() != 0)
		SKIP(return, "needs root to switch uids");
	target = target_as_uid(65534, false, &addr);
	ASSERT_GT(target, 0);
	EXPECT_EQ(EPERM, errno_as_uid(65534, target, addr));
	reap(target);
}

/*
 * The order of the checks (the contract's Errors section): arguments, then
 * the lookup, then the permission check.  Each request below breaks two
 * rules; the earlier one must win.
 */
TEST(argument_checks_come_before_the_lookup)
{
	int fd = open("/proc/self/stat", O_RDONLY);

	page_size = sysconf(_SC_PAGESIZE);
	ASSERT_GE(fd, 0);
	/* A bad flag and no such process. */
	EXPECT_EQ(EINVAL, call_errno(INT32_MAX, 0x10000000UL, page_size, 0,
				     0x100));
	/* A bad flag and a descriptor that is not a pidfd. */
	EXPECT_EQ(EINVAL, call_errno(fd, 0x10000000UL, page_size, 0,
				     PVMMAP_PIDFD | 0x100));
	/* An unaligned length and a kernel thread. */
	EXPECT_EQ(EINVAL, call_errno(2, 0x10000000UL, page_size + 1, 0, 0));
	close(fd);
}

TEST(lookup_comes_before_permission)
{
	page_size = sysconf(_SC_PAGESIZE);
	if (geteuid() != 0)
		SKIP(return, "needs root to switch uids");
	/* As nobody, a kernel thread is "no such process", not "not yours". */
	EXPECT_EQ(ESRCH, errno_as_uid(65534, 2, 0x10000000UL));
}

TEST(argument_checks_come_before_permission)
{
	unsigned long addr;
	pid_t target;
	pid_t child;
	int status;

	page_size = sysconf(_SC_PAGESIZE);
	if (geteuid() != 0)
		SKIP(return, "needs root to switch uids");
	target = target_as_uid(0, true, &addr);
	ASSERT_GT(target, 0);
	child = fork();
	ASSERT_GE(child, 0);
	if (child == 0) {
		if (setresgid(65534, 65534, 65534) ||
		    setresuid(65534, 65534, 65534))
			_exit(SETUP_FAILED);
		_exit(call_errno(target, addr, 0, 0, 0));
	}
	ASSERT_EQ(child, waitpid(child, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(EINVAL, WEXITSTATUS(status));
	reap(target);
}

/*
 * The overlap of an exact destination with the source of the same process
 * is one of the two checks that need the target's address space, and comes
 * before the checks of the source mappings: over a hole (EFAULT) or a
 * mapping that cannot be cloned (EOPNOTSUPP), the overlap still says EINVAL.
 */
TEST_F(args, fixed_overlap_comes_before_the_source_mappings)
{
	unsigned long half = 2 * page_size;

	/* A hole in the middle of the source range. */
	ASSERT_EQ(0, munmap(self->buf + page_size, page_size));
	EXPECT_EQ(EINVAL, call_errno(self->self, self->src, half,
				     self->src + page_size, PVMMAP_FIXED));
	EXPECT_EQ(EINVAL, call_errno(self->self, self->src, half, self->src,
				     PVMMAP_FIXED_NOREPLACE));
	/* Not overlapping: the hole is what is wrong. */
	EXPECT_EQ(EFAULT, call_errno(self->self, self->src, half,
				     self->src + half, PVMMAP_FIXED));
	/* A kind that cannot be cloned (MADV_DONTFORK). */
	ASSERT_EQ(0, madvise(self->buf + half, half, MADV_DONTFORK));
	EXPECT_EQ(EINVAL, call_errno(self->self, self->src + half, half,
				     self->src + half + page_size,
				     PVMMAP_FIXED));
	EXPECT_EQ(0x5a, self->buf[0]);
	EXPECT_EQ(0x5a, self->buf[half]);
}

static void *park(void *arg)
{
	__atomic_store_n((pid_t *)arg, gettid(), __ATOMIC_RELEASE);
	pause();
	return NULL;
}

/* Naming the caller through another thread's id or PIDFD_SELF is the same mm. */
TEST_F(args, fixed_overlap_through_a_thread_or_pidfd_self)
{
	unsigned long half = 2 * page_size;
	pid_t tid = 0;
	pthread_t thread;

	EXPECT_EQ(EINVAL, call_errno(PIDFD_SELF, self->src, half,
				     self->src + page_size,
				     PVMMAP_PIDFD | PVMMAP_FIXED));
	ASSERT_EQ(0, pthread_create(&thread, NULL, park, &tid));
	while (!__atomic_load_n(&tid, __ATOMIC_ACQUIRE))
		usleep(1000);
	EXPECT_EQ(EINVAL, call_errno(tid, self->src, half,
				     self->src + page_size, PVMMAP_FIXED));
	pthread_cancel(thread);
	pthread_join(thread, NULL);
}

TEST_HARNESS_MAIN
