//! Attacks on the built-in runtime by a container's root (issue 14, see
//! SECURITY.md): each test runs the attack and asserts that it fails.

#[path = "common/runtime.rs"]
mod runtime;

use std::{
    os::{fd::AsRawFd, unix::process::CommandExt},
    path::Path,
    process::{Command, Output, Stdio},
};

use runtime::{Sandbox, stderr, wait_for_status};
use serde_json::json;

/// The descriptor number under which the tests hand every cradle command a
/// host directory, as a careless caller (a shim, a shell) would leak one.
const LEAKED_FD: i32 = 9;

/// Lets `command` inherit an open descriptor of `dir` as [`LEAKED_FD`].
fn leak_host_dir(command: &mut Command, dir: &std::fs::File) {
    let raw = dir.as_raw_fd();
    // SAFETY: dup2 is async-signal-safe and only touches this child's
    // descriptor table; `raw` stays open in the parent until the child is
    // spawned. dup2 onto another number clears close-on-exec.
    unsafe {
        command.pre_exec(move || {
            if libc::dup2(raw, LEAKED_FD) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// A secret on the host, at a path that does not exist in the container.
fn host_secret(sandbox: &Sandbox) -> (std::path::PathBuf, std::fs::File) {
    let secret = sandbox.dir.path().join("host-secret");
    std::fs::write(&secret, "host secret\n").unwrap();
    let dir = std::fs::File::open(sandbox.dir.path()).unwrap();
    (secret, dir)
}

/// A workload that, from its cwd, climbs to the root and copies the host's
/// secret into the container's `/escaped`. Inside the container the path
/// does not exist, so `/escaped` stays empty unless the cwd was the host's.
fn climb_and_copy(secret: &Path) -> Vec<String> {
    let script = format!(
        "cat host-secret > /escaped 2>/dev/null; \
         cd ../../../../../../../../../../../../ 2>/dev/null; cat .{} >> /escaped 2>/dev/null; true",
        secret.display()
    );
    vec!["/bin/sh".into(), "-c".into(), script]
}

fn escaped(bundle: &Path) -> String {
    std::fs::read_to_string(bundle.join("rootfs/escaped")).unwrap_or_default()
}

fn with_cwd(sandbox: &Sandbox, bundle: &Path, cwd: &str, args: &[String]) {
    sandbox.edit_config(bundle, |config| {
        config["process"]["cwd"] = json!(cwd);
        config["process"]["args"] = json!(args);
    });
    let _ = std::fs::remove_file(bundle.join("rootfs/escaped"));
}

fn output_leaking(sandbox: &Sandbox, dir: &std::fs::File, args: &[&str]) -> Output {
    let mut command = sandbox.cradle(args);
    leak_host_dir(&mut command, dir);
    command.stdout(Stdio::null()).output().expect("run cradle")
}

#[test]
fn cwd_through_proc_self_fd_cannot_reach_the_host_in_run() {
    let sandbox = Sandbox::new();
    let (secret, dir) = host_secret(&sandbox);
    let bundle = sandbox.bundle("b", &["true"]);
    let mut escapes = Vec::new();
    for fd in 3..=20 {
        with_cwd(&sandbox, &bundle, &format!("/proc/self/fd/{fd}"), &climb_and_copy(&secret));
        let id = sandbox.id("cwd-run");
        let out =
            output_leaking(&sandbox, &dir, &["run", "--bundle", bundle.to_str().unwrap(), &id]);
        if escaped(&bundle).contains("host secret") {
            escapes.push(fd);
        }
        if !out.status.success() {
            assert!(stderr(&out).contains("process.cwd"), "fd {fd}: {}", stderr(&out));
        }
        let _ = sandbox.output(&["delete", "--force", &id]);
    }
    assert!(
        escapes.is_empty(),
        "the workload read the host's secret with cwd /proc/self/fd/{escapes:?}"
    );
}

#[test]
fn cwd_through_proc_self_fd_cannot_reach_the_host_in_create_and_start() {
    let sandbox = Sandbox::new();
    let (secret, dir) = host_secret(&sandbox);
    let bundle = sandbox.bundle("b", &["true"]);
    let mut escapes = Vec::new();
    for fd in 3..=20 {
        with_cwd(&sandbox, &bundle, &format!("/proc/self/fd/{fd}"), &climb_and_copy(&secret));
        let id = sandbox.id("cwd-create");
        let mut create = sandbox.cradle(&["create", "--bundle", bundle.to_str().unwrap(), &id]);
        leak_host_dir(&mut create, &dir);
        // The waiting init keeps its stdio: not a pipe, or output() blocks.
        let status =
            create.stdout(Stdio::null()).stderr(Stdio::null()).status().expect("cradle create");
        if status.success() {
            let start = sandbox.output(&["start", &id]);
            assert!(start.status.success(), "start: {}", stderr(&start));
            wait_for_status(&sandbox, &id, "stopped");
        }
        if escaped(&bundle).contains("host secret") {
            escapes.push(fd);
        }
        let _ = sandbox.output(&["delete", "--force", &id]);
    }
    assert!(
        escapes.is_empty(),
        "the workload read the host's secret with cwd /proc/self/fd/{escapes:?}"
    );
}

#[test]
fn cwd_through_proc_self_fd_cannot_reach_the_host_in_exec() {
    let sandbox = Sandbox::new();
    let (secret, dir) = host_secret(&sandbox);
    let bundle = sandbox.bundle("b", &["sleep", "600"]);
    let id = sandbox.id("cwd-exec");
    let status = sandbox
        .cradle(&["run", "--detach", "--bundle", bundle.to_str().unwrap(), &id])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "run --detach failed");
    let mut escapes = Vec::new();
    for fd in 3..=20 {
        let _ = std::fs::remove_file(bundle.join("rootfs/escaped"));
        let cwd = format!("/proc/self/fd/{fd}");
        let mut args = vec!["exec", "--cwd", &cwd, &id];
        let command = climb_and_copy(&secret);
        args.extend(command.iter().map(String::as_str));
        let out = output_leaking(&sandbox, &dir, &args);
        if escaped(&bundle).contains("host secret") {
            escapes.push(fd);
        }
        if !out.status.success() {
            assert!(stderr(&out).contains(&cwd), "fd {fd}: {}", stderr(&out));
        }
    }
    assert!(
        escapes.is_empty(),
        "the workload read the host's secret with cwd /proc/self/fd/{escapes:?}"
    );
}

/// `create` fails naming `message`, and leaves no state directory, process
/// or cgroup behind.
fn assert_create_refused(sandbox: &Sandbox, bundle: &Path, message: &str) {
    let id = sandbox.id("refused");
    let out = sandbox.create(bundle, &id);
    assert!(!out.status.success(), "create should fail");
    assert!(stderr(&out).contains(message), "expected {message:?} in {}", stderr(&out));
    assert!(!sandbox.root.join(&id).exists(), "state directory left");
    assert!(runtime::processes_mentioning(&id).is_empty(), "process left");
    assert!(runtime::cgroups_mentioning(&id).is_empty(), "cgroup left");
}

#[test]
fn hook_timeout_covers_a_state_larger_than_the_pipe() {
    let sandbox = Sandbox::new();
    let bundle = sandbox.bundle("b", &["true"]);
    sandbox.edit_config(&bundle, |config| {
        // The state on the hook's stdin carries the annotations: 1 MiB
        // fills the pipe, and the hook never reads it.
        config["annotations"] = json!({"filler": "x".repeat(1 << 20)});
        config["hooks"] =
            json!({"prestart": [{"path": "/bin/sleep", "args": ["sleep", "30"], "timeout": 1}]});
    });
    let began = std::time::Instant::now();
    assert_create_refused(&sandbox, &bundle, "prestart hook 0 (/bin/sleep): timed out after 1s");
    // Not a speed goal: the hook is killed at its timeout, not after its
    // 30 s (before the fix, writing the state blocked until the hook ended).
    assert!(began.elapsed() < std::time::Duration::from_secs(20), "took {:?}", began.elapsed());
}

#[test]
fn umask_above_0o7777_is_refused() {
    let sandbox = Sandbox::new();
    let bundle = sandbox.bundle("b", &["true"]);
    sandbox
        .edit_config(&bundle, |config| config["process"]["user"]["umask"] = json!(4294967295u32));
    assert_create_refused(&sandbox, &bundle, "process.user.umask: 4294967295");
}

#[test]
fn device_path_leaving_dev_is_refused() {
    let sandbox = Sandbox::new();
    let bundle = sandbox.bundle("b", &["true"]);
    sandbox.edit_config(&bundle, |config| {
        config["linux"]["devices"] = json!([{
            "path": "/dev/../../tmp/escaped-node", "type": "c", "major": 1, "minor": 3
        }]);
    });
    assert_create_refused(&sandbox, &bundle, "linux.devices[0] (/dev/../../tmp/escaped-node)");
    assert!(!bundle.join("rootfs/tmp/escaped-node").exists(), "a node was made outside /dev");
}

#[test]
fn oci_version_of_an_unknown_major_is_refused() {
    let sandbox = Sandbox::new();
    let bundle = sandbox.bundle("b", &["true"]);
    sandbox.edit_config(&bundle, |config| config["ociVersion"] = json!("99.99"));
    assert_create_refused(&sandbox, &bundle, "ociVersion: \"99.99\"");
}
