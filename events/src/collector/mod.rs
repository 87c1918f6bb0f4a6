//! The container model: every event is attributed to exactly one container
//! (or to the host), to a process role within it, and to the container's
//! phase at that moment.
//!
//! Attribution follows process lineage, not timing: a container is born at
//! the successful exec of a runtime invocation (`runc run ID`, ...), and
//! every process that invocation creates belongs to it. So the runtime's
//! early events count, before any namespace exists, and containers started
//! at the same moment never mix.
//!
//! A later runtime command that names a known container (`runc start ID`,
//! `delete`, `kill`, `exec`, `state`, `pause`, ...) is that container's
//! too: its events are the container's, marked with the command, and the
//! container records each such call.
//!
//! A process is known from the record that begins it (its parent's
//! `task_new`, or the exec that makes a runtime a tracked root) to the exit
//! of its last thread, and forgotten then: the kernel frees a pid only
//! after its task's exit record is in the ring, and the ring keeps the
//! kernel's order, so a recycled pid always arrives as a new process.

mod id_map;
mod invocation;
mod launcher;
mod links;

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    path::PathBuf,
    sync::Arc,
};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use id_map::{IdMappings, IdRange};
pub use invocation::{Invocation, RUNTIMES, parse as parse_invocation};
pub use launcher::Launcher;
pub use links::NetworkLink;

pub use crate::event::{Phase, Role};
use crate::{
    event::{Detail, Event, ExitStatus, Namespaces, Owner},
    kinds,
};

/// A container's number in its trace, from 0 in the order their runtimes
/// started: unique even where ids repeat, and the same in a replay.
pub type ContainerKey = usize;

/// Where an event belongs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Attribution {
    /// `None`: the host.
    pub container: Option<ContainerKey>,
    pub role: Option<Role>,
    /// The container's phase once this event is taken into account.
    pub phase: Option<Phase>,
    /// The later runtime command (index into [`Container::calls`]) whose
    /// process acted; `None` for the command that created the container.
    pub call: Option<usize>,
}

/// What is known of one container.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Container {
    pub id: Arc<str>,
    pub runtime: String,
    pub bundle: Option<String>,
    /// tgid of the runtime command.
    pub runtime_pid: u32,
    /// tgid of the process that switched root.
    pub init_pid: Option<u32>,
    /// The namespaces the runtime created, as the kernel reported them.
    pub namespaces: Option<Namespaces>,
    /// Each phase reached, in order, with the time of its first event.
    pub phases: Vec<PhaseMark>,
    /// How the init ended, once it did.
    #[serde(default)]
    pub exit: Option<ExitStatus>,
    /// Traces written before `exit` held the raw wait(2) status word
    /// here; read through [`Container::exit`], never written.
    #[serde(default, rename = "exit_code", skip_serializing)]
    #[schemars(skip)]
    pub legacy_wait_status: Option<u32>,
    /// `watch`: the runtime was started by a user other than root.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unprivileged: bool,
    /// Another runtime invocation in this trace named the same id: each is
    /// its own container, and neither is to be taken for the other.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub duplicate_id: bool,
    /// The kernel dropped records (a full ring buffer) while this container
    /// was being born or ran: some of its events may be missing.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub events_may_be_missing: bool,
    /// Who ran the runtime command that created it: its parent first,
    /// then that one's parent, up to (not including) pid 1. Read from
    /// `/proc` by `watch` and `trace` as the runtime started; empty where
    /// it could not be read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub launchers: Vec<Launcher>,
    /// The runtime commands run on it after the one that created it
    /// (`start`, `kill`, `delete`, `exec`, `state`, ...), in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub calls: Vec<RuntimeCall>,
    /// Network links that processes outside it (dockerd, a CNI plugin)
    /// put in its network namespace, in order. Found by `watch` and
    /// `trace` as they run (see `links`); empty where none was seen.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<NetworkLink>,
    /// Its own user namespace's id mapping, read from `/proc` by a live
    /// session once written (see [`IdMappings`]); `None` without a user
    /// namespace of its own, or where it could not be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_mappings: Option<IdMappings>,
    /// Its processes alive when this record was written. Only the records
    /// at the head of a rotated file (`watch --rotate`, part 2 on) carry
    /// them: the container began in an earlier file, and a replay of this
    /// file alone starts from them, so its later events are still its.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub processes: Vec<CarriedProcess>,
}

