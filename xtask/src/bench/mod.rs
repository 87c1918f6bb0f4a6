//! `cargo xtask bench`: measures, in one run, the runtime lifecycle of
//! cradle against runc and crun, what tracing costs a traced run, the
//! collector's throughput and its peak memory; writes results.json and
//! results.md to the output directory and prints the table. Criterion
//! measures the in-process work; the runtimes are measured as whole
//! processes by the harness here.

mod collector;
mod host;
mod process;
mod profile;
mod report;
mod runtimes;
mod soak;
mod stats;

use std::{
    path::{Path, PathBuf},
    time::Instant,
};

use anyhow::{Context, Result};
use clap::Args;
use serde_json::Value;

pub use runtimes::stopwatch;

use crate::workspace::{cargo, run_checked, workspace_root};
use process::MountNamespace;
use report::{Machine, Results};
use runtimes::Runtime;

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Where results.json and results.md go.
    #[arg(long, value_name = "DIR", default_value = "target/bench")]
    pub out: PathBuf,
    /// Measured lifecycle rounds (each runtime once per round).
    #[arg(long, default_value_t = 60)]
    pub rounds: usize,
    /// Measured tracing-cost rounds (each variant once per round).
    #[arg(long, default_value_t = 20)]
    pub trace_rounds: usize,
    /// Processes of the end-to-end exec storm.
    #[arg(long, default_value_t = 20_000)]
    pub storm: u32,
    /// Traced syscalls in the memory session (one event each), on top of a
    /// container run and an exec storm.
    #[arg(long, default_value_t = 1_000_000)]
    pub session_calls: u32,
    /// Containers of the watch soak (runc and cradle in turn); 0 leaves it
    /// out. Its memory goal is judged from 2,000.
    #[arg(long, default_value_t = 2_000)]
    pub soak: usize,
    /// Rounds of each workload alone and under `cradle watch`, and of the
    /// tracer's startup.
    #[arg(long, default_value_t = 10)]
    pub host_rounds: usize,
    /// Execs of each of the 4 concurrent containers of the loss storm.
    #[arg(long, default_value_t = 5_000)]
    pub loss_storm: u32,
    /// Execs of the storm inside one container, halfway through the soak.
    #[arg(long, default_value_t = 5_000)]
    pub soak_storm: u32,
    /// Run only the watch soak and print its result (on a shared machine,
    /// with a reduced `--soak`).
    #[arg(long)]
    pub soak_only: bool,
}

/// The binaries the bench runs.
pub struct Paths {
    pub cradle: PathBuf,
    pub probe_actions: PathBuf,
    pub record: PathBuf,
    /// This program, whose `stopwatch` is the in-trace stopwatch.
    pub xtask: PathBuf,
}

pub fn run(args: BenchArgs) -> Result<()> {
    let started = Instant::now();
    let load_before = load_average();
    println!("== building release binaries");
    run_checked(cargo().args(["build", "--release", "-p", "cradle", "--bins"]))?;
    if !args.soak_only {
        run_checked(cargo().args([
            "build",
            "--release",
            "-p",
            "cradle-probes",
            "--example",
            "record",
        ]))?;
    }
    let release = workspace_root().join("target/release");
    let paths = Paths {
        cradle: release.join("cradle"),
        probe_actions: release.join("probe_actions"),
        record: release.join("examples/record"),
        xtask: std::env::current_exe().context("finding the xtask binary")?,
    };
    let work = std::env::temp_dir().join(format!("cradle-bench-{}", std::process::id()));
    std::fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
    if args.soak_only {
        let result = soak_alone(&args, &paths, &work);
        let _ = std::fs::remove_dir_all(&work);
        let soak = result?;
        println!("{}", serde_json::to_string_pretty(&soak)?);
        println!(
            "peak RSS growth after container {}: {:+.1}%",
            soak::WARM_UP,
            soak.growth_percent()
        );
        return Ok(());
    }
    let result = measure(&args, &paths, &work, load_before, started);
    let _ = std::fs::remove_dir_all(&work);
    let results = result?;

    let out = workspace_root().join(&args.out);
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let out = out.canonicalize().unwrap_or(out);
    let table = report::markdown(&results);
    std::fs::write(out.join("results.json"), serde_json::to_vec_pretty(&results)?)?;
    std::fs::write(out.join("results.md"), &table)?;
    println!("\n{table}");
    println!("results: {}", out.display());
    Ok(())
}

fn soak_alone(args: &BenchArgs, paths: &Paths, work: &Path) -> Result<soak::Soak> {
    let bundle = work.join("bundle");
    make_bundle(&paths.cradle, &bundle)?;
    let host = MountNamespace::current()?;
    let runc = Runtime::new("runc", "runc", &[], &work.join("state-runc"), host.clone());
    let cradle = Runtime::new("cradle", &paths.cradle, &[], &work.join("state-cradle"), host);
    run_soak(args, paths, work, &bundle, &[&runc, &cradle])
}

