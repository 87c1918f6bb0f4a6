//! Decoding and correlation throughput on one core, from a recorded stream
//! of real ring-buffer records (`examples/record.rs`; `cargo xtask bench`
//! records one and passes it in `CRADLE_BENCH_RECORDING`). Without a
//! recording there is nothing to measure, and the bench says so.
//!
//! Time is the benchmarking thread's CPU time, not wall time: "on one
//! core" means per CPU-second, so other work on a busy machine does not
//! count against the collector (it still shares caches with it).

use std::{hint::black_box, time::Duration};

use cradle_events::{Joiner, collector::Collector, decode::decode, recording};
use criterion::{
    Criterion, Throughput,
    measurement::{Measurement, ValueFormatter, WallTime},
};

/// CPU time of the calling thread (CLOCK_THREAD_CPUTIME_ID), in criterion's
/// units (nanoseconds, shown as durations).
struct ThreadCpuTime {
    /// Lends its duration formatter.
    wall: WallTime,
}

fn thread_cpu_now() -> Duration {
    let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: a valid timespec for the call; this clock always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    // clock_gettime gives a normalised, non-negative time.
    Duration::new(u64::try_from(now.tv_sec).unwrap_or(0), u32::try_from(now.tv_nsec).unwrap_or(0))
}

impl Measurement for ThreadCpuTime {
    type Intermediate = Duration;
    type Value = Duration;

    fn start(&self) -> Duration {
        thread_cpu_now()
    }
    fn end(&self, started: Duration) -> Duration {
        thread_cpu_now().saturating_sub(started)
    }
    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }
    fn zero(&self) -> Duration {
        Duration::ZERO
    }
    fn to_f64(&self, value: &Duration) -> f64 {
        value.as_nanos() as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        self.wall.formatter()
    }
}

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
        .with_measurement(ThreadCpuTime { wall: WallTime })
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
            let mut joiner = Joiner::default();
            let mut collector = Collector::default();
            let mut ready = Vec::new();
            for record in &records {
                let Ok(event) = decode(black_box(record)) else { continue };
                joiner.push_into(event, &mut ready);
                for joined in ready.drain(..) {
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
