//! The kernel's answers to link requests. Once a tracked process's socket
//! took an `RTM_NEWLINK` request (see `netlink`), its receives on that
//! socket are watched until one brings the `NLMSG_ERROR` message with the
//! request's sequence number: its error (0 for an acknowledgement) is the
//! request's real result, which the send's byte count is not. Userspace
//! joins the answer to the request.

use aya_ebpf::{
    helpers::{bpf_get_current_pid_tgid, bpf_probe_read_user},
    macros::map,
    maps::LruHashMap,
    programs::RawTracePointContext,
};
use cradle_probes_common::{CALL_ARGS, EventKind, NetlinkAnswerEvent, TRACKED_MAX};

use crate::{
    calls::take,
    cast::{low_u32, size_u32},
    emit::{current_pid, send},
    maps::{PENDING, PendingCall},
    netlink::{RTM_NEWLINK, RTM_SETLINK, socket_call_probes},
    syscall::syscall_ret,
};

/// `NLMSG_ERROR` (linux/netlink.h): an error or an acknowledgement.
const NLMSG_ERROR: u16 = 2;
/// `MSG_PEEK`: a peek leaves the message for the next receive.
const MSG_PEEK: u64 = 2;

/// The start of an `NLMSG_ERROR` message: its `nlmsghdr`, then `struct
/// nlmsgerr`, whose `msg` is the header of the request it answers.
#[repr(C)]
#[derive(Clone, Copy)]
struct Answer {
    len: u32,
    kind: u16,
    flags: u16,
    seq: u32,
    port: u32,
    error: i32,
    request_len: u32,
    request_kind: u16,
    request_flags: u16,
}

/// The request a process awaits an answer to.
#[repr(C)]
#[derive(Clone, Copy)]
struct Awaited {
    /// The socket the request went out on.
    fd: u32,
    seq: u32,
}

/// By tgid: any thread of the process may read the answer. One request at
/// a time, as netlink clients wait for each answer; LRU, so answers that
/// never come (no NLM_F_ACK, process killed) cannot fill the map.
#[map]
static AWAITED: LruHashMap<u32, Awaited> = LruHashMap::with_max_entries(TRACKED_MAX, 0);

#[inline(always)]
fn current_tgid() -> u32 {
    (bpf_get_current_pid_tgid() >> 32) as u32
}

/// The running process's socket `fd` took request `seq`: watch for the answer.
#[inline(always)]
pub fn await_answer(fd: u64, seq: u32) {
    let _ = AWAITED.insert(current_tgid(), Awaited { fd: low_u32(fd), seq }, 0);
}

/// Stashes a receive of `len` bytes into `buf` on socket `fd` when the
/// process awaits an answer there.
#[inline(always)]
fn stash_if_awaited(fd: u64, buf: u64, len: u64, flags: u64) {
    if flags & MSG_PEEK != 0 || len < core::mem::size_of::<Answer>() as u64 {
        return;
    }
    // SAFETY: the value is copied out at once.
    let Some(awaited) = (unsafe { AWAITED.get(current_tgid()) }).copied() else {
        return;
    };
    if awaited.fd != low_u32(fd) {
        return;
    }
    let mut args = [0; CALL_ARGS];
    args[0] = buf;
    args[1] = awaited.seq as u64;
    let call = PendingCall { kind: EventKind::NetlinkAnswer as u32, _pad: 0, args };
    let _ = PENDING.insert(current_pid(), call, 0);
}

socket_call_probes! {
    sys_enter_recvfrom, sys_enter_recvmsg, sys_exit_recv,
    |fd, buf, len, flags| stash_if_awaited(fd, buf, len, flags),
    received
}

/// Sends the answer if the receive brought it; otherwise keeps waiting.
fn received(ctx: &RawTracePointContext) {
    let Some(call) = take(EventKind::NetlinkAnswer) else {
        return;
    };
    if syscall_ret(ctx) < i64::from(const { size_u32(core::mem::size_of::<Answer>()) }) {
        return;
    }
    // SAFETY: a user-memory read through the helper, which may fail; the
    // kernel has just written these bytes.
    let Ok(answer) = (unsafe { bpf_probe_read_user(call.args[0] as *const Answer) }) else {
        return;
    };
    let seq = low_u32(call.args[1]);
    let link_request = answer.request_kind == RTM_NEWLINK || answer.request_kind == RTM_SETLINK;
    if answer.kind != NLMSG_ERROR || !link_request || answer.seq != seq {
        return;
    }
    let _ = AWAITED.remove(current_tgid());
    send(EventKind::NetlinkAnswer, |header| NetlinkAnswerEvent {
        header,
        error: answer.error,
        seq,
    });
}
