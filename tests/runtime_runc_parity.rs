//! The same bundle under `runc run` and `cradle run` gives the same view
//! from inside: hostname, identity, mount points (with the masked and
//! read-only paths), /dev, capabilities, no_new_privs and seccomp mode.

#[path = "common/runtime.rs"]
mod runtime;

use std::process::{Command, Stdio};

use runtime::{Sandbox, stderr, stdout};

const WORKLOAD: &str = "hostname; id; cut -d' ' -f5 /proc/self/mountinfo; ls /dev; \
    grep -E '^(Cap|NoNewPrivs|Seccomp:)' /proc/self/status";

#[test]
fn runc_and_cradle_agree() {
    if Command::new("runc").arg("--version").output().is_err() {
        panic!("runc is required for this test");
    }
    let sandbox = Sandbox::new();
    let bundle = sandbox.bundle("b", &["sh", "-c", WORKLOAD]);
    let runc_root = sandbox.dir.path().join("runc-state");
    let runc_id = sandbox.id("parity-runc");
    let runc = Command::new("runc")
        .arg("--root")
        .arg(&runc_root)
        .args(["run", "--bundle", bundle.to_str().unwrap(), &runc_id])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(runc.status.success(), "runc: {}", stderr(&runc));

    let id = sandbox.id("parity");
    let cradle = sandbox.output(&["run", "--bundle", bundle.to_str().unwrap(), &id]);
    assert!(cradle.status.success(), "cradle: {}", stderr(&cradle));

    assert!(stdout(&runc).lines().count() > 10, "runc printed too little: {}", stdout(&runc));
    assert_eq!(stdout(&cradle), stdout(&runc));
}
