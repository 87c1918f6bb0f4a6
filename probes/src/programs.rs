//! Which eBPF program serves which probe, and how each attaches.

use serde::Serialize;

/// How a program is attached to the kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mechanism {
    Tracepoint,
    RawTracepoint,
    Kprobe,
    Fentry,
}

impl Mechanism {
    pub const ALL: [Mechanism; 4] =
        [Mechanism::Tracepoint, Mechanism::RawTracepoint, Mechanism::Kprobe, Mechanism::Fentry];

    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Tracepoint => "tracepoint",
            Mechanism::RawTracepoint => "raw_tracepoint",
            Mechanism::Kprobe => "kprobe",
            Mechanism::Fentry => "fentry",
        }
    }
}

/// A program in the eBPF object and where it attaches.
#[derive(Clone, Copy, Debug)]
pub struct ProgramSpec {
    /// The probe (event family) the program serves, as shown by `doctor`.
    pub probe: &'static str,
    /// The program's name in the object.
    pub program: &'static str,
    pub mechanism: Mechanism,
    /// Tracepoint category, for [`Mechanism::Tracepoint`].
    pub category: &'static str,
    /// Tracepoint or kernel function name.
    pub target: &'static str,
}

impl ProgramSpec {
    /// `mechanism:category/target`, as shown in trace headers and `doctor`.
    pub fn describe(&self) -> String {
        if self.category.is_empty() {
            format!("{}:{}", self.mechanism.name(), self.target)
        } else {
            format!("{}:{}/{}", self.mechanism.name(), self.category, self.target)
        }
    }
}

const fn syscall_tp(probe: &'static str, name: &'static str) -> ProgramSpec {
    ProgramSpec {
        probe,
        program: name,
        mechanism: Mechanism::Tracepoint,
        category: "syscalls",
        target: name,
    }
}

const fn raw_tp(probe: &'static str, name: &'static str) -> ProgramSpec {
    ProgramSpec {
        probe,
        program: name,
        mechanism: Mechanism::RawTracepoint,
        category: "",
        target: name,
    }
}

/// Every program the tracer attaches.
pub const PROGRAMS: &[ProgramSpec] = &[
    raw_tp("task", "task_newtask"),
    raw_tp("task", "sched_process_exit"),
    syscall_tp("exec", "sys_enter_execve"),
    syscall_tp("exec", "sys_exit_execve"),
    syscall_tp("exec", "sys_enter_execveat"),
    syscall_tp("exec", "sys_exit_execveat"),
];
