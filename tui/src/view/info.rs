//! The info overlay: the trace's header (host, kernel, mode, command),
//! how it ended, and the probes in use by attach mechanism, with the ones
//! that could not attach.

use cradle_events::printable::printable;
use ratatui::{
    buffer::Buffer,
    layout::Rect,
    style::{Color, Style},
    text::{Line, Span},
    widgets::{Block, Clear, Paragraph, Widget, Wrap},
};

use super::{centred, heading, probes_by_mechanism};
use crate::app::App;

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
