//! The audit report: what a trace shows of each container's birth (identity,
//! runtime, phases, namespaces, mounts, root switch, privileges, cgroups,
//! network, processes) and the findings the rules draw from it. Every fact
//! cites the events it rests on ([`EventRef`]). The JSON Schema, generated
//! from these types, is `schemas/report.schema.json`; changes are additive.

use std::collections::BTreeMap;

use cradle_events::{
    NamespaceSource,
    collector::{IdMappings, Launcher, Phase, Role},
    trace_file::{ProbeAbsence, TraceEnd, TraceMode},
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

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
    /// `cradle_events::collector::NetworkLink`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub daemon_links: Vec<cradle_events::collector::NetworkLink>,
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

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 5] =
        [Severity::Info, Severity::Low, Severity::Medium, Severity::High, Severity::Critical];

    pub fn name(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    pub fn parse(name: &str) -> Option<Severity> {
        Severity::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// A rule's finding on one container.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Finding {
    /// The rule's id.
    pub id: String,
    /// The rule's short name.
    pub rule: String,
    pub severity: Severity,
    pub title: String,
    /// What was found in this container.
    pub message: String,
    pub rationale: String,
    pub remediation: String,
    /// The events the finding rests on (for an absence: the event by which
    /// it should have happened, usually the workload's exec).
    pub evidence: Vec<EventRef>,
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
        if let Err(stale) = cradle_events::schema_file::check_committed(&path, &schema()) {
            panic!("{stale}");
        }
    }
}
