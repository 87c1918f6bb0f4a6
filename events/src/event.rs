//! Decoded events: owned, self-describing values built from ring-buffer
//! records by [`crate::decode`].

use std::{borrow::Cow, sync::Arc};

use cradle_probes_common::EventKind;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A name from a fixed vocabulary (`"mnt"`, `"PR_SET_NO_NEW_PRIVS"`): static
/// when decoded, owned when read back from a trace file.
pub type Name = Cow<'static, str>;

/// One kernel event, with the acting task's identity and, once the
/// collector has seen it, the container it belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Event {
    /// Per-CPU sequence number; `(cpu, seq)` names the record.
    pub seq: u64,
    pub cpu: u32,
    /// CLOCK_MONOTONIC nanoseconds.
    pub ts_ns: u64,
    /// Kernel pid of the acting thread.
    pub pid: u32,
    /// Kernel tgid (process id) of the acting thread.
    pub tgid: u32,
    /// tgid of the real parent.
    pub ppid: u32,
    pub comm: String,
    pub cgroup_id: u64,
    pub mnt_ns: u32,
    pub pid_ns: u32,
    /// A string or data area of the record was longer than the record
    /// holds and was cut (exec argv has its own flags).
    pub truncated: bool,
    /// Step mode: the kernel stopped the task right after this call, and
    /// it waits for a SIGCONT.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stopped: bool,
    /// `watch`, on a runtime's exec: the file it runs is not owned by root
    /// or is writable by others, so it is no trusted runtime whatever its
    /// name. It starts no container, and nothing more of it is recorded.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub untrusted_runtime: bool,
    /// `watch`, on a runtime's exec: made by a user other than root.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unprivileged: bool,
    /// The container the event belongs to; `None` for the host, and until
    /// the collector has attributed it.
    pub owner: Option<Owner>,
    /// What happened, keyed by the event kind (`{"mount": {...}}`).
    pub detail: Detail,
}

#[cfg(test)]
impl Event {
    /// An event of task `pid` of process `tgid`, with zeros elsewhere: for
    /// unit tests of what follows events.
    pub(crate) fn of_task(pid: u32, tgid: u32, comm: &str, detail: Detail) -> Event {
        Event {
            seq: 0,
            cpu: 0,
            ts_ns: 0,
            pid,
            tgid,
            ppid: 1,
            comm: comm.into(),
            cgroup_id: 0,
            mnt_ns: 0,
            pid_ns: 0,
            truncated: false,
            stopped: false,
            untrusted_runtime: false,
            unprivileged: false,
            owner: None,
            detail,
        }
    }
}

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

impl Role {
    /// Its name, as in trace files.
    pub fn name(self) -> &'static str {
        match self {
            Role::Runtime => "runtime",
            Role::Intermediate => "intermediate",
            Role::Init => "init",
            Role::Workload => "workload",
        }
    }
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

/// Where the collector placed an event: its container, the acting
/// process's role in it, and the container's phase once the event counted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Owner {
    /// Index of the container in its trace (see
    /// [`crate::collector::Collector::containers`]): unique even where an id
    /// is reused.
    pub container: usize,
    /// The container's id, as its runtime was given it.
    pub id: Arc<str>,
    pub role: Role,
    pub phase: Phase,
    /// The later runtime command (`start`, `delete`, `exec`, ...) whose
    /// process acted; absent for the command that created the container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call: Option<Arc<str>>,
}

/// Inode numbers of a task's namespaces, as in `readlink /proc/PID/ns/*`;
/// 0 where the kernel has none. The ABI's record, serialized as is.
pub type Namespaces = cradle_probes_common::NamespaceSet;

/// Which kernel path produced a [`Detail::Namespaces`] event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NamespaceSource {
    /// The `task_newtask` tracepoint, from the new task (clone, clone3).
    TaskNewtask,
    /// The exit of unshare(2), from the caller.
    Unshare,
    /// A source this build does not know.
    Unknown,
}

