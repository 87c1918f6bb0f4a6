//! Recognising a container runtime invocation from an exec's argv:
//! `runc [global flags] COMMAND [flags] ID`, and the same for crun and
//! cradle. This is how a container gets its id before any of its
//! namespaces exist, and how a later command (`runc start ID`,
//! `runc delete ID`) is tied to the container it names.

/// A runtime command that names a container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invocation {
    /// `runc`, `crun` or `cradle`.
    pub runtime: String,
    /// `run`, `create`, `start`, `delete`, ...: one of [`COMMANDS`].
    pub command: String,
    pub id: String,
    /// `--bundle`/`-b`, when given (the runtime's working directory otherwise).
    pub bundle: Option<String>,
}

impl Invocation {
    /// `run` and `create` make a new container; the other commands act on
    /// one that exists.
    pub fn creates(&self) -> bool {
        matches!(self.command.as_str(), "run" | "create")
    }
}

/// Runtimes whose command line follows runc's.
pub const RUNTIMES: &[&str] = &["runc", "crun", "cradle"];

/// The commands of runc's command line whose first operand is a
/// container's id.
pub const COMMANDS: &[&str] = &[
    "run", "create", "start", "delete", "kill", "exec", "state", "pause", "resume", "ps", "update",
    "events",
];

/// Global flags (before the command) that take a value.
const GLOBAL_VALUE_FLAGS: &[&str] =
    &["--root", "--log", "--log-format", "--rootless", "--criu", "--cgroup-manager"];

/// Flags of the commands that take a value (no two commands give one
/// name different arities, so one list serves them all).
const COMMAND_VALUE_FLAGS: &[&str] = &[
    // run, create
    "--bundle",
    "-b",
    "--console-socket",
    "--pid-file",
    "--preserve-fds",
    "--trace",
    "--net",
    "--bridge",
    // exec
    "--process",
    "-p",
    "--cwd",
    "--env",
    "-e",
    "--user",
    "-u",
    "--additional-gids",
    "-g",
    "--process-label",
    "--apparmor",
    "--cap",
    "-c",
    "--cgroup",
    // ps, events
    "--format",
    "-f",
    "--interval",
    // update
    "--resources",
    "-r",
    "--blkio-weight",
    "--cpu-period",
    "--cpu-quota",
    "--cpu-share",
    "--cpu-rt-period",
    "--cpu-rt-runtime",
    "--cpuset-cpus",
    "--cpuset-mems",
    "--kernel-memory",
    "--kernel-memory-tcp",
    "--memory",
    "--memory-reservation",
    "--memory-swap",
    "--pids-limit",
    "--l3-cache-schema",
    "--mem-bw-schema",
];

/// The runtime name of an executable path, if it is one of [`RUNTIMES`].
pub fn runtime_name(program: &str) -> Option<&str> {
    let name = program.rsplit('/').next().unwrap_or(program);
    RUNTIMES.contains(&name).then_some(name)
}

/// The invocation `argv` describes, if it names a container.
pub fn parse(argv: &[String]) -> Option<Invocation> {
    let runtime = runtime_name(argv.first()?)?;
    let mut args = argv[1..].iter();
    let command = skip_flags(&mut args, GLOBAL_VALUE_FLAGS, &mut None)?;
    if !COMMANDS.contains(&command.as_str()) {
        return None;
    }
    let mut bundle = None;
    let id = skip_flags(&mut args, COMMAND_VALUE_FLAGS, &mut bundle)?;
    Some(Invocation {
        runtime: runtime.to_string(),
        command: command.clone(),
        id: id.clone(),
        bundle,
    })
}

/// Advances past flags to the first positional argument, noting the
/// bundle flag's value on the way.
fn skip_flags<'a>(
    args: &mut impl Iterator<Item = &'a String>,
    value_flags: &[&str],
    bundle: &mut Option<String>,
) -> Option<&'a String> {
    while let Some(arg) = args.next() {
        if arg == "--" {
            return args.next();
        }
        if !arg.starts_with('-') || arg == "-" {
            return Some(arg);
        }
        let (name, inline_value) = match arg.split_once('=') {
            Some((name, value)) => (name, Some(value.to_string())),
            None => (arg.as_str(), None),
        };
        let value = match inline_value {
            Some(value) => Some(value),
            None if value_flags.contains(&name) => args.next().cloned(),
            None => None,
        };
        if name == "--bundle" || name == "-b" {
            *bundle = value;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(line: &str) -> Vec<String> {
        line.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn runc_run_with_global_and_command_flags() {
        let found =
            parse(&argv("/usr/sbin/runc --root /run/x --debug run --bundle /b -d ctr1")).unwrap();
        assert_eq!(
            found,
            Invocation {
                runtime: "runc".into(),
                command: "run".into(),
                id: "ctr1".into(),
                bundle: Some("/b".into())
            }
        );
        assert!(found.creates());
    }

    #[test]
    fn inline_values_and_create() {
        let found = parse(&argv("crun --log=/l create --bundle=/b2 --pid-file /p c2")).unwrap();
        assert_eq!((found.command.as_str(), found.id.as_str()), ("create", "c2"));
        assert_eq!(found.bundle.as_deref(), Some("/b2"));
    }

    /// The commands containerd and podman's conmon run after create, as
    /// they write them.
    #[test]
    fn later_commands_name_their_container() {
        for (line, command, id) in [
            (
                "runc --root /var/run/docker/runtime-runc/moby --log /l --log-format json start abc",
                "start",
                "abc",
            ),
            ("runc --root /r --log /l --log-format json delete --force abc", "delete", "abc"),
            ("runc --root /r kill abc 9", "kill", "abc"),
            ("runc --root /r kill --all abc SIGKILL", "kill", "abc"),
            ("runc --root /r exec --process /tmp/p.json --detach --pid-file /p abc", "exec", "abc"),
            ("runc exec -e A=1 -u 0 --cwd / -t abc sh", "exec", "abc"),
            ("crun --root /r state abc", "state", "abc"),
            ("cradle pause abc", "pause", "abc"),
            ("runc update --resources - abc", "update", "abc"),
            ("runc ps --format json abc", "ps", "abc"),
        ] {
            let found = parse(&argv(line)).unwrap_or_else(|| panic!("{line}"));
            assert_eq!((found.command.as_str(), found.id.as_str()), (command, id), "{line}");
            assert!(!found.creates(), "{line}");
        }
    }

    #[test]
    fn other_commands_are_not_containers() {
        assert_eq!(parse(&argv("runc init")), None);
        assert_eq!(parse(&argv("runc --root /r list")), None);
        assert_eq!(parse(&argv("runc features")), None);
        assert_eq!(parse(&argv("runc run")), None, "no id");
        assert_eq!(parse(&argv("runc delete --force")), None, "no id");
        assert_eq!(parse(&argv("docker run busybox")), None);
        assert_eq!(parse(&argv("cradle trace -- runc run x")), None);
    }
}
