//! Namespaces shared and joined as the OCI spec says: with no mount
//! namespace listed the container shares the host's (jailed by chroot, its
//! mounts removed on delete and on a failed create), and a hostname is set
//! in a joined uts namespace, as runc does, but never in the host's.

#[path = "common/runtime.rs"]
mod runtime;

use std::process::{Child, Command, Stdio};

use runtime::{Sandbox, host_mounts_mentioning, run_with, stderr, stdout};

/// A bundle whose config lists no mount namespace, and so carries none of
/// the masked or read-only paths that need one.
fn shared_mount_bundle(sandbox: &Sandbox, name: &str, args: &[&str]) -> std::path::PathBuf {
    let bundle = sandbox.bundle(name, args);
    sandbox.edit_config(&bundle, |config| {
        let namespaces = config["linux"]["namespaces"].as_array_mut().unwrap();
        namespaces.retain(|ns| ns["type"] != "mount");
        config["linux"]["maskedPaths"] = serde_json::json!([]);
        config["linux"]["readonlyPaths"] = serde_json::json!([]);
        config["root"]["readonly"] = serde_json::json!(false);
    });
    std::fs::write(bundle.join("rootfs/marker"), "inside the rootfs\n").unwrap();
    bundle
}

fn own_namespace(kind: &str) -> String {
    std::fs::read_link(format!("/proc/self/ns/{kind}")).unwrap().display().to_string()
}

#[test]
fn without_a_mount_namespace_the_container_shares_the_hosts_and_leaves_no_mount() {
    let sandbox = Sandbox::new();
    let bundle = shared_mount_bundle(
        &sandbox,
        "shared",
        &[
            "sh",
            "-c",
            "readlink /proc/self/ns/mnt; cat /marker; ls /proc/1/ns >/dev/null && echo proc",
        ],
    );
    let rootfs = std::fs::canonicalize(bundle.join("rootfs")).unwrap();
    // A mount that was under the rootfs before the container is the
    // host's: the container's clean-up must leave it.
    let preexisting = rootfs.join("mnt");
    std::fs::create_dir_all(&preexisting).unwrap();
    assert!(
        Command::new("mount")
            .args(["-t", "tmpfs", "cradle-preexisting"])
            .arg(&preexisting)
            .status()
            .unwrap()
            .success()
    );
    let id = sandbox.id("sharedmnt");
    let out = sandbox.output(&["run", "--bundle", bundle.to_str().unwrap(), &id]);
    let left = host_mounts_mentioning(&rootfs);
    let _ = Command::new("umount").arg(&preexisting).status();
    assert!(out.status.success(), "run: {}", stderr(&out));
    let lines: Vec<String> = stdout(&out).lines().map(str::to_owned).collect();
    assert_eq!(lines, [own_namespace("mnt"), "inside the rootfs".to_owned(), "proc".to_owned()]);
    assert!(stderr(&out).contains("shares the host's"), "no warning: {}", stderr(&out));
    assert_eq!(left.len(), 1, "only the pre-existing mount stays: {left:#?}");
    assert!(left[0].contains("cradle-preexisting"), "{left:#?}");
}

#[test]
fn exec_enters_the_root_of_a_container_that_shares_the_host_mount_namespace() {
    let sandbox = Sandbox::new();
    let bundle = shared_mount_bundle(&sandbox, "shared-exec", &["sleep", "60"]);
    let rootfs = std::fs::canonicalize(bundle.join("rootfs")).unwrap();
    let id = sandbox.id("sharedexec");
    let created = sandbox.create(&bundle, &id);
    assert!(created.status.success(), "create: {}", stderr(&created));
    let started = sandbox.output(&["start", &id]);
    assert!(started.status.success(), "start: {}", stderr(&started));
    let exec =
        sandbox.output(&["exec", &id, "sh", "-c", "cat /marker; readlink /proc/self/ns/mnt"]);
    assert!(exec.status.success(), "exec: {}", stderr(&exec));
    assert_eq!(stdout(&exec), format!("inside the rootfs\n{}\n", own_namespace("mnt")));
    let deleted = sandbox.output(&["delete", "--force", &id]);
    assert!(deleted.status.success(), "delete: {}", stderr(&deleted));
    assert_eq!(host_mounts_mentioning(&rootfs), Vec::<String>::new());
}

