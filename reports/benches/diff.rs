//! `cradle diff` of two 100,000-event traces: the goal is under a second.
//!
//! The traces are synthetic but made of real events: `data/runc-busybox.jsonl`
//! (a real `cradle trace -- runc run` of a busybox bundle, 540 events) is
//! repeated as one container after another, each with its own pids, as a
//! `cradle watch` of many containers would record, until 100,000 events.
//! B differs from A by one added mount in one container. Both are written
//! as trace files, so the measured time is the command's: reading both
//! files (with the collector's replay) and diffing them.

use std::{hint::black_box, path::Path, time::Duration};

use cradle_events::{
    Detail, Event,
    trace_file::{Trace, TraceWriter, Trailer},
};
use cradle_reports::{
    LoadedTrace,
    diff::{DiffOptions, diff},
};
use criterion::{Criterion, Throughput};

const EVENTS: usize = 100_000;
/// Under `cargo test --all-targets` (no `--bench`): a small run that only
/// checks the bench works.
const TEST_EVENTS: usize = 5_000;
/// Pid distance between copies, beyond any real pid.
const PID_STRIDE: u32 = 5_000_000;

fn shift(event: &Event, copy: u32) -> Event {
    let mut event = event.clone();
    let offset = copy * PID_STRIDE;
    event.pid += offset;
    event.tgid += offset;
    event.ppid += offset;
    event.seq += u64::from(copy) * 1_000_000;
    match &mut event.detail {
        Detail::TaskNew { child_pid, child_tgid, .. } => {
            *child_pid += offset;
            *child_tgid += offset;
        }
        Detail::Namespaces { target_pid, .. } | Detail::CgroupAttach { target_pid, .. } => {
            *target_pid += offset;
        }
        Detail::ProcessExec { old_pid, .. } => *old_pid += offset,
        _ => {}
    }
    event
}

/// Writes a trace of copies of `events` until `EVENTS`; in `extra_mount`'s
/// copy, the first mount is doubled.
fn write(path: &Path, base: &Trace, events: usize, extra_mount: Option<u32>) {
    let file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut writer = TraceWriter::new(file, &base.header).unwrap();
    let (mut written, mut copy) = (0, 0u32);
    while written < events {
        let mut doubled = extra_mount != Some(copy);
        for event in &base.events {
            let mut event = shift(event, copy);
            event.owner = None;
            writer.event(&event).unwrap();
            written += 1;
            if !doubled && matches!(event.detail, Detail::Mount { ret: 0, .. }) {
                event.seq += 500_000;
                writer.event(&event).unwrap();
                written += 1;
                doubled = true;
            }
            if written >= events {
                break;
            }
        }
        copy += 1;
    }
    let trailer = base.trailer.clone().unwrap_or(Trailer {
        events: 0,
        records: 0,
        undecodable: 0,
        lost: 0,
        lost_by_kind: Default::default(),
        end: cradle_events::trace_file::TraceEnd::Completed,
        ended_ns: 0,
        exit_code: Some(0),
        not_recorded: 0,
        export_dropped: 0,
    });
    writer.finish(trailer).unwrap();
}

fn main() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/data/runc-busybox.jsonl");
    let base = Trace::read(&data).unwrap_or_else(|err| panic!("{}: {err}", data.display()));
    let dir = std::env::temp_dir().join(format!("cradle-diff-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (a, b) = (dir.join("a.jsonl"), dir.join("b.jsonl"));
    let benching = std::env::args().any(|arg| arg == "--bench");
    let events = if benching { EVENTS } else { TEST_EVENTS };
    write(&a, &base, events, None);
    write(&b, &base, events, Some(7));

    let options = DiffOptions::default();
    let loaded = (LoadedTrace::read(&a).unwrap(), LoadedTrace::read(&b).unwrap());
    let report = diff(&loaded.0, &loaded.1, &options);
    eprintln!(
        "diff: A {} events in {} containers, B {} events; {} added, {} removed, {} changed",
        loaded.0.events.len(),
        loaded.0.containers.len(),
        loaded.1.events.len(),
        report.added,
        report.removed,
        report.changed
    );
    assert_eq!((report.added, report.removed, report.changed), (1, 0, 0), "one extra mount");

    let mut criterion = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(10))
        .configure_from_args();
    let mut group = criterion.benchmark_group("diff_100k");
    group.throughput(Throughput::Elements(2 * events as u64));
    group.bench_function("read_both_and_diff", |bench| {
        bench.iter(|| {
            let (a, b) = LoadedTrace::read_pair(black_box(&a), black_box(&b)).unwrap();
            black_box(diff(&a, &b, &options))
        })
    });
    group.bench_function("diff_only", |bench| {
        bench.iter(|| black_box(diff(&loaded.0, &loaded.1, &options)))
    });
    group.finish();
    criterion.final_summary();
    let _ = std::fs::remove_dir_all(&dir);
}
