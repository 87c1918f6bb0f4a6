//! Measurements the status bar shows and a session can report: the rate of
//! arriving events and the time each frame took to render.

use std::{
    collections::VecDeque,
    time::{Duration, Instant},
};

use serde::Serialize;

/// Events per second over the last second.
#[derive(Default)]
pub struct Rate {
    arrivals: VecDeque<(Instant, u64)>,
    total: u64,
}

impl Rate {
    pub fn add(&mut self, now: Instant, count: u64) {
        if count == 0 {
            return;
        }
        self.total += count;
        while self.arrivals.front().is_some_and(|(at, _)| now.duration_since(*at).as_secs() >= 1) {
            self.arrivals.pop_front();
        }
        match self.arrivals.back_mut() {
            // Batches within a few milliseconds share a slot.
            Some((at, n)) if now.duration_since(*at) < Duration::from_millis(10) => *n += count,
            _ => self.arrivals.push_back((now, count)),
        }
    }

    pub fn per_second(&self, now: Instant) -> u64 {
        self.arrivals
            .iter()
            .filter(|(at, _)| now.saturating_duration_since(*at) < Duration::from_secs(1))
            .map(|(_, n)| n)
            .sum()
    }

    pub fn total(&self) -> u64 {
        self.total
    }
}

/// Render time of every frame.
#[derive(Default)]
pub struct FrameTimes {
    micros: Vec<u32>,
}

impl FrameTimes {
    pub fn record(&mut self, took: Duration) {
        self.micros.push(u32::try_from(took.as_micros()).unwrap_or(u32::MAX));
    }

    pub fn last(&self) -> Option<Duration> {
        self.micros.last().map(|&us| Duration::from_micros(us.into()))
    }

    pub fn max(&self) -> Option<Duration> {
        self.micros.iter().max().map(|&us| Duration::from_micros(us.into()))
    }

    pub fn summary(&self) -> FrameSummary {
        let mut sorted = self.micros.clone();
        sorted.sort_unstable();
        let ms = |us: u32| f64::from(us) / 1000.0;
        let percentile = |p: usize| {
            sorted.get((sorted.len() * p / 100).min(sorted.len().saturating_sub(1))).copied()
        };
        FrameSummary {
            frames: sorted.len() as u64,
            mean_ms: if sorted.is_empty() {
                0.0
            } else {
                sorted.iter().map(|&us| ms(us)).sum::<f64>() / sorted.len() as f64
            },
            p50_ms: percentile(50).map_or(0.0, ms),
            p95_ms: percentile(95).map_or(0.0, ms),
            max_ms: sorted.last().copied().map_or(0.0, ms),
        }
    }
}

/// What a TUI session measured, as written to a report file.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct FrameSummary {
    pub frames: u64,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub max_ms: f64,
}

/// The end of a TUI session: its frame times and the counters it showed.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Report {
    pub frame: FrameSummary,
    /// Events the UI received.
    pub events: u64,
    /// The lost-event count on screen when the UI closed.
    pub lost: u64,
    /// Whether the trace's trailer had arrived (live) or was in the file.
    pub trailer_seen: bool,
}
