//! `cradle watch` left running as a service (issue 17): its output rotates
//! into files that are each a whole trace, it forgets containers that are
//! over once its window has passed (writing their records then), and it
//! stops cleanly on SIGTERM. Real kernel, real eBPF, real runc: needs root.

mod common;

use std::{path::PathBuf, process::Command, time::Duration};

use common::{RuncBundle, cradle, json_lines, output, runtime::Sandbox, watch::Watch};
use serde_json::{Value, json};

fn run(bundle: &RuncBundle, id: &str) {
    let result = output(
        Command::new("runc")
            .arg("--root")
            .arg(bundle.runc_root())
            .args(["run", "--bundle"])
            .arg(bundle.path())
            .arg(id),
    );
    assert!(result.status.success(), "{id}: {result:?}");
}

/// The files of a rotated watch, in order.
fn files(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(dir).unwrap().map(|entry| entry.unwrap().path()).collect();
    files.sort();
    files
}

/// A watch of six `runc run`s, three, a pause past the window, three more.
fn watch_six_containers(rotate: &str, window: &str) -> (Sandbox, Vec<String>, PathBuf) {
    let sandbox = Sandbox::new();
    let bundle = RuncBundle::new(&["true"]);
    let out = sandbox.dir.path().join("rotated");
    let watch = Watch::start_rotating(sandbox.dir.path(), &out, rotate, &["--window", window]);
    let ids: Vec<String> = (0..6).map(|n| sandbox.id(&format!("rot{n}"))).collect();
    for (n, id) in ids.iter().enumerate() {
        run(&bundle, id);
        if n == 2 {
            std::thread::sleep(Duration::from_secs(3));
        }
    }
    watch.terminate();
    (sandbox, ids, out)
}

#[test]
fn rotated_files_are_each_a_whole_trace() {
    let (_sandbox, ids, out) = watch_six_containers("32K", "300");
    let files = files(&out);
    assert!(files.len() >= 2, "32K never filled: {files:?}");
    let mut records: Vec<Value> = Vec::new();
    for (n, file) in files.iter().enumerate() {
        // Each file alone: schema-valid lines, a header with its part
        // number, a trailer last, and readable by show and report.
        let lines = json_lines(file);
        let header = &lines[0]["header"];
        assert_eq!(header["part"], n + 1, "{}", file.display());
        let trailer = &lines.last().unwrap()["trailer"];
        let end = if n + 1 == files.len() { "interrupted" } else { "rotated" };
        assert_eq!(trailer["end"], end, "{}", file.display());
        let events = lines.iter().filter(|l| l.get("kind").is_some()).count();
        assert_eq!(trailer["events"], events, "{}", file.display());
        for command in ["show", "report"] {
            let read = output(cradle().arg(command).arg(file));
            assert!(read.status.success(), "{command} {}: {read:?}", file.display());
            assert!(read.stderr.is_empty(), "{command} {}: {read:?}", file.display());
        }
        // A container born in this file has its record in it.
        for id in &ids {
            let born_here = lines.iter().any(|l| {
                l["kind"] == "exec"
                    && l["container"] == id.as_str()
                    && l["runtime_call"].is_null()
                    && l["role"] == "runtime"
            });
            let recorded = lines.iter().any(|l| l["container"]["id"] == id.as_str());
            assert!(!born_here || recorded, "{id} born in {} without its record", file.display());
        }
        records.extend(lines);
    }
    for id in &ids {
        assert!(records.iter().any(|r| r["container"]["id"] == id.as_str()), "{id}: no record");
    }
}

/// The window: a container over for longer than `--window` is forgotten,
/// its record written then, not at the end of the watch.
#[test]
fn a_container_over_for_longer_than_the_window_is_written_and_forgotten() {
    let (_sandbox, ids, out) = watch_six_containers("1G", "1");
    let files = files(&out);
    assert_eq!(files.len(), 1, "{files:?}");
    let records = json_lines(&files[0]);
    let position = |what: &dyn Fn(&Value) -> bool| records.iter().position(what);
    let first_record = position(&|r| r["container"]["id"] == ids[0].as_str()).unwrap();
    let fourth_start = position(&|r| r["kind"] == "exec" && r["container"] == ids[3].as_str())
        .expect("the fourth container's exec");
    assert!(first_record < fourth_start, "the first container was never forgotten");
    for id in &ids {
        let count = records.iter().filter(|r| r["container"]["id"] == id.as_str()).count();
        assert_eq!(count, 1, "{id} recorded {count} times");
    }
}

#[test]
fn rotate_needs_an_output_directory_and_a_size() {
    for args in [&["watch", "--rotate", "1M"][..], &["watch", "--out", "/tmp/x", "--rotate", "0"]] {
        let result = output(cradle().args(args));
        assert!(!result.status.success(), "{args:?}");
        let stderr = String::from_utf8_lossy(&result.stderr);
        assert!(stderr.contains("--rotate") || stderr.contains("--out"), "{stderr}");
    }
}

