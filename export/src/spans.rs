//! A container's birth as an OpenTelemetry trace: a root span
//! "container <id>" from the runtime's start to `running` (or the exit),
//! a child span per phase, the key calls (namespaces with their inode
//! numbers, mounts, the root switch, capset, seccomp, the workload's exec)
//! as span events of the phase they fell in, and the findings of the
//! report rules as span events of the root span.
//!
//! Attribute names follow OpenTelemetry's semantic conventions where one
//! exists (`container.id`, `container.runtime.name`, `host.name`,
//! `os.type`, `os.version`, `process.pid`, `process.exit.code`, ...);
//! what they have no name for is under `cradle.`.

use std::{
    hash::{DefaultHasher, Hash, Hasher},
    time::{Duration, SystemTime},
};

use cradle_events::{collector::Phase, trace_file::Header};
use cradle_reports::model::{EventRef, Finding};
use opentelemetry::{
    InstrumentationScope, KeyValue, StringValue, Value,
    trace::{
        Event as SpanEvent, SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
    },
};
use opentelemetry_sdk::{
    Resource,
    trace::{SpanData, SpanEvents, SpanLinks},
};

use crate::births::Birth;

/// The name of the instrumentation scope of every span.
pub const SCOPE: &str = "cradle";

/// The resource of a host's spans: the service, the host and its kernel.
pub fn resource(header: &Header) -> Resource {
    Resource::builder_empty()
        .with_attributes([
            KeyValue::new("service.name", "cradle"),
            KeyValue::new("service.version", header.cradle_version.clone()),
            KeyValue::new("host.name", header.host.clone()),
            KeyValue::new("os.type", "linux"),
            // The kernel release: what a Linux host's os.version is.
            KeyValue::new("os.version", header.kernel.clone()),
            KeyValue::new("cradle.trace.mode", format!("{:?}", header.mode).to_lowercase()),
        ])
        .build()
}

/// Wall-clock times of a session's CLOCK_MONOTONIC timestamps.
struct Clock {
    started_unix_ns: u64,
    origin_ns: u64,
}

impl Clock {
    fn at(&self, ts_ns: u64) -> SystemTime {
        let unix_ns = match ts_ns.checked_sub(self.origin_ns) {
            Some(after) => self.started_unix_ns.saturating_add(after),
            None => self.started_unix_ns.saturating_sub(self.origin_ns - ts_ns),
        };
        SystemTime::UNIX_EPOCH + Duration::from_nanos(unix_ns)
    }

    /// An event cited by a report: its time is since the session's start.
    fn of(&self, event: &EventRef) -> SystemTime {
        self.at(self.origin_ns.saturating_add(event.time_ns))
    }
}

/// A 64-bit digest of `parts`, never 0 (a zero id is invalid).
fn digest(parts: impl Hash) -> u64 {
    let mut hasher = DefaultHasher::new();
    parts.hash(&mut hasher);
    hasher.finish().max(1)
}

/// One phase span in the making.
struct PhaseSpan {
    phase: Phase,
    start_ns: u64,
    end_ns: u64,
    span_id: SpanId,
    events: Vec<SpanEvent>,
}

/// The spans of one birth: the root first, then the phases in order.
/// Their ids are derived from the host, the session and the container,
/// so exporting a trace again gives the same ids.
pub fn birth_spans(birth: &Birth, header: &Header) -> Vec<SpanData> {
    let container = &birth.container;
    let report = &birth.report;
    let clock = Clock { started_unix_ns: header.started_unix_ns, origin_ns: header.origin_ns };
    let identity = (&header.host, header.started_unix_ns, &*container.id, container.runtime_pid);
    let trace_id = TraceId::from(
        (u128::from(digest((identity, "trace"))) << 64) | u128::from(digest((identity, "low"))),
    );
    let root_id = SpanId::from(digest((identity, "root")));
    let context = |span_id| {
        SpanContext::new(trace_id, span_id, TraceFlags::SAMPLED, false, TraceState::default())
    };
    let start_ns = container.start_ns();
    let end_ns = birth_end_ns(birth);
    let mut phases = phase_spans(birth, identity, end_ns);
    let mut root_events = place_key_calls(birth, header, &clock, &mut phases);
    root_events
        .extend(report.findings.iter().map(|finding| finding_event(finding, &clock, end_ns)));
    root_events.sort_by_key(|event| event.timestamp);

    let scope =
        InstrumentationScope::builder(SCOPE).with_version(header.cradle_version.clone()).build();
    let span = |span_id, parent, name: String, start, end, attributes, events, status| SpanData {
        span_context: context(span_id),
        parent_span_id: parent,
        parent_span_is_remote: false,
        span_kind: SpanKind::Internal,
        name: name.into(),
        start_time: clock.at(start),
        end_time: clock.at(end),
        attributes,
        dropped_attributes_count: 0,
        events: span_events(events),
        links: SpanLinks::default(),
        status,
        instrumentation_scope: scope.clone(),
    };
    let status = match birth.started() {
        true => Status::Ok,
        false => Status::error("the workload was never executed"),
    };
    let mut spans = vec![span(
        root_id,
        SpanId::INVALID,
        format!("container {}", container.id),
        start_ns,
        end_ns,
        container_attributes(birth),
        root_events,
        status,
    )];
    for phase in phases {
        let attributes = vec![
            KeyValue::new("cradle.phase", phase.phase.name()),
            KeyValue::new("container.id", container.id.to_string()),
        ];
        spans.push(span(
            phase.span_id,
            root_id,
            phase.phase.name().to_owned(),
            phase.start_ns,
            phase.end_ns,
            attributes,
            phase.events,
            Status::Unset,
        ));
    }
    spans
}

