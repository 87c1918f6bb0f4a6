//! File opens and device-node creation: open/openat/openat2 and
//! mknod/mknodat of tracked tasks, recorded at exit with the path as the
//! caller gave it, the flags or mode, the directory descriptor, and the
//! result (the new descriptor, or an errno).
//!
//! Not every open is recorded. Measured on these machines, `runc run` of a
//! busybox bundle makes 124 opens and `crun run` 103; 68 and 38 of them
//! only read a regular file (shared libraries, config.json, /proc files).
//! Workloads are dominated by such reads: `sh -c 'ls; cat FILE; echo >
//! FILE'` makes 72 opens of which 4 pass the filter below, `python3 -c
//! 'import json, subprocess'` 1387 of which about 60 pass. Those reads can
//! neither change a file nor name a mount target, so the filter drops them
//! in the kernel, and records an open only if it
//! - asks for write access, O_CREAT, O_TRUNC or O_TMPFILE (a write to
//!   core_pattern or a release_agent starts here), or
//! - asks for O_PATH (how runtimes open mount targets and masked paths), or
//! - asks for O_DIRECTORY and returned a directory (a mount target, or the
//!   directory a path walk starts from).
//!
//! Failures of the first two kinds are recorded too: a refused write, and
//! a path that does not exist, are facts about the container.
//!
//! open and openat are filtered at entry, where the flags are arguments: a
//! dropped open costs the two programs' runs and map lookups, measured at
//! 0.8 us on top of 3.1 us for an open and close of a tracked process.
//! (Stashing every open to check its result for a directory, so as to see
//! directories opened without O_DIRECTORY too, cost 1.8 us.) openat2's
//! flags are in user memory: every openat2 is stashed, and judged at exit.

use aya_ebpf::{
    helpers::bpf_probe_read_user, macros::raw_tracepoint, programs::RawTracePointContext,
};
use cradle_probes_common::{
    AT_FDCWD, CALL_ARGS, EventKind, MKNOD_CALL_MKNOD, MKNOD_CALL_MKNODAT, MknodEvent,
    OPEN_CALL_OPEN, OPEN_CALL_OPENAT, OPEN_CALL_OPENAT2, OpenEvent, USER_PATH_MAX,
};

use crate::{
    calls::take,
    cast::{low_i32, low_u16, low_u32, size_u32},
    emit::{count_lost, current_is_tracked, current_pid, header, stop_if_asked, wakeup},
    globals::layout,
    kernel::{Task, read},
    maps::{EVENTS, PENDING, PendingCall},
    syscall::{copy_user_str, enter_args, syscall_ret},
};

// Open flags of the asm-generic UAPI, the same on x86_64 and arm64.
const O_ACCMODE: u64 = 0o3;
const O_CREAT: u64 = 0o100;
const O_TRUNC: u64 = 0o1000;
const O_PATH: u64 = 0o10000000;
/// `__O_TMPFILE`, the bit O_TMPFILE adds to O_DIRECTORY.
const O_TMPFILE_BIT: u64 = 0o20000000;
/// O_DIRECTORY is 0o200000 on x86_64 and 0o40000 on arm64 (where the other
/// value is O_DIRECT): either bit lets an open through the entry, and the
/// exit keeps it only if it returned a directory.
const O_DIRECTORY_ANY_ARCH: u64 = 0o200000 | 0o40000;
const S_IFMT: u32 = 0o170000;
const S_IFDIR: u32 = 0o040000;

/// Where the stashed arguments of an open or mknod sit in `PendingCall::args`:
/// normalised at entry, so one exit program serves every variant.
const ARG_DIRFD: usize = 0;
const ARG_PATH: usize = 1;
/// open/openat: the flags; openat2: the `struct open_how *`; mknod: the mode.
const ARG_FLAGS: usize = 2;
/// open/openat: the mode; mknod: the device number.
const ARG_MODE: usize = 3;
const ARG_CALL: usize = 5;

