//! `cargo xtask`: cradle's automation. Owns installing prerequisites
//! (`setup`), the project's test command (`test`, what CI runs), the
//! newcomer's demo (`demo`), the kernel matrix (`vmtest`, qemu guests of
//! Debian's kernels) and the benchmarks (`bench`, not part of CI). It drives
//! cargo, qemu and the system package manager;
//! it must not contain product logic.

mod bench;
mod demo;
#[cfg(test)]
mod module_cycles;
mod no_ebpf;
mod setup;
mod test;
mod vmtest;
mod workspace;

use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Install, idempotently, what a fresh Debian 12 machine lacks to build,
    /// test and demonstrate cradle.
    Setup,
    /// The project's test command: setup, formatting, lints, every test on
    /// this machine's kernel, then the kernel matrix (`vmtest`).
    Test {
        /// Skip `setup` (when you know everything is installed).
        #[arg(long)]
        no_setup: bool,
        /// Skip the kernel matrix: this machine's kernel only.
        #[arg(long)]
        host_only: bool,
    },
    /// Set up, build, and run cradle's main job on its built-in default
    /// (`cradle demo`, given any further arguments).
    Demo {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Measure runtime lifecycle, tracing cost, collector throughput and
    /// memory; write results.json and results.md, print the table.
    Bench {
        /// Skip `setup` (when you know everything is installed).
        #[arg(long)]
        no_setup: bool,
        #[command(flatten)]
        args: bench::BenchArgs,
    },
    /// Boot Debian's packaged kernels (6.1, 6.12) under qemu with this
    /// machine's userspace (virtme-ng) and run the kernel-facing tests, or
    /// the given tests or command, inside each.
    Vmtest(vmtest::VmtestArgs),
    /// The bench's stopwatch: run a command, print `elapsed_ns N`.
    #[command(hide = true)]
    Stopwatch {
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
        command: Vec<String>,
    },
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Setup => setup::run(),
        Command::Test { no_setup, host_only } => {
            if !no_setup {
                setup::run()?;
            }
            test::run(!host_only)
        }
        Command::Demo { args } => {
            setup::run()?;
            demo::run(&args)
        }
        Command::Bench { no_setup, args } => {
            if !no_setup {
                setup::run()?;
            }
            bench::run(args)
        }
        Command::Vmtest(args) => {
            setup::require_root()?;
            let runs = vmtest::run(&args)?;
            for run in &runs {
                println!("{run}");
            }
            let failed: Vec<&str> =
                runs.iter().filter(|run| !run.success).map(|run| run.series).collect();
            if !failed.is_empty() {
                anyhow::bail!("vmtest failed on {}", failed.join(", "));
            }
            Ok(())
        }
        Command::Stopwatch { command } => bench::stopwatch(&command),
    }
}
