//! A tracing session, shared by `cradle trace`, `cradle run --trace` and
//! `cradle watch`: loads the probes, starts the command registered for
//! tracing (or follows every container runtime on the host), attributes
//! each event to its container, and hands it to the outputs: the trace file
//! (`--out`), JSON Lines on stdout (`--json`), the human timeline, or the
//! terminal UI (`--tui`), which runs on its own thread and is never waited
//! on.

use std::{
    fs::File,
    io::BufWriter,
    os::unix::process::ExitStatusExt,
    path::PathBuf,
    process::{ExitCode, Stdio},
};

use anyhow::Context;
use cradle_events::{
    Event, Joiner,
    collector::Collector,
    loss::LossTracker,
    trace_file::{
        FORMAT, Header, NotRecorded, ProbeAbsence, ProbeUse, TraceEnd, TraceMode, TraceWriter,
        Trailer, VERSION,
    },
};
use cradle_probes::{EventStream, ProbeConfig, Probes, TrackMode};
use nix::{
    sys::signal::{Signal, kill},
    unistd::Pid,
};
use tokio::{
    io::{AsyncBufReadExt, BufReader, Lines},
    process::{ChildStderr, ChildStdout},
    signal::unix::{SignalKind, signal},
};

use crate::{
    step::{Stepper, ask_on_terminal, interrupted},
    timeline::{Timeline, TimelineOptions},
};

/// What to trace and where the results go.
pub struct Session {
    pub mode: TraceMode,
    /// The command to run traced; empty for `watch`.
    pub command: Vec<String>,
    pub ring_bytes: u32,
    /// Probes to leave out (`--skip-probe`).
    pub skip_probes: Vec<String>,
    /// For `watch`: the runtime executables to follow (empty: the default).
    pub runtimes: Vec<String>,
    /// The trace file.
    pub out: Option<PathBuf>,
    /// JSON Lines on stdout instead of the human timeline.
    pub json: bool,
    /// The terminal UI instead of the human timeline.
    pub tui: bool,
    pub timeline: TimelineOptions,
    /// Step mode: pause the traced runtime between its steps.
    pub step: Option<Stepper>,
    /// Read the command's stdout and stderr and print them as lines of the
    /// timeline, so that neither cuts into the other's lines.
    pub capture_output: bool,
    /// Kernel-function hook paths not to take (`fexit`, `kprobe`, ...).
    pub refuse_hooks: Vec<String>,
    /// `watch --rotate`: `out` is a directory of trace files, each closed
    /// once it holds this many bytes.
    pub rotate: Option<u64>,
    /// `watch`: forget a container this long after it is over.
    pub window_ns: Option<u64>,
    /// Leave out granted capability checks outside every container
    /// (`watch`'s default; see [`NotRecorded`]).
    pub omit_host_granted_checks: bool,
    /// `watch`: metrics and traces for a fleet's engines.
    pub fleet: cradle_export::FleetOptions,
    /// `trace` of a container client: also follow every container runtime
    /// started on the host while it runs (see [`DAEMON_CONTAINERS`]).
    pub daemon_containers: bool,
}

/// The rule by which `trace` of a container client follows the containers
/// its daemon starts, as the trace header and the user are told it.
pub const DAEMON_CONTAINERS: &str = "the traced command is a container client whose daemon \
     starts containers outside its processes: every container runtime started on the host \
     while it ran is followed too, as `cradle watch` follows them (other clients' containers \
     started meanwhile included)";

impl Session {
    /// Runs the session to its end: the command's exit, or an interrupt
    /// for `watch`. Returns the command's exit code (0 for `watch`).
    pub fn run(self) -> anyhow::Result<ExitCode> {
        // One thread: the child is forked from a single-threaded process, so
        // its pre-exec hook cannot meet a lock held by another thread.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting the event loop")?;
        runtime.block_on(self.trace())
    }