/// The phases of the birth proper, each running to the next one's start
/// (the last to the birth's end), still without their events.
fn phase_spans(birth: &Birth, identity: impl Hash + Copy, end_ns: u64) -> Vec<PhaseSpan> {
    let marks: Vec<_> =
        birth.container.phases.iter().filter(|mark| mark.phase < Phase::Running).copied().collect();
    marks
        .iter()
        .enumerate()
        .map(|(n, mark)| PhaseSpan {
            phase: mark.phase,
            start_ns: mark.ts_ns,
            end_ns: marks.get(n + 1).map_or(end_ns, |next| next.ts_ns).max(mark.ts_ns),
            span_id: SpanId::from(digest((identity, mark.phase.name()))),
            events: Vec::new(),
        })
        .collect()
}

/// Puts each key call in the phase it fell in; returns those that came
/// before every phase, for the root span.
fn place_key_calls(
    birth: &Birth,
    header: &Header,
    clock: &Clock,
    phases: &mut [PhaseSpan],
) -> Vec<SpanEvent> {
    let mut before_phases = Vec::new();
    for (evidence, event) in key_calls(birth, clock) {
        let ts_ns = header.origin_ns.saturating_add(evidence.time_ns);
        // The phase it fell in: the last that had begun by then.
        match phases.iter_mut().rev().find(|phase| phase.start_ns <= ts_ns) {
            Some(phase) => phase.events.push(event),
            None => before_phases.push(event),
        }
    }
    before_phases
}

/// A finding as an event of the root span, at its first evidence (at the
/// birth's end without any).
fn finding_event(finding: &Finding, clock: &Clock, end_ns: u64) -> SpanEvent {
    let at = finding.evidence.first().map_or(clock.at(end_ns), |event| clock.of(event));
    SpanEvent::new(
        "finding",
        at,
        vec![
            KeyValue::new("security_rule.name", finding.rule.clone()),
            KeyValue::new("security_rule.description", finding.title.clone()),
            KeyValue::new("security_rule.ruleset.name", "cradle"),
            KeyValue::new("cradle.finding.id", finding.id.clone()),
            KeyValue::new("cradle.finding.severity", finding.severity.name()),
            KeyValue::new("cradle.finding.message", finding.message.clone()),
        ],
        0,
    )
}

/// Where the birth ends: `running` or the exit, else the end of the last
/// phase the report saw.
fn birth_end_ns(birth: &Birth) -> u64 {
    let start_ns = birth.container.start_ns();
    let last_seen = birth
        .report
        .phases
        .iter()
        .map(|phase| start_ns.saturating_add(phase.start_ns).saturating_add(phase.duration_ns))
        .max()
        .unwrap_or(start_ns);
    match birth.container.phases.iter().find(|mark| mark.phase >= Phase::Running) {
        Some(mark) => mark.ts_ns,
        None => last_seen.max(birth.end_ns()),
    }
}

