//! `cargo xtask vmtest`: runs cradle's kernel-facing tests inside Debian's
//! packaged kernels, booted under qemu with this machine's userspace through
//! virtme-ng, the way aya tests its programs across kernels.
//!
//! The kernels are Debian's own packages, resolved through apt at run time
//! (versions move with security updates), downloaded and unpacked into a
//! cache directory with their modules: nothing goes into this machine's
//! `/boot` or `/lib/modules`. The guest sees the host's filesystem read-only
//! over 9p, with tmpfs overlays on `/etc`, `/tmp`, `/var` and the like, so a
//! run writes nothing back to the host. The test binaries are built on the
//! host and run as they are in each guest.

use std::{
    io::{BufRead, BufReader, Write},
    os::unix::process::CommandExt,
    path::PathBuf,
    process::{Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};
use clap::{Args, FromArgMatches, ValueEnum};

use crate::workspace::{Totals, cargo, count_results, run_checked, workspace_root};

/// A kernel of the matrix: a series and the Debian package that tracks it.
pub struct Kernel {
    pub series: &'static str,
    /// The metapackage whose dependency names the current image package.
    /// Generic flavour: the `-cloud` flavour has no 9p, which the guest's
    /// root filesystem needs.
    metapackage: &'static str,
}

/// The kernels cradle is tested on, oldest first.
pub const KERNELS: &[Kernel] = &[
    Kernel { series: "6.1", metapackage: "linux-image-amd64" },
    Kernel { series: "6.12", metapackage: "linux-image-6.12-amd64" },
];

/// The kernel-facing test files (tests/*.rs) run in each kernel: the probes,
/// a container's birth, the seed's hooks, the collector (and `cradle demo`), step mode,
/// trace.
const KERNEL_TESTS: &[&str] = &[
    "probes_events",
    "probes_birth",
    "probes_hooks",
    "collector",
    "step",
    "trace",
    "runtime_cgroup_resources",
    "runtime_apparmor",
];

/// What `cargo xtask test` (and so CI) runs in each kernel: the tests that
/// show the matrix's acceptance, by file and exact name. TCG is slow (6.1's
/// verifier alone takes a minute per trace there), so CI runs these rather
/// than the whole kernel-facing set.
const CI_TESTS: &[(&str, &[&str])] = &[
    (
        "probes_hooks",
        &[
            // The namespace record from create_new_namespaces, inode numbers
            // checked against /proc/PID/ns, and the header's hook path.
            "a_runc_containers_namespaces_come_from_create_new_namespaces_where_the_kernel_allows",
            // The same events whichever path produced them.
            "traces_on_the_hook_and_the_tracepoint_paths_do_not_differ",
            // A veth made by an untracked shell, seen under watch.
            "watch_records_how_a_veth_made_by_an_untracked_shell_was_seen",
        ],
    ),
    // exec, mounts, pivot_root and setns as on the host.
    (
        "probes_birth",
        &[
            "runc_run_yields_namespaces_mounts_pivot_root_capset_and_the_workload_exec",
            "cradle_exec_yields_setns_into_each_of_the_containers_namespaces",
        ],
    ),
    (
        "probes_events",
        &["mount_family_pivot_root_and_chroot", "namespaces_clone_setns_and_sethostname"],
    ),
    // `cradle demo` exits 0 and leaves nothing behind.
    ("collector", &["demo_explains_a_container_birth_and_leaves_nothing_behind"]),
    (
        "trace",
        &[
            "doctor_verdict_per_probe_matches_what_a_trace_attached",
            "a_probe_left_out_by_configuration_is_recorded_absent",
        ],
    ),
    ("step", &["step_mode_pauses_runc_at_each_phase"]),
    // cgroup v2 with controllers: the guests are pure v2 hosts.
    (
        "runtime_cgroup_resources",
        &[
            "resources_land_in_the_same_files_with_the_same_values_as_under_runc",
            "unified_is_written_on_cgroup_v2_and_refused_on_v1_as_by_runc",
            "memory_oom_pids_limit_and_device_rules_hold_as_under_runc",
            "pause_and_resume_freeze_and_thaw_the_cgroup_as_under_runc",
        ],
    ),
    // AppArmor, which Debian's kernels enable.
    (
        "runtime_apparmor",
        &[
            "a_loaded_profile_confines_the_container_as_under_runc",
            "exec_apparmor_confines_the_exec_d_process_as_under_runc",
            "a_profile_fails_create_where_it_cannot_be_applied",
        ],
    ),
];

/// Tests of [`CI_TESTS`] that CI does not run on one kernel because cradle
/// does not yet do what they check there: each is printed at every run,
/// with its reason, and stays an open gap (README, "Kernel matrix").
/// `cargo xtask vmtest --ci` without `--known-gaps-too` leaves them out.
const KNOWN_GAPS: &[KnownGap] = &[];

struct KnownGap {
    series: &'static str,
    file: &'static str,
    test: &'static str,
    reason: &'static str,
}

/// The virtme-ng release the runner is written against.
const VIRTME_NG_VERSION: &str = "1.42";

/// How long one kernel's whole run may take before the VM is killed.
const KERNEL_TIMEOUT: Duration = Duration::from_secs(40 * 60);

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Accel {
    /// qemu's software emulation: slow, works everywhere.
    Tcg,
    /// Hardware virtualisation through /dev/kvm, booting the uncompressed
    /// vmlinux (the compressed kernel's decompressor trips nested KVM).
    Kvm,
}

#[derive(Debug, Args)]
pub struct VmtestArgs {
    /// Kernel series to boot (repeatable); every tested kernel by default.
    #[arg(long = "kernel", value_name = "SERIES", value_parser = series_names())]
    pub kernels: Vec<String>,
    /// Run this shell command in each kernel instead of tests (from the
    /// workspace root, as root).
    #[arg(long, value_name = "CMD")]
    pub exec: Option<String>,
    /// Only the tests that show the matrix's acceptance, as `cargo xtask
    /// test` runs them, instead of the whole kernel-facing set.
    #[arg(long, conflicts_with = "exec")]
    pub ci: bool,
    /// With `--ci`: run the tests of known gaps too (they fail).
    #[arg(long, requires = "ci")]
    pub known_gaps_too: bool,
    /// How qemu runs the guest.
    #[arg(long, value_enum, default_value = "tcg")]
    pub accel: Accel,
    /// Guest memory (qemu's -m).
    #[arg(long, default_value = "2G")]
    pub memory: String,
    /// Guest CPUs. TCG runs a host thread per CPU.
    #[arg(long, default_value_t = 2)]
    pub cpus: u32,
    /// After `--`: `--test FILE` (repeatable) picks test files instead of the
    /// kernel-facing set; every other argument goes to the test binaries
    /// (a name filter, `--nocapture`, ...).
    #[arg(last = true, value_name = "TEST ARGS")]
    pub args: Vec<String>,
}

fn series_names() -> Vec<&'static str> {
    KERNELS.iter().map(|kernel| kernel.series).collect()
}

