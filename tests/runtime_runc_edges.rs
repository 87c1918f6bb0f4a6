//! runc's edge cases, as parity tests: each runs one bundle under runc
//! (1.1.5 here) and under cradle and asserts that both give the same
//! result, plus what that result is, so that a change on either side shows.
//! Where cradle differs on purpose, the test says so and asserts the
//! difference (README, "Differences from runc").

#[path = "common/runtime.rs"]
mod runtime;

use std::{
    cell::RefCell,
    fs::File,
    io::{IoSliceMut, Read},
    os::{
        fd::{FromRawFd, OwnedFd},
        unix::net::UnixListener,
    },
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
};

use runtime::{Sandbox, stderr, stdout};
use serde_json::json;

/// runc with its own state root in the sandbox; deletes what it made.
struct Runc<'a> {
    sandbox: &'a Sandbox,
    ids: RefCell<Vec<String>>,
}

impl<'a> Runc<'a> {
    fn new(sandbox: &'a Sandbox) -> Self {
        assert!(Command::new("runc").arg("--version").output().is_ok(), "runc is required");
        Runc { sandbox, ids: RefCell::new(Vec::new()) }
    }

    fn id(&self, name: &str) -> String {
        let id = self.sandbox.id(&format!("{name}-runc"));
        self.ids.borrow_mut().push(id.clone());
        id
    }

    /// `runtime` ("runc" or "cradle") with `args`, its output piped.
    fn piped(&self, runtime: &str, args: &[&str]) -> Command {
        let mut command =
            if runtime == "runc" { self.command(args) } else { self.sandbox.cradle(args) };
        command.stdout(Stdio::piped()).stderr(Stdio::piped());
        command
    }

    /// A unique id for a container of `runtime`'s, deleted in the end.
    fn id_of(&self, runtime: &str, name: &str) -> String {
        if runtime == "runc" { self.id(name) } else { self.sandbox.id(name) }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new("runc");
        command
            .arg("--root")
            .arg(self.sandbox.dir.path().join("runc-state"))
            .args(args)
            .stdin(Stdio::null());
        command
    }
}

impl Drop for Runc<'_> {
    fn drop(&mut self) {
        for id in self.ids.borrow().iter() {
            let _ = self.command(&["delete", "--force", id]).output();
        }
    }
}

/// `run FLAGS --bundle BUNDLE ID` under runc, then under cradle.
fn run_both(sandbox: &Sandbox, bundle: &Path, flags: &[&str]) -> (Output, Output) {
    let runc = Runc::new(sandbox);
    let bundle = bundle.to_str().unwrap();
    let mut args = vec!["run"];
    args.extend_from_slice(flags);
    args.extend_from_slice(&["--bundle", bundle]);
    let runc_id = runc.id("edge");
    let runc_out = runc.command(&[&args[..], &[runc_id.as_str()]].concat()).output().unwrap();
    let id = sandbox.id("edge");
    let cradle_out = sandbox.output(&[&args[..], &[id.as_str()]].concat());
    (runc_out, cradle_out)
}

/// Same exit status and same output; returns the output.
fn assert_same(runc: &Output, cradle: &Output) -> String {
    assert_eq!(
        cradle.status.code(),
        runc.status.code(),
        "exit status differs\nrunc: {}{}\ncradle: {}{}",
        stdout(runc),
        stderr(runc),
        stdout(cradle),
        stderr(cradle)
    );
    assert_eq!(stdout(cradle), stdout(runc), "cradle's stderr: {}", stderr(cradle));
    stdout(runc)
}

/// A bundle whose process runs `script` with stderr on stdout, without
/// the default seccomp profile (its rules are not what these tests are about).
fn script_bundle(sandbox: &Sandbox, name: &str, script: &str) -> PathBuf {
    let bundle = sandbox.bundle(name, &["sh", "-c", &format!("exec 2>&1; {script}")]);
    sandbox.edit_config(&bundle, |config| {
        config["linux"].as_object_mut().unwrap().remove("seccomp");
    });
    bundle
}

/// A tmpfs mounted on the host for the test's length.
struct HostMount(PathBuf);

impl HostMount {
    fn tmpfs(at: PathBuf) -> Self {
        std::fs::create_dir_all(&at).unwrap();
        let status = Command::new("mount").args(["-t", "tmpfs", "tmpfs"]).arg(&at).status();
        assert!(status.unwrap().success(), "mount tmpfs on {}", at.display());
        HostMount(at)
    }
}

impl Drop for HostMount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// Item 4: `rro` makes a bind mount read-only with everything mounted
/// under it (mount_setattr with AT_RECURSIVE), not only its top.
#[test]
fn recursive_read_only_bind_reaches_submounts() {
    let sandbox = Sandbox::new();
    let source = sandbox.dir.path().join("shared");
    let _submount = HostMount::tmpfs(source.join("sub"));
    let bundle = script_bundle(
        &sandbox,
        "rro",
        "touch /mnt/x; touch /mnt/sub/x; grep ' /mnt' /proc/self/mountinfo | cut -d' ' -f5,6",
    );
    sandbox.edit_config(&bundle, |config| {
        config["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/mnt", "type": "bind", "source": source,
            "options": ["rbind", "rro"]
        }));
    });
    let (runc, cradle) = run_both(&sandbox, &bundle, &[]);
    let output = assert_same(&runc, &cradle);
    assert!(output.contains("/mnt/sub/x: Read-only file system"), "{output}");
    assert!(output.contains("/mnt/sub ro,"), "{output}");
    assert!(!source.join("sub/x").exists());
}

