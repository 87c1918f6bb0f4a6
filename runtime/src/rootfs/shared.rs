//! A container without a mount namespace of its own. The spec says it
//! then shares the runtime's, so its mounts are made in the host's mount
//! table, under its rootfs, and it is jailed with `chroot` (as runc does:
//! pivot_root would move the host's own root). Nothing of the host's mount
//! tree is changed otherwise: no propagation change on `/`, no bind of the
//! rootfs onto itself. Its mounts are undone on `delete` and when `create`
//! fails, by mount id, so a mount that was under the rootfs before the
//! container existed is never touched.

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
};

use nix::mount::{MntFlags, umount2};
use serde::{Deserialize, Serialize};

use crate::{
    error::{Context, Result},
    mountinfo,
};

/// The mounts under a shared-namespace container's rootfs that were there
/// before it: the ones its clean-up leaves alone.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostMounts {
    pub rootfs: PathBuf,
    pub preexisting: BTreeSet<i32>,
}

/// `(mount id, mount point)` of every mount strictly below `rootfs`.
fn mounts_below(rootfs: &Path) -> Result<Vec<(i32, PathBuf)>> {
    Ok(mountinfo::own()?
        .into_iter()
        .filter(|info| info.mount_point.starts_with(rootfs) && info.mount_point != rootfs)
        .map(|info| (info.mnt_id, info.mount_point))
        .collect())
}

impl HostMounts {
    /// Taken before the init makes any mount.
    pub fn snapshot(rootfs: &Path) -> Result<Self> {
        let preexisting = mounts_below(rootfs)?.into_iter().map(|(id, _)| id).collect();
        Ok(HostMounts { rootfs: rootfs.to_path_buf(), preexisting })
    }

    /// Detaches every mount the container added under its rootfs, deepest
    /// first.
    pub fn remove_added(&self) -> Result<()> {
        let mut added: Vec<PathBuf> = mounts_below(&self.rootfs)?
            .into_iter()
            .filter(|(id, _)| !self.preexisting.contains(id))
            .map(|(_, point)| point)
            .collect();
        added.sort_by_key(|point| std::cmp::Reverse(point.components().count()));
        for point in added {
            match umount2(&point, MntFlags::MNT_DETACH) {
                // Gone with a parent detached before it.
                Ok(()) | Err(nix::errno::Errno::EINVAL | nix::errno::Errno::ENOENT) => {}
                Err(err) => return Err(err).context(|| format!("unmounting {}", point.display())),
            }
        }
        Ok(())
    }
}

/// Undoes the mounts on drop, unless the container came to exist.
pub struct HostMountsGuard(Option<HostMounts>);

impl HostMountsGuard {
    pub fn new(mounts: Option<HostMounts>) -> Self {
        HostMountsGuard(mounts)
    }

    pub fn mounts(&self) -> Option<&HostMounts> {
        self.0.as_ref()
    }

    /// The container exists: its mounts are `delete`'s to remove.
    pub fn keep(mut self) {
        self.0 = None;
    }
}

impl Drop for HostMountsGuard {
    fn drop(&mut self) {
        if let Some(mounts) = self.0.take()
            && let Err(err) = mounts.remove_added()
        {
            tracing::warn!("removing the mounts of a failed container: {err}");
        }
    }
}
