//! cradle's event model: everything between a raw ring-buffer record and a
//! presentation, with no kernel and no eBPF toolchain in sight.
//!
//! Owns: decoding the kernel's records (their layout is `probes-common`'s)
//! into [`Event`]s and pairing their halves ([`Joiner`]); the container model
//! built from events ([`collector`]); the trace file (reader, writer, schema);
//! the words for events and phases ([`describe`], [`explain`]) and the name
//! tables they use; time formatting.
//!
//! Must not touch: the kernel (loading programs, maps, the ring buffer are
//! `cradle-probes`'), presentation (the `cradle` binary, `reports`, `tui`,
//! `export` depend on this crate, never the reverse) and the container
//! runtime, which knows nothing of tracing.

pub mod collector;
mod cstr;
pub mod decode;
pub mod describe;
pub mod event;
pub mod explain;
pub mod fd_paths;
pub mod join;
pub mod kinds;
pub mod loss;
pub mod names;
mod netlink;
pub mod printable;
pub mod recording;
pub mod records;
pub mod schema_file;
pub mod timefmt;
pub mod trace_file;

pub use cradle_probes_common as abi;
pub use event::{
    Detail, Event, ExitStatus, LinkPlacement, NamespaceHook, NamespaceSource, Namespaces,
    VethEndpoint,
};
pub use join::Joiner;
