//! The trace file: JSON Lines, one record per line. A header first (what
//! was traced, where, with which probes), then the events in arrival order,
//! then the containers seen, then a trailer (counts, losses, how the trace
//! ended). The writer streams: nothing is held back, so a trace of millions
//! of events costs no memory. A file without a trailer, or whose last line
//! is cut, was truncated: the reader returns every complete record and says
//! so. The JSON Schema, generated from these types, is
//! `schemas/trace.schema.json`.

use std::{
    collections::BTreeMap,
    fs::File,
    io::{self, BufRead, BufReader, Read, Write},
    path::Path,
};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{collector::Container, event::Event};

/// The `format` every header carries.
pub const FORMAT: &str = "cradle-trace";
/// The schema version this build writes. Changes are additive: a reader of
/// version N reads files of any version up to N.
pub const VERSION: u32 = 1;

/// Longest line a reader accepts, newline included. The longest record
/// cradle writes is an exec event: 4 KiB of argv, each byte escaped as
/// `\u00XX` at worst, is under 32 KiB. A longer line comes from something
/// else, and reading it whole would cost its size in memory (a trace file's
/// author may be hostile).
pub const LINE_MAX: usize = 1 << 20;

/// One line of a trace file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Record {
    Header(Header),
    Event(Event),
    Container(Container),
    Trailer(Trailer),
}

/// What was traced, where, and how.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Header {
    /// Always [`FORMAT`].
    pub format: String,
    /// The schema version the file was written with.
    pub version: u32,
    pub cradle_version: String,
    /// The host's name.
    pub host: String,
    /// The kernel release (`uname -r`).
    pub kernel: String,
    pub mode: TraceMode,
    /// The traced command (`trace`, `run`), empty for `watch`.
    pub command: Vec<String>,
    /// Wall-clock start, nanoseconds since the Unix epoch.
    pub started_unix_ns: u64,
    /// CLOCK_MONOTONIC at start: event times are relative to this.
    pub origin_ns: u64,
    /// Kernel ring-buffer size in bytes.
    pub ring_bytes: u32,
    /// Every attached program and the mechanism it uses on this kernel.
    pub probes: Vec<ProbeUse>,
    /// For each probe that hooks a kernel function where the kernel allows
    /// it, the path it took here. (Absent from traces written before
    /// hooks: empty.)
    #[serde(default)]
    pub hooks: Vec<HookUse>,
    /// The tracer's own namespaces, kind (`mnt`, `net`, ...) to inode
    /// number: the host's, as far as the traced containers go. Reports
    /// judge "shares the host's namespace" against these. (Absent from
    /// traces written before: inferred from the events then.)
    #[serde(default)]
    pub host_namespaces: std::collections::BTreeMap<String, u32>,
    /// The probes left out (their hook is missing on this kernel, the
    /// verifier refused a program, or configuration left them out): their
    /// kinds cannot appear in this trace. Absent from files written before
    /// probes could be left out.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unavailable: Vec<ProbeAbsence>,
    /// `watch --rotate`: this file's number in the series, from 1. Each
    /// file is a whole trace; the series shares `started_unix_ns` and
    /// `origin_ns`. A container is recorded in the file its runtime
    /// started in; each later file begins, after its header, with the
    /// records of the containers still known then, with their live
    /// processes, so that a replay of that file alone attributes the rest
    /// of their events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub part: Option<u32>,
    /// Events the kernel reported that this trace leaves out on purpose
    /// (not lost: counted in the trailer's `not_recorded`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_recorded: Vec<NotRecorded>,
    /// `trace` of a container client (docker, podman, ...), whose daemon
    /// starts the containers outside the traced command's processes: the
    /// rule by which this trace followed them too, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daemon_containers: Option<String>,
}

/// A class of events a trace leaves out on purpose.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct NotRecorded {
    /// The event kind (`cap_capable`).
    pub kind: String,
    /// Which of its events are left out, in words.
    pub which: String,
    /// The flag that records them too.
    pub flag: String,
}

impl NotRecorded {
    /// `watch`'s default: a granted capability check outside every
    /// container (a runtime's `state`, `list` or `features` run by a busy
    /// daemon) tells nothing of a container's birth, and such checks made
    /// most of a busy host's trace. Denied checks, and every check of a
    /// container's processes, are recorded.
    pub fn host_granted_capability_checks() -> NotRecorded {
        NotRecorded {
            kind: "cap_capable".into(),
            which: "granted checks of processes outside every container".into(),
            flag: "--all-capability-checks".into(),
        }
    }
}

/// The path a kernel-function hook took on the traced kernel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct HookUse {
    /// The probe served: `namespaces`, `veth`.
    pub probe: String,
    /// The kernel function hooked where the kernel allows it.
    pub function: String,
    /// `fexit`, `fentry` or `kprobe` when hooked; else the path that
    /// serves the probe instead (`tracepoint`, `netlink`).
    pub path: String,
    /// The better paths tried first, and why each was not taken.
    pub refused: Vec<HookRefusal>,
}

