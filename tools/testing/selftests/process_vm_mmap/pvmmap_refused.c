// SPDX-License-Identifier: GPL-2.0
/*
 * process_vm_mmap(2): every kind of mapping that cannot be cloned.
 *
 * Only private anonymous memory, shmem (MAP_SHARED anonymous memory, memfd,
 * tmpfs) and regular page-cache files can be cloned.  Each test makes one
 * other kind of mapping, asks for a clone of it and checks that the call
 * fails with EOPNOTSUPP and changes nothing: the caller has as many
 * mappings as before and the source holds what it held.  Kinds the running
 * kernel or CPU cannot make are skipped with the reason.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <linux/aio_abi.h>
#include <linux/io_uring.h>
#include <linux/perf_event.h>
#include <linux/userfaultfd.h>
#include <unistd.h>

#include "../kselftest_harness.h"
#include "pvmmap.h"

#define PMD_SIZE	(2UL << 20)
#define VSYSCALL_ADDR	0xffffffffff600000UL

#ifndef MAP_DROPPABLE
#define MAP_DROPPABLE	0x08
#endif
#ifndef __NR_map_shadow_stack
#define __NR_map_shadow_stack	453
#endif
#ifndef SHADOW_STACK_SET_TOKEN
#define SHADOW_STACK_SET_TOKEN	0x1ULL
#endif

/*
 * Ask for a clone of [@addr, @addr + @len) of this process and check the
 * refusal: EOPNOTSUPP, no mapping added or removed.
 */
static void expect_refused(struct __test_metadata *_metadata,
			   unsigned long addr, unsigned long len)
{
	long maps = map_count();
	long ret;

	errno = 0;
	ret = sys_process_vm_mmap(getpid(), addr, len, 0, 0);
	EXPECT_EQ(-1, ret);
	EXPECT_EQ(EOPNOTSUPP, errno);
	EXPECT_EQ(maps, map_count());
}

/*
 * The mapping of this process named @name in /proc/self/maps (a substring
 * of the line's path field), or 0.
 */
static unsigned long find_mapping(const char *name, unsigned long *len)
{
	unsigned long start, end, found = 0;
	char line[512];
	FILE *f = fopen("/proc/self/maps", "r");

	while (f && fgets(line, sizeof(line), f))
		if (strstr(line, name) &&
		    sscanf(line, "%lx-%lx", &start, &end) == 2) {
			found = start;
			*len = end - start;
			break;
		}
	if (f)
		fclose(f);
	return found;
}

/*
 * Every special mapping the kernel installs and names in brackets ([vdso],
 * [vvar], [vvar_vclock], ...), except the heap and the stack, which are
 * anonymous memory.
 */
TEST(special_mappings)
{
	unsigned long start, end;
	char line[512], *name;
	int refused = 0;
	FILE *f = fopen("/proc/self/maps", "r");

	ASSERT_NE(NULL, f);
	while (fgets(line, sizeof(line), f)) {
		name = strchr(line, '[');
		if (!name || !strncmp(name, "[heap]", 6) ||
		    !strncmp(name, "[stack]", 7) ||
		    !strncmp(name, "[vsyscall]", 10) ||
		    sscanf(line, "%lx-%lx", &start, &end) != 2)
			continue;
		TH_LOG("%.*s", (int)strcspn(name, "\n"), name);
		expect_refused(_metadata, start, end - start);
		refused++;
	}
	fclose(f);
	/* Every x86_64 process has a vDSO. */
	EXPECT_LE(1, refused);
}

/* The vsyscall page has no VMA and lies above TASK_SIZE. */
TEST(vsyscall)
{
	unsigned long len;

	if (!find_mapping("[vsyscall]", &len))
		SKIP(return, "no vsyscall page (vsyscall=none)");
	expect_refused(_metadata, VSYSCALL_ADDR, len);
}

/*
 * A function for a uprobe to hit, called through a pointer that other
 * objects could change: not inlined.
 */
static int probed(int x)
{
	return x + 1;
}

int (*call_probed)(int) = probed;

/*
 * The uprobes area: the page of out-of-line instructions the kernel maps
 * in a process once it hits a uprobe.  Set one on probed() through the
 * uprobe events of tracefs and hit it.
 */
