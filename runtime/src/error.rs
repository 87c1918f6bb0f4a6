//! Errors of the runtime, with the file, field or value they are about.

use std::{io, path::PathBuf};

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid container id {id:?}: {reason}")]
    InvalidId { id: String, reason: &'static str },
    /// runc's wording, which tools match on.
    #[error("container with id exists: {0}")]
    AlreadyExists(String),
    #[error("container does not exist: {0}")]
    NotFound(String),
    /// A lifecycle operation that the container's status forbids; the
    /// message follows runc's.
    #[error("{0}")]
    InvalidState(String),
    #[error("cannot load {path}: {reason}")]
    ConfigLoad { path: PathBuf, reason: String },
    #[error("config.json: {field}: {reason}")]
    InvalidConfig { field: String, reason: String },
    /// A command-line argument that cannot be used, named as given.
    #[error("invalid {flag} argument: {reason}")]
    InvalidArgument { flag: String, reason: String },
    #[error("config.json: {field} is not supported by cradle: {reason}")]
    Unsupported { field: String, reason: String },
    // The cause is part of the message and deliberately not a `source`:
    // callers print the chain (`{:#}`), which would say it twice.
    #[error("{context}: {cause}")]
    Io { context: String, cause: io::Error },
    #[error("{context}: {cause}")]
    Sys { context: String, cause: nix::Error },
    /// The container's init reported a failure before the user's process.
    #[error("container init: {0}")]
    Init(String),
}

impl Error {
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidConfig { field: field.into(), reason: reason.into() }
    }

    pub fn unsupported(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Unsupported { field: field.into(), reason: reason.into() }
    }
}

/// Adds context to `io` and `nix` results.
pub trait Context<T> {
    fn context(self, context: impl FnOnce() -> String) -> Result<T>;
}

impl<T> Context<T> for Result<T, io::Error> {
    fn context(self, context: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|cause| Error::Io { context: context(), cause })
    }
}

impl<T> Context<T> for Result<T, nix::Error> {
    fn context(self, context: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|cause| Error::Sys { context: context(), cause })
    }
}
