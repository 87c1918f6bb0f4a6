//! The OCI runtime subcommands (runc's command-line contract), glued to
//! `cradle-runtime`. Runs without an async runtime: the library clones the
//! container's init from this process, which must stay single-threaded.

use std::{io::Write, path::PathBuf, process::ExitCode};

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use cradle_runtime::{
    CreateOptions, KillTarget, RunOptions, Runtime, bundle,
    config::ProcessConfig,
    exec::{ExecOptions, exec},
    network::{self, BridgeOptions},
    process::signals::parse_signal,
};
use oci_spec::runtime::Capability;

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The bundle directory (holds config.json).
    #[arg(long, short = 'b', default_value = ".", value_name = "DIR")]
    pub bundle: PathBuf,
    /// Write the init's pid to this file.
    #[arg(long, value_name = "FILE")]
    pub pid_file: Option<PathBuf>,
    /// Unix socket that receives the terminal's master (runc's protocol).
    #[arg(long, value_name = "SOCK")]
    pub console_socket: Option<PathBuf>,
    /// Switch root with chroot instead of pivot_root.
    #[arg(long)]
    pub no_pivot: bool,
    /// Keep the caller's session keyring (runc's `--no-new-keyring`).
    #[arg(long)]
    pub no_new_keyring: bool,
    /// Pass N more descriptors (3 .. 3+N) to the container's process.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub preserve_fds: u32,
    /// Networking: `none` (loopback only, as runc) or `bridge` (a veth
    /// pair to a host bridge, an address, a default route).
    #[arg(long, value_enum, default_value_t = NetMode::None)]
    pub net: NetMode,
    /// The bridge for `--net bridge`; created if missing.
    #[arg(long, value_name = "NAME", default_value = network::DEFAULT_BRIDGE)]
    pub bridge: String,
    /// The private subnet the bridge's addresses come from.
    #[arg(long, value_name = "CIDR", default_value = network::DEFAULT_SUBNET)]
    pub subnet: String,
    /// The container's id.
    pub id: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum NetMode {
    None,
    Bridge,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub create: CreateArgs,
    /// Return once the container is running instead of waiting for it.
    #[arg(long, short = 'd')]
    pub detach: bool,
    /// Keep the stopped container (its state and cgroup) after it exits,
    /// for `state` and `delete` (runc's `--keep`).
    #[arg(long, conflicts_with = "detach")]
    pub keep: bool,
    /// Do not adopt the container's orphaned processes (by default `run`
    /// is their child subreaper and reaps them, as runc's).
    #[arg(long)]
    pub no_subreaper: bool,
    /// Trace the run from the runtime's first syscall and show the
    /// container's birth; with `=FILE`, also save the trace there.
    #[arg(long, value_name = "FILE", num_args = 0..=1, require_equals = true, default_missing_value = "")]
    pub trace: Option<PathBuf>,
    /// With --trace: explain each phase and each kind of event.
    #[arg(long, requires = "trace")]
    pub explain: bool,
    /// Trace the run and show it live in the terminal UI (with --trace=FILE,
    /// also save the trace there).
    #[arg(long, conflicts_with = "explain")]
    pub tui: bool,
    /// Trace, and pause at each phase boundary until Enter, or `n` with
    /// --tui (see `cradle trace --step`).
    #[arg(long)]
    pub step: bool,
}

impl RunArgs {
    /// Whether this run is traced: it then runs the same command untraced
    /// as the tracer's child.
    pub fn traced(&self) -> bool {
        self.trace.is_some() || self.tui || self.step || self.explain
    }
}

#[derive(Debug, Args)]
pub struct IdArgs {
    pub id: String,
}

#[derive(Debug, Args)]
pub struct KillArgs {
    /// Signal every process in the container's cgroup, not only its init.
    #[arg(long, short = 'a')]
    pub all: bool,
    pub id: String,
    /// Signal name (TERM, SIGTERM) or number.
    #[arg(default_value = "SIGTERM")]
    pub signal: String,
}

