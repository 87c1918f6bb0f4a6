//! Rendering: the layout and one widget per pane. Widgets read the
//! [`App`]; the only state they keep is the event list's scroll position.

use std::{collections::BTreeMap, fmt::Write as _};

use cradle_probes::{
    Event,
    collector::{Container, Phase, Role},
    describe::Category,
    explain,
    printable::printable,
    timefmt::{self, duration},
};
use ratatui::{
    Frame,
    buffer::Buffer,
    layout::{Constraint, Layout, Rect},
    style::{Color, Modifier, Style},
    text::{Line, Span, Text},
    widgets::{Block, BorderType, Clear, Paragraph, Widget, Wrap},
};

use crate::{
    app::{App, Focus, KernelStop, Overlay, Source},
    model::Subject,
};

/// Rows of the timeline pane: four lanes, the phase marks, the time axis
/// and the borders.
const TIMELINE_HEIGHT: u16 = 8;
/// Below this width the detail pane replaces the event list instead of
/// standing beside it.
const SIDE_BY_SIDE_WIDTH: u16 = 100;

/// Draws the whole UI.
pub fn draw(frame: &mut Frame, app: &App) {
    let area = frame.area();
    let [main, status] = Layout::vertical([Constraint::Min(0), Constraint::Length(1)]).areas(area);
    let [top, bottom] =
        Layout::vertical([Constraint::Length(TIMELINE_HEIGHT), Constraint::Min(0)]).areas(main);
    let list_width = (top.width / 3).clamp(16, 30);
    let [containers, timeline] =
        Layout::horizontal([Constraint::Length(list_width), Constraint::Min(0)]).areas(top);
    frame.render_widget(ContainerList(app), containers);
    frame.render_widget(Timeline(app), timeline);
    match (app.detail, bottom.width >= SIDE_BY_SIDE_WIDTH) {
        (false, _) => frame.render_widget(EventList(app), bottom),
        (true, true) => {
            let [list, detail] =
                Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)])
                    .areas(bottom);
            frame.render_widget(EventList(app), list);
            frame.render_widget(DetailPane(app), detail);
        }
        (true, false) => frame.render_widget(DetailPane(app), bottom),
    }
    frame.render_widget(StatusBar(app), status);
    if let Some(stop) = app.stopped() {
        frame.render_widget(StopBanner(stop), main);
    }
    match app.overlay {
        Some(Overlay::Help) => frame.render_widget(HelpOverlay, area),
        Some(Overlay::Info) => frame.render_widget(InfoOverlay(app), area),
        None => {}
    }
}

/// The colour of an event's category, shared by the timeline and the list.
pub fn category_colour(category: Category) -> Color {
    match category {
        Category::Namespaces => Color::Magenta,
        Category::Mounts => Color::Blue,
        Category::RootSwitch => Color::Yellow,
        Category::Privileges => Color::Cyan,
        Category::Exec => Color::Green,
        Category::Network => Color::LightBlue,
        Category::Cgroups => Color::LightYellow,
        Category::Host => Color::LightMagenta,
        Category::Process => Color::Gray,
        Category::Files => Color::LightRed,
    }
}

fn event_style(event: &Event) -> Style {
    if event.detail.failed() {
        Style::new().fg(Color::Red)
    } else {
        Style::new().fg(category_colour(event.detail.category()))
    }
}

/// A phase in a few letters, for narrow places.
pub fn phase_label(phase: Phase) -> &'static str {
    match phase {
        Phase::RuntimeStart => "start",
        Phase::NamespaceCreation => "namespaces",
        Phase::RootfsAssembly => "rootfs",
        Phase::RootSwitch => "root switch",
        Phase::PrivilegeReduction => "privileges",
        Phase::WorkloadExec => "exec",
        Phase::Running => "running",
        Phase::Exit => "exit",
    }
}

fn pane(title: Line<'static>, focused: bool) -> Block<'static> {
    let style = if focused { Style::new().fg(Color::Cyan) } else { Style::new() };
    Block::bordered().border_type(BorderType::Plain).border_style(style).title(title)
}

fn subject_name(app: &App, subject: Subject) -> String {
    match app.model.container(subject) {
        Some(container) => {
            format!("{} ({})", printable(&container.id), printable(&container.runtime))
        }
        None => "host".to_string(),
    }
}

/// The containers seen so far, then the host.
pub struct ContainerList<'a>(pub &'a App);

