//! `/dev`: the default devices every container gets, the spec's devices,
//! and the standard symlinks (runc's set).

use std::{
    os::fd::{AsFd, BorrowedFd},
    path::Path,
};

use nix::{
    errno::Errno,
    fcntl::AtFlags,
    mount::MsFlags,
    sys::stat::{FchmodatFlags, Mode, SFlag, fchmodat, makedev, mknodat},
    unistd::{Gid, Uid, fchownat, symlinkat},
};

use super::resolve::{Leaf, create_in_root, fd_path};
use crate::{
    config::DeviceConfig,
    error::{Context, Result},
    syscall::Syscall,
};

const SYMLINKS: [(&str, &str); 5] = [
    ("/proc/self/fd", "fd"),
    ("/proc/self/fd/0", "stdin"),
    ("/proc/self/fd/1", "stdout"),
    ("/proc/self/fd/2", "stderr"),
    ("pts/ptmx", "ptmx"),
];

/// How device nodes come into the container's /dev.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceNodes {
    /// mknod, then chown and chmod as the spec says.
    Create,
    /// In a user namespace mknod is refused: the host's node of the same
    /// path is bound onto an empty file instead, as runc does.
    BindFromHost,
}

pub fn create_devices(
    sys: &dyn Syscall,
    root: BorrowedFd<'_>,
    extra: &[DeviceConfig],
    nodes: DeviceNodes,
) -> Result<()> {
    // The character devices every container gets, unless the spec lists
    // one of the same path itself.
    let defaults = cradle_defaults::DEFAULT_DEVICES
        .iter()
        .filter(|default| !extra.iter().any(|d| d.path == Path::new(default.path)))
        .map(|default| DeviceConfig {
            path: default.path.into(),
            kind: SFlag::S_IFCHR,
            major: default.major.into(),
            minor: default.minor.into(),
            mode: 0o666,
            uid: 0,
            gid: 0,
        });
    for device in defaults.chain(extra.iter().cloned()) {
        match nodes {
            DeviceNodes::Create => create_device(root, &device)?,
            DeviceNodes::BindFromHost => bind_device(sys, root, &device)?,
        }
    }
    Ok(())
}

fn bind_device(sys: &dyn Syscall, root: BorrowedFd<'_>, device: &DeviceConfig) -> Result<()> {
    let target = create_in_root(root, &device.path, Leaf::File)?;
    sys.mount(Some(&device.path), &fd_path(&target), None, MsFlags::MS_BIND, None)
        .context(|| format!("binding the host's {} into the container", device.path.display()))
}

fn create_device(root: BorrowedFd<'_>, device: &DeviceConfig) -> Result<()> {
    let path = &device.path;
    let parent = path.parent().unwrap_or(Path::new("/dev"));
    let name = path.file_name().unwrap_or_default();
    let dir = create_in_root(root, parent, Leaf::Directory)?;
    let mode = Mode::from_bits_truncate(device.mode);
    match mknodat(&dir, name, device.kind, mode, makedev(device.major, device.minor)) {
        // The rootfs may ship its own node; runc keeps it too.
        Ok(()) | Err(Errno::EEXIST) => {}
        Err(err) => return Err(err).context(|| format!("creating device {}", path.display())),
    }
    fchownat(
        &dir,
        name,
        Some(Uid::from_raw(device.uid)),
        Some(Gid::from_raw(device.gid)),
        AtFlags::AT_SYMLINK_NOFOLLOW,
    )
    .context(|| format!("chown of device {}", path.display()))?;
    fchmodat(&dir, name, mode, FchmodatFlags::NoFollowSymlink)
        .or_else(|err| if err == Errno::EOPNOTSUPP { Ok(()) } else { Err(err) })
        .context(|| format!("chmod of device {}", path.display()))
}

pub fn create_symlinks(root: BorrowedFd<'_>) -> Result<()> {
    let dev = create_in_root(root, Path::new("/dev"), Leaf::Directory)?;
    for (target, name) in SYMLINKS {
        match symlinkat(target, dev.as_fd(), name) {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(err) => return Err(err).context(|| format!("linking /dev/{name} -> {target}")),
        }
    }
    // runc links /dev/core when the host has a kernel core image.
    if Path::new("/proc/kcore").exists() {
        match symlinkat("/proc/kcore", dev.as_fd(), "core") {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(err) => return Err(err).context(|| "linking /dev/core".to_owned()),
        }
    }
    Ok(())
}
