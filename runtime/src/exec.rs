//! `exec`: a new process inside a running container. The runtime opens the
//! init's namespaces, joins its pid namespace (which only applies to
//! children), forks; the child joins the rest, takes the container's
//! identity and execs. Its report pipe is close-on-exec: end of file means
//! `execve` succeeded.
//!
//! The child joins the container's cgroup first, and takes the container's
//! capabilities, no_new_privileges and seccomp filter last, as the init does.

use std::{
    convert::Infallible,
    os::fd::{AsFd, AsRawFd, OwnedFd, RawFd},
    path::{Path, PathBuf},
};

use nix::{
    fcntl::{OFlag, open},
    sched::{CloneFlags, setns},
    sys::stat::Mode,
    unistd::{ForkResult, chdir, fork},
};

use oci_spec::runtime::Capability;

use crate::{
    cgroups::{self, CgroupDir},
    config::{NamespaceKind, ProcessConfig},
    console,
    error::{Context, Error, Result},
    lifecycle::Runtime,
    process::{
        channel::{self, InitMessage, ParentMessage, Receiver, Sender, hand_over_listener},
        namespaces::{NamespaceFd, differs_from_own, join_all, open_namespace},
        signals::{BlockedSignals, reset_in_child},
        user::{
            Executable, apply_rlimits, apply_umask, close_fds_except, close_inherited_fds_from,
            give_stdio_to, switch_user, verify_cwd,
        },
        wait::wait_forwarding,
    },
    security::{
        seccomp::listener::{self, ContainerInfo},
        selinux,
    },
    state::{Status, StoredState, write_atomic},
    syscall::{LinuxSyscall, Syscall},
};

#[derive(Clone, Debug, Default)]
pub struct ExecOptions {
    /// A whole process (runc's `--process FILE`, how containerd's shim
    /// and conmon exec): it replaces the container's process, and the
    /// fields below that describe a process are ignored, as by runc. The
    /// container's seccomp filter still applies.
    pub process: Option<ProcessConfig>,
    pub args: Vec<String>,
    /// `KEY=VALUE`, added to (or replacing in) the container's environment.
    pub env: Vec<String>,
    pub cwd: Option<PathBuf>,
    pub tty: bool,
    /// `--user UID[:GID]`.
    pub user: Option<(u32, Option<u32>)>,
    pub additional_gids: Vec<u32>,
    /// `--cap CAP_X`: added to the bounding, effective and permitted sets.
    pub capabilities: Vec<Capability>,
    /// `--no-new-privs`: turns no_new_privileges on.
    pub no_new_privileges: bool,
    pub apparmor_profile: Option<String>,
    /// `--process-label`: an SELinux label, refused (see
    /// [`crate::security::selinux`]).
    pub selinux_label: Option<String>,
    pub detach: bool,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    /// runc's `--cgroup [CONTROLLER:]PATH`: an existing sub-cgroup of the
    /// container's to run in.
    pub cgroup: Vec<String>,
    /// `--preserve-fds N`: descriptors 3..3+N reach the process.
    pub preserve_fds: u32,
    /// Exec in a paused container too.
    pub ignore_paused: bool,
}

/// Runs the process; returns its exit status, or 0 once started if detached.
pub fn exec(runtime: &Runtime, id: &str, options: &ExecOptions) -> Result<i32> {
    let state = runtime.states().load(id)?;
    check_status(runtime.states().status(&state), options)?;
    let process = exec_process(&state.process, options)?;
    let cgroup = CgroupJoin {
        dirs: cgroups::sub_cgroups(&state.cgroup, &options.cgroup)?,
        init_pid: state.pid,
        chosen_sub_cgroup: !options.cgroup.is_empty(),
    };
    let mut join = namespaces_to_join(&state)?;
    let jail = chroot_jail(&state)?;
    let (console_child, console_ours) = console_ends(process.terminal, options)?;
    let signals = BlockedSignals::block()?;
    if let Some(position) = join.iter().position(|ns| ns.kind == NamespaceKind::Pid) {
        let pid_ns = join.remove(position);
        setns(&pid_ns.fd, CloneFlags::CLONE_NEWPID)
            .context(|| "joining the container's pid namespace".to_owned())?;
    }
    let (sender, mut receiver) = channel::channel::<InitMessage>()?;
    let (mut to_child, from_parent) = channel::channel::<ParentMessage>()?;
    // SAFETY: the runtime is single-threaded (see process::parent), so the
    // child cannot inherit a lock held by another thread; it only runs
    // `child`, which execs or exits.
    let pid = match unsafe { fork() }.context(|| "fork".to_owned())? {
        ForkResult::Child => {
            drop(receiver);
            drop(to_child);
            let keep_fds = 3 + options.preserve_fds;
            let channels = (sender, from_parent);
            child(&cgroup, &join, jail.as_ref(), console_child, &process, keep_fds, channels)
        }
        ForkResult::Parent { child } => child,
    };
    drop(sender);
    drop(from_parent);
    drop(console_child);
    let container = ContainerInfo {
        id,
        // runc tells the agent of an exec'd process as running.
        status: oci_spec::runtime::ContainerState::Running,
        init_pid: state.pid,
        bundle: &state.bundle,
        annotations: &state.annotations,
    };
    wait_for_exec(pid, &process, &container, &mut receiver, &mut to_child)?;
    if let Some(pid_file) = &options.pid_file {
        write_atomic(pid_file, pid.as_raw().to_string().as_bytes())?;
    }
    let master = match console_ours {
        Some(socket) => Some(console::receive_master(&socket)?),
        None => None,
    };
    if options.detach {
        return Ok(0);
    }
    wait_forwarding(pid, &signals, master)
}