#[inline(always)]
fn stash(kind: EventKind, dirfd: i32, path: u64, flags: u64, mode: u64, call: u32) {
    if !current_is_tracked() {
        return;
    }
    let mut args = [0u64; CALL_ARGS];
    args[ARG_DIRFD] = i64::from(dirfd).cast_unsigned();
    args[ARG_PATH] = path;
    args[ARG_FLAGS] = flags;
    args[ARG_MODE] = mode;
    args[ARG_CALL] = u64::from(call);
    let pending = PendingCall { kind: kind as u32, _pad: 0, args };
    // A full map drops the call; the LRU map evicts the oldest stash first.
    let _ = PENDING.insert(current_pid(), pending, 0);
}

/// Whether an open with these flags may be recorded: asked for something
/// the filter keeps, or maybe for a directory (see the module's comment).
#[inline(always)]
fn may_matter(flags: u64) -> bool {
    asks_for_more_than_reading(flags) || flags & O_DIRECTORY_ANY_ARCH != 0
}

#[raw_tracepoint]
pub fn sys_enter_open(ctx: RawTracePointContext) -> i32 {
    let [path, flags, mode] = enter_args(&ctx);
    if may_matter(u64::from(low_u32(flags))) {
        stash(EventKind::Open, AT_FDCWD, path, flags, mode, OPEN_CALL_OPEN);
    }
    0
}

#[raw_tracepoint]
pub fn sys_enter_openat(ctx: RawTracePointContext) -> i32 {
    let [dirfd, path, flags, mode] = enter_args(&ctx);
    if may_matter(u64::from(low_u32(flags))) {
        stash(EventKind::Open, low_i32(dirfd), path, flags, mode, OPEN_CALL_OPENAT);
    }
    0
}

#[raw_tracepoint]
pub fn sys_enter_openat2(ctx: RawTracePointContext) -> i32 {
    let [dirfd, path, how] = enter_args(&ctx);
    stash(EventKind::Open, low_i32(dirfd), path, how, 0, OPEN_CALL_OPENAT2);
    0
}

/// The exit of open, openat and openat2 (the entries normalised the stash).
#[raw_tracepoint]
pub fn sys_exit_open(ctx: RawTracePointContext) -> i32 {
    open_returned(&ctx);
    0
}

/// Write access, O_CREAT, O_TRUNC, O_TMPFILE or O_PATH.
#[inline(always)]
fn asks_for_more_than_reading(flags: u64) -> bool {
    flags & O_ACCMODE != 0 || flags & (O_CREAT | O_TRUNC | O_TMPFILE_BIT | O_PATH) != 0
}

/// Whether an open is worth a record (see the module's comment).
#[inline(always)]
fn worth_recording(flags: u64, file_type: u32) -> bool {
    asks_for_more_than_reading(flags) || (flags & O_DIRECTORY_ANY_ARCH != 0 && file_type == S_IFDIR)
}

#[inline(always)]
fn open_returned(ctx: &RawTracePointContext) {
    let Some(call) = take(EventKind::Open) else { return };
    let a = call.args;
    let ret = syscall_ret(ctx);
    let kind = low_u32(a[ARG_CALL]);
    // openat2's `struct open_how { u64 flags, mode, resolve; }`, which the
    // kernel has just read, so it is resident.
    let (flags, mode, resolve) = if kind == OPEN_CALL_OPENAT2 {
        // SAFETY: a user-memory read through the helper, which may fail.
        match unsafe { bpf_probe_read_user(a[ARG_FLAGS] as *const [u64; 3]) } {
            Ok([flags, mode, resolve]) => (flags, mode, resolve),
            Err(_) => (0, 0, 0),
        }
    } else {
        // `int flags`, `umode_t mode`: the upper register half is not theirs.
        (u64::from(low_u32(a[ARG_FLAGS])), u64::from(low_u16(a[ARG_MODE])), 0)
    };
    let file_type = if ret >= 0 {
        let inode = Task::current().fd_inode(low_u32(ret.cast_unsigned()));
        u32::from(read::<u16>(inode, layout().inode_i_mode).unwrap_or(0)) & S_IFMT
    } else {
        0
    };
    if !worth_recording(flags, file_type) {
        return;
    }
    let header = header(EventKind::Open, core::mem::size_of::<OpenEvent>());
    let Some(mut entry) = EVENTS.reserve::<OpenEvent>(0) else {
        count_lost(EventKind::Open);
        return;
    };
    let event = entry.as_mut_ptr();
    // SAFETY: `event` is the reservation, large enough for an OpenEvent; the
    // fixed part is written whole before the path is copied into it.
    let (path, path_len, cut) = unsafe {
        (*event).header = header;
        (*event).ret = ret;
        (*event).flags = flags;
        (*event).mode = mode;
        (*event).resolve = resolve;
        (*event).dirfd = low_i32(a[ARG_DIRFD]);
        (*event).call = kind;
        (*event).file_type = file_type;
        (*event)._pad = 0;
        ((*event).path.as_mut_ptr(), &raw mut (*event).path_len, &raw mut (*event).path_truncated)
    };
    // SAFETY: the three point into the live reservation.
    unsafe { copy_path(path, path_len, cut, a[ARG_PATH]) };
    let flags = stop_if_asked(EventKind::Open);
    // SAFETY: as above.
    unsafe { (*event).header.flags = flags };
    entry.submit(wakeup(flags));
}

