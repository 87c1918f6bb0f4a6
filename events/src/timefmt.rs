//! How every view writes a time: one place, so that the timeline, the TUI,
//! the report and the diff print the same instant the same way.

/// A duration in the unit that reads best: `850µs`, `12.345ms`, `3.21s`.
pub fn duration(ns: u64) -> String {
    match ns {
        0..1_000_000 => format!("{}µs", ns / 1000),
        1_000_000..10_000_000_000 => format!("{:.3}ms", ns as f64 / 1e6),
        _ => format!("{:.2}s", ns as f64 / 1e9),
    }
}

/// An event's offset from its origin, fixed-width for a column of rows:
/// `+   12.345ms`.
pub fn offset(ns: u64) -> String {
    format!("+{:>9.3}ms", ns as f64 / 1e6)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_range_has_its_unit() {
        assert_eq!(duration(850_000), "850µs");
        assert_eq!(duration(12_345_678), "12.346ms");
        assert_eq!(duration(3_210_000_000), "3210.000ms");
        assert_eq!(duration(32_100_000_000), "32.10s");
        assert_eq!(offset(12_345_000), "+   12.345ms");
        assert_eq!(offset(0), "+    0.000ms");
    }
}
