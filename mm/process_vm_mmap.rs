// SPDX-License-Identifier: GPL-2.0

//! `process_vm_mmap(2)`: clone the mappings of a range of another process into the caller.
//!
//! The syscall stub in `mm/process_vm_mmap_helpers.c` calls [`process_vm_mmap_rust`], which
//! reads as the list of steps of the syscall:
//!
//! 1. check the arguments ([`request`], pure and host-tested);
//! 2. find the target by pid or pidfd and take its address space through `mm_access()`, the
//!    gate of `process_vm_writev(2)`;
//! 3. check what needs the target's address space: the source range, untagged as the target
//!    sees it, against its end, and whether an exact destination overlaps the source in the
//!    same address space;
//! 4. ask the LSMs whether the caller may map what the source range maps, without locks
//!    ([`approve`]); make room for a `PVMMAP_FIXED` destination under the caller's lock alone;
//! 5. lock both address spaces ([`LockedPair`]) and check every source mapping before
//!    anything changes ([`sources`]);
//! 6. place the destination, create one destination VMA per source piece and copy the page
//!    tables extent by extent ([`extent`]); with `PVMMAP_MOVE`, an extent whose entries can all
//!    move as they are is only prepared; on failure, unmap what was created ([`undo`], which
//!    cannot fail);
//! 7. with `PVMMAP_MOVE`, move the prepared extents and unmap the source range, neither of
//!    which can fail: a failed call moved nothing;
//! 8. with the locks dropped, fault in a clone that `mlockall(MCL_FUTURE)` locked.
//!
//! Every reference and lock taken on the way is owned by a value released when it goes out of
//! scope, so no path returns with one held.
//!
//! C header: [`mm/process_vm_mmap.h`](srctree/mm/process_vm_mmap.h)

use core::marker::PhantomData;
const __LOG_PREFIX: &[u8] = b"process_vm_mmap\0";

use core::ptr::NonNull;
use kernel::{
    bindings,
    mm::{MmWithUser, MmapWritePairGuard},
    page::PAGE_SIZE,
    prelude::*,
    sync::aref::ARef,
    task::{PtraceMode, Task},
};

#[path = "process_vm_mmap/request.rs"]
mod request;

#[path = "process_vm_mmap/extent.rs"]
mod extent;

#[path = "process_vm_mmap/policy.rs"]
mod policy;

use request::{Invalid, Limits, Placement, Request, Target};

// The pure module spells the uapi flags out; make sure they are the uapi's.
const _: () = {
    assert!(request::PVMMAP_FIXED == bindings::PVMMAP_FIXED as usize);
    assert!(request::PVMMAP_FIXED_NOREPLACE == bindings::PVMMAP_FIXED_NOREPLACE as usize);
    assert!(request::PVMMAP_PIDFD == bindings::PVMMAP_PIDFD as usize);
    assert!(request::PVMMAP_MOVE == bindings::PVMMAP_MOVE as usize);
    assert!(request::EINVAL as u32 == bindings::EINVAL);
    assert!(policy::EPERM as u32 == bindings::EPERM);
    assert!(policy::EACCES as u32 == bindings::EACCES);
    assert!(policy::EOPNOTSUPP as u32 == bindings::EOPNOTSUPP);
};

/// What C tells about a source VMA.
type VmaFacts = bindings::pvmmap_vma_facts;

/// The size a PMD maps: the unit in which the walker cuts the copy. A constant helper:
/// arm64's `PMD_SHIFT` is a function-like macro that bindgen does not evaluate.
const PMD_SIZE: usize = bindings::PMD_SIZE;

impl From<Invalid> for Error {
    fn from(e: Invalid) -> Error {
        Error::from_errno(-e.errno())
    }
}

impl From<policy::Refusal> for Error {
    fn from(r: policy::Refusal) -> Error {
        Error::from_errno(-r.errno())
    }
}

