//! Every program of the embedded object passes the verifier and attaches on
//! the running kernel (needs root, as cradle does).

use cradle_probes::{ProbeConfig, Probes};

#[tokio::test]
async fn every_program_loads_and_attaches() {
    let (probes, _stream) = match Probes::load(&ProbeConfig::default()) {
        Ok(loaded) => loaded,
        Err(err) => {
            let mut text = err.to_string();
            let mut source = std::error::Error::source(&err);
            while let Some(cause) = source {
                text.push_str(&format!(": {cause:?}"));
                source = cause.source();
            }
            panic!("{text}");
        }
    };
    let programs = cradle_probes::programs::PROGRAMS;
    let wanted = programs.iter().filter(|spec| spec.wanted_here()).count();
    // Plus the programs of the path each kernel-function hook took.
    let hooked: usize = probes
        .hooks()
        .iter()
        .filter_map(|used| {
            let hook = cradle_probes::programs::HOOKS.iter().find(|h| h.probe == used.probe)?;
            Some(hook.paths.iter().find(|path| path.name == used.path)?.programs.len())
        })
        .sum();
    assert_eq!(probes.attached().len(), wanted + hooked);
    // Only a syscall this architecture lacks may be left out.
    assert!(programs.iter().all(|spec| spec.wanted_here() || spec.optional));
    assert!(
        probes.attached().iter().any(|spec| spec.describe() == "raw_tracepoint:sys_exit/openat2")
    );
    assert_eq!(probes.lost().unwrap().len(), cradle_probes::abi::EventKind::COUNT as usize);
}
