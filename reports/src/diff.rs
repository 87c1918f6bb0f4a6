//! `cradle diff`: two traces compared for regression tests.
//!
//! What legitimately differs between two runs of the same bundle is
//! normalised away first: pids become process labels (`intermediate.2`,
//! the second intermediate process to act), namespace inode numbers and
//! container ids become stable placeholders in order of first appearance,
//! times, sequence numbers, CPUs and cgroup ids are dropped, and temporary
//! path components (`runc.XXXXXX`, `.tmpXXXXXX`, long hex runs), the rootfs
//! and the bundle directory become placeholders. Threads' creation and
//! exit are left out (a Go runtime starts a varying number of threads), as
//! are events outside any container and opens that only look a path up
//! (the mounts they prepare are compared); an open's descriptor number is
//! a placeholder. A mount target or source named through a descriptor
//! (`/proc/self/fd/9`, a dirfd) counts, and shows, as the path it resolves
//! to, as `report` resolves it.
//!
//! Containers are matched by the order they started in. Within a
//! container, each process's events are aligned in time order (a Myers
//! diff of the normalised events): the order of events within one process
//! is its program's, while different processes interleave by chance, and
//! which phase an event at a phase boundary falls in depends on the order
//! the CPUs' records arrived in. Each change is shown under its phase.
//! Capability checks count by what was checked, not how often. Phase
//! durations are compared separately, against a threshold.

use std::{
    collections::{BTreeMap, HashMap},
    sync::Arc,
};

use cradle_events::{Detail, Event, collector::Phase, timefmt::duration};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use similar::{Algorithm, DiffOp, capture_diff_slices};

use crate::{build::NamedPaths, load::LoadedTrace};

/// How to compare.
#[derive(Clone, Debug)]
pub struct DiffOptions {
    /// Event fields or event kinds to leave out of the comparison.
    pub ignore: Vec<String>,
    /// A phase duration counts as changed when it differs by more than this
    /// ratio of the longer one...
    pub duration_ratio: f64,
    /// ...and by more than this many nanoseconds.
    pub duration_floor_ns: u64,
    /// Whether changed durations make the traces different (otherwise they
    /// are reported only: timing varies with the machine's load).
    pub check_durations: bool,
}

impl Default for DiffOptions {
    fn default() -> Self {
        DiffOptions {
            ignore: Vec::new(),
            duration_ratio: 0.5,
            duration_floor_ns: 5_000_000,
            check_durations: false,
        }
    }
}

