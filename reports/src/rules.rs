//! The finding rules: what security teams check when a container starts,
//! each as data (id, severity, title, rationale, remediation, what it rests
//! on and what the probes cannot see) with a check over a
//! [`ContainerReport`]. `cradle report --rules` lists them.

use serde::Serialize;

use crate::model::{ContainerReport, EventRef, FileWrite, MountOperation, MountReport};
pub use crate::model::{Finding, Severity};

/// One rule.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Rule {
    /// Stable identifier (`CRADLE-NS-001`), used in SARIF as the rule id.
    pub id: &'static str,
    /// Short name (`host-pid-namespace`).
    pub name: &'static str,
    pub severity: Severity,
    pub title: &'static str,
    /// Why it matters.
    pub rationale: &'static str,
    pub remediation: &'static str,
    /// The events a finding rests on.
    pub evidence: &'static str,
    /// What the probes cannot see, so what this rule cannot find.
    pub limits: &'static str,
    #[serde(skip)]
    pub check: fn(&ContainerReport) -> Vec<Hit>,
}

/// What a check found: a sentence about this container, and the events.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hit {
    pub message: String,
    pub evidence: Vec<EventRef>,
}

/// Runs every rule on a container. `lost` events make absence findings
/// uncertain, and their message says so.
///
/// A container whose runtime exec is not in the trace was born before it:
/// in an earlier file of a rotated `watch`, whose head carried it into this
/// one. Its birth is judged in the file that holds it; this one holds only
/// its later events, from which no rule can tell what its namespaces,
/// mounts or privileges are.
pub fn evaluate(report: &ContainerReport, lost: u64) -> Vec<Finding> {
    if report.runtime.evidence.is_none() {
        return Vec::new();
    }
    RULES
        .iter()
        .flat_map(|rule| {
            (rule.check)(report).into_iter().map(move |hit| {
                let mut message = hit.message;
                if lost > 0 && rule.evidence.starts_with("absence") {
                    message.push_str(&format!(
                        " ({lost} events were lost in this trace: the absence is not certain)"
                    ));
                }
                Finding {
                    id: rule.id.into(),
                    rule: rule.name.into(),
                    severity: rule.severity,
                    title: rule.title.into(),
                    message,
                    rationale: rule.rationale.into(),
                    remediation: rule.remediation.into(),
                    evidence: hit.evidence,
                }
            })
        })
        .collect()
}

pub fn find(id_or_name: &str) -> Option<&'static Rule> {
    RULES.iter().find(|rule| rule.id == id_or_name || rule.name == id_or_name)
}

/// Paths of container engines' API sockets: whoever reaches one can start
/// a privileged container.
const ENGINE_SOCKETS: &[&str] = &[
    "/var/run/docker.sock",
    "/run/docker.sock",
    "/run/containerd/containerd.sock",
    "/var/run/containerd/containerd.sock",
    "/run/crio/crio.sock",
    "/var/run/crio/crio.sock",
    "/run/podman/podman.sock",
    "/var/run/podman/podman.sock",
    "/run/buildkit/buildkitd.sock",
    "/var/run/cri-dockerd.sock",
    "/run/k3s/containerd/containerd.sock",
];