/// A process of a container, as a rotated file's head carries it over.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CarriedProcess {
    pub tgid: u32,
    pub role: Role,
    /// Threads alive.
    pub threads: u32,
    /// The later runtime command it belongs to (index into `calls`);
    /// absent for the creating command's processes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call: Option<usize>,
}

/// A runtime command run on an existing container.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RuntimeCall {
    /// `start`, `delete`, `kill`, `exec`, ...
    pub command: Arc<str>,
    /// tgid of the runtime command.
    pub pid: u32,
    /// Its exec, CLOCK_MONOTONIC nanoseconds.
    pub ts_ns: u64,
}

impl Container {
    /// How the init ended, also for a container read from an older trace.
    pub fn exit(&self) -> Option<ExitStatus> {
        self.exit.or(self.legacy_wait_status.map(ExitStatus::from_wait_status))
    }

    /// A container read from an older trace, as this version records it.
    pub fn upgrade(&mut self) {
        self.exit = self.exit();
        self.legacy_wait_status = None;
    }

    fn take_recorded(&mut self, recorded: &Container) {
        self.events_may_be_missing |= recorded.events_may_be_missing;
        if self.launchers.is_empty() {
            self.launchers = recorded.launchers.clone();
        }
        if self.links.is_empty() {
            self.links = recorded.links.clone();
        }
        if self.id_mappings.is_none() {
            self.id_mappings = recorded.id_mappings.clone();
        }
    }

    /// Why this container's record may not be the whole story, or not what
    /// it seems, in words; empty for most.
    pub fn caveats(&self) -> Vec<&'static str> {
        let mut caveats = Vec::new();
        if self.events_may_be_missing {
            caveats.push(
                "events may be missing: the kernel dropped records (ring buffer full) while it ran",
            );
        }
        if self.unprivileged {
            caveats.push(
                "started by an unprivileged user: a rootless container, or one posing as another",
            );
        }
        if self.duplicate_id {
            caveats.push(
                "its id was used by another runtime invocation in this trace: a different container",
            );
        }
        caveats
    }

    /// The time of the last step recorded of it.
    fn last_ns(&self) -> u64 {
        let phase = self.phases.last().map_or(0, |mark| mark.ts_ns);
        self.calls.last().map_or(phase, |call| call.ts_ns.max(phase))
    }

    /// When its runtime started (the clock its events are shown against).
    pub fn start_ns(&self) -> u64 {
        self.phases.first().map_or(0, |mark| mark.ts_ns)
    }

    /// Whether `recorded` is this container as a trace file recorded it.
    fn is(&self, recorded: &Container) -> bool {
        self.id == recorded.id
            && self.runtime_pid == recorded.runtime_pid
            && self.start_ns() == recorded.start_ns()
    }

    pub fn phase(&self) -> Phase {
        self.phases.last().map(|mark| mark.phase).unwrap_or(Phase::RuntimeStart)
    }

    fn advance(&mut self, phase: Phase, ts_ns: u64) {
        if phase > self.phase() {
            self.phases.push(PhaseMark { phase, ts_ns });
        }
    }
}

/// A phase a container reached, and when (CLOCK_MONOTONIC nanoseconds).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PhaseMark {
    pub phase: Phase,
    pub ts_ns: u64,
}

#[derive(Clone, Copy, Debug)]
struct Process {
    container: ContainerKey,
    role: Role,
    /// Threads alive: the process ends with the exit of its last one (its
    /// leader may exit before its other threads).
    threads: u32,
    /// The later runtime command it belongs to (index into
    /// [`Container::calls`]); `None` for the creating command's tree.
    call: Option<usize>,
}

