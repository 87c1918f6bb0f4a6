//! Which eBPF program serves which probe, and how each attaches.

use cradle_events::trace_file::ProbeUse;
use cradle_probes_common::{
    EventKind, SYS_ENTER_HANDLERS_MAP, SYS_ENTER_UNTRACKED_HANDLERS_MAP, SYS_EXIT_HANDLERS_MAP,
    SYSCALL_HANDLERS_MAX,
};
use serde::Serialize;

/// How a program is attached to the kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mechanism {
    Tracepoint,
    RawTracepoint,
    Kprobe,
    Fentry,
    /// A kprobe on a function's return.
    Kretprobe,
    /// fentry's counterpart on a function's return.
    Fexit,
}

impl Mechanism {
    /// The mechanisms `doctor` checks (a return probe works where its
    /// entry probe does).
    pub const ALL: [Mechanism; 4] =
        [Mechanism::Tracepoint, Mechanism::RawTracepoint, Mechanism::Kprobe, Mechanism::Fentry];

    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Tracepoint => "tracepoint",
            Mechanism::RawTracepoint => "raw_tracepoint",
            Mechanism::Kprobe => "kprobe",
            Mechanism::Fentry => "fentry",
            Mechanism::Kretprobe => "kretprobe",
            Mechanism::Fexit => "fexit",
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
    /// Tracepoint category, for [`Mechanism::Tracepoint`]; for a syscall
    /// handler, the raw tracepoint that dispatches to it.
    pub category: &'static str,
    /// Tracepoint or kernel function name; for a syscall handler, the
    /// syscall's name.
    pub target: &'static str,
    /// The target may be missing on some kernels: then the program is left
    /// out.
    pub optional: bool,
    /// Set for a program that is not attached itself but reached by a tail
    /// call from a dispatching program.
    pub tail_call: Option<TailCall>,
    /// Set for a syscall entry handler that can act for a task that is not
    /// tracked when runtimes are watched (an exec; a link daemon's netlink
    /// call): it also fills its slot of the untracked-task array, and no
    /// other handler runs for an untracked task's calls.
    pub acts_for_untracked: bool,
}

/// Where a tail-called program goes: a slot of a program array.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TailCall {
    /// The program array's name in the object.
    pub array: &'static str,
    pub index: u32,
}

impl ProgramSpec {
    /// The program-array slots a tail-called program fills: its own, and
    /// for a handler that [acts for untracked tasks](Self::acts_for_untracked)
    /// the same slot of the untracked-task array.
    pub fn slots(&self) -> impl Iterator<Item = TailCall> + use<> {
        let untracked = self
            .tail_call
            .filter(|_| self.acts_for_untracked)
            .map(|slot| TailCall { array: SYS_ENTER_UNTRACKED_HANDLERS_MAP, ..slot });
        self.tail_call.into_iter().chain(untracked)
    }

    /// `mechanism:category/target`, as shown in trace headers and `doctor`
    /// (a syscall handler: `raw_tracepoint:sys_enter/mount`).
    pub fn describe(&self) -> String {
        if self.category.is_empty() {
            format!("{}:{}", self.mechanism.name(), self.target)
        } else {
            format!("{}:{}/{}", self.mechanism.name(), self.category, self.target)
        }
    }
}

/// A probe: a family of events, served by one or more programs.
#[derive(Clone, Copy, Debug)]
pub struct Probe {
    pub name: &'static str,
    /// Without it cradle cannot say how a container was born, so a trace
    /// refuses to start rather than run without it. The others are left
    /// out, with a warning, where the kernel lacks their hook or refuses
    /// their program.
    pub essential: bool,
    /// The event kinds only this probe's programs produce: unavailable when
    /// the probe is left out.
    pub kinds: &'static [EventKind],
}

