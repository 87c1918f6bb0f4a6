//! The two programs attached to syscalls: raw `sys_enter` and `sys_exit`,
//! which pass a tracked task's call to the program that handles its
//! syscall by a tail call through a program array indexed by syscall
//! number (userspace fills the arrays at load). Each handler stays a small
//! program of its own for the verifier, and a call nobody handles costs a
//! failed tail call.
//!
//! Why not one `syscalls:sys_enter_*` tracepoint per call: detaching such a
//! tracepoint waits for an RCU-tasks-trace grace period (syscall
//! tracepoints may fault), ~40 ms each and serialised by the kernel, so
//! ~50 of them took ~2 s at every exit. A raw tracepoint detaches at once.

use aya_ebpf::{
    macros::{map, raw_tracepoint},
    maps::ProgramArray,
    programs::RawTracePointContext,
};
use cradle_probes_common::SYSCALL_HANDLERS_MAX;

use crate::{
    cast::low_u32,
    emit::{current_is_tracked, current_pid},
    globals::{floor, watch_runtimes},
    maps::PENDING,
    syscall::{is_native_call, syscall_number},
};

/// Syscall number -> the program that handles that call's entry.
#[map]
pub static SYS_ENTER_HANDLERS: ProgramArray =
    ProgramArray::with_max_entries(SYSCALL_HANDLERS_MAX, 0);

/// Syscall number -> the entry handlers that can act for an untracked task
/// when runtimes are watched (execs, link daemons' netlink calls): userspace
/// places them here too, so that an untracked task's other calls reach no
/// handler at all.
#[map]
pub static SYS_ENTER_UNTRACKED_HANDLERS: ProgramArray =
    ProgramArray::with_max_entries(SYSCALL_HANDLERS_MAX, 0);

/// Syscall number -> the program that handles that call's exit.
#[map]
pub static SYS_EXIT_HANDLERS: ProgramArray =
    ProgramArray::with_max_entries(SYSCALL_HANDLERS_MAX, 0);

/// Tracked tasks' calls, and when runtimes are watched, the calls of an
/// untracked task that a handler may act on (an exec: its handler decides
/// whether a runtime starts; a link daemon's netlink calls).
#[raw_tracepoint(tracepoint = "sys_enter")]
pub fn sys_enter(ctx: RawTracePointContext) -> i32 {
    if floor() {
        return 0;
    }
    let tracked = current_is_tracked();
    if (tracked || watch_runtimes()) && is_native_call(&ctx) {
        let number = ctx.arg::<u64>(1);
        if tracked {
            dispatch(&ctx, &SYS_ENTER_HANDLERS, number);
        } else {
            dispatch(&ctx, &SYS_ENTER_UNTRACKED_HANDLERS, number);
        }
    }
    0
}

/// Tracked tasks' returns (a runtime's exec made it tracked at entry),
/// and when runtimes are watched, the returns of calls an untracked task's
/// entry stashed (a link daemon's netlink requests and answers).
#[raw_tracepoint(tracepoint = "sys_exit")]
pub fn sys_exit(ctx: RawTracePointContext) -> i32 {
    if floor() {
        return 0;
    }
    let followed = current_is_tracked()
        // SAFETY: only tested for presence.
        || (watch_runtimes() && unsafe { PENDING.get(current_pid()) }.is_some());
    if followed && is_native_call(&ctx) {
        dispatch(&ctx, &SYS_EXIT_HANDLERS, syscall_number(&ctx));
    }
    0
}

/// Tail-calls the handler of syscall `number`; returns if there is none.
#[inline(always)]
fn dispatch(ctx: &RawTracePointContext, handlers: &ProgramArray, number: u64) {
    // A negative or x32 number, or one above the array, has no handler.
    if number < u64::from(SYSCALL_HANDLERS_MAX) {
        // SAFETY: the handlers are raw tracepoint programs reading the same
        // context; on success control does not come back.
        unsafe { handlers.tail_call(ctx, low_u32(number)) };
    }
}