/// Copies the user path at `src` into a record's path area, with its length
/// and whether it was cut.
///
/// # Safety
/// `path` must point to [`USER_PATH_MAX`] writable bytes, `path_len` and
/// `cut` to writable `u32`s (all in one ring-buffer reservation).
#[inline(always)]
unsafe fn copy_path(path: *mut u8, path_len: *mut u32, cut: *mut u32, src: u64) {
    let (used, was_cut) =
        copy_user_str::<true>(path, const { size_u32(USER_PATH_MAX) }, src as *const u8)
            .unwrap_or((0, false));
    // SAFETY: guaranteed by the caller.
    unsafe {
        *path_len = used;
        *cut = u32::from(was_cut);
    }
}

#[raw_tracepoint]
pub fn sys_enter_mknod(ctx: RawTracePointContext) -> i32 {
    let [path, mode, dev] = enter_args(&ctx);
    stash(EventKind::Mknod, AT_FDCWD, path, mode, dev, MKNOD_CALL_MKNOD);
    0
}

#[raw_tracepoint]
pub fn sys_enter_mknodat(ctx: RawTracePointContext) -> i32 {
    let [dirfd, path, mode, dev] = enter_args(&ctx);
    stash(EventKind::Mknod, low_i32(dirfd), path, mode, dev, MKNOD_CALL_MKNODAT);
    0
}

/// The exit of mknod and mknodat.
#[raw_tracepoint]
pub fn sys_exit_mknod(ctx: RawTracePointContext) -> i32 {
    mknod_returned(&ctx);
    0
}

/// Every mknod is recorded: runtimes make a handful, workloads rarely any.
#[inline(always)]
fn mknod_returned(ctx: &RawTracePointContext) {
    let Some(call) = take(EventKind::Mknod) else { return };
    let a = call.args;
    let ret = syscall_ret(ctx);
    let header = header(EventKind::Mknod, core::mem::size_of::<MknodEvent>());
    let Some(mut entry) = EVENTS.reserve::<MknodEvent>(0) else {
        count_lost(EventKind::Mknod);
        return;
    };
    let event = entry.as_mut_ptr();
    // SAFETY: `event` is the reservation, large enough for a MknodEvent; the
    // fixed part is written whole before the path is copied into it.
    let (path, path_len, cut) = unsafe {
        (*event).header = header;
        (*event).ret = ret;
        (*event).mode = u32::from(low_u16(a[ARG_FLAGS]));
        (*event).dev = low_u32(a[ARG_MODE]);
        (*event).dirfd = low_i32(a[ARG_DIRFD]);
        (*event).call = low_u32(a[ARG_CALL]);
        ((*event).path.as_mut_ptr(), &raw mut (*event).path_len, &raw mut (*event).path_truncated)
    };
    // SAFETY: the three point into the live reservation.
    unsafe { copy_path(path, path_len, cut, a[ARG_PATH]) };
    let flags = stop_if_asked(EventKind::Mknod);
    // SAFETY: as above.
    unsafe { (*event).header.flags = flags };
    entry.submit(wakeup(flags));
}
