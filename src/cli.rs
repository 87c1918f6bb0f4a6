//! The command line. Global flags follow runc's, so tools written for runc
//! can drive cradle.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// `cradle --version` / `-v`: runc's block (`runc version X`, `spec: Y`),
/// then cradle's own lines; scripts parse the first two.
pub static VERSION: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "version {}\nspec: {}\ncommand line: runc 1.1\nseccomp: built-in compiler (x86_64, x86, x32)",
        env!("CARGO_PKG_VERSION"),
        cradle_runtime::features::SPEC_VERSION
    )
});

#[derive(Debug, Parser)]
#[command(
    name = "cradle",
    version = VERSION.as_str(),
    disable_version_flag = true,
    about = "Shows, proves and audits how a Linux container is born"
)]
pub struct Cli {
    /// Print the version.
    #[arg(short = 'v', long, action = clap::ArgAction::Version)]
    pub version: (),
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Write cradle's own log to this file instead of stderr.
    #[arg(long, global = true, value_name = "FILE")]
    pub log: Option<PathBuf>,
    /// Format of cradle's own log.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Log debug messages.
    #[arg(long, global = true)]
    pub debug: bool,
    /// runc's flag for a cgroupsPath of the form `slice:prefix:name`,
    /// managed through systemd; refused where systemd does not run.
    #[arg(long, global = true)]
    pub systemd_cgroup: bool,
    /// runc's `--rootless` (`auto`, `true`, `false`): accepted; cradle
    /// decides from its own uid. Before the command only, as runc's global
    /// flags are: `spec --rootless` is the spec command's own flag.
    #[arg(
        long,
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true"
    )]
    pub rootless: Option<String>,
    /// runc's path to criu: accepted; cradle has no checkpoint/restore.
    #[arg(long, global = true, value_name = "PATH")]
    pub criu: Option<PathBuf>,
    /// Directory of the runtime's container state (runc's `--root`);
    /// `$XDG_RUNTIME_DIR/cradle` by default when not run as root.
    #[arg(long, global = true, value_name = "DIR", default_value_os_t = default_state_root())]
    pub root: PathBuf,
}

/// runc's choice: root's state under /run; an unprivileged user's under
/// its own runtime directory.
fn default_state_root() -> PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(dir) if !nix::unistd::geteuid().is_root() => PathBuf::from(dir).join("cradle"),
        _ => PathBuf::from(cradle_runtime::lifecycle::DEFAULT_ROOT),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a command (e.g. `runc run ID`) traced from its first instruction,
    /// with its descendants, and show each container's birth.
    Trace(TraceArgs),
    /// Trace every container started on this host, by any runtime, until
    /// interrupted.
    Watch(WatchArgs),
    /// Print a saved trace as a timeline.
    Show(ShowArgs),
    /// Replay a saved trace in the terminal UI, with play, pause and seek.
    /// With CRADLE_TUI_REPORT=FILE (here and with --tui), the UI's frame
    /// times and counters are written there as JSON when it closes.
    Tui(TuiArgs),
    /// Explain an event kind or a phase of a container's birth.
    Explain(ExplainArgs),
    /// Build a busybox container, run it traced, and explain each step.
    Demo(DemoArgs),
    /// Report what this kernel lets cradle do, by trying each mechanism.
    Doctor(DoctorArgs),
    /// Create a container from a bundle; its process waits for `start`.
    Create(crate::runtime_cli::CreateArgs),
    /// Start the process of a created container.
    Start(crate::runtime_cli::IdArgs),
    /// Create, start and wait for a container; exits with its status.
    Run(crate::runtime_cli::RunArgs),
    /// Print a container's OCI state as JSON.
    State(crate::runtime_cli::IdArgs),
    /// Send a signal to a container's init.
    Kill(crate::runtime_cli::KillArgs),
    /// Remove a container.
    Delete(crate::runtime_cli::DeleteArgs),
    /// List containers.
    List(crate::runtime_cli::ListArgs),
    /// Run a new process inside a running container.
    Exec(crate::runtime_cli::ExecArgs),
    /// List a container's processes (`--format json`: their pids).
    Ps(crate::runtime_cli::PsArgs),
    /// Freeze every process of a container (cgroup freezer).
    Pause(crate::runtime_cli::IdArgs),
    /// Thaw a paused container.
    Resume(crate::runtime_cli::IdArgs),
    /// Change a running container's resource limits.
    Update(crate::runtime_cli::UpdateArgs),
    /// runc's event stream: refused, cradle collects no statistics.
    Events(crate::runtime_cli::EventsArgs),
    /// Print what this runtime supports (the OCI features document).
    Features,
    /// Write a default config.json.
    Spec(crate::runtime_cli::SpecArgs),
    /// Create a ready bundle: a busybox rootfs and a Docker-like config.json.
    Bundle(crate::runtime_cli::BundleArgs),
    /// Audit a saved trace: each container's birth, and security findings.
    Report(crate::report_cli::ReportArgs),
    /// Compare two traces, normalised, for regression tests (exit 0: equivalent, 1: different).
    Diff(crate::report_cli::DiffArgs),
    /// Export a trace as Perfetto / Chrome trace events, or as an SVG timeline.
    Export(crate::report_cli::ExportArgs),
}

