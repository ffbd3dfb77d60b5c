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
    /// `VM_EXEC`.
    pub(crate) exec: bool,
    /// The memfd's seals (`F_SEAL_WRITE`, `F_SEAL_FUTURE_WRITE`) forbid mapping it anew with
    /// these flags: a shared writable mapping.
    pub(crate) write_sealed: bool,
}

/// What the call asks for, and of whom, beyond the mapping itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Context {
    /// `PVMMAP_MOVE`: the source mapping is unmapped after the clone.
    pub(crate) move_source: bool,
    /// The caller has Memory-Deny-Write-Execute (`PR_SET_MDWE`).
    pub(crate) deny_exec: bool,
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
    /// A shared writable mapping of a write-sealed memfd.
    WriteSealed,
    /// Executable memory into a caller with Memory-Deny-Write-Execute.
    ExecDenied,
}

/// `EPERM`, `EACCES` and `EOPNOTSUPP`, the errnos of the refusals.
pub(crate) const EPERM: i32 = 1;
/// See [`EPERM`].
pub(crate) const EACCES: i32 = 13;
/// See [`EPERM`].
pub(crate) const EOPNOTSUPP: i32 = 95;

impl Refusal {
    /// The errno the user sees (positive). `EOPNOTSUPP` for every kind of mapping that cannot
    /// be cloned; where a mapping of a kind that can be cloned is refused for what it is
    /// asked to become, the errno `munmap(2)` and `mmap(2)` give for the same thing: `EPERM`
    /// for a sealed move and for a write-sealed memfd, `EACCES` under MDWE.
    pub(crate) const fn errno(self) -> i32 {
        match self {
            Refusal::SealedMove | Refusal::WriteSealed => EPERM,
            Refusal::ExecDenied => EACCES,
            _ => EOPNOTSUPP,
        }
    }
}

/// Decides whether a source mapping with these facts can be cloned (and, with
/// `PVMMAP_MOVE`, moved away).
///
/// Three kinds can: private anonymous memory, shmem (shared or private: `MAP_SHARED`
/// anonymous memory, memfd, tmpfs) and regular page-cache files. The clone always drops what
/// belongs to the source's owner (mlock, userfaultfd, seals, KSM merging, growsdown); a
/// read-only shared clone of a write-sealed memfd also drops `VM_MAYWRITE`, as `mmap(2)`
/// does. `pvmmap_clone_vma()` applies these.
pub(crate) fn decide(f: &Facts, ctx: &Context) -> Result<(), Refusal> {
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
        // Shared anonymous memory is shmem; a shared "anonymous" VMA is not one we know.
        (Kind::Anonymous, false) | (Kind::Shmem, _) | (Kind::PageCacheFile, _) => {}
        _ => return Err(Refusal::Kind),
    }
    if f.shared && f.write_sealed {
        return Err(Refusal::WriteSealed);
    }
    if ctx.deny_exec && f.exec {
        return Err(Refusal::ExecDenied);
    }
    if ctx.move_source && f.sealed {
        return Err(Refusal::SealedMove);
    }
    Ok(())
}

/// The contract of [`decide`], written independently of its order of checks, and its whole
/// input space: the oracle of the host tests (`host-tests/src/policy_tests.rs`) and of the
/// KUnit suite below.
#[cfg(any(test, CONFIG_PROCESS_VM_MMAP_KUNIT_TEST))]
pub(crate) mod contract {
    use super::*;

    const KINDS: [Kind; 4] = [
        Kind::Anonymous,
        Kind::Shmem,
        Kind::PageCacheFile,
        Kind::Other,
    ];

    /// Every kind with every combination of the ten facts.
    fn all_facts() -> impl Iterator<Item = Facts> {
        KINDS.into_iter().flat_map(|kind| {
            (0u32..1 << 10).map(move |b| Facts {
                kind,
                shared: b & 1 != 0,
                special: b & 2 != 0,
                hugetlb: b & 4 != 0,
                no_fork_copy: b & 8 != 0,
                droppable: b & 16 != 0,
                userfaultfd: b & 32 != 0,
                shadow_stack: b & 64 != 0,
                sealed: b & 128 != 0,
                exec: b & 256 != 0,
                write_sealed: b & 512 != 0,
            })
        })
    }

