//! A static timeline picture of a trace, for reports and READMEs: per
//! container, its phases as a coloured band, then one row per process with
//! a tick per event, coloured by category, on a common millisecond axis.

use std::fmt::Write as _;

use cradle_events::{
    collector::{Container, Phase},
    kinds::{self, Category},
    printable::printable,
};

use crate::load::LoadedTrace;

const WIDTH: f64 = 1200.0;
const LEFT: f64 = 230.0;
const RIGHT: f64 = 20.0;
const ROW: f64 = 18.0;
const BAND: f64 = 26.0;

fn phase_colour(phase: Phase) -> &'static str {
    match phase {
        Phase::RuntimeStart => "#c6dbef",
        Phase::NamespaceCreation => "#9ecae1",
        Phase::RootfsAssembly => "#fdd0a2",
        Phase::RootSwitch => "#fdae6b",
        Phase::PrivilegeReduction => "#fc9272",
        Phase::WorkloadExec => "#a1d99b",
        Phase::Running => "#c7e9c0",
        Phase::Exit => "#d9d9d9",
    }
}

fn category_colour(category: Category) -> &'static str {
    match category {
        Category::Process => "#636363",
        Category::Exec => "#31a354",
        Category::Namespaces => "#3182bd",
        Category::Mounts => "#e6550d",
        Category::RootSwitch => "#a63603",
        Category::Privileges => "#de2d26",
        Category::Cgroups => "#756bb1",
        Category::Network => "#17becf",
        Category::Host => "#8c6d31",
        Category::Files => "#bcbd22",
    }
}