/// The facts of a source VMA as the pure policy takes them.
fn policy_facts(f: &VmaFacts) -> policy::Facts {
    policy::Facts {
        kind: match f.kind {
            bindings::pvmmap_vma_kind_PVMMAP_VMA_ANONYMOUS => policy::Kind::Anonymous,
            bindings::pvmmap_vma_kind_PVMMAP_VMA_SHMEM => policy::Kind::Shmem,
            bindings::pvmmap_vma_kind_PVMMAP_VMA_PAGE_CACHE_FILE => policy::Kind::PageCacheFile,
            _ => policy::Kind::Other,
        },
        shared: f.shared,
        special: f.special,
        hugetlb: f.hugetlb,
        no_fork_copy: f.no_fork_copy,
        droppable: f.droppable,
        userfaultfd: f.userfaultfd,
        shadow_stack: f.shadow_stack,
        sealed: f.sealed,
        exec: f.prot & bindings::PROT_EXEC as c_ulong != 0,
        write_sealed: f.write_sealed,
    }
}

/// Converts a C `0 or -errno` return.
fn errno_result(ret: c_int) -> Result {
    if ret < 0 {
        Err(Error::from_errno(ret))
    } else {
        Ok(())
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

/// Both address spaces locked for write: the source's and the caller's (maybe the same one).
/// The C helpers reach the caller's as `current->mm`; holding this value is their proof.
struct LockedPair<'a> {
    src: &'a MmWithUser,
    _locks: MmapWritePairGuard<'a>,
}

impl<'a> LockedPair<'a> {
    /// Locks both; fails with `EINTR` on a fatal signal.
    fn lock(src: &'a MmWithUser, dst: &'a MmWithUser) -> Result<Self> {
        Ok(Self {
            src,
            _locks: MmapWritePairGuard::lock_killable(src, dst)?,
        })
    }
}

/// The part of one source VMA that the request covers.
///
/// The lifetime ties it to the [`LockedPair`] it was found under: it cannot outlive the locks.
///
/// # Invariants
///
/// `vma` is a VMA of the source mm covering `[start, end)`; it stays valid while the locks
/// are held and the source mm is not changed.
struct Piece<'a> {
    vma: *mut bindings::vm_area_struct,
    start: usize,
    end: usize,
    _locked: PhantomData<&'a LockedPair<'a>>,
}

/// Calls `f` for each mapping of the source range `[req.src, req.src + req.len)` with the
/// part of it the range covers, in order; a hole is `EFAULT`.
///
/// # Safety
///
/// The mmap lock of `mm` must be held (read or write) for the whole call.
unsafe fn walk_sources(
    mm: &MmWithUser,
    req: &Request,
    mut f: impl FnMut(*mut bindings::vm_area_struct, &VmaFacts, usize, usize) -> Result,
) -> Result {
    let end = req.src + req.len;
    let mut addr = req.src;
    while addr < end {
        let mut facts = VmaFacts::default();
        // SAFETY: The mmap lock is held (function precondition); `facts` is valid for writes.
        let vma = unsafe { bindings::pvmmap_vma_facts(mm.as_raw(), addr, &mut facts) };
        if vma.is_null() {
            return Err(EFAULT);
        }
        let piece_end = facts.end.min(end);
        f(vma, &facts, addr, piece_end)?;
        addr = piece_end;
    }
    Ok(())
}

/// A reference to a file: `get_file()` when made, `fput()` when dropped.
///
/// Only held and compared, never used to read or seek, so none of `kernel::fs::File`'s
/// conditions about `fdget_pos()` apply.
///
/// # Invariants
///
/// `self.0` points to a file of which this value owns one reference.
struct FileRef(NonNull<bindings::file>);

impl FileRef {
    /// Takes a reference to `file`.
    ///
    /// # Safety
    ///
    /// `file` points to a file whose reference count stays positive during the call.
    unsafe fn get(file: NonNull<bindings::file>) -> Self {
        // SAFETY: The file is valid with a positive count (function precondition).
        unsafe { bindings::get_file(file.as_ptr()) };
        // INVARIANT: The reference just taken is this value's.
        Self(file)
    }
}

