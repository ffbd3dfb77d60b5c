// SPDX-License-Identifier: GPL-2.0

//! Request validation for `process_vm_mmap(2)`: every check that needs only the arguments.
//!
//! This file is pure: it uses `core` only, so the kernel compiles it as a module of
//! `mm/process_vm_mmap.rs` and the host test crate (`host-tests/`) compiles the same file and
//! checks it with property tests. The errors name the rule that was broken; all of them are
//! `EINVAL` to the user (see [`Invalid::errno`]).

/// Place the clone exactly at `dst_addr`, replacing what is there (as `MAP_FIXED`).
pub(crate) const PVMMAP_FIXED: usize = 0x1;
/// Place the clone exactly at `dst_addr`; fail with `EEXIST` if anything is mapped there.
pub(crate) const PVMMAP_FIXED_NOREPLACE: usize = 0x2;
/// `pid` is a pidfd.
pub(crate) const PVMMAP_PIDFD: usize = 0x4;
/// Unmap the source range once the clone is in place.
pub(crate) const PVMMAP_MOVE: usize = 0x8;
/// Every flag this version knows.
pub(crate) const PVMMAP_ALL: usize =
    PVMMAP_FIXED | PVMMAP_FIXED_NOREPLACE | PVMMAP_PIDFD | PVMMAP_MOVE;

/// `EINVAL`, the errno of every rule in this file.
pub(crate) const EINVAL: i32 = 22;

/// Which process the source range belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    /// A pid in the caller's pid namespace (any thread of the process).
    Pid(i32),
    /// A pidfd, resolved by `pidfd_get_task()` (which also takes `PIDFD_SELF_*`).
    Pidfd(i32),
}

/// Where the clone goes in the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Placement {
    /// Anywhere; the address is a hint, 0 for none.
    Hint(usize),
    /// Exactly here, replacing existing mappings.
    Fixed(usize),
    /// Exactly here, only if nothing is mapped there.
    FixedNoReplace(usize),
}

/// A request that passed every argument check.
///
/// `len` is a non-zero multiple of the page size; `src` is page aligned and `src + len` does not
/// wrap; an exact destination is page aligned and ends below the caller's `task_size`. Whether
/// the source range fits the target's address space is known only once the target is:
/// [`Request::check_source_end`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Request {
    /// The process that owns the source range.
    pub(crate) target: Target,
    /// Start of the source range.
    pub(crate) src: usize,
    /// Length of both ranges in bytes.
    pub(crate) len: usize,
    /// Where the clone goes.
    pub(crate) placement: Placement,
    /// Unmap the source range after cloning it (`PVMMAP_MOVE`).
    // Not `expect`: whether the lint fires differs between the kernel and the host build.
    #[allow(dead_code, reason = "read once the copier lands")]
    pub(crate) move_source: bool,
}

/// The address-space facts the argument checks depend on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    /// The page size, a power of two.
    pub(crate) page_size: usize,
    /// The end of the caller's user address space (`TASK_SIZE`): the limit for the destination.
    pub(crate) task_size: usize,
}

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Invalid {
    /// A flag bit this version does not know.
    UnknownFlags,
    /// `PVMMAP_FIXED` together with `PVMMAP_FIXED_NOREPLACE`.
    ConflictingPlacement,
    /// A pid of zero or below without `PVMMAP_PIDFD`.
    BadPid,
    /// `len` is zero.
    ZeroLength,
    /// `src_addr` or `len` is not page aligned.
    UnalignedSource,
    /// An exact destination that is not page aligned.
    UnalignedDestination,
    /// The source range wraps, or ends above the target's user address space.
    SourceOutOfRange,
    /// The exact destination range wraps or ends above the user address space.
    DestinationOutOfRange,
    /// An exact destination overlapping the source range of the same address space.
    DestinationOverlapsSource,
}

impl Invalid {
    /// The errno the user sees (positive).
    pub(crate) const fn errno(self) -> i32 {
        EINVAL
    }
}

/// Returns whether `[start, start + len)` is a valid range below `task_size`.
const fn in_user_range(start: usize, len: usize, task_size: usize) -> bool {
    match start.checked_add(len) {
        Some(end) => end <= task_size,
        None => false,
    }
}

