//! The terminal is given back however the UI ends: on a panic, and when
//! the session feeding a live UI fails. Each case runs as an ignored test
//! of this same binary, in a tmux pane, and the pane's line discipline is
//! read afterwards (`stty`).

mod common;

use std::{path::Path, time::Duration};

use common::tmux::{Tmux, then_report_terminal, wait_for_exit};
use cradle_events::trace_file::Trace;
use cradle_tui::{Live, terminal::Screen};

const WAIT: Duration = Duration::from_secs(30);

/// Runs one of the ignored tests below in a terminal; returns the screen
/// after it ended.
fn in_terminal(test: &str) -> String {
    let exe = std::env::current_exe().expect("this test binary");
    let command =
        format!("{} --ignored --exact {test} --nocapture --test-threads=1", exe.display());
    let tmux = Tmux::start(test, 100, 30, &then_report_terminal(&command));
    wait_for_exit(&tmux, WAIT)
}

#[test]
#[ignore = "run in a terminal by a_panic_in_the_ui_gives_the_terminal_back"]
fn ui_that_panics() {
    let _screen = Screen::enter().expect("a terminal");
    panic!("a deliberate panic while the UI holds the terminal");
}

#[test]
#[ignore = "run in a terminal by a_failing_session_closes_its_live_ui_and_gives_the_terminal_back"]
fn live_ui_of_a_failing_session() -> Result<(), String> {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tui/tests/fixtures/runc-run.jsonl");
    let trace = Trace::read(&fixture).map_err(|err| err.to_string())?;
    let mut live = Live::new(&trace.header);
    live.start().map_err(|err| err.to_string())?;
    trace.events.iter().for_each(|event| live.event(event));
    std::thread::sleep(Duration::from_millis(300));
    assert!(!live.is_closed(), "the UI runs until the session ends");
    // The session fails: its outputs, the UI among them, are dropped
    // without a trailer.
    drop(live);
    Err("a deliberate session failure".into())
}

#[test]
fn a_panic_in_the_ui_gives_the_terminal_back() {
    let screen = in_terminal("ui_that_panics");
    assert!(screen.contains("a deliberate panic while the UI holds the terminal"), "{screen}");
    assert!(screen.contains("cradle-exit=101"), "{screen}");
    assert!(screen.contains("terminal: icanon echo [end]"), "{screen}");
}

#[test]
fn a_failing_session_closes_its_live_ui_and_gives_the_terminal_back() {
    let screen = in_terminal("live_ui_of_a_failing_session");
    assert!(screen.contains("a deliberate session failure"), "{screen}");
    assert!(screen.contains("cradle-exit=101"), "{screen}");
    assert!(screen.contains("terminal: icanon echo [end]"), "{screen}");
    assert!(!screen.contains("Timeline"), "the alternate screen is gone: {screen}");
}
