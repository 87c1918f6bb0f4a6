//! The kernel-function hooks, where a kernel allows them (kprobes or
//! fentry; the tracepoint path stands in where it does not):
//!
//! - `create_new_namespaces` returns the nsproxy a clone, unshare or setns
//!   just made. Its namespaces are stashed per thread, and the namespace
//!   record, sent where the tracepoint path sends it (task_newtask for a
//!   clone, the exit of unshare), takes them from the stash: one record of
//!   one shape and in one place whichever path read it, and a clone's
//!   record names the child, whose pid does not exist yet when the nsproxy
//!   is made.
//! - `veth_newlink` made a veth pair: both ends' names, indexes and network
//!   namespaces, whoever asked for it (dockerd, netavark, `ip`).

use aya_ebpf::{
    macros::{fexit, kprobe, kretprobe},
    programs::{FExitContext, ProbeContext, RetProbeContext},
};
use cradle_probes_common::{
    EventKind, HOOK_NAMESPACES, HOOK_VETH, IFNAMSIZ, NS_HOOK_CREATE_NEW_NAMESPACES,
    NS_HOOK_TRACEPOINT, NamespaceSet, VethEnd, VethEvent,
};

use crate::{
    cast::low_i32,
    emit::{current_is_tracked, current_pid, send},
    globals::{floor, layout, track_all, watch_runtimes},
    kernel::{Task, net_inum, nsproxy_namespaces, read, read_ptr},
    maps::{HOOKS, NS_CREATED, VETH_PENDING},
};

/// Whether userspace attached the hook of `slot` (`HOOK_*`).
#[inline(always)]
fn hooked(slot: u32) -> bool {
    HOOKS.get(slot).is_some_and(|on| *on != 0)
}

/// Largest value of a kernel `ERR_PTR`: the last page of the address space.
const MAX_ERRNO: u64 = 4095;

/// Stashes the namespaces of the nsproxy `create_new_namespaces` returned.
#[inline(always)]
fn stash_created(nsproxy: u64) {
    if nsproxy == 0 || nsproxy >= MAX_ERRNO.wrapping_neg() || !current_is_tracked() {
        return;
    }
    let created = nsproxy_namespaces(nsproxy as *const u8);
    let _ = NS_CREATED.insert(current_pid(), created, 0);
}

/// `struct nsproxy *create_new_namespaces(u64 flags, struct task_struct
/// *tsk, struct user_namespace *user_ns, struct fs_struct *new_fs)`.
#[fexit(function = "create_new_namespaces")]
pub fn create_new_namespaces_fexit(ctx: FExitContext) -> i32 {
    if floor() {
        return 0;
    }
    stash_created(ctx.ret::<u64>().unwrap_or(0));
    0
}

#[kretprobe]
pub fn create_new_namespaces_kretprobe(ctx: RetProbeContext) -> u32 {
    if floor() {
        return 0;
    }
    stash_created(ctx.ret::<u64>());
    0
}

/// The namespaces a namespace record of `task` carries, and the `NS_HOOK_*`
/// that read them: those the hook stashed for the running thread, when it
/// is attached and saw the call, else the task's as they are now.
#[inline(always)]
pub fn created_namespaces(task: Task) -> (NamespaceSet, u32) {
    if hooked(HOOK_NAMESPACES) {
        let pid = current_pid();
        // SAFETY: copied out at once, then removed by this same thread.
        if let Some(created) = unsafe { NS_CREATED.get(pid) }.copied() {
            let _ = NS_CREATED.remove(pid);
            return (task.with_own(created), NS_HOOK_CREATE_NEW_NAMESPACES);
        }
    }
    (task.namespaces(), NS_HOOK_TRACEPOINT)
}

/// Whether a veth made by the running task is reported: a tracked task's,
/// and anyone's when every runtime's containers are watched, since the
/// daemon that makes a container's link (dockerd, netavark) is not tracked.
#[inline(always)]
fn veth_wanted() -> bool {
    current_is_tracked() || watch_runtimes() || track_all()
}

/// `int veth_newlink(struct net *src_net, struct net_device *dev, ...)`
/// (the device is argument 0 from Linux 6.15 on: the layout says which).
#[kprobe]
pub fn veth_newlink_kprobe(ctx: ProbeContext) -> u32 {
    if floor() {
        return 0;
    }
    if !veth_wanted() || !hooked(HOOK_VETH) {
        return 0;
    }
    // Both registers are read at fixed offsets, then one is chosen: the
    // verifier refuses a context read at a computed offset.
    let first: u64 = ctx.arg(0).unwrap_or(0);
    let second: u64 = ctx.arg(1).unwrap_or(0);
    let dev = match core::hint::black_box(layout().veth_newlink_dev_arg) {
        0 => Some(first),
        1 => Some(second),
        _ => None,
    };
    if let Some(dev) = dev {
        let _ = VETH_PENDING.insert(current_pid(), dev, 0);
    }
    0
}

#[kretprobe]
pub fn veth_newlink_kretprobe(ctx: RetProbeContext) -> u32 {
    if floor() {
        return 0;
    }
    let pid = current_pid();
    // SAFETY: copied out at once, then removed by this same thread.
    let Some(dev) = (unsafe { VETH_PENDING.get(pid) }).copied() else {
        return 0;
    };
    let _ = VETH_PENDING.remove(pid);
    let ret = low_i32(ctx.ret::<u64>());
    let dev = dev as *const u8;
    let l = layout();
    // netdev_priv(dev) is a struct veth_priv, whose peer is the other end.
    let peer = read_ptr(dev, l.net_device_priv.wrapping_add(l.veth_priv_peer));
    let link = veth_end(dev);
    let peer = veth_end(peer);
    send(EventKind::Veth, |header| VethEvent { header, ret, _pad: 0, link, peer });
    0
}

/// What a `struct net_device *` says of itself; zeros where unreadable.
#[inline(always)]
fn veth_end(dev: *const u8) -> VethEnd {
    let l = layout();
    VethEnd {
        name: read::<[u8; IFNAMSIZ]>(dev, l.net_device_name).unwrap_or([0; IFNAMSIZ]),
        ifindex: read::<u32>(dev, l.net_device_ifindex).unwrap_or(0),
        net_ns: net_inum(read_ptr(dev, l.net_device_nd_net)),
    }
}