/// One side of a compared event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Side {
    /// The event's line in its trace file.
    pub line: u64,
    /// The event in strace form, as recorded, and the paths it named
    /// through file descriptors as they resolve (`target -> /rootfs/mnt`).
    pub text: String,
    /// The normalised fields that were compared.
    pub fields: BTreeMap<String, Value>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// Only in B.
    Added,
    /// Only in A.
    Removed,
    /// At the same place in both, of the same kind, with other fields.
    Changed,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct EventChange {
    pub change: ChangeKind,
    pub phase: Phase,
    /// The acting process's label.
    pub process: String,
    pub kind: String,
    pub a: Option<Side>,
    pub b: Option<Side>,
    /// For `changed`: the fields that differ.
    pub fields: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DurationChange {
    pub phase: Phase,
    pub a_ns: Option<u64>,
    pub b_ns: Option<u64>,
    /// Beyond the threshold (or the phase is missing on one side).
    pub beyond_threshold: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ContainerDiff {
    /// The container's start order in both traces.
    pub index: usize,
    pub a_id: Option<String>,
    pub b_id: Option<String>,
    pub a_runtime: Option<String>,
    pub b_runtime: Option<String>,
    pub events: Vec<EventChange>,
    pub durations: Vec<DurationChange>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DiffReport {
    pub a: String,
    pub b: String,
    /// No event added, removed or changed (and, with duration checking, no
    /// phase duration beyond the threshold).
    pub equivalent: bool,
    pub added: usize,
    pub removed: usize,
    pub changed: usize,
    pub durations_changed: usize,
    pub containers: Vec<ContainerDiff>,
}

/// A normalised event, ready to compare.
#[derive(Clone, Debug)]
struct Normal {
    index: usize,
    phase: Phase,
    process: Arc<str>,
    kind: &'static str,
    /// Equal for events whose kind and normalised fields are equal: an
    /// interned key (see [`Keys`]).
    key: u32,
}

/// One container's normalised events, with the normaliser that made them:
/// it rebuilds an event's fields when a change shows them.
struct NormalContainer<'t> {
    normaliser: Normaliser<'t>,
    events: Vec<Normal>,
}

impl<'t> NormalContainer<'t> {
    /// The normaliser and the events apart: the events are read while the
    /// normaliser rebuilds fields.
    fn split<'c>(
        container: Option<&'c mut NormalContainer<'t>>,
    ) -> (Option<&'c mut Normaliser<'t>>, &'c [Normal]) {
        match container {
            Some(NormalContainer { normaliser, events }) => (Some(normaliser), events),
            None => (None, &[]),
        }
    }
}

/// Exact comparison keys, interned: an event's kind and normalised fields
/// serialised into one byte string, numbered by first appearance. Equal
/// bytes get the same number, so aligning compares numbers, and only the
/// distinct keys (a few thousand among 100,000 events) are kept.
#[derive(Default)]
struct Keys {
    ids: HashMap<Box<[u8]>, u32>,
}

impl Keys {
    fn intern(&mut self, bytes: &[u8]) -> u32 {
        if let Some(&id) = self.ids.get(bytes) {
            return id;
        }
        let id = u32::try_from(self.ids.len()).expect("fewer than 2^32 distinct keys");
        self.ids.insert(bytes.into(), id);
        id
    }

    /// Moves `other`'s keys into these: for each of its ids, the id here.
    fn absorb(&mut self, other: Keys) -> Vec<u32> {
        let mut translated = vec![0; other.ids.len()];
        for (bytes, id) in other.ids {
            translated[id as usize] = self.intern(&bytes);
        }
        translated
    }
}

pub fn diff(a: &LoadedTrace, b: &LoadedTrace, options: &DiffOptions) -> DiffReport {
    // The two traces are normalised on two threads: they are independent.
    let ((mut normal_a, mut keys), (mut normal_b, keys_b)) = std::thread::scope(|scope| {
        let other = scope.spawn(|| normalise_all(b, options));
        let mine = normalise_all(a, options);
        (mine, other.join().expect("normalising does not panic"))
    });
    let translated = keys.absorb(keys_b);
    for event in normal_b.iter_mut().flat_map(|c| &mut c.events) {
        event.key = translated[event.key as usize];
    }
    let count = normal_a.len().max(normal_b.len());
    let mut containers = Vec::new();
    for index in 0..count {
        let events = align(a, b, normal_a.get_mut(index), normal_b.get_mut(index));
        containers.push(ContainerDiff {
            index,
            a_id: a.containers.get(index).map(|c| c.id.to_string()),
            b_id: b.containers.get(index).map(|c| c.id.to_string()),
            a_runtime: a.containers.get(index).map(|c| c.runtime.clone()),
            b_runtime: b.containers.get(index).map(|c| c.runtime.clone()),
            events,
            durations: durations(a, b, index, options),
        });
    }
    let all = || containers.iter().flat_map(|c| &c.events);
    let count_of = |kind| all().filter(|e| e.change == kind).count();
    let (added, removed, changed) =
        (count_of(ChangeKind::Added), count_of(ChangeKind::Removed), count_of(ChangeKind::Changed));
    let durations_changed =
        containers.iter().flat_map(|c| &c.durations).filter(|d| d.beyond_threshold).count();
    let same_containers = a.containers.len() == b.containers.len();
    DiffReport {
        a: a.path.display().to_string(),
        b: b.path.display().to_string(),
        equivalent: same_containers
            && added + removed + changed == 0
            && (!options.check_durations || durations_changed == 0),
        added,
        removed,
        changed,
        durations_changed,
        containers,
    }
}

fn durations(
    a: &LoadedTrace,
    b: &LoadedTrace,
    index: usize,
    options: &DiffOptions,
) -> Vec<DurationChange> {
    let phase_durations = |trace: &LoadedTrace| -> BTreeMap<Phase, u64> {
        let Some(container) = trace.containers.get(index) else { return BTreeMap::new() };
        let marks = &container.phases;
        marks
            .windows(2)
            .map(|pair| (pair[0].phase, pair[1].ts_ns.saturating_sub(pair[0].ts_ns)))
            .collect()
    };
    let (da, db) = (phase_durations(a), phase_durations(b));
    Phase::ALL
        .iter()
        .filter(|phase| da.contains_key(phase) || db.contains_key(phase))
        .map(|&phase| {
            let (a_ns, b_ns) = (da.get(&phase).copied(), db.get(&phase).copied());
            let beyond_threshold = match (a_ns, b_ns) {
                (Some(x), Some(y)) => {
                    let delta = x.abs_diff(y);
                    delta > options.duration_floor_ns
                        && delta as f64 > options.duration_ratio * x.max(y) as f64
                }
                _ => true,
            };
            DurationChange { phase, a_ns, b_ns, beyond_threshold }
        })
        .collect()
}

/// Aligns two containers' normalised events, per phase and process.
fn align(
    a: &LoadedTrace,
    b: &LoadedTrace,
    side_a: Option<&mut NormalContainer>,
    side_b: Option<&mut NormalContainer>,
) -> Vec<EventChange> {
    let ((mut normaliser_a, events_a), (mut normaliser_b, events_b)) =
        (NormalContainer::split(side_a), NormalContainer::split(side_b));
    let mut groups: BTreeMap<&str, (Vec<&Normal>, Vec<&Normal>)> = BTreeMap::new();
    for event in events_a {
        groups.entry(&event.process).or_default().0.push(event);
    }
    for event in events_b {
        groups.entry(&event.process).or_default().1.push(event);
    }
    // Fields are rebuilt only for the events a change shows.
    let side = |trace: &LoadedTrace, normaliser: &mut Option<&mut Normaliser>, event: &Normal| {
        let normaliser = normaliser.as_mut().expect("an event has its container's normaliser");
        Side {
            line: trace.lines[event.index],
            text: normaliser.described(&trace.events[event.index], event.index),
            fields: normaliser.fields(&trace.events[event.index], event.index),
        }
    };
    let mut changes = Vec::new();
    let mut change = |kind, a_event: Option<&Normal>, b_event: Option<&Normal>| {
        let any = a_event.or(b_event).expect("one side");
        let a_side = a_event.map(|e| side(a, &mut normaliser_a, e));
        let b_side = b_event.map(|e| side(b, &mut normaliser_b, e));
        let fields = match (&a_side, &b_side) {
            (Some(x), Some(y)) => {
                let mut names: Vec<String> = x
                    .fields
                    .iter()
                    .filter(|(name, value)| y.fields.get(*name) != Some(value))
                    .map(|(name, _)| name.clone())
                    .collect();
                names.extend(y.fields.keys().filter(|n| !x.fields.contains_key(*n)).cloned());
                names
            }
            _ => Vec::new(),
        };
        changes.push(EventChange {
            change: kind,
            phase: any.phase,
            process: any.process.to_string(),
            kind: any.kind.to_string(),
            a: a_side,
            b: b_side,
            fields,
        });
    };
    for (old, new) in groups.values() {
        let old_keys: Vec<u32> = old.iter().map(|e| e.key).collect();
        let new_keys: Vec<u32> = new.iter().map(|e| e.key).collect();
        for op in capture_diff_slices(Algorithm::Myers, &old_keys, &new_keys) {
            let (removed, added) = match op {
                DiffOp::Equal { .. } => continue,
                DiffOp::Delete { old_index, old_len, .. } => (old_index..old_index + old_len, 0..0),
                DiffOp::Insert { new_index, new_len, .. } => (0..0, new_index..new_index + new_len),
                DiffOp::Replace { old_index, old_len, new_index, new_len } => {
                    (old_index..old_index + old_len, new_index..new_index + new_len)
                }
            };
            // Pair replaced events of the same kind, in order, as changes.
            let mut added: Vec<usize> = added.collect();
            for i in removed {
                match added.iter().position(|&j| new[j].kind == old[i].kind) {
                    Some(at) => {
                        let j = added.remove(at);
                        change(ChangeKind::Changed, Some(old[i]), Some(new[j]));
                    }
                    None => change(ChangeKind::Removed, Some(old[i]), None),
                }
            }
            for j in added {
                change(ChangeKind::Added, None, Some(new[j]));
            }
        }
    }
    changes.sort_by_key(|c| c.phase);
    changes
}

/// Per-trace context for normalising one container's events.
struct Normaliser<'t> {
    labels: HashMap<u32, Arc<str>>,
    namespaces: HashMap<u32, String>,
    /// Literal strings to replace, longest first.
    replacements: Vec<(String, &'static str)>,
    /// The bundle as the runtime was given it (maybe relative): replaced
    /// where a whole string is it.
    bundle_arg: Option<String>,
    ignore: &'t [String],
    /// The paths events named through file descriptors (`mount(...,
    /// "/proc/self/fd/9")`), resolved as `report` resolves them, by event
    /// index: compared and shown by the path, not the descriptor.
    named: HashMap<usize, NamedPaths>,
}

/// Every container's normalised events, and their keys.
fn normalise_all<'t>(
    trace: &LoadedTrace,
    options: &'t DiffOptions,
) -> (Vec<NormalContainer<'t>>, Keys) {
    // The host's events, by process: a runtime's first events may be among them.
    let mut host: HashMap<u32, Vec<usize>> = HashMap::new();
    for (index, event) in trace.events.iter().enumerate() {
        if event.owner.is_none() {
            host.entry(event.tgid).or_default().push(index);
        }
    }
    let mut keys = Keys::default();
    let containers = trace
        .events_by_container()
        .iter()
        .enumerate()
        .map(|(index, events)| normalise(trace, index, events, &host, options, &mut keys))
        .collect();
    (containers, keys)
}