TEST(uprobes_area)
{
	const char *events = "/sys/kernel/tracing/uprobe_events";
	unsigned long start, end, off, fn = (unsigned long)probed, len, area;
	char line[512], exe[256], def[512];
	bool found = false;
	ssize_t n;
	FILE *f;

	if (access(events, W_OK))
		SKIP(return, "no uprobe events in tracefs");
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	ASSERT_LT(0, n);
	exe[n] = 0;
	/* The file offset of probed(): from the mapping of the text. */
	f = fopen("/proc/self/maps", "r");
	ASSERT_NE(NULL, f);
	while (!found && fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx-%lx %*s %lx", &start, &end, &off) == 3 &&
		    fn >= start && fn < end)
			found = true;
	fclose(f);
	ASSERT_TRUE(found);
	snprintf(def, sizeof(def), "p:pvmmap/probed %s:0x%lx\n", exe,
		 fn - start + off);
	ASSERT_EQ(0, write_file(events, def));
	ASSERT_EQ(0, write_file("/sys/kernel/tracing/events/pvmmap/probed/enable",
				"1"));
	EXPECT_EQ(2, call_probed(1));
	area = find_mapping("[uprobes]", &len);
	EXPECT_NE(0, area);
	if (area)
		expect_refused(_metadata, area, len);
	write_file("/sys/kernel/tracing/events/pvmmap/probed/enable", "0");
	f = fopen(events, "a");
	if (f) {
		fputs("-:pvmmap/probed\n", f);
		fclose(f);
	}
}

/* The ring an AIO context maps in its process (io_setup(2)). */
TEST(aio_ring)
{
	aio_context_t ctx = 0;
	unsigned long len;

	if (syscall(__NR_io_setup, 16, &ctx))
		SKIP(return, "no AIO");
	ASSERT_EQ(ctx, find_mapping("[aio]", &len));
	expect_refused(_metadata, ctx, len);
	syscall(__NR_io_destroy, ctx);
}

/* The ring buffer of a perf event. */
TEST(perf_ring)
{
	struct perf_event_attr attr = {
		.type = PERF_TYPE_SOFTWARE,
		.size = sizeof(attr),
		.config = PERF_COUNT_SW_DUMMY,
		.disabled = 1,
		.exclude_kernel = 1,
	};
	long page = sysconf(_SC_PAGESIZE);
	int fd = syscall(__NR_perf_event_open, &attr, 0, -1, -1, 0);
	void *ring;

	if (fd < 0)
		SKIP(return, "no perf events");
	ring = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, ring);
	expect_refused(_metadata, (unsigned long)ring, 2 * page);
	munmap(ring, 2 * page);
	close(fd);
}

static unsigned long page_align(unsigned long len)
{
	unsigned long page = sysconf(_SC_PAGESIZE);

	return (len + page - 1) & ~(page - 1);
}

/* The submission and completion rings and the SQE array of io_uring. */
TEST(io_uring_rings)
{
	struct io_uring_params p = { 0 };
	unsigned long sq_len, cq_len, sqe_len;
	void *sq, *cq, *sqes;
	int fd = syscall(__NR_io_uring_setup, 4, &p);

	if (fd < 0)
		SKIP(return, "no io_uring");
	sq_len = page_align(p.sq_off.array + p.sq_entries * sizeof(__u32));
	cq_len = page_align(p.cq_off.cqes +
			    p.cq_entries * sizeof(struct io_uring_cqe));
	sqe_len = page_align(p.sq_entries * sizeof(struct io_uring_sqe));
	sq = mmap(NULL, sq_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		  IORING_OFF_SQ_RING);
	cq = mmap(NULL, cq_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		  IORING_OFF_CQ_RING);
	sqes = mmap(NULL, sqe_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		    IORING_OFF_SQES);
	ASSERT_NE(MAP_FAILED, sq);
	ASSERT_NE(MAP_FAILED, cq);
	ASSERT_NE(MAP_FAILED, sqes);
	expect_refused(_metadata, (unsigned long)sq, sq_len);
	expect_refused(_metadata, (unsigned long)cq, cq_len);
	expect_refused(_metadata, (unsigned long)sqes, sqe_len);
	munmap(sqes, sqe_len);
	munmap(cq, cq_len);
	munmap(sq, sq_len);
	close(fd);
}

