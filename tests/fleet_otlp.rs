//! `cradle watch --otlp` (issue 21): an OTLP receiver built from the
//! official `opentelemetry-proto` gRPC service receives the births of
//! three real runc containers, each one trace with its phases in order
//! and the inode numbers of the namespaces the container really has
//! (read from /proc while it runs). Then, with the receiver stopped, the
//! watch goes on and counts the spans it drops (metrics, trailer). The
//! same over OTLP/HTTP with protobuf bodies. Real kernel, real eBPF, real
//! runc: needs root. Its own test file, its tests one at a time: a second
//! watch at the same time would see these containers too.

mod common;

use std::{
    collections::BTreeMap,
    net::{SocketAddr, TcpListener},
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use common::{
    RuncBundle, otlp, output,
    probes::ns_inum,
    runtime::{Sandbox, run_with},
    watch::Watch,
};
use http_body_util::{BodyExt, Full};
use hyper::{body::Bytes, service::service_fn};
use hyper_util::{
    rt::{TokioExecutor, TokioIo},
    server::conn::auto,
    service::TowerToHyperService,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
    trace_service_server::{TraceService, TraceServiceServer},
};
use prost::Message;

/// Keeps every request it is sent.
#[derive(Clone, Default)]
struct Receiver {
    requests: Arc<Mutex<Vec<ExportTraceServiceRequest>>>,
}

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        self.requests.lock().unwrap().push(request.into_inner());
        Ok(tonic::Response::new(ExportTraceServiceResponse { partial_success: None }))
    }
}