/// Refuses an exec into a stopped container, and into a paused one
/// unless `--ignore-paused`.
fn check_status(status: Status, options: &ExecOptions) -> Result<()> {
    match status {
        Status::Stopped => {
            Err(Error::InvalidState("cannot exec in a stopped container".to_owned()))
        }
        Status::Paused if !options.ignore_paused => Err(Error::InvalidState(
            "cannot exec in a paused container (use --ignore-paused to override)".to_owned(),
        )),
        _ => Ok(()),
    }
}

/// The container's namespaces that are not already ours, opened through
/// its init.
fn namespaces_to_join(state: &StoredState) -> Result<Vec<NamespaceFd>> {
    let mut join = Vec::new();
    for kind in &state.namespaces {
        if differs_from_own(state.pid, *kind) {
            let path = PathBuf::from(format!("/proc/{}/ns/{}", state.pid, kind.proc_name()));
            join.push(open_namespace(*kind, &path)?);
        }
    }
    Ok(join)
}

/// A container in the host's mount namespace is jailed by chroot only:
/// the process enters the init's root the same way. None for a container
/// with its own mount namespace.
fn chroot_jail(state: &StoredState) -> Result<Option<OwnedFd>> {
    if state.namespaces.contains(&NamespaceKind::Mount) {
        return Ok(None);
    }
    let root = format!("/proc/{}/root", state.pid);
    let fd =
        open(root.as_str(), OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty())
            .context(|| format!("opening the container's root {root}"))?;
    Ok(Some(fd))
}

/// For a terminal: the socket the process sends its console's master on,
/// and our end of it when we receive the master ourselves (no
/// `--console-socket`; refused with `--detach`, where no one would).
fn console_ends(tty: bool, options: &ExecOptions) -> Result<(Option<OwnedFd>, Option<OwnedFd>)> {
    match (tty, &options.console_socket) {
        (false, _) => Ok((None, None)),
        (true, Some(path)) => Ok((Some(console::connect(path)?), None)),
        (true, None) if options.detach => {
            Err(Error::invalid("exec --tty --detach", "needs --console-socket"))
        }
        (true, None) => {
            let (theirs, ours) = console::socketpair()?;
            Ok((Some(theirs), Some(ours)))
        }
    }
}

/// Waits for the process to exec (its report pipe closes), forwarding a
/// seccomp listener it sends to the agent on the way; a process that
/// failed or whose listener could not be forwarded is reaped.
fn wait_for_exec(
    pid: nix::unistd::Pid,
    process: &ProcessConfig,
    container: &ContainerInfo,
    receiver: &mut Receiver,
    to_child: &mut Sender<ParentMessage>,
) -> Result<()> {
    loop {
        match receiver.recv()? {
            // End of file: the report pipe closed on execve.
            None | Some(InitMessage::Ready) => return Ok(()),
            Some(InitMessage::Failed(reason)) => {
                let _ = nix::sys::wait::waitpid(pid, None);
                return Err(Error::Init(reason));
            }
            Some(InitMessage::SeccompListener(fd)) => {
                let forwarded = listener::forward(&process.security, pid.as_raw(), fd, container)
                    .and_then(|()| to_child.send(&ParentMessage::SeccompListenerSent));
                if let Err(err) = forwarded {
                    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
                    let _ = nix::sys::wait::waitpid(pid, None);
                    return Err(err);
                }
            }
        }
    }
}

