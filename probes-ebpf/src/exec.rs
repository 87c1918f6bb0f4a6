//! execve(2) and execveat(2): the filename and argv at entry, the result at
//! exit. Userspace pairs the two records by thread.

use aya_ebpf::{
    helpers::{bpf_probe_read_kernel, bpf_probe_read_user},
    macros::raw_tracepoint,
    programs::RawTracePointContext,
};
use cradle_probes_common::{
    EXEC_ARGC_MAX, EXEC_ARGV_MAX, EXEC_ARGV_TRUNCATED, EXEC_AT, EXEC_FILENAME_MAX,
    EXEC_FILENAME_TRUNCATED, EventKind, ExecEvent, ExecResultEvent, FILENAME_TAIL,
    HEADER_UNPRIVILEGED, HEADER_UNTRUSTED_RUNTIME, RUNTIME_NAMES_MAX, TRACKED_EXEC_PENDING,
    TrackedTask,
};

use crate::{
    cast::{low_u16, low_u32, size_u32},
    emit::{current_is_tracked, current_pid, header, send_bytes, send_then_stop},
    globals::{runtime_tail, watch_runtimes},
    maps::{EXEC_SCRATCH, ExecScratch, TRACKED},
    syscall::{copy_user_str, enter_args, syscall_ret},
};

const FIXED: usize = core::mem::size_of::<ExecEvent>();
const ARGV_AT: usize = FIXED + EXEC_FILENAME_MAX;
const ARGV_MASK: usize = EXEC_ARGV_MAX - 1;
const _: () = assert!(EXEC_ARGV_MAX.is_power_of_two());
const _: () = assert!(EXEC_FILENAME_MAX.is_power_of_two());
// names_a_runtime writes `/`s in the FILENAME_TAIL bytes before the filename.
const _: () = assert!(FIXED >= FILENAME_TAIL && FIXED.is_multiple_of(8));

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
        low_u16(u64::from(root_flags & u32::from(HEADER_UNTRUSTED_RUNTIME | HEADER_UNPRIVILEGED)));
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
        const { size_u32(EXEC_FILENAME_MAX) },
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
        if !names_a_runtime(base, filename_len) {
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
        match copy_user_str::<true>(argv_area.wrapping_add(offset), low_u32(room as u64), arg) {
            Some((_, true)) => {
                // Only whole arguments are kept.
                flags |= EXEC_ARGV_TRUNCATED;
                break;
            }
            Some((len, false)) => {
                used = opaque(scratch, offset + len as usize);
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
        argv_len: low_u32(used as u64), // masked to the argv area
    };
    // SAFETY: the scratch value is larger than `ExecEvent` and its start is
    // 8-byte aligned (map values are).
    unsafe { base.cast::<ExecEvent>().write(fixed) };
    // SAFETY: `size` is at most ARGV_AT + EXEC_ARGV_MAX, inside the scratch value.
    let record = unsafe { core::slice::from_raw_parts(base, size) };
    send_bytes(EventKind::Exec, record);
}

/// `value`, passed through the scratch value's map memory, which the
/// verifier knows nothing of: the argv loop's paths (an empty argument
/// counts one byte, another its length) then meet in one state at each
/// iteration, where tracking the value itself gave 6.1's verifier four
/// times the work (780,000 of its 1,000,000 instructions).
#[inline(always)]
fn opaque(scratch: *mut ExecScratch, value: usize) -> usize {
    // SAFETY: a per-CPU map value, not shared while this program runs.
    unsafe {
        (&raw mut (*scratch).opaque).write_volatile(value as u64);
        // The value just written, a usize.
        #[allow(clippy::cast_possible_truncation)]
        let value = (&raw const (*scratch).opaque).read_volatile() as usize;
        value
    }
}

/// Whether the file's name (what follows its last `/`) is one of the
/// runtime names `cradle watch` follows. `base` is the scratch record, its
/// filename area holding the name; `len` counts the NUL. Compares the
/// name's tail with each runtime's ([`RuntimeTail`]): fixed-size word
/// comparisons, where a byte loop (or a search for the last `/`) gives
/// Linux 6.1's verifier more states than it allows.
#[inline(always)]
fn names_a_runtime(base: *mut u8, len: u32) -> bool {
    if !(2..=const { size_u32(EXEC_FILENAME_MAX) }).contains(&len) {
        return false;
    }
    const SLASHES: u64 = u64::from_ne_bytes([b'/'; 8]);
    // `/`s in front of the name, so that a short name's tail starts with
    // one; they are in the record's fixed part, which is written last.
    // SAFETY: FILENAME_TAIL bytes before the filename area, inside the
    // scratch value, 8-byte aligned (map values are, FIXED is).
    unsafe { base.wrapping_add(FIXED - FILENAME_TAIL).cast::<[u64; 2]>().write([SLASHES; 2]) };
    // Opaque, so that LLVM keeps the mask: it can prove the mask redundant,
    // but 6.1's verifier cannot, and refuses the unbounded offset.
    let text_len = core::hint::black_box(len as usize - 1) & (EXEC_FILENAME_MAX - 1);
    // The FILENAME_TAIL bytes that end where the name does.
    let tail_at = base.wrapping_add(FIXED - FILENAME_TAIL + text_len);
    // SAFETY: a kernel-memory read through the helper, which may fail; the
    // bytes lie inside the scratch value.
    let Ok(tail) = (unsafe { bpf_probe_read_kernel(tail_at.cast::<[u64; 2]>()) }) else {
        return false;
    };
    let mut n = 0;
    while n < RUNTIME_NAMES_MAX {
        let name = runtime_tail(n);
        if name.mask[1] != 0
            && tail[0] & name.mask[0] == name.bytes[0]
            && tail[1] & name.mask[1] == name.bytes[1]
        {
            return true;
        }
        n += 1;
    }
    false
}
