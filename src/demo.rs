//! `cradle demo`: cradle's main job on a built-in default. Builds the
//! default busybox bundle in a temporary directory, runs it traced (with
//! the built-in runtime, or runc or crun), prints the explained timeline,
//! and removes everything it made.

use std::{path::Path, process::ExitCode};

use anyhow::{Context, bail};
use cradle_events::trace_file::TraceMode;
use serde_json::Value;

use crate::{
    cli::{DemoArgs, DemoRuntime},
    session::Session,
    timeline::TimelineOptions,
};

const WORKLOAD: &str = "echo hello from $(hostname), pid $$; id; ls /";

pub fn demo(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let dir = tempfile::Builder::new().prefix("cradle-demo-").tempdir().context("temp dir")?;
    let bundle = dir.path().join("bundle");
    cradle_runtime::bundle::create_bundle(&bundle).context("building the demo bundle")?;
    set_workload(&bundle)?;
    let id = format!("cradle-demo-{}", std::process::id());
    let state = dir.path().join("state");
    let (bundle, state) = (bundle.to_string_lossy(), state.to_string_lossy());
    let command: Vec<String> = match args.runtime {
        DemoRuntime::Cradle => {
            let exe = std::env::current_exe().context("finding cradle's own executable")?;
            let exe = exe.to_string_lossy().into_owned();
            vec![exe, "--root".into(), state.into(), "run".into(), "-b".into(), bundle.into(), id]
        }
        DemoRuntime::Runc => {
            ["runc", "--root", &state, "run", "-b", &bundle, &id].map(String::from).to_vec()
        }
    };
    println!(
        "cradle demo: a busybox container run by {}, traced from its first syscall\n",
        command[0]
    );
    let session = Session {
        mode: TraceMode::Trace,
        command,
        ring_bytes: 8 << 20,
        skip_probes: crate::trace::skip_probes_from_env(),
        runtimes: Vec::new(),
        out: args.out,
        json: false,
        tui: false,
        timeline: TimelineOptions { explain: !args.brief, stdout: true },
        step: None,
        // The container's output goes between the timeline's lines, not
        // into them.
        capture_output: true,
        refuse_hooks: Vec::new(),
        rotate: None,
        window_ns: None,
        omit_host_granted_checks: false,
        fleet: Default::default(),
        daemon_containers: false,
    };
    let code = session.run()?;
    // The runtime deleted the container when it exited; the bundle and the
    // state directory go with the temporary directory.
    dir.close().context("removing the demo's temporary directory")?;
    Ok(code)
}

fn set_workload(bundle: &Path) -> anyhow::Result<()> {
    let path = bundle.join("config.json");
    let mut config: Value = serde_json::from_slice(&std::fs::read(&path)?)
        .with_context(|| format!("reading {}", path.display()))?;
    let Some(process) = config.get_mut("process") else {
        bail!("{}: no process", path.display());
    };
    process["terminal"] = Value::Bool(false);
    process["args"] = serde_json::json!(["sh", "-c", WORKLOAD]);
    std::fs::write(&path, serde_json::to_vec_pretty(&config)?)
        .with_context(|| format!("writing {}", path.display()))
}