fn exec_process(base: &ProcessConfig, options: &ExecOptions) -> Result<ProcessConfig> {
    if let Some(label) = &options.selinux_label {
        selinux::refuse_label("exec --process-label", label, true)?;
    }
    if let Some(given) = &options.process {
        let mut process = given.clone();
        process.security.seccomp = base.security.seccomp.clone();
        return Ok(process);
    }
    if options.args.is_empty() {
        return Err(Error::invalid("exec", "no command given"));
    }
    let mut process = base.clone();
    process.args = options.args.clone();
    process.terminal = options.tty;
    if let Some(cwd) = &options.cwd {
        process.cwd = cwd.clone();
    }
    for entry in &options.env {
        let Some((key, _)) = entry.split_once('=') else {
            return Err(Error::invalid("exec --env", format!("{entry:?} is not KEY=VALUE")));
        };
        process.env.retain(|existing| existing.split_once('=').map(|(k, _)| k) != Some(key));
        process.env.push(entry.clone());
    }
    if let Some((uid, gid)) = options.user {
        process.uid = uid;
        if let Some(gid) = gid {
            process.gid = gid;
        }
    }
    process.additional_gids.extend(&options.additional_gids);
    if !options.capabilities.is_empty() {
        let sets = process.security.capabilities.get_or_insert_with(Default::default);
        for cap in &options.capabilities {
            sets.add(*cap)?;
        }
    }
    if options.no_new_privileges {
        process.security.no_new_privileges = true;
    }
    if let Some(profile) = &options.apparmor_profile {
        if let Some(reason) = crate::security::apparmor::unavailable(profile) {
            return Err(Error::InvalidArgument { flag: "--apparmor".into(), reason });
        }
        process.security.apparmor_profile = Some(profile.clone());
    }
    Ok(process)
}

/// The cgroup directories the exec'd process joins.
struct CgroupJoin {
    dirs: Vec<CgroupDir>,
    init_pid: i32,
    chosen_sub_cgroup: bool,
}

fn child(
    cgroup: &CgroupJoin,
    join: &[NamespaceFd],
    jail: Option<&OwnedFd>,
    console: Option<OwnedFd>,
    process: &ProcessConfig,
    keep_fds: u32,
    (mut sender, mut from_parent): (Sender, Receiver<ParentMessage>),
) -> ! {
    let channels = (&mut sender, &mut from_parent);
    let error = match enter_and_exec(cgroup, join, jail, console, process, keep_fds, channels) {
        Ok(never) => match never {},
        Err(error) => error,
    };
    let _ = sender.send(&InitMessage::Failed(error.to_string()));
    // SAFETY: _exit skips the parent's destructors and atexit handlers.
    unsafe { libc::_exit(127) }
}

fn enter_and_exec(
    cgroup: &CgroupJoin,
    join: &[NamespaceFd],
    jail: Option<&OwnedFd>,
    console: Option<OwnedFd>,
    process: &ProcessConfig,
    keep_fds: u32,
    (report, from_parent): (&mut Sender, &mut Receiver<ParentMessage>),
) -> Result<Infallible> {
    // Nothing of the host's but what this protocol needs (see
    // close_fds_except): the caller may have leaked a directory.
    // And runc's --preserve-fds: 3..keep_fds, given on purpose.
    let preserved = (3..keep_fds).filter_map(|fd| RawFd::try_from(fd).ok());
    let protocol = [report.as_fd().as_raw_fd(), from_parent.as_fd().as_raw_fd()];
    let mut needed: Vec<RawFd> = preserved.clone().collect();
    needed.extend(protocol);
    needed.extend(console.as_ref().map(AsRawFd::as_raw_fd));
    needed.extend(jail.map(AsRawFd::as_raw_fd));
    needed.extend(join.iter().map(|namespace| namespace.fd.as_raw_fd()));
    close_fds_except(&needed)?;
    reset_in_child()?;
    // While the host's cgroup filesystems are still in view, and before
    // anything of the user's runs: every hierarchy the container is in.
    cgroups::join_for_exec(&cgroup.dirs, cgroup.init_pid, cgroup.chosen_sub_cgroup)?;
    join_all(join)?;
    if let Some(root) = jail {
        let sys = LinuxSyscall;
        sys.fchdir(root.as_fd()).context(|| "entering the container's root".to_owned())?;
        sys.chroot(Path::new(".")).context(|| "chroot into the container's root".to_owned())?;
    }
    if let Some(socket) = &console {
        console::become_console_owner(socket, false)?;
    }
    apply_rlimits(process)?;
    process.security.before_user_switch(process.uid)?;
    give_stdio_to(process.uid)?;
    switch_user(process)?;
    drop(console);
    // Joined and entered: only the protocol's pipes are left open.
    let mut needed: Vec<RawFd> = preserved.collect();
    needed.extend(protocol);
    close_fds_except(&needed)?;
    chdir(&process.cwd).context(|| format!("entering {}", process.cwd.display()))?;
    verify_cwd(&process.cwd)?;
    apply_umask(process);
    let executable = Executable::resolve(process)?;
    close_inherited_fds_from(keep_fds)?;
    process.security.finish(&mut |listener| hand_over_listener(report, from_parent, listener))?;
    Err(executable.exec())
}
