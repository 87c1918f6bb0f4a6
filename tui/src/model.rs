//! What the UI knows of the trace so far: the events in arrival order, the
//! containers they belong to, and each container's (and the host's) events
//! by index. The UI attributes events itself, with the probes' collector,
//! so a replay that seeks backwards rebuilds exactly what a live session
//! saw at that point.

use cradle_events::{
    Event,
    collector::{Collector, Container},
    trace_file::Header,
};

/// Whose events a pane shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Subject {
    /// A container, by its index in the trace.
    Container(usize),
    /// Events that belong to no container.
    Host,
}

pub struct Model {
    header: Header,
    events: Vec<Event>,
    collector: Collector,
    by_container: Vec<Vec<usize>>,
    host: Vec<usize>,
    /// Bumped by [`Model::reset`], so views can tell their caches are stale.
    generation: u64,
    /// A replay's container records: what its events cannot tell again
    /// (the launcher chain, where loss was seen).
    recorded: Vec<Container>,
    live: bool,
}

impl Model {
    /// The model of a live session: launcher chains are read from `/proc`.
    pub fn new(header: Header) -> Model {
        Model::with(header, Collector::live(), Vec::new(), true)
    }

    /// The model of a saved trace and its container records.
    pub fn replay(header: Header, recorded: Vec<Container>) -> Model {
        let mut collector = Collector::default();
        recorded.iter().for_each(|container| collector.merge_recorded(container));
        Model::with(header, collector, recorded, false)
    }

    fn with(header: Header, collector: Collector, recorded: Vec<Container>, live: bool) -> Model {
        Model {
            header,
            events: Vec::new(),
            collector,
            by_container: Vec::new(),
            host: Vec::new(),
            generation: 0,
            recorded,
            live,
        }
    }

    /// Takes one event in, attributing it to its container.
    pub fn push(&mut self, mut event: Event) {
        self.collector.attribute(&mut event);
        let index = self.events.len();
        match &event.owner {
            Some(owner) => {
                if self.by_container.len() <= owner.container {
                    self.by_container.resize_with(owner.container + 1, Vec::new);
                }
                self.by_container[owner.container].push(index);
            }
            None => self.host.push(index),
        }
        self.events.push(event);
    }

    /// Forgets every event (a replay seeking backwards starts over).
    pub fn reset(&mut self) {
        let header = self.header.clone();
        let fresh = match self.live {
            true => Model::new(header),
            false => Model::replay(header, std::mem::take(&mut self.recorded)),
        };
        *self = Model { generation: self.generation + 1, ..fresh };
    }

    pub fn header(&self) -> &Header {
        &self.header
    }

    pub fn events(&self) -> &[Event] {
        &self.events
    }

    pub fn containers(&self) -> impl ExactSizeIterator<Item = &Container> {
        self.collector.containers()
    }

    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Indices into [`Model::events`] of the subject's events, in order.
    pub fn indices(&self, subject: Subject) -> &[usize] {
        match subject {
            Subject::Container(key) => self.by_container.get(key).map_or(&[], Vec::as_slice),
            Subject::Host => &self.host,
        }
    }

    /// The time the subject's clock starts from: a container's runtime
    /// start, or the trace's origin for the host.
    pub fn start_ns(&self, subject: Subject) -> u64 {
        match subject {
            Subject::Container(key) => self
                .collector
                .container(key)
                .and_then(|container| container.phases.first())
                .map_or(self.header.origin_ns, |mark| mark.ts_ns),
            Subject::Host => self.header.origin_ns,
        }
    }

    /// The container, if the subject is one that has started.
    pub fn container(&self, subject: Subject) -> Option<&Container> {
        match subject {
            Subject::Container(key) => self.collector.container(key),
            Subject::Host => None,
        }
    }
}
