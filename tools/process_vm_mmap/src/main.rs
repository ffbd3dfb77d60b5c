// SPDX-License-Identifier: GPL-2.0

//! `pvmmap`: clone a range of another process with process_vm_mmap(2), and checksum or save it.
//!
//! See [`HELP`], which `pvmmap --help` prints.

#![forbid(unsafe_code)]

use process_vm_mmap::{Mapping, Request, Target};
use std::ffi::OsString;
use std::fmt::Display;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

/// The manual page.
const HELP: &str = "\
NAME
    pvmmap - clone the memory of a process with process_vm_mmap(2)

SYNOPSIS
    pvmmap checksum [--move] PID ADDR LEN
    pvmmap dump [--move] PID ADDR LEN FILE
    pvmmap help | --help | -h

DESCRIPTION
    pvmmap clones the mappings of process PID that cover [ADDR, ADDR+LEN)
    into itself with process_vm_mmap(2), then reads the clone. The call
    copies no data: private memory becomes copy-on-write between the two
    processes, as after fork(2), and shared memory stays shared.

    checksum
        Print the FNV-1a 64-bit hash of the range as 16 hexadecimal
        digits: starting from 0xcbf29ce484222325, for each byte in address
        order, xor the byte in, then multiply by 0x100000001b3 modulo 2^64.

    dump
        Write the range to FILE, which is created or truncated.

    PID is decimal. ADDR and LEN are decimal, or hexadecimal after 0x;
    both are multiples of the page size, and LEN is not 0. The clone is
    read through /proc/self/mem, so /proc must be mounted.

OPTIONS
    --move
        Pass PVMMAP_MOVE: once cloned, the range is unmapped from PID,
        whose pages then belong to pvmmap alone.

    -h, --help
        Print this help and exit.

    --
        End the options: the arguments after it are operands.

EXIT STATUS
    0   Success.
    1   The system call, reading the clone, or writing FILE failed.
    2   Usage error.

ERRORS
    Errors are printed as \"pvmmap: WHAT: REASON\". The system call fails
    with:

    EINVAL      ADDR or LEN is not page aligned, LEN is 0, the range wraps
                around or leaves the address space, or PID is 0.
    ESRCH       No such process, or it has no address space.
    EPERM       No ptrace access to PID (see \"Ptrace access mode checking\"
                in ptrace(2)), or --move over sealed mappings.
    EFAULT      Part of the range is not mapped.
    EOPNOTSUPP  The range holds a kind of mapping that cannot be cloned.
    ENOMEM      Out of memory, or a mapping limit was reached.
    EINTR       A fatal signal arrived while waiting.
    ENOSYS      The kernel has no process_vm_mmap(2).

EXAMPLES
    Checksum the heap of process 1234, with the range from its maps:
        grep heap /proc/1234/maps
        pvmmap checksum 1234 0x55d0c8a2f000 0x21000

    Take over 2 MiB of it and save them:
        pvmmap dump --move 1234 0x7f3a40000000 0x200000 range.bin

SEE ALSO
    process_vm_mmap(2), process_vm_readv(2), proc(5)
";

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
enum Command {
    Help,
    Checksum(Source),
    Dump(Source, PathBuf),
}

/// The range to clone, and how.
#[derive(Debug, PartialEq, Eq)]
struct Source {
    pid: i32,
    addr: usize,
    len: usize,
    move_source: bool,
}

/// Parses the arguments after the program name; the error is a usage message.
fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Command, String> {
    let mut args = args.into_iter();
    let command = args.next().ok_or("no command")?;
    let command = command.to_str().unwrap_or("");
    if matches!(command, "help" | "--help" | "-h") {
        return Ok(Command::Help);
    }
    let mut operands = Vec::new();
    let mut move_source = false;
    let mut options = true;
    for arg in args {
        match arg.to_str() {
            Some("--help" | "-h") if options => return Ok(Command::Help),
            Some("--move") if options => move_source = true,
            Some("--") if options => options = false,
            Some(opt) if options && opt.starts_with('-') => {
                return Err(format!("unknown option '{opt}'"))
            }
            _ => operands.push(arg),
        }
    }
    let wanted = match command {
        "checksum" => 3,
        "dump" => 4,
        _ => return Err(format!("unknown command '{command}'")),
    };
    if operands.len() != wanted {
        return Err(format!("{command} takes {wanted} operands"));
    }
    let mut operands = operands.into_iter();
    let mut next = || operands.next().expect("counted");
    let source = Source {
        pid: number(&next(), "PID", |s| s.parse())?,
        addr: number(&next(), "ADDR", parse_address)?,
        len: number(&next(), "LEN", parse_address)?,
        move_source,
    };
    Ok(match command {
        "checksum" => Command::Checksum(source),
        _ => Command::Dump(source, next().into()),
    })
}

/// Parses the operand `what` with `parse`.
fn number<T, E>(
    arg: &OsString,
    what: &str,
    parse: impl Fn(&str) -> Result<T, E>,
) -> Result<T, String> {
    arg.to_str()
        .and_then(|s| parse(s).ok())
        .ok_or_else(|| format!("bad {what} '{}'", arg.to_string_lossy()))
}

/// Parses a decimal number, or a hexadecimal one after `0x`.
fn parse_address(s: &str) -> Result<usize, std::num::ParseIntError> {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => usize::from_str_radix(hex, 16),
        None => s.parse(),
    }
}

