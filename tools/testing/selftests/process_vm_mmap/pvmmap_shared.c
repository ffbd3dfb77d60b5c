// SPDX-License-Identifier: GPL-2.0
/*
 * process_vm_mmap(2): shared memory and files.
 *
 * Shared mappings (MAP_SHARED anonymous memory, memfd, tmpfs files, files
 * on a block filesystem) stay shared: the clone maps the same pages, a
 * write on either side shows on the other and in the file.  Private
 * mappings of the same objects become copy-on-write.  memfd seals and the
 * LSM hook of mmap(2) apply to the clone as to a new mmap(); mlock and KSM
 * merging are not inherited; a process with MDWE gets no executable clone.
 *
 * The block filesystem is the ext4 disk of the test VM, mounted at
 * $PVMMAP_FS_DIR; without it those variants skip.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../kselftest_harness.h"
#include "pvmmap.h"
#include "pvmmap_data.h"

#ifndef PR_SET_MDWE
#define PR_SET_MDWE			65
#define PR_MDWE_REFUSE_EXEC_GAIN	1UL
#endif
#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE	0x0010
#endif

#define PAGES	16

/* Whether the file behind @fd holds @version in its first @len bytes. */
static bool file_holds(int fd, unsigned long len, char version)
{
	char *buf = malloc(len);
	bool ok;

	if (!buf)
		return false;
	ok = pread(fd, buf, len, 0) == (ssize_t)len && holds(buf, len, version);
	free(buf);
	return ok;
}

static bool file_fill(int fd, unsigned long len, char version)
{
	char *buf = malloc(len);
	bool ok;

	if (!buf)
		return false;
	fill(buf, len, version);
	ok = pwrite(fd, buf, len, 0) == (ssize_t)len;
	free(buf);
	return ok;
}

/*
 * The line of /proc/@pid/maps (0: self) for the mapping at @addr, in @line;
 * false if none starts there.
 */
static bool maps_line(pid_t pid, unsigned long addr, char *line, int size)
{
	unsigned long start;
	char path[64];
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid ? pid : getpid());
	f = fopen(path, "r");
	while (f && !found && fgets(line, size, f))
		found = sscanf(line, "%lx-", &start) == 1 && start == addr;
	if (f)
		fclose(f);
	return found;
}

static char *clone_of(pid_t pid, void *src, unsigned long len,
		      unsigned long flags)
{
	long ret = sys_process_vm_mmap(pid, (unsigned long)src, len, 0, flags);

	return ret < 0 ? NULL : (char *)ret;
}

enum object { SHARED_ANON, MEMFD, TMPFS, EXT4 };

/*
 * A shared object of @len bytes holding version 'F': a file descriptor, or
 * -1 for MAP_SHARED anonymous memory.  Files are named in @path so that
 * they can be opened again; memfds have no name there.
 */
static int open_object(enum object o, unsigned long len, char *path, int size)
{
	const char *dir = o == TMPFS ? "/dev/shm" : getenv("PVMMAP_FS_DIR");
	int fd;

	path[0] = 0;
	switch (o) {
	case SHARED_ANON:
		return -1;
	case MEMFD:
		fd = memfd_create("pvmmap", MFD_ALLOW_SEALING);
		break;
	default:
		if (!dir)
			return -2;
		snprintf(path, size, "%s/pvmmap-XXXXXX", dir);
		fd = mkstemp(path);
		break;
	}
	if (fd < 0)
		return -2;
	if (ftruncate(fd, len) || !file_fill(fd, len, 'F')) {
		close(fd);
		return -2;
	}
	return fd;
}

static char *map_object(int fd, unsigned long len, int prot, int flags)
{
	char *p = mmap(NULL, len, prot, flags | (fd < 0 ? MAP_ANONYMOUS : 0),
		       fd, 0);

	return p == MAP_FAILED ? NULL : p;
}

FIXTURE(shared)
{
	char path[256];
	int fd;
	char *map;	/* this process's shared mapping of the object */
	pid_t child;	/* a source that has the same mapping by fork() */
	unsigned long len;
};

FIXTURE_VARIANT(shared)
{
	enum object object;
};