/// Item 5: a read-only `/dev` is mounted writable, filled, then made
/// read-only, keeping its other flags.
#[test]
fn read_only_dev_is_filled_first() {
    let sandbox = Sandbox::new();
    let bundle = script_bundle(
        &sandbox,
        "rodev",
        "ls /dev; touch /dev/x; echo hi > /dev/null && echo null works; \
         grep ' /dev ' /proc/self/mountinfo | cut -d' ' -f5,6",
    );
    sandbox.edit_config(&bundle, |config| {
        let dev = config["mounts"]
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .find(|mount| mount["destination"] == "/dev")
            .unwrap();
        dev["options"].as_array_mut().unwrap().push(json!("ro"));
    });
    let (runc, cradle) = run_both(&sandbox, &bundle, &[]);
    let output = assert_same(&runc, &cradle);
    assert!(output.contains("/dev/x: Read-only file system"), "{output}");
    assert!(output.contains("null works") && output.contains("/dev ro,nosuid"), "{output}");
}

/// Item 6: a masked file is covered by /dev/null, a masked directory by a
/// read-only tmpfs: writes fail with EROFS, removals with EBUSY.
#[test]
fn masked_paths_are_masked_as_runc_masks_them() {
    let sandbox = Sandbox::new();
    let bundle = script_bundle(
        &sandbox,
        "mask",
        "cat /secret-file; ls /secret-dir; touch /secret-dir/x; echo x > /secret-file; \
         rm /secret-file; rm -rf /secret-dir; \
         grep secret /proc/self/mountinfo | cut -d' ' -f4,5,6,9",
    );
    std::fs::write(bundle.join("rootfs/secret-file"), "secret\n").unwrap();
    std::fs::create_dir(bundle.join("rootfs/secret-dir")).unwrap();
    std::fs::write(bundle.join("rootfs/secret-dir/inside"), "secret\n").unwrap();
    sandbox.edit_config(&bundle, |config| {
        let masked = config["linux"]["maskedPaths"].as_array_mut().unwrap();
        masked.extend([json!("/secret-file"), json!("/secret-dir")]);
    });
    let (runc, cradle) = run_both(&sandbox, &bundle, &[]);
    let output = assert_same(&runc, &cradle);
    assert!(!output.contains("secret\n") && !output.contains("inside"), "{output}");
    assert!(output.contains("/secret-dir/x: Read-only file system"), "{output}");
    assert!(output.contains("/secret-dir ro,relatime tmpfs"), "{output}");
    assert!(bundle.join("rootfs/secret-dir/inside").exists());
}

/// One message and the descriptor sent with it (SCM_RIGHTS).
fn receive_with_descriptor(stream: &std::os::unix::net::UnixStream) -> (Vec<u8>, OwnedFd) {
    let mut text = [0u8; 4096];
    let mut payload = [IoSliceMut::new(&mut text)];
    let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let message = nix::sys::socket::recvmsg::<()>(
        std::os::fd::AsRawFd::as_raw_fd(stream),
        &mut payload,
        Some(&mut space),
        nix::sys::socket::MsgFlags::empty(),
    )
    .unwrap();
    let fd = message
        .cmsgs()
        .unwrap()
        .find_map(|cmsg| match cmsg {
            nix::sys::socket::ControlMessageOwned::ScmRights(fds) => fds.first().copied(),
            _ => None,
        })
        .expect("a descriptor");
    let length = message.bytes;
    // SAFETY: SCM_RIGHTS gave us this descriptor; nothing else owns it.
    (text[..length].to_vec(), unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Receives the terminal master sent to `listener`.
fn receive_terminal(listener: &UnixListener) -> File {
    let (stream, _) = listener.accept().unwrap();
    File::from(receive_with_descriptor(&stream).1)
}

/// Reads the terminal until `lines` lines came, or the other side hung up.
fn read_lines(master: &File, lines: usize) -> String {
    let mut master = master.try_clone().unwrap();
    let (done, result) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut text = String::new();
        let mut buffer = [0u8; 4096];
        // EIO once the last process holding the terminal is gone.
        while text.matches('\n').count() < lines {
            match master.read(&mut buffer) {
                Ok(n @ 1..) => {
                    text.push_str(&String::from_utf8_lossy(&buffer[..n]).replace('\r', ""))
                }
                _ => break,
            }
        }
        let _ = done.send(text);
    });
    // A guard against a hang, not a timing assertion.
    result.recv_timeout(std::time::Duration::from_secs(60)).expect("the terminal stayed silent")
}

/// The owner of the process's terminal, as the process sees it.
const TERMINAL_OWNER: &str = "stat -c '%u:%g %a' $(readlink /proc/self/fd/0); id -u";

