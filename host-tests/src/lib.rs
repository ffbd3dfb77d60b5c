// SPDX-License-Identifier: GPL-2.0

//! Host tests of the pure Rust sources of `process_vm_mmap(2)`.
//!
//! The modules below are the kernel's own files, included by path: what is tested here is
//! exactly what the kernel compiles, not a copy.

// The kernel uses all of it; the tests need not.
#[cfg(test)]
#[allow(dead_code)]
#[path = "../../mm/process_vm_mmap/request.rs"]
mod request;

#[cfg(test)]
#[path = "../../mm/process_vm_mmap/extent.rs"]
mod extent;

#[cfg(test)]
#[path = "../../mm/process_vm_mmap/policy.rs"]
mod policy;

#[cfg(test)]
mod request_tests;

#[cfg(test)]
mod policy_tests;

#[cfg(test)]
mod extent_tests;
