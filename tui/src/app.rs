//! The UI's state and what each key does to it. Rendering reads this state
//! (see [`crate::view`]); nothing here touches a terminal.

use std::{
    cell::Cell,
    collections::VecDeque,
    sync::mpsc::Sender,
    time::{Duration, Instant},
};

use cradle_events::{
    Event, kinds,
    trace_file::{Header, Trace, Trailer},
};
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use crate::{
    filter::Filter,
    model::{Model, Subject},
    replay::Player,
    stats::{FrameTimes, Rate, Report},
};

/// What a live session sends the UI.
#[derive(Clone, Debug)]
pub enum Feed {
    /// An event, as the session attributed it (boxed: it is most of the
    /// traffic, and the other messages are small).
    Event(Box<Event>),
    /// The probes' count of events lost so far.
    Lost(u64),
    /// The trace ended.
    Trailer(Trailer),
    /// Step mode: the kernel stopped a task of the container, and the
    /// session waits until the user resumes it.
    Stopped(KernelStop),
}

/// A step-mode pause, as the session describes it.
#[derive(Clone, Debug)]
pub struct KernelStop {
    /// What stopped after which call, the phase that began, the next one.
    pub lines: Vec<String>,
    /// Dropped or sent to: the session resumes the task. Dropped (the UI
    /// quit) also tells it to stop pausing.
    pub resume: Sender<()>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Focus {
    Containers,
    Events,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overlay {
    Help,
    /// The trace's header and the probes in use.
    Info,
}

/// Where the events come from.
pub enum Source {
    Live(Live),
    Replay(Player),
}

/// A live session's state beyond the model.
#[derive(Default)]
pub struct Live {
    /// Display paused: events wait here, in order.
    pub paused: Option<VecDeque<Event>>,
    /// Step mode: the traced task the kernel stopped, until `n`.
    pub stopped: Option<KernelStop>,
}

pub struct App {
    pub model: Model,
    pub source: Source,
    pub subject: Subject,
    /// The user picked the subject; otherwise the newest container is shown.
    subject_chosen: bool,
    pub focus: Focus,
    pub filter: Filter,
    /// The text filter being typed.
    pub text_input: Option<String>,
    /// Position of the selected event in [`App::visible`].
    pub cursor: Option<usize>,
    /// First row of the event list on screen, and how many rows it has;
    /// kept by the list's render.
    pub list_offset: Cell<usize>,
    pub list_height: Cell<usize>,
    /// Keep the newest event selected.
    pub follow: bool,
    pub detail: bool,
    pub overlay: Option<Overlay>,
    /// Timeline zoom: the window is the subject's span divided by 2^zoom.
    pub zoom: u32,
    pub lost: u64,
    pub trailer: Option<Trailer>,
    pub rate: Rate,
    /// Events that arrived in the last second, as of the last tick.
    pub events_per_second: u64,
    pub frames: FrameTimes,
    pub quit: bool,
    /// Something changed since the last frame.
    pub dirty: bool,
    visible: Visible,
}

/// The subject's events that pass the filter, kept up to date
/// incrementally: new events are checked once, as they arrive.
#[derive(Default)]
struct Visible {
    indices: Vec<usize>,
    /// How many of the subject's events were checked.
    checked: usize,
    key: Option<(Subject, u64)>,
    filter: Filter,
}

pub const MAX_ZOOM: u32 = 20;

impl App {
    pub fn live(header: Header) -> App {
        App::new(Model::new(header), |_| Source::Live(Live::default()))
    }

    /// A replay of a saved trace, opened at its end.
    pub fn replay(trace: Trace) -> App {
        let mut app = App::new(Model::replay(trace.header, trace.containers), |model| {
            Source::Replay(Player::new(trace.events, model))
        });
        app.lost = trace.trailer.as_ref().map_or(0, |t| t.lost);
        app.rate.add(Instant::now(), app.model.events().len() as u64);
        app.trailer = trace.trailer;
        app.refresh();
        app
    }

    fn new(mut model: Model, source: impl FnOnce(&mut Model) -> Source) -> App {
        let source = source(&mut model);
        let mut app = App {
            model,
            source,
            subject: Subject::Host,
            subject_chosen: false,
            focus: Focus::Events,
            filter: Filter::default(),
            text_input: None,
            cursor: None,
            list_offset: Cell::new(0),
            list_height: Cell::new(10),
            follow: true,
            detail: false,
            overlay: None,
            zoom: 0,
            lost: 0,
            trailer: None,
            rate: Rate::default(),
            events_per_second: 0,
            frames: FrameTimes::default(),
            quit: false,
            dirty: true,
            visible: Visible::default(),
        };
        app.refresh();
        app
    }

    /// Takes what a live session sent.
    pub fn feed(&mut self, feed: Feed, now: Instant) {
        self.dirty = true;
        match feed {
            Feed::Event(event) => {
                self.rate.add(now, 1);
                match &mut self.source {
                    Source::Live(Live { paused: Some(waiting), .. }) => waiting.push_back(*event),
                    _ => self.model.push(*event),
                }
            }
            Feed::Stopped(stop) => {
                if let Source::Live(live) = &mut self.source {
                    live.stopped = Some(stop);
                }
            }
            Feed::Lost(total) => self.lost = self.lost.max(total),
            Feed::Trailer(trailer) => {
                // The trailer's count is the final word.
                self.lost = trailer.lost;
                self.trailer = Some(trailer);
            }
        }
    }

    /// Moves time on (replay) and brings the view up to date.
    pub fn tick(&mut self, now: Instant) {
        if let Source::Replay(player) = &mut self.source {
            let before = player.position();
            if player.tick(now, &mut self.model) {
                self.rate.add(now, (player.position() - before) as u64);
                self.dirty = true;
            }
        }
        self.events_per_second = self.rate.per_second(now);
        self.refresh();
    }

    /// Brings the subject and the visible events up to date with the model.
    pub fn refresh(&mut self) {
        let containers = self.model.containers().len();
        if !self.subject_chosen && self.follow && containers > 0 {
            self.subject = Subject::Container(containers - 1);
        }
        let key = (self.subject, self.model.generation());
        if self.visible.key != Some(key) || self.visible.filter != self.filter {
            self.visible =
                Visible { key: Some(key), filter: self.filter.clone(), ..Visible::default() };
        }
        let subject = self.model.indices(self.subject);
        let events = self.model.events();
        for &index in &subject[self.visible.checked..] {
            if self.filter.matches(&events[index]) {
                self.visible.indices.push(index);
            }
        }
        self.visible.checked = subject.len();
        let len = self.visible.indices.len();
        self.cursor = match (len, self.follow, self.cursor) {
            (0, _, _) => None,
            (_, true, _) | (_, false, None) => Some(len - 1),
            (_, false, Some(cursor)) => Some(cursor.min(len - 1)),
        };
    }

    /// Indices into the model's events of what the list shows.
    pub fn visible(&self) -> &[usize] {
        &self.visible.indices
    }

    /// The event under the cursor.
    pub fn selected_event(&self) -> Option<&Event> {
        let index = *self.visible.indices.get(self.cursor?)?;
        self.model.events().get(index)
    }

    /// The entries of the container list: every container, then the host.
    pub fn subjects(&self) -> Vec<Subject> {
        (0..self.model.containers().len())
            .map(Subject::Container)
            .chain(std::iter::once(Subject::Host))
            .collect()
    }

    pub fn paused(&self) -> bool {
        match &self.source {
            Source::Live(live) => live.paused.is_some(),
            Source::Replay(player) => !player.playing(),
        }
    }

    pub fn report(&self) -> Report {
        Report {
            frame: self.frames.summary(),
            events: self.rate.total(),
            lost: self.lost,
            trailer_seen: self.trailer.is_some(),
        }
    }

    pub fn key(&mut self, key: KeyEvent) {
        if key.kind == KeyEventKind::Release {
            return;
        }
        self.dirty = true;
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            self.quit = true;
            return;
        }
        if self.text_input.is_some() {
            self.text_input_key(key.code);
            self.refresh();
        } else if self.overlay.is_some() {
            self.overlay_key(key.code);
        } else {
            self.command_key(key.code);
            self.refresh();
        }
    }

    /// A key while the filter text is typed: Enter keeps it, Esc clears it.
    fn text_input_key(&mut self, code: KeyCode) {
        if let Some(text) = &mut self.text_input {
            match code {
                KeyCode::Enter => self.text_input = None,
                KeyCode::Esc => {
                    self.text_input = None;
                    self.filter.text.clear();
                }
                KeyCode::Backspace => {
                    text.pop();
                    self.filter.text = text.clone();
                }
                KeyCode::Char(c) => {
                    text.push(c);
                    self.filter.text = text.clone();
                }
                _ => {}
            }
        }
    }

    /// A key while the help or info overlay is open: it only closes it, or quits.
    fn overlay_key(&mut self, code: KeyCode) {
        match code {
            KeyCode::Char('q') => self.quit = true,
            KeyCode::Esc | KeyCode::Char('?') | KeyCode::Char('i') | KeyCode::Enter => {
                self.overlay = None
            }
            _ => {}
        }
    }

    /// A key of the main screen (the help overlay lists them all).
    fn command_key(&mut self, code: KeyCode) {
        match code {
            KeyCode::Char('q') => self.quit = true,
            KeyCode::Char('?') => self.overlay = Some(Overlay::Help),
            KeyCode::Char('i') => self.overlay = Some(Overlay::Info),
            KeyCode::Esc => self.detail = false,
            KeyCode::Enter => self.detail = true,
            KeyCode::Tab | KeyCode::BackTab => {
                self.focus = match self.focus {
                    Focus::Containers => Focus::Events,
                    Focus::Events => Focus::Containers,
                }
            }
            KeyCode::Up | KeyCode::Char('k') => self.move_by(-1),
            KeyCode::Down | KeyCode::Char('j') => self.move_by(1),
            KeyCode::PageUp => self.move_by(-i64::try_from(self.page()).unwrap_or(i64::MAX)),
            KeyCode::PageDown => self.move_by(i64::try_from(self.page()).unwrap_or(i64::MAX)),
            KeyCode::Home | KeyCode::Char('g') => self.move_by(i64::MIN / 2),
            KeyCode::End | KeyCode::Char('G') => self.move_by(i64::MAX / 2),
            // 1-9 and 0 toggle the kind table's categories in order (0 is
            // the tenth).
            KeyCode::Char(digit @ '0'..='9') => {
                let index = (digit as usize - '0' as usize + 9) % 10;
                if let Some(category) = kinds::categories().nth(index) {
                    self.filter.toggle(category);
                }
            }
            KeyCode::Backspace => self.filter.categories.clear(),
            KeyCode::Char('p') => self.filter.cycle_role(),
            KeyCode::Char('P') => {
                self.filter.process = match self.filter.process {
                    Some(_) => None,
                    None => self.selected_event().map(|event| event.tgid),
                }
            }
            KeyCode::Char('/') => self.text_input = Some(self.filter.text.clone()),
            KeyCode::Char('c') => self.filter.granted_checks = !self.filter.granted_checks,
            KeyCode::Char('f') => self.follow = !self.follow,
            KeyCode::Char('+') => self.zoom = (self.zoom + 1).min(MAX_ZOOM),
            KeyCode::Char('-') => self.zoom = self.zoom.saturating_sub(1),
            KeyCode::Char('=') => self.zoom = 0,
            KeyCode::Char(' ') => self.toggle_pause(),
            KeyCode::Char('.') => self.step(),
            KeyCode::Char('n') => self.resume_stopped(),
            KeyCode::Char(',') => {
                if let Source::Replay(player) = &mut self.source {
                    player.step_back(&mut self.model);
                }
            }
            KeyCode::Char('<') => self.seek(-1),
            KeyCode::Char('>') => self.seek(1),
            KeyCode::Char('[') => {
                if let Source::Replay(player) = &mut self.source {
                    player.slower();
                }
            }
            KeyCode::Char(']') => {
                if let Source::Replay(player) = &mut self.source {
                    player.faster();
                }
            }
            _ => {}
        }
    }

    fn page(&self) -> usize {
        self.list_height.get().max(1)
    }

    fn move_by(&mut self, delta: i64) {
        match self.focus {
            Focus::Containers => {
                let subjects = self.subjects();
                let at = subjects.iter().position(|s| *s == self.subject).unwrap_or(0);
                self.subject = subjects[moved(at, delta, subjects.len())];
                self.subject_chosen = true;
                self.cursor = None;
                self.list_offset.set(0);
            }
            Focus::Events => {
                let len = self.visible.indices.len();
                if len == 0 {
                    return;
                }
                self.follow = false;
                self.cursor = Some(moved(self.cursor.unwrap_or(len - 1), delta, len));
            }
        }
    }

    fn toggle_pause(&mut self) {
        match &mut self.source {
            Source::Live(live) => match live.paused.take() {
                Some(waiting) => waiting.into_iter().for_each(|event| self.model.push(event)),
                None => live.paused = Some(VecDeque::new()),
            },
            Source::Replay(player) => player.toggle(&mut self.model),
        }
    }

    /// The task step mode stopped, if any.
    pub fn stopped(&self) -> Option<&KernelStop> {
        match &self.source {
            Source::Live(live) => live.stopped.as_ref(),
            Source::Replay(_) => None,
        }
    }

    /// Step mode: lets the session resume the task the kernel stopped.
    fn resume_stopped(&mut self) {
        if let Source::Live(live) = &mut self.source
            && let Some(stop) = live.stopped.take()
        {
            // The session may have ended already: nothing to resume then.
            let _ = stop.resume.send(());
        }
    }

    /// One event more, while paused.
    fn step(&mut self) {
        match &mut self.source {
            Source::Live(Live { paused: Some(waiting), .. }) => {
                if let Some(event) = waiting.pop_front() {
                    self.model.push(event);
                }
            }
            Source::Live(_) => {}
            Source::Replay(player) => player.step(&mut self.model),
        }
    }

    /// Seeks a twentieth of the trace back or forth.
    fn seek(&mut self, direction: i64) {
        if let Source::Replay(player) = &mut self.source {
            let step = i64::try_from((player.span_ns() / 20).max(1)).unwrap_or(i64::MAX);
            player.seek_by(direction * step, &mut self.model);
        }
    }

    /// Whether to draw now: something changed, or the counters need a
    /// fresh look (once a second).
    pub fn needs_draw(&self, since_last: Duration) -> bool {
        self.dirty || since_last >= Duration::from_secs(1)
    }
}

/// Index `at` moved by `delta`, kept within `0..len` (`len` > 0).
fn moved(at: usize, delta: i64, len: usize) -> usize {
    let step = usize::try_from(delta.unsigned_abs()).unwrap_or(usize::MAX);
    let to = if delta < 0 { at.saturating_sub(step) } else { at.saturating_add(step) };
    to.min(len - 1)
}