/// Item 7: a process that runs as uid 1000 owns its terminal, started by
/// `create` + `start` and by `exec --tty`.
#[test]
fn terminal_belongs_to_the_process_user() {
    let sandbox = Sandbox::new();
    let runc = Runc::new(&sandbox);
    let bundle = script_bundle(&sandbox, "tty", &format!("{TERMINAL_OWNER}; sleep 60"));
    sandbox.edit_config(&bundle, |config| {
        config["process"]["terminal"] = json!(true);
        config["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    });
    let bundle_arg = bundle.to_str().unwrap();
    let mut seen = Vec::new();
    for (name, id) in [("runc", runc.id("tty")), ("cradle", sandbox.id("tty"))] {
        let socket = sandbox.dir.path().join(format!("{name}.sock"));
        let listener = UnixListener::bind(&socket).unwrap();
        let socket_arg = socket.to_str().unwrap();
        let command = |args: &[&str]| {
            if name == "runc" { runc.command(args) } else { sandbox.cradle(args) }
        };
        let create = ["create", "--bundle", bundle_arg, "--console-socket", socket_arg, &id];
        let out = command(&create).stdout(Stdio::null()).stderr(Stdio::null()).status().unwrap();
        assert!(out.success(), "{name} create");
        let init_terminal = receive_terminal(&listener);
        assert!(command(&["start", &id]).status().unwrap().success(), "{name} start");
        let init_view = read_lines(&init_terminal, 2);
        let exec = [
            "exec",
            "--tty",
            "--detach",
            "--console-socket",
            socket_arg,
            &id,
            "sh",
            "-c",
            TERMINAL_OWNER,
        ];
        let out = command(&exec).output().unwrap();
        assert!(out.status.success(), "{name} exec: {}", stderr(&out));
        let exec_view = read_lines(&receive_terminal(&listener), 2);
        seen.push((init_view, exec_view));
        let _ = command(&["delete", "--force", &id]).output();
    }
    assert_eq!(seen[1], seen[0], "cradle, then runc: (init's view, exec's view)");
    assert_eq!(seen[0].0, "1000:5 620\n1000\n");
    assert_eq!(seen[0].1, "1000:5 620\n1000\n");
}

/// Item 8: each hook kind runs in runc's directory: the bundle for those
/// the runtime runs, the rootfs for createContainer, the process's cwd for
/// startContainer. A hook's relative path works as it does with runc.
#[test]
fn hooks_run_in_runc_directories() {
    let sandbox = Sandbox::new();
    let bundle = sandbox.bundle("hooks", &["true"]);
    let log = sandbox.dir.path().join("hooks.log");
    let hook = |stage: &str, log: &str| json!({"path": "/bin/sh", "args": ["sh", "-c", format!("echo {stage} $(pwd) >> {log}")]});
    let host = log.to_str().unwrap();
    sandbox.edit_config(&bundle, |config| {
        config["process"]["cwd"] = json!("/tmp");
        config["hooks"] = json!({
            "prestart": [hook("prestart", host)],
            "createRuntime": [hook("createRuntime", host)],
            "createContainer": [hook("createContainer", host),
                {"path": "/bin/touch", "args": ["touch", "./lib/created-by-hook"]}],
            "startContainer": [hook("startContainer", "/hooks.log")],
            "poststart": [hook("poststart", host)],
            "poststop": [hook("poststop", host)]
        });
    });
    // runc's busybox has a /lib; this one has not.
    std::fs::create_dir_all(bundle.join("rootfs/lib")).unwrap();
    let runc = Runc::new(&sandbox);
    let mut seen = Vec::new();
    for name in ["runc", "cradle"] {
        let _ = std::fs::remove_file(&log);
        let _ = std::fs::remove_file(bundle.join("rootfs/hooks.log"));
        let _ = std::fs::remove_file(bundle.join("rootfs/lib/created-by-hook"));
        // From another directory than the bundle.
        let args = ["run", "--bundle", bundle.to_str().unwrap()];
        let mut command = if name == "runc" {
            runc.command(&[&args[..], &[runc.id("hooks").as_str()]].concat())
        } else {
            sandbox.cradle(&[&args[..], &[sandbox.id("hooks").as_str()]].concat())
        };
        let out = command.current_dir("/").output().unwrap();
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        assert!(bundle.join("rootfs/lib/created-by-hook").exists(), "{name}");
        // runc 1.1 runs poststart during create: compare per stage.
        let mut lines: Vec<String> = std::fs::read_to_string(&log)
            .unwrap()
            .lines()
            .chain(std::fs::read_to_string(bundle.join("rootfs/hooks.log")).unwrap().lines())
            .map(str::to_owned)
            .collect();
        lines.sort();
        seen.push(lines);
    }
    assert_eq!(seen[1], seen[0], "cradle, then runc");
    let bundle = std::fs::canonicalize(&bundle).unwrap();
    let bundle = bundle.display();
    assert!(seen[0].contains(&format!("createContainer {bundle}/rootfs")), "{:?}", seen[0]);
    assert!(seen[0].contains(&format!("prestart {bundle}")), "{:?}", seen[0]);
    assert!(seen[0].contains(&"startContainer /tmp".to_owned()), "{:?}", seen[0]);
}

/// Item 9: defaultErrnoRet, runc's OR of two tests of one argument, and
/// ENOSYS for syscall numbers above the profile's highest, on a static
/// test program under Docker's default profile.
#[test]
fn seccomp_errno_values_match_runc() {
    let sandbox = Sandbox::new();
    let bundle = sandbox.bundle("seccomp", &["/seccomp_errno"]);
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/seccomp_errno.c");
    let built = Command::new("gcc")
        .args(["-static", "-O2", "-o"])
        .arg(bundle.join("rootfs/seccomp_errno"))
        .arg(&source)
        .output()
        .expect("gcc (cargo xtask setup installs it)");
    assert!(built.status.success(), "gcc: {}", stderr(&built));
    sandbox.edit_config(&bundle, |config| {
        config["process"]["noNewPrivileges"] = json!(true);
        let seccomp = &mut config["linux"]["seccomp"];
        seccomp["defaultErrnoRet"] = json!(libc::ENOANO);
        for rule in seccomp["syscalls"].as_array_mut().unwrap() {
            rule["names"].as_array_mut().unwrap().retain(|name| name != "process_vm_writev");
        }
        seccomp["syscalls"].as_array_mut().unwrap().push(json!({
            "names": ["process_vm_writev"], "action": "SCMP_ACT_ERRNO", "errnoRet": libc::EXFULL,
            "args": [{"index": 0, "value": 1337, "op": "SCMP_CMP_EQ"},
                     {"index": 0, "value": 2020, "op": "SCMP_CMP_EQ"}]
        }));
    });
    let (runc, cradle) = run_both(&sandbox, &bundle, &[]);
    let output = assert_same(&runc, &cradle);
    let expected = format!(
        "nr-1000 -{}\nacct -{}\nprocess_vm_writev(1337) -{}\nprocess_vm_writev(2020) -{}\n\
         process_vm_writev(7) -{}\ngetppid 0\n",
        libc::ENOSYS,
        libc::ENOANO,
        libc::EXFULL,
        libc::EXFULL,
        libc::ENOANO
    );
    assert_eq!(output, expected);
}

/// Item 9: the filter is in place when the startContainer hooks run, so
/// a hook that makes a forbidden call fails the run.
#[test]
fn start_container_hooks_run_under_seccomp() {
    let sandbox = Sandbox::new();
    let bundle = sandbox.bundle("hookseccomp", &["true"]);
    sandbox.edit_config(&bundle, |config| {
        config["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64"],
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_KILL"}]
        });
        config["hooks"] = json!({"startContainer": [
            {"path": "/bin/sh", "args": ["sh", "-c", "mkdir -p /tmp/made-by-hook"]}
        ]});
    });
    let (runc, cradle) = run_both(&sandbox, &bundle, &[]);
    assert!(!runc.status.success(), "runc: {}", stderr(&runc));
    assert!(!cradle.status.success(), "cradle: {}", stderr(&cradle));
    assert!(stderr(&cradle).contains("startContainer hook 0"), "{}", stderr(&cradle));
    assert!(!bundle.join("rootfs/tmp/made-by-hook").exists());
    // The same hook without the rule succeeds under both.
    sandbox.edit_config(&bundle, |config| {
        config["linux"]["seccomp"]["syscalls"] = json!([]);
    });
    let (runc, cradle) = run_both(&sandbox, &bundle, &[]);
    assert!(runc.status.success() && cradle.status.success(), "{}", stderr(&cradle));
}

/// Item 10: with `--no-pivot` the host's procfs is detached before the
/// chroot, so a new procfs cannot be mounted from inside (runc's
/// no_pivot.bats).
#[test]
fn no_pivot_hides_the_host_procfs() {
    let sandbox = Sandbox::new();
    let bundle = script_bundle(
        &sandbox,
        "nopivot",
        "unshare -mrpf sh -euc 'mount -t proc none /proc && echo h > /proc/sysrq-trigger'; \
         echo exit $?",
    );
    let (runc, cradle) = run_both(&sandbox, &bundle, &["--no-pivot"]);
    let output = assert_same(&runc, &cradle);
    assert!(output.contains("mount: permission denied"), "{output}");
    assert!(output.ends_with("exit 1\n"), "{output}");
}

/// Item 11: a namespace listed twice is an error for both (the runtime
/// spec says so); a nested cgroupsPath is created level by level.
#[test]
fn duplicate_namespace_and_nested_cgroups_path() {
    let sandbox = Sandbox::new();
    let bundle = script_bundle(&sandbox, "dupns", "true");
    sandbox.edit_config(&bundle, |config| {
        config["linux"]["namespaces"].as_array_mut().unwrap().push(json!({"type": "ipc"}));
    });
    let (runc, cradle) = run_both(&sandbox, &bundle, &[]);
    assert!(!runc.status.success() && stderr(&runc).contains("duplicated ns"));
    assert!(!cradle.status.success(), "cradle accepted a duplicate namespace");
    assert!(stderr(&cradle).contains("linux.namespaces: namespace type ipc is listed twice"));

    let parent = format!("cradle-edge-{}", std::process::id());
    let bundle = script_bundle(&sandbox, "nested", "grep -E ':(pids|memory):' /proc/self/cgroup");
    sandbox.edit_config(&bundle, |config| {
        config["linux"]["cgroupsPath"] = json!(format!("/{parent}/sub/leaf"));
        // Without a cgroup namespace, to see the path; so no cgroupfs.
        let namespaces = config["linux"]["namespaces"].as_array_mut().unwrap();
        namespaces.retain(|ns| ns["type"] != "cgroup");
        let mounts = config["mounts"].as_array_mut().unwrap();
        mounts.retain(|mount| mount["type"] != "cgroup");
    });
    let (runc, cradle) = run_both(&sandbox, &bundle, &[]);
    // runc leaves the levels above the leaf behind: so do we, then tidy.
    for level in ["sub/leaf", "sub", ""] {
        for dir in runtime::cgroups_mentioning(&parent) {
            let _ = std::fs::remove_dir(dir.join(level));
        }
    }
    let output = assert_same(&runc, &cradle);
    assert!(output.contains(&format!(":pids:/{parent}/sub/leaf")), "{output}");
}

/// Item 12: device access letters other than r, w and m are ignored, as
/// runc ignores them (the kernel knows only those three).
#[test]
fn device_access_letters_beyond_rwm_are_ignored() {
    let sandbox = Sandbox::new();
    let bundle = script_bundle(&sandbox, "rwa", "head -c 3 /dev/zero | wc -c");
    sandbox.edit_config(&bundle, |config| {
        config["linux"]["resources"]["devices"] = json!([
            {"allow": false, "access": "rwm"},
            {"allow": true, "type": "c", "major": 1, "minor": 5, "access": "rwa"}
        ]);
    });
    let (runc, cradle) = run_both(&sandbox, &bundle, &[]);
    let output = assert_same(&runc, &cradle);
    assert_eq!(output, "3\n");
}

/// `time="..." level=LEVEL msg=MSG ...`: the level and the message of a
/// logrus text line, or None if the line has another shape.
fn logrus_text(line: &str) -> Option<(&str, &str)> {
    let rest = line.strip_prefix("time=\"")?;
    let (time, rest) = rest.split_once("\" level=")?;
    if !time.contains('T') {
        return None;
    }
    let (level, message) = rest.split_once(" msg=")?;
    Some((level, message))
}

/// Output rule: `--log FILE` and `--debug` write logrus text lines.
#[test]
fn log_lines_are_logrus_text() {
    let sandbox = Sandbox::new();
    let runc = Runc::new(&sandbox);
    let bundle = script_bundle(&sandbox, "log", "true");
    for (name, log_run, mut debug_run) in [
        (
            "runc",
            runc.command(&["--log", "LOG", "state", "no-such-container"]),
            runc.command(&[
                "--debug",
                "run",
                "--bundle",
                bundle.to_str().unwrap(),
                &runc.id("log"),
            ]),
        ),
        (
            "cradle",
            sandbox.cradle(&["--log", "LOG", "state", "no-such-container"]),
            sandbox.cradle(&[
                "--debug",
                "run",
                "--bundle",
                bundle.to_str().unwrap(),
                &sandbox.id("log"),
            ]),
        ),
    ] {
        let log = sandbox.dir.path().join(format!("{name}.log"));
        let args: Vec<_> = log_run
            .get_args()
            .map(|arg| if arg == "LOG" { log.as_os_str().to_owned() } else { arg.to_owned() })
            .collect();
        let out = Command::new(log_run.get_program()).args(args).output().unwrap();
        assert!(!out.status.success());
        let text = std::fs::read_to_string(&log).unwrap();
        let lines: Vec<_> = text.lines().map(|line| (line, logrus_text(line))).collect();
        assert!(lines.iter().all(|(_, parsed)| parsed.is_some()), "{name}: {text}");
        assert!(
            lines.iter().any(|(_, parsed)| {
                parsed
                    .is_some_and(|(level, msg)| level == "error" && msg.contains("does not exist"))
            }),
            "{name}: {text}"
        );
        let out = debug_run.output().unwrap();
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        let text = stderr(&out);
        assert!(text.lines().all(|line| logrus_text(line).is_some()), "{name}: {text}");
        assert!(text.lines().any(|line| logrus_text(line).unwrap().0 == "debug"), "{name}: {text}");
    }
}

/// Output rule: `--version` and `-v` print runc's block: `NAME version X`
/// then `spec: Y`.
#[test]
fn version_block_is_runc_shaped() {
    let sandbox = Sandbox::new();
    let runc = Runc::new(&sandbox);
    for flag in ["--version", "-v"] {
        for (name, out) in
            [("runc", runc.command(&[flag]).output().unwrap()), ("cradle", sandbox.output(&[flag]))]
        {
            assert!(out.status.success(), "{name} {flag}");
            let text = stdout(&out);
            let lines: Vec<&str> = text.lines().collect();
            assert!(lines[0].starts_with(&format!("{name} version ")), "{name}: {text}");
            assert!(lines.iter().any(|line| line.starts_with("spec: 1.")), "{name}: {text}");
        }
    }
}

/// Output rule: `help` of an unknown command says runc's words with
/// runc's status; a known command's help is clap's (README).
#[test]
fn help_for_an_unknown_command() {
    let sandbox = Sandbox::new();
    let runc = Runc::new(&sandbox);
    let (runc_out, cradle_out) =
        (runc.command(&["help", "nosuch"]).output().unwrap(), sandbox.output(&["help", "nosuch"]));
    assert_eq!(cradle_out.status.code(), runc_out.status.code());
    assert_eq!(cradle_out.status.code(), Some(3));
    assert!(stderr(&runc_out).contains("No help topic for 'nosuch'"));
    assert!(stderr(&cradle_out).contains("No help topic for 'nosuch'"), "{}", stderr(&cradle_out));
    let help = sandbox.output(&["help", "run"]);
    assert!(help.status.success() && stdout(&help).contains("Usage: cradle run"));
}

/// Output rules: `list` (table, `--format json` in runc's field order,
/// `-q`), exec with a missing working directory (255), `run --keep`.
#[test]
fn list_exec_and_keep_as_runc() {
    let sandbox = Sandbox::new();
    let runc = Runc::new(&sandbox);
    let bundle = script_bundle(&sandbox, "list", "sleep 60");
    let kept = script_bundle(&sandbox, "kept", "exit 3");
    let mut seen = Vec::new();
    for name in ["runc", "cradle"] {
        let (id, kept_id) = if name == "runc" {
            (runc.id("list"), runc.id("kept"))
        } else {
            (sandbox.id("list"), sandbox.id("kept"))
        };
        let command = |args: &[&str]| {
            let mut command =
                if name == "runc" { runc.command(args) } else { sandbox.cradle(args) };
            command.stdout(Stdio::piped()).stderr(Stdio::piped());
            command.output().unwrap()
        };
        // The detached init keeps its stdio: not a pipe we would wait on.
        let detached = ["run", "--detach", "--bundle", bundle.to_str().unwrap(), &id];
        let mut run =
            if name == "runc" { runc.command(&detached) } else { sandbox.cradle(&detached) };
        let status = run.stdout(Stdio::null()).stderr(Stdio::null()).status().unwrap();
        assert!(status.success(), "{name} run --detach");
        let json: serde_json::Value =
            serde_json::from_slice(&command(&["list", "--format", "json"]).stdout).unwrap();
        let keys: Vec<String> = json[0].as_object().unwrap().keys().cloned().collect();
        let table = stdout(&command(&["list"]));
        let header: Vec<String> =
            table.lines().next().unwrap().split_whitespace().map(String::from).collect();
        let quiet = stdout(&command(&["list", "-q"]));
        assert_eq!(quiet, format!("{id}\n"), "{name}");
        let missing_cwd = command(&["exec", "--cwd", "/no/such/dir", &id, "true"]);
        let out = command(&["run", "--keep", "--bundle", kept.to_str().unwrap(), &kept_id]);
        assert_eq!(out.status.code(), Some(3), "{name} run --keep: {}", stderr(&out));
        let state: serde_json::Value =
            serde_json::from_slice(&command(&["state", &kept_id]).stdout)
                .unwrap_or_else(|_| panic!("{name}: the kept container has no state"));
        assert!(command(&["delete", &kept_id]).status.success(), "{name} delete of the kept one");
        seen.push((keys, header, missing_cwd.status.code(), state["status"].clone()));
        let _ = command(&["delete", "--force", &id]);
    }
    assert_eq!(seen[1], seen[0], "cradle, then runc");
    assert_eq!(seen[0].2, Some(255));
    assert_eq!(seen[0].3, "stopped");
}

/// The session keyrings the host can see, by description.
fn session_keyring(id: &str) -> Option<String> {
    let keys = std::fs::read_to_string("/proc/keys").unwrap();
    let line = keys.lines().find(|line| line.ends_with(&format!(" _ses.{id}: empty")))?;
    // Its permissions: `... perm 3f1b0000 ...`.
    line.split_whitespace().skip_while(|field| *field != "perm").nth(1).map(str::to_owned)
}

/// Output rule: a container gets a session keyring of its own, named
/// `_ses.ID` and searchable by its user, unless `--no-new-keyring`.
#[test]
fn session_keyring_unless_no_new_keyring() {
    let sandbox = Sandbox::new();
    let runc = Runc::new(&sandbox);
    let bundle = script_bundle(&sandbox, "keyring", "sleep 60");
    let mut seen = Vec::new();
    for name in ["runc", "cradle"] {
        for flags in [&[][..], &["--no-new-keyring"][..]] {
            let id = if name == "runc" { runc.id("keyring") } else { sandbox.id("keyring") };
            let mut args = vec!["run", "--detach"];
            args.extend_from_slice(flags);
            args.extend_from_slice(&["--bundle", bundle.to_str().unwrap(), &id]);
            let mut run = if name == "runc" { runc.command(&args) } else { sandbox.cradle(&args) };
            let status = run.stdout(Stdio::null()).stderr(Stdio::null()).status().unwrap();
            assert!(status.success(), "{name} run {flags:?}");
            seen.push(session_keyring(&id));
            let mut delete = if name == "runc" {
                runc.command(&["delete", "--force", &id])
            } else {
                sandbox.cradle(&["delete", "--force", &id])
            };
            assert!(delete.status().unwrap().success());
        }
    }
    assert_eq!(seen[2..], seen[..2], "cradle, then runc");
    assert!(seen[0].is_some() && seen[1].is_none(), "{seen:?}");
}

/// Output rule: `create`/`run --preserve-fds N` pass descriptors 3 ..
/// 3+N of the caller to the process, and no others.
#[test]
fn preserve_fds_passes_exactly_n_descriptors() {
    let sandbox = Sandbox::new();
    let runc = Runc::new(&sandbox);
    let bundle = script_bundle(&sandbox, "fds", "cat <&3; cat <&4; echo done");
    let file = sandbox.dir.path().join("given");
    std::fs::write(&file, "given to the container\n").unwrap();
    let mut seen = Vec::new();
    for name in ["runc", "cradle"] {
        let base = if name == "runc" { runc.command(&[]) } else { sandbox.cradle(&[]) };
        let id = if name == "runc" { runc.id("fds") } else { sandbox.id("fds") };
        // Descriptors 3 and 4 open on the file, as a caller would pass them.
        let out = Command::new("sh")
            .arg("-c")
            .arg("exec 3<\"$0\" 4<\"$0\"; exec \"$@\"")
            .arg(&file)
            .arg(base.get_program())
            .args(base.get_args())
            .args(["run", "--preserve-fds", "1", "--bundle", bundle.to_str().unwrap(), &id])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        seen.push((out.status.code(), stdout(&out)));
    }
    assert_eq!(seen[1], seen[0], "cradle, then runc");
    assert!(
        seen[0].1.starts_with("given to the container\nsh: 4: Bad file descriptor\n"),
        "{seen:?}"
    );
}

/// Whether the process that a shell's child leaves behind is adopted by
/// the runtime (its parent) once that child exits: a container without a
/// pid namespace, so that no init of its own adopts it.
const ORPHAN_ADOPTER: &str = "orphan=$(sh -c 'sleep 60 >/dev/null 2>&1 & echo $!'); \
    adopter=$(sed -n 's/^PPid:[[:space:]]*//p' /proc/$orphan/status); \
    if [ \"$adopter\" = \"$PPID\" ]; then echo adopted by the runtime; \
    else echo not adopted by the runtime; fi; kill $orphan";

/// Output rule: `run` makes the runtime a child subreaper, so that an
/// orphan of the container's is reaped by it; `--no-subreaper` does not.
#[test]
fn run_is_a_subreaper_unless_no_subreaper() {
    let sandbox = Sandbox::new();
    let bundle = script_bundle(&sandbox, "subreaper", ORPHAN_ADOPTER);
    sandbox.edit_config(&bundle, |config| {
        let namespaces = config["linux"]["namespaces"].as_array_mut().unwrap();
        namespaces.retain(|ns| ns["type"] != "pid");
    });
    let (runc, cradle) = run_both(&sandbox, &bundle, &[]);
    assert_eq!(assert_same(&runc, &cradle), "adopted by the runtime\n");
    let (runc, cradle) = run_both(&sandbox, &bundle, &["--no-subreaper"]);
    assert_eq!(assert_same(&runc, &cradle), "not adopted by the runtime\n");
}

/// runc's words for an SELinux label on a host without SELinux.
const NO_SELINUX: &str =
    "selinux label is specified in config, but selinux is disabled or not supported";

/// Output rule: `exec --process-label` (and `process.selinuxLabel` at
/// create) on a host without SELinux fails as runc's does (exec: status
/// 255); an empty label is no label.
#[test]
fn process_label_without_selinux_fails_as_runc() {
    if std::fs::read_to_string("/proc/filesystems").unwrap().contains("selinuxfs") {
        eprintln!("skipped: this host has SELinux, where runc applies the label");
        return;
    }
    let sandbox = Sandbox::new();
    let runc = Runc::new(&sandbox);
    let bundle = script_bundle(&sandbox, "label", "sleep 60");
    let labelled = script_bundle(&sandbox, "labelled", "true");
    sandbox.edit_config(&labelled, |config| {
        config["process"]["selinuxLabel"] = json!("system_u:system_r:container_t:s0");
    });
    let mut seen = Vec::new();
    for name in ["runc", "cradle"] {
        let command = |args: &[&str]| runc.piped(name, args).output().unwrap();
        let id = runc.id_of(name, "label");
        let detached = ["run", "--detach", "--bundle", bundle.to_str().unwrap(), &id];
        let mut run = runc.piped(name, &detached);
        assert!(run.stdout(Stdio::null()).stderr(Stdio::null()).status().unwrap().success());
        let label = "system_u:system_r:container_t:s0";
        let refused = command(&["exec", "--process-label", label, &id, "true"]);
        assert!(stderr(&refused).contains(NO_SELINUX), "{name}: {}", stderr(&refused));
        let empty = command(&["exec", "--process-label", "", &id, "echo", "ran"]);
        let labelled_id = runc.id_of(name, "labelled");
        let create = command(&["run", "--bundle", labelled.to_str().unwrap(), &labelled_id]);
        assert!(stderr(&create).contains(NO_SELINUX), "{name}: {}", stderr(&create));
        seen.push((
            refused.status.code(),
            empty.status.code(),
            stdout(&empty),
            create.status.code(),
        ));
        let _ = command(&["delete", "--force", &id]);
    }
    assert_eq!(seen[1], seen[0], "cradle, then runc");
    assert_eq!(seen[0], (Some(255), Some(0), "ran\n".to_owned(), Some(1)));
}

/// A seccomp agent, as runc's sample (`contrib/cmd/seccompagent`): each
/// connection brings a container process state and a listener; `mkdir`
/// succeeds without making anything, the chmod calls fail with
/// ENOMEDIUM. Keeps every state message it got.
struct SeccompAgent {
    path: PathBuf,
    messages: std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>>,
}

impl SeccompAgent {
    fn start(path: PathBuf) -> Self {
        let listener = UnixListener::bind(&path).unwrap();
        let messages = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let kept = messages.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let (text, notify) = receive_with_descriptor(&stream);
                kept.lock().unwrap().push(serde_json::from_slice(&text).unwrap());
                std::thread::spawn(move || answer_notifications(notify));
            }
        });
        SeccompAgent { path, messages }
    }
}