FIXTURE_VARIANT_ADD(shared, anon) { .object = SHARED_ANON };
FIXTURE_VARIANT_ADD(shared, memfd) { .object = MEMFD };
FIXTURE_VARIANT_ADD(shared, tmpfs) { .object = TMPFS };
FIXTURE_VARIANT_ADD(shared, ext4) { .object = EXT4 };

FIXTURE_SETUP(shared)
{
	page_size = sysconf(_SC_PAGESIZE);
	self->len = PAGES * page_size;
	self->child = 0;
	self->map = NULL;
	self->fd = open_object(variant->object, self->len, self->path,
			       sizeof(self->path));
	if (self->fd == -2)
		SKIP(return, "cannot make the object (PVMMAP_FS_DIR for ext4)");
	self->map = map_object(self->fd, self->len, PROT_READ | PROT_WRITE,
			       MAP_SHARED);
	ASSERT_NE(NULL, self->map);
	if (self->fd < 0)
		fill(self->map, self->len, 'F');
	self->child = fork_waiter();
	ASSERT_LT(0, self->child);
}

FIXTURE_TEARDOWN(shared)
{
	if (self->child > 0)
		reap(self->child);
	if (self->map)
		munmap(self->map, self->len);
	if (self->fd >= 0)
		close(self->fd);
	if (self->path[0])
		unlink(self->path);
}

/* A write on either side shows on the other, and in the file. */
TEST_F(shared, writes_are_seen_both_ways)
{
	char *c = clone_of(self->child, self->map, self->len, 0);

	ASSERT_NE(NULL, c);
	EXPECT_TRUE(holds(c, self->len, 'F'));
	fill(c, self->len, 'G');
	EXPECT_TRUE(holds(self->map, self->len, 'G'));
	if (self->fd >= 0)
		EXPECT_TRUE(file_holds(self->fd, self->len, 'G'));
	fill(self->map, self->len, 'H');
	EXPECT_TRUE(holds(c, self->len, 'H'));
	if (self->fd >= 0) {
		ASSERT_TRUE(file_fill(self->fd, self->len, 'I'));
		EXPECT_TRUE(holds(c, self->len, 'I'));
	}
	munmap(c, self->len);
}

/* No data copied: the clone maps the very pages the source maps. */
TEST_F(shared, same_pages)
{
	char *c;

	if (geteuid())
		SKIP(return, "PFNs need root");
	c = clone_of(self->child, self->map, self->len, 0);
	ASSERT_NE(NULL, c);
	for (unsigned long off = 0; off < self->len; off += page_size) {
		uint64_t src_pfn;

		/* Both fault the page in by reading; neither copies it. */
		EXPECT_EQ(self->map[off], c[off]);
		src_pfn = pfn_of(0, (unsigned long)self->map + off);
		EXPECT_NE(0, src_pfn);
		EXPECT_EQ(src_pfn, pfn_of(0, (unsigned long)c + off));
	}
	munmap(c, self->len);
}

/* The clone is shared, with the source's protection and file. */
TEST_F(shared, keeps_protection_sharing_and_file)
{
	char src_line[512], line[512];
	char *ro, *c;

	c = clone_of(self->child, self->map, self->len, 0);
	ASSERT_NE(NULL, c);
	ASSERT_TRUE(maps_line(0, (unsigned long)self->map, src_line,
			      sizeof(src_line)));
	ASSERT_TRUE(maps_line(0, (unsigned long)c, line, sizeof(line)));
	/* Same permissions, offset, device, inode and name. */
	EXPECT_STREQ(strchr(src_line, ' '), strchr(line, ' '));
	EXPECT_NE(NULL, strstr(line, " rw-s "));
	munmap(c, self->len);

	ro = map_object(self->fd, self->len, PROT_READ, MAP_SHARED);
	ASSERT_NE(NULL, ro);
	c = clone_of(getpid(), ro, self->len, 0);
	ASSERT_NE(NULL, c);
	ASSERT_TRUE(maps_line(0, (unsigned long)c, line, sizeof(line)));
	EXPECT_NE(NULL, strstr(line, " r--s "));
	/* A new MAP_SHARED anonymous mapping is a new, zeroed object. */
	if (self->fd < 0)
		EXPECT_EQ(0, c[self->len - 1]);
	if (self->fd >= 0)
		EXPECT_TRUE(holds(c, self->len, 'F'));
	munmap(c, self->len);
	munmap(ro, self->len);
}

