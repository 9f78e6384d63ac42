//! Durations as people write and hear them: `"1m30s"` in a script, "1 minute
//! 30 seconds" in a cue, `01:30` on screen.
//!
//! One parser reads every duration backease is given — in a script, the
//! settings file, `--hold`, `--rest`, `remind --every` — in the spellings of
//! the humantime crate's grammar: one or more `<number><unit>` pairs, spaces
//! allowed between and within them (`"45s"`, `"45 sec"`, `"1m 30s"`,
//! `"1h30m"`, `"1.5m"`). Each unit has its long and short names (see
//! [`UNITS`]); larger units come first, each once, so `"30s1m"` is reported
//! as the typo it most likely is, not added up. A clock's `"1:30"` is
//! refused with the two things it may mean, since it says minutes and
//! seconds on a timer but hours and minutes on a clock.

use std::time::Duration;

/// Why a duration string was not understood, said for a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError(pub String);

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ParseError {}

/// The units, largest first: their names (the first is the short one) and
/// their length in milliseconds.
const UNITS: [(&[&str], u64); 4] = [
    (&["h", "hr", "hrs", "hour", "hours"], 3_600_000),
    (&["m", "min", "mins", "minute", "minutes"], 60_000),
    (&["s", "sec", "secs", "second", "seconds"], 1_000),
    (&["ms", "msec", "msecs", "millisecond", "milliseconds"], 1),
];

/// Parses `"30s"`, `"1m30s"`, `"1m 30s"`, `"2 min"`, `"45sec"`, `"1h30m"`,
/// `"500ms"`, `"1.5s"`.
pub fn parse(text: &str) -> Result<Duration, ParseError> {
    let t = text.trim();
    if t.is_empty() {
        return Err(ParseError("empty duration; write it like \"30s\" or \"1m30s\"".into()));
    }
    if let Some(message) = clock_form(t) {
        return Err(ParseError(message));
    }
    let mut rest = t;
    let mut total_ms: u128 = 0;
    let mut last_rank: Option<usize> = None;
    while !rest.is_empty() {
        let num_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let (num, after) = rest.split_at(num_len);
        if num.is_empty() {
            return Err(bad(text));
        }
        let after = after.trim_start();
        let unit_len = after.find(|c: char| !c.is_ascii_alphabetic()).unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        let rank = match (unit, last_rank) {
            ("", None) => return Err(ParseError(format!("\"{text}\" has no unit; write \"{num}s\" for seconds"))),
            // "1m30": the number after the last unit has none of its own.
            ("", Some(last)) => {
                let next = UNITS[(last + 1).min(UNITS.len() - 1)].0[0];
                return Err(ParseError(format!("\"{text}\" ends without a unit; write \"{t}{next}\"")));
            }
            _ => unit_rank(unit).ok_or_else(|| {
                ParseError(format!("unknown unit \"{unit}\" in \"{text}\"; use h, m, s or ms (or hours, min, sec…)"))
            })?,
        };
        if last_rank.is_some_and(|r| r >= rank) {
            return Err(ParseError(format!("\"{text}\": write the larger units first, each once, like \"1m30s\"")));
        }
        last_rank = Some(rank);
        let value: f64 = num.parse().map_err(|_| bad(text))?;
        let ms = value * UNITS[rank].1 as f64;
        if !ms.is_finite() || ms > 1e15 {
            return Err(ParseError(format!("\"{text}\" is far too long")));
        }
        total_ms += ms.round() as u128;
        // "1m 30s" reads naturally too.
        rest = after.trim_start();
    }
    Ok(Duration::from_millis(total_ms.min(u64::MAX as u128) as u64))
}

/// Which of [`UNITS`] a unit's name (in any case) is.
fn unit_rank(unit: &str) -> Option<usize> {
    let unit = unit.to_ascii_lowercase();
    UNITS.iter().position(|(names, _)| names.contains(&unit.as_str()))
}

/// `"1:30"` or `"1:02:05"`, a clock's way of writing a duration: why it is
/// refused, and backease's way of writing what it may mean.
fn clock_form(text: &str) -> Option<String> {
    let parts: Vec<&str> = text.split(':').collect();
    let digits = |p: &&str| !p.is_empty() && p.len() <= 6 && p.bytes().all(|b| b.is_ascii_digit());
    if !(2..=3).contains(&parts.len()) || !parts.iter().all(digits) {
        return None;
    }
    let values: Vec<u64> = parts.iter().map(|p| p.parse().unwrap_or(0)).collect();
    let written = |units: &[&str]| {
        let w: String = values.iter().zip(units).filter(|(v, _)| **v > 0).map(|(v, u)| format!("{v}{u}")).collect();
        if w.is_empty() { "0s".to_string() } else { w }
    };
    Some(if values.len() == 3 {
        format!("\"{text}\" is a clock's way of writing it; write \"{}\"", written(&["h", "m", "s"]))
    } else {
        let (ms, hm) = (written(&["m", "s"]), written(&["h", "m"]));
        format!(
            "\"{text}\" is a clock's way of writing it; write \"{ms}\" for minutes and seconds (or \"{hm}\" for hours and minutes)"
        )
    })
}

fn bad(text: &str) -> ParseError {
    ParseError(format!("\"{text}\" is not a duration; write it like \"30s\", \"1m30s\" or \"500ms\""))
}

