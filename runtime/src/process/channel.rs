//! Typed messages over close-on-exec pipes, length-prefixed JSON: the
//! init's reports to the parent ([`InitMessage`]) and the parent's go-ahead
//! to the init ([`ParentMessage`]). End of file without a message means
//! the other side died (or, for `exec`, that `execve` succeeded and closed
//! the pipe).

use std::{
    fs::File,
    io::{ErrorKind, Read, Write},
    marker::PhantomData,
    os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd},
};

use nix::{fcntl::OFlag, unistd::pipe2};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::error::{Context, Error, Result};

#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum InitMessage {
    /// Everything is set up; the init now waits for `start`.
    Ready,
    /// Setup failed; the reason, then the child exits.
    Failed(String),
    /// The seccomp filter is installed, and this descriptor of the
    /// child's is its listener, for the runtime to copy and send to the
    /// agent; the child waits for [`ParentMessage::SeccompListenerSent`].
    SeccompListener(RawFd),
}

/// The parent's messages to the init, in this order (`exec`'s child gets
/// only the last).
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ParentMessage {
    /// Build what does not depend on the cgroup (the root filesystem's
    /// mounts) while the parent places the init. The OCI state for its
    /// hooks, while creating and once created.
    Begin { creating: String, created: String },
    /// The init is in its cgroups, its network is set up and the runtime's
    /// hooks have run: it may unshare its cgroup namespace and go on.
    Placed,
    /// The seccomp agent has the listener: go on.
    SeccompListenerSent,
}

/// The child's side of [`InitMessage::SeccompListener`]: only a write
/// and a read, which a notify rule cannot take (write) or which the
/// agent, given the listener meanwhile, answers. The listener is closed
/// after, so that the agent holds the only copy.
pub fn hand_over_listener(
    report: &mut Sender,
    from_parent: &mut Receiver<ParentMessage>,
    listener: OwnedFd,
) -> Result<()> {
    report.send(&InitMessage::SeccompListener(listener.as_raw_fd()))?;
    match from_parent.recv()? {
        Some(ParentMessage::SeccompListenerSent) => Ok(()),
        Some(other) => Err(Error::Init(format!("unexpected {other:?} from the runtime"))),
        None => Err(Error::Init(
            "the runtime went away while sending the seccomp listener to the agent".into(),
        )),
    }
}

pub struct Sender<M = InitMessage>(File, PhantomData<M>);
pub struct Receiver<M = InitMessage>(File, PhantomData<M>);

pub fn channel<M>() -> Result<(Sender<M>, Receiver<M>)> {
    let (read, write): (OwnedFd, OwnedFd) =
        pipe2(OFlag::O_CLOEXEC).context(|| "creating the init pipe".to_owned())?;
    Ok((Sender(File::from(write), PhantomData), Receiver(File::from(read), PhantomData)))
}

impl<M> AsFd for Sender<M> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

impl<M> AsFd for Receiver<M> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

impl<M: Serialize> Sender<M> {
    pub fn send(&mut self, message: &M) -> Result<()> {
        let body = serde_json::to_vec(message).expect("message serializes");
        let length = u32::try_from(body.len())
            .map_err(|_| std::io::Error::other(format!("a {}-byte message", body.len())))
            .context(|| "reporting to the runtime".to_owned())?;
        let mut frame = length.to_le_bytes().to_vec();
        frame.extend_from_slice(&body);
        self.0.write_all(&frame).context(|| "reporting to the runtime".to_owned())
    }
}

impl<M: DeserializeOwned> Receiver<M> {
    /// The next message, or `None` at end of file.
    pub fn recv(&mut self) -> Result<Option<M>> {
        let mut length = [0u8; 4];
        match self.0.read_exact(&mut length) {
            Ok(()) => {}
            Err(err) if err.kind() == ErrorKind::UnexpectedEof => return Ok(None),
            Err(err) => return Err(err).context(|| "reading the init's report".to_owned()),
        }
        let mut body = vec![0u8; u32::from_le_bytes(length) as usize];
        self.0.read_exact(&mut body).context(|| "reading the init's report".to_owned())?;
        serde_json::from_slice(&body)
            .map(Some)
            .map_err(|err| Error::Init(format!("malformed report: {err}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_then_eof() {
        let (mut sender, mut receiver) = channel::<InitMessage>().unwrap();
        sender.send(&InitMessage::Failed("mount on /x: ENOENT".into())).unwrap();
        sender.send(&InitMessage::Ready).unwrap();
        drop(sender);
        assert_eq!(
            receiver.recv().unwrap(),
            Some(InitMessage::Failed("mount on /x: ENOENT".into()))
        );
        assert_eq!(receiver.recv().unwrap(), Some(InitMessage::Ready));
        assert_eq!(receiver.recv().unwrap(), None);
    }
}
