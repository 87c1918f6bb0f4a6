//! OCI hooks: all six run at their points of the lifecycle with the state
//! on stdin; a failing or hanging hook fails create and leaves nothing.

#[path = "common/runtime.rs"]
mod runtime;

use runtime::{Sandbox, cgroups_mentioning, stderr};
use serde_json::{Value, json};

/// A hook that appends `STAGE <its stdin>` as one line to `log`.
fn logging_hook(stage: &str, log: &str) -> Value {
    json!({"path": "/bin/sh", "args": ["sh", "-c", format!("echo {stage} $(cat) >> {log}")]})
}

#[test]
fn six_hooks_in_lifecycle_order_with_the_state() {
    let sandbox = Sandbox::new();
    let bundle = sandbox.bundle("b", &["true"]);
    let host_log = sandbox.dir.path().join("hooks.log");
    let host = host_log.to_str().unwrap();
    // startContainer runs inside the container: its log is in the rootfs.
    sandbox.edit_config(&bundle, |config| {
        config["hooks"] = json!({
            "prestart": [logging_hook("prestart", host)],
            "createRuntime": [logging_hook("createRuntime", host)],
            "createContainer": [logging_hook("createContainer", host)],
            "startContainer": [logging_hook("startContainer", "/tmp/hooks.log")],
            "poststart": [logging_hook("poststart", host)],
            "poststop": [logging_hook("poststop", host)]
        });
    });
    let id = sandbox.id("hooks");
    let out = sandbox.create(&bundle, &id);
    assert!(out.status.success(), "create: {}", stderr(&out));
    let pid = sandbox.state(&id)["pid"].as_i64().unwrap();
    let out = sandbox.output(&["start", &id]);
    assert!(out.status.success(), "start: {}", stderr(&out));
    runtime::wait_for_status(&sandbox, &id, "stopped");
    let out = sandbox.output(&["delete", &id]);
    assert!(out.status.success(), "delete: {}", stderr(&out));

    let lines = std::fs::read_to_string(&host_log).unwrap();
    let parsed: Vec<(String, Value)> = lines
        .lines()
        .map(|line| {
            let (stage, state) = line.split_once(' ').unwrap();
            (stage.to_owned(), serde_json::from_str(state).unwrap())
        })
        .collect();
    let stages: Vec<&str> = parsed.iter().map(|(stage, _)| stage.as_str()).collect();
    assert_eq!(stages, ["prestart", "createRuntime", "createContainer", "poststart", "poststop"]);
    let statuses: Vec<&str> = parsed.iter().map(|(_, s)| s["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["creating", "creating", "creating", "running", "stopped"]);
    for (stage, state) in &parsed[..3] {
        assert_eq!(state["id"], id.as_str(), "{stage}");
        assert_eq!(state["pid"], pid, "{stage}");
    }
    let inside = std::fs::read_to_string(bundle.join("rootfs/tmp/hooks.log")).unwrap();
    let (stage, state) = inside.trim().split_once(' ').unwrap();
    assert_eq!(stage, "startContainer");
    let state: Value = serde_json::from_str(state).unwrap();
    assert_eq!((state["status"].as_str(), state["pid"].as_i64()), (Some("created"), Some(pid)));
}

fn assert_create_fails_cleanly(hooks: Value, message: &str) {
    let sandbox = Sandbox::new();
    let bundle = sandbox.bundle("b", &["true"]);
    let poststop_log = sandbox.dir.path().join("poststop.log");
    let mut hooks = hooks;
    hooks["poststop"] = json!([logging_hook("poststop", poststop_log.to_str().unwrap())]);
    sandbox.edit_config(&bundle, |config| config["hooks"] = hooks);
    let id = sandbox.id("badhook");
    let out = sandbox.create(&bundle, &id);
    assert!(!out.status.success(), "create should fail");
    assert!(stderr(&out).contains(message), "expected {message:?} in {}", stderr(&out));
    assert!(!sandbox.root.join(&id).exists(), "state directory left");
    assert!(runtime::processes_mentioning(&id).is_empty(), "process left");
    assert!(cgroups_mentioning(&id).is_empty(), "cgroup left");
    assert!(std::fs::read_to_string(&poststop_log).is_ok_and(|log| log.starts_with("poststop")));
}

#[test]
fn failing_create_runtime_hook_fails_create() {
    assert_create_fails_cleanly(
        json!({"createRuntime": [{"path": "/bin/false"}]}),
        "createRuntime hook 0 (/bin/false): failed with exit status: 1",
    );
}

#[test]
fn failing_create_container_hook_fails_create() {
    assert_create_fails_cleanly(
        json!({"createContainer": [{"path": "/bin/sh", "args": ["sh", "-c", "exit 3"]}]}),
        "createContainer hook 0 (/bin/sh): failed with exit status: 3",
    );
}

#[test]
fn hook_past_its_timeout_is_killed() {
    assert_create_fails_cleanly(
        json!({"prestart": [{"path": "/bin/sleep", "args": ["sleep", "30"], "timeout": 1}]}),
        "timed out after 1s",
    );
}
