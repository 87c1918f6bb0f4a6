//! Turns ring-buffer records into [`Event`]s. Safe on any input: a short,
//! oversized or inconsistent record is an error, never a panic or a read
//! past the slice.

use std::mem::size_of;

use bytemuck::Pod;
use cradle_probes_common::{
    CALL_SLOT_MAX, CALL_SLOTS, CallEvent, CapCapableEvent, CgroupEvent, EXEC_ARGV_TRUNCATED,
    EXEC_AT, EXEC_FILENAME_MAX, EXEC_FILENAME_TRUNCATED, EventHeader, EventKind, ExecEvent,
    ExecResultEvent, HEADER_STOPPED, HEADER_UNPRIVILEGED, HEADER_UNTRUSTED_RUNTIME,
    MKNOD_CALL_MKNODAT, MknodEvent, NS_HOOK_CREATE_NEW_NAMESPACES, NS_SOURCE_TASK_NEWTASK,
    NS_SOURCE_UNSHARE, NamespacesEvent, NetlinkAnswerEvent, NetlinkEvent, OPEN_CALL_OPEN,
    OPEN_CALL_OPENAT, OPEN_CALL_OPENAT2, OpenEvent, ProcessExecEvent, TaskExitEvent, TaskNewEvent,
    VethEnd, VethEvent,
};

