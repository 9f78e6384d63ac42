//! Durations as people write and hear them: `"1m30s"` in a script, "1 minute
//! 30 seconds" in a cue, `01:30` on screen.
//!
//! Parsing is strict — a duration is one or more `<number><unit>` pairs with
//! units h, m, s or ms, largest first — so a typo is reported, not guessed.

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

const UNITS: [(&str, u64); 4] = [("h", 3_600_000), ("m", 60_000), ("s", 1_000), ("ms", 1)];

/// Parses `"30s"`, `"1m30s"`, `"500ms"`, `"2m"`, `"1h"`, `"1.5s"`.
pub fn parse(text: &str) -> Result<Duration, ParseError> {
    let t = text.trim();
    if t.is_empty() {
        return Err(ParseError("empty duration; write it like \"30s\" or \"1m30s\"".into()));
    }
    if let Some(written) = clock_form(t) {
        return Err(ParseError(format!("\"{text}\" is not a duration; write \"{written}\"")));
    }
    let mut rest = t;
    let mut total_ms: u128 = 0;
    let mut last_rank = None;
    while !rest.is_empty() {
        let num_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let (num, after) = rest.split_at(num_len);
        if num.is_empty() {
            return Err(bad(text));
        }
        let after = after.trim_start();
        let unit_len = after.find(|c: char| !c.is_ascii_alphabetic()).unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        // "1m 30s" reads naturally too.
        let after = after.trim_start();
        let Some(rank) = UNITS.iter().position(|(u, _)| *u == unit) else {
            return Err(if unit.is_empty() {
                ParseError(format!("\"{text}\" has no unit; write \"{num}s\" for seconds"))
            } else {
                ParseError(format!("unknown unit \"{unit}\" in \"{text}\"; use h, m, s or ms"))
            });
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
        rest = after;
    }
    Ok(Duration::from_millis(total_ms.min(u64::MAX as u128) as u64))
}

/// `"1:30"` or `"1:02:05"`, a clock's way of writing a duration, in
/// backease's: `"1m30s"`, `"1h2m5s"`.
fn clock_form(text: &str) -> Option<String> {
    let parts: Vec<&str> = text.split(':').collect();
    let digits = |p: &&str| !p.is_empty() && p.len() <= 6 && p.bytes().all(|b| b.is_ascii_digit());
    if !(2..=3).contains(&parts.len()) || !parts.iter().all(digits) {
        return None;
    }
    let values: Vec<u64> = parts.iter().map(|p| p.parse().unwrap_or(0)).collect();
    let units = &["h", "m", "s"][3 - values.len()..];
    let written: String = values.iter().zip(units).filter(|(v, _)| **v > 0).map(|(v, u)| format!("{v}{u}")).collect();
    Some(if written.is_empty() { "0s".into() } else { written })
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
        check("30s", Ok(30_000));
        check("1m30s", Ok(90_000));
        check("500ms", Ok(500));
        check("2m", Ok(120_000));
        check("1h", Ok(3_600_000));
        check("1.5s", Ok(1_500));
        check(" 45s ", Ok(45_000));
        check("1m500ms", Ok(60_500));
        check("1m 30s", Ok(90_000));
        check("45 s", Ok(45_000));
    }

    #[test]
    fn rejects_with_a_reason() {
        check("30", Err("\"30\" has no unit; write \"30s\" for seconds"));
        check("30x", Err("unknown unit \"x\" in \"30x\"; use h, m, s or ms"));
        check("30s1m", Err("\"30s1m\": write the larger units first, each once, like \"1m30s\""));
        check("", Err("empty duration; write it like \"30s\" or \"1m30s\""));
        check("s", Err("\"s\" is not a duration; write it like \"30s\", \"1m30s\" or \"500ms\""));
        check("1..5s", Err("\"1..5s\" is not a duration; write it like \"30s\", \"1m30s\" or \"500ms\""));
        check("99999999999999999h", Err("\"99999999999999999h\" is far too long"));
        check("1:30", Err("\"1:30\" is not a duration; write \"1m30s\""));
        check("0:45", Err("\"0:45\" is not a duration; write \"45s\""));
        check("1:02:05", Err("\"1:02:05\" is not a duration; write \"1h2m5s\""));
        check("2:00", Err("\"2:00\" is not a duration; write \"2m\""));
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
