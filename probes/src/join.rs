//! Pairs each exec entry record with its result, so an exec is reported
//! once, with its argv and its return value.

use std::collections::HashMap;

use crate::event::{Detail, Event};

/// Holds exec entries until their result arrives.
#[derive(Default)]
pub struct ExecJoiner {
    pending: HashMap<u32, Event>,
}

impl ExecJoiner {
    /// Feeds one event; returns the events ready to report, in order. An
    /// exec entry is held back until its result; a result completes it.
    pub fn push(&mut self, event: Event) -> Vec<Event> {
        match event.detail {
            Detail::Exec { .. } => {
                // A second entry on the same thread before a result means
                // the first result was lost: report the first as unknown.
                self.pending.insert(event.pid, event).into_iter().collect()
            }
            Detail::ExecResult { ret } => {
                // A successful exec in a multithreaded process continues
                // on the leader's pid: fall back to the thread group.
                let key = if self.pending.contains_key(&event.pid) {
                    Some(event.pid)
                } else {
                    self.pending
                        .iter()
                        .find(|(_, pending)| pending.tgid == event.tgid)
                        .map(|(&pid, _)| pid)
                };
                match key.and_then(|key| self.pending.remove(&key)) {
                    Some(mut entry) => {
                        if let Detail::Exec { ret: slot, .. } = &mut entry.detail {
                            *slot = Some(ret);
                        }
                        // After a successful exec the comm is the new
                        // program's, which is the more useful name.
                        entry.comm = event.comm;
                        vec![entry]
                    }
                    None => vec![event],
                }
            }
            _ => vec![event],
        }
    }

    /// Entries whose result never came (lost, or still executing).
    pub fn finish(&mut self) -> Vec<Event> {
        let mut rest: Vec<Event> = self.pending.drain().map(|(_, event)| event).collect();
        rest.sort_by_key(|event| event.ts_ns);
        rest
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
}