pub static RULES: &[Rule] = &[
    host_namespace_rule(
        "CRADLE-NS-001",
        "host-pid-namespace",
        "pid",
        Severity::High,
        "Shares the host's pid namespace",
        "The workload sees and can signal every process of the host, and reaches their \
         environment and open files through /proc/PID when it has the capabilities.",
        "Give the container its own pid namespace (OCI: a `pid` entry in \
         linux.namespaces without a path; Docker: drop --pid=host).",
    ),
    host_namespace_rule(
        "CRADLE-NS-002",
        "host-network-namespace",
        "net",
        Severity::High,
        "Shares the host's network namespace",
        "The workload uses the host's interfaces, routes, firewall and listening sockets: it \
         can bind the host's ports, reach services on localhost and, with CAP_NET_ADMIN, \
         reconfigure the host's network.",
        "Give the container its own network namespace (OCI: a `network` entry in \
         linux.namespaces; Docker: drop --network=host).",
    ),
    host_namespace_rule(
        "CRADLE-NS-003",
        "host-mount-namespace",
        "mnt",
        Severity::Critical,
        "Shares the host's mount namespace",
        "Every mount the workload makes or sees is the host's: there is no container \
         filesystem boundary at all.",
        "Give the container its own mount namespace (OCI: a `mount` entry in linux.namespaces).",
    ),
    host_namespace_rule(
        "CRADLE-NS-004",
        "host-ipc-namespace",
        "ipc",
        Severity::Medium,
        "Shares the host's IPC namespace",
        "The workload reaches the host's System V IPC objects and POSIX message queues, and \
         can read or corrupt other programs' shared memory.",
        "Give the container its own IPC namespace (OCI: an `ipc` entry in linux.namespaces; \
         Docker: drop --ipc=host).",
    ),
    host_namespace_rule(
        "CRADLE-NS-005",
        "host-uts-namespace",
        "uts",
        Severity::Low,
        "Shares the host's UTS namespace",
        "The workload can change the host's hostname and domain name (with CAP_SYS_ADMIN).",
        "Give the container its own UTS namespace (OCI: a `uts` entry in linux.namespaces; \
         Docker: drop --uts=host).",
    ),
    Rule {
        id: "CRADLE-NS-006",
        name: "setns-into-host-namespace",
        severity: Severity::Critical,
        title: "Joins a host namespace after start",
        rationale: "A process of the container entering the host's namespaces (nsenter, \
                    setns on /proc/1/ns/*) has left the container.",
        remediation: "Do not share the host's pid namespace or grant CAP_SYS_ADMIN / \
                      CAP_SYS_PTRACE; investigate the process that did it.",
        evidence: "the setns(2) event, whose namespaces afterwards are the host's",
        limits: "Host namespaces are known for mnt and pid from the runtime's exec and for the \
                 other kinds from the first namespace event; a join of a kind never seen is \
                 not judged. Only processes attributed to the container are seen (a separate \
                 `runc exec` is its own invocation).",
        check: check_setns_into_host,
    },
    Rule {
        id: "CRADLE-PRIV-001",
        name: "privileged",
        severity: Severity::Critical,
        title: "Privileged: all capabilities, or CAP_SYS_ADMIN, at the workload's exec",
        rationale: "CAP_SYS_ADMIN alone allows mounting, cgroup release_agent escapes and most \
                    of what root can do; with every capability the container is as strong as \
                    the host's root.",
        remediation: "Drop capabilities to what the workload needs (Docker's default set has 14 \
                      and no CAP_SYS_ADMIN); do not run with --privileged.",
        evidence: "the init's last capset(2) before the exec (and PR_CAPBSET_DROP calls), or \
                   the absence of any capset or bounding-set drop",
        limits: "The workload's uid is not seen (no setuid probe): the sets reported are those \
                 the init held just before exec, not those the kernel computed at exec.",
        check: check_privileged,
    },
    Rule {
        id: "CRADLE-PRIV-002",
        name: "no-seccomp",
        severity: Severity::High,
        title: "No seccomp filter",
        rationale: "Without a filter the workload can make every syscall, including the rarely \
                    needed ones most kernel exploits go through (keyctl, bpf, userfaultfd, \
                    unshare, ...).",
        remediation: "Run with a seccomp profile (Docker's default profile; OCI: \
                      linux.seccomp); do not use seccomp=unconfined.",
        evidence: "absence: no successful seccomp(SECCOMP_SET_MODE_*) or \
                   prctl(PR_SET_SECCOMP) in the init before the workload's exec",
        limits: "A filter inherited from the runtime's own parent is not seen.",
        check: check_no_seccomp,
    },
    Rule {
        id: "CRADLE-PRIV-003",
        name: "no-new-privs-unset",
        severity: Severity::Medium,
        title: "no_new_privs is not set",
        rationale: "Without no_new_privs, setuid and file-capability programs in the image can \
                    raise the workload's privileges at exec.",
        remediation: "Set process.noNewPrivileges (Docker: --security-opt no-new-privileges).",
        evidence: "absence: no successful prctl(PR_SET_NO_NEW_PRIVS, 1) in the init before the \
                   workload's exec",
        limits: "A flag inherited from the runtime's own parent is not seen.",
        check: check_no_new_privs,
    },
    Rule {
        id: "CRADLE-MNT-001",
        name: "host-root-bind",
        severity: Severity::Critical,
        title: "The host's / is bind-mounted read-write",
        rationale: "The workload can read and change every file of the host: credentials, \
                    binaries, the container engine's state.",
        remediation: "Do not mount the host's root filesystem; mount only the directories the \
                      workload needs, read-only where possible.",
        evidence: "the bind mount of `/` (and any remount of it) before the root switch",
        limits: "A target or source given as /proc/self/fd/N is resolved through the open \
                 that made the descriptor; a descriptor made otherwise (dup, a socket, an \
                 open that only reads) is not, and close(2) is not seen.",
        check: check_host_root_bind,
    },
    Rule {
        id: "CRADLE-MNT-002",
        name: "engine-socket-bind",
        severity: Severity::Critical,
        title: "A container engine's socket is mounted into the container",
        rationale: "Whoever can talk to the engine's API can start a privileged container with \
                    the host's / mounted: it is root on the host.",
        remediation: "Do not mount docker.sock, containerd.sock, crio.sock or podman.sock (or a \
                      directory holding one) into a container.",
        evidence: "the bind mount of the socket or a directory holding it",
        limits: "Read-only mounts are reported too: connecting to a socket needs no write \
                 access to its mount.",
        check: check_engine_socket,
    },
    Rule {
        id: "CRADLE-MNT-003",
        name: "host-path-bind-rw",
        severity: Severity::High,
        title: "A host path is bind-mounted read-write",
        rationale: "The workload can change files on the host, which other programs (or the \
                    host's root) may trust.",
        remediation: "Mount host paths read-only (OCI option `ro`), or use a volume owned by \
                      the container.",
        evidence: "the bind mount, with no read-only remount after it",
        limits: "Binds of `/`, of device nodes and of engine sockets are their own rules. The \
                 files docker and podman write for a container and bind into it (its hosts, \
                 hostname, resolv.conf, .containerenv and shm, under a directory named by the \
                 container's own id) are not reported: they are that container's, not the \
                 host's.",
        check: check_host_path_rw,
    },
    Rule {
        id: "CRADLE-MNT-004",
        name: "sysfs-writable",
        severity: Severity::High,
        title: "/sys is writable",
        rationale: "A writable sysfs lets a privileged workload change kernel and device \
                    settings for the whole host (e.g. /sys/kernel/uevent_helper).",
        remediation: "Mount sysfs read-only (OCI mount option `ro`, as Docker does).",
        evidence: "the sysfs mount, without MS_RDONLY and without a read-only remount",
        limits: "A remount is matched to the mount by the path its target names; a target \
                 named by a descriptor the trace does not explain (see CRADLE-MNT-001) \
                 matches only the same thread's last mount.",
        check: check_sysfs_writable,
    },
    Rule {
        id: "CRADLE-MNT-005",
        name: "proc-sys-writable",
        severity: Severity::High,
        title: "/proc/sys is writable",
        rationale: "/proc/sys holds the host's kernel settings, among them \
                    /proc/sys/kernel/core_pattern, which runs a program as the host's root \
                    when any process dumps core.",
        remediation: "List /proc/sys (and /proc/sysrq-trigger, /proc/irq, /proc/bus, /proc/fs) \
                      in linux.readonlyPaths, as Docker does.",
        evidence: "absence: a proc mount, and no read-only remount of /proc/sys after it",
        limits: "As CRADLE-MNT-004.",
        check: check_proc_sys_writable,
    },
    Rule {
        id: "CRADLE-MNT-006",
        name: "masked-paths-missing",
        severity: Severity::Medium,
        title: "Default masked paths are not masked",
        rationale: "/proc/kcore, /proc/keys, /proc/timer_list, /sys/firmware and the like leak \
                    kernel memory layout, keys and hardware details to the workload.",
        remediation: "List Docker's default masked paths in linux.maskedPaths.",
        evidence: "absence: a proc mount, and no mount over the path after it (a mask attempt \
                   that failed with ENOENT counts, as does a lookup of the path by the runtime \
                   that failed with ENOENT: the path does not exist)",
        limits: "Checks Docker's current list (12 paths): a container made from an older \
                 engine's config lacks /proc/interrupts and /sys/devices/virtual/powercap.",
        check: check_masked_paths,
    },
    Rule {
        id: "CRADLE-DEV-001",
        name: "extra-device-node",
        severity: Severity::High,
        title: "A device node beyond the default set is mounted or created in the container",
        rationale: "A device node gives direct access to hardware or kernel interfaces (disks, \
                    /dev/mem, /dev/kmsg) that bypass the filesystem's permissions.",
        remediation: "Pass only the devices the workload needs, through linux.devices with a \
                      matching device cgroup rule; drop CAP_MKNOD if the workload makes none.",
        evidence: "the bind mount of a path under the host's /dev, or the mknod(2) of a block \
                   device or of a character device other than those every container gets \
                   (null, zero, full, random, urandom, tty, console, ptmx, by number)",
        limits: "Whether the device cgroup lets the node be used is not seen (its rules are \
                 written to files); a node made before the trace began is not seen.",
        check: check_extra_devices,
    },
    Rule {
        id: "CRADLE-EXEC-001",
        name: "runtime-exec-from-rootfs",
        severity: Severity::High,
        title: "The runtime executes a file from the container's rootfs",
        rationale: "A program from the image run with the runtime's privileges (before the \
                    workload's exec) is how CVE-2019-5736-style escapes start.",
        remediation: "Update the runtime; check the bundle's hooks (createContainer and \
                      startContainer hooks run inside the container's mount namespace).",
        evidence: "an exec by the runtime or an intermediate process of a file under the rootfs \
                   or inside the container's mount namespace",
        limits: "Opens for reading only are not recorded (the probes drop them in the \
                 kernel), so a runtime reading a container file is not seen.",
        check: check_runtime_exec,
    },
    Rule {
        id: "CRADLE-ESC-001",
        name: "release-agent-core-pattern-exposed",
        severity: Severity::High,
        title: "release_agent or core_pattern is writable from the container",
        rationale: "Writing a cgroup v1 release_agent or /proc/sys/kernel/core_pattern makes \
                    the host's kernel run a program of the attacker's choosing as root.",
        remediation: "Mount cgroup hierarchies read-only, keep /proc/sys read-only, and never \
                      bind release_agent or core_pattern into a container.",
        evidence: "a cgroup v1 hierarchy mounted without MS_RDONLY, or a writable bind of a \
                   release_agent or core_pattern file, of the host's /sys/fs/cgroup or of a \
                   hierarchy's root directory",
        limits: "This rule finds the mounts that make such a write possible; a writable \
                 /proc/sys is CRADLE-MNT-005, and an actual open for writing is \
                 CRADLE-ESC-002.",
        check: check_release_agent,
    },
    Rule {
        id: "CRADLE-ESC-002",
        name: "release-agent-core-pattern-write",
        severity: Severity::Critical,
        title: "Writes to release_agent or core_pattern",
        rationale: "A process of the container opened a cgroup release_agent or \
                    /proc/sys/kernel/core_pattern for writing: the next cgroup release or \
                    core dump makes the host's kernel run a program of its choosing as root.",
        remediation: "Investigate the process; keep /proc/sys and cgroup hierarchies read-only \
                      and drop CAP_SYS_ADMIN so that the open fails.",
        evidence: "the open(2) of the file with write access (or O_CREAT / O_TRUNC) that \
                   succeeded",
        limits: "The probes see opens, not writes: an open for writing is reported whether or \
                 not anything was written. A descriptor opened before the trace began, or \
                 passed in from outside the container, is not seen. A path relative to the \
                 working directory is judged by its file name.",
        check: check_escape_file_write,
    },
];

