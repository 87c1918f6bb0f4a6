//! Handing a filter's listener to the seccomp agent at `listenerPath`, as
//! runc does. The process that installed the filter (the init, or `exec`'s
//! child) only writes the listener's number to its runtime and waits:
//! a `sendmsg` of its own could be a call the filter hands to the agent,
//! which does not have the listener yet. The runtime copies the
//! descriptor out with `pidfd_getfd(2)`, connects to the agent, sends the
//! runtime-spec's container process state with the listener as
//! `SCM_RIGHTS` in one message, closes its copy, and only then lets the
//! process go on: the agent holds the listener before anything of the
//! user's runs.

use std::{
    collections::BTreeMap,
    io::IoSlice,
    os::{
        fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd},
        linux::net::SocketAddrExt,
        unix::net::{SocketAddr, UnixStream},
    },
    path::Path,
};

use nix::sys::socket::{ControlMessage, MsgFlags, sendmsg};
use oci_spec::runtime::{ContainerProcessState, ContainerState, SECCOMP_FD_NAME, State};
use rustix::process::{Pid, PidfdFlags, PidfdGetfdFlags, pidfd_getfd, pidfd_open};

use super::Agent;
use crate::{
    error::{Context, Error, Result},
    features::SPEC_VERSION,
};

/// The container, as the agent is told of it.
pub struct ContainerInfo<'a> {
    pub id: &'a str,
    pub status: ContainerState,
    /// The container's init.
    pub init_pid: i32,
    pub bundle: &'a Path,
    pub annotations: &'a BTreeMap<String, String>,
}

/// runc's message: the process with the filter (`pid`), the container,
/// `fds` naming the one descriptor sent, and `listenerMetadata`.
pub fn process_state(pid: i32, container: &ContainerInfo<'_>, metadata: &str) -> Vec<u8> {
    let mut state = State::default();
    state
        .set_version(SPEC_VERSION.to_owned())
        .set_id(container.id.to_owned())
        .set_status(container.status)
        .set_pid(Some(container.init_pid))
        .set_bundle(container.bundle.to_owned())
        .set_annotations(
            (!container.annotations.is_empty()).then(|| {
                container.annotations.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
            }),
        );
    let mut message = ContainerProcessState::default();
    message
        .set_version(SPEC_VERSION.to_owned())
        .set_fds(vec![SECCOMP_FD_NAME.to_owned()])
        .set_pid(pid)
        .set_metadata((!metadata.is_empty()).then(|| metadata.to_owned()))
        .set_state(state);
    serde_json::to_vec(&message).expect("the process state serializes")
}

/// The runtime's side of a handover: copies listener `fd` out of process
/// `pid`, whose filter is `security`'s, and sends it to the agent.
pub fn forward(
    security: &crate::security::Security,
    pid: i32,
    fd: RawFd,
    container: &ContainerInfo<'_>,
) -> Result<()> {
    let Some(agent) = security.seccomp.as_ref().and_then(|filter| filter.agent.as_ref()) else {
        return Err(Error::Init("sent a seccomp listener, but no rule notifies an agent".into()));
    };
    let listener = take_from(pid, fd)?;
    send(agent, &process_state(pid, container, &agent.metadata), listener.as_fd())
}

/// A copy of descriptor `fd` of process `pid`.
pub fn take_from(pid: i32, fd: RawFd) -> Result<OwnedFd> {
    let context = || format!("copying the seccomp listener (descriptor {fd}) of process {pid}");
    let pid = Pid::from_raw(pid).ok_or_else(|| Error::Init(format!("{}: no pid", context())))?;
    let pidfd =
        pidfd_open(pid, PidfdFlags::empty()).map_err(std::io::Error::from).context(context)?;
    pidfd_getfd(&pidfd, fd, PidfdGetfdFlags::empty()).map_err(std::io::Error::from).context(context)
}