/// Answers until every process under the filter is gone.
fn answer_notifications(notify: OwnedFd) {
    use std::os::fd::AsRawFd;
    loop {
        let mut fds = [nix::poll::PollFd::new(
            std::os::fd::AsFd::as_fd(&notify),
            nix::poll::PollFlags::POLLIN,
        )];
        let _ = nix::poll::poll(&mut fds, nix::poll::PollTimeout::NONE);
        let revents = fds[0].revents().unwrap_or(nix::poll::PollFlags::POLLHUP);
        if !revents.contains(nix::poll::PollFlags::POLLIN) {
            return;
        }
        // SAFETY: seccomp_notif is plain data; the kernel wants it zeroed.
        let mut request: libc::seccomp_notif = unsafe { std::mem::zeroed() };
        // SAFETY: the ioctl fills the struct we own.
        if unsafe { libc::ioctl(notify.as_raw_fd(), libc::SECCOMP_IOCTL_NOTIF_RECV, &mut request) }
            < 0
        {
            continue; // the caller was killed meanwhile
        }
        let call = i64::from(request.data.nr);
        let error =
            if [libc::SYS_mkdir, libc::SYS_mkdirat].contains(&call) { 0 } else { -libc::ENOMEDIUM };
        let mut response = libc::seccomp_notif_resp { id: request.id, val: 0, error, flags: 0 };
        // SAFETY: the ioctl reads the struct we own.
        unsafe { libc::ioctl(notify.as_raw_fd(), libc::SECCOMP_IOCTL_NOTIF_SEND, &mut response) };
    }
}