#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// Kill the container first if it is running.
    #[arg(long, short = 'f')]
    pub force: bool,
    pub id: String,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ListFormat {
    Table,
    Json,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[arg(long, short = 'f', value_enum, default_value_t = ListFormat::Table)]
    pub format: ListFormat,
    /// Print only the ids.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct ExecArgs {
    /// A process.json (runc's): the whole process to run; the flags that
    /// describe a process are then ignored, as by runc.
    #[arg(long, short = 'p', value_name = "FILE")]
    pub process: Option<PathBuf>,
    /// Give the process a terminal.
    #[arg(long, short = 't')]
    pub tty: bool,
    /// Set an environment variable (repeatable).
    #[arg(long, short = 'e', value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Working directory inside the container.
    #[arg(long, value_name = "DIR")]
    pub cwd: Option<PathBuf>,
    /// Run as UID[:GID].
    #[arg(long, short = 'u', value_name = "UID[:GID]", value_parser = parse_user)]
    pub user: Option<(u32, Option<u32>)>,
    /// An additional group id (repeatable).
    #[arg(long, short = 'g', value_name = "GID")]
    pub additional_gids: Vec<u32>,
    /// Add a capability (CAP_NET_ADMIN) to the bounding, effective and
    /// permitted sets (repeatable).
    #[arg(long = "cap", short = 'c', value_name = "CAP", value_parser = parse_capability)]
    pub capabilities: Vec<Capability>,
    /// Set no_new_privileges for the process.
    #[arg(long)]
    pub no_new_privs: bool,
    /// The AppArmor profile for the process.
    #[arg(long, value_name = "PROFILE")]
    pub apparmor: Option<String>,
    /// The SELinux label for the process (refused: cradle applies no
    /// SELinux label; an empty one is no label).
    #[arg(long, value_name = "LABEL")]
    pub process_label: Option<String>,
    /// Return once the process is started.
    #[arg(long, short = 'd')]
    pub detach: bool,
    #[arg(long, value_name = "FILE")]
    pub pid_file: Option<PathBuf>,
    #[arg(long, value_name = "SOCK")]
    pub console_socket: Option<PathBuf>,
    /// Run in an existing sub-cgroup of the container's (repeatable, as
    /// runc: `[CONTROLLER[,CONTROLLER]:]PATH`).
    #[arg(long, value_name = "[CONTROLLER:]PATH")]
    pub cgroup: Vec<String>,
    /// Pass N more descriptors (3 .. 3+N) to the process.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub preserve_fds: u32,
    /// Run in a paused container too (runc's flag).
    #[arg(long)]
    pub ignore_paused: bool,
    pub id: String,
    /// The command and its arguments (none with --process).
    #[arg(
        required_unless_present = "process",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub command: Vec<String>,
}

fn parse_user(value: &str) -> Result<(u32, Option<u32>), String> {
    let number = |text: &str| text.parse::<u32>().map_err(|_| format!("{text:?} is not a number"));
    match value.split_once(':') {
        Some((uid, gid)) => Ok((number(uid)?, Some(number(gid)?))),
        None => Ok((number(value)?, None)),
    }
}

fn parse_capability(value: &str) -> Result<Capability, String> {
    let name = value.to_ascii_uppercase();
    let name = if name.starts_with("CAP_") { name } else { format!("CAP_{name}") };
    // The spec's names are serde's.
    serde_json::from_value(serde_json::Value::String(name))
        .map_err(|_| format!("unknown capability {value:?}"))
}

#[derive(Debug, Args)]
pub struct SpecArgs {
    /// Where to write config.json.
    #[arg(long, short = 'b', default_value = ".", value_name = "DIR")]
    pub bundle: PathBuf,
    /// A config for an unprivileged user (runc's `spec --rootless`): a user
    /// namespace mapping only the caller, and no cgroup settings.
    #[arg(long)]
    pub rootless: bool,
}

#[derive(Debug, Args)]
pub struct BundleArgs {
    /// The bundle directory to create (must not exist or be empty).
    pub dir: PathBuf,
}

fn create_options(args: &CreateArgs) -> anyhow::Result<CreateOptions> {
    let network = match args.net {
        NetMode::None => None,
        NetMode::Bridge => Some(BridgeOptions::new(&args.bridge, &args.subnet)?),
    };
    Ok(CreateOptions {
        bundle: args.bundle.clone(),
        pid_file: args.pid_file.clone(),
        console_socket: args.console_socket.clone(),
        no_pivot: args.no_pivot,
        no_new_keyring: args.no_new_keyring,
        preserve_fds: args.preserve_fds,
        network,
    })
}

pub fn create(root: PathBuf, args: CreateArgs) -> anyhow::Result<ExitCode> {
    Runtime::new(root).create(&args.id, &create_options(&args)?)?;
    Ok(ExitCode::SUCCESS)
}

