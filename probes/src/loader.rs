//! Loading the embedded eBPF object, attaching its programs, and the handles
//! userspace keeps: the tracked-task map and the loss counters.

use std::{
    os::fd::{AsFd, AsRawFd, RawFd},
    path::{Path, PathBuf},
};

use aya::{
    Ebpf, EbpfLoader, VerifierLogLevel,
    maps::{HashMap, IterableMap, MapData, PerCpuArray, ProgramArray, RingBuf},
    programs::{
        FEntry, FExit, KProbe, ProgramError, RawTracePoint, TracePoint, fentry::FEntryLink,
        fexit::FExitLink, kprobe::KProbeLink, raw_trace_point::RawTracePointLink,
        trace_point::TracePointLink,
    },
};
use cradle_probes_common::{
    EVENTS_MAP, EventKind, FILENAME_TAIL, GLOBALS_SYMBOL, HOOKS_MAP, KernelLayout, LAYOUT_ABSENT,
    LINK_DAEMONS_MAX, LOST_MAP, ProbeGlobals, RUNTIME_FILES_MAX, RUNTIME_NAMES_MAX, RuntimeFile,
    RuntimeTail, TASK_COMM_LEN, TRACK_ALL, TRACK_RUNTIMES, TRACK_TREE, TRACKED_MAP, TraceConfig,
    TrackedTask,
};

use crate::{
    layout::{LayoutError, VMLINUX_BTF, kernel_layout},
    programs::{
        HOOKS, HookSpec, Mechanism, PROBES, PROGRAMS, Probe, ProgramSpec, TailCall, VETH_FUNCTION,
        probe,
    },
    stream::EventStream,
    tracefs::{TracefsError, ensure_tracefs},
};
use cradle_events::trace_file::{HookRefusal, HookUse, ProbeAbsence};

/// The eBPF object built from `probes-ebpf/` by this crate's build script.
pub static EBPF_OBJECT: &[u8] =
    aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/cradle-probes.bpf.o"));

