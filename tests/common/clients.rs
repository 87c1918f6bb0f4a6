//! Real clients started by a test: containerd and dockerd with every path
//! under a temporary directory (there is no systemd), and podman with its
//! own storage. cradle is registered as a docker runtime beside docker's
//! default (runc); podman runs the runtime it is given. Each is stopped
//! by pid and cleaned up on drop.
//!
//! `/usr/bin/docker` on purpose: the machine image puts a newer docker CLI
//! first in PATH.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
    time::Duration,
};

use super::runtime::{cgroups_mentioning, cradle_bin, host_mounts_mentioning};

pub const DOCKER: &str = "/usr/bin/docker";
pub const IMAGE: &str = "cradle-clients-busybox";
/// What runc needs under podman on these machines (no CAP_SYS_RESOURCE).
pub const PODMAN_ULIMITS: [&str; 4] =
    ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"];

pub fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn succeeded(out: Output, what: &str) -> String {
    assert!(out.status.success(), "{what}: {}", text(&out));
    stdout(&out)
}

/// A busybox root filesystem, as `cradle bundle` builds it.
pub fn busybox_rootfs(dir: &Path) -> PathBuf {
    let bundle = dir.join("bundle");
    let out = Command::new(cradle_bin()).arg("bundle").arg(&bundle).output().unwrap();
    succeeded(out, "cradle bundle");
    bundle.join("rootfs")
}

/// Unmounts whatever is still mounted below `dir`, deepest first.
pub fn unmount_below(dir: &Path) {
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

pub fn link_exists(name: &str) -> bool {
    Path::new("/sys/class/net").join(name).exists()
}

/// Veths enslaved to `bridge`.
pub fn ports_of(bridge: &str) -> Vec<String> {
    std::fs::read_dir(Path::new("/sys/class/net").join(bridge).join("brif"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect()
}

pub fn stop(child: &mut Child) {
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap()),
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
pub struct Docker {
    pub dir: tempfile::TempDir,
    containerd: Child,
    dockerd: Option<Child>,
    bridge_existed: bool,
}

impl Docker {
    pub fn start() -> Docker {
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

    /// Its `DOCKER_HOST`.
    pub fn host(&self) -> String {
        format!("unix://{}", self.dir.path().join("docker.sock").display())
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(DOCKER);
        command.env("DOCKER_HOST", self.host()).args(args).stdin(Stdio::null());
        command
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    pub fn ok(&self, args: &[&str]) -> String {
        succeeded(self.run(args), &format!("docker {}", args.join(" ")))
    }

    pub fn import(&self, rootfs: &Path) {
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
    pub fn assert_gone(&self, id: &str) {
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

    pub fn full_id(&self, name: &str) -> String {
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

pub fn wait_for(what: &str, mut ready: impl FnMut() -> bool) {
    for _ in 0..600 {
        if ready() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{what} did not come up within a minute");
}

/// podman with its own storage and run directories under a temp dir.
pub struct Podman {
    pub dir: tempfile::TempDir,
    /// `--runtime`: cradle, or a peer (runc) by name.
    runtime: String,
    cni_bridge_existed: bool,
    cni_chains_existed: bool,
}

/// Whether the CNI firewall plugin's chains are in iptables' filter table.
pub fn cni_chains_exist() -> bool {
    Command::new("iptables")
        .args(["-S", "CNI-FORWARD"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// Removes the chains podman's CNI firewall plugin adds on first use.
pub fn remove_cni_chains() {
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
    /// podman with cradle as its runtime.
    pub fn new() -> Podman {
        Podman::with_runtime(cradle_bin())
    }

    /// podman with `runtime` (a path, or a name podman looks up).
    pub fn with_runtime(runtime: &str) -> Podman {
        let dir = tempfile::Builder::new().prefix("cradle-podman-").tempdir().unwrap();
        Podman {
            dir,
            runtime: runtime.to_owned(),
            cni_bridge_existed: link_exists("cni-podman0"),
            cni_chains_existed: cni_chains_exist(),
        }
    }

    pub fn run(&self, args: &[&str]) -> Output {
        let mut podman = Command::new("podman");
        for (flag, name) in [("--root", "storage"), ("--runroot", "run"), ("--tmpdir", "tmp")] {
            podman.arg(flag).arg(self.dir.path().join(name));
        }
        podman
            .arg("--runtime")
            .arg(&self.runtime)
            .args(["--events-backend", "file"])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("podman (cargo xtask setup installs it)")
    }

    pub fn ok(&self, args: &[&str]) -> String {
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

pub fn walk_names(dir: &Path) -> Vec<String> {
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
