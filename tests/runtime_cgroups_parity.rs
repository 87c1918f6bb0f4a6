//! The container's cgroup under runc and under cradle, same bundle, same
//! result: which devices open, which cgroups an `exec`'d process is in.
//! These run on whatever cgroup layout the host has (hybrid here, pure v2
//! in the kernel-matrix VMs).

#[path = "common/runtime.rs"]
mod runtime;

use std::{
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
};

use runtime::{Sandbox, stderr, stdout};
use serde_json::json;

/// runc with its own `--root` in the sandbox; deletes (forced) every
/// container it made when dropped.
struct Runc {
    root: PathBuf,
    ids: Vec<String>,
}

impl Runc {
    fn new(sandbox: &Sandbox) -> Self {
        if Command::new("runc").arg("--version").output().is_err() {
            panic!("runc is required for this test (cargo xtask setup installs it)");
        }
        Runc { root: sandbox.dir.path().join("runc-state"), ids: Vec::new() }
    }

    fn command(&mut self, args: &[&str]) -> Command {
        let mut command = Command::new("runc");
        command.arg("--root").arg(&self.root).args(args).stdin(Stdio::null());
        command
    }

    fn output(&mut self, args: &[&str]) -> Output {
        self.command(args).output().expect("run runc")
    }

    /// For commands that leave a process behind (`run -d`, `exec -d`).
    fn detached(&mut self, args: &[&str]) -> Output {
        without_pipes(self.command(args))
    }

    fn id(&mut self, sandbox: &Sandbox, name: &str) -> String {
        let id = sandbox.id(name);
        self.ids.push(id.clone());
        id
    }
}

impl Drop for Runc {
    fn drop(&mut self) {
        for id in self.ids.clone() {
            let _ = self.output(&["delete", "--force", &id]);
        }
    }
}

/// Issue 22 item 2: a node listed in `linux.devices` is made in /dev, but
/// only `linux.resources.devices` decides whether it opens. With the
/// default rules (deny all, then runc's own allow list) /dev/kmsg does not
/// open for writing, though the node is there; any node may be made
/// (runc allows mknod of everything) but not opened.
#[test]
fn a_listed_device_the_rules_deny_does_not_open_under_either_runtime() {
    let sandbox = Sandbox::new();
    let script = "test -c /dev/kmsg && echo node=yes
        (: >/dev/kmsg) 2>/dev/null; echo kmsg=$?
        mknod /dev/cg-parity-blk b 8 9; echo mknod=$?
        (: </dev/cg-parity-blk) 2>/dev/null; echo open=$?
        (: >/dev/null); echo null=$?";
    let bundle = sandbox.bundle("b", &["sh", "-c", script]);
    sandbox.edit_config(&bundle, |config| {
        assert_eq!(
            config["linux"]["resources"]["devices"],
            json!([{"allow": false, "access": "rwm"}])
        );
        config["linux"]["devices"] =
            json!([{"path": "/dev/kmsg", "type": "c", "major": 1, "minor": 11, "fileMode": 438}]);
    });
    let mut runc = Runc::new(&sandbox);
    let runc_id = runc.id(&sandbox, "devp-runc");
    let by_runc = runc.output(&["run", "--bundle", bundle.to_str().unwrap(), &runc_id]);
    let id = sandbox.id("devp");
    let by_cradle = sandbox.output(&["run", "--bundle", bundle.to_str().unwrap(), &id]);
    let expected = "node=yes\nkmsg=1\nmknod=0\nopen=1\nnull=0\n";
    assert_eq!(stdout(&by_runc), expected, "runc: {}", stderr(&by_runc));
    assert_eq!(stdout(&by_cradle), expected, "cradle: {}", stderr(&by_cradle));
}

/// Runs `command` with stdout and stderr in files: a detached process
/// keeps what it inherits, and a pipe would block until it exits.
fn without_pipes(mut command: Command) -> Output {
    let stderr = tempfile::tempfile().expect("tempfile");
    let status = command
        .stdout(Stdio::null())
        .stderr(stderr.try_clone().unwrap())
        .status()
        .expect("run the runtime");
    let mut stderr = stderr;
    let mut text = Vec::new();
    std::io::Seek::rewind(&mut stderr).unwrap();
    std::io::Read::read_to_end(&mut stderr, &mut text).unwrap();
    Output { status, stdout: Vec::new(), stderr: text }
}

/// `/proc/PID/cgroup` as the host sees it.
fn cgroups_of(pid: &str) -> String {
    let pid = pid.trim();
    std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .unwrap_or_else(|err| panic!("/proc/{pid}/cgroup: {err}"))
}

