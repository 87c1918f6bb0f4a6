//! execve(2) and execveat(2): the filename and argv at entry, the result at
//! exit. Userspace pairs the two records by thread.

use aya_ebpf::{
    helpers::bpf_probe_read_user, macros::raw_tracepoint, programs::RawTracePointContext,
};
use cradle_probes_common::{
    EXEC_ARGC_MAX, EXEC_ARGV_MAX, EXEC_ARGV_TRUNCATED, EXEC_AT, EXEC_FILENAME_MAX,
    EXEC_FILENAME_TRUNCATED, EventKind, ExecEvent, ExecResultEvent, HEADER_UNPRIVILEGED,
    HEADER_UNTRUSTED_RUNTIME, RUNTIME_NAMES_MAX, TASK_COMM_LEN, TRACKED_EXEC_PENDING, TrackedTask,
};

use crate::{
    emit::{current_is_tracked, current_pid, header, send_bytes, send_then_stop},
    globals::{runtime_len, runtime_name, watch_runtimes},
    maps::{EXEC_SCRATCH, TRACKED},
    syscall::{copy_user_str, enter_args, syscall_ret},
};

const FIXED: usize = core::mem::size_of::<ExecEvent>();
const ARGV_AT: usize = FIXED + EXEC_FILENAME_MAX;
const ARGV_MASK: usize = EXEC_ARGV_MAX - 1;
const _: () = assert!(EXEC_ARGV_MAX.is_power_of_two());

#[raw_tracepoint]
pub fn sys_enter_execve(ctx: RawTracePointContext) -> i32 {
    let [filename, argv] = enter_args(&ctx);
    exec_entered(filename as *const u8, argv as *const *const u8, 0);
    0
}

#[raw_tracepoint]
pub fn sys_enter_execveat(ctx: RawTracePointContext) -> i32 {
    let [_dirfd, filename, argv] = enter_args(&ctx);
    exec_entered(filename as *const u8, argv as *const *const u8, EXEC_AT);
    0
}

/// The exit of execve and execveat.
#[raw_tracepoint]
pub fn sys_exit_exec(ctx: RawTracePointContext) -> i32 {
    exec_returned(&ctx);
    0
}

fn exec_returned(ctx: &RawTracePointContext) {
    if !current_is_tracked() {
        return;
    }
    let ret = syscall_ret(ctx);
    let pid = current_pid();
    // A root `watch` made at this exec: what sched_process_exec found of it.
    // SAFETY: the value is copied out at once.
    let root_flags = match unsafe { TRACKED.get(pid) } {
        Some(tracked) if watch_runtimes() && tracked.root == pid => tracked.flags,
        _ => 0,
    };
    let header_flags =
        (root_flags & u32::from(HEADER_UNTRUSTED_RUNTIME | HEADER_UNPRIVILEGED)) as u16;
    // Only after a successful exec: a failed one (a PATH search) may be
    // made by a child whose parent is blocked until the exec succeeds.
    send_then_stop(EventKind::ExecResult, ret == 0, |mut header| {
        header.flags |= header_flags;
        ExecResultEvent { header, ret }
    });
    // Not a runtime after all (the exec failed), or a file anyone could
    // have named so: nothing more of it is reported, whatever it does.
    let failed_root = ret != 0 && root_flags & TRACKED_EXEC_PENDING != 0;
    if failed_root || header_flags & HEADER_UNTRUSTED_RUNTIME != 0 {
        let _ = TRACKED.remove(pid);
    }
}

