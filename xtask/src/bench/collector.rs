//! The collector's measurements: decode + correlation throughput replayed
//! from a recorded stream (criterion, `events/benches/replay.rs`), events
//! per second end to end under an exec storm, and peak memory while
//! tracing a session of a million events.

use std::{
    fs::File,
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    thread,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};
use serde::Serialize;
use serde_json::Value;

use super::{
    Paths,
    process::reap,
    runtimes::{Runtime, parse_elapsed},
    stats::Spread,
};
use crate::workspace::cargo;

/// What the recorder wrote.
#[derive(Clone, Debug, Serialize)]
pub struct Recording {
    pub path: PathBuf,
    pub records: u64,
    pub lost: u64,
    pub workload: String,
}

/// Records the raw ring records of a runc container run plus an exec storm.
pub fn record(
    paths: &Paths,
    runc: &Runtime,
    bundle: &Path,
    work: &Path,
    execs: u32,
) -> Result<Recording> {
    let path = work.join("stream.raw");
    let workload = format!(
        "{} run --bundle {} bench-rec-{}; {} storm {execs}",
        runc.command_line(),
        bundle.display(),
        std::process::id(),
        paths.probe_actions.display()
    );
    let output = Command::new(&paths.record)
        .arg(&path)
        .args(["--", "sh", "-c", &workload])
        .stdin(Stdio::null())
        .output()
        .context("running the recorder")?;
    if !output.status.success() {
        bail!("recording failed ({}): {}", output.status, String::from_utf8_lossy(&output.stderr));
    }
    let report: Value = serde_json::from_slice(last_line(&output.stdout)).with_context(|| {
        format!("recorder output {:?}", String::from_utf8_lossy(&output.stdout))
    })?;
    if report["status"] != 0 {
        bail!("the recorded workload failed: {report}");
    }
    Ok(Recording {
        path,
        records: report["records"].as_u64().context("records")?,
        lost: report["lost"].as_u64().context("lost")?,
        workload: format!(
            "runc run of a busybox `true` bundle, then an exec storm of {execs} `/bin/true`"
        ),
    })
}

fn last_line(bytes: &[u8]) -> &[u8] {
    let trimmed = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    trimmed.rsplit(|&b| b == b'\n').next().unwrap_or(trimmed)
}

/// One criterion benchmark of the replay, in events per second.
#[derive(Clone, Debug, Serialize)]
pub struct Replay {
    pub name: String,
    pub events_per_second: Spread,
}

/// Runs the criterion replay bench on `recording`; reads its samples back.
pub fn replay(recording: &Recording) -> Result<Vec<Replay>> {
    let criterion = crate::workspace::workspace_root().join("target/criterion/replay");
    let _ = std::fs::remove_dir_all(&criterion);
    crate::workspace::run_checked(
        cargo()
            .args(["bench", "-p", "cradle-events", "--bench", "replay"])
            .env("CRADLE_BENCH_RECORDING", &recording.path),
    )?;
    ["decode", "decode_join_collect"]
        .into_iter()
        .map(|name| {
            let dir = criterion.join(name);
            let read = |file: &str| -> Result<Value> {
                let path = dir.join(file);
                serde_json::from_slice(
                    &std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?,
                )
                .with_context(|| format!("parsing {}", path.display()))
            };
            let rates = events_per_second(&read("new/sample.json")?, &read("new/benchmark.json")?)?;
            Ok(Replay {
                name: name.to_string(),
                events_per_second: Spread::of(&rates).context("criterion wrote no samples")?,
            })
        })
        .collect()
}

/// Events per second of each criterion sample: the benchmark's elements
/// times the sample's iterations, over the sample's time in nanoseconds.
pub fn events_per_second(sample: &Value, benchmark: &Value) -> Result<Vec<f64>> {
    let elements = benchmark["throughput"]["Elements"].as_f64().context("throughput.Elements")?;
    let iters = sample["iters"].as_array().context("iters")?;
    let times = sample["times"].as_array().context("times")?;
    if iters.len() != times.len() {
        bail!("criterion sample has {} iteration counts for {} times", iters.len(), times.len());
    }
    iters
        .iter()
        .zip(times)
        .map(|(iters, time)| {
            let (iters, time) = (iters.as_f64().context("iters")?, time.as_f64().context("time")?);
            Ok(elements * iters / time * 1e9)
        })
        .collect()
}

