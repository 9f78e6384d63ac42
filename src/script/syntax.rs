//! A RON reader that keeps the position of every value.
//!
//! backease scripts are RON, but a person writing one by hand needs every
//! mistake reported at its line and column, not only the first syntax error.
//! The `ron` crate stops at the first error and forgets where values were, so
//! this module reads the same syntax into a small tree of [`Node`]s, each with
//! its byte span, and never fails: problems become [`Diagnostic`]s and the
//! parser resumes at the next list item or field. It does not know what a
//! routine is; `script.rs` gives the tree its meaning.

use std::ops::Range;

use crate::script::diagnostic::{Diagnostic, MAX_PROBLEMS, line_col};
use crate::script::lexer::{Lexer, Tok, Token, unescape};

/// How deeply brackets may nest before the reader gives up on a value.
/// Deep enough for any real script, shallow enough that junk cannot
/// overflow the stack.
pub const MAX_DEPTH: usize = 64;

/// The most values one document may hold. A routine as long as a session
/// may be (100 000 steps and cues) needs fewer; a file of a million commas
/// or numbers would only fill the memory with a tree.
pub const MAX_VALUES: usize = 300_000;

/// One value of the document and the bytes it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: Value,
    pub span: Range<usize>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// A bare identifier such as `Tick`: a unit variant.
    Unit(Ident),
    /// `Name(a, b)` or `(a, b)`.
    Tuple(Option<Ident>, Vec<Node>),
    /// `Name(field: a, other: b)` or `(field: a)`.
    Struct(Option<Ident>, Vec<Field>),
    /// `[a, b]`.
    List(Vec<Node>),
    /// `{ key: value }`.
    Map(Vec<(Node, Node)>),
    /// A value that could not be read; its problem is already reported.
    Error,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Ident {
    pub name: String,
    pub span: Range<usize>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub name: Ident,
    pub value: Node,
}

impl Value {
    /// The word used for this kind of value in messages.
    pub fn describe(&self) -> &'static str {
        match self {
            Value::Str(_) => "a string",
            Value::Int(_) => "a whole number",
            Value::Float(_) => "a number",
            Value::Bool(_) => "true or false",
            Value::Unit(_) => "a name",
            Value::Tuple(..) => "a tuple",
            Value::Struct(..) => "a structure",
            Value::List(_) => "a list",
            Value::Map(_) => "a map",
            Value::Error => "an unreadable value",
        }
    }
}

/// Turns a file's bytes into the text to parse. A UTF-8 byte-order mark
/// (Notepad writes one) is dropped; bytes that are not UTF-8 give a
/// diagnostic at the first bad one, and the text with replacement
/// characters, so the place can still be shown.
pub fn decode(bytes: Vec<u8>) -> (String, Vec<Diagnostic>) {
    let bytes = match bytes.strip_prefix(b"\xEF\xBB\xBF") {
        Some(rest) => rest.to_vec(),
        None => bytes,
    };
    match String::from_utf8(bytes) {
        Ok(text) => (text, Vec::new()),
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            let text = String::from_utf8_lossy(e.as_bytes()).into_owned();
            let d = Diagnostic::error(at..at + 1, "the file is not UTF-8 text")
                .with_help("save it as UTF-8 text; is this an audio or binary file?");
            (text, vec![d])
        }
    }
}

/// Reads a whole document: exactly one value, then nothing but whitespace.
///
/// A document that reads badly is read again with two guesses a person's
/// eye makes: that a string running past the end of its line was never
/// closed (rather than meant to hold a line break), and that a line
/// indented no deeper than an open bracket's own line is outside it (the
/// bracket was never closed). The reading with fewer problems is kept, so
/// one missing quote or bracket is one error at its place, not a cascade.
pub fn parse(source: &str) -> (Node, Vec<Diagnostic>) {
    let plain = parse_with(source, false);
    if !plain.1.iter().any(Diagnostic::is_error) {
        return plain;
    }
    let guessed = parse_with(source, true);
    if guessed.1.len() <= plain.1.len() { guessed } else { plain }
}

