//! Link creation requests (`ip link add ... type veth`): a tracked task's
//! sendmsg/sendto whose payload starts with an `RTM_NEWLINK` netlink header
//! (or an `RTM_SETLINK` that moves a link to a namespace descriptor) is
//! recorded at exit with the first bytes of the message and the result.
//! The entry looks at the message header, so other traffic costs a few
//! reads; of a request, it also resolves the namespace descriptors it names
//! (see `netns_fds`). Userspace parses the attributes. A request the socket took
//! is then awaited for the kernel's answer (see `netlink_answer`).

use aya_ebpf::{
    helpers::{bpf_probe_read_user, generated::bpf_probe_read_user as read_user_raw},
    programs::RawTracePointContext,
};
use cradle_probes_common::{
    CALL_ARGS, EventKind, NETLINK_MSG_MAX, NETLINK_NETNS_FDS, NetlinkEvent,
};

use crate::{
    calls::take,
    cast::low_u32,
    emit::{count_lost, current_pid, header},
    globals::layout,
    kernel::{Task, read},
    maps::{EVENTS, PENDING, PendingCall},
    netlink_answer::await_answer,
    syscall::{copy_user_bytes, syscall_ret},
};

/// `RTM_NEWLINK` (linux/rtnetlink.h).
pub const RTM_NEWLINK: u16 = 16;
/// `RTM_SETLINK`: recorded only when it moves a link to another network
/// namespace (dockerd moves a veth end made in the host's into a
/// container's this way).
pub const RTM_SETLINK: u16 = 19;
/// Offset of `nlmsg_seq` in `struct nlmsghdr`.
const NLMSG_SEQ: usize = 8;
/// `sizeof(struct nlmsghdr) + sizeof(struct ifinfomsg)`: no request is shorter.
const NEWLINK_MIN: u32 = 32;
/// Offsets in `struct msghdr` and `struct iovec` (x86_64 and arm64 UAPI).
const MSGHDR_IOV: usize = 16;
const IOV_LEN: usize = 8;
const _: () = assert!(NETLINK_MSG_MAX.is_power_of_two());

/// The programs of one direction of socket traffic: the entries of the
/// buffer call (`sendto`/`recvfrom(fd, buf, len, flags, ...)`) and the
/// message call (`sendmsg`/`recvmsg(fd, msg, flags)`, data in the first
/// iovec), and one exit program for both calls. A followed task's entry goes
/// to `$enter(fd, buf, len, flags)`; the exit to `$exit(&ctx)`.
macro_rules! socket_call_probes {
    (
        $buf_enter:ident, $msg_enter:ident, $exit_program:ident,
        |$fd:ident, $buf:ident, $len:ident, $flags:ident| $enter:expr,
        $exit:ident
    ) => {
        #[aya_ebpf::macros::raw_tracepoint]
        pub fn $buf_enter(ctx: aya_ebpf::programs::RawTracePointContext) -> i32 {
            if $crate::netlink::follows_links() {
                let [$fd, $buf, $len, $flags] = $crate::syscall::enter_args(&ctx);
                $enter;
            }
            0
        }

        #[aya_ebpf::macros::raw_tracepoint]
        pub fn $msg_enter(ctx: aya_ebpf::programs::RawTracePointContext) -> i32 {
            if $crate::netlink::follows_links() {
                let [$fd, msg, $flags] = $crate::syscall::enter_args(&ctx);
                if let Some(($buf, $len)) = $crate::netlink::first_iovec(msg as *const u8) {
                    $enter;
                }
            }
            0
        }

        #[aya_ebpf::macros::raw_tracepoint]
        pub fn $exit_program(ctx: aya_ebpf::programs::RawTracePointContext) -> i32 {
            $exit(&ctx);
            0
        }
    };
}
pub(crate) use socket_call_probes;

/// Whether the running task's link requests are recorded: a tracked
/// task's, and a link daemon's in watch mode (dockerd makes a container's
/// veth; it is not tracked, and tracking it would make all it does the
/// container's).
#[inline(always)]
pub fn follows_links() -> bool {
    crate::emit::current_is_tracked() || crate::globals::current_is_link_daemon()
}

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
    let link_request = nlmsg_type == RTM_NEWLINK || nlmsg_type == RTM_SETLINK;
    if !link_request || nlmsg_len < NEWLINK_MIN || len < NEWLINK_MIN as u64 {
        return;
    }
    // SAFETY: as above.
    let seq =
        unsafe { bpf_probe_read_user(buf.wrapping_add(NLMSG_SEQ).cast::<u32>()) }.unwrap_or(0);
    let [fds, inums] = netns_fds(buf);
    if nlmsg_type == RTM_SETLINK && fds == 0 {
        return;
    }
    let mut args = [0; CALL_ARGS];
    args[0] = buf as u64;
    args[1] = len;
    args[2] = fd;
    args[3] = seq as u64;
    args[NETNS_FDS_ARG] = fds;
    args[NETNS_INUMS_ARG] = inums;
    let call = PendingCall { kind: EventKind::NetlinkNewLink as u32, _pad: 0, args };
    let _ = PENDING.insert(current_pid(), call, 0);
}

socket_call_probes! {
    sys_enter_sendto, sys_enter_sendmsg, sys_exit_send,
    |fd, buf, len, _flags| stash_if_newlink(fd, buf as *const u8, len),
    sent
}

