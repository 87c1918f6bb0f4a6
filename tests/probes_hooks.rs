//! The seed's kernel-function hooks, where the kernel allows them:
//! `create_new_namespaces` (fexit, else a kretprobe) and `veth_newlink` (a
//! kprobe), with the tracepoint and netlink paths where it does not. Each
//! test expects what this kernel allows, judged independently of cradle by
//! the kprobe event source: on these machines' 6.18 (no kprobes, tracing
//! programs refused) the fallback paths, on Debian's 6.1 and 6.12 (under
//! `cargo xtask vmtest`) the hooks. Needs root, runc, ip and /bin/busybox.

mod common;

use std::path::Path;

use common::{RuncBundle, cradle, json_lines, output, probes::ns_inum, watch::Watch};
use serde_json::Value;

/// Whether this kernel has kprobes (its perf event source), as a user
/// would check; then cradle must hook the functions.
fn kprobes_here() -> bool {
    Path::new("/sys/bus/event_source/devices/kprobe").exists()
}

/// Whether this kernel makes veths, as a user would find out: by making
/// a pair (and removing it). Under vmtest the guest may lack the kernel's
/// modules; then neither `ip` nor the hook has veth.
fn veth_here() -> bool {
    let name = format!("khv{}", std::process::id());
    let made = std::process::Command::new("ip")
        .args(["link", "add", &name, "type", "veth", "peer", "name", &format!("{name}p")])
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if made {
        let _ = std::process::Command::new("ip").args(["link", "del", &name]).status();
    }
    made
}

/// The container prints its namespace links, one `name name:[inode]` per line.
const NAMESPACES: [&str; 8] = ["mnt", "uts", "ipc", "pid", "net", "cgroup", "user", "time"];
const PRINT_NS: &str = "for n in mnt uts ipc pid net cgroup user time; do \
                        echo $n $(readlink /proc/self/ns/$n); done";

/// The header's record of how `probe` was served.
fn hook<'a>(lines: &'a [Value], probe: &str) -> &'a Value {
    let hooks = lines[0]["header"]["hooks"].as_array().expect("the header lists the hooks");
    hooks.iter().find(|h| h["probe"] == probe).unwrap_or_else(|| panic!("{probe}: {hooks:#?}"))
}

