//! Each event kind, defined once. [`KINDS`] holds one declaration per
//! kind of the ABI (`cradle_probes_common::EventKind`, whose record layout
//! is defined there, shared with the kernel programs): its record's
//! decoder, the category the
//! UI's filters and the reports group it under, the phase of a container's
//! birth it can begin, whether step mode stops at it, and its explanation.
//! What derives from it: the decode dispatch, [`Category`] of an event, the TUI's category
//! filters ([`categories`]), the collector's phase rules (see
//! `collector::Collector::attribute`), step mode's stops ([`step_kinds`]),
//! and `explain`'s vocabulary. Its one-line description is
//! `Detail::describe`, one arm per kind, checked exhaustive by the compiler.

use cradle_probes_common::EventKind;
use serde::{Deserialize, Serialize};

use crate::{
    event::{Detail, Phase, Role},
    records::{self, DecodeError, Decoded},
};

/// What part of a container's birth an event is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Process,
    Exec,
    Namespaces,
    Mounts,
    RootSwitch,
    Privileges,
    Cgroups,
    Network,
    Host,
    Files,
}

impl Category {
    pub const ALL: [Category; 10] = [
        Category::Process,
        Category::Exec,
        Category::Namespaces,
        Category::Mounts,
        Category::RootSwitch,
        Category::Privileges,
        Category::Cgroups,
        Category::Network,
        Category::Host,
        Category::Files,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Category::Process => "process",
            Category::Exec => "exec",
            Category::Namespaces => "namespaces",
            Category::Mounts => "mounts",
            Category::RootSwitch => "root_switch",
            Category::Privileges => "privileges",
            Category::Cgroups => "cgroups",
            Category::Network => "network",
            Category::Host => "host",
            Category::Files => "files",
        }
    }
}

/// One entry of the vocabulary: an event kind, a phase or a topic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Explanation {
    /// The name used in trace files and on the command line.
    pub name: &'static str,
    pub title: &'static str,
    /// What happens in the kernel.
    pub what: &'static str,
    /// Why a container runtime does it.
    pub why: &'static str,
}

/// The phase an event of a kind begins, and when.
#[derive(Debug)]
pub struct PhaseEffect {
    pub begins: Phase,
    /// The phase the container must have reached already: a mount before
    /// the container's namespaces exist is the runtime's own, not the
    /// rootfs being assembled.
    pub after: Phase,
    /// Only an event of a process in this role counts (the workload's exec
    /// is the init's).
    pub by: Option<Role>,
    /// Whether this event, of the kind, counts: it succeeded, and for some
    /// kinds, it was the operation that matters.
    pub counts: fn(&Detail) -> bool,
}

impl PhaseEffect {
    /// A successful call of the kind, by any process, once the container
    /// has reached `after`.
    const fn on_success(begins: Phase, after: Phase) -> PhaseEffect {
        PhaseEffect { begins, after, by: None, counts: succeeded }
    }

    /// The container moves to [`PhaseEffect::begins`] on this event of a
    /// process in `role`, the container being in phase `now`.
    pub fn applies(&self, detail: &Detail, role: Role, now: Phase) -> bool {
        now >= self.after && self.by.is_none_or(|by| by == role) && (self.counts)(detail)
    }
}

/// Decodes a record of the kind (its `#[repr(C)]` type in probes-common)
/// into its detail.
pub type Decoder = fn(EventKind, &[u8]) -> Result<Decoded, DecodeError>;

/// One event kind's declaration.
#[derive(Debug)]
pub struct KindSpec {
    pub kind: EventKind,
    /// Its kernel record's decoder (`records`): the decode dispatch.
    pub decode: Decoder,
    pub category: Category,
    pub phase: Option<&'static PhaseEffect>,
    /// Step mode can stop after it (`cradle trace --step`).
    pub step: bool,
    pub explanation: Explanation,
}

/// The declaration of `kind`.
pub fn spec(kind: EventKind) -> &'static KindSpec {
    &KINDS[kind as usize]
}

/// The categories the UI filters by and reports group by: those of the
/// kinds, in [`Category::ALL`]'s order.
pub fn categories() -> impl Iterator<Item = Category> {
    Category::ALL.into_iter().filter(|&category| KINDS.iter().any(|spec| spec.category == category))
}

/// The kinds step mode stops at.
pub fn step_kinds() -> impl Iterator<Item = EventKind> {
    KINDS.iter().filter(|spec| spec.step).map(|spec| spec.kind)
}

