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
    /// The probes (event families) the program serves, as `doctor` shows them.
    pub probes: &'static [&'static str],
    /// The program's name in the object.
    pub program: &'static str,
    pub mechanism: Mechanism,
    /// Tracepoint category, for [`Mechanism::Tracepoint`].
    pub category: &'static str,
    /// Tracepoint or kernel function name.
    pub target: &'static str,
    /// The target may be missing on some kernels (a syscall an
    /// architecture does not have): then the program is left out.
    pub optional: bool,
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

const fn syscall_tp(probes: &'static [&'static str], name: &'static str) -> ProgramSpec {
    ProgramSpec {
        probes,
        program: name,
        mechanism: Mechanism::Tracepoint,
        category: "syscalls",
        target: name,
        optional: false,
    }
}

/// A syscall tracepoint of a call not every architecture has (open(2),
/// mknod(2): arm64 has only their `*at` forms).
const fn legacy_syscall_tp(probes: &'static [&'static str], name: &'static str) -> ProgramSpec {
    ProgramSpec { optional: true, ..syscall_tp(probes, name) }
}

const fn raw_tp(probes: &'static [&'static str], name: &'static str) -> ProgramSpec {
    ProgramSpec {
        probes,
        program: name,
        mechanism: Mechanism::RawTracepoint,
        category: "",
        target: name,
        optional: false,
    }
}

/// Every program the tracer attaches. Namespace creation comes from
/// `task_newtask` (clone, clone3) and the exit of unshare: this build has no
/// kprobe or fentry path for `create_new_namespaces`.
pub const PROGRAMS: &[ProgramSpec] = &[
    raw_tp(&["task", "namespaces"], "task_newtask"),
    raw_tp(&["task"], "sched_process_exit"),
    raw_tp(&["exec"], "sched_process_exec"),
    raw_tp(&["cgroup"], "cgroup_mkdir"),
    raw_tp(&["cgroup"], "cgroup_attach_task"),
    raw_tp(&["capability"], "cap_capable"),
    syscall_tp(&["exec"], "sys_enter_execve"),
    syscall_tp(&["exec"], "sys_exit_execve"),
    syscall_tp(&["exec"], "sys_enter_execveat"),
    syscall_tp(&["exec"], "sys_exit_execveat"),
    syscall_tp(&["namespaces"], "sys_enter_unshare"),
    syscall_tp(&["namespaces"], "sys_exit_unshare"),
    syscall_tp(&["mount"], "sys_enter_mount"),
    syscall_tp(&["mount"], "sys_exit_mount"),
    syscall_tp(&["mount"], "sys_enter_umount"),
    syscall_tp(&["mount"], "sys_exit_umount"),
    syscall_tp(&["mount"], "sys_enter_fsopen"),
    syscall_tp(&["mount"], "sys_exit_fsopen"),
    syscall_tp(&["mount"], "sys_enter_fsconfig"),
    syscall_tp(&["mount"], "sys_exit_fsconfig"),
    syscall_tp(&["mount"], "sys_enter_fsmount"),
    syscall_tp(&["mount"], "sys_exit_fsmount"),
    syscall_tp(&["mount"], "sys_enter_move_mount"),
    syscall_tp(&["mount"], "sys_exit_move_mount"),
    syscall_tp(&["mount"], "sys_enter_open_tree"),
    syscall_tp(&["mount"], "sys_exit_open_tree"),
    syscall_tp(&["mount"], "sys_enter_mount_setattr"),
    syscall_tp(&["mount"], "sys_exit_mount_setattr"),
    syscall_tp(&["root"], "sys_enter_pivot_root"),
    syscall_tp(&["root"], "sys_exit_pivot_root"),
    syscall_tp(&["root"], "sys_enter_chroot"),
    syscall_tp(&["root"], "sys_exit_chroot"),
    syscall_tp(&["setns"], "sys_enter_setns"),
    syscall_tp(&["setns"], "sys_exit_setns"),
    syscall_tp(&["privileges"], "sys_enter_capset"),
    syscall_tp(&["privileges"], "sys_exit_capset"),
    syscall_tp(&["privileges"], "sys_enter_prctl"),
    syscall_tp(&["privileges"], "sys_exit_prctl"),
    syscall_tp(&["privileges"], "sys_enter_seccomp"),
    syscall_tp(&["privileges"], "sys_exit_seccomp"),
    syscall_tp(&["hostname"], "sys_enter_sethostname"),
    syscall_tp(&["hostname"], "sys_exit_sethostname"),
    syscall_tp(&["link"], "sys_enter_sendmsg"),
    syscall_tp(&["link"], "sys_exit_sendmsg"),
    syscall_tp(&["link"], "sys_enter_sendto"),
    syscall_tp(&["link"], "sys_exit_sendto"),
    syscall_tp(&["link"], "sys_enter_recvmsg"),
    syscall_tp(&["link"], "sys_exit_recvmsg"),
    syscall_tp(&["link"], "sys_enter_recvfrom"),
    syscall_tp(&["link"], "sys_exit_recvfrom"),
    legacy_syscall_tp(&["files"], "sys_enter_open"),
    legacy_syscall_tp(&["files"], "sys_exit_open"),
    syscall_tp(&["files"], "sys_enter_openat"),
    syscall_tp(&["files"], "sys_exit_openat"),
    syscall_tp(&["files"], "sys_enter_openat2"),
    syscall_tp(&["files"], "sys_exit_openat2"),
    legacy_syscall_tp(&["devices"], "sys_enter_mknod"),
    legacy_syscall_tp(&["devices"], "sys_exit_mknod"),
    syscall_tp(&["devices"], "sys_enter_mknodat"),
    syscall_tp(&["devices"], "sys_exit_mknodat"),
];

impl ProgramSpec {
    /// Whether this kernel has the program's target, as far as tracefs
    /// tells (raw tracepoints and kernel functions are assumed present).
    pub fn target_exists(&self) -> bool {
        match self.mechanism {
            Mechanism::Tracepoint => std::path::Path::new(crate::tracefs::TRACEFS)
                .join("events")
                .join(self.category)
                .join(self.target)
                .is_dir(),
            _ => true,
        }
    }

    /// Whether the tracer attaches this program on this kernel.
    pub fn wanted_here(&self) -> bool {
        !self.optional || self.target_exists()
    }
}
