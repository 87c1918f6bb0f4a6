//! `cradle watch --metrics` scraped by a real Prometheus (issue 21): five
//! real `runc run`s, then Prometheus's HTTP API (through `promtool query`)
//! must read five containers started and five observations of each phase
//! of a birth. Real kernel, real eBPF, real runc, Debian's Prometheus:
//! needs root. Its own test file: a second watch in the same test binary
//! would see these containers too.

mod common;

use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use common::{
    RuncBundle, output,
    runtime::{Sandbox, run_with},
    watch::Watch,
};
use serde_json::Value;

/// A free TCP port on the loopback interface.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Prometheus scraping `target` every second, its data in `dir`; stopped
/// and its data removed on drop.
struct Prometheus {
    child: Child,
    data: PathBuf,
    url: String,
}

impl Prometheus {
    fn start(dir: &Path, target: &str) -> Prometheus {
        let config = dir.join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
                 scrape_configs:\n  - job_name: cradle\n    static_configs:\n      \
                 - targets: ['{target}']\n"
            ),
        )
        .unwrap();
        let data = dir.join("prometheus-data");
        let port = free_port();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", data.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("prometheus.log")).unwrap())
            .spawn()
            .expect("start prometheus (package prometheus; run cargo xtask setup)");
        Prometheus { child, data, url: format!("http://127.0.0.1:{port}") }
    }

    /// The value of an instant query that yields one number (`None`:
    /// no result yet, or Prometheus is not answering yet).
    fn number(&self, query: &str) -> Option<f64> {
        let out = output(
            Command::new("promtool").args(["query", "instant", "-o", "json", &self.url, query]),
        );
        if !out.status.success() {
            return None;
        }
        let result: Value = serde_json::from_slice(&out.stdout).ok()?;
        let [sample] = result.as_array()?.as_slice() else { return None };
        sample["value"][1].as_str()?.parse().ok()
    }

    /// Waits for `query` to read `expected`, and returns what it read last.
    fn wait_for(&self, query: &str, expected: f64) -> Option<f64> {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let value = self.number(query);
            if value == Some(expected) || Instant::now() > deadline {
                return value;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.data);
    }
}

#[test]
fn prometheus_reads_five_births_and_their_phases() {
    let sandbox = Sandbox::new();
    let bundle = RuncBundle::new(&["true"]);
    let metrics = format!("127.0.0.1:{}", free_port());
    let watch = Watch::start_with(sandbox.dir.path(), &["--metrics", &metrics]);
    let prometheus = Prometheus::start(sandbox.dir.path(), &metrics);
    // Scraped before any container: the series start from their first
    // scrape, and `up` says the endpoint answers.
    assert_eq!(prometheus.wait_for("up{job=\"cradle\"}", 1.0), Some(1.0), "never scraped");
    for n in 0..5 {
        let id = sandbox.id(&format!("prom{n}"));
        let run = run_with("runc", &bundle.runc_root(), bundle.path(), &id);
        assert!(run.status.success(), "{id}: {run:?}");
    }
    // This test ran them: other containers on the host have other clients.
    let client = std::fs::read_to_string("/proc/self/comm").unwrap();
    let ours = format!("runtime=\"runc\",client=\"{}\"", client.trim_end());
    let started = format!("sum(cradle_container_births_total{{{ours},outcome=\"started\"}})");
    assert_eq!(prometheus.wait_for(&started, 5.0), Some(5.0), "{started}");
    // The phases of a birth: each ends before the workload runs.
    for phase in common::otlp::birth_phases() {
        let observations =
            format!("sum(cradle_phase_duration_seconds_count{{{ours},phase=\"{phase}\"}})");
        assert_eq!(prometheus.wait_for(&observations, 5.0), Some(5.0), "{observations}");
        // Each observation lies in a bucket: the +Inf bucket counts all.
        let all = format!(
            "sum(cradle_phase_duration_seconds_bucket{{{ours},phase=\"{phase}\",le=\"+Inf\"}})"
        );
        assert_eq!(prometheus.number(&all), Some(5.0), "{all}");
    }
    // What the watch recorded agrees: as many events of each kind as the
    // endpoint counted, for a kind every birth has.
    let execs = prometheus.number("cradle_events_total{kind=\"exec\"}");
    drop(prometheus);
    let records = watch.stop();
    let recorded_execs = records.iter().filter(|record| record["kind"] == "exec").count();
    assert!(
        execs.is_some_and(|n| n >= 5.0 && n <= recorded_execs as f64),
        "exec events: {execs:?} scraped, {recorded_execs} recorded"
    );
    assert!(!sandbox.dir.path().join("prometheus-data").exists());
}
