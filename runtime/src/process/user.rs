//! The process's identity and environment, applied in a child just before
//! `execve`; shared by the init and `exec`.

use std::{
    ffi::CString,
    os::{
        fd::{BorrowedFd, RawFd},
        unix::ffi::OsStrExt,
    },
    path::{Path, PathBuf},
};

use nix::{
    errno::Errno,
    sys::stat::Mode,
    unistd::{AccessFlags, Gid, Uid, access, fchown, setgid, setgroups, setuid},
};

use crate::{
    config::ProcessConfig,
    error::{Context, Error, Result},
    util::cstring,
};

const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

pub fn apply_rlimits(process: &ProcessConfig) -> Result<()> {
    for &(resource, soft, hard) in &process.rlimits {
        let limit = libc::rlimit { rlim_cur: soft, rlim_max: hard };
        // SAFETY: setrlimit reads the struct we own; the resource number
        // is one of libc's RLIMIT_* constants (see config.rs).
        if unsafe { libc::setrlimit(resource, &limit) } < 0 {
            return Err(std::io::Error::last_os_error())
                .context(|| format!("setrlimit {resource} to {soft}/{hard}"));
        }
    }
    Ok(())
}

/// As runc, before the switch to `uid`: stdin, stdout and stderr become
/// the process's (their group kept), so that a process that is not root
/// can use its terminal. `/dev/null` is left alone, and so is what cannot
/// be changed (a read-only `/dev`, an owner from another namespace).
pub fn give_stdio_to(uid: u32) -> Result<()> {
    let null = nix::sys::stat::stat("/dev/null").ok().map(|null| null.st_rdev);
    for fd in [libc::STDIN_FILENO, libc::STDOUT_FILENO, libc::STDERR_FILENO] {
        // SAFETY: the standard descriptors stay open for this call.
        let stdio = unsafe { BorrowedFd::borrow_raw(fd) };
        let Ok(stat) = nix::sys::stat::fstat(stdio) else { continue };
        if stat.st_uid == uid || Some(stat.st_rdev) == null {
            continue;
        }
        match fchown(stdio, Some(Uid::from_raw(uid)), Some(Gid::from_raw(stat.st_gid))) {
            Ok(()) | Err(Errno::EINVAL | Errno::EPERM | Errno::EROFS) => {}
            Err(err) => return Err(err).context(|| format!("giving fd {fd} to uid {uid}")),
        }
    }
    Ok(())
}

/// Groups, then gid, then uid: after setuid the rest would be refused.
pub fn switch_user(process: &ProcessConfig) -> Result<()> {
    let groups: Vec<Gid> = process.additional_gids.iter().copied().map(Gid::from_raw).collect();
    // A user namespace whose gid map an unprivileged runtime wrote denies
    // setgroups; with no group to set there is nothing to refuse.
    let denied = std::fs::read_to_string("/proc/self/setgroups").is_ok_and(|p| p.trim() == "deny");
    if !(denied && groups.is_empty()) {
        setgroups(&groups).context(|| format!("setgroups {:?}", process.additional_gids))?;
    }
    setgid(Gid::from_raw(process.gid)).context(|| format!("setgid {}", process.gid))?;
    setuid(Uid::from_raw(process.uid)).context(|| format!("setuid {}", process.uid))?;
    Ok(())
}

pub fn apply_umask(process: &ProcessConfig) {
    nix::sys::stat::umask(Mode::from_bits_truncate(process.umask.unwrap_or(0o022)));
}

/// What `execve` needs, resolved inside the container before the init
/// reports ready, so a missing program fails `create` as with runc.
pub struct Executable {
    pub path: CString,
    pub args: Vec<CString>,
    pub env: Vec<CString>,
}

