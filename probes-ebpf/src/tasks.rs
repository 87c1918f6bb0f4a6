//! Task lifetime: new tasks (which also extends the tracked set, so that the
//! filter follows a tree in the kernel) and exits (which shrinks it).

use aya_ebpf::{macros::raw_tracepoint, programs::RawTracePointContext};
use cradle_probes_common::{EventKind, TaskExitEvent, TaskNewEvent};

use crate::{
    emit::{current_pid, send},
    globals::track_all,
    kernel::Task,
    maps::TRACKED,
};

/// `task_newtask(struct task_struct *task, u64 clone_flags)`, run by the
/// parent in copy_process before the child can run: a tracked parent's child
/// is tracked before its first instruction.
#[raw_tracepoint(tracepoint = "task_newtask")]
pub fn task_newtask(ctx: RawTracePointContext) -> i32 {
    let parent = current_pid();
    // SAFETY: the value is copied out at once.
    let tracked = unsafe { TRACKED.get(&parent) }.copied();
    if tracked.is_none() && !track_all() {
        return 0;
    }
    let child = Task::from_ptr(ctx.arg::<*const u8>(0));
    let clone_flags: u64 = ctx.arg(1);
    let child_pid = child.pid();
    if let Some(tracked) = tracked {
        // A full map means the child goes unseen; the userspace side
        // compares the map's occupancy with its limit and reports it.
        let _ = TRACKED.insert(&child_pid, &tracked, 0);
    }
    let child_tgid = child.tgid();
    send(EventKind::TaskNew, |header| TaskNewEvent { header, child_pid, child_tgid, clone_flags });
    0
}

/// `sched_process_exit(struct task_struct *p, ...)`, run by the exiting task.
#[raw_tracepoint(tracepoint = "sched_process_exit")]
pub fn sched_process_exit(ctx: RawTracePointContext) -> i32 {
    let pid = current_pid();
    // SAFETY: only tested for presence.
    let tracked = unsafe { TRACKED.get(&pid) }.is_some();
    if !tracked && !track_all() {
        return 0;
    }
    let task = Task::from_ptr(ctx.arg::<*const u8>(0));
    let exit_code = task.exit_code();
    send(EventKind::TaskExit, |header| TaskExitEvent { header, exit_code, _pad: 0 });
    if tracked {
        let _ = TRACKED.remove(&pid);
    }
    0
}
