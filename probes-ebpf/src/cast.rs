//! The kernel's narrower values, read out of the 64-bit registers and
//! fields they travel in. Each cut here is meant: a syscall's `int`,
//! `unsigned int` or `umode_t` argument fills only the low part of its
//! register (the kernel ignores the rest too), `bpf_get_current_pid_tgid`
//! packs the pid in the low half, and a namespace's inode number is the
//! kernel's 32-bit `ns_common.inum`. The same `as` as before, so the
//! programs the verifier sees do not change; one place says why.

/// The low 32 bits: a C `unsigned int` argument, the pid of a pid_tgid.
#[inline(always)]
#[allow(clippy::cast_possible_truncation)] // the upper half is not the value's
pub fn low_u32(register: u64) -> u32 {
    register as u32
}

/// The low 32 bits as a C `int`: a descriptor, a capability, a return value.
#[inline(always)]
#[allow(clippy::cast_possible_truncation)] // the upper half is not the value's
pub fn low_i32(register: u64) -> i32 {
    register as i32
}

/// The low 16 bits: a `umode_t`.
#[inline(always)]
#[allow(clippy::cast_possible_truncation)] // the upper bits are not the value's
pub fn low_u16(register: u64) -> u16 {
    register as u16
}

/// A buffer size as the `u32` the helpers take. Use it in `const { }`: a
/// size that does not fit then fails the build.
#[allow(clippy::cast_possible_truncation)] // asserted to fit first
pub const fn size_u32(size: usize) -> u32 {
    assert!(size <= u32::MAX as usize, "a buffer size past u32");
    size as u32
}
