//! Real clients drive cradle as their OCI runtime (issue 16): Debian's
//! docker 20.10 (dockerd -> containerd 1.6 -> containerd-shim-runc-v2)
//! and podman 4.3 (conmon), unmodified, with cradle registered as a
//! runtime. Each test starts what it needs under its own temporary
//! directory (there is no systemd), stops it by pid, and checks that no
//! mount, cgroup, veth or state directory is left.
//!
//! `/usr/bin/docker` on purpose: the machine image puts a newer docker CLI
//! first in PATH.

mod common;

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
    time::Duration,
};

use common::runtime::{cgroups_mentioning, cradle_bin, host_mounts_mentioning};

const DOCKER: &str = "/usr/bin/docker";
const IMAGE: &str = "cradle-clients-busybox";
/// What runc needs under podman on these machines (no CAP_SYS_RESOURCE).
const PODMAN_ULIMITS: [&str; 4] = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"];

fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn succeeded(out: Output, what: &str) -> String {
    assert!(out.status.success(), "{what}: {}", text(&out));
    stdout(&out)
}

/// A busybox root filesystem, as `cradle bundle` builds it.
fn busybox_rootfs(dir: &Path) -> PathBuf {
    let bundle = dir.join("bundle");
    let out = Command::new(cradle_bin()).arg("bundle").arg(&bundle).output().unwrap();
    succeeded(out, "cradle bundle");
    bundle.join("rootfs")
}

/// Unmounts whatever is still mounted below `dir`, deepest first.
fn unmount_below(dir: &Path) {
    let mut mounts: Vec<String> = host_mounts_mentioning(dir)
        .iter()
        .filter_map(|line| line.split_whitespace().nth(4).map(str::to_owned))
        .filter(|point| Path::new(point).starts_with(dir))
        .collect();
    mounts.sort_by_key(|point| std::cmp::Reverse(point.len()));
    for point in mounts {
        let _ = nix::mount::umount2(point.as_str(), nix::mount::MntFlags::MNT_DETACH);
    }
}

fn link_exists(name: &str) -> bool {
    Path::new("/sys/class/net").join(name).exists()
}

