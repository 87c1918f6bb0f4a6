//! runc's `cgroup` mount type. On a cgroup v2 host: one `cgroup2` mount.
//! On a v1 or hybrid host: a tmpfs holding one fresh mount per host v1
//! hierarchy (the container is in its own cgroup namespace, so each shows
//! the container's cgroup as its root) and the co-mount symlinks (`cpu ->
//! cpu,cpuacct`). Like runc, the hybrid `unified` v2 tree is left out and
//! the tmpfs stays writable while the hierarchies get the mount's flags.
//!
//! Without a cgroup namespace (docker's default config), a fresh mount
//! would show the host's whole tree, so, like runc, the container gets
//! its own cgroup directories bound in instead, with the mount's flags
//! (docker asks for `ro`): the same layout, rooted at its own cgroup.

use std::{
    os::fd::{AsFd, BorrowedFd},
    path::{Path, PathBuf},
};

use nix::{mount::MsFlags, unistd::symlinkat};

use super::{
    mounts::reopen,
    resolve::{Leaf, create_in_root, fd_path},
};
use crate::{
    config::MountConfig,
    error::{Context, Error, Result},
    mountinfo::{self, MountInfo},
    syscall::Syscall,
};

const HOST_CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// A cgroup filesystem mounted under the host's cgroup root.
#[derive(Debug, PartialEq, Eq)]
pub struct Hierarchy {
    /// Path under the cgroup root, e.g. `cpu,cpuacct` or `unified`.
    pub name: String,
    /// Controllers or `name=` options, for a v1 mount's data.
    pub options: String,
    /// The cgroup the mount shows as its root (`/` unless the host itself
    /// runs in a bound or namespaced view).
    pub root: String,
}

pub fn mount_cgroups(sys: &dyn Syscall, root: BorrowedFd<'_>, mount: &MountConfig) -> Result<()> {
    let (unified_root, hierarchies) = host_hierarchies(&mountinfo::own()?);
    let flags = mount.options.flags;
    let destination = &mount.destination;
    if unified_root {
        let target = create_in_root(root, destination, Leaf::Directory)?;
        return sys
            .mount(Some(Path::new("cgroup2")), &fd_path(&target), Some("cgroup2"), flags, None)
            .context(|| format!("mounting cgroup2 on {}", destination.display()));
    }
    let target = create_in_root(root, destination, Leaf::Directory)?;
    let writable = flags - MsFlags::MS_RDONLY;
    sys.mount(
        Some(Path::new("tmpfs")),
        &fd_path(&target),
        Some("tmpfs"),
        writable,
        Some("mode=755"),
    )
    .context(|| format!("mounting tmpfs for cgroups on {}", destination.display()))?;
    for hierarchy in &hierarchies {
        let path = destination.join(&hierarchy.name);
        let target = create_in_root(root, &path, Leaf::Directory)?;
        let data = (!hierarchy.options.is_empty()).then_some(hierarchy.options.as_str());
        // runc names a named hierarchy's source after it (`systemd`).
        let source = hierarchy.options.strip_prefix("name=").unwrap_or("cgroup");
        sys.mount(Some(Path::new(source)), &fd_path(&target), Some("cgroup"), flags, data)
            .context(|| format!("mounting cgroup {} on {}", hierarchy.options, path.display()))?;
        link_co_mounted(root, destination, hierarchy)?;
    }
    Ok(())
}

/// Co-mounted controllers get a symlink each, as on the host.
fn link_co_mounted(root: BorrowedFd<'_>, destination: &Path, hierarchy: &Hierarchy) -> Result<()> {
    if !hierarchy.name.contains(',') {
        return Ok(());
    }
    let dir = reopen(root, destination)?;
    for controller in hierarchy.name.split(',') {
        match symlinkat(hierarchy.name.as_str(), dir.as_fd(), controller) {
            Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
            Err(err) => {
                return Err(err).context(|| format!("linking cgroup {controller}"));
            }
        }
    }
    Ok(())
}

/// The cgroup mount for a container in the host's cgroup namespace: its
/// own cgroup directories (read from `/proc/self/cgroup`: the init is
/// already placed) bound where a fresh mount would go.
pub fn bind_own_cgroups(
    sys: &dyn Syscall,
    root: BorrowedFd<'_>,
    mount: &MountConfig,
) -> Result<()> {
    let membership = std::fs::read_to_string("/proc/self/cgroup")
        .context(|| "reading /proc/self/cgroup".to_owned())?;
    let (unified_root, hierarchies) = host_hierarchies(&mountinfo::own()?);
    let destination = &mount.destination;
    let flags = mount.options.flags;
    if unified_root {
        let own = own_cgroup(&membership, "").ok_or_else(|| {
            Error::Init("/proc/self/cgroup has no cgroup v2 line on a cgroup v2 host".to_owned())
        })?;
        return bind_read_only_as_asked(sys, root, &host_dir("", own), destination, flags);
    }
    let target = create_in_root(root, destination, Leaf::Directory)?;
    let writable = flags - MsFlags::MS_RDONLY;
    sys.mount(
        Some(Path::new("tmpfs")),
        &fd_path(&target),
        Some("tmpfs"),
        writable,
        Some("mode=755"),
    )
    .context(|| format!("mounting tmpfs for cgroups on {}", destination.display()))?;
    for hierarchy in &hierarchies {
        let Some(own) = own_cgroup(&membership, &hierarchy.options) else {
            tracing::debug!(hierarchy = hierarchy.name, "not in /proc/self/cgroup; left out");
            continue;
        };
        let own = Path::new(own).strip_prefix(&hierarchy.root).unwrap_or(Path::new(own));
        let source = host_dir(&hierarchy.name, &own.to_string_lossy());
        bind_read_only_as_asked(sys, root, &source, &destination.join(&hierarchy.name), flags)?;
        link_co_mounted(root, destination, hierarchy)?;
    }
    Ok(())
}

