/* SPDX-License-Identifier: GPL-2.0 */
/*
 * process_vm_mmap(2): the seam between the Rust entry (mm/process_vm_mmap.rs)
 * and the C helpers (mm/process_vm_mmap_helpers.c).
 *
 * Rust sees this header through rust/bindings/bindings_helper.h: everything
 * the Rust side calls in C, and the one Rust function C calls, is declared
 * here and nowhere else.  The helpers are documented where they are defined.
 */
#ifndef _MM_PROCESS_VM_MMAP_H
#define _MM_PROCESS_VM_MMAP_H

#include <linux/mman.h>
#include <linux/mmu_notifier.h>
#include <linux/types.h>

struct file;
struct mm_struct;
struct vm_area_struct;

/* Implemented in Rust (mm/process_vm_mmap.rs), called by the syscall stub. */
long process_vm_mmap_rust(pid_t pid, unsigned long src_addr, unsigned long len,
			  unsigned long dst_addr, unsigned long flags);

/* What a source VMA is: mm/process_vm_mmap/policy.rs decides on it. */
enum pvmmap_vma_kind {
	PVMMAP_VMA_ANONYMOUS,
	PVMMAP_VMA_SHMEM,
	PVMMAP_VMA_PAGE_CACHE_FILE,
	PVMMAP_VMA_OTHER,
};

/*
 * How pvmmap_move_prepare() found one extent, for pvmmap_move_extent(): a
 * copy of mm/internal.h's struct move_extent_plan, which Rust cannot see.
 */
struct pvmmap_move_plan {
	int kind;
	int nr_pages;
	int nr_swap;
};

/* A section in which entries of one source VMA move (pvmmap_move_begin()). */
struct pvmmap_move {
	struct vm_area_struct *vma;
	struct mmu_notifier_range range;
};

struct pvmmap_vma_facts {
	unsigned long start;
	unsigned long end;
	enum pvmmap_vma_kind kind;
	struct file *file;	/* the mapped file, or NULL */
	unsigned long prot;	/* PROT_READ, PROT_WRITE, PROT_EXEC */
	bool shared;		/* VM_MAYSHARE */
	bool special;		/* VM_PFNMAP, VM_IO, VM_MIXEDMAP, VM_DONTEXPAND */
	bool hugetlb;		/* VM_HUGETLB */
	bool no_fork_copy;	/* VM_DONTCOPY, VM_WIPEONFORK */
	bool droppable;		/* VM_DROPPABLE */
	bool userfaultfd;	/* registered with userfaultfd */
	bool shadow_stack;	/* VM_SHADOW_STACK */
	bool sealed;		/* mseal()ed */
	bool write_sealed;	/* memfd seals forbid this mapping anew */
};

unsigned long pvmmap_task_size(void);
struct vm_area_struct *pvmmap_vma_facts(struct mm_struct *mm,
					unsigned long addr,
					struct pvmmap_vma_facts *facts);
bool pvmmap_in_gate_area(struct mm_struct *mm, unsigned long addr);
int pvmmap_untag_src(struct mm_struct *mm, unsigned long addr,
		     unsigned long *untagged);
bool pvmmap_src_unstable(struct mm_struct *mm);
int pvmmap_security_mmap(struct file *file, unsigned long prot, bool shared);
bool pvmmap_dst_denies_exec(void);
int pvmmap_lock_src_vma(struct vm_area_struct *vma);
unsigned long pvmmap_dst_area(unsigned long src, unsigned long len,
			      unsigned long hint);
int pvmmap_dst_unmap(unsigned long addr, unsigned long len);
int pvmmap_dst_free(unsigned long addr, unsigned long len);
struct vm_area_struct *pvmmap_clone_vma(struct vm_area_struct *src_vma,
					unsigned long start, unsigned long end,
					unsigned long dst);
void pvmmap_clone_done(struct vm_area_struct *vma,
		       struct vm_area_struct *src_vma);
void pvmmap_populate(unsigned long start, unsigned long len);
void pvmmap_uprobe_lock(void);
void pvmmap_uprobe_unlock(void);
int pvmmap_copy_extent(struct vm_area_struct *dst_vma,
		       struct vm_area_struct *src_vma, unsigned long dst,
		       unsigned long src, unsigned long len, bool whole_pmd);
void pvmmap_src_write_protect_begin(struct mm_struct *mm);
void pvmmap_src_write_protect_end(struct mm_struct *mm);
int pvmmap_move_prepare(struct vm_area_struct *dst_vma,
			struct vm_area_struct *src_vma, unsigned long dst,
			unsigned long src, unsigned long len, bool whole_pmd,
			struct pvmmap_move_plan *plan);
void pvmmap_move_drain(void);
void pvmmap_move_begin(struct pvmmap_move *move,
		       struct vm_area_struct *src_vma, unsigned long start,
		       unsigned long end);
void pvmmap_move_extent(struct pvmmap_move *move,
			struct vm_area_struct *dst_vma, unsigned long dst,
			unsigned long src, unsigned long len,
			const struct pvmmap_move_plan *plan);
void pvmmap_move_end(struct pvmmap_move *move);
int pvmmap_split_src(struct mm_struct *mm, unsigned long start,
		     unsigned long len);
void pvmmap_unmap_src(struct mm_struct *mm, unsigned long start,
		      unsigned long len);
void pvmmap_undo(unsigned long start, unsigned long len);
void pvmmap_flush_src(struct mm_struct *mm);

#endif /* _MM_PROCESS_VM_MMAP_H */
