//! `cradle trace` end to end: real kernel, real eBPF, real runc.

mod common;

use std::{
    collections::HashSet,
    process::{Command, Stdio},
    time::Duration,
};

use common::{RuncBundle, assert_phases_in_order, cradle, exec_argv, json_lines, output};
use serde_json::Value;

/// Kills and reaps the unrelated exec loop however the test ends.
struct Background(std::process::Child);

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Records that reached userspace for these output lines: a joined exec
/// line stands for its entry and its result record.
fn records_behind(events: &[Value]) -> u64 {
    events
        .iter()
        .filter(|e| e.get("kind").is_some())
        .map(|e| if e["kind"] == "exec" && !e["ret"].is_null() { 2 } else { 1 })
        .sum()
}

#[test]
fn traces_the_command_tree_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("unrelated-ran");
    // An unrelated process that execs in a tight loop beside the trace.
    let unrelated = Background(
        Command::new("sh")
            .arg("-c")
            .arg(format!(
                "while :; do /bin/true unrelated-marker; touch {}; done",
                marker.display()
            ))
            .spawn()
            .expect("start unrelated loop"),
    );
    while !marker.exists() {
        std::thread::sleep(Duration::from_millis(5));
    }

    let trace = dir.path().join("trace.jsonl");
    let result = output(
        cradle()
            .args(["trace", "--out"])
            .arg(&trace)
            .args(["--", "sh", "-c", "/bin/echo a b c; exit 3"])
            .stdout(Stdio::piped()),
    );
    drop(unrelated);

    assert_eq!(result.status.code(), Some(3), "exit status: {result:?}");
    assert_eq!(String::from_utf8_lossy(&result.stdout), "a b c\n");
    let events = json_lines(&trace);

    let sh = events
        .iter()
        .find(|e| e["kind"] == "exec" && e["ret"] == 0 && e["comm"] == "sh")
        .expect("the sh exec");
    let echo = events
        .iter()
        .find(|e| {
            exec_argv(e).as_deref() == Some(&["/bin/echo", "a", "b", "c"].map(String::from)[..])
        })
        .expect("the echo exec with its full argv");
    assert_eq!(echo["ret"], 0);
    assert_eq!(echo["filename"], "/bin/echo");
    assert_eq!(echo["ppid"], sh["tgid"], "echo's parent is the traced sh");
    assert_eq!(echo["comm"], "echo");

    // Only the traced tree: every acting process is the root or was created
    // by a traced process.
    let mut tree: HashSet<u64> = HashSet::from([sh["tgid"].as_u64().unwrap()]);
    for event in &events {
        if event["kind"] == "task_new" {
            tree.insert(event["child_tgid"].as_u64().unwrap());
        }
    }
    for event in events.iter().filter(|e| e.get("kind").is_some()) {
        assert!(tree.contains(&event["tgid"].as_u64().unwrap()), "event outside the tree: {event}");
        let argv = exec_argv(event).unwrap_or_default();
        assert!(!argv.iter().any(|a| a == "unrelated-marker"), "unrelated exec traced: {event}");
    }

    // Filtered in the kernel: every record that reached userspace is in
    // the output, none was dropped there.
    let summary = events.iter().find_map(|e| e.get("trailer")).expect("trailer");
    assert_eq!(summary["records"].as_u64().unwrap(), records_behind(&events), "{summary}");
    assert_eq!(summary["lost"].as_u64(), Some(0));
}

#[test]
fn traces_runc_run_of_a_busybox_container() {
    let bundle = RuncBundle::new(&["sh", "-c", "echo workload-ran"]);
    let (result, trace) = bundle.trace_runc_run("cradle-trace-test");
    assert!(result.status.success(), "runc run under cradle trace: {result:?}");
    assert_eq!(String::from_utf8_lossy(&result.stdout), "workload-ran\n");

    let execs: Vec<(Vec<String>, Value)> =
        json_lines(&trace).into_iter().filter_map(|e| exec_argv(&e).map(|a| (a, e))).collect();
    assert!(
        execs.iter().any(|(argv, e)| argv.len() >= 2 && argv[1] == "init" && e["ret"] == 0),
        "runc init exec missing: {:?}",
        execs.iter().map(|(a, _)| a).collect::<Vec<_>>()
    );
    let workload = execs
        .iter()
        .find(|(argv, _)| argv[..] == ["sh", "-c", "echo workload-ran"])
        .map(|(_, e)| e)
        .expect("the container's workload exec");
    assert_eq!(workload["ret"], 0);
    // The workload runs in the container's own mount and pid namespaces.
    let runc = execs.iter().find(|(argv, _)| argv[0] == "runc").map(|(_, e)| e).unwrap();
    assert_ne!(workload["mnt_ns"], runc["mnt_ns"]);
    assert_ne!(workload["pid_ns"], runc["pid_ns"]);
}

