//! Terminals, with runc's console-socket protocol: the init opens a pty
//! inside the container, makes the slave its controlling terminal and
//! stdio, and sends the master over a unix socket (`SCM_RIGHTS`, the pty
//! name as payload). `run` and `exec` in the foreground use a socketpair
//! of their own and then copy between their stdio and the master.

use std::{
    fs::File,
    io::{IoSlice, IoSliceMut, Read, Write},
    os::{
        fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd},
        unix::net::UnixStream,
    },
    path::Path,
};

use nix::{
    fcntl::OFlag,
    mount::MsFlags,
    poll::{PollFd, PollFlags, PollTimeout, poll},
    pty::{grantpt, posix_openpt, ptsname_r, unlockpt},
    sys::{
        socket::{ControlMessage, ControlMessageOwned, MsgFlags, recvmsg, sendmsg},
        termios::{self, SetArg, Termios},
    },
    unistd::{dup2_stderr, dup2_stdin, dup2_stdout, setsid},
};

use crate::error::{Context, Error, Result};

/// Connects to a console socket given on the command line.
pub fn connect(path: &Path) -> Result<OwnedFd> {
    let stream = UnixStream::connect(path)
        .context(|| format!("connecting to console socket {}", path.display()))?;
    Ok(OwnedFd::from(stream))
}

/// A connected pair: the child's end and ours.
pub fn socketpair() -> Result<(OwnedFd, OwnedFd)> {
    let (ours, theirs) =
        UnixStream::pair().context(|| "creating a console socketpair".to_owned())?;
    Ok((OwnedFd::from(theirs), OwnedFd::from(ours)))
}

