//! The tracer attacked as a hostile trace file's author, and as an
//! unprivileged host user would attack `cradle watch` (issue 14, items
//! 6-9, and pid reuse from issue 17). Each test runs the attack against the
//! real binary and asserts that it fails.

mod common;

use std::{
    fs::File,
    io::Write,
    os::unix::process::{CommandExt, ExitStatusExt},
    path::Path,
    process::{Command, ExitStatus, Stdio},
};

use common::cradle;

/// Runs `command` to its end with stdout and stderr in files; returns its
/// status, its stderr, and its peak resident set in KiB (the kernel's
/// ru_maxrss for this child alone).
fn run_measured(command: &mut Command, dir: &Path) -> (ExitStatus, String, i64) {
    let err_path = dir.join("stderr");
    command.stdout(Stdio::null()).stderr(File::create(&err_path).unwrap()).stdin(Stdio::null());
    // SAFETY: the hook does nothing. Having one makes std fork rather than
    // vfork: a vforked child's peak RSS would start from ours.
    unsafe {
        command.pre_exec(|| Ok(()));
    }
    let child = command.spawn().expect("start cradle");
    let pid = i32::try_from(child.id()).unwrap();
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value of the plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our unreaped child; both pointers are to live locals.
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(reaped, pid, "wait4: {}", std::io::Error::last_os_error());
    std::mem::forget(child);
    let stderr = std::fs::read_to_string(&err_path).unwrap();
    (ExitStatus::from_raw(status), stderr, usage.ru_maxrss)
}

/// Item 9: a trace whose second line is 64 MiB of one JSON string. Before
/// the cap, `show` and `diff` read the line whole (a 300 MB line took
/// 1.2 GB); now they stop at the cap and name the file and line.
#[test]
fn a_huge_line_in_a_trace_is_refused_without_reading_it_whole() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.jsonl");
    let bundle = common::RuncBundle::new(&["true"]);
    let (_, trace) = bundle.trace_runc_run("st-huge");
    std::fs::copy(&trace, &good).unwrap();
    let header = std::fs::read_to_string(&good).unwrap().lines().next().unwrap().to_string();
    let hostile = dir.path().join("hostile.jsonl");
    let mut file = File::create(&hostile).unwrap();
    writeln!(file, "{header}").unwrap();
    file.write_all(b"{\"event\":\"").unwrap();
    let chunk = vec![b'A'; 1 << 20];
    for _ in 0..64 {
        file.write_all(&chunk).unwrap();
    }
    file.write_all(b"\"}\n").unwrap();
    drop(file);

    let runs: [(&str, Vec<&Path>); 3] =
        [("show", vec![&hostile]), ("diff", vec![&good, &hostile]), ("report", vec![&hostile])];
    for (command, args) in runs {
        let (status, stderr, peak_kib) =
            run_measured(cradle().arg(command).args(&args), dir.path());
        assert!(!status.success(), "{command} accepted the hostile trace: {stderr}");
        assert!(
            stderr.contains("hostile.jsonl") && stderr.contains("line 2 is longer than"),
            "{command}: the error names the file and the line: {stderr}"
        );
        assert!(
            peak_kib < 48 * 1024,
            "{command} held the 64 MiB line in memory: peak RSS {peak_kib} KiB"
        );
    }
}

/// Runs `command` as uid/gid 65534 with no supplementary groups: the
/// unprivileged host user of the threat model.
fn as_nobody(command: &[&str]) -> Command {
    let mut nobody = Command::new("setpriv");
    nobody.args(["--reuid", "65534", "--regid", "65534", "--clear-groups", "--"]);
    nobody.args(command);
    nobody
}

/// Whether `text` holds a character a terminal acts on (C0 but newline,
/// DEL, C1), or one XML 1.0 forbids.
fn raw_controls(text: &str) -> Vec<char> {
    text.chars().filter(|c| c.is_control() && *c != '\n').collect()
}

