//! `cargo xtask setup`: installs what is missing, and only that, so a rerun
//! on a ready machine takes seconds.

use std::{path::PathBuf, process::Command};

use anyhow::{Context, Result, bail};

use crate::workspace::run_checked;

/// Debian packages cradle needs, and why.
const PACKAGES: &[(&str, &str)] = &[
    ("rustc-web", "the eBPF compiler: a rustc that ships its library source"),
    ("rust-web-src", "core's source, for -Z build-std=core"),
    ("llvm-22-dev", "LLVM for bpf-linker"),
    ("libpolly-22-dev", "LLVM for bpf-linker"),
    ("libzstd-dev", "LLVM for bpf-linker"),
    ("zlib1g-dev", "LLVM for bpf-linker"),
    ("runc", "the reference runtime traced and compared against"),
    ("crun", "the second peer runtime"),
    ("busybox-static", "the root filesystem of the default bundle"),
    ("strace", "cross-checking what the probes report"),
    ("bpftool", "bench: each program's run time, with kernel.bpf_stats_enabled"),
    ("tmux", "end-to-end tests of the terminal UI"),
    ("iproute2", "network namespaces and veths in tests"),
    ("docker.io", "a real client that runs cradle as its runtime (tests/clients_docker_podman.rs)"),
    ("containerd", "docker's container supervisor, started by the tests themselves"),
    ("podman", "a real client that runs cradle through conmon"),
    ("conmon", "podman's runtime monitor"),
    (
        "apparmor",
        "apparmor_parser: loads the profiles of tests/runtime_apparmor.rs in the kernel VMs",
    ),
    ("uidmap", "newuidmap/newgidmap: multi-id user namespace maps for rootless containers"),
    ("gcc", "static C test programs run inside containers (seccomp parity)"),
    ("libc6-dev", "static C test programs run inside containers (seccomp parity)"),
    ("libseccomp-dev", "the reference compiler of runtime/tests/seccomp_libseccomp.rs"),
    ("qemu-system-x86", "vmtest: boots Debian's kernels to test cradle on them"),
    ("python3-venv", "vmtest: virtme-ng's own Python environment"),
    ("kmod", "vmtest: depmod for the unpacked kernels, modprobe in the guests"),
    ("prometheus", "scrapes `cradle watch --metrics` in tests/fleet_prometheus.rs"),
    ("udev", "vmtest: names the guest's virtio ports, which carry a test's output and exit status"),
];

const BPF_LINKER_VERSION: &str = "0.13";
/// Runs the probes' fuzz target (events/fuzz) in `cargo xtask test`.
const CARGO_FUZZ_VERSION: &str = "0.13";

pub fn run() -> Result<()> {
    require_root()?;
    install_packages()?;
    install_bpf_linker()?;
    install_cargo_fuzz()?;
    crate::vmtest::install()?;
    println!("setup: everything cradle needs is installed");
    Ok(())
}

pub fn require_root() -> Result<()> {
    let uid = Command::new("id").arg("-u").output().context("running id -u")?;
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        bail!("cargo xtask setup installs system packages and must run as root");
    }
    Ok(())
}

fn package_installed(name: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", name])
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).contains("install ok installed"))
        .unwrap_or(false)
}

fn install_packages() -> Result<()> {
    let missing: Vec<&str> =
        PACKAGES.iter().map(|(name, _)| *name).filter(|name| !package_installed(name)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    println!("setup: installing {}", missing.join(" "));
    run_checked(Command::new("apt-get").args(["update", "-qq"]))?;
    run_checked(
        Command::new("apt-get")
            .args(["install", "-y", "-qq", "--no-install-recommends"])
            .args(&missing)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
}

fn cargo_bin(name: &str) -> PathBuf {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo")))
        .unwrap_or_else(|| PathBuf::from("/root/.cargo"));
    home.join("bin").join(name)
}

/// Whether `command` is installed and says `expected` when asked its version.
fn reports_version(command: &mut Command, expected: &str) -> bool {
    command
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).contains(expected))
        .unwrap_or(false)
}

/// `cargo install CRATE --locked --version ~VERSION EXTRA...`.
fn cargo_install(krate: &str, version: &str) -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command.args(["install", krate, "--locked", "--version", &format!("~{version}")]);
    command
}

fn install_bpf_linker() -> Result<()> {
    let version = format!("bpf-linker {BPF_LINKER_VERSION}");
    if reports_version(Command::new(cargo_bin("bpf-linker")).arg("--version"), &version) {
        return Ok(());
    }
    println!("setup: building bpf-linker {BPF_LINKER_VERSION} against LLVM 22 (about 3 minutes)");
    run_checked(
        cargo_install("bpf-linker", BPF_LINKER_VERSION)
            .args(["--no-default-features", "--features", "llvm-22"])
            .env("LLVM_PREFIX", "/usr/lib/llvm-22"),
    )
}

fn install_cargo_fuzz() -> Result<()> {
    let version = format!("cargo-fuzz {CARGO_FUZZ_VERSION}");
    if reports_version(Command::new(cargo_bin("cargo-fuzz")).arg("--version"), &version) {
        return Ok(());
    }
    println!("setup: building cargo-fuzz {CARGO_FUZZ_VERSION}");
    run_checked(&mut cargo_install("cargo-fuzz", CARGO_FUZZ_VERSION))
}