impl Widget for ContainerList<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let app = self.0;
        let block = pane(Line::from(" Containers "), app.focus == Focus::Containers);
        let inner = block.inner(area);
        block.render(area, buf);
        let subjects = app.subjects();
        let selected = subjects.iter().position(|s| *s == app.subject).unwrap_or(0);
        let rows = inner.height as usize;
        let first = selected.saturating_sub(rows.saturating_sub(1));
        for (row, subject) in subjects.iter().enumerate().skip(first).take(rows) {
            let (name, state) = match app.model.container(*subject) {
                Some(container) => {
                    (printable(&container.id).into_owned(), phase_label(container.phase()))
                }
                None => ("(host)".to_string(), ""),
            };
            let count = app.model.indices(*subject).len();
            let width = inner.width as usize;
            let state = if state.is_empty() { format!("{count} ev") } else { state.to_string() };
            let name_width = width.saturating_sub(state.len() + 3);
            let text = format!(
                "{} {:<name_width$} {state}",
                if *subject == app.subject { '>' } else { ' ' },
                truncate(&name, name_width)
            );
            let style = if *subject == app.subject {
                Style::new().add_modifier(Modifier::REVERSED)
            } else {
                Style::new()
            };
            let y = inner.y + (row - first) as u16;
            buf.set_stringn(inner.x, y, text, width, style);
        }
    }
}

fn truncate(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        text.to_string()
    } else {
        let mut cut: String = text.chars().take(width.saturating_sub(1)).collect();
        cut.push('…');
        cut
    }
}

/// One lane per process role, events placed by time and coloured by
/// category, the phases the container entered and a time axis.
pub struct Timeline<'a>(pub &'a App);

/// The lanes of a container's timeline, in the order of its birth.
const LANES: [Role; 4] = [Role::Runtime, Role::Intermediate, Role::Init, Role::Workload];
/// The lane labels' column: the longest role name ("intermediate") and a
/// space.
pub const LABEL_WIDTH: u16 = 13;

/// The time window a timeline shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// The subject's start, which times are shown relative to.
    pub origin_ns: u64,
    pub start_ns: u64,
    pub ns_per_column: u64,
    pub columns: u16,
}

impl Window {
    /// The window for `columns` columns at the app's zoom, around the
    /// selected event.
    pub fn of(app: &App, columns: u16) -> Window {
        let columns = columns.max(1);
        let origin_ns = app.model.start_ns(app.subject);
        let events = app.model.events();
        let end_ns = app
            .model
            .indices(app.subject)
            .iter()
            .map(|&i| events[i].ts_ns)
            .max()
            .unwrap_or(origin_ns)
            .max(origin_ns);
        let span = (end_ns - origin_ns).max(1);
        let width = (span >> app.zoom).max(u64::from(columns));
        let centre = app.selected_event().map_or(end_ns, |event| event.ts_ns);
        let start_ns =
            centre.saturating_sub(width / 2).min(end_ns.saturating_sub(width)).max(origin_ns);
        Window { origin_ns, start_ns, ns_per_column: width.div_ceil(u64::from(columns)), columns }
    }

    pub fn column(&self, ts_ns: u64) -> Option<u16> {
        let column = ts_ns.checked_sub(self.start_ns)? / self.ns_per_column;
        (column < u64::from(self.columns)).then_some(column as u16)
    }
}

/// Which category wins a cell shared by several events: the rarer, more
/// telling steps first.
fn rank(category: Category) -> u8 {
    match category {
        Category::RootSwitch => 8,
        Category::Namespaces => 7,
        Category::Exec => 6,
        Category::Privileges => 5,
        Category::Mounts => 4,
        Category::Network => 3,
        Category::Cgroups => 2,
        Category::Host => 1,
        // Opens are many: any other step is more telling.
        Category::Process | Category::Files => 0,
    }
}

#[derive(Clone, Copy)]
struct Cell {
    category: Category,
    count: u32,
    failed: bool,
    selected: bool,
}

