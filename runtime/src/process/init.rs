//! The container's init, from the clone to `execve`. Runs in the cloned
//! child; every error is reported to the parent, then the child exits.

use std::{
    convert::Infallible,
    fs::OpenOptions,
    io::Write,
    os::fd::{AsFd, AsRawFd, RawFd},
};

use nix::{
    sched::{CloneFlags, unshare},
    unistd::{chdir, sethostname, setsid},
};

use super::{
    channel::{InitMessage, ParentMessage, Receiver, Sender, hand_over_listener},
    namespaces::{bring_up_loopback, join_all},
    parent::InitContext,
    signals::reset_in_child,
    sysctl,
    user::{
        Executable, apply_rlimits, apply_umask, close_fds_except, close_inherited_fds_from,
        give_stdio_to, switch_user, verify_cwd,
    },
    user_namespace::become_root,
};
use crate::{
    config::{ContainerConfig, NamespaceKind},
    console,
    error::{Context, Error, Result},
    hooks, rootfs,
    syscall::LinuxSyscall,
};

pub fn run(mut context: InitContext<'_>, sender: Sender) -> ! {
    // The runtime's log may be a descriptor closed below, whose number a
    // file of the container could take: the init logs nothing, it reports.
    let _no_log = tracing::dispatcher::set_default(&tracing::Dispatch::none());
    let mut sender = Some(sender);
    let error = match setup_and_exec(&mut context, &mut sender) {
        Ok(never) => match never {},
        Err(error) => error,
    };
    // Before Ready the parent is listening; after, the report pipe is
    // closed (writing to it would raise SIGPIPE) and stderr is all that is left.
    let reported = sender
        .as_mut()
        .is_some_and(|sender| sender.send(&InitMessage::Failed(error.to_string())).is_ok());
    if !reported {
        let _ = writeln!(std::io::stderr(), "cradle init: {error}");
    }
    // SAFETY: _exit skips atexit handlers and destructors, which belong to
    // the parent's copy of this address space.
    unsafe { libc::_exit(1) }
}

fn setup_and_exec(
    context: &mut InitContext<'_>,
    sender: &mut Option<Sender>,
) -> Result<Infallible> {
    let config = context.config;
    // Nothing of the host's but what the init protocol needs: not the
    // cgroup directory it was cloned into, nor what the caller leaked.
    let mut protocol = kept_fds(context, sender);
    protocol.extend(context.console_socket.as_ref().map(AsRawFd::as_raw_fd));
    protocol.extend(context.join.iter().map(|namespace| namespace.fd.as_raw_fd()));
    close_fds_except(&protocol)?;
    reset_in_child()?;
    let (creating, created) = wait_for_begin(context)?;
    enter_namespaces(context)?;
    set_oom_score_and_names(config)?;
    nix::sys::stat::umask(nix::sys::stat::Mode::empty());
    prepare_rootfs(context, &creating)?;
    // runc's order: the console while /dev is still writable, then what
    // is read-only, then sysctl and the protected paths.
    match &context.console_socket {
        Some(socket) if config.process.terminal => console::become_console_owner(socket, true)?,
        _ => {
            setsid().context(|| "setsid".to_owned())?;
        }
    }
    rootfs::finalize(&LinuxSyscall, config)?;
    sysctl::apply(&config.sysctl)?;
    rootfs::protect_paths(&LinuxSyscall, config)?;
    apply_rlimits(&config.process)?;
    config.process.security.before_user_switch(config.process.uid)?;
    give_stdio_to(config.process.uid)?;
    switch_user(&config.process)?;
    // Joined, and handed over: no longer needed, and not to be named by
    // the cwd.
    context.join.clear();
    context.console_socket.take();
    close_fds_except(&kept_fds(context, sender))?;
    chdir(&config.process.cwd)
        .context(|| format!("entering process.cwd {}", config.process.cwd.display()))?;
    verify_cwd(&config.process.cwd)?;
    apply_umask(&config.process);
    let executable = Executable::resolve(&config.process)?;
    close_inherited_fds_from(3 + context.preserve_fds)?;
    // As runc: the filter is in place before `start` is awaited, so the
    // startContainer hooks run under it, with the process's privileges.
    config.process.security.finish(&mut |listener| match sender.as_mut() {
        Some(report) => hand_over_listener(report, &mut context.from_parent, listener),
        None => Err(Error::Init("the seccomp listener came after the report".into())),
    })?;
    // Only now: a capability set or a filter the kernel refuses fails
    // `create`, with its cause, instead of a container that dies at start.
    if let Some(mut ready) = sender.take() {
        ready.send(&InitMessage::Ready)?;
    }
    wait_for_start(context, &created)?;
    Err(executable.exec())
}