use crate::{
    cstr::c_string,
    event::{Detail, Event, Name, NamespaceHook, NamespaceSource, VethEndpoint},
    names, netlink, syscalls,
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
fn read<T: Pod>(bytes: &[u8]) -> Result<T, DecodeError> {
    let short = || DecodeError::Short { need: size_of::<T>(), got: bytes.len() };
    let prefix = bytes.get(..size_of::<T>()).ok_or_else(short)?;
    bytemuck::try_pod_read_unaligned(prefix).map_err(|_| short())
}

/// Decodes one ring-buffer record.
pub fn decode(bytes: &[u8]) -> Result<Event, DecodeError> {
    let (header, record) = header_and_record(bytes)?;
    let kind = EventKind::from_u16(header.kind).ok_or(DecodeError::UnknownKind(header.kind))?;
    let Decoded { detail, truncated } = decode_detail(kind, record)?;
    Ok(event(&header, detail, truncated))
}

/// The record's header, and the record cut to the size the header claims
/// (which must lie between the header's own size and what arrived).
fn header_and_record(bytes: &[u8]) -> Result<(EventHeader, &[u8]), DecodeError> {
    let header: EventHeader = read(bytes)?;
    let claimed = header.size as usize;
    if claimed > bytes.len() || claimed < size_of::<EventHeader>() {
        return Err(DecodeError::SizeMismatch { claimed, got: bytes.len() });
    }
    Ok((header, &bytes[..claimed]))
}

/// What a kind's record says, and whether the kernel cut any of the data it
/// copied into it.
struct Decoded {
    detail: Detail,
    truncated: bool,
}

impl From<Detail> for Decoded {
    /// A record of a kind that never cuts its data.
    fn from(detail: Detail) -> Self {
        Decoded { detail, truncated: false }
    }
}

/// The detail of a record of `kind`: one decoder per record type of the
/// ABI (see [`EventKind`]).
fn decode_detail(kind: EventKind, bytes: &[u8]) -> Result<Decoded, DecodeError> {
    Ok(match kind {
        EventKind::Exec => decode_exec(bytes)?.into(),
        EventKind::ExecResult => decode_exec_result(bytes)?.into(),
        EventKind::TaskNew => decode_task_new(bytes)?.into(),
        EventKind::TaskExit => decode_task_exit(bytes)?.into(),
        EventKind::ProcessExec => decode_process_exec(bytes)?.into(),
        EventKind::Namespaces => decode_namespaces(bytes)?.into(),
        EventKind::Veth => decode_veth(bytes)?.into(),
        EventKind::CgroupMkdir | EventKind::CgroupAttach => decode_cgroup(kind, bytes)?.into(),
        EventKind::CapCapable => decode_capability_check(bytes)?.into(),
        EventKind::NetlinkNewLink => decode_new_link_request(bytes)?,
        EventKind::NetlinkAnswer => decode_new_link_answer(bytes)?.into(),
        EventKind::Open => decode_open(bytes)?,
        EventKind::Mknod => decode_mknod(bytes)?,
        EventKind::Mount
        | EventKind::Umount
        | EventKind::Fsopen
        | EventKind::Fsconfig
        | EventKind::Fsmount
        | EventKind::MoveMount
        | EventKind::OpenTree
        | EventKind::MountSetattr
        | EventKind::PivotRoot
        | EventKind::Chroot
        | EventKind::Setns
        | EventKind::Capset
        | EventKind::Prctl
        | EventKind::Seccomp
        | EventKind::Sethostname => decode_call(kind, bytes)?,
    })
}

/// The event: the acting task and the time, from the header, with the
/// detail of its record.
fn event(header: &EventHeader, detail: Detail, truncated: bool) -> Event {
    Event {
        seq: header.seq,
        cpu: header.cpu,
        ts_ns: header.ts_ns,
        pid: header.pid,
        tgid: header.tgid,
        ppid: header.ppid,
        comm: c_string(&header.comm),
        cgroup_id: header.cgroup_id,
        mnt_ns: header.mnt_ns,
        pid_ns: header.pid_ns,
        truncated,
        stopped: header.flags & HEADER_STOPPED != 0,
        untrusted_runtime: header.flags & HEADER_UNTRUSTED_RUNTIME != 0,
        unprivileged: header.flags & HEADER_UNPRIVILEGED != 0,
        owner: None,
        detail,
    }
}

/// The used part of a fixed-size area, checking the recorded length.
fn area<'a>(bytes: &'a [u8], len: u32, field: &'static str) -> Result<&'a [u8], DecodeError> {
    bytes.get(..len as usize).ok_or(DecodeError::BadLength { field, len: len as usize })
}

/// An [`ExecEvent`]: its fixed part, then the filename area, then the
/// arguments, each NUL-terminated.
fn decode_exec(bytes: &[u8]) -> Result<Detail, DecodeError> {
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
fn decode_exec_result(bytes: &[u8]) -> Result<Detail, DecodeError> {
    Ok(Detail::ExecResult { ret: read::<ExecResultEvent>(bytes)?.ret })
}

/// A [`TaskNewEvent`]: the task a tracked task created, and how.
fn decode_task_new(bytes: &[u8]) -> Result<Detail, DecodeError> {
    let record: TaskNewEvent = read(bytes)?;
    Ok(Detail::TaskNew {
        child_pid: record.child_pid,
        child_tgid: record.child_tgid,
        clone_flags: record.clone_flags,
    })
}

/// A [`TaskExitEvent`]: a tracked task's wait status.
fn decode_task_exit(bytes: &[u8]) -> Result<Detail, DecodeError> {
    Ok(Detail::TaskExit { exit_code: read::<TaskExitEvent>(bytes)?.exit_code })
}

/// A [`ProcessExecEvent`]: the program a task now runs, as the scheduler saw it.
fn decode_process_exec(bytes: &[u8]) -> Result<Detail, DecodeError> {
    let record: ProcessExecEvent = read(bytes)?;
    let filename = area(&record.filename, record.filename_len, "filename")?;
    Ok(Detail::ProcessExec { old_pid: record.old_pid, filename: c_string(filename) })
}

/// A [`NamespacesEvent`]: the namespaces a clone or unshare made, by inode.
fn decode_namespaces(bytes: &[u8]) -> Result<Detail, DecodeError> {
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
fn decode_veth(bytes: &[u8]) -> Result<Detail, DecodeError> {
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
fn decode_cgroup(kind: EventKind, bytes: &[u8]) -> Result<Detail, DecodeError> {
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
fn decode_capability_check(bytes: &[u8]) -> Result<Detail, DecodeError> {
    let record: CapCapableEvent = read(bytes)?;
    Ok(Detail::CapCapable {
        cap: record.cap,
        cap_name: names::capability(record.cap).map(Name::from),
        ret: record.ret,
    })
}

/// A [`NetlinkEvent`]: a new-link request as sent, parsed by
/// [`netlink::new_link`] with the namespaces its descriptors named.
fn decode_new_link_request(bytes: &[u8]) -> Result<Decoded, DecodeError> {
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
fn decode_new_link_answer(bytes: &[u8]) -> Result<Detail, DecodeError> {
    let record: NetlinkAnswerEvent = read(bytes)?;
    Ok(Detail::NewLinkAnswer { seq: record.seq, error: record.error })
}

/// An [`OpenEvent`]: an open, openat or openat2 that can matter.
fn decode_open(bytes: &[u8]) -> Result<Decoded, DecodeError> {
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
fn decode_mknod(bytes: &[u8]) -> Result<Decoded, DecodeError> {
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
/// [`EventKind::Sethostname`] sends: the call's arguments and data areas,
/// read per kind by [`syscalls::detail`].
fn decode_call(kind: EventKind, bytes: &[u8]) -> Result<Decoded, DecodeError> {
    let record: CallEvent = read(bytes)?;
    let slots = call_slots(&record)?;
    Ok(Decoded {
        detail: syscalls::detail(kind, &record, &slots),
        truncated: record.truncated != 0,
    })
}

/// The used part of each data area of a syscall record.
fn call_slots(record: &CallEvent) -> Result<[&[u8]; CALL_SLOTS], DecodeError> {
    let mut slots: [&[u8]; CALL_SLOTS] = [&[]; CALL_SLOTS];
    for (index, slot) in slots.iter_mut().enumerate() {
        *slot = area(&record.slots[index], u32::from(record.lens[index]), "data")?;
    }
    Ok(slots)
}

const _: () = assert!(CALL_SLOT_MAX <= u16::MAX as usize);

#[cfg(test)]
mod tests {
    use super::*;
    use cradle_probes_common::EXEC_RECORD_MAX;

    fn as_bytes<T: Pod>(value: &T) -> Vec<u8> {
        bytemuck::bytes_of(value).to_vec()
    }

    fn header(kind: EventKind, size: usize) -> EventHeader {
        let mut comm = [0u8; 16];
        comm[..2].copy_from_slice(b"sh");
        EventHeader {
            kind: kind as u16,
            size: u32::try_from(size).unwrap(),
            seq: 7,
            pid: 10,
            tgid: 10,
            ppid: 9,
            comm,
            ..Default::default()
        }
    }

    fn exec_record(argv: &[&str], flags: u32) -> Vec<u8> {
        let mut args = Vec::new();
        for arg in argv {
            args.extend_from_slice(arg.as_bytes());
            args.push(0);
        }
        let size = size_of::<ExecEvent>() + EXEC_FILENAME_MAX + args.len();
        let record = ExecEvent {
            header: header(EventKind::Exec, size),
            flags,
            argc: u32::try_from(argv.len()).unwrap(),
            filename_len: 10,
            argv_len: u32::try_from(args.len()).unwrap(),
        };
        let mut bytes = as_bytes(&record);
        let mut filename = [0u8; EXEC_FILENAME_MAX];
        filename[..10].copy_from_slice(b"/bin/echo\0");
        bytes.extend_from_slice(&filename);
        bytes.extend_from_slice(&args);
        bytes
    }

    #[test]
    fn decodes_exec_with_full_argv() {
        let event =
            decode(&exec_record(&["/bin/echo", "a", "", "c"], EXEC_ARGV_TRUNCATED)).unwrap();
        assert_eq!(event.comm, "sh");
        assert_eq!(event.ppid, 9);
        assert_eq!(
            event.detail,
            Detail::Exec {
                filename: "/bin/echo".into(),
                argv: vec!["/bin/echo".into(), "a".into(), "".into(), "c".into()],
                argv_truncated: true,
                filename_truncated: false,
                at: false,
                ret: None,
            }
        );
    }

    #[test]
    fn decodes_fixed_records() {
        let record = TaskNewEvent {
            header: header(EventKind::TaskNew, size_of::<TaskNewEvent>()),
            child_pid: 11,
            child_tgid: 11,
            clone_flags: 0x11,
        };
        let event = decode(&as_bytes(&record)).unwrap();
        assert_eq!(
            event.detail,
            Detail::TaskNew { child_pid: 11, child_tgid: 11, clone_flags: 0x11 }
        );
        assert!(!event.stopped);
    }

    #[test]
    fn a_record_after_which_the_kernel_stopped_its_task_says_so() {
        let mut record = ExecResultEvent {
            header: header(EventKind::ExecResult, size_of::<ExecResultEvent>()),
            ret: 0,
        };
        record.header.flags = HEADER_STOPPED;
        assert!(decode(&as_bytes(&record)).unwrap().stopped);
    }

    #[test]
    fn rejects_inconsistent_records() {
        assert!(matches!(decode(&[0u8; 10]), Err(DecodeError::Short { .. })));
        let mut bytes = exec_record(&["x"], 0);
        bytes.truncate(bytes.len() - 1);
        assert!(matches!(decode(&bytes), Err(DecodeError::SizeMismatch { .. })));
        let unknown = header(EventKind::Exec, size_of::<EventHeader>());
        let mut bytes = as_bytes(&unknown);
        bytes[0] = 0xff;
        assert_eq!(decode(&bytes), Err(DecodeError::UnknownKind(0xff)));
        // An argv length pointing past the record.
        let mut bytes = exec_record(&["x"], 0);
        bytes[size_of::<EventHeader>() + 12..size_of::<EventHeader>() + 16]
            .copy_from_slice(&u32::try_from(EXEC_RECORD_MAX).unwrap().to_ne_bytes());
        assert!(matches!(decode(&bytes), Err(DecodeError::BadLength { field: "argv", .. })));
    }

    #[test]
    fn a_record_shorter_than_its_kind_says_how_many_bytes_it_needs() {
        let size = size_of::<EventHeader>();
        let bytes = as_bytes(&header(EventKind::TaskNew, size));
        assert_eq!(
            decode(&bytes),
            Err(DecodeError::Short { need: size_of::<TaskNewEvent>(), got: size })
        );
    }

    #[test]
    fn decodes_a_record_at_an_unaligned_address() {
        let record = TaskNewEvent {
            header: header(EventKind::TaskNew, size_of::<TaskNewEvent>()),
            child_pid: 11,
            child_tgid: 12,
            clone_flags: 0x11,
        };
        let mut buffer = vec![0u8];
        buffer.extend_from_slice(&as_bytes(&record));
        let event = decode(&buffer[1..]).unwrap();
        assert_eq!(
            event.detail,
            Detail::TaskNew { child_pid: 11, child_tgid: 12, clone_flags: 0x11 }
        );
    }

    #[test]
    fn never_panics_on_mutated_records() {
        let seed = exec_record(&["/bin/echo", "a", "b"], 0);
        // Every single-byte corruption and every truncation decodes or errs.
        for at in 0..seed.len() {
            for value in [0u8, 1, 0x7f, 0xff] {
                let mut bytes = seed.clone();
                bytes[at] = value;
                let _ = decode(&bytes);
            }
            let _ = decode(&seed[..at]);
        }
    }
}
