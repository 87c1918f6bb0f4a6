//! The human timeline: per container, a heading for each phase it enters
//! and one line per event, with the time since the container's runtime
//! started, the acting process's role and the call decoded. Colour on a
//! terminal, plain text when piped; `--explain` adds what each phase and
//! each kind of event means, the first time it appears.

use std::{
    collections::{HashMap, HashSet},
    io::{BufWriter, IsTerminal, Write},
};

use cradle_events::{
    Detail, Event,
    collector::{Collector, Container, Phase},
    explain::{self, Explanation},
    kinds::Category,
    printable::{printable, printable_lines},
    timefmt,
    trace_file::{Header, Trailer},
};

#[derive(Clone, Debug, Default)]
pub struct TimelineOptions {
    pub explain: bool,
    /// Write to stdout rather than stderr (whose stdout is not the traced
    /// command's).
    pub stdout: bool,
}

pub struct Timeline {
    out: BufWriter<Box<dyn Write>>,
    colour: bool,
    explain: bool,
    origin_ns: u64,
    /// The phase whose heading was printed last, per container.
    shown: HashMap<usize, Phase>,
    /// Event kinds already explained.
    explained: HashSet<&'static str>,
    /// Granted capability checks: hundreds per container, so counted
    /// rather than printed (the trace file has each one).
    granted_checks: u64,
}

impl Timeline {
    pub fn new(options: TimelineOptions, header: &Header) -> Timeline {
        let (out, terminal): (Box<dyn Write>, bool) = if options.stdout {
            (Box::new(std::io::stdout()), std::io::stdout().is_terminal())
        } else {
            (Box::new(std::io::stderr()), std::io::stderr().is_terminal())
        };
        let colour = terminal && std::env::var_os("NO_COLOR").is_none();
        Timeline::to_writer(out, colour, options.explain, header.origin_ns)
    }

    fn to_writer(out: Box<dyn Write>, colour: bool, explain: bool, origin_ns: u64) -> Timeline {
        Timeline {
            out: BufWriter::new(out),
            colour,
            explain,
            origin_ns,
            shown: HashMap::new(),
            explained: HashSet::new(),
            granted_checks: 0,
        }
    }

    /// Prints one attributed event (and the heading of the phase it opens).
    pub fn event(&mut self, event: &Event, collector: &Collector) -> std::io::Result<()> {
        if let Detail::CapCapable { ret: 0, .. } = event.detail {
            self.granted_checks += 1;
            return Ok(());
        }
        // A thread's end is not its process's: a Go runtime's eight
        // threads would print eight exits. The leader's exit stands for
        // the process (every record is in the trace file).
        if let Detail::TaskExit { .. } = event.detail
            && event.pid != event.tgid
        {
            return Ok(());
        }
        let line = match &event.owner {
            Some(owner) => {
                let Some(container) = collector.container(owner.container) else {
                    return Ok(());
                };
                if self.shown.get(&owner.container) != Some(&owner.phase) {
                    self.shown.insert(owner.container, owner.phase);
                    self.heading(container, owner.phase)?;
                }
                let since = event.ts_ns.saturating_sub(start_ns(container));
                format!(
                    "  {}  {:<12} {:<13} {}",
                    timefmt::offset(since),
                    printable(short_id(&owner.id)),
                    role_label(owner),
                    event.describe()
                )
            }
            None => {
                let since = event.ts_ns.saturating_sub(self.origin_ns);
                format!(
                    "  {}  {:<12} {:<13} {}",
                    timefmt::offset(since),
                    "(host)",
                    "",
                    event.describe()
                )
            }
        };
        let colour =
            if event.detail.failed() { RED } else { category_colour(event.detail.category()) };
        self.paint(colour, &line)?;
        if self.explain {
            let kind = event.detail.kind_name();
            if self.explained.insert(kind) {
                let entry = event.detail.explanation();
                self.note(&format!("{}: {}", entry.title, entry.what), "      | ")?;
            }
        }
        Ok(())
    }

    /// A line the traced command wrote (`from`: stdout or stderr).
    pub fn command_output(&mut self, from: &str, line: &str) -> std::io::Result<()> {
        self.paint(BOLD, &format!("  {from:>9} | {}", printable(line)))
    }

