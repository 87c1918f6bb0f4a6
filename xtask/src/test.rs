//! `cargo xtask test`: the project's test command, run by CI.

use std::{path::PathBuf, process::Command};

use anyhow::Result;

use crate::setup::run_checked;

pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub fn cargo() -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command.current_dir(workspace_root());
    command
}

pub fn run() -> Result<()> {
    println!("== formatting");
    run_checked(cargo().args(["fmt", "--all", "--check"]))?;
    run_checked(
        cargo().current_dir(workspace_root().join("probes-ebpf")).args(["fmt", "--check"]),
    )?;
    println!("== lints");
    run_checked(cargo().args(["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"]))?;
    println!("== tests");
    run_checked(cargo().args(["test", "--workspace", "--all-targets"]))?;
    Ok(())
}
