//! OCI hooks: each runs with the container's state as JSON on its stdin,
//! within its timeout. Where they run (runtime spec, "Lifecycle"):
//! `prestart` and `createRuntime` in the runtime, once the init exists in
//! its namespaces and cgroup; `createContainer` in the init, before the
//! root switch; `startContainer` in the init, when `start` arrives, before
//! the user's program; `poststart` in `start`; `poststop` in `delete`.
//! A failing hook of the first four fails the operation (the container is
//! stopped and removed); `poststart` and `poststop` failures are warnings.
//!
//! Working directory, as runc's: the bundle for the hooks the runtime
//! runs while it creates, starts or runs a container (runc works from the
//! bundle then), the rootfs for `createContainer`, the process's `cwd` for
//! `startContainer`; `delete`'s `poststop` keeps the caller's.

use std::{
    io::{ErrorKind, Write},
    os::fd::AsFd,
    path::{Path, PathBuf},
    process::{ChildStdin, Command, Stdio},
    time::{Duration, Instant},
};

use nix::{
    fcntl::{FcntlArg, OFlag, fcntl},
    poll::{PollFd, PollFlags, PollTimeout, poll},
    sys::signal::{SigHandler, Signal, signal},
};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hook {
    pub path: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub timeout: Option<Duration>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hooks {
    pub prestart: Vec<Hook>,
    pub create_runtime: Vec<Hook>,
    pub create_container: Vec<Hook>,
    pub start_container: Vec<Hook>,
    pub poststart: Vec<Hook>,
    pub poststop: Vec<Hook>,
}

impl Hooks {
    pub fn from_spec(spec: Option<&oci_spec::runtime::Hooks>) -> Result<Self> {
        let Some(spec) = spec else { return Ok(Hooks::default()) };
        let list = |name: &str, hooks: &Option<Vec<oci_spec::runtime::Hook>>| {
            hooks
                .iter()
                .flatten()
                .enumerate()
                .map(|(index, hook)| {
                    let field = format!("hooks.{name}[{index}]");
                    if !hook.path().is_absolute() {
                        return Err(Error::invalid(field, "path must be absolute"));
                    }
                    let timeout = match hook.timeout() {
                        None => None,
                        Some(seconds) if seconds > 0 => {
                            Some(Duration::from_secs(seconds.unsigned_abs()))
                        }
                        Some(seconds) => {
                            return Err(Error::invalid(
                                field,
                                format!("timeout {seconds} must be > 0"),
                            ));
                        }
                    };
                    Ok(Hook {
                        path: hook.path().clone(),
                        args: hook.args().clone().unwrap_or_default(),
                        env: hook.env().clone().unwrap_or_default(),
                        timeout,
                    })
                })
                .collect::<Result<Vec<_>>>()
        };
        #[allow(deprecated)]
        let prestart = list("prestart", spec.prestart())?;
        Ok(Hooks {
            prestart,
            create_runtime: list("createRuntime", spec.create_runtime())?,
            create_container: list("createContainer", spec.create_container())?,
            start_container: list("startContainer", spec.start_container())?,
            poststart: list("poststart", spec.poststart())?,
            poststop: list("poststop", spec.poststop())?,
        })
    }
}

/// The hook points cradle runs, in the spec's names.
pub const HOOK_NAMES: [&str; 6] =
    ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"];

/// Runs `hooks` in order with `state` (OCI state JSON) on stdin, in
/// `dir` (or the current directory); stops at the first failure.
pub fn run(stage: &str, hooks: &[Hook], state: &str, dir: Option<&Path>) -> Result<()> {
    for (index, hook) in hooks.iter().enumerate() {
        run_one(hook, state, dir).map_err(|reason| {
            Error::Init(format!("{stage} hook {index} ({}): {reason}", hook.path.display()))
        })?;
    }
    Ok(())
}

/// Like [`run`], but a failure is only a warning (poststart, poststop).
pub fn run_warning(stage: &str, hooks: &[Hook], state: &str, dir: Option<&Path>) {
    for (index, hook) in hooks.iter().enumerate() {
        if let Err(reason) = run_one(hook, state, dir) {
            tracing::warn!("{stage} hook {index} ({}): {reason}", hook.path.display());
        }
    }
}

fn run_one(hook: &Hook, state: &str, dir: Option<&Path>) -> std::result::Result<(), String> {
    let mut command = Command::new(&hook.path);
    if let Some(dir) = dir {
        command.current_dir(dir);
    }
    if let Some((arg0, rest)) = hook.args.split_first() {
        std::os::unix::process::CommandExt::arg0(&mut command, arg0);
        command.args(rest);
    }
    command.env_clear();
    for entry in &hook.env {
        if let Some((key, value)) = entry.split_once('=') {
            command.env(key, value);
        }
    }
    let mut child =
        command.stdin(Stdio::piped()).spawn().map_err(|err| format!("cannot run: {err}"))?;
    // The timeout covers writing the state too: a state larger than the
    // pipe (big annotations) would block a plain write until the hook ends.
    let deadline = hook.timeout.map(|timeout| Instant::now() + timeout);
    let mut stdin = child.stdin.take().map(|pipe| StateWriter::new(pipe, state.as_bytes()));
    // A hook that exits without reading must not kill the writer with
    // SIGPIPE (in the init its disposition is the default again).
    let _sigpipe = IgnoredSigpipe::new();
    let poll_interval = Duration::from_millis(5);
    loop {
        if stdin.as_mut().is_some_and(StateWriter::write_some) {
            stdin = None;
        }
        match child.try_wait().map_err(|err| format!("waiting: {err}"))? {
            Some(status) if status.success() => return Ok(()),
            Some(status) => return Err(format!("failed with {status}")),
            None => {}
        }
        if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("timed out after {}s", hook.timeout.unwrap_or_default().as_secs()));
        }
        match &stdin {
            Some(writer) => writer.wait_writable(poll_interval),
            None => std::thread::sleep(poll_interval),
        }
    }
}