fn normalise<'t>(
    trace: &LoadedTrace,
    index: usize,
    events: &[usize],
    host: &HashMap<u32, Vec<usize>>,
    options: &'t DiffOptions,
    keys: &mut Keys,
) -> NormalContainer<'t> {
    let mut order: Vec<usize> = events.to_vec();
    // The runtime's events between its exec's entry and the exec's joined
    // record arrive as the host's or the container's by chance: take them.
    if let Some(container) = trace.containers.get(index) {
        let start = container.phases.first().map_or(0, |mark| mark.ts_ns);
        let runtime_events = host.get(&container.runtime_pid).map_or(&[][..], Vec::as_slice);
        order.extend(runtime_events.iter().filter(|&&i| trace.events[i].ts_ns >= start));
    }
    order.sort_by_key(|&i| trace.events[i].ts_ns);
    let mut normaliser = Normaliser {
        labels: HashMap::new(),
        namespaces: HashMap::new(),
        replacements: Vec::new(),
        bundle_arg: trace.containers.get(index).and_then(|c| c.bundle.clone()),
        ignore: &options.ignore,
        named: NamedPaths::of_events(&order, &trace.events),
    };
    // Processes are labelled by their first role and their rank in it.
    let mut per_role: HashMap<String, usize> = HashMap::new();
    for &i in &order {
        let event = &trace.events[i];
        if normaliser.labels.contains_key(&event.tgid) {
            continue;
        }
        let role = event.owner.as_ref().map_or("runtime".to_string(), |o| {
            serde_json::to_value(o.role)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default()
        });
        let rank = per_role.entry(role.clone()).or_default();
        *rank += 1;
        normaliser.labels.insert(event.tgid, format!("{role}.{rank}").into());
    }
    if let Some(container) = trace.containers.get(index) {
        if container.id.len() >= 2 {
            normaliser.replacements.push((container.id.to_string(), "<id>"));
        }
        if let Some(rootfs) = rootfs_of(trace, &order) {
            if let Some((bundle, _)) = rootfs.rsplit_once('/').filter(|(b, _)| !b.is_empty()) {
                normaliser.replacements.push((bundle.to_string(), "<bundle>"));
            }
            normaliser.replacements.push((rootfs, "<rootfs>"));
        }
    }
    normaliser.replacements.sort_by_key(|(text, _)| std::cmp::Reverse(text.len()));
    let mut checks_seen = std::collections::HashSet::new();
    let mut bytes = Vec::new();
    let events = order
        .into_iter()
        .filter(|&i| !left_out(&trace.events[i]))
        .filter_map(|i| normaliser.event(trace, i, keys, &mut bytes))
        // Capability checks count by what was checked, not how often: the
        // kernel repeats some depending on caches and timing.
        .filter(|e| e.kind != "cap_capable" || checks_seen.insert((e.process.clone(), e.key)))
        .collect();
    NormalContainer { normaliser, events }
}

