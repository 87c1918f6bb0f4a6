//! Each record type of the ABI decoded into a [`Detail`]: one decoder
//! per `#[repr(C)]` record of probes-common, named by the kinds that use
//! it in [`crate::kinds::KINDS`]. Safe on any input: a short or
//! inconsistent record is an error, never a panic or a read past the slice.

use std::mem::size_of;

use bytemuck::Pod;
use cradle_probes_common::{
    CALL_SLOT_MAX, CALL_SLOTS, CallEvent, CapCapableEvent, CgroupEvent, EXEC_ARGV_TRUNCATED,
    EXEC_AT, EXEC_FILENAME_MAX, EXEC_FILENAME_TRUNCATED, EventKind, ExecEvent, ExecResultEvent,
    MKNOD_CALL_MKNODAT, MknodEvent, NS_HOOK_CREATE_NEW_NAMESPACES, NS_SOURCE_TASK_NEWTASK,
    NS_SOURCE_UNSHARE, NamespacesEvent, NetlinkAnswerEvent, NetlinkEvent, OPEN_CALL_OPEN,
    OPEN_CALL_OPENAT, OPEN_CALL_OPENAT2, OpenEvent, ProcessExecEvent, TaskExitEvent, TaskNewEvent,
    VethEnd, VethEvent,
};

use crate::{
    cstr::c_string,
    event::{Detail, Name, NamespaceHook, NamespaceSource, VethEndpoint, c_int, c_uint},
    names::{self, MOUNT_ATTRS, MOUNT_FLAGS, UMOUNT_FLAGS, bit_names},
    netlink,
};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("record of {got} bytes is shorter than the {need} its kind needs")]
    Short { need: usize, got: usize },
    #[error("record header claims {claimed} bytes but {got} arrived")]
    SizeMismatch { claimed: usize, got: usize },
    #[error("unknown event kind {0}")]
    UnknownKind(u16),
    #[error("exec record's {field} length {len} exceeds its area")]
    BadLength { field: &'static str, len: usize },
}

/// The record of type `T` at the start of `bytes`, copied out (ring
/// records need not be aligned for `T`). `T: Pod` is derived in
/// probes-common, where the compiler proved that any byte pattern is a
/// valid `T`.
pub(crate) fn read<T: Pod>(bytes: &[u8]) -> Result<T, DecodeError> {
    let short = || DecodeError::Short { need: size_of::<T>(), got: bytes.len() };
    let prefix = bytes.get(..size_of::<T>()).ok_or_else(short)?;
    bytemuck::try_pod_read_unaligned(prefix).map_err(|_| short())
}

/// What a kind's record says, and whether the kernel cut any of the data it
/// copied into it.
pub struct Decoded {
    pub detail: Detail,
    pub truncated: bool,
}

impl From<Detail> for Decoded {
    /// A record of a kind that never cuts its data.
    fn from(detail: Detail) -> Self {
        Decoded { detail, truncated: false }
    }
}

pub(crate) fn area<'a>(
    bytes: &'a [u8],
    len: u32,
    field: &'static str,
) -> Result<&'a [u8], DecodeError> {
    bytes.get(..len as usize).ok_or(DecodeError::BadLength { field, len: len as usize })
}

/// An [`ExecEvent`]: its fixed part, then the filename area, then the
/// arguments, each NUL-terminated.
pub(crate) fn decode_exec(bytes: &[u8]) -> Result<Detail, DecodeError> {
    let record: ExecEvent = read(bytes)?;
    let filename_area = bytes
        .get(size_of::<ExecEvent>()..size_of::<ExecEvent>() + EXEC_FILENAME_MAX)
        .ok_or(DecodeError::Short {
            need: size_of::<ExecEvent>() + EXEC_FILENAME_MAX,
            got: bytes.len(),
        })?;
    let filename_len = record.filename_len as usize;
    if filename_len > EXEC_FILENAME_MAX {
        return Err(DecodeError::BadLength { field: "filename", len: filename_len });
    }
    let argv_area = &bytes[size_of::<ExecEvent>() + EXEC_FILENAME_MAX..];
    let argv_len = record.argv_len as usize;
    let argv_bytes =
        argv_area.get(..argv_len).ok_or(DecodeError::BadLength { field: "argv", len: argv_len })?;
    let argv = argv_bytes
        .split(|&b| b == 0)
        .take(record.argc as usize)
        .map(|arg| String::from_utf8_lossy(arg).into_owned())
        .collect();
    Ok(Detail::Exec {
        filename: c_string(&filename_area[..filename_len]),
        argv,
        argv_truncated: record.flags & EXEC_ARGV_TRUNCATED != 0,
        filename_truncated: record.flags & EXEC_FILENAME_TRUNCATED != 0,
        at: record.flags & EXEC_AT != 0,
        ret: None,
    })
}