impl Widget for Timeline<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let app = self.0;
        let mut title = format!(" Timeline: {} ", subject_name(app, app.subject));
        if let Some(container) = app.model.container(app.subject) {
            let _ = write!(title, "· {} ", container.phase().title());
        }
        if app.zoom > 0 {
            let _ = write!(title, "· zoom ×{} ", 1u64 << app.zoom);
        }
        let block = pane(Line::from(title), false);
        let inner = block.inner(area);
        block.render(area, buf);
        if inner.width <= LABEL_WIDTH || inner.height == 0 {
            return;
        }
        let host = app.model.container(app.subject).is_none();
        let lanes: &[Option<Role>] = if host {
            &[None]
        } else {
            &[Some(LANES[0]), Some(LANES[1]), Some(LANES[2]), Some(LANES[3])]
        };
        let plot_x = inner.x + LABEL_WIDTH;
        let window = Window::of(app, inner.width - LABEL_WIDTH);
        let mut cells = vec![vec![None::<Cell>; usize::from(window.columns)]; lanes.len()];
        let selected = app.cursor.and_then(|cursor| app.visible().get(cursor)).copied();
        let events = app.model.events();
        for &index in app.visible() {
            let event = &events[index];
            let Some(column) = window.column(event.ts_ns) else { continue };
            let role = event.owner.as_ref().map(|owner| owner.role);
            let Some(lane) = lanes.iter().position(|lane| host || *lane == role) else {
                continue;
            };
            let category = event.detail.category();
            let cell = &mut cells[lane][usize::from(column)];
            let merged = match cell.take() {
                None => Cell { category, count: 1, failed: false, selected: false },
                Some(mut cell) => {
                    if rank(category) > rank(cell.category) {
                        cell.category = category;
                    }
                    cell.count += 1;
                    cell
                }
            };
            *cell = Some(Cell {
                failed: merged.failed || event.detail.failed(),
                selected: merged.selected || Some(index) == selected,
                ..merged
            });
        }
        let mut y = inner.y;
        let bottom = inner.y + inner.height;
        for (lane, row) in lanes.iter().zip(&cells) {
            if y >= bottom {
                return;
            }
            let label = lane.map_or("host", Role::name);
            buf.set_string(inner.x, y, label, Style::new().add_modifier(Modifier::DIM));
            for (column, cell) in row.iter().enumerate() {
                let Some(cell) = cell else { continue };
                let glyph = if cell.count > 1 { "◆" } else { "•" };
                let mut style = Style::new().fg(category_colour(cell.category));
                if cell.failed {
                    style = style.fg(Color::Red);
                }
                if cell.selected {
                    style = style.add_modifier(Modifier::REVERSED);
                }
                buf.set_string(plot_x + column as u16, y, glyph, style);
            }
            y += 1;
        }
        if y < bottom && !host {
            buf.set_string(inner.x, y, "phases", Style::new().add_modifier(Modifier::DIM));
            let marks = app.model.container(app.subject).map_or(&[][..], |c| &c.phases[..]);
            // Each mark at its own time; its name only as far as the next.
            let columns: Vec<(u16, Phase)> = marks
                .iter()
                .filter_map(|mark| window.column(mark.ts_ns).map(|column| (column, mark.phase)))
                .collect();
            for (i, &(column, phase)) in columns.iter().enumerate() {
                let next = columns.get(i + 1).map_or(window.columns, |&(next, _)| next);
                let room = usize::from(next.saturating_sub(column));
                let label = format!("|{}", phase_label(phase));
                let shown = if room > 3 { truncate(&label, room - 1) } else { "|".to_string() };
                buf.set_string(plot_x + column, y, shown, Style::new().fg(Color::White));
            }
            y += 1;
        }
        if y < bottom {
            let from = window.start_ns - window.origin_ns;
            let to = from + window.ns_per_column * u64::from(window.columns);
            let left = format!("+{}", duration(from));
            let right = format!("+{}", duration(to));
            let dim = Style::new().add_modifier(Modifier::DIM);
            buf.set_string(inner.x, y, "time", dim);
            buf.set_string(plot_x, y, &left, dim);
            let right_x = (plot_x + window.columns).saturating_sub(right.chars().count() as u16);
            if right_x > plot_x + left.chars().count() as u16 {
                buf.set_string(right_x, y, &right, dim);
            }
        }
    }
}

