//! Each widget rendered with ratatui's TestBackend from fixed traces
//! (tests/fixtures, real recordings), and what the keys do to it.

use std::path::Path;

use cradle_events::{
    Detail,
    collector::{IdMappings, IdRange, Phase},
    explain,
    kinds::Category,
    trace_file::{Trace, TraceEnd, Trailer},
};
use cradle_tui::{
    App, Feed, KernelStop,
    app::Focus,
    view::{
        self, ContainerList, DetailPane, EventList, HelpOverlay, KEYS, StatusBar, Timeline, Window,
    },
};
use ratatui::{
    Terminal,
    backend::TestBackend,
    buffer::Buffer,
    crossterm::event::{KeyCode, KeyEvent, KeyModifiers},
    layout::Rect,
    style::{Color, Modifier},
    widgets::Widget,
};

fn fixture(name: &str) -> Trace {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name);
    Trace::read(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

fn runc() -> App {
    App::replay(fixture("runc-run.jsonl"))
}

fn press(app: &mut App, keys: &str) {
    for c in keys.chars() {
        app.key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
    }
}

fn press_code(app: &mut App, code: KeyCode) {
    app.key(KeyEvent::new(code, KeyModifiers::NONE));
}

fn render(widget: impl Widget, width: u16, height: u16) -> Buffer {
    let mut buffer = Buffer::empty(Rect::new(0, 0, width, height));
    widget.render(buffer.area, &mut buffer);
    buffer
}

fn lines(buffer: &Buffer) -> Vec<String> {
    (0..buffer.area.height)
        .map(|y| (0..buffer.area.width).map(|x| buffer[(x, y)].symbol()).collect::<String>())
        .collect()
}

fn screen(app: &App, width: u16, height: u16) -> Vec<String> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|frame| view::draw(frame, app)).unwrap();
    lines(terminal.backend().buffer())
}

fn text(lines: &[String]) -> String {
    lines.join("\n")
}

#[test]
fn container_list_shows_each_container_with_its_phase_then_the_host() {
    let app = runc();
    let rows = lines(&render(ContainerList(&app), 30, 6));
    assert!(rows[1].starts_with("│> demo"), "{rows:#?}");
    assert!(rows[1].contains("exit"), "the container's last phase: {rows:#?}");
    let host = app.model.indices(cradle_tui::model::Subject::Host).len();
    assert!(rows[2].contains("(host)") && rows[2].contains(&format!("{host} ev")), "{rows:#?}");
    assert!(rows[1].contains("Containers") || rows[0].contains("Containers"));
}

#[test]
fn timeline_places_each_event_in_its_process_lane_coloured_by_category() {
    let mut app = runc();
    // Root switch only (key 5): the one pivot_root, by the container's init.
    press(&mut app, "5");
    assert_eq!(app.filter.categories.iter().copied().collect::<Vec<_>>(), [Category::RootSwitch]);
    let buffer = render(Timeline(&app), 90, 8);
    let rows = lines(&buffer);
    for (row, lane) in
        ["runtime", "intermediate", "init", "workload", "phases", "time"].iter().enumerate()
    {
        assert!(rows[row + 1][3..].starts_with(lane), "lane {lane} on row {}: {rows:#?}", row + 1);
    }
    let pivot = app.selected_event().expect("the pivot_root is selected");
    assert!(matches!(pivot.detail, Detail::PivotRoot { .. }));
    let window = Window::of(&app, 90 - 2 - view::LABEL_WIDTH);
    let column = window.column(pivot.ts_ns).expect("the pivot_root is in the window");
    let cell = &buffer[(1 + view::LABEL_WIDTH + column, 3)];
    assert_eq!(cell.symbol(), "•", "{rows:#?}");
    assert_eq!(cell.fg, view::category_colour(Category::RootSwitch));
    assert!(cell.modifier.contains(Modifier::REVERSED), "the selected event stands out");
    let marks: usize = [1, 2, 4].iter().map(|&row| rows[row].matches(['•', '◆']).count()).sum();
    assert_eq!(marks, 0, "no other lane has an event: {rows:#?}");
    assert!(rows[5].contains("|start"), "the phase marks: {rows:#?}");
    assert!(rows[6].contains("+0µs"), "the time axis: {rows:#?}");
}

#[test]
fn timeline_zoom_narrows_the_window_around_the_selected_event() {
    let mut app = runc();
    let fit = Window::of(&app, 80);
    press(&mut app, "++");
    let zoomed = Window::of(&app, 80);
    assert!(zoomed.ns_per_column * 3 < fit.ns_per_column, "{fit:?} {zoomed:?}");
    let selected = app.selected_event().unwrap().ts_ns;
    assert!(zoomed.column(selected).is_some(), "the selected event stays in view");
    let rows = lines(&render(Timeline(&app), 90, 8));
    assert!(rows[0].contains("zoom ×4"), "{rows:#?}");
    press(&mut app, "=");
    assert_eq!(Window::of(&app, 80), fit);
}