/// Every probe. Essential: `exec` (what each process runs), `task` (the
/// process tree: forks and exits) and `namespaces` (what makes a
/// container). Everything else adds detail to a birth that can still be
/// followed without it.
pub const PROBES: &[Probe] = &[
    Probe {
        name: "exec",
        essential: true,
        kinds: &[EventKind::Exec, EventKind::ExecResult, EventKind::ProcessExec],
    },
    Probe { name: "task", essential: true, kinds: &[EventKind::TaskNew, EventKind::TaskExit] },
    Probe { name: "namespaces", essential: true, kinds: &[EventKind::Namespaces] },
    Probe { name: "mount", essential: false, kinds: &EventKind::MOUNTS },
    Probe { name: "root", essential: false, kinds: &[EventKind::PivotRoot, EventKind::Chroot] },
    Probe { name: "setns", essential: false, kinds: &[EventKind::Setns] },
    Probe {
        name: "privileges",
        essential: false,
        kinds: &[EventKind::Capset, EventKind::Prctl, EventKind::Seccomp],
    },
    Probe { name: "hostname", essential: false, kinds: &[EventKind::Sethostname] },
    Probe {
        name: "cgroup",
        essential: false,
        kinds: &[EventKind::CgroupMkdir, EventKind::CgroupAttach],
    },
    Probe { name: "capability", essential: false, kinds: &[EventKind::CapCapable] },
    Probe {
        name: "link",
        essential: false,
        kinds: &[EventKind::NetlinkNewLink, EventKind::NetlinkAnswer],
    },
    Probe { name: "files", essential: false, kinds: &[EventKind::Open] },
    Probe { name: "devices", essential: false, kinds: &[EventKind::Mknod] },
    // Only a hook on the veth driver sees this; without one, the `link`
    // probe still sees the requests of traced tasks.
    Probe { name: "veth", essential: false, kinds: &[EventKind::Veth] },
];

/// The probe named `name`.
pub fn probe(name: &str) -> Option<&'static Probe> {
    PROBES.iter().find(|probe| probe.name == name)
}

impl ProgramSpec {
    /// Whether a probe that cannot do without this program is essential:
    /// then the trace cannot start without it.
    pub fn essential(&self) -> bool {
        self.probes.iter().any(|name| probe(name).is_some_and(|probe| probe.essential))
    }
}

const fn raw_tp(probes: &'static [&'static str], name: &'static str) -> ProgramSpec {
    ProgramSpec {
        probes,
        program: name,
        mechanism: Mechanism::RawTracepoint,
        category: "",
        target: name,
        optional: false,
        tail_call: None,
        acts_for_untracked: false,
    }
}

/// The handler arrays' slot for syscall `number`; PROGRAMS is a const, so
/// a number past the arrays fails the build.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // in range, asserted first
const fn handler_slot(number: libc::c_long) -> u32 {
    assert!(number >= 0 && number < SYSCALL_HANDLERS_MAX as libc::c_long, "no handler slot");
    number as u32
}

/// The program `program` handling the entry of syscall `syscall`, number
/// `number` (x86_64), reached from the raw `sys_enter` tracepoint.
const fn on_enter(
    probes: &'static [&'static str],
    program: &'static str,
    syscall: &'static str,
    number: libc::c_long,
) -> ProgramSpec {
    ProgramSpec {
        probes,
        program,
        mechanism: Mechanism::RawTracepoint,
        category: SYS_ENTER,
        target: syscall,
        optional: false,
        tail_call: Some(TailCall { array: SYS_ENTER_HANDLERS_MAP, index: handler_slot(number) }),
        acts_for_untracked: false,
    }
}

impl ProgramSpec {
    /// This entry handler [acts for untracked
    /// tasks](ProgramSpec::acts_for_untracked).
    const fn for_any_task(self) -> ProgramSpec {
        ProgramSpec { acts_for_untracked: true, ..self }
    }
}

