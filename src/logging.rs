//! cradle's own diagnostics, through `tracing`: to stderr or `--log FILE`,
//! as text or JSON (runc's `--log` / `--log-format` contract).
//!
//! The JSON lines are runc's (logrus's) shape, `{"level":"error",
//! "msg":"...","time":"RFC 3339"}`, because containerd's shim reads the
//! last `error` line back and shows its `msg` to the user. Text lines are
//! logrus's text shape too, `time="..." level=debug msg="..." key=value`,
//! for the tools and people that grep runc's logs.

use std::{ffi::OsString, fs::OpenOptions, path::PathBuf};

use anyhow::Context;
use serde_json::{Map, Value};
use tracing::{Event, Level, Subscriber, field::Field};
use tracing_subscriber::{
    EnvFilter, fmt,
    fmt::{FmtContext, FormatEvent, FormatFields, format::Writer},
    registry::LookupSpan,
};

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
    init_with(args.log.as_ref(), args.log_format, args.debug)
}

/// Logging for a command line clap refused: the log flags are picked out
/// of the raw arguments, so that the refusal reaches the caller's log file
/// as runc's does. Unusable values fall back to stderr.
pub fn init_from_raw_args(args: &[OsString]) -> Destination {
    let mut log = None;
    let mut format = LogFormat::Text;
    let mut debug = false;
    let mut words = args.iter().skip(1).map(|arg| arg.to_string_lossy().into_owned());
    while let Some(word) = words.next() {
        if word == "--" {
            break;
        }
        let (name, inline) = match word.split_once('=') {
            Some((name, value)) => (name.to_owned(), Some(value.to_owned())),
            None => (word.clone(), None),
        };
        match name.as_str() {
            "--log" => log = inline.or_else(|| words.next()).map(PathBuf::from),
            "--log-format" if inline.or_else(|| words.next()).as_deref() == Some("json") => {
                format = LogFormat::Json;
            }
            "--debug" => debug = true,
            _ => {}
        }
    }
    init_with(log.as_ref(), format, debug).unwrap_or(Destination::Stderr)
}

fn init_with(log: Option<&PathBuf>, format: LogFormat, debug: bool) -> anyhow::Result<Destination> {
    let default = if debug { "debug" } else { "warn" };
    let filter = EnvFilter::try_from_env("CRADLE_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    // A log line that cannot be written (a terminal that went away) is
    // dropped: the fallback would print to that same stderr, and a failed
    // print panics.
    let builder = fmt().with_env_filter(filter).with_target(false).log_internal_errors(false);
    match (log, format) {
        (Some(path), format) => {
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("opening log file {}", path.display()))?;
            let builder = builder.with_writer(std::sync::Mutex::new(file)).with_ansi(false);
            match format {
                LogFormat::Json => builder.event_format(RuncLine(runc_json_line)).init(),
                LogFormat::Text => builder.event_format(RuncLine(runc_text_line)).init(),
            }
            Ok(Destination::File)
        }
        (None, LogFormat::Json) => {
            builder.event_format(RuncLine(runc_json_line)).with_writer(std::io::stderr).init();
            Ok(Destination::Stderr)
        }
        (None, LogFormat::Text) => {
            builder.event_format(RuncLine(runc_text_line)).with_writer(std::io::stderr).init();
            Ok(Destination::Stderr)
        }
    }
}

/// runc's log lines, as logrus writes them: one line per event, made by
/// [`runc_json_line`] (`--log-format json`) or [`runc_text_line`].
struct RuncLine(fn(&Event<'_>, &str) -> String);

impl<S, N> FormatEvent<S, N> for RuncLine
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        writeln!(writer, "{}", (self.0)(event, &cradle_runtime::rfc3339_now()))
    }
}

/// One JSON object per line, as logrus's JSONFormatter writes them:
/// `level` (logrus's names), `msg`, `time`, and each other field by name.
fn runc_json_line(event: &Event<'_>, time: &str) -> String {
    let mut fields = JsonFields::default();
    event.record(&mut fields);
    let mut line = fields.others;
    line.insert("level".into(), logrus_level(*event.metadata().level()).into());
    line.insert("msg".into(), fields.message.into());
    line.insert("time".into(), time.into());
    Value::Object(line).to_string()
}

/// logrus's TextFormatter without a terminal: `time`, `level`, `msg`,
/// then the other fields sorted by name; a value is quoted unless it is
/// made only of letters, digits and `-._/@^+`.
fn runc_text_line(event: &Event<'_>, time: &str) -> String {
    let mut fields = JsonFields::default();
    event.record(&mut fields);
    let level = logrus_level(*event.metadata().level());
    let mut line =
        format!("time={} level={level} msg={}", logrus_value(time), logrus_value(&fields.message));
    for (key, value) in &fields.others {
        let value = value.as_str().map_or_else(|| value.to_string(), str::to_owned);
        line.push_str(&format!(" {key}={}", logrus_value(&value)));
    }
    line
}

fn logrus_value(value: &str) -> String {
    let bare = !value.is_empty()
        && value.chars().all(|c| c.is_ascii_alphanumeric() || "-._/@^+".contains(c));
    if bare { value.to_owned() } else { format!("{value:?}") }
}

fn logrus_level(level: Level) -> &'static str {
    match level {
        Level::ERROR => "error",
        Level::WARN => "warning",
        Level::INFO => "info",
        Level::DEBUG => "debug",
        Level::TRACE => "trace",
    }
}

#[derive(Default)]
struct JsonFields {
    message: String,
    others: Map<String, Value>,
}

impl tracing::field::Visit for JsonFields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.record(field, value.to_owned());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.record(field, format!("{value:?}"));
    }
}

impl JsonFields {
    fn record(&mut self, field: &Field, value: String) {
        if field.name() == "message" {
            self.message = value;
        } else {
            self.others.insert(field.name().to_owned(), value.into());
        }
    }
}
