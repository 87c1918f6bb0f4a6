//! `cradle report` on real traces: Docker's default hardening under the
//! built-in runtime, runc and crun (which mounts through file descriptors)
//! yields no high or critical finding; a bundle with every capability, the
//! host's network, no seccomp and the host's / bind-mounted yields exactly
//! the expected findings, each citing the right events; a workload that
//! opens core_pattern for writing, or makes a block device node, is found
//! at that open or mknod. Report and SARIF outputs validate against their
//! schemas.

#[path = "common/reports.rs"]
mod reports;
#[path = "common/runtime.rs"]
mod runtime;

use std::{collections::BTreeSet, path::Path};

use reports::{
    assert_valid, cited_event, cradle, path_str, trace_cradle_run, trace_crun_run, trace_runc_run,
    validator,
};
use runtime::{Sandbox, stderr, stdout};
use serde_json::{Value, json};

fn report(trace: &Path) -> Value {
    let out = cradle(&["report", path_str(trace), "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "cradle report: {}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).expect("report is JSON");
    assert_valid(&validator("report.schema.json"), &report, "the report");
    report
}

fn sarif(trace: &Path) -> Value {
    let out = cradle(&["report", path_str(trace), "--format", "sarif"]);
    assert_eq!(out.status.code(), Some(0), "cradle report --format sarif: {}", stderr(&out));
    let sarif: Value = serde_json::from_slice(&out.stdout).expect("SARIF is JSON");
    let schema = validator("sarif-2.1.0-rtm.5.json");
    assert_valid(&schema, &sarif, "the SARIF log");
    assert!(!schema.is_valid(&json!({"version": "2.1.0", "runs": [{}]})), "it can reject");
    sarif
}

fn findings(report: &Value) -> Vec<Value> {
    let containers = report["containers"].as_array().expect("containers");
    assert_eq!(containers.len(), 1, "one container in {report}");
    containers[0]["findings"].as_array().unwrap().clone()
}

fn severities_at_least_high(findings: &[Value]) -> Vec<&Value> {
    findings.iter().filter(|f| f["severity"] == "high" || f["severity"] == "critical").collect()
}

fn assert_docker_default_is_clean(trace: &Path) {
    let report = report(trace);
    let findings = findings(&report);
    assert!(
        severities_at_least_high(&findings).is_empty(),
        "Docker's default hardening has high or critical findings: {findings:#?}"
    );
    let container = &report["containers"][0];
    assert_eq!(container["seccomp"]["installed"], true);
    assert_eq!(container["capabilities"]["permitted"].as_array().unwrap().len(), 14);
    assert_eq!(container["root_switch"]["method"], "pivot_root");
    let shared: Vec<&Value> = container["namespaces"]["views"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["shared_with_host"] == true)
        .map(|v| &v["kind"])
        .collect();
    assert_eq!(shared, [&json!("user")], "only the user namespace is the host's");
    // Docker does not set no_new_privs by default: a medium finding.
    let ids: BTreeSet<&str> = findings.iter().map(|f| f["id"].as_str().unwrap()).collect();
    assert_eq!(ids, BTreeSet::from(["CRADLE-PRIV-003"]), "{findings:#?}");

    let sarif = sarif(trace);
    assert_eq!(sarif["runs"][0]["results"].as_array().unwrap().len(), findings.len());

    let gate = |level: &str| cradle(&["report", path_str(trace), "--fail-on", level]).status.code();
    assert_eq!(gate("high"), Some(0), "--fail-on high passes");
    assert_eq!(gate("medium"), Some(1), "--fail-on medium fails on no_new_privs");
}

#[test]
fn docker_default_hardening_under_the_builtin_runtime_has_no_high_finding() {
    let sandbox = Sandbox::new();
    let bundle = sandbox.bundle("b", &["true"]);
    assert_docker_default_is_clean(&trace_cradle_run(&sandbox, &bundle, "rep-default"));
}

#[test]
fn docker_default_hardening_under_runc_has_no_high_finding() {
    let sandbox = Sandbox::new();
    let bundle = sandbox.bundle("b", &["true"]);
    assert_docker_default_is_clean(&trace_runc_run(&sandbox, &bundle, "rep-default-runc"));
}

#[test]
fn docker_default_hardening_under_crun_has_no_high_finding() {
    // crun mounts through descriptors (`mount("proc", "/proc/self/fd/6")`)
    // and remounts read-only by descriptor long after: the report follows
    // them through its opens.
    let sandbox = Sandbox::new();
    let bundle = sandbox.bundle("b", &["true"]);
    let trace = trace_crun_run(&sandbox, &bundle, "rep-default-crun");
    assert_docker_default_is_clean(&trace);
    let report = report(&trace);
    let container = &report["containers"][0];
    assert_eq!(container["runtime"]["name"], "crun");
    let mounts = container["mounts"].as_array().unwrap();
    let at = |path: &str| -> Vec<&Value> {
        mounts.iter().filter(|m| m["container_path"] == path && m["result"] == 0).collect()
    };
    // Named through a descriptor, resolved, and made read-only later.
    let sysfs = at("/sys");
    assert_eq!(sysfs.len(), 1, "{sysfs:#?}");
    assert!(sysfs[0]["target"].as_str().unwrap().starts_with("/proc/self/fd/"), "{sysfs:#?}");
    assert_eq!((&sysfs[0]["fstype"], &sysfs[0]["read_only"]), (&json!("sysfs"), &json!(true)));
    assert!(at("/proc/sys").iter().any(|m| m["read_only"] == true), "{mounts:#?}");
    assert!(!at("/proc/keys").is_empty(), "/proc/keys is masked: {mounts:#?}");
}

/// The host's core_pattern, which no test may change.
fn host_core_pattern() -> String {
    std::fs::read_to_string("/proc/sys/kernel/core_pattern").expect("read core_pattern")
}

#[test]
fn opening_core_pattern_for_writing_is_found_at_that_open() {
    let before = host_core_pattern();
    let sandbox = Sandbox::new();
    // `exec 3>>` opens for appending and closes without writing a byte:
    // the host's value stays as it is.
    let bundle = sandbox.bundle("b", &["sh", "-c", "exec 3>>/proc/sys/kernel/core_pattern"]);
    sandbox.edit_config(&bundle, |config| {
        let readonly = config["linux"]["readonlyPaths"].as_array_mut().unwrap();
        readonly.retain(|path| path != "/proc/sys");
    });
    let trace = trace_cradle_run(&sandbox, &bundle, "rep-core-pattern");
    assert_eq!(host_core_pattern(), before, "the host's core_pattern is unchanged");
    let report = report(&trace);
    let findings = findings(&report);
    let ids: BTreeSet<&str> = findings.iter().map(|f| f["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        BTreeSet::from(["CRADLE-ESC-002", "CRADLE-MNT-005", "CRADLE-PRIV-003"]),
        "{findings:#?}"
    );
    the_workloads_write_open(&trace, &report, &findings, "/proc/sys/kernel/core_pattern");
}

/// The one event CRADLE-ESC-002 cites: the workload's successful open of
/// `path` for appending (as `exec 3>>` does).
fn the_workloads_write_open(trace: &Path, report: &Value, findings: &[Value], path: &str) {
    let write = finding(findings, "CRADLE-ESC-002");
    assert_eq!(write["severity"], "critical");
    assert_eq!(write["evidence"].as_array().unwrap().len(), 1, "{write:#}");
    let open = cited_event(trace, &write["evidence"][0]);
    let detail = &open["detail"]["open"];
    assert_eq!(detail["path"], path, "{open}");
    let flags = detail["flag_names"].as_array().unwrap();
    assert!(flags.contains(&json!("O_WRONLY")) && flags.contains(&json!("O_APPEND")), "{open}");
    assert!(detail["ret"].as_i64().unwrap() >= 0, "the open succeeded: {open}");
    let container = &report["containers"][0];
    assert_eq!(open["tgid"], container["workload"]["pid"], "the workload opened it");
    assert_eq!(open["owner"]["role"], "workload", "{open}");
}

/// The host's pids hierarchy bound into the container read-write, and its
/// release_agent opened for appending (no byte written: the host's value
/// stays as it is). Both the mount that makes it possible and the open are
/// found, each citing its own event.
#[test]
fn opening_a_release_agent_for_writing_is_found_at_that_open() {
    let agent = Path::new("/sys/fs/cgroup/pids/release_agent");
    if !agent.exists() {
        eprintln!("skipped: no cgroup v1 pids hierarchy with a release_agent on this host");
        return;
    }
    let before = std::fs::read_to_string(agent).unwrap();
    let sandbox = Sandbox::new();
    let bundle = sandbox.bundle("b", &["sh", "-c", "exec 3>>/host-pids/release_agent"]);
    sandbox.edit_config(&bundle, |config| {
        config["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/host-pids", "type": "bind", "source": "/sys/fs/cgroup/pids",
            "options": ["rbind", "rw"],
        }));
    });
    let trace = trace_cradle_run(&sandbox, &bundle, "rep-release-agent");
    assert_eq!(std::fs::read_to_string(agent).unwrap(), before, "release_agent is unchanged");
    let report = report(&trace);
    let findings = findings(&report);
    the_workloads_write_open(&trace, &report, &findings, "/host-pids/release_agent");
    let ids: BTreeSet<&str> = findings.iter().map(|f| f["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        BTreeSet::from(["CRADLE-ESC-001", "CRADLE-ESC-002", "CRADLE-MNT-003", "CRADLE-PRIV-003"]),
        "{findings:#?}"
    );
    // The read-write bind that exposes it is found as such (and as a
    // writable host path), citing the mount.
    for id in ["CRADLE-ESC-001", "CRADLE-MNT-003"] {
        let cited: Vec<&Value> = finding(&findings, id)["evidence"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| {
                cited_event(&trace, e)["detail"]["mount"]["source"] == "/sys/fs/cgroup/pids"
            })
            .collect();
        assert_eq!(cited.len(), 1, "{id} cites the bind of the hierarchy: {findings:#?}");
    }
}

#[test]
fn a_block_device_made_with_mknod_is_found_and_the_defaults_are_not() {
    let sandbox = Sandbox::new();
    let bundle = sandbox.bundle("b", &["mknod", "/dev/sda1", "b", "8", "1"]);
    // Docker's default device rules let a container make any node (`c *:*
    // m`, `b *:* m`), though not use it; `cradle bundle` denies all but
    // the default devices.
    sandbox.edit_config(&bundle, |config| {
        let devices = config["linux"]["resources"]["devices"].as_array_mut().unwrap();
        for kind in ["c", "b"] {
            devices.push(json!({"allow": true, "type": kind, "access": "m"}));
        }
    });
    let trace = trace_cradle_run(&sandbox, &bundle, "rep-mknod");
    let report = report(&trace);
    let findings = findings(&report);
    let ids: BTreeSet<&str> = findings.iter().map(|f| f["id"].as_str().unwrap()).collect();
    assert_eq!(ids, BTreeSet::from(["CRADLE-DEV-001", "CRADLE-PRIV-003"]), "{findings:#?}");
    let device = finding(&findings, "CRADLE-DEV-001");
    assert_eq!(device["evidence"].as_array().unwrap().len(), 1, "only sda1: {device:#}");
    let mknod = cited_event(&trace, &device["evidence"][0]);
    let detail = &mknod["detail"]["mknod"];
    assert_eq!(detail["path"], "/dev/sda1", "{mknod}");
    assert_eq!(
        (&detail["file_type"], &detail["major"], &detail["minor"]),
        (&json!("block_device"), &json!(8), &json!(1))
    );
    assert_eq!(detail["ret"], 0, "{mknod}");
    let container = &report["containers"][0];
    assert_eq!(mknod["tgid"], container["workload"]["pid"]);
    // The runtime made the default nodes, seen and judged default.
    let nodes = container["device_nodes"].as_array().unwrap();
    let defaults: BTreeSet<&str> = nodes
        .iter()
        .filter(|n| n["default"] == true)
        .map(|n| n["container_path"].as_str().unwrap())
        .collect();
    assert_eq!(
        defaults,
        BTreeSet::from([
            "/dev/full",
            "/dev/null",
            "/dev/random",
            "/dev/tty",
            "/dev/urandom",
            "/dev/zero"
        ]),
        "{nodes:#?}"
    );
}

/// Every capability this host lets root hold (the sandbox may lack some,
/// e.g. CAP_SYS_RESOURCE, which no runtime could then grant).
fn host_capabilities() -> Vec<String> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let bounding = status.lines().find_map(|l| l.strip_prefix("CapBnd:")).unwrap().trim();
    let bounding = u64::from_str_radix(bounding, 16).unwrap();
    let mut held: Vec<caps::Capability> =
        caps::all().into_iter().filter(|cap| bounding & cap.bitmask() != 0).collect();
    held.sort_by_key(|cap| cap.index());
    held.iter().map(ToString::to_string).collect()
}