/// The state, written to the hook's stdin without ever blocking.
struct StateWriter<'a> {
    pipe: ChildStdin,
    rest: &'a [u8],
}

impl<'a> StateWriter<'a> {
    fn new(pipe: ChildStdin, state: &'a [u8]) -> Self {
        let flags = fcntl(&pipe, FcntlArg::F_GETFL).unwrap_or(0);
        let nonblocking = OFlag::from_bits_truncate(flags) | OFlag::O_NONBLOCK;
        // Should this fail, writes block as before, still bounded by the
        // hook's exit.
        let _ = fcntl(&pipe, FcntlArg::F_SETFL(nonblocking));
        StateWriter { pipe, rest: state }
    }

    /// Writes what the pipe takes; true once done: all written, or the
    /// hook closed its stdin (a hook that does not read is no failure).
    fn write_some(&mut self) -> bool {
        while !self.rest.is_empty() {
            match self.pipe.write(self.rest) {
                Ok(0) => return true,
                Ok(written) => self.rest = &self.rest[written..],
                Err(err) if err.kind() == ErrorKind::Interrupted => {}
                Err(err) if err.kind() == ErrorKind::WouldBlock => return false,
                Err(_) => return true,
            }
        }
        true
    }

    fn wait_writable(&self, at_most: Duration) {
        let timeout = PollTimeout::try_from(at_most).unwrap_or(PollTimeout::ZERO);
        let _ = poll(&mut [PollFd::new(self.pipe.as_fd(), PollFlags::POLLOUT)], timeout);
    }
}

/// SIGPIPE ignored while alive, the previous disposition restored after.
struct IgnoredSigpipe(Option<SigHandler>);

impl IgnoredSigpipe {
    fn new() -> Self {
        // SAFETY: SIG_IGN runs no code in the signal's context.
        IgnoredSigpipe(unsafe { signal(Signal::SIGPIPE, SigHandler::SigIgn) }.ok())
    }
}

impl Drop for IgnoredSigpipe {
    fn drop(&mut self) {
        if let Some(previous) = self.0 {
            // SAFETY: restores the disposition in place before (SIG_DFL or
            // SIG_IGN in this runtime, which installs no SIGPIPE handler).
            let _ = unsafe { signal(Signal::SIGPIPE, previous) };
        }
    }
}
