//! `cradle trace -- COMMAND`: runs COMMAND registered for tracing before it
//! execs, follows its descendants in the kernel, prints their execs, and
//! exits with COMMAND's status.

use std::{
    fs::File,
    io::{BufWriter, Write},
    os::unix::process::ExitStatusExt,
    process::ExitCode,
};

use anyhow::Context;
use cradle_probes::{
    Detail, Event, ExecJoiner, ProbeConfig, Probes, TrackMode,
    collector::{Collector, Phase, Role},
};
use nix::{
    sys::signal::{Signal, kill},
    unistd::Pid,
};
use serde::Serialize;
use tokio::signal::unix::{SignalKind, signal};

use crate::cli::TraceArgs;

pub fn run(args: TraceArgs) -> anyhow::Result<ExitCode> {
    // One thread: the child is forked from a single-threaded process, so
    // its pre-exec hook cannot meet a lock held by another thread.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the event loop")?;
    runtime.block_on(trace(args))
}

async fn trace(args: TraceArgs) -> anyhow::Result<ExitCode> {
    let config = ProbeConfig { track: TrackMode::Tree, ring_bytes: args.ring_size };
    let (probes, mut stream) =
        Probes::load(&config).context("loading the probes (see `cradle doctor`)")?;
    let out: Box<dyn Write> = match &args.out {
        Some(path) => {
            Box::new(File::create(path).with_context(|| format!("creating {}", path.display()))?)
        }
        None => Box::new(std::io::stderr()),
    };
    let mut printer = Printer {
        out: BufWriter::new(out),
        json: args.json,
        origin_ns: monotonic_ns(),
        collector: Collector::default(),
    };

    let registrar = probes.self_registrar();
    let mut command = tokio::process::Command::new(&args.command[0]);
    command.args(&args.command[1..]);
    // SAFETY: the hook makes one raw bpf(2) call and a getpid(2), both
    // async-signal-safe, so it is sound between fork and exec.
    unsafe {
        command.pre_exec(move || registrar.register_self());
    }
    let mut child = command.spawn().with_context(|| format!("starting {}", args.command[0]))?;
    let child_pid = child.id().context("the command exited before it could be traced")?;

    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let mut hangup = signal(SignalKind::hangup())?;
    let mut joiner = ExecJoiner::default();
    let mut batch = Vec::new();
    let mut records = 0u64;
    let status = loop {
        tokio::select! {
            status = child.wait() => break status.context("waiting for the command")?,
            read = stream.next_batch(&mut batch) => {
                read.context("reading events")?;
                records += batch.len() as u64;
                printer.print_all(batch.drain(..).flat_map(|e| joiner.push(e)))?;
            }
            // The command shares our terminal: it gets SIGINT by itself.
            // Forward what was sent to cradle alone, and keep tracing.
            _ = interrupt.recv() => {}
            _ = terminate.recv() => forward(child_pid, Signal::SIGTERM),
            _ = hangup.recv() => forward(child_pid, Signal::SIGHUP),
        }
    };
    // Records are in the ring as soon as the kernel submits them: all
    // events up to the command's exit are there now.
    stream.drain(&mut batch);
    records += batch.len() as u64;
    printer.print_all(batch.drain(..).flat_map(|e| joiner.push(e)))?;
    printer.print_all(joiner.finish())?;
    printer.containers()?;
    let summary = Summary {
        records: records + stream.decode_errors(),
        undecodable: stream.decode_errors(),
        lost_by_kind: probes.lost()?.into_iter().map(|(kind, n)| (kind.name(), n)).collect(),
    };
    printer.summary(&summary)?;
    printer.out.flush()?;
    Ok(exit_code(status))
}

fn forward(pid: u32, signal: Signal) {
    if let Err(err) = kill(Pid::from_raw(pid as i32), signal) {
        tracing::warn!(%err, ?signal, "forwarding signal to the command");
    }
}

/// The command's status as a shell reports it: the exit code, or 128 plus
/// the signal that killed it.
fn exit_code(status: std::process::ExitStatus) -> ExitCode {
    let code = status.code().or_else(|| status.signal().map(|sig| 128 + sig)).unwrap_or(1);
    ExitCode::from(code.clamp(0, 255) as u8)
}

