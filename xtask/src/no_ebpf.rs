//! The crates that must build without the eBPF toolchain: the event model
//! and everything that presents it. Only the `cradle` binary needs
//! `cradle-probes`, whose build script compiles the eBPF object with
//! rustc-web and bpf-linker. CI builds and tests these crates with that
//! toolchain hidden, so a dependency on the loader creeping back fails there.

use std::{
    ffi::OsString,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context, Result, bail};

use crate::workspace::{cargo, workspace_root};

/// The packages, as `cargo -p` names them.
pub const PACKAGES: [&str; 4] = ["cradle-events", "cradle-reports", "cradle-tui", "cradle-export"];

/// The tools of the eBPF build, by the names the build script looks for.
const EBPF_TOOLS: [&str; 1] = ["bpf-linker"];

/// `cargo test` of [`PACKAGES`] in an environment without the eBPF
/// toolchain: a PATH whose directories hold no bpf-linker (the host
/// compiler's tools are reached through links in `scratch`), the eBPF
/// compiler (`CRADLE_EBPF_RUSTC`, rustc-web by default) pointed at nothing,
/// and a target directory of its own, so nothing built with the toolchain
/// can stand in.
pub fn test_command(scratch: &Path) -> Result<Command> {
    let path = path_without_ebpf_tools(scratch)?;
    if let Some(found) = EBPF_TOOLS.iter().find_map(|tool| find_in(&path, tool)) {
        bail!("{} is still reachable through PATH", found.display());
    }
    let mut command = cargo();
    command.arg("test");
    for package in PACKAGES {
        command.args(["-p", package]);
    }
    command
        .args(["--all-targets", "--target-dir"])
        .arg(scratch.join("target"))
        .env("PATH", &path)
        .env("CRADLE_EBPF_RUSTC", scratch.join("no-ebpf-compiler"));
    Ok(command)
}

/// PATH with every directory holding an eBPF tool left out. The host
/// toolchain's tools that shared such a directory (cargo's own `bin`) get
/// a link each in `scratch/bin`, first on the new PATH.
fn path_without_ebpf_tools(scratch: &Path) -> Result<OsString> {
    let links = scratch.join("bin");
    if links.exists() {
        std::fs::remove_dir_all(&links).with_context(|| format!("clearing {}", links.display()))?;
    }
    std::fs::create_dir_all(&links).with_context(|| format!("creating {}", links.display()))?;
    let original = std::env::var_os("PATH").unwrap_or_default();
    let mut kept = vec![links.clone()];
    for dir in std::env::split_paths(&original) {
        if !EBPF_TOOLS.iter().any(|tool| dir.join(tool).exists()) {
            kept.push(dir);
            continue;
        }
        for entry in
            std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))?
        {
            let entry = entry?;
            let name = entry.file_name();
            if EBPF_TOOLS.iter().any(|tool| name == *tool) || links.join(&name).exists() {
                continue;
            }
            std::os::unix::fs::symlink(entry.path(), links.join(&name))
                .with_context(|| format!("linking {}", entry.path().display()))?;
        }
    }
    Ok(std::env::join_paths(kept)?)
}

fn find_in(path: &OsString, tool: &str) -> Option<PathBuf> {
    std::env::split_paths(path).map(|dir| dir.join(tool)).find(|file| file.exists())
}

/// Where the run keeps its links and its target directory.
pub fn scratch_dir() -> PathBuf {
    workspace_root().join("target/without-ebpf-toolchain")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `cargo tree` of each package, with dev and build dependencies:
    /// neither aya nor the crate that builds the eBPF object is in it.
    #[test]
    fn the_event_model_and_its_presentations_do_not_depend_on_the_ebpf_build() {
        for package in PACKAGES {
            let out = cargo()
                .args(["tree", "-p", package, "-e", "all", "--prefix", "none", "--offline"])
                .output()
                .expect("cargo tree runs");
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            let tree = String::from_utf8_lossy(&out.stdout);
            assert!(tree.lines().count() > 10, "{package}: {tree}");
            for forbidden in ["aya ", "aya-obj ", "cradle-probes "] {
                assert!(
                    !tree.lines().any(|line| line.starts_with(forbidden)),
                    "{package} depends on {forbidden}:\n{tree}"
                );
            }
        }
    }

    #[test]
    fn the_hidden_path_reaches_no_ebpf_tool_but_keeps_cargo() {
        let scratch = tempfile_dir();
        let path = path_without_ebpf_tools(&scratch).unwrap();
        assert_eq!(find_in(&path, "bpf-linker"), None);
        assert!(find_in(&path, "cargo").is_some(), "cargo must stay reachable");
        std::fs::remove_dir_all(&scratch).unwrap();
    }

    fn tempfile_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("cradle-no-ebpf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