impl Drop for FileRef {
    fn drop(&mut self) {
        // SAFETY: By the type invariant this value owns a reference to the file.
        unsafe { bindings::fput(self.0.as_ptr()) };
    }
}

/// A file (or anonymous memory) and the protection with which the LSMs let the caller map it.
struct Grant {
    /// Owned, so that the pointer compared under the locks cannot be a reused one.
    file: Option<FileRef>,
    prot: c_ulong,
    shared: bool,
}

/// What the LSMs approved before the locks were taken.
///
/// `security_mmap_file()` runs without the mmap lock (LSMs take locks that nest outside it),
/// so the source is looked at twice: once under its read lock to ask, once under both write
/// locks to clone; a mapping found the second time that was not approved the first time
/// means the source changed in between ([`sources`] then says so).
struct Grants(KVec<Grant>);

impl Grant {
    /// The file for C: null for anonymous memory.
    fn file_ptr(&self) -> *mut bindings::file {
        self.file
            .as_ref()
            .map_or(core::ptr::null_mut(), |f| f.0.as_ptr())
    }
}

impl Grants {
    fn covers(&self, facts: &VmaFacts) -> bool {
        self.0
            .iter()
            .any(|g| g.file_ptr() == facts.file && g.prot == facts.prot && g.shared == facts.shared)
    }
}

/// Checks every source mapping against the policy and asks the LSMs about each distinct
/// (file, protection, sharing) of the source range, as `mmap(2)` would for the clone.
fn approve(src: &MmWithUser, req: &Request, ctx: &policy::Context) -> Result<Grants> {
    let mut grants = Grants(KVec::new());
    let mut ask = |facts: &VmaFacts| -> Result {
        policy::decide(&policy_facts(facts), ctx)?;
        if grants.covers(facts) {
            return Ok(());
        }
        // SAFETY: The VMA holds a reference to its file and the mmap lock keeps the VMA.
        let file = NonNull::new(facts.file).map(|f| unsafe { FileRef::get(f) });
        let grant = Grant {
            file,
            prot: facts.prot,
            shared: facts.shared,
        };
        grants.0.push(grant, GFP_KERNEL)?;
        Ok(())
    };
    {
        let _lock = src.mmap_read_lock();
        // SAFETY: The mmap read lock of `src` is held until the end of the block.
        unsafe { walk_sources(src, req, |_, facts, _, _| ask(facts)) }?;
    }
    for g in grants.0.iter() {
        // SAFETY: The file is null or one `g` holds a reference to; no mmap lock is held.
        errno_result(unsafe { bindings::pvmmap_security_mmap(g.file_ptr(), g.prot, g.shared) })?;
    }
    Ok(grants)
}

/// The source changed between [`approve`] and [`sources`].
struct Changed;

/// Looks at every mapping of the source range under the locks and returns the pieces to
/// clone, or the error the contract names: `EFAULT` for a hole, and what [`policy::decide`]
/// says; `Ok(Err(Changed))` for a mapping the LSMs were not asked about.
fn sources<'a>(
    mms: &'a LockedPair<'a>,
    req: &Request,
    ctx: &policy::Context,
    grants: &Grants,
) -> Result<core::result::Result<KVec<Piece<'a>>, Changed>> {
    let mut pieces = KVec::new();
    let mut changed = false;
    let mut take = |vma, facts: &VmaFacts, start, end| -> Result {
        policy::decide(&policy_facts(facts), ctx)?;
        if !grants.covers(facts) {
            changed = true;
            return Ok(());
        }
        // INVARIANT: `vma` covers `[start, end)` and the source mm is locked.
        let piece = Piece {
            vma,
            start,
            end,
            _locked: PhantomData,
        };
        pieces.push(piece, GFP_KERNEL)?;
        Ok(())
    };
    // SAFETY: The source mm is locked for write by `mms`.
    unsafe { walk_sources(mms.src, req, &mut take) }?;
    Ok(if changed { Err(Changed) } else { Ok(pieces) })
}