fn succeeded(detail: &Detail) -> bool {
    match detail {
        // A successful exec's result is 0 in the new image; one whose
        // result is not known yet does not count.
        Detail::Exec { ret, .. } => *ret == Some(0),
        _ => !detail.failed(),
    }
}

/// The prctl options that take privileges away.
fn drops_privileges(detail: &Detail) -> bool {
    matches!(
        detail,
        Detail::Prctl { option_name: Some(name), .. }
            if matches!(name.as_ref(), "PR_SET_NO_NEW_PRIVS" | "PR_CAPBSET_DROP" | "PR_SET_SECCOMP")
    ) && succeeded(detail)
}

const NAMESPACES_MADE: PhaseEffect =
    PhaseEffect::on_success(Phase::NamespaceCreation, Phase::RuntimeStart);
const ROOTFS_MOUNT: PhaseEffect =
    PhaseEffect::on_success(Phase::RootfsAssembly, Phase::NamespaceCreation);
const ROOT_SWITCHED: PhaseEffect = PhaseEffect::on_success(Phase::RootSwitch, Phase::RuntimeStart);
const PRIVILEGES_DROPPED: PhaseEffect =
    PhaseEffect::on_success(Phase::PrivilegeReduction, Phase::RootSwitch);
const PRIVILEGES_DROPPED_BY_PRCTL: PhaseEffect =
    PhaseEffect { counts: drops_privileges, ..PRIVILEGES_DROPPED };
/// The scheduler's exec event can arrive before the joined exec record
/// (which waits for the syscall's return): either marks the workload's exec.
const WORKLOAD_EXECUTED: PhaseEffect = PhaseEffect {
    begins: Phase::WorkloadExec,
    after: Phase::RuntimeStart,
    by: Some(Role::Init),
    counts: succeeded,
};