#[test]
fn event_list_filters_by_text_category_and_process() {
    let mut app = runc();
    let all = app.visible().len();
    let rows = lines(&render(EventList(&app), 100, 12));
    assert!(rows[0].contains(&format!("Events {all}/")), "{rows:#?}");

    press(&mut app, "/");
    press(&mut app, "pivot");
    press_code(&mut app, KeyCode::Enter);
    let rows = lines(&render(EventList(&app), 100, 12));
    assert!(rows[0].contains("Events 1/") && rows[0].contains("filter: \"pivot\""), "{rows:#?}");
    assert!(rows[1].contains("init") && rows[1].contains("pivot_root(\".\", \".\") = 0"));
    press(&mut app, "/");
    press_code(&mut app, KeyCode::Esc);
    assert_eq!(app.visible().len(), all, "Esc clears the text filter");

    // Mounts (4) by the runtime's children (p twice: runtime, child).
    press(&mut app, "4pp");
    let rows = lines(&render(EventList(&app), 120, 60));
    let shown: Vec<&String> = rows[1..].iter().filter(|row| row.contains("ms ")).collect();
    assert!(!shown.is_empty(), "{rows:#?}");
    for row in &shown {
        assert!(row.contains(" intermediate ") && row.contains("mount"), "{row}");
    }
    assert!(rows[0].contains("mounts") && rows[0].contains("role intermediate"), "{rows:#?}");

    press_code(&mut app, KeyCode::Backspace); // every category
    press(&mut app, "0"); // the tenth: files
    assert_eq!(app.filter.categories.iter().copied().collect::<Vec<_>>(), [Category::Files]);
    press(&mut app, "0");
    press(&mut app, "ppp"); // role init, workload, then any
    assert_eq!(app.visible().len(), all);
    // The fixtures keep only denied checks: grant one to see `c` work.
    let mut granted = app
        .model
        .events()
        .iter()
        .find(|event| matches!(event.detail, Detail::CapCapable { .. }))
        .expect("a capability check")
        .clone();
    granted.detail = match granted.detail {
        Detail::CapCapable { cap, cap_name, .. } => Detail::CapCapable { cap, cap_name, ret: 0 },
        other => other,
    };
    assert!(app.filter.matches(&app.model.events()[app.visible()[0]]));
    assert!(!app.filter.matches(&granted), "granted checks are hidden");
    press(&mut app, "c");
    assert!(app.filter.matches(&granted), "and shown on `c`");
}

#[test]
fn event_list_colours_failed_calls_red_and_scrolls_to_the_cursor() {
    let mut app = runc();
    // The host: the search for runc along PATH, which fails with ENOENT.
    press_code(&mut app, KeyCode::Tab);
    press_code(&mut app, KeyCode::Down);
    assert_eq!(app.subject, cradle_tui::model::Subject::Host);
    let buffer = render(EventList(&app), 120, 6);
    let rows = lines(&buffer);
    let failed = rows
        .iter()
        .position(|row| row.contains("execve(\"/usr/local/sbin/runc\""))
        .unwrap_or_else(|| panic!("a failed exec: {rows:#?}"));
    let at = rows[failed].find("cradle[").unwrap();
    let x = u16::try_from(rows[failed][..at].chars().count()).unwrap();
    assert_eq!(buffer[(x, u16::try_from(failed).unwrap())].fg, Color::Red, "{rows:#?}");

    press_code(&mut app, KeyCode::Up);
    press_code(&mut app, KeyCode::Tab);
    press_code(&mut app, KeyCode::Home);
    assert_eq!(app.cursor, Some(0));
    assert!(!app.follow, "moving stops following");
    let rows = lines(&render(EventList(&app), 120, 6));
    assert!(rows[1].contains("+    0.000ms runtime      runc["), "{rows:#?}");
    press_code(&mut app, KeyCode::End);
    let last = app.visible().len() - 1;
    assert_eq!(app.cursor, Some(last));
    let rows = lines(&render(EventList(&app), 120, 6));
    let selected = app.selected_event().unwrap().describe();
    assert!(rows[4].contains(&selected), "the cursor's row is on screen: {rows:#?}");
}

