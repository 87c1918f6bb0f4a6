//! Rendering: the layout and one widget per pane, each in its own file.
//! Widgets read the [`App`]; the only state they keep is the event list's
//! scroll position. This file holds the layout ([`draw`]) and what several
//! widgets share: category colours, phase labels, the pane frame.

mod container_list;
mod detail;
mod event_list;
mod help;
mod info;
mod status_bar;
mod stop_banner;
mod timeline;

use std::collections::BTreeMap;

use cradle_events::{Event, collector::Phase, kinds::Category};
use ratatui::{
    Frame,
    layout::{Constraint, Layout, Rect},
    style::{Color, Modifier, Style},
    text::Line,
    widgets::{Block, BorderType},
};

pub use self::{
    container_list::ContainerList,
    detail::DetailPane,
    event_list::EventList,
    help::{HelpOverlay, KEYS},
    info::InfoOverlay,
    status_bar::StatusBar,
    stop_banner::StopBanner,
    timeline::{LABEL_WIDTH, Timeline, Window},
};
use crate::app::{App, Overlay};

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

/// A row or character count as terminal cells (a terminal has fewer than
/// 65,536 of either; a larger count saturates).
fn cells(count: usize) -> u16 {
    u16::try_from(count).unwrap_or(u16::MAX)
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

fn heading(text: impl Into<String>) -> Line<'static> {
    Line::styled(text.into(), Style::new().add_modifier(Modifier::BOLD))
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
