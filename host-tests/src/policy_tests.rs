// SPDX-License-Identifier: GPL-2.0

//! `policy.rs` over its whole input space: every kind, every combination of the ten facts,
//! with and without `PVMMAP_MOVE` and MDWE (4 x 2^10 x 4 cases), against the contract.

use crate::policy::contract::*;
use crate::policy::*;

#[test]
fn allowed_is_exactly_what_the_contract_allows() {
    let mut allowed = 0;
    for (f, c) in all_cases() {
        let want = allows(&f, &c);
        assert_eq!(decide(&f, &c).is_ok(), want, "{f:?} {c:?}");
        allowed += want as u32;
    }
    // Per context, the allowed kinds times the free facts (sealed, exec, write_sealed where
    // irrelevant) that keep a case allowed: counted by hand for each context.
    // private anon: 1 kind/shared combination, shmem and file: 2 each (shared or not).
    // Unshared: write_sealed free (2); shared: write_sealed must be false (1).
    // Without MDWE exec is free (2), with it false (1); without MOVE sealed is free (2).
    let per_combo = |mv: bool, mdwe: bool| {
        let exec = if mdwe { 1 } else { 2 };
        let sealed = if mv { 1 } else { 2 };
        // 3 unshared combinations with write_sealed free, 2 shared ones with it false.
        (3 * 2 + 2) * exec * sealed
    };
    let want: u32 = [(false, false), (true, false), (false, true), (true, true)]
        .into_iter()
        .map(|(mv, mdwe)| per_combo(mv, mdwe))
        .sum();
    assert_eq!(allowed, want);
}

#[test]
fn errnos_follow_the_contract() {
    for (f, c) in all_cases() {
        match decide(&f, &c) {
            Ok(()) => {}
            Err(r @ Refusal::SealedMove) => {
                assert!(c.move_source && f.sealed);
                assert_eq!(r.errno(), 1);
            }
            Err(r @ Refusal::WriteSealed) => {
                assert!(f.shared && f.write_sealed);
                assert_eq!(r.errno(), 1);
            }
            Err(r @ Refusal::ExecDenied) => {
                assert!(c.deny_exec && f.exec);
                assert_eq!(r.errno(), 13);
            }
            // Every other refusal is a kind of mapping that cannot be cloned.
            Err(r) => {
                assert!(!allowed_kind(&f) || never_copy(&f), "{r:?} for {f:?}");
                assert_eq!(r.errno(), 95, "{r:?} for {f:?}");
            }
        }
    }
}

#[test]
fn a_kind_that_cannot_be_cloned_is_eopnotsupp_whatever_else_holds() {
    for (f, c) in all_cases().filter(|(f, _)| !allowed_kind(f) || never_copy(f)) {
        assert_eq!(
            decide(&f, &c).map_err(Refusal::errno),
            Err(95),
            "{f:?} {c:?}"
        );
    }
}

#[test]
fn a_kind_nobody_listed_is_refused() {
    for (f, c) in all_cases().filter(|(f, _)| f.kind == Kind::Other) {
        assert!(decide(&f, &c).is_err(), "{f:?} {c:?}");
    }
}

#[test]
fn sealing_only_matters_for_a_move() {
    for (f, c) in all_cases().filter(|(f, c)| f.sealed && !c.move_source) {
        let unsealed = Facts { sealed: false, ..f };
        assert_eq!(decide(&f, &c), decide(&unsealed, &c), "{f:?}");
    }
}

#[test]
fn write_seals_only_matter_for_shared_mappings() {
    for (f, c) in all_cases().filter(|(f, _)| f.write_sealed && !f.shared) {
        let unsealed = Facts {
            write_sealed: false,
            ..f
        };
        assert_eq!(decide(&f, &c), decide(&unsealed, &c), "{f:?}");
    }
}

#[test]
fn mdwe_only_refuses_executable_mappings() {
    for (f, c) in all_cases().filter(|(f, c)| c.deny_exec && !f.exec) {
        let free = Context {
            deny_exec: false,
            ..c
        };
        assert_eq!(decide(&f, &c), decide(&f, &free), "{f:?}");
    }
}
