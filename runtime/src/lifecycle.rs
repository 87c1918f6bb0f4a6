//! runc's lifecycle over the state root: create, start, state, kill,
//! delete, list and run. Error messages for forbidden transitions follow
//! runc's, since tools match on them.

use std::{
    fs::File,
    io::Read,
    os::{
        fd::{AsFd, BorrowedFd, OwnedFd},
        unix::fs::PermissionsExt,
    },
    path::{Path, PathBuf},
};

use nix::{
    errno::Errno,
    fcntl::OFlag,
    poll::{PollFd, PollFlags, PollTimeout, poll},
    sys::{
        signal::{Signal, kill},
        stat::Mode,
    },
    unistd::{Pid, mkfifo},
};

use crate::{
    cgroups::{self, Cgroup, control},
    config::{ContainerConfig, NamespaceKind},
    console,
    error::{Context, Error, Result},
    hooks,
    network::{self, Attachment, BridgeOptions},
    process::{
        parent::{self, InitRequest, Placement},
        signals::BlockedSignals,
        wait::wait_forwarding,
    },
    rootfs::shared::{HostMounts, HostMountsGuard},
    state::{
        ContainerState, EXEC_FIFO, StateRoot, Status, StoredState, oci_state_as,
        process_start_time, write_atomic,
    },
    util::rfc3339_now,
};

pub const DEFAULT_ROOT: &str = "/run/cradle";

#[derive(Clone, Debug, Default)]
pub struct CreateOptions {
    pub bundle: PathBuf,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    pub no_pivot: bool,
    /// Keep the caller's session keyring instead of a new `_ses.ID` one.
    pub no_new_keyring: bool,
    /// Pass descriptors 3 .. 3+N of the caller on to the process.
    pub preserve_fds: u32,
    /// Connect the container to a bridge (`--net bridge`).
    pub network: Option<BridgeOptions>,
}

/// How `run` runs the container beyond `create`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunOptions {
    /// Return once the container is running.
    pub detach: bool,
    /// Keep the stopped container instead of deleting it.
    pub keep: bool,
    /// Adopt the container's orphans (runc's default; `--no-subreaper`
    /// turns it off).
    pub subreaper: bool,
}

/// A bridge attachment undone on drop unless kept.
#[derive(Default)]
struct NetworkGuard(Option<Attachment>);

impl Drop for NetworkGuard {
    fn drop(&mut self) {
        if let Some(attachment) = self.0.take()
            && let Err(err) = network::detach(&attachment)
        {
            tracing::warn!("removing the network of a failed container: {err}");
        }
    }
}

/// What `create` does for the init while it builds its root filesystem.
struct CreatePlacement<'a> {
    config: &'a ContainerConfig,
    id: &'a str,
    bridge: Option<&'a BridgeOptions>,
    cgroup: &'a Cgroup,
    birth_cgroup: Option<&'a OwnedFd>,
    network: &'a mut NetworkGuard,
    hook_state: &'a dyn Fn(i32, Status) -> String,
}

impl Placement for CreatePlacement<'_> {
    fn birth_cgroup(&self) -> Option<BorrowedFd<'_>> {
        self.birth_cgroup.map(AsFd::as_fd)
    }

    fn states(&self, pid: Pid) -> (String, String) {
        let state = |status| (self.hook_state)(pid.as_raw(), status);
        (state(Status::Creating), state(Status::Created))
    }

    fn place(&mut self, pid: Pid, born_in_cgroup: bool, creating: &str) -> Result<()> {
        self.cgroup.attach(pid, born_in_cgroup)?;
        if let Some(bridge) = self.bridge {
            self.network.0 = Some(network::attach(bridge, self.id, pid.as_raw())?);
        }
        let bundle = Some(self.config.bundle.as_path());
        hooks::run("prestart", &self.config.hooks.prestart, creating, bundle)?;
        hooks::run("createRuntime", &self.config.hooks.create_runtime, creating, bundle)
    }
}

/// Refuses a terminal without a console socket or the reverse, and a
/// bridge without a network namespace of the container's own.
fn check_console_and_network(
    config: &ContainerConfig,
    has_console: bool,
    options: &CreateOptions,
) -> Result<()> {
    match (config.process.terminal, has_console) {
        (true, false) => {
            return Err(Error::invalid(
                "process.terminal",
                "is true but no --console-socket was given",
            ));
        }
        (false, true) => {
            return Err(Error::invalid(
                "process.terminal",
                "is false but a --console-socket was given",
            ));
        }
        _ => {}
    }
    if options.network.is_some() && !config.has_new_namespace(NamespaceKind::Network) {
        return Err(Error::invalid(
            "--net bridge",
            "needs a new network namespace in linux.namespaces",
        ));
    }
    Ok(())
}