/// A bundle whose filter hands mkdir and chmod to the agent at `listener`.
fn notify_bundle(sandbox: &Sandbox, name: &str, script: &str, listener: &Path) -> PathBuf {
    let bundle = script_bundle(sandbox, name, script);
    sandbox.edit_config(&bundle, |config| {
        config["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "listenerPath": listener, "listenerMetadata": "bar",
            "architectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32", "SCMP_ARCH_X86_64"],
            "syscalls": [{"names": ["mkdir", "mkdirat", "chmod", "fchmod", "fchmodat"],
                          "action": "SCMP_ACT_NOTIFY"}]
        });
    });
    bundle
}

/// The state message with what differs per run named: ids, pids (the
/// process's, then the init's: one number for `run`), and
/// the spec version each runtime was built for (1.0.2-dev for runc 1.1.5).
fn message_shape(message: &serde_json::Value, id: &str) -> String {
    let pid = message["pid"].as_i64().unwrap();
    assert!(pid > 0, "{message}");
    let version = message["ociVersion"].as_str().unwrap();
    let init = message["state"]["pid"].as_i64().unwrap();
    let text = serde_json::to_string(message).unwrap();
    text.replace(&format!("\"{id}\""), "ID")
        .replace(&pid.to_string(), "PID")
        .replace(&init.to_string(), "INIT")
        .replace(&format!("\"{version}\""), "VERSION")
}

