//! The collector on real containers: `cradle watch` attributes every event
//! of 10 concurrent runc and 10 concurrent cradle containers to the right
//! one, checked against the pids and namespaces the containers themselves
//! report; a container alive for milliseconds is attributed whole; a killed
//! tracer leaves a trace that reads to its last complete event and says it
//! was truncated. Real kernel, real eBPF, real runtimes: needs root.

mod common;

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    io::{BufRead, BufReader},
    path::PathBuf,
    process::{Command, Stdio},
    sync::{Arc, Condvar, Mutex},
    time::{Duration, Instant},
};

use common::runtime::Sandbox;
use common::{
    RuncBundle, assert_phases_in_order, cradle, exec_argv, json_lines, output, watch::Watch,
};
use nix::{
    sys::signal::{Signal, kill},
    unistd::Pid,
};
use serde_json::Value;

/// The workload prints its own namespaces: the truth to check against.
const NAMESPACES: [&str; 5] = ["mnt", "uts", "ipc", "pid", "net"];
/// It then waits for its stdin to close, so that every container of a
/// test is alive at once however slow the machine (a TCG guest of the
/// kernel matrix): live namespaces have distinct inode numbers.
const PRINT_NAMESPACES: &str =
    "for ns in mnt uts ipc pid net; do readlink /proc/self/ns/$ns; done; read -r _ || true";

/// A container run to completion: its id, its runtime's pid and the
/// namespace inode numbers its workload printed.
struct Ran {
    id: String,
    runtime: &'static str,
    runtime_pid: u32,
    namespaces: BTreeMap<&'static str, u64>,
}

/// Counts the containers that have printed their namespaces, so that none
/// is let go before all have.
struct AllPrinted {
    printed: Mutex<usize>,
    changed: Condvar,
    total: usize,
}

impl AllPrinted {
    fn new(total: usize) -> Arc<Self> {
        Arc::new(Self { printed: Mutex::new(0), changed: Condvar::new(), total })
    }

    /// One more has printed (or failed to); waits for the rest. The bound
    /// only keeps a broken run from hanging the suite.
    fn arrive_and_wait(&self) {
        let mut printed = self.printed.lock().unwrap();
        *printed += 1;
        self.changed.notify_all();
        let _ = self
            .changed
            .wait_timeout_while(printed, Duration::from_secs(900), |n| *n < self.total)
            .unwrap();
    }
}

fn run_container(
    mut command: Command,
    id: String,
    runtime: &'static str,
    all_printed: &AllPrinted,
) -> Ran {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runtime");
    let runtime_pid = child.id();
    let stdin = child.stdin.take().expect("piped stdin");
    let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
    let mut text = String::new();
    for _ in NAMESPACES {
        if stdout.read_line(&mut text).unwrap_or(0) == 0 {
            break;
        }
    }
    all_printed.arrive_and_wait();
    // End of input lets the workload exit.
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{id}: {}", String::from_utf8_lossy(&out.stderr));
    let inums: Vec<u64> = text.lines().map(inum).collect();
    assert_eq!(inums.len(), NAMESPACES.len(), "{id} printed {text:?}");
    Ran { id, runtime, runtime_pid, namespaces: NAMESPACES.into_iter().zip(inums).collect() }
}

/// `mnt:[4026531841]` -> 4026531841
/// Held by each test that runs containers. `watch` sees every container on
/// the host, and the kernel reuses a freed namespace's inode number: a
/// container of another test could then share a mount namespace number
/// with one of the concurrent test's, which checks events by that number.
static CONTAINERS_ON_THE_HOST: Mutex<()> = Mutex::new(());

fn one_test_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    CONTAINERS_ON_THE_HOST.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn inum(link: &str) -> u64 {
    let start = link.find('[').expect("[") + 1;
    link[start..link.len() - 1].parse().expect("inode number")
}

fn containers(lines: &[Value]) -> Vec<&Value> {
    lines.iter().filter_map(|line| line.get("container").filter(|c| c.is_object())).collect()
}

fn events(lines: &[Value]) -> Vec<&Value> {
    lines.iter().filter(|line| line.get("kind").is_some()).collect()
}