/// A hook path not taken.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct HookRefusal {
    pub path: String,
    /// The kernel's refusal, or why the path was not tried.
    pub reason: String,
}

/// How the trace chose what to follow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TraceMode {
    /// A command and its descendants (`cradle trace`).
    Trace,
    /// The built-in runtime, from its first syscall (`cradle run --trace`).
    Run,
    /// Every container runtime started on the host (`cradle watch`).
    Watch,
}

/// One attached program.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ProbeUse {
    /// The program's name in the eBPF object.
    pub program: String,
    /// `mechanism:category/target`, e.g. `raw_tracepoint:sys_enter/mount`.
    pub attach: String,
    /// The event families it serves.
    pub probes: Vec<String>,
}

/// A probe the trace ran without.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ProbeAbsence {
    /// The probe's name (`cradle doctor` lists them).
    pub probe: String,
    /// The event kinds it would have produced.
    pub kinds: Vec<String>,
    /// Why: the program that failed and the kernel's error, or
    /// configuration.
    pub reason: String,
}

/// How a trace ended, and what it counted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Trailer {
    /// Event records written to this file.
    pub events: u64,
    /// Records read from the ring buffer, decodable or not.
    pub records: u64,
    /// Records that could not be decoded (counted, skipped).
    pub undecodable: u64,
    /// Events the kernel dropped because the ring buffer was full.
    pub lost: u64,
    /// `lost`, per event kind.
    pub lost_by_kind: BTreeMap<String, u64>,
    pub end: TraceEnd,
    /// CLOCK_MONOTONIC at the end.
    pub ended_ns: u64,
    /// The traced command's exit code (128 + signal if it was killed).
    pub exit_code: Option<i32>,
    /// Events left out on purpose, as the header's `not_recorded` says.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub not_recorded: u64,
    /// `watch --otlp`: spans of container births the export dropped (its
    /// queue was full, or the backend did not take them).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub export_dropped: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TraceEnd {
    /// The traced command finished.
    Completed,
    /// cradle was asked to stop (SIGINT, SIGTERM) and wrote everything it had.
    Interrupted,
    /// `watch --rotate`: this file reached its size; the trace goes on in
    /// the file with the next `part` number. The counts are the whole
    /// series' so far, but `events`, which is this file's.
    Rotated,
}

#[derive(Debug, thiserror::Error)]
pub enum TraceFileError {
    #[error("{path}: {source}")]
    Open {
        path: String,
        #[source]
        source: io::Error,
    },
    #[error("reading line {line}: {source}")]
    Io {
        line: u64,
        #[source]
        source: io::Error,
    },
    #[error("not a cradle trace: the first line is not a {FORMAT} header")]
    NotATrace,
    #[error("trace version {0} is newer than this cradle reads (up to {VERSION})")]
    TooNew(u32),
    #[error("line {line}: {source}")]
    Corrupt {
        line: u64,
        #[source]
        source: serde_json::Error,
    },
    #[error("line {line}: a {found} record after the trailer")]
    AfterTrailer { line: u64, found: &'static str },
    #[error("line {line} is longer than {LINE_MAX} bytes: not a line cradle writes")]
    LineTooLong { line: u64 },
}

/// Writes a trace as it happens.
pub struct TraceWriter<W: Write> {
    out: W,
    events: u64,
}

impl<W: Write> TraceWriter<W> {
    /// Starts a trace with its header.
    pub fn new(out: W, header: &Header) -> io::Result<Self> {
        let mut writer = TraceWriter { out, events: 0 };
        writer.write(&RecordRef::Header(header))?;
        writer.out.flush()?;
        Ok(writer)
    }

    pub fn event(&mut self, event: &Event) -> io::Result<()> {
        self.events += 1;
        self.write(&RecordRef::Event(event))
    }

    pub fn container(&mut self, container: &Container) -> io::Result<()> {
        self.write(&RecordRef::Container(container))
    }

    /// Event records written so far.
    pub fn events_written(&self) -> u64 {
        self.events
    }

    /// Where the records go.
    pub fn get_ref(&self) -> &W {
        &self.out
    }

    /// Pushes what was written to the file: call after each batch, so a
    /// killed cradle leaves every batch but the last on disk.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// Ends the trace with its trailer; `trailer.events` is filled in here.
    pub fn finish(mut self, mut trailer: Trailer) -> io::Result<W> {
        trailer.events = self.events;
        self.write(&RecordRef::Trailer(&trailer))?;
        self.out.flush()?;
        Ok(self.out)
    }