/// Veths enslaved to `bridge`.
fn ports_of(bridge: &str) -> Vec<String> {
    std::fs::read_dir(Path::new("/sys/class/net").join(bridge).join("brif"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect()
}

fn stop(child: &mut Child) {
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    );
    for _ in 0..300 {
        if child.try_wait().ok().flatten().is_some() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// containerd and dockerd, started for one test, with every path under a
/// temporary directory; stopped and cleaned up on drop.
struct Docker {
    dir: tempfile::TempDir,
    containerd: Child,
    dockerd: Option<Child>,
    bridge_existed: bool,
}

impl Docker {
    fn start() -> Docker {
        let dir = tempfile::Builder::new().prefix("cradle-docker-").tempdir().unwrap();
        let path = dir.path().to_path_buf();
        let bridge_existed = link_exists("docker0");
        let config = format!(
            "version = 2\nroot = \"{0}/containerd\"\nstate = \"{0}/containerd-state\"\n\
             [grpc]\n  address = \"{0}/containerd.sock\"\n",
            path.display()
        );
        std::fs::write(path.join("containerd.toml"), config).unwrap();
        let log = |name: &str| std::fs::File::create(path.join(name)).unwrap();
        let containerd = Command::new("containerd")
            .arg("--config")
            .arg(path.join("containerd.toml"))
            .stdout(log("containerd.out"))
            .stderr(log("containerd.log"))
            .spawn()
            .expect("containerd (cargo xtask setup installs it)");
        let mut docker = Docker { dir, containerd, dockerd: None, bridge_existed };
        wait_for("containerd's socket", || path.join("containerd.sock").exists());
        let daemon = serde_json::json!({"runtimes": {"cradle": {"path": cradle_bin()}}});
        std::fs::write(path.join("daemon.json"), daemon.to_string()).unwrap();
        let mut dockerd = Command::new("dockerd");
        for (flag, name) in [
            ("--config-file", "daemon.json"),
            ("--containerd", "containerd.sock"),
            ("--data-root", "data"),
            ("--exec-root", "exec"),
            ("--pidfile", "docker.pid"),
        ] {
            dockerd.arg(flag).arg(path.join(name));
        }
        let dockerd = dockerd
            .arg("-H")
            .arg(format!("unix://{}", path.join("docker.sock").display()))
            // The host's firewall is not the test's to change; the
            // bridge's own address is reachable without it.
            .args(["--iptables=false", "--ip-masq=false"])
            .stdout(log("dockerd.out"))
            .stderr(log("dockerd.log"))
            .spawn()
            .expect("dockerd (cargo xtask setup installs docker.io)");
        docker.dockerd = Some(dockerd);
        wait_for("dockerd", || docker.run(&["version"]).status.success());
        docker
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(DOCKER);
        command
            .env("DOCKER_HOST", format!("unix://{}", self.dir.path().join("docker.sock").display()))
            .args(args)
            .stdin(Stdio::null());
        command
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        succeeded(self.run(args), &format!("docker {}", args.join(" ")))
    }

    fn import(&self, rootfs: &Path) {
        let mut tar = Command::new("tar")
            .arg("-C")
            .arg(rootfs)
            .args(["-c", "."])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let archive = tar.stdout.take().unwrap();
        let out = self.command(&["import", "-", IMAGE]).stdin(archive).output().unwrap();
        assert!(tar.wait().unwrap().success(), "tar of {}", rootfs.display());
        succeeded(out, "docker import");
    }

    /// Checks that nothing the container `id` had is left: its cgroups, its
    /// mounts, the runtime's state directory for it, veths on the bridge.
    fn assert_gone(&self, id: &str) {
        assert!(cgroups_mentioning(id).is_empty(), "cgroups of {id} left");
        let mounts: Vec<String> = std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .lines()
            .filter(|line| line.contains(id))
            .map(str::to_owned)
            .collect();
        assert!(mounts.is_empty(), "mounts of {id} left: {mounts:?}");
        // containerd's shim runs the runtime with --root /run/containerd/runc/NS.
        let state = Path::new("/run/containerd/runc/moby").join(id);
        assert!(!state.exists(), "{} left", state.display());
        assert!(ports_of("docker0").is_empty(), "veths left on docker0");
    }

    fn full_id(&self, name: &str) -> String {
        self.ok(&["inspect", "-f", "{{.Id}}", name]).trim().to_owned()
    }
}

impl Drop for Docker {
    fn drop(&mut self) {
        let leftover = self.run(&["ps", "-aq"]);
        for id in stdout(&leftover).split_whitespace() {
            let _ = self.run(&["rm", "-f", id]);
        }
        if let Some(mut dockerd) = self.dockerd.take() {
            stop(&mut dockerd);
        }
        stop(&mut self.containerd);
        unmount_below(self.dir.path());
        if !self.bridge_existed && link_exists("docker0") {
            let _ = Command::new("ip").args(["link", "delete", "docker0"]).status();
        }
    }
}

fn wait_for(what: &str, mut ready: impl FnMut() -> bool) {
    for _ in 0..600 {
        if ready() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{what} did not come up within a minute");
}

#[test]
fn docker_runs_containers_with_cradle() {
    let docker = Docker::start();
    let rootfs = busybox_rootfs(docker.dir.path());
    docker.import(&rootfs);
    let run = |extra: &[&str]| {
        let mut args = vec!["run", "--runtime", "cradle"];
        args.extend_from_slice(extra);
        docker.run(&args)
    };

    // run --rm: the output comes back, and nothing is left.
    let out = run(&["--rm", "--name", "cradle-clients-rm", IMAGE, "echo", "hello from cradle"]);
    assert_eq!(stdout(&out), "hello from cradle\n", "{}", text(&out));

    // -t: a terminal through the console socket.
    let out = run(&["--rm", "-t", IMAGE, "sh", "-c", "tty; test -t 1 && echo is-a-tty"]);
    let output = stdout(&out);
    assert!(output.contains("/dev/pts/") && output.contains("is-a-tty"), "{}", text(&out));

    // -d, then exec, top, pause/unpause, update, stop, rm.
    let name = "cradle-clients-d";
    succeeded(run(&["-d", "--name", name, IMAGE, "sleep", "1000"]), "docker run -d");
    let id = docker.full_id(name);
    let out = docker.ok(&["exec", name, "sh", "-c", "echo exec-ok; cat /proc/1/cmdline"]);
    assert_eq!(out, "exec-ok\nsleep\u{0}1000\u{0}");
    let top = docker.ok(&["top", name]);
    assert!(top.lines().any(|line| line.ends_with("sleep 1000")), "{top}");
    docker.ok(&["pause", name]);
    assert_eq!(docker.ok(&["inspect", "-f", "{{.State.Status}}", name]).trim(), "paused");
    docker.ok(&["unpause", name]);
    assert_eq!(docker.ok(&["inspect", "-f", "{{.State.Status}}", name]).trim(), "running");
    docker.ok(&["update", "--memory", "64m", "--memory-swap", "128m", name]);
    let limit = docker.ok(&[
        "exec",
        name,
        "sh",
        "-c",
        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max",
    ]);
    assert_eq!(limit.trim(), "67108864");
    docker.ok(&["stop", "-t", "1", name]);
    assert_eq!(docker.ok(&["inspect", "-f", "{{.State.Status}}", name]).trim(), "exited");
    docker.ok(&["rm", name]);
    docker.assert_gone(&id);

    // The default bridge: the container reaches the bridge's address.
    let addresses =
        Command::new("ip").args(["-4", "-o", "addr", "show", "dev", "docker0"]).output();
    let addresses = stdout(&addresses.unwrap());
    let gateway = addresses
        .split_whitespace()
        .skip_while(|word| *word != "inet")
        .nth(1)
        .and_then(|cidr| cidr.split('/').next())
        .unwrap_or_else(|| panic!("docker0 has an IPv4 address: {addresses}"))
        .to_owned();
    let out = run(&[
        "--rm",
        "--name",
        "cradle-clients-net",
        IMAGE,
        "ping",
        "-c",
        "1",
        "-W",
        "5",
        &gateway,
    ]);
    assert!(out.status.success(), "ping {gateway}: {}", text(&out));
    assert!(stdout(&out).contains("1 packets received"), "{}", text(&out));

    // A config cradle refuses: docker shows cradle's own reason (through
    // the shim's log file), not "exit status 1".
    let profile = docker.dir.path().join("notify.json");
    std::fs::write(
        &profile,
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["getpid"],"action":"SCMP_ACT_NOTIFY"}]}"#,
    )
    .unwrap();
    let seccomp = format!("seccomp={}", profile.display());
    let out =
        run(&["--rm", "--name", "cradle-clients-bad", "--security-opt", &seccomp, IMAGE, "true"]);
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("linux.seccomp.listenerPath") && said.contains("SCMP_ACT_NOTIFY"),
        "{}",
        text(&out)
    );
    let leftover = docker.ok(&["ps", "-aq"]);
    assert!(leftover.trim().is_empty(), "containers left: {leftover}");
    assert!(cgroups_mentioning("cradle-clients").is_empty());
}

