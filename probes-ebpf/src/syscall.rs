//! A syscall's arguments and result as the raw `sys_enter`/`sys_exit`
//! tracepoints hand them over, and copies of the user memory the arguments
//! point to.
//!
//! Raw `sys_enter` passes `(struct pt_regs *regs, long id)` and raw
//! `sys_exit` `(struct pt_regs *regs, long ret)`: the arguments are read
//! from the saved user registers. The offsets below are those of x86_64's
//! `struct pt_regs` (arch/x86/include/asm/ptrace.h), a layout fixed by the
//! entry code's assembly, not a structure that varies with the build:
//! `r15 r14 r13 r12 bp bx r11 r10 r9 r8 ax cx dx si di orig_ax ip cs ...`,
//! 8 bytes each.

use crate::cast::low_u32;
use aya_ebpf::{
    helpers::{
        bpf_probe_read_kernel, bpf_probe_read_user,
        generated::{bpf_probe_read_user as read_user_raw, bpf_probe_read_user_str},
    },
    programs::RawTracePointContext,
};

/// Offset of `r10` in `struct pt_regs`: the first of the eight registers
/// from `r10` to `di` that hold, among others, the six syscall arguments.
const PT_REGS_R10: usize = 7 * 8;
/// Offset of `orig_ax`: the syscall number, kept there for the exit (`ax`
/// holds the result by then).
const PT_REGS_ORIG_AX: usize = 15 * 8;
/// Offset of `cs`: the user code segment the call came from.
const PT_REGS_CS: usize = 17 * 8;
/// `__USER_CS`: a 64-bit task's call through `syscall`. ia32 calls
/// (`__USER32_CS`, 0x23) number their syscalls differently; the
/// `syscalls:*` tracepoints ignore them, and so does cradle.
const USER_CS_64: u64 = 0x33;

/// Index of syscall argument `n` (di, si, dx, r10, r8, r9) in the block of
/// registers read from [`PT_REGS_R10`]: r10 r9 r8 ax cx dx si di.
const fn arg_register(n: usize) -> usize {
    match n {
        0 => 7,
        1 => 6,
        2 => 5,
        3 => 0,
        4 => 2,
        _ => 1,
    }
}

/// The saved user registers of the call in progress.
#[inline(always)]
fn regs(ctx: &RawTracePointContext) -> *const u8 {
    ctx.arg::<*const u8>(0)
}

/// The 8-byte value at `offset` in the saved registers; 0 if unreadable.
#[inline(always)]
fn regs_u64(ctx: &RawTracePointContext, offset: usize) -> u64 {
    // SAFETY: a kernel-memory read through the helper, which may fail.
    unsafe { bpf_probe_read_kernel(regs(ctx).wrapping_add(offset).cast::<u64>()) }.unwrap_or(0)
}

/// Whether the call is a 64-bit task's native syscall (see [`USER_CS_64`]).
#[inline(always)]
pub fn is_native_call(ctx: &RawTracePointContext) -> bool {
    regs_u64(ctx, PT_REGS_CS) == USER_CS_64
}

/// The syscall number, at entry or exit.
#[inline(always)]
pub fn syscall_number(ctx: &RawTracePointContext) -> u64 {
    regs_u64(ctx, PT_REGS_ORIG_AX)
}

/// The first `N` arguments of the call, read with one helper call.
#[inline(always)]
pub fn enter_args<const N: usize>(ctx: &RawTracePointContext) -> [u64; N] {
    // SAFETY: a kernel-memory read through the helper, which may fail.
    let block = unsafe { bpf_probe_read_kernel(regs(ctx).wrapping_add(PT_REGS_R10).cast()) }
        .unwrap_or([0u64; 8]);
    let mut args = [0; N];
    let mut n = 0;
    while n < N {
        args[n] = block[arg_register(n)];
        n += 1;
    }
    args
}

/// The syscall's return value, at exit.
#[inline(always)]
pub fn syscall_ret(ctx: &RawTracePointContext) -> i64 {
    ctx.arg::<i64>(1)
}

/// Copies a user string of at most `room` bytes to `dst`. Returns the bytes
/// copied (NUL included) and whether the string was longer than `room`.
///
/// `EMPTY_COUNTS`: an empty string is one byte, its NUL, on every kernel.
/// Kernels before 6.14 or so return 0 for it (strncpy_from_user_nofault)
/// where later ones count the NUL; a failed read is negative on all. Off
/// for exec's filename, which an empty string makes none (the exec fails).
#[inline(always)]
pub fn copy_user_str<const EMPTY_COUNTS: bool>(
    dst: *mut u8,
    room: u32,
    src: *const u8,
) -> Option<(u32, bool)> {
    if src.is_null() {
        return None;
    }
    // SAFETY: the caller guarantees `dst..dst+room` is writable memory of
    // the program (a map value or a ring-buffer reservation); the helper
    // reads user memory safely and NUL-terminates.
    let copied = unsafe { bpf_probe_read_user_str(dst.cast(), room, src.cast()) };
    if EMPTY_COUNTS && copied == 0 {
        // SAFETY: `room` is at least 1 and `dst` writable (as above).
        unsafe { *dst = 0 };
        return Some((1, false));
    }
    if copied <= 0 {
        return None;
    }
    // 1..=room, a u32, when positive (checked above).
    let copied = low_u32(copied.cast_unsigned());
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