/// The source of the first bind of a path onto itself: the rootfs.
fn rootfs_of(trace: &LoadedTrace, events: &[usize]) -> Option<String> {
    events.iter().find_map(|&i| match &trace.events[i].detail {
        Detail::Mount { source: Some(s), target: Some(t), flags, ret: 0, .. }
            if s == t && flags & 4096 != 0 && s.len() > 1 =>
        {
            Some(s.clone())
        }
        _ => None,
    })
}

/// Events that differ between runs by nature: threads' creation and exit,
/// and exec results not joined to their exec. Also opens that only look a
/// path up (O_PATH, directories): a runtime takes such a descriptor for
/// each mount target, so they follow the mounts, which are compared.
fn left_out(event: &Event) -> bool {
    const CLONE_THREAD: u64 = 0x1_0000;
    match &event.detail {
        Detail::TaskNew { clone_flags, .. } => clone_flags & CLONE_THREAD != 0,
        Detail::TaskExit { .. } => event.pid != event.tgid,
        Detail::ExecResult { .. } => true,
        Detail::Open { .. } => !event.detail.opens_for_writing(),
        _ => false,
    }
}

/// The fields of a mount-family event that name its source and its
/// target (either may be through a descriptor: `/proc/self/fd/N`, or a
/// path relative to a dirfd).
fn path_fields(detail: &Detail) -> (Option<&'static str>, Option<&'static str>) {
    match detail {
        Detail::Mount { .. } => (Some("source"), Some("target")),
        Detail::MoveMount { .. } => (Some("from_path"), Some("to_path")),
        Detail::OpenTree { .. } => (Some("path"), None),
        Detail::MountSetattr { .. } | Detail::Mknod { .. } => (None, Some("path")),
        _ => (None, None),
    }
}