/// [`on_enter`] for the syscall's exit, from the raw `sys_exit` tracepoint.
const fn on_exit(
    probes: &'static [&'static str],
    program: &'static str,
    syscall: &'static str,
    number: libc::c_long,
) -> ProgramSpec {
    ProgramSpec {
        category: SYS_EXIT,
        tail_call: Some(TailCall { array: SYS_EXIT_HANDLERS_MAP, index: handler_slot(number) }),
        ..on_enter(probes, program, syscall, number)
    }
}

const SYS_ENTER: &str = "sys_enter";
const SYS_EXIT: &str = "sys_exit";

/// The event families whose records come from syscalls.
const SYSCALL_PROBES: &[&str] = &[
    "exec",
    "namespaces",
    "mount",
    "root",
    "setns",
    "privileges",
    "hostname",
    "link",
    "files",
    "devices",
];

/// Every program the tracer loads, in load order: the syscall handlers
/// fill their arrays before the dispatchers (last) attach. Calls whose
/// exits are handled alike share one exit program, verified once (the
/// netlink-answer exit alone took ~0.6 s of verifier time per copy). Namespace
/// creation comes from `task_newtask` (clone, clone3) and the exit of
/// unshare, with the inode numbers the `create_new_namespaces` hook read
/// where the kernel allows it; capability checks come from [`HOOKS`] only.
/// Syscall numbers are x86_64's, as are the register offsets the handlers
/// read their arguments at.
pub const PROGRAMS: &[ProgramSpec] = &[
    raw_tp(&["task", "namespaces"], "task_newtask"),
    raw_tp(&["task"], "sched_process_exit"),
    raw_tp(&["exec"], "sched_process_exec"),
    raw_tp(&["cgroup"], "cgroup_mkdir"),
    raw_tp(&["cgroup"], "cgroup_attach_task"),
    on_enter(&["exec"], "sys_enter_execve", "execve", libc::SYS_execve).for_any_task(),
    on_exit(&["exec"], "sys_exit_exec", "execve", libc::SYS_execve),
    on_enter(&["exec"], "sys_enter_execveat", "execveat", libc::SYS_execveat).for_any_task(),
    on_exit(&["exec"], "sys_exit_exec", "execveat", libc::SYS_execveat),
    on_enter(&["namespaces"], "sys_enter_unshare", "unshare", libc::SYS_unshare),
    on_exit(&["namespaces"], "sys_exit_unshare", "unshare", libc::SYS_unshare),
    on_enter(&["mount"], "sys_enter_mount", "mount", libc::SYS_mount),
    on_exit(&["mount"], "sys_exit_mount", "mount", libc::SYS_mount),
    on_enter(&["mount"], "sys_enter_umount", "umount2", libc::SYS_umount2),
    on_exit(&["mount"], "sys_exit_umount", "umount2", libc::SYS_umount2),
    on_enter(&["mount"], "sys_enter_fsopen", "fsopen", libc::SYS_fsopen),
    on_exit(&["mount"], "sys_exit_fsopen", "fsopen", libc::SYS_fsopen),
    on_enter(&["mount"], "sys_enter_fsconfig", "fsconfig", libc::SYS_fsconfig),
    on_exit(&["mount"], "sys_exit_fsconfig", "fsconfig", libc::SYS_fsconfig),
    on_enter(&["mount"], "sys_enter_fsmount", "fsmount", libc::SYS_fsmount),
    on_exit(&["mount"], "sys_exit_fsmount", "fsmount", libc::SYS_fsmount),
    on_enter(&["mount"], "sys_enter_move_mount", "move_mount", libc::SYS_move_mount),
    on_exit(&["mount"], "sys_exit_move_mount", "move_mount", libc::SYS_move_mount),
    on_enter(&["mount"], "sys_enter_open_tree", "open_tree", libc::SYS_open_tree),
    on_exit(&["mount"], "sys_exit_open_tree", "open_tree", libc::SYS_open_tree),
    on_enter(&["mount"], "sys_enter_mount_setattr", "mount_setattr", libc::SYS_mount_setattr),
    on_exit(&["mount"], "sys_exit_mount_setattr", "mount_setattr", libc::SYS_mount_setattr),
    on_enter(&["root"], "sys_enter_pivot_root", "pivot_root", libc::SYS_pivot_root),
    on_exit(&["root"], "sys_exit_pivot_root", "pivot_root", libc::SYS_pivot_root),
    on_enter(&["root"], "sys_enter_chroot", "chroot", libc::SYS_chroot),
    on_exit(&["root"], "sys_exit_chroot", "chroot", libc::SYS_chroot),
    on_enter(&["setns"], "sys_enter_setns", "setns", libc::SYS_setns),
    on_exit(&["setns"], "sys_exit_setns", "setns", libc::SYS_setns),
    on_enter(&["privileges"], "sys_enter_capset", "capset", libc::SYS_capset),
    on_exit(&["privileges"], "sys_exit_capset", "capset", libc::SYS_capset),
    on_enter(&["privileges"], "sys_enter_prctl", "prctl", libc::SYS_prctl),
    on_exit(&["privileges"], "sys_exit_prctl", "prctl", libc::SYS_prctl),
    on_enter(&["privileges"], "sys_enter_seccomp", "seccomp", libc::SYS_seccomp),
    on_exit(&["privileges"], "sys_exit_seccomp", "seccomp", libc::SYS_seccomp),
    on_enter(&["hostname"], "sys_enter_sethostname", "sethostname", libc::SYS_sethostname),
    on_exit(&["hostname"], "sys_exit_sethostname", "sethostname", libc::SYS_sethostname),
    on_enter(&["link"], "sys_enter_sendmsg", "sendmsg", libc::SYS_sendmsg).for_any_task(),
    on_exit(&["link"], "sys_exit_send", "sendmsg", libc::SYS_sendmsg),
    on_enter(&["link"], "sys_enter_sendto", "sendto", libc::SYS_sendto).for_any_task(),
    on_exit(&["link"], "sys_exit_send", "sendto", libc::SYS_sendto),
    on_enter(&["link"], "sys_enter_recvmsg", "recvmsg", libc::SYS_recvmsg).for_any_task(),
    on_exit(&["link"], "sys_exit_recv", "recvmsg", libc::SYS_recvmsg),
    on_enter(&["link"], "sys_enter_recvfrom", "recvfrom", libc::SYS_recvfrom).for_any_task(),
    on_exit(&["link"], "sys_exit_recv", "recvfrom", libc::SYS_recvfrom),
    on_enter(&["files"], "sys_enter_open", "open", libc::SYS_open),
    on_exit(&["files"], "sys_exit_open", "open", libc::SYS_open),
    on_enter(&["files"], "sys_enter_openat", "openat", libc::SYS_openat),
    on_exit(&["files"], "sys_exit_open", "openat", libc::SYS_openat),
    on_enter(&["files"], "sys_enter_openat2", "openat2", libc::SYS_openat2),
    on_exit(&["files"], "sys_exit_open", "openat2", libc::SYS_openat2),
    on_enter(&["devices"], "sys_enter_mknod", "mknod", libc::SYS_mknod),
    on_exit(&["devices"], "sys_exit_mknod", "mknod", libc::SYS_mknod),
    on_enter(&["devices"], "sys_enter_mknodat", "mknodat", libc::SYS_mknodat),
    on_exit(&["devices"], "sys_exit_mknod", "mknodat", libc::SYS_mknodat),
    raw_tp(SYSCALL_PROBES, SYS_ENTER),
    raw_tp(SYSCALL_PROBES, SYS_EXIT),
];

