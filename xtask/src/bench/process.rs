//! Running measured commands: each one entered into a mount namespace
//! (the same wrapper for every runtime), timed, its failure reported with
//! its stderr.

use std::{
    fs::File,
    io::{BufRead, BufReader},
    os::{
        fd::{AsRawFd, FromRawFd, OwnedFd, RawFd},
        unix::process::CommandExt,
    },
    path::Path,
    process::{Child, Command, Stdio},
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};

/// A mount namespace that measured commands enter before they exec.
#[derive(Clone)]
pub struct MountNamespace {
    pub name: &'static str,
    fd: Arc<File>,
}

impl MountNamespace {
    /// The namespace the bench itself runs in: the host's view.
    pub fn current() -> Result<MountNamespace> {
        let fd = File::open("/proc/self/ns/mnt").context("opening /proc/self/ns/mnt")?;
        Ok(MountNamespace { name: "host", fd: Arc::new(fd) })
    }

    /// A private mount namespace in which /sys/fs/cgroup is a lone cgroup2
    /// mount: what crun needs on a hybrid-cgroup host (PLATFORM.md). It
    /// lives as long as this handle; the process that made it is gone.
    pub fn cgroup2_only() -> Result<MountNamespace> {
        let script = "umount -R /sys/fs/cgroup && mount -t cgroup2 none /sys/fs/cgroup \
                      && echo ready && exec sleep 600";
        let mut child = Command::new("unshare")
            .args(["--mount", "--propagation", "private", "sh", "-c", script])
            .stdout(Stdio::piped())
            .spawn()
            .context("running unshare to make a cgroup2-only mount namespace")?;
        let result = (|| -> Result<File> {
            let mut line = String::new();
            BufReader::new(child.stdout.take().expect("piped")).read_line(&mut line)?;
            if line.trim() != "ready" {
                bail!("making the cgroup2-only mount namespace failed (see its stderr above)");
            }
            let path = format!("/proc/{}/ns/mnt", child.id());
            File::open(&path).with_context(|| format!("opening {path}"))
        })();
        let _ = child.kill();
        let _ = child.wait();
        Ok(MountNamespace { name: "cgroup2-only", fd: Arc::new(result?) })
    }

    /// `program` set to enter this namespace between fork and exec.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut command = Command::new(program);
        let fd = Arc::clone(&self.fd);
        // SAFETY: setns(2) is async-signal-safe and the fd stays open for
        // the child's whole pre-exec window (the Arc is moved into the hook).
        unsafe {
            command.pre_exec(move || {
                if libc::setns(fd.as_raw_fd(), libc::CLONE_NEWNS) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        command
    }
}

/// Runs `command` to completion with stdin and stdout on /dev/null and
/// stderr in `stderr_log`; returns its wall time, or an error carrying its
/// stderr. Not pipes: a container's process inherits the runtime's stdio
/// and would hold a pipe open long after the command is done.
pub fn timed(command: &mut Command, stderr_log: &Path) -> Result<Duration> {
    let log =
        File::create(stderr_log).with_context(|| format!("creating {}", stderr_log.display()))?;
    command.stdin(Stdio::null()).stdout(Stdio::null()).stderr(log);
    let start = Instant::now();
    let status = command.status().with_context(|| format!("running {command:?}"))?;
    let elapsed = start.elapsed();
    if !status.success() {
        let stderr = std::fs::read_to_string(stderr_log).unwrap_or_default();
        bail!("{command:?} failed ({status}): {}", stderr.trim());
    }
    Ok(elapsed)
}

/// A pid file's pid.
pub fn read_pid(path: &Path) -> Result<i32> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    text.trim().parse().with_context(|| format!("{}: not a pid: {text:?}", path.display()))
}

/// A pidfd for `pid`, which need not be our child.
pub fn pidfd_open(pid: i32) -> Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags; the result is checked.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error()).with_context(|| format!("pidfd_open({pid})"));
    }
    // SAFETY: the kernel just returned this fd to us; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(RawFd::try_from(fd)?) })
}

/// Waits until the process behind `pidfd` has exited.
pub fn wait_exit(pidfd: &OwnedFd, timeout: Duration) -> Result<()> {
    let mut poll = libc::pollfd { fd: pidfd.as_raw_fd(), events: libc::POLLIN, revents: 0 };
    let millis = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
    loop {
        // SAFETY: one valid pollfd, for the duration of the call.
        let ready = unsafe { libc::poll(&mut poll, 1, millis) };
        match ready {
            1 => return Ok(()),
            0 => bail!("the container's process did not exit within {timeout:?}"),
            _ if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted => {}
            _ => return Err(std::io::Error::last_os_error()).context("polling a pidfd"),
        }
    }
}

/// How a reaped child ended, with its peak resident set.
pub struct Reaped {
    pub success: bool,
    pub elapsed: Duration,
    /// `ru_maxrss` of the child: the largest resident set of the child or
    /// of any descendant it reaped, in KiB.
    pub max_rss_kib: u64,
}

/// Waits for `child` with wait4(2), which reports its resource usage.
pub fn reap(child: Child, started: Instant) -> Result<Reaped> {
    let pid = libc::pid_t::try_from(child.id())?;
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value to be overwritten.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: valid pointers to a status and a rusage for the call.
        let ret = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if ret == pid {
            break;
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            return Err(err).context("wait4");
        }
    }
    let elapsed = started.elapsed();
    // The child is reaped; `Child` must not wait for it again.
    drop(child);
    Ok(Reaped {
        success: libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        elapsed,
        max_rss_kib: u64::try_from(usage.ru_maxrss).unwrap_or(0),
    })
}