/// Where a trace goes and how it is shown.
#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Print the trace as JSON Lines on stdout instead of the timeline;
    /// the traced command's own stdout then goes to stderr, so that stdout
    /// stays pure JSON Lines.
    #[arg(long)]
    pub json: bool,
    /// Also write the trace to this file (JSON Lines, schemas/trace.schema.json);
    /// with `watch --rotate`, to files in this directory.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Size of the kernel ring buffer in bytes (a power of two).
    #[arg(long, default_value_t = OutputArgs::DEFAULT_RING, value_name = "BYTES")]
    pub ring_size: u32,
    /// Explain each phase and each kind of event in the timeline.
    #[arg(long)]
    pub explain: bool,
    /// Show the trace live in the terminal UI instead of the timeline (the
    /// traced command's output is discarded).
    #[arg(long, conflicts_with_all = ["json", "explain"])]
    pub tui: bool,
    /// Do not hook kernel functions by this path (`fexit`, `fentry` or
    /// `kprobe`; repeatable), as if the kernel refused it: the next path
    /// serves, down to the tracepoints. The header records the path taken.
    #[arg(long = "no-hook", value_name = "PATH")]
    pub no_hook: Vec<String>,
    /// Leave out these probes (comma-separated; `cradle doctor` lists them):
    /// their event kinds are marked unavailable in the trace. The essential
    /// ones (exec, task, namespaces) cannot be left out.
    #[arg(
        long = "skip-probe",
        value_name = "PROBE",
        value_delimiter = ',',
        env = "CRADLE_SKIP_PROBES"
    )]
    pub skip_probes: Vec<String>,
}

impl OutputArgs {
    pub const DEFAULT_RING: u32 = 8 << 20;
}