/// The fifo in the container's state directory whose opening by `start`
/// lets the init exec the user's process.
fn make_exec_fifo(state_dir: &Path) -> Result<PathBuf> {
    let fifo = state_dir.join(EXEC_FIFO);
    mkfifo(&fifo, Mode::from_bits_truncate(0o622))
        .context(|| format!("creating {}", fifo.display()))?;
    // Past the umask: a process running as another user opens it too.
    std::fs::set_permissions(&fifo, std::fs::Permissions::from_mode(0o622))
        .context(|| format!("chmod {}", fifo.display()))?;
    Ok(fifo)
}

/// The container's cgroup: created when the runtime is root, otherwise
/// the runtime's own (see [`rootless_cgroup`]).
fn container_cgroup(config: &ContainerConfig, id: &str) -> Result<Cgroup> {
    if nix::unistd::geteuid().is_root() {
        Cgroup::create(&config.cgroups, id)
    } else {
        rootless_cgroup(config)
    }
}

/// The OCI state a hook reads on its stdin, as JSON.
fn hook_state_json(
    config: &ContainerConfig,
    id: &str,
    created: &str,
    pid: i32,
    status: Status,
) -> String {
    let state = ContainerState {
        oci_version: config.oci_version.clone(),
        id: id.to_owned(),
        status,
        pid,
        bundle: config.bundle.clone(),
        rootfs: config.rootfs.clone(),
        created: created.to_owned(),
        annotations: config.annotations.clone(),
    };
    serde_json::to_string(&state).expect("state serializes")
}

/// What the state file keeps of the config for a container whose init is
/// `pid`; what the create made (cgroup, network, host mounts) and the
/// init's start time are the caller's to fill in.
fn stored_state(config: &ContainerConfig, id: &str, pid: i32, created: String) -> StoredState {
    StoredState {
        oci_version: config.oci_version.clone(),
        id: id.to_owned(),
        pid,
        pid_start_time: 0,
        bundle: config.bundle.clone(),
        rootfs: config.rootfs.clone(),
        created,
        annotations: config.annotations.clone(),
        namespaces: config.namespaces.iter().map(|ns| ns.kind).collect(),
        process: config.process.clone(),
        cgroup: Vec::new(),
        network: None,
        hooks: config.hooks.clone(),
        host_mounts: None,
    }
}

/// An unprivileged runtime cannot create cgroups: a config that asks for
/// none runs in the runtime's own (as runc's rootless mode does without a
/// delegated cgroup); one that asks for limits is refused, not run
/// without them.
fn rootless_cgroup(config: &ContainerConfig) -> Result<Cgroup> {
    let asked = if config.cgroups.path.is_some() {
        Some("linux.cgroupsPath")
    } else if config.cgroups.resources != cgroups::resources::Resources::default() {
        Some("linux.resources")
    } else {
        None
    };
    match asked {
        None => Ok(Cgroup::none()),
        Some(field) => Err(Error::unsupported(
            field,
            "an unprivileged (rootless) runtime cannot create cgroups; remove it (`cradle spec \
             --rootless` writes a config without one)",
        )),
    }
}

/// Which processes `kill` signals.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KillTarget {
    Init,
    /// Every process in the container's cgroup (runc's `kill --all`).
    All,
}

pub struct Runtime {
    states: StateRoot,
}