/// The path a mount-family event's field holds, as the call gave it.
fn named_value<'e>(detail: &'e Detail, field: &str) -> Option<&'e str> {
    match (detail, field) {
        (Detail::Mount { source, .. }, "source") => source.as_deref(),
        (Detail::Mount { target, .. }, "target") => target.as_deref(),
        (Detail::MoveMount { from_path, .. }, "from_path") => from_path.as_deref(),
        (Detail::MoveMount { to_path, .. }, "to_path") => to_path.as_deref(),
        (Detail::OpenTree { path, .. }, "path")
        | (Detail::MountSetattr { path, .. }, "path")
        | (Detail::Mknod { path, .. }, "path") => path.as_deref(),
        _ => None,
    }
}

/// Fields holding a pid, replaced by the process's label.
const PID_FIELDS: &[&str] = &["child_pid", "child_tgid", "target_pid", "netns_pid", "old_pid"];
/// Fields holding a file descriptor: numbered by what else the process
/// holds open, which differs between runs (a Go runtime's threads).
const FD_FIELDS: &[&str] = &["dirfd"];
/// Fields dropped: they differ on every run (cgroup ids, interface
/// indexes), or with what the kernel allows rather than with what the
/// bundle does (which hook read a namespace record).
const DROPPED_FIELDS: &[&str] = &["new_cgroup_id", "dst_cgroup_id", "ifindex", "hook"];

