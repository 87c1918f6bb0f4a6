//! The live terminal UI end to end, in a real terminal (tmux), on the real
//! kernel: a traced `runc run`, a `cradle run --tui` and a container that
//! `cradle watch --tui` finds each show their container's phases; an exec
//! storm leaves the UI responsive and its loss counter equal to the
//! trailer's.

mod common;

use std::{
    path::Path,
    time::{Duration, Instant},
};

use common::{
    PHASE_TITLES, RuncBundle, paused_pid, process_state,
    runtime::{Sandbox, processes_mentioning},
    state_once_stopped,
    tmux::{Tmux, then_report_terminal, wait_for_exit},
};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(60);

fn cradle() -> &'static str {
    env!("CARGO_BIN_EXE_cradle")
}

/// The trailer of a trace file: its last line.
fn trailer(trace: &Path) -> Value {
    let text = std::fs::read_to_string(trace).expect("the trace file");
    let last: Value = serde_json::from_str(text.lines().last().expect("a line")).unwrap();
    last["trailer"].clone()
}

/// The number after `lost ` in the status bar.
fn lost_on_screen(screen: &str) -> u64 {
    let at = screen.rfind(" lost ").unwrap_or_else(|| panic!("no loss counter:\n{screen}"));
    let digits: String = screen[at + 6..].chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().unwrap_or_else(|_| panic!("no count after `lost`:\n{screen}"))
}

/// Opens the selected container's summary and waits until it lists every
/// phase of its birth, in order (a live summary fills in as events come).
fn shows_every_phase_in_order(tmux: &Tmux) {
    tmux.keys(&["Tab", "Enter"]);
    tmux.wait_for("the summary's phases, in order", WAIT, |screen| {
        let Some(summary) = screen.find("Phases").map(|at| &screen[at..]) else {
            return false;
        };
        let mut from = 0;
        PHASE_TITLES.iter().all(|phase| match summary[from..].find(phase) {
            Some(at) => {
                from += at + phase.len();
                true
            }
            None => false,
        })
    });
}

/// Quits the UI; cradle exits with `status` and leaves the terminal as it
/// found it.
fn quit_and_expect_exit(tmux: &Tmux, status: i32) {
    tmux.keys(&["q"]);
    let screen = wait_for_exit(tmux, WAIT);
    assert!(screen.contains(&format!("cradle-exit={status} ")), "{screen}");
    assert!(screen.contains("terminal: icanon echo [end]"), "{screen}");
}

#[test]
fn a_live_runc_run_shows_the_containers_phases() {
    let bundle = RuncBundle::new(&["sh", "-c", "echo hi"]);
    let id = format!("tui-live-{}", std::process::id());
    let command = format!(
        "{} trace --tui -- runc --root {} run --bundle {} {id}",
        cradle(),
        bundle.runc_root().display(),
        bundle.path().display()
    );
    let tmux = Tmux::start("tui-live", 120, 40, &then_report_terminal(&command));

    let screen = tmux.wait_text("LIVE ended", WAIT);
    assert!(screen.contains(&format!("Timeline: {id} (runc)")), "{screen}");
    assert!(screen.contains(&format!("> {id}")), "the container is listed: {screen}");
    assert!(screen.contains("lost 0"), "{screen}");

    shows_every_phase_in_order(&tmux);

    quit_and_expect_exit(&tmux, 0);
}

#[test]
fn cradle_run_with_the_tui_shows_its_container_and_exits_with_its_status() {
    let sandbox = Sandbox::new();
    let bundle = sandbox.bundle("tui-run", &["sh", "-c", "exit 3"]);
    let id = sandbox.id("tui-run");
    let command = format!(
        "{} --root {} run --tui --bundle {} {id}",
        cradle(),
        sandbox.root.display(),
        bundle.display()
    );
    let tmux = Tmux::start("tui-run", 120, 40, &then_report_terminal(&command));

    let screen = tmux.wait_text("LIVE ended", WAIT);
    assert!(screen.contains(&format!("Timeline: {id} (cradle)")), "{screen}");
    shows_every_phase_in_order(&tmux);

    quit_and_expect_exit(&tmux, 3);
    assert!(!sandbox.root.join(&id).exists(), "run removes its container's state");
}

