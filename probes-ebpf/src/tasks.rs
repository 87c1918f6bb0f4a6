//! Task lifetime: new tasks (which also extends the tracked set, so that the
//! filter follows a tree in the kernel) and exits (which shrinks it).

use aya_ebpf::helpers::generated::bpf_probe_read_kernel_str;
use aya_ebpf::{macros::raw_tracepoint, programs::RawTracePointContext};
use cradle_probes_common::{
    CLONE_NEW_MASK, EventKind, HEADER_UNPRIVILEGED, HEADER_UNTRUSTED_RUNTIME, KERNEL_PATH_MAX,
    NS_HOOK_CREATE_NEW_NAMESPACES, NS_SOURCE_TASK_NEWTASK, NamespacesEvent, ProcessExecEvent,
    RUNTIME_FILES_MAX, TRACKED_EXEC_PENDING, TaskExitEvent, TaskNewEvent, TrackedTask,
};

use crate::{
    cast::{low_u32, size_u32},
    emit::{count_lost, current_is_tracked, current_pid, header, send, send_then_stop},
    globals::{floor, layout, runtime_file, track_all, watch_runtimes},
    hooks::created_namespaces,
    kernel::{Task, read, read_ptr},
    maps::{EVENTS, PENDING, TRACKED},
};

/// `task_newtask(struct task_struct *task, u64 clone_flags)`, run by the
/// parent in copy_process before the child can run: a tracked parent's child
/// is tracked before its first instruction.
#[raw_tracepoint(tracepoint = "task_newtask")]
pub fn task_newtask(ctx: RawTracePointContext) -> i32 {
    if floor() {
        return 0;
    }
    let parent = current_pid();
    // SAFETY: the value is copied out at once.
    let tracked = unsafe { TRACKED.get(parent) }.copied();
    if tracked.is_none() && !track_all() {
        return 0;
    }
    let child = Task::from_ptr(ctx.arg::<*const u8>(0));
    let clone_flags: u64 = ctx.arg(1);
    let child_pid = child.pid();
    if let Some(tracked) = tracked {
        // A full map means the child goes unseen; the userspace side
        // compares the map's occupancy with its limit and reports it.
        let _ = TRACKED.insert(child_pid, tracked, 0);
    }
    let child_tgid = child.tgid();
    send(EventKind::TaskNew, |header| TaskNewEvent { header, child_pid, child_tgid, clone_flags });
    // The tracepoint runs after copy_namespaces and copy_creds: the child's
    // nsproxy and credentials are its own by now. Without the
    // create_new_namespaces hook, they are read here.
    if clone_flags & CLONE_NEW_MASK != 0 {
        let (mut namespaces, hook) = created_namespaces(child);
        if hook == NS_HOOK_CREATE_NEW_NAMESPACES {
            // timens_on_fork, after create_new_namespaces returned: a new
            // task runs in the time namespace made for children.
            namespaces.time = namespaces.time_for_children;
        }
        // The parent stops once clone returns; its new child runs on, and
        // userspace stops it too when it pauses.
        send_then_stop(EventKind::Namespaces, true, |header| NamespacesEvent {
            header,
            ret: 0,
            flags: clone_flags,
            source: NS_SOURCE_TASK_NEWTASK,
            target_pid: child_pid,
            namespaces,
            hook,
            _pad: 0,
        });
    }
    0
}

/// `sched_process_exit(struct task_struct *p, ...)`, run by the exiting task.
#[raw_tracepoint(tracepoint = "sched_process_exit")]
pub fn sched_process_exit(ctx: RawTracePointContext) -> i32 {
    if floor() {
        return 0;
    }
    let pid = current_pid();
    // SAFETY: only tested for presence.
    let tracked = unsafe { TRACKED.get(pid) }.is_some();
    if !tracked && !track_all() {
        return 0;
    }
    let task = Task::from_ptr(ctx.arg::<*const u8>(0));
    let exit_code = task.exit_code();
    send(EventKind::TaskExit, |header| TaskExitEvent { header, exit_code, _pad: 0 });
    if tracked {
        let _ = TRACKED.remove(pid);
        // A call cut short by the exit leaves its stash behind.
        let _ = PENDING.remove(pid);
    }
    0
}