/// In the container's process: opens a pty from the container's devpts,
/// sends the master, and takes the slave as controlling terminal and
/// stdio. With `console`, the slave is also bind-mounted on /dev/console.
pub fn become_console_owner(socket: &OwnedFd, console: bool) -> Result<()> {
    let master = posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)
        .context(|| "opening /dev/ptmx".to_owned())?;
    grantpt(&master).context(|| "grantpt".to_owned())?;
    unlockpt(&master).context(|| "unlockpt".to_owned())?;
    let name = ptsname_r(&master).context(|| "ptsname".to_owned())?;
    let slave = nix::fcntl::open(
        Path::new(&name),
        OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .context(|| format!("opening {name}"))?;
    if console {
        File::create("/dev/console").context(|| "creating /dev/console".to_owned())?;
        nix::mount::mount(
            Some(Path::new(&name)),
            "/dev/console",
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .context(|| format!("bind-mounting {name} on /dev/console"))?;
    }
    send_fd(socket.as_fd(), master.as_fd(), name.as_bytes())?;
    drop(master);
    setsid().context(|| "setsid".to_owned())?;
    // SAFETY: TIOCSCTTY takes an int argument and only changes the
    // session's controlling terminal.
    if unsafe { libc::ioctl(slave.as_raw_fd(), libc::TIOCSCTTY, 0) } < 0 {
        return Err(std::io::Error::last_os_error()).context(|| "TIOCSCTTY".to_owned());
    }
    dup2_stdin(&slave).context(|| "dup2 stdin".to_owned())?;
    dup2_stdout(&slave).context(|| "dup2 stdout".to_owned())?;
    dup2_stderr(&slave).context(|| "dup2 stderr".to_owned())?;
    Ok(())
}

fn send_fd(socket: BorrowedFd<'_>, fd: BorrowedFd<'_>, name: &[u8]) -> Result<()> {
    let fds = [fd.as_raw_fd()];
    let payload = [IoSlice::new(name)];
    sendmsg::<()>(
        socket.as_raw_fd(),
        &payload,
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )
    .context(|| "sending the terminal to the console socket".to_owned())?;
    Ok(())
}

/// Receives the terminal master sent by [`become_console_owner`].
pub fn receive_master(socket: &OwnedFd) -> Result<OwnedFd> {
    let mut name = [0u8; 4096];
    let mut payload = [IoSliceMut::new(&mut name)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let message = recvmsg::<()>(
        socket.as_raw_fd(),
        &mut payload,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .context(|| "receiving the terminal".to_owned())?;
    for cmsg in message.cmsgs().context(|| "reading the terminal message".to_owned())? {
        if let ControlMessageOwned::ScmRights(fds) = cmsg
            && let Some(&fd) = fds.first()
        {
            // SAFETY: SCM_RIGHTS gave us a new descriptor nobody else owns.
            return Ok(unsafe { OwnedFd::from_raw_fd(fd) });
        }
    }
    Err(Error::Init("the container sent no terminal".to_owned()))
}

/// Puts our terminal (if stdin is one) in raw mode until dropped.
pub struct RawMode {
    saved: Option<Termios>,
}

impl RawMode {
    pub fn enter() -> Self {
        let stdin = std::io::stdin();
        let Ok(saved) = termios::tcgetattr(stdin.as_fd()) else { return RawMode { saved: None } };
        let mut raw = saved.clone();
        termios::cfmakeraw(&mut raw);
        let _ = termios::tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw);
        RawMode { saved: Some(saved) }
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if let Some(saved) = &self.saved {
            let _ = termios::tcsetattr(std::io::stdin().as_fd(), SetArg::TCSANOW, saved);
        }
    }
}

/// Copies the window size of our terminal to the container's.
pub fn copy_window_size(master: &OwnedFd) {
    // SAFETY: TIOCGWINSZ/TIOCSWINSZ read and write a winsize we own.
    unsafe {
        let mut size: libc::winsize = std::mem::zeroed();
        if libc::ioctl(libc::STDIN_FILENO, libc::TIOCGWINSZ, &mut size) == 0 {
            libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &size);
        }
    }
}

/// One round of copying: stdin -> master and master -> stdout, for the
/// descriptors `poll` reported ready. Returns false once the master is done.
pub fn pump(master: &OwnedFd, stdin_open: &mut bool, ready: &[bool]) -> bool {
    let mut buffer = [0u8; 8192];
    let ready = |index: usize| ready.get(index).copied().unwrap_or(false);
    // fds[1] is the master, fds[2] stdin when open.
    if ready(1) {
        // SAFETY: borrowing the master as a File for one read; ManuallyDrop
        // keeps the descriptor open.
        let mut file =
            std::mem::ManuallyDrop::new(unsafe { File::from_raw_fd(master.as_raw_fd()) });
        match file.read(&mut buffer) {
            Ok(0) | Err(_) => return false,
            Ok(n) => {
                let mut out = std::io::stdout();
                let _ = out.write_all(&buffer[..n]);
                let _ = out.flush();
            }
        }
    }
    if *stdin_open && ready(2) {
        match std::io::stdin().read(&mut buffer) {
            Ok(0) | Err(_) => *stdin_open = false,
            Ok(n) => {
                // SAFETY: as above, a borrowed view of the master.
                let mut file =
                    std::mem::ManuallyDrop::new(unsafe { File::from_raw_fd(master.as_raw_fd()) });
                let _ = file.write_all(&buffer[..n]);
            }
        }
    }
    true
}

/// Polls the signalfd, the master and stdin; see [`pump`] for the order.
pub fn poll_with_terminal(
    signals: BorrowedFd<'_>,
    master: Option<&OwnedFd>,
    stdin_open: bool,
) -> Result<Vec<bool>> {
    let mut fds = vec![PollFd::new(signals, PollFlags::POLLIN)];
    if let Some(master) = master {
        fds.push(PollFd::new(master.as_fd(), PollFlags::POLLIN));
        if stdin_open {
            // SAFETY: stdin outlives this call.
            fds.push(PollFd::new(unsafe { BorrowedFd::borrow_raw(0) }, PollFlags::POLLIN));
        }
    }
    loop {
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) => break,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(err) => return Err(err).context(|| "poll".to_owned()),
        }
    }
    Ok(fds.iter().map(|fd| fd.revents().is_some_and(|r| !r.is_empty())).collect())
}