/// The subject's events that pass the filter, one line each.
pub struct EventList<'a>(pub &'a App);

impl Widget for EventList<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let app = self.0;
        let visible = app.visible();
        let total = app.model.indices(app.subject).len();
        let mut title = format!(" Events {}/{} ", visible.len(), total);
        let summary = app.filter.summary();
        if !summary.is_empty() {
            let _ = write!(title, "· filter: {summary} ");
        }
        if !app.filter.granted_checks {
            title.push_str("· granted cap checks hidden ");
        }
        if app.follow {
            title.push_str("· follow ");
        }
        let block = pane(Line::from(title), app.focus == Focus::Events);
        let inner = block.inner(area);
        block.render(area, buf);
        let height = usize::from(inner.height);
        app.list_height.set(height);
        if height == 0 {
            return;
        }
        let mut offset = app.list_offset.get().min(visible.len().saturating_sub(1));
        if let Some(cursor) = app.cursor {
            if cursor < offset {
                offset = cursor;
            } else if cursor >= offset + height {
                offset = cursor + 1 - height;
            }
        }
        app.list_offset.set(offset);
        let origin = app.model.start_ns(app.subject);
        let events = app.model.events();
        for (row, &index) in visible.iter().enumerate().skip(offset).take(height) {
            let event = &events[index];
            let role = event.owner.as_ref().map_or("host", |owner| owner.role.name());
            let time = format!("{} ", timefmt::offset(event.ts_ns.saturating_sub(origin)));
            let mut line = Line::from(vec![
                Span::styled(time, Style::new().add_modifier(Modifier::DIM)),
                Span::raw(format!("{role:<width$}", width = usize::from(LABEL_WIDTH))),
                Span::styled(event.describe(), event_style(event)),
            ]);
            if Some(row) == app.cursor {
                line = line.patch_style(if app.focus == Focus::Events {
                    Style::new().add_modifier(Modifier::REVERSED)
                } else {
                    Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED)
                });
            }
            let y = inner.y + (row - offset) as u16;
            buf.set_line(inner.x, y, &line, inner.width);
        }
        if visible.is_empty() {
            let note = if total == 0 { "no events yet" } else { "no event passes the filter" };
            buf.set_string(inner.x + 1, inner.y, note, Style::new().add_modifier(Modifier::DIM));
        }
    }
}

/// The selected event decoded, its fields and its explanation; or, with
/// the container list focused, the container's summary.
pub struct DetailPane<'a>(pub &'a App);

impl Widget for DetailPane<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let app = self.0;
        let text = match (app.focus, app.selected_event()) {
            (Focus::Events, Some(event)) => event_detail(app, event),
            _ => subject_detail(app),
        };
        Paragraph::new(text)
            .wrap(Wrap { trim: false })
            .block(pane(Line::from(" Detail "), false))
            .render(area, buf);
    }
}

fn heading(text: impl Into<String>) -> Line<'static> {
    Line::styled(text.into(), Style::new().add_modifier(Modifier::BOLD))
}

fn event_detail(app: &App, event: &Event) -> Text<'static> {
    let category = event.detail.category();
    let kind = event.detail.kind_name();
    let origin = app.model.start_ns(app.subject);
    let mut lines = vec![
        Line::from(vec![
            Span::styled(kind.to_string(), event_style(event).add_modifier(Modifier::BOLD)),
            Span::raw(format!("  ({})", category.name())),
        ]),
        Line::from(event.detail.describe()),
        Line::from(format!(
            "at +{}  cpu {}  seq {}",
            duration(event.ts_ns.saturating_sub(origin)),
            event.cpu,
            event.seq
        )),
        Line::from(format!(
            "{}[{}] thread {}  parent {}",
            printable(&event.comm),
            event.tgid,
            event.pid,
            event.ppid
        )),
    ];
    match &event.owner {
        Some(owner) => lines.push(Line::from(format!(
            "container {}  role {}  phase {}",
            printable(&owner.id),
            owner.role.name(),
            owner.phase.title()
        ))),
        None => lines.push(Line::from("host (no container)")),
    }
    lines.push(Line::from(format!(
        "cgroup {}  mnt ns {}  pid ns {}",
        event.cgroup_id, event.mnt_ns, event.pid_ns
    )));
    if event.truncated {
        lines.push(Line::styled("a string was cut to fit the record", Color::Yellow));
    }
    lines.push(heading("Fields"));
    lines.extend(fields(event).into_iter().map(Line::from));
    if let Some(entry) = explain::event_kind(kind) {
        lines.push(heading(entry.title));
        lines.push(Line::from(entry.what));
        lines.push(Line::from(format!("Why: {}", entry.why)));
    }
    Text::from(lines)
}

