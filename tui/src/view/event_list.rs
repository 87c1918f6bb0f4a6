//! The event list: the selected subject's events that pass the filter,
//! one line each (time, role, description), scrolled to keep the cursor
//! in view.

use std::fmt::Write as _;

use cradle_events::timefmt;
use ratatui::{
    buffer::Buffer,
    layout::Rect,
    style::{Modifier, Style},
    text::{Line, Span},
    widgets::Widget,
};

use super::{LABEL_WIDTH, event_style, pane};
use crate::app::{App, Focus};

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
            let y = inner.y + super::cells(row - offset);
            buf.set_line(inner.x, y, &line, inner.width);
        }
        if visible.is_empty() {
            let note = if total == 0 { "no events yet" } else { "no event passes the filter" };
            buf.set_string(inner.x + 1, inner.y, note, Style::new().add_modifier(Modifier::DIM));
        }
    }
}
