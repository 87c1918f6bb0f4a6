//! Capability checks of tracked tasks: which capability a container's
//! processes needed, and whether they had it. The `capability:cap_capable`
//! tracepoint exists from Linux 6.14 on; older kernels are hooked on the
//! `cap_capable` function itself (fexit, else a kprobe and a kretprobe).
//! Userspace attaches one path only, so each check is recorded once, in
//! the same record whichever path saw it.

use aya_ebpf::{
    macros::{fexit, kprobe, kretprobe, map, raw_tracepoint},
    maps::LruHashMap,
    programs::{FExitContext, ProbeContext, RawTracePointContext, RetProbeContext},
};
use cradle_probes_common::{CapCapableEvent, EventKind, TRACKED_MAX};

use crate::{
    cast::low_i32,
    emit::{current_is_tracked, current_pid, send},
    globals::floor,
};

/// The capability a thread's `cap_capable` call checks, from the kprobe to
/// the kretprobe, by kernel pid.
#[map]
static CAP_PENDING: LruHashMap<u32, i32> = LruHashMap::with_max_entries(TRACKED_MAX, 0);

#[inline(always)]
fn checked(cap: i32, ret: i32) {
    send(EventKind::CapCapable, |header| CapCapableEvent { header, cap, ret });
}

/// `cap_capable(const struct cred *cred, struct user_namespace *target_ns,
/// const struct user_namespace *capable_ns, int cap, int ret)`.
#[raw_tracepoint(tracepoint = "cap_capable")]
pub fn cap_capable(ctx: RawTracePointContext) -> i32 {
    if floor() {
        return 0;
    }
    if current_is_tracked() {
        checked(low_i32(ctx.arg::<u64>(3)), low_i32(ctx.arg::<u64>(4)));
    }
    0
}

/// `int cap_capable(const struct cred *cred, struct user_namespace
/// *target_ns, int cap, unsigned int opts)`.
#[fexit(function = "cap_capable")]
pub fn cap_capable_fexit(ctx: FExitContext) -> i32 {
    if floor() {
        return 0;
    }
    if current_is_tracked() {
        let cap = low_i32(ctx.arg::<u64>(2));
        checked(cap, low_i32(ctx.ret::<u64>().unwrap_or(0)));
    }
    0
}

#[kprobe]
pub fn cap_capable_kprobe(ctx: ProbeContext) -> u32 {
    if floor() {
        return 0;
    }
    if current_is_tracked() {
        let cap = low_i32(ctx.arg::<u64>(2).unwrap_or(0));
        let _ = CAP_PENDING.insert(current_pid(), cap, 0);
    }
    0
}

#[kretprobe]
pub fn cap_capable_kretprobe(ctx: RetProbeContext) -> u32 {
    if floor() {
        return 0;
    }
    let pid = current_pid();
    // SAFETY: copied out at once, then removed by this same thread.
    let Some(cap) = (unsafe { CAP_PENDING.get(pid) }).copied() else {
        return 0;
    };
    let _ = CAP_PENDING.remove(pid);
    checked(cap, low_i32(ctx.ret::<u64>()));
    0
}
