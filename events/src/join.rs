//! Joins the records that report one call in two halves.
//!
//! Each exec entry record is paired with its result, so an exec is
//! reported once, with its argv and its return value. What the process does
//! while the exec runs (capability checks, the scheduler's switch) is held
//! back and reported after the joined exec: it is part of that call, and a
//! runtime's exec must come before anything attributed to its container.
//!
//! Each new-link request is paired with the kernel's answer, which the
//! process receives on the socket right after sending: the answer is the
//! request's real result. A request is held until its answer, or until its
//! process records anything else (a request without `NLM_F_ACK` that
//! succeeds gets no answer), so holding never reorders a process's events.

use std::collections::HashMap;

use crate::event::{Detail, Event};

/// Joins exec entries to their results and link requests to their answers.
#[derive(Default)]
pub struct Joiner {
    exec: ExecJoin,
    links: AnswerJoin,
    /// What the exec stage let through, on its way to the link stage:
    /// reused, so that joining allocates nothing per event.
    staged: Vec<Event>,
}

impl Joiner {
    /// Feeds one event; returns the events ready to report, in order.
    pub fn push(&mut self, event: Event) -> Vec<Event> {
        let mut ready = Vec::new();
        self.push_into(event, &mut ready);
        ready
    }

    /// Feeds one event; appends the events ready to report to `ready`, in
    /// order. The form for hot loops: `ready` can be reused.
    pub fn push_into(&mut self, event: Event, ready: &mut Vec<Event>) {
        self.exec.push(event, &mut self.staged);
        for event in self.staged.drain(..) {
            self.links.push(event, ready);
        }
    }

    /// Everything still held, at the end of the trace: exec entries whose
    /// result never came, requests whose answer never came.
    pub fn finish(&mut self) -> Vec<Event> {
        let mut ready = Vec::new();
        self.exec.finish(&mut self.staged);
        for event in self.staged.drain(..) {
            self.links.push(event, &mut ready);
        }
        self.links.finish(&mut ready);
        ready
    }
}

/// Holds each process's link request until the kernel's answer.
#[derive(Default)]
struct AnswerJoin {
    /// By tgid: any thread of the process may read the answer.
    pending: HashMap<u32, Event>,
}

impl AnswerJoin {
    fn push(&mut self, event: Event, ready: &mut Vec<Event>) {
        if !self.pending.is_empty()
            && let Some(mut request) = self.pending.remove(&event.tgid)
        {
            if let (
                Detail::NewLinkAnswer { seq, error },
                Detail::NewLink { seq: asked, answer, .. },
            ) = (&event.detail, &mut request.detail)
                && seq == asked
            {
                *answer = Some(*error);
                ready.push(request);
                return;
            }
            ready.push(request);
        }
        // A request the socket refused (negative `ret`) gets no answer.
        if matches!(event.detail, Detail::NewLink { ret: 0.., .. }) {
            self.pending.insert(event.tgid, event);
        } else {
            ready.push(event);
        }
    }

    fn finish(&mut self, ready: &mut Vec<Event>) {
        let start = ready.len();
        ready.extend(self.pending.drain().map(|(_, request)| request));
        ready[start..].sort_by_key(|request| request.ts_ns);
    }
}

/// Holds exec entries, and their process's events, until the result.
#[derive(Default)]
struct ExecJoin {
    /// By tgid: a successful exec in a multithreaded process returns on
    /// the leader's pid, not the caller's.
    pending: HashMap<u32, PendingExec>,
}

struct PendingExec {
    entry: Event,
    during: Vec<Event>,
}

impl ExecJoin {
    fn push(&mut self, event: Event, ready: &mut Vec<Event>) {
        match event.detail {
            Detail::Exec { .. } => {
                // A second entry before a result means the first result
                // was lost: report the first as unknown.
                let pending = PendingExec { entry: event, during: Vec::new() };
                if let Some(earlier) = self.pending.insert(pending.entry.tgid, pending) {
                    earlier.append_to(ready);
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
                    pending.entry.stopped = event.stopped;
                    pending.entry.untrusted_runtime = event.untrusted_runtime;
                    pending.entry.unprivileged = event.unprivileged;
                    pending.append_to(ready);
                }
                None => ready.push(event),
            },
            _ if self.pending.is_empty() => ready.push(event),
            _ => match self.pending.get_mut(&event.tgid) {
                Some(pending) => pending.during.push(event),
                None => ready.push(event),
            },
        }
    }

    /// Entries whose result never came (lost, or still executing), with
    /// what their processes did meanwhile.
    fn finish(&mut self, ready: &mut Vec<Event>) {
        let mut rest: Vec<PendingExec> = self.pending.drain().map(|(_, pending)| pending).collect();
        rest.sort_by_key(|pending| pending.entry.ts_ns);
        for pending in rest {
            pending.append_to(ready);
        }
    }
}

