//! `cradle watch` left running as a service (issue 17): its output rotates
//! into files that are each a whole trace, it forgets containers that are
//! over once its window has passed (writing their records then), and it
//! stops cleanly on SIGTERM. Real kernel, real eBPF, real runc: needs root.

mod common;

use std::{path::PathBuf, process::Command, time::Duration};

use common::{RuncBundle, cradle, json_lines, output, runtime::Sandbox, watch::Watch};
use serde_json::Value;

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