#[allow(clippy::too_many_arguments)]
const fn host_namespace_rule(
    id: &'static str,
    name: &'static str,
    kind: &'static str,
    severity: Severity,
    title: &'static str,
    rationale: &'static str,
    remediation: &'static str,
) -> Rule {
    let check: fn(&ContainerReport) -> Vec<Hit> = match kind.as_bytes() {
        b"pid" => |r| check_host_namespace(r, "pid"),
        b"net" => |r| check_host_namespace(r, "net"),
        b"mnt" => |r| check_host_namespace(r, "mnt"),
        b"ipc" => |r| check_host_namespace(r, "ipc"),
        _ => |r| check_host_namespace(r, "uts"),
    };
    Rule {
        id,
        name,
        severity,
        title,
        rationale,
        remediation,
        evidence: "the runtime's exec or first namespace event (the host's namespace) and the \
                   events that gave the workload its namespaces (the same inode number)",
        limits: "Needs the container to reach its workload's exec.",
        check,
    }
}

fn check_host_namespace(report: &ContainerReport, kind: &str) -> Vec<Hit> {
    let Some(view) = report.namespaces.view(kind) else { return Vec::new() };
    if !view.shared_with_host || report.workload.is_none() {
        return Vec::new();
    }
    vec![Hit {
        message: format!(
            "the workload's {kind} namespace is the host's ({kind}:[{}])",
            view.inum.unwrap_or(0)
        ),
        evidence: view.evidence.clone(),
    }]
}

