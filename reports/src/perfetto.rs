//! A trace as Chrome trace-event JSON (the "JSON object format" of the
//! Trace Event Format), which ui.perfetto.dev and chrome://tracing open.
//! Each container is a process group, named after it; each of its
//! processes is a track (`tid` = the kernel's tgid), with the container's
//! phases as complete (`X`) spans on a track of their own and every event
//! as an instant (`i`) on its process's track. Events outside containers
//! go to a `host` group. Times are microseconds since the trace started.
//! `schemas/trace-event.schema.json` describes what is written: the format
//! has no official schema, so that one is written from its documentation.

use std::collections::BTreeMap;

use cradle_events::collector::{Container, Role};
use serde_json::{Value, json};

use crate::load::LoadedTrace;

/// The track of a container's phases.
const PHASE_TRACK: u32 = 0;
/// The process group of events outside containers.
const HOST_GROUP: u64 = 0;

fn micros(trace: &LoadedTrace, ts_ns: u64) -> f64 {
    trace.since_start(ts_ns) as f64 / 1000.0
}

/// Container groups are numbered from 1; the host is group 0.
fn group_of(container: Option<usize>) -> u64 {
    container.map_or(HOST_GROUP, |c| c as u64 + 1)
}

/// A process's track: its group and tgid, with its name and role.
type Tracks = BTreeMap<(u64, u32), (String, Role)>;

/// The trace as a trace-event JSON document.
pub fn render(trace: &LoadedTrace) -> Value {
    let (instants, tracks) = event_instants(trace);
    let last_ts = trace.events.iter().map(|e| e.ts_ns).max().unwrap_or(trace.header.origin_ns);
    let mut metadata = vec![json!({
        "name": "process_name", "ph": "M", "pid": HOST_GROUP, "tid": PHASE_TRACK,
        "args": {"name": "host"},
    })];
    let mut phases = Vec::new();
    for (key, container) in trace.containers.iter().enumerate() {
        metadata.extend(container_metadata(key, container));
        phases.extend(phase_spans(trace, key, container, last_ts));
    }
    metadata.extend(thread_names(&tracks));
    metadata.extend(instants);
    metadata.extend(phases);
    json!({
        "traceEvents": metadata,
        "displayTimeUnit": "ms",
        "otherData": {
            "format": "cradle-trace export",
            "source": trace.path.display().to_string(),
            "host": trace.header.host,
            "kernel": trace.header.kernel,
            "started_unix_ns": trace.header.started_unix_ns,
        },
    })
}

/// Every event as an instant on its process's track, and the tracks they
/// fall on.
fn event_instants(trace: &LoadedTrace) -> (Vec<Value>, Tracks) {
    let mut instants = Vec::new();
    let mut tracks = Tracks::new();
    for (index, event) in trace.events.iter().enumerate() {
        let group = group_of(event.owner.as_ref().map(|o| o.container));
        let role = event.owner.as_ref().map_or(Role::Runtime, |o| o.role);
        tracks.insert((group, event.tgid), (event.comm.clone(), role));
        let mut args = json!({
            "call": event.detail.describe(),
            "cpu": event.cpu,
            "seq": event.seq,
            "line": trace.lines[index],
            "pid": event.pid,
        });
        if let Some(owner) = &event.owner {
            args["phase"] = json!(owner.phase.name());
            args["role"] = json!(Role::name(owner.role));
        }
        instants.push(json!({
            "name": event.detail.kind_name(),
            "cat": event.detail.category().name(),
            "ph": "i",
            "s": "t",
            "ts": micros(trace, event.ts_ns),
            "pid": group,
            "tid": event.tgid,
            "args": args,
        }));
    }
    (instants, tracks)
}

/// A container's process group: its name, its place, and its phase track.
fn container_metadata(key: usize, container: &Container) -> [Value; 3] {
    let group = group_of(Some(key));
    [
        json!({
            "name": "process_name", "ph": "M", "pid": group, "tid": PHASE_TRACK,
            "args": {"name": format!("{} ({})", container.id, container.runtime)},
        }),
        json!({
            "name": "process_sort_index", "ph": "M", "pid": group, "tid": PHASE_TRACK,
            "args": {"sort_index": group},
        }),
        json!({
            "name": "thread_name", "ph": "M", "pid": group, "tid": PHASE_TRACK,
            "args": {"name": "phases"},
        }),
    ]
}

/// A container's phases as complete spans on its phase track, the last
/// one until the container's last event (or the trace's, `last_ts`).
fn phase_spans(trace: &LoadedTrace, key: usize, container: &Container, last_ts: u64) -> Vec<Value> {
    let group = group_of(Some(key));
    let end = trace
        .events
        .iter()
        .filter(|e| e.owner.as_ref().is_some_and(|o| o.container == key))
        .map(|e| e.ts_ns)
        .max()
        .unwrap_or(last_ts);
    container
        .phases
        .iter()
        .enumerate()
        .map(|(n, mark)| {
            let until = container.phases.get(n + 1).map_or(end, |next| next.ts_ns);
            json!({
                "name": mark.phase.title(),
                "cat": "phase",
                "ph": "X",
                "ts": micros(trace, mark.ts_ns),
                "dur": until.saturating_sub(mark.ts_ns) as f64 / 1000.0,
                "pid": group,
                "tid": PHASE_TRACK,
                "args": {"phase": mark.phase.name()},
            })
        })
        .collect()
}

/// Each process track named after its process, and in a container its role.
fn thread_names(tracks: &Tracks) -> Vec<Value> {
    tracks
        .iter()
        .map(|((group, tgid), (comm, role))| {
            let name = if *group == HOST_GROUP {
                format!("{comm} [{tgid}]")
            } else {
                format!("{comm} [{tgid}] {}", Role::name(*role))
            };
            json!({
                "name": "thread_name", "ph": "M", "pid": group, "tid": tgid,
                "args": {"name": name},
            })
        })
        .collect()
}