/// Makes `sub` in each of the container's cgroup directories (a cpuset
/// one with its parent's CPUs and memory nodes, so it can hold a process).
fn make_sub_cgroups(id: &str, sub: &str) {
    let dirs = runtime::cgroups_mentioning(id);
    assert!(!dirs.is_empty(), "no cgroup of {id}");
    for dir in dirs.iter().filter(|dir| dir.file_name().is_some_and(|name| name == id)) {
        let child = dir.join(sub);
        std::fs::create_dir(&child).unwrap_or_else(|err| panic!("{}: {err}", child.display()));
        // (v1 only: a v2 child has cpuset files only if the parent enabled it.)
        for file in ["cpuset.cpus", "cpuset.mems"] {
            let unset =
                std::fs::read_to_string(child.join(file)).is_ok_and(|v| v.trim().is_empty());
            if let (true, Ok(value)) = (unset, std::fs::read_to_string(dir.join(file))) {
                std::fs::write(child.join(file), value.trim()).unwrap();
            }
        }
    }
}

/// What one runtime shows of an exec'd process's cgroups: the init's
/// `/proc/PID/cgroup`, then, for each `--cgroup` choice, the exec'd
/// process's (as the host sees both).
fn exec_cgroups(
    runtime: &mut dyn FnMut(&[&str]) -> Output,
    bundle: &Path,
    id: &str,
    pid_dir: &Path,
) -> Vec<String> {
    let pid_file = pid_dir.join(format!("{id}.pid"));
    let pid_arg = pid_file.to_str().unwrap();
    let out = runtime(&[
        "run",
        "--detach",
        "--pid-file",
        pid_arg,
        "--bundle",
        bundle.to_str().unwrap(),
        id,
    ]);
    assert!(out.status.success(), "run -d: {}", stderr(&out));
    let init_pid = std::fs::read_to_string(&pid_file).unwrap();
    make_sub_cgroups(id, "sub");
    let mut seen = vec![cgroups_of(&init_pid)];
    // Per-controller choices exist on v1 only (runc: "unknown controller" on v2).
    let pure_v2 = Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    let mut choices = vec![None, Some("sub")];
    if !pure_v2 {
        choices.push(Some("memory,pids:sub"));
    }
    for (index, choice) in choices.into_iter().enumerate() {
        let pid_file = pid_dir.join(format!("{id}-{index}.pid"));
        let mut args = vec!["exec", "--detach", "--pid-file", pid_file.to_str().unwrap()];
        if let Some(choice) = choice {
            args.extend(["--cgroup", choice]);
        }
        args.extend([id, "sleep", "1000"]);
        let out = runtime(&args);
        assert!(out.status.success(), "exec {choice:?}: {}", stderr(&out));
        seen.push(cgroups_of(&std::fs::read_to_string(&pid_file).unwrap()));
    }
    seen
}

/// Issue 22 item 1: an `exec`'d process is in every cgroup of the
/// container (every v1 hierarchy and the v2 one), or with `--cgroup` in
/// the chosen sub-cgroups, as under runc. (Inside a cgroup namespace
/// `/proc/self/cgroup` shows `/` for the container's own cgroup under both
/// runtimes; the host's view is the one that tells.)
#[test]
fn an_exec_joins_every_cgroup_of_the_container_under_either_runtime() {
    let sandbox = Sandbox::new();
    let bundle = sandbox.bundle("b", &["sleep", "1000"]);
    let mut runc = Runc::new(&sandbox);
    let runc_id = runc.id(&sandbox, "execcg-runc");
    let by_runc =
        exec_cgroups(&mut |args| runc.detached(args), &bundle, &runc_id, sandbox.dir.path());
    let id = sandbox.id("execcg");
    let by_cradle = exec_cgroups(
        &mut |args| without_pipes(sandbox.cradle(args)),
        &bundle,
        &id,
        sandbox.dir.path(),
    );
    let (init, plain, sub_everywhere) = (&by_cradle[0], &by_cradle[1], &by_cradle[2]);
    let lines = |text: &str| text.lines().map(str::to_owned).collect::<Vec<_>>();
    assert!(lines(init).iter().all(|line| line.ends_with(&format!("/{id}"))), "{init}");
    assert_eq!(plain, init, "the exec'd process left the container's cgroups");
    let with_sub: Vec<String> = lines(init).iter().map(|line| format!("{line}/sub")).collect();
    assert_eq!(lines(sub_everywhere), with_sub, "exec --cgroup sub");
    let sub_memory_pids = by_cradle.get(3).map_or(Vec::new(), |text| lines(text));
    for (line, init_line) in sub_memory_pids.iter().zip(lines(init)) {
        let chosen = init_line.contains(":memory:") || init_line.contains(":pids:");
        let expected = if chosen { format!("{init_line}/sub") } else { init_line.clone() };
        assert_eq!(*line, expected, "exec --cgroup memory,pids:sub");
    }
    let out = sandbox.output(&["delete", "--force", &id]);
    assert!(out.status.success(), "delete: {}", stderr(&out));
    let left = runtime::cgroups_mentioning(&id);
    assert!(left.is_empty(), "delete left the cgroups (and the sub-cgroups): {left:?}");
    // The same under runc, its own container's name in place of ours.
    let by_runc: Vec<String> = by_runc.iter().map(|text| text.replace(&runc_id, &id)).collect();
    // runc puts a container without a cgroupsPath at /ID, cradle at /cradle/ID.
    let by_cradle: Vec<String> = by_cradle
        .iter()
        .map(|text| text.replace(&format!("/cradle/{id}"), &format!("/{id}")))
        .collect();
    assert_eq!(by_cradle, by_runc);
}

