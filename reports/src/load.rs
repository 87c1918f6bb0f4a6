//! A trace file read whole, with each event's line number, and with the
//! container model replayed from the events (as `cradle show` does), so a
//! truncated trace without container records is analysed the same way.

use std::path::{Path, PathBuf};

use cradle_events::{
    Event,
    collector::{Collector, Container},
    trace_file::{Header, Record, TraceFileError, TraceReader, Trailer, Truncation},
};

use crate::model::EventRef;

#[derive(Debug, thiserror::Error)]
#[error("{path}: {source}")]
pub struct LoadError {
    pub path: String,
    #[source]
    pub source: TraceFileError,
}

/// A trace in memory, ready for analysis.
#[derive(Clone, Debug)]
pub struct LoadedTrace {
    pub path: PathBuf,
    pub header: Header,
    /// The events in file order, attributed by a replay of the collector.
    pub events: Vec<Event>,
    /// `lines[i]`: the 1-based line of `events[i]` in the file.
    pub lines: Vec<u64>,
    pub containers: Vec<Container>,
    pub trailer: Option<Trailer>,
    pub truncation: Option<Truncation>,
}

impl LoadedTrace {
    pub fn read(path: &Path) -> Result<LoadedTrace, LoadError> {
        let error = |source| LoadError { path: path.display().to_string(), source };
        let mut reader = TraceReader::open(path).map_err(error)?;
        let header = reader.header().clone();
        let (mut events, mut lines, mut trailer) = (Vec::new(), Vec::new(), None);
        let mut collector = Collector::default();
        // The header is line 1 and every record is one line.
        let mut line = 1u64;
        while let Some(record) = reader.next_record().map_err(error)? {
            line += 1;
            match record {
                Record::Event(mut event) => {
                    collector.attribute(&mut event);
                    events.push(event);
                    lines.push(line);
                }
                Record::Trailer(end) => trailer = Some(end),
                // What the events cannot tell again: where the tracer saw loss,
                // who launched the runtime.
                Record::Container(container) => {
                    collector.merge_recorded(&container);
                }
                Record::Header(_) => {
                    return Err(error(TraceFileError::Corrupt {
                        line,
                        source: serde::de::Error::custom("a second header"),
                    }));
                }
            }
        }
        Ok(LoadedTrace {
            path: path.to_path_buf(),
            header,
            events,
            lines,
            containers: collector.containers().cloned().collect(),
            trailer,
            truncation: reader.truncation().cloned(),
        })
    }

    /// Two traces, read on two threads (as `cradle diff` needs them).
    pub fn read_pair(a: &Path, b: &Path) -> Result<(LoadedTrace, LoadedTrace), LoadError> {
        std::thread::scope(|scope| {
            let other = scope.spawn(|| LoadedTrace::read(b));
            let mine = LoadedTrace::read(a);
            Ok((mine?, other.join().expect("reading a trace does not panic")?))
        })
    }

    /// Nanoseconds from the trace's start to `ts_ns`.
    pub fn since_start(&self, ts_ns: u64) -> u64 {
        ts_ns.saturating_sub(self.header.origin_ns)
    }

    /// A reference to event `index`, as reports cite it.
    pub fn event_ref(&self, index: usize) -> EventRef {
        let event = &self.events[index];
        EventRef {
            cpu: event.cpu,
            seq: event.seq,
            line: self.lines[index],
            kind: event.detail.kind_name().to_string(),
            time_ns: self.since_start(event.ts_ns),
            tgid: event.tgid,
            comm: event.comm.clone(),
            text: event.detail.describe(),
        }
    }

    /// For each container, the indices of its events in file order.
    pub fn events_by_container(&self) -> Vec<Vec<usize>> {
        let mut groups = vec![Vec::new(); self.containers.len()];
        for (index, event) in self.events.iter().enumerate() {
            if let Some(group) = event.owner.as_ref().and_then(|o| groups.get_mut(o.container)) {
                group.push(index);
            }
        }
        groups
    }

    /// Events the kernel dropped, per the trailer (0 without one).
    pub fn lost(&self) -> u64 {
        self.trailer.as_ref().map_or(0, |t| t.lost)
    }
}