#[inline(always)]
fn exec_entered(filename: *const u8, argv: *const *const u8, at_flag: u32) {
    let tracked = current_is_tracked();
    if !tracked && !watch_runtimes() {
        return;
    }
    let Some(scratch) = EXEC_SCRATCH.get_ptr_mut(0) else {
        return;
    };
    // SAFETY: a per-CPU map value, not shared while this program runs.
    let base: *mut u8 = unsafe { (*scratch).bytes.as_mut_ptr() };

    let mut flags = at_flag;
    let filename_len = match copy_user_str::<false>(
        base.wrapping_add(FIXED),
        EXEC_FILENAME_MAX as u32,
        filename,
    ) {
        Some((len, cut)) => {
            if cut {
                flags |= EXEC_FILENAME_TRUNCATED;
            }
            len
        }
        None => 0,
    };
    if !tracked {
        // SAFETY: the filename area lies inside the scratch value.
        let filename =
            unsafe { core::slice::from_raw_parts(base.wrapping_add(FIXED), EXEC_FILENAME_MAX) };
        if !names_a_runtime(filename, filename_len as usize) {
            return;
        }
        let pid = current_pid();
        // A full map leaves the runtime unseen, as in task_newtask.
        let _ = TRACKED.insert(pid, TrackedTask { root: pid, flags: TRACKED_EXEC_PENDING }, 0);
    }

    // Offsets are 64-bit: 32-bit arithmetic makes LLVM zero-extend copies,
    // and the verifier then loses the bound that keeps each copy in range.
    let argv_area = base.wrapping_add(ARGV_AT);
    let mut used: usize = 0;
    let mut argc: u32 = 0;
    let mut index: usize = 0;
    while index <= EXEC_ARGC_MAX as usize {
        // SAFETY: a user-memory read through the helper, which may fail.
        let arg: *const u8 = match unsafe { bpf_probe_read_user(argv.wrapping_add(index)) } {
            Ok(arg) => arg,
            Err(_) => break,
        };
        if arg.is_null() {
            break;
        }
        // One argument more than fits, or no room left: cut here.
        if index == EXEC_ARGC_MAX as usize || used >= EXEC_ARGV_MAX {
            flags |= EXEC_ARGV_TRUNCATED;
            break;
        }
        let offset = used & ARGV_MASK;
        let room = EXEC_ARGV_MAX - offset;
        match copy_user_str::<false>(argv_area.wrapping_add(offset), room as u32, arg) {
            Some((_, true)) => {
                // Only whole arguments are kept.
                flags |= EXEC_ARGV_TRUNCATED;
                break;
            }
            Some((len, false)) => {
                used = offset + len as usize;
                argc += 1;
            }
            None => break,
        }
        index += 1;
    }

    let used = if used > EXEC_ARGV_MAX { EXEC_ARGV_MAX } else { used };
    let size = ARGV_AT + used;
    let fixed = ExecEvent {
        header: header(EventKind::Exec, size),
        flags,
        argc,
        filename_len,
        argv_len: used as u32,
    };
    // SAFETY: the scratch value is larger than `ExecEvent` and its start is
    // 8-byte aligned (map values are).
    unsafe { base.cast::<ExecEvent>().write(fixed) };
    // SAFETY: `size` is at most ARGV_AT + EXEC_ARGV_MAX, inside the scratch value.
    let record = unsafe { core::slice::from_raw_parts(base, size) };
    send_bytes(EventKind::Exec, record);
}

/// Whether the file's name (what follows its last `/`) is one of the
/// runtime names `cradle watch` follows. `len` counts the NUL. Compares
/// suffixes rather than searching for the last `/`: a data-dependent
/// search multiplies the verifier's states past its limit.
#[inline(always)]
fn names_a_runtime(filename: &[u8], len: usize) -> bool {
    if !(2..=EXEC_FILENAME_MAX).contains(&len) {
        return false;
    }
    let text_len = len - 1;
    let mut n = 0;
    while n < RUNTIME_NAMES_MAX {
        let name_len = runtime_len(n);
        if name_len != 0 && name_len <= text_len && ends_with_name(filename, text_len, n, name_len)
        {
            return true;
        }
        n += 1;
    }
    false
}

/// Whether `filename[..text_len]` is `.../NAME` or `NAME` for runtime `n`.
#[inline(always)]
fn ends_with_name(filename: &[u8], text_len: usize, n: usize, name_len: usize) -> bool {
    const MASK: usize = EXEC_FILENAME_MAX - 1;
    let start = text_len - name_len;
    if start > 0 && filename[(start - 1) & MASK] != b'/' {
        return false;
    }
    let name = runtime_name(n);
    let mut j: usize = 0;
    while j < TASK_COMM_LEN - 1 {
        if j >= name_len {
            break;
        }
        if filename[(start + j) & MASK] != name[j] {
            return false;
        }
        j += 1;
    }
    true
}
