//! cgroup creation and migration by tracked tasks, from the cgroup
//! tracepoints (raw, so that the path comes as the kernel string it is).

use aya_ebpf::{
    helpers::generated::bpf_probe_read_kernel_str, macros::raw_tracepoint,
    programs::RawTracePointContext,
};
use cradle_probes_common::{CgroupEvent, EventKind, KERNEL_PATH_MAX};

use crate::{
    cast::{low_u32, size_u32},
    emit::{count_lost, current_is_tracked, header},
    globals::{floor, layout},
    kernel::{Task, read},
    maps::{EVENTS, TRACKED},
};

/// The cgroup's id (`cgrp->kn->id`) and hierarchy (`cgrp->root->hierarchy_id`).
#[inline(always)]
fn identify(cgroup: *const u8) -> (u64, u32) {
    let l = layout();
    let kn = read::<*const u8>(cgroup, l.cgroup_kn).unwrap_or(core::ptr::null());
    let root = read::<*const u8>(cgroup, l.cgroup_root).unwrap_or(core::ptr::null());
    (
        read::<u64>(kn, l.kernfs_node_id).unwrap_or(0),
        read::<u32>(root, l.cgroup_root_hierarchy_id).unwrap_or(0),
    )
}

#[inline(always)]
fn send_cgroup(kind: EventKind, cgroup: *const u8, path: *const u8, target: u32, group: u32) {
    let (cgroup_id, hierarchy) = identify(cgroup);
    let header = header(kind, core::mem::size_of::<CgroupEvent>());
    let Some(mut entry) = EVENTS.reserve::<CgroupEvent>(0) else {
        count_lost(kind);
        return;
    };
    let event = entry.as_mut_ptr();
    // SAFETY: `event` is the reservation, large enough for the record; the
    // string copy is bounded by the `path` array's size.
    unsafe {
        (*event).header = header;
        (*event).cgroup_id = cgroup_id;
        (*event).hierarchy = hierarchy;
        (*event).target_pid = target;
        (*event).threadgroup = group;
        let copied = if path.is_null() {
            0
        } else {
            bpf_probe_read_kernel_str(
                (*event).path.as_mut_ptr().cast(),
                const { size_u32(KERNEL_PATH_MAX) },
                path.cast(),
            )
        };
        // 1..=KERNEL_PATH_MAX when positive.
        (*event).path_len = if copied > 0 { low_u32(copied.cast_unsigned()) } else { 0 };
    }
    entry.submit(0);
}

/// `cgroup_mkdir(struct cgroup *cgrp, const char *path)`.
#[raw_tracepoint(tracepoint = "cgroup_mkdir")]
pub fn cgroup_mkdir(ctx: RawTracePointContext) -> i32 {
    if floor() {
        return 0;
    }
    if !current_is_tracked() {
        return 0;
    }
    send_cgroup(EventKind::CgroupMkdir, ctx.arg(0), ctx.arg(1), 0, 0);
    0
}

/// `cgroup_attach_task(struct cgroup *dst, const char *path,
/// struct task_struct *task, bool threadgroup)`: reported when either the
/// writer or the task moved is tracked (a runtime moves its own child).
#[raw_tracepoint(tracepoint = "cgroup_attach_task")]
pub fn cgroup_attach_task(ctx: RawTracePointContext) -> i32 {
    if floor() {
        return 0;
    }
    let task = Task::from_ptr(ctx.arg(2));
    if !current_is_tracked() {
        // SAFETY: only tested for presence.
        if unsafe { TRACKED.get(task.pid()) }.is_none() {
            return 0;
        }
    }
    let threadgroup = (ctx.arg::<u64>(3) & 0xff != 0) as u32;
    send_cgroup(EventKind::CgroupAttach, ctx.arg(0), ctx.arg(1), task.pid(), threadgroup);
    0
}