    async fn trace(self) -> anyhow::Result<ExitCode> {
        let (probes, stream) = Probes::load(&self.probe_config())
            .context("loading the probes (see `cradle doctor`)")?;
        let header = self.header(&probes)?;
        let mut outputs = Outputs::open(&self, &header)?;
        let mut child = self.spawn_command(&probes)?;
        outputs.step = self.step;
        let captured = CapturedOutput::take(child.as_mut());
        // Only now, with the child forked, does cradle get a second thread.
        outputs.start_tui()?;
        let mut live =
            Live { probes, stream, outputs, child, captured, batch: Vec::new(), records: 0 };
        let (end, exit_code) = live.follow(self.window_ns).await?;
        live.finish(end, exit_code).await?;
        Ok(ExitCode::from(u8::try_from(exit_code.unwrap_or(0).clamp(0, 255)).unwrap_or(u8::MAX)))
    }

    /// What to load and follow: the traced command's tree, or every
    /// container runtime (`watch`, and `trace` of a container client).
    fn probe_config(&self) -> ProbeConfig {
        let track = match self.mode {
            TraceMode::Watch => TrackMode::Runtimes,
            TraceMode::Trace if self.daemon_containers => TrackMode::Runtimes,
            TraceMode::Trace | TraceMode::Run => TrackMode::Tree,
        };
        let mut config = ProbeConfig {
            track,
            ring_bytes: self.ring_bytes,
            refuse_paths: self.refuse_hooks.clone(),
            skip: self.skip_probes.clone(),
            floor: bench_floor(),
            ..Default::default()
        };
        if !self.runtimes.is_empty() {
            config.runtimes = self.runtimes.clone();
        }
        if let Some(step) = &self.step {
            config.stop_after = step.kinds();
        }
        config
    }

    /// Starts the command to trace (none for `watch`), registered with the
    /// probes before it execs, its stdio arranged for the outputs.
    fn spawn_command(&self, probes: &Probes) -> anyhow::Result<Option<tokio::process::Child>> {
        let stepping = self.step.is_some();
        Ok(match self.command.split_first() {
            Some((program, args)) => {
                let registrar = probes.self_registrar();
                let mut command = tokio::process::Command::new(program);
                command.args(args);
                if self.tui {
                    // The UI owns the terminal.
                    command.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
                } else if stepping {
                    // Enter is for cradle's pauses, not for the command.
                    command.stdin(Stdio::null());
                }
                if self.capture_output {
                    command.stdout(Stdio::piped()).stderr(Stdio::piped());
                } else if self.json && !self.tui {
                    // stdout is the JSON Lines stream: the command's own
                    // output goes to stderr, so the stream stays parseable.
                    command.stdout(Stdio::from(std::io::stderr()));
                }
                // SAFETY: the hook makes one raw bpf(2) call and a getpid(2),
                // both async-signal-safe, so it is sound between fork and exec.
                unsafe {
                    command.pre_exec(move || registrar.register_self());
                }
                Some(command.spawn().with_context(|| format!("starting {program}"))?)
            }
            None => None,
        })
    }

    fn header(&self, probes: &Probes) -> anyhow::Result<Header> {
        let uname = nix::sys::utsname::uname().context("uname")?;
        let started = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .context("the clock is before 1970")?;
        Ok(Header {
            format: FORMAT.into(),
            version: VERSION,
            cradle_version: env!("CARGO_PKG_VERSION").into(),
            host: uname.nodename().to_string_lossy().into_owned(),
            kernel: uname.release().to_string_lossy().into_owned(),
            mode: self.mode,
            command: self.command.clone(),
            started_unix_ns: u64::try_from(started.as_nanos())
                .context("the clock is past the year 2554")?,
            origin_ns: monotonic_ns(),
            ring_bytes: self.ring_bytes,
            probes: probes.attached().iter().map(ProbeUse::from).collect(),
            hooks: probes.hooks().to_vec(),
            host_namespaces: own_namespaces(),
            unavailable: probes.left_out().iter().map(ProbeAbsence::from).collect(),
            part: self.rotate.map(|_| 1),
            not_recorded: match self.omit_host_granted_checks {
                true => vec![NotRecorded::host_granted_capability_checks()],
                false => Vec::new(),
            },
            daemon_containers: self.daemon_containers.then(|| DAEMON_CONTAINERS.to_string()),
        })
    }
}

