//! Who started a container's runtime: its parent, that one's parent, and
//! so on (containerd-shim, containerd, dockerd, a shell...), read from
//! `/proc` while the runtime's exec is fresh. The kernel side does not
//! follow daemons, so this is the only place their part is seen.
//!
//! `/proc` is read by pid, and a pid can be reused: a process is accepted
//! as an ancestor only if it started no later than the one it is the
//! parent of, so a recycled pid never joins the chain.

use std::path::Path;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One process in the chain that launched a runtime.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Launcher {
    pub pid: u32,
    pub comm: String,
    /// What `/proc/PID/exe` points to (`None`: unreadable).
    pub exe: Option<String>,
    /// Its command line, at most [`ARGV_MAX`] arguments of at most
    /// [`ARG_MAX`] bytes each.
    pub argv: Vec<String>,
}

/// How far up the chain to go: past a daemon's own launchers, the chain
/// says nothing of the container.
pub const DEPTH_MAX: usize = 8;
pub const ARGV_MAX: usize = 32;
pub const ARG_MAX: usize = 256;

/// The chain of processes above `parent` (itself first), as `proc` (a
/// procfs mount) shows it now, up to but not including pid 1. `child_start`
/// is when the child of `parent` started, in nanoseconds since boot
/// (CLOCK_BOOTTIME): an ancestor that started after its child is a
/// recycled pid, and ends the chain.
pub fn chain(proc: &Path, parent: u32, child_start: u64) -> Vec<Launcher> {
    let mut launchers = Vec::new();
    let (mut pid, mut before) = (parent, child_start);
    while pid > 1 && launchers.len() < DEPTH_MAX {
        let dir = proc.join(pid.to_string());
        let Some(stat) = Stat::read(&dir.join("stat")) else { break };
        if stat.start_ns > before {
            break;
        }
        launchers.push(Launcher {
            pid,
            comm: stat.comm,
            exe: std::fs::read_link(dir.join("exe")).ok().map(|p| p.display().to_string()),
            argv: std::fs::read(dir.join("cmdline")).map(|bytes| argv(&bytes)).unwrap_or_default(),
        });
        (pid, before) = (stat.ppid, stat.start_ns);
    }
    launchers
}

/// Nanoseconds since boot (CLOCK_BOOTTIME) of a CLOCK_MONOTONIC time
/// `monotonic_ns` seen now; the two clocks differ by the time the machine
/// spent suspended.
pub fn boottime_of(monotonic_ns: u64) -> u64 {
    let now = |clock| {
        nix::time::clock_gettime(clock)
            // Neither clock is ever negative.
            .map_or(0, |t| {
                u64::try_from(t.tv_sec()).unwrap_or(0) * 1_000_000_000
                    + u64::try_from(t.tv_nsec()).unwrap_or(0)
            })
    };
    let boot = now(nix::time::ClockId::CLOCK_BOOTTIME);
    let mono = now(nix::time::ClockId::CLOCK_MONOTONIC);
    monotonic_ns.saturating_add(boot.saturating_sub(mono))
}

/// What the chain needs of `/proc/PID/stat`.
struct Stat {
    comm: String,
    ppid: u32,
    /// Start time since boot, in nanoseconds (the kernel's clock ticks,
    /// rounded down).
    start_ns: u64,
}

impl Stat {
    fn read(path: &Path) -> Option<Stat> {
        Stat::parse(&std::fs::read_to_string(path).ok()?)
    }

    /// `PID (COMM) STATE PPID ... STARTTIME ...`: the comm may hold spaces
    /// and parentheses, so the fields are counted from its last `)`.
    fn parse(text: &str) -> Option<Stat> {
        let (head, rest) = text.rsplit_once(')')?;
        let comm = head.split_once('(')?.1.to_string();
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // Field 4 of proc_pid_stat(5) is the ppid and field 22 the start
        // time; `fields` begins at field 3.
        let ppid = fields.get(1)?.parse().ok()?;
        let ticks: u64 = fields.get(19)?.parse().ok()?;
        Some(Stat { comm, ppid, start_ns: ticks.saturating_mul(1_000_000_000 / clock_ticks()) })
    }
}

fn clock_ticks() -> u64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .and_then(|ticks| u64::try_from(ticks).ok())
        .filter(|&ticks| ticks > 0)
        .unwrap_or(100)
}

/// A NUL-separated command line, capped.
fn argv(bytes: &[u8]) -> Vec<String> {
    bytes
        .split(|&b| b == 0)
        .filter(|arg| !arg.is_empty())
        .take(ARGV_MAX)
        .map(|arg| String::from_utf8_lossy(&arg[..arg.len().min(ARG_MAX)]).into_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_count_from_the_last_parenthesis() {
        let line = "812 (a) b (c)) S 77 812 812 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 4242 1 2";
        let stat = Stat::parse(line).unwrap();
        assert_eq!((stat.comm.as_str(), stat.ppid), ("a) b (c)", 77));
        assert_eq!(stat.start_ns, 4242 * (1_000_000_000 / clock_ticks()));
        assert!(Stat::parse("812 no parenthesis").is_none());
    }

    /// This test's own chain: its parent, and on up, each one started
    /// before the one below it.
    #[test]
    fn the_chain_of_this_process_leads_up_from_its_parent() {
        let me = std::process::id();
        let my_stat = Stat::read(Path::new(&format!("/proc/{me}/stat"))).unwrap();
        let found = chain(Path::new("/proc"), my_stat.ppid, my_stat.start_ns);
        assert_eq!(found.first().map(|l| l.pid), Some(my_stat.ppid));
        assert!(found.iter().all(|l| l.pid > 1 && !l.comm.is_empty()));
        assert!(found[0].exe.is_some(), "{found:?}");
    }

    /// A parent whose start is after its child's is a recycled pid: no
    /// chain at all.
    #[test]
    fn a_parent_younger_than_its_child_is_a_recycled_pid() {
        let me = std::process::id();
        let my_stat = Stat::read(Path::new(&format!("/proc/{me}/stat"))).unwrap();
        assert!(chain(Path::new("/proc"), me, my_stat.start_ns.saturating_sub(1)).is_empty());
        assert_eq!(chain(Path::new("/proc"), me, my_stat.start_ns).len().min(1), 1);
    }

    #[test]
    fn argv_is_capped() {
        let long = [b"a".repeat(1000), vec![0], b"b".to_vec(), vec![0]].concat();
        assert_eq!(argv(&long), vec!["a".repeat(ARG_MAX), "b".into()]);
        let many = b"x\0".repeat(100);
        assert_eq!(argv(&many).len(), ARGV_MAX);
    }
}
