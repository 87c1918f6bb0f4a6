//! Helpers shared by the end-to-end tests: the real cradle binary, real
//! peers, real kernel. Each test binary uses a subset.
#![allow(dead_code)]

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
};

use serde_json::Value;

pub mod clients;
pub mod otlp;
pub mod probes;
pub mod runtime;
pub mod tmux;
pub mod watch;

/// The cradle binary under test.
pub fn cradle() -> Command {
    Command::new(env!("CARGO_BIN_EXE_cradle"))
}

/// Runs a command and returns its output, panicking with context if it
/// could not be started.
pub fn output(command: &mut Command) -> Output {
    command.output().unwrap_or_else(|err| panic!("running {command:?}: {err}"))
}

/// Reads a trace file, checking every line against the committed trace
/// schema, and returns its records in the flat form the tests query:
/// an event's detail fields and `kind` beside its identity, its owner as
/// `container`, `role` and `phase`; other records as they are.
pub fn json_lines(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|err| panic!("reading {}: {err}", path.display()));
    let validator = trace_schema();
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let record: Value = serde_json::from_str(line)
                .unwrap_or_else(|err| panic!("bad JSON line {line:?}: {err}"));
            let errors: Vec<String> =
                validator.iter_errors(&record).map(|e| e.to_string()).collect();
            assert!(
                errors.is_empty(),
                "line violates schemas/trace.schema.json: {errors:?}\n{line}"
            );
            flat(record)
        })
        .collect()
}

fn trace_schema() -> jsonschema::Validator {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/trace.schema.json");
    let schema: Value = serde_json::from_slice(&std::fs::read(&path).expect("trace schema"))
        .expect("schema is JSON");
    jsonschema::validator_for(&schema).expect("a valid JSON Schema")
}

fn flat(record: Value) -> Value {
    let Some(Value::Object(mut event)) = record.get("event").cloned() else {
        return record;
    };
    if let Some(Value::Object(detail)) = event.remove("detail") {
        for (kind, fields) in detail {
            event.insert("kind".into(), kind.into());
            if let Value::Object(fields) = fields {
                event.extend(fields);
            }
        }
    }
    let owner = event.remove("owner").unwrap_or(Value::Null);
    for key in ["role", "phase"] {
        event.insert(key.into(), owner[key].clone());
    }
    // Not "call": open events have a field of that name (openat, open).
    event.insert("runtime_call".into(), owner["call"].clone());
    event.insert("container".into(), owner["id"].clone());
    Value::Object(event)
}

/// What `cradle report TRACE` (JSON) says of container `id`.
pub fn reported_container(trace: &Path, id: &str) -> Value {
    let report = output(cradle().arg("report").arg(trace));
    assert!(report.status.success(), "{report:?}");
    let report: Value = serde_json::from_slice(&report.stdout).expect("the report is JSON");
    report["containers"]
        .as_array()
        .expect("containers")
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("{id} in the report of {}", trace.display()))
        .clone()
}

/// A container's phases, in their documented order.
pub const PHASES: [&str; 8] = [
    "runtime_start",
    "namespace_creation",
    "rootfs_assembly",
    "root_switch",
    "privilege_reduction",
    "workload_exec",
    "running",
    "exit",
];

/// The pid in a step-mode pause's `paused: comm[pid] is stopped after ...`
/// (runc's comm has brackets of its own), wherever it is in `text`.
pub fn paused_pid(text: &str) -> Option<u32> {
    let paused = &text[text.find("paused: ")? + "paused: ".len()..];
    let who = &paused[..paused.find(" is stopped")?];
    who[who.rfind('[')? + 1..who.len().checked_sub(1)?].parse().ok()
}

/// A process's state letter from /proc (`T`: stopped); None once it is gone.
pub fn process_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}