/// A session once its probes are loaded and its command started: the
/// event stream, where the events go, and the command (none for `watch`).
struct Live {
    probes: Probes,
    stream: EventStream,
    outputs: Outputs,
    child: Option<tokio::process::Child>,
    captured: CapturedOutput,
    batch: Vec<Event>,
    /// Ring records read so far.
    records: u64,
}

impl Live {
    /// Hands each event to the outputs until the session ends: the
    /// command's exit, an interrupt, or the user quitting the UI. Returns
    /// how it ended and the command's exit code.
    async fn follow(&mut self, window_ns: Option<u64>) -> anyhow::Result<(TraceEnd, Option<i32>)> {
        let child_pid = self.child.as_ref().and_then(|child| child.id());
        let mut ui_tick = tokio::time::interval(std::time::Duration::from_millis(250));
        let mut retire_tick = tokio::time::interval(std::time::Duration::from_secs(1));
        let mut ui_open = self.outputs.tui.is_some();

        let mut interrupt = signal(SignalKind::interrupt())?;
        let mut terminate = signal(SignalKind::terminate())?;
        let mut hangup = signal(SignalKind::hangup())?;
        Ok(loop {
            tokio::select! {
                status = wait(&mut self.child) => {
                    let status = status.context("waiting for the command")?;
                    break (TraceEnd::Completed, Some(exit_code(status)));
                }
                read = self.stream.next_batch(&mut self.batch) => {
                    read.context("reading events")?;
                    self.hand_on_batch()?;
                }
                _ = retire_tick.tick(), if window_ns.is_some() => {
                    let window = window_ns.unwrap_or_default();
                    self.outputs.retire(monotonic_ns().saturating_sub(window))?;
                    self.outputs.fleet_totals(&self.probes, &self.stream, self.records)?;
                }
                line = self.captured.next_line(), if self.captured.is_open() => {
                    if let Some((from, line)) = line.context("reading the command's output")? {
                        self.outputs.command_output(from, &line)?;
                    }
                }
                // A traced command shares our terminal: it gets SIGINT by
                // itself. Forward what was sent to cradle alone.
                _ = interrupt.recv() => if child_pid.is_none() {
                    break (TraceEnd::Interrupted, None);
                },
                _ = terminate.recv() => match child_pid {
                    Some(pid) => forward(pid, Signal::SIGTERM),
                    None => break (TraceEnd::Interrupted, None),
                },
                _ = hangup.recv() => match child_pid {
                    Some(pid) => forward(pid, Signal::SIGHUP),
                    None => break (TraceEnd::Interrupted, None),
                },
                // The UI's loss counter, and whether the user quit it: that
                // ends the trace as an interrupt would.
                _ = ui_tick.tick(), if ui_open => {
                    ui_open = self.outputs.tui_update(self.probes.lost()?.iter().map(|(_, n)| n).sum());
                    match (ui_open, child_pid) {
                        (true, _) => {}
                        (false, Some(pid)) => forward(pid, Signal::SIGTERM),
                        (false, None) => break (TraceEnd::Interrupted, None),
                    }
                },
            }
        })
    }

    /// The events just read, to the outputs; the trace file rotated when
    /// it is full.
    fn hand_on_batch(&mut self) -> anyhow::Result<()> {
        self.records += self.batch.len() as u64;
        self.outputs.events(self.batch.drain(..))?;
        if self.outputs.wants_rotation() {
            let so_far = self.trailer(TraceEnd::Rotated, None)?;
            self.outputs.rotate(so_far)?;
        }
        Ok(())
    }

    /// The trailer of the trace as it stands.
    fn trailer(&self, end: TraceEnd, exit_code: Option<i32>) -> anyhow::Result<Trailer> {
        trailer(&self.probes, &self.stream, self.records, end, exit_code)
    }

