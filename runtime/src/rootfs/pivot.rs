//! The root switch. `pivot_root(".", ".")` stacks the old root on top of
//! the new one; the old root is then made a recursive slave (so unmounting
//! it cannot propagate to the host) and detached, as runc does. Where
//! pivot_root is impossible (a rootfs on the initramfs), the rootfs is
//! moved onto `/` and chrooted into instead.

use std::{
    os::fd::{AsFd, OwnedFd},
    path::Path,
};

use nix::{
    errno::Errno,
    fcntl::{OFlag, open},
    mount::{MntFlags, MsFlags},
    sys::stat::Mode,
};

use crate::{
    error::{Context, Result},
    syscall::Syscall,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RootSwitch {
    PivotRoot,
    /// pivot_root was refused with EINVAL; moved and chrooted instead.
    MoveAndChroot,
}

pub fn switch_root(sys: &dyn Syscall, rootfs: &Path, no_pivot: bool) -> Result<RootSwitch> {
    if no_pivot {
        move_and_chroot(sys, rootfs)?;
        return Ok(RootSwitch::MoveAndChroot);
    }
    match pivot_root(sys, rootfs) {
        Ok(()) => Ok(RootSwitch::PivotRoot),
        Err(PivotError::Refused) => {
            tracing::warn!("pivot_root is impossible for {}; using chroot", rootfs.display());
            move_and_chroot(sys, rootfs)?;
            Ok(RootSwitch::MoveAndChroot)
        }
        Err(PivotError::Failed(err)) => Err(err),
    }
}

enum PivotError {
    /// EINVAL from pivot_root itself: the root cannot be pivoted.
    Refused,
    Failed(crate::Error),
}

impl From<crate::Error> for PivotError {
    fn from(err: crate::Error) -> Self {
        PivotError::Failed(err)
    }
}

fn open_dir(path: &Path) -> Result<OwnedFd> {
    open(path, OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty())
        .context(|| format!("opening {}", path.display()))
}

fn pivot_root(sys: &dyn Syscall, rootfs: &Path) -> Result<(), PivotError> {
    let old_root = open_dir(Path::new("/"))?;
    let new_root = open_dir(rootfs)?;
    sys.fchdir(new_root.as_fd()).context(|| format!("entering {}", rootfs.display()))?;
    match sys.pivot_root(Path::new("."), Path::new(".")) {
        Ok(()) => {}
        Err(Errno::EINVAL) => return Err(PivotError::Refused),
        Err(err) => {
            return Err(Err::<(), _>(err).context(|| "pivot_root".to_owned()).unwrap_err().into());
        }
    }
    // The cwd is now the old root, stacked over the new one.
    sys.fchdir(old_root.as_fd()).context(|| "entering the old root".to_owned())?;
    sys.mount(None, Path::new("."), None, MsFlags::MS_SLAVE | MsFlags::MS_REC, None)
        .context(|| "making the old root a recursive slave".to_owned())?;
    sys.umount2(Path::new("."), MntFlags::MNT_DETACH)
        .context(|| "detaching the old root".to_owned())?;
    sys.chdir(Path::new("/")).context(|| "entering the new root".to_owned())?;
    Ok(())
}

/// The jail of a container in the host's mount namespace: the rootfs is
/// neither pivoted to nor moved, both of which would change the host's
/// root.
pub fn chroot_only(sys: &dyn Syscall, rootfs: &Path) -> Result<()> {
    sys.chdir(rootfs).context(|| format!("entering {}", rootfs.display()))?;
    sys.chroot(Path::new(".")).context(|| "chroot".to_owned())?;
    sys.chdir(Path::new("/")).context(|| "entering the new root".to_owned())
}

fn move_and_chroot(sys: &dyn Syscall, rootfs: &Path) -> Result<()> {
    sys.chdir(rootfs).context(|| format!("entering {}", rootfs.display()))?;
    sys.mount(Some(rootfs), Path::new("/"), None, MsFlags::MS_MOVE, None)
        .context(|| format!("moving {} onto /", rootfs.display()))?;
    sys.chroot(Path::new(".")).context(|| "chroot".to_owned())?;
    sys.chdir(Path::new("/")).context(|| "entering the new root".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syscall::recorder::Recorder;

    #[test]
    fn pivots_then_detaches_the_old_root_as_a_slave() {
        let rootfs = tempfile::tempdir().unwrap();
        let sys = Recorder::default();
        assert_eq!(switch_root(&sys, rootfs.path(), false).unwrap(), RootSwitch::PivotRoot);
        let calls = sys.calls.borrow();
        let rootfs = std::fs::canonicalize(rootfs.path()).unwrap();
        assert_eq!(
            *calls,
            [
                format!("fchdir {}", rootfs.display()),
                "pivot_root . .".to_owned(),
                "fchdir /".to_owned(),
                "mount None . None MsFlags(MS_REC | MS_SLAVE) None".to_owned(),
                "umount2 . MntFlags(MNT_DETACH)".to_owned(),
                "chdir /".to_owned(),
            ]
        );
    }

    #[test]
    fn falls_back_to_move_and_chroot_when_pivot_is_refused() {
        let rootfs = tempfile::tempdir().unwrap();
        let sys = Recorder { fail_pivot_with: Some(Errno::EINVAL), ..Default::default() };
        assert_eq!(switch_root(&sys, rootfs.path(), false).unwrap(), RootSwitch::MoveAndChroot);
        let calls = sys.calls.borrow();
        assert_eq!(calls[1], "pivot_root . .");
        assert!(calls[2].starts_with("chdir "));
        assert!(calls[3].contains("MS_MOVE"));
        assert_eq!(calls[4], "chroot .");
    }
}
