// SPDX-License-Identifier: GPL-2.0

//! The clone: the system call that makes it and the type that owns it.
//!
//! The crate's two `unsafe` blocks are here: the system call, and the munmap(2) of the clone.

use crate::request::RawArgs;
use crate::SYS_PROCESS_VM_MMAP;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::ptr;

/// A clone made by `process_vm_mmap()`, unmapped when dropped.
///
/// It gives no `&[u8]` of its memory (see Soundness in the [crate] documentation): read it
/// with [`Mapping::reader`], or through [`Mapping::as_ptr`] with an `unsafe` block of your own.
///
/// # Invariants
///
/// `[addr, addr + len)` is a non-empty, page-aligned range that the kernel mapped in this process
/// for this value, and that nothing else in the program owns: no reference into it exists but
/// through the raw pointers this type hands out.
#[derive(Debug)]
pub struct Mapping {
    addr: usize,
    len: usize,
}

/// Makes the system call with `args`; the returned [`Mapping`] owns the clone.
///
/// Safe to call only with requests that replace or unmap no memory the program uses: its callers
/// are [`Request::map`](crate::Request::map), which refuses the others, and
/// [`Request::map_unchecked`](crate::Request::map_unchecked), whose caller vouches for them.
#[allow(unsafe_code)]
pub(crate) fn process_vm_mmap(args: &RawArgs) -> io::Result<Mapping> {
    // SAFETY: The five arguments are integers: the kernel reads and writes no memory of ours
    // through them. Its effect on this process is a new mapping (the clone), and with
    // PVMMAP_MOVE, when the target shares our address space, the unmapping of the source range.
    // The clone goes where nothing is mapped (a kernel-chosen address, or PVMMAP_FIXED_NOREPLACE,
    // which fails rather than replace), hence over no memory the program uses; PVMMAP_FIXED and a
    // move from ourselves come only from `Request::map_unchecked`, whose caller promises that
    // nothing uses the destination and source ranges. 473 is process_vm_mmap() in the kernels
    // this crate is for, and unassigned (ENOSYS) in the ones without it.
    let ret = unsafe {
        libc::syscall(
            SYS_PROCESS_VM_MMAP,
            libc::c_long::from(args.pid),
            args.src_addr,
            args.len,
            args.dst_addr,
            args.flags,
        )
    };
    match usize::try_from(ret) {
        // The invariants: the kernel mapped `len` bytes at `addr` for this call.
        Ok(addr) => Ok(Mapping {
            addr,
            len: args.len,
        }),
        Err(_) => Err(io::Error::last_os_error()),
    }
}

impl Mapping {
    /// The start address of the clone.
    pub fn addr(&self) -> usize {
        self.addr
    }

    /// The length of the clone in bytes, that of the source range (never 0).
    #[allow(clippy::len_without_is_empty, reason = "a clone is never empty")]
    pub fn len(&self) -> usize {
        self.len
    }

    /// A pointer to the start of the clone, valid while `self` lives.
    ///
    /// Reading through it is sound only where the source was readable, and only as long as the
    /// memory does not change: private memory is the caller's alone after the call, but shared
    /// memory may be written by the other process at any time.
    pub fn as_ptr(&self) -> *const u8 {
        ptr::with_exposed_provenance(self.addr)
    }

    /// A mutable pointer to the start of the clone, valid while `self` lives.
    ///
    /// Writes through it need a writable source mapping; on shared memory they show in the other
    /// process.
    pub fn as_mut_ptr(&mut self) -> *mut u8 {
        ptr::with_exposed_provenance_mut(self.addr)
    }

    /// A reader of the clone's bytes, which copies them out through `/proc/self/mem`.
    ///
    /// Needs `/proc`. A page that cannot be read (`PROT_NONE`) fails the read with `EIO`.
    ///
    /// ```no_run
    /// use process_vm_mmap::{Request, Target};
    /// use std::io::Read;
    ///
    /// let clone = Request::new(Target::Pid(1234), 0x7f00_0000_0000, 0x1000).map()?;
    /// let mut page = Vec::new();
    /// clone.reader()?.read_to_end(&mut page)?;
    /// assert_eq!(page.len(), 0x1000);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn reader(&self) -> io::Result<MappingReader<'_>> {
        Ok(MappingReader {
            mem: File::open("/proc/self/mem")?,
            mapping: self,
            pos: 0,
        })
    }

    /// Gives up ownership: returns the start and the length of the clone, which stays mapped.
    ///
    /// For callers that keep the clone for the life of the process, such as a restorer that
    /// placed it at a fixed address; munmap(2) then is theirs to call.
    ///
    /// ```no_run
    /// use process_vm_mmap::{Request, Target};
    ///
    /// let (ptr, len) = Request::new(Target::Pid(1234), 0x7f00_0000_0000, 0x1000)
    ///     .map()?
    ///     .into_raw();
    /// println!("kept {len} bytes at {ptr:p}");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn into_raw(self) -> (*mut u8, usize) {
        let raw = (ptr::with_exposed_provenance_mut(self.addr), self.len);
        std::mem::forget(self);
        raw
    }
}

impl Drop for Mapping {
    #[allow(unsafe_code)]
    fn drop(&mut self) {
        // SAFETY: By the invariants, `[addr, addr + len)` is this value's mapping and nothing else
        // owns it; references into it exist only through raw pointers from `as_ptr` and
        // `as_mut_ptr`, valid only while `self` lives, and `MappingReader` borrows `self`. So
        // nothing uses the range after this unmapping.
        let ret = unsafe { libc::munmap(self.as_mut_ptr().cast(), self.len) };
        // It fails only on an unaligned or empty range, which the invariants rule out.
        debug_assert_eq!(ret, 0, "munmap: {}", io::Error::last_os_error());
    }
}

/// Reads the bytes of a [`Mapping`] from its start, from [`Mapping::reader`].
#[derive(Debug)]
pub struct MappingReader<'a> {
    mem: File,
    mapping: &'a Mapping,
    pos: usize,
}

impl Read for MappingReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = buf.len().min(self.mapping.len - self.pos);
        if want == 0 {
            return Ok(0);
        }
        // Addresses fit in u64 on every Linux target.
        let at = (self.mapping.addr + self.pos) as u64;
        let got = self.mem.read_at(&mut buf[..want], at)?;
        self.pos += got;
        Ok(got)
    }
}
