//! Running `cradle trace --out FILE` on a command and reading its events back.

#![allow(dead_code)]

use std::{path::PathBuf, process::Command};

use serde_json::Value;

/// The trace of one command.
pub struct Trace {
    pub events: Vec<Value>,
    /// What the command printed on stdout.
    pub stdout: String,
    pub success: bool,
}

impl Trace {
    /// Events of this kind, in trace order.
    pub fn kind(&self, kind: &str) -> Vec<&Value> {
        self.events.iter().filter(|e| e["kind"] == kind).collect()
    }

    /// The only event of this kind; fails the test otherwise.
    pub fn one(&self, kind: &str) -> &Value {
        let found = self.kind(kind);
        assert_eq!(found.len(), 1, "expected one {kind} event, got {found:#?}");
        found[0]
    }

    /// The command's stdout as JSON (the helper's report).
    pub fn report(&self) -> Value {
        serde_json::from_str(self.stdout.trim()).expect("the helper prints one JSON object")
    }
}

/// The test helper built from `tests/bin/probe_actions.rs`.
pub fn helper() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_probe_actions"))
}

/// Runs `cradle trace --out FILE [extra...] -- command...`.
pub fn trace(extra: &[&str], command: &[&str]) -> Trace {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("trace.jsonl");
    let output = Command::new(env!("CARGO_BIN_EXE_cradle"))
        .arg("trace")
        .arg("--out")
        .arg(&out)
        .args(extra)
        .arg("--")
        .args(command)
        .output()
        .expect("running cradle trace");
    assert!(out.exists(), "no trace; stderr: {}", String::from_utf8_lossy(&output.stderr));
    let events = super::json_lines(&out);
    Trace {
        events,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        success: output.status.success(),
    }
}

/// Asserts the identity fields every event carries, for an event of `pid`.
pub fn assert_acting(event: &Value, pid: u64, comm: &str) {
    assert_eq!(event["pid"], pid, "{event}");
    assert_eq!(event["tgid"], pid, "{event}");
    assert_eq!(event["comm"], comm, "{event}");
    for field in ["ts_ns", "ppid", "cgroup_id", "mnt_ns", "pid_ns"] {
        assert!(event[field].as_u64().is_some_and(|v| v > 0), "{field} in {event}");
    }
    assert_eq!(event["truncated"], false, "{event}");
}

/// `readlink /proc/PID/ns/NS` as a number.
pub fn ns_inum(pid: u64, ns: &str) -> u64 {
    let link = std::fs::read_link(format!("/proc/{pid}/ns/{ns}")).expect("ns link");
    let text = link.to_string_lossy().into_owned();
    text[text.find('[').expect("[") + 1..text.len() - 1].parse().expect("inode number")
}
