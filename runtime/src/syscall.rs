//! The seam between the root-filesystem logic and the kernel: the calls
//! that change the mount table or the root go through [`Syscall`], so the
//! order of operations (for example the pivot_root dance) is unit-tested
//! with a recorder instead of a real mount namespace.

use std::{os::fd::BorrowedFd, path::Path};

use nix::mount::{MntFlags, MsFlags};

use crate::mount_options::RecursiveAttributes;

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
    /// `mount_setattr(fd, "", AT_EMPTY_PATH | AT_RECURSIVE, {set, clear})`.
    fn mount_setattr_recursive(
        &self,
        mount: BorrowedFd<'_>,
        attributes: RecursiveAttributes,
    ) -> nix::Result<()>;
}

/// `struct mount_attr` (linux/mount.h).
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
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

    fn mount_setattr_recursive(
        &self,
        mount: BorrowedFd<'_>,
        attributes: RecursiveAttributes,
    ) -> nix::Result<()> {
        let attr = MountAttr {
            attr_set: attributes.set,
            attr_clr: attributes.clear,
            propagation: 0,
            userns_fd: 0,
        };
        // SAFETY: mount_setattr reads `size` bytes of `attr`, alive for the
        // call, and an empty NUL-terminated path; `mount` is a descriptor
        // we borrow for the call.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_mount_setattr,
                std::os::fd::AsRawFd::as_raw_fd(&mount),
                c"".as_ptr(),
                (libc::AT_EMPTY_PATH | libc::AT_RECURSIVE) as libc::c_uint,
                &attr as *const MountAttr,
                std::mem::size_of::<MountAttr>(),
            )
        };
        nix::errno::Errno::result(rc).map(drop)
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

        fn mount_setattr_recursive(
            &self,
            mount: BorrowedFd<'_>,
            attributes: RecursiveAttributes,
        ) -> nix::Result<()> {
            let target = std::fs::read_link(format!("/proc/self/fd/{}", mount.as_raw_fd()))
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            self.record(format!(
                "mount_setattr {target} set {:#x} clear {:#x}",
                attributes.set, attributes.clear
            ));
            Ok(())
        }
    }
}
