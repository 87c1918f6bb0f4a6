//! Syscalls recorded once they return: the entry stashes the arguments of
//! a tracked task's call by thread, the exit sends one record with the
//! arguments, the result, and copies of the user memory the arguments point
//! to. The copies are taken at exit, when the kernel has just read that
//! memory itself, so it is resident and the helpers (which cannot fault
//! pages in) can read it.

use aya_ebpf::{macros::raw_tracepoint, programs::RawTracePointContext};
use cradle_probes_common::{
    CALL_ARGS, CALL_SLOT_MAX, CALL_SLOTS, CLONE_NEW_MASK, CallEvent, EventKind, FSCONFIG_SET_PATH,
    FSCONFIG_SET_PATH_EMPTY, FSCONFIG_SET_STRING, NS_SOURCE_UNSHARE, NamespaceSet, NamespacesEvent,
    PR_SET_NAME, PR_SET_SECCOMP, SECCOMP_MODE_FILTER, SECCOMP_SET_MODE_FILTER,
};

use crate::{
    cast::{low_u16, low_u32, size_u32},
    emit::{
        count_lost, current_is_tracked, current_pid, header, send_then_stop, stop_if_asked, wakeup,
    },
    hooks::created_namespaces,
    kernel::Task,
    maps::{EVENTS, PENDING, PendingCall},
    syscall::{copy_user_bytes, copy_user_str, enter_args, syscall_ret},
};

const _: () = assert!(CALL_SLOT_MAX.is_power_of_two());

/// What fills one data area of a [`CallEvent`].
#[derive(Clone, Copy)]
pub enum Slot {
    Empty,
    /// The NUL-terminated user string argument `n` points to.
    Str(usize),
    /// `len` bytes of user memory argument `n` points to.
    Bytes(usize, u32),
    /// The user memory argument `n` points to, as many bytes as argument
    /// `m` says, at most [`CALL_SLOT_MAX`] (beyond: cut and flagged).
    Sized(usize, usize),
}

/// Stashes the first `nargs` arguments of a tracked task's call.
#[inline(always)]
pub fn stash(ctx: &RawTracePointContext, kind: EventKind, nargs: usize) {
    if !current_is_tracked() {
        return;
    }
    let all: [u64; CALL_ARGS] = enter_args(ctx);
    let mut call = PendingCall { kind: kind as u32, _pad: 0, args: [0; CALL_ARGS] };
    let mut n = 0;
    while n < nargs && n < CALL_ARGS {
        call.args[n] = all[n];
        n += 1;
    }
    // A full map drops the call; the LRU map evicts the oldest stash first.
    let _ = PENDING.insert(current_pid(), call, 0);
}

/// Takes the stashed call of the running thread, if it is a `kind` call.
#[inline(always)]
pub fn take(kind: EventKind) -> Option<PendingCall> {
    let pid = current_pid();
    // SAFETY: the value is copied out at once.
    let call = unsafe { PENDING.get(pid) }.copied()?;
    let _ = PENDING.remove(pid);
    if call.kind == kind as u32 { Some(call) } else { None }
}

/// Fills data area `index` of `event` as `slot` says.
#[inline(always)]
fn fill_slot(event: *mut CallEvent, index: usize, slot: Slot, args: &[u64; CALL_ARGS]) {
    // SAFETY: `event` is a live ring-buffer reservation of a CallEvent and
    // `index` is a constant below CALL_SLOTS after inlining.
    let (dst, len, cut) = unsafe {
        (
            (*event).slots[index].as_mut_ptr(),
            &raw mut (*event).lens[index],
            &raw mut (*event).truncated,
        )
    };
    let (used, was_cut) = match slot {
        Slot::Empty => (0, false),
        Slot::Str(arg) => {
            copy_user_str::<true>(dst, const { size_u32(CALL_SLOT_MAX) }, args[arg] as *const u8)
                .unwrap_or((0, false))
        }
        Slot::Bytes(arg, bytes) => {
            let bytes = if bytes as usize > CALL_SLOT_MAX {
                const { size_u32(CALL_SLOT_MAX) }
            } else {
                bytes
            };
            if copy_user_bytes(dst, bytes, args[arg] as *const u8) {
                (bytes, false)
            } else {
                (0, false)
            }
        }
        Slot::Sized(arg, len_arg) => {
            let wanted = args[len_arg];
            let cut = wanted > CALL_SLOT_MAX as u64;
            let bytes = if cut { CALL_SLOT_MAX as u64 } else { wanted };
            // 64-bit and masked, so the verifier sees 1..=CALL_SLOT_MAX.
            let bytes = ((bytes.wrapping_sub(1)) & (CALL_SLOT_MAX as u64 - 1)) + 1;
            // 1..=CALL_SLOT_MAX, as masked just above.
            let bytes = low_u32(bytes);
            if wanted > 0 && copy_user_bytes(dst, bytes, args[arg] as *const u8) {
                (bytes, cut)
            } else {
                (0, false)
            }
        }
    };
    // SAFETY: both point into the reservation (see above).
    unsafe {
        // At most CALL_SLOT_MAX, a u16 (checked in probes-common).
        *len = low_u16(u64::from(used));
        if was_cut {
            *cut |= 1 << index;
        }
    }
}

