//! What the terminal shows while backease works: progress bars for long
//! work, and one line per step while playing.
//!
//! On a terminal, progress redraws one line in place; anywhere else (a
//! pipe, CI) it prints a few plain lines, with no escape codes.

use std::io::{IsTerminal, Write};

/// A progress line for work with a known amount: `label [#####     ] 12/40`.
pub struct Progress {
    label: String,
    tty: bool,
    last: Option<u64>,
}

impl Progress {
    pub fn new(label: &str) -> Progress {
        Progress { label: label.to_string(), tty: std::io::stderr().is_terminal(), last: None }
    }

    /// Shows `done` of `total`; `unit` formats the figures.
    pub fn update(&mut self, done: u64, total: u64, unit: &dyn Fn(u64) -> String) {
        let total = total.max(1);
        let percent = done.min(total) * 100 / total;
        let mut err = std::io::stderr().lock();
        if self.tty {
            // Redraw at most once per percent.
            if self.last == Some(percent) && done < total {
                return;
            }
            let filled = (percent / 4) as usize;
            let _ = write!(
                err,
                "\r{} [{}{}] {:>3}%  {} / {}",
                self.label,
                "#".repeat(filled),
                " ".repeat(25 - filled),
                percent,
                unit(done),
                unit(total)
            );
        } else if self.last.is_none_or(|l| percent / 25 > l / 25) {
            // Plain lines at 0, 25, 50, 75 and 100 %.
            let _ = writeln!(err, "{}: {percent}% ({} of {})", self.label, unit(done), unit(total));
        }
        self.last = Some(percent);
    }

    /// Ends the progress line.
    pub fn finish(&mut self) {
        if self.tty && self.last.is_some() {
            let _ = writeln!(std::io::stderr());
        }
    }
}
