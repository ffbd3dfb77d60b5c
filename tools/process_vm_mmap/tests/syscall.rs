// SPDX-License-Identifier: GPL-2.0

//! The library against the running kernel: a clone of our own heap where the kernel has the
//! system call, a sane errno where it has not (ENOSYS), and the checks made before the call.

use process_vm_mmap::{page_size, Placement, Request, Target};
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::AsFd;

fn own_pid() -> Target<'static> {
    Target::Pid(std::process::id() as i32)
}

/// The errors a well-formed request may meet on a kernel with or without the system call.
fn sane(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ENOSYS | libc::EPERM | libc::ENOMEM | libc::EINTR)
    )
}

fn read_all(clone: &process_vm_mmap::Mapping) -> Vec<u8> {
    let mut bytes = Vec::new();
    clone.reader().unwrap().read_to_end(&mut bytes).unwrap();
    bytes
}

#[test]
fn clone_own_heap_or_sane_errno() {
    let page = page_size();
    let mut buf = vec![0u8; 3 * page];
    let start = buf.as_ptr().align_offset(page);
    let range = start..start + page;
    for (i, b) in buf[range.clone()].iter_mut().enumerate() {
        *b = i as u8;
    }
    let addr = buf[range.clone()].as_ptr() as usize;
    let clone = match Request::new(own_pid(), addr, page).map() {
        Ok(clone) => clone,
        Err(e) => {
            assert!(sane(&e), "{e}");
            eprintln!("skipped: process_vm_mmap: {e}");
            return;
        }
    };
    assert_eq!(clone.len(), page);
    assert_eq!(clone.addr() % page, 0);
    assert_eq!(read_all(&clone), buf[range.clone()]);
    // Copy-on-write: a later write of ours does not show in the clone.
    buf[range.clone()].fill(0xaa);
    assert!(read_all(&clone)
        .iter()
        .enumerate()
        .all(|(i, &b)| b == i as u8));
}

#[test]
fn einval_comes_before_the_call() {
    // The kernel would say ENOSYS where it lacks the call: EINVAL proves nothing reached it.
    let page = page_size();
    for (src, len) in [(page, 0), (page + 1, page), (page, page + 1)] {
        let e = Request::new(own_pid(), src, len).map().unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EINVAL), "{src:#x} {len:#x}");
    }
    let e = Request::new(Target::Pid(0), page, page).map().unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EINVAL));
}

#[test]
fn safe_map_refuses_what_would_touch_our_memory() {
    let page = page_size();
    let fixed = Request {
        placement: Placement::Fixed(0x1000_0000),
        ..Request::new(Target::Pid(1), page, page)
    };
    let move_self = Request {
        move_source: true,
        ..Request::new(own_pid(), page, page)
    };
    for req in [fixed, move_self] {
        let e = req.map().unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{req:?}");
        assert_eq!(e.raw_os_error(), None, "{req:?}: {e}");
    }
}

#[test]
fn move_from_another_process_reaches_the_kernel() {
    let mut child = std::process::Command::new("sleep")
        .arg("10")
        .spawn()
        .expect("sleep runs");
    let page = page_size();
    let req = Request {
        move_source: true,
        ..Request::new(Target::Pid(child.id() as i32), page, page)
    };
    let e = req.map().unwrap_err();
    child.kill().unwrap();
    child.wait().unwrap();
    // Nothing is mapped at the second page of sleep: EFAULT where the kernel has the call.
    assert!(sane(&e) || e.raw_os_error() == Some(libc::EFAULT), "{e}");
}

#[test]
fn pidfd_of_a_file_is_ebadf_or_enosys() {
    let file = File::open("/dev/null").unwrap();
    let page = page_size();
    for move_source in [false, true] {
        let req = Request {
            move_source,
            ..Request::new(Target::Pidfd(file.as_fd()), page, page)
        };
        let e = req.map().unwrap_err();
        assert!(sane(&e) || e.raw_os_error() == Some(libc::EBADF), "{e}");
    }
}
