//! runc's lifecycle driven through the CLI: create stops before the user's
//! process, start/kill/delete transitions and their errors, duplicate and
//! unknown ids, list, exec.

#[path = "common/runtime.rs"]
mod runtime;

use runtime::{Sandbox, processes_mentioning, stderr, stdout, wait_for_status};

fn assert_fails_with(out: &std::process::Output, message: &str) {
    assert!(!out.status.success(), "expected failure with {message:?}");
    assert!(stderr(out).contains(message), "expected {message:?} in: {}", stderr(out));
}

#[test]
fn create_start_kill_delete() {
    let sandbox = Sandbox::new();
    let marker = "/tmp/started";
    let bundle = sandbox.bundle("b", &["sh", "-c", &format!("touch {marker}; sleep 1000")]);
    let id = sandbox.id("life");
    let pid_file = sandbox.dir.path().join("pid");
    let out = sandbox
        .cradle(&[
            "create",
            "-b",
            bundle.to_str().unwrap(),
            "--pid-file",
            pid_file.to_str().unwrap(),
            &id,
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(out.success());

    let state = sandbox.state(&id);
    assert_eq!(state["status"], "created");
    assert_eq!(state["id"], id.as_str());
    assert_eq!(state["bundle"], bundle.canonicalize().unwrap().to_str().unwrap());
    assert!(state["ociVersion"].is_string() && state["created"].is_string());
    assert!(state["rootfs"].as_str().unwrap().ends_with("/rootfs"));
    let pid = state["pid"].as_i64().unwrap();
    assert!(pid > 0);
    assert_eq!(std::fs::read_to_string(&pid_file).unwrap(), pid.to_string());
    assert!(!bundle.join("rootfs").join(&marker[1..]).exists(), "the workload waits for start");

    let listed: serde_json::Value =
        serde_json::from_slice(&sandbox.output(&["list", "--format", "json"]).stdout).unwrap();
    assert_eq!(listed[0]["id"], id.as_str());
    assert_eq!(listed[0]["status"], "created");

    assert!(sandbox.output(&["start", &id]).status.success());
    assert_eq!(sandbox.state(&id)["status"], "running");
    assert_fails_with(
        &sandbox.output(&["start", &id]),
        "cannot start an already running container",
    );
    assert_fails_with(
        &sandbox.output(&["delete", &id]),
        &format!("cannot delete container {id} that is not stopped: running"),
    );

    assert!(sandbox.output(&["kill", &id, "KILL"]).status.success());
    wait_for_status(&sandbox, &id, "stopped");
    assert_eq!(sandbox.state(&id)["pid"], 0);
    assert_fails_with(&sandbox.output(&["kill", &id]), "container not running");
    assert_fails_with(
        &sandbox.output(&["start", &id]),
        "cannot start a container that has stopped",
    );

    assert!(sandbox.output(&["delete", &id]).status.success());
    assert_fails_with(&sandbox.output(&["state", &id]), "container does not exist");
    assert!(!sandbox.root.join(&id).exists());
}

#[test]
fn duplicate_id_is_refused_and_the_first_survives() {
    let sandbox = Sandbox::new();
    let bundle = sandbox.bundle("b", &["sleep", "1000"]);
    let id = sandbox.id("dup");
    assert!(sandbox.create(&bundle, &id).status.success());
    let first_pid = sandbox.state(&id)["pid"].clone();
    assert_fails_with(&sandbox.create(&bundle, &id), &format!("container with id exists: {id}"));
    let state = sandbox.state(&id);
    assert_eq!(state["status"], "created");
    assert_eq!(state["pid"], first_pid);
    // delete of a created container needs no --force, as with runc.
    assert!(sandbox.output(&["delete", &id]).status.success());
    assert!(processes_mentioning(&id).is_empty(), "the init is gone");
}

#[test]
fn unknown_id_is_reported_by_every_command() {
    let sandbox = Sandbox::new();
    for command in [&["state"][..], &["start"], &["kill"], &["delete"], &["exec"]] {
        let mut args = command.to_vec();
        args.push("no-such-container");
        if command == ["exec"] {
            args.push("true");
        }
        assert_fails_with(&sandbox.output(&args), "container does not exist");
    }
}

#[test]
fn exec_joins_the_container() {
    let sandbox = Sandbox::new();
    let bundle = sandbox.bundle("b", &["sleep", "1000"]);
    sandbox.edit_config(&bundle, |config| config["hostname"] = "exec-box".into());
    let id = sandbox.id("exec");
    let out = sandbox
        .cradle(&["run", "--detach", "-b", bundle.to_str().unwrap(), &id])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(out.success());
    let out = sandbox.output(&[
        "exec",
        "--env",
        "GREETING=hi",
        "--cwd",
        "/tmp",
        &id,
        "sh",
        "-c",
        "hostname; cat /proc/1/cmdline | tr '\\0' ' '; echo; echo $GREETING; pwd; exit 3",
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert_eq!(stdout(&out), "exec-box\nsleep 1000 \nhi\n/tmp\n");
    assert_fails_with(&sandbox.output(&["exec", &id, "/no/such/program"]), "/no/such/program");
}

/// runc's console-socket protocol: the pty master arrives over the socket
/// and the container's process has the slave as its terminal.
#[test]
fn console_socket_receives_the_terminal() {
    use std::{
        io::{IoSliceMut, Read},
        os::{
            fd::{AsRawFd, FromRawFd, RawFd},
            unix::net::UnixListener,
        },
    };

    use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg};

    let sandbox = Sandbox::new();
    let bundle = sandbox.bundle("b", &["sh", "-c", "tty; test -c /dev/console && echo console"]);
    sandbox.edit_config(&bundle, |config| config["process"]["terminal"] = true.into());
    let socket_path = sandbox.dir.path().join("console.sock");
    let listener = UnixListener::bind(&socket_path).unwrap();
    let id = sandbox.id("console");
    let out = sandbox
        .cradle(&[
            "create",
            "-b",
            bundle.to_str().unwrap(),
            "--console-socket",
            socket_path.to_str().unwrap(),
            &id,
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "create: {}", stderr(&out));
    let (stream, _) = listener.accept().unwrap();
    let mut name = [0u8; 256];
    let mut payload = [IoSliceMut::new(&mut name)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let message = recvmsg::<()>(
        stream.as_raw_fd(),
        &mut payload,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .unwrap();
    let fd = message
        .cmsgs()
        .unwrap()
        .find_map(|cmsg| match cmsg {
            ControlMessageOwned::ScmRights(fds) => fds.first().copied(),
            _ => None,
        })
        .expect("a descriptor arrives");
    // SAFETY: SCM_RIGHTS handed us this new descriptor.
    let mut master = unsafe { std::fs::File::from_raw_fd(fd) };
    let started = sandbox.output(&["start", &id]);
    assert!(started.status.success(), "start: {}", stderr(&started));
    let mut output = Vec::new();
    // Reads until the slave closes (EIO once the process is gone).
    let _ = master.read_to_end(&mut output);
    let text = String::from_utf8_lossy(&output);
    assert!(text.contains("/dev/pts/0") && text.contains("console"), "{text:?}");
}
