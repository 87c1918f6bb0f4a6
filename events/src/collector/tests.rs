use super::*;
use crate::event::{NamespaceSource, Namespaces};

struct Script {
    ts: u64,
    events: Vec<Event>,
}

impl Script {
    fn new() -> Script {
        Script { ts: 0, events: Vec::new() }
    }

    fn push(&mut self, tgid: u32, detail: Detail) -> &mut Script {
        self.ts += 1;
        self.events.push(Event {
            seq: self.ts,
            ts_ns: self.ts,
            ..Event::of_task(tgid, tgid, "x", detail)
        });
        self
    }
}

fn exec(argv: &str) -> Detail {
    Detail::Exec {
        filename: argv.split(' ').next().unwrap().into(),
        argv: argv.split(' ').map(String::from).collect(),
        argv_truncated: false,
        filename_truncated: false,
        at: false,
        ret: Some(0),
    }
}

fn fork(child: u32) -> Detail {
    Detail::TaskNew { child_pid: child, child_tgid: child, clone_flags: 0 }
}

fn unshare() -> Detail {
    Detail::Namespaces {
        source: NamespaceSource::Unshare,
        flags: 0,
        created: vec!["mnt".into()],
        target_pid: 0,
        namespaces: Namespaces { mnt: 7, ..Default::default() },
        ret: 0,
        hook: Default::default(),
    }
}

fn mount() -> Detail {
    Detail::Mount {
        source: Some("proc".into()),
        target: Some("/proc".into()),
        fstype: Some("proc".into()),
        flags: 0,
        flag_names: vec![],
        data: None,
        ret: 0,
    }
}

fn pivot() -> Detail {
    Detail::PivotRoot { new_root: Some(".".into()), put_old: Some(".".into()), ret: 0 }
}

fn capset() -> Detail {
    Detail::Capset {
        version: None,
        target_pid: None,
        effective: None,
        permitted: None,
        inheritable: None,
        ret: 0,
    }
}

/// runc run: runtime 10 forks 11 (runc init), which forks 12 (the init).
fn runc_run(script: &mut Script, base: u32, id: &str) {
    let init = runc_birth(script, base, id);
    script
        .push(init, Detail::Sethostname { name: Some("h".into()), ret: 0 })
        .push(init, Detail::TaskExit { exit_code: 0 });
}

/// A runc run up to its workload's exec; returns the init's pid.
fn runc_birth(script: &mut Script, base: u32, id: &str) -> u32 {
    let (runtime, stage, init) = (base, base + 1, base + 2);
    script
        .push(runtime, exec(&format!("runc --root /r run --bundle /b {id}")))
        .push(runtime, fork(stage))
        .push(stage, exec("runc init"))
        .push(stage, unshare())
        .push(stage, fork(init))
        .push(init, mount())
        .push(init, pivot())
        .push(init, capset())
        .push(init, exec("sh -c true"));
    init
}

#[test]
fn a_runc_container_goes_through_every_phase_in_order() {
    let mut script = Script::new();
    script.push(5, exec("sh -c runc"));
    runc_run(&mut script, 10, "c1");
    let mut collector = Collector::default();
    let attributions: Vec<Attribution> =
        script.events.iter().map(|event| collector.observe(event)).collect();

    assert_eq!(attributions[0].container, None, "the shell before runc is the host's");
    let containers: Vec<&Container> = collector.containers().collect();
    assert_eq!(containers.len(), 1);
    let c = &containers[0];
    assert_eq!((&*c.id, c.runtime.as_str(), c.bundle.as_deref()), ("c1", "runc", Some("/b")));
    assert_eq!(c.init_pid, Some(12));
    assert_eq!(c.exit(), Some(crate::ExitStatus::Exited { code: 0 }));
    assert_eq!(c.namespaces.unwrap().mnt, 7);
    let phases: Vec<Phase> = c.phases.iter().map(|mark| mark.phase).collect();
    assert_eq!(phases, Phase::ALL.to_vec());
    let roles: Vec<Option<Role>> = attributions.iter().map(|a| a.role).collect();
    use Role::*;
    assert_eq!(
        roles,
        [
            None,
            Some(Runtime),
            Some(Runtime),
            Some(Intermediate),
            Some(Intermediate),
            Some(Intermediate),
            Some(Intermediate),
            Some(Init),
            Some(Init),
            // The exec that turns the init into the workload is the workload's.
            Some(Workload),
            Some(Workload),
            Some(Workload),
        ]
    );
}

