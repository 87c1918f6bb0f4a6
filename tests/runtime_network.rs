//! `--net bridge`, inside a network namespace each test makes for itself
//! (a holder process made by `unshare -n`): the bridge, the veths and the
//! addresses never touch the host's network.

#[path = "common/runtime.rs"]
mod runtime;

use std::{
    path::Path,
    process::{Child, Command, Output, Stdio},
};

use runtime::{Sandbox, cgroups_mentioning, cradle_bin, host_mounts_mentioning, stderr, stdout};

/// A private network namespace, kept alive by a sleeping process.
struct TestNetns {
    holder: Child,
}

impl TestNetns {
    fn new() -> Self {
        let holder = Command::new("unshare")
            .args(["--net", "sleep", "600"])
            .stdin(Stdio::null())
            .spawn()
            .expect("unshare --net (util-linux)");
        // Owned at once, so the Drop below kills and waits for it.
        let netns = TestNetns { holder };
        // unshare execs sleep once the namespace is made.
        for _ in 0..200 {
            if std::fs::read_link(format!("/proc/{}/exe", netns.holder.id()))
                .is_ok_and(|exe| exe.to_string_lossy().contains("sleep"))
            {
                return netns;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        panic!("unshare never ran sleep");
    }

    fn path(&self) -> String {
        format!("/proc/{}/ns/net", self.holder.id())
    }

    /// `cradle --root ROOT ARGS` inside the namespace.
    fn cradle(&self, sandbox: &Sandbox, args: &[&str]) -> Command {
        let mut command = Command::new("nsenter");
        command
            .arg(format!("--net={}", self.path()))
            .arg(cradle_bin())
            .arg("--root")
            .arg(&sandbox.root)
            .args(args)
            .stdin(Stdio::null());
        command
    }

    fn output(&self, sandbox: &Sandbox, args: &[&str]) -> Output {
        self.cradle(sandbox, args).output().expect("nsenter cradle")
    }

    /// `create` with stdio to /dev/null: the waiting init keeps it open.
    fn create(&self, sandbox: &Sandbox, args: &[&str]) -> Output {
        let err = sandbox.dir.path().join("create.err");
        let status = self
            .cradle(sandbox, &[&["create"], args].concat())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&err).unwrap())
            .status()
            .unwrap();
        Output { status, stdout: Vec::new(), stderr: std::fs::read(&err).unwrap_or_default() }
    }

    /// Interface names in the namespace.
    fn links(&self) -> Vec<String> {
        let out = Command::new("nsenter")
            .arg(format!("--net={}", self.path()))
            .args(["cat", "/proc/net/dev"])
            .output()
            .unwrap();
        stdout(&out)
            .lines()
            .skip(2)
            .filter_map(|line| line.split(':').next())
            .map(|name| name.trim().to_owned())
            .collect()
    }

    /// Lease directories for `bridge` in this namespace.
    fn leases(&self, bridge: &str) -> Vec<String> {
        let inode = std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(self.path()).unwrap());
        let dir = Path::new("/run/cradle-net").join(format!("{bridge}@{inode}"));
        match std::fs::read_dir(&dir) {
            Ok(entries) => {
                entries.flatten().map(|e| e.file_name().into_string().unwrap()).collect()
            }
            Err(_) => Vec::new(),
        }
    }
}

impl Drop for TestNetns {
    fn drop(&mut self) {
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }
}

fn bridge_name(tag: &str) -> String {
    format!("t{tag}{}", std::process::id() % 100_000)
}

#[test]
fn two_bridged_containers_ping_each_other_and_leave_nothing() {
    let netns = TestNetns::new();
    let sandbox = Sandbox::new();
    let bundle = sandbox.bundle("b", &["sleep", "1000"]);
    let bundle_arg = bundle.to_str().unwrap();
    let bridge = bridge_name("p");
    let ids = [sandbox.id("ping-a"), sandbox.id("ping-b")];
    for id in &ids {
        let out =
            netns.create(&sandbox, &["--net", "bridge", "--bridge", &bridge, "-b", bundle_arg, id]);
        assert!(out.status.success(), "create {id}: {}", stderr(&out));
        let out = netns.output(&sandbox, &["start", id]);
        assert!(out.status.success(), "start {id}: {}", stderr(&out));
    }
    let address_of = |id: &str| {
        let out = netns.output(&sandbox, &["exec", id, "ip", "-4", "-o", "addr", "show", "eth0"]);
        assert!(out.status.success(), "exec ip: {}", stderr(&out));
        let text = stdout(&out);
        let cidr = text.split_whitespace().nth(3).unwrap_or_else(|| panic!("{text}")).to_owned();
        cidr.split('/').next().unwrap().to_owned()
    };
    let (a, b) = (address_of(&ids[0]), address_of(&ids[1]));
    assert_ne!(a, b);
    for (from, to) in [(&ids[0], &b), (&ids[1], &a)] {
        let out = netns.output(&sandbox, &["exec", from, "ping", "-c", "1", "-W", "3", to]);
        assert!(out.status.success(), "{from} -> {to}: {}{}", stdout(&out), stderr(&out));
    }
    let links = netns.links();
    assert!(links.contains(&bridge), "{links:?}");
    assert_eq!(links.iter().filter(|l| l.starts_with("crv")).count(), 2, "{links:?}");

    for id in &ids {
        let out = netns.output(&sandbox, &["delete", "--force", id]);
        assert!(out.status.success(), "delete {id}: {}", stderr(&out));
    }
    assert_eq!(netns.links(), ["lo"], "links left after delete");
    assert!(netns.leases(&bridge).is_empty(), "leases left: {:?}", netns.leases(&bridge));
}