/// Makes room for a `PVMMAP_FIXED` destination before the locks of the pair are taken: under
/// the caller's mmap lock alone, since a file's `->close()` may wait for the source process (a
/// FUSE daemon), which needs its own. [`place`] then finds the range free, unless another thread
/// of the caller mapped something there in between.
fn unmap_fixed_destination(req: &Request) -> Result {
    match req.placement {
        Placement::Fixed(addr) => {
            // SAFETY: No mmap lock is held; `addr` and `req.len` were checked against
            // `TASK_SIZE`.
            errno_result(unsafe { bindings::pvmmap_dst_unmap(addr, req.len) })
        }
        _ => Ok(()),
    }
}

/// Chooses or checks the destination range in the caller's mm and returns its start, or
/// `Ok(None)` if a `PVMMAP_FIXED` range that [`unmap_fixed_destination`] emptied was mapped
/// again since. The [`LockedPair`] proves the caller's mm is locked for write; it is borrowed
/// mutably because placing may change the caller's mm, which can be the source's: no [`Piece`]
/// found before can outlive the call.
fn place(_locked: &mut LockedPair<'_>, req: &Request) -> Result<Option<usize>> {
    match req.placement {
        Placement::Hint(hint) => {
            // SAFETY: The caller's mm is locked for write (`_locked`).
            let addr = unsafe { bindings::pvmmap_dst_area(req.src, req.len, hint) };
            // `get_unmapped_area()` returns an address or a negative errno.
            if (addr as isize) < 0 && (addr as isize) >= -(bindings::MAX_ERRNO as isize) {
                return Err(Error::from_errno(addr as c_int));
            }
            Ok(Some(addr))
        }
        Placement::Fixed(addr) | Placement::FixedNoReplace(addr) => {
            // SAFETY: As above; `addr` and `req.len` were checked against `TASK_SIZE`.
            match errno_result(unsafe { bindings::pvmmap_dst_free(addr, req.len) }) {
                Err(e) if e == EEXIST && matches!(req.placement, Placement::Fixed(_)) => Ok(None),
                r => r.map(|()| Some(addr)),
            }
        }
    }
}

/// Holds off uprobe registration, as `dup_mmap()` does, for as long as it lives; taken before
/// the mmap locks and dropped after them.
struct UprobeGuard;

impl UprobeGuard {
    fn lock() -> Self {
        // SAFETY: No mmap lock is held: callers take this guard before a [`LockedPair`].
        unsafe { bindings::pvmmap_uprobe_lock() };
        Self
    }
}

impl Drop for UprobeGuard {
    fn drop(&mut self) {
        // SAFETY: `lock()` took it.
        unsafe { bindings::pvmmap_uprobe_unlock() };
    }
}

/// Flushes the source mm's TLB when dropped, as `dup_mmap()` does before it unlocks the parent.
struct FlushOnDrop<'a>(&'a MmWithUser);

impl Drop for FlushOnDrop<'_> {
    fn drop(&mut self) {
        // SAFETY: The mm has users for the borrow; flushing needs no lock.
        unsafe { bindings::pvmmap_flush_src(self.0.as_raw()) };
    }
}

/// Unmaps what a failed call created in the caller's mm; the [`LockedPair`] proves that mm is
/// locked for write. Cannot fail: whole VMAs of the clone are unmapped, which splits nothing,
/// and the few maple tree nodes needed are allocated with `__GFP_NOFAIL`.
fn undo(_locked: &LockedPair<'_>, start: usize, len: usize) {
    // SAFETY: The caller's mm is locked for write (`_locked`); `[start, start + len)` is made of
    // the VMAs this call created.
    unsafe { bindings::pvmmap_undo(start, len) };
}

/// What [`clone_piece`] left for the move of one piece: its destination VMA and the extents
/// whose entries [`move_piece`] moves.
struct Planned {
    dst_vma: *mut bindings::vm_area_struct,
    /// Each extent with how `pvmmap_move_prepare()` said it moves.
    moves: KVec<(extent::Extent, bindings::pvmmap_move_plan)>,
}