/// The root span's attributes: who the container is, how it ended.
fn container_attributes(birth: &Birth) -> Vec<KeyValue> {
    let container = &birth.container;
    let report = &birth.report;
    let mut attributes = vec![
        KeyValue::new("container.id", container.id.to_string()),
        KeyValue::new("container.runtime.name", container.runtime.clone()),
        // The name before semantic conventions 1.31, which backends still read.
        KeyValue::new("container.runtime", container.runtime.clone()),
        KeyValue::new("cradle.outcome", birth.outcome()),
        KeyValue::new("cradle.runtime.pid", i64::from(container.runtime_pid)),
    ];
    if let Some(bundle) = &container.bundle {
        attributes.push(KeyValue::new("cradle.bundle", bundle.clone()));
    }
    if let Some(pid) = container.init_pid {
        attributes.push(KeyValue::new("process.pid", i64::from(pid)));
    }
    if let Some(exit) = container.exit() {
        attributes.push(KeyValue::new("process.exit.code", i64::from(exit.shell_code())));
    }
    if let Some(workload) = &report.workload {
        attributes.push(KeyValue::new("process.executable.path", workload.filename.clone()));
        attributes.push(KeyValue::new("process.command_args", strings(&workload.argv)));
    }
    for view in &report.namespaces.views {
        if let Some(inum) = view.inum {
            attributes.push(KeyValue::new(
                format!("cradle.namespace.{}.inode", view.kind),
                i64::from(inum),
            ));
        }
    }
    if let Some(launcher) = container.launchers.first() {
        attributes.push(KeyValue::new("cradle.launcher", launcher.comm.clone()));
    }
    for caveat in container.caveats() {
        attributes.push(KeyValue::new("cradle.caveat", caveat));
    }
    attributes
}

fn strings(list: &[String]) -> Value {
    let items: Vec<StringValue> = list.iter().map(|item| item.clone().into()).collect();
    Value::Array(items.into())
}

fn span_events(events: Vec<SpanEvent>) -> SpanEvents {
    let mut span_events = SpanEvents::default();
    span_events.events = events;
    span_events
}

/// The key calls of a birth as span events, with the events they cite.
fn key_calls<'a>(birth: &'a Birth, clock: &Clock) -> Vec<(&'a EventRef, SpanEvent)> {
    let report = &birth.report;
    let mut calls = Vec::new();
    let mut call = |evidence: &'a EventRef, name: &'static str, mut attributes: Vec<KeyValue>| {
        attributes.push(KeyValue::new("process.pid", i64::from(evidence.tgid)));
        attributes.push(KeyValue::new("process.executable.name", evidence.comm.clone()));
        attributes.push(KeyValue::new("cradle.call", evidence.text.clone()));
        calls.push((evidence, SpanEvent::new(name, clock.of(evidence), attributes, 0)));
    };
    for created in &report.namespaces.created {
        let mut attributes = vec![KeyValue::new("cradle.namespace.type", created.kind.clone())];
        if let Some(inum) = created.inum {
            attributes.push(KeyValue::new("cradle.namespace.inode", i64::from(inum)));
        }
        call(&created.evidence, "namespace", attributes);
    }
    for mount in &report.mounts {
        let Some(evidence) = mount.evidence.first() else { continue };
        let mut attributes = vec![
            KeyValue::new(
                "cradle.mount.operation",
                format!("{:?}", mount.operation).to_lowercase(),
            ),
            KeyValue::new("cradle.mount.read_only", mount.read_only),
            KeyValue::new("cradle.result", mount.result),
        ];
        let fields = [
            ("cradle.mount.source", mount.source_or_path()),
            ("cradle.mount.target", mount.container_path.as_deref().or(mount.target.as_deref())),
            ("cradle.mount.fstype", mount.fstype.as_deref()),
        ];
        for (key, value) in fields {
            if let Some(value) = value {
                attributes.push(KeyValue::new(key, value.to_owned()));
            }
        }
        call(evidence, "mount", attributes);
    }
    if let Some(switch) = &report.root_switch {
        let name = match switch.method {
            cradle_reports::model::RootSwitchMethod::PivotRoot => "pivot_root",
            cradle_reports::model::RootSwitchMethod::Chroot => "chroot",
        };
        let attributes = switch
            .path
            .iter()
            .map(|path| KeyValue::new("cradle.root.path", path.clone()))
            .collect();
        call(&switch.evidence, name, attributes);
    }
    let capabilities = &report.capabilities;
    if let Some(evidence) = &capabilities.capset {
        let mut attributes = Vec::new();
        for (key, set) in [
            ("cradle.capabilities.effective", &capabilities.effective),
            ("cradle.capabilities.permitted", &capabilities.permitted),
        ] {
            if let Some(set) = set {
                attributes.push(KeyValue::new(key, strings(set)));
            }
        }
        call(evidence, "capset", attributes);
    }
    for filter in &report.seccomp.filters {
        let mut attributes = vec![KeyValue::new("cradle.seccomp.call", filter.call.clone())];
        if let Some(instructions) = filter.instructions {
            attributes.push(KeyValue::new("cradle.seccomp.instructions", i64::from(instructions)));
        }
        call(&filter.evidence, "seccomp", attributes);
    }
    if let Some(workload) = &report.workload {
        let attributes = vec![
            KeyValue::new("process.executable.path", workload.filename.clone()),
            KeyValue::new("process.command_args", strings(&workload.argv)),
        ];
        call(&workload.evidence, "exec", attributes);
    }
    calls.sort_by_key(|(evidence, _)| evidence.time_ns);
    calls
}
