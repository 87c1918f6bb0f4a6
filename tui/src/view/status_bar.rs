//! The status bar: one line with the source (live or replay) and its
//! state, the event and loss counters, frame time and the probes in use;
//! or the filter text being typed.

use cradle_events::timefmt::duration;
use ratatui::{
    buffer::Buffer,
    layout::Rect,
    style::{Color, Modifier, Style},
    text::{Line, Span},
    widgets::Widget,
};

use super::probes_by_mechanism;
use crate::app::{App, Source};

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