/// `watch`: a task that became a tracked root by exec'ing a file named
/// like a runtime is judged by the file it now runs, not by its name: one
/// of the allow-listed runtime files (for a script, the file is its
/// interpreter, which is never on the list), owned by root and writable by
/// no one else. The verdict, and whether the caller is unprivileged, goes
/// to its exec result, and stays with the root through its later execs.
#[inline(always)]
fn judge_runtime(bprm: *const u8) {
    let pid = current_pid();
    // SAFETY: the value is copied out at once.
    let Some(tracked) = (unsafe { TRACKED.get(pid) }).copied() else {
        return;
    };
    // Only the exec that made the root: a trusted runtime's later execs of
    // itself (cradle's restart from its sealed copy, whose file is not
    // the listed one) are that runtime's, as its children's are.
    if tracked.root != pid || tracked.flags & TRACKED_EXEC_PENDING == 0 {
        return;
    }
    let l = layout();
    let inode = read_ptr(read_ptr(bprm, l.binprm_file), l.file_f_inode);
    let owner = read::<u32>(inode, l.inode_i_uid);
    let mode = read::<u16>(inode, l.inode_i_mode);
    let ino = read::<u64>(inode, l.inode_i_ino).unwrap_or(0);
    let dev = read::<u32>(read_ptr(inode, l.inode_i_sb), l.super_block_s_dev).unwrap_or(0);
    let mut listed = false;
    let mut n = 0;
    while n < RUNTIME_FILES_MAX {
        let file = runtime_file(n);
        if file.ino != 0 && file.ino == ino && file.dev == dev {
            listed = true;
        }
        n += 1;
    }
    let mut flags = 0u32;
    if !listed || owner != Some(0) || mode.is_none_or(|mode| mode & 0o022 != 0) {
        flags |= u32::from(HEADER_UNTRUSTED_RUNTIME);
    }
    if Task::current().uid() != Some(0) {
        flags |= u32::from(HEADER_UNPRIVILEGED);
    }
    let _ = TRACKED.insert(pid, TrackedTask { root: pid, flags }, 0);
}

/// `sched_process_exec(struct task_struct *p, pid_t old_pid,
/// struct linux_binprm *bprm)`, run by the task once the new image is in
/// place: the exec has succeeded.
#[raw_tracepoint(tracepoint = "sched_process_exec")]
pub fn sched_process_exec(ctx: RawTracePointContext) -> i32 {
    if floor() {
        return 0;
    }
    if !current_is_tracked() {
        return 0;
    }
    let old_pid: u32 = low_u32(ctx.arg::<u64>(1));
    let bprm: *const u8 = ctx.arg(2);
    if watch_runtimes() {
        judge_runtime(bprm);
    }
    let filename = read::<*const u8>(bprm, layout().binprm_filename).unwrap_or(core::ptr::null());
    let header = header(EventKind::ProcessExec, core::mem::size_of::<ProcessExecEvent>());
    let Some(mut entry) = EVENTS.reserve::<ProcessExecEvent>(0) else {
        count_lost(EventKind::ProcessExec);
        return 0;
    };
    let event = entry.as_mut_ptr();
    // SAFETY: `event` is the reservation, large enough for the record; the
    // string copy is bounded by the `filename` array's size.
    unsafe {
        (*event).header = header;
        (*event).old_pid = old_pid;
        let copied = if filename.is_null() {
            0
        } else {
            bpf_probe_read_kernel_str(
                (*event).filename.as_mut_ptr().cast(),
                const { size_u32(KERNEL_PATH_MAX) },
                filename.cast(),
            )
        };
        // 1..=KERNEL_PATH_MAX when positive.
        (*event).filename_len = if copied > 0 { low_u32(copied.cast_unsigned()) } else { 0 };
    }
    entry.submit(0);
    0
}