/// `name: value` for each field of the event's detail, as in trace files.
fn fields(event: &Event) -> Vec<String> {
    let Ok(serde_json::Value::Object(kinds)) = serde_json::to_value(&event.detail) else {
        return Vec::new();
    };
    let mut lines = Vec::new();
    for fields in kinds.values() {
        let serde_json::Value::Object(fields) = fields else { continue };
        for (name, value) in fields {
            let value = match value {
                serde_json::Value::String(text) => text.clone(),
                serde_json::Value::Null => "-".to_string(),
                other => other.to_string(),
            };
            lines.push(format!("  {name}: {value}"));
        }
    }
    lines
}

fn subject_detail(app: &App) -> Text<'static> {
    let Some(container) = app.model.container(app.subject) else {
        let count = app.model.indices(Subject::Host).len();
        return Text::from(vec![
            heading("host"),
            Line::from(format!("{count} events that belong to no container")),
        ]);
    };
    container_detail(container)
}

fn container_detail(container: &Container) -> Text<'static> {
    let mut lines =
        vec![heading(format!("{} ({})", printable(&container.id), printable(&container.runtime)))];
    for caveat in container.caveats() {
        lines.push(Line::styled(format!("warning: {caveat}"), Style::new().fg(Color::Red)));
    }
    if let Some(bundle) = &container.bundle {
        lines.push(Line::from(format!("bundle {}", printable(bundle))));
    }
    let init = container.init_pid.map_or("-".to_string(), |pid| pid.to_string());
    let exit = container.exit().map_or("still running".to_string(), |exit| exit.to_string());
    lines.push(Line::from(format!(
        "runtime pid {}  init pid {init}  {exit}",
        container.runtime_pid
    )));
    if let Some(namespaces) = &container.namespaces
        && let Ok(serde_json::Value::Object(map)) = serde_json::to_value(namespaces)
    {
        let list: Vec<String> = map
            .iter()
            .filter(|(_, inum)| inum.as_u64().is_some_and(|n| n != 0))
            .map(|(ns, inum)| format!("{ns}:[{inum}]"))
            .collect();
        lines.push(Line::from(format!("namespaces {}", list.join(" "))));
    }
    // The phases first: the birth is what the panel is for; who launched
    // the runtime, and what it was asked later, follow.
    let start = container.start_ns();
    lines.push(heading("Phases"));
    for (i, mark) in container.phases.iter().enumerate() {
        let took = container
            .phases
            .get(i + 1)
            .map(|next| format!("  took {}", duration(next.ts_ns - mark.ts_ns)))
            .unwrap_or_default();
        lines.push(Line::from(format!(
            "  +{:<10} {}{took}",
            duration(mark.ts_ns - start),
            mark.phase.title()
        )));
    }
    let phase = explain::phase(container.phase());
    lines.push(heading(phase.title));
    lines.push(Line::from(phase.what));
    if let Some(mappings) = &container.id_mappings {
        lines.push(heading("User namespace"));
        lines
            .push(Line::from(format!("  user:[{}] (cradle explain id_mapping)", mappings.user_ns)));
        lines.extend(mappings.lines().into_iter().map(|line| Line::from(format!("  {line}"))));
    }
    if !container.launchers.is_empty() {
        lines.push(heading("Launched by"));
        for launcher in &container.launchers {
            lines.push(Line::from(format!(
                "  {} {}  {}",
                launcher.pid,
                printable(&launcher.comm),
                printable(&launcher.argv.join(" "))
            )));
        }
    }
    if !container.calls.is_empty() {
        lines.push(heading("Later runtime commands"));
        for call in &container.calls {
            lines.push(Line::from(format!(
                "  +{:<10} {} {} (pid {})",
                duration(call.ts_ns.saturating_sub(start)),
                printable(&container.runtime),
                printable(&call.command),
                call.pid
            )));
        }
    }
    Text::from(lines)
}