/// An OTLP/HTTP request: its protobuf body decoded and kept.
async fn receive_http(
    receiver: Receiver,
    request: hyper::Request<hyper::body::Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, std::convert::Infallible> {
    let response = hyper::Response::builder();
    let body = match request.uri().path() {
        "/v1/traces" => request.into_body().collect().await.ok().map(|body| body.to_bytes()),
        _ => None,
    };
    let Some(message) = body.and_then(|body| ExportTraceServiceRequest::decode(body).ok()) else {
        return Ok(response.status(400).body(Full::default()).unwrap());
    };
    receiver.requests.lock().unwrap().push(message);
    let reply = ExportTraceServiceResponse { partial_success: None }.encode_to_vec();
    Ok(response
        .header("content-type", "application/x-protobuf")
        .body(Full::new(Bytes::from(reply)))
        .unwrap())
}

/// The receiver serving on its own runtime, until stopped.
struct Running {
    receiver: Receiver,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Running {
    /// gRPC (`http: false`) or HTTP/protobuf.
    fn start(addr: SocketAddr, http: bool) -> Running {
        let receiver = Receiver::default();
        let grpc = TraceServiceServer::new(receiver.clone());
        let keeper = receiver.clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (ready, serving) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Runtime::new().unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
                ready.send(()).unwrap();
                tokio::pin!(stopped);
                loop {
                    let (stream, _) = tokio::select! {
                        accepted = listener.accept() => accepted.unwrap(),
                        _ = &mut stopped => break,
                    };
                    let builder = auto::Builder::new(TokioExecutor::new());
                    let io = TokioIo::new(stream);
                    if http {
                        let keeper = keeper.clone();
                        let service = service_fn(move |r| receive_http(keeper.clone(), r));
                        tokio::spawn(async move { builder.serve_connection(io, service).await });
                    } else {
                        let service = TowerToHyperService::new(grpc.clone());
                        tokio::spawn(async move {
                            builder.http2_only().serve_connection(io, service).await
                        });
                    }
                }
            });
            // Dropping the runtime ends every connection: the receiver is gone.
        });
        serving.recv().expect("the receiver listens");
        Running { receiver, stop: Some(stop), thread: Some(thread) }
    }

    fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            thread.join().unwrap();
        }
    }

    fn requests(&self) -> Vec<ExportTraceServiceRequest> {
        self.receiver.requests.lock().unwrap().clone()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `runc run` of a sleeping container, in the background.
struct Sleeper {
    id: String,
    run: Child,
    root: std::path::PathBuf,
}

impl Sleeper {
    fn start(bundle: &RuncBundle, id: String) -> Sleeper {
        let root = bundle.runc_root();
        let run = Command::new("runc")
            .arg("--root")
            .arg(&root)
            .args(["run", "--bundle"])
            .arg(bundle.path())
            .arg(&id)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("runc run");
        Sleeper { id, run, root }
    }

    fn runc(&self, args: &[&str]) -> std::process::Output {
        output(Command::new("runc").arg("--root").arg(&self.root).args(args))
    }

    /// The pid of its init once it runs the workload.
    fn pid(&self) -> u64 {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let state = self.runc(&["state", &self.id]);
            if let Ok(state) = serde_json::from_slice::<serde_json::Value>(&state.stdout)
                && state["status"] == "running"
                && let Some(pid) = state["pid"].as_u64()
                && std::fs::read_link(format!("/proc/{pid}/exe"))
                    .is_ok_and(|exe| exe.ends_with("busybox"))
            {
                return pid;
            }
            assert!(Instant::now() < deadline, "{} never ran", self.id);
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn stop(mut self) {
        self.runc(&["kill", &self.id, "KILL"]);
        let _ = self.run.wait();
    }
}

impl Drop for Sleeper {
    fn drop(&mut self) {
        let _ = self.run.kill();
        let _ = self.run.wait();
        self.runc(&["delete", "--force", &self.id]);
    }
}

/// `GET http://ADDR/metrics`, and the value of the series `name`.
fn metric(addr: &str, name: &str) -> Option<f64> {
    use http_body_util::Empty;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let body = runtime.block_on(async {
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build_http::<Empty<Bytes>>();
        let uri = format!("http://{addr}/metrics").parse().ok()?;
        let response = client.get(uri).await.ok()?;
        response.into_body().collect().await.ok().map(|body| body.to_bytes())
    })?;
    String::from_utf8_lossy(&body)
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

/// One watch at a time in this file.
static WATCHING: Mutex<()> = Mutex::new(());

/// Waits for the root spans of containers `ids`; returns every span.
fn wait_for_births(receiver: &Running, ids: &[&str]) -> Vec<otlp::Received> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let spans = otlp::spans(&receiver.requests());
        let arrived = ids
            .iter()
            .filter(|id| spans.iter().any(|r| r.span.name == format!("container {id}")))
            .count();
        if arrived == ids.len() {
            return spans;
        }
        assert!(Instant::now() < deadline, "not every birth arrived");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn births_arrive_as_traces_and_drops_are_counted_when_the_receiver_is_away() {
    let _one_watch = WATCHING.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let sandbox = Sandbox::new();
    let receiver_addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let mut receiver = Running::start(receiver_addr, false);
    let metrics = format!("127.0.0.1:{}", free_port());
    let endpoint = format!("http://{receiver_addr}");
    let watch =
        Watch::start_with(sandbox.dir.path(), &["--otlp", &endpoint, "--metrics", &metrics]);

    // Three births, each container's namespaces read while it runs.
    let sleeping = RuncBundle::new(&["sleep", "60"]);
    let mut seen: Vec<(String, u64, BTreeMap<String, i64>)> = Vec::new();
    for n in 0..3 {
        let sleeper = Sleeper::start(&sleeping, sandbox.id(&format!("otlp{n}")));
        let pid = sleeper.pid();
        let namespaces = ["mnt", "uts", "ipc", "pid", "net", "cgroup"]
            .into_iter()
            .map(|kind| (kind.to_owned(), i64::try_from(ns_inum(pid, kind)).unwrap()))
            .collect();
        seen.push((sleeper.id.clone(), pid, namespaces));
        sleeper.stop();
    }
    let ids: Vec<&str> = seen.iter().map(|(id, ..)| id.as_str()).collect();
    let spans = wait_for_births(&receiver, &ids);
    for (id, pid, namespaces) in &seen {
        let (root, children) = otlp::birth(&spans, id);
        let phases: Vec<&str> = children.iter().map(|r| r.span.name.as_str()).collect();
        assert_eq!(phases, otlp::birth_phases(), "{id}");
        assert_eq!(
            otlp::int(&root.span.attributes, "process.pid"),
            Some(i64::try_from(*pid).unwrap()),
            "{id}"
        );
        assert_eq!(
            otlp::string(&root.span.attributes, "container.runtime.name").as_deref(),
            Some("runc")
        );
        // Every namespace the birth created is one the container has.
        let created = otlp::namespaces(&children);
        assert!(created.len() >= 5, "{id}: {created:?}");
        for (kind, inode) in &created {
            assert_eq!(namespaces.get(kind), Some(inode), "{id}: {kind} namespace");
        }
    }

    // The receiver goes away: the watch goes on, and counts the drops.
    let before = metric(&metrics, "cradle_export_dropped_spans_total");
    assert_eq!(before, Some(0.0), "dropped while the receiver was up");
    receiver.stop();
    let quick = RuncBundle::new(&["true"]);
    let late = sandbox.id("otlplate");
    let run = run_with("runc", &quick.runc_root(), quick.path(), &late);
    assert!(run.status.success(), "{late}: {run:?}");
    let deadline = Instant::now() + Duration::from_secs(60);
    let dropped = loop {
        match metric(&metrics, "cradle_export_dropped_spans_total") {
            Some(dropped) if dropped > 0.0 => break dropped,
            _ => assert!(Instant::now() < deadline, "no span counted dropped"),
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let timeline = watch.timeline.clone();
    let records = watch.stop();
    assert!(
        records.iter().any(|r| r["container"]["id"] == late.as_str()),
        "the watch recorded no container after the receiver stopped"
    );
    let trailer = &records.last().unwrap()["trailer"];
    assert!(
        trailer["export_dropped"].as_f64().is_some_and(|n| n >= dropped),
        "trailer: {trailer}, metrics: {dropped}"
    );
    // And the timeline's closing lines say so.
    let timeline = std::fs::read_to_string(&timeline).unwrap();
    let said = format!("{} spans of container births not sent", trailer["export_dropped"]);
    assert!(timeline.contains(&said), "{said:?} not in the timeline's end");
}

#[test]
fn an_http_protobuf_endpoint_receives_births_too() {
    let _one_watch = WATCHING.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let sandbox = Sandbox::new();
    let receiver_addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let receiver = Running::start(receiver_addr, true);
    // No path: the traces signal's own, /v1/traces, is taken.
    let endpoint = format!("http://{receiver_addr}");
    let watch =
        Watch::start_with(sandbox.dir.path(), &["--otlp", &endpoint, "--otlp-protocol", "http"]);
    let bundle = RuncBundle::new(&["true"]);
    let id = sandbox.id("otlphttp");
    let run = run_with("runc", &bundle.runc_root(), bundle.path(), &id);
    assert!(run.status.success(), "{id}: {run:?}");
    let spans = wait_for_births(&receiver, &[&id]);
    let (root, children) = otlp::birth(&spans, &id);
    let phases: Vec<&str> = children.iter().map(|r| r.span.name.as_str()).collect();
    assert_eq!(phases, otlp::birth_phases(), "{id}");
    let workload = otlp::string(&root.span.attributes, "process.executable.path");
    assert_eq!(workload.as_deref(), Some("/bin/true"), "{id}");
    let records = watch.stop();
    let trailer = &records.last().unwrap()["trailer"];
    assert!(trailer.get("export_dropped").is_none(), "dropped with the receiver up: {trailer}");
}

/// A taken metrics address and an endpoint that is no http URL: each is
/// refused by name before anything is written.
#[test]
fn bad_export_arguments_are_refused_by_name_and_leave_no_file() {
    let _one_watch = WATCHING.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let sandbox = Sandbox::new();
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = taken.local_addr().unwrap().to_string();
    let out = sandbox.dir.path().join("refused.jsonl");
    for (args, named) in [
        (["--metrics", taken.as_str()], format!("--metrics {taken}")),
        (["--otlp", "https://collector:4317"], "--otlp https://collector:4317".into()),
        (["--otlp", "collector:4317"], "--otlp collector:4317".into()),
    ] {
        let refused = output(common::cradle().args(["watch", "--out"]).arg(&out).args(args));
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(!refused.status.success(), "{args:?}: {stderr}");
        assert!(stderr.contains(&named), "{args:?}: {stderr}");
        assert!(!out.exists(), "{args:?} left {}", out.display());
    }
}
