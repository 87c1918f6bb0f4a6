//! The layout of `syscalls:sys_enter_*`/`sys_exit_*` records and copies of
//! the user memory a syscall's arguments point to.

use aya_ebpf::{
    helpers::{
        bpf_probe_read_user,
        generated::{bpf_probe_read_user as read_user_raw, bpf_probe_read_user_str},
    },
    programs::TracePointContext,
};

/// Offset of syscall argument `n` in a `syscalls:sys_enter_*` record (after
/// the 8-byte common header and the syscall number, padded to 16).
pub const fn syscall_arg(n: usize) -> usize {
    16 + 8 * n
}

/// The first `N` arguments of a sys_enter record.
#[inline(always)]
pub fn enter_args<const N: usize>(ctx: &TracePointContext) -> [u64; N] {
    let mut args = [0; N];
    let mut n = 0;
    while n < N {
        // SAFETY: sys_enter records hold six 8-byte arguments.
        args[n] = unsafe { ctx.read_at::<u64>(syscall_arg(n)) }.unwrap_or(0);
        n += 1;
    }
    args
}

/// Offset of `ret` in a `syscalls:sys_exit_*` record.
pub const SYSCALL_RET: usize = 16;

/// Copies a user string of at most `room` bytes to `dst`. Returns the bytes
/// copied (NUL included) and whether the string was longer than `room`.
#[inline(always)]
pub fn copy_user_str(dst: *mut u8, room: u32, src: *const u8) -> Option<(u32, bool)> {
    if src.is_null() {
        return None;
    }
    // SAFETY: the caller guarantees `dst..dst+room` is writable memory of
    // the program (a map value or a ring-buffer reservation); the helper
    // reads user memory safely and NUL-terminates.
    let copied = unsafe { bpf_probe_read_user_str(dst.cast(), room, src.cast()) };
    if copied <= 0 {
        return None;
    }
    let copied = copied as u32;
    // A full buffer is ambiguous: check whether the source went on.
    let cut = copied >= room && {
        // SAFETY: a user-memory read through the helper, which may fail.
        let next = unsafe { bpf_probe_read_user(src.wrapping_add(room as usize - 1)) };
        next.map(|b: u8| b != 0).unwrap_or(false)
    };
    Some((copied, cut))
}

/// Copies `len` bytes of user memory to `dst`; false if the kernel refuses
/// (then `dst` holds zeros).
#[inline(always)]
pub fn copy_user_bytes(dst: *mut u8, len: u32, src: *const u8) -> bool {
    if src.is_null() {
        return false;
    }
    // SAFETY: the caller guarantees `dst..dst+len` is writable memory of the
    // program; the helper reads user memory safely.
    unsafe { read_user_raw(dst.cast(), len, src.cast()) == 0 }
}
