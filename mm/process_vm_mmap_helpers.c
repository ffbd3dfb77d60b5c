// SPDX-License-Identifier: GPL-2.0
/*
 * process_vm_mmap(2): the system call entry and the C helpers that the Rust
 * implementation (mm/process_vm_mmap.rs) needs for mm internals that are
 * static, inline or macro-only.  Each helper does one step; the order of the
 * steps, the checks between them and the unwinding are in Rust.
 */

#include <linux/mm.h>
#include <linux/hugetlb.h>
#include <linux/khugepaged.h>
#include <linux/ksm.h>
#include <linux/memfd.h>
#include <linux/mman.h>
#include <linux/mmu_notifier.h>
#include <linux/mempolicy.h>
#include <linux/perf_event.h>
#include <linux/pkeys.h>
#include <linux/rmap.h>
#include <linux/secretmem.h>
#include <linux/security.h>
#include <linux/syscalls.h>
#include <linux/uaccess.h>
#include <linux/uprobes.h>
#include <linux/userfaultfd_k.h>
#include <asm/tlbflush.h>

#include "internal.h"
#include "vma.h"
#include "process_vm_mmap.h"

/*
 * The entry stays in C for the syscall metadata (tracing, pt_regs wrappers,
 * error injection); the work is done in Rust.
 */
SYSCALL_DEFINE5(process_vm_mmap, pid_t, pid, unsigned long, src_addr,
		unsigned long, len, unsigned long, dst_addr, unsigned long, flags)
{
	return process_vm_mmap_rust(pid, src_addr, len, dst_addr, flags);
}

/**
 * pvmmap_task_size() - End of the caller's user address space.
 *
 * Return: TASK_SIZE, the limit mmap(2) places mappings under; an arch
 * macro that may depend on the caller (compat tasks), hence a helper.
 */
unsigned long pvmmap_task_size(void)
{
	return TASK_SIZE;
}

/* The kind of @vma by what backs it, not by flags alone. */
static enum pvmmap_vma_kind pvmmap_vma_kind(struct vm_area_struct *vma)
{
	/* memfd_secret is a regular-looking file whose pages are not mappable. */
	if (vma_is_secretmem(vma) || vma_is_dax(vma))
		return PVMMAP_VMA_OTHER;
	if (vma_is_anonymous(vma))
		return PVMMAP_VMA_ANONYMOUS;
	if (vma_is_shmem(vma))
		return PVMMAP_VMA_SHMEM;
	if (vma->vm_file && vma->vm_ops &&
	    vma->vm_ops->map_pages == filemap_map_pages &&
	    S_ISREG(file_inode(vma->vm_file)->i_mode))
		return PVMMAP_VMA_PAGE_CACHE_FILE;
	return PVMMAP_VMA_OTHER;
}

/*
 * Whether the seals of the memfd mapped by @vma forbid a new mapping with
 * its flags: a shared writable mapping of a write-sealed memfd.
 */
static bool pvmmap_write_sealed(struct vm_area_struct *vma)
{
	vma_flags_t flags = vma->flags;

	return vma->vm_file && memfd_check_seals_mmap(vma->vm_file, &flags);
}

/* The PROT_* bits of @vma, as mmap(2) would have been asked for them. */
static unsigned long pvmmap_vma_prot(struct vm_area_struct *vma)
{
	return (vma_test(vma, VMA_READ_BIT) ? PROT_READ : 0) |
	       (vma_test(vma, VMA_WRITE_BIT) ? PROT_WRITE : 0) |
	       (vma_test(vma, VMA_EXEC_BIT) ? PROT_EXEC : 0);
}

/**
 * pvmmap_vma_facts() - Describe the VMA of @mm that contains @addr.
 * @mm: the source mm, mmap lock held
 * @addr: an address in the source range
 * @facts: filled in when a VMA contains @addr
 *
 * The VMA flags are a bitmap whose macros bindgen cannot evaluate, and
 * vm_ops identities are C symbols: the facts the Rust policy decides on are
 * gathered here.
 *
 * Return: the VMA, or NULL if no VMA contains @addr (a hole).
 */
