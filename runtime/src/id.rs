//! Container ids: runc's rule, so an id is always one safe path component.

use crate::error::{Error, Result};

const MAX_LEN: usize = 1024;

/// Accepts `[A-Za-z0-9_+.-]+`, except `.` and `..`.
pub fn validate(id: &str) -> Result<()> {
    let invalid = |reason| Err(Error::InvalidId { id: id.to_owned(), reason });
    if id.is_empty() {
        return invalid("it is empty");
    }
    if id.len() > MAX_LEN {
        return invalid("it is longer than 1024 bytes");
    }
    if id == "." || id == ".." {
        return invalid("it is a relative path component");
    }
    if !id.bytes().all(|b| b.is_ascii_alphanumeric() || b"_+-.".contains(&b)) {
        return invalid("only letters, digits and _ + - . are allowed");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::validate;

    #[test]
    fn accepts_runc_ids() {
        for id in ["a", "web-1", "x_y.z+2", "0123456789abcdef"] {
            assert!(validate(id).is_ok(), "{id}");
        }
    }

    #[test]
    fn rejects_paths_and_empty() {
        for id in ["", ".", "..", "../x", "a/b", "a b", "é"] {
            assert!(validate(id).is_err(), "{id:?}");
        }
    }
}