#[test]
fn watch_attributes_concurrent_runc_and_cradle_containers_without_mixing() {
    let _alone = one_test_at_a_time();
    let sandbox = Sandbox::new();
    let runc_bundle = RuncBundle::new(&["sh", "-c", PRINT_NAMESPACES]);
    let cradle_bundle = sandbox.bundle("watched", &["sh", "-c", PRINT_NAMESPACES]);
    let watch = Watch::start(sandbox.dir.path());

    let mut launches: Vec<std::thread::JoinHandle<Ran>> = Vec::new();
    let all_printed = AllPrinted::new(20);
    for n in 0..10 {
        let id = sandbox.id(&format!("watched-runc{n}"));
        let mut command = Command::new("runc");
        command.arg("--root").arg(runc_bundle.runc_root());
        command.args(["run", "--bundle"]).arg(runc_bundle.path()).arg(&id);
        let gate = all_printed.clone();
        launches.push(std::thread::spawn(move || run_container(command, id, "runc", &gate)));
        let id = sandbox.id(&format!("watched-cradle{n}"));
        let mut command = sandbox.cradle(&["run", "--bundle", cradle_bundle.to_str().unwrap()]);
        command.arg(&id);
        let gate = all_printed.clone();
        launches.push(std::thread::spawn(move || run_container(command, id, "cradle", &gate)));
    }
    let ran: Vec<Ran> = launches.into_iter().map(|t| t.join().expect("container thread")).collect();
    let lines = watch.stop();

    let trailer = lines.iter().find_map(|l| l.get("trailer")).expect("a trailer");
    assert_eq!(trailer["lost"], 0, "events were lost: {trailer}");
    let containers = containers(&lines);
    let events = events(&lines);
    // Live at the same time (see PRINT_NAMESPACES), so no two share a
    // namespace.
    let mnt_inums: HashSet<u64> = ran.iter().map(|r| r.namespaces["mnt"]).collect();
    assert_eq!(mnt_inums.len(), ran.len(), "containers did not overlap in time");

    let by_mnt: HashMap<u64, &str> =
        ran.iter().map(|r| (r.namespaces["mnt"], r.id.as_str())).collect();
    for ran in &ran {
        let found: Vec<&&Value> =
            containers.iter().filter(|c| c["id"] == ran.id.as_str()).collect();
        assert_eq!(found.len(), 1, "{} seen {} times", ran.id, found.len());
        let container = found[0];
        assert_eq!(container["runtime"], ran.runtime, "{container}");
        assert_eq!(container["runtime_pid"], ran.runtime_pid, "pid truth for {}", ran.id);
        assert_phases_in_order(container);
        let created = &container["namespaces"];
        for (ns, field) in [("mnt", "mnt"), ("uts", "uts"), ("ipc", "ipc"), ("net", "net")] {
            assert_eq!(created[field], ran.namespaces[ns], "{} {ns}: {container}", ran.id);
        }
        assert_eq!(created["pid_for_children"], ran.namespaces["pid"], "{} pid ns", ran.id);

        let owned: Vec<&&Value> =
            events.iter().filter(|e| e["container"] == ran.id.as_str()).collect();
        assert!(owned.iter().any(|e| e["kind"] == "pivot_root"), "{} has no pivot_root", ran.id);
        assert!(owned.iter().any(|e| e["tgid"] == ran.runtime_pid), "{} runtime unseen", ran.id);
    }
    // Namespace truth, event by event: whatever ran in a container's mount
    // namespace belongs to that container, and the runtime's own events
    // belong to its container.
    for event in &events {
        let mnt = event["mnt_ns"].as_u64().unwrap();
        if let Some(id) = by_mnt.get(&mnt) {
            assert_eq!(event["container"], *id, "event in {id}'s mount namespace: {event}");
        }
        if let Some(ran) = ran.iter().find(|r| event["tgid"] == r.runtime_pid) {
            // From the runtime's exec on; what the forked test thread did
            // before (and during) that exec is the host's.
            let started = start_of(&containers, &ran.id);
            if event["ts_ns"].as_u64().unwrap() >= started {
                assert_eq!(event["container"], ran.id.as_str(), "runtime event: {event}");
            }
        }
    }
}

#[test]
fn a_container_alive_for_milliseconds_is_attributed_whole() {
    let _alone = one_test_at_a_time();
    let sandbox = Sandbox::new();
    let bundle = sandbox.bundle("brief", &["true"]);
    let id = sandbox.id("brief");
    let trace = sandbox.dir.path().join("brief.jsonl");
    let result = output(
        sandbox
            .cradle(&["run", &format!("--trace={}", trace.display())])
            .args(["--bundle", bundle.to_str().unwrap()])
            .arg(&id),
    );
    assert!(result.status.success(), "{result:?}");
    let runc_bundle = RuncBundle::new(&["true"]);
    let (runc_result, runc_trace) = runc_bundle.trace_runc_run("brief");

    assert!(runc_result.status.success(), "{runc_result:?}");
    for (trace, runtime) in [(trace, "cradle"), (runc_trace, "runc")] {
        let lines = json_lines(&trace);
        let containers = containers(&lines);
        assert_eq!(containers.len(), 1, "{runtime}: {containers:?}");
        let container = containers[0];
        assert_eq!(container["runtime"], runtime);
        assert_phases_in_order(container);
        assert_eq!(container["exit"], serde_json::json!({"exited": {"code": 0}}));
        let id = container["id"].as_str().unwrap();
        let owned: Vec<&Value> =
            events(&lines).into_iter().filter(|e| e["container"] == id).collect();
        // The runtime's setup, before and after its namespaces exist.
        for kind in ["exec", "task_new", "namespaces", "mount", "pivot_root", "task_exit"] {
            assert!(owned.iter().any(|e| e["kind"] == kind), "{runtime}: no {kind} attributed");
        }
        let workload = owned
            .iter()
            .find(|e| e["kind"] == "exec" && e["role"] == "workload")
            .unwrap_or_else(|| panic!("{runtime}: no workload exec"));
        assert_eq!(workload["argv"], serde_json::json!(["true"]));
    }
}

