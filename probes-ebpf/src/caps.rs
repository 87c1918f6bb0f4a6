//! Capability checks of tracked tasks: which capability a container's
//! processes needed, and whether they had it.

use aya_ebpf::{macros::raw_tracepoint, programs::RawTracePointContext};
use cradle_probes_common::{CapCapableEvent, EventKind};

use crate::emit::{current_is_tracked, send};

/// `cap_capable(const struct cred *cred, struct user_namespace *target_ns,
/// const struct user_namespace *capable_ns, int cap, int ret)`.
#[raw_tracepoint(tracepoint = "cap_capable")]
pub fn cap_capable(ctx: RawTracePointContext) -> i32 {
    if !current_is_tracked() {
        return 0;
    }
    let cap = ctx.arg::<u64>(3) as i32;
    let ret = ctx.arg::<u64>(4) as i32;
    send(EventKind::CapCapable, |header| CapCapableEvent { header, cap, ret });
    0
}
