//! The tracing commands: `cradle trace -- COMMAND` (any runtime, any
//! command), `cradle watch` (every container started on the host) and
//! `cradle run --trace` (the built-in runtime, traced from its first
//! syscall). Each builds a [`Session`] and runs it.

use std::process::ExitCode;

use anyhow::Context;
use cradle_events::trace_file::TraceMode;

use crate::{
    cli::{OutputArgs, TraceArgs, WatchArgs},
    session::Session,
    step::Stepper,
    timeline::TimelineOptions,
};

/// Container clients whose daemon, not the client, runs the runtime: a
/// trace of one follows the containers started while it runs.
pub const CONTAINER_CLIENTS: &[&str] = &["docker", "podman", "nerdctl", "ctr"];

pub fn trace(args: TraceArgs) -> anyhow::Result<ExitCode> {
    let explain = args.output.explain;
    let program = args.command.first().map(|program| program.rsplit('/').next().unwrap_or(program));
    let daemon_containers = program.is_some_and(|name| CONTAINER_CLIENTS.contains(&name));
    if daemon_containers {
        eprintln!("cradle: {}", crate::session::DAEMON_CONTAINERS);
    }
    let mut session = session(TraceMode::Trace, args.command, args.output, false);
    session.daemon_containers = daemon_containers;
    session.step = args.step.map(|at| Stepper::new(&at, explain)).transpose()?;
    session.run()
}

pub fn watch(args: WatchArgs) -> anyhow::Result<ExitCode> {
    let mut session = session(TraceMode::Watch, Vec::new(), args.output, true);
    session.runtimes = args.runtime;
    session.rotate = args.rotate;
    session.window_ns = Some(args.window.saturating_mul(1_000_000_000));
    session.omit_host_granted_checks = !args.all_capability_checks;
    session.fleet = cradle_export::FleetOptions {
        metrics: args.metrics,
        otlp: args.otlp.map(|endpoint| (endpoint, args.otlp_protocol.into())),
    };
    session.run()
}

/// `cradle run --trace[=FILE] ...` (or `--tui`, `--step`): runs this same `cradle run`
/// again, minus the tracing flags, as a traced command. The runtime stays
/// unaware of the tracing, and is seen from its very first syscall.
pub fn run_traced(
    out: Option<std::path::PathBuf>,
    explain: bool,
    tui: bool,
    step: bool,
) -> anyhow::Result<ExitCode> {
    let exe = std::env::current_exe().context("finding cradle's own executable")?;
    let mut command = vec![exe.to_string_lossy().into_owned()];
    command.extend(
        std::env::args()
            .skip(1)
            .filter(|arg| !["--trace", "--explain", "--tui", "--step"].contains(&arg.as_str()))
            .filter(|arg| !arg.starts_with("--trace=")),
    );
    let output = OutputArgs {
        json: false,
        out,
        ring_size: OutputArgs::DEFAULT_RING,
        explain,
        tui,
        no_hook: Vec::new(),
        skip_probes: skip_probes_from_env(),
    };
    let mut session = session(TraceMode::Run, command, output, false);
    session.step = step.then(|| Stepper::new("", explain)).transpose()?;
    session.run()
}

/// `CRADLE_SKIP_PROBES` for the commands without `--skip-probe` (`run
/// --trace`, `demo`).
pub fn skip_probes_from_env() -> Vec<String> {
    std::env::var("CRADLE_SKIP_PROBES")
        .unwrap_or_default()
        .split(',')
        .filter(|name| !name.is_empty())
        .map(String::from)
        .collect()
}

fn session(mode: TraceMode, command: Vec<String>, output: OutputArgs, stdout: bool) -> Session {
    Session {
        mode,
        command,
        ring_bytes: output.ring_size,
        skip_probes: output.skip_probes,
        runtimes: Vec::new(),
        out: output.out,
        json: output.json,
        tui: output.tui,
        timeline: TimelineOptions { explain: output.explain, stdout },
        step: None,
        capture_output: false,
        refuse_hooks: output.no_hook,
        rotate: None,
        window_ns: None,
        omit_host_granted_checks: false,
        fleet: Default::default(),
        daemon_containers: false,
    }
}
