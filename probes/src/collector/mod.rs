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
//! A process is known from the record that begins it (its parent's
//! `task_new`, or the exec that makes a runtime a tracked root) to the exit
//! of its last thread, and forgotten then: the kernel frees a pid only
//! after its task's exit record is in the ring, and the ring keeps the
//! kernel's order, so a recycled pid always arrives as a new process.

mod invocation;

use std::{collections::HashMap, sync::Arc};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use invocation::{Invocation, parse as parse_invocation};

use crate::event::{Detail, Event, ExitStatus, Namespaces, Owner};

/// A process's part in its container's birth.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The runtime command itself (`runc run`).
    Runtime,
    /// Processes the runtime creates on the way (`runc init` stages).
    Intermediate,
    /// The process that switches root and becomes the container's init.
    Init,
    /// The user's program, from its exec on, and its descendants.
    Workload,
}

/// The stages of a container's birth, in the order they happen.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    RuntimeStart,
    NamespaceCreation,
    RootfsAssembly,
    RootSwitch,
    PrivilegeReduction,
    WorkloadExec,
    Running,
    Exit,
}

impl Phase {
    pub const ALL: [Phase; 8] = [
        Phase::RuntimeStart,
        Phase::NamespaceCreation,
        Phase::RootfsAssembly,
        Phase::RootSwitch,
        Phase::PrivilegeReduction,
        Phase::WorkloadExec,
        Phase::Running,
        Phase::Exit,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Phase::RuntimeStart => "runtime_start",
            Phase::NamespaceCreation => "namespace_creation",
            Phase::RootfsAssembly => "rootfs_assembly",
            Phase::RootSwitch => "root_switch",
            Phase::PrivilegeReduction => "privilege_reduction",
            Phase::WorkloadExec => "workload_exec",
            Phase::Running => "running",
            Phase::Exit => "exit",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Phase::RuntimeStart => "Runtime start",
            Phase::NamespaceCreation => "Namespace creation",
            Phase::RootfsAssembly => "Root filesystem assembly",
            Phase::RootSwitch => "Root switch",
            Phase::PrivilegeReduction => "Privilege reduction",
            Phase::WorkloadExec => "Workload exec",
            Phase::Running => "Running",
            Phase::Exit => "Exit",
        }
    }
}

/// Index of a container in [`Collector::containers`].
pub type ContainerKey = usize;

/// Where an event belongs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Attribution {
    /// `None`: the host.
    pub container: Option<ContainerKey>,
    pub role: Option<Role>,
    /// The container's phase once this event is taken into account.
    pub phase: Option<Phase>,
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
}

/// Builds the container model from events in arrival order.
#[derive(Default)]
pub struct Collector {
    containers: Vec<Container>,
    processes: HashMap<u32, Process>,
    /// Network namespaces containers created (inode number -> container):
    /// a link that a process outside any container puts there is the
    /// container's.
    created_netns: HashMap<u32, ContainerKey>,
}

/// `CLONE_NEWNET`.
const CLONE_NEWNET: u64 = 0x4000_0000;

impl Collector {
    pub fn containers(&self) -> &[Container] {
        &self.containers
    }

