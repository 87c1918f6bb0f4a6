//! One spec mount onto its destination inside the rootfs.
//!
//! As runc: a tmpfs or `/dev` asked to be read-only is mounted writable,
//! so that its devices and the console can be made there, and made
//! read-only at the end ([`super::finalize`]); recursive attributes
//! (`rro`, ...) are applied to the mount and everything under it last.

use std::{
    os::fd::{AsFd, BorrowedFd},
    path::Path,
};

use nix::mount::MsFlags;

use super::{
    cgroup,
    resolve::{Leaf, create_in_root, fd_path, open_in_root},
};
use crate::{
    config::{MountConfig, MountKind},
    error::{Context, Result},
    syscall::Syscall,
};

/// Whether the mount is made read-only only by [`super::finalize`].
pub fn read_only_later(mount: &MountConfig) -> bool {
    let tmpfs = matches!(&mount.kind, MountKind::Filesystem { fstype, .. } if fstype == "tmpfs");
    mount.options.flags.contains(MsFlags::MS_RDONLY)
        && (tmpfs || mount.destination == Path::new("/dev"))
}

pub fn mount_one(sys: &dyn Syscall, root: BorrowedFd<'_>, mount: &MountConfig) -> Result<()> {
    let destination = &mount.destination;
    let describe = || format!("mount on {}", destination.display());
    let mut flags = mount.options.flags;
    if read_only_later(mount) {
        flags -= MsFlags::MS_RDONLY;
    }
    match &mount.kind {
        MountKind::Bind { source } => {
            let leaf = if source.is_dir() { Leaf::Directory } else { Leaf::File };
            let target = create_in_root(root, destination, leaf)?;
            let recursive = flags & MsFlags::MS_REC;
            sys.mount(Some(source), &fd_path(&target), None, MsFlags::MS_BIND | recursive, None)
                .context(|| format!("bind {} ({})", describe(), source.display()))?;
            // Flags other than bind only take effect on a remount.
            let extra = flags - (MsFlags::MS_BIND | MsFlags::MS_REC);
            if !extra.is_empty() {
                let mounted = reopen(root, destination)?;
                sys.mount(
                    None,
                    &fd_path(&mounted),
                    None,
                    MsFlags::MS_REMOUNT | MsFlags::MS_BIND | extra,
                    None,
                )
                .context(|| format!("remount {} with {extra:?}", describe()))?;
            }
        }
        MountKind::Filesystem { fstype, source } => {
            let target = create_in_root(root, destination, Leaf::Directory)?;
            let data = mount.options.data_string();
            sys.mount(
                Some(Path::new(source)),
                &fd_path(&target),
                Some(fstype),
                flags,
                data.as_deref(),
            )
            .context(|| format!("{} (type {fstype}, options {data:?})", describe()))?;
        }
        MountKind::Cgroup { own_namespace: true } => cgroup::mount_cgroups(sys, root, mount)?,
        MountKind::Cgroup { own_namespace: false } => cgroup::bind_own_cgroups(sys, root, mount)?,
    }
    for propagation in &mount.options.propagation {
        let mounted = reopen(root, destination)?;
        sys.mount(None, &fd_path(&mounted), None, *propagation, None)
            .context(|| format!("propagation {propagation:?} of {}", describe()))?;
    }
    let attributes = mount.options.recursive;
    if !attributes.is_empty() {
        let mounted = reopen(root, destination)?;
        sys.mount_setattr_recursive(mounted.as_fd(), attributes).context(|| {
            format!(
                "recursive attributes (set {:#x}, clear {:#x}) of {}",
                attributes.set,
                attributes.clear,
                describe()
            )
        })?;
    }
    Ok(())
}

/// The destination again, now the root of the new mount (the descriptor
/// opened before mounting still points at the covered directory).
pub(super) fn reopen(root: BorrowedFd<'_>, destination: &Path) -> Result<std::os::fd::OwnedFd> {
    open_in_root(root.as_fd(), destination)
        .context(|| format!("reopening {} after mounting", destination.display()))
}
