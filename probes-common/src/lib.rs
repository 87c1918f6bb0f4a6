//! The event ABI shared by cradle's eBPF programs and its userspace.
//!
//! This crate is the single definition of every `#[repr(C)]` record that
//! crosses the kernel/userspace boundary: the ring-buffer event records, the
//! kernel layout handed to the programs at load time, and the constants both
//! sides must agree on. It is `no_std` and compiled twice: into the eBPF
//! object (`probes-ebpf`) and into the userspace loader (`probes`).
//!
//! It owns layout only. It must not contain logic of either side: no map
//! definitions, no helpers, no decoding beyond what the layout itself implies.
//!
//! Every record is plain old data: integers and byte arrays, no padding the
//! compiler could leave uninitialised (padding is spelled out as `_pad`
//! fields), so any byte pattern is a valid value and userspace can decode a
//! record from untrusted bytes without `unsafe` assumptions about validity.
//! The `bytemuck` feature (userspace only) derives `bytemuck::Pod` on each
//! of them, and that derive refuses to compile a record with implicit
//! padding or a field that is not itself plain data: the promise above is
//! checked by the compiler, and decoders read records with bytemuck's
//! checked, safe functions.

#![no_std]

/// Length of `task_struct.comm`, including the terminating NUL.
pub const TASK_COMM_LEN: usize = 16;

/// Largest filename an exec record carries, including its NUL.
pub const EXEC_FILENAME_MAX: usize = 256;

/// Size of the argv area of an exec record: the arguments are stored one
/// after another, each NUL-terminated. An argv that does not fit is cut at an
/// argument boundary and the record is flagged [`EXEC_ARGV_TRUNCATED`].
pub const EXEC_ARGV_MAX: usize = 4096;

/// Most arguments an exec record carries; more set [`EXEC_ARGV_TRUNCATED`].
pub const EXEC_ARGC_MAX: u32 = 64;

/// `ExecEvent::flags`: the argv did not fit and was cut.
pub const EXEC_ARGV_TRUNCATED: u32 = 1 << 0;
/// `ExecEvent::flags`: the filename did not fit and was cut.
pub const EXEC_FILENAME_TRUNCATED: u32 = 1 << 1;
/// `ExecEvent::flags`: the call was execveat(2) rather than execve(2).
pub const EXEC_AT: u32 = 1 << 2;

/// What an event record is. The discriminant is the `kind` field of
/// [`EventHeader`] and the index of the kind's loss counter.
///
/// The record type of each kind: [`ExecEvent`], [`ExecResultEvent`],
/// [`TaskNewEvent`], [`TaskExitEvent`], [`ProcessExecEvent`],
/// [`NamespacesEvent`], [`CgroupEvent`] (both cgroup kinds),
/// [`CapCapableEvent`], [`NetlinkEvent`], [`NetlinkAnswerEvent`], [`OpenEvent`],
/// [`MknodEvent`], [`VethEvent`]; every syscall kind from [`EventKind::Mount`] to
/// [`EventKind::Sethostname`] is a [`CallEvent`].
#[repr(u16)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventKind {
    /// execve/execveat entered: filename and argv. Followed by [`EventKind::ExecResult`].
    Exec = 0,
    /// execve/execveat returned (0 in the new image on success).
    ExecResult = 1,
    /// A tracked task created a task (fork, clone, clone3, vfork, thread).
    TaskNew = 2,
    /// A tracked task exited.
    TaskExit = 3,
    /// sched_process_exec: a task switched to a new program.
    ProcessExec = 4,
    /// New namespaces were created (clone/clone3/unshare with CLONE_NEW*).
    Namespaces = 5,
    /// mount(2).
    Mount = 6,
    /// umount2(2).
    Umount = 7,
    /// fsopen(2).
    Fsopen = 8,
    /// fsconfig(2).
    Fsconfig = 9,
    /// fsmount(2).
    Fsmount = 10,
    /// move_mount(2).
    MoveMount = 11,
    /// open_tree(2).
    OpenTree = 12,
    /// mount_setattr(2).
    MountSetattr = 13,
    /// pivot_root(2).
    PivotRoot = 14,
    /// chroot(2).
    Chroot = 15,
    /// setns(2).
    Setns = 16,
    /// capset(2).
    Capset = 17,
    /// prctl(2).
    Prctl = 18,
    /// seccomp(2).
    Seccomp = 19,
    /// sethostname(2).
    Sethostname = 20,
    /// cgroup:cgroup_mkdir.
    CgroupMkdir = 21,
    /// cgroup:cgroup_attach_task.
    CgroupAttach = 22,
    /// capability:cap_capable.
    CapCapable = 23,
    /// sendmsg/sendto of a netlink message that asks for a new link.
    NetlinkNewLink = 24,
    /// The kernel's answer to a new-link request, received on its socket.
    NetlinkAnswer = 25,
    /// open/openat/openat2 that may write, create, or hand out a path or
    /// directory descriptor (see [`OpenEvent`]).
    Open = 26,
    /// mknod/mknodat.
    Mknod = 27,
    /// The kernel made a veth pair (`veth_newlink` returned), whoever asked.
    Veth = 28,
}