/// "6.1 and 6.12", for messages.
pub fn series_list() -> String {
    series_names().join(" and ")
}

impl Default for VmtestArgs {
    /// What `cargo xtask test` runs: the kernel-facing tests in every
    /// kernel, with the command line's own defaults.
    fn default() -> Self {
        let command = Self::augment_args(clap::Command::new("vmtest"));
        Self::from_arg_matches(&command.get_matches_from(["vmtest"]))
            .expect("vmtest's defaults parse")
    }
}

/// Where the virtme-ng venv and the unpacked kernels live: outside the
/// work tree, so fresh clones on one machine share them.
fn cache_dir() -> PathBuf {
    std::env::var_os("CRADLE_VMTEST_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/cache/cradle-vmtest"))
}

fn venv_bin() -> PathBuf {
    cache_dir().join("venv/bin")
}

/// Installs virtme-ng and the matrix's kernels, each only if missing.
pub fn install() -> Result<()> {
    install_virtme_ng()?;
    for kernel in KERNELS {
        kernel_image(kernel)?;
    }
    Ok(())
}

fn install_virtme_ng() -> Result<()> {
    let vng = venv_bin().join("vng");
    let installed = Command::new(&vng)
        .arg("--version")
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).contains(VIRTME_NG_VERSION))
        .unwrap_or(false);
    if installed {
        return Ok(());
    }
    println!("setup: installing virtme-ng {VIRTME_NG_VERSION} in {}", cache_dir().display());
    // Debian's python3 (with python3-venv), not whatever python3 is first
    // on PATH.
    run_checked(
        Command::new("/usr/bin/python3").arg("-m").arg("venv").arg(cache_dir().join("venv")),
    )?;
    run_checked(
        Command::new(venv_bin().join("pip"))
            .args(["install", "--quiet"])
            .arg(format!("virtme-ng=={VIRTME_NG_VERSION}")),
    )
}