/// `cradle doctor --json`, parsed; also whether it said cradle can run.
fn doctor() -> (Value, bool) {
    let result = output(cradle().args(["doctor", "--json"]));
    let report: Value = serde_json::from_slice(&result.stdout)
        .unwrap_or_else(|err| panic!("doctor --json: {err}: {result:?}"));
    (report, result.status.success())
}

/// The trace file's header record.
fn header_of(events: &[Value]) -> Value {
    events.iter().find_map(|record| record.get("header")).expect("a header").clone()
}

/// `cradle trace --out FILE [extra] -- sh -c SCRIPT`: the records and
/// whether cradle succeeded.
fn trace_sh(extra: &[&str], script: &str) -> (Vec<Value>, std::process::Output) {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("trace.jsonl");
    let result = output(
        cradle()
            .args(["trace", "--out"])
            .arg(&trace)
            .args(extra)
            .args(["--", "sh", "-c", script])
            .env_remove("CRADLE_SKIP_PROBES"),
    );
    let events = if trace.exists() { json_lines(&trace) } else { Vec::new() };
    (events, result)
}

/// A refused program costs its verification and one more for the
/// verdict, not eleven: asked for its whole walk, the verifier of 6.1
/// filled every log buffer aya grows for a program refused after 1,000,000
/// instructions, minutes under emulation. Statistics alone carry the
/// verdict; the walk is for `CRADLE_LOG=debug`. On this machine fentry is
/// refused, so doctor's loads include refusals.
#[test]
fn doctor_asks_the_verifier_for_its_verdict_not_its_walk() {
    let dir = tempfile::tempdir().unwrap();
    let calls = dir.path().join("bpf.strace");
    let traced = output(
        std::process::Command::new("strace")
            .args(["-f", "-e", "trace=bpf", "-o"])
            .arg(&calls)
            .arg(env!("CARGO_BIN_EXE_cradle"))
            .arg("doctor")
            .env_remove("CRADLE_LOG"),
    );
    assert!(calls.exists(), "strace: {traced:?}");
    let calls = std::fs::read_to_string(&calls).unwrap();
    // The loads of cradle's own programs (not its tiny feature probes).
    let loads: Vec<&str> = calls
        .lines()
        .filter(|line| line.contains("BPF_PROG_LOAD") && line.contains("\"Dual MIT/GPL\""))
        .collect();
    assert!(!loads.is_empty(), "no program loads in {calls}");
    for load in loads.iter().filter(|load| !load.contains("log_buf=NULL")) {
        assert!(load.contains("log_level=4,"), "a load asking for more than statistics: {load}");
    }
}

#[test]
fn doctor_finds_what_works_by_trying() {
    let (report, can_run) = doctor();
    assert!(can_run, "doctor: {report:#}");
    let check = |name: &str| {
        report["mechanisms"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["mechanism"] == name)
            .unwrap_or_else(|| panic!("no {name} check"))
            .clone()
    };
    assert_eq!(check("tracepoint")["usable"], true);
    assert_eq!(check("raw_tracepoint")["usable"], true);
    // Kprobes are usable exactly where the kernel has them (these machines:
    // CONFIG_KPROBES unset; Debian's kernels: set). The reasons are the
    // errors of the attempts themselves.
    let kprobe = check("kprobe");
    let has_kprobes = std::path::Path::new("/sys/bus/event_source/devices/kprobe").exists();
    assert_eq!(kprobe["usable"], has_kprobes, "{kprobe}");
    if !has_kprobes {
        assert!(kprobe["error"].as_str().unwrap().starts_with("attach:"), "{kprobe}");
    }
    // These machines refuse BPF_PROG_TYPE_TRACING at load.
    let fentry = check("fentry");
    if fentry["usable"] == false {
        let fentry_error = fentry["error"].as_str().unwrap();
        assert!(
            fentry_error.starts_with("load:") && fentry_error.contains("BPF_PROG_LOAD"),
            "{fentry}"
        );
    }
    assert!(report["problems"].as_array().unwrap().is_empty());
    // Every essential probe attached; each probe says where, or why not.
    for probe in report["probes"].as_array().unwrap() {
        if probe["essential"] == true {
            assert_eq!(probe["usable"], true, "{probe}");
        }
        if probe["usable"] == true {
            assert!(!probe["paths"].as_array().unwrap().is_empty(), "{probe}");
        } else {
            assert!(!probe["error"].as_str().unwrap().is_empty(), "{probe}");
        }
    }
}

