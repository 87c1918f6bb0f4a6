//! The runtime's side of `create`: everything the init needs is opened
//! here, before the clone, so that failures name host paths and happen
//! while nothing exists yet; then the init is cloned (straight into its
//! cgroup v2 directory when there is one), told to [`ParentMessage::Begin`]
//! building its root filesystem while the parent places it in its other
//! cgroups and sets up its network (a cgroup.procs write waits for an RCU
//! grace period, milliseconds the init spends mounting instead), then told
//! it is [`ParentMessage::Placed`]: only then does it unshare its cgroup
//! namespace, mount cgroupfs or run anything of the user's. Then its
//! report is read.

use std::{
    os::fd::{AsRawFd, BorrowedFd, OwnedFd},
    path::Path,
};

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
    user_namespace::write_id_maps,
};
use crate::{
    config::{ContainerConfig, NamespaceKind},
    error::{Context, Error, Result},
    security::seccomp::listener::{self, ContainerInfo},
};

pub struct InitRequest<'a> {
    /// The container's id, for the seccomp agent.
    pub id: &'a str,
    pub config: &'a ContainerConfig,
    pub exec_fifo: &'a Path,
    /// A connected socket to send the terminal's master to.
    pub console_socket: Option<OwnedFd>,
    pub no_pivot: bool,
    /// A session keyring of this name to join, as runc does.
    pub session_keyring: Option<String>,
    /// runc's `--preserve-fds N`: 3 .. 3+N stay open for the process.
    pub preserve_fds: u32,
}

/// What the init gets across the clone: all descriptors are already open.
pub struct InitContext<'a> {
    pub config: &'a ContainerConfig,
    pub exec_fifo: OwnedFd,
    pub console_socket: Option<OwnedFd>,
    pub join: Vec<NamespaceFd>,
    /// New namespaces the init unshares after joining (see `spawn`).
    pub unshare: CloneFlags,
    pub no_pivot: bool,
    pub session_keyring: Option<String>,
    pub preserve_fds: u32,
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

/// What the parent does for the init once it has a pid.
pub trait Placement {
    /// A cgroup v2 directory to clone the init straight into
    /// (CLONE_INTO_CGROUP), so that [`Placement::place`] need not move it
    /// there.
    fn birth_cgroup(&self) -> Option<BorrowedFd<'_>>;
    /// The OCI state for hooks, while creating and once created.
    fn states(&self, pid: Pid) -> (String, String);
    /// Places the init (`born_in_cgroup`: it already is in the birth
    /// cgroup), sets up what else needs its pid, runs the runtime's hooks
    /// with the `creating` state. The init builds its root filesystem
    /// meanwhile.
    fn place(&mut self, pid: Pid, born_in_cgroup: bool, creating: &str) -> Result<()>;
}

/// Clones the init and places it (see the module's doc).
pub fn spawn(request: InitRequest<'_>, placement: &mut dyn Placement) -> Result<InitProcess> {
    ensure_single_threaded()?;
    let config = request.config;
    let exec_fifo = open(request.exec_fifo, OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty())
        .context(|| format!("opening {}", request.exec_fifo.display()))?;
    let BirthNamespaces { mut join, clone_flags, unshare_in_init } = birth_namespaces(config)?;
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
        unshare: unshare_in_init,
        no_pivot: request.no_pivot,
        session_keyring: request.session_keyring,
        preserve_fds: request.preserve_fds,
        from_parent,
    };

    let (raw, born_in_cgroup) = clone_init(clone_flags, placement.birth_cgroup())?;
    if raw == 0 {
        drop(receiver);
        drop(to_init);
        init::run(context, sender);
    }
    drop(context);
    // Our copy of the write end must go, or EOF would never come.
    drop(sender);
    let init = InitProcess { pid: Some(Pid::from_raw(raw)) };
    // The init waits for Begin before anything: its user namespace has
    // its maps by then.
    if let Some(mappings) = &config.id_mappings {
        write_id_maps(init.pid(), mappings)?;
    }
    let init = begin_and_place(init, placement, born_in_cgroup, &mut to_init, &mut receiver)?;
    wait_until_ready(init, request.id, config, &mut to_init, &mut receiver)
}

/// The namespaces the init is born in.
struct BirthNamespaces {
    /// Existing ones, opened, for the init to join.
    join: Vec<NamespaceFd>,
    /// New ones it is cloned with.
    clone_flags: CloneFlags,
    /// New ones it unshares itself, after joining.
    unshare_in_init: CloneFlags,
}

/// Sorts the config's namespaces into those joined, those the init is
/// cloned with, and those it unshares itself.
fn birth_namespaces(config: &ContainerConfig) -> Result<BirthNamespaces> {
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
    // Namespaces the init creates owned by a user namespace it joins must
    // be made after the join, by the init itself (a new pid namespace
    // cannot be: refused by the config).
    let mut unshare_in_init = CloneFlags::empty();
    if join.iter().any(|ns| ns.kind == NamespaceKind::User) {
        std::mem::swap(&mut clone_flags, &mut unshare_in_init);
    }
    Ok(BirthNamespaces { join, clone_flags, unshare_in_init })
}

