//! `cradle watch --otlp ENDPOINT`: births sent as OTLP traces, over gRPC
//! or HTTP/protobuf, by the official exporter (`opentelemetry-otlp`).
//!
//! The session hands each birth's spans to a bounded queue and goes on:
//! a thread of its own batches them and exports. When the queue is full
//! (the backend is slow or away) a birth's spans are dropped and counted,
//! as are the spans of a batch the backend did not take: `watch` never
//! waits on the network.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, AtomicUsize, Ordering},
        mpsc,
    },
    time::{Duration, Instant},
};

use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::trace::{SpanData, SpanExporter as _};

/// How an OTLP endpoint is spoken to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Protocol {
    /// OTLP/gRPC (a collector's port 4317).
    #[default]
    Grpc,
    /// OTLP/HTTP with protobuf bodies (port 4318, path /v1/traces).
    Http,
}

/// Spans waiting to be sent, at most: past this, new births are dropped.
pub const QUEUE_SPANS: usize = 4096;
/// Spans in one export request, at most.
const BATCH_SPANS: usize = 512;
/// How long a birth waits for others to fill its batch.
const BATCH_DELAY: Duration = Duration::from_secs(1);
/// How long one export may take before its spans count as dropped.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the end of a watch waits for the queue to be sent.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum OtlpError {
    #[error("--otlp {endpoint}: {reason}")]
    Endpoint { endpoint: String, reason: String },
    #[error("starting the OTLP export thread: {0}")]
    Thread(#[source] std::io::Error),
}

/// The counts of an export, shared with its thread.
#[derive(Debug, Default)]
struct Counts {
    queued: AtomicUsize,
    sent: AtomicU64,
    dropped: AtomicU64,
}

/// A running OTLP export.
pub struct OtlpExport {
    queue: Option<mpsc::Sender<Vec<SpanData>>>,
    counts: Arc<Counts>,
    /// Says when the thread has sent (or dropped) all it was given.
    done: mpsc::Receiver<()>,
}

impl OtlpExport {
    /// Starts exporting to `endpoint`; `resource` describes this host.
    /// Nothing is sent yet: an endpoint that is away now is not an error
    /// (its spans are dropped and counted until it is back).
    pub fn start(
        endpoint: &str,
        protocol: Protocol,
        resource: opentelemetry_sdk::Resource,
    ) -> Result<OtlpExport, OtlpError> {
        let error = |reason: String| OtlpError::Endpoint { endpoint: endpoint.into(), reason };
        let uri: hyper::Uri = endpoint.parse().map_err(|err| error(format!("not a URL: {err}")))?;
        if uri.scheme_str() != Some("http") || uri.host().is_none() {
            return Err(error("give http://HOST:PORT (TLS is the collector's job)".into()));
        }
        let endpoint = match protocol {
            // The path of the traces signal, unless the URL names one.
            Protocol::Http if uri.path() == "/" => {
                format!("{}/v1/traces", endpoint.trim_end_matches('/'))
            }
            _ => endpoint.to_owned(),
        };
        // The exporter's clients run on a runtime of the export thread.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(OtlpError::Thread)?;
        let mut exporter = {
            let _inside = runtime.enter();
            let built = match protocol {
                Protocol::Grpc => opentelemetry_otlp::SpanExporter::builder()
                    .with_tonic()
                    .with_endpoint(&endpoint)
                    .with_timeout(EXPORT_TIMEOUT)
                    .build(),
                Protocol::Http => opentelemetry_otlp::SpanExporter::builder()
                    .with_http()
                    .with_endpoint(&endpoint)
                    .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
                    .with_timeout(EXPORT_TIMEOUT)
                    .build(),
            };
            built.map_err(|err| error(err.to_string()))?
        };
        exporter.set_resource(&resource);
        let counts = Arc::new(Counts::default());
        let (queue, births) = mpsc::channel::<Vec<SpanData>>();
        let (finished, done) = mpsc::channel();
        let thread_counts = Arc::clone(&counts);
        std::thread::Builder::new()
            .name("cradle-otlp".into())
            .spawn(move || {
                send_batches(&runtime, &exporter, &births, &thread_counts);
                let _ = exporter.shutdown();
                let _ = finished.send(());
            })
            .map_err(OtlpError::Thread)?;
        Ok(OtlpExport { queue: Some(queue), counts, done })
    }

    /// Queues one birth's spans, or drops them when the queue is full.
    pub fn send(&self, spans: Vec<SpanData>) {
        let n = spans.len();
        let counts = &self.counts;
        let room = counts.queued.fetch_update(Ordering::AcqRel, Ordering::Acquire, |queued| {
            (queued + n <= QUEUE_SPANS).then_some(queued + n)
        });
        let queued =
            room.is_ok() && self.queue.as_ref().is_some_and(|queue| queue.send(spans).is_ok());
        if !queued {
            if room.is_ok() {
                counts.queued.fetch_sub(n, Ordering::AcqRel);
            }
            counts.dropped.fetch_add(n as u64, Ordering::Relaxed);
        }
    }