/// The descriptors the init keeps to the end: runc's --preserve-fds
/// (3 .. 3 + N, given on purpose) and the init protocol's own.
fn kept_fds(context: &InitContext<'_>, sender: &Option<Sender>) -> Vec<RawFd> {
    let keep_fds = 3 + context.preserve_fds;
    let mut kept: Vec<RawFd> = (3..keep_fds).filter_map(|fd| RawFd::try_from(fd).ok()).collect();
    kept.extend([context.exec_fifo.as_raw_fd(), context.from_parent.as_fd().as_raw_fd()]);
    kept.extend(sender.as_ref().map(|sender| sender.as_fd().as_raw_fd()));
    kept
}

/// The runtime's go-ahead, with the OCI states the hooks are given while
/// the container is creating and once it is created.
fn wait_for_begin(context: &mut InitContext<'_>) -> Result<(String, String)> {
    match context.from_parent.recv()? {
        Some(ParentMessage::Begin { creating, created }) => Ok((creating, created)),
        Some(other) => Err(Error::Init(format!("unexpected {other:?} from the runtime"))),
        None => Err(Error::Init("the runtime went away before the init could go on".into())),
    }
}

/// Joins the container's existing namespaces, unshares its new ones, and
/// makes what each needs at once: root in a user namespace, the session
/// keyring, a loopback that is up.
fn enter_namespaces(context: &InitContext<'_>) -> Result<()> {
    let config = context.config;
    join_all(&context.join)?;
    if !context.unshare.is_empty() {
        unshare(context.unshare).context(|| format!("unsharing {:?}", context.unshare))?;
    }
    if config.has_namespace(NamespaceKind::User) {
        become_root()?;
    }
    if let Some(name) = &context.session_keyring {
        join_session_keyring(name, config.has_namespace(NamespaceKind::User))?;
    }
    if config.has_new_namespace(NamespaceKind::Network) {
        bring_up_loopback()?;
    }
    Ok(())
}

/// process.oomScoreAdj, hostname and domainname.
fn set_oom_score_and_names(config: &ContainerConfig) -> Result<()> {
    if let Some(score) = config.process.oom_score_adj {
        std::fs::write("/proc/self/oom_score_adj", score.to_string())
            .context(|| format!("setting oom_score_adj to {score}"))?;
    }
    if let Some(hostname) = &config.hostname {
        sethostname(hostname).context(|| format!("setting hostname {hostname:?}"))?;
    }
    if let Some(domainname) = &config.domainname {
        set_domainname(domainname)?;
    }
    Ok(())
}

/// The root filesystem up to the root switch, with the createContainer
/// hooks run in it; the runtime's placement (cgroups, network, its hooks)
/// is awaited where the rootfs needs it, and at the latest here.
fn prepare_rootfs(context: &mut InitContext<'_>, creating: &str) -> Result<()> {
    let config = context.config;
    let mut placed = false;
    let mut wait_until_placed = || -> Result<()> {
        if !placed {
            wait_for_placement(&mut context.from_parent, config)?;
            placed = true;
        }
        Ok(())
    };
    rootfs::prepare(&LinuxSyscall, config, context.no_pivot, &mut wait_until_placed, &|| {
        // runc runs them from the rootfs, before the root switch.
        let rootfs = Some(config.rootfs.as_path());
        hooks::run("createContainer", &config.hooks.create_container, creating, rootfs)
    })?;
    wait_until_placed()
}