/// Builds the container model from events in arrival order.
#[derive(Default)]
pub struct Collector {
    /// The containers known, by key: all of them, but for those
    /// [`Collector::retire`] dropped.
    containers: BTreeMap<ContainerKey, Container>,
    next_key: ContainerKey,
    processes: HashMap<u32, Process>,
    /// Network namespaces containers created (inode number -> container):
    /// a link that a process outside any container puts there is the
    /// container's.
    created_netns: HashMap<u32, ContainerKey>,
    /// Where to read runtimes' launcher chains (a live session's procfs);
    /// `None` in a replay, whose chains come from the container records.
    proc: Option<PathBuf>,
    /// Container records of a trace file not yet matched by a replayed
    /// container: what events alone cannot rebuild.
    recorded: Vec<Container>,
    /// A live session's network namespace: a container that shares it
    /// claims no daemon's links.
    host_netns: Option<u32>,
    /// The network namespace of each container whose namespace is known
    /// and not the host's (created or joined).
    container_netns: HashMap<u32, ContainerKey>,
    /// Link requests seen outside every container, not yet claimed.
    unclaimed_links: links::Unclaimed,
    /// User namespaces containers made or joined (container -> inode
    /// number) whose id maps a live session has not read yet.
    unread_id_maps: HashMap<ContainerKey, u32>,
}

/// `CLONE_NEWNET`.
const CLONE_NEWNET: u64 = 0x4000_0000;
/// `CLONE_NEWUSER`.
const CLONE_NEWUSER: u64 = 0x1000_0000;

impl Collector {
    /// A collector of a live session: it reads each runtime's launcher
    /// chain from `/proc` as the runtime starts.
    pub fn live() -> Collector {
        use std::os::unix::fs::MetadataExt;
        // A namespace's inode number is the kernel's 32-bit ns_common.inum.
        let host_netns =
            std::fs::metadata("/proc/self/ns/net").ok().and_then(|ns| u32::try_from(ns.ino()).ok());
        Collector { proc: Some(PathBuf::from("/proc")), host_netns, ..Default::default() }
    }

    /// The containers known, in the order their runtimes started.
    pub fn containers(
        &self,
    ) -> impl ExactSizeIterator<Item = &Container> + DoubleEndedIterator + Clone {
        self.containers.values()
    }

    pub fn container(&self, key: ContainerKey) -> Option<&Container> {
        self.containers.get(&key)
    }

    /// The containers known whose key is `first` or later: those whose
    /// runtimes started since the collector handed out key `first`.
    pub fn containers_from(&self, first: ContainerKey) -> impl Iterator<Item = &Container> {
        self.containers.range(first..).map(|(_, container)| container)
    }

    /// The key the next container will get.
    pub fn next_key(&self) -> ContainerKey {
        self.next_key
    }

    /// Forgets the containers that are over: none of their processes is
    /// alive, and nothing happened to them after `before_ns`
    /// (CLOCK_MONOTONIC). Returns them, for their records to be written:
    /// a long-running `watch` holds only the containers of its window.
    /// Their keys are never used again.
    pub fn retire(&mut self, before_ns: u64) -> Vec<Container> {
        let alive: HashSet<ContainerKey> = self.processes.values().map(|p| p.container).collect();
        let over: Vec<ContainerKey> = self
            .containers
            .iter()
            .filter(|(key, c)| !alive.contains(key) && c.last_ns() < before_ns)
            .map(|(key, _)| *key)
            .collect();
        if over.is_empty() {
            return Vec::new();
        }
        self.created_netns.retain(|_, key| !over.contains(key));
        self.container_netns.retain(|_, key| !over.contains(key));
        self.unread_id_maps.retain(|key, _| !over.contains(key));
        over.iter().filter_map(|key| self.containers.remove(key)).collect()
    }

