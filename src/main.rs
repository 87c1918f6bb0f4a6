//! `cradle`: shows, proves and audits how a Linux container is born.
//!
//! The binary is the edge of the system: it parses the command line, sets up
//! logging, and wires the libraries together. The probes produce events, the
//! binary presents them; the runtime is driven here and knows nothing of the
//! tracing.

mod cli;
mod demo;
mod doctor;
mod logging;
mod report_cli;
mod runtime_cli;
mod session;
mod show;
mod step;
mod timeline;
mod trace;
mod tui;

use std::process::ExitCode;

use clap::{Parser, error::ErrorKind};

use crate::cli::{Cli, Command};

fn main() -> ExitCode {
    let raw_args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if let Some(code) = unknown_help_topic(&raw_args) {
        return code;
    }
    let cli = match Cli::try_parse_from(&raw_args) {
        Ok(cli) => cli,
        Err(err) => return refuse_arguments(&raw_args, err),
    };
    // runc exits 255 when exec fails, so its callers can tell that from
    // the process's own status.
    let failure = if matches!(cli.command, Command::Exec(_)) { 255 } else { 1 };
    // First, while single-threaded: a command whose processes enter a
    // container runs from a sealed copy of this binary (CVE-2019-5736).
    if enters_a_container(&cli.command)
        && let Err(err) = cradle_runtime::exeseal::run_sealed()
    {
        eprintln!("cradle: {err}");
        return ExitCode::from(failure);
    }
    let logs = match logging::init(&cli.global) {
        Ok(destination) => destination,
        Err(err) => {
            eprintln!("cradle: {err:#}");
            return ExitCode::from(2);
        }
    };
    if cli.global.systemd_cgroup && !std::path::Path::new("/run/systemd/system").exists() {
        let err = anyhow::anyhow!(
            "--systemd-cgroup: systemd is not running on this host (no /run/systemd/system); \
             run without it, with a cgroupfs cgroupsPath"
        );
        return fail(logs, &err, failure);
    }
    let result = match cli.command {
        Command::Trace(args) => trace::trace(args),
        Command::Watch(args) => trace::watch(args),
        Command::Show(args) => show::show(args),
        Command::Tui(args) => tui::replay(args),
        Command::Explain(args) => show::explain(args),
        Command::Demo(args) => demo::demo(args),
        Command::Doctor(args) => doctor::run(args),
        Command::Create(args) => runtime_cli::create(cli.global.root, args),
        Command::Start(args) => runtime_cli::start(cli.global.root, args),
        Command::Run(args) if args.traced() => {
            let out = args.trace.filter(|out| !out.as_os_str().is_empty());
            trace::run_traced(out, args.explain, args.tui, args.step)
        }
        Command::Run(args) => runtime_cli::run(cli.global.root, args),
        Command::State(args) => runtime_cli::state(cli.global.root, args),
        Command::Kill(args) => runtime_cli::kill(cli.global.root, args),
        Command::Delete(args) => runtime_cli::delete(cli.global.root, args),
        Command::List(args) => runtime_cli::list(cli.global.root, args),
        Command::Exec(args) => runtime_cli::exec_in(cli.global.root, args),
        Command::Ps(args) => runtime_cli::ps(cli.global.root, args),
        Command::Pause(args) => runtime_cli::pause(cli.global.root, args),
        Command::Resume(args) => runtime_cli::resume(cli.global.root, args),
        Command::Update(args) => runtime_cli::update(cli.global.root, args),
        Command::Events(args) => runtime_cli::events(cli.global.root, args),
        Command::Features => runtime_cli::features(),
        Command::Spec(args) => runtime_cli::spec(args),
        Command::Bundle(args) => runtime_cli::create_bundle(args),
        Command::Report(args) => report_cli::report(args),
        Command::Diff(args) => report_cli::diff(args),
        Command::Export(args) => report_cli::export(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => fail(logs, &err, failure),
    }
}

fn fail(logs: logging::Destination, err: &anyhow::Error, failure: u8) -> ExitCode {
    // Once on stderr; also in the log file when there is one.
    if logs == logging::Destination::File {
        tracing::error!("{err:#}");
    }
    // An error may quote a trace file or a process's name.
    let message = format!("{err:#}");
    eprintln!("cradle: {}", cradle_events::printable::printable_lines(&message));
    ExitCode::from(failure)
}

/// `cradle help TOPIC` for a command that does not exist: runc's words
/// and exit status (3), which scripts check; clap's help is kept otherwise.
fn unknown_help_topic(raw_args: &[std::ffi::OsString]) -> Option<ExitCode> {
    // The words after the global flags (and their values).
    let mut words = raw_args.iter().skip(1).map(|arg| arg.to_string_lossy());
    let mut positional = Vec::new();
    while let Some(word) = words.next() {
        match word.as_ref() {
            "--root" | "--log" | "--log-format" => {
                words.next();
            }
            flag if flag.starts_with('-') => {}
            _ => positional.push(word),
        }
        if positional.len() == 2 {
            break;
        }
    }
    let [help, topic] = positional.as_slice() else { return None };
    if help != "help" {
        return None;
    }
    let known = <Cli as clap::CommandFactory>::command().find_subcommand(topic.as_ref()).is_some();
    if known || topic.starts_with('-') {
        return None;
    }
    eprintln!("No help topic for '{}'", cradle_events::printable::printable_lines(topic));
    Some(ExitCode::from(3))
}

/// A command line clap refused: said on stderr as clap says it, and, like
/// runc, also logged, so a caller that reads cradle's `--log` file (the
/// containerd shim) relays the reason instead of "exit status 2".
fn refuse_arguments(raw_args: &[std::ffi::OsString], err: clap::Error) -> ExitCode {
    if matches!(
        err.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        err.exit();
    }
    if logging::init_from_raw_args(raw_args) == logging::Destination::File {
        let rendered = err.render().to_string();
        let first = rendered.lines().next().unwrap_or_default();
        tracing::error!("{}", first.strip_prefix("error: ").unwrap_or(first));
    }
    let _ = err.print();
    ExitCode::from(2)
}

/// Commands whose processes join a container's namespaces (the init,
/// `exec`'s child). A traced run only runs the untraced one.
fn enters_a_container(command: &Command) -> bool {
    match command {
        Command::Create(_) | Command::Exec(_) => true,
        Command::Run(args) => !args.traced(),
        _ => false,
    }
}
