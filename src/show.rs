//! `cradle show TRACE` (a saved trace as a timeline) and `cradle explain`.

use std::process::ExitCode;

use anyhow::{Context, bail};
use cradle_events::{
    collector::{Collector, Phase},
    explain::{self, Explanation, TOPICS},
    trace_file::{Record, TraceEnd, TraceReader, Trailer, Truncation},
};

use crate::{
    cli::{ExplainArgs, ShowArgs},
    timeline::{Timeline, TimelineOptions},
};

pub fn show(args: ShowArgs) -> anyhow::Result<ExitCode> {
    let mut reader = TraceReader::open(&args.trace)?;
    let options = TimelineOptions { explain: args.explain, stdout: true };
    let mut timeline = Timeline::new(options, reader.header());
    // Attribution is replayed rather than read, so that a truncated trace,
    // which has no container records, shows the same timeline.
    let mut collector = Collector::default();
    let mut trailer = None;
    let mut events = 0u64;
    let path = args.trace.display();
    while let Some(record) = reader.next_record().with_context(|| format!("reading {path}"))? {
        match record {
            Record::Event(mut event) => {
                events += 1;
                collector.attribute(&mut event);
                timeline.event(&event, &collector)?;
            }
            Record::Trailer(end) => trailer = Some(end),
            // What the events cannot tell again: where the tracer saw loss,
            // who launched the runtime.
            Record::Container(container) => {
                collector.merge_recorded(&container);
            }
            Record::Header(_) => {}
        }
    }
    let truncation = reader.truncation().cloned();
    let trailer = trailer.unwrap_or(Trailer {
        events,
        records: events,
        undecodable: 0,
        lost: 0,
        lost_by_kind: Default::default(),
        end: TraceEnd::Interrupted,
        ended_ns: 0,
        exit_code: None,
        not_recorded: 0,
        export_dropped: 0,
    });
    timeline.finish(collector.containers(), &trailer)?;
    match truncation {
        Some(Truncation::NoTrailer) => eprintln!(
            "cradle: {path} is truncated: {events} complete events, no trailer (the tracer stopped before finishing)"
        ),
        Some(Truncation::CutLine { line }) => eprintln!(
            "cradle: {path} is truncated: {events} complete events, line {line} cut short (the tracer stopped mid-write)"
        ),
        None => {}
    }
    Ok(ExitCode::SUCCESS)
}

pub fn explain(args: ExplainArgs) -> anyhow::Result<ExitCode> {
    let Some(topic) = args.topic else {
        println!("Phases of a container's birth, in order:");
        for phase in Phase::ALL {
            let entry = explain::phase(phase);
            println!("  {:<22} {}", entry.name, entry.title);
        }
        println!("\nEvent kinds:");
        for entry in explain::event_kinds() {
            println!("  {:<22} {}", entry.name, entry.title);
        }
        println!("\nOther topics:");
        for entry in TOPICS {
            println!("  {:<22} {}", entry.name, entry.title);
        }
        println!("\n`cradle explain NAME` explains one.");
        return Ok(ExitCode::SUCCESS);
    };
    let Some(entry) = explain::lookup(&topic) else {
        bail!(
            "nothing is called {topic:?}: `cradle explain` lists the phases, event kinds and topics"
        );
    };
    print_explanation(entry);
    Ok(ExitCode::SUCCESS)
}

fn print_explanation(entry: &Explanation) {
    println!("{} ({})\n", entry.title, entry.name);
    println!("What: {}\n", entry.what);
    println!("Why:  {}", entry.why);
}
