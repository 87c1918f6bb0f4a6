//! What cradle costs beyond the traced run itself: the tracer's startup and
//! shutdown, what a running `cradle watch` costs the rest of the host, the
//! kernel's floor under a container's lifecycle, and how fast concurrent
//! containers can exec before the ring drops records.

use std::{path::Path, process::Command, time::Instant};

use anyhow::{Context, Result, bail};
use serde::Serialize;

use super::{
    Paths,
    collector::{Session, traced_session},
    process::timed,
    runtimes::{Runtime, millis, rotation},
    soak::Watch,
    stats::Spread,
};

/// `cradle trace -o /dev/null -- true` from exec to exit, beside the plain
/// `true` it runs, in ms.
#[derive(Clone, Debug, Serialize)]
pub struct Startup {
    pub plain: Spread,
    pub traced: Spread,
}

pub fn startup(paths: &Paths, work: &Path, rounds: usize) -> Result<Startup> {
    let log = work.join("startup.stderr");
    let (mut plain, mut traced) = (Vec::new(), Vec::new());
    for round in 0..WARM_UP_ROUNDS + rounds {
        let plain_time = timed(&mut Command::new("/bin/true"), &log)?;
        let traced_time = timed(
            Command::new(&paths.cradle).args(["trace", "-o", "/dev/null", "--", "/bin/true"]),
            &log,
        )?;
        if round >= WARM_UP_ROUNDS {
            plain.push(millis(plain_time));
            traced.push(millis(traced_time));
        }
    }
    Ok(Startup {
        plain: Spread::of(&plain).context("no samples")?,
        traced: Spread::of(&traced).context("no samples")?,
    })
}

const WARM_UP_ROUNDS: usize = 2;

/// One untracked workload, timed with and without `cradle watch` running
/// on the host, in ms.
#[derive(Clone, Debug, Serialize)]
pub struct WatchCost {
    pub workload: String,
    pub alone: Spread,
    pub watched: Spread,
}

impl WatchCost {
    pub fn ratio(&self) -> f64 {
        self.watched.median / self.alone.median
    }
}

/// The micro workload (a tight syscall loop) and a realistic one (archiving
/// /usr/include through a pipe), each run alone and under a `cradle watch`
/// started for that run, the order rotated each round.
pub fn watch_cost(paths: &Paths, work: &Path, rounds: usize) -> Result<Vec<WatchCost>> {
    let probe_actions = paths.probe_actions.display().to_string();
    let workloads = [
        (
            "200,000 prctl calls (probe_actions calls)".to_string(),
            vec![probe_actions, "calls".into(), "200000".into()],
        ),
        (
            "tar c /usr/include | cat > /dev/null".to_string(),
            vec!["sh".into(), "-c".into(), "tar cf - -C /usr include | cat > /dev/null".into()],
        ),
    ];
    let log = work.join("watch-cost.stderr");
    let out = work.join("watch-cost.jsonl");
    workloads
        .into_iter()
        .map(|(name, argv)| {
            let (mut alone, mut watched) = (Vec::new(), Vec::new());
            for round in 0..WARM_UP_ROUNDS + rounds {
                for watching in rotation(2, round).map(|i| i == 1) {
                    let mut command = Command::new(&argv[0]);
                    command.args(&argv[1..]);
                    let elapsed = if watching {
                        let _ = std::fs::remove_file(&out);
                        let watch = Watch::start(paths, &[], &out)?;
                        let elapsed = timed(&mut command, &log);
                        watch.stop()?;
                        let _ = std::fs::remove_file(&out);
                        elapsed?
                    } else {
                        timed(&mut command, &log)?
                    };
                    if round >= WARM_UP_ROUNDS {
                        if watching { &mut watched } else { &mut alone }.push(millis(elapsed));
                    }
                }
            }
            Ok(WatchCost {
                workload: name,
                alone: Spread::of(&alone).context("no samples")?,
                watched: Spread::of(&watched).context("no samples")?,
            })
        })
        .collect()
}

/// What the kernel makes any runtime pay for a container's lifecycle: the
/// same namespaces unshared around an exec of `true`, and three process
/// spawns (a runtime's create, its init and the workload), in ms.
#[derive(Clone, Debug, Serialize)]
pub struct LifecycleFloor {
    pub unshare_exec: Spread,
    pub three_spawns: Spread,
}

