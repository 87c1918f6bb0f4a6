//! The one escaping of text on its way to a person: every string that came
//! from the kernel or from a trace file (a comm, a container id, a path, an
//! argument) passes through [`printable`] (or [`quote`], built on the same
//! rule) before a terminal, a text report or an SVG shows it. Any local
//! user can put such strings in front of cradle (`prctl(PR_SET_NAME)`, a
//! file name, a runtime's argv), and a trace file's author can write any.
//!
//! Escaped: C0 controls, DEL and C1 controls (U+0080-U+009F: a terminal
//! takes U+009B as CSI), which a terminal acts on and XML 1.0 forbids (C0)
//! or discourages (C1); and the bidirectional overrides and isolates, which
//! reorder what a reader sees. Each becomes `\uXXXX`, as JSON writes it;
//! `\n`, `\r` and `\t` keep their short forms.

use std::{borrow::Cow, fmt::Write};

/// Whether `c` must not reach a terminal or a text file as itself.
fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        // Writing to a String cannot fail.
        _ => _ = write!(out, "\\u{:04x}", u32::from(c)),
    }
}

/// `text` with every control and reordering character escaped; borrowed
/// when there is none. The result holds no such character, so escaping it
/// again changes nothing.
pub fn printable(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if needs_escape(c) {
            push_escaped(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// [`printable`] for text of several lines that cradle itself laid out:
/// each line is escaped, the newlines between them are kept.
pub fn printable_lines(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|c| c != '\n' && needs_escape(c)) {
        return Cow::Borrowed(text);
    }
    let lines: Vec<Cow<'_, str>> = text.split('\n').map(printable).collect();
    Cow::Owned(lines.join("\n"))
}

/// `text` in double quotes, as strace and JSON write a string: `"` and `\`
/// escaped, and everything [`printable`] escapes.
pub fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if needs_escape(c) => push_escaped(&mut out, c),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_controls_are_escaped_c0_and_c1_alike() {
        assert_eq!(printable("\u{1b}]0;pw\u{7}\u{1b}[2J"), "\\u001b]0;pw\\u0007\\u001b[2J");
        assert_eq!(printable("a\u{9b}31mb\u{7f}"), "a\\u009b31mb\\u007f");
        assert_eq!(printable("x\ny\tz"), "x\\ny\\tz");
        assert_eq!(printable("evil\u{202e}txt.exe"), "evil\\u202etxt.exe");
    }

    #[test]
    fn plain_text_is_borrowed_and_escaping_is_idempotent() {
        assert!(matches!(printable("/usr/sbin/runc ünïcode"), Cow::Borrowed(_)));
        let once = printable("\u{1b}[2J\u{9b}").into_owned();
        assert_eq!(printable(&once), once);
    }

    #[test]
    fn lines_keep_their_newlines() {
        assert_eq!(printable_lines("a\u{1b}\nb\r\n"), "a\\u001b\nb\\r\n");
    }

    #[test]
    fn quote_writes_a_json_string_and_escapes_c1() {
        assert_eq!(quote("a\"b\\c\n"), r#""a\"b\\c\n""#);
        assert_eq!(quote("\u{9b}2J"), r#""\u009b2J""#);
        let plain = "/bin/echo ünï";
        assert_eq!(quote(plain), serde_json::to_string(plain).unwrap());
    }
}