struct vm_area_struct *pvmmap_vma_facts(struct mm_struct *mm,
					unsigned long addr,
					struct pvmmap_vma_facts *facts)
{
	struct vm_area_struct *vma = vma_lookup(mm, addr);

	if (!vma)
		return NULL;
	facts->start = vma->vm_start;
	facts->end = vma->vm_end;
	facts->kind = pvmmap_vma_kind(vma);
	facts->file = vma->vm_file;
	facts->prot = pvmmap_vma_prot(vma);
	facts->shared = vma->vm_flags & VM_MAYSHARE;
	facts->special = vma->vm_flags & (VM_SPECIAL | VM_DONTEXPAND);
	facts->hugetlb = is_vm_hugetlb_page(vma);
	facts->no_fork_copy = vma->vm_flags & (VM_DONTCOPY | VM_WIPEONFORK);
	facts->droppable = vma->vm_flags & VM_DROPPABLE;
	facts->userfaultfd = userfaultfd_armed(vma);
	facts->shadow_stack = vma->vm_flags & VM_SHADOW_STACK;
	facts->sealed = vma_is_sealed(vma);
	facts->write_sealed = pvmmap_write_sealed(vma);
	return vma;
}

/**
 * pvmmap_in_gate_area() - Whether @addr is in the gate area of @mm.
 * @mm: the source mm
 * @addr: a user address
 *
 * The gate area (x86's vsyscall page) is mapped in every process but has no
 * VMA, and lies above TASK_SIZE.
 *
 * Return: true if it is.
 */
bool pvmmap_in_gate_area(struct mm_struct *mm, unsigned long addr)
{
	return in_gate_area(mm, addr);
}

/**
 * pvmmap_untag_src() - Untag a source address the way the target's mm does.
 * @mm: the source mm
 * @addr: the source address as the caller gave it
 * @untagged: the address without tag bits (arm64 TBI, x86 LAM)
 *
 * As process_madvise(2) does: the tag bits that the target's mm ignores are
 * cleared, under its mmap lock, which the untag mask needs.
 *
 * Return: 0, or -EINTR if a fatal signal arrived while waiting for the lock.
 */
int pvmmap_untag_src(struct mm_struct *mm, unsigned long addr,
		     unsigned long *untagged)
{
	if (mmap_read_lock_killable(mm))
		return -EINTR;
	*untagged = untagged_addr_remote(mm, addr);
	mmap_read_unlock(mm);
	return 0;
}

/**
 * pvmmap_src_unstable() - Whether the OOM reaper has torn the source down.
 * @mm: the source mm, locked
 *
 * An OOM-reaped mm (MMF_UNSTABLE) has lost pages that its page tables still
 * seem to describe; process_vm_readv(2) fails on it with EFAULT.
 *
 * Return: true if the source must not be cloned.
 */
bool pvmmap_src_unstable(struct mm_struct *mm)
{
	return mm_flags_test(MMF_UNSTABLE, mm);
}

/**
 * pvmmap_security_mmap() - Ask the LSMs whether the caller may map a file.
 * @file: the file a source mapping maps (for shared anonymous memory, its
 *	shmem file), or NULL for anonymous memory
 * @prot: the PROT_* bits of the source mapping
 * @shared: whether it is a shared mapping
 *
 * The clone is a new mapping of @file in the caller, as mmap(2) would have
 * made it.  Called with no mmap lock held, as mmap(2) calls the hook.
 *
 * Return: 0, or the negative errno of the refusal.
 */
int pvmmap_security_mmap(struct file *file, unsigned long prot, bool shared)
{
	unsigned long flags = shared ? MAP_SHARED : MAP_PRIVATE;

	if (!file)
		flags |= MAP_ANONYMOUS;
	return security_mmap_file(file, prot, flags);
}