pub fn lifecycle_floor(work: &Path, rounds: usize) -> Result<LifecycleFloor> {
    let log = work.join("floor.stderr");
    let (mut unshare, mut spawns) = (Vec::new(), Vec::new());
    for round in 0..WARM_UP_ROUNDS + rounds {
        let unshared = timed(
            Command::new("unshare").args([
                "--mount",
                "--uts",
                "--ipc",
                "--net",
                "--pid",
                "--cgroup",
                "--fork",
                "/bin/true",
            ]),
            &log,
        )?;
        let started = Instant::now();
        for _ in 0..3 {
            timed(&mut Command::new("/bin/true"), &log)?;
        }
        let three = started.elapsed();
        if round >= WARM_UP_ROUNDS {
            unshare.push(millis(unshared));
            spawns.push(millis(three));
        }
    }
    Ok(LifecycleFloor {
        unshare_exec: Spread::of(&unshare).context("no samples")?,
        three_spawns: Spread::of(&spawns).context("no samples")?,
    })
}

/// Concurrent containers each running an exec storm, traced at one ring
/// size.
#[derive(Clone, Debug, Serialize)]
pub struct Loss {
    pub containers: usize,
    pub execs_each: u32,
    pub session: Session,
}

/// The storm under the default ring, then under doubled rings until a
/// session loses nothing (or [`MAX_RING`] is reached).
pub fn loss(
    paths: &Paths,
    runtime: &Runtime,
    storm_bundle: &Path,
    work: &Path,
    execs_each: u32,
) -> Result<Vec<Loss>> {
    let containers = 4;
    let mut results = Vec::new();
    // The first session takes cradle's default ring; its header says how big.
    let mut ring: Option<u64> = None;
    loop {
        let runs: Vec<String> = (0..containers)
            .map(|n| {
                format!(
                    "{} run --bundle {} bench-loss-{}-{}-{n} &",
                    runtime.command_line(),
                    storm_bundle.display(),
                    std::process::id(),
                    results.len()
                )
            })
            .collect();
        let script = format!("{} wait", runs.join(" "));
        let session = traced_session(
            paths,
            work,
            &format!("{containers} containers, each an exec storm of {execs_each}"),
            &ring.map(|ring| vec!["--ring-size".into(), ring.to_string()]).unwrap_or_default(),
            &["sh".into(), "-c".into(), script],
        )?;
        let (lost, used) = (session.lost, session.ring_bytes);
        results.push(Loss { containers, execs_each, session });
        if lost == 0 || used >= MAX_RING {
            return Ok(results);
        }
        ring = Some(used * 2);
    }
}

/// The largest ring the loss measurement tries.
const MAX_RING: u64 = 256 << 20;

/// Where `cradle trace -o /dev/null -- /bin/true` spends its time, from one
/// run under `strace -f -T -ttt`. strace slows every syscall it stops, so
/// the shares matter more than the absolute times.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct StartupBreakdown {
    /// From cradle's exec to its first program load: the BTF, the object,
    /// the maps.
    pub before_loading_ms: f64,
    /// The program loads' own time (verification included), and their
    /// number (aya's feature probes among them).
    pub loading_ms: f64,
    pub loads: usize,
    /// The slowest program loads, by name (the kernel keeps 15 bytes).
    pub slowest_loads: Vec<(String, f64)>,
    /// The attach calls' own time (raw tracepoints, links, perf events).
    pub attaching_ms: f64,
    /// From the end of the last load to the command's exec.
    pub after_loading_ms: f64,
    /// From the command's exit to cradle's: detaching, the trailer.
    pub shutdown_ms: f64,
}

pub fn startup_breakdown(paths: &Paths, work: &Path) -> Result<StartupBreakdown> {
    let log = work.join("startup.strace");
    let output = Command::new("strace")
        .args(["-f", "-T", "-ttt", "-e", "trace=bpf,perf_event_open,execve,exit_group", "-o"])
        .arg(&log)
        .arg(&paths.cradle)
        .args(["trace", "-o", "/dev/null", "--", "/bin/true"])
        .output()
        .context("running strace (cargo xtask setup installs it)")?;
    if !output.status.success() {
        bail!("strace of cradle trace failed: {}", String::from_utf8_lossy(&output.stderr).trim());
    }
    let text = std::fs::read_to_string(&log)?;
    breakdown_of(&text).context("reading strace's log of cradle trace")
}

