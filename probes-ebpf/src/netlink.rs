//! Link creation requests (`ip link add ... type veth`): a tracked task's
//! sendmsg/sendto whose payload starts with an `RTM_NEWLINK` netlink header
//! is recorded at exit with the first bytes of the message and the result.
//! The entry looks at the message header only, so other traffic costs a
//! few reads; userspace parses the attributes.

use aya_ebpf::{helpers::bpf_probe_read_user, macros::tracepoint, programs::TracePointContext};
use cradle_probes_common::{CALL_ARGS, EventKind, NETLINK_MSG_MAX, NetlinkEvent};

use crate::{
    calls::{syscall_ret, take},
    emit::{count_lost, current_is_tracked, current_pid, header},
    kernel::Task,
    maps::{EVENTS, PENDING, PendingCall},
    syscall::{copy_user_bytes, syscall_arg},
};

/// `RTM_NEWLINK` (linux/rtnetlink.h).
const RTM_NEWLINK: u16 = 16;
/// `sizeof(struct nlmsghdr) + sizeof(struct ifinfomsg)`: no request is shorter.
const NEWLINK_MIN: u32 = 32;
/// Offsets in `struct msghdr` and `struct iovec` (x86_64 and arm64 UAPI).
const MSGHDR_IOV: usize = 16;
const IOV_LEN: usize = 8;
const _: () = assert!(NETLINK_MSG_MAX.is_power_of_two());

/// Stashes a send whose buffer starts with a new-link request.
#[inline(always)]
fn stash_if_newlink(buf: *const u8, len: u64) {
    // SAFETY: user-memory reads through the helper, which may fail.
    let (Ok(nlmsg_len), Ok(nlmsg_type)) =
        (unsafe { bpf_probe_read_user(buf.cast::<u32>()) }, unsafe {
            bpf_probe_read_user(buf.wrapping_add(4).cast::<u16>())
        })
    else {
        return;
    };
    if nlmsg_type != RTM_NEWLINK || nlmsg_len < NEWLINK_MIN || len < NEWLINK_MIN as u64 {
        return;
    }
    let mut args = [0; CALL_ARGS];
    args[0] = buf as u64;
    args[1] = len;
    let call = PendingCall { kind: EventKind::NetlinkNewLink as u32, _pad: 0, args };
    let _ = PENDING.insert(&current_pid(), &call, 0);
}

/// `sendto(fd, buf, len, flags, addr, addrlen)`.
#[tracepoint]
pub fn sys_enter_sendto(ctx: TracePointContext) -> u32 {
    if !current_is_tracked() {
        return 0;
    }
    // SAFETY: pointer- and size-sized arguments of the sys_enter record.
    let (buf, len) = unsafe {
        (
            ctx.read_at::<u64>(syscall_arg(1)).unwrap_or(0),
            ctx.read_at::<u64>(syscall_arg(2)).unwrap_or(0),
        )
    };
    stash_if_newlink(buf as *const u8, len);
    0
}

/// `sendmsg(fd, msg, flags)`: the request is in the first iovec.
#[tracepoint]
pub fn sys_enter_sendmsg(ctx: TracePointContext) -> u32 {
    if !current_is_tracked() {
        return 0;
    }
    // SAFETY: a pointer-sized argument of the sys_enter record.
    let msg = unsafe { ctx.read_at::<u64>(syscall_arg(1)) }.unwrap_or(0) as *const u8;
    // SAFETY: user-memory reads through the helper, which may fail.
    let Ok(iov) = (unsafe { bpf_probe_read_user(msg.wrapping_add(MSGHDR_IOV).cast::<u64>()) })
    else {
        return 0;
    };
    let iov = iov as *const u8;
    // SAFETY: as above.
    let (Ok(base), Ok(len)) = (unsafe { bpf_probe_read_user(iov.cast::<u64>()) }, unsafe {
        bpf_probe_read_user(iov.wrapping_add(IOV_LEN).cast::<u64>())
    }) else {
        return 0;
    };
    stash_if_newlink(base as *const u8, len);
    0
}

#[tracepoint]
pub fn sys_exit_sendto(ctx: TracePointContext) -> u32 {
    sent(&ctx);
    0
}

#[tracepoint]
pub fn sys_exit_sendmsg(ctx: TracePointContext) -> u32 {
    sent(&ctx);
    0
}

fn sent(ctx: &TracePointContext) {
    let Some(call) = take(EventKind::NetlinkNewLink) else {
        return;
    };
    let header = header(EventKind::NetlinkNewLink, core::mem::size_of::<NetlinkEvent>());
    let ret = syscall_ret(ctx);
    let net_ns = Task::current().net_ns();
    let Some(mut entry) = EVENTS.reserve::<NetlinkEvent>(0) else {
        count_lost(EventKind::NetlinkNewLink);
        return;
    };
    let len = call.args[1];
    let truncated = len > NETLINK_MSG_MAX as u64;
    // 64-bit and masked, so the verifier sees 1..=NETLINK_MSG_MAX.
    let copy = if truncated { NETLINK_MSG_MAX as u64 } else { len };
    let copy = ((copy - 1) & (NETLINK_MSG_MAX as u64 - 1)) + 1;
    let event = entry.as_mut_ptr();
    // SAFETY: `event` is the reservation, large enough for a NetlinkEvent;
    // the copy stays inside its `message` array (at most NETLINK_MSG_MAX).
    let used = unsafe {
        (*event).header = header;
        (*event).ret = ret;
        (*event).net_ns = net_ns;
        (*event).truncated = truncated as u32;
        (*event)._pad = 0;
        let dst = (*event).message.as_mut_ptr();
        if copy_user_bytes(dst, copy as u32, call.args[0] as *const u8) { copy as u32 } else { 0 }
    };
    // SAFETY: as above.
    unsafe { (*event).len = used };
    entry.submit(0);
}