    fn heading(&mut self, container: &Container, phase: Phase) -> std::io::Result<()> {
        let title = format!(
            "\n== {} ({}) -- {} ==",
            printable(&container.id),
            printable(&container.runtime),
            phase.title()
        );
        self.paint(BOLD, &title)?;
        if self.explain {
            let entry: &Explanation = explain::phase(phase);
            self.note(entry.what, "   ")?;
            self.note(&format!("Why: {}", entry.why), "   ")?;
        }
        Ok(())
    }

    /// Text wrapped to the width of a terminal line, each line prefixed.
    fn note(&mut self, text: &str, prefix: &str) -> std::io::Result<()> {
        for line in wrap(text, 96 - prefix.len()) {
            self.paint(DIM, &format!("{prefix}{line}"))?;
        }
        Ok(())
    }

    /// Every line goes out here, escaped: its ids, comms and paths came
    /// from the kernel or a trace file. The newlines are the timeline's own
    /// (each string in it was escaped whole, newlines included).
    fn paint(&mut self, colour: &str, line: &str) -> std::io::Result<()> {
        let line = printable_lines(line);
        if self.colour {
            writeln!(self.out, "{colour}{line}{RESET}")?;
        } else {
            writeln!(self.out, "{line}")?;
        }
        self.out.flush()
    }

    /// The summary: each container's phases with their durations, and
    /// whatever the trace lost.
    pub fn finish<'a>(
        mut self,
        containers: impl IntoIterator<Item = &'a Container>,
        trailer: &Trailer,
    ) -> std::io::Result<()> {
        for container in containers {
            self.summary(container)?;
        }
        self.totals(trailer)
    }

    /// A container's summary: who launched it, its phases and their
    /// durations, how it ended.
    pub fn summary(&mut self, container: &Container) -> std::io::Result<()> {
        let init = container.init_pid.map_or("-".to_string(), |pid| pid.to_string());
        let exit = container.exit().map_or("still running".to_string(), |exit| exit.to_string());
        let title = format!(
            "\ncontainer {} ({}): runtime pid {}, init pid {init}, {exit}",
            printable(&container.id),
            printable(&container.runtime),
            container.runtime_pid
        );
        self.paint(BOLD, &title)?;
        for caveat in container.caveats() {
            self.paint(RED, &format!("  warning: {caveat}"))?;
        }
        if let Some(mappings) = &container.id_mappings {
            let line = format!(
                "  user namespace user:[{}], as /proc/{}/uid_map and gid_map say:",
                mappings.user_ns, mappings.read_from_pid
            );
            self.paint("", &line)?;
            for line in mappings.lines() {
                self.paint("", &format!("    {line}"))?;
            }
            if self.explain {
                let entry = explain::topic("id_mapping");
                self.note(entry.what, "    ")?;
                self.note(&format!("Why: {}", entry.why), "    ")?;
            }
        }
        for line in launcher_and_call_lines(container) {
            self.paint("", &line)?;
        }
        let start = start_ns(container);
        for (i, mark) in container.phases.iter().enumerate() {
            let took = container
                .phases
                .get(i + 1)
                .map(|next| format!("{:>10}", timefmt::offset(next.ts_ns - mark.ts_ns)))
                .unwrap_or_default();
            let line = format!(
                "  {}  {:<26}{took}",
                timefmt::offset(mark.ts_ns - start),
                mark.phase.title()
            );
            self.paint("", &line)?;
        }
        Ok(())
    }

    fn totals(&mut self, trailer: &Trailer) -> std::io::Result<()> {
        if self.granted_checks > 0 {
            let line = format!(
                "\n{} granted capability checks not shown (they are in the trace: --out, --json)",
                self.granted_checks
            );
            self.paint(DIM, &line)?;
        }
        if trailer.lost > 0 || trailer.undecodable > 0 {
            let line = format!(
                "cradle: {} events lost to a full ring buffer (raise --ring-size), {} undecodable",
                trailer.lost, trailer.undecodable
            );
            self.paint(RED, &line)?;
        }
        if trailer.export_dropped > 0 {
            let line = format!(
                "cradle: {} spans of container births not sent to the OTLP endpoint (it was away or slow)",
                trailer.export_dropped
            );
            self.paint(RED, &line)?;
        }
        self.out.flush()
    }
}

fn start_ns(container: &Container) -> u64 {
    container.phases.first().map_or(0, |mark| mark.ts_ns)
}

/// An engine's 64-hex-digit container id as docker prints it, 12 digits
/// (the phase headings, the trace file and the JSON keep it whole); any
/// other id as it is.
fn short_id(id: &str) -> &str {
    if id.len() >= 32 && id.bytes().all(|b| b.is_ascii_hexdigit()) { &id[..12] } else { id }
}