/// One line: the source and its state, the counters, frame time, probes.
pub struct StatusBar<'a>(pub &'a App);

impl Widget for StatusBar<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let app = self.0;
        let bar = Style::new().bg(Color::DarkGray).fg(Color::White);
        buf.set_style(area, bar);
        if let Some(text) = &app.text_input {
            let line = Line::from(format!(" filter /{text}█   Enter keeps · Esc clears"));
            buf.set_line(area.x, area.y, &line, area.width);
            return;
        }
        let mode = match &app.source {
            Source::Live(live) => {
                let state = match (&app.trailer, &live.stopped, &live.paused) {
                    (Some(_), _, _) => "ended".to_string(),
                    (None, Some(_), _) => "stopped".to_string(),
                    (None, None, Some(waiting)) => format!("paused, {} waiting", waiting.len()),
                    (None, None, None) => "live".to_string(),
                };
                format!(" LIVE {state} ")
            }
            Source::Replay(player) => format!(
                " REPLAY {} {}× {}/{} ",
                if player.playing() { "▶" } else { "⏸" },
                speed(player.speed()),
                duration(player.elapsed_ns()),
                duration(player.span_ns()),
            ),
        };
        let lost_style = if app.lost > 0 { bar.fg(Color::LightRed) } else { bar };
        let frame = match (app.frames.last(), app.frames.max()) {
            (Some(last), Some(max)) => format!(
                " frame {:.1}ms max {:.1}ms ",
                last.as_secs_f64() * 1e3,
                max.as_secs_f64() * 1e3
            ),
            _ => String::new(),
        };
        let line = Line::from(vec![
            Span::styled(mode, bar.add_modifier(Modifier::BOLD | Modifier::REVERSED)),
            Span::raw(format!(" {} ev  {} ev/s ", app.model.events().len(), app.events_per_second)),
            Span::styled(format!(" lost {} ", app.lost), lost_style),
            Span::raw(frame),
            Span::raw(format!(" probes {} ", probe_summary(app))),
            Span::raw(" ? help "),
        ]);
        buf.set_line(area.x, area.y, &line, area.width);
    }
}

fn speed(speed: f64) -> String {
    if speed >= 1.0 { format!("{speed:.0}") } else { format!("{speed:.3}") }
}

/// The attach mechanisms in use and how many programs use each:
/// `31 tracepoint, 1 raw_tracepoint`.
fn probe_summary(app: &App) -> String {
    let by_mechanism = probes_by_mechanism(app);
    let mut summary = if by_mechanism.is_empty() {
        "none".to_string()
    } else {
        by_mechanism
            .iter()
            .map(|(mechanism, targets)| format!("{} {mechanism}", targets.len()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let absent = &app.model.header().unavailable;
    if !absent.is_empty() {
        let names: Vec<&str> = absent.iter().map(|absence| absence.probe.as_str()).collect();
        summary.push_str(&format!(" (without {})", names.join(", ")));
    }
    summary
}

fn probes_by_mechanism(app: &App) -> BTreeMap<&str, Vec<&str>> {
    let mut by_mechanism: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for probe in &app.model.header().probes {
        let (mechanism, target) = probe.attach.split_once(':').unwrap_or(("?", &probe.attach));
        by_mechanism.entry(mechanism).or_default().push(target);
    }
    by_mechanism
}

/// A box in the middle of `area`, at most `width` by `height`.
fn centred(area: Rect, width: u16, height: u16) -> Rect {
    let width = width.min(area.width.saturating_sub(2));
    let height = height.min(area.height.saturating_sub(2));
    Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    }
}

/// Step mode: which task the kernel stopped, after what, and the key that
/// resumes it; across the bottom of `area`, over the event list.
pub struct StopBanner<'a>(pub &'a KernelStop);

impl Widget for StopBanner<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        // Cut to the width inside the border here, so that the box is as
        // tall as its text: a call's description is long.
        let inner = usize::from(area.width.saturating_sub(2)).max(1);
        let rows: Vec<Line> = self
            .0
            .lines
            .iter()
            .flat_map(|line| {
                let chars: Vec<char> = line.chars().collect();
                chars
                    .chunks(inner)
                    .map(|row| Line::from(row.iter().collect::<String>()))
                    .collect::<Vec<_>>()
            })
            .collect();
        let height = (rows.len() as u16).saturating_add(2).min(area.height);
        let banner = Rect { y: area.y + area.height - height, height, ..area };
        Clear.render(banner, buf);
        Paragraph::new(rows)
            .block(
                Block::bordered()
                    .title(" Stopped in the kernel · n: resume ")
                    .border_style(Style::new().fg(Color::LightRed)),
            )
            .render(banner, buf);
    }
}

