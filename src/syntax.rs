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

use crate::diagnostic::{Diagnostic, MAX_PROBLEMS};

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
pub fn parse(source: &str) -> (Node, Vec<Diagnostic>) {
    let mut lexer = Lexer { source, i: 0 };
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
    };
    let node = parser.value(0);
    if !matches!(node.value, Value::Error) {
        let tok = parser.peek();
        if tok.kind != Tok::Eof {
            let span = tok.span.clone();
            parser.error(span, "unexpected text after the end of the routine".into(), None);
        }
    }
    (node, parser.diagnostics)
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Open(char),
    Close(char),
    Comma,
    Colon,
    Ident(String),
    Str(String),
    Int(i64),
    Float(f64),
    /// Something the lexer could not read, with why.
    Bad(String),
    Eof,
}

#[derive(Debug, Clone)]
struct Token {
    kind: Tok,
    span: Range<usize>,
}

/// Reads tokens one at a time as the parser asks for them, so memory
/// holds two tokens, not a token for every byte of a large file.
struct Lexer<'a> {
    source: &'a str,
    i: usize,
}

impl Lexer<'_> {
    /// The next token; at the end, `Eof` every time.
    fn next_token(&mut self) -> Token {
        let source = self.source;
        let bytes = source.as_bytes();
        let mut i = self.i;
        while i < bytes.len() {
            let mut out = None;
            let c = bytes[i];
            let start = i;
            match c {
                b' ' | b'\t' | b'\n' | b'\r' => i += 1,
                b'/' if bytes.get(i + 1) == Some(&b'/') => {
                    while i < bytes.len() && bytes[i] != b'\n' {
                        i += 1;
                    }
                }
                b'/' if bytes.get(i + 1) == Some(&b'*') => {
                    let mut depth = 0usize;
                    loop {
                        if i + 1 >= bytes.len() {
                            out = Some(Token {
                                kind: Tok::Bad("this comment is never closed with */".into()),
                                span: start..start + 2,
                            });
                            i = bytes.len();
                            break;
                        }
                        if bytes[i] == b'/' && bytes[i + 1] == b'*' {
                            depth += 1;
                            i += 2;
                        } else if bytes[i] == b'*' && bytes[i + 1] == b'/' {
                            depth -= 1;
                            i += 2;
                            if depth == 0 {
                                break;
                            }
                        } else {
                            i += 1;
                        }
                    }
                }
                b'(' | b'[' | b'{' => {
                    out = Some(Token { kind: Tok::Open(c as char), span: i..i + 1 });
                    i += 1;
                }
                b')' | b']' | b'}' => {
                    out = Some(Token { kind: Tok::Close(c as char), span: i..i + 1 });
                    i += 1;
                }
                b',' => {
                    out = Some(Token { kind: Tok::Comma, span: i..i + 1 });
                    i += 1;
                }
                b':' => {
                    out = Some(Token { kind: Tok::Colon, span: i..i + 1 });
                    i += 1;
                }
                b'"' => {
                    let (kind, end) = lex_string(source, i);
                    out = Some(Token { kind, span: start..end });
                    i = end;
                }
                b'r' if matches!(bytes.get(i + 1), Some(b'"' | b'#')) => {
                    let (kind, end) = lex_raw_string(source, i);
                    out = Some(Token { kind, span: start..end });
                    i = end;
                }
                b'0'..=b'9' | b'-' | b'+' | b'.' => {
                    let (kind, end) = lex_number(source, i);
                    out = Some(Token { kind, span: start..end });
                    i = end;
                }
                c if c == b'_' || c.is_ascii_alphabetic() => {
                    while i < bytes.len() && (bytes[i] == b'_' || bytes[i].is_ascii_alphanumeric()) {
                        i += 1;
                    }
                    out = Some(Token { kind: Tok::Ident(source[start..i].to_string()), span: start..i });
                }
                _ => {
                    let ch = source[i..].chars().next().unwrap_or('\u{fffd}');
                    let len = ch.len_utf8();
                    let why = if c == b'\'' {
                        "text goes between double quotes (\"like this\"), not single quotes".to_string()
                    } else if c == b'#' && bytes.get(i + 1) == Some(&b'!') {
                        "RON extensions (#![enable(...)]) are not used in backease scripts".to_string()
                    } else if c == b'#' {
                        "comments start with //, not #".to_string()
                    } else {
                        format!("unexpected character {}", describe_char(ch))
                    };
                    out = Some(Token { kind: Tok::Bad(why), span: i..i + len });
                    i += len;
                    // After a `#`, the rest of the line was meant as a comment:
                    // one report, not one for each of its words.
                    if c == b'#' {
                        while i < bytes.len() && bytes[i] != b'\n' {
                            i += 1;
                        }
                    }
                    // Skip the rest of a run of junk so binary input yields one
                    // diagnostic per run, not one per byte.
                    while i < bytes.len() && !is_token_start(bytes[i]) {
                        i += 1;
                    }
                    while i < bytes.len() && !source.is_char_boundary(i) {
                        i += 1;
                    }
                }
            }
            if let Some(token) = out {
                self.i = i;
                return token;
            }
        }
        self.i = source.len();
        Token { kind: Tok::Eof, span: source.len()..source.len() }
    }
}

