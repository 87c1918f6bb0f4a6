//! Whole-process measurements of the runtimes: the container lifecycle of
//! cradle, runc and crun on one bundle, and what `cradle trace` costs a
//! traced `runc run` / `cradle run`. Runs are interleaved, round by round,
//! with the order rotated each round, so that drift in the machine's load
//! falls on every variant alike.

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};
use serde::Serialize;

use super::{
    Paths,
    process::{MountNamespace, pidfd_open, read_pid, timed, wait_exit},
    stats::Spread,
};

/// Rounds run and thrown away before measuring (caches, page cache).
const WARMUP_ROUNDS: usize = 2;
/// The same for the slower tracing rounds.
const TRACE_WARMUP_ROUNDS: usize = 1;

/// A runtime as the bench drives it: its command line and the mount
/// namespace its commands are entered into.
pub struct Runtime {
    pub name: &'static str,
    program: PathBuf,
    global_args: Vec<String>,
    pub namespace: MountNamespace,
}

impl Runtime {
    pub fn new(
        name: &'static str,
        program: impl Into<PathBuf>,
        global_args: &[&str],
        state_root: &Path,
        namespace: MountNamespace,
    ) -> Runtime {
        let mut args = vec!["--root".to_string(), state_root.display().to_string()];
        args.extend(global_args.iter().map(|arg| arg.to_string()));
        Runtime { name, program: program.into(), global_args: args, namespace }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = self.namespace.command(&self.program);
        command.args(&self.global_args).args(args);
        command
    }

    /// The program and global flags, as a shell command line.
    pub fn command_line(&self) -> String {
        self.argv().join(" ")
    }

    fn argv(&self) -> Vec<String> {
        let mut argv = vec![self.program.display().to_string()];
        argv.extend(self.global_args.iter().cloned());
        argv
    }

    /// `run --bundle BUNDLE ID`, to its end, its output discarded.
    pub fn run(&self, bundle: &Path, id: &str) -> Result<()> {
        let bundle = bundle.to_str().context("bundle path is not UTF-8")?;
        let status = self
            .command(&["run", "--bundle", bundle, id])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .with_context(|| format!("{} run {id}", self.name))?;
        anyhow::ensure!(status.success(), "{} run {id}: {status}", self.name);
        Ok(())
    }

    /// How this runtime's commands are wrapped, for the report.
    pub fn describe(&self) -> String {
        format!(
            "`{} {}` in the {} mount namespace",
            self.program.file_name().unwrap_or_default().to_string_lossy(),
            self.global_args.join(" "),
            self.namespace.name
        )
    }
}

/// The four steps of one container's life, timed one by one.
#[derive(Clone, Copy, Debug, Default)]
struct Steps {
    create: Duration,
    start: Duration,
    wait: Duration,
    delete: Duration,
}

impl Steps {
    fn total(&self) -> Duration {
        self.create + self.start + self.wait + self.delete
    }
}

/// create + start + wait + delete of one container.
fn lifecycle_once(runtime: &Runtime, bundle: &Path, id: &str, pid_file: &Path) -> Result<Steps> {
    let _ = std::fs::remove_file(pid_file);
    let bundle = bundle.to_str().context("bundle path is not UTF-8")?;
    let pid_path = pid_file.to_str().context("pid file path is not UTF-8")?;
    let log = pid_file.with_extension("stderr");
    let result = (|| -> Result<Steps> {
        let create = timed(
            &mut runtime.command(&["create", "--bundle", bundle, "--pid-file", pid_path, id]),
            &log,
        )?;
        let pidfd = pidfd_open(read_pid(pid_file)?)?;
        let start = timed(&mut runtime.command(&["start", id]), &log)?;
        let waited = Instant::now();
        wait_exit(&pidfd, Duration::from_secs(20))?;
        let wait = waited.elapsed();
        let delete = timed(&mut runtime.command(&["delete", id]), &log)?;
        Ok(Steps { create, start, wait, delete })
    })();
    if result.is_err() {
        let _ = runtime.command(&["delete", "--force", id]).output();
    }
    result.with_context(|| format!("{} lifecycle of container {id}", runtime.name))
}