/// A probe that hooks a kernel function where the kernel allows it: its
/// paths are tried in order at load time, and the first whose programs all
/// load and attach is used. When none does, the probe's tracepoint path
/// (programs in [`PROGRAMS`]) serves alone.
#[derive(Clone, Copy, Debug)]
pub struct HookSpec {
    /// The probe (event family) it serves.
    pub probe: &'static str,
    /// The kernel function hooked.
    pub function: &'static str,
    /// The `HOOK_*` slot of the hooks array set once it is attached.
    pub slot: u32,
    /// The alternatives, best first; each is the programs that make it.
    pub paths: &'static [HookPath],
    /// What serves the probe when no path attaches.
    pub fallback: &'static str,
}

/// One way to attach a [`HookSpec`].
#[derive(Clone, Copy, Debug)]
pub struct HookPath {
    /// `fexit`, `kprobe`: what the trace header records.
    pub name: &'static str,
    pub programs: &'static [ProgramSpec],
    /// Set when this build cannot try the path here: why.
    pub unsupported: Option<&'static str>,
}

const fn on_function(
    probes: &'static [&'static str],
    program: &'static str,
    mechanism: Mechanism,
    function: &'static str,
) -> ProgramSpec {
    ProgramSpec {
        probes,
        program,
        mechanism,
        category: "",
        target: function,
        optional: true,
        tail_call: None,
        acts_for_untracked: false,
    }
}