impl Normaliser<'_> {
    /// Event `index` normalised, its key interned in `keys` (`bytes` is
    /// scratch space, reused between events).
    fn event(
        &mut self,
        trace: &LoadedTrace,
        index: usize,
        keys: &mut Keys,
        bytes: &mut Vec<u8>,
    ) -> Option<Normal> {
        let event = &trace.events[index];
        let kind = event.detail.kind_name();
        if self.ignore.iter().any(|i| i == kind) {
            return None;
        }
        bytes.clear();
        bytes.extend_from_slice(kind.as_bytes());
        self.each_field(event, index, |name, value| {
            bytes.push(b' ');
            bytes.extend_from_slice(name.as_bytes());
            bytes.push(b'=');
            // Writing JSON into a Vec cannot fail.
            let _ = serde_json::to_writer(&mut *bytes, &value);
        });
        Some(Normal {
            index,
            phase: event.owner.as_ref().map_or(Phase::RuntimeStart, |o| o.phase),
            process: self.labels.get(&event.tgid).cloned().unwrap_or_else(|| "?".into()),
            kind,
            key: keys.intern(bytes),
        })
    }

    /// The event as strace would show it, then each path it named through
    /// a descriptor, as it resolves.
    fn described(&self, event: &Event, index: usize) -> String {
        let mut text = event.describe();
        let (source_field, target_field) = path_fields(&event.detail);
        let named = self.named.get(&index);
        for (field, resolved) in [
            (source_field, named.and_then(|n| n.source.as_ref())),
            (target_field, named.and_then(|n| n.target.as_ref())),
        ] {
            if let (Some(field), Some(resolved)) = (field, resolved)
                && named_value(&event.detail, field).is_some_and(|given| given != *resolved)
            {
                text.push_str(&format!(" [{field} -> {resolved}]"));
            }
        }
        text
    }

    /// The normalised fields that were compared, by name.
    fn fields(&mut self, event: &Event, index: usize) -> BTreeMap<String, Value> {
        let mut fields = BTreeMap::new();
        self.each_field(event, index, |name, value| {
            fields.insert(name.to_string(), value);
        });
        fields
    }

    /// Calls `field` with each compared field of `event`, normalised: the
    /// detail's fields in name order, then the namespaces and `comm`.
    fn each_field(&mut self, event: &Event, index: usize, mut field: impl FnMut(&str, Value)) {
        let opens = matches!(event.detail, Detail::Open { .. });
        let (source_field, target_field) = path_fields(&event.detail);
        let (source, target) = match self.named.get(&index) {
            Some(named) if source_field.or(target_field).is_some() => {
                (named.source.clone(), named.target.clone())
            }
            _ => (None, None),
        };
        let resolved = |name: &str| {
            if Some(name) == source_field {
                source.clone()
            } else if Some(name) == target_field {
                target.clone()
            } else {
                None
            }
        };
        if let Ok(Value::Object(detail)) = serde_json::to_value(&event.detail)
            && let Some(Value::Object(inner)) = detail.into_iter().next().map(|(_, v)| v)
        {
            for (name, value) in inner {
                if DROPPED_FIELDS.contains(&name.as_str()) || self.ignored(&name) {
                    continue;
                }
                // A path named through a descriptor counts as the path.
                let value = match resolved(&name) {
                    Some(path) => Value::String(path),
                    None => value,
                };
                // An open's result is a descriptor number (see FD_FIELDS).
                let value = if opens && name == "ret" && value.as_i64().is_some_and(|fd| fd >= 0) {
                    Value::String("<fd>".into())
                } else {
                    self.value(&name, value)
                };
                field(&name, value);
            }
        }
        for (name, inum) in [("mnt_ns", event.mnt_ns), ("pid_ns", event.pid_ns)] {
            if !self.ignored(name) {
                field(name, Value::String(self.namespace(name, inum)));
            }
        }
        if !self.ignored("comm") {
            field("comm", Value::String(self.text(event.comm.clone())));
        }
    }

    fn ignored(&self, field: &str) -> bool {
        self.ignore.iter().any(|i| i == field)
    }

    fn namespace(&mut self, kind: &str, inum: u32) -> String {
        if inum == 0 {
            return "0".into();
        }
        let next = self.namespaces.len() + 1;
        let kind = kind.trim_end_matches("_ns");
        self.namespaces.entry(inum).or_insert_with(|| format!("{kind}#{next}")).clone()
    }

    fn value(&mut self, name: &str, value: Value) -> Value {
        match value {
            Value::Number(n) if PID_FIELDS.contains(&name) => {
                // Event fields hold u32 pids; anything else has no label.
                let pid = n.as_u64().and_then(|pid| u32::try_from(pid).ok());
                Value::String(
                    pid.and_then(|pid| self.labels.get(&pid))
                        .map_or("<pid>".into(), |l| l.to_string()),
                )
            }
            Value::Number(n)
                if FD_FIELDS.contains(&name) && n.as_i64().is_some_and(|fd| fd >= 0) =>
            {
                Value::String("<fd>".into())
            }
            // A namespace set, or a link's network namespace.
            Value::Object(map) if name == "namespaces" => Value::Object(
                map.into_iter()
                    .map(|(kind, v)| {
                        let inum = v.as_u64().and_then(|n| u32::try_from(n).ok()).unwrap_or(0);
                        let placeholder = self.namespace(&kind, inum);
                        (kind, Value::String(placeholder))
                    })
                    .collect(),
            ),
            // prctl's arguments are numbers or addresses; addresses move
            // with every run (ASLR).
            Value::Number(n)
                if name.starts_with("arg")
                    && n.as_u64().is_some_and(|v| v > u64::from(u32::MAX)) =>
            {
                Value::String("<address>".into())
            }
            Value::Number(n) if name == "netns" => {
                let inum = n.as_u64().and_then(|n| u32::try_from(n).ok()).unwrap_or(0);
                Value::String(self.namespace("net", inum))
            }
            Value::Object(map) => Value::Object(
                map.into_iter()
                    .map(|(k, v)| {
                        let v = self.value(&k, v);
                        (k, v)
                    })
                    .collect(),
            ),
            Value::Array(items) => {
                Value::Array(items.into_iter().map(|v| self.value(name, v)).collect())
            }
            Value::String(text) => Value::String(self.text(text)),
            other => other,
        }
    }

    /// A string with ids, the rootfs, the bundle and temporary names
    /// replaced (most strings have none: they are returned as they are).
    fn text(&self, mut text: String) -> String {
        if self.bundle_arg.as_deref() == Some(text.as_str()) {
            return "<bundle>".into();
        }
        for (literal, placeholder) in &self.replacements {
            if text.contains(literal.as_str()) {
                text = text.replace(literal.as_str(), placeholder);
            }
        }
        if text.contains('/') && text.split('/').any(|c| temporary_component(c).is_some()) {
            text = text
                .split('/')
                .map(|c| temporary_component(c).unwrap_or_else(|| c.to_string()))
                .collect::<Vec<_>>()
                .join("/");
        }
        text
    }
}

