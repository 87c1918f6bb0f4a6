//! Step mode: the kernel stops a traced task (SIGSTOP, sent by the probe
//! itself) right after the calls chosen here; cradle shows what just
//! happened and what comes next, and resumes the container on Enter. By
//! default it pauses where a container enters a new phase and lets every
//! other stop through at once; `--step=pivot_root,mount` pauses after each
//! call of those kinds instead.
//!
//! Signals go through pidfds, never to a bare pid: a process is opened at
//! first sight (its parent's `task_new` record) and closed at its exit, so
//! a stop or a resume cannot reach an unrelated process that got its pid.

use std::{
    collections::HashMap,
    io::{IsTerminal, Write},
    os::fd::{AsFd, OwnedFd},
    sync::atomic::{AtomicBool, Ordering},
};

use anyhow::{Context, bail};
use cradle_events::{
    Detail, Event,
    abi::EventKind,
    collector::{Collector, Phase, Role},
    explain, kinds,
    printable::printable,
};
use nix::{
    errno::Errno,
    poll::{PollFd, PollFlags, PollTimeout, poll},
    sys::signal::Signal,
};

pub struct Stepper {
    kinds: Vec<EventKind>,
    /// Pause at every stop, not only where a phase begins.
    every_stop: bool,
    explain: bool,
    /// Each container's phase before the event at hand.
    phases: HashMap<usize, Phase>,
    /// Stdin ended: run through without pausing.
    through: bool,
    /// A pidfd for each live process of a container, by tgid.
    pidfds: HashMap<u32, OwnedFd>,
}

impl Stepper {
    /// `at`: event kind names (`pivot_root,mount`), or empty for phases.
    pub fn new(at: &str, explain: bool) -> anyhow::Result<Stepper> {
        let mut kinds = Vec::new();
        for name in at.split(',').map(str::trim).filter(|name| !name.is_empty()) {
            let name = if name == "exec" { "exec_result" } else { name };
            match EventKind::ALL.into_iter().find(|kind| kind.name() == name) {
                Some(kind) => kinds.push(kind),
                None => bail!(
                    "--step: no event kind {name:?} (`cradle explain` lists them; exec, mount, pivot_root, ...)"
                ),
            }
        }
        hear_interrupts()?;
        let every_stop = !kinds.is_empty();
        if !every_stop {
            kinds = kinds::step_kinds().collect();
        }
        Ok(Stepper {
            kinds,
            every_stop,
            explain,
            phases: HashMap::new(),
            through: false,
            pidfds: HashMap::new(),
        })
    }

    /// What the kernel is to stop after.
    pub fn kinds(&self) -> Vec<EventKind> {
        self.kinds.clone()
    }