/// Where a [`Detail::Namespaces`] event's inode numbers were read: the
/// same event, whichever the kernel allowed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NamespaceHook {
    /// From the task, once the call made its namespaces (the tracepoint
    /// path).
    #[default]
    Tracepoint,
    /// From the nsproxy `create_new_namespaces` returned (its fexit or
    /// kretprobe; the trace header says which).
    CreateNewNamespaces,
}

/// One end of a veth pair, as the kernel made it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct VethEndpoint {
    pub name: String,
    /// The interface index in its network namespace.
    pub ifindex: u32,
    /// Inode number of the network namespace the end is in (0: unread).
    pub netns: u32,
}

/// Where one end of a new link goes, as the request says.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LinkPlacement {
    /// The interface name asked for (`None`: the kernel picks one).
    pub name: Option<String>,
    /// Inode number of the network namespace the end lands in: the
    /// sender's when the request leaves the end there, or the one the
    /// named namespace file descriptor held (resolved by the probe).
    pub netns: Option<u32>,
    /// The request moves the end to the network namespace of this pid...
    pub netns_pid: Option<u32>,
    /// ...or of this namespace file descriptor of the sender.
    pub netns_fd: Option<u32>,
}

/// What happened.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Detail {
    /// execve/execveat entered. `ret` is filled in when the result arrives
    /// (see [`crate::Joiner`]); `None` while unknown.
    Exec {
        filename: String,
        argv: Vec<String>,
        /// The argv was longer than the record holds and was cut at an
        /// argument boundary.
        argv_truncated: bool,
        filename_truncated: bool,
        /// execveat(2) rather than execve(2).
        at: bool,
        ret: Option<i64>,
    },
    /// The return of an execve/execveat, before it is joined to its entry.
    ExecResult {
        ret: i64,
    },
    /// A task was created by the acting task.
    TaskNew {
        child_pid: u32,
        child_tgid: u32,
        clone_flags: u64,
    },
    /// The acting task exited with this wait(2) status word.
    TaskExit {
        exit_code: u32,
    },
    /// A successful exec, seen by the scheduler: the task now runs `filename`.
    ProcessExec {
        old_pid: u32,
        filename: String,
    },
    /// New namespaces: those of `target_pid` once the call made them.
    Namespaces {
        source: NamespaceSource,
        flags: u64,
        /// The namespace types asked for (`mnt`, `uts`, ...).
        created: Vec<Name>,
        target_pid: u32,
        namespaces: Namespaces,
        ret: i64,
        /// Where the inode numbers were read. (Absent from traces written
        /// before the hook: the tracepoint.)
        #[serde(default)]
        hook: NamespaceHook,
    },
    Mount {
        source: Option<String>,
        target: Option<String>,
        fstype: Option<String>,
        flags: u64,
        flag_names: Vec<String>,
        data: Option<String>,
        ret: i64,
    },
    /// umount2(2).
    Umount {
        target: Option<String>,
        flags: u64,
        flag_names: Vec<String>,
        ret: i64,
    },
    Fsopen {
        fsname: Option<String>,
        flags: u32,
        ret: i64,
    },
    Fsconfig {
        fd: i32,
        cmd: u32,
        command: String,
        key: Option<String>,
        /// Only for the commands whose value is a string or a path.
        value: Option<String>,
        aux: i32,
        ret: i64,
    },
    Fsmount {
        fs_fd: i32,
        flags: u32,
        attr_flags: u64,
        attr_names: Vec<String>,
        ret: i64,
    },
    MoveMount {
        from_dfd: i32,
        from_path: Option<String>,
        to_dfd: i32,
        to_path: Option<String>,
        flags: u32,
        ret: i64,
    },
    OpenTree {
        dfd: i32,
        path: Option<String>,
        flags: u32,
        ret: i64,
    },
    MountSetattr {
        dfd: i32,
        path: Option<String>,
        flags: u32,
        /// `struct mount_attr`, when it could be read.
        attr_set: Option<u64>,
        attr_set_names: Vec<String>,
        attr_clr: Option<u64>,
        propagation: Option<u64>,
        userns_fd: Option<u64>,
        ret: i64,
    },
    PivotRoot {
        new_root: Option<String>,
        put_old: Option<String>,
        ret: i64,
    },
    Chroot {
        path: Option<String>,
        ret: i64,
    },
    /// setns(2), with the caller's namespaces once it returned.
    Setns {
        fd: i32,
        nstype: u32,
        nstype_names: Vec<Name>,
        namespaces: Namespaces,
        ret: i64,
    },
    /// capset(2): the sets asked for, when they could be read.
    Capset {
        version: Option<u32>,
        /// The header's pid (0: the caller).
        target_pid: Option<i32>,
        effective: Option<u64>,
        permitted: Option<u64>,
        inheritable: Option<u64>,
        ret: i64,
    },
    Prctl {
        option: u32,
        option_name: Option<Name>,
        arg2: u64,
        arg3: u64,
        arg4: u64,
        arg5: u64,
        /// PR_SET_NAME's name.
        name: Option<String>,
        /// PR_SET_SECCOMP with a filter: its length in instructions.
        filter_len: Option<u16>,
        ret: i64,
    },
    Seccomp {
        operation: u32,
        operation_name: Option<Name>,
        flags: u32,
        /// SECCOMP_SET_MODE_FILTER: the filter's length in instructions.
        filter_len: Option<u16>,
        ret: i64,
    },
    Sethostname {
        name: Option<String>,
        ret: i64,
    },
    CgroupMkdir {
        path: String,
        new_cgroup_id: u64,
        hierarchy: u32,
    },
    #[serde(rename = "cgroup_attach_task")]
    CgroupAttach {
        path: String,
        dst_cgroup_id: u64,
        hierarchy: u32,
        target_pid: u32,
        threadgroup: bool,
    },
    /// A capability check: `ret` 0 if granted.
    CapCapable {
        cap: i32,
        cap_name: Option<Name>,
        ret: i32,
    },
    /// An RTM_NEWLINK request (e.g. `ip link add a type veth peer b`), or
    /// an RTM_SETLINK that moves a link to another network namespace.
    NewLink {
        /// IFLA_INFO_KIND: `veth`, `bridge`, ...
        link_kind: Option<String>,
        link: LinkPlacement,
        /// The veth peer, when the request names one.
        peer: Option<LinkPlacement>,
        /// The send's result: bytes sent, or a negative errno. Sending is
        /// not doing: the kernel's verdict is `answer`.
        ret: i64,
        /// The request's `nlmsg_seq`, which its answer repeats. (Absent from
        /// traces written before answers were joined: 0.)
        #[serde(default)]
        seq: u32,
        /// The kernel's answer, received on the socket (see
        /// [`crate::Joiner`]): 0 when it made the link, a negative errno
        /// when it refused; `None` when no answer was seen.
        answer: Option<i32>,
        /// An RTM_SETLINK that moves the existing link of this interface
        /// index to `link`'s namespace (dockerd's way to hand a container
        /// the veth end it made in the host's); `None` for a new link.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        moved_ifindex: Option<u32>,
    },
    /// The kernel made a veth pair (`veth_newlink`), whoever asked: the
    /// acting task is the one that asked (`ip`, dockerd, netavark...).
    Veth {
        /// The end the request named first (`ip link add A ...`: A).
        link: VethEndpoint,
        /// Its peer (`... peer name B`).
        peer: VethEndpoint,
        /// 0, or a negative errno.
        ret: i32,
    },
    /// open/openat/openat2 that may write, create, or hand out a path or
    /// directory descriptor (O_PATH, O_DIRECTORY). Opens that only read
    /// are not recorded: see `probes-ebpf/src/files.rs`.
    Open {
        /// `open`, `openat` or `openat2`.
        call: Name,
        /// The directory a relative path starts from (-100, `AT_FDCWD`: the
        /// working directory).
        dirfd: i32,
        /// The path as the caller gave it.
        path: Option<String>,
        /// `O_*` flags.
        flags: u64,
        flag_names: Vec<String>,
        /// The mode given for `O_CREAT` / `O_TMPFILE`.
        mode: u64,
        /// openat2's `RESOLVE_*` flags.
        resolve: u64,
        resolve_names: Vec<String>,
        /// What was opened (`directory`, `file`, `char_device`, ...); `None`
        /// when the open failed.
        file_type: Option<Name>,
        /// The new file descriptor, or a negative errno.
        ret: i64,
    },
    /// mknod/mknodat.
    Mknod {
        /// `mknod` or `mknodat`.
        call: Name,
        /// The directory a relative path starts from (-100, `AT_FDCWD`).
        dirfd: i32,
        path: Option<String>,
        /// File type and permission bits.
        mode: u32,
        /// `char_device`, `block_device`, `fifo`, `socket` or `file`.
        file_type: Name,
        /// The device number (for a device node).
        major: u32,
        minor: u32,
        ret: i64,
    },
    /// The kernel's answer to a `new_link` request whose event it could not
    /// be joined to (normally it is folded into the request's `answer`).
    NewLinkAnswer {
        seq: u32,
        /// 0 (acknowledged) or a negative errno.
        error: i32,
    },
}

