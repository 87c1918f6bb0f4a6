//! `cradle doctor`: what this kernel allows, found out by trying.

use std::process::ExitCode;

use cradle_probes::doctor::{DoctorReport, diagnose};

use crate::cli::DoctorArgs;

pub fn run(args: DoctorArgs) -> anyhow::Result<ExitCode> {
    let report = diagnose();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", render(&report));
    }
    Ok(if report.can_run() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

fn render(report: &DoctorReport) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let yes_no = |b: bool| if b { "yes" } else { "no" };
    let _ = writeln!(out, "kernel   {}", report.kernel);
    let _ = writeln!(out, "BTF      {}", yes_no(report.btf));
    let _ = writeln!(out, "tracefs  {}", report.tracefs);
    let _ = writeln!(out, "root     {}", yes_no(report.root));
    let _ = writeln!(
        out,
        "\nattach mechanisms (each tried by loading and attaching a minimal program):"
    );
    for check in &report.mechanisms {
        let verdict = if check.usable { "usable" } else { "unusable" };
        let _ = write!(out, "  {:<15} {:<9} {}", check.mechanism.name(), verdict, check.target);
        if let Some(error) = &check.error {
            let _ = write!(out, ": {error}");
        }
        out.push('\n');
    }
    let _ =
        writeln!(out, "\nprobes (each loaded and attached with its own programs; * essential):");
    for probe in &report.probes {
        let mark = if probe.usable { "ok " } else { "N/A" };
        let name = format!("{}{}", probe.probe, if probe.essential { "*" } else { "" });
        match &probe.error {
            None => {
                let _ = writeln!(out, "  {mark} {name:<11} {}", probe.paths.join(", "));
            }
            Some(error) => {
                let _ = writeln!(
                    out,
                    "  {mark} {name:<11} left out, no {} events: {error}",
                    probe.kinds.join("/")
                );
            }
        }
        // A probe left out for want of a hook has said why above.
        if let Some(hook) = probe.hook.as_ref().filter(|_| probe.usable) {
            let _ = write!(out, "      {:<11} hook on {}: {}", "", hook.function, hook.path);
            for refusal in &hook.refused {
                let _ = write!(out, "; not {}: {}", refusal.path, refusal.reason);
            }
            out.push('\n');
        }
    }
    out.push('\n');
    if report.can_run() {
        out.push_str("cradle can run here.\n");
    } else {
        out.push_str("cradle cannot run here:\n");
        for problem in &report.problems {
            let _ = writeln!(out, "  - {problem}");
        }
    }
    out
}