#[test]
fn a_killed_tracer_leaves_a_trace_that_reads_to_its_last_event_and_says_truncated() {
    let _alone = one_test_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("killed.jsonl");
    let mut tracer = cradle()
        .args(["trace", "--out"])
        .arg(&trace)
        .args(["--", "sh", "-c", "while :; do /bin/true; done"])
        .stderr(Stdio::null())
        .spawn()
        .expect("cradle trace");
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::fs::read_to_string(&trace).map_or(0, |text| text.lines().count()) < 200 {
        assert!(Instant::now() < deadline, "no events arrived");
        std::thread::sleep(Duration::from_millis(20));
    }
    let shell = children_of(tracer.id());
    kill(Pid::from_raw(i32::try_from(tracer.id()).unwrap()), Signal::SIGKILL).unwrap();
    tracer.wait().unwrap();
    for pid in shell {
        let _ = kill(Pid::from_raw(i32::try_from(pid).unwrap()), Signal::SIGKILL);
    }

    let text = std::fs::read_to_string(&trace).unwrap();
    let complete = text.matches('\n').count() as u64;
    let shown = output(cradle().arg("show").arg(&trace));
    assert!(shown.status.success(), "{shown:?}");
    let stderr = String::from_utf8_lossy(&shown.stderr);
    assert!(stderr.contains("is truncated"), "{stderr}");
    // Every complete line but the header is an event, and all are read.
    let reported: u64 = stderr
        .split(": ")
        .nth(2)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no event count in {stderr:?}"));
    assert_eq!(reported, complete - 1, "{stderr}");
    let stdout = String::from_utf8_lossy(&shown.stdout);
    assert!(stdout.contains("execve(\"/bin/true\""), "{stdout}");
}

/// When the container's runtime started (its exec).
fn start_of(containers: &[&Value], id: &str) -> u64 {
    let container = containers.iter().find(|c| c["id"] == id).expect("container");
    container["phases"][0]["ts_ns"].as_u64().unwrap()
}

/// The pids whose parent is `pid`.
fn children_of(pid: u32) -> Vec<u32> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).unwrap();
    tasks
        .filter_map(|task| {
            let path = task.ok()?.path().join("children");
            std::fs::read_to_string(path).ok()
        })
        .flat_map(|children| {
            children.split_whitespace().filter_map(|c| c.parse().ok()).collect::<Vec<u32>>()
        })
        .collect()
}

#[test]
fn demo_explains_a_container_birth_and_leaves_nothing_behind() {
    let _alone = one_test_at_a_time();
    let demo_dirs = || -> HashSet<String> {
        std::fs::read_dir(std::env::temp_dir())
            .unwrap()
            .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
            .filter(|name| name.starts_with("cradle-demo-"))
            .collect()
    };
    let before = demo_dirs();
    let child = cradle().arg("demo").stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let id = format!("cradle-demo-{}", child.id());
    let result = child.wait_with_output().unwrap();
    assert!(result.status.success(), "{result:?}");
    let stdout = String::from_utf8_lossy(&result.stdout);
    for heading in ["Runtime start", "Namespace creation", "Root switch", "Workload exec", "Exit"] {
        let line = format!("== {id} (cradle) -- {heading} ==");
        assert!(stdout.contains(&line), "no {line}:\n{stdout}");
    }
    assert!(stdout.contains("Why: "), "not explained:\n{stdout}");
    assert!(stdout.contains("hello from cradle"), "the workload did not run:\n{stdout}");
    // Its output is whole lines of the timeline, marked as the command's.
    assert!(
        stdout.lines().any(|line| line.trim_start() == "stdout | hello from cradle, pid 1"),
        "the workload's output is not a line of its own:\n{stdout}"
    );

    assert_eq!(demo_dirs(), before, "the demo left a temporary directory");
    let cgroups: Vec<PathBuf> = std::fs::read_dir("/sys/fs/cgroup")
        .unwrap()
        .filter_map(|entry| Some(entry.ok()?.path().join("cradle").join(&id)))
        .filter(|path| path.exists())
        .collect();
    assert!(cgroups.is_empty(), "the demo left cgroups: {cgroups:?}");
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains("cradle-demo-"), "the demo left mounts");
}