    /// Ends the session: the events still in the ring, the command's last
    /// output, and the trailer.
    async fn finish(mut self, end: TraceEnd, exit_code: Option<i32>) -> anyhow::Result<()> {
        // Records are in the ring as soon as the kernel submits them: all
        // events up to this point are there now.
        self.records += self.stream.drain(&mut self.batch);
        self.outputs.events(self.batch.drain(..))?;
        // What the command wrote last; a process it left behind may hold
        // the pipes open, so not for ever.
        let rest = async {
            while let Some((from, line)) = self.captured.next_line().await? {
                self.outputs.command_output(from, &line)?;
            }
            anyhow::Ok(())
        };
        if let Ok(read) = tokio::time::timeout(std::time::Duration::from_secs(1), rest).await {
            read.context("reading the command's output")?;
        }
        let trailer = self.trailer(end, exit_code)?;
        self.outputs.finish(trailer)
    }
}

/// The trailer of the trace as it stands: `records` read so far.
fn trailer(
    probes: &Probes,
    stream: &EventStream,
    records: u64,
    end: TraceEnd,
    exit_code: Option<i32>,
) -> anyhow::Result<Trailer> {
    let lost_by_kind: std::collections::BTreeMap<String, u64> =
        probes.lost()?.into_iter().map(|(kind, n)| (kind.name().to_string(), n)).collect();
    Ok(Trailer {
        events: 0,
        records: records + stream.decode_errors(),
        undecodable: stream.decode_errors(),
        lost: lost_by_kind.values().sum(),
        lost_by_kind,
        end,
        ended_ns: monotonic_ns(),
        exit_code,
        not_recorded: 0,
        export_dropped: 0,
    })
}

/// This process's namespace inode numbers by kind (`mnt`, `net`, ...):
/// the host's, for the containers traced from here.
fn own_namespaces() -> std::collections::BTreeMap<String, u32> {
    use std::os::unix::fs::MetadataExt;
    cradle_events::names::NAMESPACE_FLAGS
        .iter()
        .filter_map(|&(_, kind)| {
            let inode = std::fs::metadata(format!("/proc/self/ns/{kind}")).ok()?.ino();
            Some((kind.to_owned(), u32::try_from(inode).ok()?))
        })
        .collect()
}

/// Where the session's events go, attributed.
struct Outputs {
    joiner: Joiner,
    /// Joined events on their way out, reused from batch to batch.
    ready: Vec<Event>,
    collector: Collector,
    /// Where the kernel dropped records, to tie the loss to containers.
    losses: LossTracker,
    file: Option<TraceFile>,
    json: Option<TraceWriter<BufWriter<std::io::Stdout>>>,
    timeline: Option<Timeline>,
    tui: Option<cradle_tui::Live>,
    step: Option<Stepper>,
    omit_host_granted_checks: bool,
    /// Events left out so far (see [`Session::omit_host_granted_checks`]).
    not_recorded: u64,
    fleet: Option<cradle_export::Fleet>,
}

impl Outputs {
    fn open(session: &Session, header: &Header) -> anyhow::Result<Outputs> {
        // First: an export that cannot start (a taken address) leaves no
        // trace file behind.
        let fleet = match session.fleet.is_empty() {
            true => None,
            false => Some(cradle_export::Fleet::start(&session.fleet, header)?),
        };
        let file = match &session.out {
            Some(path) => Some(TraceFile::create(path, session.rotate, header)?),
            None => None,
        };
        let (json, timeline, tui) = if session.json {
            (Some(TraceWriter::new(BufWriter::new(std::io::stdout()), header)?), None, None)
        } else if session.tui {
            (None, None, Some(cradle_tui::Live::new(header)))
        } else {
            (None, Some(Timeline::new(session.timeline.clone(), header)), None)
        };
        Ok(Outputs {
            fleet,
            joiner: Joiner::default(),
            ready: Vec::new(),
            collector: Collector::live(),
            losses: LossTracker::default(),
            file,
            json,
            timeline,
            tui,
            step: None,
            omit_host_granted_checks: session.omit_host_granted_checks,
            not_recorded: 0,
        })
    }

    fn start_tui(&mut self) -> anyhow::Result<()> {
        match &mut self.tui {
            Some(tui) => tui.start().context("starting the terminal UI"),
            None => Ok(()),
        }
    }