/// The hierarchy a test puts a cgroup of its own in: v1's devices one
/// here (the one runc 1.1 looks at for processes), the v2 root on a pure
/// v2 host.
fn some_hierarchy() -> &'static Path {
    if Path::new("/sys/fs/cgroup/devices/cgroup.procs").exists() {
        Path::new("/sys/fs/cgroup/devices")
    } else {
        Path::new("/sys/fs/cgroup")
    }
}

/// A cgroup the test made (not the runtime), with maybe a process in it;
/// both gone on drop.
struct ForeignCgroup {
    dir: PathBuf,
    process: Option<std::process::Child>,
}

impl ForeignCgroup {
    fn new(hierarchy: &Path, name: &str, with_process: bool) -> Self {
        let dir = hierarchy.join(name);
        std::fs::create_dir(&dir).unwrap_or_else(|err| panic!("{}: {err}", dir.display()));
        let mut cgroup = ForeignCgroup { dir, process: None };
        if with_process {
            let child = Command::new("sleep").arg("1000").spawn().expect("spawn sleep");
            std::fs::write(cgroup.dir.join("cgroup.procs"), child.id().to_string()).unwrap();
            cgroup.process = Some(child);
        }
        cgroup
    }

    fn process_is_alive(&mut self) -> bool {
        self.process.as_mut().is_some_and(|child| child.try_wait().unwrap().is_none())
    }
}

