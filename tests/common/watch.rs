//! `cradle watch` run by a test: started in the background, stopped with
//! SIGINT, its trace read back.

use std::{
    path::{Path, PathBuf},
    process::Child,
    time::{Duration, Instant},
};

use nix::{
    sys::signal::{Signal, kill},
    unistd::Pid,
};
use serde_json::Value;

use super::{cradle, json_lines};

/// `cradle watch --out FILE`, stopped with SIGINT.
pub struct Watch {
    child: Child,
    pub out: PathBuf,
    /// Where its live timeline (its stdout) goes.
    pub timeline: PathBuf,
}

impl Watch {
    pub fn start(dir: &Path) -> Watch {
        let out = dir.join("watch.jsonl");
        Watch::spawn(dir, out.clone(), &[], || started(&out))
    }

    /// `cradle watch --out DIR/watch.jsonl` and `extra` flags.
    pub fn start_with(dir: &Path, extra: &[&str]) -> Watch {
        let out = dir.join("watch.jsonl");
        Watch::spawn(dir, out.clone(), extra, || started(&out))
    }

    /// `cradle watch --out OUT_DIR --rotate SIZE` and `extra` flags.
    pub fn start_rotating(dir: &Path, out_dir: &Path, size: &str, extra: &[&str]) -> Watch {
        let mut args = vec!["--rotate", size];
        args.extend_from_slice(extra);
        Watch::spawn(dir, out_dir.to_path_buf(), &args, || {
            std::fs::read_dir(out_dir)
                .is_ok_and(|mut files| files.any(|f| f.is_ok_and(|f| started(&f.path()))))
        })
    }

    fn spawn(dir: &Path, out: PathBuf, extra: &[&str], ready: impl Fn() -> bool) -> Watch {
        let timeline = dir.join("watch.timeline");
        let child = cradle()
            .args(["watch", "--out"])
            .arg(&out)
            .args(extra)
            .stdout(std::fs::File::create(&timeline).unwrap())
            .stderr(std::fs::File::create(dir.join("watch.err")).unwrap())
            .spawn()
            .expect("start cradle watch");
        // The header is written once the probes are attached.
        let deadline = Instant::now() + Duration::from_secs(60);
        while !ready() {
            assert!(Instant::now() < deadline, "cradle watch never started");
            std::thread::sleep(Duration::from_millis(20));
        }
        Watch { child, out, timeline }
    }

    /// Stops it as a service manager would (SIGTERM); it must exit 0.
    pub fn terminate(mut self) {
        kill(Pid::from_raw(i32::try_from(self.child.id()).unwrap()), Signal::SIGTERM).unwrap();
        let status = self.child.wait().unwrap();
        assert!(status.success(), "cradle watch: {status:?}");
    }

    pub fn stop(mut self) -> Vec<Value> {
        kill(Pid::from_raw(i32::try_from(self.child.id()).unwrap()), Signal::SIGINT).unwrap();
        let status = self.child.wait().unwrap();
        assert!(status.success(), "cradle watch: {status:?}");
        json_lines(&self.out)
    }
}

/// Whether a trace file has its header line.
fn started(path: &Path) -> bool {
    std::fs::read_to_string(path).is_ok_and(|text| text.contains('\n'))
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