    /// The processes (tgids) known to belong to container `key`.
    pub fn processes_of(&self, key: ContainerKey) -> impl Iterator<Item = (u32, Role)> + '_ {
        self.processes
            .iter()
            .filter(move |(_, p)| p.container == key)
            .map(|(pid, p)| (*pid, p.role))
    }

    /// Records were lost after `since_ns` (a gap in a CPU's sequence, see
    /// [`crate::stream::LossTracker`]): every container alive since then
    /// may be missing events.
    pub fn note_loss(&mut self, since_ns: u64) {
        for container in &mut self.containers {
            let ended = container.phases.last().filter(|mark| mark.phase == Phase::Exit);
            if ended.is_none_or(|exit| exit.ts_ns >= since_ns) {
                container.events_may_be_missing = true;
            }
        }
    }

    /// Takes the marks a recorded container record carries that events
    /// alone cannot rebuild (where loss was seen) into container `key` of a
    /// replay, if it is the same container.
    pub fn merge_recorded(&mut self, key: ContainerKey, recorded: &Container) {
        if let Some(container) = self.containers.get_mut(key)
            && container.id == recorded.id
            && container.runtime_pid == recorded.runtime_pid
        {
            container.events_may_be_missing |= recorded.events_may_be_missing;
        }
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
                Some(Owner { container: key, id: self.containers[key].id.clone(), role, phase })
            }
            _ => None,
        };
    }

    /// Takes one event into the model and says where it belongs.
    pub fn observe(&mut self, event: &Event) -> Attribution {
        if let Some(key) = self.container_started_by(event) {
            return self.attribution(Some(key), Some(Role::Runtime));
        }
        let Some(process) = self.processes.get(&event.tgid).copied() else {
            // A daemon (dockerd, netavark) makes a container's link; it
            // acts for the runtime, without becoming the container's.
            if let Some(key) = self.link_destination(event) {
                return self.attribution(Some(key), Some(Role::Runtime));
            }
            return Attribution { container: None, role: None, phase: None };
        };
        let key = process.container;
        let role = self.update(key, process.role, event);
        self.attribution(Some(key), Some(role))
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

    fn attribution(&self, container: Option<ContainerKey>, role: Option<Role>) -> Attribution {
        let phase = container.map(|key| self.containers[key].phase());
        Attribution { container, role, phase }
    }

    /// A successful exec of a runtime invocation starts a container.
    fn container_started_by(&mut self, event: &Event) -> Option<ContainerKey> {
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
        let mut duplicate_id = false;
        for other in self.containers.iter_mut().filter(|c| *c.id == *invocation.id) {
            other.duplicate_id = true;
            duplicate_id = true;
        }
        self.containers.push(Container {
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
        });
        let key = self.containers.len() - 1;
        self.processes
            .insert(event.tgid, Process { container: key, role: Role::Runtime, threads: 1 });
        Some(key)
    }

    /// Applies an event of a process of container `key`; returns the
    /// process's role after it.
    fn update(&mut self, key: ContainerKey, role: Role, event: &Event) -> Role {
        let container = &mut self.containers[key];
        let ts = event.ts_ns;
        let mut role = role;
        match &event.detail {
            Detail::TaskNew { child_tgid, .. } if *child_tgid != event.tgid => {
                let child_role = match role {
                    Role::Runtime | Role::Intermediate => Role::Intermediate,
                    Role::Init | Role::Workload => Role::Workload,
                };
                // A new process: whatever was known under its pid is gone.
                self.processes
                    .insert(*child_tgid, Process { container: key, role: child_role, threads: 1 });
            }
            Detail::TaskNew { .. } => {
                if let Some(process) = self.processes.get_mut(&event.tgid) {
                    process.threads += 1;
                }
            }
            Detail::Namespaces { namespaces, flags, ret: 0.., .. } => {
                if flags & CLONE_NEWNET != 0 && namespaces.net != 0 {
                    self.created_netns.insert(namespaces.net, key);
                }
                container.namespaces = Some(*namespaces);
                container.advance(Phase::NamespaceCreation, ts);
            }
            Detail::Mount { ret: 0.., .. }
            | Detail::Umount { ret: 0.., .. }
            | Detail::Fsopen { ret: 0.., .. }
            | Detail::Fsconfig { ret: 0.., .. }
            | Detail::Fsmount { ret: 0.., .. }
            | Detail::MoveMount { ret: 0.., .. }
            | Detail::OpenTree { ret: 0.., .. }
            | Detail::MountSetattr { ret: 0.., .. }
                if container.phase() >= Phase::NamespaceCreation =>
            {
                container.advance(Phase::RootfsAssembly, ts);
            }
            Detail::PivotRoot { ret: 0, .. } | Detail::Chroot { ret: 0, .. } => {
                role = Role::Init;
                container.init_pid = Some(event.tgid);
                container.advance(Phase::RootSwitch, ts);
            }
            Detail::Capset { ret: 0, .. } | Detail::Seccomp { ret: 0.., .. }
                if container.phase() >= Phase::RootSwitch =>
            {
                container.advance(Phase::PrivilegeReduction, ts);
            }
            Detail::Prctl { option_name: Some(name), ret: 0.., .. }
                if container.phase() >= Phase::RootSwitch
                    && matches!(
                        name.as_ref(),
                        "PR_SET_NO_NEW_PRIVS" | "PR_CAPBSET_DROP" | "PR_SET_SECCOMP"
                    ) =>
            {
                container.advance(Phase::PrivilegeReduction, ts);
            }
            // The scheduler's exec event can arrive before the joined
            // exec record (which waits for the syscall's return): either
            // marks the workload's exec.
            Detail::Exec { ret: Some(0), .. } | Detail::ProcessExec { .. }
                if role == Role::Init =>
            {
                role = Role::Workload;
                container.advance(Phase::WorkloadExec, ts);
            }
            Detail::Exec { .. } | Detail::ExecResult { .. } | Detail::ProcessExec { .. } => {}
            Detail::TaskExit { exit_code } => {
                if event.pid == event.tgid && container.init_pid == Some(event.tgid) {
                    container.exit = Some(ExitStatus::from_wait_status(*exit_code));
                    container.advance(Phase::Exit, ts);
                } else if role == Role::Workload && container.phase() == Phase::WorkloadExec {
                    container.advance(Phase::Running, ts);
                }
                if let Some(process) = self.processes.get_mut(&event.tgid) {
                    process.threads = process.threads.saturating_sub(1);
                    if process.threads == 0 {
                        self.processes.remove(&event.tgid);
                    }
                }
                return role;
            }
            _ if role == Role::Workload && container.phase() == Phase::WorkloadExec => {
                container.advance(Phase::Running, ts);
            }
            _ => {}
        }
        if let Some(process) = self.processes.get_mut(&event.tgid) {
            process.role = role;
        }
        role
    }
}

#[cfg(test)]
mod tests;