/// The FNV-1a 64-bit hash, fed a piece at a time.
struct Fnv1a64(u64);

impl Fnv1a64 {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;

    fn new() -> Self {
        Fnv1a64(Self::OFFSET_BASIS)
    }

    fn update(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(Self::PRIME);
        }
    }
}

/// A failed step: what was done, and why it failed.
struct Failure(String, io::Error);

fn fail(what: impl Display) -> impl FnOnce(io::Error) -> Failure {
    move |e| Failure(what.to_string(), e)
}

/// Clones the range that `src` names.
fn clone(src: &Source) -> Result<Mapping, Failure> {
    let req = Request {
        move_source: src.move_source,
        ..Request::new(Target::Pid(src.pid), src.addr, src.len)
    };
    req.map().map_err(fail(format!(
        "process_vm_mmap(pid {}, {:#x}, {:#x})",
        src.pid, src.addr, src.len
    )))
}

/// Hands the bytes of `clone` to `sink`, one chunk at a time.
fn for_each_chunk(
    clone: &Mapping,
    mut sink: impl FnMut(&[u8]) -> Result<(), Failure>,
) -> Result<(), Failure> {
    let mut reader = clone.reader().map_err(fail("/proc/self/mem"))?;
    let mut buf = vec![0; 1 << 20];
    loop {
        let n = reader.read(&mut buf).map_err(fail("reading the clone"))?;
        if n == 0 {
            return Ok(());
        }
        sink(&buf[..n])?;
    }
}

fn run(command: Command) -> Result<(), Failure> {
    match command {
        Command::Help => io::stdout()
            .write_all(HELP.as_bytes())
            .map_err(fail("stdout")),
        Command::Checksum(src) => {
            let mut hash = Fnv1a64::new();
            for_each_chunk(&clone(&src)?, |chunk| {
                hash.update(chunk);
                Ok(())
            })?;
            writeln!(io::stdout(), "{:016x}", hash.0).map_err(fail("stdout"))
        }
        Command::Dump(src, path) => {
            let clone = clone(&src)?;
            let what = path.display().to_string();
            let mut file = File::create(&path).map_err(fail(&what))?;
            for_each_chunk(&clone, |chunk| file.write_all(chunk).map_err(fail(&what)))
        }
    }
}

fn main() -> ExitCode {
    let command = match parse(std::env::args_os().skip(1)) {
        Ok(command) => command,
        Err(usage) => {
            eprintln!(
                "pvmmap: {usage}\n\
                 usage: pvmmap checksum [--move] PID ADDR LEN\n       \
                 pvmmap dump [--move] PID ADDR LEN FILE\n\
                 Try 'pvmmap --help' for more information."
            );
            return ExitCode::from(2);
        }
    };
    match run(command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(what, e)) => {
            eprintln!("pvmmap: {what}: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(args: &[&str]) -> Result<Command, String> {
        parse(args.iter().map(OsString::from))
    }

    fn source(pid: i32, addr: usize, len: usize, move_source: bool) -> Source {
        Source {
            pid,
            addr,
            len,
            move_source,
        }
    }

    #[test]
    fn commands() {
        assert_eq!(
            parse_str(&["checksum", "42", "0x7f0000001000", "8192"]),
            Ok(Command::Checksum(source(42, 0x7f00_0000_1000, 8192, false)))
        );
        assert_eq!(
            parse_str(&["dump", "--move", "1", "0X1000", "0x1000", "out.bin"]),
            Ok(Command::Dump(
                source(1, 0x1000, 0x1000, true),
                "out.bin".into()
            ))
        );
        // Options go anywhere; after "--" everything is an operand.
        assert_eq!(
            parse_str(&["dump", "1", "4096", "4096", "--move", "--", "--help"]),
            Ok(Command::Dump(source(1, 4096, 4096, true), "--help".into()))
        );
        for help in [&["help"][..], &["--help"], &["-h"], &["checksum", "-h"]] {
            assert_eq!(parse_str(help), Ok(Command::Help));
        }
    }

    #[test]
    fn usage_errors() {
        for args in [
            &[][..],
            &["frob"],
            &["checksum", "1", "0x1000"],
            &["checksum", "1", "0x1000", "0x1000", "extra"],
            &["dump", "1", "0x1000", "0x1000"],
            &["checksum", "--pidfd", "1", "0x1000", "0x1000"],
            &["checksum", "pid", "0x1000", "0x1000"],
            &["checksum", "1", "0xzz", "0x1000"],
            &["checksum", "1", "0x1000", "-4096"],
            &["checksum", "1", "0x1000", "0x10000000000000000"],
            &["checksum", "0x10", "0x1000", "0x1000"],
        ] {
            assert!(parse_str(args).is_err(), "{args:?}");
        }
    }

    #[test]
    fn fnv1a64_reference_values() {
        let hash = |bytes: &[u8]| {
            let mut h = Fnv1a64::new();
            h.update(bytes);
            h.0
        };
        assert_eq!(hash(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(hash(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(hash(b"foobar"), 0x8594_4171_f739_67e8);
        // Feeding in pieces changes nothing.
        let mut h = Fnv1a64::new();
        h.update(b"foo");
        h.update(b"bar");
        assert_eq!(h.0, hash(b"foobar"));
    }
}
