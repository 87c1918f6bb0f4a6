//! `cradle-runtime`: cradle's built-in OCI runtime.
//!
//! It owns what `runc create` / `runc init` do: read an OCI bundle, validate
//! its `config.json`, start the container's init in new namespaces, build
//! the root filesystem out of mounts, switch root with `pivot_root`, wait
//! for `start`, and `execve` the user's process; plus runc's lifecycle
//! around it (`state`, `kill`, `delete`, `run`, `exec`, `list`) with state
//! kept under a root directory, one directory per container.
//!
//! It must not touch tracing or probes: it knows nothing of the probes'
//! eBPF, events or reports. The binary drives it and may trace it from
//! outside. The only BPF it loads is its own: the seccomp filter, and on a
//! pure cgroup v2 host the device rules' program ([`cgroups::devices`]).
//!
//! # Process model
//!
//! The calling process is single-threaded when it runs a runtime command,
//! so the init is made with a plain `clone(2)` (fork semantics, with the
//! namespace flags) and continues in Rust in the child: no hidden `init`
//! subcommand. A command that enters a container first re-executes the
//! whole runtime once from a sealed copy of its binary ([`exeseal`]), so
//! that neither the init nor `exec`'s child is a way to the host's binary. Stages
//! live in [`process`]: the parent prepares every file descriptor and
//! validates everything first, the init reports `Ready` or `Failed(reason)`
//! over a pipe ([`process::channel`]) and then blocks on the exec fifo until
//! `start` opens it, as runc does.
//!
//! # Hardening
//!
//! [`security`] holds capabilities, no_new_privileges, seccomp (compiled
//! to BPF here) and AppArmor, applied last before `execve`; masked and
//! read-only paths are in [`rootfs::paths`]; sysctl is checked in
//! [`config`] and written by [`process::sysctl`].
//!
//! [`cgroups`] creates the container's cgroup, writes `linux.resources`
//! (device rules as an eBPF program on cgroup v2) and moves the init in
//! before it runs anything of the user's.
//!
//! [`hooks`] runs the spec's hooks at their points of the lifecycle.
//!
//! [`network`] connects a container to a bridge over rtnetlink when asked
//! (`--net bridge`); otherwise it has only loopback, as with runc.
//!
//! # Not applied
//!
//! Resource fields cradle does not write (hugepages, rdma, per-device
//! block I/O, ...) are accepted, and a warning names them as *not
//! applied*. Fields that would change the container's semantics in a
//! way cradle does not implement (user and time namespaces, id mappings,
//! personality, ...) are rejected.

pub mod bundle;
pub mod cgroups;
pub mod config;
pub mod console;
pub mod error;
pub mod exec;
pub mod exeseal;
pub mod features;
pub mod hooks;
pub mod id;
pub mod lifecycle;
pub mod mount_options;
pub mod mountinfo;
pub mod network;
pub mod process;
pub mod rootfs;
pub mod security;
pub mod state;
pub mod syscall;
mod util;

pub use config::ContainerConfig;
pub use error::{Error, Result};
pub use lifecycle::{CreateOptions, KillTarget, RunOptions, Runtime};
pub use state::{ContainerState, Status};
pub use util::rfc3339_now;
