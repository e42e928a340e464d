//! Progress on stderr for long operations: a bar with bytes, rate and ETA for uploads and
//! imports, a spinner for waits. Only on a terminal, and never with
//! `-F json`: in a log or a pipe a redrawn bar is noise, so nothing extra is printed there.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Whether progress is drawn: stderr is a terminal and the output is not JSON.
/// `GANTRY_PROGRESS=always|never` overrides the terminal check (tests and screen recorders).
pub(crate) fn wanted(json: bool) -> bool {
    if json {
        return false;
    }
    match std::env::var("GANTRY_PROGRESS").as_deref() {
        Ok("always") => true,
        Ok("never") => false,
        _ => std::io::stderr().is_terminal(),
    }
}

fn target(json: bool) -> ProgressDrawTarget {
    if !wanted(json) {
        return ProgressDrawTarget::hidden();
    }
    // indicatif draws only on a terminal by itself; when forced, draw regardless.
    if std::io::stderr().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::term_like(Box::new(ForcedStderr))
    }
}

/// stderr as an 80-column terminal, for `GANTRY_PROGRESS=always` when it is not one.
#[derive(Debug)]
struct ForcedStderr;

impl ForcedStderr {
    fn put(text: &str) -> std::io::Result<()> {
        use std::io::Write;
        std::io::stderr().lock().write_all(text.as_bytes())
    }
}

impl indicatif::TermLike for ForcedStderr {
    fn width(&self) -> u16 {
        80
    }
    fn move_cursor_up(&self, n: usize) -> std::io::Result<()> {
        Self::put(&format!("\x1b[{n}A"))
    }
    fn move_cursor_down(&self, n: usize) -> std::io::Result<()> {
        Self::put(&format!("\x1b[{n}B"))
    }
    fn move_cursor_right(&self, n: usize) -> std::io::Result<()> {
        Self::put(&format!("\x1b[{n}C"))
    }
    fn move_cursor_left(&self, n: usize) -> std::io::Result<()> {
        Self::put(&format!("\x1b[{n}D"))
    }
    fn write_line(&self, line: &str) -> std::io::Result<()> {
        Self::put(&format!("{line}\n"))
    }
    fn write_str(&self, text: &str) -> std::io::Result<()> {
        Self::put(text)
    }
    fn clear_line(&self) -> std::io::Result<()> {
        Self::put("\r\x1b[2K")
    }
    fn flush(&self) -> std::io::Result<()> {
        use std::io::Write;
        std::io::stderr().flush()
    }
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar())
}

/// A byte bar: `name [=====>    ] 41.0 MiB/200.0 MiB 38.2 MiB/s ETA 4s`.
pub(crate) fn bytes(total: u64, label: &str, json: bool) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(total), target(json));
    bar.set_style(
        style("{msg} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}")
            .progress_chars("=> "),
    );
    bar.set_message(label.to_owned());
    bar
}

/// A spinner with a message, redrawn ten times a second.
pub(crate) fn spinner(message: &str, json: bool) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(None, target(json));
    bar.set_style(style("{spinner} {msg} ({elapsed})"));
    bar.set_message(message.to_owned());
    bar.enable_steady_tick(Duration::from_millis(100));
    bar
}

/// The upload callback that advances `bar`.
pub(crate) fn reporter(bar: &ProgressBar) -> gantry_client::Progress {
    let bar = bar.clone();
    Arc::new(move |n| bar.inc(n))
}
