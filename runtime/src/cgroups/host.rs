//! The host's cgroup hierarchies, as the runtime's mount table shows them:
//! whether the cgroup root is itself cgroup2, and otherwise each v1
//! hierarchy mounted directly under it. Both the container's cgroup
//! ([`super`]) and its `cgroup` mount ([`crate::rootfs::cgroup`]) are laid
//! out after them.

use std::path::Path;

use super::CGROUP_ROOT;
use crate::mountinfo::MountInfo;

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

/// Whether the host's cgroup root is itself cgroup2, and otherwise the
/// hierarchies mounted directly under it.
pub fn host_hierarchies(mounts: &[MountInfo]) -> (bool, Vec<Hierarchy>) {
    let mut hierarchies = Vec::new();
    for mount in mounts {
        if mount.mount_point == Path::new(CGROUP_ROOT) && mount.fs_type == "cgroup2" {
            return (true, Vec::new());
        }
        if mount.fs_type != "cgroup" {
            continue;
        }
        let Ok(name) = mount.mount_point.strip_prefix(CGROUP_ROOT) else { continue };
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
    fn reads_a_unified_host() {
        let mountinfo = "30 1 0:26 / /sys/fs/cgroup rw shared:4 - cgroup2 cgroup2 rw,nsdelegate";
        assert_eq!(host_hierarchies(&parse(mountinfo.as_bytes()).unwrap()), (true, Vec::new()));
    }
}