fn sent(ctx: &RawTracePointContext) {
    let Some(call) = take(EventKind::NetlinkNewLink) else {
        return;
    };
    let header = header(EventKind::NetlinkNewLink, core::mem::size_of::<NetlinkEvent>());
    let ret = syscall_ret(ctx);
    if ret >= 0 {
        await_answer(call.args[2], low_u32(call.args[3]));
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
        // 1..=NETLINK_MSG_MAX, as masked above.
        let copy = low_u32(copy);
        if copy_user_bytes(dst, copy, call.args[0] as *const u8) { copy } else { 0 }
    };
    // SAFETY: as above; both arrays hold NETLINK_NETNS_FDS u32s.
    unsafe {
        (*event).len = used;
        (*event).netns_fds = unpack(call.args[NETNS_FDS_ARG]);
        (*event).netns_fd_inums = unpack(call.args[NETNS_INUMS_ARG]);
    }
    entry.submit(0);
}

/// Where the stashed call keeps the request's namespace descriptors and
/// their inode numbers, two u32s to an argument.
const NETNS_FDS_ARG: usize = 4;
const NETNS_INUMS_ARG: usize = 5;
const _: () = assert!(NETLINK_NETNS_FDS == 2 && NETNS_INUMS_ARG < CALL_ARGS);

#[inline(always)]
fn unpack(pair: u64) -> [u32; NETLINK_NETNS_FDS] {
    [low_u32(pair), (pair >> 32) as u32]
}

#[inline(always)]
fn pack(pair: [u32; NETLINK_NETNS_FDS]) -> u64 {
    u64::from(pair[0]) | u64::from(pair[1]) << 32
}

/// `IFLA_NET_NS_FD` (linux/if_link.h): move the link to the network
/// namespace of this file descriptor.
const IFLA_NET_NS_FD: u16 = 28;
/// Attribute types carry NLA_F_NESTED and NLA_F_NET_BYTEORDER in the top
/// bits. Both masks cover an attribute's `len` and `type` read as one u32.
const NLA_TYPE_MASK: u16 = 0x3fff;
const NLA_HEADER_MASK: u32 = (NLA_TYPE_MASK as u32) << 16 | 0xffff;
/// The header of an `IFLA_NET_NS_FD` attribute: 8 bytes long, a u32 value.
const NETNS_FD_HEADER: u32 = (IFLA_NET_NS_FD as u32) << 16 | 8;

/// Finds the `IFLA_NET_NS_FD` attributes of the request at `request` and
/// resolves each fd to the inode number of its file, at the
/// call's entry, while the sender holds them: the descriptors and the inode
/// numbers, packed. The scan looks at every 4-byte boundary after the fixed
/// headers, so it needs no nesting; a payload that merely looks like such
/// an attribute resolves a descriptor nobody asks about, which userspace
/// ignores.
///
/// Done at entry, not in the exit program that sends the record: there,
/// the record's reads before the scan left Linux 6.1's verifier with
/// hundreds of states that reach the loop, each walked through it, past
/// its limit of 1,000,000 instructions.
#[inline(always)]
fn netns_fds(request: *const u8) -> [u64; 2] {
    // The scan only collects the descriptors; they are resolved after it,
    // so the verifier walks the long loop without the descriptor-table
    // reads in its body. Each step is one 8-byte read and one comparison;
    // it reads on past a shorter request rather than test where it ends:
    // each branch in the body multiplies the states (and, on Linux 6.1,
    // the pending branches) the verifier keeps per step. What lies past
    // the request, or a failed read (zeros), resolves nothing userspace
    // asks about.
    let mut fds = [0u32; NETLINK_NETNS_FDS];
    let mut found = 0;
    let mut step = 0;
    while step < NETLINK_MSG_MAX / 4 && found < NETLINK_NETNS_FDS {
        let at = NEWLINK_MIN as usize + 4 * step;
        step += 1;
        // `[len: u16, type: u16, fd: u32]`, little-endian.
        let mut attribute: u64 = 0;
        // SAFETY: an 8-byte user-memory read into a local through the
        // helper, which zeroes it on failure.
        unsafe {
            read_user_raw((&raw mut attribute).cast(), 8, request.wrapping_add(at).cast());
        }
        if low_u32(attribute) & NLA_HEADER_MASK == NETNS_FD_HEADER {
            fds[found & (NETLINK_NETNS_FDS - 1)] = (attribute >> 32) as u32;
            found += 1;
        }
    }
    let mut inums = [0u32; NETLINK_NETNS_FDS];
    let mut slot = 0;
    while slot < NETLINK_NETNS_FDS {
        if slot < found {
            inums[slot] = fd_inode_number(fds[slot]);
        } else {
            fds[slot] = 0;
        }
        slot += 1;
    }
    [pack(fds), pack(inums)]
}

/// The inode number of the file the running task holds as `fd` (for a
/// namespace file, the namespace's inode number); 0 if it cannot be read.
#[inline(always)]
fn fd_inode_number(fd: u32) -> u32 {
    // A namespace's inode number is the kernel's 32-bit inum.
    low_u32(read::<u64>(Task::current().fd_inode(fd), layout().inode_i_ino).unwrap_or(0))
}
