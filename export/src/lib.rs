//! Fleet export: what `cradle watch` sees, in the engines operators already
//! run to look at many hosts at once: Prometheus metrics
//! (`watch --metrics`) and OpenTelemetry traces (`watch --otlp`, and
//! `cradle export --format otlp-json` of a saved trace).
//!
//! Owns: following a live session's container births to their end
//! ([`births`]), the metrics and their HTTP endpoint, the mapping of a
//! birth to OpenTelemetry spans, and the OTLP export with its bounded,
//! never-blocking queue.
//!
//! Must not touch: the kernel, loading or running the probes, and the
//! container runtime. It takes the events and the container model that
//! `cradle-probes` decoded and attributed, and analyses births with
//! `cradle-reports`' model and rules, as reports do (data flows probes ->
//! reports -> export); it decides nothing of its own about a container.

pub mod births;
pub mod metrics;
pub mod otlp;
pub mod otlp_json;
pub mod spans;

use std::{collections::BTreeMap, net::SocketAddr};

use cradle_events::{
    Event,
    collector::{Collector, Container},
    trace_file::Header,
};

pub use births::{Birth, Births};
pub use metrics::Metrics;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("--metrics {addr}: {source}")]
    Metrics {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Otlp(#[from] otlp::OtlpError),
}

/// What a session exports, from the command line.
#[derive(Clone, Debug, Default)]
pub struct FleetOptions {
    /// `--metrics ADDR`.
    pub metrics: Option<SocketAddr>,
    /// `--otlp ENDPOINT`, and how to speak to it.
    pub otlp: Option<(String, otlp::Protocol)>,
}

impl FleetOptions {
    pub fn is_empty(&self) -> bool {
        self.metrics.is_none() && self.otlp.is_none()
    }
}

/// A live session's exports: fed each attributed event, each container
/// the session forgets, and its totals; never waits on a reader.
pub struct Fleet {
    header: Header,
    births: Births,
    metrics: Option<Metrics>,
    otlp: Option<otlp::OtlpExport>,
}

impl Fleet {
    /// Starts the exports `options` ask for. Must be called within a tokio
    /// runtime (the metrics endpoint runs on it).
    pub fn start(options: &FleetOptions, header: &Header) -> Result<Fleet, ExportError> {
        let metrics = match options.metrics {
            Some(addr) => {
                let metrics = Metrics::new(header.ring_bytes);
                let bound =
                    metrics.serve(addr).map_err(|source| ExportError::Metrics { addr, source })?;
                tracing::info!(%bound, "serving metrics at /metrics");
                Some(metrics)
            }
            None => None,
        };
        let otlp = match &options.otlp {
            Some((endpoint, protocol)) => {
                let export = otlp::OtlpExport::start(endpoint, *protocol, spans::resource(header))?;
                tracing::info!(endpoint, ?protocol, "exporting births as OTLP traces");
                Some(export)
            }
            None => None,
        };
        Ok(Fleet { header: header.clone(), births: Births::new(header), metrics, otlp })
    }

    /// One event, attributed by `collector`.
    pub fn event(&mut self, event: &Event, collector: &Collector) {
        if let Some(metrics) = &self.metrics {
            metrics.event(event.detail.kind_name());
        }
        if let Some(birth) = self.births.event(event, collector) {
            self.birth(&birth);
        }
    }

    /// Containers the session forgot.
    pub fn retired(&mut self, containers: &[Container], collector: &Collector) {
        for birth in self.births.retired(containers, collector) {
            self.birth(&birth);
        }
    }

    /// The session's totals: records read from the ring, events lost by
    /// kind.
    pub fn totals(&mut self, records: u64, lost_by_kind: &BTreeMap<String, u64>) {
        let dropped = self.export_dropped();
        if let Some(metrics) = &mut self.metrics {
            metrics.totals(records, lost_by_kind, dropped);
        }
    }

    /// Spans the OTLP export dropped so far.
    pub fn export_dropped(&self) -> u64 {
        self.otlp.as_ref().map_or(0, otlp::OtlpExport::dropped)
    }

    /// The end of the session: the births not over yet are exported as
    /// they stand, and the export sends what it holds (for a bounded
    /// time). Returns the spans the export dropped in all.
    pub fn finish(mut self, collector: &Collector) -> u64 {
        for birth in self.births.finish(collector) {
            self.birth(&birth);
        }
        self.otlp.take().map_or(0, otlp::OtlpExport::finish)
    }

    fn birth(&self, birth: &Birth) {
        if let Some(metrics) = &self.metrics {
            metrics.birth(birth);
        }
        if let Some(otlp) = &self.otlp {
            otlp.send(spans::birth_spans(birth, &self.header));
        }
    }
}
