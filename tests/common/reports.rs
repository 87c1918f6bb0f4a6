//! Helpers for the report, diff and export tests: traced runs of real
//! bundles (the built-in runtime, runc and crun), `cradle report|diff|export`,
//! and JSON Schema validation against the committed schemas.

#![allow(dead_code)]

use std::{
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
};

use serde_json::Value;

use crate::runtime::{Sandbox, cradle_bin, stderr};

/// `cradle run --trace=FILE` of `bundle`; returns the trace file.
pub fn trace_cradle_run(sandbox: &Sandbox, bundle: &Path, name: &str) -> PathBuf {
    let id = sandbox.id(name);
    let trace = sandbox.dir.path().join(format!("{id}.jsonl"));
    let out = sandbox
        .cradle(&["run", &format!("--trace={}", trace.display()), "--bundle"])
        .arg(bundle)
        .arg(&id)
        .stdout(Stdio::null())
        .output()
        .expect("cradle run --trace");
    assert!(out.status.success(), "cradle run --trace: {:?}\n{}", out.status, tail(&out));
    trace
}

/// `cradle trace --out FILE -- COMMAND...` for container `name`, where
/// `command` gets the container's id; returns the trace file.
fn trace_command(
    sandbox: &Sandbox,
    name: &str,
    command: impl FnOnce(&str) -> Vec<String>,
) -> PathBuf {
    let id = sandbox.id(name);
    let trace = sandbox.dir.path().join(format!("{id}.jsonl"));
    let command = command(&id);
    let out = Command::new(cradle_bin())
        .args(["trace", "--out"])
        .arg(&trace)
        .arg("--")
        .args(&command)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .output()
        .expect("cradle trace");
    assert!(out.status.success(), "cradle trace -- {command:?}: {:?}\n{}", out.status, tail(&out));
    trace
}

/// `cradle trace --out FILE -- runc run` of `bundle`; returns the trace file.
pub fn trace_runc_run(sandbox: &Sandbox, bundle: &Path, name: &str) -> PathBuf {
    let runc_root = sandbox.dir.path().join("runc-state");
    trace_command(sandbox, name, |id| {
        let (root, bundle) = (runc_root.display(), bundle.display());
        ["runc", "--root", &root.to_string(), "run", "--bundle", &bundle.to_string(), id]
            .map(String::from)
            .to_vec()
    })
}

/// `cradle trace --out FILE -- crun run` of `bundle`; returns the trace
/// file. crun refuses this host's hybrid cgroups: it runs in a private
/// mount namespace that sees only cgroup2 (docs: shared/PLATFORM.md).
pub fn trace_crun_run(sandbox: &Sandbox, bundle: &Path, name: &str) -> PathBuf {
    let crun_root = sandbox.dir.path().join("crun-state");
    trace_command(sandbox, name, |id| {
        let script = format!(
            "umount -R /sys/fs/cgroup && mount -t cgroup2 none /sys/fs/cgroup && \
             exec crun --root {} --cgroup-manager=disabled run --bundle {} {id}",
            crun_root.display(),
            bundle.display()
        );
        ["unshare", "-m", "sh", "-c", &script].map(String::from).to_vec()
    })
}

/// The last lines of a command's stderr: the error after the timeline.
pub fn tail(out: &Output) -> String {
    let text = stderr(out);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

/// `cradle ARGS...`, stdin closed.
pub fn cradle(args: &[&str]) -> Output {
    Command::new(cradle_bin()).args(args).stdin(Stdio::null()).output().expect("run cradle")
}

pub fn path_str(path: &Path) -> &str {
    path.to_str().expect("UTF-8 path")
}

pub fn validator(schema_file: &str) -> jsonschema::Validator {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas").join(schema_file);
    let schema: Value = serde_json::from_slice(&std::fs::read(&path).expect("schema file"))
        .expect("schema is JSON");
    let mut schema = schema;
    // The published SARIF 2.1.0 schema's `language` patterns (of run and
    // toolComponent) have a stray `]` that the meta-schema's `regex` format
    // rejects. cradle never writes `language`; the patterns are replaced in
    // memory by the one they mean.
    replace_string(
        &mut schema,
        "^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$",
        "^[a-zA-Z]{2}$|^[a-zA-Z]{2}-[a-zA-Z]{2}$",
    );
    jsonschema::validator_for(&schema).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

fn replace_string(value: &mut Value, from: &str, to: &str) {
    match value {
        Value::String(text) if text == from => *text = to.into(),
        Value::Array(items) => items.iter_mut().for_each(|item| replace_string(item, from, to)),
        Value::Object(map) => map.values_mut().for_each(|item| replace_string(item, from, to)),
        _ => {}
    }
}

/// Panics with every violation if `value` does not validate.
pub fn assert_valid(validator: &jsonschema::Validator, value: &Value, what: &str) {
    let errors: Vec<String> = validator
        .iter_errors(value)
        .take(20)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{what} violates its schema: {errors:#?}");
}

/// The record on 1-based `line` of a trace file.
pub fn trace_line(trace: &Path, line: u64) -> Value {
    let text = std::fs::read_to_string(trace).expect("read trace");
    let index = usize::try_from(line - 1).expect("a line number");
    let record = text.lines().nth(index).expect("line in trace");
    serde_json::from_str(record).expect("trace line is JSON")
}

/// Checks that an evidence reference names the event on its line, and
/// returns that event.
pub fn cited_event(trace: &Path, evidence: &Value) -> Value {
    let record = trace_line(trace, evidence["line"].as_u64().expect("evidence line"));
    let event = record["event"].clone();
    assert_eq!(event["cpu"], evidence["cpu"], "evidence {evidence} vs line {record}");
    assert_eq!(event["seq"], evidence["seq"], "evidence {evidence} vs line {record}");
    event
}
