//! The detail pane: the selected event decoded (who, when, where, its
//! fields and its explanation), or with the container list focused, the
//! container's summary (phases, namespaces, user mappings, launchers).

use cradle_events::{
    Event, collector::Container, explain, printable::printable, timefmt::duration,
};
use ratatui::{
    buffer::Buffer,
    layout::Rect,
    style::{Color, Modifier, Style},
    text::{Line, Span, Text},
    widgets::{Paragraph, Widget, Wrap},
};

use super::{event_style, heading, pane};
use crate::{
    app::{App, Focus},
    model::Subject,
};

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
    let entry = event.detail.explanation();
    lines.push(heading(entry.title));
    lines.push(Line::from(entry.what));
    lines.push(Line::from(format!("Why: {}", entry.why)));
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