    /// Called with each event once it is shown: if the kernel stopped its
    /// task, pauses when this is a step, then resumes the task. `ask` shows
    /// the pause's lines and waits for the user; it says whether to go on
    /// pausing (false: stdin closed, or the UI quit).
    pub fn after(
        &mut self,
        event: &Event,
        collector: &Collector,
        ask: impl FnOnce(Vec<String>) -> anyhow::Result<bool>,
    ) -> anyhow::Result<()> {
        self.follow_processes(event, collector);
        let before =
            event.owner.as_ref().and_then(|owner| self.phases.get(&owner.container)).copied();
        if let Some(owner) = &event.owner {
            self.phases.insert(owner.container, owner.phase);
        }
        if !event.stopped {
            if self.missed_stop(event) {
                tracing::warn!(
                    pid = event.tgid,
                    "the kernel did not stop the task after {}; not pausing there",
                    event.detail.describe()
                );
            }
            return Ok(());
        }
        // The birth's phases, up to the workload's exec: what the workload
        // then does is its own business, whichever of its calls happens
        // to open "Running" (a prctl where the kernel has no capability
        // probe to report a check first).
        let begins_phase = match &event.owner {
            Some(owner) => {
                owner.phase <= Phase::WorkloadExec
                    && before.is_none_or(|before| owner.phase > before)
            }
            None => false,
        };
        let pause = !self.through && (self.every_stop || begins_phase);
        // The kernel stopped this task as it sent the record: until it is
        // resumed it cannot exit, so its pid is still its own.
        if !self.pidfds.contains_key(&event.tgid)
            && let Some(pidfd) = open_pidfd(event.tgid)
        {
            self.pidfds.insert(event.tgid, pidfd);
        }
        let mut frozen = vec![event.tgid];
        if pause {
            // The record arrives as the call returns; the stop lands a
            // moment later, on the way back to user mode.
            wait_until_stopped(event.tgid);
            // Freeze the rest of the container too: its other processes
            // would go on building it while we wait. Not the runtime
            // command: `runc run`, `crun run` and `cradle run` pass the
            // SIGCONT that resumes them on to the container's init, late
            // enough to cancel the init's next stop. While the init works,
            // the runtime mostly waits on it.
            if let Some(owner) = &event.owner {
                for (pid, role) in collector.processes_of(owner.container) {
                    if pid != event.tgid
                        && role != Role::Runtime
                        && self.signal(pid, Signal::SIGSTOP)
                    {
                        frozen.push(pid);
                    }
                }
            }
            self.through = !ask(self.pause_lines(event, begins_phase))?;
        }
        for pid in frozen {
            self.signal(pid, Signal::SIGCONT);
        }
        if !collector.knows(event.tgid) {
            self.pidfds.remove(&event.tgid);
        }
        Ok(())
    }

    /// Opens a new process of a container at its parent's `task_new`
    /// record, and closes a process's pidfd once it exited.
    fn follow_processes(&mut self, event: &Event, collector: &Collector) {
        match &event.detail {
            Detail::TaskNew { child_tgid, .. }
                if *child_tgid != event.tgid && collector.knows(*child_tgid) =>
            {
                // A pidfd left from an earlier process under this pid is stale.
                self.pidfds.remove(child_tgid);
                if let Some(pidfd) = open_pidfd(*child_tgid)
                    .filter(|_| child_of(*child_tgid, &[event.tgid, event.ppid]))
                {
                    self.pidfds.insert(*child_tgid, pidfd);
                }
            }
            Detail::TaskExit { .. } if !collector.knows(event.tgid) => {
                self.pidfds.remove(&event.tgid);
            }
            _ => {}
        }
    }

    /// Signals process `tgid` through its pidfd; false if there is none
    /// or the process is gone.
    fn signal(&self, tgid: u32, signal: Signal) -> bool {
        let Some(pidfd) = self.pidfds.get(&tgid) else { return false };
        let Some(signal) = rustix::process::Signal::from_named_raw(signal as i32) else {
            return false;
        };
        rustix::process::pidfd_send_signal(pidfd, signal).is_ok()
    }

    /// Whether the kernel should have stopped the task after this event
    /// (a successful exec, or a call of a kind asked for) but could not.
    fn missed_stop(&self, event: &Event) -> bool {
        let kind = match &event.detail {
            Detail::Exec { ret: Some(0), .. } | Detail::ExecResult { ret: 0 } => {
                EventKind::ExecResult
            }
            Detail::Exec { .. } | Detail::ExecResult { .. } => return false,
            detail => detail.kind(),
        };
        self.kinds.contains(&kind)
    }

    /// What a pause says: who stopped after what; at a phase boundary,
    /// the phase that began and the next one.
    fn pause_lines(&self, event: &Event, begins_phase: bool) -> Vec<String> {
        let mut lines = vec![format!(
            "paused: {}[{}] is stopped after {}",
            printable(&event.comm),
            event.tgid,
            event.detail.describe()
        )];
        if let Some(owner) = event.owner.as_ref().filter(|_| begins_phase) {
            lines.push(format!("{}: {} has begun.", printable(&owner.id), owner.phase.title()));
            if let Some(next) = Phase::ALL.into_iter().find(|phase| *phase > owner.phase) {
                lines.push(format!("Next: {}.", next.title()));
                if self.explain {
                    lines.push(explain::phase(next).what.to_string());
                }
            }
        }
        lines
    }
}