#[test]
fn watch_with_the_tui_finds_a_container_started_elsewhere() {
    let bundle = RuncBundle::new(&["true"]);
    let id = format!("tui-watch-{}", std::process::id());
    let command = format!("{} watch --tui --runtime runc", cradle());
    let tmux = Tmux::start("tui-watch", 120, 40, &then_report_terminal(&command));
    tmux.wait_text("LIVE live", WAIT);
    // The probes are attached once the UI is up: this run is another
    // program's, which the watch must find by its runtime's name.
    let run = std::process::Command::new("runc")
        .arg("--root")
        .arg(bundle.runc_root())
        .args(["run", "--bundle"])
        .arg(bundle.path())
        .arg(&id)
        .output()
        .expect("runc run");
    assert!(run.status.success(), "runc run: {run:?}");

    let screen = tmux.wait_text(&format!("> {id}"), WAIT);
    assert!(screen.contains("LIVE live"), "watch goes on after the container: {screen}");
    shows_every_phase_in_order(&tmux);

    quit_and_expect_exit(&tmux, 0);
}

#[test]
fn step_mode_in_the_ui_stops_runc_at_each_phase_until_n() {
    let bundle = RuncBundle::new(&["true"]);
    let id = format!("tui-step-{}", std::process::id());
    step_in_the_ui(
        "tui-step-runc",
        &format!(
            "{} trace --tui --step -- runc --root {} run --bundle {} {id}",
            cradle(),
            bundle.runc_root().display(),
            bundle.path().display()
        ),
    );
}

#[test]
fn step_mode_in_the_ui_stops_the_built_in_runtime_at_each_phase_until_n() {
    let sandbox = Sandbox::new();
    let bundle = sandbox.bundle("tui-step", &["true"]);
    let id = sandbox.id("tui-step");
    step_in_the_ui(
        "tui-step-cradle",
        &format!(
            "{} --root {} run --tui --step --bundle {} {id}",
            cradle(),
            sandbox.root.display(),
            bundle.display()
        ),
    );
}

