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

use cradle_probes::collector::Role;
use serde_json::{Value, json};

use crate::load::LoadedTrace;

/// The track of a container's phases.
const PHASE_TRACK: u32 = 0;
/// The process group of events outside containers.
const HOST_GROUP: u64 = 0;

fn micros(trace: &LoadedTrace, ts_ns: u64) -> f64 {
    trace.since_start(ts_ns) as f64 / 1000.0
}

pub fn render(trace: &LoadedTrace) -> Value {
    let mut events = Vec::new();
    // Container groups are numbered from 1; the host is group 0.
    let group_of = |container: Option<usize>| container.map_or(HOST_GROUP, |c| c as u64 + 1);
    let mut tracks: BTreeMap<(u64, u32), (String, Role)> = BTreeMap::new();
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
        events.push(json!({
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
    let last_ts = trace.events.iter().map(|e| e.ts_ns).max().unwrap_or(trace.header.origin_ns);
    let mut metadata = vec![json!({
        "name": "process_name", "ph": "M", "pid": HOST_GROUP, "tid": PHASE_TRACK,
        "args": {"name": "host"},
    })];
    for (key, container) in trace.containers.iter().enumerate() {
        let group = group_of(Some(key));
        metadata.push(json!({
            "name": "process_name", "ph": "M", "pid": group, "tid": PHASE_TRACK,
            "args": {"name": format!("{} ({})", container.id, container.runtime)},
        }));
        metadata.push(json!({
            "name": "process_sort_index", "ph": "M", "pid": group, "tid": PHASE_TRACK,
            "args": {"sort_index": group},
        }));
        metadata.push(json!({
            "name": "thread_name", "ph": "M", "pid": group, "tid": PHASE_TRACK,
            "args": {"name": "phases"},
        }));
        let end = trace
            .events
            .iter()
            .filter(|e| e.owner.as_ref().is_some_and(|o| o.container == key))
            .map(|e| e.ts_ns)
            .max()
            .unwrap_or(last_ts);
        for (n, mark) in container.phases.iter().enumerate() {
            let until = container.phases.get(n + 1).map_or(end, |next| next.ts_ns);
            events.push(json!({
                "name": mark.phase.title(),
                "cat": "phase",
                "ph": "X",
                "ts": micros(trace, mark.ts_ns),
                "dur": until.saturating_sub(mark.ts_ns) as f64 / 1000.0,
                "pid": group,
                "tid": PHASE_TRACK,
                "args": {"phase": mark.phase.name()},
            }));
        }
    }
    for ((group, tgid), (comm, role)) in &tracks {
        let name = if *group == HOST_GROUP {
            format!("{comm} [{tgid}]")
        } else {
            format!("{comm} [{tgid}] {}", Role::name(*role))
        };
        metadata.push(json!({
            "name": "thread_name", "ph": "M", "pid": group, "tid": tgid,
            "args": {"name": name},
        }));
    }
    metadata.extend(events);
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
