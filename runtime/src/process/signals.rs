//! Signals around the fork: the runtime blocks the ones it forwards (and
//! reads them from a signalfd); a child undoes that, and resets what the
//! Rust runtime changed (SIGPIPE ignored), before it becomes the workload.

use nix::sys::{
    signal::{SigHandler, SigSet, SigmaskHow, Signal, signal, sigprocmask},
    signalfd::{SfdFlags, SignalFd},
};

use crate::error::{Context, Result};

/// Signals `run` and `exec` pass on to the container's process.
pub const FORWARDED: [Signal; 8] = [
    Signal::SIGHUP,
    Signal::SIGINT,
    Signal::SIGQUIT,
    Signal::SIGTERM,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGWINCH,
    Signal::SIGCONT,
];

/// Blocks the forwarded signals and SIGCHLD until dropped.
pub struct BlockedSignals {
    previous: SigSet,
    pub fd: SignalFd,
}

impl BlockedSignals {
    pub fn block() -> Result<Self> {
        let mut set = SigSet::empty();
        for signal in FORWARDED {
            set.add(signal);
        }
        set.add(Signal::SIGCHLD);
        let mut previous = SigSet::empty();
        sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), Some(&mut previous))
            .context(|| "blocking signals".to_owned())?;
        let fd = SignalFd::with_flags(&set, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
            .context(|| "creating a signalfd".to_owned())?;
        Ok(BlockedSignals { previous, fd })
    }
}

impl Drop for BlockedSignals {
    fn drop(&mut self) {
        let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&self.previous), None);
    }
}

/// In a freshly forked child: empty mask, default dispositions.
pub fn reset_in_child() -> Result<()> {
    sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None)
        .context(|| "clearing the signal mask".to_owned())?;
    for sig in Signal::iterator() {
        if matches!(sig, Signal::SIGKILL | Signal::SIGSTOP) {
            continue;
        }
        // SAFETY: installing SIG_DFL runs no handler code.
        let _ = unsafe { signal(sig, SigHandler::SigDfl) };
    }
    Ok(())
}

/// Parses a signal as `kill` takes it: `TERM`, `SIGTERM` or `15`.
pub fn parse_signal(text: &str) -> Option<Signal> {
    if let Ok(number) = text.parse::<i32>() {
        return Signal::try_from(number).ok();
    }
    let upper = text.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") { upper } else { format!("SIG{upper}") };
    name.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_and_numbers() {
        assert_eq!(parse_signal("TERM"), Some(Signal::SIGTERM));
        assert_eq!(parse_signal("sigkill"), Some(Signal::SIGKILL));
        assert_eq!(parse_signal("9"), Some(Signal::SIGKILL));
        assert_eq!(parse_signal("NOPE"), None);
        assert_eq!(parse_signal("999"), None);
    }
}