impl Request {
    /// Checks the raw syscall arguments, in the order the contract lists them.
    pub(crate) fn parse(
        pid: i32,
        src: usize,
        len: usize,
        dst: usize,
        flags: usize,
        limits: &Limits,
    ) -> Result<Request, Invalid> {
        if flags & !PVMMAP_ALL != 0 {
            return Err(Invalid::UnknownFlags);
        }
        let fixed = flags & PVMMAP_FIXED != 0;
        let noreplace = flags & PVMMAP_FIXED_NOREPLACE != 0;
        let placement = match (fixed, noreplace) {
            (true, true) => return Err(Invalid::ConflictingPlacement),
            (true, false) => Placement::Fixed(dst),
            (false, true) => Placement::FixedNoReplace(dst),
            (false, false) => Placement::Hint(dst),
        };
        let target = if flags & PVMMAP_PIDFD != 0 {
            Target::Pidfd(pid)
        } else if pid > 0 {
            Target::Pid(pid)
        } else {
            return Err(Invalid::BadPid);
        };
        if len == 0 {
            return Err(Invalid::ZeroLength);
        }
        let page_mask = limits.page_size - 1;
        if (src | len) & page_mask != 0 {
            return Err(Invalid::UnalignedSource);
        }
        // The source lives in the target's address space, whose end is checked once the target
        // is known (`check_source_end`); here only that the range does not wrap.
        if src.checked_add(len).is_none() {
            return Err(Invalid::SourceOutOfRange);
        }
        if let Placement::Fixed(d) | Placement::FixedNoReplace(d) = placement {
            if d & page_mask != 0 {
                return Err(Invalid::UnalignedDestination);
            }
            if !in_user_range(d, len, limits.task_size) {
                return Err(Invalid::DestinationOutOfRange);
            }
        }
        Ok(Request {
            target,
            src,
            len,
            placement,
            move_source: flags & PVMMAP_MOVE != 0,
        })
    }

    /// The exact destination address, if the request has one.
    pub(crate) const fn exact_destination(&self) -> Option<usize> {
        match self.placement {
            Placement::Fixed(d) | Placement::FixedNoReplace(d) => Some(d),
            Placement::Hint(_) => None,
        }
    }

    /// Checks the source range against the end of the target's user address space
    /// (`mm->task_size` of the target, which differs from the caller's for compat tasks).
    pub(crate) fn check_source_end(&self, target_task_size: usize) -> Result<(), Invalid> {
        if in_user_range(self.src, self.len, target_task_size) {
            Ok(())
        } else {
            Err(Invalid::SourceOutOfRange)
        }
    }

    /// The check that needs to know whether source and caller share one address space: an exact
    /// destination must not overlap the source range then (mmap's `MAP_FIXED` would unmap the
    /// very pages being cloned).
    pub(crate) fn check_same_mm(&self) -> Result<(), Invalid> {
        match self.exact_destination() {
            // Saturating: a caller may build a `Request` by hand (the host tests do).
            Some(d)
                if d < self.src.saturating_add(self.len)
                    && self.src < d.saturating_add(self.len) =>
            {
                Err(Invalid::DestinationOverlapsSource)
            }
            _ => Ok(()),
        }
    }
}

/// In-kernel tests (KUnit): every rule of the argument checks provoked once, in the order the
/// contract lists them, on the kernel's own page size. The host tests
/// (`host-tests/src/request_tests.rs`) check the same rules against an oracle on random
/// arguments.
#[cfg(CONFIG_PROCESS_VM_MMAP_KUNIT_TEST)]
#[::kernel::macros::kunit_tests(process_vm_mmap_request)]
mod kunit {
    use super::*;
    use kernel::page::PAGE_SIZE;

    const TASK_SIZE: usize = 1 << 47;
    const LIMITS: Limits = Limits {
        page_size: PAGE_SIZE,
        task_size: TASK_SIZE,
    };
    const SRC: usize = 0x10_0000 * PAGE_SIZE;
    const LEN: usize = 16 * PAGE_SIZE;
    const DST: usize = 0x20_0000 * PAGE_SIZE;

