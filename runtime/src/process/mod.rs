//! The processes of a container's birth.
//!
//! - [`parent`]: the runtime's own process (`create`, `run`): opens every
//!   descriptor the init needs, clones it into new namespaces, waits for
//!   its report.
//! - [`init`]: the container's init, from the clone to `execve`.
//! - [`channel`]: the typed messages the init sends back.
//! - [`namespaces`] and [`signals`]: shared by `init` and `exec`.
//! - [`user_namespace`]: the id maps of a new user namespace, and becoming
//!   root inside it.

pub mod channel;
pub mod init;
pub mod namespaces;
pub mod parent;
pub mod signals;
pub mod sysctl;
pub mod user;
pub mod user_namespace;
pub mod wait;
