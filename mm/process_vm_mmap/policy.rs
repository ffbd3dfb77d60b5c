// SPDX-License-Identifier: GPL-2.0

//! Which source mappings `process_vm_mmap(2)` may clone: an allowlist.
//!
//! C gathers the facts about a VMA that Rust cannot read portably (its kind by `vm_ops` and
//! file identity, its flags: `pvmmap_vma_facts()`); [`decide`] is the one place that turns
//! them into a decision. A kind nobody listed is refused.
//!
//! Pure (`core` only): the kernel compiles it as a module of `mm/process_vm_mmap.rs`, the host
//! test crate compiles the same file and checks it over the whole fact space.

/// What a VMA is, as far as cloning is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Anonymous memory (`vma_is_anonymous()`).
    Anonymous,
    /// shmem, memfd or tmpfs (`vma_is_shmem()`, not memfd_secret).
    Shmem,
    /// A regular page-cache file (`filemap_map_pages()`, not an anon inode).
    PageCacheFile,
    /// Anything else: special mappings, memfd_secret, DAX, driver mappings, ...
    Other,
}

/// The facts [`decide`] looks at; C fills them in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Facts {
    /// The kind of mapping.
    pub(crate) kind: Kind,
    /// `VM_MAYSHARE`: a shared mapping.
    pub(crate) shared: bool,
    /// `VM_PFNMAP`, `VM_IO`, `VM_MIXEDMAP` or `VM_DONTEXPAND`: pages the owner manages.
    pub(crate) special: bool,
    /// `VM_HUGETLB`.
    pub(crate) hugetlb: bool,
    /// `VM_DONTCOPY` or `VM_WIPEONFORK`: the owner said "never duplicate".
    pub(crate) no_fork_copy: bool,
    /// `VM_DROPPABLE`.
    pub(crate) droppable: bool,
    /// Registered with userfaultfd.
    pub(crate) userfaultfd: bool,
    /// `VM_SHADOW_STACK`.
    pub(crate) shadow_stack: bool,
    /// Sealed with `mseal()`.
    pub(crate) sealed: bool,
}

/// Why a mapping cannot be cloned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// A kind of mapping this version does not clone.
    Kind,
    /// The owner manages the pages (`VM_SPECIAL`).
    Special,
    /// hugetlb.
    Hugetlb,
    /// `MADV_DONTFORK` or `MADV_WIPEONFORK`.
    NoForkCopy,
    /// `MAP_DROPPABLE`.
    Droppable,
    /// Registered with userfaultfd: its monitor expects to see every fault.
    Userfaultfd,
    /// A shadow stack.
    ShadowStack,
    /// `PVMMAP_MOVE` would unmap a sealed mapping.
    SealedMove,
}

/// `EPERM` and `EOPNOTSUPP`, the errnos of the refusals.
pub(crate) const EPERM: i32 = 1;
/// See [`EPERM`].
pub(crate) const EOPNOTSUPP: i32 = 95;

impl Refusal {
    /// The errno the user sees (positive): `EPERM` for a sealed move, as `munmap()` says for
    /// sealed mappings; `EOPNOTSUPP` for every kind of mapping that cannot be cloned.
    pub(crate) const fn errno(self) -> i32 {
        match self {
            Refusal::SealedMove => EPERM,
            _ => EOPNOTSUPP,
        }
    }
}

/// Decides whether a source mapping with these facts can be cloned (and, with
/// `PVMMAP_MOVE`, moved away).
///
/// This version clones private anonymous memory only; shmem and page-cache files are known
/// kinds that it refuses until the copier handles them.
pub(crate) fn decide(f: &Facts, move_source: bool) -> Result<(), Refusal> {
    if f.special {
        return Err(Refusal::Special);
    }
    if f.hugetlb {
        return Err(Refusal::Hugetlb);
    }
    if f.no_fork_copy {
        return Err(Refusal::NoForkCopy);
    }
    if f.droppable {
        return Err(Refusal::Droppable);
    }
    if f.userfaultfd {
        return Err(Refusal::Userfaultfd);
    }
    if f.shadow_stack {
        return Err(Refusal::ShadowStack);
    }
    match (f.kind, f.shared) {
        (Kind::Anonymous, false) => {}
        _ => return Err(Refusal::Kind),
    }
    if move_source && f.sealed {
        return Err(Refusal::SealedMove);
    }
    Ok(())
}
