//! Real clients drive cradle as their OCI runtime (issue 16): Debian's
//! docker 20.10 (dockerd -> containerd 1.6 -> containerd-shim-runc-v2)
//! and podman 4.3 (conmon), unmodified, with cradle registered as a
//! runtime. Each test starts what it needs under its own temporary
//! directory (there is no systemd), stops it by pid, and checks that no
//! mount, cgroup, veth or state directory is left.
//! The helpers that start them are in `common::clients`.

mod common;

use std::process::Command;

use common::{
    clients::{
        Docker, IMAGE, PODMAN_ULIMITS, Podman, busybox_rootfs, ports_of, stdout, succeeded, text,
        walk_names,
    },
    runtime::cgroups_mentioning,
};

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
