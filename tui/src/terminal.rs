//! The terminal, taken over and given back: raw mode and the alternate
//! screen while the UI runs, restored when it ends however it ends (quit,
//! error or panic), and restored once: leaving the alternate screen twice
//! would move the cursor back over what was printed since.

use std::{
    io::{self, IsTerminal, Stdout},
    os::fd::{AsFd, AsRawFd},
    sync::{
        Once,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use ratatui::{
    Terminal,
    backend::CrosstermBackend,
    crossterm::{
        cursor::Show,
        execute,
        terminal::{EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode},
    },
};

/// The terminal is in the UI's hands.
static TAKEN: AtomicBool = AtomicBool::new(false);
static PANIC_HOOK: Once = Once::new();

/// The UI's terminal; restores the user's terminal when dropped.
pub struct Screen {
    pub terminal: Terminal<CrosstermBackend<Stdout>>,
}

impl Screen {
    /// Takes over the terminal. The first call also installs a panic hook
    /// that restores the terminal before the panic message is printed.
    pub fn enter() -> io::Result<Screen> {
        if !io::stdout().is_terminal() || !io::stdin().is_terminal() {
            return Err(io::Error::other("the TUI needs a terminal on stdin and stdout"));
        }
        PANIC_HOOK.call_once(|| {
            let previous = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                restore();
                previous(info);
            }));
        });
        enable_raw_mode()?;
        TAKEN.store(true, Ordering::SeqCst);
        let taken = execute!(io::stdout(), EnterAlternateScreen)
            .and_then(|()| Terminal::new(CrosstermBackend::new(io::stdout())));
        match taken {
            Ok(terminal) => Ok(Screen { terminal }),
            Err(err) => {
                restore();
                Err(err)
            }
        }
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        restore();
    }
}

/// What waiting on the terminal's input found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Input {
    /// Keys (or other input) to read.
    Ready,
    /// Nothing within the wait.
    Idle,
    /// The terminal went away: its window closed, its tmux pane was killed.
    HungUp,
}

/// Waits at most `timeout` for input on the UI's terminal (stdin).
/// On a hang-up it also points the outputs that were that terminal at
/// /dev/null (see `silence_dead_terminal`), before anyone prints to them.
pub fn wait_for_input(timeout: Duration) -> io::Result<Input> {
    let stdin = io::stdin();
    let mut fds = [PollFd::new(stdin.as_fd(), PollFlags::POLLIN)];
    let timeout = PollTimeout::try_from(timeout).unwrap_or(PollTimeout::MAX);
    match poll(&mut fds, timeout) {
        Ok(0) => Ok(Input::Idle),
        Ok(_) => {
            let events = fds[0].revents().unwrap_or(PollFlags::empty());
            if events.intersects(PollFlags::POLLHUP | PollFlags::POLLERR | PollFlags::POLLNVAL) {
                silence_dead_terminal();
                Ok(Input::HungUp)
            } else {
                Ok(Input::Ready)
            }
        }
        Err(nix::errno::Errno::EINTR) => Ok(Input::Idle),
        Err(errno) => Err(errno.into()),
    }
}

/// Points stdout and stderr, where they are the terminal that went away,
/// at /dev/null. Writing there fails from now on, and a failed print
/// panics: the terminal library's own clean-up prints, and a second panic
/// while one unwinds aborts the process, which would leave stopped for
/// good the tasks that step mode stopped.
fn silence_dead_terminal() {
    let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") else { return };
    let Ok(terminal) = nix::sys::stat::fstat(io::stdin()) else { return };
    for output in [io::stdout().as_fd(), io::stderr().as_fd()] {
        let same = nix::sys::stat::fstat(output)
            .is_ok_and(|stat| stat.st_rdev == terminal.st_rdev && stat.st_ino == terminal.st_ino);
        if same {
            // SAFETY: both descriptors are open for the call; dup2 replaces
            // the output's descriptor in place, so every holder of it (the
            // standard streams) writes to /dev/null from now on.
            let _ = unsafe { libc::dup2(null.as_raw_fd(), output.as_raw_fd()) };
        }
    }
}

/// Gives the terminal back, if the UI has it.
fn restore() {
    if TAKEN.swap(false, Ordering::SeqCst) {
        let raw = disable_raw_mode();
        let screen = execute!(io::stdout(), LeaveAlternateScreen, Show);
        if let Err(err) = raw.and(screen) {
            tracing::warn!(%err, "restoring the terminal");
        }
    }
}
