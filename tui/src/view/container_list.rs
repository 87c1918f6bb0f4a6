//! The container list: each container seen so far with its phase, then
//! the host with its event count; the selected subject highlighted.

use cradle_events::printable::printable;
use ratatui::{
    buffer::Buffer,
    layout::Rect,
    style::{Modifier, Style},
    text::Line,
    widgets::Widget,
};

use super::{pane, phase_label, truncate};
use crate::app::{App, Focus};

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
            let y = inner.y + super::cells(row - first);
            buf.set_stringn(inner.x, y, text, width, style);
        }
    }
}