impl EventKind {
    /// The mount family: the classic call and the new mount API.
    pub const MOUNTS: [EventKind; 8] = [
        EventKind::Mount,
        EventKind::Umount,
        EventKind::Fsopen,
        EventKind::Fsconfig,
        EventKind::Fsmount,
        EventKind::MoveMount,
        EventKind::OpenTree,
        EventKind::MountSetattr,
    ];

    /// Every kind, in discriminant order.
    pub const ALL: [EventKind; 29] = [
        EventKind::Exec,
        EventKind::ExecResult,
        EventKind::TaskNew,
        EventKind::TaskExit,
        EventKind::ProcessExec,
        EventKind::Namespaces,
        EventKind::Mount,
        EventKind::Umount,
        EventKind::Fsopen,
        EventKind::Fsconfig,
        EventKind::Fsmount,
        EventKind::MoveMount,
        EventKind::OpenTree,
        EventKind::MountSetattr,
        EventKind::PivotRoot,
        EventKind::Chroot,
        EventKind::Setns,
        EventKind::Capset,
        EventKind::Prctl,
        EventKind::Seccomp,
        EventKind::Sethostname,
        EventKind::CgroupMkdir,
        EventKind::CgroupAttach,
        EventKind::CapCapable,
        EventKind::NetlinkNewLink,
        EventKind::NetlinkAnswer,
        EventKind::Open,
        EventKind::Mknod,
        EventKind::Veth,
    ];
    /// Number of kinds: the length of the per-kind loss counter array.
    #[allow(clippy::cast_possible_truncation)] // a few dozen kinds; try_from is not const
    pub const COUNT: u32 = Self::ALL.len() as u32;

    /// The kind with this discriminant, if there is one.
    pub const fn from_u16(raw: u16) -> Option<EventKind> {
        if (raw as usize) < Self::ALL.len() { Some(Self::ALL[raw as usize]) } else { None }
    }

    /// Stable lowercase name, used in trace files and on the command line.
    pub const fn name(self) -> &'static str {
        match self {
            EventKind::Exec => "exec",
            EventKind::ExecResult => "exec_result",
            EventKind::TaskNew => "task_new",
            EventKind::TaskExit => "task_exit",
            EventKind::ProcessExec => "process_exec",
            EventKind::Namespaces => "namespaces",
            EventKind::Mount => "mount",
            EventKind::Umount => "umount",
            EventKind::Fsopen => "fsopen",
            EventKind::Fsconfig => "fsconfig",
            EventKind::Fsmount => "fsmount",
            EventKind::MoveMount => "move_mount",
            EventKind::OpenTree => "open_tree",
            EventKind::MountSetattr => "mount_setattr",
            EventKind::PivotRoot => "pivot_root",
            EventKind::Chroot => "chroot",
            EventKind::Setns => "setns",
            EventKind::Capset => "capset",
            EventKind::Prctl => "prctl",
            EventKind::Seccomp => "seccomp",
            EventKind::Sethostname => "sethostname",
            EventKind::CgroupMkdir => "cgroup_mkdir",
            EventKind::CgroupAttach => "cgroup_attach_task",
            EventKind::CapCapable => "cap_capable",
            EventKind::NetlinkNewLink => "new_link",
            EventKind::NetlinkAnswer => "new_link_answer",
            EventKind::Open => "open",
            EventKind::Mknod => "mknod",
            EventKind::Veth => "veth",
        }
    }
}

/// [`EventHeader::flags`]: step mode, the kernel stopped the acting task
/// (SIGSTOP, pending before the record was submitted) and it stays stopped
/// until userspace resumes it. Only such records may be answered with a
/// SIGCONT: one sent for a stop that was never made would cancel the
/// task's next one.
pub const HEADER_STOPPED: u16 = 1 << 0;
/// [`EventHeader::flags`], `watch` only, on the result of the exec that
/// made a task a tracked root: the file it runs is not owned by root, or is
/// writable by its group or by others. Anyone could have put it there and
/// named it like a runtime; the task is not followed past this record.
pub const HEADER_UNTRUSTED_RUNTIME: u16 = 1 << 1;
/// [`EventHeader::flags`], `watch` only, on the result of the exec that
/// made a task a tracked root: the task's real uid is not 0.
pub const HEADER_UNPRIVILEGED: u16 = 1 << 2;

/// The first bytes of every ring-buffer record.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "bytemuck", derive(bytemuck::Pod, bytemuck::Zeroable))]
pub struct EventHeader {
    /// An [`EventKind`] discriminant.
    pub kind: u16,
    /// [`HEADER_STOPPED`], or 0.
    pub flags: u16,
    /// Bytes in the whole record, this header included.
    pub size: u32,
    /// Per-CPU sequence number, taken before the ring-buffer reservation:
    /// with `cpu` it names the record, and a lost record leaves a gap in its
    /// CPU's sequence.
    pub seq: u64,
    /// `bpf_ktime_get_ns`: CLOCK_MONOTONIC nanoseconds.
    pub ts_ns: u64,
    /// Kernel pid of the acting task (the thread id).
    pub pid: u32,
    /// Kernel tgid of the acting task (the process id).
    pub tgid: u32,
    /// tgid of the acting task's real parent.
    pub ppid: u32,
    /// CPU the event was recorded on.
    pub cpu: u32,
    /// cgroup v2 id of the acting task.
    pub cgroup_id: u64,
    /// Inode number of the acting task's mount namespace.
    pub mnt_ns: u32,
    /// Inode number of the acting task's pid namespace.
    pub pid_ns: u32,
    /// The acting task's comm, NUL-padded.
    pub comm: [u8; TASK_COMM_LEN],
}

