//! A terminal for end-to-end tests of the TUI: a tmux session on a tmux
//! server of its own (a private socket), killed when dropped.

use std::{
    process::Command,
    time::{Duration, Instant},
};

pub struct Tmux {
    socket: String,
    /// The server's socket file, removed with the server.
    socket_path: Option<String>,
}

impl Tmux {
    /// Starts `shell_command` (run by sh) in a `width` x `height` pane. The
    /// pane stays after the command ends, so its last screen can be read.
    pub fn start(name: &str, width: u16, height: u16, shell_command: &str) -> Tmux {
        let mut tmux =
            Tmux { socket: format!("cradle-{name}-{}", std::process::id()), socket_path: None };
        tmux.run(&[
            "new-session",
            "-d",
            "-x",
            &width.to_string(),
            "-y",
            &height.to_string(),
            "sh",
            "-c",
            shell_command,
        ]);
        tmux.run(&["set-option", "-g", "remain-on-exit", "on"]);
        let path = tmux.run(&["display-message", "-p", "#{socket_path}"]);
        tmux.socket_path = Some(path.trim().to_string());
        tmux
    }

    fn run(&self, args: &[&str]) -> String {
        let output = Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .output()
            .expect("tmux (package tmux; run cargo xtask setup)");
        assert!(output.status.success(), "tmux {args:?}: {output:?}");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Sends keys, in tmux's names (`Enter`, `Tab`, `Escape`) or literally.
    pub fn keys(&self, keys: &[&str]) {
        for key in keys {
            self.run(&["send-keys", "-t", "0", key]);
        }
    }

    /// The pane's text as it is now.
    pub fn capture(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "0"])
    }

    /// Waits until the pane shows what `seen` looks for; panics with the
    /// pane's text after `timeout`.
    pub fn wait_for(&self, what: &str, timeout: Duration, seen: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let screen = self.capture();
            if seen(&screen) {
                return screen;
            }
            assert!(
                start.elapsed() < timeout,
                "waited {timeout:?} for {what}; the pane:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until the pane shows `text`.
    pub fn wait_text(&self, text: &str, timeout: Duration) -> String {
        self.wait_for(&format!("{text:?}"), timeout, |screen| screen.contains(text))
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux").args(["-L", &self.socket, "kill-server"]).output();
        if let Some(path) = &self.socket_path {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// A shell command that runs `command`, then prints one line with its exit
/// status and the terminal's line discipline (`icanon echo` once restored;
/// raw mode shows `-icanon -echo`), and stays for the test to read it.
pub fn then_report_terminal(command: &str) -> String {
    format!(
        "{command}; status=$?; \
         modes=$(stty -a | tr ' ;' '\\n\\n' | grep -x -e icanon -e -icanon -e echo -e -echo | tr '\\n' ' '); \
         echo \"cradle-exit=$status terminal: $modes[end]\"; sleep 600"
    )
}

/// Waits for the line [`then_report_terminal`] prints.
pub fn wait_for_exit(tmux: &Tmux, timeout: Duration) -> String {
    tmux.wait_for("the exit report", timeout, |screen| {
        screen.contains("cradle-exit=") && screen.contains("[end]")
    })
}
