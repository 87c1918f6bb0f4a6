//! `cradle tui TRACE` end to end, in a real terminal (tmux): filter,
//! select, open the detail, quit, and the terminal is given back.

mod common;

use std::{path::Path, time::Duration};

use common::tmux::{Tmux, then_report_terminal, wait_for_exit};

const WAIT: Duration = Duration::from_secs(20);

#[test]
fn replays_a_trace_filters_selects_opens_the_detail_and_quits() {
    let trace = Path::new(env!("CARGO_MANIFEST_DIR")).join("tui/tests/fixtures/runc-run.jsonl");
    let command = format!("{} tui {}", env!("CARGO_BIN_EXE_cradle"), trace.display());
    let tmux = Tmux::start("tui-replay", 120, 40, &then_report_terminal(&command));

    let screen = tmux.wait_text("REPLAY", WAIT);
    assert!(screen.contains("Timeline: demo (runc)"), "{screen}");
    assert!(screen.contains("> demo"), "the container is listed and selected: {screen}");

    // Filter: the text "pivot" leaves the one pivot_root.
    tmux.keys(&["/", "pivot", "Enter"]);
    let screen = tmux.wait_text("filter: \"pivot\"", WAIT);
    assert!(screen.contains("Events 1/"), "{screen}");
    assert!(screen.contains("pivot_root(\".\", \".\") = 0"), "{screen}");

    // Select: the host in the container list, then back to the container.
    tmux.keys(&["Tab", "Down"]);
    tmux.wait_text("Timeline: host", WAIT);
    tmux.keys(&["Up", "Tab"]);
    tmux.wait_text("Timeline: demo (runc)", WAIT);

    // Open the detail of the selected event.
    tmux.keys(&["Enter"]);
    tmux.wait_text("pivot_root  (root_switch)", WAIT);
    // The panel's last line: a capture taken mid-draw can lack it.
    let screen = tmux.wait_text("Why:", WAIT);
    assert!(screen.contains("pivot_root  (root_switch)"), "{screen}");
    assert!(screen.contains("new_root: ."), "the event's fields: {screen}");
    assert!(screen.contains("phase Root switch"), "{screen}");

    // Quit: the terminal leaves raw mode and the alternate screen.
    tmux.keys(&["q"]);
    let screen = wait_for_exit(&tmux, WAIT);
    assert!(screen.contains("cradle-exit=0"), "{screen}");
    assert!(screen.contains("terminal: icanon echo [end]"), "cooked mode is back: {screen}");
    assert!(!screen.contains("Timeline"), "the alternate screen is gone: {screen}");
}

#[test]
fn a_file_that_is_not_a_trace_is_refused_before_the_terminal_is_taken() {
    let dir = tempfile::tempdir().unwrap();
    let bogus = dir.path().join("bogus.jsonl");
    std::fs::write(&bogus, "{\"not\": \"a trace\"}\n").unwrap();
    let command = format!("{} tui {}", env!("CARGO_BIN_EXE_cradle"), bogus.display());
    let tmux = Tmux::start("tui-bogus", 100, 20, &then_report_terminal(&command));
    let screen = wait_for_exit(&tmux, WAIT);
    assert!(screen.contains("cradle-exit=1"), "{screen}");
    assert!(screen.contains("not a cradle trace"), "{screen}");
    assert!(screen.contains("terminal: icanon echo [end]"), "{screen}");
}
