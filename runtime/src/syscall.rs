//! The seam between the root-filesystem logic and the kernel: the calls
//! that change the mount table or the root go through [`Syscall`], so the
//! order of operations (for example the pivot_root dance) is unit-tested
//! with a recorder instead of a real mount namespace.

use std::{os::fd::BorrowedFd, path::Path};

use nix::mount::{MntFlags, MsFlags};

pub trait Syscall {
    fn mount(
        &self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> nix::Result<()>;
    fn umount2(&self, target: &Path, flags: MntFlags) -> nix::Result<()>;
    fn pivot_root(&self, new_root: &Path, put_old: &Path) -> nix::Result<()>;
    fn fchdir(&self, dir: BorrowedFd<'_>) -> nix::Result<()>;
    fn chdir(&self, path: &Path) -> nix::Result<()>;
    fn chroot(&self, path: &Path) -> nix::Result<()>;
}

/// The real kernel.
pub struct LinuxSyscall;

impl Syscall for LinuxSyscall {
    fn mount(
        &self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> nix::Result<()> {
        nix::mount::mount(source, target, fstype, flags, data)
    }

    fn umount2(&self, target: &Path, flags: MntFlags) -> nix::Result<()> {
        nix::mount::umount2(target, flags)
    }

    fn pivot_root(&self, new_root: &Path, put_old: &Path) -> nix::Result<()> {
        nix::unistd::pivot_root(new_root, put_old)
    }

    fn fchdir(&self, dir: BorrowedFd<'_>) -> nix::Result<()> {
        nix::unistd::fchdir(dir)
    }

    fn chdir(&self, path: &Path) -> nix::Result<()> {
        nix::unistd::chdir(path)
    }

    fn chroot(&self, path: &Path) -> nix::Result<()> {
        nix::unistd::chroot(path)
    }
}

#[cfg(test)]
pub mod recorder {
    //! A [`Syscall`] that records calls and fails the ones it is told to.

    use std::{cell::RefCell, os::fd::AsRawFd};

    use super::*;

    #[derive(Default)]
    pub struct Recorder {
        pub calls: RefCell<Vec<String>>,
        pub fail_pivot_with: Option<nix::Error>,
    }

    impl Recorder {
        fn record(&self, call: String) {
            self.calls.borrow_mut().push(call);
        }
    }

    impl Syscall for Recorder {
        fn mount(
            &self,
            source: Option<&Path>,
            target: &Path,
            fstype: Option<&str>,
            flags: MsFlags,
            data: Option<&str>,
        ) -> nix::Result<()> {
            self.record(format!(
                "mount {:?} {} {:?} {:?} {:?}",
                source.map(|s| s.display().to_string()),
                target.display(),
                fstype,
                flags,
                data
            ));
            Ok(())
        }

        fn umount2(&self, target: &Path, flags: MntFlags) -> nix::Result<()> {
            self.record(format!("umount2 {} {flags:?}", target.display()));
            Ok(())
        }

        fn pivot_root(&self, new_root: &Path, put_old: &Path) -> nix::Result<()> {
            self.record(format!("pivot_root {} {}", new_root.display(), put_old.display()));
            self.fail_pivot_with.map_or(Ok(()), Err)
        }

        fn fchdir(&self, dir: BorrowedFd<'_>) -> nix::Result<()> {
            let target = std::fs::read_link(format!("/proc/self/fd/{}", dir.as_raw_fd()))
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            self.record(format!("fchdir {target}"));
            Ok(())
        }

        fn chdir(&self, path: &Path) -> nix::Result<()> {
            self.record(format!("chdir {}", path.display()));
            Ok(())
        }

        fn chroot(&self, path: &Path) -> nix::Result<()> {
            self.record(format!("chroot {}", path.display()));
            Ok(())
        }
    }
}
