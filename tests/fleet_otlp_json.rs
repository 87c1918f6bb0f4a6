//! `cradle export TRACE --format otlp-json` (issue 21): a real trace of a
//! real `runc run`, exported, parses as an OTLP `ExportTraceServiceRequest`
//! with the official protobuf JSON mapping, and holds the birth as one
//! trace: the root span, a child per phase in the phases' order, the key
//! calls as span events with the namespaces' inode numbers, and the
//! findings of `cradle report`.

mod common;
#[path = "common/reports.rs"]
mod reports;

use common::{otlp, runtime};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use reports::{cradle, path_str, trace_runc_run};
use runtime::{Sandbox, stderr};
use serde_json::Value;

#[test]
fn a_saved_birth_exports_as_one_otlp_trace() {
    let sandbox = Sandbox::new();
    let bundle = sandbox.bundle("b", &["true"]);
    let trace = trace_runc_run(&sandbox, &bundle, "otlpjson");
    let out = cradle(&["export", path_str(&trace), "--format", "otlp-json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let request: ExportTraceServiceRequest =
        serde_json::from_slice(&out.stdout).expect("the official OTLP JSON mapping");
    // The mapping's own spellings: ids in hex, 64-bit integers as strings.
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let first = &json["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
    assert!(first["traceId"].as_str().is_some_and(|id| id.len() == 32), "{first}");
    assert!(first["startTimeUnixNano"].as_str().is_some_and(|t| t.parse::<u64>().is_ok()));

    let report: Value =
        serde_json::from_slice(&cradle(&["report", path_str(&trace)]).stdout).unwrap();
    let container = &report["containers"][0];
    let id = container["id"].as_str().unwrap();
    let spans = otlp::spans(&[request]);
    let (root, children) = otlp::birth(&spans, id);
    assert_eq!(spans.len(), 1 + children.len(), "a span outside the birth's trace");

    // A child per phase of the birth, in the report's order.
    let names: Vec<&str> = children.iter().map(|r| r.span.name.as_str()).collect();
    let phases: Vec<&str> = container["phases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["phase"].as_str().unwrap())
        .filter(|p| otlp::birth_phases().contains(p))
        .collect();
    assert_eq!(names, phases);
    assert_eq!(names, otlp::birth_phases(), "a runc birth goes through every phase");

    // The namespaces it created, with the report's inode numbers.
    let created: std::collections::BTreeMap<String, i64> = container["namespaces"]["created"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["kind"].as_str().unwrap().to_owned(), n["inum"].as_i64().unwrap()))
        .collect();
    assert!(created.len() >= 5, "{created:?}");
    assert_eq!(otlp::namespaces(&children), created);
    // The key calls, each in the phase it belongs to.
    for (call, phase) in [
        ("namespace", "namespace_creation"),
        ("mount", "rootfs_assembly"),
        ("pivot_root", "root_switch"),
        ("capset", "privilege_reduction"),
        ("exec", "workload_exec"),
    ] {
        let found = otlp::events_named(&children, call);
        assert!(
            found.iter().any(|(span, _)| *span == phase),
            "{call} in {phase}: {:?}",
            found.iter().map(|(span, _)| span).collect::<Vec<_>>()
        );
    }
    // Findings, with their severity, on the root span.
    let findings: Vec<(String, String)> = otlp::events_named(&[root], "finding")
        .into_iter()
        .map(|(_, e)| {
            let rule = otlp::string(&e.attributes, "security_rule.name").unwrap();
            (rule, otlp::string(&e.attributes, "cradle.finding.severity").unwrap())
        })
        .collect();
    let reported: Vec<(String, String)> = container["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["rule"].as_str().unwrap().into(), f["severity"].as_str().unwrap().into()))
        .collect();
    let sorted = |mut list: Vec<(String, String)>| {
        list.sort();
        list
    };
    assert_eq!(sorted(findings), sorted(reported));
    assert_eq!(otlp::int(&root.span.attributes, "process.exit.code"), Some(0));
}

#[test]
fn a_missing_trace_is_an_error_naming_it() {
    let sandbox = Sandbox::new();
    let missing = sandbox.dir.path().join("none.jsonl");
    let target = sandbox.dir.path().join("out.json");
    let out =
        cradle(&["export", path_str(&missing), "--format", "otlp-json", "-o", path_str(&target)]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains(path_str(&missing)), "{}", stderr(&out));
    assert!(
        std::fs::read_dir(sandbox.dir.path())
            .unwrap()
            .all(|e| { !e.unwrap().file_name().to_string_lossy().starts_with("out.json") })
    );
}
