//! The container's root filesystem, built inside the init's private mount
//! namespace: propagation of `/`, the rootfs bind-mounted onto itself, the
//! spec's mounts, `/dev`, the root switch, and (in [`finalize`]) what is
//! made read-only last.

pub mod cgroup;
pub mod devices;
pub mod mounts;
pub mod paths;
pub mod pivot;
pub mod resolve;
pub mod shared;

use std::{os::fd::AsFd, path::Path};

use nix::{
    fcntl::{OFlag, open},
    mount::MsFlags,
    sys::stat::Mode,
};

use crate::{
    config::{ContainerConfig, MountKind, NamespaceKind},
    error::{Context, Result},
    syscall::Syscall,
};

/// `until_placed` returns once the init is in its cgroups (and its cgroup
/// namespace unshared); it is called before anything that depends on that.
/// `before_switch` runs once the mounts are made, before the root switch
/// (the createContainer hooks).
pub fn prepare(
    sys: &dyn Syscall,
    config: &ContainerConfig,
    no_pivot: bool,
    until_placed: &mut dyn FnMut() -> Result<()>,
    before_switch: &dyn Fn() -> Result<()>,
) -> Result<()> {
    let rootfs = &config.rootfs;
    // In the host's mount namespace (see `shared`), the host's tree is
    // left as it is.
    let own_mount_namespace = config.has_namespace(NamespaceKind::Mount);
    if own_mount_namespace {
        sys.mount(None, Path::new("/"), None, config.rootfs_propagation, None)
            .context(|| format!("setting propagation {:?} on /", config.rootfs_propagation))?;
        make_parent_mount_private(sys, rootfs)?;
        sys.mount(Some(rootfs), rootfs, None, MsFlags::MS_BIND | MsFlags::MS_REC, None)
            .context(|| format!("bind-mounting the rootfs {} onto itself", rootfs.display()))?;
    }
    let root = open(rootfs, OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty())
        .context(|| format!("opening the rootfs {}", rootfs.display()))?;
    for mount in &config.mounts {
        // cgroupfs shows the cgroup namespace's root: the container's cgroup.
        let cgroupfs = match &mount.kind {
            MountKind::Cgroup { .. } => true,
            MountKind::Filesystem { fstype, .. } => fstype.starts_with("cgroup"),
            MountKind::Bind { .. } => false,
        };
        if cgroupfs {
            until_placed()?;
        }
        mounts::mount_one(sys, root.as_fd(), mount)?;
    }
    // The devices cgroup decides which nodes may be made.
    until_placed()?;
    let nodes = if config.has_namespace(NamespaceKind::User) {
        devices::DeviceNodes::BindFromHost
    } else {
        devices::DeviceNodes::Create
    };
    devices::create_devices(sys, root.as_fd(), &config.devices, nodes)?;
    devices::create_symlinks(root.as_fd())?;
    drop(root);
    before_switch()?;
    if !own_mount_namespace {
        return pivot::chroot_only(sys, rootfs);
    }
    pivot::switch_root(sys, rootfs, no_pivot)?;
    Ok(())
}

/// Inside the new root, once the console is made (runc's
/// finalizeRootfs): a read-only tmpfs or `/dev` becomes read-only now,
/// keeping its other flags, then the root itself.
pub fn finalize(sys: &dyn Syscall, config: &ContainerConfig) -> Result<()> {
    for mount in config.mounts.iter().filter(|mount| mounts::read_only_later(mount)) {
        let flags = mount.options.flags | MsFlags::MS_REMOUNT | MsFlags::MS_BIND;
        sys.mount(None, &mount.destination, None, flags, None)
            .context(|| format!("making {} read-only", mount.destination.display()))?;
    }
    if config.rootfs_readonly {
        sys.mount(
            None,
            Path::new("/"),
            None,
            MsFlags::MS_REMOUNT | MsFlags::MS_BIND | MsFlags::MS_RDONLY,
            None,
        )
        .context(|| "making the root read-only".to_owned())?;
    }
    Ok(())
}

/// `readonlyPaths`, then `maskedPaths` (runc's order), inside the new root.
pub fn protect_paths(sys: &dyn Syscall, config: &ContainerConfig) -> Result<()> {
    for path in &config.readonly_paths {
        paths::make_readonly(sys, path)?;
    }
    for path in &config.masked_paths {
        paths::mask(sys, path)?;
    }
    Ok(())
}

/// pivot_root refuses a new root whose parent mount is shared, which a
/// `shared` rootfsPropagation leaves behind.
fn make_parent_mount_private(sys: &dyn Syscall, rootfs: &Path) -> Result<()> {
    let mounts = crate::mountinfo::own()?;
    if let Some(parent) = parent_mount(&mounts, rootfs)
        && crate::mountinfo::is_shared(parent)
    {
        let point = &parent.mount_point;
        sys.mount(None, point, None, MsFlags::MS_PRIVATE, None)
            .context(|| format!("making {} private", point.display()))?;
    }
    Ok(())
}

/// The mount `path` is on: the deepest mount point above it.
fn parent_mount<'a>(
    mounts: &'a [crate::mountinfo::MountInfo],
    path: &Path,
) -> Option<&'a crate::mountinfo::MountInfo> {
    mounts
        .iter()
        .filter(|info| path.starts_with(&info.mount_point))
        .max_by_key(|info| info.mount_point.as_os_str().len())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::parent_mount;
    use crate::mountinfo;

    #[test]
    fn the_parent_mount_of_a_rootfs_under_a_path_with_a_space_is_found() {
        let text = "\
22 1 8:1 / / rw shared:1 - ext4 /dev/sda1 rw
36 22 0:32 / /tmp/my\\040bundle rw shared:7 - tmpfs tmpfs rw
37 22 0:33 / /tmp/my rw - tmpfs tmpfs rw
";
        let mounts = mountinfo::parse(text.as_bytes()).unwrap();
        let parent = parent_mount(&mounts, Path::new("/tmp/my bundle/rootfs")).unwrap();
        assert_eq!(parent.mnt_id, 36);
        assert!(mountinfo::is_shared(parent));
    }
}