fn monotonic_ns() -> u64 {
    // CLOCK_MONOTONIC is always available on Linux; it is the clock of
    // bpf_ktime_get_ns, so event times are relative to this instant.
    match nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC) {
        Ok(now) => now.tv_sec() as u64 * 1_000_000_000 + now.tv_nsec() as u64,
        Err(_) => 0,
    }
}

/// What the trace saw, printed last.
struct Summary {
    /// Records read from the ring buffer, decodable or not.
    records: u64,
    undecodable: u64,
    lost_by_kind: std::collections::BTreeMap<&'static str, u64>,
}

struct Printer {
    out: BufWriter<Box<dyn Write>>,
    json: bool,
    origin_ns: u64,
    collector: Collector,
}

/// An event with the container, role and phase it belongs to.
#[derive(Serialize)]
struct Attributed<'a> {
    #[serde(flatten)]
    event: &'a Event,
    container: Option<&'a str>,
    role: Option<Role>,
    phase: Option<Phase>,
}

impl Printer {
    fn print_all(&mut self, events: impl IntoIterator<Item = Event>) -> anyhow::Result<()> {
        for event in events {
            self.print(&event)?;
        }
        self.out.flush()?;
        Ok(())
    }

    fn print(&mut self, event: &Event) -> anyhow::Result<()> {
        let attribution = self.collector.observe(event);
        if self.json {
            let container =
                attribution.container.map(|key| self.collector.containers()[key].id.as_str());
            let line =
                Attributed { event, container, role: attribution.role, phase: attribution.phase };
            serde_json::to_writer(&mut self.out, &line)?;
            self.out.write_all(b"\n")?;
            return Ok(());
        }
        // Text shows the execs; --json carries every event.
        if let Detail::Exec { filename, argv, argv_truncated, ret, at, .. } = &event.detail {
            let seconds = event.ts_ns.saturating_sub(self.origin_ns) as f64 / 1e9;
            let call = if *at { "execveat" } else { "execve" };
            let filename = serde_json::to_string(filename)?;
            let argv = serde_json::to_string(argv)?;
            let cut = if *argv_truncated { " (argv truncated)" } else { "" };
            writeln!(
                self.out,
                "{seconds:>10.6} pid={:<7} ppid={:<7} {:<16} {call}({filename}, {argv}{cut}) = {}",
                event.tgid,
                event.ppid,
                event.comm,
                describe_ret(*ret),
            )?;
        }
        Ok(())
    }

    /// Each container seen, with the phases it went through.
    fn containers(&mut self) -> anyhow::Result<()> {
        for container in self.collector.containers() {
            if self.json {
                serde_json::to_writer(
                    &mut self.out,
                    &serde_json::json!({ "container": container }),
                )?;
                self.out.write_all(b"\n")?;
                continue;
            }
            writeln!(
                self.out,
                "container {} ({}): runtime pid {}, init pid {}",
                container.id,
                container.runtime,
                container.runtime_pid,
                container.init_pid.map_or("-".to_string(), |pid| pid.to_string()),
            )?;
            for (phase, ts_ns) in &container.phases {
                let seconds = ts_ns.saturating_sub(self.origin_ns) as f64 / 1e9;
                writeln!(self.out, "  {seconds:>10.6}  {}", phase.title())?;
            }
        }
        Ok(())
    }

    fn summary(&mut self, summary: &Summary) -> anyhow::Result<()> {
        let lost: u64 = summary.lost_by_kind.values().sum();
        if self.json {
            let line = serde_json::json!({ "summary": {
                "records": summary.records,
                "undecodable": summary.undecodable,
                "lost": lost,
                "lost_by_kind": summary.lost_by_kind,
            }});
            serde_json::to_writer(&mut self.out, &line)?;
            self.out.write_all(b"\n")?;
        } else if lost > 0 || summary.undecodable > 0 {
            writeln!(
                self.out,
                "cradle: {lost} events lost to a full ring buffer (raise --ring-size), {} undecodable",
                summary.undecodable
            )?;
        }
        Ok(())
    }
}

fn describe_ret(ret: Option<i64>) -> String {
    match ret {
        None => "? (result not seen)".into(),
        Some(0) => "0".into(),
        Some(ret) if ret < 0 => format!("{ret} {}", nix::errno::Errno::from_raw(-ret as i32)),
        Some(ret) => ret.to_string(),
    }
}
