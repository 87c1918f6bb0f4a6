//! What this kernel lets cradle do, found out by trying: every probe's own
//! programs and hooks are loaded and attached as a trace does it (the same
//! code), and each attach mechanism is checked with a minimal program;
//! never by reading kernel configuration.

use std::path::Path;

use aya::{
    Btf, Ebpf,
    programs::{FEntry, KProbe, RawTracePoint, TracePoint},
};
use serde::Serialize;

use crate::{
    layout::{VMLINUX_BTF, kernel_layout},
    loader::{ProbeConfig, ProbeError, attach_all, chain, load_object_with, load_veth_module},
    programs::{Mechanism, PROBES, Probe},
    tracefs::{TRACEFS, Tracefs, ensure_tracefs},
};
use cradle_events::trace_file::HookUse;

/// The target the doctor tries kprobes and fentry on.
pub use crate::programs::NAMESPACE_FUNCTION;

/// The outcome of trying one mechanism.
#[derive(Clone, Debug, Serialize)]
pub struct MechanismCheck {
    pub mechanism: Mechanism,
    /// What was attached to.
    pub target: String,
    pub usable: bool,
    /// Why not, when not usable.
    pub error: Option<String>,
}

/// A probe on this kernel: the path each of its programs took, or why it
/// is left out.
#[derive(Clone, Debug, Serialize)]
pub struct ProbePath {
    pub probe: &'static str,
    /// A trace cannot start without it.
    pub essential: bool,
    /// Where its programs attached (`mechanism:category/target`); empty
    /// when it is not usable.
    pub paths: Vec<String>,
    pub usable: bool,
    /// The program that failed to load or attach, and the kernel's error.
    pub error: Option<String>,
    /// For a probe that hooks a kernel function: the path taken, and why
    /// better ones were not.
    pub hook: Option<HookUse>,
    /// The event kinds it produces.
    pub kinds: Vec<&'static str>,
}

#[derive(Clone, Debug, Serialize)]
pub struct DoctorReport {
    pub kernel: String,
    pub btf: bool,
    pub tracefs: String,
    pub root: bool,
    pub mechanisms: Vec<MechanismCheck>,
    pub probes: Vec<ProbePath>,
    /// Why cradle cannot trace here; empty when it can.
    pub problems: Vec<String>,
}

