//! The tokens of a RON document, read one at a time as the parser asks:
//! brackets, commas, colons, names, strings and numbers, each with its
//! byte span. Whitespace and comments are skipped (a `#` comment too, with
//! a note for the parser to report); what cannot be read is a `Bad` token
//! saying why, so the parser can report it and go on. It builds no tree:
//! that is `syntax`'s.

use std::ops::Range;

use crate::script::diagnostic::Diagnostic;

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
    Open(char),
    Close(char),
    Comma,
    Colon,
    Ident(String),
    Str(String),
    Int(i64),
    Float(f64),
    /// Something the lexer could not read, with why, and what to do.
    Bad(String, Option<String>),
    Eof,
}

#[derive(Debug, Clone)]
pub(super) struct Token {
    pub(super) kind: Tok,
    pub(super) span: Range<usize>,
}

/// Reads tokens one at a time as the parser asks for them, so memory
/// holds two tokens, not a token for every byte of a large file.
pub(super) struct Lexer<'a> {
    source: &'a str,
    /// Where the next token starts.
    pub(super) i: usize,
    /// A string ends at the end of its line (see `syntax::parse`).
    line_strings: bool,
    /// Problems in what is skipped between tokens (a `#` comment), for the
    /// parser to report.
    pub(super) notes: Vec<Diagnostic>,
}

