//! Bad input: each case fails with an error naming the problem, a non-zero
//! exit, and leaves no mount, no state directory and no process behind.

#[path = "common/runtime.rs"]
mod runtime;

use std::{path::Path, process::Command};

use runtime::{
    Sandbox, cgroups_mentioning, cradle_bin, host_mounts_mentioning, processes_mentioning, stderr,
};

/// Runs `create` and `run` for the case and checks the failure and the cleanup.
fn assert_rejected(sandbox: &Sandbox, bundle: &Path, id: &str, message: &str) {
    for command in ["create", "run"] {
        let out = sandbox.output(&[command, "--bundle", bundle.to_str().unwrap(), id]);
        assert!(!out.status.success(), "{command} {id} should fail");
        let err = stderr(&out);
        assert!(err.contains(message), "{command}: expected {message:?} in: {err}");
        assert!(host_mounts_mentioning(bundle).is_empty(), "mount left behind");
        if id != "../x" {
            assert!(!sandbox.root.join(id).exists(), "state directory left behind");
            assert!(processes_mentioning(id).is_empty(), "process left behind");
            let cgroups = cgroups_mentioning(id);
            assert!(cgroups.is_empty(), "cgroups left behind: {cgroups:?}");
        }
    }
    let listed = sandbox.output(&["list", "-q"]);
    assert!(listed.stdout.is_empty(), "listed: {}", String::from_utf8_lossy(&listed.stdout));
}

#[test]
fn malformed_config() {
    let sandbox = Sandbox::new();
    let bundle = sandbox.bundle("b", &["true"]);
    std::fs::write(bundle.join("config.json"), "{ \"ociVersion\": ").unwrap();
    assert_rejected(&sandbox, &bundle, &sandbox.id("malformed"), "config.json");
}

#[test]
fn missing_rootfs() {
    let sandbox = Sandbox::new();
    let bundle = sandbox.bundle("b", &["true"]);
    std::fs::remove_dir_all(bundle.join("rootfs")).unwrap();
    assert_rejected(&sandbox, &bundle, &sandbox.id("norootfs"), "root.path");
}

#[test]
fn invalid_id() {
    let sandbox = Sandbox::new();
    let bundle = sandbox.bundle("b", &["true"]);
    assert_rejected(&sandbox, &bundle, "../x", "invalid container id \"../x\"");
    assert!(!sandbox.dir.path().join("x").exists());
}

#[test]
fn unknown_namespace_type() {
    let sandbox = Sandbox::new();
    let bundle = sandbox.bundle("b", &["true"]);
    add_namespace(&sandbox, &bundle, "bogus");
    assert_rejected(&sandbox, &bundle, &sandbox.id("badns"), "bogus");
}

/// runc refuses it too: nothing says which ids the namespace maps.
#[test]
fn a_new_user_namespace_without_mappings_is_refused_naming_them() {
    let sandbox = Sandbox::new();
    let bundle = sandbox.bundle("b", &["true"]);
    add_namespace(&sandbox, &bundle, "user");
    assert_rejected(&sandbox, &bundle, &sandbox.id("userns"), "linux.uidMappings");
}

#[test]
fn time_namespace_is_refused_not_ignored() {
    let sandbox = Sandbox::new();
    let bundle = sandbox.bundle("b", &["true"]);
    add_namespace(&sandbox, &bundle, "time");
    assert_rejected(&sandbox, &bundle, &sandbox.id("timens"), "not supported by cradle");
}

/// A capability name no table knows is refused, naming it, before anything
/// is set up.
#[test]
fn unknown_capability_name() {
    let sandbox = Sandbox::new();
    let bundle = sandbox.bundle("b", &["true"]);
    sandbox.edit_config(&bundle, |config| {
        config["process"]["capabilities"]["bounding"] = serde_json::json!(["CAP_NOPE"]);
    });
    assert_rejected(&sandbox, &bundle, &sandbox.id("badcap"), "CAP_NOPE");
}

#[test]
fn mount_with_bad_type() {
    let sandbox = Sandbox::new();
    let bundle = sandbox.bundle("b", &["true"]);
    sandbox.edit_config(&bundle, |config| {
        config["mounts"].as_array_mut().unwrap().push(
            serde_json::json!({"destination": "/mnt/x", "type": "nosuchfs", "source": "none"}),
        );
    });
    assert_rejected(&sandbox, &bundle, &sandbox.id("badfs"), "\"nosuchfs\"");
}

/// Fails inside the init, after the clone and some mounts: the report
/// comes back, and the half-built container is gone.
#[test]
fn mount_failing_inside_the_init() {
    let sandbox = Sandbox::new();
    let bundle = sandbox.bundle("b", &["true"]);
    sandbox.edit_config(&bundle, |config| {
        config["mounts"].as_array_mut().unwrap().push(serde_json::json!(
            {"destination": "/mnt/x", "type": "tmpfs", "source": "tmpfs", "options": ["size=bogus"]}
        ));
    });
    assert_rejected(&sandbox, &bundle, &sandbox.id("initfail"), "mount on /mnt/x");
}

#[test]
fn missing_program() {
    let sandbox = Sandbox::new();
    let bundle = sandbox.bundle("b", &["no-such-program"]);
    assert_rejected(&sandbox, &bundle, &sandbox.id("noprog"), "executable file not found");
}

