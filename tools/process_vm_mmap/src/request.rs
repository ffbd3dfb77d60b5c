// SPDX-License-Identifier: GPL-2.0

//! The request: what to clone and where to put it, its checks before the call, and the calls.

use crate::mapping::{self, Mapping};
use crate::{PVMMAP_FIXED, PVMMAP_FIXED_NOREPLACE, PVMMAP_MOVE, PVMMAP_PIDFD};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::path::Path;

/// The process whose memory is cloned.
#[derive(Debug, Clone, Copy)]
pub enum Target<'fd> {
    /// A process id (any thread id names its process), in the caller's pid namespace.
    ///
    /// Must be positive. The caller itself is allowed: the clone is then a copy-on-write snapshot.
    Pid(i32),
    /// A pidfd (see pidfd_open(2)), which, unlike a pid, cannot come to name another process.
    ///
    /// Passes [`PVMMAP_PIDFD`]. An open file that is not a pidfd fails with `EBADF`. The kernel's
    /// `PIDFD_SELF` values are not file descriptors, so they have no `BorrowedFd`: name the caller
    /// by [`Target::Pid`] of [`std::process::id`].
    Pidfd(BorrowedFd<'fd>),
}

/// Where the clone goes in the calling process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// Where the kernel chooses: at `hint` if that is free, else elsewhere (0: no hint).
    ///
    /// The kernel picks an address congruent to the source modulo the PMD size, so that huge pages
    /// stay huge. The hint is not checked.
    Anywhere {
        /// The preferred address, as mmap(2)'s `addr`.
        hint: usize,
    },
    /// Exactly at this address, replacing whatever is mapped there ([`PVMMAP_FIXED`]).
    ///
    /// Only [`Request::map_unchecked`] takes it: the replaced memory may be in use.
    Fixed(usize),
    /// Exactly at this address, failing with `EEXIST` if any of it is mapped
    /// ([`PVMMAP_FIXED_NOREPLACE`]).
    FixedNoReplace(usize),
}

/// The five arguments of the system call, as the kernel receives them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawArgs {
    /// The pid, or the pidfd with [`PVMMAP_PIDFD`] in `flags`.
    pub pid: i32,
    /// Start of the source range.
    pub src_addr: usize,
    /// Length of the source range and of the clone.
    pub len: usize,
    /// The destination, or the hint.
    pub dst_addr: usize,
    /// `PVMMAP_*` flags.
    pub flags: usize,
}

/// One call of `process_vm_mmap()`: the source range, where its clone goes, whether to move.
///
/// Build it with [`Request::new`] and change the fields that differ from the defaults:
///
/// ```
/// use process_vm_mmap::{Placement, Request, Target, PVMMAP_FIXED_NOREPLACE, PVMMAP_MOVE};
///
/// let req = Request {
///     placement: Placement::FixedNoReplace(0x7e00_0000_0000),
///     move_source: true,
///     ..Request::new(Target::Pid(1234), 0x7f00_0000_0000, 0x20_0000)
/// };
/// assert_eq!(req.validate(4096)?.flags, PVMMAP_FIXED_NOREPLACE | PVMMAP_MOVE);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Request<'fd> {
    /// The process that owns the source range.
    pub target: Target<'fd>,
    /// Start of the source range, page aligned.
    pub src_addr: usize,
    /// Length of the source range, a non-zero multiple of the page size.
    pub len: usize,
    /// Where the clone goes.
    pub placement: Placement,
    /// Unmap the source range from the target once it is cloned ([`PVMMAP_MOVE`]).
    pub move_source: bool,
}

/// The error of every rule the request breaks before the call.
fn einval() -> io::Error {
    io::Error::from_raw_os_error(libc::EINVAL)
}

