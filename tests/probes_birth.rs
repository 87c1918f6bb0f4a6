//! The probe set on a real container's birth, by each runtime: `runc run`
//! and `crun run` of a busybox bundle and `cradle run` (the built-in
//! runtime) under `cradle trace`, each checked by one function against what
//! the container itself reads in /proc/self/ns; and `cradle exec` into a
//! running container, checked against its init's /proc/PID/ns. Needs root,
//! runc, crun, unshare and /bin/busybox.

mod common;

use std::{collections::HashMap, path::Path, process::Output};

use common::{
    RuncBundle, cradle, exec_argv, json_lines, output, probes::ns_inum, runtime::Sandbox,
};
use serde_json::Value;

/// The namespaces a container gets, as `/proc/PID/ns` names them.
const CONTAINER_NS: [&str; 6] = ["mnt", "uts", "ipc", "pid", "net", "cgroup"];

/// The container prints its namespace links, one `name name:[inode]` per line.
const PRINT_NS: &str =
    "for n in mnt uts ipc pid net cgroup; do echo $n $(readlink /proc/self/ns/$n); done";

fn inode(link: &str) -> u64 {
    link[link.find('[').expect("[") + 1..link.len() - 1].parse().expect("inode")
}

/// What the container printed with [`PRINT_NS`].
fn printed_namespaces(result: &Output) -> HashMap<String, u64> {
    assert!(result.status.success(), "{result:?}");
    let container: HashMap<String, u64> = String::from_utf8_lossy(&result.stdout)
        .lines()
        .filter_map(|line| {
            let (name, link) = line.split_once(' ')?;
            CONTAINER_NS.contains(&name).then(|| (name.to_string(), inode(link)))
        })
        .collect();
    assert_eq!(container.len(), CONTAINER_NS.len(), "{result:?}");
    container
}

/// The acceptance check shared by every runtime: the trace shows the
/// creation of exactly the container's namespaces (by unshare(2) or by
/// clone flags: `source` says which the runtime uses), its filesystems mounted in its
/// mount namespace (by either mount API), pivot_root, capset, and the
/// workload's exec in its namespaces after pivot_root.
fn assert_container_birth(events: &[Value], container: &HashMap<String, u64>, source: &str) {
    let kind = |k: &'static str| events.iter().filter(move |e| e["kind"] == k);

    // One call made mnt, uts, ipc, net and pid (for its children); the
    // container's are exactly those.
    let created: Vec<&Value> = kind("namespaces").collect();
    let creation = created
        .iter()
        .find(|e| e["namespaces"]["mnt"] == container["mnt"] && lists(e, "created", "mnt"))
        .unwrap_or_else(|| panic!("nothing made the container's mnt ns: {created:#?}"));
    assert_eq!(creation["ret"], 0);
    assert_eq!(creation["source"], source, "{creation}");
    for ns in ["mnt", "uts", "ipc", "net", "pid"] {
        assert_eq!(
            creation["namespaces"][namespace_field(ns)],
            container[ns],
            "{ns} in {creation}"
        );
        assert!(lists(creation, "created", ns), "{ns} in {creation}");
        assert_ne!(container[ns], host_ns(ns), "{ns} is new");
    }
    // Every namespace the container does not share with the host was made
    // by a traced call (runc 1.1's default spec has no cgroup namespace;
    // crun and cradle unshare it in the container's init).
    for ns in CONTAINER_NS.into_iter().filter(|ns| container[*ns] != host_ns(ns)) {
        assert!(
            created.iter().any(|e| e["namespaces"][namespace_field(ns)] == container[ns]
                && lists(e, "created", ns)),
            "{ns} ns {}: {created:#?}",
            container[ns]
        );
    }

    // The container's filesystems, whichever mount API the runtime chose.
    let mounted: Vec<&Value> =
        kind("mount").filter(|e| e["ret"] == 0 && e["mnt_ns"] == container["mnt"]).collect();
    let by_type = |fstype: &str| mounted.iter().filter(|e| e["fstype"] == fstype).count();
    assert!(by_type("proc") >= 1, "/proc: {mounted:#?}");
    assert!(by_type("tmpfs") >= 2, "/dev and /dev/shm: {mounted:#?}");
    assert!(by_type("devpts") >= 1, "/dev/pts: {mounted:#?}");
    assert!(by_type("mqueue") >= 1, "/dev/mqueue: {mounted:#?}");
    assert!(by_type("sysfs") >= 1, "/sys: {mounted:#?}");

    let pivot: Vec<&Value> = kind("pivot_root").collect();
    assert_eq!(pivot.len(), 1, "{pivot:#?}");
    assert_eq!(pivot[0]["ret"], 0);
    assert_eq!(pivot[0]["mnt_ns"], container["mnt"]);

    let capsets: Vec<&Value> = kind("capset").filter(|e| e["mnt_ns"] == container["mnt"]).collect();
    assert!(!capsets.is_empty() && capsets.iter().all(|e| e["ret"] == 0), "{capsets:#?}");

    // The workload: sh exec'd in the container's namespaces, after pivot_root.
    let workload = events
        .iter()
        .find(|e| {
            exec_argv(e).is_some_and(|argv| argv.first().map(String::as_str) == Some("sh"))
                && e["ret"] == 0
                && e["mnt_ns"] == container["mnt"]
        })
        .expect("the workload's exec");
    assert_eq!(workload["pid_ns"], container["pid"]);
    assert!(workload["ts_ns"].as_u64() > pivot[0]["ts_ns"].as_u64());
    let switch = kind("process_exec")
        .find(|e| e["pid"] == workload["pid"] && e["ts_ns"].as_u64() > pivot[0]["ts_ns"].as_u64())
        .expect("sched_process_exec of the workload");
    assert_eq!(switch["pid_ns"], container["pid"]);
}