/// The kernel function whose return gives the nsproxy a clone, unshare or
/// setns made.
pub const NAMESPACE_FUNCTION: &str = "create_new_namespaces";
/// The veth driver's function that makes a pair.
pub const VETH_FUNCTION: &str = "veth_newlink";
/// The function every capability check goes through.
pub const CAPABILITY_FUNCTION: &str = "cap_capable";

/// The seed's hooks: fentry/fexit first, then kprobes; the tracepoint
/// path (see [`PROGRAMS`]) where neither is allowed, as on kernels built
/// without kprobes and with tracing programs refused.
pub const HOOKS: &[HookSpec] = &[
    HookSpec {
        probe: "namespaces",
        function: NAMESPACE_FUNCTION,
        slot: cradle_probes_common::HOOK_NAMESPACES,
        paths: &[
            HookPath {
                name: "fexit",
                programs: &[on_function(
                    &["namespaces"],
                    "create_new_namespaces_fexit",
                    Mechanism::Fexit,
                    NAMESPACE_FUNCTION,
                )],
                unsupported: None,
            },
            HookPath {
                name: "kprobe",
                programs: &[on_function(
                    &["namespaces"],
                    "create_new_namespaces_kretprobe",
                    Mechanism::Kretprobe,
                    NAMESPACE_FUNCTION,
                )],
                unsupported: None,
            },
        ],
        fallback: "tracepoint",
    },
    HookSpec {
        probe: "veth",
        function: VETH_FUNCTION,
        slot: cradle_probes_common::HOOK_VETH,
        paths: &[
            HookPath {
                name: "fentry",
                programs: &[],
                unsupported: Some(
                    "veth_newlink is in the veth module where veth is not built in, and aya 0.14 \
                     loads fentry/fexit programs against the kernel's own BTF only",
                ),
            },
            HookPath {
                name: "kprobe",
                programs: &[
                    on_function(&["veth"], "veth_newlink_kprobe", Mechanism::Kprobe, VETH_FUNCTION),
                    on_function(
                        &["veth"],
                        "veth_newlink_kretprobe",
                        Mechanism::Kretprobe,
                        VETH_FUNCTION,
                    ),
                ],
                unsupported: None,
            },
        ],
        // The new-link requests tracked tasks send (probes-ebpf/src/netlink.rs).
        fallback: "netlink",
    },
    // The `capability:cap_capable` tracepoint is new in Linux 6.14; before
    // it, only the function can be hooked. The tracepoint comes last: a
    // tracing program costs less than a tracepoint where both exist, and
    // one path only may attach, or each check would be recorded twice.
    HookSpec {
        probe: "capability",
        function: CAPABILITY_FUNCTION,
        slot: cradle_probes_common::HOOK_CAPABILITY,
        paths: &[
            HookPath {
                name: "fexit",
                programs: &[on_function(
                    &["capability"],
                    "cap_capable_fexit",
                    Mechanism::Fexit,
                    CAPABILITY_FUNCTION,
                )],
                unsupported: None,
            },
            HookPath {
                name: "kprobe",
                programs: &[
                    on_function(
                        &["capability"],
                        "cap_capable_kprobe",
                        Mechanism::Kprobe,
                        CAPABILITY_FUNCTION,
                    ),
                    on_function(
                        &["capability"],
                        "cap_capable_kretprobe",
                        Mechanism::Kretprobe,
                        CAPABILITY_FUNCTION,
                    ),
                ],
                unsupported: None,
            },
            HookPath {
                name: "tracepoint",
                programs: &[raw_tp(&["capability"], "cap_capable")],
                unsupported: None,
            },
        ],
        // No path attached: the probe is left out.
        fallback: "none",
    },
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

/// The header's record of an attached program.
impl From<&ProgramSpec> for ProbeUse {
    fn from(spec: &ProgramSpec) -> Self {
        ProbeUse {
            program: spec.program.to_string(),
            attach: spec.describe(),
            probes: spec.probes.iter().map(|probe| probe.to_string()).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use cradle_probes_common::SYSCALL_HANDLERS_MAX;

    use super::*;

    /// Two handlers in one slot would silently replace each other, and a
    /// number past the array would never be reached.
    #[test]
    fn every_syscall_handler_has_a_slot_of_its_own() {
        let mut taken = HashSet::new();
        for spec in PROGRAMS {
            for tail_call in spec.slots() {
                assert!(tail_call.index < SYSCALL_HANDLERS_MAX, "{} has no slot", spec.program);
                assert!(taken.insert(tail_call), "{} shares a slot", spec.program);
            }
        }
        assert!(!taken.is_empty());
    }

    /// Each kind is one probe's, and each probe a program names is known.
    #[test]
    fn every_kind_belongs_to_one_probe() {
        for kind in EventKind::ALL {
            let owners: Vec<&str> =
                PROBES.iter().filter(|p| p.kinds.contains(&kind)).map(|p| p.name).collect();
            assert_eq!(owners.len(), 1, "{} is produced by {owners:?}", kind.name());
        }
        let hooked = HOOKS.iter().flat_map(|hook| hook.paths).flat_map(|path| path.programs);
        let every: Vec<&ProgramSpec> = PROGRAMS.iter().chain(hooked).collect();
        for spec in &every {
            for name in spec.probes {
                assert!(probe(name).is_some(), "{} names unknown probe {name}", spec.program);
            }
        }
        for probe in PROBES {
            assert!(every.iter().any(|spec| spec.probes.contains(&probe.name)), "{}", probe.name);
        }
        for hook in HOOKS {
            assert!(super::probe(hook.probe).is_some(), "hook for unknown probe {}", hook.probe);
        }
    }

    /// Only `sys_enter` passes an untracked task's calls on: an exit
    /// handler (followed through PENDING stashes) or an attached program
    /// marked so would mean a mistaken table.
    #[test]
    fn only_entry_handlers_act_for_untracked_tasks() {
        let marked: Vec<&ProgramSpec> =
            PROGRAMS.iter().filter(|spec| spec.acts_for_untracked).collect();
        assert!(!marked.is_empty());
        for spec in marked {
            let slots: Vec<&str> = spec.slots().map(|slot| slot.array).collect();
            assert_eq!(
                slots,
                [SYS_ENTER_HANDLERS_MAP, SYS_ENTER_UNTRACKED_HANDLERS_MAP],
                "{}",
                spec.program
            );
        }
    }

    /// The dispatchers attach after every handler is in its array.
    #[test]
    fn dispatchers_come_after_the_handlers() {
        let last_handler = PROGRAMS.iter().rposition(|spec| spec.tail_call.is_some());
        let first_dispatcher =
            PROGRAMS.iter().position(|spec| spec.target == SYS_ENTER || spec.target == SYS_EXIT);
        assert!(last_handler < first_dispatcher);
    }
}
