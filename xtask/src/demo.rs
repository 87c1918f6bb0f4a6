//! `cargo xtask demo`: installs what is missing, builds cradle, and runs
//! `cradle demo`: a busybox container run by the built-in runtime, traced
//! from its first syscall, with each step explained.

use std::process::Command;

use anyhow::Result;

use crate::workspace::{cargo, run_checked, workspace_root};

pub fn run(extra: &[String]) -> Result<()> {
    run_checked(cargo().args(["build", "--release", "--bin", "cradle"]))?;
    let cradle = workspace_root().join("target/release/cradle");
    run_checked(Command::new(cradle).arg("demo").args(extra))
}