#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error(transparent)]
    Layout(#[from] LayoutError),
    #[error(transparent)]
    Tracefs(#[from] TracefsError),
    #[error("loading the eBPF object: {0}")]
    Load(#[source] aya::EbpfError),
    #[error("the eBPF object has no program {0}")]
    MissingProgram(&'static str),
    #[error("the eBPF object has no map {0}")]
    MissingMap(&'static str),
    #[error("map {map}: {source}")]
    Map {
        map: &'static str,
        #[source]
        source: aya::maps::MapError,
    },
    #[error("loading program {program}: {source}")]
    ProgramLoad {
        program: &'static str,
        #[source]
        source: ProgramError,
    },
    #[error("placing program {program} in slot {index} of {array}: {source}")]
    TailCall {
        program: &'static str,
        array: &'static str,
        index: u32,
        #[source]
        source: aya::maps::MapError,
    },
    #[error("kernel BTF, for program {program}: {source}")]
    KernelBtf {
        program: &'static str,
        #[source]
        source: aya::BtfError,
    },
    #[error("attaching program {program} to {target}: {source}")]
    Attach {
        program: &'static str,
        target: String,
        #[source]
        source: ProgramError,
    },
    #[error(
        "probe {probe} is essential and cannot be left out: {reason}. cradle needs Linux 5.8 or \
         later (x86_64, BTF, raw tracepoints, the BPF ring buffer); it is tested on 6.1, 6.12 \
         and 6.18 (see `cradle doctor`)"
    )]
    Essential { probe: &'static str, reason: String },
    #[error("no probe {0} (the probes: {1})")]
    UnknownProbe(String, String),
    #[error("runtime name {0}")]
    RuntimeName(String),
    #[error("link daemon name {0}")]
    LinkDaemon(String),
    #[error("ring buffer size {0} is not a power of two of at least one page")]
    RingSize(u32),
    #[error("registering pid {pid} for tracing: {source}")]
    Register {
        pid: u32,
        #[source]
        source: std::io::Error,
    },
    #[error("reading the ring buffer: {0}")]
    Io(#[from] std::io::Error),
}

/// Which tasks are reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrackMode {
    /// Registered roots and their descendants only.
    Tree,
    /// Every task on the host.
    All,
    /// Registered roots and their descendants, and every task that execs a
    /// file named in [`ProbeConfig::runtimes`], with its descendants: every
    /// container started on the host, whoever starts it.
    Runtimes,
}

/// The runtimes `cradle watch` follows by default: their executables'
/// names.
pub const DEFAULT_RUNTIMES: &[&str] = &["runc", "crun", "cradle", "youki", "runsc"];

/// The daemons that make containers' network links, whose link requests
/// `cradle watch` follows by default: docker's engine and containerd,
/// podman and its monitor and network tool, and the CNI plugins that make
/// veths (by their executables' names as the kernel's 15-byte `comm`).
pub const DEFAULT_LINK_DAEMONS: &[&str] =
    &["dockerd", "containerd", "podman", "conmon", "netavark", "bridge", "ptp"];

/// How to load the probes.
#[derive(Clone, Debug)]
pub struct ProbeConfig {
    pub track: TrackMode,
    /// Ring-buffer size in bytes: a power of two, at least a page.
    pub ring_bytes: u32,
    /// For [`TrackMode::Runtimes`]: executable names, at most
    /// [`RUNTIME_NAMES_MAX`] of at most 15 bytes.
    pub runtimes: Vec<String>,
    /// For [`TrackMode::Runtimes`]: the files a runtime may run from.
    /// Those owned by root and writable by no one else are trusted (see
    /// [`trusted_runtime_files`]); at most [`RUNTIME_FILES_MAX`].
    pub runtime_files: Vec<PathBuf>,
    /// Step mode: tracked tasks are stopped (SIGSTOP) right after sending
    /// a record of one of these kinds; the caller resumes them.
    pub stop_after: Vec<EventKind>,
    /// Hook paths not to try (`fexit`, `kprobe`, ...), as if the kernel
    /// refused them: to take a chosen path, or the tracepoint path, on a
    /// kernel that allows more.
    pub refuse_paths: Vec<String>,
    /// For [`TrackMode::Runtimes`]: the daemons whose link requests are
    /// recorded although they are not tracked, by `comm`; at most
    /// [`LINK_DAEMONS_MAX`] of at most 15 bytes.
    pub link_daemons: Vec<String>,
    /// Probes to leave out, by name (see [`crate::programs::PROBES`]); an
    /// essential one cannot be.
    pub skip: Vec<String>,
    /// The benchmark's floor: every program attached as usual, each
    /// returning at once, so nothing is recorded.
    pub floor: bool,
}

impl Default for ProbeConfig {
    fn default() -> Self {
        ProbeConfig {
            track: TrackMode::Tree,
            ring_bytes: 8 << 20,
            runtimes: DEFAULT_RUNTIMES.iter().map(|name| name.to_string()).collect(),
            runtime_files: Vec::new(),
            stop_after: Vec::new(),
            refuse_paths: Vec::new(),
            link_daemons: DEFAULT_LINK_DAEMONS.iter().map(|name| name.to_string()).collect(),
            skip: Vec::new(),
            floor: false,
        }
    }
}

/// Loaded and attached probes. Dropping it detaches everything.
pub struct Probes {
    links: Vec<Link>,
    _ebpf: Ebpf,
    tracked: HashMap<MapData, u32, TrackedTask>,
    lost: PerCpuArray<MapData, u64>,
    attached: Vec<ProgramSpec>,
    hooks: Vec<HookUse>,
    left_out: Vec<LeftOut>,
}

/// A probe the tracer runs without, and why.
#[derive(Clone, Debug)]
pub struct LeftOut {
    pub probe: &'static Probe,
    /// The program that could not load or attach, or the configuration
    /// that left the probe out, with the exact error.
    pub reason: String,
}

impl From<&LeftOut> for ProbeAbsence {
    fn from(out: &LeftOut) -> Self {
        ProbeAbsence {
            probe: out.probe.name.to_string(),
            kinds: out.probe.kinds.iter().map(|kind| kind.name().to_string()).collect(),
            reason: out.reason.clone(),
        }
    }
}

/// What [`attach_all`] did: the programs attached (with their links), the
/// path each hook took, and the probes left out.
pub(crate) struct Attachment {
    pub links: Vec<Link>,
    pub attached: Vec<ProgramSpec>,
    pub hooks: Vec<HookUse>,
    pub left_out: Vec<LeftOut>,
}

/// Loads and attaches every program of every probe not in `config.skip`,
/// in [`PROGRAMS`] order, then each hook by the best path it can take. A
/// program the kernel refuses (a missing hook, the verifier) fails its
/// probes: they are left out whole, their other programs detached, so that
/// no probe reports half its events. A probe no attached program serves
/// (a hook without a fallback of its own) is left out too. Never fails
/// itself: the caller decides whether what was left out matters.
pub(crate) fn attach_all(
    ebpf: &mut Ebpf,
    config: &ProbeConfig,
    layout: &KernelLayout,
) -> Attachment {
    let mut left_out: Vec<LeftOut> = config
        .skip
        .iter()
        .filter_map(|name| probe(name))
        .map(|probe| LeftOut { probe, reason: "left out by configuration".to_string() })
        .collect();
    let is_out = |left_out: &[LeftOut], spec: &ProgramSpec| {
        // A program stays while one of its probes is still wanted.
        spec.probes.iter().all(|name| left_out.iter().any(|out| out.probe.name == *name))
    };
    let mut done: Vec<(ProgramSpec, Option<Link>)> = Vec::new();
    for spec in PROGRAMS {
        if is_out(&left_out, spec) {
            continue;
        }
        let result = if spec.wanted_here() {
            attach(ebpf, spec).map_err(|err| short_reason(&chain(&err)))
        } else {
            Err(format!("{}: this kernel has no such tracepoint", spec.describe()))
        };
        match result {
            Ok(link) => done.push((*spec, link)),
            Err(reason) => {
                for name in spec.probes {
                    let probe = probe(name).expect("programs name known probes (tested)");
                    if !left_out.iter().any(|out| out.probe.name == probe.name) {
                        left_out.push(LeftOut { probe, reason: reason.clone() });
                    }
                }
            }
        }
    }
    let mut links = Vec::new();
    let mut attached = Vec::new();
    for (spec, link) in done {
        if is_out(&left_out, &spec) {
            // Attached before a sibling failed: take it back out.
            drop(link);
            for tail_call in spec.slots() {
                unplace(ebpf, tail_call);
            }
        } else {
            links.extend(link);
            attached.push(spec);
        }
    }
    let hooks: Vec<HookUse> = HOOKS
        .iter()
        .filter(|hook| !left_out.iter().any(|out| out.probe.name == hook.probe))
        .map(|hook| {
            // The veth hook reads the driver's structures: only where
            // BTF (the kernel's or the veth module's) describes them.
            let layout_ready = hook.function != VETH_FUNCTION
                || (layout.veth_priv_peer != LAYOUT_ABSENT
                    && layout.veth_newlink_dev_arg != LAYOUT_ABSENT);
            attach_hook(ebpf, hook, layout_ready, &config.refuse_paths, &mut links, &mut attached)
        })
        .collect();
    for probe in PROBES {
        let served = attached.iter().any(|spec| spec.probes.contains(&probe.name));
        if served || left_out.iter().any(|out| out.probe.name == probe.name) {
            continue;
        }
        let refusals: Vec<String> = hooks
            .iter()
            .filter(|hook| hook.probe == probe.name)
            .flat_map(|hook| hook.refused.iter().map(|r| format!("{}: {}", r.path, r.reason)))
            .collect();
        let reason = if refusals.is_empty() {
            "no program serves it on this kernel".to_string()
        } else {
            format!("no hook path attached ({})", refusals.join("; "))
        };
        left_out.push(LeftOut { probe, reason });
    }
    Attachment { links, attached, hooks, left_out }
}

/// Loads the embedded object with this kernel's `layout` (read from BTF)
/// and `config`, without attaching anything.
pub(crate) fn load_object_with(
    config: &ProbeConfig,
    layout: KernelLayout,
) -> Result<Ebpf, ProbeError> {
    let page = page_size();
    if !config.ring_bytes.is_power_of_two() || config.ring_bytes < page {
        return Err(ProbeError::RingSize(config.ring_bytes));
    }
    let globals = ProbeGlobals {
        layout,
        config: TraceConfig {
            mode: match config.track {
                TrackMode::Tree => TRACK_TREE,
                TrackMode::All => TRACK_ALL,
                TrackMode::Runtimes => TRACK_RUNTIMES,
            },
            floor: u32::from(config.floor),
            runtimes: runtime_names(&config.runtimes)?,
            stop_kinds: config.stop_after.iter().fold(0, |bits, kind| bits | 1 << (*kind as u32)),
            runtime_files: match (config.track, config.runtime_files.is_empty()) {
                (TrackMode::Runtimes, true) => {
                    runtime_files(&runtime_files_named(&config.runtimes))
                }
                _ => runtime_files(&config.runtime_files),
            },
            link_daemons: link_daemons(&config.link_daemons)?,
        },
    };
    EbpfLoader::new()
        .verifier_log_level(verifier_log_level())
        .override_global(GLOBALS_SYMBOL, &globals, true)
        .map_max_entries(EVENTS_MAP, config.ring_bytes)
        .load(EBPF_OBJECT)
        .map_err(ProbeError::Load)
}

/// What the verifier writes back about a refused program. aya loads a
/// program once without a log and, if it is refused, again with one, in a
/// buffer it grows tenfold for as long as the log does not fit. The walk
/// of a program refused after 1,000,000 instructions fits none: it was
/// verified 11 times, minutes on 6.1 under emulation. Its verdict and
/// statistics alone make the reason; the walk only when debugging
/// (`CRADLE_LOG=debug`).
fn verifier_log_level() -> VerifierLogLevel {
    if tracing::enabled!(tracing::Level::DEBUG) {
        VerifierLogLevel::DEBUG | VerifierLogLevel::STATS
    } else {
        VerifierLogLevel::STATS
    }
}

/// Names as the programs compare them with `comm`: NUL-padded, at most
/// `N` of them, each 1 to 15 bytes and `allowed`. The error is `None` for
/// too many names, else the name refused.
fn comm_table<const N: usize>(
    names: &[String],
    allowed: impl Fn(&str) -> bool,
) -> Result<[[u8; TASK_COMM_LEN]; N], Option<&String>> {
    if names.len() > N {
        return Err(None);
    }
    let mut table = [[0u8; TASK_COMM_LEN]; N];
    for (slot, name) in table.iter_mut().zip(names) {
        if name.is_empty() || name.len() >= TASK_COMM_LEN || !allowed(name) {
            return Err(Some(name));
        }
        slot[..name.len()].copy_from_slice(name.as_bytes());
    }
    Ok(table)
}

/// The runtime names: executables' file names.
fn runtime_names(names: &[String]) -> Result<[RuntimeTail; RUNTIME_NAMES_MAX], ProbeError> {
    let table = comm_table::<RUNTIME_NAMES_MAX>(names, |name| !name.contains('/'));
    let table = table.map_err(|refused| {
        ProbeError::RuntimeName(match refused {
            None => {
                format!("{} names given, at most {RUNTIME_NAMES_MAX} can be watched", names.len())
            }
            Some(name) => format!(
                "{name:?}: a runtime is named by its executable's file name, 1 to {} bytes",
                TASK_COMM_LEN - 1
            ),
        })
    })?;
    Ok(table.map(|name| runtime_tail(&name)))
}

/// Where runtimes are installed, searched beside `PATH` for the default
/// allow-list (a daemon's `PATH` is not ours).
const RUNTIME_DIRS: &[&str] =
    &["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"];

/// The default allow-list for `names`: each name found in `PATH` or
/// [`RUNTIME_DIRS`], and this cradle itself.
pub fn runtime_files_named(names: &[String]) -> Vec<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs: Vec<PathBuf> =
        std::env::split_paths(&path).chain(RUNTIME_DIRS.iter().map(PathBuf::from)).collect();
    let mut files: Vec<PathBuf> = names
        .iter()
        .flat_map(|name| dirs.iter().map(move |dir| dir.join(name)))
        .filter(|file| file.is_file())
        .collect();
    files.extend(std::env::current_exe());
    files
}

/// The files of `candidates` a runtime may run from: owned by root and
/// writable by no one else (anything else could be anyone's program), by
/// device and inode, at most [`RUNTIME_FILES_MAX`] distinct ones.
pub fn trusted_runtime_files(candidates: &[PathBuf]) -> Vec<(PathBuf, RuntimeFile)> {
    use std::os::unix::fs::MetadataExt;
    let mounts = superblock_devices();
    let mut trusted: Vec<(PathBuf, RuntimeFile)> = Vec::new();
    for candidate in candidates {
        let Ok(meta) = std::fs::metadata(candidate) else { continue };
        if meta.uid() != 0 || meta.mode() & 0o022 != 0 {
            tracing::warn!(file = %candidate.display(), "not a trusted runtime: not root's alone");
            continue;
        }
        let dev = superblock_device(candidate, &mounts).unwrap_or(meta.dev());
        let file = RuntimeFile {
            // The kernel's dev_t: 12 bits of major, 20 of minor.
            dev: ((libc::major(dev) & 0xfff) << 20) | (libc::minor(dev) & 0xf_ffff),
            _pad: 0,
            ino: meta.ino(),
        };
        if trusted.len() < RUNTIME_FILES_MAX && !trusted.iter().any(|(_, f)| *f == file) {
            trusted.push((candidate.clone(), file));
        }
    }
    trusted
}

/// The device of each mount's superblock, by mount id, from
/// `/proc/self/mountinfo`; empty where it cannot be read.
fn superblock_devices() -> std::collections::HashMap<u64, libc::dev_t> {
    use procfs_core::FromRead;
    let Ok(mounts) = procfs_core::process::MountInfos::from_file("/proc/self/mountinfo") else {
        return std::collections::HashMap::new();
    };
    mounts
        .into_iter()
        .filter_map(|mount| {
            let (major, minor) = mount.majmin.split_once(':')?;
            let dev = libc::makedev(major.parse().ok()?, minor.parse().ok()?);
            Some((u64::try_from(mount.mnt_id).ok()?, dev))
        })
        .collect()
}

/// The device of the superblock `file` is on, as the kernel's
/// `inode->i_sb->s_dev` (what the exec program compares) names it. `stat`'s
/// device can differ: overlayfs reports its lower layer's (a virtme-ng
/// guest's `/usr`, many live and container images), btrfs a subvolume's.
/// `None` before Linux 5.8 (no mount id in statx).
fn superblock_device(
    file: &Path,
    mounts: &std::collections::HashMap<u64, libc::dev_t>,
) -> Option<libc::dev_t> {
    use rustix::fs::{AtFlags, CWD, StatxFlags, statx};
    let stat = statx(CWD, file, AtFlags::empty(), StatxFlags::MNT_ID).ok()?;
    if !StatxFlags::from_bits_retain(stat.stx_mask).contains(StatxFlags::MNT_ID) {
        return None;
    }
    mounts.get(&stat.stx_mnt_id).copied()
}

fn runtime_files(candidates: &[PathBuf]) -> [RuntimeFile; RUNTIME_FILES_MAX] {
    let mut table = [RuntimeFile::default(); RUNTIME_FILES_MAX];
    for (slot, (path, file)) in table.iter_mut().zip(trusted_runtime_files(candidates)) {
        tracing::debug!(file = %path.display(), "trusted runtime");
        *slot = file;
    }
    table
}

/// The link daemons' names, as their `comm`.
fn link_daemons(names: &[String]) -> Result<[[u8; TASK_COMM_LEN]; LINK_DAEMONS_MAX], ProbeError> {
    comm_table(names, |_| true).map_err(|refused| {
        ProbeError::LinkDaemon(match refused {
            None => {
                format!("{} names given, at most {LINK_DAEMONS_MAX} can be followed", names.len())
            }
            Some(name) => {
                format!("{name:?}: a daemon is named by its comm, 1 to {} bytes", TASK_COMM_LEN - 1)
            }
        })
    })
}

/// A runtime's name (NUL-padded; all zero for an unused slot) as the end
/// of the file names that run it.
fn runtime_tail(name: &[u8; TASK_COMM_LEN]) -> RuntimeTail {
    let len = name.iter().position(|&byte| byte == 0).unwrap_or(TASK_COMM_LEN);
    if len == 0 {
        return RuntimeTail::default();
    }
    let mut bytes = [0u8; FILENAME_TAIL];
    let mut mask = [0u8; FILENAME_TAIL];
    // A name is at most TASK_COMM_LEN - 1 bytes (comm_table), so the `/`
    // fits in front of it.
    let start = FILENAME_TAIL - len;
    bytes[start - 1] = b'/';
    bytes[start..].copy_from_slice(&name[..len]);
    mask[start - 1..].fill(0xff);
    RuntimeTail { bytes: tail_words(bytes), mask: tail_words(mask) }
}

/// Sixteen bytes as the two words a 16-byte read of them yields.
fn tail_words(bytes: [u8; FILENAME_TAIL]) -> [u64; 2] {
    let (low, high) = bytes.split_at(8);
    [
        u64::from_ne_bytes(low.try_into().expect("8 bytes")),
        u64::from_ne_bytes(high.try_into().expect("8 bytes")),
    ]
}

/// One program's attachment, owned apart from the program so that it can
/// be detached on any thread: held to stay attached, dropped to detach.
pub(crate) enum Link {
    Tracepoint { _attached: TracePointLink },
    RawTracepoint { _attached: RawTracePointLink },
    Kprobe { _attached: KProbeLink },
    Fentry { _attached: FEntryLink },
    Fexit { _attached: FExitLink },
}

/// Loads and attaches one program as its spec says; a tail-called program
/// is placed in its program array instead, and has no link of its own.
pub(crate) fn attach(ebpf: &mut Ebpf, spec: &ProgramSpec) -> Result<Option<Link>, ProbeError> {
    let link = load_and_attach(ebpf, spec)?;
    if tracing::enabled!(tracing::Level::DEBUG)
        && let Some(Ok(info)) = ebpf.program(spec.program).map(|program| program.info())
    {
        // How close each program comes to the verifier's limit.
        tracing::debug!(
            program = spec.program,
            verified_instructions = info.verified_instruction_count(),
            "program loaded"
        );
    }
    Ok(link)
}

fn load_and_attach(ebpf: &mut Ebpf, spec: &ProgramSpec) -> Result<Option<Link>, ProbeError> {
    let program = ebpf.program_mut(spec.program).ok_or(ProbeError::MissingProgram(spec.program))?;
    let load_err = |source| ProbeError::ProgramLoad { program: spec.program, source };
    let attach_err =
        |source| ProbeError::Attach { program: spec.program, target: spec.describe(), source };
    match spec.mechanism {
        Mechanism::Tracepoint => {
            let tp: &mut TracePoint = program.try_into().map_err(load_err)?;
            tp.load().map_err(load_err)?;
            let id = tp.attach(spec.category, spec.target).map_err(attach_err)?;
            Ok(Some(Link::Tracepoint { _attached: tp.take_link(id).map_err(attach_err)? }))
        }
        Mechanism::RawTracepoint => {
            let tp: &mut RawTracePoint = program.try_into().map_err(load_err)?;
            // A syscall handler may serve several calls: load it once.
            if tp.fd().is_err() {
                tp.load().map_err(load_err)?;
            }
            if spec.tail_call.is_some() {
                let fd = tp.fd().map_err(load_err)?.try_clone().map_err(ProbeError::Io)?;
                for tail_call in spec.slots() {
                    place(ebpf, spec.program, tail_call, &fd)?;
                }
                return Ok(None);
            }
            let id = tp.attach(spec.target).map_err(attach_err)?;
            Ok(Some(Link::RawTracepoint { _attached: tp.take_link(id).map_err(attach_err)? }))
        }
        Mechanism::Kprobe | Mechanism::Kretprobe => {
            // The program's section says entry or return.
            let kp: &mut KProbe = program.try_into().map_err(load_err)?;
            kp.load().map_err(load_err)?;
            let id = kp.attach(spec.target, 0).map_err(attach_err)?;
            Ok(Some(Link::Kprobe { _attached: kp.take_link(id).map_err(attach_err)? }))
        }
        Mechanism::Fentry | Mechanism::Fexit => {
            let btf = aya::Btf::from_sys_fs()
                .map_err(|source| ProbeError::KernelBtf { program: spec.program, source })?;
            if spec.mechanism == Mechanism::Fentry {
                let fentry: &mut FEntry = program.try_into().map_err(load_err)?;
                fentry.load(spec.target, &btf).map_err(load_err)?;
                let id = fentry.attach().map_err(attach_err)?;
                Ok(Some(Link::Fentry { _attached: fentry.take_link(id).map_err(attach_err)? }))
            } else {
                let fexit: &mut FExit = program.try_into().map_err(load_err)?;
                fexit.load(spec.target, &btf).map_err(load_err)?;
                let id = fexit.attach().map_err(attach_err)?;
                Ok(Some(Link::Fexit { _attached: fexit.take_link(id).map_err(attach_err)? }))
            }
        }
    }
}

/// Attaches `hook` by the first of its paths that this kernel allows and
/// `refused` does not exclude, and tells the programs through the hooks
/// array. Never fails: a hook that cannot attach leaves its probe to the
/// fallback path, and the record says why.
fn attach_hook(
    ebpf: &mut Ebpf,
    hook: &HookSpec,
    layout_ready: bool,
    refused: &[String],
    links: &mut Vec<Link>,
    attached: &mut Vec<ProgramSpec>,
) -> HookUse {
    let mut refusals = Vec::new();
    let mut refuse =
        |path: &str, reason: String| refusals.push(HookRefusal { path: path.into(), reason });
    for path in hook.paths {
        if refused.iter().any(|name| name == path.name) {
            refuse(path.name, "refused by configuration".into());
            continue;
        }
        if let Some(why) = path.unsupported {
            refuse(path.name, why.into());
            continue;
        }
        if !layout_ready {
            refuse(path.name, format!("the kernel's BTF does not describe {}", hook.function));
            continue;
        }
        let mut path_links = Vec::new();
        let result = path.programs.iter().try_for_each(|spec| {
            path_links.extend(attach(ebpf, spec)?);
            Ok::<(), ProbeError>(())
        });
        let result = result.and_then(|()| set_hook(ebpf, hook.slot));
        match result {
            Ok(()) => {
                links.extend(path_links);
                attached.extend_from_slice(path.programs);
                return HookUse {
                    probe: hook.probe.into(),
                    function: hook.function.into(),
                    path: path.name.into(),
                    refused: refusals,
                };
            }
            Err(err) => {
                detach_all(path_links);
                refuse(path.name, short_reason(&chain(&err)));
            }
        }
    }
    tracing::debug!(
        "probe {}: {} is not hooked, the {} path serves",
        hook.probe,
        hook.function,
        hook.fallback
    );
    HookUse {
        probe: hook.probe.into(),
        function: hook.function.into(),
        path: hook.fallback.into(),
        refused: refusals,
    }
}

/// A refusal as the header keeps it: aya repeats the verifier's log in
/// each error of the chain; its verdict (the line before the statistics)
/// is kept, not the walk.
fn short_reason(chain: &str) -> String {
    // The whole walk, for whoever debugs a program (`CRADLE_LOG=debug`).
    tracing::debug!(refusal = chain, "a program was refused");
    const LOG: &str = ". Verifier output: ";
    let Some(start) = chain.find(LOG) else {
        return chain.to_string();
    };
    let log = &chain[start + LOG.len()..];
    let verdict = log
        .lines()
        .take_while(|line| !line.starts_with("verification time"))
        .filter(|line| !line.trim().trim_start_matches(':').trim().is_empty())
        .last()
        .unwrap_or("");
    if verdict.is_empty() || log.lines().count() <= 1 {
        chain[..start].to_string()
    } else {
        format!("{}: {verdict}", &chain[..start])
    }
}

/// Where veth is a module that is not loaded yet, loads it, as the kernel
/// itself would on the first veth request: its BTF (for the hook's
/// offsets) and its `veth_newlink` (for the kprobe) exist only once it is,
/// and the first veth made is often the one that matters.
pub(crate) fn load_veth_module() {
    let loaded = Path::new("/sys/module").join(crate::layout::VETH_MODULE).exists();
    if loaded {
        return;
    }
    match std::process::Command::new("modprobe")
        .args(["-q", crate::layout::VETH_MODULE])
        .stderr(std::process::Stdio::null())
        .status()
    {
        Ok(status) if status.success() => {}
        Ok(status) => tracing::debug!("modprobe veth: {status}"),
        Err(err) => tracing::debug!("modprobe veth: {err}"),
    }
}

/// Marks `slot` of the hooks array attached.
fn set_hook(ebpf: &mut Ebpf, slot: u32) -> Result<(), ProbeError> {
    let map = ebpf.map_mut(HOOKS_MAP).ok_or(ProbeError::MissingMap(HOOKS_MAP))?;
    let mut hooks: aya::maps::Array<&mut MapData, u32> = aya::maps::Array::try_from(map)
        .map_err(|source| ProbeError::Map { map: HOOKS_MAP, source })?;
    hooks.set(slot, 1, 0).map_err(|source| ProbeError::Map { map: HOOKS_MAP, source })
}

/// An error and its causes on one line: aya's errors wrap the errno.
pub(crate) fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        // aya's messages often repeat their source's.
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// Empties a program array slot filled by [`place`].
fn unplace(ebpf: &mut Ebpf, TailCall { array, index }: TailCall) {
    let Some(map) = ebpf.map_mut(array) else { return };
    if let Ok(mut handlers) = ProgramArray::<&mut MapData>::try_from(map)
        && let Err(err) = handlers.clear_index(&index)
    {
        tracing::debug!("emptying slot {index} of {array}: {err}");
    }
}

/// Puts `program` in its slot of a program array, which stays in `ebpf`:
/// the kernel empties a program array once userspace holds no fd of it.
fn place(
    ebpf: &mut Ebpf,
    program: &'static str,
    tail_call: TailCall,
    fd: &aya::programs::ProgramFd,
) -> Result<(), ProbeError> {
    let TailCall { array, index } = tail_call;
    let map = ebpf.map_mut(array).ok_or(ProbeError::MissingMap(array))?;
    let mut handlers: ProgramArray<&mut MapData> =
        ProgramArray::try_from(map).map_err(|source| ProbeError::Map { map: array, source })?;
    handlers.set(index, fd, 0).map_err(|source| ProbeError::TailCall {
        program,
        array,
        index,
        source,
    })
}

/// Detaches every link at once. Closing a tracepoint's perf event waits
/// for an RCU grace period, which is why syscalls are reached through two
/// raw tracepoints (probes-ebpf/src/dispatch.rs); detaching on parallel
/// threads still lets any tracepoint links share grace periods.
fn detach_all(links: Vec<Link>) {
    std::thread::scope(|scope| {
        for link in links {
            let detach = move || drop(link);
            // Without a thread, detach here.
            if let Err(err) = std::thread::Builder::new().spawn_scoped(scope, detach) {
                tracing::debug!("detaching on this thread: {err}");
            }
        }
    });
}

impl Drop for Probes {
    fn drop(&mut self) {
        detach_all(std::mem::take(&mut self.links));
    }
}

impl Probes {
    /// Loads the probes, attaches every program, and returns them with the
    /// stream of their events.
    pub fn load(config: &ProbeConfig) -> Result<(Probes, EventStream), ProbeError> {
        ensure_tracefs()?;
        load_veth_module();
        let layout = kernel_layout(Path::new(VMLINUX_BTF))?;
        let mut ebpf = load_object_with(config, layout)?;
        let take = |ebpf: &mut Ebpf, name: &'static str| {
            ebpf.take_map(name).ok_or(ProbeError::MissingMap(name))
        };
        let map_err = |map: &'static str| move |source| ProbeError::Map { map, source };
        let tracked =
            HashMap::try_from(take(&mut ebpf, TRACKED_MAP)?).map_err(map_err(TRACKED_MAP))?;
        let lost = PerCpuArray::try_from(take(&mut ebpf, LOST_MAP)?).map_err(map_err(LOST_MAP))?;
        let ring = RingBuf::try_from(take(&mut ebpf, EVENTS_MAP)?).map_err(map_err(EVENTS_MAP))?;
        for name in &config.skip {
            match probe(name) {
                None => {
                    let known: Vec<&str> = PROBES.iter().map(|probe| probe.name).collect();
                    return Err(ProbeError::UnknownProbe(name.clone(), known.join(", ")));
                }
                Some(probe) if probe.essential => {
                    return Err(ProbeError::Essential {
                        probe: probe.name,
                        reason: "it was asked to be left out".into(),
                    });
                }
                Some(_) => {}
            }
        }
        let Attachment { links, attached, hooks, left_out } =
            attach_all(&mut ebpf, config, &layout);
        if let Some(out) = left_out.iter().find(|out| out.probe.essential) {
            detach_all(links);
            return Err(ProbeError::Essential {
                probe: out.probe.name,
                reason: out.reason.clone(),
            });
        }
        for out in &left_out {
            tracing::warn!(
                "probe {} left out ({} unavailable): {}",
                out.probe.name,
                out.probe.kinds.iter().map(|kind| kind.name()).collect::<Vec<_>>().join(", "),
                out.reason
            );
        }
        let stream = EventStream::new(ring)?;
        let probes = Probes { links, _ebpf: ebpf, tracked, lost, attached, hooks, left_out };
        Ok((probes, stream))
    }

    /// The programs attached, for trace headers.
    pub fn attached(&self) -> &[ProgramSpec] {
        &self.attached
    }

    /// The probes left out on this kernel or by configuration, for trace
    /// headers.
    pub fn left_out(&self) -> &[LeftOut] {
        &self.left_out
    }

    /// The path each kernel-function hook took, for trace headers.
    pub fn hooks(&self) -> &[HookUse] {
        &self.hooks
    }

    /// Starts tracking `pid` and, from then on, every task it creates.
    pub fn track(&mut self, pid: u32) -> Result<(), ProbeError> {
        self.tracked
            .insert(pid, TrackedTask { root: pid, flags: 0 }, 0)
            .map_err(|source| ProbeError::Map { map: TRACKED_MAP, source })
    }

    /// A handle a forked child can use, before it execs, to track itself.
    pub fn self_registrar(&self) -> SelfRegistrar {
        SelfRegistrar { map_fd: self.tracked_fd() }
    }

    fn tracked_fd(&self) -> RawFd {
        self.tracked.map().fd().as_fd().as_raw_fd()
    }

    /// Records lost to a full ring buffer so far, per kind, summed over CPUs.
    pub fn lost(&self) -> Result<Vec<(EventKind, u64)>, ProbeError> {
        EventKind::ALL
            .iter()
            .map(|&kind| {
                let per_cpu = self
                    .lost
                    .get(&(kind as u32), 0)
                    .map_err(|source| ProbeError::Map { map: LOST_MAP, source })?;
                Ok((kind, per_cpu.iter().sum()))
            })
            .collect()
    }
}

/// Registers the calling process in the tracked-task map with one raw
/// `bpf(2)` call: async-signal-safe, so it may run in a forked child
/// between fork and exec (`CommandExt::pre_exec`), as strace does, and no
/// event of the child is missed.
#[derive(Clone, Copy, Debug)]
pub struct SelfRegistrar {
    map_fd: RawFd,
}

/// `union bpf_attr` as BPF_MAP_UPDATE_ELEM reads it (kernel UAPI).
#[repr(C)]
struct MapUpdateAttr {
    map_fd: u32,
    _pad: u32,
    key: u64,
    value: u64,
    flags: u64,
}

const BPF_MAP_UPDATE_ELEM: libc::c_long = 2;

impl SelfRegistrar {
    /// Tracks the calling process as a root. Only async-signal-safe calls.
    pub fn register_self(&self) -> std::io::Result<()> {
        // SAFETY: getpid has no preconditions.
        let pid = unsafe { libc::getpid() }.cast_unsigned();
        let value = TrackedTask { root: pid, flags: 0 };
        let attr = MapUpdateAttr {
            // An open descriptor is never negative.
            map_fd: self.map_fd.cast_unsigned(),
            _pad: 0,
            key: &pid as *const u32 as u64,
            value: &value as *const TrackedTask as u64,
            flags: 0,
        };
        // SAFETY: `attr` points at live key and value buffers of the map's
        // key and value sizes for the duration of the call.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_bpf,
                BPF_MAP_UPDATE_ELEM,
                &attr as *const MapUpdateAttr,
                std::mem::size_of::<MapUpdateAttr>(),
            )
        };
        if ret < 0 { Err(std::io::Error::last_os_error()) } else { Ok(()) }
    }
}