fn parse_with(source: &str, guess: bool) -> (Node, Vec<Diagnostic>) {
    let mut lexer = Lexer::new(source, guess);
    let (cur, next) = (lexer.next_token(), lexer.next_token());
    let mut parser = Parser {
        source,
        lexer,
        cur,
        next,
        prev_end: 0,
        diagnostics: Vec::new(),
        closers: Vec::new(),
        runaway: false,
        gave_up: false,
        values: 0,
        layout: guess,
        ended_by_layout: false,
    };
    parser.take_notes();
    let node = parser.value(0);
    if !matches!(node.value, Value::Error) {
        let tok = parser.peek();
        if tok.kind != Tok::Eof {
            let span = tok.span.clone();
            parser.error(span, "unexpected text after the end of the routine".into(), None);
        }
    }
    parser.take_notes();
    // The lexer reads ahead of the parser: problems it found come in order.
    parser.diagnostics.sort_by_key(|d| d.span.start);
    (node, parser.diagnostics)
}

/// Where the bytes of a string value sit in the source, for diagnostics
/// about a part of a string: escapes and raw-string hashes make the
/// decoded text and the literal differ. The map is built only when a
/// place is asked for and escapes make it necessary, and once per string,
/// so finding many places in one long string stays linear.
pub struct Places<'a> {
    source: &'a str,
    span: Range<usize>,
    /// How decoded offsets map to the source, worked out on first use.
    layout: Option<Layout>,
}

enum Layout {
    /// No escapes: the decoded text is the literal after this many bytes.
    Shifted(usize),
    /// Source offsets of each decoded byte, and of the end.
    Mapped(Vec<usize>),
}

impl<'a> Places<'a> {
    /// For the string value written at `span` in `source`.
    pub fn new(source: &'a str, span: Range<usize>) -> Places<'a> {
        Places { source, span, layout: None }
    }

    /// The source span of the decoded bytes `decoded`.
    pub fn span(&mut self, decoded: Range<usize>) -> Range<usize> {
        let (source, span) = (self.source, self.span.clone());
        let layout = self.layout.get_or_insert_with(|| {
            let literal = source.get(span.clone()).unwrap_or("");
            if let Some(rest) = literal.strip_prefix('r') {
                Layout::Shifted(2 + rest.bytes().take_while(|&b| b == b'#').count())
            } else if !literal.contains('\\') {
                Layout::Shifted(1)
            } else {
                let mut map = Vec::with_capacity(literal.len());
                let end = unescape(source, span.start, |c, at| map.extend(std::iter::repeat_n(at, c.len_utf8())));
                map.push(end.map_or(span.end, |e| e - 1));
                Layout::Mapped(map)
            }
        });
        match layout {
            Layout::Shifted(prefix) => {
                let at = |i: usize| (span.start + *prefix + i).min(span.end);
                at(decoded.start)..at(decoded.end)
            }
            Layout::Mapped(map) => {
                let at = |i: usize| map.get(i).or(map.last()).copied().unwrap_or(span.start);
                // The end is where the next decoded character starts, so an
                // escape at the end of the range is covered whole.
                at(decoded.start)..at(decoded.end).max(at(decoded.start) + 1)
            }
        }
    }
}

struct Parser<'a> {
    source: &'a str,
    lexer: Lexer<'a>,
    /// The token being looked at, and the one after it.
    cur: Token,
    next: Token,
    /// Where the token before `cur` ended.
    prev_end: usize,
    /// Values read so far, against [`MAX_VALUES`].
    values: usize,
    /// Too many problems (or values): reading stopped.
    gave_up: bool,
    diagnostics: Vec<Diagnostic>,
    /// The closing brackets of the lists being read, innermost last.
    closers: Vec<char>,
    /// A string or comment ran to the end of the file.
    runaway: bool,
    /// A line indented no deeper than an open bracket's line is outside
    /// it (see [`parse`]).
    layout: bool,
    /// A list was just ended by indentation.
    ended_by_layout: bool,
}

