//! What each event kind and phase means, for someone learning how a
//! container is born: what the kernel does, and why a runtime asks for it.
//! Shared by `cradle explain`, the timeline's `--explain`, the TUI's detail
//! pane and reports.

use crate::collector::Phase;

/// One entry of the vocabulary.
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

/// The explanation of an event kind (`mount`, `pivot_root`, ...).
pub fn event_kind(kind: &str) -> Option<&'static Explanation> {
    EVENT_KINDS.iter().find(|entry| entry.name == kind)
}

pub fn phase(phase: Phase) -> &'static Explanation {
    PHASES.iter().find(|entry| entry.name == phase.name()).expect("every phase is explained")
}

/// An event kind, a phase or another topic, by name.
pub fn lookup(name: &str) -> Option<&'static Explanation> {
    let name = name.trim().to_ascii_lowercase().replace('-', "_");
    PHASES.iter().chain(EVENT_KINDS).chain(TOPICS).find(|entry| entry.name == name)
}

/// The explanation of a topic that is neither a phase nor an event kind.
pub fn topic(name: &str) -> &'static Explanation {
    TOPICS.iter().find(|entry| entry.name == name).expect("a topic of TOPICS")
}

/// What a container record shows beside its events.
pub const TOPICS: &[Explanation] = &[Explanation {
    name: "id_mapping",
    title: "user namespace id mapping (uid_map, gid_map)",
    what: "A user namespace has uids and gids of its own. Each line of /proc/PID/uid_map (and \
           gid_map) says that COUNT ids from INSIDE in the namespace are the ids from OUTSIDE \
           in its parent namespace, here the host's: `uid 0 inside = uid 100000 on the host, \
           65536 ids`. The runtime writes both files once, after the init made the namespace \
           and before it becomes root there; an id no line maps shows as nobody (65534). \
           cradle reads the maps from /proc through a process of the container while it \
           traces: the kernel side sees the runtime open the files, not what it writes.",
    why: "With a mapping, root inside the container is an ordinary uid on the host: a process \
          that escapes, or a file it writes on a bind mount, belongs to that uid and has no \
          more power over the host than any other user. Its capabilities count only for \
          what the namespace owns. Rootless containers work this way too, mapping root \
          inside to the user who ran the runtime.",
}];

pub const PHASES: &[Explanation] = &[
    Explanation {
        name: "runtime_start",
        title: "Runtime start",
        what: "The runtime binary (runc, crun, cradle) is executed with a command such as `run ID` \
               or `create ID` and reads the bundle's config.json.",
        why: "Everything a container is comes from the OCI bundle: the runtime turns its \
              description (namespaces, mounts, capabilities, the process to run) into syscalls.",
    },
    Explanation {
        name: "namespace_creation",
        title: "Namespace creation",
        what: "clone(2) or unshare(2) with CLONE_NEW* flags gives a process new namespaces: its \
               own mount table, hostname, IPC objects, pid numbering, network stack, cgroup view.",
        why: "Namespaces are what makes a process look alone on the machine. They isolate what a \
              process can see; they do not limit what it can use (that is cgroups).",
    },
    Explanation {
        name: "rootfs_assembly",
        title: "Root filesystem assembly",
        what: "Inside the new mount namespace the runtime mounts the bundle's rootfs and, on top \
               of it, /proc, /dev (a tmpfs with a few device nodes), /dev/pts, /dev/shm, \
               /dev/mqueue, /sys and the bind mounts the spec asks for.",
        why: "A container's filesystem is an ordinary directory dressed up with the special \
              filesystems programs expect, built in a mount namespace so the host never sees it.",
    },
    Explanation {
        name: "root_switch",
        title: "Root switch",
        what: "pivot_root(2) makes the assembled rootfs the process's `/` and moves the old root \
               aside, where it is unmounted; chroot(2) is the weaker fallback.",
        why: "After pivot_root and the unmount of the old root, the host's filesystem is no \
              longer reachable from the container at all, which chroot alone cannot promise.",
    },
    Explanation {
        name: "privilege_reduction",
        title: "Privilege reduction",
        what: "capset(2) and prctl(PR_CAPBSET_DROP) drop capabilities, prctl(PR_SET_NO_NEW_PRIVS) \
               stops setuid binaries from gaining privileges, and seccomp(2) installs a syscall \
               filter.",
        why: "The runtime ran as root to build the container; the workload must not keep that \
              power. Done last, just before exec, because building the container needed it.",
    },
    Explanation {
        name: "workload_exec",
        title: "Workload exec",
        what: "The container's init calls execve(2) on the user's program (process.args), \
               replacing the runtime's code in that process.",
        why: "From here on the process is the user's: it keeps the namespaces, mounts, \
              capabilities and filter the runtime set up, and nothing of the runtime's code.",
    },
    Explanation {
        name: "running",
        title: "Running",
        what: "The workload runs: its own syscalls, children and execs.",
        why: "What happens here is the application's business; cradle shows it so that what a \
              container does right after start can be audited too.",
    },
    Explanation {
        name: "exit",
        title: "Exit",
        what: "The container's init exits; the kernel kills every other process of its pid \
               namespace and the runtime collects the status.",
        why: "A container lives exactly as long as its init process.",
    },
];

