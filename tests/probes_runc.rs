//! The probe set on a real container start: `runc run` of a busybox bundle
//! under `cradle trace`, checked against what the container itself reads
//! in /proc/self/ns. Needs root, runc and /bin/busybox.

mod common;

use common::{RuncBundle, exec_argv, json_lines};
use serde_json::Value;

/// The container prints its namespace links, one `name:[inode]` per line.
const PRINT_NS: &str =
    "for n in mnt uts ipc pid net cgroup; do echo $n $(readlink /proc/self/ns/$n); done";

fn inode(link: &str) -> u64 {
    link[link.find('[').expect("[") + 1..link.len() - 1].parse().expect("inode")
}

#[test]
fn runc_run_yields_namespaces_mounts_pivot_root_capset_and_the_workload_exec() {
    let bundle = RuncBundle::new(&["sh", "-c", PRINT_NS]);
    let (result, trace) = bundle.trace_runc_run("probes");
    assert!(result.status.success(), "{result:?}");
    let container: std::collections::HashMap<String, u64> = String::from_utf8_lossy(&result.stdout)
        .lines()
        .map(|line| {
            let (name, link) = line.split_once(' ').expect("name link");
            (name.to_string(), inode(link))
        })
        .collect();
    assert_eq!(container.len(), 6, "{container:?}");
    let events = json_lines(&trace);
    let kind = |k: &'static str| events.iter().filter(move |e| e["kind"] == k);

    // runc's nsexec unshares the namespaces; the container's are exactly
    // the ones the unshare produced (pid: the pid_for_children one).
    let created: Vec<&Value> = kind("namespaces").collect();
    let unshare = created
        .iter()
        .find(|e| e["source"] == "unshare" && e["namespaces"]["mnt"] == container["mnt"])
        .unwrap_or_else(|| panic!("no unshare made the container's mnt ns: {created:#?}"));
    assert_eq!(unshare["ret"], 0);
    for (ns, field) in [("uts", "uts"), ("ipc", "ipc"), ("net", "net"), ("pid", "pid_for_children")]
    {
        assert_eq!(unshare["namespaces"][field], container[ns], "{ns}");
    }
    for ns in ["mnt", "uts", "ipc", "net", "pid"] {
        assert!(
            unshare["created"].as_array().unwrap().iter().any(|n| n == ns),
            "{ns} in {unshare}"
        );
        assert_ne!(container[ns], common_probes_host_ns(ns), "{ns} is new");
    }
    // The cgroup namespace is made by a later unshare in the container's init.
    assert!(
        created.iter().any(|e| e["namespaces"]["cgroup"] == container["cgroup"]),
        "cgroup ns {}: {created:#?}",
        container["cgroup"]
    );

    // The container's filesystems, whichever mount API runc chose.
    let mounted: Vec<&Value> = kind("mount").filter(|e| e["ret"] == 0).collect();
    let by_type = |fstype: &str| mounted.iter().filter(|e| e["fstype"] == fstype).count();
    assert!(by_type("proc") >= 1, "/proc: {mounted:#?}");
    assert!(by_type("tmpfs") >= 2, "/dev and /dev/shm");
    assert!(by_type("devpts") >= 1, "/dev/pts");
    assert!(by_type("mqueue") >= 1, "/dev/mqueue");
    assert!(by_type("sysfs") >= 1, "/sys");
    // (runc also bind-mounts its own binary on the host before it starts.)
    for m in mounted.iter().filter(|m| {
        ["proc", "devpts", "mqueue", "sysfs"].contains(&m["fstype"].as_str().unwrap_or_default())
    }) {
        assert_eq!(m["mnt_ns"], container["mnt"], "mounted in the container's mount ns: {m}");
    }

    let pivot: Vec<&Value> = kind("pivot_root").collect();
    assert_eq!(pivot.len(), 1, "{pivot:#?}");
    assert_eq!(pivot[0]["ret"], 0);
    assert_eq!(pivot[0]["mnt_ns"], container["mnt"]);

    let capsets: Vec<&Value> = kind("capset").collect();
    assert!(!capsets.is_empty() && capsets.iter().all(|e| e["ret"] == 0), "{capsets:#?}");

    // The workload: sh exec'd in the container's namespaces, after pivot_root.
    let workload = events
        .iter()
        .find(|e| {
            exec_argv(e).is_some_and(|argv| argv.first().map(String::as_str) == Some("sh"))
                && e["ret"] == 0
        })
        .expect("the workload's exec");
    assert_eq!(workload["mnt_ns"], container["mnt"]);
    assert_eq!(workload["pid_ns"], container["pid"]);
    assert!(workload["ts_ns"].as_u64() > pivot[0]["ts_ns"].as_u64());
    let switch = kind("process_exec")
        .find(|e| e["pid"] == workload["pid"] && e["ts_ns"].as_u64() > pivot[0]["ts_ns"].as_u64())
        .expect("sched_process_exec of the workload");
    assert_eq!(switch["pid_ns"], container["pid"]);
}

/// The test process's own namespace, for "is new" checks.
fn common_probes_host_ns(ns: &str) -> u64 {
    let link = std::fs::read_link(format!("/proc/self/ns/{ns}")).expect("ns link");
    inode(&link.to_string_lossy())
}