/// Sends the record of a returned call.
#[inline(always)]
pub fn record(
    ctx: &RawTracePointContext,
    kind: EventKind,
    call: &PendingCall,
    slots: [Slot; CALL_SLOTS],
    namespaces: NamespaceSet,
) {
    let header = header(kind, core::mem::size_of::<CallEvent>());
    let ret = syscall_ret(ctx);
    let Some(mut entry) = EVENTS.reserve::<CallEvent>(0) else {
        count_lost(kind);
        return;
    };
    let event = entry.as_mut_ptr();
    // SAFETY: `event` is the reservation, large enough for a CallEvent; the
    // fixed part is written whole before the data areas are filled.
    unsafe {
        (*event).header = header;
        (*event).ret = ret;
        (*event).args = call.args;
        (*event).lens = [0; CALL_SLOTS];
        (*event).truncated = 0;
        (*event)._pad = 0;
        (*event).namespaces = namespaces;
    }
    fill_slot(event, 0, slots[0], &call.args);
    fill_slot(event, 1, slots[1], &call.args);
    fill_slot(event, 2, slots[2], &call.args);
    fill_slot(event, 3, slots[3], &call.args);
    let flags = stop_if_asked(kind);
    // SAFETY: as above.
    unsafe { (*event).header.flags = flags };
    entry.submit(wakeup(flags));
}

/// An entry and an exit program for a syscall whose record's data areas
/// depend only on its arguments.
macro_rules! call_probe {
    ($enter:ident, $exit:ident, $kind:expr, $nargs:expr, |$args:ident| $slots:expr) => {
        #[raw_tracepoint]
        pub fn $enter(ctx: RawTracePointContext) -> i32 {
            stash(&ctx, $kind, $nargs);
            0
        }

        #[raw_tracepoint]
        pub fn $exit(ctx: RawTracePointContext) -> i32 {
            if let Some(call) = take($kind) {
                let $args = &call.args;
                let slots: [Slot; CALL_SLOTS] = $slots;
                record(&ctx, $kind, &call, slots, NamespaceSet::default());
            }
            0
        }
    };
}

use Slot::{Bytes, Empty, Sized, Str};