fn page_size() -> u32 {
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u32::try_from(page).expect("sysconf(_SC_PAGESIZE) gives a page size on Linux")
}

#[cfg(test)]
mod object_tests {
    use object::{Object, ObjectSection, SectionKind};

    use super::EBPF_OBJECT;

    /// A BPF-to-BPF call (a `memset` LLVM left as a call, a function it
    /// did not inline) stops Linux 6.1's precision tracking, which then
    /// marks every value precise and can no longer prune: the programs
    /// exceed its 1,000,000 instructions (probes-ebpf/.cargo/config.toml).
    #[test]
    fn the_programs_make_no_bpf_to_bpf_calls() {
        const BPF_JMP_CALL: u8 = 0x85;
        const BPF_PSEUDO_CALL: u8 = 1;
        let file = object::File::parse(EBPF_OBJECT).expect("the object parses");
        let mut programs = 0;
        for section in file.sections().filter(|s| s.kind() == SectionKind::Text) {
            let name = section.name().unwrap_or_default().to_string();
            let code = section.data().expect("section data");
            programs += 1;
            for (index, insn) in code.chunks_exact(8).enumerate() {
                let calls_a_function = insn[0] == BPF_JMP_CALL && insn[1] >> 4 == BPF_PSEUDO_CALL;
                assert!(!calls_a_function, "{name}: instruction {index} calls a function");
            }
        }
        assert!(programs > 10, "{programs} program sections");
    }
}

