//! `cradle watch` and `cradle trace` on containers that real clients make
//! with their default runtimes (issue 17): docker 20.10 (dockerd ->
//! containerd 1.6 -> containerd-shim-runc-v2 -> runc) and podman 4.3
//! (conmon -> runc). Each container is found whole: the chain that
//! launched its runtime, every runtime command on it, the veth its daemon
//! made for it, and no high finding. Real kernel, real eBPF, real
//! daemons: needs root.
//!
//! podman's default runtime here is crun, which refuses this machine's
//! hybrid cgroup layout ("cgroups in hybrid mode not supported"): podman
//! runs runc, its other runtime. Its network is the default CNI bridge.

mod common;

use std::{path::Path, sync::Mutex};

use common::{
    clients::{Docker, IMAGE, PODMAN_ULIMITS, Podman, busybox_rootfs, succeeded},
    cradle, json_lines, output,
    watch::Watch,
};
use serde_json::Value;

/// One daemon at a time: `watch` sees every container on the host, and two
/// dockerds would share the docker0 bridge.
fn one_test_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn record<'a>(lines: &'a [Value], id: &str) -> &'a Value {
    let found: Vec<&Value> =
        lines.iter().map(|l| &l["container"]).filter(|c| c["id"] == id).collect();
    assert_eq!(found.len(), 1, "one record of {id}");
    found[0]
}

fn calls(container: &Value) -> Vec<&str> {
    container["calls"]
        .as_array()
        .map(|calls| calls.iter().map(|c| c["command"].as_str().unwrap()).collect())
        .unwrap_or_default()
}

/// `report`'s findings on container `id` of `trace` at high or critical.
fn high_findings(trace: &Path, id: &str) -> Vec<Value> {
    let container = common::reported_container(trace, id);
    container["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| matches!(f["severity"].as_str(), Some("high" | "critical")))
        .cloned()
        .collect()
}

/// The events of container `id`.
fn events_of<'a>(lines: &'a [Value], id: &str) -> Vec<&'a Value> {
    lines.iter().filter(|l| l.get("kind").is_some() && l["container"] == id).collect()
}

