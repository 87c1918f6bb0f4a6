use std::io::Cursor;

use super::*;
use crate::{
    collector::{Phase, PhaseMark, Role},
    event::{Detail, Name, Owner},
};

fn header() -> Header {
    Header {
        format: FORMAT.into(),
        version: VERSION,
        cradle_version: "0.1.0".into(),
        host: "box".into(),
        kernel: "6.18.0".into(),
        mode: TraceMode::Trace,
        command: vec!["runc".into(), "run".into(), "c1".into()],
        started_unix_ns: 1,
        origin_ns: 100,
        ring_bytes: 1 << 20,
        probes: vec![ProbeUse {
            program: "sys_enter_mount".into(),
            attach: "tracepoint:syscalls/sys_enter_mount".into(),
            probes: vec!["mount".into()],
        }],
        hooks: vec![HookUse {
            probe: "namespaces".into(),
            function: "create_new_namespaces".into(),
            path: "tracepoint".into(),
            refused: vec![HookRefusal { path: "fexit".into(), reason: "EPERM".into() }],
        }],
        host_namespaces: [("net".to_owned(), 4026531840)].into(),
        daemon_containers: None,
        part: None,
        not_recorded: vec![],
        unavailable: vec![ProbeAbsence {
            probe: "capability".into(),
            kinds: vec!["cap_capable".into()],
            reason: "left out by configuration".into(),
        }],
    }
}

fn event(seq: u64) -> Event {
    Event {
        seq,
        cpu: 0,
        ts_ns: 200 + seq,
        pid: 7,
        tgid: 7,
        ppid: 1,
        comm: "runc".into(),
        cgroup_id: 1,
        mnt_ns: 4026531841,
        pid_ns: 4026531836,
        truncated: false,
        stopped: false,
        untrusted_runtime: false,
        unprivileged: false,
        owner: Some(Owner {
            container: 0,
            id: "c1".into(),
            role: Role::Runtime,
            phase: Phase::NamespaceCreation,
            call: None,
        }),
        detail: Detail::Prctl {
            option: 38,
            option_name: Some(Name::Borrowed("PR_SET_NO_NEW_PRIVS")),
            arg2: 1,
            arg3: 0,
            arg4: 0,
            arg5: 0,
            name: None,
            filter_len: None,
            ret: 0,
        },
    }
}

fn container() -> Container {
    Container {
        id: "c1".into(),
        runtime: "runc".into(),
        bundle: None,
        runtime_pid: 7,
        init_pid: Some(9),
        namespaces: None,
        phases: vec![PhaseMark { phase: Phase::RuntimeStart, ts_ns: 201 }],
        exit: Some(crate::ExitStatus::Exited { code: 0 }),
        legacy_wait_status: None,
        unprivileged: false,
        duplicate_id: false,
        events_may_be_missing: false,
        launchers: vec![crate::collector::Launcher {
            pid: 5,
            comm: "containerd-shim".into(),
            exe: Some("/usr/bin/containerd-shim-runc-v2".into()),
            argv: vec!["/usr/bin/containerd-shim-runc-v2".into(), "-id".into(), "c1".into()],
        }],
        calls: vec![crate::collector::RuntimeCall { command: "start".into(), pid: 8, ts_ns: 300 }],
        links: vec![crate::collector::NetworkLink {
            kind: Some("veth".into()),
            name: Some("veth6ecef1f".into()),
            peer: Some("veth93c00e5".into()),
            netns: 4026532181,
            pid: 4,
            comm: "dockerd".into(),
            ts_ns: 250,
            moved: true,
        }],
        id_mappings: Some(crate::collector::IdMappings {
            user_ns: 4_026_532_800,
            read_from_pid: 9,
            uids: vec![crate::collector::IdRange { inside: 0, outside: 100_000, count: 65_536 }],
            gids: vec![crate::collector::IdRange { inside: 0, outside: 100_000, count: 65_536 }],
        }),
        processes: Vec::new(),
    }
}

fn trailer() -> Trailer {
    Trailer {
        events: 0,
        records: 3,
        undecodable: 1,
        lost: 0,
        lost_by_kind: BTreeMap::new(),
        end: TraceEnd::Completed,
        ended_ns: 999,
        exit_code: Some(0),
        not_recorded: 0,
        export_dropped: 0,
    }
}

fn written(events: u64) -> Vec<u8> {
    let mut writer = TraceWriter::new(Vec::new(), &header()).unwrap();
    for seq in 0..events {
        writer.event(&event(seq)).unwrap();
    }
    writer.container(&container()).unwrap();
    writer.finish(trailer()).unwrap()
}