#[test]
fn without_net_only_loopback() {
    let netns = TestNetns::new();
    let sandbox = Sandbox::new();
    let bundle = sandbox.bundle("b", &["sh", "-c", "tail -n +3 /proc/net/dev | cut -d: -f1"]);
    let out =
        netns.output(&sandbox, &["run", "-b", bundle.to_str().unwrap(), &sandbox.id("nonet")]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "lo");
}

#[test]
fn bad_network_options_fail_and_leave_nothing() {
    let netns = TestNetns::new();
    let sandbox = Sandbox::new();
    let bundle = sandbox.bundle("b", &["true"]);
    let bundle_arg = bundle.to_str().unwrap();
    let id = sandbox.id("badnet");
    let cases: [(&[&str], &str); 3] = [
        (&["--bridge", "a-name-longer-than-ifnamsiz"], "15 bytes"),
        (&["--subnet", "8.8.8.0/24"], "private"),
        (&["--subnet", "10.89.0.0/8"], "prefix length"),
    ];
    for (extra, message) in cases {
        for command in ["create", "run"] {
            let args = [&[command, "--net", "bridge"], extra, &["-b", bundle_arg, &id]].concat();
            let out = netns.output(&sandbox, &args);
            assert!(!out.status.success(), "{args:?} should fail");
            assert!(stderr(&out).contains(message), "{args:?}: {}", stderr(&out));
            assert!(!sandbox.root.join(&id).exists(), "state directory left");
            assert_eq!(netns.links(), ["lo"]);
        }
    }
    // A subnet that overlaps an address already there: checked before
    // anything is made, and the bridge made for it is gone again.
    let bridge = bridge_name("c");
    let first = sandbox.id("net-first");
    let out =
        netns.create(&sandbox, &["--net", "bridge", "--bridge", &bridge, "-b", bundle_arg, &first]);
    assert!(out.status.success(), "{}", stderr(&out));
    let other = bridge_name("d");
    let out = netns.output(
        &sandbox,
        &[
            "create",
            "--net",
            "bridge",
            "--bridge",
            &other,
            "--subnet",
            "10.89.0.128/25",
            "-b",
            bundle_arg,
            &id,
        ],
    );
    assert!(stderr(&out).contains("overlaps"), "{}", stderr(&out));
    assert!(!sandbox.root.join(&id).exists(), "state directory left");
    assert!(!netns.links().contains(&other), "{:?}", netns.links());
    assert!(netns.leases(&other).is_empty());
    let out = netns.output(&sandbox, &["delete", "--force", &first]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(netns.links(), ["lo"]);
}

#[test]
fn bridge_needs_a_network_namespace() {
    let netns = TestNetns::new();
    let sandbox = Sandbox::new();
    let bundle = sandbox.bundle("b", &["true"]);
    sandbox.edit_config(&bundle, |config| {
        config["linux"]["namespaces"].as_array_mut().unwrap().retain(|ns| ns["type"] != "network");
    });
    let id = sandbox.id("nonetns");
    let out =
        netns.output(&sandbox, &["run", "--net", "bridge", "-b", bundle.to_str().unwrap(), &id]);
    assert!(stderr(&out).contains("new network namespace"), "{}", stderr(&out));
    assert!(!sandbox.root.join(&id).exists());
}

/// 200 create/delete cycles with networking: counts of what this test
/// could have made are the same before and after.
#[test]
fn create_delete_cycles_leave_nothing_behind() {
    const CYCLES: usize = 200;
    let netns = TestNetns::new();
    let sandbox = Sandbox::new();
    let bundle = sandbox.bundle("b", &["sleep", "1000"]);
    let bundle_arg = bundle.to_str().unwrap();
    let bridge = bridge_name("y");
    let prefix = format!("cycle-{}-", std::process::id());
    let count = || {
        let state_dirs = std::fs::read_dir(&sandbox.root).map(|d| d.count()).unwrap_or(0);
        (
            host_mounts_mentioning(&bundle).len(),
            cgroups_mentioning(&prefix).len(),
            netns.links(),
            netns.leases(&bridge).len(),
            state_dirs,
        )
    };
    let before = count();
    for cycle in 0..CYCLES {
        let id = format!("{prefix}{cycle}");
        let out = netns
            .create(&sandbox, &["--net", "bridge", "--bridge", &bridge, "-b", bundle_arg, &id]);
        assert!(out.status.success(), "cycle {cycle} create: {}", stderr(&out));
        let out = netns.output(&sandbox, &["delete", "--force", &id]);
        assert!(out.status.success(), "cycle {cycle} delete: {}", stderr(&out));
    }
    assert_eq!(count(), before, "(mounts, cgroups, links, leases, state dirs)");
}