/// A C `unsigned int` argument (flags, an operation) from the 64-bit
/// register or field a kernel record carries it in.
#[allow(clippy::cast_possible_truncation)] // the C type is 32 bits: the upper half is noise
pub(crate) fn c_uint(register: u64) -> u32 {
    register as u32
}

/// A C `int` argument (open's flags, a descriptor), as [`c_uint`].
pub(crate) fn c_int(register: u64) -> i32 {
    c_uint(register).cast_signed()
}

impl Detail {
    /// An open that asks for write access (`O_WRONLY`, `O_RDWR`) or may
    /// change the file (`O_CREAT`, `O_TRUNC`).
    pub fn opens_for_writing(&self) -> bool {
        match self {
            Detail::Open { flags, .. } => {
                let flags = c_int(*flags);
                flags & libc::O_ACCMODE != libc::O_RDONLY
                    || flags & (libc::O_CREAT | libc::O_TRUNC) != 0
            }
            _ => false,
        }
    }

    /// The syscall's result, for the kinds that have one; `None` for the
    /// others and for an exec whose result has not arrived.
    pub fn result(&self) -> Option<i64> {
        match self {
            Detail::Exec { ret, .. } => *ret,
            Detail::ExecResult { ret }
            | Detail::Namespaces { ret, .. }
            | Detail::Mount { ret, .. }
            | Detail::Umount { ret, .. }
            | Detail::Fsopen { ret, .. }
            | Detail::Fsconfig { ret, .. }
            | Detail::Fsmount { ret, .. }
            | Detail::MoveMount { ret, .. }
            | Detail::OpenTree { ret, .. }
            | Detail::MountSetattr { ret, .. }
            | Detail::PivotRoot { ret, .. }
            | Detail::Chroot { ret, .. }
            | Detail::Setns { ret, .. }
            | Detail::Capset { ret, .. }
            | Detail::Prctl { ret, .. }
            | Detail::Seccomp { ret, .. }
            | Detail::Sethostname { ret, .. }
            | Detail::Open { ret, .. }
            | Detail::Mknod { ret, .. } => Some(*ret),
            // The kernel's answer is the result; the send's byte count
            // stands in only while no answer was seen.
            Detail::NewLink { ret, answer, .. } => {
                Some(if *ret < 0 { *ret } else { answer.map_or(*ret, i64::from) })
            }
            Detail::NewLinkAnswer { error, .. } | Detail::Veth { ret: error, .. } => {
                Some(i64::from(*error))
            }
            _ => None,
        }
    }