impl Runtime {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Runtime { states: StateRoot::new(root) }
    }

    pub fn states(&self) -> &StateRoot {
        &self.states
    }

    /// Creates the container and returns with its init waiting for `start`.
    pub fn create(&self, id: &str, options: &CreateOptions) -> Result<StoredState> {
        let console = match &options.console_socket {
            Some(path) => Some(console::connect(path)?),
            None => None,
        };
        self.create_with_console(id, options, console)
    }

    fn create_with_console(
        &self,
        id: &str,
        options: &CreateOptions,
        console: Option<OwnedFd>,
    ) -> Result<StoredState> {
        crate::id::validate(id)?;
        let config = ContainerConfig::load(&options.bundle)?;
        check_console_and_network(&config, console.is_some(), options)?;
        let reserved = self.states.reserve(id)?;
        let fifo = make_exec_fifo(reserved.path())?;
        // Declared before the init, so dropped after it: a failed create
        // kills the init first, then removes its cgroup.
        let cgroup = container_cgroup(&config, id)?;
        let mut network = NetworkGuard::default();
        let created = rfc3339_now();
        let hook_state =
            |pid: i32, status: Status| hook_state_json(&config, id, &created, pid, status);
        // Without a mount namespace the init's mounts land in the host's
        // table: a failed create removes them once the init is gone.
        let host_mounts = HostMountsGuard::new(if config.has_namespace(NamespaceKind::Mount) {
            None
        } else {
            Some(HostMounts::snapshot(&config.rootfs)?)
        });
        let birth_cgroup = cgroup.open_v2()?;
        let mut placement = CreatePlacement {
            config: &config,
            id,
            bridge: options.network.as_ref(),
            cgroup: &cgroup,
            birth_cgroup: birth_cgroup.as_ref(),
            network: &mut network,
            hook_state: &hook_state,
        };
        let spawned = parent::spawn(
            InitRequest {
                id,
                config: &config,
                exec_fifo: &fifo,
                console_socket: console,
                no_pivot: options.no_pivot,
                session_keyring: (!options.no_new_keyring).then(|| format!("_ses.{id}")),
                preserve_fds: options.preserve_fds,
            },
            &mut placement,
        );
        // A failed create continues with the end of the lifecycle.
        let init = spawned.inspect_err(|_| {
            let stopped = hook_state(0, Status::Stopped);
            hooks::run_warning("poststop", &config.hooks.poststop, &stopped, Some(&config.bundle));
        })?;
        let pid = init.pid().as_raw();
        let state = StoredState {
            pid_start_time: process_start_time(pid)
                .ok_or_else(|| Error::Init("exited right after it was ready".to_owned()))?,
            cgroup: cgroup.dirs().to_vec(),
            network: network.0.clone(),
            host_mounts: host_mounts.mounts().cloned(),
            ..stored_state(&config, id, pid, created)
        };
        self.states.save(&state)?;
        if let Some(pid_file) = &options.pid_file {
            write_atomic(pid_file, pid.to_string().as_bytes())?;
        }
        // From here the container exists: its init and state outlive us.
        reserved.keep();
        cgroup.keep();
        host_mounts.keep();
        network.0 = None;
        init.release();
        tracing::debug!(id, pid, "created");
        Ok(state)
    }

    /// Lets a created container's init exec the user's process.
    pub fn start(&self, id: &str) -> Result<()> {
        let state = self.states.load(id)?;
        match self.states.status(&state) {
            Status::Created | Status::Creating => {}
            Status::Running | Status::Paused => {
                return Err(Error::InvalidState(
                    "cannot start an already running container".to_owned(),
                ));
            }
            Status::Stopped => {
                return Err(Error::InvalidState(
                    "cannot start a container that has stopped".to_owned(),
                ));
            }
        }
        let fifo_path = self.states.container_dir(id)?.join(EXEC_FIFO);
        // The pidfd first, checked against the recorded start time: opening
        // the fifo releases the init, which may exec and exit at once.
        let init = pidfd_open(state.pid)?;
        if !crate::state::process_is_alive(state.pid, state.pid_start_time) {
            return Err(Error::InvalidState(
                "cannot start a container that has stopped".to_owned(),
            ));
        }
        // Non-blocking, so a dead init cannot hang us: we then wait for
        // either its byte or its exit (pidfd), without polling in a loop.
        // The byte is written before execve, so it is there even if the
        // workload has already exited.
        let fifo = nix::fcntl::open(
            &fifo_path,
            OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .context(|| format!("opening {}", fifo_path.display()))?;
        let mut fds = [
            PollFd::new(fifo.as_fd(), PollFlags::POLLIN),
            PollFd::new(init.as_fd(), PollFlags::POLLIN),
        ];
        loop {
            match poll(&mut fds, PollTimeout::NONE) {
                Ok(_) => break,
                Err(Errno::EINTR) => continue,
                Err(err) => return Err(err).context(|| "waiting for the init".to_owned()),
            }
        }
        let mut byte = [0u8; 1];
        let read = File::from(fifo).read(&mut byte).unwrap_or(0);
        if read != 1 {
            // The init closed the fifo on a failure (a startContainer
            // hook): let it finish saying why on its stderr before the
            // caller cleans up, which kills it.
            let mut exited = [PollFd::new(init.as_fd(), PollFlags::POLLIN)];
            let _ = poll(&mut exited, PollTimeout::from(10_000u16));
            return Err(Error::Init("exited before it could be started".to_owned()));
        }
        std::fs::remove_file(&fifo_path).context(|| format!("removing {}", fifo_path.display()))?;
        let running = oci_state_as(&state, Status::Running);
        let running = serde_json::to_string(&running).expect("state serializes");
        hooks::run_warning("poststart", &state.hooks.poststart, &running, Some(&state.bundle));
        tracing::debug!(id, "started");
        Ok(())
    }

    pub fn state(&self, id: &str) -> Result<ContainerState> {
        let state = self.states.load(id)?;
        Ok(self.states.oci_state(&state))
    }

    pub fn kill(&self, id: &str, signal: Signal, target: KillTarget) -> Result<()> {
        let state = self.states.load(id)?;
        let status = self.states.status(&state);
        if status == Status::Stopped {
            return Err(Error::InvalidState("container not running".to_owned()));
        }
        kill(Pid::from_raw(state.pid), signal)
            .context(|| format!("sending {signal} to {}", state.pid))?;
        if target == KillTarget::All {
            for pid in control::processes(&state.cgroup) {
                // One that exits meanwhile is no error.
                let _ = kill(Pid::from_raw(pid), signal);
            }
        }
        // A frozen process only takes SIGKILL once thawed (cgroup v1).
        if signal == Signal::SIGKILL && status == Status::Paused {
            control::set_frozen(&state.cgroup, false)?;
        }
        Ok(())
    }

    /// Freezes a running container's processes (runc's `pause`).
    pub fn pause(&self, id: &str) -> Result<()> {
        let state = self.states.load(id)?;
        match self.states.status(&state) {
            Status::Running | Status::Created => control::set_frozen(&state.cgroup, true),
            Status::Paused => Ok(()),
            _ => Err(Error::InvalidState("container not running".to_owned())),
        }
    }

    /// Thaws a paused container (runc's `resume`).
    pub fn resume(&self, id: &str) -> Result<()> {
        let state = self.states.load(id)?;
        match self.states.status(&state) {
            Status::Paused => control::set_frozen(&state.cgroup, false),
            _ => Err(Error::InvalidState("container not paused".to_owned())),
        }
    }

    /// The pids of the container's processes (runc's `ps`).
    pub fn processes(&self, id: &str) -> Result<Vec<i32>> {
        let state = self.states.load(id)?;
        if self.states.status(&state) == Status::Stopped {
            return Err(Error::InvalidState("container not running".to_owned()));
        }
        Ok(control::processes(&state.cgroup))
    }

    /// New limits for a container's cgroup (runc's `update`). Device rules
    /// are not changed.
    pub fn update(&self, id: &str, resources: &cgroups::Resources) -> Result<()> {
        let state = self.states.load(id)?;
        if self.states.status(&state) == Status::Stopped {
            return Err(Error::InvalidState("container not running".to_owned()));
        }
        let resources = cgroups::Resources { devices: Vec::new(), ..resources.clone() };
        control::update(&state.cgroup, &resources)
    }

    /// Removes a stopped (or created) container; `force` kills a running one first.
    pub fn delete(&self, id: &str, force: bool) -> Result<()> {
        self.delete_with_hooks_in(id, force, None)
    }

    /// `delete`, with the poststop hooks run in `hook_dir`.
    fn delete_with_hooks_in(&self, id: &str, force: bool, hook_dir: Option<&Path>) -> Result<()> {
        let state = match self.states.load(id) {
            Ok(state) => state,
            // A directory without state is a create that never finished.
            Err(Error::NotFound(_)) if force => return self.states.remove(id),
            Err(err) => return Err(err),
        };
        match self.states.status(&state) {
            Status::Stopped => {}
            status @ (Status::Running | Status::Paused) if !force => {
                return Err(Error::InvalidState(format!(
                    "cannot delete container {id} that is not stopped: {status}"
                )));
            }
            Status::Paused => {
                // SIGKILL reaches a frozen init once it is thawed.
                let _ = kill(Pid::from_raw(state.pid), Signal::SIGKILL);
                control::set_frozen(&state.cgroup, false)?;
                kill_and_wait(&state)?;
            }
            Status::Created | Status::Creating | Status::Running => kill_and_wait(&state)?,
        }
        cgroups::remove(&state.cgroup)?;
        if let Some(mounts) = &state.host_mounts {
            mounts.remove_added()?;
        }
        if let Some(attachment) = &state.network {
            network::detach(attachment)?;
        }
        self.states.remove(id)?;
        let stopped = serde_json::to_string(&oci_state_as(&state, Status::Stopped))
            .expect("state serializes");
        hooks::run_warning("poststop", &state.hooks.poststop, &stopped, hook_dir);
        tracing::debug!(id, "deleted");
        Ok(())
    }

    pub fn list(&self) -> Result<Vec<ContainerState>> {
        let mut states = Vec::new();
        for id in self.states.ids()? {
            match self.states.load(&id) {
                Ok(state) => states.push(self.states.oci_state(&state)),
                Err(err) => tracing::warn!("skipping {id}: {err}"),
            }
        }
        Ok(states)
    }

    /// create + start + wait, forwarding signals; returns the workload's
    /// exit status and removes the container, unless `keep`. With
    /// `detach`, returns 0 once the container is running.
    pub fn run(&self, id: &str, options: &CreateOptions, run: &RunOptions) -> Result<i32> {
        let RunOptions { detach, keep, subreaper } = *run;
        if detach {
            self.create(id, options)?;
            return self.start(id).map(|()| 0).inspect_err(|_| {
                let _ = self.delete(id, true);
            });
        }
        if subreaper {
            become_subreaper();
        }
        // Blocked before the clone so none is lost; the init unblocks.
        let signals = BlockedSignals::block()?;
        let mut terminal = None;
        let state = if options.console_socket.is_none() && bundle_wants_terminal(&options.bundle) {
            let (theirs, ours) = console::socketpair()?;
            let state = self.create_with_console(id, options, Some(theirs))?;
            terminal = Some(ours);
            state
        } else {
            self.create(id, options)?
        };
        let master = match terminal {
            Some(socket) => match console::receive_master(&socket) {
                Ok(master) => Some(master),
                Err(err) => {
                    let _ = self.delete(id, true);
                    return Err(err);
                }
            },
            None => None,
        };
        if let Err(err) = self.start(id) {
            let _ = self.delete(id, true);
            return Err(err);
        }
        let status = wait_forwarding(Pid::from_raw(state.pid), &signals, master);
        if keep {
            return status;
        }
        let removed = self.delete_with_hooks_in(id, true, Some(&state.bundle));
        let status = status?;
        removed?;
        Ok(status)
    }
}

