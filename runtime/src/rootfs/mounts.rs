//! One spec mount onto its destination inside the rootfs.

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

pub fn mount_one(sys: &dyn Syscall, root: BorrowedFd<'_>, mount: &MountConfig) -> Result<()> {
    let destination = &mount.destination;
    let describe = || format!("mount on {}", destination.display());
    match &mount.kind {
        MountKind::Bind { source } => {
            let leaf = if source.is_dir() { Leaf::Directory } else { Leaf::File };
            let target = create_in_root(root, destination, leaf)?;
            let recursive = mount.options.flags & MsFlags::MS_REC;
            sys.mount(Some(source), &fd_path(&target), None, MsFlags::MS_BIND | recursive, None)
                .context(|| format!("bind {} ({})", describe(), source.display()))?;
            // Flags other than bind only take effect on a remount.
            let extra = mount.options.flags - (MsFlags::MS_BIND | MsFlags::MS_REC);
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
                mount.options.flags,
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
    Ok(())
}

/// The destination again, now the root of the new mount (the descriptor
/// opened before mounting still points at the covered directory).
pub(super) fn reopen(root: BorrowedFd<'_>, destination: &Path) -> Result<std::os::fd::OwnedFd> {
    open_in_root(root.as_fd(), destination)
        .context(|| format!("reopening {} after mounting", destination.display()))
}
