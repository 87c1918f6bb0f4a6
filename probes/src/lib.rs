//! The userspace half of cradle's probes.
//!
//! Owns: the eBPF object (built from `probes-ebpf/` by this crate's build
//! script and embedded here), the kernel layout read from BTF, loading and
//! attaching the programs, the tracked-task registration, reading and
//! decoding the ring buffer, loss accounting, and finding out what the
//! running kernel allows (`doctor`).
//!
//! Must not touch: presentation (the `cradle` binary, `reports`, `tui`) and
//! the container runtime, which knows nothing of tracing.

pub mod collector;
mod cstr;
pub mod decode;
pub mod describe;
pub mod doctor;
pub mod event;
pub mod explain;
pub mod fd_paths;
pub mod join;
pub mod layout;
pub mod loader;
pub mod names;
mod netlink;
pub mod printable;
pub mod programs;
pub mod recording;
pub mod schema_file;
pub mod stream;
mod syscalls;
pub mod timefmt;
pub mod trace_file;
pub mod tracefs;

pub use cradle_probes_common as abi;
pub use event::{
    Detail, Event, ExitStatus, LinkPlacement, NamespaceHook, NamespaceSource, Namespaces,
    VethEndpoint,
};
pub use join::Joiner;
pub use loader::{DEFAULT_RUNTIMES, ProbeConfig, ProbeError, Probes, SelfRegistrar, TrackMode};
pub use stream::EventStream;