    fn parse(
        pid: i32,
        src: usize,
        len: usize,
        dst: usize,
        flags: usize,
    ) -> Result<Request, Invalid> {
        Request::parse(pid, src, len, dst, flags, &LIMITS)
    }

    #[test]
    fn a_valid_request_keeps_its_arguments() {
        assert_eq!(
            parse(42, SRC, LEN, DST, PVMMAP_FIXED | PVMMAP_MOVE),
            Ok(Request {
                target: Target::Pid(42),
                src: SRC,
                len: LEN,
                placement: Placement::Fixed(DST),
                move_source: true,
            })
        );
        assert_eq!(
            parse(3, SRC, LEN, 0, PVMMAP_PIDFD).map(|r| (r.target, r.placement)),
            Ok((Target::Pidfd(3), Placement::Hint(0)))
        );
        // A hint need not be aligned nor in range: mmap(2) treats it as a hint too.
        assert!(parse(1, SRC, LEN, usize::MAX, 0).is_ok());
    }

    #[test]
    fn each_rule_is_provoked() {
        let bad = [
            (parse(1, SRC, LEN, DST, 0x10), Invalid::UnknownFlags),
            (
                parse(1, SRC, LEN, DST, PVMMAP_FIXED | PVMMAP_FIXED_NOREPLACE),
                Invalid::ConflictingPlacement,
            ),
            (parse(0, SRC, LEN, DST, 0), Invalid::BadPid),
            (parse(-1, SRC, LEN, DST, 0), Invalid::BadPid),
            (parse(1, SRC, 0, DST, 0), Invalid::ZeroLength),
            (parse(1, SRC + 1, LEN, DST, 0), Invalid::UnalignedSource),
            (parse(1, SRC, LEN + 1, DST, 0), Invalid::UnalignedSource),
            (
                parse(1, usize::MAX & !(PAGE_SIZE - 1), LEN, DST, 0),
                Invalid::SourceOutOfRange,
            ),
            (
                parse(1, SRC, LEN, DST + 1, PVMMAP_FIXED),
                Invalid::UnalignedDestination,
            ),
            (
                parse(1, SRC, LEN, TASK_SIZE - PAGE_SIZE, PVMMAP_FIXED_NOREPLACE),
                Invalid::DestinationOutOfRange,
            ),
        ];
        let mut wrong = 0u32;
        for (got, want) in bad {
            wrong += u32::from(got != Err(want) || want.errno() != EINVAL);
        }
        assert_eq!(wrong, 0);
    }

    #[test]
    fn unknown_flags_come_first() {
        assert_eq!(parse(0, 1, 0, 1, !0), Err(Invalid::UnknownFlags));
        assert_eq!(
            parse(0, 1, 0, 1, PVMMAP_FIXED | PVMMAP_FIXED_NOREPLACE),
            Err(Invalid::ConflictingPlacement)
        );
    }

    #[test]
    fn source_end_is_the_targets() {
        let r = parse(1, TASK_SIZE - LEN, LEN, 0, 0);
        assert!(r.is_ok());
        if let Ok(r) = r {
            assert_eq!(r.check_source_end(TASK_SIZE), Ok(()));
            // A compat target's address space ends lower.
            assert_eq!(r.check_source_end(1 << 32), Err(Invalid::SourceOutOfRange));
        }
    }

    #[test]
    fn same_mm_overlap_is_refused_only_where_ranges_meet() {
        let at = |dst: usize| parse(1, SRC, LEN, dst, PVMMAP_FIXED).map(|r| r.check_same_mm());
        assert_eq!(at(SRC), Ok(Err(Invalid::DestinationOverlapsSource)));
        assert_eq!(
            at(SRC + LEN - PAGE_SIZE),
            Ok(Err(Invalid::DestinationOverlapsSource))
        );
        assert_eq!(
            at(SRC - LEN + PAGE_SIZE),
            Ok(Err(Invalid::DestinationOverlapsSource))
        );
        assert_eq!(at(SRC + LEN), Ok(Ok(())));
        assert_eq!(at(SRC - LEN), Ok(Ok(())));
        // Anywhere placement never overlaps by request.
        assert_eq!(
            parse(1, SRC, LEN, SRC, 0).map(|r| r.check_same_mm()),
            Ok(Ok(()))
        );
    }
}
