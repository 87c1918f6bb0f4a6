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