/// The image package `metapackage` currently depends on, e.g.
/// `linux-image-6.1.0-57-amd64`.
fn resolve(kernel: &Kernel) -> Result<String> {
    let depends = |update: bool| -> Result<Option<String>> {
        if update {
            run_checked(Command::new("apt-get").args(["update", "-qq"]))?;
        }
        let out = Command::new("apt-cache")
            .args(["depends", kernel.metapackage])
            .output()
            .context("running apt-cache depends")?;
        Ok(String::from_utf8_lossy(&out.stdout).lines().find_map(|line| {
            let package = line.trim().strip_prefix("Depends: ")?;
            (package.starts_with("linux-image-") && !package.contains("cloud"))
                .then(|| package.to_owned())
        }))
    };
    match depends(false)? {
        Some(package) => Ok(package),
        None => depends(true)?.with_context(|| {
            format!("apt knows no kernel image that {} depends on", kernel.metapackage)
        }),
    }
}

/// An unpacked kernel: its root (boot/ and lib/modules/) and release.
struct Unpacked {
    root: PathBuf,
    release: String,
}

impl Unpacked {
    fn vmlinuz(&self) -> PathBuf {
        self.root.join(format!("boot/vmlinuz-{}", self.release))
    }
}

/// The kernel of `kernel`'s series, unpacked into the cache (downloaded
/// first if this version is not there yet). Older versions of the series
/// are removed.
fn kernel_image(kernel: &Kernel) -> Result<Unpacked> {
    let package = resolve(kernel)?;
    let kernels = cache_dir().join("kernels");
    let root = kernels.join(&package);
    let release = package.strip_prefix("linux-image-").unwrap_or(&package).to_owned();
    let unpacked = Unpacked { root: root.clone(), release: release.clone() };
    if root.join(".complete").exists() {
        return Ok(unpacked);
    }
    println!(
        "setup: unpacking {package} (the {} kernel) into {}",
        kernel.series,
        kernels.display()
    );
    std::fs::create_dir_all(&kernels)?;
    let partial = kernels.join(format!("{package}.partial"));
    if partial.exists() {
        std::fs::remove_dir_all(&partial)?;
    }
    std::fs::create_dir_all(&partial)?;
    run_checked(Command::new("apt-get").args(["download", "-qq", &package]).current_dir(&partial))?;
    let deb = std::fs::read_dir(&partial)?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .find(|path| path.extension().is_some_and(|ext| ext == "deb"))
        .with_context(|| format!("apt-get download {package} left no .deb"))?;
    run_checked(Command::new("dpkg").arg("-x").arg(&deb).arg(&partial))?;
    std::fs::remove_file(&deb)?;
    // The package leaves module dependencies to its postinst; the guest's
    // modprobe needs them.
    run_checked(Command::new("depmod").arg("-b").arg(&partial).arg(&release))?;
    std::fs::write(partial.join(".series"), kernel.series)?;
    std::fs::File::create(partial.join(".complete"))?;
    std::fs::rename(&partial, &root)?;
    // Security updates bring new versions; keep only the current one.
    for entry in std::fs::read_dir(&kernels)?.flatten() {
        let path = entry.path();
        let series = std::fs::read_to_string(path.join(".series")).unwrap_or_default();
        if path != root && series == kernel.series {
            std::fs::remove_dir_all(&path)?;
        }
    }
    Ok(unpacked)
}

