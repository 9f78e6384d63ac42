//! Problems found in a script, and how they are shown to a person.
//!
//! A [`Diagnostic`] holds a byte span; turning that into `file:line:column`
//! and drawing the offending line with a caret under it happens only when it
//! is printed, in the style of rustc. This module does not decide what is a
//! problem: the reader (`syntax.rs`), the loader (`script.rs`) and the
//! timeline (`timeline.rs`) do.

use std::fmt::Write as _;
use std::ops::Range;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// No fault: something `check` says so that nothing surprises.
    Note,
    Warning,
    Error,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// Byte offsets into the script's text.
    pub span: Range<usize>,
    /// Lowercase, no trailing period: "unknown chime \"bel\"".
    pub message: String,
    /// What to do about it, when there is something useful to say.
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn error(span: Range<usize>, message: impl Into<String>) -> Self {
        Diagnostic { severity: Severity::Error, span, message: message.into(), help: None }
    }

    pub fn warning(span: Range<usize>, message: impl Into<String>) -> Self {
        Diagnostic { severity: Severity::Warning, span, message: message.into(), help: None }
    }

    pub fn note(span: Range<usize>, message: impl Into<String>) -> Self {
        Diagnostic { severity: Severity::Note, span, message: message.into(), help: None }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Text from a script or a file name, made safe to print: control
/// characters (an escape sequence, a bell) are written as `\u{1b}` rather
/// than sent to the terminal, which would obey them.
pub fn escape_controls(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(is_unprintable) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_unprintable(c) {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// [`escape_controls`] line by line: the line breaks stay, every other
/// control character is shown escaped. For text that may carry words from
/// outside (a file's name, a program's answer) on its way to a terminal.
pub fn escape_lines(text: &str) -> String {
    text.split('\n').map(escape_controls).collect::<Vec<_>>().join("\n")
}

/// Characters a terminal acts on rather than shows: C0 and C1 controls and
/// DEL, and the bidirectional overrides that reorder what is shown.
fn is_unprintable(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// The columns a character takes on a terminal: two for the wide ones (CJK,
/// Hangul, full-width forms, most emoji), none for combining marks and
/// zero-width characters, else one. Enough to put a caret under its place.
fn columns(c: char) -> usize {
    match c as u32 {
        0x0300..=0x036f | 0x1ab0..=0x1aff | 0x1dc0..=0x1dff | 0x20d0..=0x20ff | 0xfe20..=0xfe2f => 0,
        0x200b..=0x200f | 0xfe00..=0xfe0f => 0,
        0x1100..=0x115f
        | 0x2e80..=0x303e
        | 0x3041..=0x33ff
        | 0x3400..=0x4dbf
        | 0x4e00..=0x9fff
        | 0xa000..=0xa4cf
        | 0xac00..=0xd7a3
        | 0xf900..=0xfaff
        | 0xfe30..=0xfe4f
        | 0xff00..=0xff60
        | 0xffe0..=0xffe6
        | 0x1f300..=0x1f64f
        | 0x1f900..=0x1f9ff
        | 0x20000..=0x3fffd => 2,
        _ => 1,
    }
}

/// A 1-based line and column (in characters) of a byte offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineCol {
    pub line: usize,
    pub column: usize,
}

pub fn line_col(source: &str, offset: usize) -> LineCol {
    let offset = floor_char_boundary(source, offset.min(source.len()));
    let before = &source[..offset];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    LineCol { line: before.matches('\n').count() + 1, column: before[line_start..].chars().count() + 1 }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The most problems each stage (reading, checking, timing) collects
/// before it stops looking: a file of junk must not fill the memory with
/// diagnostics that would never be shown.
pub const MAX_PROBLEMS: usize = 100;

/// The most diagnostics printed for one file; the rest are counted. A file
/// of binary junk must not bury the terminal.
pub const MAX_SHOWN: usize = 50;

/// Renders diagnostics as a person reads them:
///
/// ```text
/// routine.ron:12:15: error: unknown chime "bel"
///    |
/// 12 |         Chime("bel"),
///    |               ^^^^^
///    = help: did you mean "bell"?
/// ```
pub fn render(path: &str, source: &str, diagnostics: &[Diagnostic]) -> String {
    let mut out = String::new();
    let mut lines = Lines { source, offset: 0, line: 1, line_start: 0 };
    for d in diagnostics.iter().take(MAX_SHOWN) {
        render_one(&mut out, path, &mut lines, d);
    }
    if diagnostics.len() > MAX_SHOWN {
        let _ = writeln!(out, "{path}: … and {} more problems not shown", diagnostics.len() - MAX_SHOWN);
    }
    out
}

/// The most characters of a source line shown, around the caret.
const LINE_SHOWN: usize = 200;
/// The most characters of a message or help shown: one may quote a name
/// from the script, which can be a megabyte long.
const MESSAGE_SHOWN: usize = 300;

/// Finds the line of each offset by counting on from the one found before:
/// diagnostics come in order, so drawing them reads the text once rather
/// than once per diagnostic.
struct Lines<'a> {
    source: &'a str,
    offset: usize,
    line: usize,
    line_start: usize,
}

impl Lines<'_> {
    /// The 1-based line of `offset` and the byte where that line starts.
    fn locate(&mut self, offset: usize) -> (usize, usize, usize) {
        let offset = floor_char_boundary(self.source, offset.min(self.source.len()));
        if offset < self.offset {
            (self.offset, self.line, self.line_start) = (0, 1, 0);
        }
        for (i, b) in self.source.as_bytes()[self.offset..offset].iter().enumerate() {
            if *b == b'\n' {
                self.line += 1;
                self.line_start = self.offset + i + 1;
            }
        }
        self.offset = offset;
        (offset, self.line, self.line_start)
    }
}

fn render_one(out: &mut String, path: &str, lines: &mut Lines, d: &Diagnostic) {
    let source = lines.source;
    let (offset, line, line_start) = lines.locate(d.span.start);
    let column = source[line_start..offset].chars().count() + 1;
    let kind = match d.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Note => "note",
    };
    let message = escape_controls(&d.message);
    let message = shorten(&message);
    let _ = writeln!(out, "{path}:{line}:{column}: {kind}: {message}");
    let line_end = source[line_start..].find('\n').map_or(source.len(), |i| line_start + i);
    let line_text = &source[line_start..line_end];
    // Junk lines can be megabytes long: show the part around the caret.
    let skip = (column - 1).saturating_sub(LINE_SHOWN / 2);
    let lead = if skip > 0 { "…" } else { "" };
    // Controls (a tab among them) and bidi overrides as a space: the line
    // is shown as it reads, never reordered.
    let shown: String =
        line_text.chars().skip(skip).take(LINE_SHOWN).map(|c| if is_unprintable(c) { ' ' } else { c }).collect();
    let gutter = line.to_string().len();
    let pad = " ".repeat(gutter);
    // In terminal columns: a wide character before the place moves it two.
    let span_width = source
        .get(d.span.clone())
        .map(|s| s.chars().take_while(|&c| c != '\n').map(columns).sum::<usize>())
        .unwrap_or(1)
        .max(1);
    let caret_col = shown.chars().take(column - 1 - skip).map(columns).sum::<usize>() + lead.chars().count();
    let _ = writeln!(out, "{pad} |");
    let _ = writeln!(out, "{line} | {lead}{shown}");
    let _ = writeln!(out, "{pad} | {}{}", " ".repeat(caret_col), "^".repeat(span_width.min(80)));
    if let Some(help) = &d.help {
        let help = escape_controls(help);
        let _ = writeln!(out, "{pad} = help: {}", shorten(&help));
    }
}

/// Cuts a long message in the middle, keeping its start and end.
fn shorten(text: &str) -> std::borrow::Cow<'_, str> {
    let count = text.chars().count();
    if count <= MESSAGE_SHOWN {
        return std::borrow::Cow::Borrowed(text);
    }
    let head: String = text.chars().take(MESSAGE_SHOWN - 60).collect();
    let tail: String = text.chars().skip(count - 50).collect();
    std::borrow::Cow::Owned(format!("{head} … ({} characters left out) … {tail}", count - MESSAGE_SHOWN + 10))
}