/// [`EventKind::Exec`]: the fixed part. `filename_len` bytes of filename
/// (NUL included) follow it, then `argv_len` bytes of NUL-terminated
/// arguments.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "bytemuck", derive(bytemuck::Pod, bytemuck::Zeroable))]
pub struct ExecEvent {
    pub header: EventHeader,
    /// `EXEC_*` flags.
    pub flags: u32,
    /// Arguments present in the argv area.
    pub argc: u32,
    /// Bytes of filename that follow this struct.
    pub filename_len: u32,
    /// Bytes of argv that follow the filename.
    pub argv_len: u32,
}

/// Largest exec record: the fixed part plus both variable areas.
pub const EXEC_RECORD_MAX: usize =
    core::mem::size_of::<ExecEvent>() + EXEC_FILENAME_MAX + EXEC_ARGV_MAX;

/// [`EventKind::ExecResult`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "bytemuck", derive(bytemuck::Pod, bytemuck::Zeroable))]
pub struct ExecResultEvent {
    pub header: EventHeader,
    /// The syscall's return value: 0, or a negative errno.
    pub ret: i64,
}

/// [`EventKind::TaskNew`]: emitted by the parent, before the child runs.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "bytemuck", derive(bytemuck::Pod, bytemuck::Zeroable))]
pub struct TaskNewEvent {
    pub header: EventHeader,
    /// Kernel pid (thread id) of the new task.
    pub child_pid: u32,
    /// Kernel tgid of the new task.
    pub child_tgid: u32,
    /// The clone flags it was created with.
    pub clone_flags: u64,
}

/// [`EventKind::TaskExit`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "bytemuck", derive(bytemuck::Pod, bytemuck::Zeroable))]
pub struct TaskExitEvent {
    pub header: EventHeader,
    /// `task_struct.exit_code`: the wait(2) status word.
    pub exit_code: u32,
    pub _pad: u32,
}

/// Inode numbers of a task's namespaces, as `readlink /proc/PID/ns/*`
/// shows them; 0 where the kernel has no such namespace (or the task has
/// exited).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "bytemuck", derive(bytemuck::Pod, bytemuck::Zeroable))]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize, schemars::JsonSchema))]
pub struct NamespaceSet {
    pub mnt: u32,
    pub uts: u32,
    pub ipc: u32,
    /// The pid namespace the task's own pid lives in.
    pub pid: u32,
    pub pid_for_children: u32,
    pub net: u32,
    pub cgroup: u32,
    pub time: u32,
    pub time_for_children: u32,
    pub user: u32,
}

impl NamespaceSet {
    /// The inode of the namespace a `CLONE_NEW*` flag of this name creates
    /// (`"pid"` and `"time"` apply to the children: `pid_for_children`,
    /// `time_for_children`); `None` for an unknown name or no namespace.
    pub fn inum(&self, name: &str) -> Option<u32> {
        let inum = match name {
            "mnt" => self.mnt,
            "uts" => self.uts,
            "ipc" => self.ipc,
            "pid" => self.pid_for_children,
            "net" => self.net,
            "cgroup" => self.cgroup,
            "time" => self.time_for_children,
            "user" => self.user,
            _ => 0,
        };
        (inum != 0).then_some(inum)
    }
}

/// The `CLONE_NEW*` flags: a clone, clone3 or unshare carrying any of them
/// creates namespaces. (`CLONE_NEWTIME` shares its value with `CSIGNAL`'s
/// bits in clone(2), but the kernel strips the exit signal before
/// `task_newtask` sees the flags.)
pub const CLONE_NEW_MASK: u64 = 0x0000_0080 // CLONE_NEWTIME
    | 0x0002_0000 // CLONE_NEWNS
    | 0x0200_0000 // CLONE_NEWCGROUP
    | 0x0400_0000 // CLONE_NEWUTS
    | 0x0800_0000 // CLONE_NEWIPC
    | 0x1000_0000 // CLONE_NEWUSER
    | 0x2000_0000 // CLONE_NEWPID
    | 0x4000_0000; // CLONE_NEWNET

/// `NamespacesEvent::source`: derived in the `task_newtask` tracepoint,
/// from the new task (clone, clone3, fork-like calls).
pub const NS_SOURCE_TASK_NEWTASK: u32 = 1;
/// `NamespacesEvent::source`: derived at the exit of unshare(2), from the
/// caller.
pub const NS_SOURCE_UNSHARE: u32 = 2;

/// `NamespacesEvent::hook`: the inode numbers were read from the task
/// once the call made its namespaces (the tracepoint path).
pub const NS_HOOK_TRACEPOINT: u32 = 0;
/// `NamespacesEvent::hook`: the namespaces of the nsproxy were read where
/// `create_new_namespaces` returned it (its fexit or kretprobe); the task's
/// own pid and user namespaces still come from the task.
pub const NS_HOOK_CREATE_NEW_NAMESPACES: u32 = 1;

