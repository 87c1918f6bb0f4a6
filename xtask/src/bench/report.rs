//! The bench's results: goals checked against the measurements, and the
//! markdown table printed and written beside the JSON.

use std::fmt::Write;

use serde::Serialize;

use super::{
    collector::{Recording, Replay, Session},
    host::{LifecycleFloor, Loss, Startup, StartupBreakdown, WatchCost},
    profile::Profile,
    runtimes::{Lifecycle, TracingCost, WrapperCost},
    stats::Spread,
};

/// The machine the numbers come from.
#[derive(Clone, Debug, Serialize)]
pub struct Machine {
    pub kernel: String,
    pub cpu: String,
    pub cpus: usize,
    pub memory_gib: f64,
    pub load_before: String,
    pub load_after: String,
    pub date: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct Results {
    pub machine: Machine,
    pub bench_seconds: f64,
    pub wrapper: WrapperCost,
    pub lifecycle: Vec<Lifecycle>,
    pub tracing: Vec<TracingCost>,
    pub recording: Recording,
    pub replay: Vec<Replay>,
    pub storm: Session,
    pub memory: Session,
    /// `cradle watch` over sequential containers (absent with `--soak 0`).
    pub soak: Option<super::soak::Soak>,
    /// Where the traced runs' time went, per runtime.
    pub profiles: Vec<Profile>,
    pub startup: Startup,
    pub startup_breakdown: StartupBreakdown,
    pub floor: LifecycleFloor,
    pub watch_cost: Vec<WatchCost>,
    /// The loss storm at the default ring, then at doubled rings until
    /// nothing was lost.
    pub loss: Vec<Loss>,
    pub goals: Vec<Goal>,
}

/// One of the goals and how the measurement compares.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Goal {
    pub name: String,
    pub measured: f64,
    pub limit: f64,
    /// True: the goal is `measured <= limit`; false: `measured >= limit`.
    pub at_most: bool,
    pub unit: String,
    pub met: bool,
}

impl Goal {
    pub fn at_most(name: &str, measured: f64, limit: f64, unit: &str) -> Goal {
        Goal {
            name: name.into(),
            measured,
            limit,
            at_most: true,
            unit: unit.into(),
            met: measured <= limit,
        }
    }

    pub fn at_least(name: &str, measured: f64, limit: f64, unit: &str) -> Goal {
        Goal {
            name: name.into(),
            measured,
            limit,
            at_most: false,
            unit: unit.into(),
            met: measured >= limit,
        }
    }

    /// How far a missed goal is from its limit, as a factor (1.0 when met).
    pub fn miss_factor(&self) -> f64 {
        match (self.met, self.at_most) {
            (true, _) => 1.0,
            (false, true) => self.measured / self.limit,
            (false, false) => self.limit / self.measured,
        }
    }
}

/// The goals, from the measurements.
pub fn goals(
    lifecycle: &[Lifecycle],
    tracing: &[TracingCost],
    replay: &[Replay],
    memory: &Session,
) -> Vec<Goal> {
    let mut goals = Vec::new();
    let median = |name: &str| lifecycle.iter().find(|l| l.runtime == name).map(|l| l.total.median);
    // Like for like: crun can run here only in the cgroup2-only namespace
    // (PLATFORM.md), so cradle is compared there. On the host's hybrid
    // hierarchy cradle also places the container in ten v1 cgroups, which
    // crun never does here; that row is in the lifecycle table, not a goal.
    if let (Some(cradle), Some(crun)) = (median("cradle-cgroup2"), median("crun")) {
        goals.push(Goal::at_most(
            "lifecycle, both in crun's cgroup2-only namespace: cradle / crun (medians)",
            cradle / crun,
            0.35,
            "x",
        ));
    }
    for cost in tracing {
        goals.push(Goal::at_most(
            &format!("tracing: `{} run` traced / the floor's (medians)", cost.runtime),
            cost.traced.median / cost.floor.median,
            1.05,
            "x",
        ));
    }
    if let Some(correlate) = replay.iter().find(|r| r.name == "decode_join_collect") {
        goals.push(Goal::at_least(
            "decode + correlation on one core (median, per CPU-second)",
            correlate.events_per_second.median / 1e6,
            10.0,
            "M events/s",
        ));
    }
    if memory.records + memory.lost >= MEMORY_GOAL_EVENTS {
        goals.push(Goal::at_most(
            "collector peak RSS, million-event session",
            memory.peak_rss_kib as f64 / 1024.0,
            32.0,
            "MiB",
        ));
    }
    goals
}