    /// Spans dropped so far (queue full, or not taken by the backend).
    pub fn dropped(&self) -> u64 {
        self.counts.dropped.load(Ordering::Relaxed)
    }

    /// Spans the backend took.
    pub fn sent(&self) -> u64 {
        self.counts.sent.load(Ordering::Relaxed)
    }

    /// Sends what is queued, waiting a bounded time; what is still queued
    /// then counts as dropped. Returns the spans dropped in all.
    pub fn finish(mut self) -> u64 {
        self.queue = None;
        if self.done.recv_timeout(FLUSH_TIMEOUT).is_err() {
            let left = self.counts.queued.swap(0, Ordering::AcqRel);
            self.counts.dropped.fetch_add(left as u64, Ordering::Relaxed);
            tracing::warn!(spans = left, "the OTLP backend did not take the last spans in time");
        }
        self.dropped()
    }
}

/// The export thread: batches of births, each exported once.
fn send_batches(
    runtime: &tokio::runtime::Runtime,
    exporter: &opentelemetry_otlp::SpanExporter,
    births: &mpsc::Receiver<Vec<SpanData>>,
    counts: &Counts,
) {
    let mut open = true;
    while open {
        let Ok(first) = births.recv() else { break };
        let mut batch = first;
        let deadline = Instant::now() + BATCH_DELAY;
        while batch.len() < BATCH_SPANS {
            match births.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(more) => batch.extend(more),
                Err(mpsc::RecvTimeoutError::Timeout) => break,
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    open = false;
                    break;
                }
            }
        }
        let n = batch.len();
        let exported = runtime.block_on(async {
            tokio::time::timeout(EXPORT_TIMEOUT * 2, exporter.export(batch)).await
        });
        // Saturating: a finish that gave up waiting has zeroed it.
        let _ = counts.queued.fetch_update(Ordering::AcqRel, Ordering::Acquire, |queued| {
            Some(queued.saturating_sub(n))
        });
        match exported {
            Ok(Ok(())) => {
                counts.sent.fetch_add(n as u64, Ordering::Relaxed);
            }
            Ok(Err(err)) => {
                counts.dropped.fetch_add(n as u64, Ordering::Relaxed);
                tracing::debug!(%err, spans = n, "OTLP export failed; spans dropped");
            }
            Err(_) => {
                counts.dropped.fetch_add(n as u64, Ordering::Relaxed);
                tracing::debug!(spans = n, "OTLP export timed out; spans dropped");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::{borrow::Cow, time::SystemTime};

    use opentelemetry::{
        InstrumentationScope,
        trace::{SpanContext, SpanId, SpanKind, Status},
    };
    use opentelemetry_sdk::trace::{SpanEvents, SpanLinks};

    use super::*;

    fn span() -> SpanData {
        SpanData {
            span_context: SpanContext::empty_context(),
            parent_span_id: SpanId::INVALID,
            parent_span_is_remote: false,
            span_kind: SpanKind::Internal,
            name: Cow::Borrowed("test"),
            start_time: SystemTime::UNIX_EPOCH,
            end_time: SystemTime::UNIX_EPOCH,
            attributes: Vec::new(),
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status: Status::Unset,
            instrumentation_scope: InstrumentationScope::builder("test").build(),
        }
    }

    /// Births past the queue's room are dropped at once and counted; the
    /// sender never waits, whatever the backend does.
    #[test]
    fn a_full_queue_drops_and_counts() {
        // Nothing listens on port 1: every export fails, slowly or not.
        let resource = opentelemetry_sdk::Resource::builder_empty().build();
        let export = OtlpExport::start("http://127.0.0.1:1", Protocol::Grpc, resource).unwrap();
        let birth = 100;
        let births = QUEUE_SPANS / birth + 5;
        for _ in 0..births {
            export.send((0..birth).map(|_| span()).collect());
        }
        // The thread may have taken some out already; at least the births
        // past the room were refused right away.
        let refused = (births * birth).saturating_sub(QUEUE_SPANS + BATCH_SPANS) as u64;
        assert!(
            export.dropped() >= refused,
            "{} dropped, {refused} past the room",
            export.dropped()
        );
        // At the end, every span was either sent or dropped.
        let dropped = export.finish();
        assert_eq!(dropped, (births * birth) as u64);
    }

    #[test]
    fn an_endpoint_that_is_no_http_url_is_refused() {
        for endpoint in ["https://collector:4317", "collector:4317", "http://", "not a url"] {
            let resource = opentelemetry_sdk::Resource::builder_empty().build();
            let refused = OtlpExport::start(endpoint, Protocol::Http, resource);
            assert!(refused.is_err(), "{endpoint}");
        }
    }
}