#[test]
fn closing_the_terminal_at_a_step_pause_leaves_nothing_stopped_or_running() {
    let bundle = RuncBundle::new(&["true"]);
    let runc_id = format!("tui-hangup-runc-{}", std::process::id());
    let sandbox = Sandbox::new();
    let cradle_bundle = sandbox.bundle("tui-hangup", &["true"]);
    let cradle_id = sandbox.id("tui-hangup");
    let runs = [
        (
            "tui-hangup-runc",
            format!(
                "{} trace --tui --step -- runc --root {} run --bundle {} {runc_id}",
                cradle(),
                bundle.runc_root().display(),
                bundle.path().display()
            ),
            &runc_id,
        ),
        (
            "tui-hangup-cradle",
            format!(
                "{} --root {} run --tui --step --bundle {} {cradle_id}",
                cradle(),
                sandbox.root.display(),
                cradle_bundle.display()
            ),
            &cradle_id,
        ),
    ];
    for (name, command, id) in runs {
        let tmux = Tmux::start(name, 120, 40, &command);
        tmux.wait_text("Runtime start has begun.", WAIT);
        tmux.keys(&["n"]);
        let screen = tmux.wait_text("Namespace creation has begun.", WAIT);
        let stopped = paused_pid(&screen).unwrap_or_else(|| panic!("who stopped:\n{screen}"));
        assert_eq!(state_once_stopped(stopped, WAIT), Some('T'), "{screen}");
        // The window closes: cradle must notice, resume what it stopped,
        // end the run and exit, not spin on a dead terminal.
        drop(tmux);
        let deadline = Instant::now() + WAIT;
        loop {
            let left = processes_mentioning(id);
            let held = process_state(stopped);
            if left.is_empty() && held != Some('T') {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{name}: after the terminal closed, processes {left:?} are left, and pid \
                 {stopped} is in state {held:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Runs `command` (a `--tui --step` run) in terminal `name` and, at each
/// phase up to the workload's exec, checks the task shown is stopped, then
/// presses `n`; the run must end and exit 0.
fn step_in_the_ui(name: &str, command: &str) {
    let tmux = Tmux::start(name, 120, 40, &then_report_terminal(command));
    for phase in PHASE_TITLES.split_last().unwrap().1 {
        let screen = tmux.wait_text(&format!("{phase} has begun."), WAIT);
        assert!(screen.contains("LIVE stopped"), "{screen}");
        let pid = paused_pid(&screen).unwrap_or_else(|| panic!("who stopped:\n{screen}"));
        assert_eq!(state_once_stopped(pid, WAIT), Some('T'), "pid {pid} is stopped:\n{screen}");
        tmux.keys(&["n"]);
    }
    tmux.wait_text("LIVE ended", WAIT);
    quit_and_expect_exit(&tmux, 0);
}

#[test]
fn under_an_exec_storm_the_ui_stays_responsive_and_counts_every_loss() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("storm.jsonl");
    let report = dir.path().join("ui-report.json");
    // A ring of 4 KiB cannot hold a storm of 5000 execs: the kernel drops.
    let command = format!(
        "CRADLE_TUI_REPORT={} {} trace --tui --out {} --ring-size 4096 -- \
         sh -c 'for i in $(seq 5000); do /bin/true; done'",
        report.display(),
        cradle(),
        trace.display()
    );
    let tmux = Tmux::start("tui-storm", 120, 40, &then_report_terminal(&command));
    let during = tmux.wait_text("LIVE live", WAIT);
    let status_during = during.lines().last().unwrap_or_default().to_string();

    // Keys are answered while events pour in.
    let asked = Instant::now();
    tmux.keys(&["?"]);
    let help = tmux.wait_text(" Keys ", WAIT);
    let help_latency = asked.elapsed();
    let storm_running = help.contains("LIVE live");
    tmux.keys(&["Escape"]);

    let screen = tmux.wait_text("LIVE ended", Duration::from_secs(300));
    let shown = lost_on_screen(&screen);
    quit_and_expect_exit(&tmux, 0);

    let trailer = trailer(&trace);
    let lost = trailer["lost"].as_u64().expect("the trailer's lost count");
    assert!(lost > 0, "the storm overflowed the 4 KiB ring: {trailer}");
    assert_eq!(shown, lost, "the UI's loss counter is the trailer's:\n{screen}");
    let report: Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(report["lost"], lost, "{report}");
    assert_eq!(report["trailer_seen"], true, "{report}");
    assert_eq!(report["events"], trailer["events"], "the UI got every event the file has");
    assert!(report["frame"]["frames"].as_u64().unwrap() > 0, "{report}");

    println!(
        "exec storm: {} events, {lost} lost (on screen: {shown}); status during the storm: {}",
        trailer["events"],
        status_during.trim()
    );
    println!(
        "frames: {} rendered, mean {:.2} ms, p50 {:.2} ms, p95 {:.2} ms, max {:.2} ms; \
         help overlay shown {help_latency:?} after `?` ({})",
        report["frame"]["frames"],
        report["frame"]["mean_ms"].as_f64().unwrap(),
        report["frame"]["p50_ms"].as_f64().unwrap(),
        report["frame"]["p95_ms"].as_f64().unwrap(),
        report["frame"]["max_ms"].as_f64().unwrap(),
        if storm_running { "while the storm ran" } else { "after the storm ended" }
    );
}
