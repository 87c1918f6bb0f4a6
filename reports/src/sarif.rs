//! Findings as SARIF 2.1.0, for code-scanning dashboards and CI. The
//! analysed artifact is the trace file: each result points at the line of
//! its first evidence event, the other evidence events are related
//! locations, and the container is a logical location.

use serde_json::{Value, json};

use crate::{
    model::{EventRef, Report},
    rules::{RULES, Rule, Severity},
};

pub const SCHEMA_URI: &str = "https://json.schemastore.org/sarif-2.1.0.json";

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    }
}

/// GitHub's `security-severity` scale (0.0-10.0).
fn security_severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "3.0",
        Severity::Info => "0.0",
    }
}

/// A path as a URI reference: characters outside the unreserved and path
/// sets are percent-encoded.
fn uri(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for byte in path.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                out.push(byte as char)
            }
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

fn rule_descriptor(rule: &Rule) -> Value {
    json!({
        "id": rule.id,
        "name": rule.name,
        "shortDescription": {"text": rule.title},
        "fullDescription": {"text": rule.rationale},
        "help": {"text": format!("{}\nEvidence: {}", rule.remediation, rule.evidence)},
        "defaultConfiguration": {"level": level(rule.severity)},
        "properties": {
            "tags": ["security", "container"],
            "severity": rule.severity.name(),
            "security-severity": security_severity(rule.severity),
        },
    })
}

fn location(artifact: &str, evidence: &EventRef, container: &str) -> Value {
    json!({
        "physicalLocation": {
            "artifactLocation": {"uri": artifact, "index": 0},
            "region": {"startLine": evidence.line},
        },
        "logicalLocations": [{"name": container, "kind": "object"}],
        "message": {"text": format!("{}[{}] {}", evidence.comm, evidence.tgid, evidence.text)},
    })
}

pub fn render(report: &Report) -> Value {
    let artifact = uri(&report.trace.path);
    let mut results = Vec::new();
    for container in &report.containers {
        for finding in &container.findings {
            let rule_index = RULES.iter().position(|r| r.id == finding.id);
            let mut evidence = finding.evidence.iter();
            let locations: Vec<Value> = evidence
                .next()
                .map(|e| location(&artifact, e, &container.id))
                .into_iter()
                .collect();
            let related: Vec<Value> = evidence
                .enumerate()
                .map(|(n, e)| {
                    let mut loc = location(&artifact, e, &container.id);
                    loc["id"] = json!(n + 1);
                    loc
                })
                .collect();
            let refs: Vec<Value> = finding
                .evidence
                .iter()
                .map(|e| json!({"cpu": e.cpu, "seq": e.seq, "line": e.line}))
                .collect();
            let mut result = json!({
                "ruleId": finding.id,
                "level": level(finding.severity),
                "message": {"text": format!("{}: {}", finding.title, finding.message)},
                "locations": locations,
                "partialFingerprints": {
                    "cradleFinding/v1": format!("{}/{}/{}", container.id, finding.id, finding.message),
                },
                "properties": {
                    "severity": finding.severity.name(),
                    "container": container.id,
                    "runtime": container.runtime.name,
                    "evidence": refs,
                },
            });
            if let Some(index) = rule_index {
                result["ruleIndex"] = json!(index);
            }
            if !related.is_empty() {
                result["relatedLocations"] = json!(related);
            }
            results.push(result);
        }
    }
    json!({
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "cradle",
                "version": report.cradle_version,
                "semanticVersion": report.cradle_version,
                "rules": RULES.iter().map(rule_descriptor).collect::<Vec<_>>(),
            }},
            "artifacts": [{"location": {"uri": artifact}, "mimeType": "application/jsonl"}],
            "results": results,
            "columnKind": "unicodeCodePoints",
        }],
    })
}
