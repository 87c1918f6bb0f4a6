//! runc's command line as containerd's shim and conmon drive it (issue
//! 16): `exec --process`, `ps`, `pause`/`resume`, `update`, `kill --all`,
//! `features`, `events`, and the global flags they pass.

mod common;

use std::{path::Path, process::Stdio};

use common::runtime::{Sandbox, cgroups_mentioning, stderr, stdout};

/// A running container whose init sleeps; returns its id.
fn running(sandbox: &Sandbox, name: &str) -> String {
    let bundle = sandbox.bundle(name, &["sleep", "1000"]);
    let id = sandbox.id(name);
    let status = sandbox
        .cradle(&["run", "--detach", "-b", bundle.to_str().unwrap(), &id])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    id
}

fn write_json(path: &Path, value: &serde_json::Value) {
    std::fs::write(path, serde_json::to_vec(value).unwrap()).unwrap();
}

fn status_field(text: &str, name: &str) -> String {
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("{name} in {text}"))
        .trim()
        .to_owned()
}

/// `exec --process FILE`: the whole process comes from the file (args,
/// env, cwd, user, rlimits), as the shim and conmon pass it.
#[test]
fn exec_runs_a_process_json() {
    let sandbox = Sandbox::new();
    let id = running(&sandbox, "procjson");
    let process = sandbox.dir.path().join("process.json");
    write_json(
        &process,
        &serde_json::json!({
            "args": ["sh", "-c", "echo $FOO; id -u; id -g; pwd; ulimit -n; exit 4"],
            "env": ["PATH=/bin:/usr/bin", "FOO=from-file"],
            "cwd": "/tmp",
            "user": {"uid": 1000, "gid": 1001},
            "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 321, "hard": 321}],
            "capabilities": {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"],
                             "permitted": ["CAP_KILL"]},
        }),
    );
    let out = sandbox.output(&["exec", "--process", process.to_str().unwrap(), &id]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert_eq!(stdout(&out), "from-file\n1000\n1001\n/tmp\n321\n");

    // --detach --pid-file: returns at once with the process's pid written.
    let pid_file = sandbox.dir.path().join("exec.pid");
    write_json(
        &process,
        &serde_json::json!({"args": ["sleep", "1000"], "cwd": "/", "user": {"uid": 0, "gid": 0}}),
    );
    // Not through pipes: the detached process keeps its stdio open.
    let status = sandbox
        .cradle(&[
            "exec",
            "--process",
            process.to_str().unwrap(),
            "--detach",
            "--pid-file",
            pid_file.to_str().unwrap(),
            &id,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let pid: u32 = std::fs::read_to_string(&pid_file).unwrap().trim().parse().unwrap();
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    assert_eq!(cmdline, b"sleep\x001000\x00");

    // A bad file is named.
    std::fs::write(&process, "{").unwrap();
    let out = sandbox.output(&["exec", "--process", process.to_str().unwrap(), &id]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("process.json"), "{}", stderr(&out));
}

/// runc's exec flags that change the process: --user, --cap,
/// --no-new-privs, --preserve-fds.
#[test]
fn exec_flags_change_the_process() {
    let sandbox = Sandbox::new();
    let id = running(&sandbox, "execflags");
    let status = |extra: &[&str]| {
        let mut args = vec!["exec"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&[&id, "cat", "/proc/self/status"]);
        let out = sandbox.output(&args);
        assert!(out.status.success(), "{}", stderr(&out));
        stdout(&out)
    };
    let plain = status(&[]);
    assert_eq!(status_field(&plain, "NoNewPrivs"), "0");
    let with_flags = status(&["--user", "0:1234", "--cap", "CAP_SYS_ADMIN", "--no-new-privs"]);
    assert_eq!(status_field(&with_flags, "NoNewPrivs"), "1");
    assert!(status_field(&with_flags, "Gid").starts_with("1234"), "{with_flags}");
    let cap_bit = |text: &str| {
        let mask = u64::from_str_radix(&status_field(text, "CapEff"), 16).unwrap();
        // CAP_SYS_ADMIN is capability 21.
        mask & (1 << 21) != 0
    };
    assert!(!cap_bit(&plain), "the default set has no CAP_SYS_ADMIN: {plain}");
    assert!(cap_bit(&with_flags), "--cap adds it: {with_flags}");

    // --preserve-fds 1: descriptor 3 reaches the process; without, not.
    let secret = sandbox.dir.path().join("secret");
    std::fs::write(&secret, "passed-through").unwrap();
    let shell = |preserve: &str| {
        let script = format!(
            "exec {} --root {} exec --preserve-fds {preserve} {id} sh -c 'cat <&3' 3<{}",
            common::runtime::cradle_bin(),
            sandbox.root.display(),
            secret.display()
        );
        std::process::Command::new("sh").args(["-c", &script]).output().unwrap()
    };
    let out = shell("1");
    assert_eq!(stdout(&out), "passed-through", "{}", stderr(&out));
    let out = shell("0");
    assert!(!out.status.success(), "fd 3 is closed without --preserve-fds");
    drop(sandbox);
    assert!(cgroups_mentioning("execflags").is_empty());
}
