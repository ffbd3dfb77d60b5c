// SPDX-License-Identifier: GPL-2.0

//! `request.rs` against the contract (`Documentation/userspace-api/process_vm_mmap.rst`): an
//! oracle written from the contract's table, in wide integers, compared with the kernel's parser
//! on inputs biased towards every boundary.

use crate::request::*;
use proptest::prelude::*;

/// x86_64 with 4 KiB pages and 4-level paging: the examples below use it.
const PAGE: usize = 4096;
const TASK_SIZE: usize = 0x7fff_ffff_f000;
const LIMITS: Limits = Limits {
    page_size: PAGE,
    task_size: TASK_SIZE,
};

/// Address-space shapes the property tests run over: page sizes of x86, arm64 and powerpc;
/// 4- and 5-level paging; a compat task.
fn limits() -> impl Strategy<Value = Limits> {
    (
        prop_oneof![Just(4096usize), Just(16384), Just(65536)],
        prop_oneof![Just(47u32), Just(56), Just(32)],
    )
        .prop_map(|(page_size, bits)| Limits {
            page_size,
            task_size: (1usize << bits) - page_size,
        })
}

/// The contract's EINVAL rules that need only the arguments, one by one, in the order the
/// contract lists them.
fn oracle(
    pid: i32,
    src: usize,
    len: usize,
    dst: usize,
    flags: usize,
    l: &Limits,
) -> Result<Request, Invalid> {
    let known = 0x1 | 0x2 | 0x4 | 0x8;
    if flags & !known != 0 {
        return Err(Invalid::UnknownFlags);
    }
    if flags & 0x3 == 0x3 {
        return Err(Invalid::ConflictingPlacement);
    }
    let pidfd = flags & 0x4 != 0;
    if !pidfd && pid <= 0 {
        return Err(Invalid::BadPid);
    }
    if len == 0 {
        return Err(Invalid::ZeroLength);
    }
    if src % l.page_size != 0 || len % l.page_size != 0 {
        return Err(Invalid::UnalignedSource);
    }
    // The end address itself must be representable.
    if src as u128 + len as u128 > usize::MAX as u128 {
        return Err(Invalid::SourceOutOfRange);
    }
    let exact = flags & 0x3 != 0;
    if exact && dst % l.page_size != 0 {
        return Err(Invalid::UnalignedDestination);
    }
    if exact && dst as u128 + len as u128 > l.task_size as u128 {
        return Err(Invalid::DestinationOutOfRange);
    }
    Ok(Request {
        target: if pidfd {
            Target::Pidfd(pid)
        } else {
            Target::Pid(pid)
        },
        src,
        len,
        placement: match flags & 0x3 {
            0x1 => Placement::Fixed(dst),
            0x2 => Placement::FixedNoReplace(dst),
            _ => Placement::Hint(dst),
        },
        move_source: flags & 0x8 != 0,
    })
}

/// Addresses and lengths near the interesting boundaries of `l`, and anywhere.
fn word(l: Limits) -> impl Strategy<Value = usize> {
    let p = l.page_size;
    let anchors = prop_oneof![
        Just(0usize),
        Just(p),
        Just(0x10_0000usize),
        Just(l.task_size / 2),
        Just(l.task_size),
        Just(usize::MAX - p + 1),
        Just(1usize << 47),
        Just(1usize << 57),
    ];
    prop_oneof![
        3 => (anchors, -3isize..=3, -2isize..=2).prop_map(move |(a, pages, bytes)| a
            .wrapping_add_signed(pages * p as isize)
            .wrapping_add_signed(bytes)),
        1 => any::<usize>(),
        1 => any::<usize>().prop_map(move |w| w & !(p - 1)),
    ]
}

fn flags() -> impl Strategy<Value = usize> {
    prop_oneof![
        4 => 0usize..16,
        1 => (0usize..16, 4u32..64).prop_map(|(f, bit)| f | 1usize << bit),
        1 => any::<usize>(),
    ]
}

fn pid() -> impl Strategy<Value = i32> {
    prop_oneof![
        Just(0),
        Just(1),
        Just(-1),
        Just(i32::MIN),
        Just(i32::MAX),
        any::<i32>()
    ]
}