/**
 * pvmmap_dst_denies_exec() - Whether the caller refuses new executable code.
 *
 * Memory-Deny-Write-Execute (prctl(PR_SET_MDWE)): a clone brings in code
 * that another process may have written, so no executable clone at all.
 *
 * Return: true if the current mm has MDWE.
 */
bool pvmmap_dst_denies_exec(void)
{
	return mm_flags_test(MMF_HAS_MDWE, current->mm);
}

/**
 * pvmmap_dst_area() - Find a free destination range in the current mm.
 * @src: start of the source range
 * @len: length
 * @hint: the caller's hint, or 0
 *
 * The range is congruent to @src modulo the PMD size when @len covers a
 * PMD, so that huge pages can be copied as huge pages.
 *
 * Return: the address, or a negative errno (as get_unmapped_area()).
 */
unsigned long pvmmap_dst_area(unsigned long src, unsigned long len,
			      unsigned long hint)
{
	unsigned long addr, off;

	if (IS_ENABLED(CONFIG_TRANSPARENT_HUGEPAGE) && len >= HPAGE_PMD_SIZE &&
	    len + HPAGE_PMD_SIZE > len) {
		addr = get_unmapped_area(NULL, hint, len + HPAGE_PMD_SIZE, 0, 0);
		if (!IS_ERR_VALUE(addr)) {
			off = (src - addr) & ~HPAGE_PMD_MASK;
			return addr + off;
		}
	}
	return get_unmapped_area(NULL, hint, len, 0, 0);
}

/**
 * pvmmap_dst_unmap() - Make room for a PVMMAP_FIXED destination.
 * @addr: start, page aligned, below TASK_SIZE with @len
 * @len: length
 *
 * Unmaps what the current mm maps in the range, as mmap(MAP_FIXED) does,
 * under the current mm's lock alone: a file's ->close() may wait for the
 * source process (a FUSE daemon writing back), which needs its own mmap
 * lock.  Delivers UFFD_EVENT_UNMAP to a userfaultfd that registered the
 * range, after the lock is dropped, as munmap(2) does.
 *
 * Return: 0; -EPERM below mmap_min_addr (or as the LSM says) or over sealed
 * mappings; -ENOMEM; -EINTR on a fatal signal while waiting for the lock.
 */
int pvmmap_dst_unmap(unsigned long addr, unsigned long len)
{
	struct mm_struct *mm = current->mm;
	LIST_HEAD(uf);
	int err = security_mmap_addr(addr);

	if (err)
		return err;
	if (mmap_write_lock_killable(mm))
		return -EINTR;
	err = do_munmap(mm, addr, len, &uf);
	mmap_write_unlock(mm);
	userfaultfd_unmap_complete(mm, &uf);
	return err;
}

/**
 * pvmmap_dst_free() - Check an exact destination in the current mm.
 * @addr: start, page aligned, below TASK_SIZE with @len
 * @len: length
 *
 * Return: 0 if nothing is mapped in the range, -EEXIST if something is,
 * -EPERM below mmap_min_addr (or as the LSM says).
 */
int pvmmap_dst_free(unsigned long addr, unsigned long len)
{
	int err = security_mmap_addr(addr);

	if (err)
		return err;
	return find_vma_intersection(current->mm, addr, addr + len) ?
	       -EEXIST : 0;
}

