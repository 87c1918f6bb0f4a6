//! cradle's own diagnostics, through `tracing`: to stderr or `--log FILE`,
//! as text or JSON (runc's `--log` / `--log-format` contract).

use std::fs::OpenOptions;

use anyhow::Context;
use tracing_subscriber::{EnvFilter, fmt};

use crate::cli::{GlobalArgs, LogFormat};

/// Where diagnostics go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Destination {
    Stderr,
    /// `--log FILE`: a runtime's caller (containerd's shim) reads its
    /// errors there.
    File,
}

pub fn init(args: &GlobalArgs) -> anyhow::Result<Destination> {
    let default = if args.debug { "debug" } else { "warn" };
    let filter = EnvFilter::try_from_env("CRADLE_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    // A log line that cannot be written (a terminal that went away) is
    // dropped: the fallback would print to that same stderr, and a failed
    // print panics.
    let builder = fmt().with_env_filter(filter).with_target(false).log_internal_errors(false);
    match (&args.log, args.log_format) {
        (Some(path), format) => {
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("opening log file {}", path.display()))?;
            let builder = builder.with_writer(std::sync::Mutex::new(file)).with_ansi(false);
            match format {
                LogFormat::Json => builder.json().init(),
                LogFormat::Text => builder.init(),
            }
            Ok(Destination::File)
        }
        (None, LogFormat::Json) => {
            builder.json().with_writer(std::io::stderr).init();
            Ok(Destination::Stderr)
        }
        (None, LogFormat::Text) => {
            builder.with_writer(std::io::stderr).init();
            Ok(Destination::Stderr)
        }
    }
}
