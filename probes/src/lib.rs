//! The kernel half of cradle's tracer, as seen from userspace.
//!
//! Owns: the eBPF object (built from `probes-ebpf/` by this crate's build
//! script and embedded here), the kernel layout read from BTF, loading and
//! attaching the programs, the tracked-task registration, reading the ring
//! buffer and handing its records to `cradle-events`' decoder, loss
//! accounting, and finding out what the running kernel allows (`doctor`).
//!
//! Must not touch: what events mean (`cradle-events` decodes, attributes
//! and words them), presentation (the `cradle` binary, `reports`, `tui`)
//! and the container runtime, which knows nothing of tracing. Only the
//! binary depends on this crate, so only it needs the eBPF toolchain.

pub mod doctor;
pub mod layout;
pub mod loader;
pub mod programs;
pub mod stream;
pub mod tracefs;

pub use cradle_probes_common as abi;
pub use loader::{DEFAULT_RUNTIMES, ProbeConfig, ProbeError, Probes, SelfRegistrar, TrackMode};
pub use stream::EventStream;