/**
 * pvmmap_clone_vma() - Create and link the destination VMA for a piece of
 * a source VMA.
 * @src_vma: the source VMA, its mm locked for write
 * @start: start of the piece in @src_vma
 * @end: end of the piece
 * @dst: where the piece goes in the current mm, locked for write, free
 *
 * As dup_mmap() does for a child, but at another address and charged to
 * the current mm: the map count, RLIMIT_AS, RLIMIT_MEMLOCK and overcommit
 * limits; the page offsets that rmap needs (file and anon) follow the
 * piece; the anon_vma is forked from the source's, and its tree marked as
 * cloned elsewhere for KSM (anon_vma_set_cloned()); mlock, userfaultfd,
 * seals, KSM merging, protection keys (an execute-only piece gets the
 * current mm's execute-only key) and swap readahead state are not
 * inherited, the rest of the protection is.  As for a new mapping of
 * mmap(2), the current mm's defaults apply (mm->def_vma_flags,
 * PR_SET_MEMORY_MERGE's KSM merging) and the clone is new to soft-dirty
 * trackers.  A shared mapping of a file holds off
 * write seals as mmap(2) does, and a read-only one of a write-sealed memfd
 * cannot be made writable.  The page tables are not copied.
 *
 * Return: the new VMA, or an ERR_PTR: -EPERM if the memfd was write-sealed
 * since pvmmap_vma_facts(), -EAGAIN if mlockall(MCL_FUTURE) would exceed
 * RLIMIT_MEMLOCK (as mmap(2) says), -ENOMEM for any other limit or
 * allocation.
 */
struct vm_area_struct *pvmmap_clone_vma(struct vm_area_struct *src_vma,
					unsigned long start, unsigned long end,
					unsigned long dst)
{
	struct mm_struct *mm = current->mm;
	unsigned long pages = (end - start) >> PAGE_SHIFT;
	pgoff_t delta = (start - src_vma->vm_start) >> PAGE_SHIFT;
	struct vm_area_struct *vma;
	struct file *file = src_vma->vm_file;
	bool charged = false, writable = false;
	vma_flags_t defaults = mm->def_vma_flags;
	int err = -ENOMEM;

	if (mm->map_count >= get_sysctl_max_map_count())
		return ERR_PTR(-ENOMEM);
	if (!mlock_future_ok(mm, vma_flags_test(&defaults, VMA_LOCKED_BIT),
			     end - start))
		return ERR_PTR(-EAGAIN);
	if (vma_test(src_vma, VMA_ACCOUNT_BIT)) {
		if (security_vm_enough_memory_mm(mm, pages))
			return ERR_PTR(-ENOMEM);
		charged = true;
	}

	vma = vm_area_dup(src_vma);
	if (!vma)
		goto unacct;
	vma->vm_mm = mm;
	vma->vm_start = dst;
	vma->vm_end = dst + (end - start);
	/*
	 * A protection key means something in the source's mm only: the
	 * clone gets key 0, as mmap() gives, or, if it is execute-only, the
	 * caller's execute-only key (x86), as mmap(PROT_EXEC) gives.  What
	 * VM_ARCH_CLEAR holds is the rest of the protection the source was
	 * mapped with (arm64's BTI guard, sparc's ADI), which the clone keeps
	 * as a fork() child does: mprotect() clears it only to derive it
	 * again from its prot argument.
	 */
	__vm_flags_mod(vma, 0, VM_LOCKED_MASK | __VM_UFFD_FLAGS | VM_SEALED |
		       VM_MERGEABLE | VM_GROWSDOWN | VM_GROWSUP |
		       ARCH_VM_PKEY_FLAGS);
	if ((vma->vm_flags & VM_ACCESS_FLAGS) == VM_EXEC) {
		int pkey = execute_only_pkey(mm);

		if (pkey > 0)
			__vm_flags_mod(vma,
				       arch_calc_vm_prot_bits(PROT_EXEC, pkey),
				       0);
	}
	/*
	 * The caller's defaults for a new mapping, as mmap() applies them;
	 * mlock comes once the pages are there (pvmmap_clone_done()).
	 */
	vma_flags_clear_mask(&defaults, VMA_LOCKED_MASK);
	vma_flags_set_mask(&vma->flags, defaults);
	if (vma_test(vma, VMA_NOHUGEPAGE_BIT))
		vma_clear_flags_mask(vma, mk_vma_flags(VMA_HUGEPAGE_BIT));
	vma->flags = ksm_vma_flags(mm, file, vma->flags);
	/* A new mapping for soft-dirty trackers, as after mmap(). */
	if (pgtable_supports_soft_dirty())
		__vm_flags_mod(vma, VM_SOFTDIRTY, 0);
#ifdef CONFIG_SWAP
	/* The source's readahead window says nothing about the clone's use. */
	atomic_long_set(&vma->swap_readahead_info, 0);
#endif
	if (file) {
		/* Seals may have been added since the facts were taken. */
		err = memfd_check_seals_mmap(file, &vma->flags);
		if (err)
			goto free;
		err = -ENOMEM;
	}
	/* RLIMIT_AS and RLIMIT_DATA, with the flags the clone has. */
	if (!may_expand_vm(mm, &vma->flags, pages))
		goto free;
	if (src_vma->anon_vma || !vma_is_anonymous(src_vma))
		vma_set_pgoff(vma, vma_start_pgoff(src_vma) + delta);
	else
		vma_set_pgoff(vma, dst >> PAGE_SHIFT);
	/* rmap finds anon folios by this offset: it must follow the piece. */
	if (src_vma->anon_vma)
		__vma_set_anon_pgoff(vma, vma_start_anon_pgoff(src_vma) + delta);
	else
		__vma_set_anon_pgoff(vma, dst >> PAGE_SHIFT);
	vma->vm_userfaultfd_ctx = NULL_VM_UFFD_CTX;
	if (vma_dup_policy(src_vma, vma))
		goto free;
	if (anon_vma_fork(vma, src_vma))
		goto free_policy;
	/* Its pages will be mapped where KSM's rmap does not look for them. */
	if (src_vma->anon_vma)
		anon_vma_set_cloned(src_vma->anon_vma);
	vma_set_page_prot(vma);
	/* As mmap_region(): no write seal between the check and the link. */
	if (file && vma_is_shared_maywrite(vma)) {
		err = mapping_map_writable(file->f_mapping);
		if (err)
			goto unlink_anon;
		writable = true;
	}
	if (file)
		get_file(file);
	err = vma_link(mm, vma);
	if (writable)
		mapping_unmap_writable(file->f_mapping);
	if (err)
		goto put_file;
	/* As dup_mmap(): from here on, unmapping it calls ->close(). */
	if (vma->vm_ops && vma->vm_ops->open)
		vma->vm_ops->open(vma);
	vm_stat_account(mm, vma->vm_flags, pages);
	perf_event_mmap(vma);
	return vma;

put_file:
	if (file)
		fput(file);
unlink_anon:
	unlink_anon_vmas(vma);
free_policy:
	mpol_put(vma_policy(vma));
free:
	vm_area_free(vma);
unacct:
	if (charged)
		vm_unacct_memory(pages);
	return ERR_PTR(err);
}

