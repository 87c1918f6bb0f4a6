//! Records the raw ring-buffer records of a traced command into a file, in
//! the format of `cradle_events::recording`, for replaying a real stream
//! through the decoder and the collector (`benches/replay.rs`).
//!
//! `record OUT -- COMMAND [ARGS...]` (as root). Prints one JSON object:
//! records written, records lost to a full ring, and the command's status.

use std::{fs::File, io::BufWriter, path::PathBuf};

use cradle_events::recording::RecordingWriter;
use cradle_probes::{ProbeConfig, Probes, TrackMode};

type Error = Box<dyn std::error::Error>;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (out, command) = match args.split_first() {
        Some((out, rest)) if rest.first().map(String::as_str) == Some("--") && rest.len() > 1 => {
            (PathBuf::from(out), &rest[1..])
        }
        _ => return Err("usage: record OUT -- COMMAND [ARGS...]".into()),
    };
    let (probes, mut stream) =
        Probes::load(&ProbeConfig { track: TrackMode::Tree, ..Default::default() })?;
    let file = File::create(&out).map_err(|err| format!("creating {}: {err}", out.display()))?;
    let mut writer = RecordingWriter::new(BufWriter::new(file))?;
    let mut write_error = None;
    let mut save = |record: &[u8]| {
        if let Err(err) = writer.write(record) {
            write_error.get_or_insert(err);
        }
    };

    let registrar = probes.self_registrar();
    let mut child = tokio::process::Command::new(&command[0]);
    child.args(&command[1..]);
    // SAFETY: the hook makes one raw bpf(2) call and a getpid(2), both
    // async-signal-safe, so it is sound between fork and exec.
    unsafe {
        child.pre_exec(move || registrar.register_self());
    }
    let mut child = child.spawn().map_err(|err| format!("starting {}: {err}", command[0]))?;
    let status = loop {
        tokio::select! {
            status = child.wait() => break status?,
            read = stream.next_raw_batch(&mut save) => read?,
        }
    };
    // Every record of the command is in the ring once it has exited.
    stream.drain_raw(&mut save);
    if let Some(err) = write_error {
        return Err(format!("writing {}: {err}", out.display()).into());
    }
    let records = writer.records();
    writer.finish()?;
    let lost: u64 = probes.lost()?.iter().map(|(_, n)| n).sum();
    println!(
        "{{\"records\":{records},\"lost\":{lost},\"status\":{}}}",
        status.code().unwrap_or(-1)
    );
    Ok(())
}
