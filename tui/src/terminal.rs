//! The terminal, taken over and given back: raw mode and the alternate
//! screen while the UI runs, restored when it ends however it ends (quit,
//! error or panic).

use std::io;

use ratatui::DefaultTerminal;

/// The UI's terminal; restores the user's terminal when dropped.
pub struct Screen {
    pub terminal: DefaultTerminal,
}

impl Screen {
    /// Takes over the terminal. Also installs ratatui's panic hook, which
    /// restores the terminal before the panic message is printed.
    pub fn enter() -> io::Result<Screen> {
        use std::io::IsTerminal;
        if !io::stdout().is_terminal() || !io::stdin().is_terminal() {
            return Err(io::Error::other("the TUI needs a terminal on stdin and stdout"));
        }
        Ok(Screen { terminal: ratatui::try_init()? })
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        if let Err(err) = ratatui::try_restore() {
            tracing::warn!(%err, "restoring the terminal");
        }
    }
}
