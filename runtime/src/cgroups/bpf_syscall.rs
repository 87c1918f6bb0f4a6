//! bpf(2) for the cgroup v2 device program: load it, attach it to the
//! container's cgroup directory, close it (the attachment holds the
//! program until the cgroup is removed).
//!
//! Attached with `BPF_F_ALLOW_MULTI`, as runc and systemd do: the programs
//! of every ancestor that allows multiple run too and all must allow, so
//! a process inside can attach its own program below (a nested runtime,
//! systemd) and only narrow what it may use, never widen it; a program
//! attached without flags would forbid that, and `BPF_F_ALLOW_OVERRIDE`
//! would let a child's program replace this one.

use std::{
    ffi::CStr,
    os::fd::{AsRawFd, FromRawFd, OwnedFd},
    path::Path,
};

use nix::{
    errno::Errno,
    fcntl::{OFlag, open},
    sys::stat::Mode,
};

use super::ebpf::Insn;
use crate::util::syscall_int;

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
const BPF_F_ALLOW_MULTI: u32 = 2;
const LICENSE: &CStr = c"GPL";
/// Shown by `bpftool prog`: at most 15 bytes of [A-Za-z0-9_.].
const PROG_NAME: &[u8] = b"cradle_devices";
/// Room for the verifier's account of a rejection.
const LOG_SIZE: usize = 64 * 1024;

/// The head of `union bpf_attr` for `BPF_PROG_LOAD`, up to the fields
/// cradle sets; the kernel zero-fills the rest. No implicit padding.
#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
}

/// The head of `union bpf_attr` for `BPF_PROG_ATTACH`.
#[repr(C)]
struct ProgAttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
}

/// A refusal of the kernel's: the call, its errno, and the verifier's log
/// when it has one.
#[derive(Debug)]
pub struct Refused {
    pub what: &'static str,
    pub errno: Errno,
    pub log: String,
}

fn bpf<T>(command: libc::c_long, attr: &mut T) -> Result<libc::c_long, Errno> {
    let size =
        u32::try_from(std::mem::size_of::<T>()).expect("a bpf_attr head is a few dozen bytes");
    // SAFETY: `attr` is a live, initialized #[repr(C)] head of `union
    // bpf_attr` for `command`, of the size passed; the pointers inside it
    // (instructions, license, log) are owned by the caller's frame and
    // outlive the call.
    let rc = unsafe { libc::syscall(libc::SYS_bpf, command, attr as *mut T, size) };
    if rc < 0 { Err(Errno::last()) } else { Ok(rc) }
}

fn load(program: &[Insn], log: Option<&mut [u8]>) -> Result<OwnedFd, Errno> {
    let mut attr = ProgLoadAttr {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: u32::try_from(program.len()).map_err(|_| Errno::E2BIG)?,
        insns: program.as_ptr() as u64,
        license: LICENSE.as_ptr() as u64,
        ..ProgLoadAttr::default()
    };
    attr.prog_name[..PROG_NAME.len()].copy_from_slice(PROG_NAME);
    if let Some(log) = log {
        attr.log_level = 1;
        // Never more than the buffer holds: the kernel writes up to log_size.
        attr.log_size = u32::try_from(log.len()).unwrap_or(u32::MAX);
        attr.log_buf = log.as_mut_ptr() as u64;
    }
    let fd = syscall_int(bpf(BPF_PROG_LOAD, &mut attr)?);
    // SAFETY: BPF_PROG_LOAD returned a new file descriptor that nothing
    // else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Loads `program` and attaches it to the cgroup at `dir`.
pub fn attach_device_program(dir: &Path, program: &[Insn]) -> Result<(), Refused> {
    let refused = |what, errno, log: String| Refused { what, errno, log };
    // Without a log first, as libbpf does: the log costs the verifier time,
    // and is only wanted to explain a refusal.
    let prog = load(program, None).or_else(|_| {
        let mut log = vec![0u8; LOG_SIZE];
        load(program, Some(&mut log)).map_err(|errno| {
            let end = log.iter().position(|b| *b == 0).unwrap_or(log.len());
            refused("loading", errno, String::from_utf8_lossy(&log[..end]).trim().to_owned())
        })
    })?;
    let cgroup = open(dir, OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty())
        .map_err(|errno| refused("opening the cgroup", errno, String::new()))?;
    let mut attr = ProgAttachAttr {
        // An open descriptor is never negative.
        target_fd: cgroup.as_raw_fd().cast_unsigned(),
        attach_bpf_fd: prog.as_raw_fd().cast_unsigned(),
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: BPF_F_ALLOW_MULTI,
    };
    bpf(BPF_PROG_ATTACH, &mut attr).map_err(|errno| refused("attaching", errno, String::new()))?;
    Ok(())
}
