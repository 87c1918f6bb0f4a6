//! The timeline: the selected subject's events on one lane per process
//! role, placed by time and coloured by category, under them the phases
//! the container entered and a time axis; zoomed around the selected
//! event.

use std::fmt::Write as _;

use cradle_events::{
    collector::{Phase, Role},
    kinds::Category,
    printable::printable,
    timefmt::duration,
};
use ratatui::{
    buffer::Buffer,
    layout::Rect,
    style::{Color, Modifier, Style},
    text::Line,
    widgets::Widget,
};

use super::{category_colour, pane, phase_label, truncate};
use crate::{app::App, model::Subject};

fn subject_name(app: &App, subject: Subject) -> String {
    match app.model.container(subject) {
        Some(container) => {
            format!("{} ({})", printable(&container.id), printable(&container.runtime))
        }
        None => "host".to_string(),
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
        u16::try_from(column).ok().filter(|column| *column < self.columns)
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
        let block = pane(Line::from(title(app)), false);
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
        let window = Window::of(app, inner.width - LABEL_WIDTH);
        let cells = lane_cells(app, &window, lanes);
        let mut y = inner.y;
        let bottom = inner.y + inner.height;
        for (lane, row) in lanes.iter().zip(&cells) {
            if y >= bottom {
                return;
            }
            draw_lane(buf, inner.x, y, *lane, row);
            y += 1;
        }
        if y < bottom && !host {
            draw_phase_marks(buf, app, &window, inner.x, y);
            y += 1;
        }
        if y < bottom {
            draw_time_axis(buf, &window, inner.x, y);
        }
    }
}

/// The subject, its phase and the zoom.
fn title(app: &App) -> String {
    let mut title = format!(" Timeline: {} ", subject_name(app, app.subject));
    if let Some(container) = app.model.container(app.subject) {
        let _ = write!(title, "· {} ", container.phase().title());
    }
    if app.zoom > 0 {
        let _ = write!(title, "· zoom ×{} ", 1u64 << app.zoom);
    }
    title
}

/// The visible events in the window, by lane and column; the events that
/// share a cell merged into it. A single `None` lane (the host) takes
/// every event.
fn lane_cells(app: &App, window: &Window, lanes: &[Option<Role>]) -> Vec<Vec<Option<Cell>>> {
    let host = lanes == [None];
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
    cells
}

/// One lane at row `y`: its label, then a glyph per occupied cell.
fn draw_lane(buf: &mut Buffer, x: u16, y: u16, lane: Option<Role>, row: &[Option<Cell>]) {
    let label = lane.map_or("host", Role::name);
    buf.set_string(x, y, label, Style::new().add_modifier(Modifier::DIM));
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
        buf.set_string(x + LABEL_WIDTH + super::cells(column), y, glyph, style);
    }
}

/// The phases the container entered, at row `y`: each mark at its own
/// time, its name only as far as the next.
fn draw_phase_marks(buf: &mut Buffer, app: &App, window: &Window, x: u16, y: u16) {
    buf.set_string(x, y, "phases", Style::new().add_modifier(Modifier::DIM));
    let marks = app.model.container(app.subject).map_or(&[][..], |c| &c.phases[..]);
    let columns: Vec<(u16, Phase)> = marks
        .iter()
        .filter_map(|mark| window.column(mark.ts_ns).map(|column| (column, mark.phase)))
        .collect();
    for (i, &(column, phase)) in columns.iter().enumerate() {
        let next = columns.get(i + 1).map_or(window.columns, |&(next, _)| next);
        let room = usize::from(next.saturating_sub(column));
        let label = format!("|{}", phase_label(phase));
        let shown = if room > 3 { truncate(&label, room - 1) } else { "|".to_string() };
        buf.set_string(x + LABEL_WIDTH + column, y, shown, Style::new().fg(Color::White));
    }
}

/// The window's start and end at row `y`, relative to the subject's start;
/// the end only where it does not run into the start.
fn draw_time_axis(buf: &mut Buffer, window: &Window, x: u16, y: u16) {
    let plot_x = x + LABEL_WIDTH;
    let from = window.start_ns - window.origin_ns;
    let to = from + window.ns_per_column * u64::from(window.columns);
    let left = format!("+{}", duration(from));
    let right = format!("+{}", duration(to));
    let dim = Style::new().add_modifier(Modifier::DIM);
    buf.set_string(x, y, "time", dim);
    buf.set_string(plot_x, y, &left, dim);
    let right_x = (plot_x + window.columns).saturating_sub(super::cells(right.chars().count()));
    if right_x > plot_x + super::cells(left.chars().count()) {
        buf.set_string(right_x, y, &right, dim);
    }
}