fn assert_escaped(what: &str, text: &str, escaped: &[&str]) {
    assert_eq!(raw_controls(text), Vec::<char>::new(), "{what} printed controls raw:\n{text}");
    for needle in escaped {
        assert!(text.contains(needle), "{what} does not show {needle:?} escaped:\n{text}");
    }
}

/// Item 8: a comm set with prctl(PR_SET_NAME) to `\e]0;pw\a\e[2J`, a file
/// created under a name with ESC, BEL and U+009B (C1 CSI), and a container
/// id with escapes from an unprivileged `runc run`, reach every text output
/// only escaped: the live timeline of `trace` and `watch`, `show`,
/// `report --format text`, `diff`, and the SVG export (which must be XML).
/// Before the fix each of these printed them raw (the C1 CSI everywhere,
/// since JSON-style quoting leaves U+009B as it is).
#[test]
fn hostile_names_never_reach_a_terminal_or_svg_raw() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name);
    const COMM: &str = "\\u001b]0;pw\\u0007\\u001b[2J";
    const FILE: &str = "f\\u001b[31mred\\u0007\\u009b2J";
    const ID: &str = "st-id\\u001b]0;pw\\u0007\\u009b2J";

    // A traced process names itself and creates the file.
    let traced = common::output(
        cradle()
            .args(["trace", "--out"])
            .arg(path("names.jsonl"))
            .arg("--")
            .arg(common::probes::helper())
            .arg("hostile-names")
            .arg(dir.path()),
    );
    assert!(traced.status.success(), "{traced:?}");
    let timeline = String::from_utf8_lossy(&traced.stderr);
    assert_escaped("trace's timeline", &timeline, &[COMM, FILE]);

    // An unprivileged user's runc invocation with a hostile id, under watch.
    let watch = common::watch::Watch::start(dir.path());
    let id = "st-id\u{1b}]0;pw\u{7}\u{9b}2J";
    let bundle = path("no-bundle");
    let runc = common::output(&mut as_nobody(&[
        "runc",
        "--root",
        path("nobody-runc").to_str().unwrap(),
        "run",
        "--bundle",
        bundle.to_str().unwrap(),
        id,
    ]));
    assert!(!runc.status.success(), "runc refuses the id, but only after its exec");
    let timeline_path = watch.timeline.clone();
    let lines = watch.stop();
    assert!(
        lines.iter().any(|line| line["container"]["id"] == id),
        "watch recorded the hostile id as given"
    );
    let watch_trace = path("watch.jsonl");
    let timeline = std::fs::read_to_string(&timeline_path).unwrap();
    assert_escaped("watch's timeline", &timeline, &[ID]);

    let run = |args: &[&std::ffi::OsStr]| {
        let out = common::output(cradle().args(args));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    for (trace, escaped) in [(path("names.jsonl"), [COMM, FILE]), (watch_trace, [ID, ID])] {
        let t = trace.as_os_str();
        assert_escaped("show", &run(&["show".as_ref(), t]), &escaped);
        let svg = run(&["export".as_ref(), t, "--format".as_ref(), "svg".as_ref()]);
        assert_eq!(raw_controls(&svg), Vec::<char>::new(), "SVG with raw controls:\n{svg}");
        assert!(resvg::usvg::Tree::from_str(&svg, &Default::default()).is_ok(), "valid SVG");
    }
    let watch_trace = path("watch.jsonl");
    let t = watch_trace.as_os_str();
    let report = run(&["report".as_ref(), t, "--format".as_ref(), "text".as_ref()]);
    assert_escaped("report", &report, &[ID]);
    let names = path("names.jsonl");
    let diff = run(&["diff".as_ref(), names.as_os_str(), t]);
    assert_escaped("diff", &diff, &[ID]);
}