impl Parser<'_> {
    fn peek(&self) -> &Token {
        &self.cur
    }

    fn bump(&mut self) -> Token {
        let next = std::mem::replace(&mut self.next, self.lexer.next_token());
        let tok = std::mem::replace(&mut self.cur, next);
        self.prev_end = tok.span.end;
        self.take_notes();
        tok
    }

    /// Reports what the lexer noted while skipping between tokens.
    fn take_notes(&mut self) {
        for d in std::mem::take(&mut self.lexer.notes) {
            self.error(d.span, d.message, d.help);
        }
    }

    fn error(&mut self, span: Range<usize>, message: String, help: Option<String>) {
        if self.gave_up {
            return;
        }
        if self.diagnostics.len() >= MAX_PROBLEMS {
            let help = "fix these, then check again".to_string();
            self.stop(span.start, format!("more than {MAX_PROBLEMS} problems: stopped reading here"), help);
            return;
        }
        let mut d = Diagnostic::error(span, message);
        d.help = help;
        self.diagnostics.push(d);
    }

    /// Stops reading at `at` with a last diagnostic: what follows reads as
    /// the end of the file, and nothing more is reported.
    fn stop(&mut self, at: usize, message: String, help: String) {
        let at = at.min(self.source.len());
        let span = at..(at + 1).min(self.source.len());
        self.diagnostics.push(Diagnostic::error(span, message).with_help(help));
        self.gave_up = true;
        self.runaway = true;
        self.lexer.i = self.source.len();
        self.cur = self.lexer.next_token();
        self.next = self.lexer.next_token();
    }

    fn value(&mut self, depth: usize) -> Node {
        let tok = self.bump();
        let start = tok.span.start;
        self.values += 1;
        if self.values > MAX_VALUES {
            let message = format!("the file holds more than {MAX_VALUES} values: stopped reading here");
            self.stop(start, message, "no routine needs so many; is this the right file?".into());
            return Node { value: Value::Error, span: tok.span };
        }
        if depth >= MAX_DEPTH {
            self.error(tok.span.clone(), format!("brackets nest more than {MAX_DEPTH} deep"), None);
            self.skip_to_depth_zero();
            return Node { value: Value::Error, span: tok.span };
        }
        match tok.kind {
            Tok::Str(s) => Node { value: Value::Str(s), span: tok.span },
            Tok::Int(v) => Node { value: Value::Int(v), span: tok.span },
            Tok::Float(v) => Node { value: Value::Float(v), span: tok.span },
            Tok::Ident(name) if name == "true" || name == "false" => {
                Node { value: Value::Bool(name == "true"), span: tok.span }
            }
            Tok::Ident(name) => {
                let ident = Ident { name, span: tok.span.clone() };
                if self.peek().kind == Tok::Open('(') {
                    let open = self.bump();
                    self.parens(Some(ident), start, open.span, depth)
                } else {
                    Node { value: Value::Unit(ident), span: tok.span }
                }
            }
            Tok::Open('(') => self.parens(None, start, tok.span, depth),
            Tok::Open('[') => {
                let (items, end) = self.items(']', start, depth, |p, d| p.value(d + 1));
                Node { value: Value::List(items), span: start..end }
            }
            Tok::Open('{') => {
                let (pairs, end) = self.items('}', start, depth, |p, d| {
                    let key = p.value(d + 1);
                    if !p.expect_colon() {
                        return (key, Node { value: Value::Error, span: 0..0 });
                    }
                    let value = p.value(d + 1);
                    (key, value)
                });
                Node { value: Value::Map(pairs), span: start..end }
            }
            Tok::Bad(why, help) => {
                self.runaway |= tok.span.end == self.source.len();
                self.error(tok.span.clone(), why, help);
                Node { value: Value::Error, span: tok.span }
            }
            Tok::Eof => {
                let message = if self.source.trim().is_empty() {
                    "the file is empty".to_string()
                } else {
                    "the file ends where a value was expected".to_string()
                };
                self.error(
                    tok.span.clone(),
                    message,
                    Some("a routine starts `Routine(` and ends with `)`; `backease new NAME` writes a starter".into()),
                );
                Node { value: Value::Error, span: tok.span }
            }
            Tok::Close(c) => {
                self.error(tok.span.clone(), format!("unexpected `{c}` where a value was expected"), None);
                Node { value: Value::Error, span: tok.span }
            }
            Tok::Comma | Tok::Colon => {
                let c = &self.source[tok.span.clone()];
                self.error(tok.span.clone(), format!("unexpected `{c}` where a value was expected"), None);
                Node { value: Value::Error, span: tok.span }
            }
            Tok::Open(c) => {
                self.error(tok.span.clone(), format!("unexpected `{c}`"), None);
                Node { value: Value::Error, span: tok.span }
            }
        }
    }

    fn expect_colon(&mut self) -> bool {
        if self.peek().kind == Tok::Colon {
            self.bump();
            true
        } else {
            let span = self.peek().span.clone();
            self.error(span, "expected `:` after the key".into(), None);
            false
        }
    }

    /// Reads what follows `(`: either fields (`name: value`) or plain items.
    fn parens(&mut self, name: Option<Ident>, start: usize, open: Range<usize>, depth: usize) -> Node {
        let is_struct = matches!(self.peek().kind, Tok::Ident(_)) && self.next.kind == Tok::Colon;
        if is_struct {
            // A field that cannot be read stays in the tree, its value an
            // error (and its name empty if that is what could not be
            // read), so the loader knows not to call it missing.
            let (fields, end) = self.items(')', open.start, depth, |p, d| {
                let tok = p.bump();
                let unread = Node { value: Value::Error, span: tok.span.clone() };
                let name = match tok.kind {
                    Tok::Ident(n) => Ident { name: n, span: tok.span.clone() },
                    _ => {
                        p.error(tok.span.clone(), "expected a field name".into(), None);
                        return Field { name: Ident { name: String::new(), span: tok.span }, value: unread };
                    }
                };
                if !p.expect_colon() {
                    return Field { name, value: unread };
                }
                let value = p.value(d + 1);
                Field { name, value }
            });
            Node { value: Value::Struct(name, fields), span: start..end }
        } else {
            let (items, end) = self.items(')', open.start, depth, |p, d| p.value(d + 1));
            Node { value: Value::Tuple(name, items), span: start..end }
        }
    }

    /// Reads comma-separated items up to `close`. On a problem inside an
    /// item it skips to that item's end and carries on, so later mistakes
    /// are still found.
    fn items<T>(
        &mut self,
        close: char,
        start: usize,
        depth: usize,
        mut item: impl FnMut(&mut Self, usize) -> T,
    ) -> (Vec<T>, usize) {
        self.closers.push(close);
        let (mut items, end) = self.items_inner(close, start, depth, &mut item);
        self.closers.pop();
        // Most lists hold one or two values; the room a growing vector
        // keeps for more would be most of the tree's memory.
        items.shrink_to_fit();
        (items, end)
    }

    fn items_inner<T>(
        &mut self,
        close: char,
        start: usize,
        depth: usize,
        item: &mut impl FnMut(&mut Self, usize) -> T,
    ) -> (Vec<T>, usize) {
        let mut out = Vec::new();
        loop {
            let tok = self.peek().clone();
            if let Some(end) = self.list_end(&tok, close, start) {
                return (out, end);
            }
            let errors_before = self.diagnostics.len();
            out.push(item(self, depth));
            // A list inside the item that indentation ended took the comma
            // after it: the next item follows.
            let ended_by_layout = std::mem::take(&mut self.ended_by_layout);
            let tok = self.peek().clone();
            match tok.kind {
                Tok::Comma => {
                    self.bump();
                }
                Tok::Close(c) if c == close => {}
                _ if self.outdented(start, &tok) => return (out, self.prev_end),
                _ if ended_by_layout => {}
                _ if self.diagnostics.len() > errors_before => self.skip_item(close),
                Tok::Eof | Tok::Close(_) => {}
                _ => {
                    let prev_end = self.prev_end;
                    self.error(prev_end..prev_end, "expected `,` between items".into(), None);
                    self.skip_item(close);
                }
            }
        }
    }

    /// Whether the list of `close` opened at `start` ends at `tok`, and
    /// where: its closing bracket, or where it was found never closed (the
    /// end of the file, an outer list's bracket, a line outside it).
    fn list_end(&mut self, tok: &Token, close: char, start: usize) -> Option<usize> {
        match tok.kind {
            Tok::Close(c) if c == close => {
                self.bump();
                Some(tok.span.end)
            }
            // After a string or comment that runs to the end of the
            // file, every open bracket is unclosed: one report is enough.
            Tok::Eof if self.runaway => Some(tok.span.end),
            Tok::Eof => {
                self.unclosed(start, format!("add `{close}` where it should end"));
                Some(tok.span.end)
            }
            // A bracket that closes an outer list is left for it: this
            // one was never closed.
            Tok::Close(c) if self.closers[..self.closers.len() - 1].contains(&c) => {
                let at = line_col(self.source, tok.span.start);
                let help = format!(
                    "the `{c}` at {}:{} closes what is around it first; add `{close}` where this should end",
                    at.line, at.column
                );
                self.unclosed(start, help);
                Some(tok.span.start)
            }
            Tok::Close(c) => {
                let at = line_col(self.source, start);
                let (line, column) = (at.line, at.column);
                let message =
                    format!("expected `{close}` to close the `{}` at {line}:{column}, found `{c}`", opening(close));
                self.error(tok.span.clone(), message, None);
                self.bump();
                Some(tok.span.end)
            }
            _ if self.outdented(start, tok) => Some(self.prev_end),
            _ => None,
        }
    }

    /// On the guess that indentation shows where brackets end: whether
    /// `tok` starts a line indented no deeper than the line of the bracket
    /// at `open`, which is then reported as never closed.
    fn outdented(&mut self, open: usize, tok: &Token) -> bool {
        if !self.layout || matches!(tok.kind, Tok::Eof | Tok::Close(_)) {
            return false;
        }
        let line_start = |at: usize| self.source[..at].rfind('\n').map_or(0, |i| i + 1);
        let (open_line, tok_line) = (line_start(open), line_start(tok.span.start));
        let indent = |from: usize| self.source[from..].bytes().take_while(|b| matches!(b, b' ' | b'\t')).count();
        let first_on_line = tok_line + indent(tok_line) == tok.span.start;
        if open_line == tok_line || !first_on_line || indent(tok_line) > indent(open_line) {
            return false;
        }
        let close = *self.closers.last().expect("inside a list");
        let line = line_col(self.source, tok.span.start).line;
        self.unclosed(open, format!("line {line} is indented as if outside it; add `{close}` where it should end"));
        self.ended_by_layout = true;
        true
    }

    /// Reports the bracket at `open` as never closed, naming it as it is
    /// written (`Sides(`, `steps: [`), at its place.
    fn unclosed(&mut self, open: usize, help: String) {
        let from = opener_start(self.source, open);
        let label = &self.source[from..=open];
        let message = format!("`{label}` is never closed");
        self.error(from..open + 1, message, Some(help));
    }

    /// Skips to the `,` that ends the current item, or to the bracket that
    /// closes its list, keeping nesting balanced.
    fn skip_item(&mut self, close: char) {
        let mut depth = 0usize;
        loop {
            match self.peek().kind {
                Tok::Eof => return,
                Tok::Open(_) => depth += 1,
                Tok::Close(c) if depth == 0 => {
                    let _ = c == close;
                    return;
                }
                Tok::Close(_) => depth -= 1,
                Tok::Comma if depth == 0 => {
                    self.bump();
                    return;
                }
                _ => {}
            }
            self.bump();
        }
    }

    /// After nesting too deep, leaves everything up to the matching close.
    fn skip_to_depth_zero(&mut self) {
        let mut depth = 1usize;
        loop {
            match self.peek().kind {
                // Every bracket around is unclosed too: the depth error
                // says enough, not one more line for each of them.
                Tok::Eof => {
                    self.runaway = true;
                    return;
                }
                Tok::Open(_) => depth += 1,
                Tok::Close(_) => {
                    depth -= 1;
                    if depth == 0 {
                        self.bump();
                        return;
                    }
                }
                _ => {}
            }
            self.bump();
        }
    }
}

