//! `linux.resources` as written to the container's cgroup, under runc
//! and under cradle: the same bundle, the same values in the same files.
//!
//! Which files depends on the host, decided at run time by
//! [`pure_cgroup_v2`]: a pure cgroup v2 host with controllers (the
//! kernel-matrix VMs: `cargo xtask vmtest`) checks the v2 files, a v1 or
//! hybrid host (these machines) the v1 ones. Each layout is covered where
//! it exists; neither is skipped.

#[path = "common/runtime.rs"]
mod runtime;

use std::{
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use runtime::{Sandbox, stderr};
use serde_json::json;

/// A pure cgroup v2 host: /sys/fs/cgroup is the cgroup2 root itself (on a
/// hybrid host it is a tmpfs of v1 mounts), with the memory and pids
/// controllers available.
fn pure_cgroup_v2() -> bool {
    std::fs::read_to_string("/sys/fs/cgroup/cgroup.controllers").is_ok_and(|controllers| {
        let names: Vec<&str> = controllers.split_whitespace().collect();
        names.contains(&"memory") && names.contains(&"pids")
    })
}

/// The cgroup directory of `pid` that holds `controller`'s files (v2: the
/// only one), from `/proc/PID/cgroup` as the host sees it.
fn cgroup_dir(pid: &str, controller: &str) -> PathBuf {
    let text = std::fs::read_to_string(format!("/proc/{}/cgroup", pid.trim())).unwrap();
    for line in text.lines() {
        let mut fields = line.splitn(3, ':');
        let (_, controllers, path) = (fields.next(), fields.next(), fields.next());
        let (Some(controllers), Some(path)) = (controllers, path) else { continue };
        let path = path.trim_start_matches('/');
        if pure_cgroup_v2() && controllers.is_empty() {
            return Path::new("/sys/fs/cgroup").join(path);
        }
        if controllers.split(',').any(|name| name == controller) {
            return Path::new("/sys/fs/cgroup").join(controller).join(path);
        }
    }
    panic!("{pid} has no {controller} cgroup: {text}");
}

/// Starts the bundle detached under `program` (runc or cradle), reads
/// `files` (`controller/file`) of its cgroup, deletes it.
fn files_written_by(
    program: &str,
    root: &Path,
    bundle: &Path,
    id: &str,
    files: &[&str],
) -> Vec<String> {
    let pid_file = root.with_extension(format!("{id}.pid"));
    let stderr_file = root.with_extension(format!("{id}.err"));
    let status = Command::new(program)
        .arg("--root")
        .arg(root)
        .args(["run", "--detach", "--pid-file", pid_file.to_str().unwrap()])
        .args(["--bundle", bundle.to_str().unwrap(), id])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr_file).unwrap())
        .status()
        .unwrap();
    let err = std::fs::read_to_string(&stderr_file).unwrap_or_default();
    assert!(status.success(), "{program} run: {err}");
    let pid = std::fs::read_to_string(&pid_file).unwrap();
    let values = files
        .iter()
        .map(|spec| {
            let (controller, file) = spec.split_once('/').unwrap();
            let path = cgroup_dir(&pid, controller).join(file);
            let value = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| format!("{}: {e}", path.display()));
            // memory.oom_control: its first line says whether it is disabled.
            format!("{spec} = {}", value.lines().next().unwrap_or("").trim())
        })
        .collect();
    let out =
        Command::new(program).arg("--root").arg(root).args(["delete", "--force", id]).output();
    assert!(out.unwrap().status.success(), "{program} delete");
    values
}

