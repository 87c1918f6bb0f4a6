//! Inside a container made by `cradle run`: its own hostname, pid 1,
//! its own /proc, only the spec's mounts, the default devices, no host
//! root; the exit status and SIGTERM reach through `run`; a hostile
//! rootfs symlink cannot send a mount to the host.

#[path = "common/runtime.rs"]
mod runtime;

use std::{
    collections::BTreeSet,
    io::{BufRead, BufReader},
    process::Stdio,
};

use runtime::{Sandbox, host_mounts_mentioning, stderr, stdout};

fn section<'a>(output: &'a str, name: &str) -> Vec<&'a str> {
    output
        .split(&format!("== {name}\n"))
        .nth(1)
        .unwrap_or_else(|| panic!("no section {name} in:\n{output}"))
        .split("\n== ")
        .next()
        .unwrap()
        .lines()
        .collect()
}

#[test]
fn container_sees_only_itself() {
    let sandbox = Sandbox::new();
    let marker = sandbox.dir.path().join("host-marker");
    std::fs::write(&marker, "host").unwrap();
    let script = format!(
        "echo == hostname; hostname; echo == pid; echo $$; \
         echo == procs; ls /proc | grep -E '^[0-9]+$'; \
         echo == mounts; cut -d' ' -f5 /proc/self/mountinfo; \
         echo == devices; for d in null zero full random urandom tty; do test -c /dev/$d && echo $d; done; \
         echo == links; for l in fd stdin stdout stderr ptmx; do test -L /dev/$l && echo $l; done; \
         echo == host; test -e {marker} && echo reachable; cd /..; ls; echo == end",
        marker = marker.display()
    );
    let bundle = sandbox.bundle("b", &["sh", "-c", &script]);
    sandbox.edit_config(&bundle, |config| config["hostname"] = "inside-box".into());
    let id = sandbox.id("isolation");
    let out = sandbox.output(&["run", "--bundle", bundle.to_str().unwrap(), &id]);
    assert!(out.status.success(), "run failed: {}", stderr(&out));
    let text = stdout(&out);

    assert_eq!(section(&text, "hostname"), ["inside-box"]);
    assert_ne!(nix::unistd::gethostname().unwrap().to_str(), Some("inside-box"));
    assert_eq!(section(&text, "pid"), ["1"]);
    let procs = section(&text, "procs");
    assert!(procs.contains(&"1"), "{procs:?}");
    assert!(procs.len() <= 4, "only the container's few processes: {procs:?}");

    let expected: BTreeSet<&str> =
        ["/", "/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/sys/fs/cgroup"]
            .into();
    let mounts: Vec<&str> = section(&text, "mounts");
    // Docker's read-only and masked paths are mounts too.
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(bundle.join("config.json")).unwrap()).unwrap();
    let protected: Vec<&str> = ["readonlyPaths", "maskedPaths"]
        .iter()
        .flat_map(|field| config["linux"][field].as_array().unwrap())
        .map(|path| path.as_str().unwrap())
        .collect();
    let outside: Vec<_> = mounts
        .iter()
        .filter(|m| !expected.contains(*m) && !m.starts_with("/sys/fs/cgroup/"))
        .filter(|m| !protected.contains(m))
        .collect();
    assert!(outside.is_empty(), "mounts not in the spec: {outside:?}");
    let seen: BTreeSet<&str> = mounts.iter().copied().collect();
    assert!(expected.is_subset(&seen), "missing spec mounts: {mounts:?}");

    assert_eq!(section(&text, "devices"), ["null", "zero", "full", "random", "urandom", "tty"]);
    assert_eq!(section(&text, "links"), ["fd", "stdin", "stdout", "stderr", "ptmx"]);
    let root_entries: BTreeSet<String> = std::fs::read_dir(bundle.join("rootfs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    let host = section(&text, "host");
    assert!(!host.contains(&"reachable"), "host file visible: {host:?}");
    let seen_root: BTreeSet<String> = host.iter().map(|s| s.to_string()).collect();
    assert_eq!(seen_root, root_entries, "/.. is the rootfs");
}

#[test]
fn run_exits_with_the_workload_status() {
    let sandbox = Sandbox::new();
    let bundle = sandbox.bundle("b", &["sh", "-c", "exit 7"]);
    let out = sandbox.output(&["run", "-b", bundle.to_str().unwrap(), &sandbox.id("status")]);
    assert_eq!(out.status.code(), Some(7), "{}", stderr(&out));
    // Killed from outside (pid 1 ignores SIGKILL from inside its namespace).
    let bundle = sandbox.bundle("k", &["sh", "-c", "echo ready; sleep 1000"]);
    let id = sandbox.id("killed");
    let mut child = sandbox
        .cradle(&["run", "-b", bundle.to_str().unwrap(), &id])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "ready");
    let out = sandbox.output(&["kill", &id, "KILL"]);
    assert!(out.status.success(), "kill: {}", stderr(&out));
    assert_eq!(child.wait().unwrap().code(), Some(128 + 9));
    assert!(sandbox.output(&["list", "-q"]).stdout.is_empty(), "run removes its container");
}

#[test]
fn sigterm_to_run_reaches_the_init() {
    let sandbox = Sandbox::new();
    let bundle = sandbox.bundle(
        "b",
        &[
            "sh",
            "-c",
            "trap 'echo got-term; exit 42' TERM; echo ready; while :; do sleep 0.05; done",
        ],
    );
    let id = sandbox.id("term");
    let mut child = sandbox
        .cradle(&["run", "-b", bundle.to_str().unwrap(), &id])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "ready");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap()),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    assert_eq!(lines.next().unwrap().unwrap(), "got-term");
    assert_eq!(child.wait().unwrap().code(), Some(42));
}

#[test]
fn symlink_out_of_the_rootfs_does_not_reach_the_host() {
    let sandbox = Sandbox::new();
    let host_dir = sandbox.dir.path().join("host-dir");
    std::fs::create_dir(&host_dir).unwrap();
    let bundle = sandbox.bundle("b", &["sh", "-c", "sleep 1000"]);
    let rootfs = bundle.join("rootfs");
    std::fs::remove_dir(rootfs.join("dev")).unwrap();
    std::os::unix::fs::symlink(&host_dir, rootfs.join("dev")).unwrap();
    let id = sandbox.id("symlink");
    let out = sandbox.create(&bundle, &id);
    assert!(out.status.success(), "create: {}", stderr(&out));

    assert!(host_mounts_mentioning(&host_dir).is_empty(), "a mount reached the host path");
    let host_entries: Vec<_> = std::fs::read_dir(&host_dir).unwrap().collect();
    assert!(host_entries.is_empty(), "devices created on the host: {host_entries:?}");
    // /dev resolved to the same path inside the rootfs instead: the
    // container's devices are there, seen through its root.
    let pid = sandbox.state(&id)["pid"].as_i64().unwrap();
    let null = format!("/proc/{pid}/root{}/null", host_dir.display());
    let kind = std::fs::metadata(&null).unwrap().file_type();
    assert!(std::os::unix::fs::FileTypeExt::is_char_device(&kind), "{null}");
}