impl DoctorReport {
    pub fn can_run(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Tries everything and reports.
pub fn diagnose() -> DoctorReport {
    let kernel = nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_else(|_| "unknown".into());
    let btf = Path::new(VMLINUX_BTF).exists();
    let root = nix::unistd::geteuid().is_root();
    let mut problems = Vec::new();
    if !root {
        problems.push("cradle needs root (CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN)".to_string());
    }
    if !btf {
        problems.push(format!("no kernel BTF at {VMLINUX_BTF}: struct offsets cannot be found"));
    }

    let tracefs = match ensure_tracefs() {
        Ok(state) => format!(
            "{TRACEFS} ({})",
            match state {
                Tracefs::Present => "mounted",
                Tracefs::MountedNow => "mounted now by cradle",
            }
        ),
        Err(err) => {
            problems.push(err.to_string());
            format!("{TRACEFS} (not mounted)")
        }
    };
    // As a trace does: a veth module not loaded yet would hide the hook.
    load_veth_module();
    let config = ProbeConfig::default();
    let loaded = kernel_layout(Path::new(VMLINUX_BTF))
        .map_err(ProbeError::from)
        .and_then(|layout| Ok((load_object_with(&config, layout)?, layout)));
    let (mechanisms, probes) = match loaded {
        Ok((mut ebpf, layout)) => {
            let probes = try_probes(&mut ebpf, &config, &layout);
            let mechanisms = Mechanism::ALL.iter().map(|&m| try_mechanism(&mut ebpf, m)).collect();
            (mechanisms, probes)
        }
        Err(err) => {
            let error = format!("the eBPF object does not load: {}", chain(&err));
            problems.push(error.clone());
            let mechanisms = Mechanism::ALL
                .iter()
                .map(|&mechanism| MechanismCheck {
                    mechanism,
                    target: String::new(),
                    usable: false,
                    error: Some("not tried: the object did not load".into()),
                })
                .collect();
            let probes = PROBES
                .iter()
                .map(|probe| verdict(probe, Vec::new(), Some(error.clone()), None))
                .collect();
            (mechanisms, probes)
        }
    };
    for probe in probes.iter().filter(|probe| probe.essential && !probe.usable) {
        problems.push(format!(
            "essential probe {} cannot attach: {}",
            probe.probe,
            probe.error.as_deref().unwrap_or("unknown error")
        ));
    }
    DoctorReport { kernel, btf, tracefs, root, mechanisms, probes, problems }
}

/// Loads and attaches every probe's programs and hooks exactly as a trace
/// does, then detaches them.
fn try_probes(
    ebpf: &mut Ebpf,
    config: &ProbeConfig,
    layout: &cradle_probes_common::KernelLayout,
) -> Vec<ProbePath> {
    let attachment = attach_all(ebpf, config, layout);
    let probes = PROBES
        .iter()
        .map(|probe| {
            let hook = attachment.hooks.iter().find(|hook| hook.probe == probe.name).cloned();
            match attachment.left_out.iter().find(|out| out.probe.name == probe.name) {
                Some(out) => verdict(probe, Vec::new(), Some(out.reason.clone()), hook),
                None => {
                    let paths = attachment
                        .attached
                        .iter()
                        .filter(|spec| spec.probes.contains(&probe.name))
                        .map(|spec| spec.describe())
                        .collect();
                    verdict(probe, paths, None, hook)
                }
            }
        })
        .collect();
    drop(attachment);
    probes
}

fn verdict(
    probe: &'static Probe,
    paths: Vec<String>,
    error: Option<String>,
    hook: Option<HookUse>,
) -> ProbePath {
    ProbePath {
        probe: probe.name,
        essential: probe.essential,
        usable: error.is_none(),
        paths,
        error,
        hook,
        kinds: probe.kinds.iter().map(|kind| kind.name()).collect(),
    }
}

fn try_mechanism(ebpf: &mut Ebpf, mechanism: Mechanism) -> MechanismCheck {
    let (target, result) = match mechanism {
        Mechanism::Tracepoint => ("syscalls/sys_enter_getpid".to_string(), try_tracepoint(ebpf)),
        Mechanism::RawTracepoint => ("sched_process_fork".to_string(), try_raw_tracepoint(ebpf)),
        Mechanism::Kprobe | Mechanism::Kretprobe => {
            (NAMESPACE_FUNCTION.to_string(), try_kprobe(ebpf))
        }
        Mechanism::Fentry | Mechanism::Fexit => (NAMESPACE_FUNCTION.to_string(), try_fentry(ebpf)),
    };
    MechanismCheck { mechanism, target, usable: result.is_ok(), error: result.err() }
}

fn program<'a, T>(ebpf: &'a mut Ebpf, name: &str) -> Result<&'a mut T, String>
where
    &'a mut T: TryFrom<&'a mut aya::programs::Program, Error = aya::programs::ProgramError>,
{
    let program = ebpf.program_mut(name).ok_or_else(|| format!("no program {name}"))?;
    program.try_into().map_err(|err| format!("{name}: {err}"))
}

// Each attempt detaches by dropping the link with the program when `ebpf`
// is dropped at the end of `diagnose`.

fn try_tracepoint(ebpf: &mut Ebpf) -> Result<(), String> {
    let tp: &mut TracePoint = program(ebpf, "doctor_tracepoint")?;
    tp.load().map_err(|e| format!("load: {}", chain(&e)))?;
    tp.attach("syscalls", "sys_enter_getpid").map_err(|e| format!("attach: {}", chain(&e)))?;
    Ok(())
}

fn try_raw_tracepoint(ebpf: &mut Ebpf) -> Result<(), String> {
    let tp: &mut RawTracePoint = program(ebpf, "doctor_raw_tracepoint")?;
    tp.load().map_err(|e| format!("load: {}", chain(&e)))?;
    tp.attach("sched_process_fork").map_err(|e| format!("attach: {}", chain(&e)))?;
    Ok(())
}

fn try_kprobe(ebpf: &mut Ebpf) -> Result<(), String> {
    let kp: &mut KProbe = program(ebpf, "doctor_kprobe")?;
    kp.load().map_err(|e| format!("load: {}", chain(&e)))?;
    kp.attach(NAMESPACE_FUNCTION, 0).map_err(|e| format!("attach: {}", chain(&e)))?;
    Ok(())
}

fn try_fentry(ebpf: &mut Ebpf) -> Result<(), String> {
    let btf = Btf::from_sys_fs().map_err(|e| format!("kernel BTF: {}", chain(&e)))?;
    let fentry: &mut FEntry = program(ebpf, "doctor_fentry")?;
    fentry.load(NAMESPACE_FUNCTION, &btf).map_err(|e| format!("load: {}", chain(&e)))?;
    fentry.attach().map_err(|e| format!("attach: {}", chain(&e)))?;
    Ok(())
}