/// Tells the init to begin, has the runtime place it (cgroups, network,
/// its hooks), and tells it it is placed. On a failure the init is
/// killed, and its own report, when it failed first, is the error.
fn begin_and_place(
    init: InitProcess,
    placement: &mut dyn Placement,
    born_in_cgroup: bool,
    to_init: &mut channel::Sender<ParentMessage>,
    receiver: &mut channel::Receiver,
) -> Result<InitProcess> {
    let pid = init.pid();
    let (creating, created) = placement.states(pid);
    let placed = to_init
        .send(&ParentMessage::Begin { creating: creating.clone(), created })
        .and_then(|()| placement.place(pid, born_in_cgroup, &creating))
        .and_then(|()| to_init.send(&ParentMessage::Placed));
    if let Err(err) = placed {
        // The init may have failed first (a bad mount while it was being
        // placed), and its report is then the cause worth giving.
        let _ = kill(pid, Signal::SIGKILL);
        return Err(match receiver.recv() {
            Ok(Some(InitMessage::Failed(reason))) => {
                reap(init);
                Error::Init(reason)
            }
            _ => err,
        });
    }
    Ok(init)
}

/// Waits for the init to report it is ready, forwarding a seccomp
/// listener it sends to the agent on the way.
fn wait_until_ready(
    init: InitProcess,
    id: &str,
    config: &ContainerConfig,
    to_init: &mut channel::Sender<ParentMessage>,
    receiver: &mut channel::Receiver,
) -> Result<InitProcess> {
    let pid = init.pid();
    loop {
        match receiver.recv()? {
            Some(InitMessage::Ready) => return Ok(init),
            Some(InitMessage::SeccompListener(fd)) => {
                // On failure the init is killed with `init` dropped.
                let container = ContainerInfo {
                    id,
                    status: oci_spec::runtime::ContainerState::Creating,
                    init_pid: pid.as_raw(),
                    bundle: &config.bundle,
                    annotations: &config.annotations,
                };
                listener::forward(&config.process.security, pid.as_raw(), fd, &container)?;
                to_init.send(&ParentMessage::SeccompListenerSent)?;
            }
            Some(InitMessage::Failed(reason)) => {
                reap(init);
                return Err(Error::Init(reason));
            }
            None => {
                let status = reap(init);
                return Err(Error::Init(format!("exited before it was ready ({status})")));
            }
        }
    }
}

/// CLONE_INTO_CGROUP (linux/sched.h); libc's constant overflows its type.
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// Clones like fork(2), into new namespaces; with clone3(2) straight into
/// `cgroup` when given and the kernel can. Returns the child's pid (0 in
/// the child) and whether it was born in `cgroup`.
fn clone_init(flags: CloneFlags, cgroup: Option<BorrowedFd<'_>>) -> Result<(i32, bool)> {
    if let Some(cgroup) = cgroup {
        let args = libc::clone_args {
            flags: u64::from(flags.bits().cast_unsigned()) | CLONE_INTO_CGROUP,
            pidfd: 0,
            child_tid: 0,
            parent_tid: 0,
            exit_signal: libc::SIGCHLD as u64,
            stack: 0,
            stack_size: 0,
            tls: 0,
            set_tid: 0,
            set_tid_size: 0,
            // An open descriptor is never negative.
            cgroup: u64::from(cgroup.as_raw_fd().cast_unsigned()),
        };
        // SAFETY: clone3 without CLONE_VM and with no stack behaves like
        // fork(2) (see below for why that is sound here); `args` is a
        // valid clone_args of the size given, alive for the call.
        let raw = unsafe {
            libc::syscall(
                libc::SYS_clone3,
                &args as *const libc::clone_args,
                std::mem::size_of::<libc::clone_args>(),
            )
        };
        if raw >= 0 {
            return Ok((crate::util::syscall_int(raw), true));
        }
        // An older kernel, or a cgroup that cannot take a process this
        // way: the parent moves it instead.
        tracing::debug!("clone3 into the cgroup: {}", std::io::Error::last_os_error());
    }
    // SAFETY: a raw clone(2) without CLONE_VM and with a null stack behaves
    // like fork(2): the child gets a copy of this address space. The caller
    // is single-threaded (checked by `spawn`), so no lock can be held by a
    // thread that does not exist in the child; the child only runs
    // init::run, which never returns.
    let raw = unsafe {
        libc::syscall(
            libc::SYS_clone,
            libc::c_ulong::from(flags.bits().cast_unsigned())
                | libc::c_ulong::from(libc::SIGCHLD.cast_unsigned()),
            std::ptr::null_mut::<libc::c_void>(),
            std::ptr::null_mut::<libc::c_int>(),
            std::ptr::null_mut::<libc::c_int>(),
            0 as libc::c_ulong,
        )
    };
    if raw < 0 {
        return Err(std::io::Error::last_os_error()).context(|| format!("clone with {flags:?}"));
    }
    Ok((crate::util::syscall_int(raw), false))
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
