//! Turns ring-buffer records into [`Event`]s. Safe on any input: a short,
//! oversized or inconsistent record is an error, never a panic or a read
//! past the slice.

use std::mem::size_of;

use cradle_probes_common::{
    EventHeader, EventKind, HEADER_STOPPED, HEADER_UNPRIVILEGED, HEADER_UNTRUSTED_RUNTIME,
};

use crate::{
    cstr::c_string,
    event::{Detail, Event},
    kinds,
    records::{Decoded, read},
};

pub use crate::records::DecodeError;

/// Decodes one ring-buffer record.
pub fn decode(bytes: &[u8]) -> Result<Event, DecodeError> {
    let (header, record) = header_and_record(bytes)?;
    let kind = EventKind::from_u16(header.kind).ok_or(DecodeError::UnknownKind(header.kind))?;
    let Decoded { detail, truncated } = (kinds::spec(kind).decode)(kind, record)?;
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
#[cfg(test)]
mod tests {
    use super::*;
    use bytemuck::Pod;
    use cradle_probes_common::EXEC_RECORD_MAX;
    use cradle_probes_common::*;

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

    /// The kind table's decoder of each kind reads a record of that kind
    /// into a detail of that kind, which its category's writer describes:
    /// both dispatches derive from the table.
    #[test]
    fn each_kind_is_decoded_by_its_declared_decoder_into_its_own_kind() {
        for kind in EventKind::ALL {
            let size = EXEC_RECORD_MAX;
            let mut bytes = vec![0u8; size];
            bytes[..size_of::<EventHeader>()].copy_from_slice(&as_bytes(&header(kind, size)));
            let event = decode(&bytes).unwrap_or_else(|err| panic!("{kind:?}: {err}"));
            assert_eq!(event.detail.kind(), kind);
            // Its category's writer knows it.
            assert!(!event.describe().is_empty());
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
