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
//! a placeholder.
//!
//! Containers are matched by the order they started in. Within a
//! container, each process's events are aligned in time order (a Myers
//! diff of the normalised events): the order of events within one process
//! is its program's, while different processes interleave by chance, and
//! which phase an event at a phase boundary falls in depends on the order
//! the CPUs' records arrived in. Each change is shown under its phase.
//! Capability checks count by what was checked, not how often. Phase
//! durations are compared separately, against a threshold.

use std::collections::{BTreeMap, HashMap};

use cradle_probes::{Detail, Event, collector::Phase};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use similar::{Algorithm, DiffOp, capture_diff_slices};

use crate::load::LoadedTrace;

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
    /// The event in strace form, as recorded.
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
    process: String,
    kind: &'static str,
    fields: BTreeMap<String, Value>,
    /// `kind` and `fields` as one string: what equality means.
    key: String,
}

pub fn diff(a: &LoadedTrace, b: &LoadedTrace, options: &DiffOptions) -> DiffReport {
    // The two traces are normalised on two threads: they are independent.
    let (normal_a, normal_b) = std::thread::scope(|scope| {
        let other = scope.spawn(|| normalise_all(b, options));
        let mine = normalise_all(a, options);
        (mine, other.join().expect("normalising does not panic"))
    });
    let count = normal_a.len().max(normal_b.len());
    let mut containers = Vec::new();
    for index in 0..count {
        let side_a = normal_a.get(index).map(Vec::as_slice).unwrap_or(&[]);
        let side_b = normal_b.get(index).map(Vec::as_slice).unwrap_or(&[]);
        let events = align(a, b, side_a, side_b);
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
    side_a: &[Normal],
    side_b: &[Normal],
) -> Vec<EventChange> {
    let mut groups: BTreeMap<&str, (Vec<&Normal>, Vec<&Normal>)> = BTreeMap::new();
    for event in side_a {
        groups.entry(&event.process).or_default().0.push(event);
    }
    for event in side_b {
        groups.entry(&event.process).or_default().1.push(event);
    }
    let side = |trace: &LoadedTrace, event: &Normal| Side {
        line: trace.lines[event.index],
        text: trace.events[event.index].describe(),
        fields: event.fields.clone(),
    };
    let change = |kind, a_event: Option<&Normal>, b_event: Option<&Normal>| {
        let any = a_event.or(b_event).expect("one side");
        let fields = match (a_event, b_event) {
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
        EventChange {
            change: kind,
            phase: any.phase,
            process: any.process.clone(),
            kind: any.kind.to_string(),
            a: a_event.map(|e| side(a, e)),
            b: b_event.map(|e| side(b, e)),
            fields,
        }
    };
    let mut changes = Vec::new();
    for (old, new) in groups.values() {
        let old_keys: Vec<&str> = old.iter().map(|e| e.key.as_str()).collect();
        let new_keys: Vec<&str> = new.iter().map(|e| e.key.as_str()).collect();
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
                        changes.push(change(ChangeKind::Changed, Some(old[i]), Some(new[j])));
                    }
                    None => changes.push(change(ChangeKind::Removed, Some(old[i]), None)),
                }
            }
            for j in added {
                changes.push(change(ChangeKind::Added, None, Some(new[j])));
            }
        }
    }
    changes.sort_by_key(|c| c.phase);
    changes
}

/// Per-trace context for normalising one container's events.
struct Normaliser<'t> {
    labels: HashMap<u32, String>,
    namespaces: HashMap<u32, String>,
    /// Literal strings to replace, longest first.
    replacements: Vec<(String, &'static str)>,
    /// The bundle as the runtime was given it (maybe relative): replaced
    /// where a whole string is it.
    bundle_arg: Option<String>,
    ignore: &'t [String],
}

/// Every container's normalised events.
fn normalise_all(trace: &LoadedTrace, options: &DiffOptions) -> Vec<Vec<Normal>> {
    // The host's events, by process: a runtime's first events may be among them.
    let mut host: HashMap<u32, Vec<usize>> = HashMap::new();
    for (index, event) in trace.events.iter().enumerate() {
        if event.owner.is_none() {
            host.entry(event.tgid).or_default().push(index);
        }
    }
    trace
        .events_by_container()
        .iter()
        .enumerate()
        .map(|(index, events)| normalise(trace, index, events, &host, options))
        .collect()
}

