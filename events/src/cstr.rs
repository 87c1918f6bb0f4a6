//! C strings in kernel records: the decoders of every record family
//! ([`crate::records`], [`crate::netlink`]) read them
//! alike, so this sits below all of them.

/// The text up to the first NUL (or the whole slice), lossily as UTF-8.
pub(crate) fn c_string(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}