/// The error of a valid request that the safe [`Request::map`] does not make.
fn refused(why: &str) -> io::Error {
    let msg = format!("{why} (only the unsafe Request::map_unchecked makes it)");
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

impl<'fd> Request<'fd> {
    /// A request for `[src_addr, src_addr + len)` of `target`, placed where the kernel chooses,
    /// without [`PVMMAP_MOVE`].
    ///
    /// ```
    /// use process_vm_mmap::{Placement, Request, Target};
    ///
    /// let req = Request::new(Target::Pid(1), 0x1000, 0x1000);
    /// assert_eq!(req.placement, Placement::Anywhere { hint: 0 });
    /// assert!(!req.move_source);
    /// ```
    pub fn new(target: Target<'fd>, src_addr: usize, len: usize) -> Self {
        Request {
            target,
            src_addr,
            len,
            placement: Placement::Anywhere { hint: 0 },
            move_source: false,
        }
    }

    /// Checks the request against the contract's `EINVAL` rules that need no kernel, for pages of
    /// `page_size` bytes, and returns the arguments of the system call.
    ///
    /// Fails with `EINVAL` if `len` is 0; `src_addr`, `len` or an exact destination is not a
    /// multiple of `page_size`; the source or an exact destination range wraps around; a
    /// [`Target::Pid`] is not positive; or `page_size` is not a power of two. The rules that need
    /// the kernel (the end of the user address space, a destination overlapping the source in the
    /// same process) are the kernel's. This is a pure function: [`Request::map`] calls it with
    /// [`page_size()`](crate::page_size).
    ///
    /// ```
    /// use process_vm_mmap::{RawArgs, Request, Target};
    ///
    /// let raw = Request::new(Target::Pid(1234), 0x10000, 0x3000).validate(4096)?;
    /// assert_eq!(raw, RawArgs { pid: 1234, src_addr: 0x10000, len: 0x3000, dst_addr: 0, flags: 0 });
    ///
    /// let unaligned = Request::new(Target::Pid(1234), 0x10800, 0x3000).validate(4096);
    /// assert_eq!(unaligned.unwrap_err().raw_os_error(), Some(libc::EINVAL));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn validate(&self, page_size: usize) -> io::Result<RawArgs> {
        if !page_size.is_power_of_two() {
            return Err(einval());
        }
        let aligned = |addr: usize| addr.is_multiple_of(page_size);
        let (pid, mut flags) = match self.target {
            Target::Pid(pid) if pid > 0 => (pid, 0),
            Target::Pid(_) => return Err(einval()),
            Target::Pidfd(fd) => (fd.as_raw_fd(), PVMMAP_PIDFD),
        };
        if self.len == 0 || !aligned(self.src_addr) || !aligned(self.len) {
            return Err(einval());
        }
        if self.src_addr.checked_add(self.len).is_none() {
            return Err(einval());
        }
        let dst_addr = match self.placement {
            Placement::Anywhere { hint } => hint,
            Placement::Fixed(dst) | Placement::FixedNoReplace(dst) => {
                if !aligned(dst) || dst.checked_add(self.len).is_none() {
                    return Err(einval());
                }
                dst
            }
        };
        flags |= match self.placement {
            Placement::Anywhere { .. } => 0,
            Placement::Fixed(_) => PVMMAP_FIXED,
            Placement::FixedNoReplace(_) => PVMMAP_FIXED_NOREPLACE,
        };
        if self.move_source {
            flags |= PVMMAP_MOVE;
        }
        Ok(RawArgs {
            pid,
            src_addr: self.src_addr,
            len: self.len,
            dst_addr,
            flags,
        })
    }

    /// Clones the source range into the calling process and returns the clone.
    ///
    /// Fails with the contract's errno (see the [crate] documentation), `EINVAL` before the call
    /// if [`Request::validate`] refuses the request. Also fails, with
    /// [`io::ErrorKind::InvalidInput`] and no errno, on the two requests that could change memory
    /// the program uses, which only [`Request::map_unchecked`] makes:
    ///
    /// - [`Placement::Fixed`], which replaces whatever is at the destination;
    /// - a move from the calling process, which unmaps the caller's own source range, or a move
    ///   whose target cannot be told apart from the caller (`/proc` missing or of another pid
    ///   namespace).
    ///
    /// A move is from the calling process if the target is one of its threads: the pid, or the pid
    /// a pidfd shows in `/proc/self/fdinfo`, is listed in `/proc/self/task`. A pidfd keeps naming
    /// its process, so the answer holds until the call. A pid leaves one window: if, between the
    /// check and the call, the target exits and its pid goes (once the pid space wrapped around)
    /// to a thread that another thread of the caller creates, the move unmaps the caller's
    /// memory. A single-threaded caller, or one that names the target by a pidfd, has no window.
    ///
    /// ```no_run
    /// use process_vm_mmap::{Request, Target};
    ///
    /// // A copy-on-write snapshot of one page of our own heap.
    /// let page = process_vm_mmap::page_size();
    /// let buf = vec![7u8; 2 * page];
    /// let addr = (buf.as_ptr() as usize).next_multiple_of(page);
    /// let own = Target::Pid(std::process::id() as i32);
    /// let snapshot = Request::new(own, addr, page).map()?;
    /// assert_eq!(snapshot.len(), page);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn map(&self) -> io::Result<Mapping> {
        let args = self.validate(crate::page_size())?;
        self.check_memory_safe()?;
        mapping::process_vm_mmap(&args)
    }

    /// Refuses the requests that could change memory the program uses (see [`Request::map`]).
    fn check_memory_safe(&self) -> io::Result<()> {
        if let Placement::Fixed(_) = self.placement {
            return Err(refused("PVMMAP_FIXED replaces memory that may be in use"));
        }
        if self.move_source {
            let from_caller = is_caller(self.target).map_err(|e| {
                refused(&format!(
                    "PVMMAP_MOVE: cannot tell whether the target is the caller: {e}"
                ))
            })?;
            if from_caller {
                return Err(refused(
                    "PVMMAP_MOVE from the calling process unmaps its memory",
                ));
            }
        }
        Ok(())
    }

    /// Like [`Request::map`], but also with [`Placement::Fixed`] and from the calling process with
    /// [`PVMMAP_MOVE`]: the requests that change memory the program may use.
    ///
    /// The clone of a fixed placement may then be kept with [`Mapping::into_raw`], as a restorer
    /// does that rebuilds a process at its old addresses.
    ///
    /// # Safety
    ///
    /// With [`Placement::Fixed`], nothing in the program may use the destination range
    /// `[dst, dst + len)`: no reference, no allocation (heap, stack, static, code), no other
    /// [`Mapping`], no pointer that will be dereferenced. On success the kernel replaces that
    /// range, and on failure it may leave it unmapped.
    ///
    /// With `move_source` and a target that shares the caller's address space (one of its
    /// threads, or a process created with `CLONE_VM`), the same holds for the source range: the
    /// kernel unmaps it.
    ///
    /// ```no_run
    /// use process_vm_mmap::{Placement, Request, Target};
    ///
    /// // A restorer puts a page of process 1234 back at its old address, over a
    /// // placeholder that it reserved at startup and that nothing else uses.
    /// let old = 0x7f00_0000_0000;
    /// let req = Request {
    ///     placement: Placement::Fixed(old),
    ///     ..Request::new(Target::Pid(1234), 0x7e00_0000_0000, 0x1000)
    /// };
    /// // SAFETY: nothing in this program uses [old, old + 0x1000).
    /// let (addr, _len) = unsafe { req.map_unchecked() }?.into_raw();
    /// assert_eq!(addr as usize, old);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[allow(unsafe_code)]
    pub unsafe fn map_unchecked(&self) -> io::Result<Mapping> {
        mapping::process_vm_mmap(&self.validate(crate::page_size())?)
    }
}