/// podman with its own storage and run directories under a temp dir.
struct Podman {
    dir: tempfile::TempDir,
    cni_bridge_existed: bool,
    cni_chains_existed: bool,
}

/// Whether the CNI firewall plugin's chains are in iptables' filter table.
fn cni_chains_exist() -> bool {
    Command::new("iptables")
        .args(["-S", "CNI-FORWARD"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// Removes the chains podman's CNI firewall plugin adds on first use.
fn remove_cni_chains() {
    let iptables = |args: &[&str]| {
        let _ = Command::new("iptables").args(args).stderr(Stdio::null()).status();
    };
    let jump = ["FORWARD", "-m", "comment", "--comment", "CNI firewall plugin rules"];
    let mut delete = vec!["-D"];
    delete.extend_from_slice(&jump);
    delete.extend_from_slice(&["-j", "CNI-FORWARD"]);
    iptables(&delete);
    for chain in ["CNI-FORWARD", "CNI-ADMIN"] {
        iptables(&["-F", chain]);
    }
    for chain in ["CNI-FORWARD", "CNI-ADMIN"] {
        iptables(&["-X", chain]);
    }
}

impl Podman {
    fn new() -> Podman {
        let dir = tempfile::Builder::new().prefix("cradle-podman-").tempdir().unwrap();
        Podman {
            dir,
            cni_bridge_existed: link_exists("cni-podman0"),
            cni_chains_existed: cni_chains_exist(),
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        let mut podman = Command::new("podman");
        for (flag, name) in [("--root", "storage"), ("--runroot", "run"), ("--tmpdir", "tmp")] {
            podman.arg(flag).arg(self.dir.path().join(name));
        }
        podman
            .arg("--runtime")
            .arg(cradle_bin())
            .args(["--events-backend", "file"])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("podman (cargo xtask setup installs it)")
    }

    fn ok(&self, args: &[&str]) -> String {
        succeeded(self.run(args), &format!("podman {}", args.join(" ")))
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let _ = self.run(&["rm", "-af", "-t", "0"]);
        unmount_below(self.dir.path());
        if !self.cni_bridge_existed && link_exists("cni-podman0") {
            let _ = Command::new("ip").args(["link", "delete", "cni-podman0"]).status();
        }
        if !self.cni_chains_existed {
            remove_cni_chains();
        }
    }
}

fn podman_lifecycle(podman: &Podman, rootfs: &str, extra: &[&str], name: &str) {
    let run = |args: &[&str]| {
        let mut all = vec!["run"];
        all.extend_from_slice(&PODMAN_ULIMITS);
        all.extend_from_slice(extra);
        all.extend_from_slice(args);
        podman.run(&all)
    };
    let out = run(&[
        "--rm",
        "--rootfs",
        rootfs,
        "sh",
        "-c",
        "echo hello; grep Seccomp: /proc/self/status",
    ]);
    // podman's default seccomp profile is applied (mode 2: filter).
    assert_eq!(stdout(&out), "hello\nSeccomp:\t2\n", "{}", text(&out));

    succeeded(run(&["-d", "--name", name, "--rootfs", rootfs, "sleep", "1000"]), "podman run -d");
    let id = podman.ok(&["inspect", "-f", "{{.Id}}", name]).trim().to_owned();
    let out = podman.ok(&["exec", name, "sh", "-c", "echo exec-ok; cat /proc/1/cmdline"]);
    assert_eq!(out, "exec-ok\nsleep\u{0}1000\u{0}");
    let top = podman.ok(&["top", name]);
    assert!(top.contains("sleep 1000"), "{top}");
    podman.ok(&["pause", name]);
    assert_eq!(podman.ok(&["inspect", "-f", "{{.State.Status}}", name]).trim(), "paused");
    podman.ok(&["unpause", name]);
    assert_eq!(podman.ok(&["inspect", "-f", "{{.State.Status}}", name]).trim(), "running");
    podman.ok(&["stop", "-t", "1", name]);
    assert_eq!(podman.ok(&["inspect", "-f", "{{.State.Status}}", name]).trim(), "exited");
    podman.ok(&["rm", name]);
    assert!(cgroups_mentioning(&id).is_empty(), "cgroups of {id} left");
    let mounts: Vec<String> = std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|line| line.contains(&id))
        .map(str::to_owned)
        .collect();
    assert!(mounts.is_empty(), "mounts of {id} left: {mounts:?}");
    let state = podman.dir.path().join("run");
    let states: Vec<_> = walk_names(&state).into_iter().filter(|p| p.contains(&id)).collect();
    assert!(states.is_empty(), "state of {id} left: {states:?}");
    assert!(ports_of("cni-podman0").is_empty(), "veths left on cni-podman0");
}

fn walk_names(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if entry.file_type().is_ok_and(|t| t.is_dir() && !t.is_symlink()) {
            out.extend(walk_names(&path));
        }
        out.push(path.display().to_string());
    }
    out
}

#[test]
fn podman_runs_containers_with_cradle() {
    let podman = Podman::new();
    let rootfs = busybox_rootfs(podman.dir.path());
    let rootfs = rootfs.to_str().unwrap();
    podman_lifecycle(&podman, rootfs, &[], "cradle-clients-p");
    // In its own cgroup namespace, the container's cgroup is its root.
    let out = podman.ok(&[
        "run",
        "--rm",
        "--cgroupns=private",
        PODMAN_ULIMITS[0],
        PODMAN_ULIMITS[1],
        PODMAN_ULIMITS[2],
        PODMAN_ULIMITS[3],
        "--rootfs",
        rootfs,
        "cat",
        "/proc/self/cgroup",
    ]);
    assert!(out.lines().all(|line| line.ends_with(":/")), "{out}");
    podman_lifecycle(&podman, rootfs, &["--cgroupns=private"], "cradle-clients-pns");
}
