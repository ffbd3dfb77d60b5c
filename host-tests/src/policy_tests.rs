// SPDX-License-Identifier: GPL-2.0

//! `policy.rs` over its whole input space: every kind, every combination of flags, with and
//! without `PVMMAP_MOVE` (4 x 2^8 x 2 cases), against the contract's allowlist.

use crate::policy::*;

const KINDS: [Kind; 4] = [
    Kind::Anonymous,
    Kind::Shmem,
    Kind::PageCacheFile,
    Kind::Other,
];

fn all_facts() -> impl Iterator<Item = Facts> {
    KINDS.into_iter().flat_map(|kind| {
        (0u32..1 << 8).map(move |b| Facts {
            kind,
            shared: b & 1 != 0,
            special: b & 2 != 0,
            hugetlb: b & 4 != 0,
            no_fork_copy: b & 8 != 0,
            droppable: b & 16 != 0,
            userfaultfd: b & 32 != 0,
            shadow_stack: b & 64 != 0,
            sealed: b & 128 != 0,
        })
    })
}

/// Any flag that says "do not copy me" refuses the mapping, whatever its kind.
fn never_copy(f: &Facts) -> bool {
    f.special || f.hugetlb || f.no_fork_copy || f.droppable || f.userfaultfd || f.shadow_stack
}

#[test]
fn allowed_is_exactly_private_anonymous_without_a_refusing_flag() {
    let mut allowed = 0;
    for f in all_facts() {
        for mv in [false, true] {
            let want =
                f.kind == Kind::Anonymous && !f.shared && !never_copy(&f) && !(mv && f.sealed);
            assert_eq!(decide(&f, mv).is_ok(), want, "{f:?} move={mv}");
            allowed += want as u32;
        }
    }
    // Private anonymous without refusing flags: 2 seal states without MOVE, 1 with it.
    assert_eq!(allowed, 3);
}

#[test]
fn errnos_follow_the_contract() {
    for f in all_facts() {
        for mv in [false, true] {
            match decide(&f, mv) {
                Ok(()) => {}
                Err(Refusal::SealedMove) => {
                    assert!(mv && f.sealed);
                    assert_eq!(Refusal::SealedMove.errno(), 1);
                }
                // Every other refusal is a kind of mapping that cannot be cloned.
                Err(r) => assert_eq!(r.errno(), 95, "{r:?} for {f:?}"),
            }
        }
    }
}

#[test]
fn a_kind_nobody_listed_is_refused() {
    for f in all_facts().filter(|f| f.kind == Kind::Other) {
        assert!(decide(&f, false).is_err(), "{f:?}");
    }
}

#[test]
fn sealing_only_matters_for_a_move() {
    for f in all_facts().filter(|f| f.sealed) {
        let unsealed = Facts { sealed: false, ..f };
        assert_eq!(decide(&f, false), decide(&unsealed, false), "{f:?}");
    }
}