fn check_setns_into_host(report: &ContainerReport) -> Vec<Hit> {
    report
        .namespaces
        .joined
        .iter()
        .filter(|join| join.after_start && !join.into_host.is_empty())
        .map(|join| Hit {
            message: format!(
                "{}[{}] joined the host's {} namespace after the workload started",
                join.evidence.comm,
                join.evidence.tgid,
                join.into_host.join(", ")
            ),
            evidence: vec![join.evidence.clone()],
        })
        .collect()
}

fn check_privileged(report: &ContainerReport) -> Vec<Hit> {
    let caps = &report.capabilities;
    let Some(workload) = &report.workload else { return Vec::new() };
    let message = if caps.all {
        "the init held every capability when it executed the workload".to_string()
    } else if caps.holds("CAP_SYS_ADMIN") {
        "the init held CAP_SYS_ADMIN when it executed the workload".to_string()
    } else if caps.effective.is_none() && caps.bounding_dropped.is_empty() {
        "no capset and no bounding-set drop before the workload's exec: it runs with the \
         runtime's capabilities (all of them, for a runtime run as root)"
            .to_string()
    } else {
        return Vec::new();
    };
    let evidence = caps.capset.clone().unwrap_or_else(|| workload.evidence.clone());
    vec![Hit { message, evidence: vec![evidence] }]
}