/// [`EventKind::Namespaces`]: the namespaces a task has once a
/// namespace-creating clone or unshare is done.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "bytemuck", derive(bytemuck::Pod, bytemuck::Zeroable))]
pub struct NamespacesEvent {
    pub header: EventHeader,
    /// 0 for a new task; the return value of unshare(2).
    pub ret: i64,
    /// The clone or unshare flags.
    pub flags: u64,
    /// `NS_SOURCE_*`: which call made the namespaces (the record is sent
    /// where that call is seen, whichever hook read the inode numbers).
    pub source: u32,
    /// Kernel pid of the task the namespaces belong to.
    pub target_pid: u32,
    pub namespaces: NamespaceSet,
    /// `NS_HOOK_*`: where the inode numbers were read.
    pub hook: u32,
    pub _pad: u32,
}

/// Arguments a syscall record carries (the syscall ABI's maximum).
pub const CALL_ARGS: usize = 6;
/// Data areas of a syscall record: user memory its arguments point to.
pub const CALL_SLOTS: usize = 4;
/// Size of each data area. A string longer than this is cut and flagged in
/// `CallEvent::truncated`.
pub const CALL_SLOT_MAX: usize = 256;

/// A syscall of the [`EventKind::Mount`]..=[`EventKind::Sethostname`]
/// range, recorded once it returned: its raw arguments, its result, and
/// copies of the user memory its arguments point to. Which argument fills
/// which data area is fixed per kind (see the programs in `probes-ebpf`
/// and the decoder in `events/src/records.rs`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "bytemuck", derive(bytemuck::Pod, bytemuck::Zeroable))]
pub struct CallEvent {
    pub header: EventHeader,
    pub ret: i64,
    pub args: [u64; CALL_ARGS],
    /// Bytes used in each data area (a string's NUL included).
    pub lens: [u16; CALL_SLOTS],
    /// Bit `i`: data area `i` holds only the first [`CALL_SLOT_MAX`] bytes.
    pub truncated: u32,
    pub _pad: u32,
    /// The caller's namespaces after the call, for [`EventKind::Setns`];
    /// zero for the other kinds.
    pub namespaces: NamespaceSet,
    pub slots: [[u8; CALL_SLOT_MAX]; CALL_SLOTS],
}

/// Largest path a [`ProcessExecEvent`] or [`CgroupEvent`] carries.
pub const KERNEL_PATH_MAX: usize = 256;

/// [`EventKind::ProcessExec`]: a successful exec, from the scheduler's
/// point of view: the task now runs `filename`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "bytemuck", derive(bytemuck::Pod, bytemuck::Zeroable))]
pub struct ProcessExecEvent {
    pub header: EventHeader,
    /// The pid the task had before the exec (a non-leader thread's exec
    /// takes over the leader's pid).
    pub old_pid: u32,
    /// Bytes of `filename` used, NUL included.
    pub filename_len: u32,
    pub filename: [u8; KERNEL_PATH_MAX],
}

/// [`EventKind::CgroupMkdir`] and [`EventKind::CgroupAttach`].
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "bytemuck", derive(bytemuck::Pod, bytemuck::Zeroable))]
pub struct CgroupEvent {
    pub header: EventHeader,
    /// The cgroup's id (its kernfs node id, the inode number of its directory).
    pub cgroup_id: u64,
    /// Hierarchy id: 0 is the cgroup v2 unified hierarchy.
    pub hierarchy: u32,
    /// Kernel pid of the task attached (0 for mkdir).
    pub target_pid: u32,
    /// Whether the whole thread group was attached (attach only).
    pub threadgroup: u32,
    /// Bytes of `path` used, NUL included.
    pub path_len: u32,
    pub path: [u8; KERNEL_PATH_MAX],
}

/// [`EventKind::CapCapable`]: a capability check of a tracked task.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "bytemuck", derive(bytemuck::Pod, bytemuck::Zeroable))]
pub struct CapCapableEvent {
    pub header: EventHeader,
    /// The capability number (`CAP_*`).
    pub cap: i32,
    /// 0 if granted, else a negative errno.
    pub ret: i32,
}

/// Bytes of a netlink request a [`NetlinkEvent`] carries.
pub const NETLINK_MSG_MAX: usize = 1024;

/// Namespace file descriptors a [`NetlinkEvent`] resolves: one per end of a
/// veth pair.
pub const NETLINK_NETNS_FDS: usize = 2;

/// [`EventKind::NetlinkNewLink`]: the start of an `RTM_NEWLINK` request a
/// tracked task sent on a netlink socket, and the call's result. Userspace
/// parses the attributes (interface names, kind, target namespaces).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "bytemuck", derive(bytemuck::Pod, bytemuck::Zeroable))]
pub struct NetlinkEvent {
    pub header: EventHeader,
    /// The sendmsg/sendto result: bytes sent, or a negative errno.
    pub ret: i64,
    /// Inode number of the sender's network namespace after the call.
    pub net_ns: u32,
    /// Bytes of `message` used.
    pub len: u32,
    /// The message was longer than [`NETLINK_MSG_MAX`] and was cut.
    pub truncated: u32,
    pub _pad: u32,
    /// The file descriptors the request's `IFLA_NET_NS_FD` attributes
    /// name, as the sender held them...
    pub netns_fds: [u32; NETLINK_NETNS_FDS],
    /// ...and the inode number of the file each one was (0: unresolved).
    pub netns_fd_inums: [u32; NETLINK_NETNS_FDS],
    pub message: [u8; NETLINK_MSG_MAX],
}