fn is_token_start(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b" \t\r\n()[]{},:\"/-+._".contains(&b)
}

fn describe_char(ch: char) -> String {
    if ch.is_control() || ch == '\u{fffd}' { format!("U+{:04X}", ch as u32) } else { format!("'{ch}'") }
}

fn lex_string(source: &str, start: usize) -> (Tok, usize) {
    let mut out = String::new();
    match unescape(source, start, |c, _| out.push(c)) {
        Ok(end) => (Tok::Str(out), end),
        Err((why, end)) => (Tok::Bad(why), end),
    }
}

/// Decodes the string literal that starts with the `"` at `start`, giving
/// each character and the offset of its first source byte to `emit`.
/// Returns the offset just past the closing quote, or why the literal is
/// bad and where reading resumes.
fn unescape(source: &str, start: usize, mut emit: impl FnMut(char, usize)) -> Result<usize, (String, usize)> {
    let mut chars = source[start + 1..].char_indices();
    while let Some((off, ch)) = chars.next() {
        let at = start + 1 + off;
        match ch {
            '"' => return Ok(at + 1),
            '\\' => match chars.next() {
                Some((_, 'n')) => emit('\n', at),
                Some((_, 't')) => emit('\t', at),
                Some((_, 'r')) => emit('\r', at),
                Some((_, '0')) => emit('\0', at),
                Some((_, '\\')) => emit('\\', at),
                Some((_, '"')) => emit('"', at),
                Some((_, '\'')) => emit('\'', at),
                Some((_, '\n')) => {
                    // A backslash at the end of a line continues the string.
                }
                Some((_, 'u')) => {
                    // At most six hex digits: looking further for the `}`
                    // would make a file of unclosed escapes quadratic.
                    let rest = &source[at + 2..];
                    let decoded = rest
                        .strip_prefix('{')
                        .and_then(|r| r.char_indices().take(8).find(|&(_, c)| c == '}').map(|(end, _)| &r[..end]))
                        .and_then(|hex| u32::from_str_radix(hex, 16).ok().map(|v| (hex.len(), v)))
                        .and_then(|(len, v)| char::from_u32(v).map(|c| (len, c)));
                    match decoded {
                        Some((len, c)) => {
                            emit(c, at);
                            for _ in 0..len + 2 {
                                chars.next();
                            }
                        }
                        None => return Err(("a \\u escape is written \\u{263A}".into(), skip_string(source, at))),
                    }
                }
                Some((_, other)) => {
                    return Err((format!("unknown escape \\{other} in a string"), skip_string(source, at)));
                }
                None => break,
            },
            _ => emit(ch, at),
        }
    }
    Err(("this string is never closed with \"".into(), source.len()))
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

/// After a bad escape, finds the closing quote so the rest of the document
/// still reads sensibly.
fn skip_string(source: &str, from: usize) -> usize {
    let bytes = source.as_bytes();
    let mut i = from;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    source.len()
}

fn lex_raw_string(source: &str, start: usize) -> (Tok, usize) {
    let bytes = source.as_bytes();
    let mut i = start + 1;
    let mut hashes = 0;
    while i < bytes.len() && bytes[i] == b'#' {
        hashes += 1;
        i += 1;
    }
    if bytes.get(i) != Some(&b'"') {
        return (Tok::Bad("a raw string starts r\" or r#\"".into()), i);
    }
    let body_start = i + 1;
    let closing: String = std::iter::once('"').chain(std::iter::repeat_n('#', hashes)).collect();
    match source[body_start..].find(&closing) {
        Some(off) => (Tok::Str(source[body_start..body_start + off].to_string()), body_start + off + closing.len()),
        None => (Tok::Bad("this raw string is never closed".into()), source.len()),
    }
}

fn lex_number(source: &str, start: usize) -> (Tok, usize) {
    let bytes = source.as_bytes();
    let mut i = start;
    while i < bytes.len()
        && (bytes[i].is_ascii_alphanumeric()
            || matches!(bytes[i], b'.' | b'_' | b'-' | b'+')
                && (i == start || matches!(bytes[i], b'.' | b'_') || matches!(bytes[i - 1], b'e' | b'E')))
    {
        i += 1;
    }
    let text: String = source[start..i].chars().filter(|&c| c != '_').collect();
    let (sign, digits) = match text.strip_prefix('-') {
        Some(rest) => (-1i64, rest),
        None => (1, text.strip_prefix('+').unwrap_or(&text)),
    };
    let int = if let Some(hex) = digits.strip_prefix("0x") {
        i64::from_str_radix(hex, 16).ok()
    } else if let Some(bin) = digits.strip_prefix("0b") {
        i64::from_str_radix(bin, 2).ok()
    } else if let Some(oct) = digits.strip_prefix("0o") {
        i64::from_str_radix(oct, 8).ok()
    } else {
        digits.parse::<i64>().ok()
    };
    if let Some(v) = int {
        return (Tok::Int(sign * v), i);
    }
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() && !digits.is_empty() && digits.bytes().any(|b| b.is_ascii_digit()) => {
            (Tok::Float(v), i)
        }
        _ if looks_like_duration(digits) => {
            (Tok::Bad(format!("durations are written in quotes: \"{}\"", &source[start..i])), i)
        }
        _ => (Tok::Bad(format!("`{}` is not a number", &source[start..i])), i),
    }
}