fn check_no_seccomp(report: &ContainerReport) -> Vec<Hit> {
    match &report.workload {
        Some(workload) if !report.seccomp.installed => vec![Hit {
            message: format!(
                "no seccomp filter was installed before the workload's exec of {}",
                workload.filename
            ),
            evidence: vec![workload.evidence.clone()],
        }],
        _ => Vec::new(),
    }
}

fn check_no_new_privs(report: &ContainerReport) -> Vec<Hit> {
    match &report.workload {
        Some(workload) if !report.no_new_privs.set => vec![Hit {
            message: format!(
                "no_new_privs was not set before the workload's exec of {}",
                workload.filename
            ),
            evidence: vec![workload.evidence.clone()],
        }],
        _ => Vec::new(),
    }
}

/// Successful binds of host paths.
fn host_binds(report: &ContainerReport) -> impl Iterator<Item = (&MountReport, &str)> {
    report.mounts.iter().filter_map(|mount| {
        let source = mount.source_or_path()?;
        (mount.host_source && mount.result == 0).then_some((mount, source))
    })
}

fn where_to(mount: &MountReport) -> String {
    match (&mount.container_path, &mount.target) {
        (Some(path), _) => path.clone(),
        (None, Some(target)) => match &mount.target_path {
            Some(path) => format!("{path} (through {target})"),
            None => format!("{target} (a file descriptor; path not seen)"),
        },
        (None, None) => "an unseen target".into(),
    }
}

fn is_engine_socket_path(source: &str) -> bool {
    let source = source.trim_end_matches('/');
    ENGINE_SOCKETS.iter().any(|socket| {
        *socket == source || (!source.is_empty() && socket.starts_with(&format!("{source}/")))
    })
}

fn is_device(source: &str) -> bool {
    source.starts_with("/dev/")
        && !source.starts_with("/dev/pts")
        && !source.starts_with("/dev/shm")
}

fn check_host_root_bind(report: &ContainerReport) -> Vec<Hit> {
    host_binds(report)
        .filter(|(mount, source)| source.trim_end_matches('/').is_empty() && !mount.read_only)
        .map(|(mount, _)| Hit {
            message: format!("the host's / is bind-mounted read-write at {}", where_to(mount)),
            evidence: mount.evidence.clone(),
        })
        .collect()
}

fn check_engine_socket(report: &ContainerReport) -> Vec<Hit> {
    host_binds(report)
        .filter(|(_, source)| !source.trim_end_matches('/').is_empty())
        .filter(|(_, source)| is_engine_socket_path(source))
        .map(|(mount, source)| Hit {
            message: format!(
                "{source} is mounted at {}{}",
                where_to(mount),
                if mount.read_only { " (read-only)" } else { "" }
            ),
            evidence: mount.evidence.clone(),
        })
        .collect()
}