/// The role column: the role, after the later runtime command it acts
/// for (`start runtime`, `exec workload`).
fn role_label(owner: &cradle_events::event::Owner) -> String {
    match &owner.call {
        Some(call) => format!("{call} {}", owner.role.name()),
        None => owner.role.name().to_string(),
    }
}

/// The summary's lines on who launched the runtime, the links daemons made
/// for it, and the later commands run on the container.
pub fn launcher_and_call_lines(container: &Container) -> Vec<String> {
    let mut lines = Vec::new();
    if !container.launchers.is_empty() {
        lines.push("  launched by (parent first):".to_string());
        for launcher in &container.launchers {
            lines.push(format!(
                "    {:>7} {:<16} {}",
                launcher.pid,
                printable(&launcher.comm),
                printable(&launcher.argv.join(" "))
            ));
        }
    }
    let start = container.start_ns();
    if !container.links.is_empty() {
        lines.push("  network links put in its namespace by others:".to_string());
        for link in &container.links {
            lines.push(format!("    {}", printable(&link.summary())));
        }
    }
    for call in &container.calls {
        lines.push(format!(
            "  {}  {} {} (pid {})",
            timefmt::offset(call.ts_ns.saturating_sub(start)),
            printable(&container.runtime),
            printable(&call.command),
            call.pid
        ));
    }
    lines
}

const RESET: &str = "\x1b[0m";
const BOLD: &str = "\x1b[1m";
const DIM: &str = "\x1b[2m";
const RED: &str = "\x1b[31m";

fn category_colour(category: Category) -> &'static str {
    match category {
        Category::Namespaces => "\x1b[35m",
        Category::Mounts => "\x1b[34m",
        Category::RootSwitch => "\x1b[33m",
        Category::Privileges => "\x1b[36m",
        Category::Exec => "\x1b[32m",
        Category::Network => "\x1b[94m",
        Category::Cgroups => "\x1b[93m",
        Category::Files => "\x1b[90m",
        Category::Process | Category::Host => "",
    }
}

/// Splits text into lines of at most `width` characters, at spaces.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in text.split_whitespace() {
        let line = lines.last_mut().expect("never empty");
        if !line.is_empty() && line.len() + 1 + word.len() > width {
            lines.push(word.to_string());
        } else {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_keeps_words_whole_and_lines_short() {
        let lines = wrap("one two three four five six", 9);
        assert_eq!(lines, ["one two", "three", "four five", "six"]);
    }

    /// A writer whose bytes the test reads after the timeline is gone.
    #[derive(Clone, Default)]
    struct Shared(std::rc::Rc<std::cell::RefCell<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.borrow_mut().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn task_exit(pid: u32, tgid: u32) -> Event {
        serde_json::from_value(serde_json::json!({
            "seq": pid, "cpu": 0, "ts_ns": 1000, "pid": pid, "tgid": tgid, "ppid": 1,
            "comm": "exe", "cgroup_id": 1, "mnt_ns": 1, "pid_ns": 1, "truncated": false,
            "owner": null, "detail": {"task_exit": {"exit_code": 0}}
        }))
        .unwrap()
    }

    #[test]
    fn a_threads_exit_is_folded_into_its_process() {
        let out = Shared::default();
        let mut timeline = Timeline::to_writer(Box::new(out.clone()), false, false, 0);
        let collector = Collector::default();
        for thread in 101..109 {
            timeline.event(&task_exit(thread, 100), &collector).unwrap();
        }
        timeline.event(&task_exit(100, 100), &collector).unwrap();
        drop(timeline);
        let text = String::from_utf8(out.0.borrow().clone()).unwrap();
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(text.contains("exe[100]"), "{text}");
    }

    #[test]
    fn engine_ids_are_shown_short_and_others_whole() {
        let docker = "a6d94302c0b577b38964e3161121591faab892f3414245a86abf6b30d639cee3";
        assert_eq!(short_id(docker), "a6d94302c0b5");
        assert_eq!(short_id("cradle-phases-1234"), "cradle-phases-1234");
        assert_eq!(short_id("deadbeef"), "deadbeef");
    }

    #[test]
    fn times_read_in_milliseconds() {
        assert_eq!(timefmt::offset(1_234_567), "+    1.235ms");
    }
}
