//! Container births as they complete in a live session: each container's
//! events are kept until it reaches `running` (or exits), and then its
//! birth is analysed as `cradle report` would analyse it from a trace
//! file, with the same model and the same rules.

use std::{
    collections::{BTreeMap, HashSet},
    path::PathBuf,
};

use cradle_events::{
    Event,
    collector::{Collector, Container, ContainerKey, Phase},
    trace_file::Header,
};
use cradle_reports::{LoadedTrace, model::ContainerReport};

/// Events kept of one birth at most: a runtime that never gets its
/// workload running must not grow the session without bound. The report
/// of a birth cut here says less, not something false: its later events
/// are missing, as after a loss.
const MAX_EVENTS_PER_BIRTH: usize = 50_000;

/// One container's birth, analysed.
#[derive(Clone, Debug)]
pub struct Birth {
    /// The container as the collector knew it when the birth ended.
    pub container: Container,
    /// Its audit report: phases, namespaces, mounts, findings.
    pub report: ContainerReport,
}

impl Birth {
    /// Whether its workload was started (the birth succeeded).
    pub fn started(&self) -> bool {
        self.container.phases.iter().any(|mark| mark.phase >= Phase::WorkloadExec)
            && self.report.workload.is_some()
    }

    /// Who ran the runtime: its launcher's command name (a shim such as
    /// `containerd-shim`, `conmon`, a shell), `unknown` where it could not
    /// be read. Few distinct values on a host, so a fit metric label.
    pub fn client(&self) -> &str {
        self.container.launchers.first().map_or("unknown", |launcher| launcher.comm.as_str())
    }

    /// `started` or `failed`.
    pub fn outcome(&self) -> &'static str {
        if self.started() { "started" } else { "failed" }
    }

    /// CLOCK_MONOTONIC nanoseconds at which the birth ended: the
    /// container's `running` or `exit`, else its last phase's start.
    pub fn end_ns(&self) -> u64 {
        let marks = &self.container.phases;
        marks
            .iter()
            .find(|mark| mark.phase >= Phase::Running)
            .or(marks.last())
            .map_or(0, |mark| mark.ts_ns)
    }
}

struct Pending {
    runtime_pid: u32,
    start_ns: u64,
    events: Vec<Event>,
}

/// Follows the attributed events of a live session and hands out each
/// container's birth once, when it is over.
pub struct Births {
    header: Header,
    pending: BTreeMap<ContainerKey, Pending>,
    /// Births handed out, whose later events are not kept.
    done: HashSet<ContainerKey>,
}

impl Births {
    /// `header`: the session's, for the time base and the host.
    pub fn new(header: &Header) -> Births {
        Births { header: header.clone(), pending: BTreeMap::new(), done: HashSet::new() }
    }

    /// Takes one attributed event; the birth it completed, if it did.
    pub fn event(&mut self, event: &Event, collector: &Collector) -> Option<Birth> {
        let key = event.owner.as_ref()?.container;
        if self.done.contains(&key) {
            return None;
        }
        let container = collector.container(key)?;
        let pending = self.pending.entry(key).or_insert_with(|| Pending {
            runtime_pid: container.runtime_pid,
            start_ns: container.start_ns(),
            events: Vec::new(),
        });
        if pending.events.len() < MAX_EVENTS_PER_BIRTH {
            pending.events.push(event.clone());
        }
        if container.phase() < Phase::Running {
            return None;
        }
        let pending = self.pending.remove(&key)?;
        self.done.insert(key);
        Some(self.analyse(container.clone(), pending.events))
    }

    /// Containers the collector forgot: the births among them not handed
    /// out yet (their runtime failed, or the workload never ran).
    pub fn retired(&mut self, containers: &[Container], collector: &Collector) -> Vec<Birth> {
        let mut births = Vec::new();
        for container in containers {
            let key = self.pending.iter().find_map(|(key, pending)| {
                (pending.runtime_pid == container.runtime_pid
                    && pending.start_ns == container.start_ns())
                .then_some(*key)
            });
            if let Some(pending) = key.and_then(|key| self.pending.remove(&key)) {
                births.push(self.analyse(container.clone(), pending.events));
            }
        }
        self.done.retain(|key| collector.container(*key).is_some());
        births
    }

    /// The end of the session: every birth not handed out yet.
    pub fn finish(&mut self, collector: &Collector) -> Vec<Birth> {
        let pending = std::mem::take(&mut self.pending);
        pending
            .into_iter()
            .filter_map(|(key, pending)| {
                let container = collector.container(key)?.clone();
                Some(self.analyse(container, pending.events))
            })
            .collect()
    }

    /// The birth's report, from a trace of this one container.
    fn analyse(&self, container: Container, mut events: Vec<Event>) -> Birth {
        for event in &mut events {
            if let Some(owner) = &mut event.owner {
                owner.container = 0;
            }
        }
        let trace = LoadedTrace {
            path: PathBuf::from("(live)"),
            header: self.header.clone(),
            lines: vec![0; events.len()],
            events,
            containers: vec![container.clone()],
            trailer: None,
            truncation: None,
        };
        let report = cradle_reports::build_report(&trace).containers.remove(0);
        Birth { container, report }
    }
}
