//! execve(2) and execveat(2): the filename and argv at entry, the result at
//! exit. Userspace pairs the two records by thread.

use aya_ebpf::{helpers::bpf_probe_read_user, macros::tracepoint, programs::TracePointContext};
use cradle_probes_common::{
    EXEC_ARGC_MAX, EXEC_ARGV_MAX, EXEC_ARGV_TRUNCATED, EXEC_AT, EXEC_FILENAME_MAX,
    EXEC_FILENAME_TRUNCATED, EventKind, ExecEvent, ExecResultEvent,
};

use crate::{
    emit::{current_is_tracked, header, send, send_bytes},
    maps::EXEC_SCRATCH,
    syscall::{SYSCALL_RET, copy_user_str, syscall_arg},
};

const FIXED: usize = core::mem::size_of::<ExecEvent>();
const ARGV_AT: usize = FIXED + EXEC_FILENAME_MAX;
const ARGV_MASK: usize = EXEC_ARGV_MAX - 1;
const _: () = assert!(EXEC_ARGV_MAX.is_power_of_two());

#[tracepoint(category = "syscalls", name = "sys_enter_execve")]
pub fn sys_enter_execve(ctx: TracePointContext) -> u32 {
    exec_entered(&ctx, syscall_arg(0), syscall_arg(1), 0);
    0
}

#[tracepoint(category = "syscalls", name = "sys_enter_execveat")]
pub fn sys_enter_execveat(ctx: TracePointContext) -> u32 {
    exec_entered(&ctx, syscall_arg(1), syscall_arg(2), EXEC_AT);
    0
}

#[tracepoint(category = "syscalls", name = "sys_exit_execve")]
pub fn sys_exit_execve(ctx: TracePointContext) -> u32 {
    exec_returned(&ctx);
    0
}

#[tracepoint(category = "syscalls", name = "sys_exit_execveat")]
pub fn sys_exit_execveat(ctx: TracePointContext) -> u32 {
    exec_returned(&ctx);
    0
}

fn exec_returned(ctx: &TracePointContext) {
    if !current_is_tracked() {
        return;
    }
    // SAFETY: `ret` is a long at this offset in every sys_exit record.
    let ret = unsafe { ctx.read_at::<i64>(SYSCALL_RET) }.unwrap_or(0);
    send(EventKind::ExecResult, |header| ExecResultEvent { header, ret });
}

fn exec_entered(ctx: &TracePointContext, filename_at: usize, argv_at: usize, at_flag: u32) {
    if !current_is_tracked() {
        return;
    }
    let Some(scratch) = EXEC_SCRATCH.get_ptr_mut(0) else {
        return;
    };
    // SAFETY: a per-CPU map value, not shared while this program runs.
    let base: *mut u8 = unsafe { (*scratch).bytes.as_mut_ptr() };
    // SAFETY: both are pointer-sized fields of the sys_enter record.
    let filename: *const u8 = unsafe { ctx.read_at(filename_at) }.unwrap_or(core::ptr::null());
    // SAFETY: as above.
    let argv: *const *const u8 = unsafe { ctx.read_at(argv_at) }.unwrap_or(core::ptr::null());

    let mut flags = at_flag;
    let filename_len =
        match copy_user_str(base.wrapping_add(FIXED), EXEC_FILENAME_MAX as u32, filename) {
            Some((len, cut)) => {
                if cut {
                    flags |= EXEC_FILENAME_TRUNCATED;
                }
                len
            }
            None => 0,
        };

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
        match copy_user_str(argv_area.wrapping_add(offset), room as u32, arg) {
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