    /// The call failed (a negative result).
    pub fn failed(&self) -> bool {
        self.result().is_some_and(|ret| ret < 0)
    }

    /// The ABI kind of the record it was decoded from.
    pub fn kind(&self) -> EventKind {
        match self {
            Detail::Exec { .. } => EventKind::Exec,
            Detail::ExecResult { .. } => EventKind::ExecResult,
            Detail::TaskNew { .. } => EventKind::TaskNew,
            Detail::TaskExit { .. } => EventKind::TaskExit,
            Detail::ProcessExec { .. } => EventKind::ProcessExec,
            Detail::Namespaces { .. } => EventKind::Namespaces,
            Detail::Mount { .. } => EventKind::Mount,
            Detail::Umount { .. } => EventKind::Umount,
            Detail::Fsopen { .. } => EventKind::Fsopen,
            Detail::Fsconfig { .. } => EventKind::Fsconfig,
            Detail::Fsmount { .. } => EventKind::Fsmount,
            Detail::MoveMount { .. } => EventKind::MoveMount,
            Detail::OpenTree { .. } => EventKind::OpenTree,
            Detail::MountSetattr { .. } => EventKind::MountSetattr,
            Detail::PivotRoot { .. } => EventKind::PivotRoot,
            Detail::Chroot { .. } => EventKind::Chroot,
            Detail::Setns { .. } => EventKind::Setns,
            Detail::Capset { .. } => EventKind::Capset,
            Detail::Prctl { .. } => EventKind::Prctl,
            Detail::Seccomp { .. } => EventKind::Seccomp,
            Detail::Sethostname { .. } => EventKind::Sethostname,
            Detail::CgroupMkdir { .. } => EventKind::CgroupMkdir,
            Detail::CgroupAttach { .. } => EventKind::CgroupAttach,
            Detail::CapCapable { .. } => EventKind::CapCapable,
            Detail::NewLink { .. } => EventKind::NetlinkNewLink,
            Detail::NewLinkAnswer { .. } => EventKind::NetlinkAnswer,
            Detail::Open { .. } => EventKind::Open,
            Detail::Mknod { .. } => EventKind::Mknod,
            Detail::Veth { .. } => EventKind::Veth,
        }
    }