    /// Gives the UI the probes' loss count; says whether it is still open.
    fn tui_update(&self, lost: u64) -> bool {
        self.tui.as_ref().is_some_and(|tui| {
            tui.lost(lost);
            !tui.is_closed()
        })
    }

    fn events(&mut self, events: impl Iterator<Item = Event>) -> anyhow::Result<()> {
        let mut ready = std::mem::take(&mut self.ready);
        for event in events {
            if let Some(since_ns) = self.losses.observe(&event) {
                self.collector.note_loss(since_ns);
            }
            self.joiner.push_into(event, &mut ready);
            for mut joined in ready.drain(..) {
                self.collector.attribute(&mut joined);
                if self.omit_host_granted_checks
                    && joined.owner.is_none()
                    && matches!(joined.detail, cradle_events::Detail::CapCapable { ret: 0, .. })
                {
                    self.not_recorded += 1;
                    continue;
                }
                self.write(&joined)?;
                if self.step.is_some() {
                    self.flush()?;
                }
                if let Some(step) = &mut self.step {
                    match &self.tui {
                        Some(tui) => step.after(&joined, &self.collector, |lines| {
                            Ok(tui.stopped(lines, interrupted))
                        })?,
                        None => step.after(&joined, &self.collector, ask_on_terminal)?,
                    }
                }
            }
        }
        self.ready = ready;
        self.flush()
    }

    /// A line the command wrote, shown in the timeline.
    fn command_output(&mut self, from: &str, line: &str) -> anyhow::Result<()> {
        if let Some(timeline) = &mut self.timeline {
            timeline.command_output(from, line)?;
        }
        Ok(())
    }

    fn wants_rotation(&self) -> bool {
        self.file.as_ref().is_some_and(TraceFile::full)
    }

    /// Closes the current file with `trailer` and starts the next. The
    /// closing file gets the records, as they stand, of the containers
    /// born in it and not yet forgotten (each is recorded again, whole,
    /// in the file where it is forgotten or the watch ends); the next
    /// begins with every known container's, carried over.
    fn rotate(&mut self, mut trailer: Trailer) -> anyhow::Result<()> {
        trailer.not_recorded = self.not_recorded;
        trailer.export_dropped = self.fleet.as_ref().map_or(0, |f| f.export_dropped());
        if let Some(file) = &mut self.file {
            let started_here = self.collector.containers_from(file.first_container);
            file.rotate(started_here, trailer, &self.collector.carried())?;
            file.first_container = self.collector.next_key();
        }
        Ok(())
    }

    /// Writes and forgets the containers over since before `before_ns`.
    fn retire(&mut self, before_ns: u64) -> anyhow::Result<()> {
        let retired = self.collector.retire(before_ns);
        if let Some(fleet) = &mut self.fleet {
            fleet.retired(&retired, &self.collector);
        }
        for container in retired {
            if let Some(file) = &mut self.file {
                file.writer.container(&container).context("writing the trace file")?;
            }
            if let Some(json) = &mut self.json {
                json.container(&container)?;
            }
            if let Some(timeline) = &mut self.timeline {
                timeline.summary(&container)?;
            }
        }
        self.flush()
    }

    /// The fleet exports' view of the session's totals.
    fn fleet_totals(
        &mut self,
        probes: &Probes,
        stream: &EventStream,
        records: u64,
    ) -> anyhow::Result<()> {
        if let Some(fleet) = &mut self.fleet {
            let lost_by_kind =
                probes.lost()?.into_iter().map(|(kind, n)| (kind.name().to_string(), n)).collect();
            fleet.totals(records + stream.decode_errors(), &lost_by_kind);
        }
        Ok(())
    }

    fn write(&mut self, event: &Event) -> anyhow::Result<()> {
        if let Some(fleet) = &mut self.fleet {
            fleet.event(event, &self.collector);
        }
        if let Some(file) = &mut self.file {
            file.writer.event(event).context("writing the trace file")?;
        }
        if let Some(json) = &mut self.json {
            json.event(event)?;
        }
        if let Some(timeline) = &mut self.timeline {
            timeline.event(event, &self.collector)?;
        }
        if let Some(tui) = &self.tui {
            tui.event(event);
        }
        Ok(())
    }

