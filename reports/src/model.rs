//! The audit report: what a trace shows of each container's birth (identity,
//! runtime, phases, namespaces, mounts, root switch, privileges, cgroups,
//! network, processes) and the findings the rules draw from it. Every fact
//! cites the events it rests on ([`EventRef`]). The JSON Schema, generated
//! from these types, is `schemas/report.schema.json`; changes are additive.

use std::collections::{BTreeMap, HashMap};

use cradle_probes::{
    Detail, Event, ExitStatus, NamespaceSource, Namespaces,
    abi::AT_FDCWD,
    collector::{Container, IdMappings, Launcher, Phase, Role},
    fd_paths::FdPaths,
    names,
    trace_file::{ProbeAbsence, TraceEnd, TraceMode, Truncation},
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{
    load::LoadedTrace,
    rules::{self, Finding, Severity},
};

/// The `format` every report carries.
pub const FORMAT: &str = "cradle-report";
/// The schema version this build writes. Changes are additive: a reader of
/// version N reads reports of any version up to N.
pub const VERSION: u32 = 1;

/// A reference to one event of the trace. `(cpu, seq)` names the record
/// uniquely within its trace; `line` is the 1-based line number of the
/// event's record in the trace file (the header is line 1). The other
/// fields repeat the event for readers who do not open the trace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct EventRef {
    pub cpu: u32,
    pub seq: u64,
    pub line: u64,
    /// The event kind, as in trace files (`mount`, `capset`, ...).
    pub kind: String,
    /// Nanoseconds since the trace started.
    pub time_ns: u64,
    /// The acting process.
    pub tgid: u32,
    pub comm: String,
    /// The event in strace form.
    pub text: String,
}

/// The report on one trace file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Report {
    /// Always [`FORMAT`].
    pub format: String,
    pub version: u32,
    pub cradle_version: String,
    pub trace: TraceSummary,
    pub containers: Vec<ContainerReport>,
    /// Findings over all containers, per severity.
    pub totals: SeverityCounts,
}

/// Where the report's facts come from, and how complete they are.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TraceSummary {
    pub path: String,
    pub host: String,
    pub kernel: String,
    pub mode: TraceMode,
    pub command: Vec<String>,
    pub started_unix_ns: u64,
    /// Event records in the file.
    pub events: u64,
    /// Events the kernel dropped (ring buffer full). Findings that rest on
    /// the absence of an event (no seccomp, no masked path) are uncertain
    /// when this is not 0.
    pub lost: u64,
    /// `completed` or `interrupted`; absent when the trace has no trailer.
    pub end: Option<TraceEnd>,
    /// Why the file ends early, when it does.
    pub truncated: Option<String>,
    /// Probes the trace ran without: their kinds cannot appear, so
    /// findings that rest on the absence of such an event are uncertain.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unavailable: Vec<ProbeAbsence>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SeverityCounts {
    pub info: usize,
    pub low: usize,
    pub medium: usize,
    pub high: usize,
    pub critical: usize,
}

impl SeverityCounts {
    pub fn add(&mut self, severity: Severity) {
        *match severity {
            Severity::Info => &mut self.info,
            Severity::Low => &mut self.low,
            Severity::Medium => &mut self.medium,
            Severity::High => &mut self.high,
            Severity::Critical => &mut self.critical,
        } += 1;
    }
}

/// Everything the trace shows of one container's birth.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ContainerReport {
    /// Index of the container in its trace (unique even where ids repeat).
    pub index: usize,
    pub id: String,
    pub runtime: RuntimeInfo,
    pub phases: Vec<PhaseReport>,
    pub namespaces: NamespaceReport,
    /// The path of the root filesystem on the host, as the runtime bound it
    /// onto itself before switching root (absent if not seen).
    pub rootfs: Option<String>,
    pub mounts: Vec<MountReport>,
    /// Paths inside the container the runtime looked up before the
    /// workload's exec and found missing.
    #[serde(default)]
    pub missing_paths: Vec<MissingPath>,
    /// Files the container's processes opened for writing.
    #[serde(default)]
    pub file_writes: Vec<FileWrite>,
    /// Device nodes the container's processes created with mknod(2).
    #[serde(default)]
    pub device_nodes: Vec<DeviceNodeReport>,
    pub root_switch: Option<RootSwitch>,
    /// The workload's exec: where the runtime hands over.
    pub workload: Option<WorkloadExec>,
    pub capabilities: CapabilitiesAtExec,
    pub no_new_privs: NoNewPrivs,
    pub seccomp: SeccompState,
    pub cgroups: Vec<CgroupReport>,
    pub network: NetworkReport,
    pub hostname: Option<Hostname>,
    pub processes: Vec<ProcessReport>,
    pub events: EventSummary,
    pub findings: Vec<Finding>,
    /// Why this record may not be the whole story, or not what it seems:
    /// events lost while it ran, an unprivileged starter, an id another
    /// runtime invocation used too.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub caveats: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RuntimeInfo {
    /// `runc`, `crun` or `cradle`.
    pub name: String,
    pub bundle: Option<String>,
    /// tgid of the runtime command.
    pub pid: u32,
    /// tgid of the process that switched root and became the init.
    pub init_pid: Option<u32>,
    /// The init's exit, as a shell would say it (`exited 0`).
    pub exit: Option<String>,
    /// The runtime's exec: where the container's events begin.
    pub evidence: Option<EventRef>,
    /// Who ran the runtime: its parent first, up the chain (a shim, a
    /// daemon, a shell); empty where the tracer could not read it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub launchers: Vec<Launcher>,
    /// The runtime commands run on the container after the one that
    /// created it, with their time since the container's start.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub calls: Vec<CallReport>,
}

/// A later runtime command on the container (`start`, `delete`, ...).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CallReport {
    pub command: String,
    pub pid: u32,
    /// Nanoseconds since the container's runtime started.
    pub since_start_ns: u64,
}

/// A phase the container reached: when, and for how long.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PhaseReport {
    pub phase: Phase,
    /// Nanoseconds since the container's runtime started.
    pub start_ns: u64,
    /// Until the next phase began (for the last phase: until the
    /// container's last event).
    pub duration_ns: u64,
    /// Events attributed to this phase.
    pub events: usize,
}

/// One kind of namespace (`mnt`, `pid`, `net`, ...) as the workload has it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct NamespaceView {
    pub kind: String,
    /// Inode number of the workload's namespace, when known.
    pub inum: Option<u32>,
    /// Inode number of the host's namespace of this kind, when known.
    pub host_inum: Option<u32>,
    /// The workload shares this namespace with the host.
    pub shared_with_host: bool,
    /// Events that show it: the runtime's exec (the host's namespaces) and
    /// the events that gave the workload its namespaces.
    pub evidence: Vec<EventRef>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct NamespaceCreated {
    pub kind: String,
    pub inum: Option<u32>,
    pub source: NamespaceSource,
    pub evidence: EventRef,
}