#[derive(Debug, Args)]
pub struct TraceArgs {
    #[command(flatten)]
    pub output: OutputArgs,
    /// Pause the traced runtime where each phase of a container begins
    /// (stopped in the kernel), resuming on Enter (`n` with --tui);
    /// `--step=pivot_root,mount` pauses after every call of those kinds
    /// instead.
    #[arg(long, value_name = "KINDS", num_args = 0..=1, require_equals = true, default_missing_value = "")]
    pub step: Option<String>,
    /// The command to run, and its arguments.
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "COMMAND"
    )]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    #[command(flatten)]
    pub output: OutputArgs,
    /// Follow this runtime executable (by file name; repeatable). Default:
    /// runc, crun, cradle, youki, runsc.
    #[arg(long, value_name = "NAME")]
    pub runtime: Vec<String>,
    /// Write the trace as a series of files in the directory given by
    /// --out, each a whole trace (header to trailer), starting a new one
    /// once the current one holds this many bytes (suffix K, M or G).
    #[arg(long, value_name = "SIZE", value_parser = parse_size, requires = "out")]
    pub rotate: Option<u64>,
    /// Forget a container once none of its processes is alive and nothing
    /// happened to it for this many seconds (its record is written then),
    /// so that a long-running watch holds only recent containers.
    #[arg(long, value_name = "SECONDS", default_value_t = 300)]
    pub window: u64,
    /// Record every capability check. By default, a granted check by a
    /// process outside every container (a runtime's `state` or `list` run
    /// by a daemon) is counted, not recorded; denied checks, and all checks
    /// of containers' processes, are recorded. The header says which.
    #[arg(long)]
    pub all_capability_checks: bool,
    /// Serve Prometheus metrics at http://ADDR/metrics (containers born,
    /// phase durations, events and losses, findings), e.g. 127.0.0.1:9464.
    #[arg(long, value_name = "ADDR")]
    pub metrics: Option<std::net::SocketAddr>,
    /// Send each container's birth as an OpenTelemetry trace to this OTLP
    /// endpoint (an OpenTelemetry Collector), e.g. http://127.0.0.1:4317.
    /// Batched; when the endpoint is away, spans are dropped and counted
    /// (trailer, metrics), and the watch goes on.
    #[arg(long, value_name = "ENDPOINT")]
    pub otlp: Option<String>,
    /// How to speak to the --otlp endpoint: grpc (port 4317) or http
    /// (HTTP/protobuf, port 4318, path /v1/traces).
    #[arg(long, value_enum, default_value_t = OtlpProtocol::Grpc, requires = "otlp")]
    pub otlp_protocol: OtlpProtocol,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OtlpProtocol {
    Grpc,
    Http,
}

impl From<OtlpProtocol> for cradle_export::otlp::Protocol {
    fn from(protocol: OtlpProtocol) -> Self {
        match protocol {
            OtlpProtocol::Grpc => cradle_export::otlp::Protocol::Grpc,
            OtlpProtocol::Http => cradle_export::otlp::Protocol::Http,
        }
    }
}

/// `64M` -> 67108864.
fn parse_size(text: &str) -> Result<u64, String> {
    let (digits, unit) = match text.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((at, _)) => text.split_at(at),
        None => (text, ""),
    };
    let shift = match unit.to_ascii_uppercase().as_str() {
        "" => 0,
        "K" => 10,
        "M" => 20,
        "G" => 30,
        _ => return Err(format!("{text:?}: a size is bytes, or a number with K, M or G")),
    };
    let size: u64 = digits.parse().map_err(|_| format!("{text:?}: not a size"))?;
    match size.checked_shl(shift).filter(|&bytes| bytes > 0 && bytes >> shift == size) {
        Some(bytes) => Ok(bytes),
        None => Err(format!("{text:?}: a size must be above 0 and below 16 EiB")),
    }
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// An event kind (mount, pivot_root, ...) or a phase (root_switch, ...);
    /// without one, lists them all.
    pub topic: Option<String>,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// The runtime that runs the container.
    #[arg(long, value_enum, default_value_t = DemoRuntime::Cradle)]
    pub runtime: DemoRuntime,
    /// Also save the trace to this file.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// The timeline without explanations.
    #[arg(long)]
    pub brief: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DemoRuntime {
    /// cradle's built-in runtime.
    Cradle,
    Runc,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// A trace file written by `--out`.
    pub trace: PathBuf,
    /// Explain each phase and each kind of event.
    #[arg(long)]
    pub explain: bool,
}

#[derive(Debug, Args)]
pub struct TuiArgs {
    /// A trace file written by `--out`.
    pub trace: PathBuf,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}