/// The goals on what cradle costs outside the traced run: its own startup
/// and shutdown, and a running `watch`'s cost to a realistic workload (the
/// last one measured; the micro workload before it is reported only).
pub fn host_goals(startup: &Startup, watch_cost: &[WatchCost]) -> Vec<Goal> {
    let mut goals = vec![Goal::at_most(
        "startup and shutdown: `cradle trace -o /dev/null -- true` (median)",
        startup.traced.median,
        100.0,
        "ms",
    )];
    if let Some(realistic) = watch_cost.last() {
        goals.push(Goal::at_most(
            &format!("`cradle watch` running: `{}` watched / alone (medians)", realistic.workload),
            realistic.ratio(),
            1.02,
            "x",
        ));
    }
    goals
}

/// The memory goal is about a session of at least this many events.
pub const MEMORY_GOAL_EVENTS: u64 = 1_000_000;

/// `median (q1–q3; min–max)` with `digits` decimals.
pub fn spread_cell(spread: &Spread, digits: usize) -> String {
    format!(
        "{:.d$} ({:.d$}–{:.d$}; {:.d$}–{:.d$})",
        spread.median,
        spread.q1,
        spread.q3,
        spread.min,
        spread.max,
        d = digits
    )
}

/// The markdown report: one section per measurement, in the order
/// results.md has always shown them.
pub fn markdown(results: &Results) -> String {
    let sections: [fn(&mut String, &Results); 13] = [
        machine_line,
        goals_table,
        soak_line,
        lifecycle_table,
        wrapper_note,
        tracing_table,
        profile_tables,
        kernel_floor_line,
        startup_lines,
        watch_cost_table,
        loss_table,
        replay_table,
        sessions_table,
    ];
    let mut md = String::new();
    for section in sections {
        section(&mut md, results);
    }
    md
}

/// The machine, its load and how long the bench took.
fn machine_line(md: &mut String, results: &Results) {
    let m = &results.machine;
    let _ = writeln!(
        md,
        "Measured {} on Linux {}, {} × {}, {:.0} GiB; load average {} before, {} after; the bench took {:.0} s.\n",
        m.date,
        m.kernel,
        m.cpus,
        m.cpu,
        m.memory_gib,
        m.load_before,
        m.load_after,
        results.bench_seconds
    );
}

/// Each goal with its measurement and verdict.
fn goals_table(md: &mut String, results: &Results) {
    let _ = writeln!(md, "| goal | measured | target | met |\n| --- | --- | --- | --- |");
    for goal in &results.goals {
        let target = if goal.at_most { "≤" } else { "≥" };
        let verdict = if goal.met {
            "yes".to_string()
        } else {
            format!("**no** ({:.2}x off)", goal.miss_factor())
        };
        let _ = writeln!(
            md,
            "| {} | {:.3} {} | {target} {} {} | {verdict} |",
            goal.name, goal.measured, goal.unit, goal.limit, goal.unit
        );
    }
}

/// The watch soak, when it ran.
fn soak_line(md: &mut String, results: &Results) {
    if let Some(soak) = &results.soak {
        let _ = writeln!(
            md,
            "\nWatch soak: `cradle watch --rotate 64M --window 2` over {} sequential containers ({}) and a storm of {} execs in one: peak RSS {} KiB after {} containers, {} KiB at the end ({:+.1}%), {} events lost, {:.0} s.",
            soak.containers,
            soak.runtimes.join(", "),
            soak.storm_execs,
            soak.peak_rss_after_warm_up_kib,
            super::soak::WARM_UP.min(soak.containers),
            soak.peak_rss_end_kib,
            soak.growth_percent(),
            soak.lost,
            soak.seconds
        );
    }
}

/// The runtimes' lifecycle, with each one's ratio to crun.
fn lifecycle_table(md: &mut String, results: &Results) {
    let _ = writeln!(
        md,
        "\nLifecycle of a busybox `true` container (create + start + wait + delete), ms: median (q1–q3; min–max), n = {}.\n",
        results.lifecycle.first().map_or(0, |l| l.total.n)
    );
    let _ = writeln!(
        md,
        "| runtime | total | create | start | wait | delete | vs crun |\n| --- | --- | --- | --- | --- | --- | --- |"
    );
    let crun = results.lifecycle.iter().find(|l| l.runtime == "crun").map(|l| l.total.median);
    for l in &results.lifecycle {
        let ratio = crun.map_or("-".to_string(), |crun| format!("{:.2}x", l.total.median / crun));
        let _ = writeln!(
            md,
            "| {} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {ratio} |",
            l.runtime,
            spread_cell(&l.total, 1),
            l.create.median,
            l.start.median,
            l.wait.median,
            l.delete.median
        );
    }
}