/// The files an engine writes for one container and binds into it
/// read-write by design: docker's `DATA_ROOT/containers/ID/{hosts,
/// hostname,resolv.conf}` and shm, podman's `.../overlay-containers/ID/
/// userdata/{hosts,hostname,resolv.conf,.containerenv,shm}`. They hold
/// nothing of the host's, only that container's own files, under a
/// directory named by its own id: a bind of another container's (another
/// id) is still reported.
const ENGINE_CONTAINER_FILES: &[&str] =
    &["hosts", "hostname", "resolv.conf", ".containerenv", "shm", "mounts/shm"];

fn is_engine_container_file(source: &str, container_id: &str) -> bool {
    if container_id.len() < 12 {
        return false;
    }
    let Some((dir, _)) = source.split_once(&format!("/{container_id}/")) else { return false };
    let file = &source[dir.len() + container_id.len() + 2..];
    let file = file.strip_prefix("userdata/").unwrap_or(file);
    // Docker's data root and podman's storage root are configurable: the
    // directory that holds the id is what they always name so.
    let engine_dir = dir.ends_with("/containers") || dir.ends_with("/overlay-containers");
    engine_dir && ENGINE_CONTAINER_FILES.contains(&file)
}

fn check_host_path_rw(report: &ContainerReport) -> Vec<Hit> {
    host_binds(report)
        .filter(|(mount, source)| {
            !mount.read_only
                && !source.trim_end_matches('/').is_empty()
                && !is_engine_socket_path(source)
                && !is_device(source)
                && !is_engine_container_file(source, &report.id)
        })
        .map(|(mount, source)| Hit {
            message: format!("{source} is bind-mounted read-write at {}", where_to(mount)),
            evidence: mount.evidence.clone(),
        })
        .collect()
}

fn is_fs(mount: &MountReport, fstype: &str) -> bool {
    mount.result == 0
        && mount.operation == MountOperation::Filesystem
        && mount.fstype.as_deref() == Some(fstype)
}

fn check_sysfs_writable(report: &ContainerReport) -> Vec<Hit> {
    let sysfs = report.mounts.iter().filter(|m| is_fs(m, "sysfs") && !m.read_only);
    let host_sys = host_binds(report)
        .filter(|(m, source)| !m.read_only && source.trim_end_matches('/') == "/sys")
        .map(|(m, _)| m);
    sysfs
        .chain(host_sys)
        .map(|mount| Hit {
            message: format!("sysfs is mounted read-write at {}", where_to(mount)),
            evidence: mount.evidence.clone(),
        })
        .collect()
}

/// The first successful proc mount.
fn proc_mount(report: &ContainerReport) -> Option<&MountReport> {
    report.mounts.iter().find(|m| is_fs(m, "proc"))
}

/// Mounts over `path` inside the container (after the root switch, or under
/// the rootfs before it).
fn mounts_over<'a>(
    report: &'a ContainerReport,
    path: &'a str,
) -> impl Iterator<Item = &'a MountReport> {
    report.mounts.iter().filter(move |m| m.container_path.as_deref() == Some(path))
}

fn check_proc_sys_writable(report: &ContainerReport) -> Vec<Hit> {
    let Some(proc) = proc_mount(report) else { return Vec::new() };
    if report.workload.is_none() {
        return Vec::new();
    }
    let protected = mounts_over(report, "/proc/sys").any(|m| m.result == 0 && m.read_only)
        || report.mounts.iter().any(|m| {
            m.result == 0
                && m.read_only
                && m.container_path.as_deref().is_some_and(|p| p == "/proc")
        });
    if protected {
        return Vec::new();
    }
    vec![Hit {
        message: "/proc is mounted and /proc/sys is never made read-only".into(),
        evidence: proc.evidence.clone(),
    }]
}