/* memfd_secret(2): a shared file mapping whose pages are not mappable. */
TEST(memfd_secret)
{
	long len = 4 * sysconf(_SC_PAGESIZE);
	int fd = syscall(__NR_memfd_secret, 0);
	char *p;

	if (fd < 0)
		SKIP(return, "no memfd_secret");
	ASSERT_EQ(0, ftruncate(fd, len));
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	memset(p, 'S', len);
	expect_refused(_metadata, (unsigned long)p, len);
	EXPECT_EQ('S', p[len - 1]);
	munmap(p, len);
	close(fd);
}

TEST(hugetlb)
{
	char *p = mmap(NULL, PMD_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);

	if (p == MAP_FAILED)
		SKIP(return, "no free huge page");
	memset(p, 'H', PMD_SIZE);
	expect_refused(_metadata, (unsigned long)p, PMD_SIZE);
	EXPECT_EQ('H', p[PMD_SIZE - 1]);
	munmap(p, PMD_SIZE);
}

/* A device mapping: the BIOS area through /dev/mem (VM_IO, VM_PFNMAP). */
TEST(device_pfn_mapping)
{
	long len = sysconf(_SC_PAGESIZE);
	int fd = open("/dev/mem", O_RDONLY);
	void *p;

	if (fd < 0)
		SKIP(return, "no /dev/mem");
	p = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0xf0000);
	if (p == MAP_FAILED) {
		close(fd);
		SKIP(return, "/dev/mem cannot map the BIOS area");
	}
	expect_refused(_metadata, (unsigned long)p, len);
	munmap(p, len);
	close(fd);
}

/*
 * MADV_DONTFORK and MADV_WIPEONFORK: the owner said "never duplicate".  A
 * range mixing such a mapping and an allowed one is refused whole.
 */
TEST(dontfork_wipeonfork_and_a_mix)
{
	long page = sysconf(_SC_PAGESIZE), len = 4 * page;
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ASSERT_NE(MAP_FAILED, p);
	memset(p, 'A', len);
	ASSERT_EQ(0, madvise(p, len, MADV_DONTFORK));
	expect_refused(_metadata, (unsigned long)p, len);
	/* Half of the range allowed, half refused. */
	ASSERT_EQ(0, madvise(p, 2 * page, MADV_DOFORK));
	expect_refused(_metadata, (unsigned long)p, len);
	ASSERT_EQ(0, madvise(p + 2 * page, 2 * page, MADV_DOFORK));
	ASSERT_EQ(0, madvise(p, len, MADV_WIPEONFORK));
	expect_refused(_metadata, (unsigned long)p, len);
	EXPECT_EQ('A', p[len - 1]);
	EXPECT_EQ('A', p[0]);
	munmap(p, len);
}

/* MAP_DROPPABLE: memory the kernel may drop under pressure. */
TEST(droppable)
{
	long len = 4 * sysconf(_SC_PAGESIZE);
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_DROPPABLE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		SKIP(return, "no MAP_DROPPABLE");
	memset(p, 'D', len);
	expect_refused(_metadata, (unsigned long)p, len);
	munmap(p, len);
}

/* A range registered with userfaultfd: its monitor must see every fault. */
TEST(userfaultfd_range)
{
	long len = 4 * sysconf(_SC_PAGESIZE);
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { 0 };
	int uffd = syscall(__NR_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY);
	char *p;

	if (uffd < 0)
		SKIP(return, "no userfaultfd");
	ASSERT_EQ(0, ioctl(uffd, UFFDIO_API, &api));
	p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, p);
	memset(p, 'U', len);
	reg.range.start = (unsigned long)p;
	reg.range.len = len;
	reg.mode = UFFDIO_REGISTER_MODE_MISSING;
	ASSERT_EQ(0, ioctl(uffd, UFFDIO_REGISTER, &reg));
	expect_refused(_metadata, (unsigned long)p, len);
	EXPECT_EQ('U', p[len - 1]);
	close(uffd);
	munmap(p, len);
}

/* A shadow stack (x86 CET user shadow stacks). */
TEST(shadow_stack)
{
	long len = sysconf(_SC_PAGESIZE);
	long p = syscall(__NR_map_shadow_stack, 0, len, SHADOW_STACK_SET_TOKEN);

	if (p == -1)
		SKIP(return, "no user shadow stacks on this CPU or kernel (%s)",
		     strerror(errno));
	expect_refused(_metadata, p, len);
	munmap((void *)p, len);
}

TEST_HARNESS_MAIN