/// What the setns(2) pre-exec hook adds to every runtime command.
fn wrapper_note(md: &mut String, results: &Results) {
    let w = &results.wrapper;
    let _ = writeln!(
        md,
        "\nEvery runtime command is entered into a mount namespace by a setns(2) pre-exec hook: crun (with `--cgroup-manager=disabled`, as PLATFORM.md runs it) and cradle-cgroup2 into one where /sys/fs/cgroup is a lone cgroup2 mount, cradle and runc into the host's (hybrid cgroups, v1 controllers), where they also place the container in every v1 hierarchy (a cgroup.procs write waits for an RCU grace period) and crun cannot run. The goal compares cradle-cgroup2 with crun: the same environment. `/bin/true` costs {:.2} ms spawned plainly and {:.2} ms through that hook (medians, n = {}); each lifecycle runs three hooked commands.",
        w.plain.median, w.wrapped.median, w.plain.n
    );
}

/// What tracing costs a traced run, against the untraced run and the floor.
fn tracing_table(md: &mut String, results: &Results) {
    let _ = writeln!(
        md,
        "\nTracing cost, ms: the run command's own time (timer around it, inside the trace), and the whole command line including `cradle trace` loading and detaching the probes. The floor is `cradle trace` with `CRADLE_BENCH_FLOOR=1`: every program attached, each returning at once: what the hooks alone cost. n = {}.\n",
        results.tracing.first().map_or(0, |t| t.plain.n)
    );
    let _ = writeln!(
        md,
        "| command | untraced | floor | traced | traced / floor | traced / untraced | whole: untraced, floor, traced |\n| --- | --- | --- | --- | --- | --- | --- |"
    );
    for t in &results.tracing {
        let _ = writeln!(
            md,
            "| `{} run` | {} | {} | {} | {:.3}x | {:.3}x | {:.1}, {:.1}, {:.1} |",
            t.runtime,
            spread_cell(&t.plain, 1),
            spread_cell(&t.floor, 1),
            spread_cell(&t.traced, 1),
            t.traced.median / t.floor.median,
            t.traced.median / t.plain.median,
            t.plain_whole.median,
            t.floor_whole.median,
            t.traced_whole.median
        );
    }
}

/// Per traced workload, the time each program ran.
fn profile_tables(md: &mut String, results: &Results) {
    for profile in &results.profiles {
        let _ = writeln!(
            md,
            "\nProfile of {} in one trace ({:.1} ms of runs): the programs ran {:.2} ms in all (`kernel.bpf_stats_enabled`; a handler's time is in the `sys_enter`/`sys_exit` that tail-called it), and cradle's own threads (the reader) used {:.2} ms of CPU.\n",
            profile.workload,
            profile.workload_ms,
            profile.program_ms(),
            profile.reader_cpu_ms
        );
        let _ = writeln!(md, "| program | runs | ms | ns per run |\n| --- | --- | --- | --- |");
        for program in &profile.programs {
            let _ = writeln!(
                md,
                "| {} | {} | {:.3} | {:.0} |",
                program.name,
                program.runs,
                program.run_time_ns as f64 / 1e6,
                program.run_time_ns as f64 / program.runs.max(1) as f64
            );
        }
    }
}

/// The kernel's floor under a lifecycle.
fn kernel_floor_line(md: &mut String, results: &Results) {
    let f = &results.floor;
    let _ = writeln!(
        md,
        "\nThe kernel's floor under a lifecycle, ms: `unshare` of the bundle's namespaces (mount, uts, ipc, net, pid, cgroup) around an exec of `true`: {}; three sequential spawns of `/bin/true` (a runtime's create, its init, the workload): {}.",
        spread_cell(&f.unshare_exec, 2),
        spread_cell(&f.three_spawns, 2)
    );
}

/// Startup and shutdown, and where startup goes.
fn startup_lines(md: &mut String, results: &Results) {
    let s = &results.startup;
    let _ = writeln!(
        md,
        "\nStartup and shutdown, ms: `cradle trace -o /dev/null -- /bin/true` {} beside `/bin/true` alone {} (n = {}).",
        spread_cell(&s.traced, 1),
        spread_cell(&s.plain, 2),
        s.traced.n
    );
    let b = &results.startup_breakdown;
    let slowest: Vec<String> =
        b.slowest_loads.iter().map(|(name, ms)| format!("`{name}` {ms:.1}")).collect();
    let _ = writeln!(
        md,
        "\nWhere startup goes, ms, from one run under `strace -f -T -ttt` (which slows each syscall: read the shares): before the first program load (BTF, object, maps) {:.1}; {} program loads with verification {:.1} (slowest: {}); attach calls {:.1}; from the last load to the command's exec {:.1}; from the command's exit to cradle's (detach, trailer) {:.1}.",
        b.before_loading_ms,
        b.loads,
        b.loading_ms,
        slowest.join(", "),
        b.attaching_ms,
        b.after_loading_ms,
        b.shutdown_ms
    );
}

