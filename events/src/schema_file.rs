//! Committed JSON Schemas (`schemas/*.schema.json`) are generated from the
//! types they describe; this keeps each file equal to its generator, so a
//! format change shows up in review. Shared by every crate that owns one.

use std::path::Path;

/// Checks that the file at `path` holds `schema` as generated; with
/// `CRADLE_BLESS` set in the environment, rewrites it first.
pub fn check_committed(path: &Path, schema: &serde_json::Value) -> Result<(), String> {
    let generated = serde_json::to_string_pretty(schema).map_err(|e| e.to_string())? + "\n";
    if std::env::var_os("CRADLE_BLESS").is_some() {
        std::fs::write(path, &generated).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    if committed == generated {
        Ok(())
    } else {
        Err(format!(
            "{} is out of date: rerun with CRADLE_BLESS=1 and review the change",
            path.display()
        ))
    }
}
