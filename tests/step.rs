//! Step mode on real runtimes: the kernel stops the runtime after the call
//! that opens each phase, cradle says so and waits for Enter. The test is
//! the user: it checks at each pause that the process really is stopped,
//! presses Enter, and expects every phase in order and a clean finish.

mod common;

use std::{
    io::{BufRead, BufReader, Write},
    process::{Command, Stdio},
    time::Duration,
};

use common::{PHASE_TITLES, RuncBundle, cradle, paused_pid, runtime::Sandbox, state_once_stopped};

/// Drives a `--step` run: answers each pause, returns the phases paused
/// at, in order, and the exit status.
fn step_through(mut command: Command) -> (Vec<String>, std::process::ExitStatus) {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cradle --step");
    let mut stdin = child.stdin.take().unwrap();
    // A run that hangs fails the test rather than blocking it.
    let pid = i32::try_from(child.id()).unwrap();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(90));
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::SIGKILL);
    });
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let mut phases = Vec::new();
    let mut transcript = String::new();
    for line in stderr.lines() {
        let line = line.unwrap();
        transcript.push_str(&line);
        transcript.push('\n');
        if line.starts_with(">> paused: ") {
            let pid = paused_pid(&line).expect("a pid in the pause");
            assert_eq!(
                state_once_stopped(pid, Duration::from_secs(10)),
                Some('T'),
                "pid {pid} is not stopped at: {line}\n{transcript}"
            );
        }
        if let Some(begun) = line.trim().strip_suffix(" has begun.") {
            phases.push(begun.rsplit_once(": ").unwrap().1.to_string());
            stdin.write_all(b"\n").unwrap();
        }
    }
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}\n{transcript}");
    (phases, status)
}

/// Every phase up to the workload's exec: the pauses stop there.
const PHASES_PAUSED_AT: &[&str] = PHASE_TITLES.split_last().unwrap().1;

#[test]
fn step_mode_pauses_the_built_in_runtime_at_each_phase() {
    let sandbox = Sandbox::new();
    let bundle = sandbox.bundle("stepped", &["true"]);
    let id = sandbox.id("stepped");
    let mut command = sandbox.cradle(&["run", "--step", "--bundle", bundle.to_str().unwrap()]);
    command.arg(&id);
    let (phases, _) = step_through(command);
    assert_eq!(phases, PHASES_PAUSED_AT);
}

/// Without the capability probe (kernels without its tracepoint), the
/// workload's first traced call is a prctl the kernel stops at: the
/// pauses still end at the workload's exec.
#[test]
fn step_mode_does_not_pause_in_the_workload_without_the_capability_probe() {
    let sandbox = Sandbox::new();
    let bundle = sandbox.bundle("stepped-nocap", &["true"]);
    let id = sandbox.id("stepped-nocap");
    let mut command = sandbox.cradle(&["run", "--step", "--bundle", bundle.to_str().unwrap()]);
    command.arg(&id).env("CRADLE_SKIP_PROBES", "capability");
    let (phases, _) = step_through(command);
    assert_eq!(phases, PHASES_PAUSED_AT);
}

#[test]
fn step_mode_pauses_runc_at_each_phase() {
    let bundle = RuncBundle::new(&["true"]);
    let mut command = cradle();
    command.args(["trace", "--step", "--", "runc", "--root"]).arg(bundle.runc_root());
    command.args(["run", "--bundle"]).arg(bundle.path());
    command.arg(format!("stepped-runc-{}", std::process::id()));
    let (phases, _) = step_through(command);
    assert_eq!(phases, PHASES_PAUSED_AT);
}

#[test]
fn an_interrupt_at_a_pause_resumes_the_runtime_and_runs_to_the_end() {
    let bundle = RuncBundle::new(&["true"]);
    let mut child = cradle()
        .args(["trace", "--step", "--", "runc", "--root"])
        .arg(bundle.runc_root())
        .args(["run", "--bundle"])
        .arg(bundle.path())
        .arg(format!("interrupted-runc-{}", std::process::id()))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cradle --step");
    let cradle_pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
    // A pause that ignores the interrupt waits for ever: fail instead.
    std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_secs(60));
        let _ = nix::sys::signal::kill(cradle_pid, nix::sys::signal::Signal::SIGKILL);
    });
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let mut transcript = String::new();
    let mut stopped = None;
    for line in stderr.lines() {
        let line = line.unwrap();
        transcript.push_str(&line);
        transcript.push('\n');
        if stopped.is_none() && line.starts_with(">> paused: ") {
            let pid = paused_pid(&line).expect("a pid in the pause");
            assert_eq!(state_once_stopped(pid, Duration::from_secs(10)), Some('T'), "{transcript}");
            stopped = Some(pid);
            // Ctrl-C, as cradle alone gets it (its command would get its
            // own from the terminal): the pause gives up, Enter unpressed.
            nix::sys::signal::kill(cradle_pid, nix::sys::signal::Signal::SIGINT).unwrap();
        }
    }
    let status = child.wait().unwrap();
    assert!(stopped.is_some(), "a pause: {transcript}");
    assert!(
        transcript.contains("(interrupted: running to the end without pausing)"),
        "{transcript}"
    );
    assert_eq!(transcript.matches(">> paused: ").count(), 1, "no pause after: {transcript}");
    assert!(status.success(), "runc ran to its end: {status:?}\n{transcript}");
    drop(child.stdin.take());
}
