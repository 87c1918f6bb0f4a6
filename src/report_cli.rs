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
        eprintln!("cradle: {err:#}");
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