fn check_masked_paths(report: &ContainerReport) -> Vec<Hit> {
    let Some(proc) = proc_mount(report) else { return Vec::new() };
    if report.workload.is_none() {
        return Vec::new();
    }
    const ENOENT: i64 = -2;
    let missing: Vec<&str> = cradle_defaults::MASKED_PATHS
        .iter()
        .copied()
        .filter(|path| !mounts_over(report, path).any(|m| m.result == 0 || m.result == ENOENT))
        .filter(|path| !report.missing_paths.iter().any(|m| m.container_path == *path))
        .collect();
    if missing.is_empty() {
        return Vec::new();
    }
    vec![Hit {
        message: format!("not masked: {}", missing.join(", ")),
        evidence: proc.evidence.clone(),
    }]
}

fn check_extra_devices(report: &ContainerReport) -> Vec<Hit> {
    let binds = host_binds(report)
        .filter(|(_, source)| {
            let source = source.trim_end_matches('/');
            (is_device(&format!("{source}/")) || source == "/dev")
                && !cradle_defaults::is_default_device_path(source)
        })
        .map(|(mount, source)| Hit {
            message: format!("the host's {source} is mounted at {}", where_to(mount)),
            evidence: mount.evidence.clone(),
        });
    let created =
        report.device_nodes.iter().filter(|node| node.result == 0 && !node.default).map(|node| {
            let path = best_path(&node.container_path, &node.resolved_path, &node.path);
            Hit {
                message: format!(
                    "{}[{}] ({}) created {path}, a {} {}:{}",
                    node.evidence.comm,
                    node.evidence.tgid,
                    role_name(node.role),
                    node.kind.replace('_', " "),
                    node.major,
                    node.minor
                ),
                evidence: vec![node.evidence.clone()],
            }
        });
    binds.chain(created).collect()
}

/// The most telling of a file's paths: inside the container, else as
/// resolved, else as the call named it.
fn best_path<'a>(
    container: &'a Option<String>,
    resolved: &'a Option<String>,
    named: &'a Option<String>,
) -> &'a str {
    container.as_deref().or(resolved.as_deref()).or(named.as_deref()).unwrap_or("?")
}

fn role_name(role: cradle_events::collector::Role) -> String {
    format!("{role:?}").to_lowercase()
}

/// Whether a file opened for writing is a cgroup release_agent or the
/// kernel's core_pattern: by its resolved path where known, by its file
/// name for a path relative to an unknown directory.
fn is_escape_file(write: &FileWrite) -> bool {
    let path = write.container_path.as_deref().or(write.resolved_path.as_deref());
    match path {
        Some(path) => path.ends_with("/release_agent") || path.ends_with("/kernel/core_pattern"),
        None => write.path.as_deref().is_some_and(|path| {
            let name = path.rsplit('/').next().unwrap_or(path);
            name == "release_agent" || name == "core_pattern"
        }),
    }
}

fn check_escape_file_write(report: &ContainerReport) -> Vec<Hit> {
    report
        .file_writes
        .iter()
        .filter(|write| write.result >= 0 && is_escape_file(write))
        .map(|write| {
            let path = best_path(&write.container_path, &write.resolved_path, &write.path);
            Hit {
                message: format!(
                    "{}[{}] ({}) opened {path} for writing ({})",
                    write.evidence.comm,
                    write.evidence.tgid,
                    role_name(write.role),
                    write.flags.join("|")
                ),
                evidence: vec![write.evidence.clone()],
            }
        })
        .collect()
}

fn check_runtime_exec(report: &ContainerReport) -> Vec<Hit> {
    use cradle_events::collector::Role;
    let rootfs = report.rootfs.as_deref();
    report
        .processes
        .iter()
        .flat_map(|p| &p.programs)
        .filter(|run| matches!(run.role, Role::Runtime | Role::Intermediate))
        .filter(|run| {
            let under_rootfs = rootfs.is_some_and(|root| {
                run.filename.starts_with(&format!("{}/", root.trim_end_matches('/')))
            });
            under_rootfs || run.in_container_mount_ns
        })
        .map(|run| Hit {
            message: format!(
                "{}[{}] ({:?}) executed {} from the container's filesystem",
                run.evidence.comm, run.evidence.tgid, run.role, run.filename
            ),
            evidence: vec![run.evidence.clone()],
        })
        .collect()
}

/// Whether a host directory holds cgroup v1 release_agent files: the
/// cgroup root (every hierarchy below it) or a hierarchy's root, where
/// release_agent lives (`/sys/fs/cgroup/pids`; not the v2 `unified` tree).
fn exposes_release_agents(source: &str) -> bool {
    let source = source.trim_end_matches('/');
    source == "/sys/fs/cgroup"
        || source
            .strip_prefix("/sys/fs/cgroup/")
            .is_some_and(|name| !name.is_empty() && !name.contains('/') && name != "unified")
}