#[test]
fn a_failed_create_in_the_host_mount_namespace_leaves_no_mount() {
    let sandbox = Sandbox::new();
    let bundle = shared_mount_bundle(&sandbox, "shared-fail", &["true"]);
    // createContainer hooks run once the mounts are made.
    sandbox.edit_config(&bundle, |config| {
        config["hooks"] = serde_json::json!({"createContainer": [{"path": "/bin/false"}]});
    });
    let rootfs = std::fs::canonicalize(bundle.join("rootfs")).unwrap();
    let id = sandbox.id("sharedfail");
    let out = sandbox.create(&bundle, &id);
    assert!(!out.status.success(), "create succeeded");
    assert!(stderr(&out).contains("createContainer"), "{}", stderr(&out));
    assert_eq!(host_mounts_mentioning(&rootfs), Vec::<String>::new());
    assert!(!sandbox.root.join(&id).exists(), "state directory left");
}

/// A process in a uts namespace of its own, holding it for the test.
struct UtsHolder(Child);

impl UtsHolder {
    fn spawn() -> Self {
        // Held by the guard from here, so killed and reaped on every path.
        let holder = UtsHolder(
            Command::new("unshare")
                .args(["--uts", "sleep", "60"])
                .stdin(Stdio::null())
                .spawn()
                .expect("unshare --uts"),
        );
        let own = own_namespace("uts");
        for _ in 0..500 {
            if std::fs::read_link(holder.path()).is_ok_and(|ns| ns.display().to_string() != own) {
                return holder;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        panic!("unshare never entered a new uts namespace");
    }

    fn path(&self) -> String {
        format!("/proc/{}/ns/uts", self.0.id())
    }

    fn hostname(&self) -> String {
        let out = Command::new("nsenter")
            .args(["-t", &self.0.id().to_string(), "-u", "hostname"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }
}

impl Drop for UtsHolder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn joined_uts_bundle(
    sandbox: &Sandbox,
    name: &str,
    uts_path: &str,
    hostname: &str,
) -> std::path::PathBuf {
    let bundle = sandbox.bundle(name, &["hostname"]);
    sandbox.edit_config(&bundle, |config| {
        config["hostname"] = serde_json::json!(hostname);
        for ns in config["linux"]["namespaces"].as_array_mut().unwrap() {
            if ns["type"] == "uts" {
                ns["path"] = serde_json::json!(uts_path);
            }
        }
    });
    bundle
}

#[test]
fn a_hostname_is_set_in_a_joined_uts_namespace_as_runc_does() {
    let sandbox = Sandbox::new();
    let host_hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    for runtime in ["runc", "cradle"] {
        let holder = UtsHolder::spawn();
        let name = format!("joined-{runtime}");
        let bundle = joined_uts_bundle(&sandbox, &name, &holder.path(), &name);
        let id = sandbox.id(&format!("uts{runtime}"));
        let root = sandbox.dir.path().join(format!("{runtime}-state"));
        let out = run_with(runtime, &root, &bundle, &id);
        assert!(out.status.success(), "{runtime} run: {}", stderr(&out));
        assert_eq!(stdout(&out).trim(), name, "{runtime}: the container's hostname");
        assert_eq!(holder.hostname(), name, "{runtime}: the joined namespace's hostname");
    }
    assert_eq!(std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap(), host_hostname);
}

#[test]
fn a_hostname_is_refused_for_the_hosts_own_uts_namespace() {
    let sandbox = Sandbox::new();
    let host_hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    // This test's own uts namespace is the one cradle runs in.
    let hosts = format!("/proc/{}/ns/uts", std::process::id());
    let bundle = joined_uts_bundle(&sandbox, "host-uts", &hosts, "hijacked");
    let id = sandbox.id("utshost");
    let out = sandbox.output(&["run", "--bundle", bundle.to_str().unwrap(), &id]);
    assert_eq!(std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap(), host_hostname);
    assert!(!out.status.success(), "renamed the host");
    let message = stderr(&out);
    assert!(message.contains("hostname") && message.contains("runtime's own"), "{message}");
    assert!(!sandbox.root.join(&id).exists(), "state directory left");
}