/// The uncompressed vmlinux inside `vmlinuz` (what `extract-vmlinux` does),
/// cached beside it: nested KVM stops in the compressed kernel's
/// decompressor, and qemu boots an ELF vmlinux through its PVH entry.
fn vmlinux(unpacked: &Unpacked) -> Result<PathBuf> {
    let out = unpacked.root.join(format!("boot/vmlinux-{}", unpacked.release));
    if out.exists() {
        return Ok(out);
    }
    let image = std::fs::read(unpacked.vmlinuz())?;
    let formats: [(&[u8], &str); 3] =
        [(b"\x28\xb5\x2f\xfd", "zstd"), (b"\xfd7zXZ\x00", "xz"), (b"\x1f\x8b\x08", "gzip")];
    for (magic, tool) in formats {
        let Some(at) = image.windows(magic.len()).position(|w| w == magic) else { continue };
        let mut child = Command::new(tool)
            .args(["-dc"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("running {tool}"))?;
        let mut stdin = child.stdin.take().expect("piped");
        let payload = image[at..].to_vec();
        let writer = std::thread::spawn(move || stdin.write_all(&payload));
        let output = child.wait_with_output()?;
        // Trailing data after the stream makes the tool complain; what
        // counts is an ELF image.
        let _ = writer.join();
        if output.stdout.starts_with(b"\x7fELF") {
            let partial = out.with_extension("partial");
            std::fs::write(&partial, &output.stdout)?;
            std::fs::rename(&partial, &out)?;
            return Ok(out);
        }
    }
    bail!("found no compressed ELF kernel in {}", unpacked.vmlinuz().display())
}

/// What to run in each kernel.
enum Payload {
    /// Test binaries, each with its arguments; `skip_known_gaps` leaves
    /// out each kernel's [`KNOWN_GAPS`].
    Tests { binaries: Vec<TestBinary>, skip_known_gaps: bool },
    /// A shell command.
    Exec(String),
}

/// A test file's executable, built on the host, and what it is run with.
struct TestBinary {
    name: String,
    path: PathBuf,
    args: Vec<String>,
}

/// One kernel's result.
pub struct KernelRun {
    pub series: &'static str,
    pub release: String,
    pub totals: Totals,
    pub success: bool,
}

impl std::fmt::Display for KernelRun {
    /// The closing line for one kernel: "vmtest 6.1 (6.1.0-50-amd64): 30
    /// passed, 0 failed".
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "vmtest {} ({}): {} passed, {} failed{}",
            self.series,
            self.release,
            self.totals.passed,
            self.totals.failed,
            if self.success { "" } else { ", FAILED" }
        )
    }
}

pub fn run(args: &VmtestArgs) -> Result<Vec<KernelRun>> {
    install_virtme_ng()?;
    let kernels: Vec<&Kernel> = if args.kernels.is_empty() {
        KERNELS.iter().collect()
    } else {
        KERNELS.iter().filter(|k| args.kernels.iter().any(|s| s == k.series)).collect()
    };
    let payload = match &args.exec {
        Some(command) => Payload::Exec(command.clone()),
        None if args.ci => {
            let files: Vec<String> = CI_TESTS.iter().map(|(file, _)| (*file).to_owned()).collect();
            let mut binaries = build_tests(&files)?;
            for binary in &mut binaries {
                let (_, names) =
                    CI_TESTS.iter().find(|(file, _)| *file == binary.name).expect("built");
                binary.args = names.iter().map(|name| (*name).to_owned()).collect();
                binary.args.push("--exact".to_owned());
                binary.args.extend(args.args.iter().cloned());
            }
            Payload::Tests { binaries, skip_known_gaps: !args.known_gaps_too }
        }
        None => {
            let (files, test_args) = split_test_args(&args.args)?;
            let mut binaries = build_tests(&files)?;
            for binary in &mut binaries {
                binary.args = test_args.clone();
            }
            Payload::Tests { binaries, skip_known_gaps: false }
        }
    };
    // Download and unpack first, one at a time (apt locks its lists).
    let images: Vec<(&Kernel, Unpacked)> = kernels
        .into_iter()
        .map(|kernel| Ok((kernel, kernel_image(kernel)?)))
        .collect::<Result<_>>()?;
    // The kernels boot side by side: a TCG guest runs its tests on about one
    // host thread, so two guests use a two-core machine twice as well. Each
    // line of a guest's output is tagged with its series when there are
    // several.
    let tagged = images.len() > 1;
    std::thread::scope(|scope| {
        let handles: Vec<_> = images
            .iter()
            .map(|(kernel, unpacked)| {
                let payload = &payload;
                scope.spawn(move || run_kernel(kernel, unpacked, payload, args, tagged))
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().expect("a kernel's runner panicked"))
            .collect()
    })
}

fn run_kernel(
    kernel: &Kernel,
    unpacked: &Unpacked,
    payload: &Payload,
    args: &VmtestArgs,
    tagged: bool,
) -> Result<KernelRun> {
    let tag = if tagged { format!("[{}] ", kernel.series) } else { String::new() };
    println!("{tag}== vmtest: {} ({}), {:?}", kernel.series, unpacked.release, args.accel);
    let started = Instant::now();
    let (totals, success) = boot(kernel, unpacked, payload, args, &tag)?;
    println!(
        "{tag}== vmtest: {} ({}) {} in {} s: {} passed, {} failed",
        kernel.series,
        unpacked.release,
        if success { "passed" } else { "FAILED" },
        started.elapsed().as_secs(),
        totals.passed,
        totals.failed
    );
    Ok(KernelRun { series: kernel.series, release: unpacked.release.clone(), totals, success })
}

/// Splits the arguments after `--` into test files (`--test FILE`) and the
/// rest, for the test binaries.
fn split_test_args(args: &[String]) -> Result<(Vec<String>, Vec<String>)> {
    let mut files = Vec::new();
    let mut rest = Vec::new();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        if arg == "--test" {
            files.push(
                iter.next().context("--test needs a test file name (tests/NAME.rs)")?.clone(),
            );
        } else if let Some(file) = arg.strip_prefix("--test=") {
            files.push(file.to_owned());
        } else {
            rest.push(arg.clone());
        }
    }
    if files.is_empty() {
        files = KERNEL_TESTS.iter().map(|name| (*name).to_owned()).collect();
    }
    Ok((files, rest))
}