/// A path component with its random part replaced: `runc.sNHGTi` ->
/// `runc.<tmp>`, `.tmpAb12Cd` -> `.tmp<tmp>`, 16+ hex digits -> `<hex>`,
/// a numbered temporary file (`state.tmp-13454`, runc's `state-818586219`)
/// -> `state.tmp-<tmp>`; `None` when it has none.
fn temporary_component(component: &str) -> Option<String> {
    if component.len() >= 16 && component.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Some("<hex>".into());
    }
    if let Some(rest) = component.strip_prefix(".tmp")
        && rest.len() >= 6
        && rest.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        return Some(".tmp<tmp>".into());
    }
    if let Some(at) = component.rfind(['.', '-']) {
        let (stem, suffix) = (&component[..=at], &component[at + 1..]);
        let mixed = suffix.bytes().any(|b| b.is_ascii_digit())
            || (suffix.bytes().any(|b| b.is_ascii_uppercase())
                && suffix.bytes().any(|b| b.is_ascii_lowercase()));
        // runc's copy of itself is always `runc.` and six random letters.
        let random = suffix.len() == 6
            && suffix.bytes().all(|b| b.is_ascii_alphanumeric())
            && (mixed || stem == "runc.");
        // A temporary file named by a pid (`state.tmp-981`) has as few
        // digits as the pid; otherwise four or more (runc's `state-NNN`).
        let temporary_stem = stem.ends_with("tmp-") || stem.ends_with("tmp.");
        let numbered = (suffix.len() >= 4 || (temporary_stem && !suffix.is_empty()))
            && suffix.bytes().all(|b| b.is_ascii_digit());
        if (random || numbered) && !stem.is_empty() {
            return Some(format!("{stem}<tmp>"));
        }
    }
    None
}