/// An [`ExecResultEvent`]: what execve/execveat returned.
pub(crate) fn decode_exec_result(bytes: &[u8]) -> Result<Detail, DecodeError> {
    Ok(Detail::ExecResult { ret: read::<ExecResultEvent>(bytes)?.ret })
}

/// A [`TaskNewEvent`]: the task a tracked task created, and how.
pub(crate) fn decode_task_new(bytes: &[u8]) -> Result<Detail, DecodeError> {
    let record: TaskNewEvent = read(bytes)?;
    Ok(Detail::TaskNew {
        child_pid: record.child_pid,
        child_tgid: record.child_tgid,
        clone_flags: record.clone_flags,
    })
}

/// A [`TaskExitEvent`]: a tracked task's wait status.
pub(crate) fn decode_task_exit(bytes: &[u8]) -> Result<Detail, DecodeError> {
    Ok(Detail::TaskExit { exit_code: read::<TaskExitEvent>(bytes)?.exit_code })
}

/// A [`ProcessExecEvent`]: the program a task now runs, as the scheduler saw it.
pub(crate) fn decode_process_exec(bytes: &[u8]) -> Result<Detail, DecodeError> {
    let record: ProcessExecEvent = read(bytes)?;
    let filename = area(&record.filename, record.filename_len, "filename")?;
    Ok(Detail::ProcessExec { old_pid: record.old_pid, filename: c_string(filename) })
}

/// A [`NamespacesEvent`]: the namespaces a clone or unshare made, by inode.
pub(crate) fn decode_namespaces(bytes: &[u8]) -> Result<Detail, DecodeError> {
    let record: NamespacesEvent = read(bytes)?;
    Ok(Detail::Namespaces {
        source: match record.source {
            NS_SOURCE_TASK_NEWTASK => NamespaceSource::TaskNewtask,
            NS_SOURCE_UNSHARE => NamespaceSource::Unshare,
            _ => NamespaceSource::Unknown,
        },
        flags: record.flags,
        created: names::namespace_names(record.flags).into_iter().map(Name::from).collect(),
        target_pid: record.target_pid,
        namespaces: record.namespaces,
        ret: record.ret,
        hook: match record.hook {
            NS_HOOK_CREATE_NEW_NAMESPACES => NamespaceHook::CreateNewNamespaces,
            _ => NamespaceHook::Tracepoint,
        },
    })
}

/// A [`VethEvent`]: the two ends of a veth pair the kernel made.
pub(crate) fn decode_veth(bytes: &[u8]) -> Result<Detail, DecodeError> {
    let record: VethEvent = read(bytes)?;
    let end = |end: &VethEnd| VethEndpoint {
        name: c_string(&end.name),
        ifindex: end.ifindex,
        netns: end.net_ns,
    };
    Ok(Detail::Veth { link: end(&record.link), peer: end(&record.peer), ret: record.ret })
}

/// A [`CgroupEvent`], which both cgroup kinds send: a cgroup made, or a
/// task moved into one.
pub(crate) fn decode_cgroup(kind: EventKind, bytes: &[u8]) -> Result<Detail, DecodeError> {
    let record: CgroupEvent = read(bytes)?;
    let path = c_string(area(&record.path, record.path_len, "path")?);
    Ok(if kind == EventKind::CgroupMkdir {
        Detail::CgroupMkdir { path, new_cgroup_id: record.cgroup_id, hierarchy: record.hierarchy }
    } else {
        Detail::CgroupAttach {
            path,
            dst_cgroup_id: record.cgroup_id,
            hierarchy: record.hierarchy,
            target_pid: record.target_pid,
            threadgroup: record.threadgroup != 0,
        }
    })
}

