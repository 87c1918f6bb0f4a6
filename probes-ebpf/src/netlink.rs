//! Link creation requests (`ip link add ... type veth`): a tracked task's
//! sendmsg/sendto whose payload starts with an `RTM_NEWLINK` netlink header
//! is recorded at exit with the first bytes of the message and the result.
//! The entry looks at the message header only, so other traffic costs a
//! few reads; userspace parses the attributes. A request the socket took
//! is then awaited for the kernel's answer (see `netlink_answer`).

use aya_ebpf::{helpers::bpf_probe_read_user, programs::TracePointContext};
use cradle_probes_common::{CALL_ARGS, EventKind, NETLINK_MSG_MAX, NetlinkEvent};

use crate::{
    calls::{syscall_ret, take},
    emit::{count_lost, current_pid, header},
    kernel::Task,
    maps::{EVENTS, PENDING, PendingCall},
    netlink_answer::await_answer,
    syscall::{copy_user_bytes, syscall_arg},
};

/// `RTM_NEWLINK` (linux/rtnetlink.h).
pub const RTM_NEWLINK: u16 = 16;
/// Offset of `nlmsg_seq` in `struct nlmsghdr`.
const NLMSG_SEQ: usize = 8;
/// `sizeof(struct nlmsghdr) + sizeof(struct ifinfomsg)`: no request is shorter.
const NEWLINK_MIN: u32 = 32;
/// Offsets in `struct msghdr` and `struct iovec` (x86_64 and arm64 UAPI).
const MSGHDR_IOV: usize = 16;
const IOV_LEN: usize = 8;
const _: () = assert!(NETLINK_MSG_MAX.is_power_of_two());

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

/// The four programs of one direction of socket traffic: the buffer call
/// (`sendto`/`recvfrom(fd, buf, len, flags, ...)`) and the message call
/// (`sendmsg`/`recvmsg(fd, msg, flags)`, data in the first iovec). A tracked
/// task's entry goes to `$enter(fd, buf, len, flags)`; both exits to
/// `$exit(&ctx)`.
macro_rules! socket_call_probes {
    (
        $buf_enter:ident, $buf_exit:ident, $msg_enter:ident, $msg_exit:ident,
        |$fd:ident, $buf:ident, $len:ident, $flags:ident| $enter:expr,
        $exit:ident
    ) => {
        #[aya_ebpf::macros::tracepoint]
        pub fn $buf_enter(ctx: aya_ebpf::programs::TracePointContext) -> u32 {
            if $crate::emit::current_is_tracked() {
                let [$fd, $buf, $len, $flags] = $crate::netlink::enter_args(&ctx);
                $enter;
            }
            0
        }

        #[aya_ebpf::macros::tracepoint]
        pub fn $msg_enter(ctx: aya_ebpf::programs::TracePointContext) -> u32 {
            if $crate::emit::current_is_tracked() {
                let [$fd, msg, $flags] = $crate::netlink::enter_args(&ctx);
                if let Some(($buf, $len)) = $crate::netlink::first_iovec(msg as *const u8) {
                    $enter;
                }
            }
            0
        }

        #[aya_ebpf::macros::tracepoint]
        pub fn $buf_exit(ctx: aya_ebpf::programs::TracePointContext) -> u32 {
            $exit(&ctx);
            0
        }

        #[aya_ebpf::macros::tracepoint]
        pub fn $msg_exit(ctx: aya_ebpf::programs::TracePointContext) -> u32 {
            $exit(&ctx);
            0
        }
    };
}
pub(crate) use socket_call_probes;

/// The base and length of the first iovec of the `struct msghdr` at `msg`
/// (user memory).
#[inline(always)]
pub fn first_iovec(msg: *const u8) -> Option<(u64, u64)> {
    // SAFETY: user-memory reads through the helper, which may fail.
    let iov = unsafe { bpf_probe_read_user(msg.wrapping_add(MSGHDR_IOV).cast::<u64>()) }.ok()?
        as *const u8;
    // SAFETY: as above.
    let (Ok(base), Ok(len)) = (unsafe { bpf_probe_read_user(iov.cast::<u64>()) }, unsafe {
        bpf_probe_read_user(iov.wrapping_add(IOV_LEN).cast::<u64>())
    }) else {
        return None;
    };
    Some((base, len))
}

/// Stashes a send on socket `fd` whose buffer starts with a new-link request.
#[inline(always)]
fn stash_if_newlink(fd: u64, buf: *const u8, len: u64) {
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
    // SAFETY: as above.
    let seq =
        unsafe { bpf_probe_read_user(buf.wrapping_add(NLMSG_SEQ).cast::<u32>()) }.unwrap_or(0);
    let mut args = [0; CALL_ARGS];
    args[0] = buf as u64;
    args[1] = len;
    args[2] = fd;
    args[3] = seq as u64;
    let call = PendingCall { kind: EventKind::NetlinkNewLink as u32, _pad: 0, args };
    let _ = PENDING.insert(&current_pid(), &call, 0);
}

socket_call_probes! {
    sys_enter_sendto, sys_exit_sendto, sys_enter_sendmsg, sys_exit_sendmsg,
    |fd, buf, len, _flags| stash_if_newlink(fd, buf as *const u8, len),
    sent
}

fn sent(ctx: &TracePointContext) {
    let Some(call) = take(EventKind::NetlinkNewLink) else {
        return;
    };
    let header = header(EventKind::NetlinkNewLink, core::mem::size_of::<NetlinkEvent>());
    let ret = syscall_ret(ctx);
    if ret >= 0 {
        await_answer(call.args[2], call.args[3] as u32);
    }
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