/// seccomp notify (runc's seccomp-notify.bats): the filter's listener
/// reaches the agent at listenerPath with runc's state message before the
/// process runs, for `run` and `exec` (with and without
/// no_new_privileges), and the agent answers the calls.
#[test]
fn seccomp_notify_reaches_the_agent_as_with_runc() {
    let sandbox = Sandbox::new();
    let runc = Runc::new(&sandbox);
    let agent = SeccompAgent::start(sandbox.dir.path().join("agent.sock"));
    let script = "mkdir /dev/shm/made && echo mkdir: ok; \
        [ -d /dev/shm/made ] && echo made || echo not made; \
        touch /dev/shm/file; chmod 600 /dev/shm/file; echo chmod: $?";
    let bundle = notify_bundle(&sandbox, "notify", script, &agent.path);
    let daemon = notify_bundle(&sandbox, "notify-exec", "sleep 60", &agent.path);
    // The filter goes in at another point without no_new_privileges.
    sandbox.edit_config(&bundle, |config| config["process"]["noNewPrivileges"] = json!(true));
    sandbox.edit_config(&daemon, |config| config["process"]["noNewPrivileges"] = json!(false));
    let mut seen = Vec::new();
    for name in ["runc", "cradle"] {
        let command = |args: &[&str]| runc.piped(name, args);
        let id = runc.id_of(name, "notify");
        let run = command(&["run", "--bundle", bundle.to_str().unwrap(), &id]).output().unwrap();
        let run_message = agent.messages.lock().unwrap().pop();
        let run_message =
            run_message.unwrap_or_else(|| panic!("{name} run sent no message: {}", stderr(&run)));
        let exec_id = runc.id_of(name, "notify-exec");
        let detached = ["run", "--detach", "--bundle", daemon.to_str().unwrap(), &exec_id];
        let status = command(&detached).stdout(Stdio::null()).stderr(Stdio::null()).status();
        assert!(status.unwrap().success(), "{name} run --detach");
        agent.messages.lock().unwrap().clear();
        let exec_script = format!("exec 2>&1; {script}");
        let exec = command(&["exec", &exec_id, "sh", "-c", &exec_script]).output().unwrap();
        let exec_message = agent.messages.lock().unwrap().pop();
        let exec_message = exec_message
            .unwrap_or_else(|| panic!("{name} exec sent no message: {}", stderr(&exec)));
        let _ = command(&["delete", "--force", &exec_id]).output();
        seen.push((
            run.status.code(),
            stdout(&run),
            message_shape(&run_message, &id),
            exec.status.code(),
            stdout(&exec),
            message_shape(&exec_message, &exec_id),
        ));
        assert_eq!(run_message["state"]["bundle"], json!(bundle), "{name}");
        assert_eq!(exec_message["state"]["status"], "running", "{name}");
    }
    assert_eq!(seen[1], seen[0], "cradle, then runc");
    let expected = "mkdir: ok\nnot made\nchmod: /dev/shm/file: No medium found\nchmod: 1\n";
    assert_eq!((seen[0].0, seen[0].1.as_str()), (Some(0), expected));
    assert_eq!(seen[0].4, expected);
    assert!(seen[0].2.contains("\"metadata\":\"bar\""), "{}", seen[0].2);
    assert!(seen[0].2.contains("\"status\":\"creating\""), "{}", seen[0].2);
}

