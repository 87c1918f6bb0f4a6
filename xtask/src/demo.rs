//! `cargo xtask demo`: cradle's main job on a built-in default: a busybox
//! container run by runc, traced by cradle from runc's first instruction.

use std::{path::Path, process::Command};

use anyhow::{Context, Result};
use serde_json::Value;

use crate::{
    setup::run_checked,
    test::{cargo, workspace_root},
};

const WORKLOAD: &str = "echo hello from a container; hostname; id";

pub fn run() -> Result<()> {
    run_checked(cargo().args(["build", "--release", "--bin", "cradle"]))?;
    let cradle = workspace_root().join("target/release/cradle");
    let dir = std::env::temp_dir().join(format!("cradle-demo-{}", std::process::id()));
    let result = build_bundle(&dir).and_then(|()| {
        run_checked(
            Command::new(&cradle)
                .args(["trace", "--"])
                .arg("runc")
                .arg("--root")
                .arg(dir.join("runc-state"))
                .arg("run")
                .arg("--bundle")
                .arg(&dir)
                .arg(format!("cradle-demo-{}", std::process::id())),
        )
    });
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// A root filesystem of busybox applets and runc's default config.json.
fn build_bundle(dir: &Path) -> Result<()> {
    let bin = dir.join("rootfs/bin");
    std::fs::create_dir_all(&bin).with_context(|| format!("creating {}", bin.display()))?;
    for sub in ["proc", "sys", "dev", "tmp", "etc"] {
        std::fs::create_dir_all(dir.join("rootfs").join(sub))?;
    }
    std::fs::copy("/bin/busybox", bin.join("busybox")).context("copying /bin/busybox")?;
    let applets = Command::new("/bin/busybox").arg("--list").output()?;
    for applet in String::from_utf8_lossy(&applets.stdout).lines() {
        let link = bin.join(applet);
        // `--list` names busybox itself too.
        if !link.exists() {
            std::os::unix::fs::symlink("busybox", &link)
                .with_context(|| format!("linking {}", link.display()))?;
        }
    }
    run_checked(Command::new("runc").args(["spec", "--bundle"]).arg(dir))?;
    let config_path = dir.join("config.json");
    let mut config: Value = serde_json::from_slice(&std::fs::read(&config_path)?)?;
    config["process"]["terminal"] = Value::Bool(false);
    config["process"]["args"] = serde_json::json!(["sh", "-c", WORKLOAD]);
    std::fs::write(&config_path, serde_json::to_vec_pretty(&config)?)?;
    Ok(())
}