impl<'a> Lexer<'a> {
    /// Reads `source` from its start; with `line_strings`, a string that
    /// is not closed on its line is taken to end there.
    pub(super) fn new(source: &'a str, line_strings: bool) -> Lexer<'a> {
        Lexer { source, i: 0, line_strings, notes: Vec::new() }
    }

    /// The next token; at the end, `Eof` every time.
    pub(super) fn next_token(&mut self) -> Token {
        if let Some(unclosed) = self.skip_trivia() {
            return unclosed;
        }
        let bytes = self.source.as_bytes();
        let Some(&c) = bytes.get(self.i) else {
            self.i = self.source.len();
            return Token { kind: Tok::Eof, span: self.i..self.i };
        };
        match c {
            b'(' | b'[' | b'{' => self.punctuation(Tok::Open(c as char)),
            b')' | b']' | b'}' => self.punctuation(Tok::Close(c as char)),
            b',' => self.punctuation(Tok::Comma),
            b':' => self.punctuation(Tok::Colon),
            b'"' if self.line_strings => self.literal(lex_line_string),
            b'"' => self.literal(lex_string),
            b'r' if matches!(bytes.get(self.i + 1), Some(b'"' | b'#')) => self.literal(lex_raw_string),
            b'0'..=b'9' | b'-' | b'+' | b'.' => self.literal(lex_number),
            c if c == b'_' || c.is_ascii_alphabetic() => self.identifier(),
            _ => self.junk(),
        }
    }

    /// Skips whitespace and comments. A block comment never closed is the
    /// one token found here: a `Bad` token. A line that starts a comment
    /// with `#` is skipped as the comment it was meant to be, and noted.
    fn skip_trivia(&mut self) -> Option<Token> {
        let bytes = self.source.as_bytes();
        while let Some(&c) = bytes.get(self.i) {
            match (c, bytes.get(self.i + 1)) {
                (b' ' | b'\t' | b'\n' | b'\r', _) => self.i += 1,
                (b'/', Some(b'/')) => self.skip_line(),
                (b'/', Some(b'*')) => {
                    if let Some(unclosed) = self.block_comment() {
                        return Some(unclosed);
                    }
                }
                (b'#', next) => {
                    let d = if next == Some(&b'!') {
                        Diagnostic::error(
                            self.i..self.i + 1,
                            "RON extensions (#![enable(...)]) are not used in backease scripts",
                        )
                        .with_help("remove this line")
                    } else {
                        Diagnostic::error(self.i..self.i + 1, "comments start with //, not #")
                            .with_help("write // in place of #")
                    };
                    self.notes.push(d);
                    self.skip_line();
                }
                _ => return None,
            }
        }
        None
    }

    /// Moves to the end of the line, before its `\n`.
    fn skip_line(&mut self) {
        let rest = &self.source.as_bytes()[self.i..];
        self.i += rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
    }

    /// Skips a `/* … */` comment, which may nest; if it is never closed,
    /// everything after it is the comment, and the error.
    fn block_comment(&mut self) -> Option<Token> {
        let bytes = self.source.as_bytes();
        let start = self.i;
        let mut depth = 0usize;
        loop {
            let i = self.i;
            if i + 1 >= bytes.len() {
                self.i = bytes.len();
                let kind = Tok::Bad("this comment is never closed with */".into(), None);
                return Some(Token { kind, span: start..start + 2 });
            }
            if bytes[i] == b'/' && bytes[i + 1] == b'*' {
                depth += 1;
                self.i += 2;
            } else if bytes[i] == b'*' && bytes[i + 1] == b'/' {
                depth -= 1;
                self.i += 2;
                if depth == 0 {
                    return None;
                }
            } else {
                self.i += 1;
            }
        }
    }

    /// A one-byte token: a bracket, a comma or a colon.
    fn punctuation(&mut self, kind: Tok) -> Token {
        let start = self.i;
        self.i += 1;
        Token { kind, span: start..self.i }
    }

    /// A string or a number, read by `lex`, which says where it ends.
    fn literal(&mut self, lex: fn(&str, usize) -> (Tok, usize)) -> Token {
        let start = self.i;
        let (kind, end) = lex(self.source, start);
        self.i = end;
        Token { kind, span: start..end }
    }

    /// A name: a letter or `_`, then letters, digits and `_`. A `-` between
    /// two words is taken into the name (`daily-goal`), which no name has:
    /// the loader then reports one unknown name and suggests `daily_goal`,
    /// where the `-` alone would read as a broken number.
    fn identifier(&mut self) -> Token {
        let bytes = self.source.as_bytes();
        let start = self.i;
        let word = |b: u8| b == b'_' || b.is_ascii_alphanumeric();
        while self.i < bytes.len()
            && (word(bytes[self.i])
                || bytes[self.i] == b'-'
                    && bytes.get(self.i + 1).is_some_and(|&b| b == b'_' || b.is_ascii_alphabetic()))
        {
            self.i += 1;
        }
        Token { kind: Tok::Ident(self.source[start..self.i].to_string()), span: start..self.i }
    }

    /// A character no token starts with: one `Bad` token, saying why,
    /// for it and the run of junk after it.
    fn junk(&mut self) -> Token {
        let (source, bytes, start) = (self.source, self.source.as_bytes(), self.i);
        let c = bytes[start];
        let ch = source[start..].chars().next().unwrap_or('\u{fffd}');
        let len = ch.len_utf8();
        let why = if c == b'\'' {
            "text goes between double quotes (\"like this\"), not single quotes".to_string()
        } else {
            format!("unexpected character {}", describe_char(ch))
        };
        self.i += len;
        // Skip the rest of a run of junk so binary input yields one
        // diagnostic per run, not one per byte.
        while self.i < bytes.len() && !is_token_start(bytes[self.i]) {
            self.i += 1;
        }
        while self.i < bytes.len() && !source.is_char_boundary(self.i) {
            self.i += 1;
        }
        Token { kind: Tok::Bad(why, None), span: start..start + len }
    }
}

fn is_token_start(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b" \t\r\n()[]{},:\"/-+._".contains(&b)
}

fn describe_char(ch: char) -> String {
    if ch.is_control() || ch == '\u{fffd}' { format!("U+{:04X}", ch as u32) } else { format!("'{ch}'") }
}

const NEVER_CLOSED: &str = "this string is never closed with \"";

fn lex_string(source: &str, start: usize) -> (Tok, usize) {
    let mut out = String::new();
    match unescape(source, start, |c, _| out.push(c)) {
        Ok(end) => (Tok::Str(out), end),
        Err((why, end)) if why == NEVER_CLOSED => {
            let help = "add the closing \" where the text ends".to_string();
            (Tok::Bad(why, Some(help)), end)
        }
        Err((why, end)) => (Tok::Bad(why, None), end),
    }
}

/// A string read on the guess that it ends with its line (see `syntax::parse`):
/// one that is not closed there is taken to end before the brackets and
/// commas that end the line, so `Say("Hello),` reads as `Say("Hello"),`
/// with one error at its opening quote, and the lines after it read as
/// they were meant.
fn lex_line_string(source: &str, start: usize) -> (Tok, usize) {
    let (tok, end) = lex_string(source, start);
    let line_end = source[start..].find('\n').map_or(source.len(), |i| start + i);
    let unclosed = end > line_end || matches!(&tok, Tok::Bad(why, _) if why == NEVER_CLOSED);
    if !unclosed {
        return (tok, end);
    }
    let line = &source[start + 1..line_end];
    let line = line.split(" //").next().unwrap_or(line);
    let text = line.trim_end_matches(|c: char| c.is_whitespace() || ",)]}".contains(c));
    let help = format!("end the text with a double quote on its line: \"{text}\"");
    (Tok::Bad(NEVER_CLOSED.into(), Some(help)), start + 1 + text.len())
}

/// Decodes the string literal that starts with the `"` at `start`, giving
/// each character and the offset of its first source byte to `emit`.
/// Returns the offset just past the closing quote, or why the literal is
/// bad and where reading resumes.
pub(super) fn unescape(
    source: &str,
    start: usize,
    mut emit: impl FnMut(char, usize),
) -> Result<usize, (String, usize)> {
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
    Err((NEVER_CLOSED.into(), source.len()))
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
        return (Tok::Bad("a raw string starts r\" or r#\"".into(), None), i);
    }
    let body_start = i + 1;
    let closing: String = std::iter::once('"').chain(std::iter::repeat_n('#', hashes)).collect();
    match source[body_start..].find(&closing) {
        Some(off) => (Tok::Str(source[body_start..body_start + off].to_string()), body_start + off + closing.len()),
        None => (Tok::Bad("this raw string is never closed".into(), None), source.len()),
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
            (Tok::Bad(format!("durations are written in quotes: \"{}\"", &source[start..i]), None), i)
        }
        _ => (Tok::Bad(format!("`{}` is not a number", &source[start..i]), None), i),
    }
}