    fn flush(&mut self) -> anyhow::Result<()> {
        if let Some(file) = &mut self.file {
            file.writer.flush().context("writing the trace file")?;
        }
        if let Some(json) = &mut self.json {
            json.flush()?;
        }
        Ok(())
    }

    fn finish(mut self, mut trailer: Trailer) -> anyhow::Result<()> {
        trailer.not_recorded = self.not_recorded;
        let pending = self.joiner.finish();
        for mut event in pending {
            self.collector.attribute(&mut event);
            self.write(&event)?;
        }
        if let Some(fleet) = self.fleet.take() {
            trailer.export_dropped = fleet.finish(&self.collector);
        }
        let containers = self.collector.containers();
        if let Some(file) = &mut self.file {
            containers
                .clone()
                .try_for_each(|c| file.writer.container(c))
                .context("writing the trace file")?;
        }
        if let Some(json) = &mut self.json {
            containers.clone().try_for_each(|c| json.container(c))?;
        }
        if let Some(file) = self.file {
            file.writer.finish(trailer.clone()).context("writing the trace file")?;
        }
        if let Some(json) = self.json {
            json.finish(trailer.clone())?;
        }
        if let Some(timeline) = self.timeline {
            timeline.finish(containers, &trailer)?;
        }
        if let Some(tui) = self.tui {
            // The trace is complete on disk; the UI stays until the user quits.
            let report = tui.finish(trailer).context("running the terminal UI")?;
            crate::tui::write_report(&report)?;
        }
        Ok(())
    }
}

/// The trace file: one file, or with `watch --rotate` a series of files
/// in a directory, each a whole trace.
struct TraceFile {
    writer: TraceWriter<BufWriter<Counted<File>>>,
    /// The directory and the size of each file, when rotating.
    rotation: Option<(PathBuf, u64)>,
    header: Header,
    /// The key of the first container born in the current file.
    first_container: usize,
}

impl TraceFile {
    fn create(
        path: &std::path::Path,
        rotate: Option<u64>,
        header: &Header,
    ) -> anyhow::Result<Self> {
        let rotation = rotate.map(|size| (path.to_path_buf(), size));
        let file = match &rotation {
            Some((dir, _)) => {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating the trace directory {}", dir.display()))?;
                TraceFile::part(dir, header)?
            }
            None => File::create(path)
                .with_context(|| format!("creating the trace file {}", path.display()))?,
        };
        let writer = TraceWriter::new(BufWriter::new(Counted { inner: file, bytes: 0 }), header)?;
        Ok(TraceFile { writer, rotation, header: header.clone(), first_container: 0 })
    }

    /// `DIR/watch-<start, Unix seconds>-<part, 6 digits>.jsonl`: sorted by
    /// name, the files of one watch are in order. An existing file is
    /// never overwritten.
    fn part(dir: &std::path::Path, header: &Header) -> anyhow::Result<File> {
        let name = format!(
            "watch-{}-{:06}.jsonl",
            header.started_unix_ns / 1_000_000_000,
            header.part.unwrap_or(1)
        );
        let path = dir.join(name);
        File::options()
            .write(true)
            .create_new(true)
            .open(&path)
            .with_context(|| format!("creating the trace file {}", path.display()))
    }

    fn full(&self) -> bool {
        self.rotation
            .as_ref()
            .is_some_and(|(_, size)| self.writer.get_ref().get_ref().bytes >= *size)
    }

    /// Closes this file (the records of the containers `started_here`,
    /// then `trailer`) and opens the next, which begins with the `carried`
    /// records: a replay of it alone knows the containers alive across
    /// the boundary.
    fn rotate<'a>(
        &mut self,
        started_here: impl Iterator<Item = &'a cradle_events::collector::Container>,
        trailer: Trailer,
        carried: &[cradle_events::collector::Container],
    ) -> anyhow::Result<()> {
        let Some((dir, _)) = &self.rotation else { return Ok(()) };
        self.header.part = Some(self.header.part.unwrap_or(1) + 1);
        let next = TraceFile::part(dir, &self.header)?;
        let mut next =
            TraceWriter::new(BufWriter::new(Counted { inner: next, bytes: 0 }), &self.header)?;
        for container in carried {
            next.container(container).context("writing the trace file")?;
        }
        let mut done = std::mem::replace(&mut self.writer, next);
        for container in started_here {
            done.container(container).context("writing the trace file")?;
        }
        done.finish(trailer).context("writing the trace file")?;
        Ok(())
    }
}

