//! The runtime's side of `create`: everything the init needs is opened
//! here, before the clone, so that failures name host paths and happen
//! while nothing exists yet; then the init is cloned, and waits until the
//! parent has done what needs its pid (cgroup placement, network: before
//! the init unshares its cgroup namespace or runs anything of the user's)
//! and sends [`ParentMessage::Proceed`]; then its report is read.

use std::{os::fd::OwnedFd, path::Path};

use nix::{
    fcntl::{OFlag, open},
    sched::{CloneFlags, setns},
    sys::{
        signal::{Signal, kill},
        stat::Mode,
        wait::{WaitStatus, waitpid},
    },
    unistd::Pid,
};

use super::{
    channel::{self, InitMessage, ParentMessage, Receiver},
    init,
    namespaces::{NamespaceFd, open_namespace},
};
use crate::{
    config::{ContainerConfig, NamespaceKind},
    error::{Context, Error, Result},
};

pub struct InitRequest<'a> {
    pub config: &'a ContainerConfig,
    pub exec_fifo: &'a Path,
    /// A connected socket to send the terminal's master to.
    pub console_socket: Option<OwnedFd>,
    pub no_pivot: bool,
}

/// What the init gets across the clone: all descriptors are already open.
pub struct InitContext<'a> {
    pub config: &'a ContainerConfig,
    pub exec_fifo: OwnedFd,
    pub console_socket: Option<OwnedFd>,
    pub join: Vec<NamespaceFd>,
    pub no_pivot: bool,
    pub from_parent: Receiver<ParentMessage>,
}

/// The cloned init; killed and reaped on drop unless released.
pub struct InitProcess {
    pid: Option<Pid>,
}

impl InitProcess {
    pub fn pid(&self) -> Pid {
        self.pid.expect("pid present until released")
    }

    pub fn release(mut self) -> Pid {
        self.pid.take().expect("pid present until released")
    }
}

impl Drop for InitProcess {
    fn drop(&mut self) {
        if let Some(pid) = self.pid.take() {
            let _ = kill(pid, Signal::SIGKILL);
            let _ = waitpid(pid, None);
        }
    }
}

/// Clones the init; `after_clone` runs with its pid before it may go on,
/// and gives the message that lets it.
pub fn spawn(
    request: InitRequest<'_>,
    after_clone: &mut dyn FnMut(Pid) -> Result<ParentMessage>,
) -> Result<InitProcess> {
    ensure_single_threaded()?;
    let config = request.config;
    let exec_fifo = open(request.exec_fifo, OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty())
        .context(|| format!("opening {}", request.exec_fifo.display()))?;
    let mut join = Vec::new();
    let mut clone_flags = CloneFlags::empty();
    for namespace in &config.namespaces {
        match (&namespace.path, namespace.kind) {
            (Some(path), _) => join.push(open_namespace(namespace.kind, path)?),
            // Unshared by the init itself, after (future) cgroup placement.
            (None, NamespaceKind::Cgroup) => {}
            (None, kind) => clone_flags |= kind.clone_flag(),
        }
    }
    // Joining a pid namespace only applies to children: do it here, so the
    // init is born inside it.
    if let Some(position) = join.iter().position(|ns| ns.kind == NamespaceKind::Pid) {
        let pid_ns = join.remove(position);
        setns(&pid_ns.fd, CloneFlags::CLONE_NEWPID)
            .context(|| "joining the pid namespace".to_owned())?;
    }
    let (sender, mut receiver) = channel::channel::<InitMessage>()?;
    let (mut to_init, from_parent) = channel::channel::<ParentMessage>()?;
    let context = InitContext {
        config,
        exec_fifo,
        console_socket: request.console_socket,
        join,
        no_pivot: request.no_pivot,
        from_parent,
    };

    // SAFETY: a raw clone(2) without CLONE_VM and with a null stack behaves
    // like fork(2): the child gets a copy of this address space. The caller
    // is single-threaded (checked above), so no lock can be held by a thread
    // that does not exist in the child; the child only runs init::run,
    // which never returns.
    let raw = unsafe {
        libc::syscall(
            libc::SYS_clone,
            clone_flags.bits() as libc::c_ulong | libc::SIGCHLD as libc::c_ulong,
            std::ptr::null_mut::<libc::c_void>(),
            std::ptr::null_mut::<libc::c_int>(),
            std::ptr::null_mut::<libc::c_int>(),
            0 as libc::c_ulong,
        )
    };
    if raw < 0 {
        return Err(std::io::Error::last_os_error())
            .context(|| format!("clone with {clone_flags:?}"));
    }
    if raw == 0 {
        drop(receiver);
        drop(to_init);
        init::run(context, sender);
    }
    drop(context);
    // Our copy of the write end must go, or EOF would never come.
    drop(sender);
    let init = InitProcess { pid: Some(Pid::from_raw(raw as i32)) };
    let proceed = after_clone(init.pid())?;
    to_init.send(&proceed)?;
    match receiver.recv()? {
        Some(InitMessage::Ready) => Ok(init),
        Some(InitMessage::Failed(reason)) => {
            reap(init);
            Err(Error::Init(reason))
        }
        None => {
            let status = reap(init);
            Err(Error::Init(format!("exited before it was ready ({status})")))
        }
    }
}

fn reap(init: InitProcess) -> String {
    let pid = init.release();
    match waitpid(pid, None) {
        Ok(WaitStatus::Exited(_, code)) => format!("exit status {code}"),
        Ok(WaitStatus::Signaled(_, signal, _)) => format!("killed by {signal}"),
        Ok(other) => format!("{other:?}"),
        Err(err) => format!("wait failed: {err}"),
    }
}

/// Forking a multi-threaded process could leave a lock held forever in the
/// child; the binary guarantees one thread, and this checks it.
fn ensure_single_threaded() -> Result<()> {
    let status = std::fs::read_to_string("/proc/self/status")
        .context(|| "reading /proc/self/status".to_owned())?;
    let threads = status
        .lines()
        .find_map(|line| line.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse::<u32>().ok())
        .unwrap_or(0);
    if threads != 1 {
        return Err(Error::Init(format!(
            "the runtime must be single-threaded to clone the init, it has {threads} threads"
        )));
    }
    Ok(())
}