/// The words a voice says for a duration: "45 seconds", "1 minute",
/// "1 minute 30 seconds", "half a second".
pub fn spoken(d: Duration) -> String {
    let total_ms = d.as_millis();
    if total_ms < 1000 {
        return if total_ms == 500 { "half a second".into() } else { format!("{total_ms} milliseconds") };
    }
    let secs = (total_ms + 500) / 1000;
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    let mut parts = Vec::new();
    for (n, unit) in [(h, "hour"), (m, "minute"), (s, "second")] {
        if n > 0 {
            parts.push(format!("{n} {unit}{}", if n == 1 { "" } else { "s" }));
        }
    }
    parts.join(" ")
}

/// A clock for the screen: `mm:ss`, or `h:mm:ss` past an hour.
pub fn clock(d: Duration) -> String {
    let secs = d.as_secs();
    if secs >= 3600 {
        format!("{}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
    } else {
        format!("{:02}:{:02}", secs / 60, secs % 60)
    }
}

/// A compact form for listings: `45s`, `1m30s`, `500ms`.
pub fn short(d: Duration) -> String {
    let ms = d.as_millis();
    if !ms.is_multiple_of(1000) && ms < 10_000 {
        return if ms < 1000 { format!("{ms}ms") } else { format!("{:.1}s", ms as f64 / 1000.0) };
    }
    let secs = (ms + 500) / 1000;
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    let mut out = String::new();
    if h > 0 {
        out += &format!("{h}h");
    }
    if m > 0 {
        out += &format!("{m}m");
    }
    if s > 0 || out.is_empty() {
        out += &format!("{s}s");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(text: &str, expect: Result<u64, &str>) {
        assert_eq!(parse(text).map(|d| d.as_millis() as u64).map_err(|e| e.0), expect.map_err(str::to_string));
    }

    #[test]
    fn parses_what_people_write() {
        for (text, ms) in [
            ("30s", 30_000),
            ("1m30s", 90_000),
            ("500ms", 500),
            ("2m", 120_000),
            ("1h", 3_600_000),
            ("1.5s", 1_500),
            ("1.5m", 90_000),
            (" 45s ", 45_000),
            ("1m500ms", 60_500),
            ("1m 30s", 90_000),
            ("45 s", 45_000),
            ("45sec", 45_000),
            ("45 secs", 45_000),
            ("1 second", 1_000),
            ("90 seconds", 90_000),
            ("2min", 120_000),
            ("1 min", 60_000),
            ("2 mins", 120_000),
            ("1 minute 30 seconds", 90_000),
            ("1min 30sec", 90_000),
            ("1h30m", 5_400_000),
            ("1 hr 30 min", 5_400_000),
            ("2hrs", 7_200_000),
            ("1 hour", 3_600_000),
            ("2 hours", 7_200_000),
            ("250 msec", 250),
            ("90S", 90_000),
            ("2 Min", 120_000),
        ] {
            check(text, Ok(ms));
        }
    }

    #[test]
    fn rejects_with_a_reason() {
        for (text, why) in [
            ("30", "\"30\" has no unit; write \"30s\" for seconds"),
            ("1m30", "\"1m30\" ends without a unit; write \"1m30s\""),
            ("1 min 30", "\"1 min 30\" ends without a unit; write \"1 min 30s\""),
            ("1h30", "\"1h30\" ends without a unit; write \"1h30m\""),
            ("1s500", "\"1s500\" ends without a unit; write \"1s500ms\""),
            ("30x", "unknown unit \"x\" in \"30x\"; use h, m, s or ms (or hours, min, sec…)"),
            ("30 secconds", "unknown unit \"secconds\" in \"30 secconds\"; use h, m, s or ms (or hours, min, sec…)"),
            ("30s1m", "\"30s1m\": write the larger units first, each once, like \"1m30s\""),
            ("1m 1m", "\"1m 1m\": write the larger units first, each once, like \"1m30s\""),
            ("", "empty duration; write it like \"30s\" or \"1m30s\""),
            ("s", "\"s\" is not a duration; write it like \"30s\", \"1m30s\" or \"500ms\""),
            ("-5s", "\"-5s\" is not a duration; write it like \"30s\", \"1m30s\" or \"500ms\""),
            ("1..5s", "\"1..5s\" is not a duration; write it like \"30s\", \"1m30s\" or \"500ms\""),
            ("99999999999999999h", "\"99999999999999999h\" is far too long"),
            (
                "1:30",
                "\"1:30\" is a clock's way of writing it; write \"1m30s\" for minutes and seconds (or \"1h30m\" for hours and minutes)",
            ),
            (
                "0:45",
                "\"0:45\" is a clock's way of writing it; write \"45s\" for minutes and seconds (or \"45m\" for hours and minutes)",
            ),
            ("1:02:05", "\"1:02:05\" is a clock's way of writing it; write \"1h2m5s\""),
            (
                "2:00",
                "\"2:00\" is a clock's way of writing it; write \"2m\" for minutes and seconds (or \"2h\" for hours and minutes)",
            ),
        ] {
            check(text, Err(why));
        }
    }

    #[test]
    fn speaks_durations_as_words() {
        let s = |ms| spoken(Duration::from_millis(ms));
        assert_eq!(s(45_000), "45 seconds");
        assert_eq!(s(60_000), "1 minute");
        assert_eq!(s(90_000), "1 minute 30 seconds");
        assert_eq!(s(1_000), "1 second");
        assert_eq!(s(500), "half a second");
        assert_eq!(s(7_200_000), "2 hours");
    }

    #[test]
    fn formats_for_screens() {
        assert_eq!(clock(Duration::from_secs(75)), "01:15");
        assert_eq!(clock(Duration::from_secs(3_725)), "1:02:05");
        assert_eq!(short(Duration::from_secs(90)), "1m30s");
        assert_eq!(short(Duration::from_millis(500)), "500ms");
        assert_eq!(short(Duration::from_millis(2_500)), "2.5s");
    }
}