/// Issue 18 Build item 4 and issue 22 item 13: every resource field runc
/// applies, applied as runc applies it; on pure v2 with the controllers
/// enabled down the path (before, `memory.max` could not be written).
#[test]
fn resources_land_in_the_same_files_with_the_same_values_as_under_runc() {
    if Command::new("runc").arg("--version").output().is_err() {
        panic!("runc is required for this test (cargo xtask setup installs it)");
    }
    let v2 = pure_cgroup_v2();
    let sandbox = Sandbox::new();
    let bundle = sandbox.bundle("b", &["sleep", "1000"]);
    sandbox.edit_config(&bundle, |config| {
        let resources = &mut config["linux"]["resources"];
        resources["memory"] = json!({"limit": 64 << 20, "reservation": 32 << 20});
        resources["cpu"] = json!({"shares": 512, "quota": 50000, "period": 100000});
        resources["pids"] = json!({"limit": 5});
        if !v2 {
            resources["memory"]["swappiness"] = json!(20);
            resources["memory"]["disableOOMKiller"] = json!(true);
        }
        // Docker's zeros mean "unset", as in runc: nothing is written.
        resources["blockIO"] = json!({"weight": 0});
    });
    let files: &[&str] = if v2 {
        &[
            "memory/memory.max",
            "memory/memory.low",
            "memory/memory.swap.max",
            "cpu/cpu.weight",
            "cpu/cpu.max",
            "pids/pids.max",
        ]
    } else {
        &[
            "memory/memory.limit_in_bytes",
            "memory/memory.soft_limit_in_bytes",
            "memory/memory.swappiness",
            "memory/memory.oom_control",
            "cpu/cpu.shares",
            "cpu/cpu.cfs_quota_us",
            "cpu/cpu.cfs_period_us",
            "pids/pids.max",
        ]
    };
    let runc_root = sandbox.dir.path().join("runc-state");
    let runc_id = sandbox.id("res-runc");
    let by_runc = files_written_by("runc", &runc_root, &bundle, &runc_id, files);
    let id = sandbox.id("res");
    let by_cradle = files_written_by(runtime::cradle_bin(), &sandbox.root, &bundle, &id, files);
    assert_eq!(by_cradle, by_runc, "cradle (left) and runc (right) differ");
    let expected: &[&str] = if v2 {
        &[
            "memory/memory.max = 67108864",
            "memory/memory.low = 33554432",
            "memory/memory.swap.max = max",
            "cpu/cpu.weight = 20",
            "cpu/cpu.max = 50000 100000",
            "pids/pids.max = 5",
        ]
    } else {
        &[
            "memory/memory.limit_in_bytes = 67108864",
            "memory/memory.soft_limit_in_bytes = 33554432",
            "memory/memory.swappiness = 20",
            "memory/memory.oom_control = oom_kill_disable 1",
            "cpu/cpu.shares = 512",
            "cpu/cpu.cfs_quota_us = 50000",
            "cpu/cpu.cfs_period_us = 100000",
            "pids/pids.max = 5",
        ]
    };
    assert_eq!(by_cradle, expected);
}

/// `unified` is cgroup v2's: on a v1 host runc refuses the create, and so
/// does cradle, leaving nothing; on pure v2 both write the file as given.
#[test]
fn unified_is_written_on_cgroup_v2_and_refused_on_v1_as_by_runc() {
    let sandbox = Sandbox::new();
    let bundle = sandbox.bundle("b", &["sleep", "1000"]);
    sandbox.edit_config(&bundle, |config| {
        config["linux"]["resources"]["unified"] = json!({"pids.max": "7"});
    });
    let id = sandbox.id("unified");
    if pure_cgroup_v2() {
        let runc_root = sandbox.dir.path().join("runc-state");
        let runc_id = sandbox.id("unified-runc");
        let files = ["pids/pids.max"];
        let by_runc = files_written_by("runc", &runc_root, &bundle, &runc_id, &files);
        let by_cradle =
            files_written_by(runtime::cradle_bin(), &sandbox.root, &bundle, &id, &files);
        assert_eq!(by_cradle, ["pids/pids.max = 7"]);
        assert_eq!(by_cradle, by_runc);
        return;
    }
    let out = sandbox.output(&["run", "--bundle", bundle.to_str().unwrap(), &id]);
    assert!(!out.status.success(), "unified accepted on cgroup v1");
    assert!(stderr(&out).contains("linux.resources.unified"), "{}", stderr(&out));
    assert!(runtime::cgroups_mentioning(&id).is_empty(), "cgroups left");
    assert!(!sandbox.root.join(&id).exists(), "state left");
    let runc = Command::new("runc")
        .arg("--root")
        .arg(sandbox.dir.path().join("runc-state"))
        .args(["run", "--bundle", bundle.to_str().unwrap(), &sandbox.id("unified-runc")])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!runc.status.success(), "runc accepted unified on cgroup v1");
}