impl Executable {
    pub fn resolve(process: &ProcessConfig) -> Result<Self> {
        let program = &process.args[0];
        let path = if program.contains('/') {
            PathBuf::from(program)
        } else {
            let search = process
                .env
                .iter()
                .find_map(|entry| entry.strip_prefix("PATH="))
                .unwrap_or(DEFAULT_PATH);
            search
                .split(':')
                .map(|dir| Path::new(dir).join(program))
                .find(|candidate| is_executable(candidate))
                .ok_or_else(|| {
                    Error::Init(format!("exec: {program:?}: executable file not found in $PATH"))
                })?
        };
        if !is_executable(&path) {
            return Err(Error::Init(format!("exec: {}: not an executable file", path.display())));
        }
        let path = CString::new(path.as_os_str().as_bytes())
            .map_err(|_| Error::invalid("process.args", "program contains a NUL byte"))?;
        let args =
            process.args.iter().map(|arg| cstring(arg, "process.args")).collect::<Result<_>>()?;
        let env =
            process.env.iter().map(|entry| cstring(entry, "process.env")).collect::<Result<_>>()?;
        Ok(Executable { path, args, env })
    }

    /// Replaces the process; returns only on failure.
    pub fn exec(&self) -> Error {
        let err = nix::unistd::execve(&self.path, &self.args, &self.env).unwrap_err();
        Error::Sys { context: format!("exec {:?}", self.path), cause: err }
    }
}

fn is_executable(path: &Path) -> bool {
    path.is_file() && access(path, AccessFlags::X_OK).is_ok()
}

/// Marks every descriptor above stderr close-on-exec, so nothing the
/// caller leaked reaches the workload.
pub fn close_inherited_fds() -> Result<()> {
    close_inherited_fds_from(3)
}

/// Marks every descriptor from `first` on close-on-exec (runc's
/// `--preserve-fds N` keeps 3..3+N).
pub fn close_inherited_fds_from(first: u32) -> Result<()> {
    // SAFETY: close_range only changes descriptor flags of this process.
    let rc =
        unsafe { libc::syscall(libc::SYS_close_range, first, u32::MAX, libc::CLOSE_RANGE_CLOEXEC) };
    if rc < 0 {
        return Err(std::io::Error::last_os_error()).context(|| "close_range".to_owned());
    }
    Ok(())
}

/// Closes every descriptor above stderr except `keep`. A process entering
/// the container must hold no descriptor of the host's that the workload
/// could name: a cwd of `/proc/self/fd/N` on a host directory (the
/// cgroup's, or one a caller leaked) is outside the container's root
/// (CVE-2024-21626). Close-on-exec is not enough, since the cwd is
/// resolved before `execve`.
pub fn close_fds_except(keep: &[RawFd]) -> Result<()> {
    let mut keep: Vec<u32> = keep.iter().filter_map(|&fd| u32::try_from(fd).ok()).collect();
    keep.sort_unstable();
    keep.dedup();
    let mut first = 3u32;
    for kept in keep.into_iter().filter(|&fd| fd >= 3).chain([u32::MAX]) {
        if kept > first {
            close_range(first, kept - 1)?;
        }
        first = kept.saturating_add(1);
    }
    Ok(())
}

fn close_range(first: u32, last: u32) -> Result<()> {
    // SAFETY: close_range closes descriptors of this process only; the
    // callers own none in that range that they will use again.
    let rc = unsafe { libc::syscall(libc::SYS_close_range, first, last, 0u32) };
    if rc < 0 {
        return Err(std::io::Error::last_os_error())
            .context(|| format!("closing descriptors {first}..={last}"));
    }
    Ok(())
}

/// After the chdir: the working directory must lie under the process's
/// root, as runc checks since 1.1.12. Outside it, getcwd(3) fails with
/// ENOENT (the kernel says "(unreachable)"), or the path is not absolute.
pub fn verify_cwd(cwd: &Path) -> Result<()> {
    match nix::unistd::getcwd() {
        Ok(path) if path.is_absolute() => Ok(()),
        Ok(path) => Err(outside_root(cwd, &format!("it resolved to {}", path.display()))),
        Err(nix::errno::Errno::ENOENT) => Err(outside_root(cwd, "it is unreachable from there")),
        Err(err) => {
            Err(Error::Sys { context: format!("checking the cwd {}", cwd.display()), cause: err })
        }
    }
}

fn outside_root(cwd: &Path, how: &str) -> Error {
    Error::Init(format!(
        "process.cwd {}: outside the container's root ({how}); refused",
        cwd.display()
    ))
}
