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
    cgroups::{
        CGROUP_ROOT,
        host::{Hierarchy, host_hierarchies},
    },
    config::MountConfig,
    error::{Context, Error, Result},
    mountinfo,
    syscall::Syscall,
};

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
    Path::new(CGROUP_ROOT).join(hierarchy).join(own.trim_start_matches('/'))
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
