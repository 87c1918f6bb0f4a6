//! The soak: `cradle watch`, as a service runs it (rotating files, a short
//! window), over thousands of sequential containers of two runtimes and an
//! exec storm inside one, sampling the watcher's resident memory. Its peak
//! after the first containers and at the end tell whether it holds state
//! for containers that are over (issue 17: at most 10% growth).

use std::{
    path::Path,
    process::{Command, Stdio},
    time::Instant,
};

use anyhow::{Context, Result, bail};
use serde::Serialize;

use super::{Paths, runtimes::Runtime};

/// Containers run before the first memory reading.
pub const WARM_UP: usize = 200;

#[derive(Clone, Debug, Serialize)]
pub struct Soak {
    /// Containers run, alternating between the runtimes.
    pub containers: usize,
    pub runtimes: Vec<&'static str>,
    /// Execs of the storm inside one container, halfway.
    pub storm_execs: u32,
    /// The watcher's peak resident memory (VmHWM) after the first
    /// [`WARM_UP`] containers, and at the end, in KiB.
    pub peak_rss_after_warm_up_kib: u64,
    pub peak_rss_end_kib: u64,
    /// Events the kernel dropped (ring full) over the soak.
    pub lost: u64,
    pub seconds: f64,
}

impl Soak {
    /// Growth of the peak from the warm-up to the end, in percent.
    pub fn growth_percent(&self) -> f64 {
        let after = self.peak_rss_after_warm_up_kib.max(1) as f64;
        (self.peak_rss_end_kib as f64 - after) / after * 100.0
    }
}

pub fn soak(
    paths: &Paths,
    runtimes: &[&Runtime],
    bundle: &Path,
    storm_bundle: &Path,
    work: &Path,
    containers: usize,
    storm_execs: u32,
) -> Result<Soak> {
    let started = Instant::now();
    let out = work.join("soak");
    let watch = Watch::start(paths, &["--rotate", "64M", "--window", "2"], &out)?;
    let pid = watch.pid();
    let result = (|| -> Result<(u64, u64)> {
        let mut after_warm_up = 0;
        for n in 0..containers {
            let runtime = runtimes[n % runtimes.len()];
            runtime.run(bundle, &format!("soak-{}-{n}", std::process::id()))?;
            if n + 1 == containers / 2 {
                runtimes[0].run(storm_bundle, &format!("soak-storm-{}", std::process::id()))?;
            }
            if n + 1 == WARM_UP.min(containers) {
                after_warm_up = hwm(pid)?;
            }
        }
        Ok((after_warm_up, hwm(pid)?))
    })();
    let stopped = watch.stop();
    let (after, end) = result?;
    stopped?;
    let lost = lost_in(&out)?;
    let _ = std::fs::remove_dir_all(&out);
    Ok(Soak {
        containers,
        runtimes: runtimes.iter().map(|runtime| runtime.name).collect(),
        storm_execs,
        peak_rss_after_warm_up_kib: after,
        peak_rss_end_kib: end,
        lost,
        seconds: started.elapsed().as_secs_f64(),
    })
}

fn hwm(pid: u32) -> Result<u64> {
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).context("cradle watch is gone")?;
    super::collector::vm_hwm_kib(&status).context("no VmHWM in the watcher's status")
}

/// Waits until `out`, a trace file or a directory of them (`--rotate`),
/// holds a whole header line: the watcher is attached.
fn wait_for_header(out: &Path) -> Result<()> {
    let has_line = |path: &Path| std::fs::read_to_string(path).is_ok_and(|t| t.contains('\n'));
    let deadline = Instant::now() + std::time::Duration::from_secs(60);
    while Instant::now() < deadline {
        let started = has_line(out)
            || std::fs::read_dir(out)
                .into_iter()
                .flatten()
                .flatten()
                .any(|file| has_line(&file.path()));
        if started {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    bail!("cradle watch wrote no header in 60 s")
}

/// The `lost` of the last trailer of the series (counts are the whole
/// series' so far).
fn lost_in(dir: &Path) -> Result<u64> {
    let mut files: Vec<_> = std::fs::read_dir(dir)?.flatten().map(|entry| entry.path()).collect();
    files.sort();
    let last = files.last().context("the soak wrote no trace file")?;
    let file = std::fs::File::open(last)?;
    let summary = super::collector::trailer_of(std::io::BufReader::new(file))?;
    let trailer = summary.trailer.context("the soak's last file has no trailer")?;
    trailer["lost"].as_u64().context("trailer.lost")
}

/// A running `cradle watch` writing to `out` (a file, or a directory with
/// `--rotate`), ready once its first file has a header. Dropped unstopped,
/// it is killed.
pub struct Watch {
    child: std::process::Child,
}

impl Watch {
    pub fn start(paths: &Paths, args: &[&str], out: &Path) -> Result<Watch> {
        let child = Command::new(&paths.cradle)
            .arg("watch")
            .args(args)
            .arg("--out")
            .arg(out)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting cradle watch")?;
        let watch = Watch { child };
        wait_for_header(out)?;
        Ok(watch)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops it as a service manager would (SIGTERM), and checks it ended
    /// cleanly.
    pub fn stop(mut self) -> Result<()> {
        let pid = libc::pid_t::try_from(self.child.id())?;
        // SAFETY: kill(2) on a child this process spawned and has not
        // reaped, so its pid cannot have been reused.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let status = self.child.wait()?;
        if !status.success() {
            bail!("cradle watch ended with {status}");
        }
        Ok(())
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