/// The edit distance between two words, counting a swap of two neighbouring
/// letters as one edit ("Sya" is one edit from "Say"), for "did you mean".
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
}

/// The closest of `candidates` to `word`, if it is close enough to be a typo.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = word.to_lowercase();
    let len = lower.chars().count();
    candidates
        .into_iter()
        .filter_map(|c| {
            // Words whose lengths differ by more than the edits allowed
            // cannot match: skip the distance, which costs the product of
            // the lengths (a megabyte-long name against every candidate).
            let allowed = (c.chars().count() / 3).max(1);
            if len.abs_diff(c.chars().count()) > allowed {
                return None;
            }
            Some((edit_distance(&lower, &c.to_lowercase()), c))
        })
        .filter(|&(d, c)| d <= (c.chars().count() / 3).max(1))
        .min_by_key(|&(d, _)| d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_count_characters() {
        let src = "ab\ncdé f\n";
        assert_eq!(line_col(src, 0), LineCol { line: 1, column: 1 });
        assert_eq!(line_col(src, 3), LineCol { line: 2, column: 1 });
        // 'é' is two bytes but one column.
        assert_eq!(line_col(src, 7), LineCol { line: 2, column: 4 });
    }

    #[test]
    fn renders_like_rustc() {
        let src = "Routine(\n    steps: [Chime(\"bel\")],\n)\n";
        let d = Diagnostic::error(27..32, "unknown chime \"bel\"").with_help("did you mean \"bell\"?");
        expect_test::expect![[r#"
            r.ron:2:19: error: unknown chime "bel"
              |
            2 |     steps: [Chime("bel")],
              |                   ^^^^^
              = help: did you mean "bell"?
        "#]]
        .assert_eq(&render("r.ron", src, &[d]));
    }

    #[test]
    fn long_lines_and_messages_are_cut_around_the_place() {
        let src = format!("{}Chime(\"{}\")\n", " ".repeat(5000), "x".repeat(1000));
        let d = Diagnostic::error(5006..6008, format!("unknown chime \"{}\"", "x".repeat(1000)));
        let out = render("r.ron", &src, &[d]);
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines[0].starts_with("r.ron:1:5007: error: unknown chime \"xxx"), "{}", lines[0]);
        assert!(lines[0].chars().count() < 400, "{}", lines[0]);
        assert!(lines[0].contains("(726 characters left out)"), "{}", lines[0]);
        // The caret stands under the quote, in a window of the line.
        let column = |line: &str, c: char| line.chars().position(|x| x == c).unwrap();
        assert_eq!(column(lines[3], '^'), column(lines[2], '"'), "{out}");
        assert!(lines[2].chars().count() < 220, "{}", lines[2]);
    }

    #[test]
    fn the_caret_stands_under_its_place_after_wide_characters() {
        let src = "Say(\"足を {sde}\")\n";
        let at = src.find("{sde}").unwrap();
        let d = Diagnostic::error(at..at + 5, "unknown variable {sde}");
        expect_test::expect![[r#"
            r.ron:1:9: error: unknown variable {sde}
              |
            1 | Say("足を {sde}")
              |           ^^^^^
        "#]]
        .assert_eq(&render("r.ron", src, &[d]));
        // A bidi override in the line is not shown to reorder it.
        let src = "Say(\"a\u{202e}b\") x\n";
        let out = render("r.ron", src, &[Diagnostic::error(src.len() - 2..src.len() - 1, "x")]);
        assert!(!out.contains('\u{202e}'), "{out:?}");
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(escape_controls("a\u{1b}[31mb\u{7}"), "a\\u{1b}[31mb\\u{7}");
        assert_eq!(escape_controls("plain"), "plain");
        assert_eq!(escape_controls("\u{202e}evil"), "\\u{202e}evil");
        assert_eq!(escape_lines("one\u{1b}]0;t\u{7}\ntwo\r"), "one\\u{1b}]0;t\\u{7}\ntwo\\u{d}");
        assert_eq!(escape_lines(&escape_lines("a\u{9}b")), "a\\u{9}b");
        let d = Diagnostic::error(0..1, "unknown chime \"\u{1b}\"").with_help("\u{7}");
        let out = render("r.ron", "x", &[d]);
        assert!(!out.contains(['\u{1b}', '\u{7}']), "{out:?}");
    }

    #[test]
    fn lines_are_found_in_any_order() {
        let src = "a\nb\nc\n";
        let ds = [Diagnostic::error(4..5, "c"), Diagnostic::error(0..1, "a"), Diagnostic::error(2..3, "b")];
        let out = render("r", src, &ds);
        let heads: Vec<&str> = out.lines().filter(|l| l.starts_with("r:")).collect();
        assert_eq!(heads, ["r:3:1: error: c", "r:1:1: error: a", "r:2:1: error: b"]);
    }

    #[test]
    fn suggestions_only_for_near_misses() {
        assert_eq!(did_you_mean("bel", ["bell", "gong", "tick"]), Some("bell"));
        assert_eq!(did_you_mean("Sya", ["Say", "Pause"]), Some("Say"));
        assert_eq!(did_you_mean("xylophone", ["bell", "gong"]), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        // A megabyte-long word is compared with nothing, at once.
        assert_eq!(did_you_mean(&"y".repeat(1 << 20), ["Say", "Pause"]), None);
    }
}