/// On every kernel: the probes `doctor` calls usable are exactly the ones a
/// trace then runs with, on the same paths, and the ones it calls unusable
/// are recorded absent in the trace's header.
#[test]
fn doctor_verdict_per_probe_matches_what_a_trace_attached() {
    let (report, can_run) = doctor();
    let (events, result) = trace_sh(&[], "true");
    assert_eq!(result.status.success(), can_run, "doctor: {report:#}\ntrace: {result:?}");
    if !can_run {
        return;
    }
    let header = header_of(&events);
    let attached: Vec<&Value> = header["probes"].as_array().unwrap().iter().collect();
    let absent: Vec<&Value> = header
        .get("unavailable")
        .and_then(Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    for probe in report["probes"].as_array().unwrap() {
        let name = &probe["probe"];
        let in_header = |path: &Value| {
            attached.iter().any(|used| {
                used["attach"] == *path && used["probes"].as_array().unwrap().contains(name)
            })
        };
        let recorded_absent = absent.iter().any(|absence| absence["probe"] == *name);
        // A hooked probe took the same path in both.
        if let Some(hook) = probe.get("hook").filter(|hook| !hook.is_null()) {
            let recorded = header["hooks"].as_array().unwrap().iter().find(|h| h["probe"] == *name);
            let recorded = recorded.unwrap_or_else(|| panic!("no hook of {name} in {header:#}"));
            assert_eq!(recorded["path"], hook["path"], "{name}: doctor {hook}, trace {recorded}");
        }
        if probe["usable"] == true {
            assert!(
                !recorded_absent,
                "doctor says {name} works, the trace ran without it: {header:#}"
            );
            for path in probe["paths"].as_array().unwrap() {
                assert!(
                    in_header(path),
                    "doctor's path {path} for {name} is not in the header: {header:#}"
                );
            }
        } else {
            assert!(
                recorded_absent,
                "doctor says {name} cannot attach, the header does not say so: {header:#}"
            );
            assert!(
                !attached.iter().any(|used| used["probes"].as_array().unwrap().contains(name)
                    && used["probes"].as_array().unwrap().len() == 1),
                "{name} half attached: {header:#}"
            );
        }
    }
}

/// Where neither fentry nor kprobes work (these machines), the header says
/// that the namespace and exec probes use the tracepoint paths.
#[test]
fn the_header_records_the_tracepoint_paths() {
    let (report, _) = doctor();
    let usable = |name: &str| {
        report["mechanisms"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["mechanism"] == name && m["usable"] == true)
    };
    let (events, result) = trace_sh(&[], "true");
    assert!(result.status.success(), "{result:?}");
    let header = header_of(&events);
    let paths = |probe: &str| -> Vec<String> {
        header["probes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|used| used["probes"].as_array().unwrap().iter().any(|p| p == probe))
            .map(|used| used["attach"].as_str().unwrap().to_owned())
            .collect()
    };
    let namespaces = paths("namespaces");
    assert!(namespaces.contains(&"raw_tracepoint:task_newtask".to_owned()), "{header:#}");
    assert!(namespaces.contains(&"raw_tracepoint:sys_exit/unshare".to_owned()), "{header:#}");
    assert!(paths("exec").contains(&"raw_tracepoint:sched_process_exec".to_owned()), "{header:#}");
    if !usable("fentry") && !usable("kprobe") {
        for used in header["probes"].as_array().unwrap() {
            let attach = used["attach"].as_str().unwrap();
            assert!(
                attach.starts_with("raw_tracepoint:") || attach.starts_with("tracepoint:"),
                "{used}"
            );
        }
    }
}

/// A probe left out by configuration: the trace still runs and shows the
/// rest, records the probe and its kinds as unavailable, and has no event
/// of those kinds. An essential probe cannot be left out.
#[test]
fn a_probe_left_out_by_configuration_is_recorded_absent() {
    let dir = tempfile::tempdir().unwrap();
    let script = format!("echo x > {}/written; /bin/true after", dir.path().display());
    let opens = |events: &[Value]| events.iter().filter(|e| e["kind"] == "open").count();

    // With every probe: the write shows as an open.
    let (events, result) = trace_sh(&[], &script);
    assert!(result.status.success(), "{result:?}");
    assert!(opens(&events) > 0, "no open event to leave out: {events:#?}");

    let (events, result) = trace_sh(&["--skip-probe", "files"], &script);
    assert!(result.status.success(), "{result:?}");
    let header = header_of(&events);
    let absent = header["unavailable"].as_array().expect("unavailable probes in the header");
    let files = absent.iter().find(|a| a["probe"] == "files").expect("files recorded absent");
    assert_eq!(files["kinds"], serde_json::json!(["open"]), "{files}");
    assert!(files["reason"].as_str().unwrap().contains("configuration"), "{files}");
    assert_eq!(opens(&events), 0, "open events without the files probe");
    assert!(
        !header["probes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|used| used["probes"] == serde_json::json!(["files"])),
        "{header:#}"
    );
    // The rest of the trace is there.
    assert!(
        events.iter().any(|e| exec_argv(e).as_deref() == Some(&["/bin/true", "after"].map(String::from)[..])),
        "the exec is traced"
    );
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(stderr.contains("probe files left out"), "{stderr}");

    // The same through the environment.
    let trace = dir.path().join("env.jsonl");
    let result = output(
        cradle()
            .args(["trace", "--out"])
            .arg(&trace)
            .args(["--", "sh", "-c", &script])
            .env("CRADLE_SKIP_PROBES", "files,capability"),
    );
    let events = json_lines(&trace);
    assert!(result.status.success(), "{result:?}");
    let header = header_of(&events);
    let names: Vec<&Value> =
        header["unavailable"].as_array().unwrap().iter().map(|a| &a["probe"]).collect();
    assert!(
        names.contains(&&Value::from("files")) && names.contains(&&Value::from("capability")),
        "{header:#}"
    );

    // Essential probes and unknown names are refused, saying why.
    let (_, result) = trace_sh(&["--skip-probe", "exec"], "true");
    assert!(!result.status.success());
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(stderr.contains("probe exec is essential"), "{stderr}");
    let (_, result) = trace_sh(&["--skip-probe", "nosuch"], "true");
    assert!(!result.status.success());
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(stderr.contains("no probe nosuch") && stderr.contains("capability"), "{stderr}");
}

#[test]
fn doctor_refuses_without_root() {
    let result = output(
        Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(env!("CARGO_BIN_EXE_cradle"))
            .arg("doctor"),
    );
    assert!(!result.status.success(), "doctor as nobody: {result:?}");
    assert!(String::from_utf8_lossy(&result.stdout).contains("cradle needs root"), "{result:?}");
}

#[test]
fn trace_of_a_missing_command_fails_clearly() {
    let result = output(cradle().args(["trace", "--", "/nonexistent/cmd"]));
    assert!(!result.status.success());
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(stderr.contains("/nonexistent/cmd"), "{stderr}");
}

#[test]
fn a_runc_container_is_attributed_with_its_phases_in_order() {
    let bundle = RuncBundle::new(&["sh", "-c", "echo workload-ran"]);
    let id = format!("cradle-phases-{}", std::process::id());
    let (result, trace) = bundle.trace_runc_run("cradle-phases");
    assert!(result.status.success(), "{result:?}");
    let lines = json_lines(&trace);
    let container = lines
        .iter()
        .find_map(|l| l.get("container").filter(|c| c.is_object()))
        .expect("a container line");
    assert_eq!(container["id"], id.as_str());
    assert_eq!(container["runtime"], "runc");
    assert_phases_in_order(container);

    let events: Vec<&Value> = lines.iter().filter(|l| l.get("kind").is_some()).collect();
    let workload = events
        .iter()
        .find(|e| {
            exec_argv(e).as_deref()
                == Some(&["sh", "-c", "echo workload-ran"].map(String::from)[..])
        })
        .expect("workload exec");
    assert_eq!(workload["container"], id.as_str());
    assert_eq!(workload["role"], "workload");
    assert_eq!(workload["phase"], "workload_exec");
    let runc_init = events
        .iter()
        .find(|e| exec_argv(e).is_some_and(|a| a.get(1).map(String::as_str) == Some("init")))
        .expect("runc init exec");
    assert_eq!(runc_init["role"], "intermediate");
    // Every event after runc's own exec belongs to the container: the
    // traced tree is runc's.
    let runtime_pid = container["runtime_pid"].as_u64().unwrap();
    for event in events.iter().filter(|e| e["tgid"].as_u64() != Some(runtime_pid)) {
        if event["container"].is_null() {
            assert!(exec_argv(event).is_some(), "unattributed non-exec event: {event}");
        }
    }
}

/// One representation of how a container ended: the container record
/// holds the exit code (or the signal), not the raw wait(2) status word,
/// and `show` says the same.
#[test]
fn a_containers_exit_is_recorded_as_its_code_and_shown_alike() {
    let bundle = RuncBundle::new(&["sh", "-c", "exit 3"]);
    let (result, trace) = bundle.trace_runc_run("cradle-exit-code");
    assert_eq!(result.status.code(), Some(3), "{result:?}");
    let lines = json_lines(&trace);
    let container = lines
        .iter()
        .find_map(|l| l.get("container").filter(|c| c.is_object()))
        .expect("a container line");
    assert_eq!(container["exit"], serde_json::json!({"exited": {"code": 3}}));
    assert!(container.get("exit_code").is_none(), "no raw wait status: {container}");
    let shown = output(cradle().arg("show").arg(&trace));
    let shown = String::from_utf8_lossy(&shown.stderr).into_owned()
        + &String::from_utf8_lossy(&shown.stdout);
    assert!(shown.contains("exited 3"), "{shown}");
    assert!(!shown.contains("exited 768"), "{shown}");
}

/// `--json` is a stream a program reads: the traced command's own output
/// must not be mixed into it (it goes to stderr).
#[test]
fn json_output_stays_pure_json_lines_whatever_the_command_prints() {
    let out = output(cradle().args([
        "trace",
        "--json",
        "--",
        "sh",
        "-c",
        "echo not-json-1; echo not-json-2",
    ]));
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.lines().count() > 2, "{stdout}");
    for line in stdout.lines() {
        serde_json::from_str::<Value>(line)
            .unwrap_or_else(|err| panic!("not JSON ({err}): {line}"));
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not-json-1") && stderr.contains("not-json-2"), "{stderr}");
}

/// The benchmark's floor (`CRADLE_BENCH_FLOOR`): the same programs attach,
/// and none of them records anything, so the floor measures the hooks alone.
#[test]
fn the_bench_floor_attaches_every_program_and_records_nothing() {
    let header_and_records = |floor: bool| {
        let dir = tempfile::tempdir().unwrap();
        let trace = dir.path().join("trace.jsonl");
        let mut command = cradle();
        command.args(["trace", "--json", "--out"]).arg(&trace).args(["--", "/bin/true"]);
        command.env_remove("CRADLE_SKIP_PROBES");
        if floor {
            command.env("CRADLE_BENCH_FLOOR", "1");
        }
        let result = output(&mut command);
        assert!(result.status.success(), "{result:?}");
        let lines = json_lines(&trace);
        let trailer = lines.iter().find_map(|line| line.get("trailer")).expect("a trailer").clone();
        (header_of(&lines)["probes"].clone(), trailer["records"].as_u64().unwrap())
    };
    let (traced_programs, traced_records) = header_and_records(false);
    let (floor_programs, floor_records) = header_and_records(true);
    assert!(traced_records > 0, "the plain trace recorded nothing");
    assert_eq!(floor_records, 0, "the floor recorded {floor_records} records");
    assert_eq!(floor_programs, traced_programs, "the floor attached other programs");
}