/**
 * pvmmap_clone_done() - Finish a destination VMA whose page tables are copied.
 * @vma: from pvmmap_clone_vma()
 * @src_vma: the source VMA it was cloned from
 *
 * The copy may have brought uprobe breakpoints along, as dup_mmap() does:
 * the caller's mm is marked as having uprobes (uprobe_dup_mmap()).  Then
 * the breakpoints of registered uprobes go into the new file mapping, as
 * mmap(2) puts them; after the copy, which expects empty page tables.  The
 * caller holds pvmmap_uprobe_lock(), so no uprobe comes or goes meanwhile.
 *
 * Then what mmap(2) does for a new mapping: with mlockall(MCL_FUTURE) the
 * clone is locked and the pages it maps already are mlocked (as mlock(2)
 * does; pvmmap_populate() brings in the rest), and khugepaged learns of it.
 */
void pvmmap_clone_done(struct vm_area_struct *vma,
		       struct vm_area_struct *src_vma)
{
	struct mm_struct *mm = vma->vm_mm;

	uprobe_dup_mmap(src_vma->vm_mm, mm);
	uprobe_mmap(vma);
	if (vma_flags_test(&mm->def_vma_flags, VMA_LOCKED_BIT) &&
	    vma_supports_mlock(vma)) {
		vma_flags_t flags = vma->flags;

		vma_flags_set(&flags, VMA_LOCKED_BIT);
		if (vma_flags_test(&mm->def_vma_flags, VMA_LOCKONFAULT_BIT))
			vma_flags_set(&flags, VMA_LOCKONFAULT_BIT);
		mm->locked_vm += vma_pages(vma);
		mlock_vma_pages_range(vma, vma->vm_start, vma->vm_end, &flags);
	}
	khugepaged_enter_vma(vma, vma->vm_flags);
}