pub fn start(root: PathBuf, args: IdArgs) -> anyhow::Result<ExitCode> {
    Runtime::new(root).start(&args.id)?;
    Ok(ExitCode::SUCCESS)
}

pub fn run(root: PathBuf, args: RunArgs) -> anyhow::Result<ExitCode> {
    let run = RunOptions { detach: args.detach, keep: args.keep, subreaper: !args.no_subreaper };
    let status = Runtime::new(root).run(&args.create.id, &create_options(&args.create)?, &run)?;
    Ok(exit_code(status))
}

pub fn state(root: PathBuf, args: IdArgs) -> anyhow::Result<ExitCode> {
    let state = Runtime::new(root).state(&args.id)?;
    println!("{}", serde_json::to_string_pretty(&state)?);
    Ok(ExitCode::SUCCESS)
}

pub fn kill(root: PathBuf, args: KillArgs) -> anyhow::Result<ExitCode> {
    let Some(signal) = parse_signal(&args.signal) else {
        bail!("unknown signal {:?}", args.signal);
    };
    let target = if args.all { KillTarget::All } else { KillTarget::Init };
    Runtime::new(root).kill(&args.id, signal, target)?;
    Ok(ExitCode::SUCCESS)
}

pub fn delete(root: PathBuf, args: DeleteArgs) -> anyhow::Result<ExitCode> {
    Runtime::new(root).delete(&args.id, args.force)?;
    Ok(ExitCode::SUCCESS)
}