/// Creates the destination VMA of `piece` at `dst` and copies its page tables; with `moving`,
/// an extent whose entries can all move as they are is left for [`move_piece`] instead (its
/// destination page tables allocated), so that nothing moves before every step that can fail
/// is done.
fn clone_piece(piece: &Piece<'_>, dst: usize, moving: bool) -> Result<Planned> {
    // SAFETY: By the invariant of `Piece` the VMA is valid and its mm locked for write; the
    // caller's mm is locked too and `[dst, dst + len)` is free in it.
    errno_result(unsafe { bindings::pvmmap_lock_src_vma(piece.vma) })?;
    // SAFETY: As above.
    let dst_vma = unsafe { bindings::pvmmap_clone_vma(piece.vma, piece.start, piece.end, dst) };
    let dst_vma = kernel::error::from_err_ptr(dst_vma)?;
    let mut moves = KVec::new();
    extent::walk(piece.start, dst, piece.end - piece.start, PMD_SIZE, |e| {
        if moving {
            let mut extent_plan = bindings::pvmmap_move_plan::default();
            // SAFETY: `dst_vma` was just created over `[dst, dst + len)`, `piece.vma` covers
            // the source side; both mms are locked, the source VMA is write-locked and its
            // write_protect_seq held (`clone_locked()`); `extent_plan` is valid for writes.
            let ret = unsafe {
                bindings::pvmmap_move_prepare(
                    dst_vma,
                    piece.vma,
                    e.dst,
                    e.src,
                    e.len,
                    e.whole_pmd,
                    &mut extent_plan,
                )
            };
            errno_result(ret)?;
            if ret > 0 {
                return Ok(moves.push((e, extent_plan), GFP_KERNEL)?);
            }
        }
        // SAFETY: As above.
        errno_result(unsafe {
            bindings::pvmmap_copy_extent(dst_vma, piece.vma, e.dst, e.src, e.len, e.whole_pmd)
        })
    })?;
    Ok(Planned { dst_vma, moves })
}

/// Finishes the destination VMA of `piece` once its page tables are complete, moved extents
/// included (with `mlockall(MCL_FUTURE)` their pages are mlocked too).
fn finish_piece(piece: &Piece<'_>, plan: &Planned) {
    // SAFETY: `plan.dst_vma` is linked in the caller's mm, locked for write, its tables copied
    // or moved from `piece.vma`, which is valid (invariant of `Piece`); `clone_locked()` runs
    // under `UprobeGuard`.
    unsafe { bindings::pvmmap_clone_done(plan.dst_vma, piece.vma) };
}

/// A section in which the entries of one source VMA move: the source's MMU notifiers were told
/// and its anon_vma is locked for write; dropping it flushes the source's TLB and unlocks.
struct MoveSection(bindings::pvmmap_move);

impl MoveSection {
    /// # Safety
    ///
    /// `vma` is a VMA with an anon_vma of the locked source mm, write-locked, covering
    /// `[start, end)`; no anon_vma lock is held.
    unsafe fn begin(vma: *mut bindings::vm_area_struct, start: usize, end: usize) -> Self {
        let mut move_ = bindings::pvmmap_move::default();
        // SAFETY: As the function's preconditions say; `move_` is valid for writes.
        unsafe { bindings::pvmmap_move_begin(&mut move_, vma, start, end) };
        Self(move_)
    }
}

impl Drop for MoveSection {
    fn drop(&mut self) {
        // SAFETY: `begin()` opened the section, which nothing else closes.
        unsafe { bindings::pvmmap_move_end(&mut self.0) };
    }
}

