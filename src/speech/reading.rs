//! A cue's text as a person would read it out: the numbers, units and
//! abbreviations a routine writes for the eye ("3x", "30s", "T12–L1",
//! "5 cm", "Dr.") spelled as they are said ("3 times", "30 seconds",
//! "T12 to L1", "5 centimetres", "Doctor"), before any engine sees them.
//!
//! Every engine gets the same words: espeak-ng (and Piper, which reads
//! through espeak-ng's phonemes) says "3x" as "three ex" and "30s" as
//! "thirty z", and hibari the same. Numbers themselves are left as digits,
//! which every engine reads well. A pure function of the text: no engine,
//! no I/O. It does not guess at what is ambiguous ("5 m" may be metres or
//! minutes, and stays as written).

use std::borrow::Cow;

/// Bumped whenever [`as_spoken`] reads any text differently: cached cues
/// are keyed by it, so a cue is never played as the old reading made it.
pub const VERSION: u32 = 1;

/// Units written after a number: (as written, singular, plural).
const UNITS: &[(&str, &str, &str)] = &[
    ("s", "second", "seconds"),
    ("sec", "second", "seconds"),
    ("secs", "second", "seconds"),
    ("ms", "millisecond", "milliseconds"),
    ("min", "minute", "minutes"),
    ("mins", "minute", "minutes"),
    ("h", "hour", "hours"),
    ("hr", "hour", "hours"),
    ("hrs", "hour", "hours"),
    ("cm", "centimetre", "centimetres"),
    ("mm", "millimetre", "millimetres"),
    ("kg", "kilogram", "kilograms"),
    ("lb", "pound", "pounds"),
    ("lbs", "pound", "pounds"),
];

/// Abbreviations and what is said for them (matched with their periods).
const ABBREVIATIONS: &[(&str, &str)] = &[
    ("Dr.", "Doctor"),
    ("e.g.", "for example"),
    ("i.e.", "that is"),
    ("vs.", "versus"),
    ("approx.", "approximately"),
    ("etc.", "et cetera"),
];

/// The text as it is to be said; borrowed when nothing changes.
pub fn as_spoken(text: &str) -> Cow<'_, str> {
    let words: Vec<&str> = text.split_inclusive(char::is_whitespace).collect();
    let mut out = String::with_capacity(text.len() + 16);
    let mut i = 0;
    while i < words.len() {
        let (word, space) = split_space(words[i]);
        let next = words.get(i + 1).map(|w| split_space(w));
        let last = i + 1 == words.len();
        match read_word(word, next.map(|n| n.0), last) {
            Read::Same => out.push_str(word),
            Read::One(said) => out.push_str(&said),
            Read::WithNext(said) => {
                out.push_str(&said);
                i += 1;
                out.push_str(next.map_or("", |n| n.1));
                i += 1;
                continue;
            }
        }
        out.push_str(space);
        i += 1;
    }
    if out == text { Cow::Borrowed(text) } else { Cow::Owned(out) }
}

/// A word and the whitespace after it.
fn split_space(word: &str) -> (&str, &str) {
    let end = word.trim_end().len();
    word.split_at(end)
}

enum Read {
    Same,
    One(String),
    /// Said together with the next word (a number and its unit).
    WithNext(String),
}

/// How one word is said, given the word after it; `last` says it ends the
/// text (an abbreviation's period then ends the sentence too).
fn read_word(word: &str, next: Option<&str>, last: bool) -> Read {
    if let Some(&(_, said)) = ABBREVIATIONS.iter().find(|(written, _)| *written == word) {
        return Read::One(if last { format!("{said}.") } else { said.to_string() });
    }
    let (lead, core, trail) = split_punctuation(word);
    if let Some(said) = range(core).or_else(|| times(core)).or_else(|| number_with_unit(core)) {
        return Read::One(format!("{lead}{said}{trail}"));
    }
    // A number, then its unit as a word of its own: "5 cm", "2 min."
    if trail.is_empty()
        && is_number(core)
        && let Some(next) = next
    {
        let (before, unit, after) = split_punctuation(next);
        if before.is_empty()
            && let Some(said) = unit_word(core, unit)
        {
            return Read::WithNext(format!("{lead}{core} {said}{after}"));
        }
    }
    Read::Same
}

