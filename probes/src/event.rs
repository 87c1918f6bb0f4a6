//! Decoded events: owned, self-describing values built from ring-buffer
//! records by [`crate::decode`].

use serde::Serialize;

/// One kernel event, with the acting task's identity.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
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
    #[serde(flatten)]
    pub detail: Detail,
}

/// What happened.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Detail {
    /// execve/execveat entered. `ret` is filled in when the result arrives
    /// (see [`crate::ExecJoiner`]); `None` while unknown.
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
    ExecResult { ret: i64 },
    /// A task was created by the acting task.
    TaskNew { child_pid: u32, child_tgid: u32, clone_flags: u64 },
    /// The acting task exited with this wait(2) status word.
    TaskExit { exit_code: u32 },
}

impl Detail {
    /// The stable kind name, as in trace files.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Detail::Exec { .. } => "exec",
            Detail::ExecResult { .. } => "exec_result",
            Detail::TaskNew { .. } => "task_new",
            Detail::TaskExit { .. } => "task_exit",
        }
    }
}