#[test]
fn detail_pane_decodes_the_event_its_fields_and_explanation() {
    let mut app = runc();
    press(&mut app, "/pivot");
    press_code(&mut app, KeyCode::Enter);
    press_code(&mut app, KeyCode::Enter);
    assert!(app.detail);
    let rows = lines(&render(DetailPane(&app), 60, 30));
    let all = text(&rows);
    assert!(all.contains("pivot_root  (root_switch)"), "{all}");
    assert!(all.contains("new_root: ."), "{all}");
    assert!(all.contains("container demo  role init  phase Root switch"), "{all}");
    let entry = explain::event_kind("pivot_root").unwrap();
    assert!(all.contains(entry.title), "{all}");
    let first_words: String = entry.what.split_whitespace().take(3).collect::<Vec<_>>().join(" ");
    assert!(all.contains(&first_words), "the explanation: {all}");
}

#[test]
fn detail_pane_summarises_the_container_with_its_phases() {
    let mut app = runc();
    press_code(&mut app, KeyCode::Tab);
    assert_eq!(app.focus, Focus::Containers);
    press_code(&mut app, KeyCode::Enter);
    let all = text(&lines(&render(DetailPane(&app), 70, 30)));
    assert!(all.contains("demo (runc)"), "{all}");
    for phase in Phase::ALL {
        assert!(all.contains(phase.title()), "phase {phase:?} listed: {all}");
    }
    assert!(all.contains("exited 0"), "{all}");
}

/// A replayed container's id mapping, from its record, is in its panel.
#[test]
fn detail_pane_shows_a_containers_id_mapping() {
    let mut trace = fixture("runc-run.jsonl");
    let range = IdRange { inside: 0, outside: 100_000, count: 65_536 };
    trace.containers[0].id_mappings = Some(IdMappings {
        user_ns: 4_026_532_800,
        read_from_pid: 9,
        uids: vec![range],
        gids: vec![],
    });
    let mut app = App::replay(trace);
    press_code(&mut app, KeyCode::Tab);
    press_code(&mut app, KeyCode::Enter);
    let all = text(&lines(&render(DetailPane(&app), 70, 60)));
    assert!(all.contains("user:[4026532800]"), "{all}");
    assert!(all.contains("uid 0 inside = uid 100000 on the host, 65536 ids"), "{all}");
}

#[test]
fn status_bar_shows_counts_losses_and_probes() {
    let trace = fixture("exec-storm.jsonl");
    let lost = trace.trailer.as_ref().unwrap().lost;
    assert!(lost > 0, "the fixture lost events");
    let mechanisms: std::collections::BTreeSet<String> = trace
        .header
        .probes
        .iter()
        .map(|probe| probe.attach.split(':').next().unwrap().to_string())
        .collect();
    let app = App::replay(trace);
    let buffer = render(StatusBar(&app), 200, 1);
    let row = &lines(&buffer)[0];
    assert!(row.contains("REPLAY"), "{row}");
    assert!(row.contains(&format!("{} ev", app.model.events().len())), "{row}");
    let at = row.find(&format!("lost {lost}")).expect(row);
    let x = u16::try_from(row[..at].chars().count()).unwrap();
    assert_eq!(buffer[(x, 0)].fg, Color::LightRed, "losses stand out");
    for mechanism in mechanisms {
        assert!(row.contains(&mechanism), "probe mechanism {mechanism}: {row}");
    }
}

#[test]
fn help_overlay_lists_every_key_at_80x24() {
    let mut app = runc();
    press(&mut app, "?");
    let all = text(&screen(&app, 80, 24));
    for (keys, what) in KEYS {
        assert!(all.contains(what), "{keys}: {what} on screen:\n{all}");
    }
    let rows = lines(&render(HelpOverlay, 80, 24));
    assert!(rows.iter().any(|row| row.contains("3 namespaces")), "{rows:#?}");
    press_code(&mut app, KeyCode::Esc);
    assert!(app.overlay.is_none());
}

#[test]
fn the_layout_fits_small_and_large_terminals_and_follows_a_resize() {
    let mut app = runc();
    press_code(&mut app, KeyCode::Enter);
    let small = screen(&app, 80, 24);
    assert_eq!(small.len(), 24);
    assert!(small[0].contains("Containers") && small[0].contains("Timeline"));
    assert!(small[8].contains("Detail"), "at 80 columns the detail replaces the list: {small:#?}");
    assert!(small[23].contains("REPLAY") && small[23].contains("lost 0"), "{small:#?}");

    let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
    terminal.draw(|frame| view::draw(frame, &app)).unwrap();
    terminal.backend_mut().resize(200, 60);
    terminal.draw(|frame| view::draw(frame, &app)).unwrap();
    let large = lines(terminal.backend().buffer());
    assert_eq!((large.len(), large[0].chars().count()), (60, 200));
    assert!(large[8].contains("Events") && large[8].contains("Detail"), "side by side: {large:#?}");
    assert!(large[59].contains("REPLAY"));
    // Tiny terminals degrade without panicking.
    screen(&app, 20, 5);
}