fn host_dir(hierarchy: &str, own: &str) -> PathBuf {
    Path::new(HOST_CGROUP_ROOT).join(hierarchy).join(own.trim_start_matches('/'))
}

fn bind_read_only_as_asked(
    sys: &dyn Syscall,
    root: BorrowedFd<'_>,
    source: &Path,
    destination: &Path,
    flags: MsFlags,
) -> Result<()> {
    let target = create_in_root(root, destination, Leaf::Directory)?;
    sys.mount(Some(source), &fd_path(&target), None, MsFlags::MS_BIND, None)
        .context(|| format!("binding {} on {}", source.display(), destination.display()))?;
    let mounted = reopen(root, destination)?;
    let remount = MsFlags::MS_REMOUNT | MsFlags::MS_BIND | (flags - MsFlags::MS_REC);
    sys.mount(None, &fd_path(&mounted), None, remount, None)
        .context(|| format!("remount {} with {flags:?}", destination.display()))
}

/// The path of this process's cgroup in the hierarchy whose mount options
/// are `options` (`cpu,cpuacct`, `name=systemd`; empty: cgroup v2), from
/// `/proc/self/cgroup`'s `ID:CONTROLLERS:PATH` lines.
pub fn own_cgroup<'a>(membership: &'a str, options: &str) -> Option<&'a str> {
    let mut wanted: Vec<&str> = options.split(',').filter(|o| !o.is_empty()).collect();
    wanted.sort_unstable();
    membership.lines().find_map(|line| {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        let mut listed: Vec<&str> = controllers.split(',').filter(|c| !c.is_empty()).collect();
        listed.sort_unstable();
        (listed == wanted).then_some(path)
    })
}

/// Whether the host's cgroup root is itself cgroup2, and otherwise the
/// hierarchies mounted directly under it.
pub fn host_hierarchies(mounts: &[MountInfo]) -> (bool, Vec<Hierarchy>) {
    let mut hierarchies = Vec::new();
    for mount in mounts {
        if mount.mount_point == Path::new(HOST_CGROUP_ROOT) && mount.fs_type == "cgroup2" {
            return (true, Vec::new());
        }
        if mount.fs_type != "cgroup" {
            continue;
        }
        let Ok(name) = mount.mount_point.strip_prefix(HOST_CGROUP_ROOT) else { continue };
        let name = name.to_string_lossy().into_owned();
        if name.is_empty() || name.contains('/') {
            continue;
        }
        // The controllers and name= options, in a stable order (the
        // parser keeps them in a map).
        let mut options: Vec<String> = mount
            .super_options
            .iter()
            .filter(|(option, _)| {
                !matches!(
                    option.as_str(),
                    "rw" | "ro" | "xattr" | "clone_children" | "release_agent"
                )
            })
            .map(|(option, value)| match value {
                Some(value) => format!("{option}={value}"),
                None => option.clone(),
            })
            .collect();
        options.sort_unstable();
        hierarchies.push(Hierarchy { name, options: options.join(","), root: mount.root.clone() });
    }
    (false, hierarchies)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mountinfo::parse;

    #[test]
    fn reads_a_hybrid_host() {
        let mountinfo = "\
25 1 0:23 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
26 25 0:24 / /sys/fs/cgroup/unified rw,nosuid shared:10 - cgroup2 cgroup2 rw,nsdelegate
27 25 0:25 / /sys/fs/cgroup/systemd rw,nosuid shared:11 - cgroup cgroup rw,xattr,name=systemd
28 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:12 - cgroup cgroup rw,cpu,cpuacct
29 1 0:27 / /proc rw - proc proc rw";
        let (unified, hierarchies) = host_hierarchies(&parse(mountinfo.as_bytes()).unwrap());
        assert!(!unified);
        let names: Vec<_> = hierarchies
            .iter()
            .map(|h| (h.name.as_str(), h.options.as_str(), h.root.as_str()))
            .collect();
        assert_eq!(names, [("systemd", "name=systemd", "/"), ("cpu,cpuacct", "cpu,cpuacct", "/")]);
    }

    #[test]
    fn finds_its_own_cgroup_per_hierarchy() {
        let membership = "\
12:cpu,cpuacct:/docker/abc
3:name=systemd:/system.slice/x
1:memory:/docker/abc
0::/unified/abc";
        assert_eq!(own_cgroup(membership, "cpuacct,cpu"), Some("/docker/abc"));
        assert_eq!(own_cgroup(membership, "name=systemd"), Some("/system.slice/x"));
        assert_eq!(own_cgroup(membership, ""), Some("/unified/abc"));
        assert_eq!(own_cgroup(membership, "pids"), None);
    }

    #[test]
    fn reads_a_unified_host() {
        let mountinfo = "30 1 0:26 / /sys/fs/cgroup rw shared:4 - cgroup2 cgroup2 rw,nsdelegate";
        assert_eq!(host_hierarchies(&parse(mountinfo.as_bytes()).unwrap()), (true, Vec::new()));
    }
}