/// As runc's `run`: the container's orphans (of a container without a
/// pid namespace, whose processes no init of its own adopts) come to the
/// runtime, which reaps them while it waits, instead of going to the
/// host's init. A failure is a warning, as with runc.
fn become_subreaper() {
    if let Err(err) = nix::sys::prctl::set_child_subreaper(true) {
        tracing::warn!("becoming a child subreaper: {err}");
    }
}

fn bundle_wants_terminal(bundle: &Path) -> bool {
    ContainerConfig::load(bundle).is_ok_and(|config| config.process.terminal)
}

/// SIGKILL to the init (its pid namespace dies with it), then wait for it
/// to go, through a pidfd: no sleeping loop.
fn kill_and_wait(state: &StoredState) -> Result<()> {
    let pidfd = match pidfd_open(state.pid) {
        Ok(fd) => fd,
        Err(_) if !crate::state::process_is_alive(state.pid, state.pid_start_time) => return Ok(()),
        Err(err) => return Err(err),
    };
    if !crate::state::process_is_alive(state.pid, state.pid_start_time) {
        return Ok(());
    }
    if let Err(err) = rustix::process::pidfd_send_signal(&pidfd, rustix::process::Signal::KILL)
        && err != rustix::io::Errno::SRCH
    {
        return Err(std::io::Error::from(err)).context(|| format!("killing {}", state.pid));
    }
    let mut fds = [PollFd::new(pidfd.as_fd(), PollFlags::POLLIN)];
    match poll(&mut fds, PollTimeout::from(10_000u16)) {
        Ok(0) => Err(Error::InvalidState(format!("container init {} did not die", state.pid))),
        Ok(_) => {
            reap_if_child(state.pid);
            Ok(())
        }
        Err(err) => Err(err).context(|| "waiting for the init to die".to_owned()),
    }
}

/// `run` is the init's parent: reap it, or it stays a zombie until we exit.
fn reap_if_child(pid: i32) {
    let _ = nix::sys::wait::waitpid(Pid::from_raw(pid), Some(nix::sys::wait::WaitPidFlag::WNOHANG));
}

fn pidfd_open(pid: i32) -> Result<OwnedFd> {
    let context = || format!("pidfd_open {pid}");
    let pid = rustix::process::Pid::from_raw(pid)
        .ok_or_else(|| std::io::Error::from_raw_os_error(libc::ESRCH))
        .context(context)?;
    rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty())
        .map_err(std::io::Error::from)
        .context(context)
}