fn make_dangerous(config: &mut Value) {
    let caps = host_capabilities();
    for set in ["bounding", "effective", "permitted"] {
        config["process"]["capabilities"][set] = json!(caps);
    }
    let namespaces = config["linux"]["namespaces"].as_array_mut().unwrap();
    namespaces.retain(|ns| ns["type"] != "network");
    config["linux"].as_object_mut().unwrap().remove("seccomp");
    config["mounts"].as_array_mut().unwrap().push(json!({
        "destination": "/host", "type": "bind", "source": "/", "options": ["rbind", "rw"],
    }));
}

fn finding<'a>(findings: &'a [Value], id: &str) -> &'a Value {
    findings.iter().find(|f| f["id"] == id).unwrap_or_else(|| panic!("no {id} in {findings:#?}"))
}

fn assert_dangerous_findings(trace: &Path) {
    let report = report(trace);
    let findings = findings(&report);
    let ids: BTreeSet<&str> = findings.iter().map(|f| f["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        BTreeSet::from([
            "CRADLE-PRIV-001", // privileged
            "CRADLE-NS-002",   // host network namespace
            "CRADLE-PRIV-002", // no seccomp
            "CRADLE-MNT-001",  // the host's / bind-mounted read-write
            "CRADLE-PRIV-003", // no_new_privs unset (as in Docker's default)
        ]),
        "{findings:#?}"
    );
    assert_eq!(findings.len(), 5, "one finding per rule: {findings:#?}");
    let container = &report["containers"][0];
    let workload_line = &container["workload"]["evidence"]["line"];

    // Privileged: the init's capset that kept CAP_SYS_ADMIN.
    let privileged = finding(&findings, "CRADLE-PRIV-001");
    assert_eq!(privileged["severity"], "critical");
    let capset = cited_event(trace, &privileged["evidence"][0]);
    let sets = &capset["detail"]["capset"];
    assert!(sets["permitted"].as_u64().unwrap() & (1 << 21) != 0, "CAP_SYS_ADMIN: {capset}");
    assert_eq!(capset["tgid"], container["runtime"]["init_pid"]);

    // Host network: the namespace events that never created a network
    // namespace, and the workload's is the host's.
    let net = finding(&findings, "CRADLE-NS-002");
    assert_eq!(net["severity"], "high");
    let host_net = container["namespaces"]["views"][2]["host_inum"].clone();
    assert!(!net["evidence"].as_array().unwrap().is_empty());
    for evidence in net["evidence"].as_array().unwrap() {
        let event = cited_event(trace, evidence);
        let change = &event["detail"]["namespaces"];
        assert!(!change["created"].as_array().unwrap().contains(&json!("net")), "{event}");
        assert_eq!(change["namespaces"]["net"], host_net, "{event}");
    }

    // No seccomp: cites the workload's exec, by which a filter was due.
    let seccomp = finding(&findings, "CRADLE-PRIV-002");
    assert_eq!(seccomp["evidence"][0]["line"], *workload_line);
    let exec = cited_event(trace, &seccomp["evidence"][0]);
    assert_eq!(exec["detail"]["exec"]["argv"], json!(["true"]));

    // The host's /: the bind mount of "/".
    let root = finding(&findings, "CRADLE-MNT-001");
    assert_eq!(root["severity"], "critical");
    let mount = cited_event(trace, &root["evidence"][0]);
    assert_eq!(mount["detail"]["mount"]["source"], "/", "{mount}");
    assert!(mount["detail"]["mount"]["flag_names"].as_array().unwrap().contains(&json!("MS_BIND")));

    // SARIF carries the same findings, at the cited lines.
    let sarif = sarif(trace);
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 5);
    let mount_result = results.iter().find(|r| r["ruleId"] == "CRADLE-MNT-001").unwrap();
    assert_eq!(mount_result["level"], "error");
    assert_eq!(
        mount_result["locations"][0]["physicalLocation"]["region"]["startLine"],
        root["evidence"][0]["line"]
    );
    let gate = cradle(&["report", path_str(trace), "--fail-on", "critical"]);
    assert_eq!(gate.status.code(), Some(1), "--fail-on critical fails: {}", stderr(&gate));
}