fn check_release_agent(report: &ContainerReport) -> Vec<Hit> {
    let cgroup_v1 = report.mounts.iter().filter(|m| is_fs(m, "cgroup") && !m.read_only).map(|m| {
        let controllers = m.data.as_deref().unwrap_or("?");
        (m, format!("cgroup v1 hierarchy ({controllers}) is mounted read-write: its release_agent is writable with CAP_SYS_ADMIN"))
    });
    let binds = report
        .mounts
        .iter()
        .filter(|m| m.result == 0 && m.operation == MountOperation::Bind && !m.read_only)
        .filter_map(|m| {
            let source = m.source_or_path()?;
            let exposed = exposes_release_agents(source)
                || source.ends_with("/release_agent")
                || source.ends_with("/core_pattern")
                || m.container_path
                    .as_deref()
                    .is_some_and(|p| p.ends_with("/release_agent") || p.ends_with("/core_pattern"));
            exposed.then(|| (m, format!("{source} is bind-mounted read-write")))
        });
    cgroup_v1
        .chain(binds)
        .map(|(mount, message)| Hit { message, evidence: mount.evidence.clone() })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_engines_files_for_this_container_are_its_own_and_no_other_ones() {
        let id = "a6d94302c0b577b38964e3161121591faab892f3414245a86abf6b30d639cee3";
        let docker = format!("/var/lib/docker/containers/{id}/resolv.conf");
        let podman = format!("/run/containers/storage/overlay-containers/{id}/userdata/hosts");
        assert!(is_engine_container_file(&docker, id));
        assert!(is_engine_container_file(&podman, id));
        assert!(is_engine_container_file(&format!("/data/containers/{id}/mounts/shm"), id));
        let other = "b".repeat(64);
        assert!(!is_engine_container_file(&docker, &other), "another container's file");
        assert!(!is_engine_container_file(
            &format!("/var/lib/docker/containers/{id}/config.v2.json"),
            id
        ));
        assert!(!is_engine_container_file(&format!("/home/{id}/hosts"), id));
        assert!(!is_engine_container_file("/var/lib/docker/containers/x/hosts", "x"));
    }

    use super::*;

    #[test]
    fn hierarchy_roots_expose_release_agents() {
        assert!(exposes_release_agents("/sys/fs/cgroup"));
        assert!(exposes_release_agents("/sys/fs/cgroup/pids/"));
        assert!(exposes_release_agents("/sys/fs/cgroup/cpu,cpuacct"));
        assert!(!exposes_release_agents("/sys/fs/cgroup/unified"));
        assert!(!exposes_release_agents("/sys/fs/cgroup/pids/docker"));
        assert!(!exposes_release_agents("/sys/fs/cgroupx"));
    }

    #[test]
    fn rule_ids_and_names_are_unique_and_complete() {
        let mut ids: Vec<&str> = RULES.iter().map(|r| r.id).collect();
        let mut names: Vec<&str> = RULES.iter().map(|r| r.name).collect();
        ids.sort_unstable();
        ids.dedup();
        names.sort_unstable();
        names.dedup();
        assert_eq!(ids.len(), RULES.len());
        assert_eq!(names.len(), RULES.len());
        for rule in RULES {
            assert!(!rule.title.is_empty() && !rule.rationale.is_empty(), "{}", rule.id);
            assert!(!rule.remediation.is_empty() && !rule.evidence.is_empty(), "{}", rule.id);
        }
    }

    #[test]
    fn engine_sockets_and_their_directories_are_recognised() {
        assert!(is_engine_socket_path("/var/run/docker.sock"));
        assert!(is_engine_socket_path("/run/containerd"));
        assert!(is_engine_socket_path("/var/run/"));
        assert!(!is_engine_socket_path("/var/lib/docker"));
        assert!(!is_engine_socket_path("/run/user"));
    }

    #[test]
    fn severities_order_and_parse() {
        assert!(Severity::Critical > Severity::High && Severity::Low > Severity::Info);
        assert_eq!(Severity::parse("medium"), Some(Severity::Medium));
        assert_eq!(Severity::parse("urgent"), None);
    }
}