fn looks_like_duration(text: &str) -> bool {
    text.starts_with(|c: char| c.is_ascii_digit())
        && (text.ends_with('s') || text.ends_with('m') || text.ends_with('h'))
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
}

impl Parser<'_> {
    fn peek(&self) -> &Token {
        &self.cur
    }

    fn bump(&mut self) -> Token {
        let next = std::mem::replace(&mut self.next, self.lexer.next_token());
        let tok = std::mem::replace(&mut self.cur, next);
        self.prev_end = tok.span.end;
        tok
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
            Tok::Bad(why) => {
                self.runaway |= tok.span.end == self.source.len();
                self.error(tok.span.clone(), why, None);
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
            let (fields, end) = self.items(')', open.start, depth, |p, d| {
                let tok = p.bump();
                let name = match tok.kind {
                    Tok::Ident(n) => Ident { name: n, span: tok.span.clone() },
                    _ => {
                        p.error(tok.span.clone(), "expected a field name".into(), None);
                        return None;
                    }
                };
                if !p.expect_colon() {
                    return None;
                }
                let value = p.value(d + 1);
                Some(Field { name, value })
            });
            let mut fields: Vec<Field> = fields.into_iter().flatten().collect();
            fields.shrink_to_fit();
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
            match tok.kind {
                Tok::Close(c) if c == close => {
                    self.bump();
                    return (out, tok.span.end);
                }
                // After a string or comment that runs to the end of the
                // file, every open bracket is unclosed: one report is enough.
                Tok::Eof if self.runaway => {
                    return (out, tok.span.end);
                }
                Tok::Eof => {
                    self.error(
                        start..start + 1,
                        format!("this `{}` is never closed", opening(close)),
                        Some(format!("add `{close}` where the block should end")),
                    );
                    return (out, tok.span.end);
                }
                Tok::Close(c) => {
                    self.error(
                        tok.span.clone(),
                        format!("expected `{close}` to close the `{}`, found `{c}`", opening(close)),
                        None,
                    );
                    // A bracket that closes an outer list is left for it.
                    if !self.closers[..self.closers.len() - 1].contains(&c) {
                        self.bump();
                    }
                    return (out, tok.span.end);
                }
                _ => {}
            }
            let errors_before = self.diagnostics.len();
            out.push(item(self, depth));
            let tok = self.peek().clone();
            match tok.kind {
                Tok::Comma => {
                    self.bump();
                }
                Tok::Close(c) if c == close => {}
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
            "18..18 expected `,` between items\n27..28 expected `)` to close the `(`, found `]`",
        );
        check_err(
            "[Pause(30s), Say('x')]",
            "7..10 durations are written in quotes: \"30s\"\n17..18 text goes between double quotes (\"like this\"), not single quotes",
        );
        check_err("Routine(steps: [", "15..16 this `[` is never closed\n7..8 this `(` is never closed");
        check_err("[1, 2)", "5..6 expected `]` to close the `[`, found `)`");
        check_err("", "0..0 the file is empty");
        check_err("\"abc", "0..4 this string is never closed with \"");
        check_err("Tick Tock", "5..9 unexpected text after the end of the routine");
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
