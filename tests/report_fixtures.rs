//! The report rules, held to traces of stock containers recorded from the
//! real tools (`tests/fixtures/stock/`): docker, podman, runc, crun and
//! cradle with their default settings give no finding at high severity or
//! above. The docker and podman traces are what made the rules change:
//! docker's and podman's own binds of a container's hosts, hostname and
//! resolv.conf, podman's network namespace joined before the others are
//! created, and runc's seal of its own binary are not findings.

#[path = "common/runtime.rs"]
mod runtime;

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use runtime::{cradle_bin, stderr};
use serde_json::Value;

const FIXTURES: [(&str, &str); 5] = [
    ("runc", "runc"),
    ("crun", "crun"),
    ("cradle", "cradle"),
    ("podman-runc", "runc"),
    ("docker-runc", "runc"),
];

fn fixture(name: &str, dir: &Path) -> PathBuf {
    let gz =
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/stock/{name}.jsonl.gz"));
    let out = Command::new("gzip").arg("-dc").arg(&gz).output().expect("gzip");
    assert!(out.status.success(), "gzip -dc {}: {}", gz.display(), stderr(&out));
    let path = dir.join(format!("{name}.jsonl"));
    std::fs::write(&path, out.stdout).unwrap();
    path
}

fn report(trace: &Path) -> Value {
    let out = Command::new(cradle_bin())
        .args(["report", "--format", "json"])
        .arg(trace)
        .output()
        .expect("cradle report");
    assert!(out.status.success(), "report {}: {}", trace.display(), stderr(&out));
    serde_json::from_slice(&out.stdout).expect("the report is JSON")
}

fn high_findings(report: &Value) -> Vec<String> {
    report["containers"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["findings"].as_array().unwrap().iter())
        .filter(|f| matches!(f["severity"].as_str(), Some("high" | "critical")))
        .map(|f| format!("{} {}: {}", f["id"], f["rule"], f["message"]))
        .collect()
}

#[test]
fn stock_containers_of_every_client_and_runtime_have_no_high_finding() {
    let dir = tempfile::tempdir().unwrap();
    for (name, runtime) in FIXTURES {
        let trace = fixture(name, dir.path());
        let report = report(&trace);
        let containers = report["containers"].as_array().unwrap();
        assert_eq!(containers.len(), 1, "{name}: one container");
        assert_eq!(containers[0]["runtime"]["name"], runtime, "{name}");
        assert!(containers[0]["runtime"]["init_pid"].is_number(), "{name}: reached its init");
        assert_eq!(high_findings(&report), Vec::<String>::new(), "{name}");
        let gate = Command::new(cradle_bin())
            .args(["report", "--fail-on", "high"])
            .arg(&trace)
            .output()
            .unwrap();
        assert_eq!(gate.status.code(), Some(0), "{name}: --fail-on high: {}", stderr(&gate));
    }
}

/// Without the header's host namespaces (traces written before them), the
/// host's are inferred from the events: podman's runc joins the network
/// namespace by path before it unshares the rest, and that joined
/// namespace is not the host's.
#[test]
fn a_namespace_joined_before_the_others_are_created_is_not_taken_for_the_hosts() {
    let dir = tempfile::tempdir().unwrap();
    let trace = fixture("podman-runc", dir.path());
    let text = std::fs::read_to_string(&trace).unwrap();
    let (header, rest) = text.split_once('\n').unwrap();
    let mut header: Value = serde_json::from_str(header).unwrap();
    header["header"].as_object_mut().unwrap().remove("host_namespaces");
    std::fs::write(&trace, format!("{header}\n{rest}")).unwrap();
    let report = report(&trace);
    let views = report["containers"][0]["namespaces"]["views"].as_array().unwrap();
    let net = views.iter().find(|v| v["kind"] == "net").unwrap();
    assert_eq!(net["shared_with_host"], false, "{net}");
    assert_eq!(high_findings(&report), Vec::<String>::new());
}

/// runc's read-only bind of /proc/self/exe into its state directory (its
/// CVE-2019-5736 defence) is runc's, made in the host's mount namespace
/// before any namespace exists: not one of the container's mounts.
#[test]
fn the_runtimes_own_binary_seal_is_not_a_container_mount() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["runc", "podman-runc", "docker-runc"] {
        let trace = fixture(name, dir.path());
        let text = std::fs::read_to_string(&trace).unwrap();
        assert!(text.contains(r#""source":"/proc/self/exe""#), "{name}: the trace has the seal");
        let report = report(&trace);
        let mounts = report["containers"][0]["mounts"].as_array().unwrap();
        let sealed: Vec<&Value> =
            mounts.iter().filter(|m| m["source"] == "/proc/self/exe").collect();
        assert!(sealed.is_empty(), "{name}: {sealed:#?}");
        assert!(mounts.len() > 10, "{name}: the container's own mounts are still there");
    }
}