/// [`EventKind::NetlinkAnswer`]: the `NLMSG_ERROR` message that answers a
/// [`NetlinkEvent`] request, received by the sending process on the same
/// socket with the same sequence number. Userspace joins it to the request.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "bytemuck", derive(bytemuck::Pod, bytemuck::Zeroable))]
pub struct NetlinkAnswerEvent {
    pub header: EventHeader,
    /// `nlmsgerr.error`: 0 when the kernel did it, else a negative errno.
    pub error: i32,
    /// `nlmsg_seq` of the request and of its answer.
    pub seq: u32,
}

/// Largest path an [`OpenEvent`] or [`MknodEvent`] carries, NUL included: the
/// path as the caller gave it (maybe relative); longer ones are cut and
/// flagged.
pub const USER_PATH_MAX: usize = 256;

/// `OpenEvent::call`: open(2).
pub const OPEN_CALL_OPEN: u32 = 0;
/// `OpenEvent::call`: openat(2).
pub const OPEN_CALL_OPENAT: u32 = 1;
/// `OpenEvent::call`: openat2(2).
pub const OPEN_CALL_OPENAT2: u32 = 2;

/// `dirfd` of a call that names no directory descriptor (`AT_FDCWD`).
pub const AT_FDCWD: i32 = -100;

// Argument values that decide what a call record carries: the kernel
// programs choose which data to copy by them, the decoder how to read it.

/// fsconfig(2) commands whose value is a string or a path.
pub const FSCONFIG_SET_STRING: u32 = 1;
pub const FSCONFIG_SET_PATH: u32 = 3;
pub const FSCONFIG_SET_PATH_EMPTY: u32 = 4;
/// prctl(2) options whose arguments a record carries.
pub const PR_SET_NAME: u32 = 15;
pub const PR_SET_SECCOMP: u32 = 22;
/// `prctl(PR_SET_SECCOMP)`'s mode that installs a filter.
pub const SECCOMP_MODE_FILTER: u32 = 2;
/// seccomp(2)'s operation that installs a filter.
pub const SECCOMP_SET_MODE_FILTER: u32 = 1;

/// [`EventKind::Open`]: an open of a tracked task, recorded at exit. Only
/// opens that can matter are recorded: see the filter in
/// `probes-ebpf/src/files.rs`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "bytemuck", derive(bytemuck::Pod, bytemuck::Zeroable))]
pub struct OpenEvent {
    pub header: EventHeader,
    /// The new file descriptor, or a negative errno.
    pub ret: i64,
    /// `O_*` flags as the call gave them (openat2: `how.flags`).
    pub flags: u64,
    /// The mode for `O_CREAT` / `O_TMPFILE` (openat2: `how.mode`).
    pub mode: u64,
    /// openat2's `how.resolve` (`RESOLVE_*`); 0 for open and openat.
    pub resolve: u64,
    /// The directory a relative path starts from ([`AT_FDCWD`] for open).
    pub dirfd: i32,
    /// `OPEN_CALL_*`.
    pub call: u32,
    /// The `S_IFMT` bits of the file opened; 0 when the open failed.
    pub file_type: u32,
    /// Bytes of `path` used, NUL included (0: unreadable).
    pub path_len: u32,
    /// The path was longer than [`USER_PATH_MAX`] and was cut.
    pub path_truncated: u32,
    pub _pad: u32,
    pub path: [u8; USER_PATH_MAX],
}

/// `MknodEvent::call`: mknod(2).
pub const MKNOD_CALL_MKNOD: u32 = 0;
/// `MknodEvent::call`: mknodat(2).
pub const MKNOD_CALL_MKNODAT: u32 = 1;

/// [`EventKind::Mknod`]: a mknod of a tracked task, recorded at exit.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "bytemuck", derive(bytemuck::Pod, bytemuck::Zeroable))]
pub struct MknodEvent {
    pub header: EventHeader,
    /// 0, or a negative errno.
    pub ret: i64,
    /// File type (`S_IFCHR`, `S_IFBLK`, `S_IFIFO`, ...) and permission bits.
    pub mode: u32,
    /// The device number as the syscall takes it (the kernel's 32-bit
    /// `new_encode_dev` form: major in bits 8-19, minor in 0-7 and 20-31).
    pub dev: u32,
    /// The directory a relative path starts from ([`AT_FDCWD`] for mknod).
    pub dirfd: i32,
    /// `MKNOD_CALL_*`.
    pub call: u32,
    /// Bytes of `path` used, NUL included (0: unreadable).
    pub path_len: u32,
    /// The path was longer than [`USER_PATH_MAX`] and was cut.
    pub path_truncated: u32,
    pub path: [u8; USER_PATH_MAX],
}