/// Every kind, indexed by its discriminant.
pub static KINDS: [KindSpec; EventKind::ALL.len()] = [
    KindSpec {
        kind: EventKind::Exec,
        decode: |_, bytes| Ok(records::decode_exec(bytes)?.into()),
        category: Category::Exec,
        phase: Some(&WORKLOAD_EXECUTED),
        step: false,
        explanation: Explanation {
            name: EventKind::Exec.name(),
            title: "execve / execveat",
            what: "Replaces the calling process's program with a new one, given as a path (or a file \
               descriptor, for execveat) and an argument list.",
            why: "The runtime starts this way, re-executes itself for its init stage (runc execs a \
              copy of itself from a memfd), and its last act is to exec the workload.",
        },
    },
    KindSpec {
        kind: EventKind::ExecResult,
        decode: |_, bytes| Ok(records::decode_exec_result(bytes)?.into()),
        category: Category::Exec,
        phase: None,
        step: true,
        explanation: Explanation {
            name: EventKind::ExecResult.name(),
            title: "exec result",
            what: "The return of an execve whose entry was not seen.",
            why: "Kept so that no result is silently lost; normally joined to its exec.",
        },
    },
    KindSpec {
        kind: EventKind::TaskNew,
        decode: |_, bytes| Ok(records::decode_task_new(bytes)?.into()),
        category: Category::Process,
        phase: None,
        step: false,
        explanation: Explanation {
            name: EventKind::TaskNew.name(),
            title: "new process or thread",
            what: "fork, vfork, clone or clone3 created a task; its clone flags say what it shares \
               with its parent and which namespaces it gets.",
            why: "Runtimes fork helper stages (runc's `runc init`, the container's init) and may \
              create namespaces at the same moment with CLONE_NEW* flags.",
        },
    },
    KindSpec {
        kind: EventKind::TaskExit,
        decode: |_, bytes| Ok(records::decode_task_exit(bytes)?.into()),
        category: Category::Process,
        phase: None,
        step: false,
        explanation: Explanation {
            name: EventKind::TaskExit.name(),
            title: "exit",
            what: "A process ended, with its wait status.",
            why: "Intermediate runtime stages exit once their job is done; the init's exit ends the \
              container.",
        },
    },
    KindSpec {
        kind: EventKind::ProcessExec,
        decode: |_, bytes| Ok(records::decode_process_exec(bytes)?.into()),
        category: Category::Exec,
        phase: Some(&WORKLOAD_EXECUTED),
        step: false,
        explanation: Explanation {
            name: EventKind::ProcessExec.name(),
            title: "program switch",
            what: "The scheduler's record that a process now runs a new program after a successful \
               exec.",
            why: "It confirms the exec took effect and names the file actually run.",
        },
    },
    KindSpec {
        kind: EventKind::Namespaces,
        decode: |_, bytes| Ok(records::decode_namespaces(bytes)?.into()),
        category: Category::Namespaces,
        phase: Some(&NAMESPACES_MADE),
        step: true,
        explanation: Explanation {
            name: EventKind::Namespaces.name(),
            title: "new namespaces (create_new_namespaces)",
            what: "The kernel made new namespaces for a process (clone with CLONE_NEW*, or unshare); \
               the event holds the inode number of each, as /proc/PID/ns shows them.",
            why: "This is the moment the container's isolation comes into being; the inode numbers \
              identify the container's namespaces everywhere afterwards.",
        },
    },
    KindSpec {
        kind: EventKind::Mount,
        decode: records::decode_mount_call,
        category: Category::Mounts,
        phase: Some(&ROOTFS_MOUNT),
        step: true,
        explanation: Explanation {
            name: EventKind::Mount.name(),
            title: "mount",
            what: "Attaches a filesystem (or a bind of a directory, or changes propagation or flags \
               of an existing mount) at a target path.",
            why: "The container's filesystem is assembled from mounts: the rootfs, /proc, /dev, \
              /sys and bind mounts, each with flags such as nosuid, nodev, noexec, read-only.",
        },
    },
    KindSpec {
        kind: EventKind::Umount,
        decode: records::decode_mount_call,
        category: Category::Mounts,
        phase: Some(&ROOTFS_MOUNT),
        step: true,
        explanation: Explanation {
            name: EventKind::Umount.name(),
            title: "umount2",
            what: "Detaches a mount; MNT_DETACH does it lazily.",
            why: "After pivot_root the runtime unmounts the old root so the host's filesystem is \
              gone from the container.",
        },
    },
    KindSpec {
        kind: EventKind::Fsopen,
        decode: records::decode_mount_call,
        category: Category::Mounts,
        phase: Some(&ROOTFS_MOUNT),
        step: true,
        explanation: Explanation {
            name: EventKind::Fsopen.name(),
            title: "fsopen (new mount API)",
            what: "Opens a filesystem context for a filesystem type, to be configured and mounted.",
            why: "Newer runtimes use the new mount API (fsopen, fsconfig, fsmount, move_mount) to \
              build mounts safely by file descriptor.",
        },
    },
    KindSpec {
        kind: EventKind::Fsconfig,
        decode: records::decode_mount_call,
        category: Category::Mounts,
        phase: Some(&ROOTFS_MOUNT),
        step: true,
        explanation: Explanation {
            name: EventKind::Fsconfig.name(),
            title: "fsconfig (new mount API)",
            what: "Sets an option on a filesystem context, or creates the superblock.",
            why: "The option-by-option form of mount(2)'s data string.",
        },
    },
    KindSpec {
        kind: EventKind::Fsmount,
        decode: records::decode_mount_call,
        category: Category::Mounts,
        phase: Some(&ROOTFS_MOUNT),
        step: true,
        explanation: Explanation {
            name: EventKind::Fsmount.name(),
            title: "fsmount (new mount API)",
            what: "Turns a configured filesystem context into a detached mount, with mount \
               attributes.",
            why: "The mount exists but is attached nowhere until move_mount.",
        },
    },
    KindSpec {
        kind: EventKind::MoveMount,
        decode: records::decode_mount_call,
        category: Category::Mounts,
        phase: Some(&ROOTFS_MOUNT),
        step: true,
        explanation: Explanation {
            name: EventKind::MoveMount.name(),
            title: "move_mount (new mount API)",
            what: "Attaches a detached mount (or moves an existing one) to a target.",
            why: "Targets are given by file descriptors, which protects against symlink tricks in \
              a hostile rootfs.",
        },
    },
    KindSpec {
        kind: EventKind::OpenTree,
        decode: records::decode_mount_call,
        category: Category::Mounts,
        phase: Some(&ROOTFS_MOUNT),
        step: true,
        explanation: Explanation {
            name: EventKind::OpenTree.name(),
            title: "open_tree (new mount API)",
            what: "Opens (or clones, for a bind) a mount as a file descriptor.",
            why: "The fd form of a bind mount.",
        },
    },
    KindSpec {
        kind: EventKind::MountSetattr,
        decode: records::decode_mount_call,
        category: Category::Mounts,
        phase: Some(&ROOTFS_MOUNT),
        step: true,
        explanation: Explanation {
            name: EventKind::MountSetattr.name(),
            title: "mount_setattr",
            what: "Changes the attributes of a mount tree (read-only, nosuid, idmapped, ...).",
            why: "Makes mounts read-only or idmapped in one call, recursively.",
        },
    },
    KindSpec {
        kind: EventKind::PivotRoot,
        decode: records::decode_mount_call,
        category: Category::RootSwitch,
        phase: Some(&ROOT_SWITCHED),
        step: true,
        explanation: Explanation {
            name: EventKind::PivotRoot.name(),
            title: "pivot_root",
            what: "Makes a new root filesystem the root of the mount namespace and moves the old \
               root to a directory beneath it.",
            why: "The decisive step of filesystem isolation: afterwards the runtime unmounts the old \
              root and the host's files are unreachable.",
        },
    },
    KindSpec {
        kind: EventKind::Chroot,
        decode: records::decode_mount_call,
        category: Category::RootSwitch,
        phase: Some(&ROOT_SWITCHED),
        step: true,
        explanation: Explanation {
            name: EventKind::Chroot.name(),
            title: "chroot",
            what: "Changes the calling process's root directory.",
            why: "Used where pivot_root is impossible (a rootfs on the initramfs); weaker, because \
              the old root stays mounted.",
        },
    },
    KindSpec {
        kind: EventKind::Setns,
        decode: records::decode_call,
        category: Category::Namespaces,
        phase: None,
        step: false,
        explanation: Explanation {
            name: EventKind::Setns.name(),
            title: "setns",
            what: "Moves the calling thread into an existing namespace, given by a file descriptor \
               of /proc/PID/ns/*.",
            why: "`exec` into a running container and joining a pre-made network namespace both \
              work this way; a setns into a host namespace after start deserves attention.",
        },
    },
    KindSpec {
        kind: EventKind::Capset,
        decode: records::decode_privilege_call,
        category: Category::Privileges,
        phase: Some(&PRIVILEGES_DROPPED),
        step: true,
        explanation: Explanation {
            name: EventKind::Capset.name(),
            title: "capset",
            what: "Sets the effective, permitted and inheritable capability sets of the caller.",
            why: "Root's powers are split into capabilities; a container keeps a small set (Docker \
              keeps 14) so that being root inside is not being root on the host.",
        },
    },
    KindSpec {
        kind: EventKind::Prctl,
        decode: records::decode_privilege_call,
        category: Category::Privileges,
        phase: Some(&PRIVILEGES_DROPPED_BY_PRCTL),
        step: true,
        explanation: Explanation {
            name: EventKind::Prctl.name(),
            title: "prctl",
            what: "Process controls: PR_SET_NO_NEW_PRIVS, PR_CAPBSET_DROP (shrink the bounding set), \
               PR_SET_NAME, PR_SET_PDEATHSIG, PR_SET_SECCOMP.",
            why: "Runtimes use it to make privilege drops irreversible and to tie helper processes' \
              lives to their parent.",
        },
    },
    KindSpec {
        kind: EventKind::Seccomp,
        decode: records::decode_privilege_call,
        category: Category::Privileges,
        phase: Some(&PRIVILEGES_DROPPED),
        step: true,
        explanation: Explanation {
            name: EventKind::Seccomp.name(),
            title: "seccomp",
            what: "Installs a BPF filter that the kernel runs on every syscall of the process, \
               allowing it, failing it with an errno, or killing the process.",
            why: "Shrinks the kernel's attack surface: a container's default profile refuses \
              syscalls like mount, kexec_load or bpf.",
        },
    },
    KindSpec {
        kind: EventKind::Sethostname,
        decode: records::decode_call,
        category: Category::Host,
        phase: None,
        step: false,
        explanation: Explanation {
            name: EventKind::Sethostname.name(),
            title: "sethostname",
            what: "Sets the hostname of the caller's UTS namespace.",
            why: "Each container has its own hostname, set inside its new UTS namespace.",
        },
    },
    KindSpec {
        kind: EventKind::CgroupMkdir,
        decode: |kind, bytes| Ok(records::decode_cgroup(kind, bytes)?.into()),
        category: Category::Cgroups,
        phase: None,
        step: false,
        explanation: Explanation {
            name: EventKind::CgroupMkdir.name(),
            title: "cgroup created",
            what: "A directory was created in a cgroup hierarchy: a new control group.",
            why: "cgroups limit what a container may use (memory, CPU, pids, IO); the runtime makes \
              one per container.",
        },
    },
    KindSpec {
        kind: EventKind::CgroupAttach,
        decode: |kind, bytes| Ok(records::decode_cgroup(kind, bytes)?.into()),
        category: Category::Cgroups,
        phase: None,
        step: false,
        explanation: Explanation {
            name: EventKind::CgroupAttach.name(),
            title: "process moved to a cgroup",
            what: "A process was moved into a control group.",
            why: "The runtime moves the container's init into its cgroup before any user code runs, \
              so every process of the container is counted and limited.",
        },
    },
    KindSpec {
        kind: EventKind::CapCapable,
        decode: |_, bytes| Ok(records::decode_capability_check(bytes)?.into()),
        category: Category::Privileges,
        phase: None,
        step: false,
        explanation: Explanation {
            name: EventKind::CapCapable.name(),
            title: "capability check",
            what: "The kernel checked whether the process holds a capability, and granted or denied \
               it.",
            why: "Shows which privileges a runtime actually uses, and which the workload is refused.",
        },
    },
    KindSpec {
        kind: EventKind::NetlinkNewLink,
        decode: |_, bytes| records::decode_new_link_request(bytes),
        category: Category::Network,
        phase: None,
        step: false,
        explanation: Explanation {
            name: EventKind::NetlinkNewLink.name(),
            title: "new network link request (RTM_NEWLINK)",
            what: "An RTM_NEWLINK request over rtnetlink: here, typically a veth pair, two virtual \
               interfaces connected back to back.",
            why: "One end of the veth goes into the container's network namespace as eth0, the \
              other stays on the host, usually on a bridge: the container's only way out. \
              Its result is the kernel's answer on the socket (0, or the error it refused \
              with), not what sending the request returned.",
        },
    },
    KindSpec {
        kind: EventKind::NetlinkAnswer,
        decode: |_, bytes| Ok(records::decode_new_link_answer(bytes)?.into()),
        category: Category::Network,
        phase: None,
        step: false,
        explanation: Explanation {
            name: EventKind::NetlinkAnswer.name(),
            title: "answer to a link request",
            what: "The kernel's answer (NLMSG_ERROR) to a new-link request, shown on its own when \
               it could not be paired with the request.",
            why: "A request the socket accepted can still be refused: the answer says whether the \
              link was made.",
        },
    },
    KindSpec {
        kind: EventKind::Open,
        decode: |_, bytes| records::decode_open(bytes),
        category: Category::Files,
        phase: None,
        step: false,
        explanation: Explanation {
            name: EventKind::Open.name(),
            title: "open / openat / openat2",
            what: "Opens a file, relative to a directory file descriptor or the working directory, \
               and returns a new file descriptor. Only opens that can write or create a file, \
               that ask for a bare path (O_PATH), or that ask for a directory (O_DIRECTORY) are \
               recorded: reads are not.",
            why: "Runtimes open each mount target first and mount onto /proc/self/fd/N, so that a \
              symlink in a hostile rootfs cannot redirect the mount; the open says which path \
              that descriptor is. An open for writing of /proc/sys/kernel/core_pattern or a \
              cgroup's release_agent is how a container makes the host run its program.",
        },
    },
    KindSpec {
        kind: EventKind::Mknod,
        decode: |_, bytes| records::decode_mknod(bytes),
        category: Category::Files,
        phase: None,
        step: false,
        explanation: Explanation {
            name: EventKind::Mknod.name(),
            title: "mknod / mknodat",
            what: "Creates a filesystem node: a device node (character or block, with its major \
               and minor number), a FIFO, or a socket.",
            why: "Runtimes create the few device nodes every container gets (/dev/null, /dev/zero, \
              /dev/tty, ...). Any other device node, made by the runtime or the workload, gives \
              direct access to hardware or kernel interfaces (a disk, /dev/mem).",
        },
    },
    KindSpec {
        kind: EventKind::Veth,
        decode: |_, bytes| Ok(records::decode_veth(bytes)?.into()),
        category: Category::Network,
        phase: None,
        step: false,
        explanation: Explanation {
            name: EventKind::Veth.name(),
            title: "veth pair made (veth_newlink)",
            what: "The kernel made a pair of virtual interfaces connected back to back, with both \
               ends' names, interface indexes and network namespaces, whoever asked for it: \
               `ip`, dockerd, podman's netavark or a CNI plugin. Seen where the kernel allows a \
               kprobe on veth_newlink.",
            why: "One end goes into the container's network namespace as eth0, the other stays on \
              the host, usually on a bridge: the container's only way out. The daemon that \
              makes it is not the runtime, so the link is the container's because its \
              namespace receives an end.",
        },
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    /// The table has one declaration per ABI kind, at its discriminant, and
    /// each declaration says everything the presentations derive from it.
    #[test]
    fn every_kind_is_declared_in_order_with_its_category_steps_and_words() {
        assert_eq!(KINDS.len(), EventKind::ALL.len());
        let filters: Vec<Category> = categories().collect();
        for (spec, kind) in KINDS.iter().zip(EventKind::ALL) {
            assert_eq!(spec.kind, kind, "KINDS[{}] declares {:?}", kind as usize, spec.kind);
            assert!(std::ptr::eq(super::spec(kind), spec));
            assert!(filters.contains(&spec.category), "{kind:?}: no category filter");
            let words = &spec.explanation;
            assert_eq!(words.name, kind.name(), "{kind:?}: explained under another name");
            for (field, text) in [("title", words.title), ("what", words.what), ("why", words.why)]
            {
                assert!(text.trim().len() > 3, "{kind:?}: no {field} in its explanation");
            }
            assert_eq!(crate::explain::event_kind(kind.name()), Some(words));
        }
        // Every category the UI can filter by has kinds: no dead filter key.
        assert_eq!(filters, Category::ALL, "a category without kinds");
    }

    /// Step mode stops where a phase of the birth can begin: every kind with
    /// a phase rule is a stop, but for the exec, whose stop is its result's
    /// record (a successful exec's record is its result's).
    #[test]
    fn step_mode_stops_at_each_kind_that_can_begin_a_phase() {
        let stops: Vec<EventKind> = step_kinds().collect();
        for spec in &KINDS {
            let expected = match spec.kind {
                EventKind::Exec | EventKind::ProcessExec => false,
                EventKind::ExecResult => true,
                _ => spec.phase.is_some(),
            };
            assert_eq!(stops.contains(&spec.kind), expected, "{:?}", spec.kind);
        }
        assert!(
            KINDS.iter().any(|spec| spec.phase.is_some_and(|p| p.begins == Phase::WorkloadExec))
        );
    }

    /// The ABI's mount family (which the `mount` probe serves) is the table's
    /// Mounts category.
    #[test]
    fn the_mount_family_is_the_mounts_category() {
        let mounts: Vec<EventKind> = KINDS
            .iter()
            .filter(|spec| spec.category == Category::Mounts)
            .map(|spec| spec.kind)
            .collect();
        assert_eq!(mounts, EventKind::MOUNTS);
    }

    #[test]
    fn a_phase_rule_counts_only_successful_calls_in_its_order() {
        use std::borrow::Cow;
        let mount = |ret| Detail::Mount {
            source: None,
            target: None,
            fstype: None,
            flags: 0,
            flag_names: Vec::new(),
            data: None,
            ret,
        };
        let rule = spec(EventKind::Mount).phase.expect("a mount can begin the rootfs");
        assert!(rule.applies(&mount(0), Role::Intermediate, Phase::NamespaceCreation));
        assert!(!rule.applies(&mount(-1), Role::Intermediate, Phase::NamespaceCreation));
        assert!(!rule.applies(&mount(0), Role::Runtime, Phase::RuntimeStart), "before namespaces");
        let prctl = |name: &str| Detail::Prctl {
            option: 0,
            option_name: Some(Cow::Owned(name.to_string())),
            arg2: 0,
            arg3: 0,
            arg4: 0,
            arg5: 0,
            name: None,
            filter_len: None,
            ret: 0,
        };
        let rule = spec(EventKind::Prctl).phase.expect("prctl can drop privileges");
        assert!(rule.applies(&prctl("PR_SET_NO_NEW_PRIVS"), Role::Init, Phase::RootSwitch));
        assert!(!rule.applies(&prctl("PR_SET_NAME"), Role::Init, Phase::RootSwitch));
    }
}