/// seccomp notify: a listenerPath nobody listens on fails the create as
/// with runc, naming the field and the path, and leaves nothing behind.
#[test]
fn seccomp_notify_without_an_agent_fails_and_leaves_nothing() {
    let sandbox = Sandbox::new();
    let runc = Runc::new(&sandbox);
    let nobody = sandbox.dir.path().join("nobody.sock");
    let bundle = notify_bundle(&sandbox, "noagent", "true", &nobody);
    let runc_out =
        runc.command(&["run", "--bundle", bundle.to_str().unwrap(), &runc.id("noagent")]);
    let runc_out = { runc_out }.output().unwrap();
    assert!(!runc_out.status.success());
    assert!(stderr(&runc_out).contains("failed to connect with seccomp agent"));
    let id = sandbox.id("noagent");
    let out = sandbox.create(&bundle, &id);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let message = stderr(&out);
    assert!(message.contains("failed to connect with seccomp agent"), "{message}");
    assert!(
        message.contains(&format!("linux.seccomp.listenerPath \"{}\"", nobody.display())),
        "{message}"
    );
    // Nothing left: no state, no cgroup, no process.
    assert!(!sandbox.root.join(&id).exists(), "a state directory is left");
    assert!(stderr(&sandbox.output(&["state", &id])).contains("does not exist"));
    assert!(runtime::cgroups_mentioning(&id).is_empty(), "a cgroup is left");
    assert!(runtime::processes_mentioning(&id).is_empty(), "a process is left");
}

