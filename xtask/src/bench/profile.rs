//! Where a traced run's time goes beyond the floor: each program's run
//! time in the kernel (`kernel.bpf_stats_enabled`, read through bpftool
//! while the trace is alive) and the CPU time of cradle's own threads, the
//! reader, over the same runs.
//!
//! The programs are told apart as those loaded between a snapshot taken
//! before the trace and one taken inside it, so the bench needs a host
//! where nothing else loads BPF programs meanwhile (as for every number of
//! the bench). A tail-called handler has no statistics of its own: its time
//! is counted in the `sys_enter`/`sys_exit` program that called it.

use std::{collections::HashSet, path::Path, process::Command};

use anyhow::{Context, Result, bail};
use serde::Serialize;
use serde_json::Value;

use super::{Paths, runtimes::Runtime};

#[derive(Clone, Debug, Serialize)]
pub struct Profile {
    pub workload: String,
    pub programs: Vec<ProgramStats>,
    /// CPU time of every thread of `cradle trace` over the runs.
    pub reader_cpu_ms: f64,
    /// Wall time of the runs.
    pub workload_ms: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct ProgramStats {
    pub name: String,
    pub runs: u64,
    pub run_time_ns: u64,
}

impl Profile {
    pub fn program_ms(&self) -> f64 {
        self.programs.iter().map(|p| p.run_time_ns as f64 / 1e6).sum()
    }
}

/// `runs` sequential `RUNTIME run`s of the bundle in one `cradle trace`,
/// with BPF statistics on.
pub fn profile(
    paths: &Paths,
    runtime: &Runtime,
    bundle: &Path,
    work: &Path,
    runs: usize,
) -> Result<Profile> {
    let before: HashSet<u64> = programs()?.iter().filter_map(|p| p["id"].as_u64()).collect();
    let stats = StatsEnabled::new()?;
    let progs = work.join("progs.json");
    let cpu = work.join("reader-cpu");
    // The reader's threads' CPU time (schedstat, ns) before and after the
    // runs, and the programs' statistics while they are still loaded.
    let reader_cpu = "cat /proc/$PPID/task/*/schedstat | awk '{s+=$1} END {print s}'";
    let runs_script: Vec<String> = (0..runs)
        .map(|n| {
            format!(
                "{} run --bundle {} bench-prof-{}-{n} >/dev/null",
                runtime.command_line(),
                bundle.display(),
                std::process::id()
            )
        })
        .collect();
    let script = format!(
        "a=$({reader_cpu}); t0=$(date +%s%N); {}; t1=$(date +%s%N); b=$({reader_cpu}); \
         echo $((b - a)) $((t1 - t0)) > {}; bpftool prog show --json > {}",
        runs_script.join("; "),
        cpu.display(),
        progs.display()
    );
    let output = runtime
        .namespace
        .command(&paths.cradle)
        .args(["trace", "-o", "/dev/null", "--", "sh", "-c", &script])
        .output()
        .context("running the profiled trace")?;
    drop(stats);
    if !output.status.success() {
        bail!("the profiled trace failed: {}", String::from_utf8_lossy(&output.stderr).trim());
    }
    let listed: Vec<Value> = serde_json::from_slice(&std::fs::read(&progs)?)
        .with_context(|| format!("parsing {}", progs.display()))?;
    let mut programs: Vec<ProgramStats> = listed
        .iter()
        .filter(|p| p["id"].as_u64().is_some_and(|id| !before.contains(&id)))
        .filter_map(|p| {
            Some(ProgramStats {
                name: p["name"].as_str()?.to_string(),
                runs: p["run_cnt"].as_u64().unwrap_or(0),
                run_time_ns: p["run_time_ns"].as_u64().unwrap_or(0),
            })
        })
        .filter(|p| p.runs > 0)
        .collect();
    programs.sort_by_key(|p| std::cmp::Reverse(p.run_time_ns));
    let text = std::fs::read_to_string(&cpu)?;
    let mut numbers = text.split_whitespace().map(|n| n.parse::<f64>());
    let (Some(Ok(reader_ns)), Some(Ok(wall_ns))) = (numbers.next(), numbers.next()) else {
        bail!("reading the reader's CPU time: {text:?}");
    };
    Ok(Profile {
        workload: format!("{runs} × `{} run` of the `true` bundle", runtime.name),
        programs,
        reader_cpu_ms: reader_ns / 1e6,
        workload_ms: wall_ns / 1e6,
    })
}

fn programs() -> Result<Vec<Value>> {
    let output = Command::new("bpftool").args(["prog", "show", "--json"]).output()?;
    if !output.status.success() {
        bail!("bpftool prog show: {}", String::from_utf8_lossy(&output.stderr).trim());
    }
    serde_json::from_slice(&output.stdout).context("parsing bpftool's program list")
}

/// `kernel.bpf_stats_enabled` on for its lifetime, then as it was.
struct StatsEnabled {
    before: String,
}

const BPF_STATS: &str = "/proc/sys/kernel/bpf_stats_enabled";

impl StatsEnabled {
    fn new() -> Result<StatsEnabled> {
        let before = std::fs::read_to_string(BPF_STATS).context("reading bpf_stats_enabled")?;
        std::fs::write(BPF_STATS, "1").context("enabling BPF statistics")?;
        Ok(StatsEnabled { before })
    }
}

impl Drop for StatsEnabled {
    fn drop(&mut self) {
        let _ = std::fs::write(BPF_STATS, self.before.trim());
    }
}