/// Where the words that name a bracket begin: `Sides` before `(`, `steps:`
/// before `[`; the bracket itself when nothing names it.
fn opener_start(source: &str, open: usize) -> usize {
    let before = &source[..open];
    let name_start = |text: &str| {
        let trimmed = text.trim_end_matches(|c: char| c == '_' || c == '-' || c.is_ascii_alphanumeric());
        (trimmed.len() < text.len()).then_some(trimmed.len())
    };
    // `Sides(`: the name touches the bracket.
    if let Some(at) = name_start(before) {
        return at;
    }
    // `steps: [`: a field name, its colon, then the bracket.
    let spaced = before.trim_end_matches([' ', '\t']);
    if let Some(field) = spaced.strip_suffix(':') {
        let field = field.trim_end_matches([' ', '\t']);
        if let Some(at) = name_start(field) {
            return at;
        }
    }
    open
}

fn opening(close: char) -> char {
    match close {
        ')' => '(',
        ']' => '[',
        _ => '{',
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_ok(source: &str, expect: &str) {
        let (node, diags) = parse(source);
        assert!(diags.is_empty(), "unexpected diagnostics: {diags:?}");
        assert_eq!(render(&node), expect);
    }

    #[track_caller]
    fn check_err(source: &str, expect: &str) {
        let (_, diags) = parse(source);
        let got: Vec<String> =
            diags.iter().map(|d| format!("{}..{} {}", d.span.start, d.span.end, d.message)).collect();
        assert_eq!(got.join("\n"), expect);
    }

    /// A compact rendering of a tree, enough to compare shapes in tests.
    fn render(node: &Node) -> String {
        match &node.value {
            Value::Str(s) => format!("{s:?}"),
            Value::Int(v) => v.to_string(),
            Value::Float(v) => format!("{v:?}"),
            Value::Bool(b) => b.to_string(),
            Value::Unit(i) => i.name.clone(),
            Value::Tuple(n, items) => format!(
                "{}({})",
                n.as_ref().map_or("", |n| &n.name),
                items.iter().map(render).collect::<Vec<_>>().join(", ")
            ),
            Value::Struct(n, fields) => format!(
                "{}{{{}}}",
                n.as_ref().map_or("", |n| &n.name),
                fields.iter().map(|f| format!("{}: {}", f.name.name, render(&f.value))).collect::<Vec<_>>().join(", ")
            ),
            Value::List(items) => format!("[{}]", items.iter().map(render).collect::<Vec<_>>().join(", ")),
            Value::Map(pairs) => format!(
                "{{{}}}",
                pairs.iter().map(|(k, v)| format!("{} => {}", render(k), render(v))).collect::<Vec<_>>().join(", ")
            ),
            Value::Error => "<error>".into(),
        }
    }

    #[test]
    fn reads_values() {
        check_ok(r#"Say("hi")"#, r#"Say("hi")"#);
        check_ok("Hold(length: \"30s\", countdown: 5,)", "Hold{length: \"30s\", countdown: 5}");
        check_ok("[Tick, true, -3, 1.5, 0x10]", "[Tick, true, -3, 1.5, 16]");
        check_ok("( a: [], b: () )", "{a: [], b: ()}");
        check_ok("{ \"k\": 1 }", "{\"k\" => 1}");
        check_ok("r#\"say \"hi\"\"#", "\"say \\\"hi\\\"\"");
        check_ok("\"tab\\there \\u{263A}\"", "\"tab\\there ☺\"");
        check_ok("// comment\n/* block /* nested */ */ Tick", "Tick");
    }

    #[test]
    fn reports_and_recovers() {
        check_err(
            "[Say(\"a\"), Say(\"b\" Say(\"c\")]",
            "11..15 `Say(` is never closed\n18..18 expected `,` between items",
        );
        check_err(
            "[Pause(30s), Say('x')]",
            "7..10 durations are written in quotes: \"30s\"\n17..18 text goes between double quotes (\"like this\"), not single quotes",
        );
        check_err("Routine(steps: [", "0..8 `Routine(` is never closed\n8..16 `steps: [` is never closed");
        check_err("[1, 2)", "5..6 expected `]` to close the `[` at 1:1, found `)`");
        check_err("", "0..0 the file is empty");
        check_err("\"abc", "0..4 this string is never closed with \"");
        check_err("Tick Tock", "5..9 unexpected text after the end of the routine");
    }

    /// Each problem as `line:column message [help]`.
    #[track_caller]
    fn check_lines(source: &str, expect: &str) {
        let (_, diags) = parse(source);
        let got: Vec<String> = diags
            .iter()
            .map(|d| {
                let at = line_col(source, d.span.start);
                let help = d.help.as_ref().map(|h| format!(" [{h}]")).unwrap_or_default();
                format!("{}:{} {}{help}", at.line, at.column, d.message)
            })
            .collect();
        assert_eq!(got.join("\n"), expect);
    }

    #[test]
    fn an_unclosed_string_is_one_error_at_its_quote() {
        let source = "Routine(\n  steps: [\n    Say(\"Hello),\n    Chime(\"bell\"),\n    Say(\"Bye\"),\n  ],\n)\n";
        check_lines(
            source,
            "3:9 this string is never closed with \" [end the text with a double quote on its line: \"Hello\"]",
        );
        // The lines after it read as meant: the chime and the last cue are there.
        let (node, _) = parse(source);
        let Value::Struct(_, fields) = &node.value else { panic!("{node:?}") };
        let Value::List(steps) = &fields[0].value.value else { panic!("{fields:?}") };
        assert_eq!(steps.len(), 3, "{steps:?}");
        assert!(
            matches!(&steps[2].value, Value::Tuple(Some(n), items) if n.name == "Say" && items[0].value == Value::Str("Bye".into()))
        );
        // A string meant to hold a line break is still one.
        check_ok("Say(\"one\ntwo\")", "Say(\"one\\ntwo\")");
        // At the end of the file, the same place and help.
        check_lines(
            "[Say(\"Hi",
            "1:6 this string is never closed with \" [end the text with a double quote on its line: \"Hi\"]",
        );
    }

    #[test]
    fn a_hash_comment_is_reported_and_skipped() {
        check_lines(
            "# my routine\nRoutine(\n  # the steps\n  steps: [Tick, 30s],\n)",
            "1:1 comments start with //, not # [write // in place of #]\n\
             3:3 comments start with //, not # [write // in place of #]\n\
             4:17 durations are written in quotes: \"30s\"",
        );
    }

    #[test]
    fn an_unclosed_bracket_is_reported_at_its_opener() {
        // The `]` shows that `Sides(` is open when its list ends.
        check_lines(
            "Routine(\n  steps: [\n    Sides([\n      Hold,\n    ],\n  ],\n)",
            "3:5 `Sides(` is never closed [the `]` at 6:3 closes what is around it first; add `)` where this should end]",
        );
        // Indentation shows where it should have ended: the chime after it
        // is read as the next step, not as a second value of Sides.
        let source = "Routine(\n  steps: [\n    Sides([\n      Hold,\n    ],\n    Chime(\"bell\"),\n  ],\n)";
        check_lines(
            source,
            "3:5 `Sides(` is never closed [line 6 is indented as if outside it; add `)` where it should end]",
        );
        let (node, _) = parse(source);
        let Value::Struct(_, fields) = &node.value else { panic!("{node:?}") };
        let Value::List(steps) = &fields[0].value.value else { panic!("{fields:?}") };
        assert_eq!(steps.len(), 2, "{steps:?}");
        check_lines(
            "Routine(\n  steps: [\n    Tick,\n",
            "1:1 `Routine(` is never closed [add `)` where it should end]\n2:3 `steps: [` is never closed [add `]` where it should end]",
        );
    }

    #[test]
    fn a_dashed_name_is_one_name() {
        check_ok("Config(daily-goal: 3)", "Config{daily-goal: 3}");
    }

    #[test]
    fn a_field_that_cannot_be_read_stays_in_the_tree() {
        let (node, diags) = parse("(a: 1, title \"x\", 3: 4, b: 1)");
        assert_eq!(diags.len(), 2, "{diags:?}");
        let Value::Struct(_, fields) = &node.value else { panic!("{node:?}") };
        let names: Vec<&str> = fields.iter().map(|f| f.name.name.as_str()).collect();
        assert_eq!(names, ["a", "title", "", "b"]);
        assert_eq!(fields[1].value.value, Value::Error);
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = "[".repeat(100_000) + &"]".repeat(100_000);
        let (_, diags) = parse(&deep);
        assert_eq!(diags.len(), 1, "{diags:?}");
        assert_eq!(diags[0].message, format!("brackets nest more than {MAX_DEPTH} deep"));
    }

    #[test]
    fn reading_stops_after_too_many_problems_or_values() {
        let commas = format!("[{}]", ",".repeat(100_000));
        let (_, diags) = parse(&commas);
        assert_eq!(diags.len(), MAX_PROBLEMS + 1);
        assert_eq!(diags.last().unwrap().message, format!("more than {MAX_PROBLEMS} problems: stopped reading here"));
        let numbers = format!("[{}]", "1,".repeat(MAX_VALUES + 10));
        let (_, diags) = parse(&numbers);
        assert_eq!(diags.len(), 1, "{diags:?}");
        assert_eq!(diags[0].message, format!("the file holds more than {MAX_VALUES} values: stopped reading here"));
        // The list is the first value: reading stops at its MAX_VALUES-th number.
        assert_eq!(diags[0].span.start, 1 + 2 * (MAX_VALUES - 1));
    }

    #[test]
    fn places_in_strings_follow_escapes() {
        #[track_caller]
        fn check(source: &str, decoded: Range<usize>, expect: &str) {
            let (node, diags) = parse(source);
            assert!(diags.is_empty(), "{diags:?}");
            assert_eq!(&source[Places::new(source, node.span).span(decoded)], expect);
        }
        check(r#""ab{x}""#, 2..5, "{x}");
        check(r#""\t\u{263A}{x}""#, 4..7, "{x}");
        check(r#""a\n""#, 1..2, "\\n");
        check(r##"r#"ab{x}"#"##, 2..5, "{x}");
    }

    #[test]
    fn a_hash_starts_no_comment() {
        check_err("# note\nTick", "0..1 comments start with //, not #");
        check_err(
            "#![enable(unwrap_newtypes)]\nTick",
            "0..1 RON extensions (#![enable(...)]) are not used in backease scripts",
        );
    }

    #[test]
    fn binary_junk_gives_few_diagnostics() {
        let junk: String = (0..10_000u32).map(|i| char::from_u32(0x80 + (i * 7919) % 0x700).unwrap()).collect();
        let (_, diags) = parse(&junk);
        assert!(diags.len() <= 2, "{}", diags.len());
    }
}
