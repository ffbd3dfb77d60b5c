// SPDX-License-Identifier: GPL-2.0
/*
 * process_vm_mmap(2): the system call entry and the C helpers that the Rust
 * implementation (mm/process_vm_mmap.rs) needs for mm internals that are
 * static, inline or macro-only.
 */

#include <linux/mm.h>
#include <linux/syscalls.h>

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
