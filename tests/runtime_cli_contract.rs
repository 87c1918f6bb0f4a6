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

fn pids_of(sandbox: &Sandbox, id: &str) -> Vec<u32> {
    let out = sandbox.output(&["ps", "--format", "json", id]);
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).expect("ps --format json is a JSON array of pids")
}

/// `ps` (docker top, through containerd), `pause`/`resume` (the freezer;
/// the state says `paused`), `kill --all`.
#[test]
fn ps_pause_resume_and_kill_all() {
    let sandbox = Sandbox::new();
    let id = running(&sandbox, "pspause");
    let init = u32::try_from(sandbox.state(&id)["pid"].as_u64().unwrap()).unwrap();
    let status = sandbox
        .cradle(&["exec", "--detach", &id, "sleep", "999"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let pids = pids_of(&sandbox, &id);
    assert_eq!(pids.len(), 2, "the init and the exec'd sleep: {pids:?}");
    assert!(pids.contains(&init));
    let table = sandbox.output(&["ps", &id]);
    let table = stdout(&table);
    assert!(table.starts_with("UID"), "ps -ef's header: {table}");
    assert_eq!(table.lines().count(), 3, "{table}");

    let out = sandbox.output(&["pause", &id]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(sandbox.state(&id)["status"], "paused");
    for pid in &pids {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        // A frozen task sleeps in the freezer.
        assert!(!status_field(&stat, "State").starts_with('R'), "{stat}");
    }
    let out = sandbox.output(&["exec", &id, "true"]);
    assert!(stderr(&out).contains("paused"), "exec refuses: {}", stderr(&out));
    let out = sandbox.output(&["resume", &id]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(sandbox.state(&id)["status"], "running");
    let out = sandbox.output(&["resume", &id]);
    assert!(stderr(&out).contains("not paused"), "{}", stderr(&out));

    // kill --all reaches the exec'd process too; plain kill only the init.
    let out = sandbox.output(&["kill", "--all", &id, "KILL"]);
    assert!(out.status.success(), "{}", stderr(&out));
    common::runtime::wait_for_status(&sandbox, &id, "stopped");
    let exec_pid = pids.iter().find(|pid| **pid != init).unwrap();
    let gone = (0..500).any(|_| {
        let state = std::fs::read_to_string(format!("/proc/{exec_pid}/stat")).unwrap_or_default();
        let dead = state.is_empty() || state.contains(") Z");
        if !dead {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        dead
    });
    assert!(gone, "the exec'd process got the signal");
    let out = sandbox.output(&["delete", &id]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(cgroups_mentioning(&id).is_empty());
}

/// A paused container is deleted with --force: the frozen init is thawed
/// so that SIGKILL reaches it.
#[test]
fn a_paused_container_is_force_deleted() {
    let sandbox = Sandbox::new();
    let id = running(&sandbox, "pausedel");
    assert!(sandbox.output(&["pause", &id]).status.success());
    let out = sandbox.output(&["delete", &id]);
    assert!(stderr(&out).contains("paused"), "{}", stderr(&out));
    let out = sandbox.output(&["delete", "--force", &id]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(cgroups_mentioning(&id).is_empty());
}

/// `update`: a resources JSON on stdin (`-r -`, as containerd passes it),
/// or runc's flags; each lands in the cgroup.
#[test]
fn update_writes_new_limits() {
    use std::io::Write;

    let sandbox = Sandbox::new();
    let id = running(&sandbox, "update");
    let mut child = sandbox
        .cradle(&["update", "-r", "-", &id])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(br#"{"memory":{"limit":67108864},"pids":{"limit":77}}"#)
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let cgroup = sandbox.state(&id);
    let pid = cgroup["pid"].as_u64().unwrap();
    let membership = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let path_in = |controller: &str| {
        membership
            .lines()
            .find_map(|line| {
                let mut parts = line.splitn(3, ':');
                let (_, names, path) = (parts.next()?, parts.next()?, parts.next()?);
                (names.split(',').any(|n| n == controller)).then(|| path.to_owned())
            })
            .unwrap_or_else(|| panic!("{controller} in {membership}"))
    };
    let host = |controller: &str, file: &str| {
        let dir = Path::new("/sys/fs/cgroup").join(controller);
        let path = dir.join(path_in(controller).trim_start_matches('/')).join(file);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    };
    assert_eq!(host("memory", "memory.limit_in_bytes").trim(), "67108864");
    assert_eq!(host("pids", "pids.max").trim(), "77");
    let out = sandbox.output(&["update", "--memory", "32m", "--pids-limit", "-1", &id]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(host("memory", "memory.limit_in_bytes").trim(), "33554432");
    assert_eq!(host("pids", "pids.max").trim(), "max");
    let out = sandbox.output(&["update", "--memory", "lots", &id]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("lots"), "{}", stderr(&out));
}

/// `events` says it is not supported; the global flags clients pass are
/// accepted, or refused with the reason.
#[test]
fn events_and_global_flags() {
    let sandbox = Sandbox::new();
    let id = running(&sandbox, "events");
    let out = sandbox.output(&["events", "--stats", &id]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("not supported"), "{}", stderr(&out));
    let out = sandbox.output(&["--rootless=false", "--criu", "/usr/sbin/criu", "state", &id]);
    assert!(out.status.success(), "{}", stderr(&out));
    if !Path::new("/run/systemd/system").exists() {
        let out = sandbox.output(&["--systemd-cgroup", "state", &id]);
        assert!(!out.status.success());
        assert!(stderr(&out).contains("systemd is not running"), "{}", stderr(&out));
    }
}

/// `features` parses, and each thing it claims works: every namespace in
/// one container, every hook point, every seccomp action and operator.
#[test]
fn features_claims_hold() {
    let sandbox = Sandbox::new();
    let out = sandbox.output(&["features"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let features: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert!(features["ociVersionMin"].is_string() && features["ociVersionMax"].is_string());
    let strings = |value: &serde_json::Value| -> Vec<String> {
        value.as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()).collect()
    };
    let namespaces = strings(&features["linux"]["namespaces"]);
    let hooks = strings(&features["hooks"]);
    let actions = strings(&features["linux"]["seccomp"]["actions"]);
    let operators = strings(&features["linux"]["seccomp"]["operators"]);
    assert_eq!(features["linux"]["cgroup"]["systemd"], false);

    // Each hook appends its name; each namespace is a new one; a rule per
    // seccomp action and per operator on syscalls `true` never makes.
    let log = sandbox.dir.path().join("hooks.log");
    // SCMP_ACT_NOTIFY's agent: a bound socket takes the connection and the
    // listener into its backlog; no call is ever handed to it.
    let agent_path = sandbox.dir.path().join("agent.sock");
    let _agent = std::os::unix::net::UnixListener::bind(&agent_path).unwrap();
    let bundle = sandbox.bundle("features", &["sh", "-c", "ls -l /proc/self/ns/"]);
    let unused = ["acct", "swapon", "swapoff", "syslog", "vhangup", "pivot_root", "iopl", "ioperm"];
    sandbox.edit_config(&bundle, |config| {
        config["linux"]["namespaces"] =
            namespaces.iter().map(|ns| serde_json::json!({"type": ns})).collect();
        let hook = |name: &str| {
            // startContainer runs inside the container's root.
            let script = format!(
                "echo {name} >> {} 2>/dev/null || echo {name} >> /hooks.log",
                log.display()
            );
            serde_json::json!([{"path": "/bin/sh", "args": ["sh", "-c", script]}])
        };
        config["hooks"] = hooks.iter().map(|name| (name.clone(), hook(name))).collect();
        let mut rules = Vec::new();
        for (index, action) in actions.iter().enumerate() {
            rules.push(
                serde_json::json!({"names": [unused[index % unused.len()]], "action": action}),
            );
        }
        for operator in &operators {
            rules.push(serde_json::json!({"names": ["reboot"], "action": "SCMP_ACT_ERRNO",
                "args": [{"index": 0, "value": 1, "valueTwo": 1, "op": operator}]}));
        }
        config["linux"]["seccomp"] = serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": rules, "listenerPath": agent_path});
    });
    let id = sandbox.id("features");
    let out = sandbox.output(&["run", "--bundle", bundle.to_str().unwrap(), &id]);
    assert!(out.status.success(), "{}", stderr(&out));
    let inside = stdout(&out);
    for ns in &namespaces {
        let file = match ns.as_str() {
            "mount" => "mnt",
            "network" => "net",
            other => other,
        };
        let own = std::fs::read_link(format!("/proc/self/ns/{file}")).unwrap();
        let own = own.to_string_lossy();
        assert!(inside.contains(&format!("{file} -> ")), "{inside}");
        assert!(!inside.contains(&*own), "{ns} is a new namespace: {inside}");
    }
    let ran = std::fs::read_to_string(&log).unwrap()
        + &std::fs::read_to_string(bundle.join("rootfs/hooks.log")).unwrap_or_default();
    for name in &hooks {
        assert!(ran.lines().any(|line| line == name), "hook {name} ran: {ran}");
    }
}