/// Starts `program args` as the process with pid `pid`: writes the pid
/// before it to `/proc/sys/kernel/ns_last_pid` and forks a gate that execs
/// the program once it got that pid. The host's other processes may take
/// the pid first: then the gate is killed (before its exec, so it never
/// ran the program) and the forcing is tried again.
fn spawn_at_pid(pid: u32, program: &str, args: &[&std::ffi::OsStr]) -> std::process::Child {
    for _ in 0..500 {
        let mut gate = Command::new("sh");
        gate.args(["-c", "read go && exec \"$@\"", "gate", program]).args(args);
        gate.stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::piped());
        std::fs::write("/proc/sys/kernel/ns_last_pid", (pid - 1).to_string())
            .expect("write ns_last_pid (needs root)");
        let mut child = gate.spawn().expect("start the gate");
        if child.id() == pid {
            child.stdin.take().unwrap().write_all(b"go\n").unwrap();
            return child;
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    panic!("the host never let pid {pid} be taken again");
}

/// Issue 17's pid reuse: a container's runtime exits, and the next
/// `runc run` gets its pid (forced through ns_last_pid). Under `watch`
/// they are two containers, and every event of the second runtime is the
/// second container's. Before the collector forgot exited processes, the
/// second `runc run` was taken for the first one re-executing itself: one
/// container, and the new one's events given to the old.
#[test]
fn a_recycled_runtime_pid_is_a_new_container() {
    let bundle = common::RuncBundle::new(&["true"]);
    let dir = tempfile::tempdir().unwrap();
    let watch = common::watch::Watch::start(dir.path());
    let root = bundle.runc_root();
    let (old_id, new_id) =
        (format!("st-old-{}", std::process::id()), format!("st-new-{}", std::process::id()));
    let run_args = |id: &str| -> Vec<std::ffi::OsString> {
        vec![
            "--root".into(),
            root.clone().into(),
            "run".into(),
            "--bundle".into(),
            bundle.path().into(),
            id.into(),
        ]
    };
    let old = Command::new("runc").args(run_args(&old_id)).spawn().unwrap();
    let old_pid = old.id();
    let old = old.wait_with_output().unwrap();
    assert!(old.status.success(), "{old:?}");
    let new_args = run_args(&new_id);
    let new_args: Vec<&std::ffi::OsStr> = new_args.iter().map(|a| a.as_os_str()).collect();
    let new = spawn_at_pid(old_pid, "runc", &new_args).wait_with_output().unwrap();
    assert!(new.status.success(), "{new:?}");
    let lines = watch.stop();

    let containers: Vec<&serde_json::Value> =
        lines.iter().filter_map(|l| l.get("container").filter(|c| c.is_object())).collect();
    let ids: Vec<&str> = containers.iter().filter_map(|c| c["id"].as_str()).collect();
    assert!(
        ids.contains(&old_id.as_str()) && ids.contains(&new_id.as_str()),
        "two containers: {ids:?}"
    );
    // Other runtimes on the host are watched too: only ours are checked.
    for container in
        containers.iter().filter(|c| c["id"] == old_id.as_str() || c["id"] == new_id.as_str())
    {
        assert_eq!(container["runtime_pid"], old_pid, "both runtimes had pid {old_pid}");
        common::assert_phases_in_order(container);
    }
    let of_pid: Vec<&serde_json::Value> = lines.iter().filter(|l| l["tgid"] == old_pid).collect();
    let second = of_pid
        .iter()
        .position(|l| {
            l["kind"] == "exec"
                && l["ret"] == 0
                && common::exec_argv(l).is_some_and(|a| a.contains(&new_id))
        })
        .expect("the second runtime's exec");
    // Before it: the old runtime's events, and the gate's exec attempts
    // along PATH (failed, no container's).
    assert!(of_pid[..second].iter().all(|l| l["container"] != new_id.as_str()));
    assert!(of_pid[..second].iter().any(|l| l["container"] == old_id.as_str()));
    assert!(
        of_pid[second..].iter().all(|l| l["container"] == new_id.as_str()),
        "every event of the new runtime is the new container's: {:?}",
        of_pid[second..]
            .iter()
            .filter(|l| l["container"] != new_id.as_str())
            .map(|l| (&l["kind"], &l["container"], &l["tid"], &l["pid"]))
            .collect::<Vec<_>>()
    );
}

/// The pid of the process whose successful exec had `marker` among its
/// arguments, in a trace being written (its last line may be cut).
fn exec_pid(trace: &Path, marker: &str) -> Option<u32> {
    let text = std::fs::read_to_string(trace).ok()?;
    let complete = &text[..text.rfind('\n')? + 1];
    complete.lines().find_map(|line| {
        let record: serde_json::Value = serde_json::from_str(line).ok()?;
        let exec = &record["event"]["detail"]["exec"];
        let named = exec["argv"].as_array()?.iter().any(|arg| arg == marker);
        (named && exec["ret"] == 0)
            .then(|| record["event"]["tgid"].as_u64())?
            .map(|p| u32::try_from(p).unwrap())
    })
}

/// Issue 14 item 7 and issue 17: in step mode, a prestart hook runs and
/// exits before the root switch; at that pause an unrelated `sleep` is
/// given the hook's pid (ns_last_pid). The pauses after it freeze the
/// container's processes, and must not stop the sleep. Before, the
/// collector still listed the hook's pid and step mode sent it SIGSTOP.
#[test]
fn step_mode_never_stops_a_process_that_got_a_hook_s_recycled_pid() {
    let bundle = common::RuncBundle::new(&["true"]);
    let marker = format!("st-hook-{}", std::process::id());
    let config_path = bundle.path().join("config.json");
    let mut config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&config_path).unwrap()).unwrap();
    config["hooks"] = serde_json::json!({
        "prestart": [{ "path": "/bin/sh", "args": ["sh", "-c", "exit 0", marker] }]
    });
    std::fs::write(&config_path, config.to_string()).unwrap();
    let trace = bundle.path().join("step.jsonl");
    let mut child = cradle()
        .args(["trace", "--step", "--out"])
        .arg(&trace)
        .args(["--", "runc", "--root"])
        .arg(bundle.runc_root())
        .args(["run", "--bundle"])
        .arg(bundle.path())
        .arg(format!("st-step-{}", std::process::id()))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cradle --step");
    let cradle_pid = i32::try_from(child.id()).unwrap();
    std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_secs(90));
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(cradle_pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    });
    let mut stdin = child.stdin.take().unwrap();
    let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut transcript = String::new();
    let mut sleeper: Option<std::process::Child> = None;
    let mut pauses_after = 0;
    for line in std::io::BufRead::lines(stderr) {
        let line = line.unwrap();
        transcript.push_str(&line);
        transcript.push('\n');
        if !line.trim().ends_with(" has begun.") {
            continue;
        }
        if let Some(sleep) = &sleeper {
            pauses_after += 1;
            assert_ne!(
                common::process_state(sleep.id()),
                Some('T'),
                "the sleep that got the hook's pid was stopped:\n{transcript}"
            );
        } else if let Some(hook) = exec_pid(&trace, &marker) {
            // The hook has run; once it is gone, its pid goes to a stranger.
            while common::process_state(hook).is_some() {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            let sleep: &std::ffi::OsStr = "300".as_ref();
            sleeper = Some(spawn_at_pid(hook, "sleep", &[sleep]));
        }
        stdin.write_all(b"\n").unwrap();
    }
    let status = child.wait().unwrap();
    let mut sleep = sleeper.expect("the hook ran before a pause");
    let _ = sleep.kill();
    let _ = sleep.wait();
    assert!(status.success(), "{status:?}\n{transcript}");
    assert!(pauses_after > 0, "a pause came after the pid was recycled:\n{transcript}");
}

