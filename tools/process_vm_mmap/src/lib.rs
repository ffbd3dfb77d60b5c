// SPDX-License-Identifier: GPL-2.0

//! A safe binding of `process_vm_mmap(2)`.
//!
//! `process_vm_mmap()` clones the mappings of another process (or of the caller) that cover a
//! range into the calling process, and returns where the clone went. No data is copied; the
//! page-table entries are:
//!
//! - private memory, anonymous or file-backed, becomes copy-on-write between the two processes,
//!   as after fork(2): after the call, a write on either side is never seen on the other side;
//! - shared memory (`MAP_SHARED` anonymous memory, memfd, tmpfs, regular files) stays shared:
//!   the clone maps the same pages, and writes of the other side show through;
//! - with [`PVMMAP_MOVE`] the source range is unmapped from the source process once the clone is
//!   in place: the pages belong to the caller alone.
//!
//! The user contract, with the full error list, is
//! `Documentation/userspace-api/process_vm_mmap.rst` in this repository. In short:
//!
//! | errno | when |
//! |---|---|
//! | `EINVAL` | len 0; source, len or an exact destination not page aligned; a range wraps or leaves the address space; pid <= 0 without a pidfd; an exact destination overlapping the source of the same process |
//! | `EBADF` | a [`Target::Pidfd`] that is not a pidfd |
//! | `ESRCH` | no such process, or it has no address space |
//! | `EPERM` | no `PTRACE_MODE_ATTACH_REALCREDS` access to the target; `MOVE` over sealed mappings |
//! | `EFAULT` | part of the source range is not mapped |
//! | `EOPNOTSUPP` | the source range holds a kind of mapping that cannot be cloned |
//! | `EEXIST` | [`Placement::FixedNoReplace`] and the destination is not free |
//! | `ENOMEM` | out of memory, map count limit, `RLIMIT_AS`, overcommit refusal |
//! | `EINTR` | a fatal signal arrived while waiting |
//! | `ENOSYS` | the kernel lacks the system call (`CONFIG_PROCESS_VM_MMAP`) |
//!
//! Errors are [`std::io::Error`]s that carry the errno ([`std::io::Error::raw_os_error`]). The
//! `EINVAL` rules that need no kernel are checked before the call, by the pure
//! [`Request::validate`].
//!
//! # Types
//!
//! A [`Request`] names the source ([`Target`], address, length), where the clone goes
//! ([`Placement`]) and whether to move; [`Request::validate`] turns it into the five raw
//! arguments ([`RawArgs`]); [`Request::map`] makes the call and returns a [`Mapping`], which owns
//! the clone and unmaps it when dropped.
//!
//! # Soundness
//!
//! The safe API never lets the kernel change memory that the program already uses:
//!
//! - [`Request::map`] places the clone only where nothing is mapped (a kernel-chosen address,
//!   or [`Placement::FixedNoReplace`], which fails with `EEXIST` rather than replace anything).
//!   [`Placement::Fixed`] replaces whatever is mapped at the destination, possibly the heap,
//!   a stack or another [`Mapping`]: only the unsafe [`Request::map_unchecked`] takes it.
//! - `PVMMAP_MOVE` unmaps the source range in the target. When the target is the caller itself
//!   that is the caller's own memory, so [`Request::map`] refuses a move from the calling
//!   process (see there for how it tells).
//!
//! A [`Mapping`] gives no safe `&[u8]` of its memory: shared pages may be written by the other
//! process at any time (a data race under a shared reference), and the clone keeps the source's
//! protections, so part of it may be unreadable (`PROT_NONE`) or read-only, where a reference
//! must be dereferenceable and a `&mut` writable. Instead [`Mapping::reader`] copies the
//! memory out through `/proc/self/mem`, which the kernel reads like any other process memory:
//! no reference to the memory exists, a concurrent write only changes the bytes copied, and an
//! unreadable page is an `EIO`, not a fault. Whoever needs zero-copy access has
//! [`Mapping::as_ptr`] and [`Mapping::as_mut_ptr`], and with them the proof obligations.
//!
//! # Example
//!
//! ```no_run
//! use process_vm_mmap::{Request, Target};
//! use std::io::Read;
//!
//! // Clone one 2 MiB range of process 1234, copy-on-write, wherever the kernel likes.
//! let clone = Request::new(Target::Pid(1234), 0x7f00_0000_0000, 2 << 20).map()?;
//! let mut bytes = Vec::new();
//! clone.reader()?.read_to_end(&mut bytes)?;
//! # Ok::<(), std::io::Error>(())
//! ```