call_probe!(sys_enter_mount, sys_exit_mount, EventKind::Mount, 5, |_a| [
    Str(0),
    Str(1),
    Str(2),
    Str(4)
]);
call_probe!(sys_enter_umount, sys_exit_umount, EventKind::Umount, 2, |_a| [
    Str(0),
    Empty,
    Empty,
    Empty
]);
call_probe!(sys_enter_fsopen, sys_exit_fsopen, EventKind::Fsopen, 2, |_a| [
    Str(0),
    Empty,
    Empty,
    Empty
]);
/// `FSCONFIG_SET_STRING`, `FSCONFIG_SET_PATH`, `FSCONFIG_SET_PATH_EMPTY`:
/// the commands whose value is a string.
const fn fsconfig_value_is_string(cmd: u32) -> bool {
    cmd == FSCONFIG_SET_STRING || cmd == FSCONFIG_SET_PATH || cmd == FSCONFIG_SET_PATH_EMPTY
}
call_probe!(sys_enter_fsconfig, sys_exit_fsconfig, EventKind::Fsconfig, 5, |a| [
    Str(2),
    if fsconfig_value_is_string(low_u32(a[1])) { Str(3) } else { Empty },
    Empty,
    Empty
]);
call_probe!(sys_enter_fsmount, sys_exit_fsmount, EventKind::Fsmount, 3, |_a| [Empty; CALL_SLOTS]);
call_probe!(sys_enter_move_mount, sys_exit_move_mount, EventKind::MoveMount, 5, |_a| [
    Str(1),
    Str(3),
    Empty,
    Empty
]);
call_probe!(sys_enter_open_tree, sys_exit_open_tree, EventKind::OpenTree, 3, |_a| [
    Str(1),
    Empty,
    Empty,
    Empty
]);
/// `sizeof(struct mount_attr)` in its first published version.
const MOUNT_ATTR_SIZE_VER0: u32 = 32;
call_probe!(sys_enter_mount_setattr, sys_exit_mount_setattr, EventKind::MountSetattr, 5, |_a| [
    Str(1),
    Bytes(3, MOUNT_ATTR_SIZE_VER0),
    Empty,
    Empty
]);
call_probe!(sys_enter_pivot_root, sys_exit_pivot_root, EventKind::PivotRoot, 2, |_a| [
    Str(0),
    Str(1),
    Empty,
    Empty
]);
call_probe!(sys_enter_chroot, sys_exit_chroot, EventKind::Chroot, 1, |_a| [
    Str(0),
    Empty,
    Empty,
    Empty
]);
/// `sizeof(struct __user_cap_header_struct)` and of the two
/// `__user_cap_data_struct`s of capability version 3.
const CAP_HEADER_SIZE: u32 = 8;
const CAP_DATA_SIZE: u32 = 24;
call_probe!(sys_enter_capset, sys_exit_capset, EventKind::Capset, 2, |_a| [
    Bytes(0, CAP_HEADER_SIZE),
    Bytes(1, CAP_DATA_SIZE),
    Empty,
    Empty
]);
/// `struct sock_fprog`: the filter length and a pointer.
const SOCK_FPROG_SIZE: u32 = 16;
// Integer arguments are compared as the C `int`/`unsigned int` they are:
// the upper half of their register is not part of the value.
call_probe!(sys_enter_prctl, sys_exit_prctl, EventKind::Prctl, 5, |a| [
    if low_u32(a[0]) == PR_SET_NAME { Str(1) } else { Empty },
    if low_u32(a[0]) == PR_SET_SECCOMP && low_u32(a[1]) == SECCOMP_MODE_FILTER {
        Bytes(2, SOCK_FPROG_SIZE)
    } else {
        Empty
    },
    Empty,
    Empty
]);
call_probe!(sys_enter_seccomp, sys_exit_seccomp, EventKind::Seccomp, 3, |a| [
    if low_u32(a[0]) == SECCOMP_SET_MODE_FILTER { Bytes(2, SOCK_FPROG_SIZE) } else { Empty },
    Empty,
    Empty,
    Empty
]);
// The name is `len` bytes, not a NUL-terminated string.
call_probe!(sys_enter_sethostname, sys_exit_sethostname, EventKind::Sethostname, 2, |_a| [
    Sized(0, 1),
    Empty,
    Empty,
    Empty
]);

#[raw_tracepoint]
pub fn sys_enter_setns(ctx: RawTracePointContext) -> i32 {
    stash(&ctx, EventKind::Setns, 2);
    0
}

/// setns(2) also records the namespaces the caller is in once it returned.
#[raw_tracepoint]
pub fn sys_exit_setns(ctx: RawTracePointContext) -> i32 {
    if let Some(call) = take(EventKind::Setns) {
        let namespaces = Task::current().namespaces();
        record(&ctx, EventKind::Setns, &call, [Empty; CALL_SLOTS], namespaces);
    }
    0
}

#[raw_tracepoint]
pub fn sys_enter_unshare(ctx: RawTracePointContext) -> i32 {
    stash(&ctx, EventKind::Namespaces, 1);
    0
}

/// unshare(2) with `CLONE_NEW*` flags: the caller's namespaces once it
/// returned (the `*_for_children` ones for pid and time).
#[raw_tracepoint]
pub fn sys_exit_unshare(ctx: RawTracePointContext) -> i32 {
    let Some(call) = take(EventKind::Namespaces) else {
        return 0;
    };
    let flags = u64::from(low_u32(call.args[0]));
    if flags & CLONE_NEW_MASK == 0 {
        return 0;
    }
    let ret = syscall_ret(&ctx);
    let target_pid = current_pid();
    let (namespaces, hook) = created_namespaces(Task::current());
    send_then_stop(EventKind::Namespaces, true, |header| NamespacesEvent {
        header,
        ret,
        flags,
        source: NS_SOURCE_UNSHARE,
        target_pid,
        namespaces,
        hook,
        _pad: 0,
    });
    0
}