/// A [`CapCapableEvent`]: a capability the kernel checked, and its verdict.
pub(crate) fn decode_capability_check(bytes: &[u8]) -> Result<Detail, DecodeError> {
    let record: CapCapableEvent = read(bytes)?;
    Ok(Detail::CapCapable {
        cap: record.cap,
        cap_name: names::capability(record.cap).map(Name::from),
        ret: record.ret,
    })
}

/// A [`NetlinkEvent`]: a new-link request as sent, parsed by
/// [`netlink::new_link`] with the namespaces its descriptors named.
pub(crate) fn decode_new_link_request(bytes: &[u8]) -> Result<Decoded, DecodeError> {
    let record: NetlinkEvent = read(bytes)?;
    let message = area(&record.message, record.len, "message")?;
    let fds: Vec<(u32, u32)> = record.netns_fds.into_iter().zip(record.netns_fd_inums).collect();
    let sender = netlink::SenderNamespaces { netns: record.net_ns, fds: &fds };
    Ok(Decoded {
        detail: netlink::new_link(message, &sender, record.ret),
        truncated: record.truncated != 0,
    })
}

/// A [`NetlinkAnswerEvent`]: the kernel's answer to a new-link request.
pub(crate) fn decode_new_link_answer(bytes: &[u8]) -> Result<Detail, DecodeError> {
    let record: NetlinkAnswerEvent = read(bytes)?;
    Ok(Detail::NewLinkAnswer { seq: record.seq, error: record.error })
}

/// An [`OpenEvent`]: an open, openat or openat2 that can matter.
pub(crate) fn decode_open(bytes: &[u8]) -> Result<Decoded, DecodeError> {
    let record: OpenEvent = read(bytes)?;
    let path = area(&record.path, record.path_len, "path")?;
    let detail = Detail::Open {
        call: Name::Borrowed(match record.call {
            OPEN_CALL_OPEN => "open",
            OPEN_CALL_OPENAT => "openat",
            OPEN_CALL_OPENAT2 => "openat2",
            _ => "open?",
        }),
        dirfd: record.dirfd,
        path: (!path.is_empty()).then(|| c_string(path)),
        flags: record.flags,
        flag_names: names::open_flag_names(record.flags),
        mode: record.mode,
        resolve: record.resolve,
        resolve_names: names::bit_names(record.resolve, names::RESOLVE_FLAGS),
        file_type: (record.ret >= 0 && record.file_type != 0)
            .then(|| Name::Borrowed(names::file_type(record.file_type))),
        ret: record.ret,
    };
    Ok(Decoded { detail, truncated: record.path_truncated != 0 })
}

/// A [`MknodEvent`]: a mknod or mknodat, with the device it names.
pub(crate) fn decode_mknod(bytes: &[u8]) -> Result<Decoded, DecodeError> {
    let record: MknodEvent = read(bytes)?;
    let path = area(&record.path, record.path_len, "path")?;
    let (major, minor) = names::decode_dev(record.dev);
    let detail = Detail::Mknod {
        call: Name::Borrowed(if record.call == MKNOD_CALL_MKNODAT { "mknodat" } else { "mknod" }),
        dirfd: record.dirfd,
        path: (!path.is_empty()).then(|| c_string(path)),
        mode: record.mode,
        file_type: Name::Borrowed(names::file_type(record.mode)),
        major,
        minor,
        ret: record.ret,
    };
    Ok(Decoded { detail, truncated: record.path_truncated != 0 })
}

/// A [`CallEvent`], which every kind from [`EventKind::Mount`] to
/// [`EventKind::Sethostname`] sends: the call's arguments and data areas.
/// This one reads setns and sethostname; the mount and privilege families
/// have their own below.
pub(crate) fn decode_call(kind: EventKind, bytes: &[u8]) -> Result<Decoded, DecodeError> {
    decode_call_with(kind, bytes, call_detail)
}

/// A call record of the mount family (old and new API) or the root switch.
pub(crate) fn decode_mount_call(kind: EventKind, bytes: &[u8]) -> Result<Decoded, DecodeError> {
    decode_call_with(kind, bytes, mount_call_detail)
}