pub const EVENT_KINDS: &[Explanation] = &[
    Explanation {
        name: "exec",
        title: "execve / execveat",
        what: "Replaces the calling process's program with a new one, given as a path (or a file \
               descriptor, for execveat) and an argument list.",
        why: "The runtime starts this way, re-executes itself for its init stage (runc execs a \
              copy of itself from a memfd), and its last act is to exec the workload.",
    },
    Explanation {
        name: "exec_result",
        title: "exec result",
        what: "The return of an execve whose entry was not seen.",
        why: "Kept so that no result is silently lost; normally joined to its exec.",
    },
    Explanation {
        name: "process_exec",
        title: "program switch",
        what: "The scheduler's record that a process now runs a new program after a successful \
               exec.",
        why: "It confirms the exec took effect and names the file actually run.",
    },
    Explanation {
        name: "task_new",
        title: "new process or thread",
        what: "fork, vfork, clone or clone3 created a task; its clone flags say what it shares \
               with its parent and which namespaces it gets.",
        why: "Runtimes fork helper stages (runc's `runc init`, the container's init) and may \
              create namespaces at the same moment with CLONE_NEW* flags.",
    },
    Explanation {
        name: "task_exit",
        title: "exit",
        what: "A process ended, with its wait status.",
        why: "Intermediate runtime stages exit once their job is done; the init's exit ends the \
              container.",
    },
    Explanation {
        name: "namespaces",
        title: "new namespaces (create_new_namespaces)",
        what: "The kernel made new namespaces for a process (clone with CLONE_NEW*, or unshare); \
               the event holds the inode number of each, as /proc/PID/ns shows them.",
        why: "This is the moment the container's isolation comes into being; the inode numbers \
              identify the container's namespaces everywhere afterwards.",
    },
    Explanation {
        name: "setns",
        title: "setns",
        what: "Moves the calling thread into an existing namespace, given by a file descriptor \
               of /proc/PID/ns/*.",
        why: "`exec` into a running container and joining a pre-made network namespace both \
              work this way; a setns into a host namespace after start deserves attention.",
    },
    Explanation {
        name: "mount",
        title: "mount",
        what: "Attaches a filesystem (or a bind of a directory, or changes propagation or flags \
               of an existing mount) at a target path.",
        why: "The container's filesystem is assembled from mounts: the rootfs, /proc, /dev, \
              /sys and bind mounts, each with flags such as nosuid, nodev, noexec, read-only.",
    },
    Explanation {
        name: "umount",
        title: "umount2",
        what: "Detaches a mount; MNT_DETACH does it lazily.",
        why: "After pivot_root the runtime unmounts the old root so the host's filesystem is \
              gone from the container.",
    },
    Explanation {
        name: "fsopen",
        title: "fsopen (new mount API)",
        what: "Opens a filesystem context for a filesystem type, to be configured and mounted.",
        why: "Newer runtimes use the new mount API (fsopen, fsconfig, fsmount, move_mount) to \
              build mounts safely by file descriptor.",
    },
    Explanation {
        name: "fsconfig",
        title: "fsconfig (new mount API)",
        what: "Sets an option on a filesystem context, or creates the superblock.",
        why: "The option-by-option form of mount(2)'s data string.",
    },
    Explanation {
        name: "fsmount",
        title: "fsmount (new mount API)",
        what: "Turns a configured filesystem context into a detached mount, with mount \
               attributes.",
        why: "The mount exists but is attached nowhere until move_mount.",
    },
    Explanation {
        name: "move_mount",
        title: "move_mount (new mount API)",
        what: "Attaches a detached mount (or moves an existing one) to a target.",
        why: "Targets are given by file descriptors, which protects against symlink tricks in \
              a hostile rootfs.",
    },
    Explanation {
        name: "open_tree",
        title: "open_tree (new mount API)",
        what: "Opens (or clones, for a bind) a mount as a file descriptor.",
        why: "The fd form of a bind mount.",
    },
    Explanation {
        name: "mount_setattr",
        title: "mount_setattr",
        what: "Changes the attributes of a mount tree (read-only, nosuid, idmapped, ...).",
        why: "Makes mounts read-only or idmapped in one call, recursively.",
    },
    Explanation {
        name: "pivot_root",
        title: "pivot_root",
        what: "Makes a new root filesystem the root of the mount namespace and moves the old \
               root to a directory beneath it.",
        why: "The decisive step of filesystem isolation: afterwards the runtime unmounts the old \
              root and the host's files are unreachable.",
    },
    Explanation {
        name: "chroot",
        title: "chroot",
        what: "Changes the calling process's root directory.",
        why: "Used where pivot_root is impossible (a rootfs on the initramfs); weaker, because \
              the old root stays mounted.",
    },
    Explanation {
        name: "capset",
        title: "capset",
        what: "Sets the effective, permitted and inheritable capability sets of the caller.",
        why: "Root's powers are split into capabilities; a container keeps a small set (Docker \
              keeps 14) so that being root inside is not being root on the host.",
    },
    Explanation {
        name: "prctl",
        title: "prctl",
        what: "Process controls: PR_SET_NO_NEW_PRIVS, PR_CAPBSET_DROP (shrink the bounding set), \
               PR_SET_NAME, PR_SET_PDEATHSIG, PR_SET_SECCOMP.",
        why: "Runtimes use it to make privilege drops irreversible and to tie helper processes' \
              lives to their parent.",
    },
    Explanation {
        name: "seccomp",
        title: "seccomp",
        what: "Installs a BPF filter that the kernel runs on every syscall of the process, \
               allowing it, failing it with an errno, or killing the process.",
        why: "Shrinks the kernel's attack surface: a container's default profile refuses \
              syscalls like mount, kexec_load or bpf.",
    },
    Explanation {
        name: "sethostname",
        title: "sethostname",
        what: "Sets the hostname of the caller's UTS namespace.",
        why: "Each container has its own hostname, set inside its new UTS namespace.",
    },
    Explanation {
        name: "cgroup_mkdir",
        title: "cgroup created",
        what: "A directory was created in a cgroup hierarchy: a new control group.",
        why: "cgroups limit what a container may use (memory, CPU, pids, IO); the runtime makes \
              one per container.",
    },
    Explanation {
        name: "cgroup_attach_task",
        title: "process moved to a cgroup",
        what: "A process was moved into a control group.",
        why: "The runtime moves the container's init into its cgroup before any user code runs, \
              so every process of the container is counted and limited.",
    },
    Explanation {
        name: "cap_capable",
        title: "capability check",
        what: "The kernel checked whether the process holds a capability, and granted or denied \
               it.",
        why: "Shows which privileges a runtime actually uses, and which the workload is refused.",
    },
    Explanation {
        name: "new_link",
        title: "new network link request (RTM_NEWLINK)",
        what: "An RTM_NEWLINK request over rtnetlink: here, typically a veth pair, two virtual \
               interfaces connected back to back.",
        why: "One end of the veth goes into the container's network namespace as eth0, the \
              other stays on the host, usually on a bridge: the container's only way out. \
              Its result is the kernel's answer on the socket (0, or the error it refused \
              with), not what sending the request returned.",
    },
    Explanation {
        name: "new_link_answer",
        title: "answer to a link request",
        what: "The kernel's answer (NLMSG_ERROR) to a new-link request, shown on its own when \
               it could not be paired with the request.",
        why: "A request the socket accepted can still be refused: the answer says whether the \
              link was made.",
    },
    Explanation {
        name: "veth",
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
    Explanation {
        name: "open",
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
    Explanation {
        name: "mknod",
        title: "mknod / mknodat",
        what: "Creates a filesystem node: a device node (character or block, with its major \
               and minor number), a FIFO, or a socket.",
        why: "Runtimes create the few device nodes every container gets (/dev/null, /dev/zero, \
              /dev/tty, ...). Any other device node, made by the runtime or the workload, gives \
              direct access to hardware or kernel interfaces (a disk, /dev/mem).",
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_phase_is_explained() {
        for phase in Phase::ALL {
            assert_eq!(super::phase(phase).name, phase.name());
        }
    }

    #[test]
    fn lookup_accepts_dashes_and_case() {
        assert_eq!(lookup("Pivot-Root").map(|e| e.name), Some("pivot_root"));
        assert_eq!(lookup("ROOT_SWITCH").map(|e| e.name), Some("root_switch"));
        assert_eq!(lookup("id-mapping").map(|e| e.name), Some("id_mapping"));
        assert!(lookup("nonsense").is_none());
    }

    #[test]
    fn every_event_kind_is_explained() {
        // The kinds, as the trace schema lists Detail's variants: a new
        // variant without an explanation fails here.
        let schema = crate::trace_file::schema();
        let mut kinds: Vec<&str> = schema["$defs"]["Detail"]["oneOf"]
            .as_array()
            .expect("Detail is a oneOf")
            .iter()
            .map(|variant| variant["required"][0].as_str().expect("a kind name"))
            .collect();
        kinds.sort();
        let mut explained: Vec<&str> = EVENT_KINDS.iter().map(|entry| entry.name).collect();
        explained.sort();
        assert_eq!(kinds, explained);
    }
}
