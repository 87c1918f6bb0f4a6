//! Recognising a container runtime invocation from an exec's argv:
//! `runc [global flags] run|create [flags] ID`, and the same for crun and
//! cradle. This is how a container gets its id before any of its
//! namespaces exist.

/// A runtime command that creates a container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invocation {
    /// `runc`, `crun` or `cradle`.
    pub runtime: String,
    /// `run` or `create`.
    pub command: String,
    pub id: String,
    /// `--bundle`/`-b`, when given (the runtime's working directory otherwise).
    pub bundle: Option<String>,
}

/// Runtimes whose command line follows runc's.
const RUNTIMES: &[&str] = &["runc", "crun", "cradle"];

/// Global flags (before the command) that take a value.
const GLOBAL_VALUE_FLAGS: &[&str] =
    &["--root", "--log", "--log-format", "--rootless", "--criu", "--cgroup-manager"];

/// Flags of `run`/`create` that take a value.
const COMMAND_VALUE_FLAGS: &[&str] = &[
    "--bundle",
    "-b",
    "--console-socket",
    "--pid-file",
    "--preserve-fds",
    "--trace",
    "--net",
    "--bridge",
];

/// The invocation `argv` describes, if it creates a container.
pub fn parse(argv: &[String]) -> Option<Invocation> {
    let program = argv.first()?;
    let runtime = program.rsplit('/').next().unwrap_or(program);
    if !RUNTIMES.contains(&runtime) {
        return None;
    }
    let mut args = argv[1..].iter();
    let command = skip_flags(&mut args, GLOBAL_VALUE_FLAGS, &mut None)?;
    if command != "run" && command != "create" {
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
    }

    #[test]
    fn inline_values_and_create() {
        let found = parse(&argv("crun --log=/l create --bundle=/b2 --pid-file /p c2")).unwrap();
        assert_eq!((found.command.as_str(), found.id.as_str()), ("create", "c2"));
        assert_eq!(found.bundle.as_deref(), Some("/b2"));
    }

    #[test]
    fn other_commands_are_not_containers() {
        assert_eq!(parse(&argv("runc init")), None);
        assert_eq!(parse(&argv("runc --root /r start ctr")), None);
        assert_eq!(parse(&argv("runc run")), None, "no id");
        assert_eq!(parse(&argv("docker run busybox")), None);
        assert_eq!(parse(&argv("cradle trace -- runc run x")), None);
    }
}
