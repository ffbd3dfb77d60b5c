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
