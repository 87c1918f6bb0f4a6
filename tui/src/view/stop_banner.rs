//! The step-mode banner: which task the kernel stopped, after what, and
//! the key that resumes it.

use ratatui::{
    buffer::Buffer,
    layout::Rect,
    style::{Color, Style},
    text::Line,
    widgets::{Block, Clear, Paragraph, Widget},
};

use crate::app::KernelStop;

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
        let height = super::cells(rows.len()).saturating_add(2).min(area.height);
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