/// Moves the extents that [`clone_piece`] planned for `piece`. Cannot fail: their entries
/// could all move and the destination page tables are allocated.
fn move_piece(piece: &Piece<'_>, plan: &Planned) {
    let (Some((first, _)), Some((last, _))) = (plan.moves.first(), plan.moves.last()) else {
        return;
    };
    // SAFETY: By the invariant of `Piece` the VMA is valid, its mm locked for write; it was
    // write-locked by `clone_piece()` and has an anon_vma, or nothing would have been planned.
    let mut section = unsafe { MoveSection::begin(piece.vma, first.src, last.src + last.len) };
    for (e, extent_plan) in plan.moves.iter() {
        // SAFETY: `pvmmap_move_prepare()` set `extent_plan` for this extent under the locks held
        // since without a break (`clone_locked()`); what reclaim or migration changed since, the
        // move finds in the entries.
        unsafe {
            bindings::pvmmap_move_extent(
                &mut section.0,
                plan.dst_vma,
                e.dst,
                e.src,
                e.len,
                extent_plan,
            )
        };
    }
}

/// Holds the source's write_protect_seq from the first page table copied or moved to the last:
/// a pin GUP-fast takes meanwhile is dropped again, so the pin checks of the copier and the
/// mover see every pin that lasts.
struct WriteProtectSeq<'a>(&'a MmWithUser);

impl<'a> WriteProtectSeq<'a> {
    /// # Safety
    ///
    /// The mm is locked for write and stays so until the value is dropped.
    unsafe fn begin(mm: &'a MmWithUser) -> Self {
        // SAFETY: The mm is locked for write (function precondition), which serialises writers.
        unsafe { bindings::pvmmap_src_write_protect_begin(mm.as_raw()) };
        Self(mm)
    }
}

impl Drop for WriteProtectSeq<'_> {
    fn drop(&mut self) {
        // SAFETY: `begin()` made the count odd under the lock that is still held.
        unsafe { bindings::pvmmap_src_write_protect_end(self.0.as_raw()) };
    }
}

/// How many times the source may change between [`approve`] and [`sources`] before the call
/// gives up with `EAGAIN`.
const ATTEMPTS: usize = 3;

fn process_vm_mmap(pid: i32, src: usize, len: usize, dst: usize, flags: usize) -> Result<usize> {
    let limits = Limits {
        page_size: PAGE_SIZE,
        // SAFETY: Reads `TASK_SIZE` of the current task; no precondition.
        task_size: unsafe { bindings::pvmmap_task_size() },
    };
    let req = Request::parse(pid, src, len, dst, flags, &limits)?;

    let task = find_target(req.target)?;
    let src_mm = access_mm(&task)?;
    // The vsyscall page is a mapping without a VMA above `TASK_SIZE`: a kind that cannot be
    // cloned, not a range out of bounds.
    // SAFETY: `src_mm` has users; `in_gate_area()` only compares the address.
    if unsafe { bindings::pvmmap_in_gate_area(src_mm.as_raw(), req.src) } {
        return Err(policy::Refusal::Kind.into());
    }
    // A tagged address (arm64 TBI, x86 LAM) means what the target's mm makes of it, as for
    // `process_madvise(2)`; untagging clears high bits only, so the range stays page aligned
    // and does not wrap.
    let mut untagged = 0;
    // SAFETY: `src_mm` has users; `untagged` is valid for writes.
    errno_result(unsafe { bindings::pvmmap_untag_src(src_mm.as_raw(), req.src, &mut untagged) })?;
    let req = Request {
        src: untagged,
        ..req
    };
    // SAFETY: `task_size` is set when the mm is set up for exec and not changed while the mm has
    // users; `src_mm` holds one.
    req.check_source_end(unsafe { (*src_mm.as_raw()).__bindgen_anon_1.task_size })?;
    let current = current!();
    let dst_mm = current.mm().ok_or(ESRCH)?;
    if core::ptr::eq(src_mm.as_raw(), dst_mm.as_raw()) {
        req.check_same_mm()?;
    }
    let ctx = policy::Context {
        move_source: req.move_source,
        // SAFETY: Reads a flag of the current mm; no precondition.
        deny_exec: unsafe { bindings::pvmmap_dst_denies_exec() },
    };

    for _ in 0..ATTEMPTS {
        let grants = approve(&src_mm, &req, &ctx)?;
        unmap_fixed_destination(&req)?;
        let start = {
            // Declared first, dropped last: after the mmap locks.
            let _uprobes = UprobeGuard::lock();
            let mut mms = LockedPair::lock(&src_mm, dst_mm)?;
            clone_locked(&mut mms, &req, &ctx, &grants)?
        };
        if let Some(start) = start {
            // SAFETY: No mmap lock is held; the clone is at `[start, start + len)`.
            unsafe { bindings::pvmmap_populate(start, req.len) };
            return Ok(start);
        }
    }
    Err(EAGAIN)
}