/// A call record that changes privileges: capset, prctl, seccomp.
pub(crate) fn decode_privilege_call(kind: EventKind, bytes: &[u8]) -> Result<Decoded, DecodeError> {
    decode_call_with(kind, bytes, privilege_call_detail)
}

/// Reads what every call record has, then its kind's detail.
fn decode_call_with(
    kind: EventKind,
    bytes: &[u8],
    detail: fn(EventKind, &CallEvent, &[&[u8]; CALL_SLOTS]) -> Detail,
) -> Result<Decoded, DecodeError> {
    let record: CallEvent = read(bytes)?;
    let slots = call_slots(&record)?;
    Ok(Decoded { detail: detail(kind, &record, &slots), truncated: record.truncated != 0 })
}

/// The used part of each data area of a syscall record.
pub(crate) fn call_slots(record: &CallEvent) -> Result<[&[u8]; CALL_SLOTS], DecodeError> {
    let mut slots: [&[u8]; CALL_SLOTS] = [&[]; CALL_SLOTS];
    for (index, slot) in slots.iter_mut().enumerate() {
        *slot = area(&record.slots[index], u32::from(record.lens[index]), "data")?;
    }
    Ok(slots)
}

const _: () = assert!(CALL_SLOT_MAX <= u16::MAX as usize);

// The call record, per kind: the meaning of its arguments and data areas,
// the userspace half of the slot assignments in `probes-ebpf/src/calls.rs`.

/// A data area as a string; `None` when nothing could be read (a NULL
/// pointer, or memory the kernel would not let the probe read).
fn text(slot: &[u8]) -> Option<String> {
    if slot.is_empty() { None } else { Some(c_string(slot)) }
}

/// The little-endian-or-native u32/u64 at `at` in a data area.
fn u32_at(slot: &[u8], at: usize) -> Option<u32> {
    slot.get(at..at + 4).map(|b| u32::from_ne_bytes(b.try_into().expect("4 bytes")))
}

fn u64_at(slot: &[u8], at: usize) -> Option<u64> {
    slot.get(at..at + 8).map(|b| u64::from_ne_bytes(b.try_into().expect("8 bytes")))
}

/// The instruction count at the start of a `struct sock_fprog`.
fn filter_len(slot: &[u8]) -> Option<u16> {
    slot.get(..2).map(|b| u16::from_ne_bytes([b[0], b[1]]))
}

/// The two 32-bit halves of a capability set in the v3 `capset` data.
fn cap_set(data: &[u8], index: usize) -> Option<u64> {
    // struct __user_cap_data_struct { effective, permitted, inheritable } x2
    let low = u32_at(data, index * 4)?;
    let high = u32_at(data, 12 + index * 4)?;
    Some(u64::from(low) | (u64::from(high) << 32))
}

/// Builds the detail of a syscall record. `slots` are its checked data areas.
fn call_detail(kind: EventKind, record: &CallEvent, slots: &[&[u8]; CALL_SLOTS]) -> Detail {
    let a = record.args;
    let ret = record.ret;
    // Integer arguments are their C types: the upper register half is noise.
    let int = |n: usize| c_int(a[n]);
    let uint = |n: usize| c_uint(a[n]);
    match kind {
        EventKind::Setns => Detail::Setns {
            fd: int(0),
            nstype: uint(1),
            nstype_names: names::namespace_names(u64::from(uint(1)))
                .into_iter()
                .map(Name::from)
                .collect(),
            namespaces: record.namespaces,
            ret,
        },
        EventKind::Sethostname => {
            // The name is `len` bytes, not NUL-terminated.
            let len = usize::try_from(a[1]).unwrap_or(usize::MAX).min(slots[0].len());
            Detail::Sethostname { name: text(&slots[0][..len]), ret }
        }
        _ => unreachable!("{kind:?}: the kind table names another decoder"),
    }
}