#[cfg(test)]
mod runtime_tail_tests {
    use cradle_probes_common::FILENAME_TAIL;

    use super::{runtime_names, tail_words};

    /// A file name's tail as the exec program reads it: its last
    /// FILENAME_TAIL bytes, `/` in front of a shorter name.
    fn tail_of(filename: &str) -> [u64; 2] {
        let mut padded = vec![b'/'; FILENAME_TAIL];
        padded.extend_from_slice(filename.as_bytes());
        tail_words(padded[padded.len() - FILENAME_TAIL..].try_into().expect("16 bytes"))
    }

    fn runs(filename: &str) -> Vec<usize> {
        let names = ["runc", "crun", "cradle", "fifteen-bytes-x"].map(String::from);
        let table = runtime_names(&names).expect("valid names");
        let tail = tail_of(filename);
        (0..table.len())
            .filter(|&n| {
                let t = table[n];
                t.mask != [0, 0]
                    && tail[0] & t.mask[0] == t.bytes[0]
                    && tail[1] & t.mask[1] == t.bytes[1]
            })
            .collect()
    }

    #[test]
    fn a_file_runs_a_runtime_when_its_name_after_the_last_slash_is_the_runtimes() {
        assert_eq!(runs("runc"), [0]);
        assert_eq!(runs("./runc"), [0]);
        assert_eq!(runs("/usr/local/sbin/runc"), [0]);
        assert_eq!(runs("/a/very/long/directory/name/for/crun"), [1]);
        assert_eq!(runs("/usr/bin/cradle"), [2]);
        assert_eq!(runs("fifteen-bytes-x"), [3]);
        assert_eq!(runs("/opt/fifteen-bytes-x"), [3]);
        for other in
            ["xrunc", "/bin/xrunc", "/bin/runc2", "/runc/sh", "unc", "", "/", "x-fifteen-bytes-x"]
        {
            assert_eq!(runs(other), Vec::<usize>::new(), "{other:?}");
        }
    }
}
