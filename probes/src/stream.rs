//! Reading the ring buffer: records are decoded as they are consumed, and a
//! record that does not decode is counted and skipped.

use std::os::fd::AsRawFd;

use aya::maps::{MapData, RingBuf};
use tokio::io::{Interest, unix::AsyncFd};

use crate::{decode::decode, event::Event};

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
        loop {
            let mut guard = self.ring.readable_mut().await?;
            let (read, errors) = drain_ring(guard.get_inner_mut(), out);
            guard.clear_ready();
            // A record committed between the drain and clear_ready would
            // not wake us again: look once more.
            let (read_again, errors_again) = drain_ring(guard.get_inner_mut(), out);
            self.decode_errors += errors + errors_again;
            if read + read_again > 0 {
                return Ok(());
            }
        }
    }

    /// Appends every event available now, without waiting.
    pub fn drain(&mut self, out: &mut Vec<Event>) -> u64 {
        let (read, errors) = drain_ring(self.ring.get_mut(), out);
        self.decode_errors += errors;
        read
    }

    /// The ring buffer's file descriptor, for callers with their own poll loop.
    pub fn raw_fd(&self) -> i32 {
        self.ring.get_ref().as_raw_fd()
    }
}

/// Consumes every available record; returns (records read, decode errors).
fn drain_ring(ring: &mut RingBuf<MapData>, out: &mut Vec<Event>) -> (u64, u64) {
    let (mut read, mut errors) = (0, 0);
    while let Some(record) = ring.next() {
        read += 1;
        match decode(&record) {
            Ok(event) => out.push(event),
            Err(err) => {
                errors += 1;
                tracing::debug!(%err, "skipping undecodable record");
            }
        }
    }
    (read, errors)
}