/// Whether `target` is a thread of the calling process, as `/proc` tells.
fn is_caller(target: Target<'_>) -> io::Result<bool> {
    // /proc numbers the tasks of the pid namespace it was mounted for: it must be ours.
    let own = i64::from(std::process::id());
    if proc_field("/proc/self/status", "Pid:")? != Some(own) {
        return Err(io::Error::other("/proc is of another pid namespace"));
    }
    let pid = match target {
        Target::Pid(pid) => i64::from(pid),
        Target::Pidfd(fd) => {
            let fdinfo = format!("/proc/self/fdinfo/{}", fd.as_raw_fd());
            match proc_field(&fdinfo, "Pid:")? {
                Some(pid) => pid,
                // Not a pidfd: the kernel refuses it with EBADF.
                None => return Ok(false),
            }
        }
    };
    // Lookups in /proc/self/task find only the caller's threads.
    Ok(pid > 0 && Path::new(&format!("/proc/self/task/{pid}")).exists())
}

/// The number after `key` in a `/proc` file of `key\tvalue` lines.
fn proc_field(path: &str, key: &str) -> io::Result<Option<i64>> {
    let text = std::fs::read_to_string(path)?;
    Ok(text
        .lines()
        .find_map(|line| line.strip_prefix(key))
        .and_then(|value| value.trim().parse().ok()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::fs::File;
    use std::os::fd::AsFd;

    const PAGE: usize = 4096;
    const ALL: usize = PVMMAP_FIXED | PVMMAP_FIXED_NOREPLACE | PVMMAP_PIDFD | PVMMAP_MOVE;

    fn req(pid: i32, src_addr: usize, len: usize, placement: Placement) -> Request<'static> {
        Request {
            placement,
            ..Request::new(Target::Pid(pid), src_addr, len)
        }
    }

    fn errno(r: io::Result<RawArgs>) -> Option<i32> {
        r.expect_err("refused").raw_os_error()
    }

    #[test]
    fn defaults() {
        let raw = Request::new(Target::Pid(42), 0x1000, 0x2000)
            .validate(PAGE)
            .unwrap();
        assert_eq!(
            raw,
            RawArgs {
                pid: 42,
                src_addr: 0x1000,
                len: 0x2000,
                dst_addr: 0,
                flags: 0
            }
        );
    }

    #[test]
    fn flags_follow_the_fields() {
        let cases = [
            (Placement::Anywhere { hint: 0x5000 }, false, 0x5000, 0),
            (Placement::Anywhere { hint: 0 }, true, 0, PVMMAP_MOVE),
            (Placement::Fixed(0x9000), false, 0x9000, PVMMAP_FIXED),
            (
                Placement::FixedNoReplace(0x9000),
                true,
                0x9000,
                PVMMAP_FIXED_NOREPLACE | PVMMAP_MOVE,
            ),
        ];
        for (placement, move_source, dst_addr, flags) in cases {
            let r = Request {
                move_source,
                ..req(7, 0x1000, 0x1000, placement)
            };
            let raw = r.validate(PAGE).unwrap();
            assert_eq!((raw.dst_addr, raw.flags), (dst_addr, flags), "{r:?}");
        }
    }

    #[test]
    fn pidfd_passes_the_fd() {
        let file = File::open("/dev/null").unwrap();
        let r = Request::new(Target::Pidfd(file.as_fd()), 0x1000, 0x1000);
        let raw = r.validate(PAGE).unwrap();
        assert_eq!(raw.pid, file.as_raw_fd());
        assert_eq!(raw.flags, PVMMAP_PIDFD);
    }

    #[test]
    fn einval_rules() {
        let hint = Placement::Anywhere { hint: 0 };
        let top = usize::MAX - PAGE + 1;
        let bad = [
            ("pid 0", req(0, 0x1000, PAGE, hint)),
            ("negative pid", req(-1, 0x1000, PAGE, hint)),
            ("pid i32::MIN", req(i32::MIN, 0x1000, PAGE, hint)),
            ("len 0", req(1, 0x1000, 0, hint)),
            ("unaligned src", req(1, 0x1001, PAGE, hint)),
            ("unaligned len", req(1, 0x1000, PAGE + 1, hint)),
            ("src wraps", req(1, top, 2 * PAGE, hint)),
            ("src ends at 2^64", req(1, top, PAGE, hint)),
            (
                "unaligned fixed",
                req(1, 0x1000, PAGE, Placement::Fixed(0x2001)),
            ),
            (
                "unaligned noreplace",
                req(1, 0x1000, PAGE, Placement::FixedNoReplace(0x2800)),
            ),
            ("fixed wraps", req(1, 0x1000, PAGE, Placement::Fixed(top))),
            (
                "noreplace wraps",
                req(1, 0x1000, 2 * PAGE, Placement::FixedNoReplace(top)),
            ),
        ];
        for (what, r) in bad {
            assert_eq!(errno(r.validate(PAGE)), Some(libc::EINVAL), "{what}");
        }
    }

    #[test]
    fn hint_is_not_checked() {
        let r = req(1, 0x1000, PAGE, Placement::Anywhere { hint: usize::MAX });
        assert_eq!(r.validate(PAGE).unwrap().dst_addr, usize::MAX);
    }

    #[test]
    fn largest_ranges() {
        // The last page below 2^64 ends at 2^64, which does not fit: one page lower does.
        let r = req(1, usize::MAX - 2 * PAGE + 1, PAGE, Placement::Fixed(0));
        assert!(r.validate(PAGE).is_ok());
        let r = req(1, 0, usize::MAX - PAGE + 1, Placement::Anywhere { hint: 0 });
        assert!(r.validate(PAGE).is_ok());
    }

    #[test]
    fn page_size_matters() {
        let r = req(1, 0x1000, 0x1000, Placement::Anywhere { hint: 0 });
        assert!(r.validate(4096).is_ok());
        assert_eq!(errno(r.validate(16384)), Some(libc::EINVAL));
        assert_eq!(errno(r.validate(65536)), Some(libc::EINVAL));
        let r = req(1, 0x10000, 0x10000, Placement::Fixed(0x30000));
        for page in [4096, 16384, 65536] {
            assert!(r.validate(page).is_ok(), "{page}");
        }
        for page in [0, 3, 4095, 12288] {
            assert_eq!(errno(r.validate(page)), Some(libc::EINVAL), "{page}");
        }
    }

    #[test]
    fn safe_map_refuses_fixed_before_the_call() {
        let r = req(1, 0x1000, 0x1000, Placement::Fixed(0x2000));
        let e = r.map().unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        assert_eq!(e.raw_os_error(), None);
    }

    #[test]
    fn is_caller_knows_its_threads() {
        let own = std::process::id() as i32;
        assert!(is_caller(Target::Pid(own)).unwrap());
        // Another thread of ours, alive while it is looked up.
        let (tx, rx) = std::sync::mpsc::channel();
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let t = std::thread::spawn(move || {
            let link = std::fs::read_link("/proc/thread-self").unwrap();
            let tid: i32 = link.file_name().unwrap().to_str().unwrap().parse().unwrap();
            tx.send(tid).unwrap();
            done_rx.recv().unwrap();
        });
        let tid = rx.recv().unwrap();
        assert_ne!(tid, own);
        assert!(is_caller(Target::Pid(tid)).unwrap());
        done_tx.send(()).unwrap();
        t.join().unwrap();
        // pid 1 is never us (unless we are init, in a container: skip then).
        if own != 1 {
            assert!(!is_caller(Target::Pid(1)).unwrap());
        }
        assert!(!is_caller(Target::Pid(0)).unwrap());
        assert!(!is_caller(Target::Pid(-1)).unwrap());
        let file = File::open("/dev/null").unwrap();
        assert!(!is_caller(Target::Pidfd(file.as_fd())).unwrap());
    }

    /// Addresses biased towards the edges: 0, the top, page boundaries, and anything.
    fn addr() -> impl Strategy<Value = usize> {
        prop_oneof![
            Just(0usize),
            (0usize..64).prop_map(|p| p * PAGE),
            (0usize..64).prop_map(|p| usize::MAX - p * PAGE + 1),
            (0usize..64).prop_map(|p| (usize::MAX - p * PAGE + 1).wrapping_add(1)),
            (0usize..4).prop_map(|p| p * 65536),
            any::<usize>().prop_map(|a| a & !(PAGE - 1)),
            any::<usize>(),
        ]
    }

    fn placement() -> impl Strategy<Value = Placement> {
        prop_oneof![
            addr().prop_map(|hint| Placement::Anywhere { hint }),
            addr().prop_map(Placement::Fixed),
            addr().prop_map(Placement::FixedNoReplace),
        ]
    }

    /// The contract's EINVAL rules without the kernel, written in wide integers.
    fn oracle_valid(pid: i32, src: usize, len: usize, p: Placement, page: usize) -> bool {
        let (page, src, len) = (page as u128, src as u128, len as u128);
        let end_ok = |start: u128| start + len <= usize::MAX as u128;
        let dst_ok = match p {
            Placement::Anywhere { .. } => true,
            Placement::Fixed(d) | Placement::FixedNoReplace(d) => {
                (d as u128).is_multiple_of(page) && end_ok(d as u128)
            }
        };
        pid > 0
            && len != 0
            && src.is_multiple_of(page)
            && len.is_multiple_of(page)
            && end_ok(src)
            && dst_ok
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        #[test]
        fn validate_matches_the_contract(
            pid in prop_oneof![Just(0i32), Just(1), Just(-1), any::<i32>()],
            src in addr(),
            len in addr(),
            placement in placement(),
            move_source: bool,
            page in prop_oneof![Just(4096usize), Just(16384), Just(65536)],
        ) {
            let r = Request { placement, move_source, ..req(pid, src, len, placement) };
            let got = r.validate(page);
            prop_assert_eq!(got.is_ok(), oracle_valid(pid, src, len, placement, page));
            match got {
                Err(e) => prop_assert_eq!(e.raw_os_error(), Some(libc::EINVAL)),
                Ok(raw) => {
                    prop_assert_eq!((raw.pid, raw.src_addr, raw.len), (pid, src, len));
                    prop_assert_eq!(raw.flags & !ALL, 0);
                    prop_assert_ne!(raw.flags & 0x3, 0x3);
                    prop_assert_eq!(raw.flags & PVMMAP_PIDFD, 0);
                    prop_assert_eq!(raw.flags & PVMMAP_MOVE != 0, move_source);
                    let (dst, fixed) = match placement {
                        Placement::Anywhere { hint } => (hint, 0),
                        Placement::Fixed(d) => (d, PVMMAP_FIXED),
                        Placement::FixedNoReplace(d) => (d, PVMMAP_FIXED_NOREPLACE),
                    };
                    prop_assert_eq!(raw.dst_addr, dst);
                    prop_assert_eq!(raw.flags & 0x3, fixed);
                }
            }
        }

        #[test]
        fn pidfd_skips_the_pid_rule(
            src in addr(), len in addr(), placement in placement(), move_source: bool,
        ) {
            let file = File::open("/dev/null").unwrap();
            let r = Request {
                target: Target::Pidfd(file.as_fd()),
                placement,
                move_source,
                ..Request::new(Target::Pid(1), src, len)
            };
            let got = r.validate(PAGE);
            prop_assert_eq!(got.is_ok(), oracle_valid(1, src, len, placement, PAGE));
            if let Ok(raw) = got {
                prop_assert_eq!(raw.pid, file.as_raw_fd());
                prop_assert_ne!(raw.flags & PVMMAP_PIDFD, 0);
            }
        }
    }
}
