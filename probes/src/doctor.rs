//! What this kernel lets cradle do, found out by trying: each attach
//! mechanism is checked by loading and attaching a minimal program, never
//! by reading kernel configuration.

use std::path::Path;

use aya::{
    Btf, Ebpf,
    programs::{FEntry, KProbe, RawTracePoint, TracePoint},
};
use serde::Serialize;

use crate::{
    layout::VMLINUX_BTF,
    loader::{ProbeConfig, chain, load_object},
    programs::{Mechanism, PROGRAMS},
    tracefs::{TRACEFS, Tracefs, ensure_tracefs},
};

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

/// The path a probe takes on this kernel.
#[derive(Clone, Debug, Serialize)]
pub struct ProbePath {
    pub probe: &'static str,
    pub paths: Vec<String>,
    pub usable: bool,
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
    let mechanisms: Vec<MechanismCheck> = match load_object(&ProbeConfig::default()) {
        Ok(mut ebpf) => Mechanism::ALL.iter().map(|&m| try_mechanism(&mut ebpf, m)).collect(),
        Err(err) => {
            problems.push(format!("the eBPF object does not load: {err}"));
            Mechanism::ALL
                .iter()
                .map(|&mechanism| MechanismCheck {
                    mechanism,
                    target: String::new(),
                    usable: false,
                    error: Some("not tried: the object did not load".into()),
                })
                .collect()
        }
    };
    let usable =
        |m: Mechanism| mechanisms.iter().any(|c: &MechanismCheck| c.mechanism == m && c.usable);

    let mut probes: Vec<ProbePath> = Vec::new();
    for spec in PROGRAMS.iter().filter(|spec| spec.wanted_here()) {
        let path = spec.describe();
        for &name in spec.probes {
            match probes.iter_mut().find(|p| p.probe == name) {
                Some(probe) => {
                    probe.paths.push(path.clone());
                    probe.usable &= usable(spec.mechanism);
                }
                None => probes.push(ProbePath {
                    probe: name,
                    paths: vec![path.clone()],
                    usable: usable(spec.mechanism),
                }),
            }
        }
    }
    for probe in &probes {
        if !probe.usable {
            problems.push(format!(
                "probe {} cannot attach ({})",
                probe.probe,
                probe.paths.join(", ")
            ));
        }
    }
    DoctorReport { kernel, btf, tracefs, root, mechanisms, probes, problems }
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