impl Drop for ForeignCgroup {
    fn drop(&mut self) {
        if let Some(child) = &mut self.process {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::write(self.dir.join("freezer.state"), "THAWED");
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// Issue 14 item 3 and issue 22 item 14, attacked as a config's author: a
/// cgroupsPath naming an existing cgroup that holds an unrelated process.
/// cradle refuses it with runc's message ("container's cgroup is not
/// empty": a warning in runc 1.1, an error since runc 1.2), so the
/// container's limits never reach that process and delete never kills
/// it; what cradle made in the other hierarchies is gone. runc 1.1.5
/// warns with the same words and goes on.
#[test]
fn a_cgroups_path_naming_a_cgroup_with_other_processes_is_refused_and_they_live() {
    let sandbox = Sandbox::new();
    let name = format!("cg-victim-{}", std::process::id());
    let mut victim = ForeignCgroup::new(some_hierarchy(), &name, true);
    let bundle = sandbox.bundle("b", &["true"]);
    sandbox.edit_config(&bundle, |config| {
        config["linux"]["cgroupsPath"] = json!(format!("/{name}"));
        config["linux"]["resources"]["pids"] = json!({"limit": 1});
    });
    let id = sandbox.id("victim");
    let out = sandbox.output(&["run", "--bundle", bundle.to_str().unwrap(), &id]);
    assert!(!out.status.success(), "cradle ran in someone else's cgroup");
    let expected = "container's cgroup is not empty: 1 process(es) found";
    assert!(stderr(&out).contains(expected), "{}", stderr(&out));
    assert!(stderr(&out).contains("linux.cgroupsPath"), "{}", stderr(&out));
    assert!(victim.process_is_alive(), "the unrelated process was killed");
    let pid = victim.process.as_ref().unwrap().id().to_string();
    assert_eq!(read(&victim.dir.join("cgroup.procs")).trim(), pid, "its cgroup changed");
    assert_eq!(
        runtime::cgroups_mentioning(&name),
        std::slice::from_ref(&victim.dir),
        "cgroups left"
    );
    assert!(!sandbox.root.join(&id).exists(), "state left");

    let mut runc = Runc::new(&sandbox);
    let runc_id = runc.id(&sandbox, "victim-runc");
    sandbox.edit_config(&bundle, |config| config["linux"]["resources"] = json!({}));
    let by_runc = runc.output(&["run", "--bundle", bundle.to_str().unwrap(), &runc_id]);
    assert!(stderr(&by_runc).contains(expected), "runc: {}", stderr(&by_runc));
    assert!(victim.process_is_alive());
}

/// A cgroupsPath that resolves to a hierarchy's root is refused before
/// anything is made: a container there would share (and on delete, take
/// down) every process of the host's root cgroup.
#[test]
fn a_cgroups_path_at_the_hierarchy_root_is_refused() {
    let sandbox = Sandbox::new();
    let bundle = sandbox.bundle("b", &["true"]);
    for path in ["/", "//", "/.", ".", "./"] {
        sandbox.edit_config(&bundle, |config| config["linux"]["cgroupsPath"] = json!(path));
        let id = sandbox.id("rootcg");
        let out = sandbox.output(&["run", "--bundle", bundle.to_str().unwrap(), &id]);
        assert!(!out.status.success(), "{path:?} accepted");
        let text = stderr(&out);
        assert!(text.contains("linux.cgroupsPath") && text.contains("root"), "{path:?}: {text}");
        assert!(!sandbox.root.join(&id).exists(), "state left");
    }
}

/// An existing, empty cgroup may be joined (a client may prepare one);
/// cradle then leaves it in place on delete, since it did not make it.
#[test]
fn an_existing_empty_cgroup_is_joined_and_left_in_place() {
    let sandbox = Sandbox::new();
    let name = format!("cg-prepared-{}", std::process::id());
    let prepared = ForeignCgroup::new(some_hierarchy(), &name, false);
    let bundle = sandbox.bundle("b", &["cat", "/proc/self/cgroup"]);
    sandbox.edit_config(&bundle, |config| {
        config["linux"]["cgroupsPath"] = json!(format!("/{name}"));
        let namespaces = config["linux"]["namespaces"].as_array_mut().unwrap();
        namespaces.retain(|namespace| namespace["type"] != "cgroup");
        let mounts = config["mounts"].as_array_mut().unwrap();
        mounts.retain(|mount| mount["type"] != "cgroup");
    });
    let id = sandbox.id("prepared");
    let out = sandbox.output(&["run", "--bundle", bundle.to_str().unwrap(), &id]);
    assert!(out.status.success(), "{}", stderr(&out));
    let hierarchy_line = if some_hierarchy().ends_with("devices") { ":devices:" } else { "0::" };
    let line = stdout(&out).lines().find(|l| l.contains(hierarchy_line)).unwrap_or("").to_owned();
    assert!(line.ends_with(&format!("/{name}")), "{}", stdout(&out));
    assert!(prepared.dir.exists(), "cradle removed a cgroup it did not make");
    assert_eq!(
        runtime::cgroups_mentioning(&name),
        std::slice::from_ref(&prepared.dir),
        "cgroups left"
    );
}

/// Issue 22 item 3: a cgroupsPath naming a frozen cgroup is refused, as
/// runc refuses it, where the init would hang in it for good.
#[test]
fn a_frozen_cgroup_is_refused_under_either_runtime() {
    let sandbox = Sandbox::new();
    let name = format!("cg-frozen-{}", std::process::id());
    let (hierarchy, file, value) = if Path::new("/sys/fs/cgroup/freezer/freezer.state").exists()
        || Path::new("/sys/fs/cgroup/freezer/cgroup.procs").exists()
    {
        (Path::new("/sys/fs/cgroup/freezer"), "freezer.state", "FROZEN")
    } else {
        (Path::new("/sys/fs/cgroup"), "cgroup.freeze", "1")
    };
    let frozen = ForeignCgroup::new(hierarchy, &name, false);
    std::fs::write(frozen.dir.join(file), value).unwrap();
    let bundle = sandbox.bundle("b", &["true"]);
    sandbox.edit_config(&bundle, |config| {
        config["linux"]["cgroupsPath"] = json!(format!("/{name}"));
    });
    let expected = "container's cgroup unexpectedly frozen";
    // `timeout`: a hang is the bug this guards against.
    let run = |program: &str, root: &Path, id: &str| {
        let mut command = Command::new("timeout");
        command.args(["60", program, "--root"]).arg(root);
        command.args(["run", "--detach", "--bundle", bundle.to_str().unwrap(), id]);
        without_pipes(command)
    };
    let id = sandbox.id("frozen");
    let out = run(runtime::cradle_bin(), &sandbox.root, &id);
    assert!(!out.status.success(), "cradle ran in a frozen cgroup");
    assert!(stderr(&out).contains(expected), "cradle: {}", stderr(&out));
    assert!(!sandbox.root.join(&id).exists(), "state left");
    assert_eq!(
        runtime::cgroups_mentioning(&name),
        std::slice::from_ref(&frozen.dir),
        "cgroups left"
    );
    let mut runc = Runc::new(&sandbox);
    let runc_id = runc.id(&sandbox, "frozen-runc");
    let by_runc = run("runc", &runc.root.clone(), &runc_id);
    assert!(!by_runc.status.success(), "runc ran in a frozen cgroup");
    assert!(stderr(&by_runc).contains(expected), "runc: {}", stderr(&by_runc));
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}