    /// With and without `PVMMAP_MOVE` and MDWE.
    fn all_contexts() -> impl Iterator<Item = Context> {
        (0u32..4).map(|b| Context {
            move_source: b & 1 != 0,
            deny_exec: b & 2 != 0,
        })
    }

    /// The whole input space: 4 x 2^10 x 4 cases.
    pub(crate) fn all_cases() -> impl Iterator<Item = (Facts, Context)> {
        all_facts().flat_map(|f| all_contexts().map(move |c| (f, c)))
    }

    /// Any flag that says "do not copy me" refuses the mapping, whatever its kind.
    pub(crate) fn never_copy(f: &Facts) -> bool {
        f.special || f.hugetlb || f.no_fork_copy || f.droppable || f.userfaultfd || f.shadow_stack
    }

    /// The three kinds the contract allows: private anonymous, shmem, page-cache files.
    pub(crate) fn allowed_kind(f: &Facts) -> bool {
        matches!(
            (f.kind, f.shared),
            (Kind::Anonymous, false) | (Kind::Shmem, _) | (Kind::PageCacheFile, _)
        )
    }

    /// Whether the contract allows cloning a mapping with these facts in this context.
    pub(crate) fn allows(f: &Facts, c: &Context) -> bool {
        let refused = !allowed_kind(f)
            || never_copy(f)
            || (f.shared && f.write_sealed)
            || (c.deny_exec && f.exec)
            || (c.move_source && f.sealed);
        !refused
    }
}

/// In-kernel tests (KUnit): the allowlist over its whole fact space, against [`contract`], by
/// the kernel that ships it. The host tests (`host-tests/src/policy_tests.rs`) check the same
/// and more.
#[cfg(CONFIG_PROCESS_VM_MMAP_KUNIT_TEST)]
#[::kernel::macros::kunit_tests(process_vm_mmap_policy)]
mod kunit {
    use super::contract::{all_cases, allowed_kind, allows, never_copy};
    use super::*;

    #[test]
    fn allowed_is_exactly_what_the_contract_allows() {
        let mut wrong = 0u32;
        let mut allowed = 0u32;
        for (f, c) in all_cases() {
            let want = allows(&f, &c);
            wrong += u32::from(decide(&f, &c).is_ok() != want);
            allowed += u32::from(want);
        }
        assert_eq!(wrong, 0);
        // 3 unshared kind combinations with write_sealed free (x2), 2 shared ones with it
        // clear, times exec and sealed, each free unless MDWE or MOVE forbids it.
        assert_eq!(allowed, 8 * (4 + 2 + 2 + 1));
    }

    #[test]
    fn errnos_follow_the_contract() {
        let mut wrong = 0u32;
        for (f, c) in all_cases() {
            let ok = match decide(&f, &c) {
                Ok(()) => true,
                Err(r @ (Refusal::SealedMove | Refusal::WriteSealed)) => r.errno() == EPERM,
                Err(r @ Refusal::ExecDenied) => r.errno() == EACCES,
                Err(r) => (!allowed_kind(&f) || never_copy(&f)) && r.errno() == EOPNOTSUPP,
            };
            wrong += u32::from(!ok);
        }
        assert_eq!(wrong, 0);
    }
    #[test]
    fn the_three_kinds_are_allowed_plain() {
        let plain = |kind, shared| Facts {
            kind,
            shared,
            special: false,
            hugetlb: false,
            no_fork_copy: false,
            droppable: false,
            userfaultfd: false,
            shadow_stack: false,
            sealed: false,
            exec: false,
            write_sealed: false,
        };
        let ctx = Context {
            move_source: false,
            deny_exec: false,
        };
        assert!(decide(&plain(Kind::Anonymous, false), &ctx).is_ok());
        assert!(decide(&plain(Kind::Shmem, true), &ctx).is_ok());
        assert!(decide(&plain(Kind::PageCacheFile, false), &ctx).is_ok());
        assert_eq!(
            decide(&plain(Kind::Anonymous, true), &ctx),
            Err(Refusal::Kind)
        );
        assert_eq!(decide(&plain(Kind::Other, false), &ctx), Err(Refusal::Kind));
    }
}