/// One runtime's lifecycle measurements, in milliseconds.
#[derive(Clone, Debug, Serialize)]
pub struct Lifecycle {
    pub runtime: &'static str,
    pub wrapper: String,
    pub total: Spread,
    pub create: Spread,
    pub start: Spread,
    pub wait: Spread,
    pub delete: Spread,
}

/// Interleaved lifecycles of every runtime on `bundle`, `rounds` each.
pub fn lifecycle(
    runtimes: &[Runtime],
    bundle: &Path,
    work: &Path,
    rounds: usize,
) -> Result<Vec<Lifecycle>> {
    let mut samples = vec![Vec::new(); runtimes.len()];
    for round in 0..WARMUP_ROUNDS + rounds {
        for index in rotation(runtimes.len(), round) {
            let runtime = &runtimes[index];
            let id = format!("bench-{}-{}-{round}", std::process::id(), runtime.name);
            let pid_file = work.join(format!("{}.pid", runtime.name));
            let steps = lifecycle_once(runtime, bundle, &id, &pid_file)?;
            if round >= WARMUP_ROUNDS {
                samples[index].push(steps);
            }
        }
    }
    runtimes
        .iter()
        .zip(samples)
        .map(|(runtime, steps)| {
            let ms = |pick: fn(&Steps) -> Duration| {
                let values: Vec<f64> = steps.iter().map(|s| millis(pick(s))).collect();
                Spread::of(&values).context("no lifecycle samples")
            };
            Ok(Lifecycle {
                runtime: runtime.name,
                wrapper: runtime.describe(),
                total: ms(Steps::total)?,
                create: ms(|s| s.create)?,
                start: ms(|s| s.start)?,
                wait: ms(|s| s.wait)?,
                delete: ms(|s| s.delete)?,
            })
        })
        .collect()
}

/// The cost of the wrapper itself: `/bin/true` spawned plainly and spawned
/// through the same setns pre-exec hook as the runtimes, in milliseconds.
#[derive(Clone, Debug, Serialize)]
pub struct WrapperCost {
    pub plain: Spread,
    pub wrapped: Spread,
}

pub fn wrapper_cost(namespace: &MountNamespace, work: &Path, rounds: usize) -> Result<WrapperCost> {
    let (mut plain, mut wrapped) = (Vec::new(), Vec::new());
    let log = work.join("true.stderr");
    for _ in 0..rounds {
        plain.push(millis(timed(&mut Command::new("/bin/true"), &log)?));
        wrapped.push(millis(timed(&mut namespace.command("/bin/true"), &log)?));
    }
    Ok(WrapperCost {
        plain: Spread::of(&plain).context("no samples")?,
        wrapped: Spread::of(&wrapped).context("no samples")?,
    })
}

/// `RUNTIME run` of the bundle untraced, under the floor (`cradle trace`
/// with `CRADLE_BENCH_FLOOR`: every program attached, each returning at
/// once) and under `cradle trace`, in ms.
#[derive(Clone, Debug, Serialize)]
pub struct TracingCost {
    pub runtime: &'static str,
    /// The run command's own time, measured by a timer process around it
    /// (inside the trace when traced): what tracing costs the workload.
    pub plain: Spread,
    pub floor: Spread,
    pub traced: Spread,
    /// Wall time of the whole command line, `cradle trace` included:
    /// loading and attaching the probes, and detaching them at the end.
    pub plain_whole: Spread,
    pub floor_whole: Spread,
    pub traced_whole: Spread,
}

/// How a tracing-cost run is made.
#[derive(Clone, Copy, PartialEq)]
enum Tracing {
    Untraced,
    Floor,
    Traced,
}

const TRACINGS: [Tracing; 3] = [Tracing::Untraced, Tracing::Floor, Tracing::Traced];