#[test]
fn replay_plays_steps_and_seeks() {
    let mut app = runc();
    let total = app.model.events().len();
    // At the end, Space starts over.
    press(&mut app, " ");
    assert!(!app.paused());
    press(&mut app, " ");
    assert!(app.paused());
    let at = app.model.events().len();
    assert!(at < total, "playing restarted from the beginning ({at} of {total})");
    press(&mut app, ".");
    assert_eq!(app.model.events().len(), at + 1, "step shows one more event");
    press(&mut app, ",");
    assert_eq!(app.model.events().len(), at);
    press(&mut app, ">>>>>>>>>>>>>>>>>>>>>");
    assert_eq!(app.model.events().len(), total, "seeking forward reaches the end");
    press(&mut app, "<<<<<<<<<<<<<<<<<<<<<");
    assert!(app.model.events().len() < 5, "seeking back reaches the start");
    assert!(app.model.containers().len() == 0, "before runc's exec there is no container");
    press(&mut app, "]]");
    let rows = lines(&render(StatusBar(&app), 120, 1));
    assert!(rows[0].contains("0.040×"), "two steps faster: {rows:#?}");
}

#[test]
fn live_mode_pauses_steps_and_takes_the_trailers_loss_count() {
    let trace = fixture("runc-run.jsonl");
    let mut app = App::live(trace.header.clone());
    let now = std::time::Instant::now();
    let (first, rest) = trace.events.split_at(10);
    for event in first {
        app.feed(Feed::Event(Box::new(event.clone())), now);
    }
    app.tick(now);
    assert_eq!(app.model.events().len(), 10);
    press(&mut app, " ");
    for event in rest {
        app.feed(Feed::Event(Box::new(event.clone())), now);
    }
    assert_eq!(app.model.events().len(), 10, "paused: events wait");
    press(&mut app, ".");
    assert_eq!(app.model.events().len(), 11, "step shows the next one");
    app.feed(Feed::Lost(7), now);
    assert_eq!(app.lost, 7);
    let rows = lines(&render(StatusBar(&app), 120, 1));
    assert!(rows[0].contains(&format!("LIVE paused, {} waiting", rest.len() - 1)), "{rows:#?}");
    press(&mut app, " ");
    assert_eq!(app.model.events().len(), trace.events.len());
    let trailer = Trailer {
        events: trace.events.len() as u64,
        records: 0,
        undecodable: 0,
        lost: 9,
        lost_by_kind: Default::default(),
        end: TraceEnd::Completed,
        ended_ns: 0,
        exit_code: Some(0),
        not_recorded: 0,
        export_dropped: 0,
    };
    app.feed(Feed::Trailer(trailer), now);
    assert_eq!(app.lost, 9, "the trailer's count is the final word");
    assert_eq!(app.report().lost, 9);
    let rows = lines(&render(StatusBar(&app), 120, 1));
    assert!(rows[0].contains("LIVE ended") && rows[0].contains("lost 9"), "{rows:#?}");
    // The container the session attributed is the UI's too.
    assert_eq!(app.model.containers().cloned().collect::<Vec<_>>(), trace.containers);
}

#[test]
fn a_kernel_stop_shows_in_full_until_n_resumes_it() {
    let trace = fixture("runc-run.jsonl");
    let mut app = App::live(trace.header.clone());
    let now = std::time::Instant::now();
    for event in &trace.events {
        app.feed(Feed::Event(Box::new(event.clone())), now);
    }
    let (resume, resumed) = std::sync::mpsc::channel();
    let long_call = format!("paused: runc:[2:INIT][42] is stopped after {}", "x".repeat(150));
    let lines =
        vec![long_call, "c1: Root switch has begun.".into(), "Next: Privilege reduction.".into()];
    app.feed(Feed::Stopped(KernelStop { lines, resume }), now);
    app.tick(now);
    let shown = text(&screen(&app, 100, 30));
    assert!(shown.contains("Stopped in the kernel · n: resume"), "{shown}");
    assert!(shown.contains("LIVE stopped"), "{shown}");
    // The call's long description wraps; the lines after it still show.
    assert!(shown.contains("c1: Root switch has begun."), "{shown}");
    assert!(shown.contains("Next: Privilege reduction."), "{shown}");
    assert!(resumed.try_recv().is_err(), "nothing resumes before the key");

    press(&mut app, "n");
    assert_eq!(resumed.try_recv(), Ok(()), "n resumes the task");
    let shown = text(&screen(&app, 100, 30));
    assert!(!shown.contains("Stopped in the kernel"), "{shown}");
    assert!(shown.contains("LIVE live"), "{shown}");
}