#[test]
fn concurrent_containers_never_mix() {
    // Two runc runs whose events interleave one by one.
    let (mut a, mut b) = (Script::new(), Script::new());
    runc_run(&mut a, 100, "a");
    runc_run(&mut b, 200, "b");
    let mut collector = Collector::default();
    for (ea, eb) in a.events.iter().zip(&b.events) {
        let (at, bt) = (collector.observe(ea), collector.observe(eb));
        assert_eq!(at.container, Some(0));
        assert_eq!(bt.container, Some(1));
    }
    let ids: Vec<&str> = collector.containers().map(|c| &*c.id).collect();
    assert_eq!(ids, ["a", "b"]);
    assert!(collector.containers().all(|c| c.phase() == Phase::Exit));
}

fn veth(link_netns: u32, peer_netns: u32) -> Detail {
    let end =
        |name: &str, netns| crate::event::VethEndpoint { name: name.into(), ifindex: 9, netns };
    Detail::Veth { link: end("veth0", link_netns), peer: end("eth0", peer_netns), ret: 0 }
}

#[test]
fn a_link_a_daemon_puts_in_a_containers_new_netns_is_the_containers() {
    const CLONE_NEWNET: u64 = 0x4000_0000;
    let mut script = Script::new();
    script.push(10, exec("runc run c1"));
    script.push(
        10,
        Detail::Namespaces {
            source: NamespaceSource::Unshare,
            flags: CLONE_NEWNET,
            created: vec!["net".into()],
            target_pid: 10,
            namespaces: Namespaces { net: 4026532999, ..Default::default() },
            ret: 0,
            hook: Default::default(),
        },
    );
    // dockerd (pid 3), tracked by nobody: a host-only pair, then the pair
    // whose peer lands in the container's namespace.
    script.push(3, veth(4026531840, 4026531840));
    script.push(3, veth(4026531840, 4026532999));
    let mut collector = Collector::default();
    let owners: Vec<Attribution> = script.events.iter().map(|e| collector.observe(e)).collect();
    assert_eq!(owners[2].container, None, "a pair left on the host is the host's");
    assert_eq!((owners[3].container, owners[3].role), (Some(0), Some(Role::Runtime)));
    // The daemon did not become a process of the container.
    assert_eq!(collector.processes_of(0).count(), 1);
}

#[test]
fn a_container_without_a_netns_of_its_own_claims_no_host_link() {
    let mut script = Script::new();
    runc_run(&mut script, 10, "c1");
    script.push(3, veth(4026531840, 4026531840));
    let mut collector = Collector::default();
    let last = script.events.iter().map(|e| collector.observe(e)).last().unwrap();
    assert_eq!(last.container, None);
}

#[test]
fn phases_never_go_back() {
    let mut script = Script::new();
    runc_run(&mut script, 10, "c");
    // A late mount after the workload started stays in the current phase.
    script.events.pop();
    script.push(12, mount());
    let mut collector = Collector::default();
    let last = script.events.iter().map(|e| collector.observe(e)).last().unwrap();
    assert_eq!(last.phase, Some(Phase::Running));
}

#[test]
fn a_failed_runtime_exec_starts_nothing() {
    let mut script = Script::new();
    let mut failed = exec("runc run x");
    if let Detail::Exec { ret, .. } = &mut failed {
        *ret = Some(-2);
    }
    script.push(10, failed);
    let mut collector = Collector::default();
    assert_eq!(collector.observe(&script.events[0]).container, None);
    assert_eq!(collector.containers().len(), 0);
}

fn exit() -> Detail {
    Detail::TaskExit { exit_code: 0 }
}

/// Issue 17's pid reuse: every process of container "old" exits, and a new
/// `runc run` gets the same pids. Before processes were forgotten on exit,
/// "new" was taken for a re-exec inside "old" and all of its events went
/// to "old".
#[test]
fn a_recycled_pid_is_a_new_process_of_a_new_container() {
    let mut script = Script::new();
    runc_run(&mut script, 10, "old");
    script.push(11, exit()).push(10, exit());
    let old_end = script.events.len();
    runc_run(&mut script, 10, "new");
    let mut collector = Collector::default();
    let owners: Vec<Option<usize>> =
        script.events.iter().map(|e| collector.observe(e).container).collect();
    let ids: Vec<&str> = collector.containers().map(|c| &*c.id).collect();
    assert_eq!(ids, ["old", "new"]);
    assert!(owners[..old_end].iter().all(|o| *o == Some(0)));
    assert!(owners[old_end..].iter().all(|o| *o == Some(1)), "{owners:?}");
    assert!(collector.containers().all(|c| c.phase() == Phase::Exit));
    assert!(!collector.knows(12), "the new init exited too");
}

