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
    io::Write,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
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
                        Some(seconds) if seconds > 0 => Some(Duration::from_secs(seconds as u64)),
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
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that does not read its stdin is no failure.
        let _ = stdin.write_all(state.as_bytes());
    }
    let deadline = hook.timeout.map(|timeout| Instant::now() + timeout);
    loop {
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
        std::thread::sleep(Duration::from_millis(5));
    }
}