/// A traced session: what the trailer of `cradle trace --json` says.
#[derive(Clone, Debug, Serialize)]
pub struct Session {
    pub workload: String,
    /// Records cradle read from the ring (decoded or not).
    pub records: u64,
    pub undecodable: u64,
    /// Records the kernel could not put in the full ring.
    pub lost: u64,
    /// The kernel ring's size, as the trace's header gives it.
    pub ring_bytes: u64,
    /// The workload's own time, measured inside the trace.
    pub workload_seconds: f64,
    /// `cradle trace` from start to exit.
    pub whole_seconds: f64,
    /// Sampled VmHWM of the `cradle trace` process, in KiB.
    pub peak_rss_kib: u64,
    /// wait4's ru_maxrss: the largest of cradle and the processes it reaped.
    pub max_rss_with_children_kib: u64,
}

impl Session {
    /// Records handled per second of the workload's time.
    pub fn records_per_second(&self) -> f64 {
        self.records as f64 / self.workload_seconds
    }
}

/// `cradle trace --json` of `command` (timed inside the trace), with
/// `trace_args` added, its output streamed through a FIFO and only its
/// header's ring size and its trailer kept.
pub fn traced_session(
    paths: &Paths,
    work: &Path,
    workload: &str,
    trace_args: &[String],
    command: &[String],
) -> Result<Session> {
    let fifo = work.join("trace.fifo");
    let _ = std::fs::remove_file(&fifo);
    make_fifo(&fifo)?;
    let reader = {
        let fifo = fifo.clone();
        thread::spawn(move || -> Result<Summary> {
            let file = File::open(&fifo).with_context(|| format!("opening {}", fifo.display()))?;
            trailer_of(BufReader::with_capacity(1 << 20, file))
        })
    };
    let started = Instant::now();
    let child = Command::new(&paths.cradle)
        .args(["trace", "--json", "--out"])
        .arg(&fifo)
        .args(trace_args)
        .arg("--")
        .arg(&paths.xtask)
        .args(["stopwatch", "--"])
        .args(command)
        // With --json, cradle sends the command's stdout (the timer's
        // line) to its stderr; its own stdout repeats the FIFO's stream.
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting cradle trace")?;
    let pid = child.id();
    let sampler = thread::spawn(move || sample_hwm(pid));
    let mut child = child;
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().expect("piped"), &mut stderr)?;
    let reaped = reap(child, started)?;
    unblock_reader(&fifo);
    let peak_rss_kib = sampler.join().expect("sampler thread");
    let summary = reader.join().expect("reader thread")?;
    if !reaped.success {
        bail!("cradle trace of {command:?} failed: {}", stderr.trim());
    }
    let trailer = summary.trailer.context("cradle trace wrote no trailer line")?;
    let header = summary.header.context("cradle trace wrote no header line")?;
    let workload_time = parse_elapsed(&stderr).context("the timer printed no elapsed time")?;
    let _ = std::fs::remove_file(&fifo);
    Ok(Session {
        workload: workload.to_string(),
        records: trailer["records"].as_u64().context("trailer.records")?,
        undecodable: trailer["undecodable"].as_u64().context("trailer.undecodable")?,
        lost: trailer["lost"].as_u64().context("trailer.lost")?,
        ring_bytes: header["ring_bytes"].as_u64().context("header.ring_bytes")?,
        workload_seconds: workload_time.as_secs_f64(),
        whole_seconds: reaped.elapsed.as_secs_f64(),
        peak_rss_kib,
        max_rss_with_children_kib: reaped.max_rss_kib,
    })
}