#[test]
fn a_privileged_host_network_bundle_yields_exactly_the_expected_findings() {
    let sandbox = Sandbox::new();
    let bundle = sandbox.bundle("b", &["true"]);
    sandbox.edit_config(&bundle, make_dangerous);
    assert_dangerous_findings(&trace_cradle_run(&sandbox, &bundle, "rep-danger"));
}

#[test]
fn a_privileged_host_network_bundle_under_runc_yields_the_same_findings() {
    let sandbox = Sandbox::new();
    let bundle = sandbox.bundle("b", &["true"]);
    sandbox.edit_config(&bundle, make_dangerous);
    assert_dangerous_findings(&trace_runc_run(&sandbox, &bundle, "rep-danger-runc"));
}

#[test]
fn rules_are_listed_with_their_data() {
    let out = cradle(&["report", "--rules", "--format", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let rules: Value = serde_json::from_slice(&out.stdout).unwrap();
    let rules = rules.as_array().unwrap();
    assert!(rules.len() >= 15);
    for rule in rules {
        for field in ["id", "name", "severity", "title", "rationale", "remediation", "evidence"] {
            assert!(rule[field].as_str().is_some_and(|s| !s.is_empty()), "{field} of {rule}");
        }
    }
    let text = cradle(&["report", "--rules", "--format", "text"]);
    assert!(stdout(&text).contains("CRADLE-MNT-002 engine-socket-bind [critical]"));
}

#[test]
fn a_missing_or_broken_trace_is_an_error_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.jsonl");
    let out = cradle(&["report", path_str(&missing)]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("missing.jsonl"), "{}", stderr(&out));
    let junk = dir.path().join("junk.jsonl");
    std::fs::write(&junk, "{\"not\": \"a trace\"}\n").unwrap();
    let out = cradle(&["report", path_str(&junk)]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("not a cradle trace"), "{}", stderr(&out));
    assert!(stdout(&out).is_empty(), "nothing half-written on stdout");
}