/*
 * A private mapping of the object is copy-on-write in the clone: pages the
 * source wrote (anonymous) and pages it only read (the object's) alike;
 * the object never changes.
 */
TEST_F(shared, private_mapping_is_copy_on_write)
{
	unsigned long half = self->len / 2;
	char *p, *c;

	p = map_object(self->fd, self->len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE);
	ASSERT_NE(NULL, p);
	if (self->fd < 0)
		fill(p, self->len, 'F');
	else
		EXPECT_TRUE(holds(p, self->len, 'F'));
	fill(p, half, 'P');
	c = clone_of(getpid(), p, self->len, 0);
	ASSERT_NE(NULL, c);
	EXPECT_TRUE(holds(c, half, 'P'));
	for (unsigned long i = half; i < self->len; i++)
		ASSERT_EQ(pattern(i / page_size, 'F'), c[i]);
	fill(c, self->len, 'Q');
	EXPECT_TRUE(holds(p, half, 'P'));
	for (unsigned long i = half; i < self->len; i++)
		ASSERT_EQ(pattern(i / page_size, 'F'), p[i]);
	EXPECT_TRUE(holds(self->map, self->len, 'F'));
	if (self->fd >= 0)
		EXPECT_TRUE(file_holds(self->fd, self->len, 'F'));
	fill(p, self->len, 'R');
	EXPECT_TRUE(holds(c, self->len, 'Q'));
	munmap(c, self->len);
	munmap(p, self->len);
}

/*
 * The clone holds its own reference to the object: once every process
 * that mapped it is gone and its descriptors are closed, the clone still
 * reads and writes it, and writes reach the file.
 */
TEST_F(shared, object_outlives_the_source)
{
	char *c = clone_of(self->child, self->map, self->len, 0);
	int fd;

	ASSERT_NE(NULL, c);
	reap(self->child);
	self->child = 0;
	munmap(self->map, self->len);
	self->map = NULL;
	if (self->fd >= 0)
		close(self->fd);
	self->fd = -1;
	EXPECT_TRUE(holds(c, self->len, 'F'));
	fill(c, self->len, 'O');
	EXPECT_EQ(0, msync(c, self->len, MS_SYNC));
	if (self->path[0]) {
		fd = open(self->path, O_RDONLY);
		ASSERT_LE(0, fd);
		EXPECT_TRUE(file_holds(fd, self->len, 'O'));
		close(fd);
	}
	EXPECT_TRUE(holds(c, self->len, 'O'));
	munmap(c, self->len);
}

/* PVMMAP_MOVE takes the mapping away from the source; it stays shared. */
TEST_F(shared, move)
{
	char line[512];
	char *c = clone_of(self->child, self->map, self->len, PVMMAP_MOVE);

	ASSERT_NE(NULL, c);
	EXPECT_FALSE(maps_line(self->child, (unsigned long)self->map, line,
			       sizeof(line)));
	fill(c, self->len, 'M');
	EXPECT_TRUE(holds(self->map, self->len, 'M'));
	munmap(c, self->len);
}

