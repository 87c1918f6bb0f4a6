//! `cargo xtask test`: the project's test command, run by CI.

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
};

use anyhow::{Context, Result, bail};

use crate::{
    no_ebpf, vmtest,
    workspace::{Totals, cargo, count_results, run_checked, workspace_root},
};

/// The whole test run; `kernel_matrix` adds the kernel-facing tests inside
/// every kernel of the matrix after the host's.
pub fn run(kernel_matrix: bool) -> Result<()> {
    println!("== formatting");
    run_checked(cargo().args(["fmt", "--all", "--check"]))?;
    for own_workspace in ["probes-ebpf", "events/fuzz"] {
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
    println!("== tests of {} with the eBPF toolchain hidden", no_ebpf::PACKAGES.join(", "));
    let mut totals = run_tests(&mut no_ebpf::test_command(&no_ebpf::scratch_dir())?)?;
    println!("== tests");
    let mut everything_else = cargo();
    everything_else.args(["test", "--workspace", "--all-targets"]);
    for package in no_ebpf::PACKAGES {
        everything_else.args(["--exclude", package]);
    }
    let rest = run_tests(&mut everything_else)?;
    totals.passed += rest.passed;
    totals.failed += rest.failed;
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

/// Runs the cargo-fuzz target `decode` (events/fuzz), bounded in time and
/// input size (records are at most a few KiB).
///
/// cargo-fuzz passes an unstable rustc flag (`-Z sanitizer=address`). The
/// default stable toolchain takes it with `RUSTC_BOOTSTRAP=1`, so CI needs
/// no nightly toolchain nor a rustup download.
fn fuzz_decode() -> Result<()> {
    run_checked(
        cargo()
            .current_dir(workspace_root().join("events"))
            .args(["fuzz", "run", "decode", "--"])
            .arg(format!("-max_total_time={FUZZ_SECONDS}"))
            .arg("-max_len=4096")
            .env("RUSTC_BOOTSTRAP", "1"),
    )
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