/// Opening punctuation, the word, closing punctuation: `("(", "3x", "),")`.
fn split_punctuation(word: &str) -> (&str, &str, &str) {
    let is_mark = |c: char| !c.is_alphanumeric();
    let start = word.len() - word.trim_start_matches(is_mark).len();
    let end = word.trim_end_matches(is_mark).len().max(start);
    (&word[..start], &word[start..end], &word[end..])
}

fn is_number(s: &str) -> bool {
    let mut parts = s.splitn(2, '.');
    let whole = parts.next().unwrap_or("");
    let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    digits(whole) && parts.next().is_none_or(digits)
}

/// "3x" as "3 times" (and "1x", "2x" as "once", "twice").
fn times(core: &str) -> Option<String> {
    let n = core.strip_suffix(['x', '×'])?;
    if !n.bytes().all(|b| b.is_ascii_digit()) || n.is_empty() {
        return None;
    }
    Some(match n {
        "1" => "once".into(),
        "2" => "twice".into(),
        _ => format!("{n} times"),
    })
}

/// "30s", "1.5min" as "30 seconds", "1.5 minutes".
fn number_with_unit(core: &str) -> Option<String> {
    let split = core.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (number, unit) = core.split_at(split);
    Some(format!("{number} {}", unit_word(number, unit)?))
}

/// A unit's word after `number`: singular after exactly 1.
fn unit_word(number: &str, unit: &str) -> Option<&'static str> {
    if !is_number(number) {
        return None;
    }
    let &(_, one, many) = UNITS.iter().find(|(written, _, _)| *written == unit)?;
    Some(if number == "1" { one } else { many })
}

/// "T12–L1", "3-5" as "T12 to L1", "3 to 5": two numbers, each with an
/// optional capital letter before it (a vertebra), joined by a dash.
fn range(core: &str) -> Option<String> {
    let (from, to) = core.split_once(['–', '—', '-'])?;
    let numbered = |s: &str| {
        let digits = s.strip_prefix(|c: char| c.is_ascii_uppercase()).unwrap_or(s);
        !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
    };
    (numbered(from) && numbered(to)).then(|| format!("{from} to {to}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(written: &str, said: &str) {
        assert_eq!(as_spoken(written), said, "{written:?}");
    }

    #[test]
    fn numbers_units_and_abbreviations_are_read_as_said() {
        let table = [
            ("Do this 3x.", "Do this 3 times."),
            ("Roll 1x, then 2x more.", "Roll once, then twice more."),
            ("Hold for 30s.", "Hold for 30 seconds."),
            ("Hold 1s, then 1.5s.", "Hold 1 second, then 1.5 seconds."),
            ("From T12–L1 up.", "From T12 to L1 up."),
            ("From C7-T1 and 3–5 times", "From C7 to T1 and 3 to 5 times"),
            ("Move 5 cm higher.", "Move 5 centimetres higher."),
            ("Rest 2 min.", "Rest 2 minutes."),
            ("Rest 1 min, then 90 sec", "Rest 1 minute, then 90 seconds"),
            ("About 10mm (2 lbs).", "About 10 millimetres (2 pounds)."),
            ("Ask Dr. Travell.", "Ask Doctor Travell."),
            ("Use a ball, e.g. a tennis ball", "Use a ball, for example a tennis ball"),
            ("Balls, blocks, etc.", "Balls, blocks, et cetera."),
            ("(3x)", "(3 times)"),
        ];
        for (written, said) in table {
            check(written, said);
        }
    }

    #[test]
    fn what_is_not_a_number_and_unit_is_left_alone() {
        let table = [
            "Lean in gently.",
            "Breathe out slowly through the mouth.",
            "Switch sides. Now the right.",
            // Ambiguous, or words that only look like units.
            "Roll 5 m along.",
            "Take 3 slow breaths.",
            "The x axis, 3 s-curves.",
            "A well-known spot",
            "2x3 grid",
            "",
        ];
        for text in table {
            assert!(matches!(as_spoken(text), Cow::Borrowed(_)), "{text:?} changed to {:?}", as_spoken(text));
        }
    }

    #[test]
    fn whitespace_is_kept_as_it_was() {
        check("Hold  30s\nthen\t3x ", "Hold  30 seconds\nthen\t3 times ");
        check("Rest 2\nmin", "Rest 2 minutes");
    }
}