pub fn list(root: PathBuf, args: ListArgs) -> anyhow::Result<ExitCode> {
    let states = Runtime::new(&root).list()?;
    let mut out = std::io::stdout().lock();
    if args.quiet {
        for state in &states {
            writeln!(out, "{}", state.id)?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let entries: Vec<ListEntry> = states.iter().map(|state| ListEntry::new(&root, state)).collect();
    match args.format {
        ListFormat::Json => writeln!(out, "{}", serde_json::to_string(&entries)?)?,
        ListFormat::Table => {
            let mut rows =
                vec![["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"].map(String::from)];
            rows.extend(entries.iter().map(|entry| {
                [
                    entry.id.clone(),
                    entry.pid.to_string(),
                    entry.status.to_string(),
                    entry.bundle.display().to_string(),
                    entry.created.clone(),
                    entry.owner.clone(),
                ]
            }));
            write!(out, "{}", aligned(&rows))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// One container as `runc list` shows it, fields in runc's order.
#[derive(serde::Serialize)]
struct ListEntry {
    #[serde(rename = "ociVersion")]
    oci_version: String,
    id: String,
    pid: i32,
    status: cradle_runtime::Status,
    bundle: PathBuf,
    rootfs: PathBuf,
    created: String,
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    annotations: std::collections::BTreeMap<String, String>,
    /// The user owning the container's state directory.
    owner: String,
}

impl ListEntry {
    fn new(root: &std::path::Path, state: &cradle_runtime::ContainerState) -> Self {
        use std::os::unix::fs::MetadataExt;
        let owner = match std::fs::metadata(root.join(&state.id)) {
            Ok(metadata) => {
                let uid = nix::unistd::Uid::from_raw(metadata.uid());
                match nix::unistd::User::from_uid(uid) {
                    Ok(Some(user)) => user.name,
                    _ => format!("#{uid}"),
                }
            }
            Err(_) => String::new(),
        };
        ListEntry {
            oci_version: state.oci_version.clone(),
            id: state.id.clone(),
            pid: state.pid,
            status: state.status,
            bundle: state.bundle.clone(),
            rootfs: state.rootfs.clone(),
            created: state.created.clone(),
            annotations: state.annotations.clone(),
            owner,
        }
    }
}

/// Columns as runc's tabwriter lays them out: each at least 12 wide, and
/// 3 wider than its widest cell; the last one unpadded.
fn aligned(rows: &[[String; 6]]) -> String {
    let widths: Vec<usize> = (0..6)
        .map(|column| {
            rows.iter().map(|row| row[column].chars().count() + 3).max().unwrap_or(0).max(12)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        for (column, cell) in row.iter().enumerate() {
            if column == 5 {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<width$}", width = widths[column]));
            }
        }
        out.push('\n');
    }
    out
}

pub fn exec_in(root: PathBuf, args: ExecArgs) -> anyhow::Result<ExitCode> {
    let process = match &args.process {
        Some(path) => Some(ProcessConfig::load(path)?),
        None => None,
    };
    let options = ExecOptions {
        process,
        args: args.command,
        env: args.env,
        cwd: args.cwd,
        tty: args.tty,
        user: args.user,
        additional_gids: args.additional_gids,
        capabilities: args.capabilities,
        no_new_privileges: args.no_new_privs,
        apparmor_profile: args.apparmor,
        selinux_label: args.process_label,
        detach: args.detach,
        pid_file: args.pid_file,
        console_socket: args.console_socket,
        cgroup: args.cgroup,
        preserve_fds: args.preserve_fds,
        ignore_paused: args.ignore_paused,
    };
    Ok(exit_code(exec(&Runtime::new(root), &args.id, &options)?))
}

pub fn spec(args: SpecArgs) -> anyhow::Result<ExitCode> {
    bundle::write_default_spec(&args.bundle, args.rootless)?;
    Ok(ExitCode::SUCCESS)
}

pub fn create_bundle(args: BundleArgs) -> anyhow::Result<ExitCode> {
    bundle::create_bundle(&args.dir)
        .with_context(|| format!("creating bundle {}", args.dir.display()))?;
    println!("{}", args.dir.display());
    Ok(ExitCode::SUCCESS)
}

fn exit_code(status: i32) -> ExitCode {
    ExitCode::from(u8::try_from(status).unwrap_or(255))
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum PsFormat {
    Table,
    Json,
}

#[derive(Debug, Args)]
pub struct PsArgs {
    #[arg(long, short = 'f', value_enum, default_value_t = PsFormat::Table)]
    pub format: PsFormat,
    pub id: String,
    /// Options for ps(1) with the table format (default `-ef`).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub ps_options: Vec<String>,
}

/// runc's `ps`: the container's pids as JSON, or ps(1)'s table cut down
/// to the container's processes.
pub fn ps(root: PathBuf, args: PsArgs) -> anyhow::Result<ExitCode> {
    let pids = Runtime::new(root).processes(&args.id)?;
    if let PsFormat::Json = args.format {
        println!("{}", serde_json::to_string(&pids)?);
        return Ok(ExitCode::SUCCESS);
    }
    let options = if args.ps_options.is_empty() { vec!["-ef".to_owned()] } else { args.ps_options };
    let output = std::process::Command::new("ps").args(&options).output().context("running ps")?;
    if !output.status.success() {
        bail!("ps {}: {}", options.join(" "), String::from_utf8_lossy(&output.stderr).trim());
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    let Some(column) = header.split_whitespace().position(|title| title == "PID") else {
        bail!("couldn't find PID field in ps output");
    };
    let mut out = std::io::stdout().lock();
    writeln!(out, "{header}")?;
    for line in lines {
        let pid = line.split_whitespace().nth(column).and_then(|pid| pid.parse::<i32>().ok());
        if pid.is_some_and(|pid| pids.contains(&pid)) {
            writeln!(out, "{line}")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn pause(root: PathBuf, args: IdArgs) -> anyhow::Result<ExitCode> {
    Runtime::new(root).pause(&args.id)?;
    Ok(ExitCode::SUCCESS)
}

pub fn resume(root: PathBuf, args: IdArgs) -> anyhow::Result<ExitCode> {
    Runtime::new(root).resume(&args.id)?;
    Ok(ExitCode::SUCCESS)
}

/// runc's `update`: a `linux.resources` JSON (`-r FILE`, `-r -` for
/// stdin), then each flag over it.
#[derive(Debug, Args)]
pub struct UpdateArgs {
    #[arg(long, short = 'r', value_name = "FILE")]
    pub resources: Option<PathBuf>,
    #[arg(long, value_name = "WEIGHT")]
    pub blkio_weight: Option<u16>,
    #[arg(long, value_name = "US")]
    pub cpu_period: Option<u64>,
    #[arg(long, value_name = "US")]
    pub cpu_quota: Option<i64>,
    #[arg(long, value_name = "SHARES")]
    pub cpu_share: Option<u64>,
    #[arg(long, value_name = "US")]
    pub cpu_rt_period: Option<u64>,
    #[arg(long, value_name = "US")]
    pub cpu_rt_runtime: Option<i64>,
    /// The cgroup's SCHED_IDLE class: 1 idle, 0 normal (runc 1.2's flag).
    #[arg(long, value_name = "0|1")]
    pub cpu_idle: Option<i64>,
    #[arg(long, value_name = "CPUS")]
    pub cpuset_cpus: Option<String>,
    #[arg(long, value_name = "MEMS")]
    pub cpuset_mems: Option<String>,
    /// Bytes, or with a unit: 64m, 1g (-1: no limit).
    #[arg(long, value_name = "BYTES", value_parser = parse_bytes, allow_hyphen_values = true)]
    pub memory: Option<i64>,
    #[arg(long, value_name = "BYTES", value_parser = parse_bytes, allow_hyphen_values = true)]
    pub memory_reservation: Option<i64>,
    /// Memory plus swap (-1: unlimited swap).
    #[arg(long, value_name = "BYTES", value_parser = parse_bytes, allow_hyphen_values = true)]
    pub memory_swap: Option<i64>,
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    pub id: String,
}

/// docker's RAMInBytes: a number with an optional b, k, m, g, t, p unit
/// (powers of 1024).
fn parse_bytes(value: &str) -> Result<i64, String> {
    if value == "-1" {
        return Ok(-1);
    }
    let lower = value.trim().to_ascii_lowercase();
    let digits = lower.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = &lower[digits.len()..];
    let shift = match unit.trim_end_matches('b').trim_end_matches('i') {
        "" => 0,
        "k" => 10,
        "m" => 20,
        "g" => 30,
        "t" => 40,
        "p" => 50,
        _ => return Err(format!("invalid size {value:?}")),
    };
    let number: i64 = digits.parse().map_err(|_| format!("invalid size {value:?}"))?;
    number.checked_mul(1 << shift).ok_or_else(|| format!("size {value:?} is too large"))
}

pub fn update(root: PathBuf, args: UpdateArgs) -> anyhow::Result<ExitCode> {
    let mut resources: serde_json::Value = match &args.resources {
        None => serde_json::json!({}),
        Some(path) => {
            let text = if path.as_os_str() == "-" {
                std::io::read_to_string(std::io::stdin()).context("reading resources from stdin")?
            } else {
                std::fs::read_to_string(path)
                    .with_context(|| format!("reading {}", path.display()))?
            };
            serde_json::from_str(&text).context("parsing the resources JSON")?
        }
    };
    let mut set = |section: &str, field: &str, value: serde_json::Value| {
        if !resources[section].is_object() {
            resources[section] = serde_json::json!({});
        }
        resources[section][field] = value;
    };
    let flags = [
        ("blockIO", "weight", args.blkio_weight.map(Into::into)),
        ("cpu", "period", args.cpu_period.map(Into::into)),
        ("cpu", "quota", args.cpu_quota.map(Into::into)),
        ("cpu", "shares", args.cpu_share.map(Into::into)),
        ("cpu", "realtimePeriod", args.cpu_rt_period.map(Into::into)),
        ("cpu", "realtimeRuntime", args.cpu_rt_runtime.map(Into::into)),
        ("cpu", "idle", args.cpu_idle.map(Into::into)),
        ("cpu", "cpus", args.cpuset_cpus.map(Into::into)),
        ("cpu", "mems", args.cpuset_mems.map(Into::into)),
        ("memory", "limit", args.memory.map(Into::into)),
        ("memory", "reservation", args.memory_reservation.map(Into::into)),
        ("memory", "swap", args.memory_swap.map(Into::into)),
        ("pids", "limit", args.pids_limit.map(Into::into)),
    ];
    for (section, field, value) in flags {
        if let Some(value) = value {
            set(section, field, value);
        }
    }
    let spec: oci_spec::runtime::LinuxResources =
        serde_json::from_value(resources).context("the resources JSON")?;
    let resources = cradle_runtime::cgroups::Resources::from_spec(&spec)?;
    Runtime::new(root).update(&args.id, &resources)?;
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Print the container's statistics once.
    #[arg(long)]
    pub stats: bool,
    /// How often to report (runc's default 5s).
    #[arg(long, value_name = "DURATION", default_value = "5s")]
    pub interval: String,
    pub id: String,
}

/// runc's `events` streams OOM notices and cgroup statistics; cradle
/// collects neither, and says so rather than print something else.
pub fn events(root: PathBuf, args: EventsArgs) -> anyhow::Result<ExitCode> {
    // The container must exist, as with runc; then the refusal.
    Runtime::new(root).state(&args.id)?;
    bail!("events is not supported by cradle: it collects no cgroup statistics or OOM events")
}

/// runc's `features`: what this runtime accepts, as JSON.
pub fn features() -> anyhow::Result<ExitCode> {
    println!("{}", serde_json::to_string_pretty(&cradle_runtime::features::document())?);
    Ok(ExitCode::SUCCESS)
}
