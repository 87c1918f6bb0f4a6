//! The UI loop: take in events, handle keys, draw at most one frame per
//! tick. Shared by replay and live mode; in live mode it runs on its own
//! thread, fed by a channel the session never waits on, except at a step
//! mode pause, which waits for the user by design.

use std::{
    io,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
        mpsc::{self, Receiver, Sender, TryRecvError},
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};

use cradle_events::{
    Event,
    trace_file::{Header, Trace, Trailer},
};
use ratatui::{
    Terminal,
    backend::Backend,
    crossterm::event::{self, Event as TermEvent},
};

use crate::{
    app::{App, Feed, KernelStop},
    stats::Report,
    terminal::{self, Input, Screen},
    view,
};

/// The shortest time between two frames.
const FRAME: Duration = Duration::from_millis(33);
/// The longest the loop spends taking in events before it looks at keys
/// and draws: a storm of events cannot make the UI unresponsive.
const INTAKE_BUDGET: Duration = Duration::from_millis(15);

#[derive(Debug, thiserror::Error)]
pub enum TuiError {
    #[error("terminal: {0}")]
    Terminal(#[from] io::Error),
    #[error("the UI thread panicked")]
    Panicked,
}

/// Replays a saved trace until the user quits.
pub fn replay(trace: Trace) -> Result<Report, TuiError> {
    let mut screen = Screen::enter()?;
    let mut app = App::replay(trace);
    run(&mut screen.terminal, &mut app, |_| false)?;
    Ok(app.report())
}

/// Runs the UI loop on `terminal` until the app quits. `intake` takes in
/// what arrived since the last turn, and says whether more is waiting.
pub fn run<B: Backend>(
    terminal: &mut Terminal<B>,
    app: &mut App,
    mut intake: impl FnMut(&mut App) -> bool,
) -> io::Result<()>
where
    io::Error: From<B::Error>,
{
    let mut last_draw: Option<Instant> = None;
    loop {
        let more = intake(app);
        let now = Instant::now();
        app.tick(now);
        if app.quit {
            return Ok(());
        }
        let since = last_draw.map_or(Duration::MAX, |at| now.duration_since(at));
        if since >= FRAME && app.needs_draw(since) {
            let started = Instant::now();
            terminal.draw(|frame| view::draw(frame, app))?;
            app.frames.record(started.elapsed());
            app.dirty = false;
            last_draw = Some(started);
        }
        // Wait for a key at most until the next frame is due, and not at
        // all while events are waiting.
        let wait = match (more, last_draw) {
            (true, _) | (false, None) => Duration::ZERO,
            (false, Some(at)) => FRAME.saturating_sub(at.elapsed()).max(Duration::from_millis(1)),
        };
        // The wait is ours, not the terminal library's: on a terminal that
        // went away its wait reads end-of-file in a loop and never returns.
        // The UI quits as if the user had: a live session then ends as on
        // `q`, and a task step mode stopped is resumed.
        if terminal::wait_for_input(wait)? == Input::HungUp {
            app.quit = true;
            continue;
        }
        // Keys, and resizes, which the library learns of by a signal: it
        // only parses what is there, without waiting.
        while event::poll(Duration::ZERO)? {
            match event::read()? {
                TermEvent::Key(key) => app.key(key),
                TermEvent::Resize(..) => app.dirty = true,
                _ => {}
            }
            if terminal::wait_for_input(Duration::ZERO)? == Input::HungUp {
                app.quit = true;
                break;
            }
        }
    }
}

/// The session's side of a live UI: it sends events and never waits; the
/// UI runs on its own thread from [`Live::start`] until the user quits.
pub struct Live {
    sender: Option<Sender<Feed>>,
    /// Until the UI starts.
    waiting: Option<(Receiver<Feed>, Header)>,
    ui: Option<JoinHandle<Result<Report, TuiError>>>,
    closed: Arc<AtomicBool>,
}

impl Live {
    /// A live UI for a trace with this header. Events sent before
    /// [`Live::start`] wait in the channel.
    pub fn new(header: &Header) -> Live {
        let (sender, receiver) = mpsc::channel();
        Live {
            sender: Some(sender),
            waiting: Some((receiver, header.clone())),
            ui: None,
            closed: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Takes over the terminal and starts the UI thread.
    pub fn start(&mut self) -> Result<(), TuiError> {
        let Some((receiver, header)) = self.waiting.take() else { return Ok(()) };
        let mut screen = Screen::enter()?;
        let closed = self.closed.clone();
        let ui = std::thread::Builder::new().name("cradle-tui".into()).spawn(move || {
            let mut app = App::live(header);
            let result = run(&mut screen.terminal, &mut app, |app| intake(&receiver, app));
            closed.store(true, Ordering::Release);
            drop(screen);
            result?;
            Ok(app.report())
        })?;
        self.ui = Some(ui);
        Ok(())
    }

    /// Hands the UI one attributed event. Never blocks.
    pub fn event(&self, event: &Event) {
        self.send(Feed::Event(Box::new(event.clone())));
    }

    /// The probes' count of lost events so far.
    pub fn lost(&self, total: u64) {
        self.send(Feed::Lost(total));
    }

    /// Step mode: shows that the kernel stopped a task (`lines` say which,
    /// after what, and which phase began) and waits until the user resumes
    /// it. False when the UI is gone (there is no one to ask), or when
    /// `give_up` says so (cradle was interrupted).
    pub fn stopped(&self, lines: Vec<String>, give_up: impl Fn() -> bool) -> bool {
        let (resume, resumed) = mpsc::channel();
        self.send(Feed::Stopped(KernelStop { lines, resume }));
        loop {
            match resumed.recv_timeout(Duration::from_millis(100)) {
                Ok(()) => return true,
                Err(mpsc::RecvTimeoutError::Disconnected) => return false,
                Err(mpsc::RecvTimeoutError::Timeout) if give_up() => return false,
                Err(mpsc::RecvTimeoutError::Timeout) => {}
            }
        }
    }

    /// The user quit the UI (or it failed).
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    fn send(&self, feed: Feed) {
        if let Some(sender) = &self.sender {
            // The UI may be gone already: nothing to show it to, then.
            let _ = sender.send(feed);
        }
    }

    /// Ends the trace on screen and waits for the user to quit.
    pub fn finish(mut self, trailer: Trailer) -> Result<Report, TuiError> {
        self.send(Feed::Trailer(trailer));
        self.join().unwrap_or(Ok(Report::default()))
    }

    fn join(&mut self) -> Option<Result<Report, TuiError>> {
        self.sender = None;
        let ui = self.ui.take()?;
        Some(ui.join().unwrap_or(Err(TuiError::Panicked)))
    }
}

impl Drop for Live {
    /// A session that fails closes its UI: the channel's end without a
    /// trailer tells the UI thread to stop, and the terminal is restored
    /// before the error is printed.
    fn drop(&mut self) {
        let _ = self.join();
    }
}

/// Takes in what the session sent, for at most [`INTAKE_BUDGET`]; says
/// whether more is waiting.
fn intake(receiver: &Receiver<Feed>, app: &mut App) -> bool {
    let started = Instant::now();
    loop {
        match receiver.try_recv() {
            Ok(feed) => app.feed(feed, started),
            Err(TryRecvError::Empty) => return false,
            Err(TryRecvError::Disconnected) => {
                // Ended without a trailer: the session failed.
                if app.trailer.is_none() {
                    app.quit = true;
                }
                return false;
            }
        }
        if started.elapsed() >= INTAKE_BUDGET {
            return true;
        }
    }
}
