//! The live terminal UI end to end, in a real terminal (tmux), on the real
//! kernel: a traced `runc run` shows its container's phases; an exec storm
//! leaves the UI responsive and its loss counter equal to the trailer's.

mod common;

use std::{
    path::Path,
    time::{Duration, Instant},
};

use common::{
    RuncBundle,
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

    // The container's summary: every phase of its birth, in order.
    tmux.keys(&["Tab", "Enter"]);
    let screen = tmux.wait_text("Phases", WAIT);
    let phases = [
        "Runtime start",
        "Namespace creation",
        "Root filesystem assembly",
        "Root switch",
        "Privilege reduction",
        "Workload exec",
        "Exit",
    ];
    let mut from = 0;
    for phase in phases {
        let at = screen[from..]
            .find(phase)
            .unwrap_or_else(|| panic!("phase {phase:?} after the ones before it:\n{screen}"));
        from += at + phase.len();
    }

    tmux.keys(&["q"]);
    let screen = wait_for_exit(&tmux, WAIT);
    assert!(screen.contains("cradle-exit=0"), "runc's status: {screen}");
    assert!(screen.contains("terminal: icanon echo [end]"), "{screen}");
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
    tmux.keys(&["q"]);
    let exit = wait_for_exit(&tmux, WAIT);
    assert!(exit.contains("cradle-exit=0"), "{exit}");

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