/// A successful setns(2) by a process of the container.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct NamespaceJoined {
    /// The namespace types asked for (`any` for nstype 0).
    pub kinds: Vec<String>,
    /// The caller's namespaces of those types once it returned.
    pub inums: BTreeMap<String, u32>,
    /// Made after the workload's exec.
    pub after_start: bool,
    /// Of `kinds`, those whose namespace is the host's.
    pub into_host: Vec<String>,
    pub role: Role,
    pub evidence: EventRef,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct NamespaceReport {
    pub created: Vec<NamespaceCreated>,
    pub joined: Vec<NamespaceJoined>,
    /// mnt, pid, net, ipc, uts, cgroup, user, as the workload has them.
    pub views: Vec<NamespaceView>,
    /// The container's own user namespace's uid and gid maps, as the
    /// tracer read them from `/proc`; absent without one, or unread.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_mappings: Option<IdMappings>,
}

impl NamespaceReport {
    pub fn view(&self, kind: &str) -> Option<&NamespaceView> {
        self.views.iter().find(|view| view.kind == kind)
    }
}

/// What a mount call did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MountOperation {
    /// A new filesystem instance (proc, tmpfs, sysfs, ...).
    Filesystem,
    /// A bind mount of an existing path.
    Bind,
    /// A change of flags of an existing mount not folded into the mount it
    /// changes (see [`MountReport::evidence`]).
    Remount,
    /// A change of propagation (MS_SLAVE, MS_PRIVATE, ...).
    Propagation,
    /// MS_MOVE, or move_mount(2) of an existing mount.
    Move,
}

/// One mount made (or attempted) for the container. A remount that
/// follows a mount by the same thread, before its next mount, is folded
/// into it: runtimes make a bind read-only that way.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct MountReport {
    pub operation: MountOperation,
    pub source: Option<String>,
    /// The target as the call named it: a host path, a path inside the
    /// container after the root switch, or `/proc/self/fd/N` (a file
    /// descriptor the runtime opened; the probes do not see which path).
    pub target: Option<String>,
    /// The path `target` stands for when the call named it through a file
    /// descriptor (`/proc/self/fd/N`, a directory descriptor) whose open
    /// the trace shows.
    #[serde(default)]
    pub target_path: Option<String>,
    /// The target inside the container, where it can be told.
    pub container_path: Option<String>,
    /// Likewise for a source named through a file descriptor.
    #[serde(default)]
    pub source_path: Option<String>,
    pub fstype: Option<String>,
    pub flags: Vec<String>,
    pub data: Option<String>,
    /// Read-only once any folded remount applied.
    pub read_only: bool,
    /// A bind of a path of the host (not the rootfs), made before the root
    /// switch inside the container's mount namespace.
    pub host_source: bool,
    /// The call's result: 0, or a negative errno.
    pub result: i64,
    pub role: Role,
    pub phase: Phase,
    /// The mount call first, then the calls folded into it.
    pub evidence: Vec<EventRef>,
}

impl MountReport {
    /// The source's path: through its descriptor where it was named by one.
    pub fn source_or_path(&self) -> Option<&str> {
        self.source_path.as_deref().or(self.source.as_deref())
    }
}

/// A path the runtime looked up inside the container (an open with
/// O_PATH, as runtimes look up mount targets and masked paths) and found
/// missing: the open failed with ENOENT.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct MissingPath {
    pub container_path: String,
    pub evidence: EventRef,
}

/// An open for writing (write access, O_CREAT or O_TRUNC) by a process of
/// the container, whether it succeeded or not.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct FileWrite {
    /// The path as the call named it (maybe relative to `dirfd`).
    pub path: Option<String>,
    /// The path it names, where the trace tells it (see `target_path` of
    /// a mount).
    pub resolved_path: Option<String>,
    /// The path inside the container, where it can be told.
    pub container_path: Option<String>,
    pub flags: Vec<String>,
    /// The file descriptor, or a negative errno.
    pub result: i64,
    pub role: Role,
    pub phase: Phase,
    pub evidence: EventRef,
}