/// Issue 17: the runtime commands a client runs after create (`start`,
/// `exec`, `state`, `kill`, `delete`) name the container, and are its:
/// each is recorded on the container with its time, its events carry the
/// command, `exec`'s program is a workload of the container, and the
/// container records who launched its runtime (this test, then its own
/// launcher).
#[test]
fn watch_attributes_every_runtime_command_that_names_a_container() {
    let _alone = one_test_at_a_time();
    let sandbox = Sandbox::new();
    let bundle = RuncBundle::new(&["sleep", "60"]);
    let id = sandbox.id("called");
    let watch = Watch::start(sandbox.dir.path());
    let runc = |args: &[&str]| {
        let mut command = Command::new("runc");
        command.arg("--root").arg(bundle.runc_root()).args(args);
        command
    };
    let quiet = |mut command: Command| {
        let status = command.stdin(Stdio::null()).stdout(Stdio::null()).status().unwrap();
        assert!(status.success(), "{command:?}: {status}");
    };
    quiet(runc(&["create", "--bundle", bundle.path().to_str().unwrap(), &id]));
    quiet(runc(&["start", &id]));
    let exec = output(&mut runc(&["exec", &id, "echo", "inside"]));
    assert!(exec.status.success(), "{exec:?}");
    quiet(runc(&["state", &id]));
    quiet(runc(&["kill", &id, "KILL"]));
    let deadline = Instant::now() + Duration::from_secs(30);
    while !String::from_utf8_lossy(&output(&mut runc(&["state", &id])).stdout).contains("stopped") {
        assert!(Instant::now() < deadline, "{id} never stopped");
        std::thread::sleep(Duration::from_millis(50));
    }
    quiet(runc(&["delete", &id]));
    // A command on an id nobody created is the host's.
    let _ = runc(&["state", "never-created"]).stderr(Stdio::null()).status();
    let trace = watch.out.clone();
    let lines = watch.stop();

    let containers = containers(&lines);
    let found: Vec<&&Value> = containers.iter().filter(|c| c["id"] == id.as_str()).collect();
    assert_eq!(found.len(), 1, "{id}: {containers:?}");
    let container = found[0];
    let commands: Vec<&str> = container["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["command"].as_str().unwrap())
        .collect();
    // `state` runs once more per poll of the loop above.
    assert_eq!(&commands[..4], ["start", "exec", "state", "kill"], "{container}");
    assert_eq!(commands.last(), Some(&"delete"), "{container}");
    let start = container["phases"][0]["ts_ns"].as_u64().unwrap();
    let mut last = start;
    for call in container["calls"].as_array().unwrap() {
        let at = call["ts_ns"].as_u64().unwrap();
        assert!(at >= last, "calls out of order: {container}");
        last = at;
    }
    let launchers = container["launchers"].as_array().expect("a launcher chain");
    assert_eq!(launchers[0]["pid"], std::process::id(), "the test ran runc: {container}");
    let me = std::fs::read_link("/proc/self/exe").unwrap();
    assert_eq!(launchers[0]["exe"], me.to_str().unwrap());
    assert!(launchers.len() >= 2, "and someone ran the test: {launchers:?}");

    let events = events(&lines);
    for call in container["calls"].as_array().unwrap() {
        let exec = events
            .iter()
            .find(|e| {
                e["kind"] == "exec" && e["tgid"] == call["pid"] && e["ts_ns"] == call["ts_ns"]
            })
            .unwrap_or_else(|| panic!("no exec for {call}"));
        assert_eq!(exec["container"], id.as_str(), "{exec}");
        assert_eq!((&exec["runtime_call"], &exec["role"]), (&call["command"], &"runtime".into()));
    }
    let echo = events
        .iter()
        .find(|e| {
            e["kind"] == "exec" && exec_argv(e).is_some_and(|argv| argv == ["echo", "inside"])
        })
        .expect("the exec'd program's exec");
    assert_eq!(
        (&echo["container"], &echo["role"], &echo["runtime_call"]),
        (&id.as_str().into(), &"workload".into(), &"exec".into())
    );
    let stray = events
        .iter()
        .find(|e| {
            e["kind"] == "exec"
                && exec_argv(e).is_some_and(|argv| argv.contains(&"never-created".to_string()))
        })
        .expect("the stray state's exec");
    assert_eq!(stray["container"], Value::Null, "{stray}");

    // `show` prints the commands against the container's start, and the
    // chain that launched it.
    let shown = output(cradle().arg("show").arg(&trace));
    let text = String::from_utf8_lossy(&shown.stdout);
    assert!(text.contains("launched by (parent first):"), "{text}");
    assert!(text.contains("runc delete (pid "), "{text}");
    assert!(text.lines().any(|l| l.contains(&id) && l.contains("start runtime")), "{text}");
}
