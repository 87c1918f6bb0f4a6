//! `cargo xtask test`: the project's test command, run by CI.

use std::{
    io::{BufRead, BufReader},
    path::PathBuf,
    process::{Command, Stdio},
};

use anyhow::{Context, Result, bail};

use crate::{setup::run_checked, vmtest};

pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub fn cargo() -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command.current_dir(workspace_root());
    command
}

/// The whole test run; `kernel_matrix` adds the kernel-facing tests inside
/// every kernel of the matrix after the host's.
pub fn run(kernel_matrix: bool) -> Result<()> {
    println!("== formatting");
    run_checked(cargo().args(["fmt", "--all", "--check"]))?;
    for own_workspace in ["probes-ebpf", "probes/fuzz"] {
        run_checked(
            cargo().current_dir(workspace_root().join(own_workspace)).args(["fmt", "--check"]),
        )?;
    }
    println!("== lints");
    run_checked(cargo().args(["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"]))?;
    // The eBPF crate is linted for the host target: clippy checks the same
    // source, and the bpfel target needs `-Z build-std`, which clippy does
    // not take on a stable toolchain. Its tests do not exist (no_std, no_main).
    run_checked(cargo().current_dir(workspace_root().join("probes-ebpf")).args([
        "clippy",
        "--target-dir",
        "../target/ebpf-clippy",
        "--",
        "-D",
        "warnings",
    ]))?;
    println!("== tests");
    let mut totals = run_tests(cargo().args(["test", "--workspace", "--all-targets"]))?;
    println!("== fuzzing the probes' record decoder for {FUZZ_SECONDS} s");
    // One test: the fuzzer found no input that panics or misbehaves.
    match fuzz_decode() {
        Ok(()) => totals.passed += 1,
        Err(err) => {
            println!("fuzz decode FAILED: {err:#}");
            totals.failed += 1;
        }
    }
    if kernel_matrix {
        println!("== the kernel matrix: kernel-facing tests in {}", vmtest::series_list());
        let ci_selection = vmtest::VmtestArgs { ci: true, ..Default::default() };
        for kernel in vmtest::run(&ci_selection)? {
            println!("{kernel}");
            totals.passed += kernel.totals.passed;
            totals.failed += kernel.totals.failed;
            // A guest that died before reporting (boot failure, timeout)
            // counts as a failed test, so the run cannot pass silently.
            if !kernel.success && kernel.totals.failed == 0 {
                totals.failed += 1;
            }
        }
    }
    // One closing line for the whole run, as CI reads it.
    println!("tests: {} passed, {} failed", totals.passed, totals.failed);
    if totals.failed > 0 {
        bail!("{} tests failed", totals.failed);
    }
    Ok(())
}

/// How long CI fuzzes the decoder: long enough to cover every record kind's
/// length checks, short enough for the CI budget.
const FUZZ_SECONDS: u32 = 60;

/// Runs the cargo-fuzz target `decode` (probes/fuzz), bounded in time and
/// input size (records are at most a few KiB).
///
/// cargo-fuzz passes an unstable rustc flag (`-Z sanitizer=address`). The
/// default stable toolchain takes it with `RUSTC_BOOTSTRAP=1`, so CI needs
/// no nightly toolchain nor a rustup download.
fn fuzz_decode() -> Result<()> {
    run_checked(
        cargo()
            .current_dir(workspace_root().join("probes"))
            .args(["fuzz", "run", "decode", "--"])
            .arg(format!("-max_total_time={FUZZ_SECONDS}"))
            .arg("-max_len=4096")
            .env("RUSTC_BOOTSTRAP", "1"),
    )
}

#[derive(Default)]
pub struct Totals {
    pub passed: u64,
    pub failed: u64,
}

/// Runs a `cargo test` command, echoing its output while adding up the
/// `test result:` lines of every test binary.
fn run_tests(command: &mut Command) -> Result<Totals> {
    let mut child =
        command.stdout(Stdio::piped()).spawn().with_context(|| format!("running {command:?}"))?;
    let stdout = BufReader::new(child.stdout.take().expect("piped"));
    let totals = count_results(stdout.lines().map_while(Result::ok), "");
    let status = child.wait()?;
    if !status.success() {
        bail!("{command:?} failed: {status}");
    }
    Ok(totals)
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
