//! `config.json` read and checked into a [`ContainerConfig`]: every field
//! is validated here, before anything is created, so bad input fails with
//! an error naming the field and leaves nothing behind.

use std::{
    collections::{BTreeMap, HashSet},
    path::{Path, PathBuf},
};

use nix::mount::MsFlags;
use oci_spec::runtime::{
    Linux, LinuxDeviceType, LinuxNamespaceType, Mount, PosixRlimitType, Process, Spec,
};
use serde::{Deserialize, Serialize};

use crate::{
    cgroups::{
        CgroupConfig,
        devices::DevicePolicy,
        resources::{DeviceRule, Resources},
    },
    error::{Error, Result},
    hooks::Hooks,
    mount_options::{MountOptions, propagation_option},
    security::Security,
};

/// The namespaces cradle can create or join.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NamespaceKind {
    /// Listed first: the others are created owned by it, and joined after it.
    User,
    Mount,
    Uts,
    Ipc,
    Pid,
    Network,
    Cgroup,
}

impl NamespaceKind {
    pub fn clone_flag(self) -> nix::sched::CloneFlags {
        use nix::sched::CloneFlags as F;
        match self {
            NamespaceKind::User => F::CLONE_NEWUSER,
            NamespaceKind::Mount => F::CLONE_NEWNS,
            NamespaceKind::Uts => F::CLONE_NEWUTS,
            NamespaceKind::Ipc => F::CLONE_NEWIPC,
            NamespaceKind::Pid => F::CLONE_NEWPID,
            NamespaceKind::Network => F::CLONE_NEWNET,
            NamespaceKind::Cgroup => F::CLONE_NEWCGROUP,
        }
    }

    /// The name under `/proc/PID/ns/`.
    pub fn proc_name(self) -> &'static str {
        match self {
            NamespaceKind::User => "user",
            NamespaceKind::Mount => "mnt",
            NamespaceKind::Uts => "uts",
            NamespaceKind::Ipc => "ipc",
            NamespaceKind::Pid => "pid",
            NamespaceKind::Network => "net",
            NamespaceKind::Cgroup => "cgroup",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamespaceConfig {
    pub kind: NamespaceKind,
    /// Join this namespace instead of creating one.
    pub path: Option<PathBuf>,
}

impl NamespaceConfig {
    /// Whether joining `path` would leave the container in the runtime's
    /// own namespace of this kind (the host's, as far as the container is
    /// concerned): a setting made there changes the host.
    pub fn is_runtimes_own(&self) -> Result<bool> {
        use std::os::unix::fs::MetadataExt;
        let Some(path) = &self.path else { return Ok(false) };
        let field = format!("linux.namespaces ({})", self.kind.proc_name());
        let joined = std::fs::metadata(path)
            .map_err(|err| Error::invalid(&field, format!("{}: {err}", path.display())))?;
        let own_path = format!("/proc/self/ns/{}", self.kind.proc_name());
        let own = std::fs::metadata(&own_path)
            .map_err(|err| Error::invalid(&field, format!("{own_path}: {err}")))?;
        Ok((joined.dev(), joined.ino()) == (own.dev(), own.ino()))
    }
}

/// One line of `/proc/PID/uid_map` or `gid_map`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdMapping {
    pub container_id: u32,
    pub host_id: u32,
    pub size: u32,
}

/// `linux.uidMappings` and `linux.gidMappings` of a new user namespace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdMappings {
    pub uids: Vec<IdMapping>,
    pub gids: Vec<IdMapping>,
}

impl IdMappings {
    /// runc's rules: mappings go with a new user namespace and only with
    /// one, and the init must be able to become root inside it.
    fn from_spec(linux: &Linux, namespaces: &[NamespaceConfig]) -> Result<Option<Self>> {
        let convert = |field: &str, mappings: &Option<Vec<oci_spec::runtime::LinuxIdMapping>>| {
            let mappings: Vec<IdMapping> = mappings
                .iter()
                .flatten()
                .map(|m| IdMapping {
                    container_id: m.container_id(),
                    host_id: m.host_id(),
                    size: m.size(),
                })
                .collect();
            for (index, mapping) in mappings.iter().enumerate() {
                let end = |start: u32| start.checked_add(mapping.size);
                if mapping.size == 0
                    || end(mapping.container_id).is_none()
                    || end(mapping.host_id).is_none()
                {
                    return Err(Error::invalid(
                        format!("{field}[{index}]"),
                        format!("the range {mapping:?} is empty or overflows"),
                    ));
                }
            }
            Ok(mappings)
        };
        let uids = convert("linux.uidMappings", linux.uid_mappings())?;
        let gids = convert("linux.gidMappings", linux.gid_mappings())?;
        let user = namespaces.iter().find(|ns| ns.kind == NamespaceKind::User);
        match user {
            None if uids.is_empty() && gids.is_empty() => return Ok(None),
            None => {
                return Err(Error::invalid(
                    "linux.uidMappings",
                    "mappings are given but linux.namespaces has no user namespace",
                ));
            }
            Some(NamespaceConfig { path: Some(path), .. }) => {
                if !uids.is_empty() || !gids.is_empty() {
                    return Err(Error::invalid(
                        "linux.uidMappings",
                        format!(
                            "the user namespace is joined ({}), and has its mappings already",
                            path.display()
                        ),
                    ));
                }
                return Ok(None);
            }
            Some(NamespaceConfig { path: None, .. }) => {}
        }
        for (field, mappings) in [("linux.uidMappings", &uids), ("linux.gidMappings", &gids)] {
            if mappings.is_empty() {
                return Err(Error::invalid(
                    field,
                    "a new user namespace needs mappings (or a path in linux.namespaces to join \
                     one)",
                ));
            }
            if !mappings.iter().any(|m| m.container_id == 0) {
                return Err(Error::invalid(
                    field,
                    "must map id 0: the init becomes root in the user namespace to build the \
                     container",
                ));
            }
        }
        Ok(Some(IdMappings { uids, gids }))
    }

