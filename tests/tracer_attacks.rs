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
