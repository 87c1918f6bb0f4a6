//! What every xtask command stands on: the workspace's root, cargo run in
//! it, a command run to success, and the totals of `cargo test` output.
//! It depends on no other module here, so the commands (setup, test,
//! vmtest, bench, demo) can use each other's work one way only.

use std::{path::PathBuf, process::Command};

use anyhow::{Context, Result, bail};

pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub fn cargo() -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command.current_dir(workspace_root());
    command
}

pub fn run_checked(command: &mut Command) -> Result<()> {
    let status = command.status().with_context(|| format!("running {command:?}"))?;
    if !status.success() {
        bail!("{command:?} failed: {status}");
    }
    Ok(())
}

#[derive(Default)]
pub struct Totals {
    pub passed: u64,
    pub failed: u64,
}

/// Echoes cargo test's output lines while adding up their `test result:`
/// lines (one per test binary), each echoed line starting with `tag`.
pub fn count_results(lines: impl Iterator<Item = String>, tag: &str) -> Totals {
    let mut totals = Totals::default();
    for line in lines {
        println!("{tag}{line}");
        if let Some(result) = line.strip_prefix("test result: ") {
            totals.passed += count_before(result, " passed");
            totals.failed += count_before(result, " failed");
        }
    }
    totals
}

/// The number just before `label` in "ok. 5 passed; 0 failed; ...".
fn count_before(text: &str, label: &str) -> u64 {
    text.split(';')
        .find_map(|part| {
            part.trim()
                .trim_start_matches("ok. ")
                .trim_start_matches("FAILED. ")
                .strip_suffix(label)
        })
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::count_before;

    #[test]
    fn reads_cargo_test_result_lines() {
        let ok = "ok. 5 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 2.46s";
        assert_eq!(count_before(ok, " passed"), 5);
        assert_eq!(count_before(ok, " failed"), 0);
        let failed = "FAILED. 3 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out";
        assert_eq!(count_before(failed, " passed"), 3);
        assert_eq!(count_before(failed, " failed"), 2);
    }
}
