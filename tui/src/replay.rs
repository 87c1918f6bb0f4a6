//! Playing a saved trace back: a clock in trace time that runs at a chosen
//! speed while playing, and seeks by rebuilding the model up to a point.

use std::time::{Duration, Instant};

use cradle_events::Event;

use crate::model::Model;

/// Slowest and fastest playback, as a factor of real time.
const MIN_SPEED: f64 = 1.0 / 4096.0;
const MAX_SPEED: f64 = 1024.0;
/// A quiet stretch of the trace longer than this (in wall time, at the
/// current speed) is skipped: a `watch` trace can be idle for minutes.
const MAX_WAIT: Duration = Duration::from_secs(1);

pub struct Player {
    events: Vec<Event>,
    /// How many of `events` the model holds.
    position: usize,
    playing: bool,
    speed: f64,
    /// Playback time, CLOCK_MONOTONIC nanoseconds of the trace.
    clock_ns: u64,
    last_tick: Option<Instant>,
}

impl Player {
    /// A player over `events`, positioned at the end with everything shown
    /// and paused: a replay opens on the whole trace.
    pub fn new(events: Vec<Event>, model: &mut Model) -> Player {
        let mut player = Player {
            clock_ns: events.first().map_or(0, |e| e.ts_ns),
            events,
            position: 0,
            playing: false,
            // Container births take tens of milliseconds: a hundredth of
            // real time makes them last seconds.
            speed: 0.01,
            last_tick: None,
        };
        player.seek_to(u64::MAX, model);
        player
    }

    pub fn playing(&self) -> bool {
        self.playing
    }

    pub fn speed(&self) -> f64 {
        self.speed
    }

    pub fn position(&self) -> usize {
        self.position
    }

    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    pub fn at_end(&self) -> bool {
        self.position == self.events.len()
    }

    fn first_ns(&self) -> u64 {
        self.events.first().map_or(0, |e| e.ts_ns)
    }

    fn last_ns(&self) -> u64 {
        self.events.last().map_or(0, |e| e.ts_ns)
    }

    /// Playback time since the first event.
    pub fn elapsed_ns(&self) -> u64 {
        self.clock_ns.saturating_sub(self.first_ns())
    }

    /// The trace's length, first event to last.
    pub fn span_ns(&self) -> u64 {
        self.last_ns().saturating_sub(self.first_ns())
    }

    /// Play or pause; playing from the end starts over.
    pub fn toggle(&mut self, model: &mut Model) {
        if self.playing {
            self.playing = false;
        } else {
            if self.at_end() {
                self.seek_to(0, model);
            }
            self.playing = true;
            self.last_tick = None;
        }
    }

    pub fn faster(&mut self) {
        self.speed = (self.speed * 2.0).min(MAX_SPEED);
    }

    pub fn slower(&mut self) {
        self.speed = (self.speed / 2.0).max(MIN_SPEED);
    }

    /// Advances the clock by the wall time since the last tick and applies
    /// the events it passed. Returns whether anything changed.
    pub fn tick(&mut self, now: Instant, model: &mut Model) -> bool {
        if !self.playing {
            return false;
        }
        let wall = self.last_tick.map_or(Duration::ZERO, |last| now.duration_since(last));
        self.last_tick = Some(now);
        self.clock_ns = self.clock_ns.saturating_add(scaled(wall, self.speed));
        if let Some(next) = self.events.get(self.position) {
            let wait_limit = scaled(MAX_WAIT, self.speed);
            if next.ts_ns > self.clock_ns.saturating_add(wait_limit) {
                self.clock_ns = next.ts_ns;
            }
        }
        let before = self.position;
        self.apply_until(self.clock_ns, model);
        if self.at_end() {
            self.playing = false;
        }
        self.position != before
    }

    /// Moves the clock by `delta_ns` (negative: back).
    pub fn seek_by(&mut self, delta_ns: i64, model: &mut Model) {
        let target = self.clock_ns.saturating_add_signed(delta_ns).max(self.first_ns());
        self.seek_to(target, model);
    }

    /// Moves the clock to `ts_ns`, showing every event up to it.
    pub fn seek_to(&mut self, ts_ns: u64, model: &mut Model) {
        if ts_ns < self.clock_ns || self.position == 0 {
            model.reset();
            self.position = 0;
        }
        self.clock_ns = ts_ns.min(self.last_ns()).max(self.first_ns());
        self.apply_until(ts_ns, model);
        self.last_tick = None;
    }

    /// Shows one more event.
    pub fn step(&mut self, model: &mut Model) {
        self.playing = false;
        if let Some(event) = self.events.get(self.position) {
            self.clock_ns = event.ts_ns;
            model.push(event.clone());
            self.position += 1;
        }
    }

    /// Shows one event fewer.
    pub fn step_back(&mut self, model: &mut Model) {
        self.playing = false;
        let target = self.position.saturating_sub(1);
        model.reset();
        self.events[..target].iter().for_each(|event| model.push(event.clone()));
        self.position = target;
        self.clock_ns =
            target.checked_sub(1).map_or(self.first_ns(), |last| self.events[last].ts_ns);
    }

    fn apply_until(&mut self, ts_ns: u64, model: &mut Model) {
        while let Some(event) = self.events.get(self.position) {
            if event.ts_ns > ts_ns {
                break;
            }
            model.push(event.clone());
            self.position += 1;
        }
    }
}

/// `wall` at `speed` (a positive factor), in nanoseconds of trace time.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // `as` saturates, as wanted here
fn scaled(wall: Duration, speed: f64) -> u64 {
    (wall.as_nanos() as f64 * speed) as u64
}
