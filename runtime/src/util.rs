//! Small helpers shared by the stages.

use std::{
    ffi::CString,
    time::{SystemTime, UNIX_EPOCH},
};

use crate::error::{Error, Result};

pub fn cstring(value: &str, what: &str) -> Result<CString> {
    CString::new(value).map_err(|_| Error::invalid(what, format!("{value:?} contains a NUL byte")))
}

/// The int (a descriptor, a pid) that a raw `syscall(2)` returned as a long.
pub fn syscall_int(rc: libc::c_long) -> libc::c_int {
    libc::c_int::try_from(rc).expect("syscall(2) widens the kernel's int return to a long")
}

/// Now as RFC 3339 in UTC with nanoseconds, as runc writes `created`.
pub fn rfc3339_now() -> String {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    rfc3339(i64::try_from(now.as_secs()).unwrap_or(i64::MAX), now.subsec_nanos())
}

pub fn rfc3339(secs: i64, nanos: u32) -> String {
    let days = secs.div_euclid(86_400);
    let second_of_day = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
        second_of_day / 3600,
        second_of_day % 3600 / 60,
        second_of_day % 60
    )
}

/// Howard Hinnant's days-to-civil algorithm.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    // In range by construction: day 1..=31, month 1..=12.
    let day = u32::try_from(doy - (153 * mp + 2) / 5 + 1).expect("a day of the month");
    let month = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).expect("a month");
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::rfc3339;

    #[test]
    fn formats_known_instants() {
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(rfc3339(951_782_400, 5), "2000-02-29T00:00:00.000000005Z");
        assert_eq!(rfc3339(1_700_000_000, 0), "2023-11-14T22:13:20.000000000Z");
    }
}