#[test]
fn a_process_ends_with_its_last_thread_not_its_leader() {
    let mut script = Script::new();
    script
        .push(10, exec("runc run c"))
        .push(10, Detail::TaskNew { child_pid: 15, child_tgid: 10, clone_flags: 0x10000 });
    let mut collector = Collector::default();
    script.events.iter().for_each(|e| _ = collector.observe(e));
    let mut leader_exit = Event::of_task(10, 10, "runc", exit());
    assert_eq!(collector.observe(&leader_exit).container, Some(0));
    assert!(collector.knows(10), "thread 15 still runs");
    let thread_call = Event::of_task(15, 10, "runc", mount());
    assert_eq!(collector.observe(&thread_call).container, Some(0));
    leader_exit.pid = 15;
    collector.observe(&leader_exit);
    assert!(!collector.knows(10), "forgotten once its last thread exited");
}

/// Issue 17: docker's `runc start ID` and `runc delete ID` were the
/// host's. Every later command that names a known container is its, and
/// `exec`'s program is its workload.
#[test]
fn later_runtime_commands_on_a_known_id_are_the_containers() {
    let mut script = Script::new();
    runc_run(&mut script, 10, "c1");
    script
        .push(20, exec("runc --root /r start c1"))
        .push(20, exit())
        .push(30, exec("runc --root /r exec c1 echo hi"))
        .push(30, fork(31))
        .push(31, exec("/proc/self/exe init"))
        .push(31, exec("echo hi"))
        .push(31, exit())
        .push(40, exec("runc --root /r delete --force c1"))
        .push(50, exec("runc --root /r delete other"))
        .push(60, exec("crun delete c1"));
    let mut collector = Collector::default();
    let owners: Vec<Attribution> = script.events.iter().map(|e| collector.observe(e)).collect();
    let n = owners.len();
    let last = |back: usize| owners[n - back];
    assert_eq!(
        (last(10).container, last(10).call, last(10).role),
        (Some(0), Some(0), Some(Role::Runtime))
    );
    assert_eq!((last(8).container, last(8).call), (Some(0), Some(1)));
    assert_eq!(last(6).role, Some(Role::Intermediate), "runc init is the runtime's");
    assert_eq!((last(5).role, last(5).call), (Some(Role::Workload), Some(1)), "exec's program");
    assert_eq!((last(3).container, last(3).call), (Some(0), Some(2)));
    assert_eq!(last(2).container, None, "no container of that id");
    assert_eq!(last(1).container, None, "another runtime's id space");
    let calls: Vec<(&str, u32)> =
        collector.container(0).unwrap().calls.iter().map(|c| (&*c.command, c.pid)).collect();
    assert_eq!(calls, [("start", 20), ("exec", 30), ("delete", 40)]);
    // None of it moved the birth on, or ended the container again.
    assert_eq!(collector.container(0).unwrap().phases.len(), Phase::ALL.len());
}

/// A replay takes the launcher chain from the container record, whether
/// the record comes before its events or after (a trace file has it last).
#[test]
fn a_replay_takes_the_launcher_chain_from_the_record() {
    let mut script = Script::new();
    runc_run(&mut script, 10, "c1");
    let mut live = Collector::default();
    script.events.iter().for_each(|e| _ = live.observe(e));
    let mut recorded = live.container(0).unwrap().clone();
    recorded.launchers =
        vec![Launcher { pid: 3, comm: "shim".into(), exe: None, argv: vec!["shim".into()] }];
    for before in [true, false] {
        let mut replay = Collector::default();
        if before {
            replay.merge_recorded(&recorded);
        }
        script.events.iter().for_each(|e| _ = replay.observe(e));
        if !before {
            replay.merge_recorded(&recorded);
        }
        assert_eq!(replay.containers().collect::<Vec<_>>(), [&recorded], "record first: {before}");
    }
}

/// `watch`'s window: a container is forgotten only once none of its
/// processes is alive and it has been over long enough; keys go on.
#[test]
fn retire_forgets_only_containers_that_are_over() {
    let mut script = Script::new();
    runc_run(&mut script, 10, "c1");
    let mut collector = Collector::default();
    script.events.iter().for_each(|e| _ = collector.observe(e));
    assert!(collector.retire(u64::MAX).is_empty(), "runc 10 and 11 still run");
    let end = script.events.len();
    script.push(11, exit()).push(10, exit());
    script.events[end..].iter().for_each(|e| _ = collector.observe(e));
    let exited = collector.container(0).unwrap().phases.last().unwrap().ts_ns;
    assert!(collector.retire(exited).is_empty(), "not over for long enough");
    let retired = collector.retire(exited + 1);
    assert_eq!(retired.iter().map(|c| &*c.id).collect::<Vec<_>>(), ["c1"]);
    assert_eq!(collector.containers().len(), 0);
    let mut next = Script::new();
    runc_run(&mut next, 20, "c2");
    let owner = collector.observe(&next.events[0]);
    assert_eq!(owner.container, Some(1), "a forgotten container's key is not reused");
}