impl PendingExec {
    fn append_to(self, ready: &mut Vec<Event>) {
        ready.push(self.entry);
        ready.extend(self.during);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(pid: u32, tgid: u32, comm: &str, detail: Detail) -> Event {
        Event::of_task(pid, tgid, comm, detail)
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
        let mut joiner = Joiner::default();
        assert!(joiner.push(event(5, 5, "sh", exec())).is_empty());
        let out = joiner.push(event(5, 5, "true", Detail::ExecResult { ret: 0 }));
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].comm, "true");
        assert!(matches!(out[0].detail, Detail::Exec { ret: Some(0), .. }));
        assert!(joiner.finish().is_empty());
    }

    #[test]
    fn a_joined_exec_is_stopped_when_its_result_says_so() {
        let mut joiner = Joiner::default();
        for stopped in [false, true] {
            joiner.push(event(5, 5, "sh", exec()));
            let result = Event { stopped, ..event(5, 5, "true", Detail::ExecResult { ret: 0 }) };
            assert_eq!(joiner.push(result)[0].stopped, stopped);
        }
    }

    #[test]
    fn joins_a_thread_exec_on_the_leader_pid() {
        let mut joiner = Joiner::default();
        joiner.push(event(7, 5, "worker", exec()));
        let out = joiner.push(event(5, 5, "true", Detail::ExecResult { ret: 0 }));
        assert!(matches!(out[0].detail, Detail::Exec { ret: Some(0), .. }));
    }

    #[test]
    fn unmatched_results_and_entries_are_kept() {
        let mut joiner = Joiner::default();
        let out = joiner.push(event(9, 9, "x", Detail::ExecResult { ret: -2 }));
        assert!(matches!(out[0].detail, Detail::ExecResult { ret: -2 }));
        joiner.push(event(3, 3, "sh", exec()));
        let first_lost = joiner.push(event(3, 3, "sh", exec()));
        assert!(matches!(first_lost[0].detail, Detail::Exec { ret: None, .. }));
        assert_eq!(joiner.finish().len(), 1);
    }

    #[test]
    fn events_during_an_exec_follow_the_joined_exec() {
        let mut joiner = Joiner::default();
        assert!(joiner.push(event(5, 5, "sh", exec())).is_empty());
        let check = Detail::CapCapable { cap: 21, cap_name: None, ret: 0 };
        assert!(joiner.push(event(5, 5, "sh", check)).is_empty(), "held during the exec");
        let other = joiner.push(event(6, 6, "other", Detail::TaskExit { exit_code: 0 }));
        assert_eq!(other.len(), 1, "other processes pass straight through");
        let out = joiner.push(event(5, 5, "true", Detail::ExecResult { ret: 0 }));
        let kinds: Vec<&str> = out.iter().map(|e| e.detail.kind_name()).collect();
        assert_eq!(kinds, ["exec", "cap_capable"]);
    }

    fn link_request(seq: u32, ret: i64) -> Detail {
        Detail::NewLink {
            link_kind: Some("veth".into()),
            link: Default::default(),
            peer: None,
            ret,
            seq,
            answer: None,
            moved_ifindex: None,
        }
    }

    fn answer_of(event: &Event) -> Option<i32> {
        match event.detail {
            Detail::NewLink { answer, .. } => answer,
            _ => panic!("not a link request: {event:?}"),
        }
    }

    #[test]
    fn joins_a_link_request_and_its_answer() {
        let mut joiner = Joiner::default();
        assert!(joiner.push(event(5, 5, "ip", link_request(7, 60))).is_empty());
        let answer = Detail::NewLinkAnswer { seq: 7, error: -17 };
        let out = joiner.push(event(6, 5, "ip", answer));
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(answer_of(&out[0]), Some(-17));
        assert!(joiner.finish().is_empty());
    }

    #[test]
    fn a_request_is_held_only_until_its_process_does_something_else() {
        let mut joiner = Joiner::default();
        joiner.push(event(5, 5, "ip", link_request(7, 60)));
        let other = joiner.push(event(6, 6, "other", Detail::TaskExit { exit_code: 0 }));
        assert_eq!(other.len(), 1, "other processes pass straight through");
        let out = joiner.push(event(5, 5, "ip", Detail::TaskExit { exit_code: 0 }));
        let kinds: Vec<&str> = out.iter().map(|e| e.detail.kind_name()).collect();
        assert_eq!(kinds, ["new_link", "task_exit"]);
        assert_eq!(answer_of(&out[0]), None);
    }

    #[test]
    fn answers_to_other_requests_and_refused_sends_stay_apart() {
        let mut joiner = Joiner::default();
        joiner.push(event(5, 5, "ip", link_request(7, 60)));
        let out = joiner.push(event(5, 5, "ip", Detail::NewLinkAnswer { seq: 8, error: 0 }));
        let kinds: Vec<&str> = out.iter().map(|e| e.detail.kind_name()).collect();
        assert_eq!(kinds, ["new_link", "new_link_answer"]);
        // A send that failed is never answered: nothing to wait for.
        assert_eq!(joiner.push(event(5, 5, "ip", link_request(9, -1))).len(), 1);
        joiner.push(event(5, 5, "ip", link_request(10, 60)));
        assert_eq!(answer_of(&joiner.finish()[0]), None);
    }
}