/// A shape and five raw arguments drawn for it.
fn args() -> impl Strategy<Value = (Limits, i32, usize, usize, usize, usize)> {
    limits().prop_flat_map(|l| (Just(l), pid(), word(l), word(l), word(l), flags()))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200_000))]

    #[test]
    fn parse_matches_the_contract((l, pid, src, len, dst, flags) in args()) {
        prop_assert_eq!(Request::parse(pid, src, len, dst, flags, &l),
                        oracle(pid, src, len, dst, flags, &l));
    }

    #[test]
    fn accepted_requests_keep_the_invariants((l, pid, src, len, dst, flags) in args()) {
        if let Ok(r) = Request::parse(pid, src, len, dst, flags, &l) {
            prop_assert!(r.len > 0 && r.len % l.page_size == 0 && r.src % l.page_size == 0);
            prop_assert!(r.src.checked_add(r.len).is_some());
            if let Some(d) = r.exact_destination() {
                prop_assert!(d % l.page_size == 0);
                prop_assert!(d.checked_add(r.len).is_some_and(|e| e <= l.task_size));
            }
        }
    }

    #[test]
    fn source_end_is_checked_against_the_target((l, pid, src, len, dst, flags) in args(),
                                                target in limits()) {
        if let Ok(r) = Request::parse(pid, src, len, dst, flags, &l) {
            let fits = src as u128 + len as u128 <= target.task_size as u128;
            let want = if fits { Ok(()) } else { Err(Invalid::SourceOutOfRange) };
            prop_assert_eq!(r.check_source_end(target.task_size), want);
        }
    }

    #[test]
    fn same_mm_overlap_is_interval_intersection((l, _pid, src, len, dst, _f) in args(),
                                                flags in 0usize..16) {
        if let Ok(r) = Request::parse(1, src, len, dst, flags, &l) {
            let overlap = match r.exact_destination() {
                Some(d) => {
                    let (s, d, n) = (src as u128, d as u128, len as u128);
                    s.max(d) < (s + n).min(d + n)
                }
                None => false,
            };
            let want = if overlap { Err(Invalid::DestinationOverlapsSource) } else { Ok(()) };
            prop_assert_eq!(r.check_same_mm(), want);
        }
    }
}

#[test]
fn uapi_flag_values() {
    // include/uapi/linux/mman.h; the kernel build asserts the same against bindgen's view.
    assert_eq!(
        (
            PVMMAP_FIXED,
            PVMMAP_FIXED_NOREPLACE,
            PVMMAP_PIDFD,
            PVMMAP_MOVE
        ),
        (1, 2, 4, 8)
    );
    assert_eq!(PVMMAP_ALL, 0xf);
}

#[test]
fn examples_from_the_contract() {
    let p = |pid, src, len, dst, flags| Request::parse(pid, src, len, dst, flags, &LIMITS);
    // The smallest valid request, and every single-rule violation of it.
    assert!(p(1, PAGE, PAGE, 0, 0).is_ok());
    assert_eq!(p(1, PAGE, PAGE, 0, 0x10), Err(Invalid::UnknownFlags));
    assert_eq!(p(1, PAGE, PAGE, 0, 0x3), Err(Invalid::ConflictingPlacement));
    assert_eq!(p(0, PAGE, PAGE, 0, 0), Err(Invalid::BadPid));
    assert_eq!(p(-1, PAGE, PAGE, 0, 0), Err(Invalid::BadPid));
    assert_eq!(p(1, PAGE, 0, 0, 0), Err(Invalid::ZeroLength));
    assert_eq!(p(1, PAGE + 1, PAGE, 0, 0), Err(Invalid::UnalignedSource));
    assert_eq!(p(1, PAGE, PAGE + 1, 0, 0), Err(Invalid::UnalignedSource));
    // The source's end is the target's business: checked once the target is known.
    let r = p(1, TASK_SIZE, PAGE, 0, 0).unwrap();
    assert_eq!(
        r.check_source_end(TASK_SIZE),
        Err(Invalid::SourceOutOfRange)
    );
    let r = p(1, TASK_SIZE - PAGE, PAGE, 0, 0).unwrap();
    assert!(r.check_source_end(TASK_SIZE).is_ok());
    assert_eq!(
        p(1, usize::MAX - PAGE + 1, 2 * PAGE, 0, 0),
        Err(Invalid::SourceOutOfRange)
    );
    assert_eq!(
        p(1, PAGE, PAGE, 1, PVMMAP_FIXED),
        Err(Invalid::UnalignedDestination)
    );
    assert_eq!(
        p(1, PAGE, PAGE, TASK_SIZE, PVMMAP_FIXED_NOREPLACE),
        Err(Invalid::DestinationOutOfRange)
    );
    // A pidfd may be any int: pidfd_get_task() judges it (and takes PIDFD_SELF_*).
    assert_eq!(
        p(-10000, PAGE, PAGE, 0, PVMMAP_PIDFD).unwrap().target,
        Target::Pidfd(-10000)
    );
    // A hint is not checked.
    assert_eq!(
        p(1, PAGE, PAGE, 3, 0).unwrap().placement,
        Placement::Hint(3)
    );
    // The last page below TASK_SIZE is in range.
    assert!(p(1, TASK_SIZE - PAGE, PAGE, TASK_SIZE - PAGE, PVMMAP_FIXED).is_ok());
    // Same-mm overlap, and its edges.
    let r = p(1, 4 * PAGE, 2 * PAGE, 5 * PAGE, PVMMAP_FIXED).unwrap();
    assert_eq!(r.check_same_mm(), Err(Invalid::DestinationOverlapsSource));
    assert!(p(1, 4 * PAGE, 2 * PAGE, 6 * PAGE, PVMMAP_FIXED)
        .unwrap()
        .check_same_mm()
        .is_ok());
    assert!(p(1, 4 * PAGE, 2 * PAGE, 2 * PAGE, PVMMAP_FIXED)
        .unwrap()
        .check_same_mm()
        .is_ok());
    assert!(p(1, 4 * PAGE, 2 * PAGE, 4 * PAGE, 0)
        .unwrap()
        .check_same_mm()
        .is_ok());
}