/// A writer that counts the bytes that went through it.
struct Counted<W> {
    inner: W,
    bytes: u64,
}

impl<W: std::io::Write> std::io::Write for Counted<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let written = self.inner.write(buf)?;
        self.bytes += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// The traced command's stdout and stderr, as lines, when captured.
struct CapturedOutput {
    stdout: Option<Lines<BufReader<ChildStdout>>>,
    stderr: Option<Lines<BufReader<ChildStderr>>>,
}

impl CapturedOutput {
    fn take(child: Option<&mut tokio::process::Child>) -> CapturedOutput {
        let (stdout, stderr) = match child {
            Some(child) => (child.stdout.take(), child.stderr.take()),
            None => (None, None),
        };
        CapturedOutput {
            stdout: stdout.map(|out| BufReader::new(out).lines()),
            stderr: stderr.map(|err| BufReader::new(err).lines()),
        }
    }

    fn is_open(&self) -> bool {
        self.stdout.is_some() || self.stderr.is_some()
    }

    /// The next line from either, named by where it came from; `None` once
    /// both are closed. Cancel-safe, as `Lines::next_line` is.
    async fn next_line(&mut self) -> std::io::Result<Option<(&'static str, String)>> {
        async fn next<R: tokio::io::AsyncBufRead + Unpin>(
            lines: &mut Option<Lines<R>>,
        ) -> std::io::Result<Option<String>> {
            match lines {
                Some(reader) => reader.next_line().await,
                None => std::future::pending().await,
            }
        }
        while self.is_open() {
            tokio::select! {
                line = next(&mut self.stdout) => match line? {
                    Some(line) => return Ok(Some(("stdout", line))),
                    None => self.stdout = None,
                },
                line = next(&mut self.stderr) => match line? {
                    Some(line) => return Ok(Some(("stderr", line))),
                    None => self.stderr = None,
                },
            }
        }
        Ok(None)
    }
}

async fn wait(
    child: &mut Option<tokio::process::Child>,
) -> std::io::Result<std::process::ExitStatus> {
    match child {
        Some(child) => child.wait().await,
        None => std::future::pending().await,
    }
}

fn forward(pid: u32, signal: Signal) {
    // A pid past i32::MAX, wrapped, would name a process group.
    let Ok(pid) = i32::try_from(pid) else {
        tracing::warn!(pid, ?signal, "not a pid; the signal is not forwarded");
        return;
    };
    if let Err(err) = kill(Pid::from_raw(pid), signal) {
        tracing::warn!(%err, ?signal, "forwarding signal to the command");
    }
}

/// The command's status as a shell reports it: the exit code, or 128 plus
/// the signal that killed it.
fn exit_code(status: std::process::ExitStatus) -> i32 {
    status.code().or_else(|| status.signal().map(|sig| 128 + sig)).unwrap_or(1)
}

/// CLOCK_MONOTONIC, the clock of the events' timestamps.
pub fn monotonic_ns() -> u64 {
    match nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC) {
        // A monotonic time is never negative.
        Ok(now) => {
            u64::try_from(now.tv_sec()).unwrap_or(0) * 1_000_000_000
                + u64::try_from(now.tv_nsec()).unwrap_or(0)
        }
        Err(_) => 0,
    }
}

/// `CRADLE_BENCH_FLOOR`: the benchmark's floor configuration (BENCHMARKS.md):
/// every probe attached, each program returning at once. Nothing is
/// recorded, so it is said loudly.
fn bench_floor() -> bool {
    let floor = std::env::var_os("CRADLE_BENCH_FLOOR").is_some();
    if floor {
        tracing::warn!("CRADLE_BENCH_FLOOR is set: the probes attach but record nothing");
    }
    floor
}