/// Where a namespaces set holds `ns` as /proc/PID/ns names it: a task's
/// new pid namespace is the one its children get.
fn namespace_field(ns: &str) -> &str {
    if ns == "pid" { "pid_for_children" } else { ns }
}

/// Whether the event's list `key` names `ns`.
fn lists(event: &Value, key: &str, ns: &str) -> bool {
    event[key].as_array().is_some_and(|names| names.iter().any(|n| n == ns))
}

/// The test process's own namespace, for "is new" checks.
fn host_ns(ns: &str) -> u64 {
    ns_inum(u64::from(std::process::id()), ns)
}

/// `cradle trace --out TRACE -- command...`: its output and the trace's events.
fn trace(trace: &Path, command: &[&str]) -> (Output, Vec<Value>) {
    let result = output(cradle().args(["trace", "--out"]).arg(trace).arg("--").args(command));
    let events = json_lines(trace);
    (result, events)
}

#[test]
fn runc_run_yields_namespaces_mounts_pivot_root_capset_and_the_workload_exec() {
    let bundle = RuncBundle::new(&["sh", "-c", PRINT_NS]);
    let (result, trace) = bundle.trace_runc_run("probes");
    // runc's nsexec makes them with unshare(2).
    assert_container_birth(&json_lines(&trace), &printed_namespaces(&result), "unshare");
}

#[test]
fn crun_run_yields_namespaces_mounts_pivot_root_capset_and_the_workload_exec() {
    let bundle = RuncBundle::new(&["sh", "-c", PRINT_NS]);
    // crun refuses the host's hybrid cgroups: it runs in a private mount
    // namespace that sees only cgroup2, without a cgroup manager.
    let crun = format!(
        "umount -R /sys/fs/cgroup && mount -t cgroup2 none /sys/fs/cgroup && \
         exec crun --root {root} --cgroup-manager=disabled run --bundle {bundle} probes-crun-{pid}",
        root = bundle.runc_root().display(),
        bundle = bundle.path().display(),
        pid = std::process::id(),
    );
    let (result, events) =
        trace(&bundle.path().join("trace.jsonl"), &["unshare", "-m", "sh", "-c", &crun]);
    // crun makes them with clone(2) flags.
    assert_container_birth(&events, &printed_namespaces(&result), "task_newtask");
}