/// If cradle failed before it opened the FIFO, the reader still waits in
/// open(2): open and close the writing end to let it see the end. When the
/// reader is gone this fails (ENXIO), and when cradle's output is still
/// being read, it only adds a writer that leaves at once.
fn unblock_reader(fifo: &Path) {
    use std::os::unix::fs::OpenOptionsExt;
    let _ = std::fs::OpenOptions::new().write(true).custom_flags(libc::O_NONBLOCK).open(fifo);
}

fn make_fifo(path: &Path) -> Result<()> {
    let c_path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes())?;
    // SAFETY: a valid NUL-terminated path and a mode.
    if unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) } != 0 {
        return Err(std::io::Error::last_os_error())
            .with_context(|| format!("mkfifo {}", path.display()));
    }
    Ok(())
}

/// What the bench keeps of a `cradle trace --json` output.
#[derive(Debug, Default)]
pub struct Summary {
    pub lines: u64,
    pub header: Option<Value>,
    /// Records read, undecodable, lost.
    pub trailer: Option<Value>,
}

/// Counts the lines of a `cradle trace --json` output and keeps the
/// objects of its `header` and `trailer` lines.
pub fn trailer_of(mut input: impl BufRead) -> Result<Summary> {
    let mut summary = Summary::default();
    let mut line = Vec::new();
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line)? == 0 {
            return Ok(summary);
        }
        summary.lines += 1;
        for (key, slot) in [("trailer", &mut summary.trailer), ("header", &mut summary.header)] {
            if line.starts_with(format!("{{\"{key}\"").as_bytes()) {
                let value: Value = serde_json::from_slice(&line)
                    .with_context(|| format!("parsing the {key} line"))?;
                *slot = Some(value[key].clone());
            }
        }
    }
}

/// Polls /proc/PID/status until the process is gone; returns the largest
/// VmHWM seen, in KiB.
fn sample_hwm(pid: u32) -> u64 {
    let path = format!("/proc/{pid}/status");
    let mut peak = 0;
    while let Ok(status) = std::fs::read_to_string(&path) {
        match vm_hwm_kib(&status) {
            Some(hwm) => peak = peak.max(hwm),
            // A zombie has no memory lines any more.
            None => break,
        }
        thread::sleep(Duration::from_millis(10));
    }
    peak
}

/// The `VmHWM:` line of a /proc/PID/status text, in KiB.
pub fn vm_hwm_kib(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().strip_suffix("kB"))
        .and_then(|kib| kib.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_vm_hwm() {
        let status =
            "Name:\tcradle\nVmPeak:\t  120000 kB\nVmHWM:\t   48716 kB\nVmRSS:\t 40000 kB\n";
        assert_eq!(vm_hwm_kib(status), Some(48716));
        assert_eq!(vm_hwm_kib("Name:\tzombie\nState:\tZ (zombie)\n"), None);
    }

    #[test]
    fn keeps_only_the_trailer_of_a_trace() {
        let trace = "{\"header\":{}}\n{\"event\":{}}\n{\"trailer\":{\"records\":5,\"lost\":1}}\n";
        let summary = trailer_of(trace.as_bytes()).unwrap();
        assert_eq!(summary.lines, 3);
        assert_eq!(summary.trailer.unwrap()["records"], 5);
        assert_eq!(summary.header, Some(serde_json::json!({})));
        assert_eq!(trailer_of("{\"event\":{}}\n".as_bytes()).unwrap().trailer, None);
    }

    #[test]
    fn criterion_samples_become_rates() {
        let sample = serde_json::json!({"iters": [10.0, 20.0], "times": [1e6, 4e6]});
        let benchmark = serde_json::json!({"throughput": {"Elements": 100}});
        assert_eq!(events_per_second(&sample, &benchmark).unwrap(), vec![1e6, 5e5]);
        let uneven = serde_json::json!({"iters": [10.0], "times": []});
        assert!(events_per_second(&uneven, &benchmark).is_err());
    }

    #[test]
    fn last_line_of_output() {
        assert_eq!(last_line(b"noise\n{\"records\":3}\n"), b"{\"records\":3}");
        assert_eq!(last_line(b"only"), b"only");
    }
}
