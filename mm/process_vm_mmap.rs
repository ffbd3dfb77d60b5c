// SPDX-License-Identifier: GPL-2.0

//! `process_vm_mmap(2)`: clone the mappings of a range of another process into the caller.
//!
//! The syscall stub in `mm/process_vm_mmap_helpers.c` calls [`process_vm_mmap_rust`], which
//! reads as the list of steps of the syscall:
//!
//! 1. check the arguments ([`request`], pure and host-tested);
//! 2. find the target by pid or pidfd and take its address space through `mm_access()`, the
//!    gate of `process_vm_writev(2)`;
//! 3. check what needs the target's address space: the end of the source range, and whether
//!    an exact destination overlaps the source in the same address space;
//! 4. clone (not yet in this version: a request that passes every check fails with
//!    `EOPNOTSUPP`).
//!
//! Every reference taken on the way is an owned `ARef`, released when it goes out of scope, so
//! no path returns with one held.
//!
//! C header: [`mm/process_vm_mmap.h`](srctree/mm/process_vm_mmap.h)

use kernel::{
    bindings,
    mm::MmWithUser,
    page::PAGE_SIZE,
    prelude::*,
    sync::aref::ARef,
    task::{PtraceMode, Task},
};

#[path = "process_vm_mmap/request.rs"]
mod request;

use request::{Invalid, Limits, Request, Target};

// The pure module spells the uapi flags out; make sure they are the uapi's.
const _: () = {
    assert!(request::PVMMAP_FIXED == bindings::PVMMAP_FIXED as usize);
    assert!(request::PVMMAP_FIXED_NOREPLACE == bindings::PVMMAP_FIXED_NOREPLACE as usize);
    assert!(request::PVMMAP_PIDFD == bindings::PVMMAP_PIDFD as usize);
    assert!(request::PVMMAP_MOVE == bindings::PVMMAP_MOVE as usize);
    assert!(request::EINVAL as u32 == bindings::EINVAL);
};

impl From<Invalid> for Error {
    fn from(e: Invalid) -> Error {
        Error::from_errno(-e.errno())
    }
}

/// Finds the task the request names; the returned reference is owned.
fn find_target(target: Target) -> Result<ARef<Task>> {
    match target {
        Target::Pid(nr) => Task::find_by_vpid(nr).ok_or(ESRCH),
        Target::Pidfd(fd) => Task::from_pidfd(fd),
    }
}

/// Takes the target's address space if the caller may attach to the target.
///
/// `mm_access()` says `EACCES` when the ptrace check refuses; like `process_vm_readv(2)` the
/// syscall reports `EPERM`.
fn access_mm(task: &Task) -> Result<ARef<MmWithUser>> {
    task.mm_access(PtraceMode::ATTACH_REALCREDS)
        .map_err(|e| if e == EACCES { EPERM } else { e })
}

fn process_vm_mmap(pid: i32, src: usize, len: usize, dst: usize, flags: usize) -> Result<usize> {
    let limits = Limits {
        page_size: PAGE_SIZE,
        // SAFETY: Reads `TASK_SIZE` of the current task; no precondition.
        task_size: unsafe { bindings::pvmmap_task_size() },
    };
    let req = Request::parse(pid, src, len, dst, flags, &limits)?;

    let task = find_target(req.target)?;
    let src_mm = access_mm(&task)?;
    // SAFETY: `task_size` is set when the mm is set up for exec and not changed while the mm has
    // users; `src_mm` holds one.
    req.check_source_end(unsafe { (*src_mm.as_raw()).__bindgen_anon_1.task_size })?;
    let same_mm = current!()
        .mm()
        .is_some_and(|mm| core::ptr::eq(mm.as_raw(), src_mm.as_raw()));
    if same_mm {
        req.check_same_mm()?;
    }

    // The clone itself comes with the page-table copier.
    Err(EOPNOTSUPP)
}

/// The Rust half of `sys_process_vm_mmap()`.
///
/// # Safety
///
/// Always safe to call; `unsafe` only because `#[export]` requires it.
#[export]
pub unsafe extern "C" fn process_vm_mmap_rust(
    pid: bindings::pid_t,
    src_addr: c_ulong,
    len: c_ulong,
    dst_addr: c_ulong,
    flags: c_ulong,
) -> c_long {
    match process_vm_mmap(pid, src_addr, len, dst_addr, flags) {
        // Addresses are below `TASK_SIZE`, so they fit in a non-negative `long`.
        Ok(addr) => addr as c_long,
        Err(e) => e.to_errno() as c_long,
    }
}
