//! Joining namespaces by descriptor, and the loopback of a new network
//! namespace (runc brings it up).

use std::os::fd::{AsRawFd, OwnedFd};

use nix::{
    fcntl::{OFlag, open},
    sched::setns,
    sys::stat::Mode,
};

use crate::{
    config::NamespaceKind,
    error::{Context, Result},
};

pub struct NamespaceFd {
    pub kind: NamespaceKind,
    pub fd: OwnedFd,
}

pub fn open_namespace(kind: NamespaceKind, path: &std::path::Path) -> Result<NamespaceFd> {
    let fd = open(path, OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty())
        .context(|| format!("opening {} namespace {}", kind.proc_name(), path.display()))?;
    Ok(NamespaceFd { kind, fd })
}

/// Joins each namespace: the user namespace first (it grants the
/// capabilities to join the others it owns), the mount namespace last
/// (joining it changes the root and the working directory).
pub fn join_all(namespaces: &[NamespaceFd]) -> Result<()> {
    let rank = |kind| match kind {
        NamespaceKind::User => 0,
        NamespaceKind::Mount => 2,
        _ => 1,
    };
    let mut ordered: Vec<&NamespaceFd> = namespaces.iter().collect();
    ordered.sort_by_key(|ns| rank(ns.kind));
    for namespace in ordered {
        setns(&namespace.fd, namespace.kind.clone_flag())
            .context(|| format!("joining the {} namespace", namespace.kind.proc_name()))?;
    }
    Ok(())
}

/// Whether `/proc/PID/ns/NAME` differs from the caller's own.
pub fn differs_from_own(pid: i32, kind: NamespaceKind) -> bool {
    let theirs = std::fs::metadata(format!("/proc/{pid}/ns/{}", kind.proc_name()));
    let ours = std::fs::metadata(format!("/proc/self/ns/{}", kind.proc_name()));
    use std::os::unix::fs::MetadataExt;
    match (theirs, ours) {
        (Ok(theirs), Ok(ours)) => (theirs.dev(), theirs.ino()) != (ours.dev(), ours.ino()),
        _ => true,
    }
}

pub fn bring_up_loopback() -> Result<()> {
    // SAFETY: a plain socket(2) call; the result is checked and owned below.
    let socket = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if socket < 0 {
        return Err(std::io::Error::last_os_error()).context(|| "socket for lo".to_owned());
    }
    // SAFETY: `socket` is a fresh descriptor that nothing else owns.
    let socket = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(socket) };
    // SAFETY: ifreq is plain old data; all-zero is a valid value.
    let mut request: libc::ifreq = unsafe { std::mem::zeroed() };
    for (slot, byte) in request.ifr_name.iter_mut().zip(b"lo\0") {
        *slot = libc::c_char::from_ne_bytes([*byte]);
    }
    // SAFETY: SIOCGIFFLAGS/SIOCSIFFLAGS read and write the ifreq we own.
    unsafe {
        if libc::ioctl(socket.as_raw_fd(), libc::SIOCGIFFLAGS, &mut request) < 0 {
            return Err(std::io::Error::last_os_error())
                .context(|| "reading lo's flags".to_owned());
        }
        request.ifr_ifru.ifru_flags |=
            libc::c_short::try_from(libc::IFF_UP).expect("IFF_UP is bit 0");
        if libc::ioctl(socket.as_raw_fd(), libc::SIOCSIFFLAGS, &request) < 0 {
            return Err(std::io::Error::last_os_error()).context(|| "bringing lo up".to_owned());
        }
    }
    Ok(())
}