/// Shows a pause on stderr and waits for Enter on stdin; false once stdin
/// is closed (then the run goes on without pausing).
pub fn ask_on_terminal(lines: Vec<String>) -> anyhow::Result<bool> {
    let mut err = std::io::stderr().lock();
    for (index, line) in lines.iter().enumerate() {
        let lead = if index == 0 { "\n>> " } else { "   " };
        writeln!(err, "{lead}{line}")?;
    }
    write!(err, "   [Enter] to continue ")?;
    err.flush()?;
    let answer = wait_for_enter()?;
    if !std::io::stdin().is_terminal() {
        // Nothing echoed the Enter: end the prompt's line ourselves.
        writeln!(err)?;
    }
    match answer {
        Answer::Enter => return Ok(true),
        Answer::Closed => writeln!(err, "\n   (stdin closed: running to the end without pausing)")?,
        Answer::Interrupted => {
            writeln!(err, "\n   (interrupted: running to the end without pausing)")?
        }
    }
    Ok(false)
}

enum Answer {
    Enter,
    Closed,
    Interrupted,
}

/// Reads stdin up to a newline, a byte at a time (what is typed after it
/// is left for the next pause), and gives up when cradle is interrupted.
fn wait_for_enter() -> anyhow::Result<Answer> {
    let stdin = std::io::stdin();
    loop {
        if interrupted() {
            return Ok(Answer::Interrupted);
        }
        let mut fds = [PollFd::new(stdin.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::from(100u16)) {
            Ok(0) | Err(Errno::EINTR) => continue,
            Ok(_) => {}
            Err(errno) => return Err(errno).context("waiting for Enter on stdin"),
        }
        let mut byte = [0u8];
        match nix::unistd::read(&stdin, &mut byte) {
            Ok(0) => return Ok(Answer::Closed),
            Ok(_) if byte[0] == b'\n' => return Ok(Answer::Enter),
            Ok(_) | Err(Errno::EINTR | Errno::EAGAIN) => {}
            Err(errno) => return Err(errno).context("reading stdin"),
        }
    }
}

/// Set once cradle is asked to stop (SIGINT, SIGTERM, SIGHUP): a pause
/// waiting for the user gives up, and the run goes on without pausing. The
/// session hears the same signals and acts on them once the pause is over.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Whether cradle was asked to stop since step mode began.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

fn hear_interrupts() -> anyhow::Result<()> {
    for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: the action only stores to an atomic, which is
        // async-signal-safe; the registry chains it with tokio's own.
        unsafe {
            signal_hook_registry::register(signal, || INTERRUPTED.store(true, Ordering::SeqCst))
        }
        .with_context(|| format!("listening for signal {signal}"))?;
    }
    Ok(())
}

/// Waits (at most a second) until `pid` is in the stopped state.
fn wait_until_stopped(pid: u32) {
    let path = format!("/proc/{pid}/stat");
    for _ in 0..1000 {
        let Ok(stat) = std::fs::read_to_string(&path) else { return };
        let state = stat.rsplit_once(')').and_then(|(_, rest)| rest.trim_start().chars().next());
        if state == Some('T') {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    tracing::warn!(pid, "the stopped process did not stop within a second");
}

/// A pidfd for the process that has pid `tgid` now.
fn open_pidfd(tgid: u32) -> Option<OwnedFd> {
    let pid = rustix::process::Pid::from_raw(i32::try_from(tgid).ok()?)?;
    rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()).ok()
}

/// Whether the process at pid `tgid` was created by one of `parents`
/// (runc's init stages are made with CLONE_PARENT: their parent is the
/// creator's). Read after its pidfd was opened: if it holds, the pidfd is
/// the child the `task_new` record named and not a later process that got
/// its pid once it exited, for a stranger has a parent of its own.
fn child_of(tgid: u32, parents: &[u32]) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{tgid}/stat")) else { return false };
    let ppid = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().nth(1))
        .and_then(|ppid| ppid.parse::<u32>().ok());
    ppid.is_some_and(|ppid| parents.contains(&ppid))
}