/// Bytes of an interface name, NUL included (`IFNAMSIZ`).
pub const IFNAMSIZ: usize = 16;

/// One end of a veth pair as the kernel made it.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "bytemuck", derive(bytemuck::Pod, bytemuck::Zeroable))]
pub struct VethEnd {
    /// The interface name, NUL-padded.
    pub name: [u8; IFNAMSIZ],
    /// The interface index in its network namespace (0: unread).
    pub ifindex: u32,
    /// Inode number of the network namespace the end is in (0: unread).
    pub net_ns: u32,
}

/// [`EventKind::Veth`]: `veth_newlink` returned. The header's task is the
/// one that asked (`ip`, dockerd, netavark...), tracked or not.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "bytemuck", derive(bytemuck::Pod, bytemuck::Zeroable))]
pub struct VethEvent {
    pub header: EventHeader,
    /// `veth_newlink`'s result: 0, or a negative errno.
    pub ret: i32,
    pub _pad: u32,
    /// The end the request named first (`ip link add A ...`: A).
    pub link: VethEnd,
    /// Its peer (`... peer name B`).
    pub peer: VethEnd,
}

/// Byte offsets of the kernel structure members the programs read, found in
/// the running kernel's BTF at load time. Rust eBPF has no CO-RE
/// relocations, so nothing here may be a compile-time constant.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "bytemuck", derive(bytemuck::Pod, bytemuck::Zeroable))]
pub struct KernelLayout {
    pub task_pid: u32,
    pub task_tgid: u32,
    pub task_real_parent: u32,
    pub task_nsproxy: u32,
    pub task_thread_pid: u32,
    pub task_exit_code: u32,
    pub nsproxy_mnt_ns: u32,
    /// Offset of `struct ns_common ns` within `struct mnt_namespace`.
    pub mnt_namespace_ns: u32,
    /// Offset of `struct ns_common ns` within `struct pid_namespace`.
    pub pid_namespace_ns: u32,
    pub ns_common_inum: u32,
    pub pid_level: u32,
    pub pid_numbers: u32,
    /// `sizeof(struct upid)`: the stride of `pid.numbers[]`.
    pub upid_size: u32,
    pub upid_ns: u32,
    pub task_cred: u32,
    pub cred_user_ns: u32,
    pub nsproxy_uts_ns: u32,
    pub nsproxy_ipc_ns: u32,
    pub nsproxy_pid_ns_for_children: u32,
    pub nsproxy_net_ns: u32,
    pub nsproxy_cgroup_ns: u32,
    /// [`LAYOUT_ABSENT`] on kernels without time namespaces.
    pub nsproxy_time_ns: u32,
    /// [`LAYOUT_ABSENT`] on kernels without time namespaces.
    pub nsproxy_time_ns_for_children: u32,
    /// Offset of `struct ns_common ns` in each namespace struct.
    pub uts_namespace_ns: u32,
    pub ipc_namespace_ns: u32,
    pub net_ns: u32,
    pub cgroup_namespace_ns: u32,
    pub time_namespace_ns: u32,
    pub user_namespace_ns: u32,
    pub binprm_filename: u32,
    pub cgroup_kn: u32,
    pub cgroup_root: u32,
    pub kernfs_node_id: u32,
    pub cgroup_root_hierarchy_id: u32,
    /// The path from a task's file descriptor to the inode of its file
    /// (for a namespace file, its inode number is the namespace's).
    pub task_files: u32,
    pub files_struct_fdt: u32,
    pub fdtable_max_fds: u32,
    pub fdtable_fd: u32,
    pub file_f_inode: u32,
    pub inode_i_ino: u32,
    /// `inode.i_mode`: the type of an opened file.
    pub inode_i_mode: u32,
    /// Where a `struct net_device`'s private area starts (`netdev_priv`):
    /// its size rounded up to `NETDEV_ALIGN`.
    pub net_device_priv: u32,
    pub net_device_name: u32,
    pub net_device_ifindex: u32,
    /// `net_device.nd_net`: a `possible_net_t`, whose first member is the
    /// `struct net *`.
    pub net_device_nd_net: u32,
    /// `veth_priv.peer` ([`LAYOUT_ABSENT`] when the kernel's BTF, or the
    /// veth module's, has no `struct veth_priv`).
    pub veth_priv_peer: u32,
    /// Which argument of `veth_newlink` is the new `struct net_device *`
    /// (1 before Linux 6.15, 0 since; [`LAYOUT_ABSENT`]: unknown).
    pub veth_newlink_dev_arg: u32,
    /// `linux_binprm.file`: the file an exec runs.
    pub binprm_file: u32,
    /// `inode.i_uid` (a `kuid_t`, whose first member is the uid).
    pub inode_i_uid: u32,
    /// `cred.uid`: a task's real uid.
    pub cred_uid: u32,
    /// `inode.i_sb` and `super_block.s_dev`: the device a file is on.
    pub inode_i_sb: u32,
    pub super_block_s_dev: u32,
}

/// A [`KernelLayout`] offset of a member this kernel does not have: the
/// programs read nothing through it and report 0.
pub const LAYOUT_ABSENT: u32 = u32::MAX;

