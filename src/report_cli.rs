//! `cradle report`, `cradle diff` and `cradle export`: the presentations of
//! saved traces that the `cradle-reports` crate computes. These commands
//! exit 2 on an error, so that 1 can mean "findings" (report) or
//! "different" (diff) to CI.

use std::{io::Write, path::PathBuf, process::ExitCode};

use anyhow::Context;
use clap::{Args, ValueEnum};
use cradle_reports::{LoadedTrace, Severity, build_report, rules::RULES, sarif, text};

/// Exit status of these commands on an error.
const ERROR: u8 = 2;

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A trace file written by `cradle trace --out`, `run --trace=` or `watch --out`.
    #[arg(required_unless_present = "rules")]
    pub trace: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = ReportFormat::Json)]
    pub format: ReportFormat,
    /// Exit 1 when a finding of this severity or higher is present.
    #[arg(long, value_enum, value_name = "SEVERITY")]
    pub fail_on: Option<FailOn>,
    /// List the rules findings come from, and exit.
    #[arg(long)]
    pub rules: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// The audit report (schemas/report.schema.json).
    Json,
    Text,
    /// SARIF 2.1.0 findings.
    Sarif,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl FailOn {
    fn severity(self) -> Severity {
        match self {
            FailOn::Info => Severity::Info,
            FailOn::Low => Severity::Low,
            FailOn::Medium => Severity::Medium,
            FailOn::High => Severity::High,
            FailOn::Critical => Severity::Critical,
        }
    }
}

/// Runs a command, turning its error into exit status 2.
fn exit_2_on_error(run: impl FnOnce() -> anyhow::Result<ExitCode>) -> anyhow::Result<ExitCode> {
    run().or_else(|err| {
        tracing::error!("{err:#}");
        let message = format!("{err:#}");
        eprintln!("cradle: {}", cradle_events::printable::printable_lines(&message));
        Ok(ExitCode::from(ERROR))
    })
}

fn print(output: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(output.as_bytes()).and_then(|()| stdout.flush()).context("writing to stdout")
}

fn json(value: &impl serde::Serialize) -> anyhow::Result<String> {
    Ok(serde_json::to_string_pretty(value)? + "\n")
}

pub fn report(args: ReportArgs) -> anyhow::Result<ExitCode> {
    exit_2_on_error(|| {
        if args.rules {
            return print(&match args.format {
                ReportFormat::Text => text::rules(),
                _ => json(&RULES)?,
            })
            .map(|()| ExitCode::SUCCESS);
        }
        let path = args.trace.as_deref().context("no trace file given")?;
        let trace = LoadedTrace::read(path)?;
        let report = build_report(&trace);
        print(&match args.format {
            ReportFormat::Json => json(&report)?,
            ReportFormat::Text => text::render(&report),
            ReportFormat::Sarif => json(&sarif::render(&report))?,
        })?;
        let failing = args.fail_on.is_some_and(|threshold| {
            report
                .containers
                .iter()
                .flat_map(|c| &c.findings)
                .any(|f| f.severity >= threshold.severity())
        });
        Ok(if failing { ExitCode::FAILURE } else { ExitCode::SUCCESS })
    })
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The trace to compare from.
    pub a: PathBuf,
    /// The trace to compare to.
    pub b: PathBuf,
    #[arg(long, value_enum, default_value_t = DiffFormat::Text)]
    pub format: DiffFormat,
    /// An event field (`comm`, `ret`, `flags`, ...) or event kind
    /// (`cap_capable`, ...) to leave out of the comparison.
    #[arg(long, value_name = "KEY", num_args = 1..)]
    pub ignore: Vec<String>,
    /// A phase duration changed when it differs by more than this fraction
    /// of the longer one...
    #[arg(long, default_value_t = 0.5, value_name = "RATIO")]
    pub duration_ratio: f64,
    /// ...and by more than this many milliseconds.
    #[arg(long, default_value_t = 5.0, value_name = "MS")]
    pub duration_floor_ms: f64,
    /// Count changed phase durations as differences (they are always shown).
    #[arg(long)]
    pub check_durations: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DiffFormat {
    Text,
    Json,
}

/// Exit 0 when equivalent, 1 when different, 2 on error.
pub fn diff(args: DiffArgs) -> anyhow::Result<ExitCode> {
    exit_2_on_error(|| {
        let (a, b) = LoadedTrace::read_pair(&args.a, &args.b)?;
        let options = cradle_reports::diff::DiffOptions {
            ignore: args.ignore,
            duration_ratio: args.duration_ratio,
            duration_floor_ns: milliseconds_to_ns(args.duration_floor_ms),
            check_durations: args.check_durations,
        };
        let report = cradle_reports::diff::diff(&a, &b, &options);
        print(&match args.format {
            DiffFormat::Text => cradle_reports::diff::render_text(&report),
            DiffFormat::Json => json(&report)?,
        })?;
        Ok(if report.equivalent { ExitCode::SUCCESS } else { ExitCode::FAILURE })
    })
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// A trace file.
    pub trace: PathBuf,
    #[arg(long, value_enum)]
    pub format: ExportFormat,
    /// Write to this file instead of stdout (complete or not at all).
    #[arg(long, short = 'o', value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// Chrome trace-event JSON, for ui.perfetto.dev and chrome://tracing.
    Perfetto,
    /// A static timeline picture.
    Svg,
    /// OpenTelemetry traces (OTLP JSON): each container's birth one trace.
    OtlpJson,
}

pub fn export(args: ExportArgs) -> anyhow::Result<ExitCode> {
    exit_2_on_error(|| {
        let trace = LoadedTrace::read(&args.trace)?;
        let output = match args.format {
            ExportFormat::Perfetto => {
                serde_json::to_string(&cradle_reports::perfetto::render(&trace))? + "\n"
            }
            ExportFormat::Svg => cradle_reports::svg::render(&trace),
            ExportFormat::OtlpJson => cradle_export::otlp_json::render(&trace)? + "\n",
        };
        match &args.out {
            None => print(&output)?,
            Some(path) => write_whole(path, output.as_bytes())?,
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// `--duration-floor-ms` in nanoseconds; `as` saturates, so a negative or
/// NaN floor is no floor, as before.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn milliseconds_to_ns(ms: f64) -> u64 {
    (ms * 1e6) as u64
}

/// Writes beside `path` and renames, so that a failure leaves no partial file.
fn write_whole(path: &std::path::Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut partial = path.as_os_str().to_owned();
    partial.push(format!(".partial-{}", std::process::id()));
    let partial = PathBuf::from(partial);
    let result = std::fs::write(&partial, bytes).and_then(|()| std::fs::rename(&partial, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    result.with_context(|| format!("writing {}", path.display()))
}