fn normalise(
    trace: &LoadedTrace,
    index: usize,
    events: &[usize],
    host: &HashMap<u32, Vec<usize>>,
    options: &DiffOptions,
) -> Vec<Normal> {
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
        normaliser.labels.insert(event.tgid, format!("{role}.{rank}"));
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
    order
        .into_iter()
        .filter(|&i| !left_out(&trace.events[i]))
        .filter_map(|i| normaliser.event(trace, i))
        // Capability checks count by what was checked, not how often: the
        // kernel repeats some depending on caches and timing.
        .filter(|e| {
            e.kind != "cap_capable" || checks_seen.insert((e.process.clone(), e.key.clone()))
        })
        .collect()
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

/// Fields holding a pid, replaced by the process's label.
const PID_FIELDS: &[&str] = &["child_pid", "child_tgid", "target_pid", "netns_pid", "old_pid"];
/// Fields holding a file descriptor: numbered by what else the process
/// holds open, which differs between runs (a Go runtime's threads).
const FD_FIELDS: &[&str] = &["dirfd"];
/// Fields dropped: they differ on every run.
const DROPPED_FIELDS: &[&str] = &["new_cgroup_id", "dst_cgroup_id"];

impl Normaliser<'_> {
    fn event(&mut self, trace: &LoadedTrace, index: usize) -> Option<Normal> {
        let event = &trace.events[index];
        let kind = event.detail.kind_name();
        if self.ignore.iter().any(|i| i == kind) {
            return None;
        }
        let phase = event.owner.as_ref().map_or(Phase::RuntimeStart, |o| o.phase);
        let mut fields = BTreeMap::new();
        if let Ok(Value::Object(detail)) = serde_json::to_value(&event.detail)
            && let Some(Value::Object(inner)) = detail.into_iter().next().map(|(_, v)| v)
        {
            for (name, value) in inner {
                if DROPPED_FIELDS.contains(&name.as_str()) || self.ignored(&name) {
                    continue;
                }
                let value = self.value(&name, value);
                fields.insert(name, value);
            }
        }
        // An open's result is a descriptor number (see FD_FIELDS).
        if kind == "open"
            && let Some(ret) = fields.get_mut("ret")
            && ret.as_i64().is_some_and(|fd| fd >= 0)
        {
            *ret = Value::String("<fd>".into());
        }
        for (name, inum) in [("mnt_ns", event.mnt_ns), ("pid_ns", event.pid_ns)] {
            if !self.ignored(name) {
                fields.insert(name.into(), Value::String(self.namespace(name, inum)));
            }
        }
        if !self.ignored("comm") {
            fields.insert("comm".into(), Value::String(self.text(&event.comm)));
        }
        let key = format!("{kind} {}", serde_json::to_string(&fields).unwrap_or_default());
        Some(Normal {
            index,
            phase,
            process: self.labels.get(&event.tgid).cloned().unwrap_or_else(|| "?".into()),
            kind,
            fields,
            key,
        })
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
                let pid = n.as_u64().unwrap_or(0) as u32;
                Value::String(self.labels.get(&pid).cloned().unwrap_or_else(|| "<pid>".into()))
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
                        let inum = v.as_u64().unwrap_or(0) as u32;
                        let placeholder = self.namespace(&kind, inum);
                        (kind, Value::String(placeholder))
                    })
                    .collect(),
            ),
            // prctl's arguments are numbers or addresses; addresses move
            // with every run (ASLR).
            Value::Number(n)
                if name.starts_with("arg") && n.as_u64().is_some_and(|v| v > u32::MAX as u64) =>
            {
                Value::String("<address>".into())
            }
            Value::Number(n) if name == "netns" => {
                Value::String(self.namespace("net", n.as_u64().unwrap_or(0) as u32))
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
            Value::String(text) => Value::String(self.text(&text)),
            other => other,
        }
    }

    /// A string with ids, the rootfs, the bundle and temporary names
    /// replaced.
    fn text(&self, text: &str) -> String {
        if self.bundle_arg.as_deref() == Some(text) {
            return "<bundle>".into();
        }
        let mut text = text.to_string();
        for (literal, placeholder) in &self.replacements {
            if text.contains(literal.as_str()) {
                text = text.replace(literal.as_str(), placeholder);
            }
        }
        if text.contains('/') {
            text = text.split('/').map(temporary_component).collect::<Vec<_>>().join("/");
        }
        text
    }
}

/// A path component with its random part replaced: `runc.sNHGTi` ->
/// `runc.<tmp>`, `.tmpAb12Cd` -> `.tmp<tmp>`, 16+ hex digits -> `<hex>`,
/// a numbered temporary file (`state.tmp-13454`, runc's `state-818586219`)
/// -> `state.tmp-<tmp>`.
fn temporary_component(component: &str) -> String {
    if component.len() >= 16 && component.bytes().all(|b| b.is_ascii_hexdigit()) {
        return "<hex>".into();
    }
    if let Some(rest) = component.strip_prefix(".tmp")
        && rest.len() >= 6
        && rest.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        return ".tmp<tmp>".into();
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
        let numbered = suffix.len() >= 4 && suffix.bytes().all(|b| b.is_ascii_digit());
        if (random || numbered) && !stem.is_empty() {
            return format!("{stem}<tmp>");
        }
    }
    component.to_string()
}

/// The diff for people.
pub fn render_text(report: &DiffReport) -> String {
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
            let ms =
                |ns: Option<u64>| ns.map_or("-".into(), |ns| format!("{:.3} ms", ns as f64 / 1e6));
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
        assert_eq!(temporary_component("runc.sNHGTi"), "runc.<tmp>");
        assert_eq!(temporary_component("runc.4og8ox"), "runc.<tmp>");
        assert_eq!(temporary_component("runc.abcdef"), "runc.<tmp>");
        assert_eq!(temporary_component(".tmpAb12Cd"), ".tmp<tmp>");
        assert_eq!(temporary_component("4040cedf2c06a4bc9b1f97a654a822a8"), "<hex>");
        assert_eq!(temporary_component("rootfs"), "rootfs");
        assert_eq!(temporary_component("ld-linux"), "ld-linux");
        assert_eq!(temporary_component("config.json"), "config.json");
        assert_eq!(temporary_component("state.tmp-13454"), "state.tmp-<tmp>");
        assert_eq!(temporary_component("state-818586219"), "state-<tmp>");
        assert_eq!(temporary_component("libc.so.6"), "libc.so.6");
    }
}
