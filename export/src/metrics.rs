//! `cradle watch --metrics ADDR`: the session's counters in Prometheus's
//! text format (OpenMetrics), served over HTTP at `/metrics`.

use std::{collections::BTreeMap, net::SocketAddr, sync::Arc};

use http_body_util::Full;
use hyper::{Request, Response, body::Bytes, header::CONTENT_TYPE, service::service_fn};
use hyper_util::rt::TokioIo;
use prometheus_client::{
    encoding::{EncodeLabelSet, text::encode},
    metrics::{
        counter::Counter,
        family::Family,
        gauge::Gauge,
        histogram::{Histogram, exponential_buckets},
    },
    registry::Registry,
};

use crate::births::Birth;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BirthLabels {
    runtime: String,
    /// Who ran the runtime (see [`Birth::client`]).
    client: String,
    /// `started` (the workload was executed) or `failed`.
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PhaseLabels {
    runtime: String,
    client: String,
    phase: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FindingLabels {
    rule: String,
    severity: String,
}

/// Phase durations from 10 µs to about 40 s, by factors of 4.
fn phase_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.000_01, 4.0, 12))
}

/// The session's metrics. Cheap to update from the session's loop; the
/// endpoint reads them from its own task.
pub struct Metrics {
    registry: Arc<Registry>,
    births: Family<BirthLabels, Counter>,
    phase_seconds: Family<PhaseLabels, Histogram, fn() -> Histogram>,
    events: Family<KindLabels, Counter>,
    events_lost: Family<KindLabels, Counter>,
    /// The kernel's loss totals as last read, to count what is new.
    lost_seen: BTreeMap<String, u64>,
    findings: Family<FindingLabels, Counter>,
    ring_records: Counter,
    export_dropped: Counter,
    dropped_seen: u64,
}

impl Metrics {
    /// `ring_bytes`: the size of the session's ring buffer.
    pub fn new(ring_bytes: u32) -> Metrics {
        let mut registry = Registry::with_prefix("cradle");
        let births = Family::<BirthLabels, Counter>::default();
        registry.register(
            "container_births",
            "Containers whose birth was seen, by runtime, client (the runtime's launcher) and outcome (started: the workload was executed)",
            births.clone(),
        );
        let phase_seconds =
            Family::<PhaseLabels, Histogram, fn() -> Histogram>::new_with_constructor(
                phase_histogram,
            );
        registry.register(
            "phase_duration_seconds",
            "How long each phase of a container's birth took, by runtime, client and phase",
            phase_seconds.clone(),
        );
        let events = Family::<KindLabels, Counter>::default();
        registry.register("events", "Events recorded, by kind", events.clone());
        let events_lost = Family::<KindLabels, Counter>::default();
        registry.register(
            "events_lost",
            "Events the kernel dropped (ring buffer full), by kind",
            events_lost.clone(),
        );
        let findings = Family::<FindingLabels, Counter>::default();
        registry.register(
            "findings",
            "Findings of the report rules on container births, by rule and severity",
            findings.clone(),
        );
        let ring_records = Counter::default();
        registry.register(
            "ring_records",
            "Records read from the ring buffer, decodable or not",
            ring_records.clone(),
        );
        let ring_size = Gauge::<i64>::default();
        ring_size.set(i64::from(ring_bytes));
        registry.register("ring_size_bytes", "Size of the ring buffer", ring_size);
        let export_dropped = Counter::default();
        registry.register(
            "export_dropped_spans",
            "Spans the OTLP export dropped (queue full or backend unreachable)",
            export_dropped.clone(),
        );
        Metrics {
            registry: Arc::new(registry),
            births,
            phase_seconds,
            events,
            events_lost,
            lost_seen: BTreeMap::new(),
            findings,
            ring_records,
            export_dropped,
            dropped_seen: 0,
        }
    }

    pub fn event(&self, kind: &str) {
        self.events.get_or_create(&KindLabels { kind: kind.to_owned() }).inc();
    }

    pub fn birth(&self, birth: &Birth) {
        let runtime = birth.container.runtime.clone();
        let client = birth.client().to_owned();
        self.births
            .get_or_create(&BirthLabels {
                runtime: runtime.clone(),
                client: client.clone(),
                outcome: birth.outcome().into(),
            })
            .inc();
        // The phases of the birth proper: a phase's duration runs to the
        // start of the next, so the last one reached has none yet.
        let marks = &birth.container.phases;
        for pair in marks.windows(2) {
            let [phase, next] = pair else { continue };
            if phase.phase >= cradle_events::collector::Phase::Running {
                break;
            }
            let seconds = next.ts_ns.saturating_sub(phase.ts_ns) as f64 / 1e9;
            self.phase_seconds
                .get_or_create(&PhaseLabels {
                    runtime: runtime.clone(),
                    client: client.clone(),
                    phase: phase.phase.name().into(),
                })
                .observe(seconds);
        }
        for finding in &birth.report.findings {
            self.findings
                .get_or_create(&FindingLabels {
                    rule: finding.rule.clone(),
                    severity: finding.severity.name().into(),
                })
                .inc();
        }
    }

    /// The session's totals so far: records read from the ring, events
    /// lost by kind, spans the export dropped.
    pub fn totals(&mut self, records: u64, lost_by_kind: &BTreeMap<String, u64>, dropped: u64) {
        let read = self.ring_records.get();
        self.ring_records.inc_by(records.saturating_sub(read));
        for (kind, &total) in lost_by_kind {
            let seen = self.lost_seen.entry(kind.clone()).or_default();
            self.events_lost
                .get_or_create(&KindLabels { kind: kind.clone() })
                .inc_by(total.saturating_sub(*seen));
            *seen = total.max(*seen);
        }
        self.export_dropped.inc_by(dropped.saturating_sub(self.dropped_seen));
        self.dropped_seen = dropped.max(self.dropped_seen);
    }

    /// Serves `/metrics` on `addr` from the current tokio runtime. Binds
    /// now, so that a taken or bad address is an error of the command.
    pub fn serve(&self, addr: SocketAddr) -> Result<SocketAddr, std::io::Error> {
        let listener = std::net::TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let bound = listener.local_addr()?;
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let registry = Arc::clone(&self.registry);
        tokio::spawn(async move {
            loop {
                let (stream, _) = match listener.accept().await {
                    Ok(accepted) => accepted,
                    Err(err) => {
                        tracing::warn!(%err, "metrics endpoint: accepting a connection");
                        continue;
                    }
                };
                let registry = Arc::clone(&registry);
                let service = service_fn(move |request| respond(Arc::clone(&registry), request));
                tokio::spawn(async move {
                    if let Err(err) = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await
                    {
                        tracing::debug!(%err, "metrics endpoint: a connection ended");
                    }
                });
            }
        });
        Ok(bound)
    }
}

async fn respond(
    registry: Arc<Registry>,
    request: Request<hyper::body::Incoming>,
) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    let response = Response::builder();
    if request.uri().path() != "/metrics" {
        return Ok(response
            .status(404)
            .body(Full::new(Bytes::from_static(b"cradle serves /metrics\n")))
            .expect("a static response"));
    }
    let mut body = String::new();
    let response = match encode(&mut body, &registry) {
        Ok(()) => response
            .header(CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")
            .body(Full::new(Bytes::from(body))),
        Err(err) => {
            tracing::warn!(%err, "encoding the metrics");
            response.status(500).body(Full::new(Bytes::from_static(b"encoding failed\n")))
        }
    };
    Ok(response.expect("a response of valid parts"))
}
