//! Reports on saved traces: the audit report of each container's birth and
//! its security findings (JSON, text, SARIF), the diff of two traces for
//! regression tests, and timeline exports (Perfetto / Chrome trace events,
//! SVG).
//!
//! Owns: reading a trace file into an analysable form, the report model and
//! its JSON Schema (`schemas/report.schema.json`), the finding rules, trace
//! normalisation and alignment for `diff`, and the export formats.
//!
//! Must not touch: the kernel, loading or running the probes, and the
//! container runtime. Everything here is computed from trace files that
//! `cradle-probes` wrote, with its types (data flows probes -> reports).

pub mod build;
pub mod diff;
pub mod load;
pub mod model;
pub mod perfetto;
pub mod rules;
pub mod sarif;
pub mod svg;
pub mod text;

pub use build::build_report;
pub use load::{LoadError, LoadedTrace};
pub use model::Report;
pub use rules::{RULES, Rule, Severity};