fn attached_programs(lines: &[Value]) -> Vec<String> {
    lines[0]["header"]["probes"]
        .as_array()
        .expect("probes")
        .iter()
        .map(|p| p["attach"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// The header names the path each hook took here, the programs attached
/// agree, and every better path refused says why.
fn assert_paths_recorded(lines: &[Value]) {
    let namespaces = hook(lines, "namespaces");
    let veth = hook(lines, "veth");
    let attached = attached_programs(lines);
    if kprobes_here() {
        let path = namespaces["path"].as_str().unwrap();
        assert!(["fexit", "kprobe"].contains(&path), "{namespaces}");
        let program = if path == "fexit" { "fexit" } else { "kretprobe" };
        assert!(attached.contains(&format!("{program}:create_new_namespaces")), "{attached:?}");
        if veth_here() {
            assert_eq!(veth["path"], "kprobe", "{veth}");
            assert!(attached.contains(&"kretprobe:veth_newlink".to_string()), "{attached:?}");
        } else {
            assert_eq!(veth["path"], "netlink", "{veth}");
        }
    } else {
        assert_eq!(namespaces["path"], "tracepoint", "{namespaces}");
        assert_eq!(veth["path"], "netlink", "{veth}");
        assert!(!attached.iter().any(|a| a.contains("create_new_namespaces")), "{attached:?}");
        for (hook, tried) in [(namespaces, ["fexit", "kprobe"]), (veth, ["fentry", "kprobe"])] {
            let refused = hook["refused"].as_array().expect("refused");
            for path in tried {
                let refusal = refused.iter().find(|r| r["path"] == path).expect(path);
                assert!(!refusal["reason"].as_str().unwrap().is_empty(), "{refusal}");
            }
        }
    }
}

/// `readlink` text `mnt:[4026531841]` -> 4026531841.
fn inode(link: &str) -> u64 {
    link[link.find('[').expect("[") + 1..link.len() - 1].parse().expect("inode")
}

#[test]
fn a_runc_containers_namespaces_come_from_create_new_namespaces_where_the_kernel_allows() {
    let bundle = RuncBundle::new(&["sh", "-c", PRINT_NS]);
    let (result, trace) = bundle.trace_runc_run("khooks");
    assert!(result.status.success(), "{result:?}");
    let printed: Vec<(String, u64)> = String::from_utf8_lossy(&result.stdout)
        .lines()
        .filter_map(|line| {
            let (name, link) = line.split_once(' ')?;
            NAMESPACES.contains(&name).then(|| (name.to_string(), inode(link)))
        })
        .collect();
    assert_eq!(printed.len(), NAMESPACES.len(), "{result:?}");
    let lines = json_lines(&trace);
    assert_paths_recorded(&lines);

    // runc's nsexec makes the container's namespaces in one unshare(2):
    // its record holds every namespace the container has (pid: those of
    // its children), read where the kernel allowed.
    let mnt = printed.iter().find(|(n, _)| n == "mnt").unwrap().1;
    let creation = lines
        .iter()
        .find(|e| e["kind"] == "namespaces" && e["namespaces"]["mnt"] == mnt && e["ret"] == 0)
        .unwrap_or_else(|| panic!("no record made mnt:[{mnt}]"));
    let expected = if kprobes_here() { "create_new_namespaces" } else { "tracepoint" };
    assert_eq!(creation["hook"], expected, "{creation}");
    // The others (runc makes the cgroup namespace where the host is
    // cgroup v2 by a later unshare) each come from a record of the path.
    let records: Vec<&Value> = lines.iter().filter(|e| e["kind"] == "namespaces").collect();
    for (name, inum) in &printed {
        let field = if name == "pid" { "pid_for_children" } else { name.as_str() };
        assert!(
            records.iter().any(|e| e["hook"] == expected && e["namespaces"][field] == *inum),
            "{name}:[{inum}] in no record read by {expected}: {records:#?}"
        );
    }
}

#[test]
fn traces_on_the_hook_and_the_tracepoint_paths_do_not_differ() {
    let bundle = RuncBundle::new(&["true"]);
    let trace = |name: &str, extra: &[&str]| {
        let path = bundle.path().join(name);
        let result = output(
            cradle()
                .args(["trace", "--out"])
                .arg(&path)
                .args(extra)
                .args(["--", "runc", "--root"])
                .arg(bundle.runc_root())
                .args(["run", "--bundle"])
                .arg(bundle.path())
                .arg(format!("khooks-diff-{}", std::process::id())),
        );
        assert!(result.status.success(), "{result:?}");
        path
    };
    // Without the capability probe: its only path on kernels before 6.14
    // is a hook, so refusing the hooks leaves it out of one trace only.
    let hooked = trace("hooked.jsonl", &["--skip-probe", "capability"]);
    let fallback = trace(
        "fallback.jsonl",
        &["--skip-probe", "capability", "--no-hook", "fexit", "--no-hook", "kprobe"],
    );
    let lines = json_lines(&fallback);
    let namespaces = hook(&lines, "namespaces");
    assert_eq!(namespaces["path"], "tracepoint", "{namespaces}");
    assert!(
        namespaces["refused"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["path"] == "kprobe" && r["reason"] == "refused by configuration"),
        "{namespaces}"
    );
    let diff = output(cradle().arg("diff").arg(&hooked).arg(&fallback));
    assert_eq!(
        diff.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&diff.stdout),
        String::from_utf8_lossy(&diff.stderr)
    );
}

#[test]
fn watch_records_how_a_veth_made_by_an_untracked_shell_was_seen() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Names unique to this test run (IFNAMSIZ: at most 15 bytes).
    let (a, b) = (format!("kh{}a", std::process::id()), format!("kh{}b", std::process::id()));
    let watch = Watch::start(dir.path());
    if !veth_here() {
        eprintln!("no veth driver in this kernel: only the recorded paths are checked");
        assert_paths_recorded(&watch.stop());
        return;
    }
    let added = output(
        std::process::Command::new("sh")
            .args(["-c", &format!("ip link add {a} type veth peer name {b} && ip link del {a}")]),
    );
    let lines = watch.stop();
    assert!(added.status.success(), "{added:?}");
    assert_paths_recorded(&lines);
    let veths: Vec<&Value> =
        lines.iter().filter(|e| e["kind"] == "veth" && e["link"]["name"] == a).collect();
    if !kprobes_here() {
        // Only the netlink path: it follows tracked tasks, and this shell
        // is none.
        assert!(veths.is_empty(), "{veths:#?}");
        return;
    }
    assert_eq!(veths.len(), 1, "{veths:#?}");
    let veth = veths[0];
    let host_net = ns_inum(u64::from(std::process::id()), "net");
    assert_eq!(veth["comm"], "ip", "{veth}");
    assert_eq!(veth["ret"], 0, "{veth}");
    assert_eq!(veth["peer"]["name"], b.as_str(), "{veth}");
    for end in ["link", "peer"] {
        assert_eq!(veth[end]["netns"], host_net, "{end} in {veth}");
        assert!(veth[end]["ifindex"].as_u64().is_some_and(|i| i > 0), "{end} in {veth}");
    }
    // Made on the host by the host: nobody's container.
    assert_eq!(veth["container"], Value::Null, "{veth}");
}

/// `ip netns attach`'s name for a namespace, deleted on drop.
struct NamedNetns(String);

impl Drop for NamedNetns {
    fn drop(&mut self) {
        let _ = std::process::Command::new("ip").args(["netns", "delete", &self.0]).status();
    }
}

/// The pid of a running runc container, once `runc state` says it runs.
fn running_pid(bundle: &RuncBundle, id: &str) -> u64 {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let state = output(
            std::process::Command::new("runc")
                .arg("--root")
                .arg(bundle.runc_root())
                .args(["state", id]),
        );
        if let Ok(state) = serde_json::from_slice::<Value>(&state.stdout)
            && state["status"] == "running"
        {
            return state["pid"].as_u64().expect("pid");
        }
        assert!(std::time::Instant::now() < deadline, "{id} never ran: {state:?}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn watch_gives_a_container_the_veth_a_daemon_puts_in_its_network_namespace() {
    if !veth_here() {
        // Seen under vmtest, whose guests lack the kernel's modules.
        eprintln!("no veth driver in this kernel: no daemon can make a veth");
        return;
    }
    let bundle = RuncBundle::new(&["sleep", "3"]);
    let id = format!("khooks-daemon-{}", std::process::id());
    let watch = Watch::start(bundle.path());
    let runc = {
        let mut command = std::process::Command::new("runc");
        command.arg("--root").arg(bundle.runc_root()).args(["run", "--bundle"]);
        command.arg(bundle.path()).arg(&id);
        command.stdout(std::process::Stdio::null()).spawn().expect("runc run")
    };
    let pid = running_pid(&bundle, &id);
    let container_net = ns_inum(pid, "net");
    // The daemon: `ip` under podman's network tool's name, untracked,
    // moving the peer through a namespace file descriptor, as dockerd and
    // netavark do.
    let daemon = bundle.path().join("netavark");
    std::fs::copy("/sbin/ip", &daemon).expect("copy ip");
    let netns = NamedNetns(format!("kh{}", std::process::id()));
    let attached = output(std::process::Command::new("ip").args([
        "netns",
        "attach",
        &netns.0,
        &pid.to_string(),
    ]));
    assert!(attached.status.success(), "{attached:?}");
    let (a, b) = (format!("kh{}h", std::process::id()), format!("kh{}c", std::process::id()));
    let added = output(
        std::process::Command::new(&daemon)
            .args(["link", "add", &a, "type", "veth", "peer", "name", &b, "netns", &netns.0]),
    );
    assert!(added.status.success(), "{added:?}");
    let _ = output(std::process::Command::new("ip").args(["link", "del", &a]));
    drop(netns);
    let waited = runc.wait_with_output().expect("runc");
    assert!(waited.status.success(), "{waited:?}");
    let lines = watch.stop();

    let requests: Vec<&Value> = lines
        .iter()
        .filter(|e| e["kind"] == "new_link" && e["link"]["name"] == a.as_str())
        .collect();
    assert_eq!(requests.len(), 1, "{requests:#?}");
    let request = requests[0];
    assert_eq!(request["comm"], "netavark", "{request}");
    assert_eq!(request["answer"], 0, "{request}");
    assert_eq!(request["peer"]["name"], b.as_str(), "{request}");
    assert_eq!(request["peer"]["netns"], container_net, "{request}");
    // runc is judged by its file: the one on the allow-list, as the kernel
    // names it (a guest's overlayfs /usr once made it untrusted, and so no
    // container).
    let runc_run = lines
        .iter()
        .find(|e| e["kind"] == "exec" && e["ret"] == 0 && e["argv"][3] == "run")
        .expect("runc run's exec");
    assert_eq!(runc_run.get("untrusted_runtime"), None, "{runc_run}");
    assert_eq!(request["container"], id.as_str(), "{request}");
    if kprobes_here() && veth_here() {
        let veth = lines
            .iter()
            .find(|e| e["kind"] == "veth" && e["link"]["name"] == a.as_str())
            .expect("the hook's veth event");
        assert_eq!(veth["peer"]["netns"], container_net, "{veth}");
        assert_eq!(veth["container"], id.as_str(), "{veth}");
    }
}