    /// The kind's name (`EventKind::name`), as trace files spell it.
    pub fn kind_name(&self) -> &'static str {
        self.kind().name()
    }
}

/// How a process ended: the code it passed to exit(2), or the signal that
/// killed it. The one representation of an end in traces and reports; the
/// kernel's wait(2) status word it is read from is not kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExitStatus {
    /// Exited with this code, 0 to 255.
    Exited { code: u8 },
    /// Killed by this signal number.
    Signaled { signal: u8, core_dumped: bool },
}

impl ExitStatus {
    /// Reads a wait(2) status word as the kernel reports a task's exit.
    pub fn from_wait_status(status: u32) -> Self {
        let signal = (status & 0x7f) as u8;
        if signal == 0 {
            ExitStatus::Exited { code: ((status >> 8) & 0xff) as u8 }
        } else {
            ExitStatus::Signaled { signal, core_dumped: status & 0x80 != 0 }
        }
    }

    /// What a shell's `$?` would say: the code, or 128 + the signal.
    pub fn shell_code(self) -> i32 {
        match self {
            ExitStatus::Exited { code } => i32::from(code),
            ExitStatus::Signaled { signal, .. } => 128 + i32::from(signal),
        }
    }
}

/// `exited 0`, `killed by SIGKILL (core dumped)`.
impl std::fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            ExitStatus::Exited { code } => write!(f, "exited {code}"),
            ExitStatus::Signaled { signal, core_dumped } => {
                match nix::sys::signal::Signal::try_from(i32::from(signal)) {
                    Ok(name) => write!(f, "killed by {}", name.as_str())?,
                    Err(_) => write!(f, "killed by signal {signal}")?,
                }
                if core_dumped {
                    f.write_str(" (core dumped)")?;
                }
                Ok(())
            }
        }
    }
}