    fn write(&mut self, record: &RecordRef) -> io::Result<()> {
        serde_json::to_writer(&mut self.out, record)?;
        self.out.write_all(b"\n")
    }
}

/// [`Record`] by reference, so writing needs no copies. Serializes exactly
/// as [`Record`] does.
#[derive(Serialize)]
#[serde(rename_all = "snake_case")]
enum RecordRef<'a> {
    Header(&'a Header),
    Event(&'a Event),
    Container(&'a Container),
    Trailer(&'a Trailer),
}

/// Why a trace's records end where they do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Truncation {
    /// The file ends after a complete record, but without a trailer.
    NoTrailer,
    /// The last line was cut mid-record; it is ignored.
    CutLine { line: u64 },
}

/// Reads a trace record by record, without holding it in memory.
pub struct TraceReader<R: BufRead> {
    input: R,
    line: u64,
    buffer: String,
    header: Header,
    seen_trailer: bool,
    truncation: Option<Truncation>,
}

impl TraceReader<BufReader<File>> {
    pub fn open(path: &Path) -> Result<Self, TraceFileError> {
        let file = File::open(path)
            .map_err(|source| TraceFileError::Open { path: path.display().to_string(), source })?;
        TraceReader::new(BufReader::with_capacity(1 << 16, file))
    }
}

impl<R: BufRead> TraceReader<R> {
    /// Reads and checks the header.
    pub fn new(mut input: R) -> Result<Self, TraceFileError> {
        let mut buffer = String::new();
        read_line_capped(&mut input, &mut buffer, 1)?;
        let header = match serde_json::from_str::<Record>(&buffer) {
            Ok(Record::Header(header)) if header.format == FORMAT => header,
            _ => return Err(TraceFileError::NotATrace),
        };
        if header.version > VERSION {
            return Err(TraceFileError::TooNew(header.version));
        }
        Ok(TraceReader { input, line: 1, buffer, header, seen_trailer: false, truncation: None })
    }

    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Set once the records run out: why they ended before a trailer.
    pub fn truncation(&self) -> Option<&Truncation> {
        self.truncation.as_ref()
    }

    /// The next record after the header; `None` at the end of the file.
    pub fn next_record(&mut self) -> Result<Option<Record>, TraceFileError> {
        self.buffer.clear();
        let read = read_line_capped(&mut self.input, &mut self.buffer, self.line + 1)?;
        if read == 0 {
            if !self.seen_trailer && self.truncation.is_none() {
                self.truncation = Some(Truncation::NoTrailer);
            }
            return Ok(None);
        }
        self.line += 1;
        let complete = self.buffer.ends_with('\n');
        let record = match serde_json::from_str::<Record>(&self.buffer) {
            Ok(record) => record,
            // A kill mid-write leaves a last line without its newline.
            Err(_) if !complete => {
                self.truncation = Some(Truncation::CutLine { line: self.line });
                return Ok(None);
            }
            Err(source) => return Err(TraceFileError::Corrupt { line: self.line, source }),
        };
        if self.seen_trailer {
            let found = match record {
                Record::Header(_) => "header",
                Record::Event(_) => "event",
                Record::Container(_) => "container",
                Record::Trailer(_) => "trailer",
            };
            return Err(TraceFileError::AfterTrailer { line: self.line, found });
        }
        self.seen_trailer = matches!(record, Record::Trailer(_));
        Ok(Some(record))
    }
}

/// Reads one line into `buffer` (empty), at most [`LINE_MAX`] bytes of it:
/// a longer line is an error, found without holding more than the cap.
fn read_line_capped(
    input: &mut impl BufRead,
    buffer: &mut String,
    line: u64,
) -> Result<usize, TraceFileError> {
    let read = Read::take(input, LINE_MAX as u64 + 1)
        .read_line(buffer)
        .map_err(|source| TraceFileError::Io { line, source })?;
    if read > LINE_MAX {
        return Err(TraceFileError::LineTooLong { line });
    }
    Ok(read)
}

/// A whole trace in memory, for tools that need all of it (reports, diff,
/// replay).
#[derive(Clone, Debug, PartialEq)]
pub struct Trace {
    pub header: Header,
    pub events: Vec<Event>,
    pub containers: Vec<Container>,
    pub trailer: Option<Trailer>,
    pub truncation: Option<Truncation>,
}

impl Trace {
    pub fn read(path: &Path) -> Result<Trace, TraceFileError> {
        Trace::from_reader(TraceReader::open(path)?)
    }

    pub fn from_reader<R: BufRead>(mut reader: TraceReader<R>) -> Result<Trace, TraceFileError> {
        let (mut events, mut containers, mut trailer) = (Vec::new(), Vec::new(), None);
        while let Some(record) = reader.next_record()? {
            match record {
                Record::Event(event) => events.push(event),
                Record::Container(mut container) => {
                    container.upgrade();
                    containers.push(container);
                }
                Record::Trailer(end) => trailer = Some(end),
                Record::Header(_) => {
                    return Err(TraceFileError::Corrupt {
                        line: reader.line,
                        source: serde::de::Error::custom("a second header"),
                    });
                }
            }
        }
        let truncation = reader.truncation.take();
        Ok(Trace { header: reader.header, events, containers, trailer, truncation })
    }
}

/// The JSON Schema of a trace file's lines, as committed in
/// `schemas/trace.schema.json`.
pub fn schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(Record)).expect("a schema is plain JSON")
}

#[cfg(test)]
mod tests;
