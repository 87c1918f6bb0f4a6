//! Pairs each exec entry record with its result, so an exec is reported
//! once, with its argv and its return value. What the process does while
//! the exec runs (capability checks, the scheduler's switch) is held back
//! and reported after the joined exec: it is part of that call, and a
//! runtime's exec must come before anything attributed to its container.

use std::collections::HashMap;

use crate::event::{Detail, Event};

/// Holds exec entries, and their process's events, until the result.
#[derive(Default)]
pub struct ExecJoiner {
    /// By tgid: a successful exec in a multithreaded process returns on
    /// the leader's pid, not the caller's.
    pending: HashMap<u32, PendingExec>,
}

struct PendingExec {
    entry: Event,
    during: Vec<Event>,
}

impl ExecJoiner {
    /// Feeds one event; returns the events ready to report, in order.
    pub fn push(&mut self, event: Event) -> Vec<Event> {
        match event.detail {
            Detail::Exec { .. } => {
                // A second entry before a result means the first result
                // was lost: report the first as unknown.
                let pending = PendingExec { entry: event, during: Vec::new() };
                match self.pending.insert(pending.entry.tgid, pending) {
                    Some(earlier) => earlier.into_events(),
                    None => Vec::new(),
                }
            }
            Detail::ExecResult { ret } => match self.pending.remove(&event.tgid) {
                Some(mut pending) => {
                    if let Detail::Exec { ret: slot, .. } = &mut pending.entry.detail {
                        *slot = Some(ret);
                    }
                    // After a successful exec the comm is the new
                    // program's, which is the more useful name.
                    pending.entry.comm = event.comm;
                    pending.into_events()
                }
                None => vec![event],
            },
            _ => match self.pending.get_mut(&event.tgid) {
                Some(pending) => {
                    pending.during.push(event);
                    Vec::new()
                }
                None => vec![event],
            },
        }
    }

    /// Entries whose result never came (lost, or still executing), with
    /// what their processes did meanwhile.
    pub fn finish(&mut self) -> Vec<Event> {
        let mut rest: Vec<PendingExec> = self.pending.drain().map(|(_, pending)| pending).collect();
        rest.sort_by_key(|pending| pending.entry.ts_ns);
        rest.into_iter().flat_map(PendingExec::into_events).collect()
    }
}

impl PendingExec {
    fn into_events(self) -> Vec<Event> {
        let mut events = Vec::with_capacity(1 + self.during.len());
        events.push(self.entry);
        events.extend(self.during);
        events
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(pid: u32, tgid: u32, comm: &str, detail: Detail) -> Event {
        Event {
            seq: 0,
            cpu: 0,
            ts_ns: 0,
            pid,
            tgid,
            ppid: 1,
            comm: comm.into(),
            cgroup_id: 0,
            mnt_ns: 0,
            pid_ns: 0,
            truncated: false,
            owner: None,
            detail,
        }
    }

    fn exec() -> Detail {
        Detail::Exec {
            filename: "/bin/true".into(),
            argv: vec!["true".into()],
            argv_truncated: false,
            filename_truncated: false,
            at: false,
            ret: None,
        }
    }

    #[test]
    fn joins_entry_and_result() {
        let mut joiner = ExecJoiner::default();
        assert!(joiner.push(event(5, 5, "sh", exec())).is_empty());
        let out = joiner.push(event(5, 5, "true", Detail::ExecResult { ret: 0 }));
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].comm, "true");
        assert!(matches!(out[0].detail, Detail::Exec { ret: Some(0), .. }));
        assert!(joiner.finish().is_empty());
    }

    #[test]
    fn joins_a_thread_exec_on_the_leader_pid() {
        let mut joiner = ExecJoiner::default();
        joiner.push(event(7, 5, "worker", exec()));
        let out = joiner.push(event(5, 5, "true", Detail::ExecResult { ret: 0 }));
        assert!(matches!(out[0].detail, Detail::Exec { ret: Some(0), .. }));
    }

    #[test]
    fn unmatched_results_and_entries_are_kept() {
        let mut joiner = ExecJoiner::default();
        let out = joiner.push(event(9, 9, "x", Detail::ExecResult { ret: -2 }));
        assert!(matches!(out[0].detail, Detail::ExecResult { ret: -2 }));
        joiner.push(event(3, 3, "sh", exec()));
        let first_lost = joiner.push(event(3, 3, "sh", exec()));
        assert!(matches!(first_lost[0].detail, Detail::Exec { ret: None, .. }));
        assert_eq!(joiner.finish().len(), 1);
    }

    #[test]
    fn events_during_an_exec_follow_the_joined_exec() {
        let mut joiner = ExecJoiner::default();
        assert!(joiner.push(event(5, 5, "sh", exec())).is_empty());
        let check = Detail::CapCapable { cap: 21, cap_name: None, ret: 0 };
        assert!(joiner.push(event(5, 5, "sh", check)).is_empty(), "held during the exec");
        let other = joiner.push(event(6, 6, "other", Detail::TaskExit { exit_code: 0 }));
        assert_eq!(other.len(), 1, "other processes pass straight through");
        let out = joiner.push(event(5, 5, "true", Detail::ExecResult { ret: 0 }));
        let kinds: Vec<&str> = out.iter().map(|e| e.detail.kind_name()).collect();
        assert_eq!(kinds, ["exec", "cap_capable"]);
    }
}
