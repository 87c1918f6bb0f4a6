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
        let timeline = dir.join("watch.timeline");
        let child = cradle()
            .args(["watch", "--out"])
            .arg(&out)
            .stdout(std::fs::File::create(&timeline).unwrap())
            .stderr(std::fs::File::create(dir.join("watch.err")).unwrap())
            .spawn()
            .expect("start cradle watch");
        // The header is written once the probes are attached.
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::fs::read_to_string(&out).map_or(true, |text| !text.contains('\n')) {
            assert!(Instant::now() < deadline, "cradle watch never started");
            std::thread::sleep(Duration::from_millis(20));
        }
        Watch { child, out, timeline }
    }

    pub fn stop(mut self) -> Vec<Value> {
        kill(Pid::from_raw(self.child.id() as i32), Signal::SIGINT).unwrap();
        let status = self.child.wait().unwrap();
        assert!(status.success(), "cradle watch: {status:?}");
        json_lines(&self.out)
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
