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
    let pid = child.id() as libc::pid_t;
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