fn read(bytes: &[u8]) -> Result<Trace, TraceFileError> {
    Trace::from_reader(TraceReader::new(Cursor::new(bytes))?)
}

#[test]
fn a_written_trace_reads_back_whole() {
    let trace = read(&written(3)).unwrap();
    assert_eq!(trace.header, header());
    assert_eq!(trace.events, (0..3).map(event).collect::<Vec<_>>());
    assert_eq!(trace.containers, vec![container()]);
    let trailer = trace.trailer.unwrap();
    assert_eq!(trailer.events, 3, "the writer counts the events it wrote");
    assert_eq!(trace.truncation, None);
}

#[test]
fn a_trace_cut_mid_line_reads_to_its_last_complete_event() {
    let bytes = written(5);
    let text = String::from_utf8(bytes).unwrap();
    // Cut inside the fourth event's line (line 5: header + 3 events + it).
    let fourth = text.match_indices('\n').nth(4).unwrap().0;
    let cut = &text.as_bytes()[..fourth - 10];
    let trace = read(cut).unwrap();
    assert_eq!(trace.events.len(), 3);
    assert_eq!(trace.trailer, None);
    assert_eq!(trace.truncation, Some(Truncation::CutLine { line: 5 }));
}

#[test]
fn a_trace_without_trailer_says_so() {
    let text = String::from_utf8(written(2)).unwrap();
    let without_trailer: String = text.lines().take(3).map(|line| format!("{line}\n")).collect();
    let trace = read(without_trailer.as_bytes()).unwrap();
    assert_eq!(trace.events.len(), 2);
    assert_eq!(trace.truncation, Some(Truncation::NoTrailer));
}

#[test]
fn a_corrupt_line_in_the_middle_is_an_error_naming_it() {
    let text = String::from_utf8(written(3)).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines[2] = "{\"event\": 12}";
    let broken = lines.join("\n") + "\n";
    match read(broken.as_bytes()) {
        Err(TraceFileError::Corrupt { line: 3, .. }) => {}
        other => panic!("expected a corrupt line 3, got {other:?}"),
    }
}

#[test]
fn a_file_that_is_not_a_trace_is_refused() {
    assert!(matches!(read(b"{\"hello\": 1}\n"), Err(TraceFileError::NotATrace)));
    assert!(matches!(read(b""), Err(TraceFileError::NotATrace)));
}

#[test]
fn a_newer_version_is_refused_by_number() {
    let mut newer = header();
    newer.version = VERSION + 1;
    let bytes = TraceWriter::new(Vec::new(), &newer).unwrap().finish(trailer()).unwrap();
    assert!(matches!(read(&bytes), Err(TraceFileError::TooNew(v)) if v == VERSION + 1));
}

#[test]
fn records_after_the_trailer_are_an_error() {
    let mut bytes = written(1);
    bytes.extend_from_slice(&written(1)[..]);
    assert!(read(&bytes).is_err());
}

/// The committed schema is the one these types produce: a change to the
/// format shows up as a change to `schemas/trace.schema.json` in review.
/// Regenerate with `CRADLE_BLESS=1 cargo test -p cradle-probes`.
#[test]
fn the_committed_schema_matches_the_types() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas/trace.schema.json");
    if let Err(stale) = crate::schema_file::check_committed(&path, &schema()) {
        panic!("{stale}");
    }
}

#[test]
fn written_lines_validate_against_the_schema() {
    let validator = jsonschema::validator_for(&schema()).unwrap();
    for line in String::from_utf8(written(2)).unwrap().lines() {
        let value: serde_json::Value = serde_json::from_str(line).unwrap();
        let errors: Vec<String> = validator.iter_errors(&value).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{line}: {errors:?}");
    }
    let invalid = serde_json::json!({"event": {"seq": "one"}});
    assert!(!validator.is_valid(&invalid), "the schema must be able to reject");
}

/// Traces written before `exit` held the raw wait status in `exit_code`:
/// still read, as the code it stands for.
#[test]
fn an_older_containers_wait_status_reads_as_its_exit_code() {
    let old = r#"{"id":"c1","runtime":"runc","bundle":null,"runtime_pid":7,"init_pid":9,
        "namespaces":null,"phases":[],"exit_code":256}"#;
    let container: Container = serde_json::from_str(old).unwrap();
    assert_eq!(container.exit(), Some(crate::ExitStatus::Exited { code: 1 }));
    let written = serde_json::to_value(&container).unwrap();
    assert!(written.get("exit_code").is_none(), "{written}");
}