/// Connects to the agent and sends it `message` with the listener.
pub fn send(agent: &Agent, message: &[u8], listener: BorrowedFd<'_>) -> Result<()> {
    let field = || format!("linux.seccomp.listenerPath {:?}", agent.path.display().to_string());
    let stream = connect(&agent.path).context(|| {
        format!(
            "{}: failed to connect with seccomp agent specified in the seccomp profile",
            field()
        )
    })?;
    let fds = [listener.as_raw_fd()];
    let sent = sendmsg::<()>(
        stream.as_fd().as_raw_fd(),
        &[IoSlice::new(message)],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::MSG_NOSIGNAL,
        None,
    )
    .context(|| format!("{}: cannot send the seccomp listener", field()))?;
    if sent != message.len() {
        return Err(Error::Init(format!(
            "{}: sent {sent} of {} bytes of the process state",
            field(),
            message.len()
        )));
    }
    Ok(())
}

/// `@NAME` is an abstract socket, as Go's dialer reads it.
fn connect(path: &Path) -> std::io::Result<UnixStream> {
    match path.to_str().and_then(|path| path.strip_prefix('@')) {
        Some(name) => UnixStream::connect_addr(&SocketAddr::from_abstract_name(name)?),
        None => UnixStream::connect(path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_state_is_runcs_message() {
        let annotations = BTreeMap::from([("org.example".to_owned(), "yes".to_owned())]);
        let container = ContainerInfo {
            id: "c1",
            status: ContainerState::Creating,
            init_pid: 42,
            bundle: Path::new("/b"),
            annotations: &annotations,
        };
        // runc 1.1's (specs-go ContainerProcessState), field for field.
        let expected = format!(
            r#"{{"ociVersion":"{SPEC_VERSION}","fds":["seccompFd"],"pid":42,"metadata":"bar","state":{{"ociVersion":"{SPEC_VERSION}","id":"c1","status":"creating","pid":42,"bundle":"/b","annotations":{{"org.example":"yes"}}}}}}"#
        );
        assert_eq!(String::from_utf8(process_state(42, &container, "bar")).unwrap(), expected);
        // Empty metadata and annotations are left out, as Go's omitempty.
        let empty = BTreeMap::new();
        let container =
            ContainerInfo { status: ContainerState::Running, annotations: &empty, ..container };
        let expected = format!(
            r#"{{"ociVersion":"{SPEC_VERSION}","fds":["seccompFd"],"pid":7,"state":{{"ociVersion":"{SPEC_VERSION}","id":"c1","status":"running","pid":42,"bundle":"/b"}}}}"#
        );
        assert_eq!(String::from_utf8(process_state(7, &container, "")).unwrap(), expected);
    }

    #[test]
    fn the_agent_gets_the_message_and_the_descriptor() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agent.sock");
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let (read, write) = nix::unistd::pipe().unwrap();
        let agent = Agent { path: path.clone(), metadata: String::new() };
        send(&agent, b"{\"x\":1}", write.as_fd()).unwrap();
        drop(write);
        let (stream, _) = listener.accept().unwrap();
        let mut buffer = [0u8; 64];
        let mut payload = [std::io::IoSliceMut::new(&mut buffer)];
        let mut space = nix::cmsg_space!([RawFd; 1]);
        let message = nix::sys::socket::recvmsg::<()>(
            stream.as_raw_fd(),
            &mut payload,
            Some(&mut space),
            MsgFlags::empty(),
        )
        .unwrap();
        let fds: Vec<RawFd> = message
            .cmsgs()
            .unwrap()
            .flat_map(|cmsg| match cmsg {
                nix::sys::socket::ControlMessageOwned::ScmRights(fds) => fds,
                _ => Vec::new(),
            })
            .collect();
        assert_eq!(message.bytes, 7);
        assert_eq!(fds.len(), 1);
        // SAFETY: SCM_RIGHTS gave us this descriptor; nothing else owns it.
        let received = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fds[0]) };
        // The received descriptor is the pipe's write end.
        nix::unistd::write(&received, b"z").unwrap();
        let mut byte = [0u8; 1];
        nix::unistd::read(&read, &mut byte).unwrap();
        assert_eq!(&byte, b"z");

        let missing = Agent { path: dir.path().join("nobody.sock"), metadata: String::new() };
        let err = send(&missing, b"{}", read.as_fd()).unwrap_err().to_string();
        assert!(err.contains("linux.seccomp.listenerPath") && err.contains("nobody.sock"), "{err}");
        assert!(err.contains("failed to connect with seccomp agent"), "{err}");
    }
}
