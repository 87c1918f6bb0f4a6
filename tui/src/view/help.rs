//! The help overlay: every key and what it does, and the category
//! filters' numbers.

use cradle_events::kinds;
use ratatui::{
    buffer::Buffer,
    layout::Rect,
    style::{Color, Style},
    text::{Line, Span},
    widgets::{Block, Clear, Paragraph, Widget, Wrap},
};

use super::centred;

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
        let categories: Vec<String> = kinds::categories()
            .enumerate()
            .map(|(i, c)| format!("{} {}", (i + 1) % 10, c.name()))
            .collect();
        lines.push(Line::from(""));
        lines.push(Line::from(categories.join("  ")));
        let box_area = centred(area, 64, super::cells(lines.len()) + 4);
        Clear.render(box_area, buf);
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::bordered().title(" Keys ").border_style(Style::new().fg(Color::Cyan)))
            .render(box_area, buf);
    }
}