    /// The host id that container id `id` maps to.
    pub fn host_uid(&self, id: u32) -> Option<u32> {
        map_id(&self.uids, id)
    }

    pub fn host_gid(&self, id: u32) -> Option<u32> {
        map_id(&self.gids, id)
    }
}

fn map_id(mappings: &[IdMapping], id: u32) -> Option<u32> {
    mappings.iter().find_map(|m| {
        (id >= m.container_id && id - m.container_id < m.size)
            .then(|| m.host_id + (id - m.container_id))
    })
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MountKind {
    /// A bind mount of `source` (a host path).
    Bind { source: PathBuf },
    /// A fresh filesystem of this type.
    Filesystem { fstype: String, source: String },
    /// runc's `cgroup` type: the host's cgroup hierarchies, seen through
    /// the container's cgroup namespace; without one (docker's default),
    /// the container's own cgroup directories bound in, as runc does.
    Cgroup { own_namespace: bool },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MountConfig {
    /// Absolute, inside the rootfs.
    pub destination: PathBuf,
    pub kind: MountKind,
    pub options: MountOptions,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceConfig {
    pub path: PathBuf,
    pub kind: nix::sys::stat::SFlag,
    pub major: u64,
    pub minor: u64,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// What the process inside is and runs as; also kept in the state so that
/// `exec` starts with the same defaults.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessConfig {
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: PathBuf,
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    pub umask: Option<u32>,
    pub terminal: bool,
    /// `(resource, soft, hard)`.
    pub rlimits: Vec<(libc::__rlimit_resource_t, u64, u64)>,
    pub oom_score_adj: Option<i32>,
    /// Capabilities, no_new_privileges, seccomp, AppArmor: `exec` applies
    /// the same.
    pub security: Security,
}

#[derive(Clone, Debug)]
pub struct ContainerConfig {
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub rootfs_readonly: bool,
    pub hostname: Option<String>,
    pub domainname: Option<String>,
    pub namespaces: Vec<NamespaceConfig>,
    /// The id mappings of a new user namespace.
    pub id_mappings: Option<IdMappings>,
    pub mounts: Vec<MountConfig>,
    pub devices: Vec<DeviceConfig>,
    /// Applied recursively to `/` before the root filesystem is built.
    pub rootfs_propagation: MsFlags,
    pub process: ProcessConfig,
    /// Bound read-only inside the container.
    pub readonly_paths: Vec<PathBuf>,
    /// Covered inside the container.
    pub masked_paths: Vec<PathBuf>,
    pub sysctl: BTreeMap<String, String>,
    pub cgroups: CgroupConfig,
    pub hooks: Hooks,
    pub annotations: BTreeMap<String, String>,
    pub oci_version: String,
}

impl ContainerConfig {
    /// Reads `BUNDLE/config.json` and checks it.
    pub fn load(bundle: &Path) -> Result<Self> {
        let bundle = std::fs::canonicalize(bundle).map_err(|err| Error::ConfigLoad {
            path: bundle.to_path_buf(),
            reason: format!("bundle directory: {err}"),
        })?;
        let path = bundle.join("config.json");
        let load_error = |reason: String| Error::ConfigLoad { path: path.clone(), reason };
        let text = std::fs::read_to_string(&path).map_err(|err| load_error(err.to_string()))?;
        // serde_json directly: oci-spec's loader drops serde's message,
        // which names the bad field or value and its position.
        let spec: Spec = serde_json::from_str(&text).map_err(|err| load_error(err.to_string()))?;
        Self::from_spec(&spec, &bundle, &supported_filesystems())
    }

    pub fn from_spec(spec: &Spec, bundle: &Path, filesystems: &HashSet<String>) -> Result<Self> {
        check_oci_version(spec.version())?;
        reject_unsupported(spec)?;
        let root = spec.root().as_ref().ok_or_else(|| Error::invalid("root", "is missing"))?;
        let rootfs = bundle.join(root.path());
        let rootfs = std::fs::canonicalize(&rootfs)
            .map_err(|err| Error::invalid("root.path", format!("{}: {err}", rootfs.display())))?;
        if !rootfs.is_dir() {
            return Err(Error::invalid(
                "root.path",
                format!("{} is not a directory", rootfs.display()),
            ));
        }
        let linux = spec.linux().clone().unwrap_or_default();
        let namespaces = namespaces(linux.namespaces().as_deref().unwrap_or_default())?;
        let id_mappings = IdMappings::from_spec(&linux, &namespaces)?;
        let has_new = |kind| namespaces.iter().any(|ns| ns.kind == kind && ns.path.is_none());
        let joined = |kind| namespaces.iter().any(|ns| ns.kind == kind && ns.path.is_some());
        if joined(NamespaceKind::User) && has_new(NamespaceKind::Pid) {
            return Err(Error::unsupported(
                "linux.namespaces",
                "a new pid namespace inside a user namespace joined by path is not implemented \
                 (join the pid namespace too, or create the user namespace)",
            ));
        }
        let has = |kind| namespaces.iter().any(|ns| ns.kind == kind);
        if !has(NamespaceKind::Mount) {
            check_shared_mount_namespace(spec, &linux, root.readonly().unwrap_or(false))?;
        }
        for (field, value) in [("hostname", spec.hostname()), ("domainname", spec.domainname())] {
            if value.as_deref().is_some_and(|v| !v.is_empty()) {
                check_own_uts(field, &namespaces)?;
            }
        }
        let own_cgroup_namespace = has_new(NamespaceKind::Cgroup);
        let mounts = spec
            .mounts()
            .as_deref()
            .unwrap_or_default()
            .iter()
            .enumerate()
            .map(|(index, mount)| {
                mount_config(index, mount, bundle, filesystems, own_cgroup_namespace)
            })
            .collect::<Result<Vec<_>>>()?;
        let rootfs_propagation = match linux.rootfs_propagation().as_deref() {
            None | Some("") => MsFlags::MS_SLAVE | MsFlags::MS_REC,
            Some(value) => propagation_option(value).ok_or_else(|| {
                Error::invalid("linux.rootfsPropagation", format!("unknown value {value:?}"))
            })?,
        };
        let process =
            spec.process().as_ref().ok_or_else(|| Error::invalid("process", "is missing"))?;
        let sysctl: BTreeMap<String, String> =
            linux.sysctl().clone().unwrap_or_default().into_iter().collect();
        check_sysctl(&sysctl, &namespaces)?;
        let devices = devices(linux.devices().as_deref().unwrap_or_default())?;
        let mut cgroups =
            CgroupConfig::from_spec(linux.cgroups_path().as_deref(), linux.resources().as_ref())?;
        let rules_from_spec = cgroups.resources.devices.len();
        allow_container_devices(&mut cgroups.resources, &devices);
        check_device_rules(&cgroups.resources.devices, rules_from_spec)?;
        Ok(ContainerConfig {
            bundle: bundle.to_path_buf(),
            rootfs,
            rootfs_readonly: root.readonly().unwrap_or(false),
            hostname: spec.hostname().clone().filter(|h| !h.is_empty()),
            domainname: spec.domainname().clone().filter(|d| !d.is_empty()),
            namespaces,
            id_mappings,
            mounts,
            devices,
            rootfs_propagation,
            process: process_config(process, spec.linux().as_ref())?,
            readonly_paths: container_paths("linux.readonlyPaths", linux.readonly_paths())?,
            masked_paths: container_paths("linux.maskedPaths", linux.masked_paths())?,
            sysctl,
            cgroups,
            hooks: Hooks::from_spec(spec.hooks().as_ref())?,
            annotations: spec.annotations().clone().unwrap_or_default().into_iter().collect(),
            oci_version: spec.version().clone(),
        })
    }

    /// A namespace of its own, new or joined; without one the container
    /// shares the runtime's (the spec's rule).
    pub fn has_namespace(&self, kind: NamespaceKind) -> bool {
        self.namespaces.iter().any(|ns| ns.kind == kind)
    }

    pub fn has_new_namespace(&self, kind: NamespaceKind) -> bool {
        self.namespaces.iter().any(|ns| ns.kind == kind && ns.path.is_none())
    }
}

/// Without a mount namespace the container shares the host's, as the spec
/// says it must: allowed, loudly, except for what cannot be done without
/// changing the host for everyone. runc refuses masked and read-only
/// paths there too; a read-only root it ignores, and cradle refuses it
/// rather than run something else than what was asked.
fn check_shared_mount_namespace(spec: &Spec, linux: &Linux, readonly_root: bool) -> Result<()> {
    let present = [
        ("linux.maskedPaths", linux.masked_paths().as_ref().is_some_and(|p| !p.is_empty())),
        ("linux.readonlyPaths", linux.readonly_paths().as_ref().is_some_and(|p| !p.is_empty())),
        ("root.readonly", readonly_root),
    ];
    if let Some((field, _)) = present.iter().find(|(_, set)| *set) {
        return Err(Error::invalid(
            *field,
            "needs a mount namespace of the container's own (linux.namespaces has no \"mount\" \
             entry): it cannot be applied in the host's without changing it for the host",
        ));
    }
    let mounts = spec.mounts().as_ref().map_or(0, Vec::len);
    tracing::warn!(
        "linux.namespaces has no mount namespace: the container shares the host's, as the OCI \
         spec says; it is confined to its root by chroot only, and its {mounts} mounts are made \
         in the host's mount table (removed on delete)"
    );
    Ok(())
}

/// A hostname or domainname is set in the container's UTS namespace, new
/// or joined (as runc does), but never in the runtime's own: that would
/// rename the host.
fn check_own_uts(field: &str, namespaces: &[NamespaceConfig]) -> Result<()> {
    let Some(uts) = namespaces.iter().find(|ns| ns.kind == NamespaceKind::Uts) else {
        return Err(Error::invalid(field, "needs a uts namespace (new or joined by path)"));
    };
    if uts.is_runtimes_own()? {
        return Err(Error::invalid(
            field,
            format!(
                "the uts namespace {} is the runtime's own: setting it would change the host's",
                uts.path.as_deref().unwrap_or(Path::new("")).display()
            ),
        ));
    }
    Ok(())
}

/// The namespace a sysctl belongs to, or `None` if it is host-wide.
fn sysctl_namespace(key: &str) -> Option<NamespaceKind> {
    const IPC: [&str; 8] = [
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    ];
    if key.starts_with("net.") {
        Some(NamespaceKind::Network)
    } else if IPC.contains(&key) || key.starts_with("fs.mqueue.") {
        Some(NamespaceKind::Ipc)
    } else if matches!(key, "kernel.hostname" | "kernel.domainname") {
        Some(NamespaceKind::Uts)
    } else {
        None
    }
}

/// `linux.sysctl`: only parameters that belong to a namespace the container
/// has its own of, so that none changes the host.
fn check_sysctl(sysctl: &BTreeMap<String, String>, namespaces: &[NamespaceConfig]) -> Result<()> {
    for key in sysctl.keys() {
        let field = format!("linux.sysctl ({key})");
        let well_formed = !key.is_empty()
            && key.split('.').all(|part| !part.is_empty() && part != "..")
            && key.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
        if !well_formed {
            return Err(Error::invalid(field, "is not a sysctl name"));
        }
        let Some(kind) = sysctl_namespace(key) else {
            return Err(Error::invalid(field, "is not namespaced: it would change the host"));
        };
        let Some(namespace) = namespaces.iter().find(|ns| ns.kind == kind) else {
            return Err(Error::invalid(
                field,
                format!("needs the container to have a {} namespace", kind.proc_name()),
            ));
        };
        // A joined namespace counts only if it is not the host's (runc's
        // checkHostNs).
        if namespace.is_runtimes_own()? {
            return Err(Error::invalid(
                field,
                format!(
                    "the {} namespace it would be set in is the runtime's own: it would change \
                     the host",
                    kind.proc_name()
                ),
            ));
        }
    }
    Ok(())
}

/// Fields that would change what the container is, which cradle does not
/// implement: refusing beats running something else than what was asked.
fn reject_unsupported(spec: &Spec) -> Result<()> {
    let Some(linux) = spec.linux() else { return Ok(()) };
    let present = [
        ("linux.personality", linux.personality().is_some()),
        ("linux.intelRdt", linux.intel_rdt().is_some()),
        ("linux.memoryPolicy", linux.memory_policy().is_some()),
        ("linux.netDevices", linux.net_devices().as_ref().is_some_and(|d| !d.is_empty())),
        ("linux.timeOffsets", linux.time_offsets().as_ref().is_some_and(|t| !t.is_empty())),
        ("linux.mountLabel", linux.mount_label().as_ref().is_some_and(|l| !l.is_empty())),
    ];
    if let Some((field, _)) = present.iter().find(|(_, set)| *set) {
        return Err(Error::unsupported(*field, "not implemented"));
    }
    if let Some(process) = spec.process() {
        reject_unsupported_process(process)?;
    }
    Ok(())
}

fn reject_unsupported_process(process: &Process) -> Result<()> {
    {
        let present = [
            ("process.ioPriority", process.io_priority().is_some()),
            ("process.scheduler", process.scheduler().is_some()),
            ("process.execCPUAffinity", process.exec_cpu_affinity().is_some()),
        ];
        if let Some((field, _)) = present.iter().find(|(_, set)| *set) {
            return Err(Error::unsupported(*field, "not implemented"));
        }
    }
    let label = process.selinux_label().as_deref().unwrap_or_default();
    crate::security::selinux::refuse_label("process.selinuxLabel", label, false)
}

/// What runc appends after the spec's device rules (its specconv's
/// `AllowedDevices`): mknod of any node, and the devices every container
/// gets. The spec's own `linux.devices` are NOT allowed by this: they are
/// created in /dev, but opening them takes a rule in
/// `linux.resources.devices` (docker writes one per `--device`). A
/// default whose path `linux.devices` also lists is left out, as runc
/// does: the spec's entry takes its place, rule included.
fn allow_container_devices(resources: &mut Resources, devices: &[DeviceConfig]) {
    if resources.devices.is_empty() {
        return;
    }
    for kind in ['c', 'b'] {
        let mknod = DeviceRule { allow: true, kind, major: None, minor: None, access: "m".into() };
        resources.devices.push(mknod);
    }
    // The default nodes, unless the config lists a device of that path
    // itself (its own rule then decides).
    for default in &cradle_defaults::DEFAULT_DEVICES {
        if devices.iter().any(|device| device.path == Path::new(default.path)) {
            continue;
        }
        resources
            .devices
            .push(DeviceRule::allow_char(default.major.into(), Some(default.minor.into())));
    }
    // The ptys, /dev/ptmx and tun/tap: rules without a node of their own.
    for (major, minor) in [(136, None), (5, Some(2)), (10, Some(200))] {
        resources.devices.push(DeviceRule::allow_char(major, minor));
    }
}

/// The device rules as cgroup v1 holds them, and the program on v2 is
/// made from: refused here, before anything exists, when v1 would not do
/// what a rule says ([`DevicePolicy`]).
fn check_device_rules(rules: &[DeviceRule], from_spec: usize) -> Result<()> {
    let err = match DevicePolicy::from_rules(rules) {
        Ok(_) => return Ok(()),
        Err(err) => err,
    };
    if err.index < from_spec {
        return Err(Error::invalid(format!("linux.resources.devices[{}]", err.index), err.reason));
    }
    Err(Error::invalid(
        "linux.resources.devices",
        format!(
            "the rule cradle appends so that the container's own devices stay usable: {}",
            err.reason
        ),
    ))
}

fn namespaces(specified: &[oci_spec::runtime::LinuxNamespace]) -> Result<Vec<NamespaceConfig>> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for namespace in specified {
        let kind = match namespace.typ() {
            LinuxNamespaceType::Mount => NamespaceKind::Mount,
            LinuxNamespaceType::Uts => NamespaceKind::Uts,
            LinuxNamespaceType::Ipc => NamespaceKind::Ipc,
            LinuxNamespaceType::Pid => NamespaceKind::Pid,
            LinuxNamespaceType::Network => NamespaceKind::Network,
            LinuxNamespaceType::Cgroup => NamespaceKind::Cgroup,
            LinuxNamespaceType::User => NamespaceKind::User,
            other @ LinuxNamespaceType::Time => {
                return Err(Error::unsupported(
                    "linux.namespaces",
                    format!("namespace type {other:?} is not implemented"),
                ));
            }
        };
        if !seen.insert(kind) {
            return Err(Error::invalid(
                "linux.namespaces",
                format!("namespace type {} is listed twice", kind.proc_name()),
            ));
        }
        let path = namespace.path().clone().filter(|p| !p.as_os_str().is_empty());
        if let Some(path) = &path
            && !path.exists()
        {
            return Err(Error::invalid(
                "linux.namespaces",
                format!("{} namespace path {} does not exist", kind.proc_name(), path.display()),
            ));
        }
        out.push(NamespaceConfig { kind, path });
    }
    Ok(out)
}

fn mount_config(
    index: usize,
    mount: &Mount,
    bundle: &Path,
    filesystems: &HashSet<String>,
    own_cgroup_namespace: bool,
) -> Result<MountConfig> {
    let destination = mount.destination().clone();
    let field = format!("mounts[{index}] ({})", destination.display());
    if !destination.is_absolute() {
        return Err(Error::invalid(field, "destination must be an absolute path"));
    }
    if mount.uid_mappings().is_some() || mount.gid_mappings().is_some() {
        return Err(Error::unsupported(field, "id-mapped mounts are not implemented"));
    }
    let options = MountOptions::parse(mount.options().as_deref().unwrap_or_default());
    let fstype = mount.typ().clone().unwrap_or_default();
    let source = mount.source().clone().unwrap_or_default();
    let kind = if options.bind || fstype == "bind" {
        let source = bundle.join(&source);
        if !source.exists() {
            return Err(Error::invalid(
                field,
                format!("bind source {} does not exist", source.display()),
            ));
        }
        MountKind::Bind { source }
    } else if fstype == "cgroup" {
        MountKind::Cgroup { own_namespace: own_cgroup_namespace }
    } else if fstype.is_empty() || fstype == "none" {
        return Err(Error::invalid(field, "has no type and is not a bind mount"));
    } else if !filesystems.contains(&fstype) {
        return Err(Error::invalid(
            field,
            format!(
                "filesystem type {fstype:?} is not supported by this kernel (/proc/filesystems)"
            ),
        ));
    } else {
        MountKind::Filesystem { fstype, source: source.to_string_lossy().into_owned() }
    };
    let mut options = options;
    if let MountKind::Bind { .. } = kind {
        options.flags |= MsFlags::MS_BIND;
        options.bind = true;
    }
    Ok(MountConfig { destination, kind, options })
}

/// The spec's major versions cradle reads; another major may change the
/// meaning of fields cradle would read the old way.
const KNOWN_OCI_MAJOR: &str = "1";

/// A missing ociVersion (read as empty) passes, as with runc.
fn check_oci_version(version: &str) -> Result<()> {
    let major = version.split(['.', '-', '+']).next().unwrap_or_default();
    if version.is_empty() || major == KNOWN_OCI_MAJOR {
        return Ok(());
    }
    Err(Error::invalid(
        "ociVersion",
        format!("{version:?}: cradle reads version {KNOWN_OCI_MAJOR}.x of the runtime spec"),
    ))
}

fn devices(specified: &[oci_spec::runtime::LinuxDevice]) -> Result<Vec<DeviceConfig>> {
    use nix::sys::stat::SFlag;
    specified
        .iter()
        .enumerate()
        .map(|(index, device)| {
            let field = format!("linux.devices[{index}] ({})", device.path().display());
            // `..` would take the node out of /dev (and, where the host's
            // node is bound instead, name any host file).
            let plain = device
                .path()
                .components()
                .skip(1)
                .all(|part| matches!(part, std::path::Component::Normal(_)));
            if !device.path().is_absolute()
                || !plain
                || !device.path().starts_with("/dev")
                || device.path() == Path::new("/dev")
            {
                return Err(Error::invalid(
                    field,
                    "path must be absolute, under /dev, without \"..\" or \".\"",
                ));
            }
            let kind = match device.typ() {
                LinuxDeviceType::C | LinuxDeviceType::U => SFlag::S_IFCHR,
                LinuxDeviceType::B => SFlag::S_IFBLK,
                LinuxDeviceType::P => SFlag::S_IFIFO,
                LinuxDeviceType::A => {
                    return Err(Error::invalid(field, "type \"a\" is not a device"));
                }
            };
            let number = |value: i64, what: &str| {
                u64::try_from(value)
                    .map_err(|_| Error::invalid(field.clone(), format!("negative {what} {value}")))
            };
            Ok(DeviceConfig {
                path: device.path().clone(),
                kind,
                major: number(device.major(), "major")?,
                minor: number(device.minor(), "minor")?,
                mode: device.file_mode().unwrap_or(0o666) & 0o7777,
                uid: device.uid().unwrap_or(0),
                gid: device.gid().unwrap_or(0),
            })
        })
        .collect()
}

/// Absolute paths inside the container.
fn container_paths(field: &str, paths: &Option<Vec<String>>) -> Result<Vec<PathBuf>> {
    paths
        .iter()
        .flatten()
        .map(|path| {
            let path = PathBuf::from(path);
            if !path.is_absolute() {
                return Err(Error::invalid(field, format!("{} is not absolute", path.display())));
            }
            Ok(path)
        })
        .collect()
}

impl ProcessConfig {
    /// A process given whole, as runc's `exec --process FILE` reads it; the
    /// container's seccomp filter is the caller's to add.
    pub fn load(path: &Path) -> Result<Self> {
        let load_error = |reason: String| Error::ConfigLoad { path: path.to_path_buf(), reason };
        let text = std::fs::read_to_string(path).map_err(|err| load_error(err.to_string()))?;
        let process: Process =
            serde_json::from_str(&text).map_err(|err| load_error(err.to_string()))?;
        // Field errors name the file, not config.json.
        let named = |err: Error| match err {
            Error::InvalidConfig { field, reason } | Error::Unsupported { field, reason } => {
                load_error(format!("{field}: {reason}"))
            }
            other => other,
        };
        reject_unsupported_process(&process).map_err(named)?;
        process_config(&process, None).map_err(named)
    }
}

fn process_config(process: &Process, linux: Option<&Linux>) -> Result<ProcessConfig> {
    let args = process.args().clone().unwrap_or_default();
    if args.is_empty() || args[0].is_empty() {
        return Err(Error::invalid("process.args", "must name a program"));
    }
    if !process.cwd().is_absolute() {
        return Err(Error::invalid(
            "process.cwd",
            format!("{} is not an absolute path", process.cwd().display()),
        ));
    }
    let env = process.env().clone().unwrap_or_default();
    if let Some(bad) = env.iter().find(|entry| !entry.contains('=')) {
        return Err(Error::invalid("process.env", format!("{bad:?} is not KEY=VALUE")));
    }
    let rlimits = process
        .rlimits()
        .as_deref()
        .unwrap_or_default()
        .iter()
        .map(|limit| Ok((rlimit_resource(limit.typ()), limit.soft(), limit.hard())))
        .collect::<Result<Vec<_>>>()?;
    let user = process.user();
    if let Some(umask) = user.umask()
        && umask > 0o7777
    {
        return Err(Error::invalid(
            "process.user.umask",
            format!("{umask} ({umask:#o}) is above 0o7777"),
        ));
    }
    Ok(ProcessConfig {
        args,
        env,
        cwd: process.cwd().clone(),
        uid: user.uid(),
        gid: user.gid(),
        additional_gids: user.additional_gids().clone().unwrap_or_default(),
        umask: user.umask(),
        terminal: process.terminal().unwrap_or(false),
        rlimits,
        oom_score_adj: process.oom_score_adj(),
        security: Security::from_spec(process, linux)?,
    })
}

fn rlimit_resource(kind: PosixRlimitType) -> libc::__rlimit_resource_t {
    match kind {
        PosixRlimitType::RlimitCpu => libc::RLIMIT_CPU,
        PosixRlimitType::RlimitFsize => libc::RLIMIT_FSIZE,
        PosixRlimitType::RlimitData => libc::RLIMIT_DATA,
        PosixRlimitType::RlimitStack => libc::RLIMIT_STACK,
        PosixRlimitType::RlimitCore => libc::RLIMIT_CORE,
        PosixRlimitType::RlimitRss => libc::RLIMIT_RSS,
        PosixRlimitType::RlimitNproc => libc::RLIMIT_NPROC,
        PosixRlimitType::RlimitNofile => libc::RLIMIT_NOFILE,
        PosixRlimitType::RlimitMemlock => libc::RLIMIT_MEMLOCK,
        PosixRlimitType::RlimitAs => libc::RLIMIT_AS,
        PosixRlimitType::RlimitLocks => libc::RLIMIT_LOCKS,
        PosixRlimitType::RlimitSigpending => libc::RLIMIT_SIGPENDING,
        PosixRlimitType::RlimitMsgqueue => libc::RLIMIT_MSGQUEUE,
        PosixRlimitType::RlimitNice => libc::RLIMIT_NICE,
        PosixRlimitType::RlimitRtprio => libc::RLIMIT_RTPRIO,
        PosixRlimitType::RlimitRttime => libc::RLIMIT_RTTIME,
    }
}

/// The filesystem types this kernel knows, from `/proc/filesystems`.
pub fn supported_filesystems() -> HashSet<String> {
    std::fs::read_to_string("/proc/filesystems")
        .unwrap_or_default()
        .lines()
        .filter_map(|line| line.split_whitespace().last())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec_with(json: &str) -> Spec {
        serde_json::from_str(json).expect("test spec parses")
    }

    fn load(json: &str) -> Result<ContainerConfig> {
        let bundle = tempfile::tempdir().unwrap();
        std::fs::create_dir(bundle.path().join("rootfs")).unwrap();
        let filesystems = ["proc", "tmpfs", "sysfs"].map(str::to_owned).into_iter().collect();
        ContainerConfig::from_spec(&spec_with(json), bundle.path(), &filesystems)
    }

    const BASE: &str =
        r#""root":{"path":"rootfs"},"process":{"args":["sh"],"cwd":"/","user":{"uid":0,"gid":0}}"#;

    #[test]
    fn accepts_a_minimal_spec() {
        let config = load(&format!(
            r#"{{{BASE},"hostname":"box","linux":{{"namespaces":[{{"type":"mount"}},{{"type":"uts"}}]}},
            "mounts":[{{"destination":"/proc","type":"proc","source":"proc"}}]}}"#
        ))
        .unwrap();
        assert_eq!(config.hostname.as_deref(), Some("box"));
        assert_eq!(config.mounts.len(), 1);
        assert_eq!(config.rootfs_propagation, MsFlags::MS_SLAVE | MsFlags::MS_REC);
    }

    #[test]
    fn user_namespace_mappings_follow_runcs_rules() {
        let with = |namespaces: &str, mappings: &str| {
            load(&format!(
                r#"{{{BASE},"linux":{{"namespaces":[{{"type":"mount"}},{namespaces}]{mappings}}}}}"#
            ))
        };
        let maps = r#","uidMappings":[{"containerID":0,"hostID":100000,"size":65536}],
            "gidMappings":[{"containerID":0,"hostID":100000,"size":65536}]"#;
        let config = with(r#"{"type":"user"}"#, maps).unwrap();
        let mappings = config.id_mappings.unwrap();
        assert_eq!(mappings.host_uid(0), Some(100000));
        assert_eq!(mappings.host_uid(1000), Some(101000));
        assert_eq!(mappings.host_gid(65536), None);
        let err = with(r#"{"type":"pid"}"#, maps).unwrap_err();
        assert!(err.to_string().contains("no user namespace"), "{err}");
        let err = with(r#"{"type":"user"}"#, "").unwrap_err();
        assert!(err.to_string().contains("linux.uidMappings"), "{err}");
        let no_root = r#","uidMappings":[{"containerID":1,"hostID":100000,"size":10}],
            "gidMappings":[{"containerID":0,"hostID":100000,"size":10}]"#;
        let err = with(r#"{"type":"user"}"#, no_root).unwrap_err();
        assert!(err.to_string().contains("must map id 0"), "{err}");
        let err = with(r#"{"type":"user","path":"/proc/self/ns/user"}"#, maps).unwrap_err();
        assert!(err.to_string().contains("joined"), "{err}");
        let err =
            with(r#"{"type":"user","path":"/proc/self/ns/user"},{"type":"pid"}"#, "").unwrap_err();
        assert!(err.to_string().contains("new pid namespace"), "{err}");
    }

    #[test]
    fn shares_the_hosts_mount_namespace_when_none_is_listed() {
        let config =
            load(&format!(r#"{{{BASE},"linux":{{"namespaces":[{{"type":"pid"}}]}}}}"#)).unwrap();
        assert!(!config.has_namespace(NamespaceKind::Mount));
        for (field, json) in [
            ("linux.maskedPaths", r#""maskedPaths":["/proc/kcore"]"#),
            ("linux.readonlyPaths", r#""readonlyPaths":["/proc/sys"]"#),
        ] {
            let err =
                load(&format!(r#"{{{BASE},"linux":{{"namespaces":[{{"type":"pid"}}],{json}}}}}"#))
                    .unwrap_err();
            assert!(err.to_string().contains(field), "{err}");
        }
        let err = load(
            r#"{"root":{"path":"rootfs","readonly":true},"process":{"args":["sh"],"cwd":"/",
            "user":{"uid":0,"gid":0}},"linux":{"namespaces":[{"type":"pid"}]}}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("root.readonly"), "{err}");
    }

    #[test]
    fn rejects_unknown_filesystem_naming_the_mount() {
        let err = load(&format!(
            r#"{{{BASE},"linux":{{"namespaces":[{{"type":"mount"}}]}},
            "mounts":[{{"destination":"/x","type":"nosuchfs","source":"none"}}]}}"#
        ))
        .unwrap_err();
        let message = err.to_string();
        assert!(message.contains("/x") && message.contains("nosuchfs"), "{message}");
    }

    #[test]
    fn rejects_relative_cwd_and_hostname_without_uts() {
        let err = load(
            r#"{"root":{"path":"rootfs"},"process":{"args":["sh"],"cwd":"tmp","user":{"uid":0,"gid":0}},
            "linux":{"namespaces":[{"type":"mount"}]}}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("process.cwd"), "{err}");
        let err = load(&format!(
            r#"{{{BASE},"hostname":"h","linux":{{"namespaces":[{{"type":"mount"}}]}}}}"#
        ))
        .unwrap_err();
        assert!(err.to_string().contains("hostname"), "{err}");
    }

    #[test]
    fn a_hostname_goes_to_a_joined_uts_namespace_but_never_the_hosts() {
        let joined = |path: &str| {
            load(&format!(
                r#"{{{BASE},"hostname":"h","linux":{{"namespaces":[{{"type":"mount"}},
                {{"type":"uts","path":"{path}"}}]}}}}"#
            ))
        };
        let err = joined("/proc/self/ns/uts").unwrap_err();
        assert!(err.to_string().contains("runtime's own"), "{err}");
        // Another process's uts namespace, which is not this one: a child in
        // a new one.
        let mut child = std::process::Command::new("unshare")
            .args(["--uts", "sleep", "30"])
            .spawn()
            .expect("unshare");
        let path = format!("/proc/{}/ns/uts", child.id());
        let own = std::fs::read_link("/proc/self/ns/uts").unwrap();
        for _ in 0..200 {
            if std::fs::read_link(&path).is_ok_and(|ns| ns != own) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let config = joined(&path);
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(config.unwrap().hostname.as_deref(), Some("h"));
    }

    #[test]
    fn sysctl_only_namespaced_parameters_with_their_namespace() {
        let net = [NamespaceConfig { kind: NamespaceKind::Network, path: None }];
        let one = |key: &str| BTreeMap::from([(key.to_owned(), "1".to_owned())]);
        check_sysctl(&one("net.ipv4.ip_forward"), &net).unwrap();
        let err = check_sysctl(&one("kernel.sem"), &net).unwrap_err();
        assert!(err.to_string().contains("ipc namespace"), "{err}");
        let err = check_sysctl(&one("vm.swappiness"), &net).unwrap_err();
        assert!(err.to_string().contains("not namespaced"), "{err}");
        let host_net = [NamespaceConfig {
            kind: NamespaceKind::Network,
            path: Some("/proc/self/ns/net".into()),
        }];
        let err = check_sysctl(&one("net.ipv4.ip_forward"), &host_net).unwrap_err();
        assert!(err.to_string().contains("runtime's own"), "{err}");
        let err = check_sysctl(&one("net/../x"), &net).unwrap_err();
        assert!(err.to_string().contains("not a sysctl name"), "{err}");
    }
}