/// Does the clone under both locks; `Ok(None)` if the source changed since [`approve`], or a
/// `PVMMAP_FIXED` destination was mapped again since [`unmap_fixed_destination`] (nothing was
/// changed then).
fn clone_locked(
    mms: &mut LockedPair<'_>,
    req: &Request,
    ctx: &policy::Context,
    grants: &Grants,
) -> Result<Option<usize>> {
    // An OOM-reaped source has lost pages its page tables seem to map: as `process_vm_readv(2)`.
    // SAFETY: The source mm is locked.
    if unsafe { bindings::pvmmap_src_unstable(mms.src.as_raw()) } {
        return Err(EFAULT);
    }
    // Every source mapping is checked before anything changes.
    if sources(mms, req, ctx, grants)?.is_err() {
        return Ok(None);
    }
    let Some(start) = place(mms, req)? else {
        return Ok(None);
    };
    // With PVMMAP_MOVE, the source range is made of whole VMAs first, so that unmapping it at
    // the end cannot fail once pages have moved; a failure later leaves it split, as a failed
    // munmap(2) may.
    if req.move_source {
        // SAFETY: The source mm is locked for write; the range was checked to be mapped, not
        // sealed, and below the source mm's `task_size`.
        errno_result(unsafe { bindings::pvmmap_split_src(mms.src.as_raw(), req.src, req.len) })?;
    }
    // Placing may have unmapped parts of the caller's mm, which can be the source's, and the
    // split changed the source's VMAs: look at the source again for the pointers to copy from.
    // Nothing the LSMs did not see can have appeared: both locks are held.
    let Ok(pieces) = sources(mms, req, ctx, grants)? else {
        return Err(EAGAIN);
    };
    let mut plans = KVec::with_capacity(pieces.len(), GFP_KERNEL)?;
    // From the first write-protected source PTE on, the source TLB must be flushed before its
    // lock is dropped, whatever happens: stale writable entries would let the source write to
    // pages the clone shares. Dropped when this function returns, before the caller drops the
    // locks.
    let _flush = FlushOnDrop(mms.src);
    {
        // SAFETY: The source mm is locked for write by `mms`, for longer than this block.
        let _seq = unsafe { WriteProtectSeq::begin(mms.src) };
        // Every step that can fail, before anything moves.
        for piece in pieces.iter() {
            let dst = start + (piece.start - req.src);
            let planned = clone_piece(piece, dst, req.move_source)
                .and_then(|plan| Ok(plans.push(plan, GFP_KERNEL)?));
            if let Err(e) = planned {
                // Unmap whatever this call created, the VMA of the failing piece included.
                undo(mms, start, piece.end - req.src);
                return Err(e);
            }
        }
        if plans.iter().any(|plan| !plan.moves.is_empty()) {
            // SAFETY: No spinlock is held; draining may sleep.
            unsafe { bindings::pvmmap_move_drain() };
        }
        for (piece, plan) in pieces.iter().zip(plans.iter()) {
            move_piece(piece, plan);
        }
    }
    for (piece, plan) in pieces.iter().zip(plans.iter()) {
        finish_piece(piece, plan);
    }
    if req.move_source {
        // SAFETY: The source mm is locked for write; `pvmmap_split_src()` made the range whole
        // VMAs, which were checked to be unsealed.
        unsafe { bindings::pvmmap_unmap_src(mms.src.as_raw(), req.src, req.len) };
    }
    Ok(Some(start))
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