/// Interleaved `run`s of each runtime, plain and under `cradle trace`.
pub fn tracing_cost(
    runtimes: &[&Runtime],
    paths: &Paths,
    bundle: &Path,
    work: &Path,
    rounds: usize,
) -> Result<Vec<TracingCost>> {
    // (runtime, tracing) pairs, each with (workload, whole) samples.
    let variants: Vec<(usize, Tracing)> =
        (0..runtimes.len()).flat_map(|r| TRACINGS.map(|tracing| (r, tracing))).collect();
    let mut samples = vec![(Vec::new(), Vec::new()); variants.len()];
    let trace_out = work.join("trace.txt");
    for round in 0..TRACE_WARMUP_ROUNDS + rounds {
        for index in rotation(variants.len(), round) {
            let (runtime_index, tracing) = variants[index];
            let runtime = runtimes[runtime_index];
            let id = format!("bench-run-{}-{}-{round}-{index}", std::process::id(), runtime.name);
            let mut run = vec![paths.xtask.display().to_string(), "stopwatch".into(), "--".into()];
            run.extend(runtime.argv());
            run.extend(["run".into(), "--bundle".into(), bundle.display().to_string(), id]);
            let mut command = if tracing == Tracing::Untraced {
                let mut command = runtime.namespace.command(&run[0]);
                command.args(&run[1..]);
                command
            } else {
                let mut command = runtime.namespace.command(&paths.cradle);
                command.args(["trace", "--out"]).arg(&trace_out).arg("--").args(&run);
                if tracing == Tracing::Floor {
                    command.env("CRADLE_BENCH_FLOOR", "1");
                }
                command
            };
            let started = Instant::now();
            let output = command.output().with_context(|| format!("running {command:?}"))?;
            let whole = started.elapsed();
            if !output.status.success() {
                bail!(
                    "{command:?} failed ({}): {}",
                    output.status,
                    String::from_utf8_lossy(&output.stderr).trim()
                );
            }
            let workload = parse_elapsed(&String::from_utf8_lossy(&output.stdout))
                .with_context(|| format!("reading the timer's output of {command:?}"))?;
            if round >= TRACE_WARMUP_ROUNDS {
                samples[index].0.push(millis(workload));
                samples[index].1.push(millis(whole));
            }
        }
    }
    let spread = |values: &[f64]| Spread::of(values).context("no tracing samples");
    runtimes
        .iter()
        .enumerate()
        .map(|(r, runtime)| {
            let [plain, floor, traced] = [0, 1, 2].map(|t| &samples[TRACINGS.len() * r + t]);
            Ok(TracingCost {
                runtime: runtime.name,
                plain: spread(&plain.0)?,
                floor: spread(&floor.0)?,
                traced: spread(&traced.0)?,
                plain_whole: spread(&plain.1)?,
                floor_whole: spread(&floor.1)?,
                traced_whole: spread(&traced.1)?,
            })
        })
        .collect()
}

/// The timer's report: a line `elapsed_ns N` (see `stopwatch`).
pub fn parse_elapsed(stdout: &str) -> Option<Duration> {
    stdout
        .lines()
        .rev()
        .find_map(|line| line.strip_prefix("elapsed_ns "))
        .and_then(|n| n.trim().parse().ok())
        .map(Duration::from_nanos)
}

/// Runs `command`, its output discarded, and prints `elapsed_ns N` for its
/// wall time; fails with its status. The bench's in-trace stopwatch.
pub fn stopwatch(command: &[String]) -> Result<()> {
    let (program, args) = command.split_first().context("stopwatch: no command")?;
    let started = Instant::now();
    let status = Command::new(program)
        .args(args)
        .stdout(std::process::Stdio::null())
        .status()
        .with_context(|| format!("running {program}"))?;
    let elapsed = started.elapsed();
    if !status.success() {
        bail!("{command:?} failed: {status}");
    }
    println!("elapsed_ns {}", elapsed.as_nanos());
    Ok(())
}

/// The order of `count` variants in `round`: rotated by one each round.
pub fn rotation(count: usize, round: usize) -> impl Iterator<Item = usize> {
    (0..count).map(move |i| (i + round) % count)
}

pub fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_puts_each_variant_first_in_turn() {
        assert_eq!(rotation(3, 0).collect::<Vec<_>>(), [0, 1, 2]);
        assert_eq!(rotation(3, 1).collect::<Vec<_>>(), [1, 2, 0]);
        assert_eq!(rotation(3, 5).collect::<Vec<_>>(), [2, 0, 1]);
    }

    #[test]
    fn reads_the_timer_line_after_other_output() {
        assert_eq!(parse_elapsed("hello\nelapsed_ns 1500000\n"), Some(Duration::from_micros(1500)));
        assert_eq!(parse_elapsed("elapsed_ns soon\n"), None);
        assert_eq!(parse_elapsed(""), None);
    }
}