/// Blocks until the parent has placed this process in its cgroups, then
/// unshares the cgroup namespace (rooted at that cgroup).
fn wait_for_placement(
    from_parent: &mut Receiver<ParentMessage>,
    config: &ContainerConfig,
) -> Result<()> {
    match from_parent.recv()? {
        Some(ParentMessage::Placed) => {}
        Some(other) => return Err(Error::Init(format!("unexpected {other:?} from the runtime"))),
        None => return Err(Error::Init("the runtime went away while placing the init".into())),
    }
    if config.has_new_namespace(NamespaceKind::Cgroup) {
        unshare(CloneFlags::CLONE_NEWCGROUP)
            .context(|| "unsharing the cgroup namespace".to_owned())?;
    }
    Ok(())
}

/// Blocks until `start` opens the fifo for reading, runs the
/// startContainer hooks, then tells `start` so; a failed hook leaves the
/// fifo without its byte, and `start` fails.
fn wait_for_start(context: &InitContext<'_>, created: &str) -> Result<()> {
    // The fifo is outside the new root: reach it through the O_PATH
    // descriptor opened by the parent (needs /proc in the container).
    let path = format!("/proc/self/fd/{}", context.exec_fifo.as_raw_fd());
    let mut fifo = OpenOptions::new()
        .write(true)
        .open(&path)
        .context(|| "opening the exec fifo (is /proc mounted in the container?)".to_owned())?;
    hooks::run("startContainer", &context.config.hooks.start_container, created, None)?;
    fifo.write_all(b"0").context(|| "writing the exec fifo".to_owned())
}

/// As runc: a new session keyring, so that the container does not share
/// the caller's keys, searchable by its user (by anyone inside a user
/// namespace, whose ids the keyring's owner may not map). A kernel
/// without keyrings is no error.
fn join_session_keyring(name: &str, in_user_namespace: bool) -> Result<()> {
    const KEYCTL_SETPERM: libc::c_int = 5;
    const KEYCTL_DESCRIBE: libc::c_int = 6;
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_int = 1;
    const KEY_OTH_SEARCH: u32 = 0x8;
    const KEY_USR_SEARCH: u32 = 0x8_0000;
    let context = || format!("joining the session keyring {name}");
    let c_name = crate::util::cstring(name, "session keyring")?;
    // SAFETY: keyctl reads the NUL-terminated name we own.
    let serial =
        unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, c_name.as_ptr()) };
    if serial < 0 {
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() == Some(libc::ENOSYS) {
            return Ok(());
        }
        return Err(err).context(context);
    }
    let mut description = [0u8; 512];
    // SAFETY: keyctl writes at most `len` bytes into the buffer we own.
    let len = unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            KEYCTL_DESCRIBE,
            serial,
            description.as_mut_ptr(),
            description.len(),
        )
    };
    if len < 0 {
        return Err(std::io::Error::last_os_error()).context(context);
    }
    // "type;uid;gid;perm;description", perm in hex.
    let len = usize::try_from(len).unwrap_or(0).min(description.len());
    let text = String::from_utf8_lossy(&description[..len]);
    let perm = text
        .split(';')
        .nth(3)
        .and_then(|perm| u32::from_str_radix(perm.trim_end_matches('\0'), 16).ok())
        .ok_or_else(|| Error::Init(format!("{}: unreadable description {text:?}", context())))?;
    let search = if in_user_namespace { KEY_OTH_SEARCH } else { KEY_USR_SEARCH };
    // SAFETY: keyctl with integer arguments only.
    if unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_SETPERM, serial, perm | search) } < 0 {
        return Err(std::io::Error::last_os_error()).context(context);
    }
    Ok(())
}

fn set_domainname(name: &str) -> Result<()> {
    // SAFETY: setdomainname reads `len` bytes from a buffer we own.
    let rc = unsafe { libc::setdomainname(name.as_ptr().cast(), name.len()) };
    if rc < 0 {
        return Err(Error::Io {
            context: format!("setting domainname {name:?}"),
            cause: std::io::Error::last_os_error(),
        });
    }
    Ok(())
}
