//! Loss in the kernel's ring buffer, found from the records that did
//! arrive: each CPU numbers its records, so a gap is a loss.

use crate::event::Event;

/// Finds where the kernel dropped records: each record takes its CPU's next
/// sequence number before it is reserved, so a record lost to a full ring
/// leaves a gap in its CPU's sequence. Fed the raw records in ring order
/// (before any joining), it says after which time records were lost, so
/// the loss can be tied to the containers alive then.
#[derive(Default)]
pub struct LossTracker {
    /// Per CPU: the next sequence number expected, and the time of the
    /// last record seen.
    cpus: std::collections::HashMap<u32, (u64, u64)>,
}

impl LossTracker {
    /// Takes one record; `Some(since_ns)` when records of its CPU were lost
    /// between the previous one (at `since_ns`) and it.
    pub fn observe(&mut self, event: &Event) -> Option<u64> {
        let entry = self.cpus.entry(event.cpu).or_insert((event.seq, event.ts_ns));
        let (next, last_ns) = *entry;
        // A lower number is a record that was reserved late (its program was
        // preempted on this CPU): not a loss.
        if event.seq < next {
            return None;
        }
        *entry = (event.seq + 1, event.ts_ns);
        (event.seq > next).then_some(last_ns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Detail;

    fn record(cpu: u32, seq: u64, ts_ns: u64) -> Event {
        Event { cpu, seq, ts_ns, ..Event::of_task(1, 1, "x", Detail::ExecResult { ret: 0 }) }
    }

    #[test]
    fn a_gap_in_a_cpus_sequence_is_a_loss_since_its_last_record() {
        let mut tracker = LossTracker::default();
        assert_eq!(tracker.observe(&record(0, 10, 100)), None, "the first record sets the start");
        assert_eq!(tracker.observe(&record(1, 3, 110)), None, "each CPU counts on its own");
        assert_eq!(tracker.observe(&record(0, 11, 120)), None);
        assert_eq!(tracker.observe(&record(0, 14, 130)), Some(120), "12 and 13 were lost");
        assert_eq!(tracker.observe(&record(0, 13, 131)), None, "a late record is no loss");
    }
}
