// SPDX-License-Identifier: GPL-2.0

//! The arithmetic of the page-table walker: how a copy of `[src, src + len)` to
//! `[dst, dst + len)` is cut into extents that a leaf operation can copy one page-table page
//! at a time.
//!
//! Pure (`core` only): the kernel compiles it as a module of `mm/process_vm_mmap.rs`, the host
//! test crate compiles the same file and checks it with property tests. Like `get_extent()` in
//! `mm/mremap.c`, this is the one place that knows about alignment.

/// One step of a copy: it crosses no PMD boundary on the source side nor on the destination
/// side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Extent {
    /// Source start.
    pub(crate) src: usize,
    /// Destination start.
    pub(crate) dst: usize,
    /// Length in bytes, a multiple of the page size if the inputs are.
    pub(crate) len: usize,
    /// The extent is one whole, aligned PMD on both sides: the only shape in which a huge PMD
    /// mapping can be copied as it is (whether it is one is for the leaf to see).
    pub(crate) whole_pmd: bool,
}

/// Cuts the copy into extents, in address order, and hands each to `leaf`; stops at the first
/// error. `pmd_size` is a power of two; the ranges do not wrap.
///
/// Generic over the leaf, so that another walk over two ranges (a move, a compare) can use it.
pub(crate) fn walk<E>(
    src: usize,
    dst: usize,
    len: usize,
    pmd_size: usize,
    mut leaf: impl FnMut(Extent) -> Result<(), E>,
) -> Result<(), E> {
    let mask = pmd_size - 1;
    let mut done = 0;
    while done < len {
        let (s, d) = (src + done, dst + done);
        let step = (pmd_size - (s & mask))
            .min(pmd_size - (d & mask))
            .min(len - done);
        leaf(Extent {
            src: s,
            dst: d,
            len: step,
            whole_pmd: step == pmd_size && s & mask == 0 && d & mask == 0,
        })?;
        done += step;
    }
    Ok(())
}

/// In-kernel tests (KUnit): the walker's invariants on copies placed around PMD boundaries,
/// for the PMD of 4 KiB pages (2 MiB) and of 64 KiB pages on arm64 (512 MiB). The host tests
/// (`host-tests/src/extent_tests.rs`) check the same properties on random placements.
#[cfg(CONFIG_PROCESS_VM_MMAP_KUNIT_TEST)]
#[::kernel::macros::kunit_tests(process_vm_mmap_extent)]
mod kunit {
    use super::*;

    const PAGE: usize = 4096;

    /// Walks one copy and returns whether every invariant held: the extents tile the copy in
    /// order, none crosses a PMD boundary on either side, each but the last ends at a
    /// boundary of one side, and `whole_pmd` is set exactly on aligned whole PMDs.
    fn walk_is_sound(src: usize, dst: usize, len: usize, pmd: usize) -> bool {
        let mut at = 0;
        let mut ended_early = false;
        let mut sound = true;
        let walked: Result<(), ()> = walk(src, dst, len, pmd, |e| {
            let aligned = e.src % pmd == 0 && e.dst % pmd == 0;
            sound &= !ended_early
                && e.len > 0
                && e.src == src + at
                && e.dst == dst + at
                && e.src / pmd == (e.src + e.len - 1) / pmd
                && e.dst / pmd == (e.dst + e.len - 1) / pmd
                && e.whole_pmd == (aligned && e.len == pmd);
            // Only the last extent may end short of both sides' boundaries.
            ended_early = (e.src + e.len) % pmd != 0 && (e.dst + e.len) % pmd != 0;
            at += e.len;
            Ok(())
        });
        walked.is_ok() && sound && at == len
    }

    #[test]
    fn extents_tile_and_respect_pmds_around_boundaries() {
        let mut walks = 0u32;
        let mut unsound = 0u32;
        for pmd in [2usize << 20, 512usize << 20] {
            let pages = pmd / PAGE;
            for s in -2isize..=2 {
                for d in -2isize..=2 {
                    for len in [1, 2, pages - 1, pages, pages + 1, 2 * pages, 3 * pages] {
                        let src = (3 * pmd).wrapping_add_signed(s * PAGE as isize);
                        let dst = (7 * pmd).wrapping_add_signed(d * PAGE as isize);
                        unsound += u32::from(!walk_is_sound(src, dst, len * PAGE, pmd));
                        walks += 1;
                    }
                }
            }
        }
        assert_eq!(walks, 2 * 5 * 5 * 7);
        assert_eq!(unsound, 0);
    }

    /// Walks a copy; returns how many extents it took and how many of them were whole PMDs.
    fn extents_and_whole_pmds(
        src: usize,
        dst: usize,
        len: usize,
        pmd: usize,
    ) -> Result<(usize, usize), ()> {
        let (mut n, mut whole) = (0, 0);
        walk(src, dst, len, pmd, |e| {
            n += 1;
            whole += usize::from(e.whole_pmd);
            Ok(())
        })?;
        Ok((n, whole))
    }

    #[test]
    fn congruent_aligned_copy_is_whole_pmds() {
        let pmd = 2usize << 20;
        assert_eq!(
            extents_and_whole_pmds(pmd, 5 * pmd, 3 * pmd, pmd),
            Ok((3, 3))
        );
    }

    #[test]
    fn non_congruent_copy_has_no_whole_pmd() {
        let pmd = 2usize << 20;
        // Each source PMD is cut where the destination crosses a boundary.
        assert_eq!(
            extents_and_whole_pmds(pmd, 5 * pmd + PAGE, 2 * pmd, pmd),
            Ok((4, 0))
        );
    }

    #[test]
    fn an_error_stops_the_walk() {
        let pmd = 2usize << 20;
        let mut calls = 0;
        let r = walk(0, 0, 4 * pmd, pmd, |_| {
            calls += 1;
            if calls == 2 {
                Err(calls)
            } else {
                Ok(())
            }
        });
        assert_eq!(r, Err(2));
        assert_eq!(calls, 2);
    }
}
