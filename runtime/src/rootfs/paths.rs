//! `linux.readonlyPaths` and `linux.maskedPaths`, applied inside the new
//! root as runc does: a read-only path is bound onto itself, then
//! remounted read-only keeping its nosuid/nodev/noexec/atime flags; a
//! masked file gets `/dev/null` bound over it, a masked directory a
//! read-only empty tmpfs. A path the container does not have is skipped.

use std::path::Path;

use nix::{errno::Errno, mount::MsFlags, sys::statvfs::FsFlags};

use crate::{
    error::{Context, Result},
    syscall::Syscall,
};

pub fn make_readonly(sys: &dyn Syscall, path: &Path) -> Result<()> {
    match sys.mount(Some(path), path, None, MsFlags::MS_BIND | MsFlags::MS_REC, None) {
        Ok(()) => {}
        Err(Errno::ENOENT) => return Ok(()),
        Err(err) => {
            return Err(err).context(|| format!("readonlyPaths: binding {}", path.display()));
        }
    }
    let flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | kept_flags(path);
    sys.mount(Some(path), path, None, flags, None)
        .context(|| format!("readonlyPaths: remounting {} read-only", path.display()))
}

pub fn mask(sys: &dyn Syscall, path: &Path) -> Result<()> {
    match sys.mount(Some(Path::new("/dev/null")), path, None, MsFlags::MS_BIND, None) {
        Ok(()) | Err(Errno::ENOENT) => Ok(()),
        // A directory: cover it with an empty read-only tmpfs.
        Err(Errno::ENOTDIR) => sys
            .mount(Some(Path::new("tmpfs")), path, Some("tmpfs"), MsFlags::MS_RDONLY, None)
            .context(|| format!("maskedPaths: covering {}", path.display())),
        Err(err) => {
            Err(err).context(|| format!("maskedPaths: binding /dev/null over {}", path.display()))
        }
    }
}

/// The per-mount flags of the filesystem at `path`, which a bind remount
/// would otherwise clear.
fn kept_flags(path: &Path) -> MsFlags {
    let Ok(stat) = nix::sys::statvfs::statvfs(path) else { return MsFlags::empty() };
    let pairs = [
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
    ];
    pairs
        .iter()
        .filter(|(st, _)| stat.flags().contains(*st))
        .fold(MsFlags::empty(), |acc, (_, ms)| acc | *ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syscall::recorder::Recorder;

    #[test]
    fn readonly_is_a_bind_then_a_read_only_remount() {
        let sys = Recorder::default();
        make_readonly(&sys, Path::new("/proc/sys")).unwrap();
        let calls = sys.calls.borrow();
        assert_eq!(calls.len(), 2);
        assert!(calls[0].contains("MS_BIND | MS_REC"), "{}", calls[0]);
        assert!(calls[1].contains("MS_RDONLY") && calls[1].contains("MS_REMOUNT"), "{}", calls[1]);
    }

    #[test]
    fn masking_binds_dev_null() {
        let sys = Recorder::default();
        mask(&sys, Path::new("/proc/kcore")).unwrap();
        assert_eq!(
            *sys.calls.borrow(),
            ["mount Some(\"/dev/null\") /proc/kcore None MsFlags(MS_BIND) None"]
        );
    }
}