#![deny(unsafe_op_in_unsafe_fn)]
#![deny(unsafe_code)]
#![warn(missing_docs)]

mod mapping;
mod request;

pub use mapping::{Mapping, MappingReader};
pub use request::{Placement, RawArgs, Request, Target};

use std::sync::OnceLock;

/// The system call number: 473 on x86_64 and in the generic table, which since Linux 5.1 gives
/// every new system call one number on all architectures (alpha and mips add an offset).
pub const SYS_PROCESS_VM_MMAP: libc::c_long = 473;

/// Place the clone exactly at `dst_addr`, replacing what is mapped there (as `MAP_FIXED`).
pub const PVMMAP_FIXED: usize = 0x1;
/// Place the clone exactly at `dst_addr`; fail with `EEXIST` if any of it is mapped.
pub const PVMMAP_FIXED_NOREPLACE: usize = 0x2;
/// `pid` is a pidfd, not a pid.
pub const PVMMAP_PIDFD: usize = 0x4;
/// Unmap the source range from the source process once the clone is in place.
pub const PVMMAP_MOVE: usize = 0x8;

/// The smallest page size of any architecture Linux runs on.
const MIN_PAGE_SIZE: usize = 4096;

/// The page size of the running kernel, for [`Request::validate`].
///
/// Read once from the `AT_PAGESZ` entry of `/proc/self/auxv` (which needs no `unsafe`, unlike
/// `sysconf()` or `getauxval()`). Without `/proc` it is 4096, the smallest page size there is: a
/// multiple of the real page size is a multiple of 4096 too, so the checks before the call then
/// refuse nothing the kernel would accept, and the kernel still checks the rest.
///
/// ```
/// let page = process_vm_mmap::page_size();
/// assert!(page.is_power_of_two() && page >= 4096);
/// ```
pub fn page_size() -> usize {
    static PAGE_SIZE: OnceLock<usize> = OnceLock::new();
    *PAGE_SIZE.get_or_init(|| {
        std::fs::read("/proc/self/auxv")
            .ok()
            .and_then(|auxv| auxv_value(&auxv, libc::AT_PAGESZ as usize))
            .filter(|&size| size.is_power_of_two() && size >= MIN_PAGE_SIZE)
            .unwrap_or(MIN_PAGE_SIZE)
    })
}

/// Looks `key` up in an auxiliary vector: pairs of native words, up to an `AT_NULL` key.
fn auxv_value(auxv: &[u8], key: usize) -> Option<usize> {
    const WORD: usize = std::mem::size_of::<usize>();
    let word = |bytes: &[u8]| usize::from_ne_bytes(bytes.try_into().expect("one word"));
    auxv.chunks_exact(2 * WORD)
        .map(|entry| (word(&entry[..WORD]), word(&entry[WORD..])))
        .take_while(|&(k, _)| k != libc::AT_NULL as usize)
        .find(|&(k, _)| k == key)
        .map(|(_, value)| value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auxv(entries: &[(usize, usize)]) -> Vec<u8> {
        entries
            .iter()
            .flat_map(|&(k, v)| [k.to_ne_bytes(), v.to_ne_bytes()])
            .flatten()
            .collect()
    }

    #[test]
    fn auxv_lookup() {
        let v = auxv(&[(33, 0xdead), (6, 16384), (0, 0), (7, 1)]);
        assert_eq!(auxv_value(&v, 6), Some(16384));
        assert_eq!(auxv_value(&v, 33), Some(0xdead));
        // Nothing after AT_NULL counts.
        assert_eq!(auxv_value(&v, 7), None);
        // A truncated entry is ignored.
        assert_eq!(auxv_value(&v[..v.len() / 4 * 3 - 1], 6), Some(16384));
        assert_eq!(auxv_value(&[], 6), None);
    }

    #[test]
    fn page_size_is_sane() {
        let page = page_size();
        assert!(page.is_power_of_two() && page >= MIN_PAGE_SIZE);
    }
}
