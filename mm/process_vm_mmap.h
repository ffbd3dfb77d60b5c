/* SPDX-License-Identifier: GPL-2.0 */
/*
 * process_vm_mmap(2): the seam between the Rust entry (mm/process_vm_mmap.rs)
 * and the C helpers (mm/process_vm_mmap_helpers.c).
 *
 * Rust sees this header through rust/bindings/bindings_helper.h: everything
 * the Rust side calls in C, and the one Rust function C calls, is declared
 * here and nowhere else.
 */
#ifndef _MM_PROCESS_VM_MMAP_H
#define _MM_PROCESS_VM_MMAP_H

#include <linux/mman.h>
#include <linux/types.h>

/* Implemented in Rust (mm/process_vm_mmap.rs), called by the syscall stub. */
long process_vm_mmap_rust(pid_t pid, unsigned long src_addr, unsigned long len,
			  unsigned long dst_addr, unsigned long flags);

/* C helpers for the Rust side (mm/process_vm_mmap_helpers.c). */
unsigned long pvmmap_task_size(void);

#endif /* _MM_PROCESS_VM_MMAP_H */
