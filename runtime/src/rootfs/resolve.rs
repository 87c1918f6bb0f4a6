//! Paths inside the rootfs, resolved by the kernel with `openat2(2)` and
//! `RESOLVE_IN_ROOT`: `..` and absolute symlinks stop at the rootfs, so a
//! hostile rootfs (say `dev -> /tmp/host-dir`) cannot send a mount to the
//! host. Mounts then target `/proc/self/fd/N`, the very file that was
//! resolved, as runc does.

use std::{
    ffi::OsStr,
    os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd},
    path::{Component, Path, PathBuf},
};

use nix::{
    errno::Errno,
    fcntl::{OFlag, OpenHow, ResolveFlag, openat2, readlinkat},
    sys::stat::{Mode, mkdirat},
};

use crate::error::{Context, Result};

/// What to create at the end of the path when it is missing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Leaf {
    Directory,
    File,
}

const MAX_SYMLINKS: usize = 40;

/// Opens `path` (taken relative to `root` even if absolute) as an
/// `O_PATH` descriptor, without leaving `root`.
pub fn open_in_root(root: BorrowedFd<'_>, path: &Path) -> nix::Result<OwnedFd> {
    let relative = relative(path);
    let how = OpenHow::new()
        .flags(OFlag::O_PATH | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    let target: &Path = if relative.as_os_str().is_empty() { Path::new(".") } else { &relative };
    openat2(root, target, how)
}

/// Opens `path` inside `root`, creating missing directories (and the leaf
/// as `leaf`) on the way. Dangling symlinks are followed inside `root`.
pub fn create_in_root(root: BorrowedFd<'_>, path: &Path, leaf: Leaf) -> Result<OwnedFd> {
    let mut wanted = normalize(path);
    let mut symlinks = 0;
    'walk: loop {
        let components: Vec<&OsStr> = wanted.iter().collect();
        let mut current = PathBuf::new();
        for (index, name) in components.iter().enumerate() {
            let parent = current.clone();
            current.push(name);
            let is_last = index + 1 == components.len();
            match open_in_root(root, &current) {
                Ok(fd) if is_last => return Ok(fd),
                Ok(_) => continue,
                Err(Errno::ENOENT) => {}
                Err(err) => {
                    return Err(err)
                        .context(|| format!("resolving {} in the rootfs", current.display()));
                }
            }
            let parent_fd = open_in_root(root, &parent)
                .context(|| format!("resolving {} in the rootfs", parent.display()))?;
            // A dangling symlink: follow it by hand, inside the root.
            if let Ok(target) = readlinkat(&parent_fd, *name) {
                symlinks += 1;
                if symlinks > MAX_SYMLINKS {
                    return Err(Errno::ELOOP).context(|| format!("resolving {}", path.display()));
                }
                let target = Path::new(&target);
                let base = if target.is_absolute() { PathBuf::new() } else { parent.clone() };
                let mut next = base.join(target);
                for rest in &components[index + 1..] {
                    next.push(rest);
                }
                wanted = normalize(&next);
                continue 'walk;
            }
            create_entry(&parent_fd, name, if is_last { leaf } else { Leaf::Directory })
                .context(|| format!("creating {} in the rootfs", current.display()))?;
            if is_last {
                return open_in_root(root, &current)
                    .context(|| format!("opening {} in the rootfs", current.display()));
            }
        }
        return open_in_root(root, Path::new("")).context(|| "opening the rootfs".to_owned());
    }
}

fn create_entry(parent: &OwnedFd, name: &OsStr, leaf: Leaf) -> nix::Result<()> {
    let result = match leaf {
        Leaf::Directory => mkdirat(parent, name, Mode::from_bits_truncate(0o755)),
        Leaf::File => nix::fcntl::openat(
            parent,
            name,
            OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_WRONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(0o644),
        )
        .map(drop),
    };
    match result {
        Err(Errno::EEXIST) => Ok(()),
        other => other,
    }
}

/// The path as components under the root, `..` clamped at the root.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(name) => out.push(name),
            Component::ParentDir => {
                out.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
}

fn relative(path: &Path) -> PathBuf {
    normalize(path)
}

/// The magic link naming an open descriptor, for syscalls that take paths.
pub fn fd_path(fd: impl AsFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_fd().as_raw_fd()))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;

    use super::*;

    fn open_dir(path: &Path) -> OwnedFd {
        nix::fcntl::open(path, OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty())
            .unwrap()
    }

    fn real_path(fd: &OwnedFd) -> PathBuf {
        std::fs::read_link(fd_path(fd)).unwrap()
    }

    #[test]
    fn absolute_symlink_out_of_the_root_stays_inside() {
        let host = tempfile::tempdir().unwrap();
        let root = tempfile::tempdir().unwrap();
        let escape = host.path().join("target");
        symlink(&escape, root.path().join("dev")).unwrap();
        let fd =
            create_in_root(open_dir(root.path()).as_fd(), Path::new("/dev/pts"), Leaf::Directory)
                .unwrap();
        let resolved = real_path(&fd);
        assert!(resolved.starts_with(root.path()), "{}", resolved.display());
        assert!(!escape.exists(), "nothing created on the host side");
    }

    #[test]
    fn dotdot_is_clamped_at_the_root() {
        let root = tempfile::tempdir().unwrap();
        symlink("../../../../etc", root.path().join("up")).unwrap();
        let fd =
            create_in_root(open_dir(root.path()).as_fd(), Path::new("up/x"), Leaf::File).unwrap();
        let resolved = real_path(&fd);
        assert_eq!(resolved, std::fs::canonicalize(root.path()).unwrap().join("etc/x"));
    }

    #[test]
    fn creates_a_file_leaf_and_reuses_existing_dirs() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("a")).unwrap();
        let fd =
            create_in_root(open_dir(root.path()).as_fd(), Path::new("/a/b/c"), Leaf::File).unwrap();
        assert!(real_path(&fd).ends_with("a/b/c"));
        assert!(root.path().join("a/b/c").is_file());
    }
}
