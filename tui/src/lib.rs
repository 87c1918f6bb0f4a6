//! cradle's terminal UI: a timeline of container creation, live (fed by a
//! tracing session) or replayed from a trace file.
//!
//! Owns: the UI's state, key handling, layout and widgets, the terminal
//! (taken over and always restored), and the UI thread of live mode.
//!
//! Must not touch: the probes and the runtime. It uses `cradle-probes` for
//! its types (events, containers, trace files, descriptions and
//! explanations) only; the `cradle` binary loads the probes and feeds the
//! UI through [`Live`], which never makes the session wait.

pub mod app;
pub mod filter;
pub mod model;
pub mod replay;
pub mod run;
pub mod stats;
pub mod terminal;
pub mod view;

pub use app::{App, Feed, KernelStop};
pub use run::{Live, TuiError, replay, run};
pub use stats::Report;