/// Builds the named test files on the host and returns their executables.
fn build_tests(files: &[String]) -> Result<Vec<TestBinary>> {
    let mut command = cargo();
    command.args(["test", "--no-run", "--message-format=json-render-diagnostics", "-p", "cradle"]);
    for file in files {
        command.args(["--test", file]);
    }
    let output = command
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("running {command:?}"))?;
    if !output.status.success() {
        bail!("building the tests failed: {}", output.status);
    }
    let mut binaries = Vec::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let Ok(message) = serde_json::from_str::<serde_json::Value>(line) else { continue };
        let name = message["target"]["name"].as_str().unwrap_or_default();
        if let Some(executable) = message["executable"].as_str()
            && files.iter().any(|file| file == name)
        {
            binaries.push(TestBinary {
                name: name.to_owned(),
                path: PathBuf::from(executable),
                args: Vec::new(),
            });
        }
    }
    for file in files {
        if !binaries.iter().any(|binary| &binary.name == file) {
            bail!("no test file tests/{file}.rs");
        }
    }
    Ok(binaries)
}

/// The script the guest runs: from the workspace root, each test binary in
/// turn (one test at a time: TCG guests are slow and tests time out on
/// their own), exiting non-zero if any failed.
fn guest_script(payload: &Payload, series: &str) -> String {
    let root = workspace_root().canonicalize().unwrap_or_else(|_| workspace_root());
    let path = std::env::var("PATH").unwrap_or_default();
    let mut script = format!(
        "#!/bin/bash\n# Written by cargo xtask vmtest; runs inside the guest.\n\
         export PATH={path:?} RUST_BACKTRACE=1\ncd {root:?} || exit 2\n\
         echo \"vmtest: guest kernel $(uname -r)\"\n"
    );
    match payload {
        Payload::Exec(command) => script.push_str(command),
        Payload::Tests { binaries, skip_known_gaps } => {
            script.push_str("failed=0\n");
            for TestBinary { name, path, args } in binaries {
                let mut args: Vec<String> = args.iter().map(|arg| format!("{arg:?}")).collect();
                let gaps = KNOWN_GAPS.iter().filter(|gap| gap.series == series && gap.file == name);
                for gap in gaps.filter(|_| *skip_known_gaps) {
                    script.push_str(&format!(
                        "echo {:?}\n",
                        format!(
                            "vmtest: not run, a known gap on {series}: {} ({})",
                            gap.test, gap.reason
                        )
                    ));
                    args.push(format!("--skip {:?}", gap.test));
                }
                script.push_str(&format!(
                    "echo \"vmtest: tests/{name}.rs\"\n{path:?} --test-threads=1 {} || failed=1\n",
                    args.join(" ")
                ));
            }
            script.push_str("exit $failed\n");
        }
    }
    script.push('\n');
    script
}

