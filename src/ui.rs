//! What the terminal shows while backease works: progress bars for long
//! work, and one line per step while playing.
//!
//! On a terminal, progress redraws one line in place; anywhere else (a
//! pipe, CI) it prints a few plain lines, with no escape codes.
//!
//! Colour is decided here, once for each stream ([`colour`]): labels on
//! standard error (`error:` red and bold, `warning:` yellow, `hint:` and
//! `help:` green, through [`Labelled`]) and the live display's lines. The
//! codes are added last, to text already escaped: nothing from outside can
//! bring its own.

use std::io::{IsTerminal, Write};

use crate::error::Failure;

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

/// Writes a command's output to `out` (standard output): a closed pipe
/// (`backease show x | head`) is not an error worth a message. The one
/// place that rule is written.
pub fn write_out(out: &mut dyn Write, text: &str) -> Result<(), Failure> {
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(crate::error::io_failure("cannot write output", &e)),
    }
}

/// Writes `value` to `out` as JSON, indented, with a newline at the end:
/// what every command's `--json` prints.
pub fn write_json(out: &mut dyn Write, value: &impl serde::Serialize) -> Result<(), Failure> {
    write_out(out, &(serde_json::to_string_pretty(value).expect("plain data serializes") + "\n"))
}

/// A stream colour may go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// Whether what goes to `stream` is coloured: the one place that decides.
/// Only a terminal that takes colour gets it (not a pipe, a file, or
/// `TERM=dumb`), and never with `NO_COLOR` set to anything but nothing or
/// `CLICOLOR=0`; `CLICOLOR_FORCE` forces it. These are anstream's rules,
/// which clap's own messages follow too.
pub fn colour(stream: Stream) -> bool {
    let choice = match stream {
        Stream::Stdout => anstream::AutoStream::choice(&std::io::stdout()),
        Stream::Stderr => anstream::AutoStream::choice(&std::io::stderr()),
    };
    choice != anstream::ColorChoice::Never
}

/// The styles of the labels and of the live display.
pub mod style {
    use anstyle::{AnsiColor, Style};

    pub const ERROR: Style = Style::new().fg_color(Some(anstyle::Color::Ansi(AnsiColor::Red))).bold();
    pub const WARNING: Style = Style::new().fg_color(Some(anstyle::Color::Ansi(AnsiColor::Yellow)));
    pub const HINT: Style = Style::new().fg_color(Some(anstyle::Color::Ansi(AnsiColor::Green)));
    pub const TITLE: Style = Style::new().bold();
    pub const DIM: Style = Style::new().dimmed();

    /// `text` in `style`, when `on`.
    pub fn paint(text: &str, style: Style, on: bool) -> String {
        if on { format!("{style}{text}{style:#}") } else { text.to_string() }
    }
}

/// A writer (standard error) that colours the label of each line written
/// to it, when `on`: `error:`, `warning:`, `hint:`, `note:` or `= help:`
/// where a line starts, else the first `: error:` or `: warning:` in it
/// (after a file name and place, or `backease`). Each `write!` is one
/// write, so a label is never split between two.
pub struct Labelled<W: Write> {
    inner: W,
    on: bool,
}

impl<W: Write> Labelled<W> {
    pub fn new(inner: W, on: bool) -> Self {
        Labelled { inner, on }
    }
}

impl<W: Write> Write for Labelled<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match std::str::from_utf8(buf) {
            Ok(text) if self.on => {
                self.inner.write_all(labelled(text).as_bytes())?;
                Ok(buf.len())
            }
            _ => self.inner.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }

    fn write_fmt(&mut self, args: std::fmt::Arguments<'_>) -> std::io::Result<()> {
        self.write_all(std::fmt::format(args).as_bytes())
    }
}

/// `text` with the label of each line coloured.
fn labelled(text: &str) -> String {
    text.split_inclusive('\n').map(label_line).collect()
}

fn label_line(line: &str) -> String {
    const LEADING: [(&str, anstyle::Style); 5] = [
        ("error:", style::ERROR),
        ("warning:", style::WARNING),
        ("hint:", style::HINT),
        ("note:", style::HINT),
        ("= help:", style::HINT),
    ];
    let body = line.trim_start_matches(' ');
    let lead = line.len() - body.len();
    // A script's own line, drawn under a diagnostic (`5 | …`): its words
    // are the script's, whatever they say.
    if body.trim_start_matches(|c: char| c.is_ascii_digit()).trim_start().starts_with('|') {
        return line.to_string();
    }
    let found = LEADING
        .iter()
        .find(|(label, _)| body.starts_with(&format!("{label} ")))
        .map(|&(label, style)| (lead, label, style))
        .or_else(|| {
            [(": error: ", style::ERROR), (": warning: ", style::WARNING)]
                .iter()
                .filter_map(|&(label, style)| line.find(label).map(|at| (at + 2, &label[2..label.len() - 1], style)))
                .min_by_key(|&(at, ..)| at)
        });
    match found {
        Some((at, label, style)) => {
            let label = label.trim_start_matches("= ");
            let at = at + line[at..].find(label).unwrap_or(0);
            format!("{}{}{}", &line[..at], style::paint(label, style, true), &line[at + label.len()..])
        }
        None => line.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(line: &str, expect: &str) {
        let got = labelled(line)
            .replace("\x1b[0m", ">")
            .replace("\x1b[1m\x1b[31m", "<R")
            .replace("\x1b[33m", "<Y")
            .replace("\x1b[32m", "<G");
        assert_eq!(got, expect);
    }

    #[test]
    fn labels_are_coloured_where_they_stand() {
        check("backease: error: no such file\n", "backease: <Rerror:> no such file\n");
        check("a.ron:5:5: error: unknown step\n", "a.ron:5:5: <Rerror:> unknown step\n");
        check("a.ron:7:1: warning: four times\n", "a.ron:7:1: <Ywarning:> four times\n");
        check("warning: no cache\nhint: run it\n", "<Ywarning:> no cache\n<Ghint:> run it\n");
        check("  = help: did you mean `Say`?\n", "  = <Ghelp:> did you mean `Say`?\n");
        // The first label only, and none in words that merely hold one.
        check("x: error: a: warning: b\n", "x: <Rerror:> a: warning: b\n");
        check("5 |     Say(\"a: error: x\")\n", "5 |     Say(\"a: error: x\")\n");
        check("Session complete.\n", "Session complete.\n");
    }
}