/// What the container's story must hold whoever made it: its runtime's
/// create, start and delete, with create the one that made it; and no
/// high finding.
fn assert_told_whole(trace: &Path, lines: &[Value], id: &str, launcher: &str) {
    let container = record(lines, id);
    assert_eq!(container["runtime"], "runc", "{container}");
    let launchers = container["launchers"].as_array().expect("a launcher chain");
    assert_eq!(launchers[0]["comm"], launcher, "{container}");
    let calls = calls(container);
    assert_eq!(calls.first(), Some(&"start"), "{container}");
    assert!(calls.contains(&"delete"), "{container}");
    let events = events_of(lines, id);
    let create = events
        .iter()
        .find(|e| e["kind"] == "exec" && e["role"] == "runtime" && e["runtime_call"].is_null())
        .expect("the create's exec");
    let argv: Vec<&str> =
        create["argv"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
    assert!(argv.contains(&"create"), "{create}");
    for call in ["start", "delete"] {
        assert!(
            events.iter().any(|e| e["kind"] == "exec" && e["runtime_call"] == call),
            "{call}'s exec is {id}'s"
        );
    }
    for kind in ["namespaces", "pivot_root"] {
        assert!(events.iter().any(|e| e["kind"] == kind), "{id} has no {kind}");
    }
    assert_eq!(high_findings(trace, id), Vec::<Value>::new(), "high findings on {id}");
}

/// The veth the daemon made for the container is in its record: made by
/// `daemon`, one end in the container's network namespace; `report` and
/// `show` say so too.
fn assert_has_veth(trace: &Path, lines: &[Value], id: &str, daemon: &str) {
    let container = record(lines, id);
    let net = &container["namespaces"]["net"];
    let is_veth = |l: &Value| l["kind"] == "veth" && l["comm"] == daemon && l["netns"] == *net;
    let links = container["links"].as_array().unwrap_or_else(|| panic!("no links: {container}"));
    assert!(links.iter().any(is_veth), "no veth of {daemon} in net:[{net}]: {links:?}");
    let reported = common::reported_container(trace, id);
    let links = reported["network"]["daemon_links"].as_array().expect("the report's links");
    assert!(links.iter().any(is_veth), "the report: {links:?}");
    let shown = output(cradle().arg("show").arg(trace));
    let text = String::from_utf8_lossy(&shown.stdout);
    assert!(
        text.lines()
            .any(|l| l.trim_start().starts_with("veth ") && l.contains(&format!("by {daemon}["))),
        "show lists the veth: {text}"
    );
}

#[test]
fn a_docker_run_by_runc_is_told_whole_under_watch() {
    let _alone = one_test_at_a_time();
    let docker = Docker::start();
    docker.import(&busybox_rootfs(docker.dir.path()));
    let watch = Watch::start(docker.dir.path());
    let cidfile = docker.dir.path().join("cid");
    let cid = cidfile.to_str().unwrap();
    succeeded(
        docker.run(&["run", "--rm", "--cidfile", cid, "--name", "cradle-wh-docker", IMAGE, "true"]),
        "docker run",
    );
    let id = std::fs::read_to_string(&cidfile).unwrap().trim().to_owned();
    let trace = watch.out.clone();
    let lines = watch.stop();
    assert_told_whole(&trace, &lines, &id, "containerd-shim");
    assert_has_veth(&trace, &lines, &id, "dockerd");
}

#[test]
fn a_podman_run_by_runc_is_told_whole_under_watch() {
    let _alone = one_test_at_a_time();
    let podman = Podman::with_runtime("runc");
    let rootfs = busybox_rootfs(podman.dir.path());
    let watch = Watch::start(podman.dir.path());
    let cidfile = podman.dir.path().join("cid");
    let mut args = vec!["run", "--rm", "--cidfile", cidfile.to_str().unwrap()];
    args.extend_from_slice(&PODMAN_ULIMITS);
    args.extend_from_slice(&["--name", "cradle-wh-podman", "--rootfs", rootfs.to_str().unwrap()]);
    args.push("true");
    succeeded(podman.run(&args), "podman run");
    let id = std::fs::read_to_string(&cidfile).unwrap().trim().to_owned();
    let trace = watch.out.clone();
    let lines = watch.stop();
    assert_told_whole(&trace, &lines, &id, "conmon");
    assert_has_veth(&trace, &lines, &id, "bridge");
}

/// `cradle trace -- docker run`: the docker CLI starts nothing itself, its
/// daemon does. The trace follows the containers started while the client
/// runs, says so in its header, and shows this one's birth.
#[test]
fn a_trace_of_docker_run_shows_the_container_the_daemon_started() {
    let _alone = one_test_at_a_time();
    let docker = Docker::start();
    docker.import(&busybox_rootfs(docker.dir.path()));
    let trace = docker.dir.path().join("trace.jsonl");
    let cidfile = docker.dir.path().join("cid");
    let traced = output(
        cradle()
            .env("DOCKER_HOST", docker.host())
            .args(["trace", "--out"])
            .arg(&trace)
            .args(["--", "/usr/bin/docker", "run", "--rm", "--cidfile"])
            .arg(&cidfile)
            .args([IMAGE, "true"]),
    );
    assert!(traced.status.success(), "{traced:?}");
    let said = String::from_utf8_lossy(&traced.stderr);
    assert!(said.contains("container client"), "the user is told the rule: {said}");
    let id = std::fs::read_to_string(&cidfile).unwrap().trim().to_owned();
    let lines = json_lines(&trace);
    let rule = lines[0]["header"]["daemon_containers"].as_str().expect("the rule in the header");
    assert!(rule.contains("every container runtime started on the host"), "{rule}");
    record(&lines, &id);
    let events = events_of(&lines, &id);
    for kind in ["namespaces", "pivot_root"] {
        assert!(events.iter().any(|e| e["kind"] == kind), "{id} has no {kind}");
    }
    assert!(
        events.iter().any(|e| e["role"] == "workload"
            && common::exec_argv(e).is_some_and(|argv| argv == ["true"])),
        "the workload's exec"
    );
}
