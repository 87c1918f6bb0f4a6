//! The terminal UI's edges in the binary: `cradle tui TRACE` (replay), and
//! the report of what a UI session measured.

use std::{path::PathBuf, process::ExitCode};

use anyhow::Context;
use cradle_events::trace_file::{Trace, Truncation};
use cradle_tui::Report;

use crate::cli::TuiArgs;

/// Where to write the UI's frame times and counters when it closes, as
/// JSON (tests and benchmarks read it).
const REPORT_ENV: &str = "CRADLE_TUI_REPORT";

pub fn replay(args: TuiArgs) -> anyhow::Result<ExitCode> {
    let path = args.trace.display();
    let trace = Trace::read(&args.trace).with_context(|| format!("reading {path}"))?;
    let truncation = trace.truncation.clone();
    let report = cradle_tui::replay(trace).context("running the terminal UI")?;
    write_report(&report)?;
    match truncation {
        Some(Truncation::NoTrailer) => eprintln!("cradle: {path} is truncated: no trailer"),
        Some(Truncation::CutLine { line }) => {
            eprintln!("cradle: {path} is truncated: line {line} cut short")
        }
        None => {}
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes the report to the file named by `CRADLE_TUI_REPORT`, if set.
pub fn write_report(report: &Report) -> anyhow::Result<()> {
    let Some(path) = std::env::var_os(REPORT_ENV).map(PathBuf::from) else { return Ok(()) };
    let json = serde_json::to_vec_pretty(report).context("encoding the UI report")?;
    std::fs::write(&path, json).with_context(|| format!("writing the UI report {}", path.display()))
}
