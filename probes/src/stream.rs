//! Reading the ring buffer: records are decoded as they are consumed, and a
//! record that does not decode is counted and skipped. The raw records can
//! be taken undecoded instead, to record a stream for replay.

use std::os::fd::AsRawFd;

use aya::maps::{MapData, RingBuf};
use tokio::io::{Interest, unix::AsyncFd};

use cradle_events::{decode::decode, event::Event};

/// The events of loaded probes, in ring-buffer order.
pub struct EventStream {
    ring: AsyncFd<RingBuf<MapData>>,
    decode_errors: u64,
}

impl EventStream {
    /// Must be called within a tokio runtime.
    pub(crate) fn new(ring: RingBuf<MapData>) -> std::io::Result<EventStream> {
        // SAFETY: the ring buffer owns its map fd, which stays open and
        // unchanged until the ring (owned by the AsyncFd) is dropped.
        let ring = unsafe { AsyncFd::register_with_interest(ring, Interest::READABLE) }?;
        Ok(EventStream { ring, decode_errors: 0 })
    }

    /// Records that arrived but could not be decoded.
    pub fn decode_errors(&self) -> u64 {
        self.decode_errors
    }

    /// Waits until at least one record is available, then appends every
    /// available event to `out`.
    pub async fn next_batch(&mut self, out: &mut Vec<Event>) -> std::io::Result<()> {
        let mut errors = 0;
        let result = self.next_records(|record| push_decoded(record, out, &mut errors)).await;
        self.decode_errors += errors;
        result
    }

    /// Appends every event available now, without waiting.
    pub fn drain(&mut self, out: &mut Vec<Event>) -> u64 {
        let mut errors = 0;
        let read = drain_ring(self.ring.get_mut(), |record| push_decoded(record, out, &mut errors));
        self.decode_errors += errors;
        read
    }

    /// Waits until at least one record is available, then hands the bytes
    /// of every available record, undecoded, to `sink`.
    pub async fn next_raw_batch(&mut self, sink: impl FnMut(&[u8])) -> std::io::Result<()> {
        self.next_records(sink).await
    }

    /// Hands the bytes of every record available now, undecoded, to
    /// `sink`, without waiting; returns how many there were.
    pub fn drain_raw(&mut self, sink: impl FnMut(&[u8])) -> u64 {
        drain_ring(self.ring.get_mut(), sink)
    }

    /// The ring buffer's file descriptor, for callers with their own poll loop.
    pub fn raw_fd(&self) -> i32 {
        self.ring.get_ref().as_raw_fd()
    }

    /// Cancel-safe: records are consumed only by the synchronous drains,
    /// which complete before any await.
    async fn next_records(&mut self, mut on_record: impl FnMut(&[u8])) -> std::io::Result<()> {
        loop {
            if drain_ring(self.ring.get_mut(), &mut on_record) > 0 {
                return Ok(());
            }
            // The probes wake us only when the ring fills or a task stops
            // (probes-ebpf/src/emit.rs): otherwise look again after a while.
            tokio::select! {
                guard = self.ring.readable_mut() => guard?.clear_ready(),
                () = tokio::time::sleep(DRAIN_PERIOD) => {}
            }
        }
    }
}

/// How often the ring is drained when the probes do not wake the reader:
/// short enough for a live timeline, long enough that a container's start
/// costs a handful of wake-ups rather than one per record.
const DRAIN_PERIOD: std::time::Duration = std::time::Duration::from_millis(10);

fn push_decoded(record: &[u8], out: &mut Vec<Event>, errors: &mut u64) {
    match decode(record) {
        Ok(event) => out.push(event),
        Err(err) => {
            *errors += 1;
            tracing::debug!(%err, "skipping undecodable record");
        }
    }
}

/// Consumes every available record; returns how many were read.
fn drain_ring(ring: &mut RingBuf<MapData>, mut on_record: impl FnMut(&[u8])) -> u64 {
    let mut read = 0;
    while let Some(record) = ring.next() {
        read += 1;
        on_record(&record);
    }
    read
}