/// Which tasks the programs report.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "bytemuck", derive(bytemuck::Pod, bytemuck::Zeroable))]
pub struct TraceConfig {
    /// [`TRACK_TREE`], [`TRACK_ALL`] or [`TRACK_RUNTIMES`].
    pub mode: u32,
    /// Nonzero: every attached program returns at once. The benchmark's
    /// floor: what having the hooks attached costs, before cradle's work.
    pub floor: u32,
    /// For [`TRACK_RUNTIMES`]: the executable names whose exec starts
    /// tracking the task, as the end of a file name; an unused slot is all
    /// zero.
    pub runtimes: [RuntimeTail; RUNTIME_NAMES_MAX],
    /// Step mode: a bit per [`EventKind`]. A tracked task that sends a
    /// record of a kind set here is stopped (SIGSTOP) right after, so it
    /// pauses once the call returned; userspace resumes it with SIGCONT.
    pub stop_kinds: u64,
    /// For [`TRACK_RUNTIMES`]: the files a runtime may run from (the
    /// allow-list, each owned by root and writable by no one else). A task
    /// that execs a file named like a runtime but not one of these is
    /// judged untrusted, and not followed. Unused slots are all zero.
    pub runtime_files: [RuntimeFile; RUNTIME_FILES_MAX],
    /// For [`TRACK_RUNTIMES`]: the `comm`s (NUL-padded) of the daemons that
    /// make containers' network links (dockerd, netavark, CNI plugins):
    /// their link requests and the kernel's answers are recorded although
    /// they are not tracked. All zero: an unused slot.
    pub link_daemons: [[u8; TASK_COMM_LEN]; LINK_DAEMONS_MAX],
}

/// An executable's name as the end of the file names that run it: `/NAME`
/// right-aligned in [`FILENAME_TAIL`] bytes, each byte that counts set in
/// `mask`. A file name's tail is its last [`FILENAME_TAIL`] bytes (NUL
/// excluded), with `/` in front of a shorter name, so that `NAME`,
/// `./NAME` and `/usr/bin/NAME` all end in `/NAME`. The file runs the
/// executable when `tail & mask == bytes`, word by word: a comparison of
/// fixed size, with no search for the last `/` (a data-dependent loop costs
/// Linux 6.1's verifier more states than it allows). The words hold the
/// bytes in memory order (native endian), as a 16-byte read yields them.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "bytemuck", derive(bytemuck::Pod, bytemuck::Zeroable))]
pub struct RuntimeTail {
    pub bytes: [u64; 2],
    pub mask: [u64; 2],
}

/// Bytes of a file name's end that [`RuntimeTail`] compares: a `/` and a
/// name of at most `TASK_COMM_LEN - 1` bytes.
pub const FILENAME_TAIL: usize = TASK_COMM_LEN;

/// A file, as the kernel names it: its device (the kernel's `dev_t`
/// encoding, major << 20 | minor) and inode number.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "bytemuck", derive(bytemuck::Pod, bytemuck::Zeroable))]
pub struct RuntimeFile {
    pub dev: u32,
    pub _pad: u32,
    pub ino: u64,
}

/// Most files in [`TraceConfig::runtime_files`].
pub const RUNTIME_FILES_MAX: usize = 16;

/// Most daemons [`TraceConfig::link_daemons`] names.
pub const LINK_DAEMONS_MAX: usize = 8;

/// Report only tasks in the tracked-task map (roots registered by userspace
/// and their descendants, followed on fork).
pub const TRACK_TREE: u32 = 0;
/// Report every task on the host.
pub const TRACK_ALL: u32 = 1;
/// Like [`TRACK_TREE`], and a task that execs a file named in
/// [`TraceConfig::runtimes`] becomes a tracked root by itself: every
/// container a runtime starts on the host is followed, whoever starts it.
pub const TRACK_RUNTIMES: u32 = 2;
/// Most runtime names [`TRACK_RUNTIMES`] watches for.
pub const RUNTIME_NAMES_MAX: usize = 8;

/// Everything the programs read from `.rodata`, set by userspace at load.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "bytemuck", derive(bytemuck::Pod, bytemuck::Zeroable))]
pub struct ProbeGlobals {
    pub layout: KernelLayout,
    pub config: TraceConfig,
}

