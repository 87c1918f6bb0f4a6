//! The report for people: one section per container, findings first.

use std::fmt::Write as _;

use cradle_events::{collector::Phase, printable::printable_lines, timefmt::duration};

use crate::{
    model::{
        CgroupReport, ContainerReport, DeviceNodeReport, EventRef, EventSummary, FileWrite,
        Finding, MountOperation, NamespaceReport, NetworkReport, PhaseReport, ProcessReport,
        Report,
    },
    rules::{RULES, Severity},
};

fn at(evidence: &EventRef) -> String {
    format!("line {}", evidence.line)
}

/// The report as text; every line escaped (ids, comms, paths and
/// arguments come from the trace file).
pub fn render(report: &Report) -> String {
    printable_lines(&render_raw(report)).into_owned()
}

fn render_raw(report: &Report) -> String {
    let mut out = String::new();
    let trace = &report.trace;
    let _ = writeln!(
        out,
        "cradle report of {} ({} events, host {}, kernel {})",
        trace.path, trace.events, trace.host, trace.kernel
    );
    if trace.lost > 0 {
        let _ = writeln!(out, "warning: {} events were lost while tracing", trace.lost);
    }
    for absence in &trace.unavailable {
        let _ = writeln!(
            out,
            "warning: traced without probe {} (no {} events): {}",
            absence.probe,
            absence.kinds.join(", "),
            absence.reason
        );
    }
    if let Some(truncated) = &trace.truncated {
        let _ = writeln!(out, "warning: the trace is truncated: {truncated}");
    }
    if report.containers.is_empty() {
        let _ = writeln!(out, "\nno container was started in this trace");
    }
    for container in &report.containers {
        out.push('\n');
        container_text(&mut out, container);
    }
    let t = &report.totals;
    let _ = writeln!(
        out,
        "\nfindings: {} critical, {} high, {} medium, {} low, {} info",
        t.critical, t.high, t.medium, t.low, t.info
    );
    out
}

fn container_text(out: &mut String, c: &ContainerReport) {
    runtime_section(out, c);
    findings_section(out, &c.findings);
    phases_section(out, &c.phases);
    namespaces_section(out, &c.namespaces);
    mounts_section(out, c);
    device_nodes_section(out, &c.device_nodes);
    file_writes_section(out, &c.file_writes);
    workload_exec_section(out, c);
    cgroups_section(out, &c.cgroups);
    network_section(out, &c.network);
    processes_section(out, &c.processes);
    events_section(out, &c.events);
}

/// The container's id and runtime: warnings, bundle, pids, who launched
/// it and the runtime commands run on it later.
fn runtime_section(out: &mut String, c: &ContainerReport) {
    let _ = writeln!(out, "== container {} ({}) ==", c.id, c.runtime.name);
    for caveat in &c.caveats {
        let _ = writeln!(out, "warning: {caveat}");
    }
    if let Some(bundle) = &c.runtime.bundle {
        let _ = writeln!(out, "bundle: {bundle}");
    }
    let _ = writeln!(
        out,
        "runtime pid {}, init pid {}, {}",
        c.runtime.pid,
        c.runtime.init_pid.map_or("-".into(), |p| p.to_string()),
        c.runtime.exit.as_deref().unwrap_or("no exit seen")
    );
    if !c.runtime.launchers.is_empty() {
        let _ = writeln!(out, "launched by (parent first):");
        for l in &c.runtime.launchers {
            let _ = writeln!(out, "  {} {}: {}", l.pid, l.comm, l.argv.join(" "));
        }
    }
    for call in &c.runtime.calls {
        let _ = writeln!(
            out,
            "{} {} +{} (pid {})",
            c.runtime.name,
            call.command,
            duration(call.since_start_ns),
            call.pid
        );
    }
}

/// The findings, most severe first, each with its evidence lines.
fn findings_section(out: &mut String, findings: &[Finding]) {
    let _ = writeln!(out, "\nfindings:");
    if findings.is_empty() {
        let _ = writeln!(out, "  none");
    }
    let mut findings: Vec<_> = findings.iter().collect();
    findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
    for f in findings {
        let _ = writeln!(out, "  [{}] {} {}: {}", f.severity.name(), f.id, f.title, f.message);
        for e in &f.evidence {
            let _ = writeln!(out, "      {}: {}[{}] {}", at(e), e.comm, e.tgid, e.text);
        }
    }
}