/// The soak over `runtimes` in turn, with a storm bundle made beside.
fn run_soak(
    args: &BenchArgs,
    paths: &Paths,
    work: &Path,
    bundle: &Path,
    runtimes: &[&Runtime],
) -> Result<soak::Soak> {
    let storm_bundle = work.join("storm-bundle");
    make_storm_bundle(&paths.cradle, &storm_bundle, args.soak_storm)?;
    soak::soak(paths, runtimes, bundle, &storm_bundle, work, args.soak, args.soak_storm)
}

fn measure(
    args: &BenchArgs,
    paths: &Paths,
    work: &Path,
    load_before: String,
    started: Instant,
) -> Result<Results> {
    let section = |name: &str| println!("== {name} ({:.0} s in)", started.elapsed().as_secs_f64());
    let bundle = work.join("bundle");
    make_bundle(&paths.cradle, &bundle)?;
    let host = MountNamespace::current()?;
    let runtimes = runtimes_compared(paths, work, &host)?;

    section("wrapper cost");
    let wrapper = runtimes::wrapper_cost(&host, work, args.rounds)?;
    section(&format!("lifecycle: {} rounds of {} runtimes", args.rounds, runtimes.len()));
    let lifecycle = runtimes::lifecycle(&runtimes, &bundle, work, args.rounds)?;
    section(&format!("tracing cost: {} rounds", args.trace_rounds));
    let traced = [&runtimes[1], &runtimes[0]];
    let tracing = runtimes::tracing_cost(&traced, paths, &bundle, work, args.trace_rounds)?;
    section("profile of the traced runs");
    let profiles = traced
        .iter()
        .map(|runtime| profile::profile(paths, runtime, &bundle, work, args.trace_rounds))
        .collect::<Result<Vec<_>>>()?;
    section(&format!("startup: {} rounds", args.host_rounds));
    let startup = host::startup(paths, work, args.host_rounds)?;
    let startup_breakdown = host::startup_breakdown(paths, work)?;
    section("the kernel's floor under a lifecycle");
    let floor = host::lifecycle_floor(work, args.rounds)?;
    section(&format!("watch's cost to the host: {} rounds", args.host_rounds));
    let watch_cost = host::watch_cost(paths, work, args.host_rounds)?;
    section("recording a stream");
    let recording = collector::record(paths, &runtimes[1], &bundle, work, 5_000)?;
    section("replaying it (criterion)");
    let replay = collector::replay(&recording)?;
    section(&format!("exec storm of {}", args.storm));
    let storm = exec_storm_session(args, paths, work)?;
    section("memory session");
    let memory = memory_session(args, paths, work, &bundle, &runtimes[1])?;

    section(&format!("loss: 4 concurrent storms of {}", args.loss_storm));
    let storm_bundle = work.join("loss-bundle");
    make_storm_bundle(&paths.cradle, &storm_bundle, args.loss_storm)?;
    let loss = host::loss(paths, &runtimes[1], &storm_bundle, work, args.loss_storm)?;

    let soak = match args.soak {
        0 => None,
        containers => {
            section(&format!("watch soak: {containers} containers and a storm"));
            Some(run_soak(args, paths, work, &bundle, &[&runtimes[1], &runtimes[0]])?)
        }
    };

    let goals =
        judge_goals(&lifecycle, &tracing, &replay, &memory, &startup, &watch_cost, soak.as_ref());
    Ok(Results {
        machine: machine(load_before)?,
        bench_seconds: started.elapsed().as_secs_f64(),
        wrapper,
        lifecycle,
        tracing,
        recording,
        replay,
        storm,
        memory,
        soak,
        profiles,
        startup,
        startup_breakdown,
        floor,
        watch_cost,
        loss,
        goals,
    })
}

/// The runtimes compared, each with its own state directory: cradle and
/// runc in the host's mount namespace, crun and cradle again in a
/// cgroup2-only one.
fn runtimes_compared(paths: &Paths, work: &Path, host: &MountNamespace) -> Result<[Runtime; 4]> {
    let cgroup2 = MountNamespace::cgroup2_only()?;
    let state = |name: &str| work.join(format!("state-{name}"));
    Ok([
        Runtime::new("cradle", &paths.cradle, &[], &state("cradle"), host.clone()),
        Runtime::new("runc", "runc", &[], &state("runc"), host.clone()),
        Runtime::new(
            "crun",
            "crun",
            &["--cgroup-manager=disabled"],
            &state("crun"),
            cgroup2.clone(),
        ),
        // cradle in crun's environment: the same cgroup2-only namespace.
        Runtime::new("cradle-cgroup2", &paths.cradle, &[], &state("cradle-cgroup2"), cgroup2),
    ])
}

/// A traced storm of `/bin/true` execs.
fn exec_storm_session(args: &BenchArgs, paths: &Paths, work: &Path) -> Result<collector::Session> {
    let probe_actions = paths.probe_actions.display().to_string();
    collector::traced_session(
        paths,
        work,
        &format!("exec storm of {} `/bin/true`", args.storm),
        &[],
        &[probe_actions, "storm".into(), args.storm.to_string()],
    )
}