/// Name of the global holding [`ProbeGlobals`] in the eBPF object.
pub const GLOBALS_SYMBOL: &str = "CRADLE_GLOBALS";
/// Name of the ring-buffer map.
pub const EVENTS_MAP: &str = "EVENTS";
/// Name of the tracked-task map: kernel pid -> [`TrackedTask`].
pub const TRACKED_MAP: &str = "TRACKED";
/// Name of the per-CPU, per-kind loss counter map.
pub const LOST_MAP: &str = "LOST";
/// Most tasks tracked at once.
pub const TRACKED_MAX: u32 = 65536;
/// Name of the program array the raw `sys_enter` program tail-calls
/// through: syscall number -> the program that handles that call's entry.
pub const SYS_ENTER_HANDLERS_MAP: &str = "SYS_ENTER_HANDLERS";
/// The same for the raw `sys_exit` program and the calls' exits.
pub const SYS_EXIT_HANDLERS_MAP: &str = "SYS_EXIT_HANDLERS";
/// The entry handlers that can act for a task that is not tracked (when
/// runtimes are watched: an exec, a link daemon's netlink call), by
/// syscall number: the only handlers `sys_enter` passes such a task's
/// calls to, so the rest of the host pays no handler for its other calls.
pub const SYS_ENTER_UNTRACKED_HANDLERS_MAP: &str = "SYS_ENTER_UNTRACKED_HANDLERS";
/// Name of the array the programs read to know which of the kernel-function
/// hooks userspace attached: slot [`HOOK_NAMESPACES`], [`HOOK_VETH`] or
/// [`HOOK_CAPABILITY`], nonzero once attached.
pub const HOOKS_MAP: &str = "HOOKS";
/// [`HOOKS_MAP`] slot: `create_new_namespaces` is hooked, so namespace
/// records take their inode numbers from the nsproxy it returned.
pub const HOOK_NAMESPACES: u32 = 0;
/// [`HOOKS_MAP`] slot: `veth_newlink` is hooked.
pub const HOOK_VETH: u32 = 1;
/// [`HOOKS_MAP`] slot: `cap_capable` is hooked (by whichever path).
pub const HOOK_CAPABILITY: u32 = 2;
/// Slots of [`HOOKS_MAP`].
pub const HOOKS_MAX: u32 = 3;
/// Slots of each handler array: above every x86_64 syscall number (the
/// highest is below 500; x32 numbers, with bit 30 set, fall outside).
pub const SYSCALL_HANDLERS_MAX: u32 = 512;

/// Value of the tracked-task map.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "bytemuck", derive(bytemuck::Pod, bytemuck::Zeroable))]
pub struct TrackedTask {
    /// Kernel pid of the root this task descends from.
    pub root: u32,
    /// For a root made by `watch` at its exec: [`TRACKED_EXEC_PENDING`]
    /// until the exec succeeded, then the `HEADER_UNTRUSTED_RUNTIME` and
    /// `HEADER_UNPRIVILEGED` bits its exec result carries; else 0.
    pub flags: u32,
}

/// [`TrackedTask::flags`]: a task named a runtime in an exec that has not
/// returned yet. Should the exec fail, the task is no runtime, and is
/// not followed.
pub const TRACKED_EXEC_PENDING: u32 = 1 << 16;

/// Marks the records above as plain old data for aya's map and global APIs.
/// aya's trait cannot be derived, but `user` enables `bytemuck`, whose
/// `Pod` derive on these same types has proved what it asks for.
#[cfg(feature = "user")]
mod user {
    use super::*;
    // SAFETY: ProbeGlobals derives bytemuck::Pod (the `user` feature turns
    // on `bytemuck`): the compiler checked that it is #[repr(C)], has no
    // padding and holds only plain data, so every byte pattern is valid.
    unsafe impl aya::Pod for ProbeGlobals {}
    // SAFETY: as above, TrackedTask derives bytemuck::Pod.
    unsafe impl aya::Pod for TrackedTask {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::{align_of, size_of};

    #[test]
    fn records_have_no_implicit_padding() {
        assert_eq!(size_of::<EventHeader>(), 72);
        assert_eq!(size_of::<ExecEvent>(), 72 + 16);
        assert_eq!(size_of::<ExecResultEvent>(), 80);
        assert_eq!(size_of::<TaskNewEvent>(), 88);
        assert_eq!(size_of::<TaskExitEvent>(), 80);
        assert_eq!(size_of::<NamespaceSet>(), 40);
        assert_eq!(size_of::<NamespacesEvent>(), 72 + 24 + 40 + 8);
        assert_eq!(size_of::<VethEvent>(), 72 + 8 + 2 * 24);
        assert_eq!(size_of::<CallEvent>(), 72 + 8 + 48 + 16 + 40 + CALL_SLOTS * CALL_SLOT_MAX);
        assert_eq!(size_of::<ProcessExecEvent>(), 72 + 8 + KERNEL_PATH_MAX);
        assert_eq!(size_of::<CgroupEvent>(), 72 + 24 + KERNEL_PATH_MAX);
        assert_eq!(size_of::<CapCapableEvent>(), 80);
        assert_eq!(size_of::<NetlinkEvent>(), 72 + 24 + 16 + NETLINK_MSG_MAX);
        assert_eq!(size_of::<NetlinkAnswerEvent>(), 80);
        assert_eq!(size_of::<OpenEvent>(), 72 + 56 + USER_PATH_MAX);
        assert_eq!(size_of::<MknodEvent>(), 72 + 32 + USER_PATH_MAX);
        assert_eq!(size_of::<KernelLayout>() % 8, 0);
        assert_eq!(size_of::<TraceConfig>() % 8, 0);
        // The kernel aligns ring-buffer records to 8 bytes.
        assert!(align_of::<EventHeader>() <= 8);
    }

    #[test]
    fn kinds_round_trip() {
        for kind in EventKind::ALL {
            assert_eq!(EventKind::from_u16(kind as u16), Some(kind));
        }
        assert_eq!(EventKind::from_u16(u16::try_from(EventKind::COUNT).unwrap()), None);
    }
}