/// The state of `pid` once it is stopped, or the last state seen after
/// `within`. A stop the kernel asked for lands on the task's way back to
/// user mode, which a loaded machine may not schedule for a while.
pub fn state_once_stopped(pid: u32, within: std::time::Duration) -> Option<char> {
    let deadline = std::time::Instant::now() + within;
    loop {
        let state = process_state(pid);
        if state == Some('T') || std::time::Instant::now() >= deadline {
            return state;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// The titles the timeline and the UI give the phases a container steps
/// through, in order: Running, which is not a step of its birth, left out.
pub const PHASE_TITLES: [&str; 7] = [
    "Runtime start",
    "Namespace creation",
    "Root filesystem assembly",
    "Root switch",
    "Privilege reduction",
    "Workload exec",
    "Exit",
];

/// A container record's phases appear in the documented order and include
/// every one but `running` (which a workload that makes no syscall after
/// its exec may skip).
pub fn assert_phases_in_order(container: &Value) {
    let phases: Vec<&str> = container["phases"]
        .as_array()
        .expect("phases")
        .iter()
        .map(|p| p["phase"].as_str().expect("phase name"))
        .collect();
    let positions: Vec<usize> = phases
        .iter()
        .map(|p| PHASES.iter().position(|known| known == p).expect("a known phase"))
        .collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "{} out of order: {phases:?}",
        container["id"]
    );
    for required in PHASES.iter().filter(|p| **p != "running") {
        assert!(
            phases.contains(required),
            "{} never reached {required}: {phases:?}",
            container["id"]
        );
    }
}

/// The argv of an exec event, if it is one.
pub fn exec_argv(event: &Value) -> Option<Vec<String>> {
    if event["kind"] != "exec" {
        return None;
    }
    Some(
        event["argv"]
            .as_array()?
            .iter()
            .map(|arg| arg.as_str().unwrap_or_default().to_string())
            .collect(),
    )
}

/// A busybox root filesystem and a `runc spec` config running `args`, in a
/// temporary directory removed on drop.
pub struct RuncBundle {
    pub dir: tempfile::TempDir,
}

impl RuncBundle {
    pub fn new(args: &[&str]) -> RuncBundle {
        let dir = tempfile::tempdir().expect("temp dir");
        let rootfs = dir.path().join("rootfs");
        for sub in ["bin", "proc", "sys", "dev", "tmp", "etc"] {
            std::fs::create_dir_all(rootfs.join(sub)).expect("rootfs dirs");
        }
        std::fs::copy("/bin/busybox", rootfs.join("bin/busybox"))
            .expect("copy /bin/busybox (package busybox-static; run cargo xtask setup)");
        let applets = output(Command::new("/bin/busybox").arg("--list"));
        for applet in String::from_utf8_lossy(&applets.stdout).lines() {
            let _ = std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(applet));
        }
        let spec = output(Command::new("runc").args(["spec", "--bundle"]).arg(dir.path()));
        assert!(spec.status.success(), "runc spec: {spec:?}");
        let config_path = dir.path().join("config.json");
        let mut config: Value =
            serde_json::from_str(&std::fs::read_to_string(&config_path).unwrap()).unwrap();
        config["process"]["terminal"] = Value::Bool(false);
        config["process"]["args"] = args.iter().map(|a| Value::from(*a)).collect();
        std::fs::write(&config_path, serde_json::to_vec_pretty(&config).unwrap()).unwrap();
        RuncBundle { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A runc state directory private to this bundle.
    pub fn runc_root(&self) -> PathBuf {
        self.dir.path().join("runc-state")
    }

    /// `cradle trace --out FILE` of `runc run` of this bundle, as container
    /// `{prefix}-{pid}`; returns cradle's output and the trace file.
    pub fn trace_runc_run(&self, prefix: &str) -> (Output, PathBuf) {
        let trace = self.path().join("trace.jsonl");
        let result = output(
            cradle()
                .args(["trace", "--out"])
                .arg(&trace)
                .args(["--", "runc", "--root"])
                .arg(self.runc_root())
                .args(["run", "--bundle"])
                .arg(self.path())
                .arg(format!("{prefix}-{}", std::process::id())),
        );
        (result, trace)
    }
}