/// The breakdown from an `strace -f -T -ttt` log: lines `PID SECONDS
/// call(...) = RESULT <DURATION>`.
fn breakdown_of(log: &str) -> Option<StartupBreakdown> {
    let parsed: Vec<(u32, f64, &str, f64)> = log
        .lines()
        .filter_map(|line| {
            // strace pads the pid column: split on runs of blanks.
            let (pid, rest) = line.trim_start().split_once(' ')?;
            let (at, call) = rest.trim_start().split_once(' ')?;
            let (pid, at) = (pid.parse().ok()?, at.parse().ok()?);
            let took = call
                .rsplit_once('<')
                .and_then(|(_, rest)| rest.strip_suffix('>')?.parse().ok())
                .unwrap_or(0.0);
            Some((pid, at, call, took))
        })
        .collect();
    let &(cradle, started, _, _) = parsed.first()?;
    let loads: Vec<&(u32, f64, &str, f64)> =
        parsed.iter().filter(|(_, _, call, _)| call.starts_with("bpf(BPF_PROG_LOAD")).collect();
    let first_load = loads.first()?.1;
    let last_load_end = loads.iter().map(|(_, at, _, took)| at + took).fold(0.0, f64::max);
    let command = parsed.iter().find(|(pid, _, call, _)| {
        // An exec split across lines (`<unfinished ...>`) has no result on
        // its first line; only a failed one says `= -1`.
        *pid != cradle && call.starts_with("execve(\"/bin/true\"") && !call.contains("= -1")
    })?;
    let command_exit = parsed
        .iter()
        .find(|(pid, _, call, _)| *pid == command.0 && call.starts_with("exit_group"))?;
    let cradle_exit =
        parsed.iter().find(|(pid, _, call, _)| *pid == cradle && call.starts_with("exit_group"))?;
    let mut slowest: Vec<(String, f64)> = loads
        .iter()
        .map(|(_, _, call, took)| {
            let name = call
                .split_once("prog_name=\"")
                .and_then(|(_, rest)| rest.split_once('"'))
                .map_or("", |(name, _)| name);
            (name.to_string(), took * 1e3)
        })
        .collect();
    slowest.sort_by(|a, b| b.1.total_cmp(&a.1));
    slowest.truncate(5);
    let attach = ["bpf(BPF_RAW_TRACEPOINT_OPEN", "bpf(BPF_LINK_CREATE", "perf_event_open("];
    Some(StartupBreakdown {
        before_loading_ms: (first_load - started) * 1e3,
        loading_ms: loads.iter().map(|(_, _, _, took)| took * 1e3).sum(),
        loads: loads.len(),
        slowest_loads: slowest,
        attaching_ms: parsed
            .iter()
            .filter(|(_, _, call, _)| attach.iter().any(|prefix| call.starts_with(prefix)))
            .map(|(_, _, _, took)| took * 1e3)
            .sum(),
        after_loading_ms: (command.1 - last_load_end) * 1e3,
        shutdown_ms: (cradle_exit.1 - command_exit.1) * 1e3,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_startup_is_broken_down_from_straces_log() {
        let log = "\
10 100.000000 execve(\"/x/cradle\", [\"cradle\"], 0x0 /* 3 vars */) = 0 <0.001000>
10 100.100000 bpf(BPF_PROG_LOAD, {prog_name=\"a\", insn_cnt=2}, 148) = 5 <0.010000>
10 100.120000 bpf(BPF_PROG_LOAD, {prog_name=\"sys_exit_send\", insn_cnt=9}, 148) = 6 <0.030000>
10 100.160000 bpf(BPF_RAW_TRACEPOINT_OPEN, {raw_tracepoint={name=\"x\", prog_fd=6}}, 152) = 7 <0.002000>
9   100.200000 execve(\"/bin/true\", [\"/bin/true\"], 0x0 /* 3 vars */ <unfinished ...>
9   100.210000 exit_group(0)                     = ?
10 100.250000 exit_group(0)                     = ?
";
        let breakdown = breakdown_of(log).unwrap();
        let close = |a: f64, b: f64| (a - b).abs() < 1e-6;
        assert!(close(breakdown.before_loading_ms, 100.0), "{breakdown:?}");
        assert!(close(breakdown.loading_ms, 40.0), "{breakdown:?}");
        assert_eq!(breakdown.loads, 2);
        assert_eq!(breakdown.slowest_loads[0].0, "sys_exit_send");
        assert!(close(breakdown.attaching_ms, 2.0), "{breakdown:?}");
        assert!(close(breakdown.after_loading_ms, 50.0), "{breakdown:?}");
        assert!(close(breakdown.shutdown_ms, 40.0), "{breakdown:?}");
        assert_eq!(breakdown_of("garbage\n"), None);
    }
}