/// Every key.
pub struct HelpOverlay;

pub const KEYS: &[(&str, &str)] = &[
    ("q  Ctrl-C", "quit"),
    ("?  Esc", "this help / close it"),
    ("i", "trace info and probes in use"),
    ("Tab", "focus containers / events"),
    ("↑ ↓  j k", "move (PgUp PgDn, Home End, g G)"),
    ("Enter  Esc", "open / close the detail pane"),
    ("1-9  0  ⌫", "toggle a category filter (0: the tenth) / clear"),
    ("p", "filter by role: runtime child init workload"),
    ("P", "only the selected event's process"),
    ("/", "filter by text (Enter keeps, Esc clears)"),
    ("c", "show granted capability checks"),
    ("f", "follow the newest event"),
    ("Space", "pause / resume (replay: play)"),
    (".  ,", "step one event on (paused) / back"),
    ("n", "resume the task --step stopped"),
    ("+  -  =", "zoom the timeline in / out / fit"),
    ("<  >", "seek back / forward (replay)"),
    ("[  ]", "slower / faster (replay)"),
];

impl Widget for HelpOverlay {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let mut lines: Vec<Line> = KEYS
            .iter()
            .map(|(keys, what)| {
                Line::from(vec![
                    Span::styled(format!("{keys:<12}"), Style::new().fg(Color::Cyan)),
                    Span::raw(*what),
                ])
            })
            .collect();
        let categories: Vec<String> = Category::ALL
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{} {}", (i + 1) % 10, c.name()))
            .collect();
        lines.push(Line::from(""));
        lines.push(Line::from(categories.join("  ")));
        let box_area = centred(area, 64, lines.len() as u16 + 4);
        Clear.render(box_area, buf);
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::bordered().title(" Keys ").border_style(Style::new().fg(Color::Cyan)))
            .render(box_area, buf);
    }
}

/// The trace's header and the probes in use, by attach mechanism.
pub struct InfoOverlay<'a>(pub &'a App);

impl Widget for InfoOverlay<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let app = self.0;
        let header = app.model.header();
        let mut lines = vec![
            Line::from(format!("host {}  kernel {}", header.host, header.kernel)),
            Line::from(format!("mode {:?}  ring {} bytes", header.mode, header.ring_bytes)),
            Line::from(format!("command {}", printable(&header.command.join(" ")))),
        ];
        if let Some(trailer) = &app.trailer {
            lines.push(Line::from(format!(
                "ended {:?}  exit {}  events {}  lost {}  undecodable {}",
                trailer.end,
                trailer.exit_code.map_or("-".to_string(), |code| code.to_string()),
                trailer.events,
                trailer.lost,
                trailer.undecodable
            )));
        }
        lines.push(heading("Probes"));
        for (mechanism, targets) in probes_by_mechanism(app) {
            lines.push(Line::from(vec![
                Span::styled(
                    format!("{mechanism} ({}): ", targets.len()),
                    Style::new().fg(Color::Cyan),
                ),
                Span::raw(targets.join(" ")),
            ]));
        }
        for absence in &header.unavailable {
            lines.push(Line::from(vec![
                Span::styled(
                    format!("unavailable: {} ", absence.probe),
                    Style::new().fg(Color::Yellow),
                ),
                Span::raw(format!("(no {} events): {}", absence.kinds.join(", "), absence.reason)),
            ]));
        }
        let box_area = centred(area, 100, area.height);
        Clear.render(box_area, buf);
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::bordered().title(" Trace ").border_style(Style::new().fg(Color::Cyan)))
            .render(box_area, buf);
    }
}