fn looks_like_duration(text: &str) -> bool {
    text.starts_with(|c: char| c.is_ascii_digit())
        && (crate::script::duration::parse(text).is_ok() || text.ends_with(['s', 'm', 'h']))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every token of `source` as `kind@span`, up to and with the first `Eof`.
    #[track_caller]
    fn check_tokens(source: &str, expect: &str) {
        let mut lexer = Lexer::new(source, false);
        let mut got = Vec::new();
        loop {
            let Token { kind, span } = lexer.next_token();
            got.push(format!("{kind:?}@{}..{}", span.start, span.end));
            if kind == Tok::Eof {
                break;
            }
        }
        assert_eq!(got.join(" "), expect);
    }

    #[test]
    fn tokens_of_each_family() {
        check_tokens("", "Eof@0..0");
        check_tokens("  \n", "Eof@3..3");
        check_tokens("Say(\"hi\")", "Ident(\"Say\")@0..3 Open('(')@3..4 Str(\"hi\")@4..8 Close(')')@8..9 Eof@9..9");
        check_tokens("x:y", "Ident(\"x\")@0..1 Colon@1..2 Ident(\"y\")@2..3 Eof@3..3");
        check_tokens(
            "// c\n[1, -2.5]",
            "Open('[')@5..6 Int(1)@6..7 Comma@7..8 Float(-2.5)@9..13 Close(']')@13..14 Eof@14..14",
        );
        check_tokens("a /* x /* y */ z */ 1", "Ident(\"a\")@0..1 Int(1)@20..21 Eof@21..21");
        check_tokens("a /* x", "Ident(\"a\")@0..1 Bad(\"this comment is never closed with */\", None)@2..4 Eof@6..6");
        check_tokens("r#\"a\"b\"# r\"c\"", "Str(\"a\\\"b\")@0..8 Str(\"c\")@9..13 Eof@13..13");
        check_tokens("\"\\u{263A}\"", "Str(\"☺\")@0..10 Eof@10..10");
        check_tokens("30s", "Bad(\"durations are written in quotes: \\\"30s\\\"\", None)@0..3 Eof@3..3");
        check_tokens("# note\nx", "Ident(\"x\")@7..8 Eof@8..8");
        check_tokens("é\u{1}é:", "Bad(\"unexpected character 'é'\", None)@0..2 Colon@5..6 Eof@6..6");
        check_tokens("/ x", "Bad(\"unexpected character '/'\", None)@0..1 Ident(\"x\")@2..3 Eof@3..3");
    }

    #[test]
    fn a_dash_between_words_is_part_of_a_name() {
        check_tokens("daily-goal: 1", "Ident(\"daily-goal\")@0..10 Colon@10..11 Int(1)@12..13 Eof@13..13");
        check_tokens("a-1", "Ident(\"a\")@0..1 Int(-1)@1..3 Eof@3..3");
    }
}
