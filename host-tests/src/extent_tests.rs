// SPDX-License-Identifier: GPL-2.0

//! `extent.rs`: the walker's extents tile the copy exactly, cross no PMD boundary on either
//! side, are as long as those two rules allow, and are marked whole-PMD exactly where a huge
//! PMD could be copied as it is.

use crate::extent::*;
use proptest::prelude::*;

const PAGE: usize = 4096;

fn walk_all(src: usize, dst: usize, len: usize, pmd: usize) -> Vec<Extent> {
    let mut v = Vec::new();
    walk::<()>(src, dst, len, pmd, |e| {
        v.push(e);
        Ok(())
    })
    .unwrap();
    v
}

/// Page-aligned copies of up to a few PMDs, placed near PMD boundaries and anywhere.
fn copy() -> impl Strategy<Value = (usize, usize, usize, usize)> {
    prop_oneof![
        Just(2usize << 20),
        Just(512usize << 20),
        Just(32usize << 20)
    ]
    .prop_flat_map(|pmd| {
        let page_addr = prop_oneof![
            (0usize..1 << 20, -2isize..=2).prop_map(move |(n, k)| (n * pmd)
                .wrapping_add_signed(k * PAGE as isize)
                & ((1usize << 47) - 1)),
            (0usize..1 << 35).prop_map(|p| p * PAGE),
        ];
        let len = prop_oneof![
            (1usize..=4 * (pmd / PAGE)).prop_map(|p| p * PAGE),
            (1usize..=4).prop_map(move |n| n * pmd),
        ];
        (page_addr.clone(), page_addr, len, Just(pmd))
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(20_000))]

    #[test]
    fn extents_tile_the_copy((src, dst, len, pmd) in copy()) {
        let ex = walk_all(src, dst, len, pmd);
        let mut at = 0;
        for e in &ex {
            prop_assert!(e.len > 0);
            prop_assert_eq!(e.src, src + at);
            prop_assert_eq!(e.dst, dst + at);
            at += e.len;
        }
        prop_assert_eq!(at, len);
    }

    #[test]
    fn no_extent_crosses_a_pmd((src, dst, len, pmd) in copy()) {
        for e in walk_all(src, dst, len, pmd) {
            prop_assert_eq!(e.src / pmd, (e.src + e.len - 1) / pmd);
            prop_assert_eq!(e.dst / pmd, (e.dst + e.len - 1) / pmd);
        }
    }

    #[test]
    fn extents_are_as_long_as_allowed((src, dst, len, pmd) in copy()) {
        let ex = walk_all(src, dst, len, pmd);
        let n = ex.len();
        for (i, e) in ex.into_iter().enumerate() {
            let ends_at_boundary = (e.src + e.len) % pmd == 0 || (e.dst + e.len) % pmd == 0;
            prop_assert!(ends_at_boundary || i == n - 1);
        }
    }

    #[test]
    fn whole_pmd_only_where_a_huge_pmd_fits((src, dst, len, pmd) in copy()) {
        for e in walk_all(src, dst, len, pmd) {
            let fits = e.len == pmd && e.src % pmd == 0 && e.dst % pmd == 0;
            prop_assert_eq!(e.whole_pmd, fits);
        }
    }

    #[test]
    fn congruent_copies_of_whole_pmds_are_all_huge(n in 1usize..8, base in 0usize..1024,
                                                   off in 0usize..1024) {
        let pmd = 2usize << 20;
        let ex = walk_all(base * pmd, off * pmd, n * pmd, pmd);
        prop_assert_eq!(ex.len(), n);
        prop_assert!(ex.iter().all(|e| e.whole_pmd));
    }

    #[test]
    fn the_first_error_stops_the_walk((src, dst, len, pmd) in copy(), stop in 0usize..8) {
        let total = walk_all(src, dst, len, pmd).len();
        let mut calls = 0;
        let r = walk(src, dst, len, pmd, |_| {
            calls += 1;
            if calls > stop { Err(calls) } else { Ok(()) }
        });
        if stop < total {
            prop_assert_eq!(r, Err(stop + 1));
            prop_assert_eq!(calls, stop + 1);
        } else {
            prop_assert_eq!(r, Ok(()));
            prop_assert_eq!(calls, total);
        }
    }
}

#[test]
fn a_non_congruent_pmd_is_cut_in_two() {
    let pmd = 2 << 20;
    let ex = walk_all(0, pmd + PAGE, pmd, pmd);
    assert_eq!(ex.len(), 2);
    assert_eq!((ex[0].len, ex[1].len), (pmd - PAGE, PAGE));
    assert!(!ex[0].whole_pmd && !ex[1].whole_pmd);
}
