//! The root switch. `pivot_root(".", ".")` stacks the old root on top of
//! the new one; the old root is then made a recursive slave (so unmounting
//! it cannot propagate to the host) and detached, as runc does. Where
//! pivot_root is impossible (a rootfs on the initramfs), the rootfs is
//! moved onto `/` and chrooted into instead.

use std::{
    os::{
        fd::{AsFd, OwnedFd},
        unix::ffi::OsStringExt,
    },
    path::{Path, PathBuf},
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
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo")
        .context(|| "reading /proc/self/mountinfo".to_owned())?;
    for point in full_proc_and_sys_mounts(&mountinfo, rootfs) {
        // A slave first, so that the detach cannot reach the host.
        match sys.mount(None, &point, None, MsFlags::MS_SLAVE | MsFlags::MS_REC, None) {
            Ok(()) => {}
            // Gone with a parent detached before it.
            Err(Errno::ENOENT) => continue,
            Err(err) => {
                return Err(err).context(|| format!("making {} a slave", point.display()));
            }
        }
        match sys.umount2(&point, MntFlags::MNT_DETACH) {
            Ok(()) => {}
            Err(Errno::EINVAL | Errno::EPERM) => {
                sys.mount(Some(Path::new("tmpfs")), &point, Some("tmpfs"), MsFlags::empty(), None)
                    .context(|| format!("covering {}", point.display()))?;
            }
            Err(err) => return Err(err).context(|| format!("detaching {}", point.display())),
        }
    }
    sys.mount(Some(rootfs), Path::new("/"), None, MsFlags::MS_MOVE, None)
        .context(|| format!("moving {} onto /", rootfs.display()))?;
    sys.chroot(Path::new(".")).context(|| "chroot".to_owned())?;
    sys.chdir(Path::new("/")).context(|| "entering the new root".to_owned())
}

/// Mount points, in mount table order, of the procfs and sysfs mounts
/// that show their filesystem's root and lie outside `rootfs`.
fn full_proc_and_sys_mounts(mountinfo: &str, rootfs: &Path) -> Vec<PathBuf> {
    mountinfo
        .lines()
        .filter_map(|line| {
            let (fields, filesystem) = line.split_once(" - ")?;
            let fields: Vec<&str> = fields.split(' ').collect();
            let fstype = filesystem.split(' ').next()?;
            let (root, point) = (*fields.get(3)?, unescape(fields.get(4)?));
            let full = root == "/" && (fstype == "proc" || fstype == "sysfs");
            (full && !point.starts_with(rootfs)).then_some(point)
        })
        .collect()
}

/// mountinfo writes space, tab, newline and backslash as `\ooo`.
fn unescape(field: &str) -> PathBuf {
    let mut bytes = Vec::with_capacity(field.len());
    let raw = field.as_bytes();
    let mut at = 0;
    while at < raw.len() {
        let octal = raw.get(at + 1..at + 4).and_then(|digits| {
            let digits = std::str::from_utf8(digits).ok()?;
            u8::from_str_radix(digits, 8).ok()
        });
        match (raw[at], octal) {
            (b'\\', Some(byte)) => {
                bytes.push(byte);
                at += 4;
            }
            (byte, _) => {
                bytes.push(byte);
                at += 1;
            }
        }
    }
    PathBuf::from(std::ffi::OsString::from_vec(bytes))
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
        let moved = calls.iter().position(|call| call.contains("MS_MOVE")).unwrap();
        assert_eq!(calls[moved + 1], "chroot .");
        // Between them, this host's /proc and /sys are detached as slaves.
        let between = &calls[3..moved];
        assert!(between.iter().any(|call| call == "umount2 /proc MntFlags(MNT_DETACH)"));
        for (at, call) in between.iter().enumerate().filter(|(_, c)| c.starts_with("umount2")) {
            assert!(between[at - 1].contains("MS_REC | MS_SLAVE"), "{call} not after a slave");
        }
    }

    #[test]
    fn finds_full_proc_and_sysfs_outside_the_rootfs() {
        let mountinfo = "\
22 1 0:21 / /proc rw,nosuid - proc proc rw
23 1 0:22 / /sys rw - sysfs sysfs rw
24 23 0:6 / /sys/kernel/security rw - securityfs securityfs rw
25 22 0:21 /sys /mnt/proc\\040sys ro - proc proc rw
26 1 0:21 / /run/a\\040b rw - proc proc rw
27 1 0:23 / /bundle/rootfs/proc rw - proc proc rw";
        assert_eq!(
            full_proc_and_sys_mounts(mountinfo, Path::new("/bundle/rootfs")),
            [Path::new("/proc"), Path::new("/sys"), Path::new("/run/a b")]
        );
    }
}
