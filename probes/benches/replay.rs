//! Decoding and correlation throughput on one core, from a recorded stream
//! of real ring-buffer records (`examples/record.rs`; `cargo xtask bench`
//! records one and passes it in `CRADLE_BENCH_RECORDING`). Without a
//! recording there is nothing to measure, and the bench says so.

use std::{hint::black_box, time::Duration};

use cradle_probes::{ExecJoiner, collector::Collector, decode::decode, recording};
use criterion::{Criterion, Throughput};

fn main() {
    let Some(path) = std::env::var_os("CRADLE_BENCH_RECORDING") else {
        eprintln!(
            "replay: set CRADLE_BENCH_RECORDING to a recording (cargo xtask bench makes one)"
        );
        return;
    };
    let bytes = std::fs::read(&path)
        .unwrap_or_else(|err| panic!("reading {}: {err}", path.to_string_lossy()));
    let records =
        recording::parse(&bytes).unwrap_or_else(|err| panic!("{}: {err}", path.to_string_lossy()));
    let undecodable = records.iter().filter(|record| decode(record).is_err()).count();
    eprintln!("replay: {} records, {undecodable} undecodable", records.len());

    let mut criterion = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .configure_from_args();
    let mut group = criterion.benchmark_group("replay");
    group.throughput(Throughput::Elements(records.len() as u64));
    group.bench_function("decode", |b| {
        b.iter(|| {
            for record in &records {
                let _ = black_box(decode(black_box(record)));
            }
        })
    });
    group.bench_function("decode_join_collect", |b| {
        b.iter(|| {
            let mut joiner = ExecJoiner::default();
            let mut collector = Collector::default();
            for record in &records {
                let Ok(event) = decode(black_box(record)) else { continue };
                for joined in joiner.push(event) {
                    black_box(collector.observe(&joined));
                }
            }
            for rest in joiner.finish() {
                black_box(collector.observe(&rest));
            }
            black_box(collector.containers().len())
        })
    });
    group.finish();
    criterion.final_summary();
}
