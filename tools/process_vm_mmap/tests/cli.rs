// SPDX-License-Identifier: GPL-2.0

//! The `pvmmap` binary: its help, its usage errors, and a failing call.

use std::process::{Command, Output};

fn pvmmap(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pvmmap"))
        .args(args)
        .output()
        .expect("pvmmap runs")
}

#[test]
fn help_reads_like_a_manual_page() {
    for flag in ["--help", "-h", "help"] {
        let out = pvmmap(&[flag]);
        assert_eq!(out.status.code(), Some(0), "{flag}");
        let text = String::from_utf8(out.stdout).unwrap();
        for section in [
            "NAME",
            "SYNOPSIS",
            "DESCRIPTION",
            "OPTIONS",
            "EXIT STATUS",
            "ERRORS",
            "EXAMPLES",
        ] {
            assert!(text.contains(&format!("\n{section}\n")) || text.starts_with(section));
        }
        assert!(out.stderr.is_empty());
    }
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &[][..],
        &["frobnicate"],
        &["checksum", "1", "0x1000"],
        &["checksum", "1", "0xzz", "0x1000"],
        &["checksum", "--pidfd", "1", "0x1000", "0x1000"],
        &["dump", "1", "0x1000", "0x1000"],
    ] {
        let out = pvmmap(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.starts_with("pvmmap: "), "{err}");
        assert!(err.contains("--help"), "{err}");
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn failed_call_exits_1() {
    // Unaligned: refused before the call, with or without the system call in the kernel.
    let out = pvmmap(&["checksum", "1", "0x1001", "0x1000"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.starts_with("pvmmap: process_vm_mmap(pid 1, 0x1001, 0x1000): "),
        "{err}"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn move_from_a_missing_process_exits_1() {
    // Above any pid_max: not one of pvmmap's threads, so the request goes to the kernel and
    // fails there (ENOSYS on a kernel without the call, else ESRCH).
    let out = pvmmap(&["checksum", "--move", "2147483647", "0x1000", "0x1000"]);
    assert_eq!(out.status.code(), Some(1));
}