/**
 * pvmmap_populate() - Fault in a clone that mlockall(MCL_FUTURE) locked.
 * @start: start of the clone in the current mm
 * @len: its length
 *
 * As mmap(2) populates a mapping that it locked, with no mmap lock held;
 * pages that cannot be brought in are left for the first access.
 */
void pvmmap_populate(unsigned long start, unsigned long len)
{
	vma_flags_t defaults = current->mm->def_vma_flags;

	if (vma_flags_test(&defaults, VMA_LOCKED_BIT) &&
	    !vma_flags_test(&defaults, VMA_LOCKONFAULT_BIT))
		mm_populate(start, len);
}

/**
 * pvmmap_uprobe_lock() - Hold off uprobe registration during a clone.
 *
 * A clone copies breakpoints as fork() does, and like dup_mmap() it must
 * not run while a uprobe is registered or unregistered: the unregistering
 * side would not see the new mm and leave a breakpoint without a uprobe
 * in it.  Taken before the mmap locks, as dup_mmap() takes it.
 */
void pvmmap_uprobe_lock(void)
{
	uprobe_start_dup_mmap();
}

/**
 * pvmmap_uprobe_unlock() - Undo pvmmap_uprobe_lock(), after the mmap locks.
 */
void pvmmap_uprobe_unlock(void)
{
	uprobe_end_dup_mmap();
}

/**
 * pvmmap_copy_extent() - Copy the page tables of one extent.
 * @dst_vma: from pvmmap_clone_vma()
 * @src_vma: the source VMA, write-locked by pvmmap_lock_src_vma()
 * @dst: destination address of the extent
 * @src: source address of the extent
 * @len: length; neither range crosses a PMD boundary
 * @whole_pmd: the extent is one whole, aligned PMD on both sides
 *
 * copy_page_range_extent() inside an MMU notifier range for the write
 * protection of the source, as copy_page_range() puts around a COW copy.
 * The caller holds the source's write_protect_seq
 * (pvmmap_src_write_protect_begin()).
 *
 * Return: 0, or the errno of copy_page_range_extent(): -ENOMEM, -EINTR,
 * -EAGAIN, -EFAULT, -EHWPOISON.
 */
int pvmmap_copy_extent(struct vm_area_struct *dst_vma,
		       struct vm_area_struct *src_vma, unsigned long dst,
		       unsigned long src, unsigned long len, bool whole_pmd)
{
	struct mmu_notifier_range range;
	bool is_cow = vma_is_cow_mapping(src_vma);
	int ret;

	if (is_cow) {
		mmu_notifier_range_init(&range, MMU_NOTIFY_PROTECTION_PAGE, 0,
					src_vma->vm_mm, src, src + len);
		mmu_notifier_invalidate_range_start(&range);
		vma_assert_write_locked(src_vma);
	}
	ret = copy_page_range_extent(dst_vma, src_vma, dst, src, len,
				     whole_pmd);
	if (is_cow)
		mmu_notifier_invalidate_range_end(&range);
	return ret;
}

/**
 * pvmmap_src_write_protect_begin() - Hold off GUP-fast pins of the source.
 * @mm: the source mm, locked for write
 *
 * The source's write_protect_seq, odd from before the first page table is
 * copied or moved to after the last: GUP-fast (FOLL_PIN) in the source then
 * fails, or drops a pin it took meanwhile, so the copier's and the mover's
 * pin checks see every pin that lasts (folio_needs_cow_for_dma(),
 * move_page_range_extent_prepare()), as copy_page_range() relies on.
 */
