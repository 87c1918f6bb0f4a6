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
}

impl EventKind {
    /// Every kind, in discriminant order.
    pub const ALL: [EventKind; 4] =
        [EventKind::Exec, EventKind::ExecResult, EventKind::TaskNew, EventKind::TaskExit];
    /// Number of kinds: the length of the per-kind loss counter array.
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
        }
    }
}

/// The first bytes of every ring-buffer record.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EventHeader {
    /// An [`EventKind`] discriminant.
    pub kind: u16,
    pub _pad0: u16,
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
pub struct ExecResultEvent {
    pub header: EventHeader,
    /// The syscall's return value: 0, or a negative errno.
    pub ret: i64,
}

/// [`EventKind::TaskNew`]: emitted by the parent, before the child runs.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
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
pub struct TaskExitEvent {
    pub header: EventHeader,
    /// `task_struct.exit_code`: the wait(2) status word.
    pub exit_code: u32,
    pub _pad: u32,
}

/// Byte offsets of the kernel structure members the programs read, found in
/// the running kernel's BTF at load time. Rust eBPF has no CO-RE
/// relocations, so nothing here may be a compile-time constant.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
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
}

/// Which tasks the programs report.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TraceConfig {
    /// [`TRACK_TREE`] or [`TRACK_ALL`].
    pub mode: u32,
    pub _pad: u32,
}

/// Report only tasks in the tracked-task map (roots registered by userspace
/// and their descendants, followed on fork).
pub const TRACK_TREE: u32 = 0;
/// Report every task on the host.
pub const TRACK_ALL: u32 = 1;

/// Everything the programs read from `.rodata`, set by userspace at load.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
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

/// Value of the tracked-task map.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TrackedTask {
    /// Kernel pid of the root this task descends from.
    pub root: u32,
    pub _pad: u32,
}

/// Marks the records above as plain old data for aya's map and global APIs.
#[cfg(feature = "user")]
mod user {
    use super::*;
    // SAFETY: each type is #[repr(C)], made only of integers and byte
    // arrays with explicit padding, so every byte pattern is a valid value.
    unsafe impl aya::Pod for ProbeGlobals {}
    // SAFETY: as above.
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
        // The kernel aligns ring-buffer records to 8 bytes.
        assert!(align_of::<EventHeader>() <= 8);
    }

    #[test]
    fn kinds_round_trip() {
        for kind in EventKind::ALL {
            assert_eq!(EventKind::from_u16(kind as u16), Some(kind));
        }
        assert_eq!(EventKind::from_u16(EventKind::COUNT as u16), None);
    }
}