/// What a running `cradle watch` costs an untracked workload.
fn watch_cost_table(md: &mut String, results: &Results) {
    let _ = writeln!(
        md,
        "\n`cradle watch` running (its default recording) while an untracked workload runs, ms; watch is started before and stopped after each watched run:\n"
    );
    let _ = writeln!(md, "| workload | alone | watched | ratio |\n| --- | --- | --- | --- |");
    for cost in &results.watch_cost {
        let _ = writeln!(
            md,
            "| `{}` | {} | {} | {:.3}x |",
            cost.workload,
            spread_cell(&cost.alone, 1),
            spread_cell(&cost.watched, 1),
            cost.ratio()
        );
    }
}

/// Loss under concurrent exec storms, per ring size.
fn loss_table(md: &mut String, results: &Results) {
    let _ = writeln!(
        md,
        "\nLoss under concurrent exec storms (`cradle trace --json` of runc runs side by side), the default ring first, then doubled until nothing is lost:\n"
    );
    let _ = writeln!(
        md,
        "| containers × execs | ring | records | lost | workload s | records/s |\n| --- | --- | --- | --- | --- | --- |"
    );
    for loss in &results.loss {
        let _ = writeln!(
            md,
            "| {} × {} | {} MiB | {} | {} | {:.2} | {:.0} |",
            loss.containers,
            loss.execs_each,
            loss.session.ring_bytes >> 20,
            loss.session.records,
            loss.session.lost,
            loss.session.workload_seconds,
            loss.session.records_per_second()
        );
    }
}

/// The collector's throughput replaying a recording.
fn replay_table(md: &mut String, results: &Results) {
    let r = &results.recording;
    let _ = writeln!(
        md,
        "\nCollector, replayed on one core from a recording of {} real ring records ({}; {} lost while recording), in millions of events per CPU-second of the replaying thread (criterion, thread CPU time):\n",
        r.records, r.workload, r.lost
    );
    let _ = writeln!(md, "| stage | median (q1–q3; min–max) | n |\n| --- | --- | --- |");
    for replay in &results.replay {
        let _ = writeln!(
            md,
            "| {} | {} | {} |",
            replay.name,
            spread_cell(&replay.events_per_second.scaled(1e-6), 2),
            replay.events_per_second.n
        );
    }
}

/// The traced sessions: records, loss, speed and memory.
fn sessions_table(md: &mut String, results: &Results) {
    let _ = writeln!(md, "\nTraced sessions (`cradle trace --json` into a FIFO):\n");
    let _ = writeln!(
        md,
        "| session | records read | lost | undecodable | workload s | records/s | cradle trace s | peak RSS (VmHWM) | ru_maxrss incl. children |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    );
    for session in [&results.storm, &results.memory] {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {:.2} | {:.0} | {:.2} | {:.1} MiB | {:.1} MiB |",
            session.workload,
            session.records,
            session.lost,
            session.undecodable,
            session.workload_seconds,
            session.records_per_second(),
            session.whole_seconds,
            session.peak_rss_kib as f64 / 1024.0,
            session.max_rss_with_children_kib as f64 / 1024.0
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn goals_compare_in_their_direction() {
        let fast = Goal::at_most("lifecycle", 0.4, 0.5, "x");
        assert!(fast.met);
        assert_eq!(fast.miss_factor(), 1.0);
        let slow = Goal::at_most("lifecycle", 1.5, 0.5, "x");
        assert!(!slow.met);
        assert_eq!(slow.miss_factor(), 3.0);
        let throughput = Goal::at_least("decode", 2.5, 5.0, "M events/s");
        assert!(!throughput.met);
        assert_eq!(throughput.miss_factor(), 2.0);
        assert!(Goal::at_least("decode", 5.0, 5.0, "M events/s").met);
    }

    #[test]
    fn the_memory_goal_is_judged_on_a_million_events_only() {
        let session = |records, lost| Session {
            workload: "calls".into(),
            records,
            undecodable: 0,
            lost,
            ring_bytes: 8 << 20,
            workload_seconds: 1.0,
            whole_seconds: 1.0,
            peak_rss_kib: 32 * 1024,
            max_rss_with_children_kib: 0,
        };
        let memory_goals = |memory: &Session| {
            goals(&[], &[], &[], memory).into_iter().filter(|g| g.name.contains("RSS")).count()
        };
        assert_eq!(memory_goals(&session(400_000, 0)), 0, "a short session is not judged");
        assert_eq!(memory_goals(&session(900_000, 100_000)), 1, "lost events count");
    }

    #[test]
    fn spread_cells_show_median_quartiles_and_range() {
        let spread = Spread::of(&[1.0, 2.0, 3.0, 4.0, 5.0]).unwrap();
        assert_eq!(spread_cell(&spread, 1), "3.0 (2.0–4.0; 1.0–5.0)");
    }
}