#[test]
fn cradle_run_yields_namespaces_mounts_pivot_root_capset_and_the_workload_exec() {
    let sandbox = Sandbox::new();
    let bundle = sandbox.bundle("birth", &["sh", "-c", PRINT_NS]);
    let id = sandbox.id("probes-cradle");
    let root = sandbox.root.to_str().unwrap();
    let (result, events) = trace(
        &sandbox.dir.path().join("trace.jsonl"),
        &[
            common::runtime::cradle_bin(),
            "--root",
            root,
            "run",
            "--bundle",
            bundle.to_str().unwrap(),
            &id,
        ],
    );
    // The built-in runtime makes them with clone(2) flags.
    assert_container_birth(&events, &printed_namespaces(&result), "task_newtask");
}

#[test]
fn cradle_exec_yields_setns_into_each_of_the_containers_namespaces() {
    let sandbox = Sandbox::new();
    // Long enough to outlive the trace's start, which takes tens of seconds
    // in a TCG guest of the kernel matrix; the sandbox's delete ends it.
    let bundle = sandbox.bundle("exec", &["sleep", "600"]);
    let id = sandbox.id("probes-exec");
    let created = sandbox.create(&bundle, &id);
    assert!(created.status.success(), "create: {created:?}");
    let started = sandbox.output(&["start", &id]);
    assert!(started.status.success(), "start: {started:?}");
    let init = sandbox.state(&id)["pid"].as_u64().expect("the init's pid");
    let root = sandbox.root.to_str().unwrap();
    let (result, events) = trace(
        &sandbox.dir.path().join("trace.jsonl"),
        &[common::runtime::cradle_bin(), "--root", root, "exec", &id, "true"],
    );
    assert!(result.status.success(), "{result:?}");
    let joined: Vec<&Value> = events.iter().filter(|e| e["kind"] == "setns").collect();
    for ns in CONTAINER_NS {
        let inum = ns_inum(init, ns);
        assert!(
            joined.iter().any(|e| e["ret"] == 0
                && lists(e, "nstype_names", ns)
                && e["namespaces"][namespace_field(ns)] == inum),
            "no setns into the container's {ns} ns {inum}: {joined:#?}"
        );
    }
}

#[test]
fn cradle_run_with_a_bridge_yields_a_veth_into_the_containers_network_namespace() {
    let sandbox = Sandbox::new();
    let bundle = sandbox.bundle("bridged", &["sh", "-c", PRINT_NS]);
    let id = sandbox.id("probes-net");
    let bridge = format!("tv{}", std::process::id() % 100_000);
    // A network namespace of the trace's own keeps the bridge and the host
    // end off the host; it goes away with them when the run ends.
    let (result, events) = trace(
        &sandbox.dir.path().join("trace.jsonl"),
        &[
            "unshare",
            "--net",
            common::runtime::cradle_bin(),
            "--root",
            sandbox.root.to_str().unwrap(),
            "run",
            "--net",
            "bridge",
            "--bridge",
            &bridge,
            "--bundle",
            bundle.to_str().unwrap(),
            &id,
        ],
    );
    let container = printed_namespaces(&result);
    let outer = events
        .iter()
        .find(|e| {
            e["kind"] == "namespaces" && e["source"] == "unshare" && lists(e, "created", "net")
        })
        .expect("unshare --net");
    let veths: Vec<&Value> =
        events.iter().filter(|e| e["kind"] == "new_link" && e["link_kind"] == "veth").collect();
    assert_eq!(veths.len(), 1, "{veths:#?}");
    let veth = veths[0];
    assert_eq!(veth["answer"], 0, "{veth}");
    assert_eq!(veth["container"], Value::from(id.as_str()), "{veth}");
    // The host end stays in the runtime's namespace, the peer is the
    // container's eth0 in the container's network namespace.
    assert!(veth["link"]["name"].as_str().is_some_and(|name| !name.is_empty()), "{veth}");
    assert_eq!(veth["link"]["netns"], outer["namespaces"]["net"], "{veth}");
    assert_eq!(veth["peer"]["name"], "eth0", "{veth}");
    assert_eq!(veth["peer"]["netns"], container["net"], "{veth}");
}