/// Text from the trace made valid XML: controls escaped as for a
/// terminal (C0 characters are not allowed in XML 1.0), then the markup
/// characters as entities.
fn escape(text: &str) -> String {
    printable(text)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The trace as an SVG document.
pub fn render(trace: &LoadedTrace) -> String {
    let groups = trace.events_by_container();
    let scale = TimeScale::of(trace);
    let mut body = String::new();
    let mut y = 40.0;
    for (container, events) in trace.containers.iter().zip(&groups) {
        y = container_rows(&mut body, trace, &scale, container, events, y);
    }
    let axis_y = y + 6.0;
    time_axis(&mut body, &scale, axis_y);
    let legend_y = axis_y + 36.0;
    category_legend(&mut body, legend_y);
    document(trace, &body, legend_y + 16.0)
}

/// Where a time falls across the plot, from the trace's first event to its
/// last.
struct TimeScale {
    start: u64,
    end: u64,
    span: f64,
}

impl TimeScale {
    fn of(trace: &LoadedTrace) -> TimeScale {
        let start = trace.events.iter().map(|e| e.ts_ns).min().unwrap_or(trace.header.origin_ns);
        let end = trace.events.iter().map(|e| e.ts_ns).max().unwrap_or(start).max(start + 1);
        TimeScale { start, end, span: (end - start) as f64 }
    }

    fn x(&self, ts: u64) -> f64 {
        LEFT + (ts.saturating_sub(self.start) as f64 / self.span) * (WIDTH - LEFT - RIGHT)
    }
}

/// One container from `y` down: its name, the band of its phases, then a
/// row per process in the order they first appear. Returns the y below it.
fn container_rows(
    body: &mut String,
    trace: &LoadedTrace,
    scale: &TimeScale,
    container: &Container,
    events: &[usize],
    mut y: f64,
) -> f64 {
    let _ = writeln!(
        body,
        r#"<text x="10" y="{:.1}" font-weight="bold">{} ({})</text>"#,
        y + 14.0,
        escape(&container.id),
        escape(&container.runtime)
    );
    y += 22.0;
    let container_end = events.iter().map(|&i| trace.events[i].ts_ns).max().unwrap_or(scale.end);
    phase_band(body, scale, container, container_end, y);
    y += BAND + 4.0;
    let mut processes: Vec<u32> = Vec::new();
    for &i in events {
        if !processes.contains(&trace.events[i].tgid) {
            processes.push(trace.events[i].tgid);
        }
    }
    for tgid in processes {
        let own: Vec<usize> =
            events.iter().copied().filter(|&i| trace.events[i].tgid == tgid).collect();
        process_row(body, trace, scale, tgid, &own, y);
        y += ROW;
    }
    y + 14.0
}

/// The container's phases as coloured spans, each named where it is wide
/// enough, the last one until the container's last event.
fn phase_band(
    body: &mut String,
    scale: &TimeScale,
    container: &Container,
    container_end: u64,
    y: f64,
) {
    for (n, mark) in container.phases.iter().enumerate() {
        let until = container.phases.get(n + 1).map_or(container_end, |next| next.ts_ns);
        let (x0, x1) = (scale.x(mark.ts_ns), scale.x(until));
        let _ = writeln!(
            body,
            r#"<rect x="{x0:.1}" y="{y:.1}" width="{:.1}" height="{BAND}" fill="{}"><title>{}</title></rect>"#,
            (x1 - x0).max(1.0),
            phase_colour(mark.phase),
            escape(mark.phase.title())
        );
        if x1 - x0 > 60.0 {
            let _ = writeln!(
                body,
                r#"<text x="{:.1}" y="{:.1}" font-size="10">{}</text>"#,
                x0 + 3.0,
                y + 16.0,
                escape(mark.phase.title())
            );
        }
    }
    let _ = writeln!(body, r#"<text x="10" y="{:.1}" font-size="11">phases</text>"#, y + 16.0);
}

/// One process: its name, pid and role, a guide line and a tick per event.
fn process_row(
    body: &mut String,
    trace: &LoadedTrace,
    scale: &TimeScale,
    tgid: u32,
    events: &[usize],
    y: f64,
) {
    let last = &trace.events[*events.last().expect("a process has events")];
    let role = last.owner.as_ref().map_or("", |o| o.role.name());
    let _ = writeln!(
        body,
        r#"<text x="10" y="{:.1}" font-size="11">{} [{tgid}] {role}</text>"#,
        y + 12.0,
        escape(&last.comm)
    );
    let _ = writeln!(
        body,
        r##"<line x1="{LEFT}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#eeeeee"/>"##,
        y + 9.0,
        WIDTH - RIGHT,
        y + 9.0
    );
    for &i in events {
        let event = &trace.events[i];
        let _ = writeln!(
            body,
            r#"<rect x="{:.1}" y="{:.1}" width="2" height="{:.1}" fill="{}"><title>{}</title></rect>"#,
            scale.x(event.ts_ns),
            y + 2.0,
            ROW - 4.0,
            category_colour(event.detail.category()),
            escape(&event.describe())
        );
    }
}

/// The axis: ten ticks in milliseconds.
fn time_axis(body: &mut String, scale: &TimeScale, axis_y: f64) {
    let _ = writeln!(
        body,
        r#"<line x1="{LEFT}" y1="{axis_y:.1}" x2="{:.1}" y2="{axis_y:.1}" stroke="black"/>"#,
        WIDTH - RIGHT
    );
    for tick in 0..=10 {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        // 0..=span; `as` saturates
        let ts = scale.start + (scale.span * tick as f64 / 10.0) as u64;
        let tx = scale.x(ts);
        let _ = writeln!(
            body,
            r#"<line x1="{tx:.1}" y1="{axis_y:.1}" x2="{tx:.1}" y2="{:.1}" stroke="black"/><text x="{tx:.1}" y="{:.1}" font-size="10" text-anchor="middle">{:.1} ms</text>"#,
            axis_y + 5.0,
            axis_y + 17.0,
            (ts - scale.start) as f64 / 1e6
        );
    }
}

/// The legend of event categories.
fn category_legend(body: &mut String, legend_y: f64) {
    for (n, category) in kinds::categories().enumerate() {
        let lx = LEFT + n as f64 * 105.0;
        let _ = writeln!(
            body,
            r#"<rect x="{lx:.1}" y="{:.1}" width="10" height="10" fill="{}"/><text x="{:.1}" y="{legend_y:.1}" font-size="10">{}</text>"#,
            legend_y - 9.0,
            category_colour(category),
            lx + 14.0,
            category.name()
        );
    }
}

/// The document around `body`: its size, a white background and a title.
fn document(trace: &LoadedTrace, body: &str, height: f64) -> String {
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height:.0}" viewBox="0 0 {WIDTH} {height:.0}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        svg,
        r#"<text x="10" y="22" font-size="14">cradle: {} ({} events)</text>"#,
        escape(&trace.path.display().to_string()),
        trace.events.len()
    );
    svg.push_str(body);
    svg.push_str("</svg>\n");
    svg
}
