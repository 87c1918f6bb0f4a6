//! The foreground wait of `run` and `exec`: forward signals to the
//! container's process, copy its terminal if it has one, and return its
//! exit status the way a shell reports it (128 + signal when killed).

use std::os::fd::{AsFd, OwnedFd};

use nix::{
    sys::{
        signal::{Signal, kill},
        wait::{WaitPidFlag, WaitStatus, waitpid},
    },
    unistd::Pid,
};

use super::signals::BlockedSignals;
use crate::{
    console::{RawMode, copy_window_size, poll_with_terminal, pump},
    error::{Context, Result},
};

pub fn wait_forwarding(
    pid: Pid,
    signals: &BlockedSignals,
    terminal: Option<OwnedFd>,
) -> Result<i32> {
    let _raw = terminal.as_ref().map(|master| {
        copy_window_size(master);
        RawMode::enter()
    });
    let mut master = terminal;
    let mut stdin_open = true;
    loop {
        let ready = poll_with_terminal(signals.fd.as_fd(), master.as_ref(), stdin_open)?;
        if let Some(terminal) = &master
            && !pump(terminal, &mut stdin_open, &ready)
        {
            master = None;
        }
        if !ready[0] {
            continue;
        }
        while let Some(info) = signals.fd.read_signal().context(|| "reading signals".to_owned())? {
            let Ok(signal) = Signal::try_from(info.ssi_signo.cast_signed()) else { continue };
            if signal != Signal::SIGCHLD {
                if signal == Signal::SIGWINCH
                    && let Some(terminal) = &master
                {
                    copy_window_size(terminal);
                }
                let _ = kill(pid, signal);
                continue;
            }
            if let Some(code) = reap(pid)? {
                if let Some(terminal) = &master {
                    drain(terminal, &mut stdin_open);
                }
                return Ok(code);
            }
        }
    }
}

/// Reaps exited children; the status of `pid` once it is among them.
fn reap(pid: Pid) -> Result<Option<i32>> {
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(child, code)) if child == pid => return Ok(Some(code)),
            Ok(WaitStatus::Signaled(child, signal, _)) if child == pid => {
                return Ok(Some(128 + signal as i32));
            }
            Ok(WaitStatus::StillAlive) | Err(nix::errno::Errno::ECHILD) => return Ok(None),
            Ok(_) => continue,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(err) => return Err(err).context(|| "waitpid".to_owned()),
        }
    }
}

/// What the process wrote just before exiting is still in the pty.
fn drain(master: &OwnedFd, stdin_open: &mut bool) {
    *stdin_open = false;
    loop {
        let mut fds = [nix::poll::PollFd::new(master.as_fd(), nix::poll::PollFlags::POLLIN)];
        let ready = nix::poll::poll(&mut fds, nix::poll::PollTimeout::ZERO).unwrap_or(0) > 0;
        if !ready || !pump(master, stdin_open, &[false, true]) {
            break;
        }
    }
}