/* A memfd with a write seal: no new writable shared mapping, as mmap(2). */
TEST(write_sealed_memfd)
{
	unsigned long len;
	char *rw, *ro, *priv, *c;
	long maps;
	int fd;

	page_size = sysconf(_SC_PAGESIZE);
	len = 4 * page_size;
	fd = memfd_create("pvmmap-sealed", MFD_ALLOW_SEALING);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ftruncate(fd, len));
	rw = map_object(fd, len, PROT_READ | PROT_WRITE, MAP_SHARED);
	ASSERT_NE(NULL, rw);
	fill(rw, len, 'A');
	/* Before the seal: read-only, but mprotect() could make it writable. */
	ro = map_object(fd, len, PROT_READ, MAP_SHARED);
	ASSERT_NE(NULL, ro);
	priv = map_object(fd, len, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	ASSERT_NE(NULL, priv);
	ASSERT_EQ(0, fcntl(fd, F_ADD_SEALS, F_SEAL_FUTURE_WRITE));

	maps = map_count();
	errno = 0;
	EXPECT_EQ(NULL, clone_of(getpid(), rw, len, 0));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(maps, map_count());
	EXPECT_TRUE(holds(rw, len, 'A'));

	/* A read-only clone is allowed and stays read-only. */
	c = clone_of(getpid(), ro, len, 0);
	ASSERT_NE(NULL, c);
	EXPECT_TRUE(holds(c, len, 'A'));
	EXPECT_EQ(-1, mprotect(c, len, PROT_READ | PROT_WRITE));
	EXPECT_EQ(EACCES, errno);
	munmap(c, len);

	/* Private clones never write to the memfd. */
	c = clone_of(getpid(), priv, len, 0);
	ASSERT_NE(NULL, c);
	fill(c, len, 'B');
	EXPECT_TRUE(holds(rw, len, 'A'));
	munmap(c, len);
	munmap(priv, len);
	munmap(ro, len);
	munmap(rw, len);
	close(fd);
}

/*
 * The LSM hook of mmap(2), security_mmap_file(), runs for the clone: the
 * function tracer shows it called from process_vm_mmap's code.
 */
#define TRACING "/sys/kernel/tracing/"

static int trace_write(const char *file, const char *s)
{
	char path[128];

	snprintf(path, sizeof(path), TRACING "%s", file);
	return write_file(path, s);
}

TEST(lsm_hook_is_called)
{
	char line[512], pid[16];
	int fd, calls = 0;
	char *p, *c;
	FILE *f;

	page_size = sysconf(_SC_PAGESIZE);
	if (trace_write("set_ftrace_filter", "security_mmap_file"))
		SKIP(return, "no function tracer");
	snprintf(pid, sizeof(pid), "%d", getpid());
	fd = memfd_create("pvmmap-lsm", 0);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ftruncate(fd, page_size));
	p = map_object(fd, page_size, PROT_READ | PROT_WRITE, MAP_SHARED);
	ASSERT_NE(NULL, p);
	ASSERT_EQ(0, trace_write("set_ftrace_pid", pid));
	ASSERT_EQ(0, trace_write("trace", ""));
	ASSERT_EQ(0, trace_write("current_tracer", "function"));
	ASSERT_EQ(0, trace_write("tracing_on", "1"));
	c = clone_of(getpid(), p, page_size, 0);
	trace_write("tracing_on", "0");
	ASSERT_NE(NULL, c);

	f = fopen(TRACING "trace", "r");
	ASSERT_NE(NULL, f);
	while (fgets(line, sizeof(line), f)) {
		char *caller = strstr(line, "security_mmap_file <-");

		if (!caller)
			continue;
		TH_LOG("%s", caller);
		/* The helper, or the Rust code if the helper tail-calls. */
		if (strstr(caller, "pvmmap_security_mmap") ||
		    strstr(caller, "process_vm_mmap"))
			calls++;
	}
	fclose(f);
	EXPECT_LE(1, calls);
	trace_write("current_tracer", "nop");
	trace_write("set_ftrace_pid", "");
	trace_write("set_ftrace_filter", "");
	munmap(c, page_size);
	munmap(p, page_size);
	close(fd);
}

/*
 * mlock and KSM merging belong to the source's owner: the clone is neither
 * locked nor mergeable, and the caller's locked memory does not grow.
 */