fn mount_call_detail(kind: EventKind, record: &CallEvent, slots: &[&[u8]; CALL_SLOTS]) -> Detail {
    let a = record.args;
    let ret = record.ret;
    // Integer arguments are their C types: the upper register half is noise.
    let int = |n: usize| c_int(a[n]);
    let uint = |n: usize| c_uint(a[n]);
    match kind {
        EventKind::Mount => Detail::Mount {
            source: text(slots[0]),
            target: text(slots[1]),
            fstype: text(slots[2]),
            flags: a[3],
            flag_names: bit_names(a[3], MOUNT_FLAGS),
            data: text(slots[3]),
            ret,
        },
        EventKind::Umount => Detail::Umount {
            target: text(slots[0]),
            flags: u64::from(uint(1)),
            flag_names: bit_names(u64::from(uint(1)), UMOUNT_FLAGS),
            ret,
        },
        EventKind::Fsopen => Detail::Fsopen { fsname: text(slots[0]), flags: uint(1), ret },
        EventKind::Fsconfig => Detail::Fsconfig {
            fd: int(0),
            cmd: uint(1),
            command: names::fsconfig_command(uint(1)),
            key: text(slots[0]),
            value: if names::fsconfig_value_is_string(uint(1)) { text(slots[1]) } else { None },
            aux: int(4),
            ret,
        },
        EventKind::Fsmount => Detail::Fsmount {
            fs_fd: int(0),
            flags: uint(1),
            attr_flags: u64::from(uint(2)),
            attr_names: bit_names(u64::from(uint(2)), MOUNT_ATTRS),
            ret,
        },
        EventKind::MoveMount => Detail::MoveMount {
            from_dfd: int(0),
            from_path: text(slots[0]),
            to_dfd: int(2),
            to_path: text(slots[1]),
            flags: uint(4),
            ret,
        },
        EventKind::OpenTree => {
            Detail::OpenTree { dfd: int(0), path: text(slots[0]), flags: uint(2), ret }
        }
        EventKind::MountSetattr => {
            let attr = slots[1];
            let attr_set = u64_at(attr, 0);
            Detail::MountSetattr {
                dfd: int(0),
                path: text(slots[0]),
                flags: uint(2),
                attr_set,
                attr_set_names: attr_set.map(|set| bit_names(set, MOUNT_ATTRS)).unwrap_or_default(),
                attr_clr: u64_at(attr, 8),
                propagation: u64_at(attr, 16),
                userns_fd: u64_at(attr, 24),
                ret,
            }
        }
        EventKind::PivotRoot => {
            Detail::PivotRoot { new_root: text(slots[0]), put_old: text(slots[1]), ret }
        }
        EventKind::Chroot => Detail::Chroot { path: text(slots[0]), ret },
        _ => unreachable!("{kind:?}: the kind table names another decoder"),
    }
}

fn privilege_call_detail(
    kind: EventKind,
    record: &CallEvent,
    slots: &[&[u8]; CALL_SLOTS],
) -> Detail {
    let a = record.args;
    let ret = record.ret;
    // Integer arguments are their C types: the upper register half is noise.
    let uint = |n: usize| c_uint(a[n]);
    match kind {
        EventKind::Capset => Detail::Capset {
            version: u32_at(slots[0], 0),
            // A pid_t, as the kernel reads it.
            target_pid: u32_at(slots[0], 4).map(u32::cast_signed),
            effective: cap_set(slots[1], 0),
            permitted: cap_set(slots[1], 1),
            inheritable: cap_set(slots[1], 2),
            ret,
        },
        EventKind::Prctl => Detail::Prctl {
            option: uint(0),
            option_name: names::prctl_option(uint(0)).map(Name::from),
            arg2: a[1],
            arg3: a[2],
            arg4: a[3],
            arg5: a[4],
            // The kernel takes at most TASK_COMM_LEN - 1 bytes of the name.
            name: (uint(0) == names::PR_SET_NAME)
                .then(|| text(slots[0]).map(|name| name.chars().take(15).collect()))
                .flatten(),
            filter_len: (uint(0) == names::PR_SET_SECCOMP && uint(1) == names::SECCOMP_MODE_FILTER)
                .then(|| filter_len(slots[1]))
                .flatten(),
            ret,
        },
        EventKind::Seccomp => Detail::Seccomp {
            operation: uint(0),
            operation_name: names::seccomp_operation(uint(0)).map(Name::from),
            flags: uint(1),
            filter_len: (uint(0) == names::SECCOMP_SET_MODE_FILTER)
                .then(|| filter_len(slots[0]))
                .flatten(),
            ret,
        },
        _ => unreachable!("{kind:?}: the kind table names another decoder"),
    }
}
