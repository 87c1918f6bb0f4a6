//! Building the audit report from a loaded trace: each container's events,
//! in time order, folded into the [`crate::model`] types, then the rules'
//! findings on each.

use std::collections::{BTreeMap, HashMap};

use cradle_events::{
    Detail, Event, ExitStatus, Namespaces,
    abi::AT_FDCWD,
    collector::{Container, Phase, Role},
    event::Name,
    fd_paths::FdPaths,
    names,
    trace_file::Truncation,
};

use crate::{load::LoadedTrace, model::*, rules};

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
        let cited_by_exec_only = self.host_namespaces_at_start(start);
        let mut report = NamespaceReport::default();
        let current = self.namespace_changes(&mut report, &cited_by_exec_only);
        report.views = NAMESPACE_KINDS
            .iter()
            .map(|kind| self.namespace_view(kind, workload, current))
            .collect();
        report.id_mappings = self.container.id_mappings.clone();
        report
    }

    /// Records the host's namespaces known at the runtime's exec: its mnt
    /// and pid namespaces, and the others from the trace's header. Returns
    /// the kinds known from the header, which the runtime's exec cites
    /// until an event shows them.
    fn host_namespaces_at_start(&mut self, start: Option<usize>) -> Vec<&'static str> {
        let mut cited_by_exec_only = Vec::new();
        let Some(i) = start else { return cited_by_exec_only };
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
        cited_by_exec_only
    }

    /// Follows the namespaces created and joined into `report`. Returns the
    /// namespaces the init lineage holds before the exec, and the event
    /// that last set them.
    fn namespace_changes(
        &mut self,
        report: &mut NamespaceReport,
        cited_by_exec_only: &[&str],
    ) -> Option<(Namespaces, usize)> {
        // Kinds joined by path before the first namespace change (runc
        // joins, then unshares): that change's set holds the joined ones,
        // not the host's.
        let mut joined_first: Vec<&str> = Vec::new();
        let mut current = None;
        for &i in self.events {
            let (_, phase) = self.owner(i);
            match &self.event(i).detail {
                Detail::Namespaces { source, created, namespaces, ret: 0.., .. } => {
                    // Only the first change still holds the host's others.
                    if report.created.is_empty() {
                        self.learn_host_from_first_change(
                            i,
                            created,
                            namespaces,
                            &joined_first,
                            cited_by_exec_only,
                        );
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
                    let looked_at: Vec<&str> = if *nstype == 0 {
                        NAMESPACE_KINDS.to_vec()
                    } else {
                        nstype_names.iter().map(|n| n.as_ref()).collect()
                    };
                    if report.created.is_empty() {
                        joined_first.extend(looked_at.iter().copied());
                    }
                    report.joined.push(self.namespace_joined(
                        i,
                        *nstype,
                        nstype_names,
                        namespaces,
                        &looked_at,
                    ));
                    if phase < Phase::WorkloadExec {
                        current = Some((*namespaces, i));
                    }
                }
                _ => {}
            }
        }
        current
    }

    /// The host's namespace of each kind the first namespace change (event
    /// `i`) neither created nor found joined, unless the host's is already
    /// known from an event.
    fn learn_host_from_first_change(
        &mut self,
        i: usize,
        created: &[Name],
        namespaces: &Namespaces,
        joined_first: &[&str],
        cited_by_exec_only: &[&str],
    ) {
        for kind in NAMESPACE_KINDS {
            let made = created.iter().any(|c| c == kind);
            if made || joined_first.contains(&kind) {
                continue;
            }
            let Some(inum) = inum_of(namespaces, kind) else { continue };
            let shows_host = match self.host.get(kind) {
                None => true,
                Some(&(host, _)) => host == inum && cited_by_exec_only.contains(&kind),
            };
            if shows_host {
                self.host.insert(kind, (inum, i));
            }
        }
    }

    /// A setns (event `i`): the kinds it joined, their namespaces, and
    /// which of them are the host's.
    fn namespace_joined(
        &self,
        i: usize,
        nstype: u32,
        nstype_names: &[Name],
        namespaces: &Namespaces,
        looked_at: &[&str],
    ) -> NamespaceJoined {
        let (role, phase) = self.owner(i);
        let kinds: Vec<String> = if nstype == 0 {
            vec!["any".into()]
        } else {
            nstype_names.iter().map(|n| n.to_string()).collect()
        };
        let mut inums = BTreeMap::new();
        let mut into_host = Vec::new();
        for &kind in looked_at {
            // After setns(CLONE_NEWPID) only the children move.
            let Some(inum) = namespaces.inum(kind) else { continue };
            inums.insert(kind.to_string(), inum);
            if self.host.get(kind).is_some_and(|(host, _)| *host == inum) {
                into_host.push(kind.to_string());
            }
        }
        NamespaceJoined {
            kinds,
            inums,
            after_start: phase >= Phase::WorkloadExec,
            into_host,
            role,
            evidence: self.r(i),
        }
    }

    /// The workload's namespace of one kind against the host's, with the
    /// events that show both. `current`: the namespaces the init lineage
    /// held before the exec, and the event that last set them.
    fn namespace_view(
        &self,
        kind: &str,
        workload: Option<usize>,
        current: Option<(Namespaces, usize)>,
    ) -> NamespaceView {
        let host = self.host.get(kind).copied();
        let mut evidence = Vec::new();
        if let Some((_, i)) = host {
            evidence.push(i);
        }
        // The workload's own exec event says its mnt and pid namespace
        // directly; the others come from the last namespace change.
        let direct = match (kind, workload.map(|i| self.event(i))) {
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
        NamespaceView {
            kind: kind.into(),
            inum,
            host_inum,
            shared_with_host: inum.is_some() && inum == host_inum,
            evidence: evidence.into_iter().map(|i| self.r(i)).collect(),
        }
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

    /// The container's mounts in the order they were made, by mount(2) or
    /// the new mount API; a remount or mount_setattr is folded into the
    /// mount it changes.
    fn mounts(&self, host_mnt: Option<u32>, rootfs: Option<&str>) -> Vec<MountReport> {
        let mut walk = MountWalk::default();
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
            let named = self.named(i);
            walk.follow(&MountingEvent {
                builder: self,
                index: i,
                event,
                role,
                phase,
                source_path: named.and_then(|n| n.source.clone()),
                target_path: named.and_then(|n| n.target.clone()),
                rootfs,
                before_switch_in_container: phase < Phase::RootSwitch
                    && host_mnt.is_some_and(|host| host != event.mnt_ns),
            });
        }
        walk.mounts
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
            let all = names::known_capabilities();
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
        let end = |link: &cradle_events::LinkPlacement| LinkEnd {
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

/// An event of the container that may mount, with what each mount report
/// made from it shares.
struct MountingEvent<'b> {
    builder: &'b ContainerBuilder<'b>,
    index: usize,
    event: &'b Event,
    role: Role,
    phase: Phase,
    /// The source and target it named through descriptors.
    source_path: Option<String>,
    target_path: Option<String>,
    rootfs: Option<&'b str>,
    /// Before the root switch, in the container's own mount namespace:
    /// where a bind of a host path opens the host to the container.
    before_switch_in_container: bool,
}

impl MountingEvent<'_> {
    fn evidence(&self) -> EventRef {
        self.builder.r(self.index)
    }

    /// A mount of this event, from its raw source and target.
    fn new_mount(
        &self,
        operation: MountOperation,
        source: Option<String>,
        target: &Option<String>,
    ) -> MountReport {
        // Only where the descriptor stood for another path.
        let differs = |path: &Option<String>, raw: &Option<String>| {
            path.clone().filter(|p| Some(p) != raw.as_ref())
        };
        MountReport {
            operation,
            container_path: container_path_of(
                self.target_path.as_deref().or(target.as_deref()),
                self.phase,
                self.rootfs,
            ),
            target_path: differs(&self.target_path, target),
            source_path: differs(&self.source_path, &source),
            source,
            target: target.clone(),
            fstype: None,
            flags: Vec::new(),
            data: None,
            read_only: false,
            host_source: false,
            result: 0,
            role: self.role,
            phase: self.phase,
            evidence: vec![self.evidence()],
        }
    }
}

/// The mounts found so far while following a container's events in time
/// order, and the per-thread state a later event may complete or change.
#[derive(Default)]
struct MountWalk {
    mounts: Vec<MountReport>,
    /// Per thread: the last mount made, which a remount may modify.
    last_made: HashMap<u32, usize>,
    /// Per thread: a mount under construction with the new mount API.
    pending: HashMap<u32, MountReport>,
    /// Per thread: the filesystem its last fsopen named, for its fsmount.
    fs_names: HashMap<u32, String>,
}

impl MountWalk {
    fn follow(&mut self, at: &MountingEvent) {
        let pid = at.event.pid;
        match &at.event.detail {
            Detail::Mount { .. } => self.mount(at),
            // OPEN_TREE_CLONE: a detached copy, to be attached by
            // move_mount: a bind mount in the making.
            Detail::OpenTree { path, flags, ret, .. } if *ret >= 0 && flags & 1 != 0 => {
                self.open_tree_clone(at, path)
            }
            Detail::Fsopen { fsname: Some(name), ret: 0.., .. } => {
                self.fs_names.insert(pid, name.clone());
            }
            Detail::Fsmount { attr_names, ret: 0.., .. } => self.fsmount(at, attr_names),
            Detail::MountSetattr { attr_set_names, ret: 0, .. } => {
                self.mount_setattr(at, attr_set_names)
            }
            Detail::MoveMount { from_path, to_path, ret, .. } => {
                self.move_mount(at, from_path, to_path, *ret)
            }
            _ => {}
        }
    }

    /// mount(2): a new mount, or a remount of one made before.
    fn mount(&mut self, at: &MountingEvent) {
        let Detail::Mount { source, target, fstype, flags, flag_names, data, ret } =
            &at.event.detail
        else {
            return;
        };
        let operation = mount_operation(*flags);
        let read_only = flags & MS_RDONLY != 0;
        let mut mount = at.new_mount(operation, source.clone(), target);
        if operation == MountOperation::Remount
            && *ret == 0
            && let Some(made) = self.remounted(at, target, mount.container_path.as_deref())
        {
            self.mounts[made].read_only = read_only;
            self.mounts[made].evidence.push(at.evidence());
            return;
        }
        mount.fstype = fstype.clone().filter(|f| !f.is_empty());
        mount.flags = flag_names.clone();
        mount.data = data.clone().filter(|d| !d.is_empty());
        mount.read_only = read_only;
        mount.result = *ret;
        mount.host_source = operation == MountOperation::Bind
            && *ret == 0
            && at.before_switch_in_container
            && mount.source_or_path().is_some_and(|s| {
                is_host_path(s, &at.target_path.clone().or(target.clone()), at.rootfs)
            });
        self.mounts.push(mount);
        if *ret == 0 && matches!(operation, MountOperation::Bind | MountOperation::Filesystem) {
            self.last_made.insert(at.event.pid, self.mounts.len() - 1);
        }
    }

    /// The mount a successful remount changes: by path where the target is
    /// known (runtimes that remount by descriptor do it long after the
    /// mount); else the same thread's last mount, when the remount names
    /// the same target.
    fn remounted(
        &self,
        at: &MountingEvent,
        target: &Option<String>,
        container_path: Option<&str>,
    ) -> Option<usize> {
        let by_thread = self.last_made.get(&at.event.pid).copied().filter(|&made| {
            target == &self.mounts[made].target
                || (target.as_deref().is_some_and(|t| t.starts_with("/proc/self/"))
                    && container_path.is_none())
        });
        last_made_at(&self.mounts, container_path).or(by_thread)
    }

    fn open_tree_clone(&mut self, at: &MountingEvent, path: &Option<String>) {
        let mut mount = at.new_mount(MountOperation::Bind, path.clone(), &None);
        mount.host_source = at.before_switch_in_container
            && mount.source_or_path().is_some_and(|s| is_host_path(s, &None, at.rootfs));
        self.pending.insert(at.event.pid, mount);
    }

    fn fsmount(&mut self, at: &MountingEvent, attr_names: &[String]) {
        let mut mount = at.new_mount(MountOperation::Filesystem, None, &None);
        mount.fstype = self.fs_names.get(&at.event.pid).cloned();
        mount.flags = attr_names.to_vec();
        mount.read_only = attr_names.iter().any(|a| a == "MOUNT_ATTR_RDONLY");
        self.pending.insert(at.event.pid, mount);
    }

    /// Attributes set on the mount under construction, or else on the
    /// mount made at that path or by the thread last.
    fn mount_setattr(&mut self, at: &MountingEvent, attr_set_names: &[String]) {
        let read_only = attr_set_names.iter().any(|a| a == "MOUNT_ATTR_RDONLY");
        let at_path = container_path_of(at.target_path.as_deref(), at.phase, at.rootfs);
        if let Some(mount) = self.pending.get_mut(&at.event.pid) {
            mount.read_only |= read_only;
            mount.flags.extend(attr_set_names.iter().cloned());
            mount.evidence.push(at.evidence());
        } else if let Some(made) = last_made_at(&self.mounts, at_path.as_deref())
            .or_else(|| self.last_made.get(&at.event.pid).copied())
        {
            self.mounts[made].read_only |= read_only;
            self.mounts[made].evidence.push(at.evidence());
        }
    }

    /// move_mount(2): attaches the mount under construction, or moves an
    /// attached one.
    fn move_mount(
        &mut self,
        at: &MountingEvent,
        from_path: &Option<String>,
        to_path: &Option<String>,
        ret: i64,
    ) {
        let moved = at.new_mount(MountOperation::Move, from_path.clone(), to_path);
        let mut mount = match self.pending.remove(&at.event.pid) {
            Some(mut mount) => {
                mount.evidence.push(at.evidence());
                mount
            }
            None => moved.clone(),
        };
        mount.target = to_path.clone();
        mount.target_path = moved.target_path;
        mount.container_path = moved.container_path;
        mount.result = ret;
        mount.role = at.role;
        mount.phase = at.phase;
        self.mounts.push(mount);
        if ret == 0 {
            self.last_made.insert(at.event.pid, self.mounts.len() - 1);
        }
    }
}

/// What mount(2) does with these flags.
fn mount_operation(flags: u64) -> MountOperation {
    if flags & MS_REMOUNT != 0 {
        MountOperation::Remount
    } else if flags & MS_BIND != 0 {
        MountOperation::Bind
    } else if flags & MS_MOVE != 0 {
        MountOperation::Move
    } else if flags & MS_PROPAGATION != 0 {
        MountOperation::Propagation
    } else {
        MountOperation::Filesystem
    }
}

/// The last mount made (a filesystem or a bind) at a container path: what
/// a later remount of that path changes, however it names it.
fn last_made_at(mounts: &[MountReport], path: Option<&str>) -> Option<usize> {
    let path = path?;
    mounts.iter().rposition(|m| {
        m.result == 0
            && matches!(m.operation, MountOperation::Bind | MountOperation::Filesystem)
            && m.container_path.as_deref() == Some(path)
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capabilities_are_named_and_a_number_past_the_table_kept() {
        assert_eq!(cap_names(1 | 1 << 21 | 1 << 41), ["CAP_CHOWN", "CAP_SYS_ADMIN", "CAP_41"]);
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
