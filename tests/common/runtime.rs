//! Helpers for the runtime's integration tests: a sandbox per test with
//! its own `--root`, bundles built by `cradle bundle`, unique ids, and a
//! Drop guard that force-deletes every container the test made.

#![allow(dead_code)]

use std::{
    cell::RefCell,
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
    sync::atomic::{AtomicU32, Ordering},
};

use serde_json::Value;

pub fn cradle_bin() -> &'static str {
    env!("CARGO_BIN_EXE_cradle")
}

pub struct Sandbox {
    pub dir: tempfile::TempDir,
    pub root: PathBuf,
    ids: RefCell<Vec<String>>,
}

impl Sandbox {
    pub fn new() -> Self {
        let dir = tempfile::Builder::new().prefix("cradle-rt-").tempdir().expect("tempdir");
        let root = dir.path().join("state");
        Sandbox { dir, root, ids: RefCell::new(Vec::new()) }
    }

    /// A unique container id, deleted (forced) when the sandbox drops.
    pub fn id(&self, name: &str) -> String {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let id = format!("{name}-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        self.ids.borrow_mut().push(id.clone());
        id
    }

    /// `cradle bundle` into the sandbox, with `args` as the process.
    pub fn bundle(&self, name: &str, args: &[&str]) -> PathBuf {
        let dir = self.dir.path().join(name);
        let out =
            Command::new(cradle_bin()).arg("bundle").arg(&dir).output().expect("cradle bundle");
        assert!(out.status.success(), "cradle bundle: {}", String::from_utf8_lossy(&out.stderr));
        self.edit_config(&dir, |config| {
            config["process"]["args"] = serde_json::json!(args);
        });
        dir
    }

    pub fn edit_config(&self, bundle: &Path, edit: impl FnOnce(&mut Value)) {
        let path = bundle.join("config.json");
        let mut config: Value = serde_json::from_slice(&std::fs::read(&path).expect("read config"))
            .expect("parse config");
        edit(&mut config);
        std::fs::write(&path, serde_json::to_vec_pretty(&config).unwrap()).expect("write config");
    }

    /// `cradle --root ROOT ARGS...`, stdin closed.
    pub fn cradle(&self, args: &[&str]) -> Command {
        let mut command = Command::new(cradle_bin());
        command.arg("--root").arg(&self.root).args(args).stdin(Stdio::null());
        command
    }

    /// Runs to completion; for commands whose children do not keep stdio.
    pub fn output(&self, args: &[&str]) -> Output {
        self.cradle(args).output().expect("run cradle")
    }

    /// `create`, with the init's stdio sent to files: a pipe kept open by the
    /// waiting init would block `output()` forever (as with runc).
    pub fn create(&self, bundle: &Path, id: &str) -> Output {
        let out_path = self.dir.path().join(format!("{id}.out"));
        let err_path = self.dir.path().join(format!("{id}.err"));
        let status = self
            .cradle(&["create", "--bundle", bundle.to_str().unwrap(), id])
            .stdout(std::fs::File::create(&out_path).unwrap())
            .stderr(std::fs::File::create(&err_path).unwrap())
            .status()
            .expect("cradle create");
        Output {
            status,
            stdout: std::fs::read(&out_path).unwrap_or_default(),
            stderr: std::fs::read(&err_path).unwrap_or_default(),
        }
    }

    pub fn state(&self, id: &str) -> Value {
        let out = self.output(&["state", id]);
        assert!(out.status.success(), "state {id}: {}", stderr(&out));
        serde_json::from_slice(&out.stdout).expect("state is JSON")
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        for id in self.ids.borrow().iter() {
            let _ = self.output(&["delete", "--force", id]);
        }
    }
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Pids of live processes whose command line mentions `needle`.
pub fn processes_mentioning(needle: &str) -> Vec<u32> {
    let own = std::process::id();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| *pid != own)
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|cmdline| String::from_utf8_lossy(&cmdline).contains(needle))
                .unwrap_or(false)
        })
        .filter(|pid| {
            // Zombies are gone for good, only not yet reaped by their parent.
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .map(|stat| {
                    !stat
                        .rsplit_once(')')
                        .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
                })
                .unwrap_or(false)
        })
        .collect()
}

/// Lines of the host's mount table that mention `path`.
pub fn host_mounts_mentioning(path: &Path) -> Vec<String> {
    let needle = path.to_str().unwrap();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|line| line.contains(needle))
        .map(str::to_owned)
        .collect()
}

/// Waits (bounded) until the container reports `status`.
pub fn wait_for_status(sandbox: &Sandbox, id: &str, status: &str) {
    for _ in 0..500 {
        if sandbox.state(id)["status"] == status {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("{id} never became {status}: {}", sandbox.state(id));
}

/// Cgroup directories (any hierarchy, a few levels deep) whose name
/// contains `needle`.
pub fn cgroups_mentioning(needle: &str) -> Vec<PathBuf> {
    fn walk(dir: &Path, depth: usize, needle: &str, found: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for entry in entries.flatten() {
            let Ok(kind) = entry.file_type() else { continue };
            if !kind.is_dir() {
                continue;
            }
            let path = entry.path();
            if entry.file_name().to_string_lossy().contains(needle) {
                found.push(path.clone());
            }
            if depth > 0 {
                walk(&path, depth - 1, needle, found);
            }
        }
    }
    let mut found = Vec::new();
    walk(Path::new("/sys/fs/cgroup"), 5, needle, &mut found);
    found
}

/// `RUNTIME --root ROOT run --bundle BUNDLE ID`, stdin closed, for `runc`
/// (or another runtime on PATH) or `cradle` (this build), so that a parity
/// test runs the same bundle under each.
pub fn run_with(runtime: &str, root: &Path, bundle: &Path, id: &str) -> Output {
    let binary = if runtime == "cradle" { cradle_bin() } else { runtime };
    Command::new(binary)
        .arg("--root")
        .arg(root)
        .args(["run", "--bundle", bundle.to_str().unwrap(), id])
        .stdin(Stdio::null())
        .output()
        .expect("run the runtime")
}

/// `PROGRAM --root ROOT ARGS...` (`cradle`: this build) with stdout to
/// /dev/null and stderr to a file: a detached container keeps the stdio it
/// inherits, and a pipe would block until it exits. Returns whether it
/// succeeded, and its stderr.
pub fn run_quietly(program: &str, root: &Path, args: &[&str]) -> (bool, String) {
    let binary = if program == "cradle" { cradle_bin() } else { program };
    let err_file = tempfile::NamedTempFile::new().expect("stderr file");
    let status = Command::new(binary)
        .arg("--root")
        .arg(root)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(err_file.reopen().expect("reopen the stderr file"))
        .status()
        .expect("run the runtime");
    (status.success(), std::fs::read_to_string(err_file.path()).unwrap_or_default())
}