/// The traced session the memory goal is about: a runc run, an exec storm
/// and many prctl calls.
fn memory_session(
    args: &BenchArgs,
    paths: &Paths,
    work: &Path,
    bundle: &Path,
    runc: &Runtime,
) -> Result<collector::Session> {
    let probe_actions = paths.probe_actions.display().to_string();
    let session = format!(
        "{} run --bundle {} bench-mem-{}; {probe_actions} storm 5000; {probe_actions} calls {}",
        runc.command_line(),
        bundle.display(),
        std::process::id(),
        args.session_calls
    );
    let memory = collector::traced_session(
        paths,
        work,
        &format!("runc run, exec storm of 5000, {} prctl calls", args.session_calls),
        &[],
        &["sh".into(), "-c".into(), session],
    )?;
    if memory.records + memory.lost < report::MEMORY_GOAL_EVENTS {
        // A shorter session (`--session-calls`) is measured and shown, but
        // the goal is about a million events.
        println!(
            "the memory session had {} events, fewer than the {} its goal is about: not judged",
            memory.records + memory.lost,
            report::MEMORY_GOAL_EVENTS
        );
    }
    Ok(memory)
}

/// Every goal judged on these measurements; a goal whose measurement was
/// cut short (fewer events, fewer soak containers) is not judged.
fn judge_goals(
    lifecycle: &[runtimes::Lifecycle],
    tracing: &[runtimes::TracingCost],
    replay: &[collector::Replay],
    memory: &collector::Session,
    startup: &host::Startup,
    watch_cost: &[host::WatchCost],
    soak: Option<&soak::Soak>,
) -> Vec<report::Goal> {
    let mut goals = report::goals(lifecycle, tracing, replay, memory);
    goals.extend(report::host_goals(startup, watch_cost));
    match soak {
        Some(soak) if soak.containers >= 2_000 => goals.push(report::Goal::at_most(
            "watch soak: peak RSS growth from container 200 to 2,000",
            soak.growth_percent(),
            10.0,
            "%",
        )),
        Some(soak) => println!(
            "the soak ran {} containers, fewer than the 2,000 its goal is about: not judged",
            soak.containers
        ),
        None => {}
    }
    goals
}

/// `cradle bundle DIR` with `true` as the container's process.
fn make_bundle(cradle: &Path, dir: &Path) -> Result<()> {
    run_checked(std::process::Command::new(cradle).arg("bundle").arg(dir))?;
    let config_path = dir.join("config.json");
    let mut config: Value = serde_json::from_slice(
        &std::fs::read(&config_path)
            .with_context(|| format!("reading {}", config_path.display()))?,
    )?;
    config["process"]["terminal"] = Value::Bool(false);
    std::fs::write(&config_path, serde_json::to_vec_pretty(&config)?)?;
    set_args(dir, serde_json::json!(["true"]))
}

/// A bundle whose process execs `/bin/true` `execs` times.
fn make_storm_bundle(cradle: &Path, dir: &Path, execs: u32) -> Result<()> {
    make_bundle(cradle, dir)?;
    let storm = format!("i=0; while [ $i -lt {execs} ]; do /bin/true; i=$((i+1)); done");
    set_args(dir, serde_json::json!(["sh", "-c", storm]))
}

/// Sets the process args of the bundle at `dir`.
fn set_args(dir: &Path, args: Value) -> Result<()> {
    let config_path = dir.join("config.json");
    let mut config: Value = serde_json::from_slice(
        &std::fs::read(&config_path)
            .with_context(|| format!("reading {}", config_path.display()))?,
    )?;
    config["process"]["args"] = args;
    std::fs::write(&config_path, serde_json::to_vec_pretty(&config)?)?;
    Ok(())
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| text.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn machine(load_before: String) -> Result<Machine> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let date = std::process::Command::new("date").args(["-u", "+%Y-%m-%d %H:%M UTC"]).output()?;
    Ok(Machine {
        kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")?.trim().to_string(),
        cpu: field(&cpuinfo, "model name").unwrap_or_else(|| "unknown CPU".into()),
        cpus: std::thread::available_parallelism().map_or(0, |n| n.get()),
        memory_gib: field(&meminfo, "MemTotal")
            .and_then(|kib| kib.trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(0.0, |kib| kib / (1024.0 * 1024.0)),
        load_before,
        load_after: load_average(),
        date: String::from_utf8_lossy(&date.stdout).trim().to_string(),
    })
}

/// The value of the first `name: value` line of a /proc text.
fn field(text: &str, name: &str) -> Option<String> {
    text.lines()
        .find_map(|line| line.split_once(':').filter(|(key, _)| key.trim() == name))
        .map(|(_, value)| value.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::field;

    #[test]
    fn reads_proc_fields() {
        let text =
            "processor\t: 0\nmodel name\t: Some CPU @ 2.00GHz\nMemTotal:       24000000 kB\n";
        assert_eq!(field(text, "model name").as_deref(), Some("Some CPU @ 2.00GHz"));
        assert_eq!(field(text, "MemTotal").as_deref(), Some("24000000 kB"));
        assert_eq!(field(text, "flags"), None);
    }
}