/// A syscall name this machine does not know is skipped, as runc (through
/// libseccomp) does: podman's default profile names some.
#[test]
fn unknown_syscall_in_seccomp_is_skipped() {
    let sandbox = Sandbox::new();
    let bundle = sandbox.bundle("b", &["true"]);
    sandbox.edit_config(&bundle, |config| {
        config["linux"]["seccomp"]["syscalls"].as_array_mut().unwrap().push(
            serde_json::json!({"names": ["no_such_syscall", "pciconfig_iobase"], "action": "SCMP_ACT_ERRNO"}),
        );
    });
    let id = sandbox.id("skipseccomp");
    let out = sandbox.output(&["run", "--bundle", bundle.to_str().unwrap(), &id]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn host_wide_sysctl() {
    let sandbox = Sandbox::new();
    let bundle = sandbox.bundle("b", &["true"]);
    sandbox.edit_config(&bundle, |config| {
        config["linux"]["sysctl"] = serde_json::json!({"vm.swappiness": "1"});
    });
    assert_rejected(&sandbox, &bundle, &sandbox.id("badsysctl"), "vm.swappiness");
}

#[test]
fn cgroup_that_cannot_be_created() {
    let sandbox = Sandbox::new();
    let bundle = sandbox.bundle("b", &["true"]);
    let id = sandbox.id("badcgroup");
    // A file in the way: every hierarchy has cgroup.procs at its root.
    let path = format!("/cgroup.procs/{id}");
    sandbox.edit_config(&bundle, |config| config["linux"]["cgroupsPath"] = path.clone().into());
    assert_rejected(&sandbox, &bundle, &id, "creating cgroup");
}

#[test]
fn resource_limit_the_kernel_refuses() {
    let sandbox = Sandbox::new();
    let bundle = sandbox.bundle("b", &["true"]);
    sandbox.edit_config(&bundle, |config| {
        config["linux"]["resources"]["cpu"] = serde_json::json!({"cpus": "4096"});
    });
    assert_rejected(&sandbox, &bundle, &sandbox.id("badcpuset"), "cpuset.cpus");
}

/// A deny that cgroup v1 would ignore (it cannot take part of an earlier
/// wildcard allow back) is refused rather than leaving the device open.
#[test]
fn device_rule_that_cgroup_v1_would_ignore() {
    let sandbox = Sandbox::new();
    let bundle = sandbox.bundle("b", &["true"]);
    sandbox.edit_config(&bundle, |config| {
        config["linux"]["resources"]["devices"] = serde_json::json!([
            {"allow": false, "access": "rwm"},
            {"allow": true, "type": "c", "access": "m"},
            {"allow": false, "type": "c", "major": 1, "minor": 3, "access": "m"},
        ]);
    });
    let message =
        "linux.resources.devices[2]: deny c 1:3 m would not take back the earlier allow c *:* m";
    assert_rejected(&sandbox, &bundle, &sandbox.id("baddevrule"), message);
}

/// Adds a namespace of type `kind` to the bundle's config.
fn add_namespace(sandbox: &Sandbox, bundle: &std::path::Path, kind: &str) {
    sandbox.edit_config(bundle, |config| {
        config["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({"type": kind}));
    });
}

/// An error is said once on stderr; with `--log FILE --log-format json`
/// (how containerd's shim runs runc) it is also a JSON line in the file.
#[test]
fn an_error_is_said_once_and_logged_where_asked() {
    let sandbox = Sandbox::new();
    let out = sandbox.output(&["state", "no-such-container"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert_eq!(err.matches("no-such-container").count(), 1, "said once: {err}");

    let log = sandbox.dir.path().join("log.json");
    let log_arg = log.to_str().unwrap();
    let out = sandbox.output(&["--log", log_arg, "--log-format", "json", "state", "no-such"]);
    assert!(!out.status.success());
    assert_eq!(stderr(&out).matches("no-such").count(), 1, "said once: {}", stderr(&out));
    let text = std::fs::read_to_string(&log).expect("the log file is written");
    let logged: Vec<serde_json::Value> =
        text.lines().map(|line| serde_json::from_str(line).expect("a JSON line")).collect();
    assert!(
        logged.iter().any(|line| runc_error_line(line).is_some_and(|m| m.contains("no-such"))),
        "{text}"
    );
}

/// The message of a log line shaped as runc (logrus) writes it, which is
/// what containerd's shim parses: `{"level":"error","msg":...,"time":...}`
/// with an RFC 3339 time.
fn runc_error_line(line: &serde_json::Value) -> Option<&str> {
    let time = line["time"].as_str()?;
    let rfc3339 = time.len() >= 20
        && time.as_bytes()[4] == b'-'
        && time.as_bytes()[10] == b'T'
        && (time.ends_with('Z') || time[19..].contains('+'));
    (line["level"] == "error" && rfc3339).then_some(line["msg"].as_str()?)
}

/// A command line cradle refuses is logged too, before it exits: the
/// shim only relays what it finds in the log file.
#[test]
fn an_argument_error_is_logged_in_runc_shape() {
    let sandbox = Sandbox::new();
    let log = sandbox.dir.path().join("log.json");
    let out = sandbox.output(&[
        "--log",
        log.to_str().unwrap(),
        "--log-format=json",
        "state",
        "--no-such-flag",
        "x",
    ]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--no-such-flag"), "{}", stderr(&out));
    let text = std::fs::read_to_string(&log).expect("the log file is written");
    let line: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert!(runc_error_line(&line).is_some_and(|msg| msg.contains("--no-such-flag")), "{text}");
}

#[test]
fn a_system_error_names_its_cause_once() {
    let sandbox = Sandbox::new();
    // A state root under a regular file: the kernel says ENOTDIR.
    let file = sandbox.dir.path().join("a-file");
    std::fs::write(&file, "").unwrap();
    let root = file.join("state");
    let out = Command::new(cradle_bin()).arg("--root").arg(&root).arg("list").output().unwrap();
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains(&root.display().to_string()), "names the path: {err}");
    assert_eq!(err.matches("Not a directory").count(), 1, "the cause, once: {err}");
}