/// A device node created with mknod(2) by a process of the container.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DeviceNodeReport {
    /// The path as the call named it (maybe relative to `dirfd`).
    pub path: Option<String>,
    pub resolved_path: Option<String>,
    /// The path inside the container, where it can be told.
    pub container_path: Option<String>,
    /// `char_device` or `block_device`.
    pub kind: String,
    pub major: u32,
    pub minor: u32,
    /// A character device every container gets (/dev/null, /dev/zero,
    /// ...), by its number.
    pub default: bool,
    /// 0, or a negative errno.
    pub result: i64,
    pub role: Role,
    pub phase: Phase,
    pub evidence: EventRef,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RootSwitchMethod {
    PivotRoot,
    Chroot,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RootSwitch {
    pub method: RootSwitchMethod,
    /// pivot_root's new_root, or chroot's path.
    pub path: Option<String>,
    pub put_old: Option<String>,
    pub evidence: EventRef,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct WorkloadExec {
    pub pid: u32,
    pub filename: String,
    pub argv: Vec<String>,
    pub evidence: EventRef,
}

/// How the capabilities at the workload's exec are known.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CapabilitySource {
    /// The init's last capset(2) before the exec.
    Capset,
    /// No capset was seen: the init kept the runtime's capabilities.
    Inherited,
}

/// The init's capabilities just before it executed the workload. (The
/// kernel recomputes them at exec from these, the bounding set and the
/// program's file capabilities: a root workload gets the bounding set.)
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CapabilitiesAtExec {
    pub source: CapabilitySource,
    /// Capability names; absent when the source is `inherited`.
    pub effective: Option<Vec<String>>,
    pub permitted: Option<Vec<String>>,
    pub inheritable: Option<Vec<String>>,
    /// The permitted set holds every capability this kernel knows.
    pub all: bool,
    /// Capabilities dropped from the bounding set (PR_CAPBSET_DROP).
    pub bounding_dropped: Vec<String>,
    /// The capset the sets come from.
    pub capset: Option<EventRef>,
    /// The PR_CAPBSET_DROP calls.
    pub bounding_evidence: Vec<EventRef>,
}

impl CapabilitiesAtExec {
    pub fn holds(&self, name: &str) -> bool {
        [&self.effective, &self.permitted]
            .iter()
            .any(|set| set.as_ref().is_some_and(|set| set.iter().any(|cap| cap == name)))
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct NoNewPrivs {
    /// prctl(PR_SET_NO_NEW_PRIVS, 1) succeeded in the init before the exec.
    pub set: bool,
    pub evidence: Option<EventRef>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SeccompFilter {
    /// `seccomp(SECCOMP_SET_MODE_FILTER)`, `prctl(PR_SET_SECCOMP)`, ...
    pub call: String,
    pub instructions: Option<u16>,
    pub evidence: EventRef,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SeccompState {
    /// A filter (or strict mode) was installed in the init before the exec.
    pub installed: bool,
    pub filters: Vec<SeccompFilter>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CgroupAction {
    Mkdir,
    Attach,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CgroupReport {
    pub action: CgroupAction,
    pub path: String,
    /// The hierarchy id (a v1 controller's hierarchy, or the v2 one).
    pub hierarchy: u32,
    /// For `attach`: the process moved.
    pub pid: Option<u32>,
    pub evidence: EventRef,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LinkEnd {
    pub name: Option<String>,
    pub netns: Option<u32>,
    pub netns_pid: Option<u32>,
    pub netns_fd: Option<u32>,
}

/// An RTM_NEWLINK request (create or change an interface).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LinkRequest {
    /// `veth`, `bridge`, ...; absent for a change of an existing link.
    pub kind: Option<String>,
    pub link: LinkEnd,
    pub peer: Option<LinkEnd>,
    pub evidence: EventRef,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct NetworkReport {
    /// The workload's network namespace, when it is its own.
    pub own_namespace: Option<u32>,
    /// Interfaces created or changed for the container.
    pub interfaces: Vec<LinkRequest>,
    /// Links that processes outside the container (dockerd, a CNI plugin)
    /// put in its network namespace, from its record (see
    /// `cradle_probes::collector::NetworkLink`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub daemon_links: Vec<cradle_probes::collector::NetworkLink>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Hostname {
    pub name: Option<String>,
    pub evidence: EventRef,
}

/// A program a process of the container ran.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ProgramRun {
    pub filename: String,
    pub argv: Vec<String>,
    /// The process's role when it ran it.
    pub role: Role,
    /// It ran inside the container's mount namespace.
    pub in_container_mount_ns: bool,
    pub evidence: EventRef,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ProcessReport {
    pub pid: u32,
    pub ppid: u32,
    /// The role the process ended with.
    pub role: Role,
    /// Its last command name.
    pub comm: String,
    /// Successful execs, in order.
    pub programs: Vec<ProgramRun>,
    pub threads: usize,
    pub exit: Option<String>,
    pub first_event: EventRef,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct EventSummary {
    pub count: usize,
    pub by_kind: BTreeMap<String, usize>,
    /// The lines of the container's first and last events.
    pub first_line: Option<u64>,
    pub last_line: Option<u64>,
}

/// Namespace kinds reported, in the order shown.
pub const NAMESPACE_KINDS: [&str; 7] = ["mnt", "pid", "net", "ipc", "uts", "cgroup", "user"];

/// Reports on every container of a trace, with findings.
pub fn build_report(trace: &LoadedTrace) -> Report {
    let mut groups = trace.events_by_container();
    // Events arrive per CPU, not in time order: analyse them in the order
    // they happened (a stable sort keeps a thread's own order on ties).
    for group in &mut groups {
        group.sort_by_key(|&i| trace.events[i].ts_ns);
    }
    let containers: Vec<ContainerReport> = trace
        .containers
        .iter()
        .enumerate()
        .map(|(key, container)| {
            let mut report = ContainerBuilder::new(trace, key, container, &groups[key]).build();
            report.findings = rules::evaluate(&report, trace.lost());
            report
        })
        .collect();
    let mut totals = SeverityCounts::default();
    for finding in containers.iter().flat_map(|c| &c.findings) {
        totals.add(finding.severity);
    }
    Report {
        format: FORMAT.into(),
        version: VERSION,
        cradle_version: env!("CARGO_PKG_VERSION").into(),
        trace: TraceSummary {
            path: trace.path.display().to_string(),
            host: trace.header.host.clone(),
            kernel: trace.header.kernel.clone(),
            mode: trace.header.mode,
            command: trace.header.command.clone(),
            started_unix_ns: trace.header.started_unix_ns,
            events: trace.events.len() as u64,
            lost: trace.lost(),
            end: trace.trailer.as_ref().map(|t| t.end),
            truncated: trace.truncation.as_ref().map(|t| match t {
                Truncation::NoTrailer => "no trailer: the tracer stopped before finishing".into(),
                Truncation::CutLine { line } => format!("line {line} is cut short"),
            }),
            unavailable: trace.header.unavailable.clone(),
        },
        containers,
        totals,
    }
}

/// The namespace inode of `kind` in a set (`pid`: the task's own).
fn inum_of(set: &Namespaces, kind: &str) -> Option<u32> {
    let inum = match kind {
        "pid" => set.pid,
        "time" => set.time,
        other => return set.inum(other),
    };
    (inum != 0).then_some(inum)
}

fn cap_names(set: u64) -> Vec<String> {
    (0..64)
        .filter(|cap| set & (1u64 << cap) != 0)
        .map(|cap| names::capability(cap).map_or(format!("CAP_{cap}"), str::to_string))
        .collect()
}

/// Every capability the kernel's names table knows.
fn all_caps() -> u64 {
    (0..64).filter(|&cap| names::capability(cap).is_some()).fold(0, |all, cap| all | (1 << cap))
}

struct ContainerBuilder<'a> {
    trace: &'a LoadedTrace,
    key: usize,
    container: &'a Container,
    events: &'a [usize],
    /// The host's namespaces, as far as the trace tells them.
    host: BTreeMap<&'static str, (u32, usize)>,
    /// The paths events named through file descriptors, by event index.
    paths: HashMap<usize, NamedPaths>,
}

/// The paths an event named through file descriptors, resolved with what
/// the trace showed of them until then (see [`FdPaths`]).
#[derive(Default)]
pub(crate) struct NamedPaths {
    /// A mount's or move_mount's source, an open_tree's path.
    pub(crate) source: Option<String>,
    /// A mount's or move_mount's target, a mount_setattr's, open's or
    /// mknod's path.
    pub(crate) target: Option<String>,
}

impl NamedPaths {
    /// Follows the container's events in time order, resolving each one's
    /// paths with the descriptors known before it.
    pub(crate) fn of_events(events: &[usize], all: &[Event]) -> HashMap<usize, NamedPaths> {
        let mut fds = FdPaths::default();
        let mut named = HashMap::new();
        for &i in events {
            let event = &all[i];
            let t = event.tgid;
            let absolute = |path: &Option<String>| {
                path.as_deref()
                    .filter(|p| p.starts_with('/'))
                    .and_then(|p| fds.resolve(t, AT_FDCWD, p))
            };
            let via = |dirfd: i32, path: &Option<String>| {
                path.as_deref().and_then(|p| fds.resolve(t, dirfd, p))
            };
            let paths = match &event.detail {
                Detail::Mount { source, target, .. } => {
                    Some(NamedPaths { source: absolute(source), target: absolute(target) })
                }
                Detail::MoveMount { from_dfd, from_path, to_dfd, to_path, .. } => {
                    Some(NamedPaths {
                        source: via(*from_dfd, from_path),
                        target: via(*to_dfd, to_path),
                    })
                }
                Detail::OpenTree { dfd, path, .. } => {
                    Some(NamedPaths { source: via(*dfd, path), target: None })
                }
                Detail::MountSetattr { dfd, path, .. } | Detail::Mknod { dirfd: dfd, path, .. } => {
                    Some(NamedPaths { source: None, target: via(*dfd, path) })
                }
                Detail::Open { .. } => {
                    Some(NamedPaths { source: None, target: fds.opened_path(event) })
                }
                _ => None,
            };
            if let Some(paths) = paths {
                named.insert(i, paths);
            }
            fds.observe(event);
        }
        named
    }
}

/// The path inside the container that `path` (a host path before the root
/// switch, the container's own view after it) stands for; `None` where it
/// cannot be told: a relative path, a descriptor not resolved, a host path
/// outside the rootfs.
fn container_path_of(path: Option<&str>, phase: Phase, rootfs: Option<&str>) -> Option<String> {
    let path = path?;
    let unresolved =
        path.starts_with("/proc/self/fd/") || path.starts_with("/proc/thread-self/fd/");
    if unresolved || !path.starts_with('/') {
        return None;
    }
    // Under the rootfs at any phase: a descriptor opened before the root
    // switch keeps its host path.
    if let Some(inside) = rootfs.and_then(|root| path.strip_prefix(root)) {
        return match inside {
            "" => Some("/".into()),
            p if p.starts_with('/') => Some(p.into()),
            _ if phase < Phase::RootSwitch => None,
            _ => Some(path.into()),
        };
    }
    if phase < Phase::RootSwitch { None } else { Some(path.into()) }
}

impl<'a> ContainerBuilder<'a> {
    fn new(
        trace: &'a LoadedTrace,
        key: usize,
        container: &'a Container,
        events: &'a [usize],
    ) -> Self {
        let paths = NamedPaths::of_events(events, &trace.events);
        ContainerBuilder { trace, key, container, events, host: BTreeMap::new(), paths }
    }

    fn event(&self, index: usize) -> &'a Event {
        &self.trace.events[index]
    }

    fn owner(&self, index: usize) -> (Role, Phase) {
        let owner = self.trace.events[index].owner.as_ref().expect("container events are owned");
        (owner.role, owner.phase)
    }

    fn r(&self, index: usize) -> EventRef {
        self.trace.event_ref(index)
    }

    /// The runtime's exec, which started the container.
    fn start_event(&self) -> Option<usize> {
        self.events.iter().copied().find(|&i| {
            let event = self.event(i);
            event.tgid == self.container.runtime_pid
                && matches!(event.detail, Detail::Exec { ret: Some(0), .. })
        })
    }

    /// The workload's exec: the init's exec, once it became the workload.
    fn workload_event(&self) -> Option<usize> {
        let is_workload_exec = |i: &usize| {
            let (role, phase) = self.owner(*i);
            role == Role::Workload && phase == Phase::WorkloadExec
        };
        let execs = self.events.iter().copied().filter(is_workload_exec);
        let mut first_process_exec = None;
        for i in execs {
            match &self.event(i).detail {
                Detail::Exec { ret: Some(0), .. } => return Some(i),
                Detail::ProcessExec { .. } if first_process_exec.is_none() => {
                    first_process_exec = Some(i)
                }
                _ => {}
            }
        }
        first_process_exec
    }

    fn build(mut self) -> ContainerReport {
        let start = self.start_event();
        let workload = self.workload_event();
        let init = self.container.init_pid;
        let namespaces = self.namespaces(start, workload);
        let host_mnt = self.host.get("mnt").map(|(inum, _)| *inum);
        let rootfs = self.rootfs(host_mnt);
        let mounts = self.mounts(host_mnt, rootfs.as_deref());
        let missing_paths = self.missing_paths(rootfs.as_deref());
        let file_writes = self.file_writes(rootfs.as_deref());
        let device_nodes = self.device_nodes(rootfs.as_deref());
        let net_view = namespaces.view("net");
        let network = NetworkReport {
            own_namespace: net_view.filter(|v| !v.shared_with_host).and_then(|v| v.inum),
            interfaces: self.interfaces(),
            daemon_links: self.container.links.clone(),
        };
        ContainerReport {
            index: self.key,
            id: self.container.id.to_string(),
            runtime: RuntimeInfo {
                name: self.container.runtime.clone(),
                bundle: self.container.bundle.clone(),
                pid: self.container.runtime_pid,
                init_pid: init,
                exit: self.container.exit().map(|exit| exit.to_string()),
                evidence: start.map(|i| self.r(i)),
                launchers: self.container.launchers.clone(),
                calls: self
                    .container
                    .calls
                    .iter()
                    .map(|call| CallReport {
                        command: call.command.to_string(),
                        pid: call.pid,
                        since_start_ns: call.ts_ns.saturating_sub(self.container.start_ns()),
                    })
                    .collect(),
            },
            phases: self.phases(),
            root_switch: self.root_switch(),
            workload: workload.map(|i| self.workload_exec(i)),
            capabilities: self.capabilities(init),
            no_new_privs: self.no_new_privs(init),
            seccomp: self.seccomp(init),
            cgroups: self.cgroups(),
            network,
            hostname: self.hostname(),
            processes: self.processes(namespaces.view("mnt").and_then(|v| v.inum)),
            events: self.event_summary(),
            namespaces,
            rootfs,
            mounts,
            missing_paths,
            file_writes,
            device_nodes,
            findings: Vec::new(),
            caveats: self.container.caveats().into_iter().map(String::from).collect(),
        }
    }

    fn phases(&self) -> Vec<PhaseReport> {
        let marks = &self.container.phases;
        let origin = marks.first().map_or(0, |m| m.ts_ns);
        let last_ts = self.events.iter().map(|&i| self.event(i).ts_ns).max().unwrap_or(origin);
        let mut counts: HashMap<Phase, usize> = HashMap::new();
        for &i in self.events {
            *counts.entry(self.owner(i).1).or_default() += 1;
        }
        marks
            .iter()
            .enumerate()
            .map(|(n, mark)| {
                let end = marks.get(n + 1).map_or(last_ts, |next| next.ts_ns);
                PhaseReport {
                    phase: mark.phase,
                    start_ns: mark.ts_ns.saturating_sub(origin),
                    duration_ns: end.saturating_sub(mark.ts_ns),
                    events: counts.get(&mark.phase).copied().unwrap_or(0),
                }
            })
            .collect()
    }

    /// Namespaces created and joined, and the workload's view of each kind
    /// against the host's. The host's mnt and pid namespaces are those of
    /// the runtime's exec; the other kinds are learned from the first
    /// namespace event, whose set still holds the host's for every kind it
    /// did not create.
    fn namespaces(&mut self, start: Option<usize>, workload: Option<usize>) -> NamespaceReport {
        let mut report = NamespaceReport::default();
        // Host namespaces known from the header, cited by the runtime's
        // exec until an event shows them.
        let mut cited_by_exec_only: Vec<&str> = Vec::new();
        if let Some(i) = start {
            let event = self.event(i);
            self.host.insert("mnt", (event.mnt_ns, i));
            self.host.insert("pid", (event.pid_ns, i));
            // The tracer's own namespaces, where the header has them: the
            // surest source, whatever order the runtime joins and creates.
            for kind in NAMESPACE_KINDS {
                if let Some(&inum) = self.trace.header.host_namespaces.get(kind)
                    && !self.host.contains_key(kind)
                {
                    self.host.insert(kind, (inum, i));
                    cited_by_exec_only.push(kind);
                }
            }
        }
        // Kinds joined by path before the first namespace change (runc
        // joins, then unshares): that change's set holds the joined ones,
        // not the host's.
        let mut joined_first: Vec<&str> = Vec::new();
        // The namespaces the init lineage holds before the exec, and the
        // event that last set them.
        let mut current: Option<(Namespaces, usize)> = None;
        for &i in self.events {
            let (role, phase) = self.owner(i);
            match &self.event(i).detail {
                Detail::Namespaces { source, created, namespaces, ret: 0.., .. } => {
                    // Only the first change still holds the host's others.
                    if report.created.is_empty() {
                        for kind in NAMESPACE_KINDS {
                            let made = created.iter().any(|c| c == kind);
                            if made || joined_first.contains(&kind) {
                                continue;
                            }
                            let Some(inum) = inum_of(namespaces, kind) else { continue };
                            let shows_host = match self.host.get(kind) {
                                None => true,
                                Some(&(host, _)) => {
                                    host == inum && cited_by_exec_only.contains(&kind)
                                }
                            };
                            if shows_host {
                                self.host.insert(kind, (inum, i));
                            }
                        }
                    }
                    for kind in created {
                        report.created.push(NamespaceCreated {
                            kind: kind.to_string(),
                            inum: namespaces.inum(kind),
                            source: *source,
                            evidence: self.r(i),
                        });
                    }
                    if phase < Phase::WorkloadExec {
                        current = Some((*namespaces, i));
                    }
                }
                Detail::Setns { nstype_names, namespaces, ret: 0, nstype, .. } => {
                    let kinds: Vec<String> = if *nstype == 0 {
                        vec!["any".into()]
                    } else {
                        nstype_names.iter().map(|n| n.to_string()).collect()
                    };
                    let looked_at: Vec<&str> = if *nstype == 0 {
                        NAMESPACE_KINDS.to_vec()
                    } else {
                        nstype_names.iter().map(|n| n.as_ref()).collect()
                    };
                    if report.created.is_empty() {
                        joined_first.extend(looked_at.iter().copied());
                    }
                    let mut inums = BTreeMap::new();
                    let mut into_host = Vec::new();
                    for kind in looked_at {
                        // After setns(CLONE_NEWPID) only the children move.
                        let Some(inum) = namespaces.inum(kind) else { continue };
                        inums.insert(kind.to_string(), inum);
                        if self.host.get(kind).is_some_and(|(host, _)| *host == inum) {
                            into_host.push(kind.to_string());
                        }
                    }
                    report.joined.push(NamespaceJoined {
                        kinds,
                        inums,
                        after_start: phase >= Phase::WorkloadExec,
                        into_host,
                        role,
                        evidence: self.r(i),
                    });
                    if phase < Phase::WorkloadExec {
                        current = Some((*namespaces, i));
                    }
                }
                _ => {}
            }
        }
        let workload_event = workload.map(|i| self.event(i));
        for kind in NAMESPACE_KINDS {
            let host = self.host.get(kind).copied();
            let mut evidence = Vec::new();
            if let Some((_, i)) = host {
                evidence.push(i);
            }
            // The workload's own exec event says its mnt and pid namespace
            // directly; the others come from the last namespace change.
            let direct = match (kind, workload_event) {
                ("mnt", Some(event)) => Some(event.mnt_ns),
                ("pid", Some(event)) => Some(event.pid_ns),
                _ => None,
            };
            let inum = match (direct, current) {
                (Some(inum), _) => {
                    evidence.extend(workload);
                    Some(inum)
                }
                (None, Some((set, i))) => {
                    evidence.push(i);
                    inum_of(&set, kind)
                }
                // No namespace change at all: the host's, if the container
                // got as far as its workload.
                (None, None) => {
                    evidence.extend(workload);
                    workload.and(host.map(|(inum, _)| inum))
                }
            };
            if let (Some((_, i)), Some(_)) = (current, direct) {
                evidence.push(i);
            }
            evidence.sort_unstable();
            evidence.dedup();
            let host_inum = host.map(|(inum, _)| inum);
            report.views.push(NamespaceView {
                kind: kind.into(),
                inum,
                host_inum,
                shared_with_host: inum.is_some() && inum == host_inum,
                evidence: evidence.into_iter().map(|i| self.r(i)).collect(),
            });
        }
        report.id_mappings = self.container.id_mappings.clone();
        report
    }

    /// The rootfs: the source of the first bind of a path onto itself in
    /// the container's mount namespace, before the root switch.
    fn rootfs(&self, host_mnt: Option<u32>) -> Option<String> {
        self.events.iter().find_map(|&i| {
            let event = self.event(i);
            let (_, phase) = self.owner(i);
            match &event.detail {
                Detail::Mount {
                    source: Some(source), target: Some(target), flags, ret: 0, ..
                } if source == target
                    && flags & MS_BIND != 0
                    && flags & MS_REMOUNT == 0
                    && phase < Phase::RootSwitch
                    && host_mnt.is_some_and(|host| host != event.mnt_ns) =>
                {
                    Some(source.clone())
                }
                _ => None,
            }
        })
    }

    /// What event `index` named through descriptors.
    fn named(&self, index: usize) -> Option<&NamedPaths> {
        self.paths.get(&index)
    }

    fn mounts(&self, host_mnt: Option<u32>, rootfs: Option<&str>) -> Vec<MountReport> {
        let mut mounts: Vec<MountReport> = Vec::new();
        // Per thread: the last mount made, which a remount may modify, and
        // a mount under construction with the new mount API.
        let mut last_made: HashMap<u32, usize> = HashMap::new();
        let mut pending: HashMap<u32, MountReport> = HashMap::new();
        let mut fs_names: HashMap<u32, String> = HashMap::new();
        let in_container_ns = |event: &Event| host_mnt.is_some_and(|host| host != event.mnt_ns);
        // The last mount made (a filesystem or a bind) at a container path:
        // what a later remount of that path changes, however it names it.
        let made_at = |mounts: &[MountReport], path: Option<&str>| {
            let path = path?;
            mounts.iter().rposition(|m| {
                m.result == 0
                    && matches!(m.operation, MountOperation::Bind | MountOperation::Filesystem)
                    && m.container_path.as_deref() == Some(path)
            })
        };
        for &i in self.events {
            let event = self.event(i);
            let (role, phase) = self.owner(i);
            // Before any namespace exists, a mount in the host's namespace
            // is the runtime's own business, not the container's: runc
            // seals its binary that way (a read-only bind of
            // /proc/self/exe in its state directory, CVE-2019-5736).
            if phase < Phase::NamespaceCreation && host_mnt == Some(event.mnt_ns) {
                continue;
            }
            let before_switch = phase < Phase::RootSwitch;
            let named = self.named(i);
            let source_path = named.and_then(|n| n.source.clone());
            let target_path = named.and_then(|n| n.target.clone());
            let new_mount = |operation, source: Option<String>, target: &Option<String>| {
                // Only where the descriptor stood for another path.
                let differs = |path: &Option<String>, raw: &Option<String>| {
                    path.clone().filter(|p| Some(p) != raw.as_ref())
                };
                MountReport {
                    operation,
                    container_path: container_path_of(
                        target_path.as_deref().or(target.as_deref()),
                        phase,
                        rootfs,
                    ),
                    target_path: differs(&target_path, target),
                    source_path: differs(&source_path, &source),
                    source,
                    target: target.clone(),
                    fstype: None,
                    flags: Vec::new(),
                    data: None,
                    read_only: false,
                    host_source: false,
                    result: 0,
                    role,
                    phase,
                    evidence: vec![self.r(i)],
                }
            };
            match &event.detail {
                Detail::Mount { source, target, fstype, flags, flag_names, data, ret } => {
                    let operation = if flags & MS_REMOUNT != 0 {
                        MountOperation::Remount
                    } else if flags & MS_BIND != 0 {
                        MountOperation::Bind
                    } else if flags & MS_MOVE != 0 {
                        MountOperation::Move
                    } else if flags & MS_PROPAGATION != 0 {
                        MountOperation::Propagation
                    } else {
                        MountOperation::Filesystem
                    };
                    let read_only = flags & MS_RDONLY != 0;
                    let mut mount = new_mount(operation, source.clone(), target);
                    if operation == MountOperation::Remount && *ret == 0 {
                        // By path where the target is known (runtimes that
                        // remount by descriptor do it long after the
                        // mount); else the same thread's last mount, when
                        // the remount names the same target.
                        let by_thread = last_made.get(&event.pid).copied().filter(|&made| {
                            target == &mounts[made].target
                                || (target.as_deref().is_some_and(|t| t.starts_with("/proc/self/"))
                                    && mount.container_path.is_none())
                        });
                        if let Some(made) =
                            made_at(&mounts, mount.container_path.as_deref()).or(by_thread)
                        {
                            mounts[made].read_only = read_only;
                            mounts[made].evidence.push(self.r(i));
                            continue;
                        }
                    }
                    mount.fstype = fstype.clone().filter(|f| !f.is_empty());
                    mount.flags = flag_names.clone();
                    mount.data = data.clone().filter(|d| !d.is_empty());
                    mount.read_only = read_only;
                    mount.result = *ret;
                    mount.host_source = operation == MountOperation::Bind
                        && *ret == 0
                        && before_switch
                        && in_container_ns(event)
                        && mount.source_or_path().is_some_and(|s| {
                            is_host_path(s, &target_path.clone().or(target.clone()), rootfs)
                        });
                    mounts.push(mount);
                    if *ret == 0
                        && matches!(operation, MountOperation::Bind | MountOperation::Filesystem)
                    {
                        last_made.insert(event.pid, mounts.len() - 1);
                    }
                }
                // OPEN_TREE_CLONE: a detached copy, to be attached by
                // move_mount: a bind mount in the making.
                Detail::OpenTree { path, flags, ret, .. } if *ret >= 0 && flags & 1 != 0 => {
                    let mut mount = new_mount(MountOperation::Bind, path.clone(), &None);
                    mount.host_source = before_switch
                        && in_container_ns(event)
                        && mount.source_or_path().is_some_and(|s| is_host_path(s, &None, rootfs));
                    pending.insert(event.pid, mount);
                }
                Detail::Fsopen { fsname: Some(name), ret: 0.., .. } => {
                    fs_names.insert(event.pid, name.clone());
                }
                Detail::Fsmount { attr_names, ret: 0.., .. } => {
                    let mut mount = new_mount(MountOperation::Filesystem, None, &None);
                    mount.fstype = fs_names.get(&event.pid).cloned();
                    mount.flags = attr_names.clone();
                    mount.read_only = attr_names.iter().any(|a| a == "MOUNT_ATTR_RDONLY");
                    pending.insert(event.pid, mount);
                }
                Detail::MountSetattr { attr_set_names, ret: 0, .. } => {
                    let read_only = attr_set_names.iter().any(|a| a == "MOUNT_ATTR_RDONLY");
                    let at_path = container_path_of(target_path.as_deref(), phase, rootfs);
                    if let Some(mount) = pending.get_mut(&event.pid) {
                        mount.read_only |= read_only;
                        mount.flags.extend(attr_set_names.iter().cloned());
                        mount.evidence.push(self.r(i));
                    } else if let Some(made) = made_at(&mounts, at_path.as_deref())
                        .or_else(|| last_made.get(&event.pid).copied())
                    {
                        mounts[made].read_only |= read_only;
                        mounts[made].evidence.push(self.r(i));
                    }
                }
                Detail::MoveMount { from_path, to_path, ret, .. } => {
                    let moved = new_mount(MountOperation::Move, from_path.clone(), to_path);
                    let mut mount = match pending.remove(&event.pid) {
                        Some(mut mount) => {
                            mount.evidence.push(self.r(i));
                            mount
                        }
                        None => moved.clone(),
                    };
                    mount.target = to_path.clone();
                    mount.target_path = moved.target_path;
                    mount.container_path = moved.container_path;
                    mount.result = *ret;
                    mount.role = role;
                    mount.phase = phase;
                    mounts.push(mount);
                    if *ret == 0 {
                        last_made.insert(event.pid, mounts.len() - 1);
                    }
                }
                _ => {}
            }
        }
        mounts
    }

    /// Container paths the runtime found missing before the workload's exec.
    fn missing_paths(&self, rootfs: Option<&str>) -> Vec<MissingPath> {
        const ENOENT: i64 = -2;
        self.events
            .iter()
            .filter_map(|&i| {
                let (role, phase) = self.owner(i);
                if role == Role::Workload || phase >= Phase::WorkloadExec {
                    return None;
                }
                let Detail::Open { ret: ENOENT, .. } = &self.event(i).detail else { return None };
                let target = self.named(i).and_then(|n| n.target.as_deref());
                let container_path = container_path_of(target, phase, rootfs)?;
                Some(MissingPath { container_path, evidence: self.r(i) })
            })
            .collect()
    }

    fn file_writes(&self, rootfs: Option<&str>) -> Vec<FileWrite> {
        self.events
            .iter()
            .filter_map(|&i| {
                let event = self.event(i);
                let Detail::Open { path, flag_names, ret, .. } = &event.detail else {
                    return None;
                };
                if !event.detail.opens_for_writing() {
                    return None;
                }
                let (role, phase) = self.owner(i);
                let resolved_path = self.named(i).and_then(|n| n.target.clone());
                Some(FileWrite {
                    path: path.clone(),
                    container_path: container_path_of(resolved_path.as_deref(), phase, rootfs),
                    resolved_path,
                    flags: flag_names.clone(),
                    result: *ret,
                    role,
                    phase,
                    evidence: self.r(i),
                })
            })
            .collect()
    }

    fn device_nodes(&self, rootfs: Option<&str>) -> Vec<DeviceNodeReport> {
        self.events
            .iter()
            .filter_map(|&i| {
                let Detail::Mknod { path, file_type, major, minor, ret, .. } =
                    &self.event(i).detail
                else {
                    return None;
                };
                let block = match file_type.as_ref() {
                    "block_device" => true,
                    "char_device" => false,
                    _ => return None,
                };
                let (role, phase) = self.owner(i);
                let resolved_path = self.named(i).and_then(|n| n.target.clone());
                Some(DeviceNodeReport {
                    path: path.clone(),
                    container_path: container_path_of(resolved_path.as_deref(), phase, rootfs),
                    resolved_path,
                    kind: file_type.to_string(),
                    major: *major,
                    minor: *minor,
                    default: !block && cradle_defaults::is_default_char_device(*major, *minor),
                    result: *ret,
                    role,
                    phase,
                    evidence: self.r(i),
                })
            })
            .collect()
    }

    fn root_switch(&self) -> Option<RootSwitch> {
        self.events.iter().find_map(|&i| match &self.event(i).detail {
            Detail::PivotRoot { new_root, put_old, ret: 0 } => Some(RootSwitch {
                method: RootSwitchMethod::PivotRoot,
                path: new_root.clone(),
                put_old: put_old.clone(),
                evidence: self.r(i),
            }),
            Detail::Chroot { path, ret: 0 } => Some(RootSwitch {
                method: RootSwitchMethod::Chroot,
                path: path.clone(),
                put_old: None,
                evidence: self.r(i),
            }),
            _ => None,
        })
    }

    fn workload_exec(&self, index: usize) -> WorkloadExec {
        let event = self.event(index);
        let (filename, argv) = match &event.detail {
            Detail::Exec { filename, argv, .. } => (filename.clone(), argv.clone()),
            Detail::ProcessExec { filename, .. } => (filename.clone(), Vec::new()),
            _ => (String::new(), Vec::new()),
        };
        WorkloadExec { pid: event.tgid, filename, argv, evidence: self.r(index) }
    }

    /// Events of the init process before it became the workload.
    fn init_before_exec(&self, init: Option<u32>) -> impl Iterator<Item = usize> + '_ {
        self.events.iter().copied().filter(move |&i| {
            let (role, phase) = self.owner(i);
            Some(self.event(i).tgid) == init
                && role != Role::Workload
                && phase < Phase::WorkloadExec
        })
    }

    fn capabilities(&self, init: Option<u32>) -> CapabilitiesAtExec {
        let mut last_capset = None;
        let mut dropped = 0u64;
        let mut drops = Vec::new();
        for i in self.init_before_exec(init) {
            match &self.event(i).detail {
                Detail::Capset { ret: 0, target_pid: None | Some(0), .. } => last_capset = Some(i),
                Detail::Prctl { option: 24, arg2, ret: 0, .. } if *arg2 < 64 => {
                    dropped |= 1 << arg2;
                    drops.push(i);
                }
                _ => {}
            }
        }
        let sets = last_capset.and_then(|i| match &self.event(i).detail {
            Detail::Capset { effective, permitted, inheritable, .. } => {
                Some((*effective, *permitted, *inheritable))
            }
            _ => None,
        });
        let all = sets.and_then(|(_, permitted, _)| permitted).is_some_and(|p| {
            let all = all_caps();
            p & all == all
        });
        CapabilitiesAtExec {
            source: if last_capset.is_some() {
                CapabilitySource::Capset
            } else {
                CapabilitySource::Inherited
            },
            effective: sets.and_then(|s| s.0).map(cap_names),
            permitted: sets.and_then(|s| s.1).map(cap_names),
            inheritable: sets.and_then(|s| s.2).map(cap_names),
            all,
            bounding_dropped: cap_names(dropped),
            capset: last_capset.map(|i| self.r(i)),
            bounding_evidence: drops.into_iter().map(|i| self.r(i)).collect(),
        }
    }

    fn no_new_privs(&self, init: Option<u32>) -> NoNewPrivs {
        let set = self.init_before_exec(init).find(|&i| {
            matches!(self.event(i).detail, Detail::Prctl { option: 38, arg2: 1, ret: 0, .. })
        });
        NoNewPrivs { set: set.is_some(), evidence: set.map(|i| self.r(i)) }
    }

    fn seccomp(&self, init: Option<u32>) -> SeccompState {
        let filters: Vec<SeccompFilter> = self
            .init_before_exec(init)
            .filter_map(|i| {
                let (call, instructions) = match &self.event(i).detail {
                    Detail::Seccomp {
                        operation: 0 | 1,
                        operation_name,
                        filter_len,
                        ret: 0,
                        ..
                    } => {
                        let name = operation_name.as_deref().unwrap_or("?");
                        (format!("seccomp({name})"), *filter_len)
                    }
                    Detail::Prctl { option: 22, filter_len, arg2, ret: 0, .. } => {
                        let mode = if *arg2 == 1 { "SECCOMP_MODE_STRICT" } else { "filter" };
                        (format!("prctl(PR_SET_SECCOMP, {mode})"), *filter_len)
                    }
                    _ => return None,
                };
                Some(SeccompFilter { call, instructions, evidence: self.r(i) })
            })
            .collect();
        SeccompState { installed: !filters.is_empty(), filters }
    }

    fn cgroups(&self) -> Vec<CgroupReport> {
        self.events
            .iter()
            .filter_map(|&i| match &self.event(i).detail {
                Detail::CgroupMkdir { path, hierarchy, .. } => Some(CgroupReport {
                    action: CgroupAction::Mkdir,
                    path: path.clone(),
                    hierarchy: *hierarchy,
                    pid: None,
                    evidence: self.r(i),
                }),
                Detail::CgroupAttach { path, hierarchy, target_pid, .. } => Some(CgroupReport {
                    action: CgroupAction::Attach,
                    path: path.clone(),
                    hierarchy: *hierarchy,
                    pid: Some(*target_pid),
                    evidence: self.r(i),
                }),
                _ => None,
            })
            .collect()
    }

    fn interfaces(&self) -> Vec<LinkRequest> {
        let end = |link: &cradle_probes::LinkPlacement| LinkEnd {
            name: link.name.clone(),
            netns: link.netns,
            netns_pid: link.netns_pid,
            netns_fd: link.netns_fd,
        };
        self.events
            .iter()
            .filter_map(|&i| match &self.event(i).detail {
                // Not a request the kernel refused.
                Detail::NewLink {
                    link_kind, link, peer, ret: 0.., answer: None | Some(0), ..
                } => Some(LinkRequest {
                    kind: link_kind.clone(),
                    link: end(link),
                    peer: peer.as_ref().map(end),
                    evidence: self.r(i),
                }),
                _ => None,
            })
            .collect()
    }

    fn hostname(&self) -> Option<Hostname> {
        self.events.iter().rev().find_map(|&i| match &self.event(i).detail {
            Detail::Sethostname { name, ret: 0 } => {
                Some(Hostname { name: name.clone(), evidence: self.r(i) })
            }
            _ => None,
        })
    }

    fn processes(&self, container_mnt: Option<u32>) -> Vec<ProcessReport> {
        let mut order: Vec<u32> = Vec::new();
        let mut processes: HashMap<u32, ProcessReport> = HashMap::new();
        let mut threads: HashMap<u32, std::collections::HashSet<u32>> = HashMap::new();
        for &i in self.events {
            let event = self.event(i);
            let (role, _) = self.owner(i);
            let process = processes.entry(event.tgid).or_insert_with(|| {
                order.push(event.tgid);
                ProcessReport {
                    pid: event.tgid,
                    ppid: event.ppid,
                    role,
                    comm: event.comm.clone(),
                    programs: Vec::new(),
                    threads: 0,
                    exit: None,
                    first_event: self.r(i),
                }
            });
            process.role = role;
            process.comm = event.comm.clone();
            threads.entry(event.tgid).or_default().insert(event.pid);
            match &event.detail {
                Detail::Exec { filename, argv, ret: Some(0), .. } => {
                    process.programs.push(ProgramRun {
                        filename: filename.clone(),
                        argv: argv.clone(),
                        role,
                        in_container_mount_ns: container_mnt == Some(event.mnt_ns),
                        evidence: self.r(i),
                    })
                }
                Detail::TaskExit { exit_code } if event.pid == event.tgid => {
                    process.exit = Some(ExitStatus::from_wait_status(*exit_code).to_string());
                }
                _ => {}
            }
        }
        order
            .into_iter()
            .filter_map(|pid| {
                let mut process = processes.remove(&pid)?;
                process.threads = threads.get(&pid).map_or(1, |t| t.len());
                Some(process)
            })
            .collect()
    }

    fn event_summary(&self) -> EventSummary {
        let mut by_kind = BTreeMap::new();
        for &i in self.events {
            *by_kind.entry(self.event(i).detail.kind_name().to_string()).or_default() += 1;
        }
        EventSummary {
            count: self.events.len(),
            by_kind,
            first_line: self.events.first().map(|&i| self.trace.lines[i]),
            last_line: self.events.last().map(|&i| self.trace.lines[i]),
        }
    }
}

const MS_RDONLY: u64 = 1;
const MS_REMOUNT: u64 = 32;
const MS_BIND: u64 = 4096;
const MS_MOVE: u64 = 8192;
/// MS_UNBINDABLE | MS_PRIVATE | MS_SLAVE | MS_SHARED.
const MS_PROPAGATION: u64 = (1 << 17) | (1 << 18) | (1 << 19) | (1 << 20);

/// Whether a bind's source is a path of the host rather than the rootfs
/// (or the rootfs bound onto itself).
fn is_host_path(source: &str, target: &Option<String>, rootfs: Option<&str>) -> bool {
    if source.is_empty() || !source.starts_with('/') || target.as_deref() == Some(source) {
        return false;
    }
    match rootfs {
        Some(root) => !(source == root || source.starts_with(&format!("{root}/"))),
        None => true,
    }
}

/// The JSON Schema of a report, as committed in `schemas/report.schema.json`.
pub fn schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(Report)).expect("a schema is plain JSON")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed schema is the one these types produce: a change to the
    /// report shows up as a change to `schemas/report.schema.json` in review.
    /// Regenerate with `CRADLE_BLESS=1 cargo test -p cradle-reports`.
    #[test]
    fn the_committed_schema_matches_the_types() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas/report.schema.json");
        if let Err(stale) = cradle_probes::schema_file::check_committed(&path, &schema()) {
            panic!("{stale}");
        }
    }

    #[test]
    fn host_paths_exclude_the_rootfs_and_self_binds() {
        assert!(is_host_path("/", &None, Some("/b/rootfs")));
        assert!(is_host_path("/var/lib/data", &None, Some("/b/rootfs")));
        assert!(!is_host_path("/b/rootfs", &None, Some("/b/rootfs")));
        assert!(!is_host_path("/b/rootfs/etc", &None, Some("/b/rootfs")));
        assert!(is_host_path("/b/rootfs2", &None, Some("/b/rootfs")));
        assert!(!is_host_path("/x", &Some("/x".into()), None));
        assert!(!is_host_path("", &None, None));
    }
}
