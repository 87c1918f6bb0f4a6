//! What each event kind and phase means, for someone learning how a
//! container is born: what the kernel does, and why a runtime asks for it.
//! Shared by `cradle explain`, the timeline's `--explain`, the TUI's detail
//! pane and reports.

use crate::{event::Phase, kinds::KINDS};

pub use crate::kinds::Explanation;

/// The explanation of an event kind (`mount`, `pivot_root`, ...).
pub fn event_kind(kind: &str) -> Option<&'static Explanation> {
    event_kinds().find(|entry| entry.name == kind)
}

/// Every event kind's explanation, from the kind table.
pub fn event_kinds() -> impl Iterator<Item = &'static Explanation> {
    KINDS.iter().map(|spec| &spec.explanation)
}

pub fn phase(phase: Phase) -> &'static Explanation {
    PHASES.iter().find(|entry| entry.name == phase.name()).expect("every phase is explained")
}

/// An event kind, a phase or another topic, by name.
pub fn lookup(name: &str) -> Option<&'static Explanation> {
    let name = name.trim().to_ascii_lowercase().replace('-', "_");
    PHASES.iter().chain(event_kinds()).chain(TOPICS).find(|entry| entry.name == name)
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
        let mut explained: Vec<&str> = event_kinds().map(|entry| entry.name).collect();
        explained.sort();
        assert_eq!(kinds, explained);
    }
}
