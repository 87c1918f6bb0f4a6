//! Builds the eBPF object from `probes-ebpf/` and leaves it in OUT_DIR for
//! `include_bytes!`, so that building cradle always embeds programs that
//! match its ABI crate.
//!
//! The eBPF crate needs `-Z build-std=core` for `bpfel-unknown-none`, hence a
//! compiler that ships its library source (Debian's rustc-web with
//! rust-web-src) and `bpf-linker`. `cargo xtask setup` installs both; a
//! missing one stops the build here with that advice.

use std::{
    env,
    path::{Path, PathBuf},
    process::Command,
};

const SETUP_HINT: &str = "run `cargo xtask setup` (as root) to install it";

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let ebpf_dir = manifest_dir.join("../probes-ebpf");
    let common_dir = manifest_dir.join("../probes-common");
    for watched in [
        ebpf_dir.join("src"),
        ebpf_dir.join("Cargo.toml"),
        ebpf_dir.join("Cargo.lock"),
        ebpf_dir.join(".cargo/config.toml"),
        common_dir.join("src"),
        common_dir.join("Cargo.toml"),
    ] {
        println!("cargo:rerun-if-changed={}", watched.display());
    }
    println!("cargo:rerun-if-env-changed=CRADLE_EBPF_RUSTC");
    println!("cargo:rerun-if-env-changed=PATH");

    let rustc = env::var_os("CRADLE_EBPF_RUSTC")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/rustc"));
    let cargo = env::var_os("CARGO").map(PathBuf::from).unwrap_or_else(|| "cargo".into());
    let linker_dir = check_prerequisites(&rustc);

    // A target directory of its own, stable across profiles so that `cargo
    // build`, `cargo test` and `cargo clippy` share one eBPF build.
    let target_dir = env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest_dir.join("../target"))
        .join("bpf");

    let mut build = Command::new(&cargo);
    build
        .current_dir(&ebpf_dir)
        .args(["build", "--release", "--locked", "--target", "bpfel-unknown-none"])
        .args(["-Z", "build-std=core"])
        .arg("--target-dir")
        .arg(&target_dir);
    // The outer build's settings (clippy's wrapper, host RUSTFLAGS, its
    // target) must not leak into a build for another target.
    for (key, _) in env::vars_os() {
        let key = key.to_string_lossy().into_owned();
        if key.starts_with("CARGO") || key.starts_with("RUST") {
            build.env_remove(&key);
        }
    }
    // rustc runs bpf-linker by name: make sure the one found is on PATH.
    let mut path = vec![linker_dir];
    path.extend(
        env::var_os("PATH").map(|p| env::split_paths(&p).collect::<Vec<_>>()).unwrap_or_default(),
    );
    build
        .env("RUSTC", &rustc)
        .env("RUSTC_BOOTSTRAP", "1")
        .env("PATH", env::join_paths(path).expect("PATH entries have no separator"))
        .env("CARGO_HOME", cargo_home());
    let status = build
        .status()
        .unwrap_or_else(|err| fail(&format!("could not run {}: {err}", cargo.display())));
    if !status.success() {
        fail(&format!("building the eBPF programs in {} failed ({status})", ebpf_dir.display()));
    }

    let object = target_dir.join("bpfel-unknown-none/release/cradle-probes");
    let out =
        PathBuf::from(env::var_os("OUT_DIR").expect("set by cargo")).join("cradle-probes.bpf.o");
    std::fs::copy(&object, &out)
        .unwrap_or_else(|err| fail(&format!("copying {}: {err}", object.display())));
}

fn cargo_home() -> PathBuf {
    env::var_os("CARGO_HOME").map(PathBuf::from).unwrap_or_else(|| {
        Path::new(&env::var_os("HOME").unwrap_or_else(|| "/root".into())).join(".cargo")
    })
}

/// Where `bpf-linker` is: on PATH, or where `cargo install` puts it.
fn find_bpf_linker() -> Option<PathBuf> {
    let path: Vec<PathBuf> =
        env::var_os("PATH").map(|p| env::split_paths(&p).collect()).unwrap_or_default();
    path.into_iter().chain([cargo_home().join("bin")]).find(|dir| dir.join("bpf-linker").is_file())
}

/// Stops the build with one clear message naming the missing piece;
/// returns the directory holding bpf-linker.
fn check_prerequisites(rustc: &Path) -> PathBuf {
    if !rustc.exists() {
        fail(&format!(
            "the eBPF compiler {} is missing (Debian package rustc-web): {SETUP_HINT}",
            rustc.display()
        ));
    }
    let sysroot = Command::new(rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
        .unwrap_or_else(|| fail(&format!("{} does not run: {SETUP_HINT}", rustc.display())));
    let core_src = sysroot.join("lib/rustlib/src/rust/library/core");
    if !core_src.exists() {
        fail(&format!(
            "the library source for {} is missing at {} (Debian package rust-web-src): {SETUP_HINT}",
            rustc.display(),
            core_src.display()
        ));
    }
    find_bpf_linker().unwrap_or_else(|| fail(&format!("bpf-linker is missing: {SETUP_HINT}")))
}

fn fail(message: &str) -> ! {
    // cargo shows a build script's stderr when it fails.
    eprintln!("\nerror: {message}\n");
    std::process::exit(1);
}