/// A bundle under a directory whose name has a space, on a shared mount,
/// with `rootfsPropagation: shared`: the root switch needs the rootfs's
/// parent mount made private, found in mountinfo, where the kernel writes
/// the space as `\040`. Misread, the wrong mount was made private and
/// pivot_root failed with EINVAL; runc runs it.
///
/// Each runtime runs in a throwaway mount namespace (`unshare -m`): a
/// shared rootfs propagates the container's mounts back to its peer group,
/// which must not be the host's.
#[test]
fn a_shared_rootfs_propagation_under_a_path_with_a_space_runs_as_under_runc() {
    let sandbox = Sandbox::new();
    let spaced = sandbox.dir.path().join("with space");
    let bundle = script_bundle(&sandbox, "with space/bundle", "echo ran");
    sandbox.edit_config(&bundle, |config| {
        config["linux"]["rootfsPropagation"] = json!("shared");
    });
    let run_in_own_mount_namespace = |runtime: &str, root: &Path, id: &str| {
        Command::new("unshare")
            .args(["-m", "--propagation", "private", "sh", "-euc"])
            .arg(r#"mount --bind "$1" "$1"; mount --make-shared "$1"; exec "$2" --root "$3" run --bundle "$4" "$5""#)
            .arg("sh")
            .arg(&spaced)
            .arg(runtime)
            .arg(root)
            .arg(&bundle)
            .arg(id)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let runc_root = sandbox.dir.path().join("runc-state");
    let runc = run_in_own_mount_namespace("runc", &runc_root, &sandbox.id("spaced-runc"));
    let cradle =
        run_in_own_mount_namespace(runtime::cradle_bin(), &sandbox.root, &sandbox.id("spaced"));
    assert_eq!(assert_same(&runc, &cradle), "ran\n");
    let left = runtime::host_mounts_mentioning(sandbox.dir.path());
    assert!(left.is_empty(), "mounts left on the host: {left:#?}");
}