    /// The processes (tgids) known to belong to container `key`.
    pub fn processes_of(&self, key: ContainerKey) -> impl Iterator<Item = (u32, Role)> + '_ {
        self.processes
            .iter()
            .filter(move |(_, p)| p.container == key)
            .map(|(pid, p)| (*pid, p.role))
    }

    /// Records were lost after `since_ns` (a gap in a CPU's sequence, see
    /// [`crate::loss::LossTracker`]): every container alive since then
    /// may be missing events.
    pub fn note_loss(&mut self, since_ns: u64) {
        for container in self.containers.values_mut() {
            let ended = container.phases.last().filter(|mark| mark.phase == Phase::Exit);
            if ended.is_none_or(|exit| exit.ts_ns >= since_ns) {
                container.events_may_be_missing = true;
            }
        }
    }

    /// Takes what a trace file's container record carries that events
    /// alone cannot rebuild (where loss was seen, the launcher chain) into
    /// the replayed container it describes, now or once it is replayed.
    ///
    /// A record that carries processes (the head of a rotated file) is a
    /// container that began before this file: unless it is known already,
    /// it is taken in as it stood, with its processes, so that their events
    /// in this file are its.
    pub fn merge_recorded(&mut self, recorded: &Container) {
        match self.containers.values_mut().find(|c| c.is(recorded)) {
            Some(container) => container.take_recorded(recorded),
            None if !recorded.processes.is_empty() => self.carry_in(recorded),
            None => self.recorded.push(recorded.clone()),
        }
    }

    /// Takes in a container, and its processes, carried over from an
    /// earlier file.
    fn carry_in(&mut self, recorded: &Container) {
        let key = self.next_key;
        self.next_key += 1;
        for process in &recorded.processes {
            let CarriedProcess { tgid, role, threads, call } = *process;
            let call = call.filter(|&call| call < recorded.calls.len());
            self.processes.insert(tgid, Process { container: key, role, threads, call });
        }
        let mut container = recorded.clone();
        container.processes.clear();
        container.upgrade();
        self.containers.insert(key, container);
    }

    /// The records that carry the known containers over to the next file
    /// of a rotating watch: each as it stands, with its live processes.
    pub fn carried(&self) -> Vec<Container> {
        self.containers
            .iter()
            .map(|(key, container)| {
                let mut carried = container.clone();
                carried.processes = self
                    .processes
                    .iter()
                    .filter(|(_, p)| p.container == *key)
                    .map(|(tgid, p)| CarriedProcess {
                        tgid: *tgid,
                        role: p.role,
                        threads: p.threads,
                        call: p.call,
                    })
                    .collect();
                carried.processes.sort_by_key(|p| p.tgid);
                carried
            })
            .collect()
    }

    /// Whether process `tgid` is alive and belongs to a container, as far
    /// as the events so far tell.
    pub fn knows(&self, tgid: u32) -> bool {
        self.processes.contains_key(&tgid)
    }

    /// Takes one event into the model and records in it where it belongs.
    pub fn attribute(&mut self, event: &mut Event) {
        let attribution = self.observe(event);
        event.owner = match (attribution.container, attribution.role, attribution.phase) {
            (Some(key), Some(role), Some(phase)) => {
                let container = &self.containers[&key];
                let call = attribution.call.map(|call| container.calls[call].command.clone());
                Some(Owner { container: key, id: container.id.clone(), role, phase, call })
            }
            _ => None,
        };
    }

    /// Takes one event into the model and says where it belongs.
    pub fn observe(&mut self, event: &Event) -> Attribution {
        if let Some((key, call)) = self.runtime_invocation(event) {
            return self.attribution(Some(key), Some(Role::Runtime), call);
        }
        let Some(process) = self.processes.get(&event.tgid).copied() else {
            if self.proc.is_some() {
                self.note_link(event);
            }
            // A daemon (dockerd, netavark) makes a container's link; it
            // acts for the runtime, without becoming the container's.
            if let Some(key) = self.link_destination(event) {
                return self.attribution(Some(key), Some(Role::Runtime), None);
            }
            return Attribution { container: None, role: None, phase: None, call: None };
        };
        let key = process.container;
        let role = match process.call {
            Some(_) => self.update_call(process, event),
            None => {
                let role = self.update(key, process.role, event);
                self.read_id_maps(key, event.tgid);
                role
            }
        };
        self.attribution(Some(key), Some(role), process.call)
    }

    /// Records a link request made outside every container on the
    /// container whose network namespace it puts a link in, or keeps it
    /// until such a container shows up.
    fn note_link(&mut self, event: &Event) {
        let Some(mut request) = links::Request::of(event) else { return };
        let sys_class_net = std::path::Path::new("/sys/class/net");
        if let Some(ifindex) = request.moved_ifindex() {
            let into = request
                .namespaces()
                .find_map(|netns| self.container_netns.get(&netns).map(|key| (netns, *key)));
            if let Some((netns, key)) = into {
                let link = self.unclaimed_links.moved(sys_class_net, ifindex, netns, &request);
                if let Some(container) = self.containers.get_mut(&key) {
                    container.links.push(link);
                }
            }
            return;
        }
        if let Some(host) = self.host_netns {
            request.read_indexes(sys_class_net, host);
        }
        let known: Vec<(u32, ContainerKey)> = request
            .namespaces()
            .filter_map(|netns| self.container_netns.get(&netns).map(|key| (netns, *key)))
            .collect();
        self.unclaimed_links.keep(request);
        for (netns, key) in known {
            self.claim_links(netns, key);
        }
    }

    /// Hands the kept link requests into `netns` to container `key`.
    fn claim_links(&mut self, netns: u32, key: ContainerKey) {
        let claimed = self.unclaimed_links.claim(netns);
        if let Some(container) = self.containers.get_mut(&key) {
            container.links.extend(claimed);
        }
    }

    /// Container `key` is in network namespace `netns` (it made it, or
    /// joined it): the daemons' links there are its, those already made
    /// too. The host's namespace is nobody's.
    fn network_namespace_known(&mut self, key: ContainerKey, netns: u32) {
        if self.proc.is_none() || Some(netns) == self.host_netns || netns == 0 {
            return;
        }
        if self.container_netns.insert(netns, key) != Some(key) {
            self.claim_links(netns, key);
        }
    }

    /// A live session reads the id maps of container `key`'s user
    /// namespace through process `tgid`, if it is in that namespace and
    /// they are written; until then, each event of the container tries.
    fn read_id_maps(&mut self, key: ContainerKey, tgid: u32) {
        let (Some(proc), Some(&user_ns)) = (&self.proc, self.unread_id_maps.get(&key)) else {
            return;
        };
        if let Some(mappings) = IdMappings::read(proc, tgid, user_ns)
            && let Some(container) = self.containers.get_mut(&key)
        {
            container.id_mappings = Some(mappings);
            self.unread_id_maps.remove(&key);
        }
    }

    /// The container whose network namespace a link event puts an end in.
    fn link_destination(&self, event: &Event) -> Option<ContainerKey> {
        let netns: Vec<Option<u32>> = match &event.detail {
            Detail::Veth { link, peer, ret: 0 } => vec![Some(link.netns), Some(peer.netns)],
            Detail::NewLink { link, peer, ret: 0.., answer: None | Some(0), .. } => {
                vec![link.netns, peer.as_ref().and_then(|peer| peer.netns)]
            }
            _ => return None,
        };
        netns.into_iter().flatten().find_map(|inum| self.created_netns.get(&inum).copied())
    }

    fn attribution(
        &self,
        container: Option<ContainerKey>,
        role: Option<Role>,
        call: Option<usize>,
    ) -> Attribution {
        let phase = container.map(|key| self.containers[&key].phase());
        Attribution { container, role, phase, call }
    }

    /// A successful exec of a runtime invocation starts a container, or,
    /// for a later command that names a known one, a call on it.
    fn runtime_invocation(&mut self, event: &Event) -> Option<(ContainerKey, Option<usize>)> {
        let Detail::Exec { argv, ret: Some(0), .. } = &event.detail else {
            return None;
        };
        // A runtime re-executing itself inside a container is not a new one.
        if self.processes.contains_key(&event.tgid) {
            return None;
        }
        // A file named like a runtime that anyone could have written.
        if event.untrusted_runtime {
            return None;
        }
        let invocation = parse_invocation(argv)?;
        if !invocation.creates() {
            return self.call_on(&invocation, event);
        }
        let mut duplicate_id = false;
        for other in self.containers.values_mut().filter(|c| *c.id == *invocation.id) {
            other.duplicate_id = true;
            duplicate_id = true;
        }
        let key = self.next_key;
        self.next_key += 1;
        let mut container = Container {
            id: invocation.id.into(),
            runtime: invocation.runtime,
            bundle: invocation.bundle,
            runtime_pid: event.tgid,
            init_pid: None,
            namespaces: None,
            phases: vec![PhaseMark { phase: Phase::RuntimeStart, ts_ns: event.ts_ns }],
            exit: None,
            legacy_wait_status: None,
            unprivileged: event.unprivileged,
            duplicate_id,
            events_may_be_missing: false,
            launchers: match &self.proc {
                Some(proc) => launcher::chain(proc, event.ppid, launcher::boottime_of(event.ts_ns)),
                None => Vec::new(),
            },
            calls: Vec::new(),
            links: Vec::new(),
            id_mappings: None,
            processes: Vec::new(),
        };
        if let Some(at) = self.recorded.iter().position(|r| container.is(r)) {
            let recorded = self.recorded.swap_remove(at);
            container.take_recorded(&recorded);
        }
        self.containers.insert(key, container);
        self.processes.insert(
            event.tgid,
            Process { container: key, role: Role::Runtime, threads: 1, call: None },
        );
        Some((key, None))
    }

    /// A later runtime command on the latest container of that runtime
    /// with that id; `None` if no such container is known.
    fn call_on(
        &mut self,
        invocation: &Invocation,
        event: &Event,
    ) -> Option<(ContainerKey, Option<usize>)> {
        let (&key, container) = self
            .containers
            .iter_mut()
            .rfind(|(_, c)| *c.id == *invocation.id && c.runtime == invocation.runtime)?;
        let calls = &mut container.calls;
        calls.push(RuntimeCall {
            command: invocation.command.as_str().into(),
            pid: event.tgid,
            ts_ns: event.ts_ns,
        });
        let call = Some(calls.len() - 1);
        self.processes
            .insert(event.tgid, Process { container: key, role: Role::Runtime, threads: 1, call });
        Some((key, call))
    }

    /// Applies an event of a process of a later runtime command: its
    /// processes are followed, and an `exec`'s program is the workload, but
    /// nothing of it moves the container's birth on. Returns the role.
    fn update_call(&mut self, process: Process, event: &Event) -> Role {
        let mut role = process.role;
        match &event.detail {
            Detail::TaskNew { child_tgid, .. } if *child_tgid != event.tgid => {
                let child_role = match role {
                    Role::Runtime | Role::Intermediate => Role::Intermediate,
                    Role::Init | Role::Workload => Role::Workload,
                };
                self.processes.insert(*child_tgid, Process { role: child_role, ..process });
                return role;
            }
            Detail::TaskNew { .. } => {
                if let Some(process) = self.processes.get_mut(&event.tgid) {
                    process.threads += 1;
                }
                return role;
            }
            Detail::TaskExit { .. } => {
                self.thread_exited(event.tgid);
                return role;
            }
            // `runc exec`'s child joins the container and runs the program
            // asked for; its earlier execs are the runtime's own (`runc
            // init`, a re-exec from a sealed copy).
            Detail::Exec { filename, argv, ret: Some(0), .. }
                if role == Role::Intermediate && !is_runtime_exec(filename, argv) =>
            {
                role = Role::Workload;
            }
            _ => {}
        }
        if let Some(process) = self.processes.get_mut(&event.tgid) {
            process.role = role;
        }
        role
    }

    fn thread_exited(&mut self, tgid: u32) {
        if let Some(process) = self.processes.get_mut(&tgid) {
            process.threads = process.threads.saturating_sub(1);
            if process.threads == 0 {
                self.processes.remove(&tgid);
            }
        }
    }

    /// Applies an event of a process of container `key`; returns the
    /// process's role after it.
    fn update(&mut self, key: ContainerKey, role: Role, event: &Event) -> Role {
        if let Detail::Namespaces { namespaces, ret: 0.., .. }
        | Detail::Setns { namespaces, ret: 0.., .. } = &event.detail
        {
            self.network_namespace_known(key, namespaces.net);
        }
        let Some(container) = self.containers.get_mut(&key) else { return role };
        let ts = event.ts_ns;
        let mut role = role;
        // The phase this event begins, by its kind's rule (`kinds::KINDS`),
        // judged with the role the process had before it.
        let effect = kinds::spec(event.detail.kind())
            .phase
            .filter(|effect| effect.applies(&event.detail, role, container.phase()));
        match &event.detail {
            Detail::TaskNew { child_tgid, .. } if *child_tgid != event.tgid => {
                let child_role = match role {
                    Role::Runtime | Role::Intermediate => Role::Intermediate,
                    Role::Init | Role::Workload => Role::Workload,
                };
                // A new process: whatever was known under its pid is gone.
                self.processes.insert(
                    *child_tgid,
                    Process { container: key, role: child_role, threads: 1, call: None },
                );
            }
            Detail::TaskNew { .. } => {
                if let Some(process) = self.processes.get_mut(&event.tgid) {
                    process.threads += 1;
                }
            }
            Detail::Namespaces { namespaces, flags, .. } if effect.is_some() => {
                if flags & CLONE_NEWNET != 0 && namespaces.net != 0 {
                    self.created_netns.insert(namespaces.net, key);
                }
                // The container's own, not one its workload makes.
                if flags & CLONE_NEWUSER != 0 && namespaces.user != 0 && role != Role::Workload {
                    self.unread_id_maps.insert(key, namespaces.user);
                }
                container.namespaces = Some(*namespaces);
            }
            // A user namespace joined by path (its maps are long written).
            Detail::Setns { nstype_names, namespaces, ret: 0, .. }
                if role != Role::Workload
                    && nstype_names.iter().any(|name| name == "user")
                    && namespaces.user != 0 =>
            {
                self.unread_id_maps.insert(key, namespaces.user);
            }
            Detail::PivotRoot { .. } | Detail::Chroot { .. } if effect.is_some() => {
                role = Role::Init;
                container.init_pid = Some(event.tgid);
            }
            Detail::Exec { .. } | Detail::ProcessExec { .. } if effect.is_some() => {
                role = Role::Workload;
            }
            Detail::Exec { .. } | Detail::ExecResult { .. } | Detail::ProcessExec { .. } => {}
            Detail::TaskExit { exit_code } => {
                if event.pid == event.tgid && container.init_pid == Some(event.tgid) {
                    container.exit = Some(ExitStatus::from_wait_status(*exit_code));
                    container.advance(Phase::Exit, ts);
                } else if role == Role::Workload && container.phase() == Phase::WorkloadExec {
                    container.advance(Phase::Running, ts);
                }
                self.thread_exited(event.tgid);
                return role;
            }
            // The rest of the kinds' phase rules: below.
            _ if effect.is_some() => {}
            // The workload doing anything else after its exec: it runs.
            _ if role == Role::Workload && container.phase() == Phase::WorkloadExec => {
                container.advance(Phase::Running, ts);
            }
            _ => {}
        }
        if let Some(effect) = effect {
            container.advance(effect.begins, ts);
        }
        if let Some(process) = self.processes.get_mut(&event.tgid) {
            process.role = role;
        }
        role
    }
}

/// An exec by which a runtime runs itself again (`runc init`, a re-exec
/// from a sealed copy by file descriptor), not a program it was asked to
/// run.
fn is_runtime_exec(filename: &str, argv: &[String]) -> bool {
    filename.is_empty()
        || filename.starts_with("/proc/")
        || filename.starts_with("/dev/fd/")
        || argv.get(1).is_some_and(|arg| arg == "init")
        || argv.first().is_some_and(|program| invocation::runtime_name(program).is_some())
}

#[cfg(test)]
mod tests;