/// Issue 17: on a busy host, granted capability checks of runtime runs that
/// are no container's (`runc list`, `state` of an unknown id) made most of
/// the trace. By default `watch` counts them instead and says so in the
/// header; denied checks and every check of a container are recorded;
/// `--all-capability-checks` records them all.
#[test]
fn watch_leaves_out_granted_checks_outside_containers_unless_asked() {
    for all in [false, true] {
        let sandbox = Sandbox::new();
        let bundle = RuncBundle::new(&["true"]);
        let out = sandbox.dir.path().join("caps");
        let extra: &[&str] = if all { &["--all-capability-checks"] } else { &[] };
        let watch = Watch::start_rotating(sandbox.dir.path(), &out, "1G", extra);
        for _ in 0..3 {
            let list =
                output(Command::new("runc").arg("--root").arg(bundle.runc_root()).arg("list"));
            assert!(list.status.success(), "{list:?}");
        }
        let id = sandbox.id("caps");
        run(&bundle, &id);
        watch.terminate();
        let lines = json_lines(&files(&out)[0]);
        let header = &lines[0]["header"];
        let trailer = &lines.last().unwrap()["trailer"];
        let checks: Vec<&Value> = lines.iter().filter(|l| l["kind"] == "cap_capable").collect();
        let host_granted =
            checks.iter().filter(|c| c["container"].is_null() && c["ret"] == 0).count();
        let in_container = checks.iter().filter(|c| c["container"] == id.as_str()).count();
        assert!(in_container > 0, "the container's checks are recorded (all: {all})");
        if all {
            assert!(host_granted > 0, "runc list's checks with --all-capability-checks");
            assert!(header.get("not_recorded").is_none(), "{header}");
            assert!(trailer.get("not_recorded").is_none(), "{trailer}");
        } else {
            assert_eq!(host_granted, 0, "granted checks outside containers are not recorded");
            assert_eq!(header["not_recorded"][0]["kind"], "cap_capable", "{header}");
            assert_eq!(header["not_recorded"][0]["flag"], "--all-capability-checks");
            assert!(trailer["not_recorded"].as_u64().unwrap() > 0, "and counted: {trailer}");
        }
    }
}

/// A container alive across a rotation: the next file begins with its
/// record and live processes, so that file alone, shown or reported,
/// still attributes its later events to it: a `runc exec` on it and its
/// init's exit (before, they read as the host's).
#[test]
fn a_container_alive_across_a_rotation_is_still_itself_in_the_next_file() {
    let sandbox = Sandbox::new();
    let long = RuncBundle::new(&["sh", "-c", "read line; exit 3"]);
    let short = RuncBundle::new(&["true"]);
    let out = sandbox.dir.path().join("carried");
    let watch = Watch::start_rotating(sandbox.dir.path(), &out, "32K", &["--window", "300"]);
    let id = sandbox.id("carried");
    let runc = |bundle: &RuncBundle| {
        let mut command = Command::new("runc");
        command.arg("--root").arg(bundle.runc_root());
        command
    };
    let mut long_run = runc(&long)
        .args(["run", "--bundle"])
        .arg(long.path())
        .arg(&id)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Other containers, runc's and cradle's, fill the first file past its
    // size; cradle's are born across rotations.
    let cradle_bundle = sandbox.bundle("filler", &["true"]);
    let mut n = 0;
    while files(&out).len() < 4 {
        run(&short, &sandbox.id(&format!("filler{n}")));
        let filler = sandbox.id(&format!("cradle-filler{n}"));
        let ran = sandbox.output(&["run", "--bundle", cradle_bundle.to_str().unwrap(), &filler]);
        assert!(ran.status.success(), "{ran:?}");
        n += 1;
        assert!(n < 50, "32K never filled");
    }
    let exec = output(runc(&long).args(["exec", &id, "echo", "inside"]));
    assert!(exec.status.success(), "{exec:?}");
    drop(long_run.stdin.take());
    let status = long_run.wait().unwrap();
    assert_eq!(status.code(), Some(3), "the long container's exit");
    watch.terminate();

    let files = files(&out);
    // No file alone judges a container it does not hold the birth of (the
    // runtime's exec, the report's evidence for it).
    for file in &files {
        let report = output(cradle().arg("report").arg(file));
        assert!(report.status.success(), "{}: {report:?}", file.display());
        let report: Value = serde_json::from_slice(&report.stdout).unwrap();
        for container in report["containers"].as_array().unwrap() {
            if container["runtime"]["evidence"].is_null() {
                assert_eq!(container["findings"], json!([]), "{}: {container}", file.display());
            }
        }
    }
    // Each of the later events is in some file but the first (where the
    // container was born), and that file alone tells it as the
    // container's: its head carries the container and its processes.
    let shown: Vec<String> = files[1..]
        .iter()
        .map(|file| {
            let shown = output(cradle().arg("show").arg(file));
            assert!(shown.status.success(), "{shown:?}");
            String::from_utf8_lossy(&shown.stdout).into_owned()
        })
        .collect();
    let line_of = |what: &dyn Fn(&str) -> bool| {
        shown.iter().enumerate().find_map(|(at, text)| {
            text.lines().find(|l| what(l)).map(|line| (at + 1, line.to_owned()))
        })
    };
    let (at, echo) = line_of(&|l| l.contains("execve(") && l.contains("[\"echo\", \"inside\"]"))
        .expect("runc exec's program after the first rotation");
    assert!(echo.contains(&id) && echo.contains("exec workload"), "{echo}");
    let head: Vec<Value> = json_lines(&files[at])
        .into_iter()
        .skip(1)
        .take_while(|l| l.get("kind").is_none())
        .map(|l| l["container"].clone())
        .collect();
    let carried = head
        .iter()
        .find(|c| c["id"] == id.as_str())
        .unwrap_or_else(|| panic!("the head of {} carries {id}: {head:?}", files[at].display()));
    assert!(!carried["processes"].as_array().unwrap().is_empty(), "{carried}");
    let (at, _) = line_of(&|l| l.contains(&id) && l.contains("exit: exited 3"))
        .expect("the init's exit, the container's, after the first rotation");
    let container = common::reported_container(&files[at], &id);
    assert_eq!(container["runtime"]["exit"], "exited 3", "{container}");
}