/// Item 6: uid 65534 runs a file of its own named `runc` (a script, so the
/// file the kernel runs is its interpreter) as `runc run --bundle /etc ID`
/// with the id of a real container, and it floods with O_PATH opens while
/// four real runc containers start; then it runs the real runc with a real
/// container's id. The fake is flagged and not followed: no container,
/// no event after its exec, so the real containers are all recorded whole;
/// the real runc run by nobody is a container of its own, marked
/// unprivileged, and both holders of the id are marked as duplicates.
/// Before, the fake was a container with the real id, and its flood was
/// traced (the issue saw 2 of 4 real containers vanish).
#[test]
fn an_unprivileged_fake_runtime_neither_floods_nor_spoofs_watch() {
    use std::os::unix::fs::PermissionsExt;
    let bundle = common::RuncBundle::new(&["true"]);
    let dir = tempfile::tempdir().unwrap();
    let nobody_dir = dir.path().join("nobody");
    std::fs::create_dir(&nobody_dir).unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&nobody_dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let flooder = dir.path().join("flooder");
    std::fs::copy(common::probes::helper(), &flooder).unwrap();
    let fake = nobody_dir.join("runc");
    std::fs::write(&fake, format!("#!/bin/sh\nexec {} flood 100000000\n", flooder.display()))
        .unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::chown(&fake, Some(65534), Some(65534)).unwrap();
    let tag = std::process::id();
    let real_ids: Vec<String> = (0..4).map(|n| format!("st-real{n}-{tag}")).collect();

    let watch = common::watch::Watch::start(dir.path());
    let fakes: Vec<std::process::Child> = (0..2)
        .map(|_| {
            as_nobody(&[fake.to_str().unwrap(), "run", "--bundle", "/etc", &real_ids[0]])
                .stdout(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let reals: Vec<std::process::Child> = real_ids
        .iter()
        .map(|id| {
            Command::new("runc")
                .arg("--root")
                .arg(bundle.runc_root())
                .args(["run", "--bundle"])
                .arg(bundle.path())
                .arg(id)
                .stdout(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for real in reals {
        let out = real.wait_with_output().unwrap();
        assert!(out.status.success(), "{out:?}");
    }
    let fake_pids: Vec<u32> = fakes.iter().map(|f| f.id()).collect();
    for mut fake in fakes {
        let _ = fake.kill();
        let _ = fake.wait();
    }
    let nobody_root = nobody_dir.join("runc-state");
    let spoof = common::output(&mut as_nobody(&[
        "runc",
        "--root",
        nobody_root.to_str().unwrap(),
        "run",
        "--bundle",
        "/etc",
        &real_ids[1],
    ]));
    assert!(!spoof.status.success());
    let lines = watch.stop();

    let containers: Vec<&serde_json::Value> =
        lines.iter().filter_map(|l| l.get("container").filter(|c| c.is_object())).collect();
    for (n, id) in real_ids.iter().enumerate() {
        let mine: Vec<&&serde_json::Value> = containers.iter().filter(|c| c["id"] == *id).collect();
        let real = mine
            .iter()
            .find(|c| c["unprivileged"].is_null())
            .unwrap_or_else(|| panic!("{id} is recorded: {containers:?}"));
        common::assert_phases_in_order(real);
        assert!(real["events_may_be_missing"].is_null(), "{id} is whole: {real}");
        let expected = if n == 1 { 2 } else { 1 };
        assert_eq!(mine.len(), expected, "{id}: {mine:?}");
        if n == 1 {
            assert!(mine.iter().all(|c| c["duplicate_id"] == true), "{mine:?}");
            assert!(mine.iter().any(|c| c["unprivileged"] == true), "{mine:?}");
        }
    }
    for pid in fake_pids {
        let of_fake: Vec<&serde_json::Value> = lines.iter().filter(|l| l["tgid"] == pid).collect();
        let exec = of_fake
            .iter()
            .find(|l| l["kind"] == "exec" && l["ret"] == 0)
            .expect("the fake runtime's exec is recorded");
        assert_eq!(exec["untrusted_runtime"], true, "flagged: {exec}");
        assert_eq!(exec["container"], serde_json::Value::Null, "never a container");
        assert!(
            of_fake.iter().all(|l| l["kind"] != "open"),
            "the fake runtime is not followed: {} of its events recorded",
            of_fake.len()
        );
    }
}