/// A live session reads a container's id maps through a process of its
/// user namespace once the runtime has written them, never through a
/// process outside it; a replay takes them from the record.
#[test]
fn the_id_maps_are_read_in_the_container_s_user_namespace_once_written() {
    use std::os::unix::fs::MetadataExt;
    let proc = tempfile::tempdir().unwrap();
    let file = |pid: u32, name: &str| proc.path().join(pid.to_string()).join(name);
    for pid in [10, 11, 12] {
        std::fs::create_dir_all(file(pid, "ns")).unwrap();
        std::fs::write(file(pid, "uid_map"), "").unwrap();
        std::fs::write(file(pid, "gid_map"), "").unwrap();
    }
    std::fs::write(file(10, "ns/user"), "").unwrap();
    std::fs::write(file(11, "ns/user"), "").unwrap();
    std::fs::hard_link(file(11, "ns/user"), file(12, "ns/user")).unwrap();
    let user_ns = u32::try_from(std::fs::metadata(file(11, "ns/user")).unwrap().ino()).unwrap();
    let new_user = Detail::Namespaces {
        source: NamespaceSource::Unshare,
        flags: CLONE_NEWUSER,
        created: vec!["user".into()],
        target_pid: 0,
        namespaces: Namespaces { user: user_ns, ..Default::default() },
        ret: 0,
        hook: Default::default(),
    };
    let mut script = Script::new();
    script
        .push(10, exec("runc --root /r run --bundle /b c1"))
        .push(10, fork(11))
        .push(11, exec("runc init"))
        .push(11, new_user)
        .push(10, mount())
        .push(11, fork(12))
        .push(12, pivot());
    let mut live = Collector { proc: Some(proc.path().to_path_buf()), ..Default::default() };
    let events = &script.events;
    events[..4].iter().for_each(|e| _ = live.observe(e));
    assert_eq!(live.container(0).unwrap().id_mappings, None, "not written yet");
    for pid in [10, 11, 12] {
        std::fs::write(file(pid, "uid_map"), "0 100000 65536\n").unwrap();
        std::fs::write(file(pid, "gid_map"), "0 100000 65536\n").unwrap();
    }
    std::fs::write(file(10, "uid_map"), "0 0 4294967295\n").unwrap();
    _ = live.observe(&events[4]);
    assert_eq!(live.container(0).unwrap().id_mappings, None, "the runtime is not in it");
    std::fs::remove_dir_all(proc.path().join("11")).unwrap();
    _ = live.observe(&events[5]);
    assert_eq!(live.container(0).unwrap().id_mappings, None, "11 is gone");
    _ = live.observe(&events[6]);
    let range = IdRange { inside: 0, outside: 100_000, count: 65_536 };
    let expected = IdMappings { user_ns, read_from_pid: 12, uids: vec![range], gids: vec![range] };
    let recorded = live.container(0).unwrap().clone();
    assert_eq!(recorded.id_mappings.as_ref(), Some(&expected));

    let mut replay = Collector::default();
    replay.merge_recorded(&recorded);
    events.iter().for_each(|e| _ = replay.observe(e));
    assert_eq!(replay.container(0).unwrap().id_mappings, Some(expected));
}

/// A rotated file begins with the records that carry the live containers
/// over: a replay of that file alone takes them in, and the later events of
/// their processes, and later commands on their ids, are theirs.
#[test]
fn a_carried_record_makes_a_later_file_attribute_alone() {
    let mut first = Script::new();
    let init = runc_birth(&mut first, 10, "c1");
    let mut live = Collector::default();
    first.events.iter().for_each(|e| _ = live.observe(e));
    let carried = live.carried();
    assert_eq!(carried.len(), 1);
    let pids: Vec<u32> = carried[0].processes.iter().map(|p| p.tgid).collect();
    assert_eq!(pids, [10, 11, init]);

    let mut later = Script { ts: 100, events: Vec::new() };
    later
        .push(init, fork(13))
        .push(13, exec("ls"))
        .push(20, exec("runc --root /r delete c1"))
        .push(init, Detail::TaskExit { exit_code: 3 << 8 });
    let mut replay = Collector::default();
    replay.merge_recorded(&carried[0]);
    let owners: Vec<Attribution> = later.events.iter().map(|e| replay.observe(e)).collect();
    assert!(owners.iter().all(|o| o.container == Some(0)), "{owners:?}");
    assert_eq!(owners[1].role, Some(Role::Workload));
    assert_eq!(owners[2].call, Some(0), "delete names the carried id");
    let container = replay.container(0).unwrap();
    assert_eq!(container.exit(), Some(ExitStatus::Exited { code: 3 }));
    assert!(container.processes.is_empty(), "the carried processes are taken in, not kept");
    // Without the carried record, the same events are the host's.
    let mut alone = Collector::default();
    assert!(later.events.iter().all(|e| alone.observe(e).container.is_none()));
}