/// The diff for people.
pub fn render_text(report: &DiffReport) -> String {
    // Every line escaped: names and calls come from the trace files.
    cradle_events::printable::printable_lines(&render_text_raw(report)).into_owned()
}

fn render_text_raw(report: &DiffReport) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(out, "--- A {}\n+++ B {}", report.a, report.b);
    for c in &report.containers {
        let name = |id: &Option<String>, runtime: &Option<String>| match (id, runtime) {
            (Some(id), Some(runtime)) => format!("{id} ({runtime})"),
            _ => "(none)".into(),
        };
        let _ = writeln!(
            out,
            "\ncontainer {}: A {} / B {}",
            c.index,
            name(&c.a_id, &c.a_runtime),
            name(&c.b_id, &c.b_runtime)
        );
        let mut phase = None;
        for e in &c.events {
            if phase != Some(e.phase) {
                phase = Some(e.phase);
                let _ = writeln!(out, "  @@ {} @@", e.phase.name());
            }
            match (e.change, &e.a, &e.b) {
                (ChangeKind::Added, _, Some(b)) => {
                    let _ = writeln!(out, "  + {:<16} {}  (B line {})", e.process, b.text, b.line);
                }
                (ChangeKind::Removed, Some(a), _) => {
                    let _ = writeln!(out, "  - {:<16} {}  (A line {})", e.process, a.text, a.line);
                }
                (ChangeKind::Changed, Some(a), Some(b)) => {
                    let _ = writeln!(out, "  ~ {:<16} {}  (A line {})", e.process, a.text, a.line);
                    let _ = writeln!(out, "    {:<16} {}  (B line {})", "", b.text, b.line);
                    for field in &e.fields {
                        let show = |side: &Side| {
                            side.fields.get(field).map_or("(absent)".into(), Value::to_string)
                        };
                        let _ = writeln!(out, "    {:<16} {field}: {} -> {}", "", show(a), show(b));
                    }
                }
                _ => {}
            }
        }
        let moved: Vec<&DurationChange> =
            c.durations.iter().filter(|d| d.beyond_threshold).collect();
        if !moved.is_empty() {
            let _ = writeln!(out, "  phase durations beyond the threshold:");
            let ms = |ns: Option<u64>| ns.map_or("-".into(), duration);
            for d in moved {
                let _ =
                    writeln!(out, "    {:<22} {} -> {}", d.phase.name(), ms(d.a_ns), ms(d.b_ns));
            }
        }
    }
    let verdict = if report.equivalent { "equivalent" } else { "different" };
    let _ = writeln!(
        out,
        "\n{verdict}: {} added, {} removed, {} changed, {} phase durations beyond the threshold",
        report.added, report.removed, report.changed, report.durations_changed
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_components_are_recognised() {
        let replaced = |c| temporary_component(c).unwrap_or_else(|| c.to_string());
        assert_eq!(replaced("runc.sNHGTi"), "runc.<tmp>");
        assert_eq!(replaced("runc.4og8ox"), "runc.<tmp>");
        assert_eq!(replaced("runc.abcdef"), "runc.<tmp>");
        assert_eq!(replaced(".tmpAb12Cd"), ".tmp<tmp>");
        assert_eq!(replaced("4040cedf2c06a4bc9b1f97a654a822a8"), "<hex>");
        assert_eq!(replaced("rootfs"), "rootfs");
        assert_eq!(replaced("ld-linux"), "ld-linux");
        assert_eq!(replaced("config.json"), "config.json");
        assert_eq!(replaced("state.tmp-13454"), "state.tmp-<tmp>");
        assert_eq!(replaced("state.tmp-981"), "state.tmp-<tmp>", "a low pid");
        assert_eq!(replaced("v1.2"), "v1.2");
        assert_eq!(replaced("state-818586219"), "state-<tmp>");
        assert_eq!(replaced("libc.so.6"), "libc.so.6");
    }
}