fn phases_section(out: &mut String, phases: &[PhaseReport]) {
    let _ = writeln!(out, "\nphases:");
    for p in phases {
        let _ = writeln!(
            out,
            "  {:<22} +{:>12}  {:>12}  {} events",
            p.phase.name(),
            duration(p.start_ns),
            duration(p.duration_ns),
            p.events
        );
    }
}

/// Each namespace kind, the user namespace's id mappings and the
/// namespaces joined with setns.
fn namespaces_section(out: &mut String, namespaces: &NamespaceReport) {
    let _ = writeln!(out, "\nnamespaces:");
    for v in &namespaces.views {
        let inum = v.inum.map_or("?".into(), |i| format!("{}:[{i}]", v.kind));
        let shared = if v.shared_with_host { "  shared with the host" } else { "" };
        let _ = writeln!(out, "  {:<7} {inum}{shared}", v.kind);
    }
    if let Some(mappings) = &namespaces.id_mappings {
        let _ =
            writeln!(out, "  user:[{}] maps ids (cradle explain id_mapping):", mappings.user_ns);
        for line in mappings.lines() {
            let _ = writeln!(out, "    {line}");
        }
    }
    for j in &namespaces.joined {
        let when = if j.after_start { "after start" } else { "before start" };
        let _ = writeln!(out, "  setns {} ({when}, {})", j.kinds.join("|"), at(&j.evidence));
    }
}

/// The root filesystem and the mounts that succeeded; failed ones are only
/// counted.
fn mounts_section(out: &mut String, c: &ContainerReport) {
    if let Some(rootfs) = &c.rootfs {
        let _ = writeln!(out, "\nrootfs: {rootfs}");
    }
    let _ = writeln!(out, "\nmounts:");
    for m in c.mounts.iter().filter(|m| m.result == 0) {
        let op = match m.operation {
            MountOperation::Filesystem => "fs",
            MountOperation::Bind => "bind",
            MountOperation::Remount => "remount",
            MountOperation::Propagation => "propagation",
            MountOperation::Move => "move",
        };
        let target = m.container_path.as_deref().or(m.target.as_deref()).unwrap_or("?");
        let mode = if m.read_only { "ro" } else { "rw" };
        let host = if m.host_source { "  (host path)" } else { "" };
        let _ = writeln!(
            out,
            "  {op:<11} {:<28} -> {target:<28} {:<8} {mode}{host}  [{}]",
            m.source.as_deref().unwrap_or("-"),
            m.fstype.as_deref().unwrap_or("-"),
            m.flags.join("|"),
        );
    }
    let failed = c.mounts.iter().filter(|m| m.result != 0).count();
    if failed > 0 {
        let _ = writeln!(out, "  ({failed} mount calls failed; see the JSON report)");
    }
}

fn device_nodes_section(out: &mut String, device_nodes: &[DeviceNodeReport]) {
    if !device_nodes.is_empty() {
        let _ = writeln!(out, "\ndevice nodes created:");
        for node in device_nodes {
            let path = node.container_path.as_deref().or(node.path.as_deref()).unwrap_or("?");
            let default = if node.default { "  (default)" } else { "" };
            let _ = writeln!(
                out,
                "  {} {}:{} {path} = {}{default}  [{}]",
                node.kind.replace('_', " "),
                node.major,
                node.minor,
                node.result,
                at(&node.evidence)
            );
        }
    }
}

/// How many files were opened for writing before and after the
/// workload's exec; those after listed.
fn file_writes_section(out: &mut String, file_writes: &[FileWrite]) {
    let workload_writes: Vec<_> =
        file_writes.iter().filter(|w| w.phase >= Phase::WorkloadExec).collect();
    if !file_writes.is_empty() {
        let _ = writeln!(
            out,
            "\nfiles opened for writing: {} before the workload's exec, {} after",
            file_writes.len() - workload_writes.len(),
            workload_writes.len()
        );
        for w in workload_writes {
            let path = w.container_path.as_deref().or(w.path.as_deref()).unwrap_or("?");
            let _ = writeln!(
                out,
                "  {path} ({}) = {}  [{}]",
                w.flags.join("|"),
                w.result,
                at(&w.evidence)
            );
        }
    }
}