void pvmmap_src_write_protect_begin(struct mm_struct *mm)
{
	raw_write_seqcount_begin(&mm->write_protect_seq);
}

/**
 * pvmmap_src_write_protect_end() - Undo pvmmap_src_write_protect_begin().
 * @mm: the source mm, still locked
 */
void pvmmap_src_write_protect_end(struct mm_struct *mm)
{
	raw_write_seqcount_end(&mm->write_protect_seq);
}

/**
 * pvmmap_move_prepare() - See how one extent of PVMMAP_MOVE can be moved.
 * @dst_vma: from pvmmap_clone_vma()
 * @src_vma: the source VMA, write-locked by pvmmap_lock_src_vma()
 * @dst: destination address of the extent
 * @src: source address of the extent
 * @len: length; neither range crosses a PMD boundary
 * @whole_pmd: the extent is one whole, aligned PMD on both sides
 * @plan: for pvmmap_move_extent(), set if the extent can move
 *
 * move_page_range_extent_prepare(), under the source's write_protect_seq.
 *
 * Return: @plan->kind (greater than 0) if the extent can move, 0 if it
 * must be copied by pvmmap_copy_extent(), -ENOMEM.
 */
int pvmmap_move_prepare(struct vm_area_struct *dst_vma,
			struct vm_area_struct *src_vma, unsigned long dst,
			unsigned long src, unsigned long len, bool whole_pmd,
			struct pvmmap_move_plan *plan)
{
	struct move_extent_plan p;
	int ret;

	ret = move_page_range_extent_prepare(dst_vma, src_vma, dst, src, len,
					     whole_pmd, &p);
	if (ret > 0)
		*plan = (struct pvmmap_move_plan){ p.kind, p.nr_pages,
						   p.nr_swap };
	return ret;
}

/**
 * pvmmap_move_drain() - Drain the per-CPU LRU batches before a move.
 *
 * A folio that the source faulted in last may still sit in a per-CPU LRU
 * batch, which holds a reference to it; the mover would mistake it for
 * one that something else holds (vmsplice(2)) and write-protect the page.
 * Drained once per call, before the first move.
 */
void pvmmap_move_drain(void)
{
	lru_add_drain_all();
}

/**
 * pvmmap_move_begin() - Open a section in which entries of @src_vma move.
 * @move: the section's state
 * @src_vma: the source VMA, write-locked, with an anon_vma
 * @start: start of what moves in @src_vma
 * @end: end of it
 *
 * Tells the source's MMU notifiers that [@start, @end) is cleared, then
 * locks the source's anon_vma for write, as mremap() takes the rmap locks:
 * an rmap walk (reclaim, migration) sees each entry in the source or in
 * the destination, never in neither.
 */
void pvmmap_move_begin(struct pvmmap_move *move,
		       struct vm_area_struct *src_vma, unsigned long start,
		       unsigned long end)
{
	move->vma = src_vma;
	mmu_notifier_range_init(&move->range, MMU_NOTIFY_CLEAR, 0,
				src_vma->vm_mm, start, end);
	mmu_notifier_invalidate_range_start(&move->range);
	anon_vma_lock_write(src_vma->anon_vma);
}

/**
 * pvmmap_move_extent() - Move the entries of one prepared extent.
 * @move: the open section of the source VMA
 * @dst_vma: from pvmmap_clone_vma()
 * @dst: destination address of the extent
 * @src: source address of the extent
 * @len: length, as given to pvmmap_move_prepare()
 * @plan: what pvmmap_move_prepare() set
 *
 * move_page_range_extent(); cannot fail.
 */
void pvmmap_move_extent(struct pvmmap_move *move,
			struct vm_area_struct *dst_vma, unsigned long dst,
			unsigned long src, unsigned long len,
			const struct pvmmap_move_plan *plan)
{
	struct move_extent_plan p = { plan->kind, plan->nr_pages,
				      plan->nr_swap };

	move_page_range_extent(dst_vma, move->vma, dst, src, len, &p);
}

