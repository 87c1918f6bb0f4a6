//! runc's `cgroup` mount type. On a cgroup v2 host: one `cgroup2` mount.
//! On a v1 or hybrid host: a tmpfs holding one fresh mount per host v1
//! hierarchy (the container is in its own cgroup namespace, so each shows
//! the container's cgroup as its root) and the co-mount symlinks (`cpu ->
//! cpu,cpuacct`). Like runc, the hybrid `unified` v2 tree is left out and
//! the tmpfs stays writable while the hierarchies get the mount's flags.

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
    error::{Context, Result},
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
}

pub fn mount_cgroups(sys: &dyn Syscall, root: BorrowedFd<'_>, mount: &MountConfig) -> Result<()> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo")
        .context(|| "reading /proc/self/mountinfo".to_owned())?;
    let (unified_root, hierarchies) = host_hierarchies(&mountinfo);
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
        // Co-mounted controllers get a symlink each, as on the host.
        if hierarchy.name.contains(',') {
            let dir = reopen(root, destination)?;
            for controller in hierarchy.name.split(',') {
                match symlinkat(hierarchy.name.as_str(), dir.as_fd(), controller) {
                    Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
                    Err(err) => {
                        return Err(err).context(|| format!("linking cgroup {controller}"));
                    }
                }
            }
        }
    }
    Ok(())
}

/// Whether the host's cgroup root is itself cgroup2, and otherwise the
/// hierarchies mounted directly under it.
pub fn host_hierarchies(mountinfo: &str) -> (bool, Vec<Hierarchy>) {
    let mut hierarchies = Vec::new();
    for line in mountinfo.lines() {
        let Some((left, right)) = line.split_once(" - ") else { continue };
        let mount_point = left.split_whitespace().nth(4).unwrap_or_default();
        let mut right = right.split_whitespace();
        let (Some(fstype), Some(_source), Some(super_options)) =
            (right.next(), right.next(), right.next())
        else {
            continue;
        };
        if mount_point == HOST_CGROUP_ROOT && fstype == "cgroup2" {
            return (true, Vec::new());
        }
        if fstype != "cgroup" {
            continue;
        }
        let Ok(name) =
            PathBuf::from(mount_point).strip_prefix(HOST_CGROUP_ROOT).map(Path::to_owned)
        else {
            continue;
        };
        let name = name.to_string_lossy().into_owned();
        if name.is_empty() || name.contains('/') {
            continue;
        }
        let options = super_options
            .split(',')
            .filter(|option| !matches!(*option, "rw" | "ro" | "xattr" | "clone_children"))
            .filter(|option| !option.starts_with("release_agent="))
            .collect::<Vec<_>>()
            .join(",");
        hierarchies.push(Hierarchy { name, options });
    }
    (false, hierarchies)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_hybrid_host() {
        let mountinfo = "\
25 1 0:23 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
26 25 0:24 / /sys/fs/cgroup/unified rw,nosuid shared:10 - cgroup2 cgroup2 rw,nsdelegate
27 25 0:25 / /sys/fs/cgroup/systemd rw,nosuid shared:11 - cgroup cgroup rw,xattr,name=systemd
28 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:12 - cgroup cgroup rw,cpu,cpuacct
29 1 0:27 / /proc rw - proc proc rw";
        let (unified, hierarchies) = host_hierarchies(mountinfo);
        assert!(!unified);
        let names: Vec<_> =
            hierarchies.iter().map(|h| (h.name.as_str(), h.options.as_str())).collect();
        assert_eq!(names, [("systemd", "name=systemd"), ("cpu,cpuacct", "cpu,cpuacct")]);
    }

    #[test]
    fn reads_a_unified_host() {
        let mountinfo = "30 1 0:26 / /sys/fs/cgroup rw shared:4 - cgroup2 cgroup2 rw,nsdelegate";
        assert_eq!(host_hierarchies(mountinfo), (true, Vec::new()));
    }
}