/// The root switch, then the workload's privileges at its exec
/// (capabilities, no_new_privs, seccomp), what it ran and its hostname.
fn workload_exec_section(out: &mut String, c: &ContainerReport) {
    if let Some(r) = &c.root_switch {
        let _ = writeln!(out, "\nroot switch: {:?} ({})", r.method, at(&r.evidence));
    }
    let caps = &c.capabilities;
    let _ = writeln!(out, "\nat the workload's exec:");
    match &caps.effective {
        Some(effective) if caps.all => {
            let _ = writeln!(out, "  capabilities: all ({})", effective.len());
        }
        Some(effective) => {
            let _ = writeln!(out, "  capabilities: {}", effective.join(","));
        }
        None => {
            let _ = writeln!(out, "  capabilities: inherited from the runtime (no capset seen)");
        }
    }
    let _ = writeln!(out, "  bounding set: {} dropped", caps.bounding_dropped.len());
    let _ = writeln!(out, "  no_new_privs: {}", if c.no_new_privs.set { "set" } else { "not set" });
    let seccomp = match c.seccomp.filters.first() {
        Some(f) => format!(
            "{} ({} instructions)",
            f.call,
            f.instructions.map_or("?".into(), |n| n.to_string())
        ),
        None => "none".into(),
    };
    let _ = writeln!(out, "  seccomp: {seccomp}");
    if let Some(w) = &c.workload {
        let _ = writeln!(out, "  workload: {} {:?} ({})", w.filename, w.argv, at(&w.evidence));
    }
    if let Some(h) = &c.hostname {
        let _ = writeln!(out, "  hostname: {}", h.name.as_deref().unwrap_or("?"));
    }
}

fn cgroups_section(out: &mut String, cgroups: &[CgroupReport]) {
    let paths: std::collections::BTreeSet<&str> = cgroups.iter().map(|g| g.path.as_str()).collect();
    if !paths.is_empty() {
        let _ = writeln!(out, "\ncgroups: {}", paths.into_iter().collect::<Vec<_>>().join(", "));
    }
}

fn network_section(out: &mut String, network: &NetworkReport) {
    if !network.interfaces.is_empty() || network.own_namespace.is_some() {
        let _ = writeln!(
            out,
            "\nnetwork: {}, {} link requests",
            network.own_namespace.map_or("host namespace".into(), |n| format!("net:[{n}]")),
            network.interfaces.len()
        );
    }
    for link in &network.daemon_links {
        let _ = writeln!(out, "  {}", link.summary());
    }
}

fn processes_section(out: &mut String, processes: &[ProcessReport]) {
    let _ = writeln!(out, "\nprocesses:");
    for p in processes {
        let programs: Vec<&str> = p.programs.iter().map(|r| r.filename.as_str()).collect();
        let _ = writeln!(
            out,
            "  {:>7} {:<13} {:<16} {}",
            p.pid,
            format!("{:?}", p.role).to_lowercase(),
            p.comm,
            programs.join(" -> ")
        );
    }
}

fn events_section(out: &mut String, events: &EventSummary) {
    let _ = writeln!(
        out,
        "\nevents: {} (lines {}..{})",
        events.count,
        events.first_line.unwrap_or(0),
        events.last_line.unwrap_or(0)
    );
}

/// `cradle report --rules` as text.
pub fn rules() -> String {
    let mut out = String::new();
    for severity in Severity::ALL.iter().rev() {
        for rule in RULES.iter().filter(|r| r.severity == *severity) {
            let _ =
                writeln!(out, "{} {} [{}]: {}", rule.id, rule.name, severity.name(), rule.title);
            let _ = writeln!(out, "    why: {}", rule.rationale);
            let _ = writeln!(out, "    evidence: {}", rule.evidence);
            let _ = writeln!(out, "    fix: {}", rule.remediation);
            if !rule.limits.is_empty() {
                let _ = writeln!(out, "    cannot see: {}", rule.limits);
            }
        }
    }
    out
}