/**
 * pvmmap_move_end() - Close a section of pvmmap_move_begin().
 * @move: the section
 *
 * Flushes the source's TLB over the section before the anon_vma lock goes:
 * once rmap can find a moved page in the destination only, reclaim or
 * migration may free it, and no source CPU may still translate to it.
 */
void pvmmap_move_end(struct pvmmap_move *move)
{
	flush_tlb_range(move->vma, move->range.start, move->range.end);
	anon_vma_unlock_write(move->vma->anon_vma);
	mmu_notifier_invalidate_range_end(&move->range);
}

/**
 * pvmmap_split_src() - Split the source VMAs at the ends of a PVMMAP_MOVE.
 * @mm: the source mm, locked for write
 * @start: start of the source range, page aligned
 * @len: length, the range checked against @mm's own task_size
 *
 * Before anything moves, so that unmapping the source afterwards splits
 * nothing and cannot fail (pvmmap_unmap_src()).  A failed call may leave
 * the source split, as a failed munmap(2) may.
 *
 * Return: 0, or -ENOMEM if a VMA could not be split.
 */
int pvmmap_split_src(struct mm_struct *mm, unsigned long start,
		     unsigned long len)
{
	unsigned long end = start + len;
	struct vm_area_struct *vma;
	int err;

	{
		VMA_ITERATOR(vmi, mm, start);

		vma = vma_find(&vmi, end);
		if (vma && vma->vm_start < start) {
			err = split_vma(&vmi, vma, start, 1);
			if (err)
				return err;
		}
	}
	{
		VMA_ITERATOR(vmi, mm, end - 1);

		vma = vma_find(&vmi, end);
		if (vma && vma->vm_end > end)
			return split_vma(&vmi, vma, end, 0);
	}
	return 0;
}

/**
 * pvmmap_lock_src_vma() - Write-lock a source VMA against per-VMA readers.
 * @vma: the VMA, its mm locked for write
 *
 * Return: 0, or -EINTR if a fatal signal arrived while waiting.
 */
int pvmmap_lock_src_vma(struct vm_area_struct *vma)
{
	return vma_start_write_killable(vma);
}

/**
 * pvmmap_unmap_src() - Unmap the source range of PVMMAP_MOVE.
 * @mm: the source mm, locked for write
 * @start: start, page aligned
 * @len: length, the range checked against @mm's own task_size
 *
 * Cannot fail: pvmmap_split_src() made the ends of the range VMA
 * boundaries, so whole VMAs go, as for pvmmap_undo().  What was moved is
 * gone from the source already; what was cloned is unmapped here.
 * do_munmap() would check the range against the caller's TASK_SIZE,
 * which for a compat caller says nothing about a 64-bit target's range.
 */
void pvmmap_unmap_src(struct mm_struct *mm, unsigned long start,
		      unsigned long len)
{
	VMA_ITERATOR(vmi, mm, start);

	do_vmi_munmap_nofail(&vmi, mm, start, start + len);
}

/**
 * pvmmap_undo() - Unmap what a failed clone created in the current mm.
 * @start: start of the clone
 * @len: length of what was created: whole VMAs of the clone
 *
 * Cannot fail: no partial clone is left mapped.  The current mm is locked
 * for write.
 */
void pvmmap_undo(unsigned long start, unsigned long len)
{
	VMA_ITERATOR(vmi, current->mm, start);

	do_vmi_munmap_nofail(&vmi, current->mm, start, start + len);
}

/**
 * pvmmap_flush_src() - Flush the source's TLB after write-protecting it.
 * @mm: the source mm, still locked
 *
 * As dup_mmap() does before it unlocks the parent.
 */
void pvmmap_flush_src(struct mm_struct *mm)
{
	flush_tlb_mm(mm);
}
