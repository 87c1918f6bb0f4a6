//! `cradle export` on a real trace: Perfetto / Chrome trace-event JSON that
//! validates against schemas/trace-event.schema.json with one track per
//! process, phases as spans and events as instants; and an SVG timeline
//! that a real renderer (resvg) turns into a picture of the declared size.

#[path = "common/reports.rs"]
mod reports;
#[path = "common/runtime.rs"]
mod runtime;

use std::collections::{BTreeSet, HashSet};

use reports::{assert_valid, cradle, path_str, trace_cradle_run, validator};
use runtime::{Sandbox, stderr, stdout};
use serde_json::Value;

#[test]
fn perfetto_export_validates_and_has_a_track_per_process() {
    let sandbox = Sandbox::new();
    let bundle = sandbox.bundle("b", &["true"]);
    let trace = trace_cradle_run(&sandbox, &bundle, "export-perfetto");
    let out = cradle(&["export", path_str(&trace), "--format", "perfetto"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let exported: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let schema = validator("trace-event.schema.json");
    assert_valid(&schema, &exported, "the Perfetto export");
    assert!(!schema.is_valid(&serde_json::json!({"traceEvents": [{"ph": "X", "name": "x"}]})));

    let events = exported["traceEvents"].as_array().unwrap();
    let report: Value =
        serde_json::from_slice(&cradle(&["report", path_str(&trace)]).stdout).unwrap();
    let container = &report["containers"][0];
    // Container group 1: one named track per process of the container.
    let named: HashSet<u64> = events
        .iter()
        .filter(|e| e["ph"] == "M" && e["name"] == "thread_name" && e["pid"] == 1)
        .map(|e| e["tid"].as_u64().unwrap())
        .collect();
    for process in container["processes"].as_array().unwrap() {
        assert!(named.contains(&process["pid"].as_u64().unwrap()), "no track for {process}");
    }
    // Phases as spans, in the container's order.
    let spans: Vec<&str> = events
        .iter()
        .filter(|e| e["ph"] == "X" && e["pid"] == 1)
        .map(|e| e["args"]["phase"].as_str().unwrap())
        .collect();
    let phases: Vec<&str> = container["phases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["phase"].as_str().unwrap())
        .collect();
    assert_eq!(spans, phases);
    // Every event as an instant, on its process's track.
    let instants = events.iter().filter(|e| e["ph"] == "i").count();
    assert_eq!(instants as u64, report["trace"]["events"].as_u64().unwrap());
    let mount = events
        .iter()
        .find(|e| e["ph"] == "i" && e["name"] == "mount" && e["pid"] == 1)
        .expect("a mount instant");
    assert_eq!(mount["cat"], "mounts");
    assert_eq!(mount["tid"], container["runtime"]["init_pid"]);
}

#[test]
fn svg_export_renders_to_a_picture() {
    let sandbox = Sandbox::new();
    let bundle = sandbox.bundle("b", &["true"]);
    let trace = trace_cradle_run(&sandbox, &bundle, "export-svg");
    let file = sandbox.dir.path().join("timeline.svg");
    let out = cradle(&["export", path_str(&trace), "--format", "svg", "-o", path_str(&file)]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).is_empty());
    let svg = std::fs::read(&file).expect("the SVG file");

    let options = resvg::usvg::Options::default();
    let tree = resvg::usvg::Tree::from_data(&svg, &options).expect("the SVG parses");
    let size = tree.size().to_int_size();
    assert_eq!(size.width(), 1200, "declared width");
    assert!(size.height() > 150, "a row per process makes it tall: {}", size.height());
    let mut pixmap = resvg::tiny_skia::Pixmap::new(size.width(), size.height()).unwrap();
    resvg::render(&tree, resvg::tiny_skia::Transform::default(), &mut pixmap.as_mut());
    let png = pixmap.encode_png().expect("PNG");
    let decoded = resvg::tiny_skia::Pixmap::decode_png(&png).expect("the PNG decodes");
    assert_eq!((decoded.width(), decoded.height()), (size.width(), size.height()));
    // Not a blank page: the phase band and event ticks are coloured.
    let colours: BTreeSet<[u8; 3]> =
        decoded.pixels().iter().map(|p| [p.red(), p.green(), p.blue()]).collect();
    assert!(colours.len() > 8, "only {} colours rendered", colours.len());
}

#[test]
fn export_of_a_missing_trace_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("out.svg");
    let missing = dir.path().join("missing.jsonl");
    let out = cradle(&["export", path_str(&missing), "--format", "svg", "-o", path_str(&file)]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "nothing left behind");
}