/// Boots one kernel, runs the payload, echoes the guest's output and adds up
/// its `test result:` lines. Returns the totals and whether the guest's
/// script exited 0.
fn boot(
    kernel: &Kernel,
    unpacked: &Unpacked,
    payload: &Payload,
    args: &VmtestArgs,
    tag: &str,
) -> Result<(Totals, bool)> {
    let dir = tempfile_dir(kernel)?;
    let script = dir.join("guest.sh");
    std::fs::write(&script, guest_script(payload, kernel.series))?;
    let kernel = match args.accel {
        Accel::Tcg => unpacked.vmlinuz(),
        Accel::Kvm => vmlinux(unpacked)?,
    };
    let mut command = Command::new(venv_bin().join("vng"));
    command
        .arg("--run")
        .arg(&kernel)
        .args(["--memory", &args.memory, "--cpus", &args.cpus.to_string()])
        .args(["--name", "cradle-vmtest"])
        // virtme-ng links the guest's /lib/modules/RELEASE to the modules
        // unpacked beside the kernel, in the cache under /var, which the
        // guest covers with a tmpfs: without this share, no module (veth)
        // loads in the guest.
        .arg(format!("--rodir={}", unpacked.root.display()))
        .arg("--cwd")
        .arg(workspace_root())
        .arg("--exec")
        .arg(format!("bash {}", script.display()))
        // vng runs virtme-run, found on PATH.
        .env("PATH", path_with_venv())
        .stdin(Stdio::null())
        // Pipes, not our own stdout and stderr: qemu reopens the guest's
        // through /proc/self/fd, which truncates a redirected log file.
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group, so a timeout kills qemu with it.
        .process_group(0);
    if args.accel == Accel::Tcg {
        command.arg("--disable-kvm");
    }
    let result = run_guest(&mut command, tag);
    std::fs::remove_dir_all(&dir)?;
    result
}

fn run_guest(command: &mut Command, tag: &str) -> Result<(Totals, bool)> {
    let mut child = command.spawn().with_context(|| format!("running {command:?}"))?;
    let pgid = i32::try_from(child.id()).context("pid out of range")?;
    let (done, timed_out) = mpsc::channel::<()>();
    let watchdog_tag = tag.to_owned();
    let watchdog = std::thread::spawn(move || {
        let tag = watchdog_tag;
        if timed_out.recv_timeout(KERNEL_TIMEOUT) == Err(mpsc::RecvTimeoutError::Timeout) {
            eprintln!(
                "{tag}vmtest: no result after {} s, killing the VM",
                KERNEL_TIMEOUT.as_secs()
            );
            // SAFETY: kill(2) on the process group this function started;
            // it touches no memory.
            unsafe { libc::kill(-pgid, libc::SIGKILL) };
        }
    });
    let stderr = child.stderr.take().expect("piped");
    let stderr_tag = tag.to_owned();
    let forward = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            eprintln!("{stderr_tag}{line}");
        }
    });
    let stdout = child.stdout.take().expect("piped");
    let totals = count_results(BufReader::new(stdout).lines().map_while(Result::ok), tag);
    let status = child.wait()?;
    let _ = done.send(());
    let _ = watchdog.join();
    let _ = forward.join();
    if !status.success() {
        println!("{tag}vmtest: the guest's tests or command failed ({status})");
    }
    Ok((totals, status.success()))
}

/// A fresh directory for the guest script, under /tmp (which the guest sees
/// through its overlay).
fn tempfile_dir(kernel: &Kernel) -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!(
        "cradle-vmtest-{}-{}",
        std::process::id(),
        kernel.series
    ));
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

fn path_with_venv() -> std::ffi::OsString {
    let mut paths = vec![venv_bin()];
    paths.extend(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()));
    std::env::join_paths(paths).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::{CI_TESTS, KERNEL_TESTS, KERNELS, KNOWN_GAPS};
    use crate::workspace::workspace_root;

    /// A renamed test would otherwise drop out of CI's kernel runs
    /// silently (`--exact` matches nothing and passes).
    #[test]
    fn every_ci_kernel_test_exists_in_the_kernel_facing_set() {
        for (file, names) in CI_TESTS {
            assert!(KERNEL_TESTS.contains(file), "tests/{file}.rs is not kernel-facing");
            let source = std::fs::read_to_string(workspace_root().join(format!("tests/{file}.rs")))
                .unwrap_or_else(|err| panic!("tests/{file}.rs: {err}"));
            for name in *names {
                assert!(
                    source.contains(&format!("fn {name}()")),
                    "no test {name} in tests/{file}.rs"
                );
            }
        }
    }

    #[test]
    fn every_known_gap_is_a_ci_test_on_a_tested_kernel() {
        for gap in KNOWN_GAPS {
            assert!(KERNELS.iter().any(|kernel| kernel.series == gap.series), "{}", gap.series);
            let listed =
                CI_TESTS.iter().any(|(file, names)| *file == gap.file && names.contains(&gap.test));
            assert!(listed, "{} is not a CI test of tests/{}.rs", gap.test, gap.file);
        }
    }
}