TEST(mlock_and_ksm_are_not_inherited)
{
	char locked[64], flags[256];
	unsigned long len;
	long vmlck;
	char *p, *c;

	page_size = sysconf(_SC_PAGESIZE);
	len = PAGES * page_size;
	p = map_object(-1, len, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	ASSERT_NE(NULL, p);
	fill(p, len, 'A');
	if (mlock(p, len))
		SKIP(return, "mlock: %s", strerror(errno));
	madvise(p, len, MADV_MERGEABLE);
	ASSERT_TRUE(smaps_value((unsigned long)p, "VmFlags", flags,
				sizeof(flags)));
	EXPECT_NE(NULL, strstr(flags, " lo"));
	vmlck = kb_of("/proc/self/status", "VmLck");
	EXPECT_LE(len / 1024, vmlck);

	c = clone_of(getpid(), p, len, 0);
	ASSERT_NE(NULL, c);
	EXPECT_TRUE(holds(c, len, 'A'));
	ASSERT_TRUE(smaps_value((unsigned long)c, "VmFlags", flags,
				sizeof(flags)));
	EXPECT_EQ(NULL, strstr(flags, " lo"));
	EXPECT_EQ(NULL, strstr(flags, " mg"));
	ASSERT_TRUE(smaps_value((unsigned long)c, "Locked", locked,
				sizeof(locked)));
	EXPECT_EQ(0, strtol(locked, NULL, 10));
	EXPECT_EQ(vmlck, kb_of("/proc/self/status", "VmLck"));
	munmap(c, len);
	munlock(p, len);
	munmap(p, len);
}

/*
 * A protection key is the source's: the clone has key 0, as a new mapping
 * has, whatever key of the same number means in the caller.
 */
TEST(protection_key_is_not_inherited)
{
	char key[64];
	unsigned long len;
	char *p, *c;
	int pkey;

	page_size = sysconf(_SC_PAGESIZE);
	len = 4 * page_size;
	pkey = syscall(__NR_pkey_alloc, 0, 0);
	if (pkey < 0)
		SKIP(return, "no protection keys (%s)", strerror(errno));
	p = map_object(-1, len, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	ASSERT_NE(NULL, p);
	fill(p, len, 'K');
	ASSERT_EQ(0, syscall(__NR_pkey_mprotect, p, len,
			     PROT_READ | PROT_WRITE, pkey));
	ASSERT_TRUE(smaps_value((unsigned long)p, "ProtectionKey", key,
				sizeof(key)));
	EXPECT_EQ(pkey, strtol(key, NULL, 10));
	c = clone_of(getpid(), p, len, 0);
	ASSERT_NE(NULL, c);
	ASSERT_TRUE(smaps_value((unsigned long)c, "ProtectionKey", key,
				sizeof(key)));
	EXPECT_EQ(0, strtol(key, NULL, 10));
	EXPECT_TRUE(holds(c, len, 'K'));
	munmap(c, len);
	munmap(p, len);
	syscall(__NR_pkey_free, pkey);
}

/*
 * Memory-Deny-Write-Execute: a clone brings in code another process may
 * have written, so a process with MDWE gets no executable clone (EACCES,
 * as mmap(2) and mprotect(2) say); data is still fine.  MDWE cannot be
 * undone, so a child sets it and reports.
 */
TEST(mdwe_refuses_executable_clones)
{
	unsigned long len;
	char *code, *data;
	pid_t child;
	int status;

	page_size = sysconf(_SC_PAGESIZE);
	len = 4 * page_size;
	code = map_object(-1, len, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	data = map_object(-1, len, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	ASSERT_NE(NULL, code);
	ASSERT_NE(NULL, data);
	memset(code, 0xc3, len);	/* ret */
	fill(data, len, 'A');
	ASSERT_EQ(0, mprotect(code, len, PROT_READ | PROT_EXEC));

	child = fork();
	ASSERT_LE(0, child);
	if (child == 0) {
		long maps;
		char *c;

		if (prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0))
			_exit(4);
		/* Without MDWE this would work: see the parent's check. */
		maps = map_count();
		errno = 0;
		if (clone_of(getppid(), code, len, 0) || errno != EACCES)
			_exit(1);
		if (map_count() != maps)
			_exit(2);
		c = clone_of(getppid(), data, len, 0);
		if (!c || !holds(c, len, 'A'))
			_exit(3);
		_exit(0);
	}
	ASSERT_EQ(child, waitpid(child, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	if (WEXITSTATUS(status) == 4)
		SKIP(return, "no MDWE");
	EXPECT_EQ(0, WEXITSTATUS(status));
	/* Without MDWE an executable clone is fine. */
	data = clone_of(getpid(), code, len, 0);
	EXPECT_NE(NULL, data);
	if (data)
		munmap(data, len);
}

TEST_HARNESS_MAIN
