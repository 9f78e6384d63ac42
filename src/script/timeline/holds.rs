//! What sounds over a hold: its countdown, its `At` cues, its halfway cue
//! and the time left in a long one, each placed only where it meets no
//! other (a cue that does not fit is left out, with a warning when the
//! script asked for it).

use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use super::words::time_left;
use super::{Builder, Pass, Sound, samples, to_duration};
use crate::script::diagnostic::Diagnostic;
use crate::script::{Hold, HoldCue, Text, Vars, duration};

/// A hold this long or shorter says no time left: the advised 30 s to a
/// minute and a little more pass quickly, and its halfway cue is enough.
const QUIET_HOLD: Duration = Duration::from_secs(120);

/// What a halfway cue that does not fit at the middle of a hold says
/// instead.
pub const SHORT_HALFWAY: &str = "Halfway.";

/// A time within a hold, `m:ss.s`, for warnings.
pub(super) fn clock_ms(samples: u64) -> String {
    let ms = to_duration(samples).as_millis();
    format!("{}:{:02}.{}", ms / 60_000, ms / 1000 % 60, ms / 100 % 10)
}

/// Cue text for a message: cut in the middle when long.
pub(super) fn short_text(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() <= 40 {
        return text.to_string();
    }
    let head: String = chars[..24].iter().collect();
    let tail: String = chars[chars.len() - 12..].iter().collect();
    format!("{head}…{tail}")
}

/// A cue placed in a hold: from when to when (within the hold) it sounds,
/// what it says, and where it is written.
struct Placed {
    at: u64,
    end: u64,
    text: Arc<str>,
    source: Range<usize>,
}

/// Why a cue from `at` to `end` cannot sound in a hold `len` long beside
/// the cues `placed`, if it cannot.
fn clash(placed: &[Placed], at: u64, end: u64, len: u64) -> Option<String> {
    let over = placed.iter().filter(|p| at < p.end && p.at < end).min_by_key(|p| p.at);
    match over {
        Some(p) => {
            Some(format!("sound over “{}”, spoken from {} to {}", short_text(&p.text), clock_ms(p.at), clock_ms(p.end)))
        }
        None if end > len => Some(format!("still be speaking when the hold ends at {}", clock_ms(len))),
        None => None,
    }
}

impl Builder<'_> {
    /// Lays a hold's cues over its silence so that no two ever sound at
    /// once, and none sounds past the hold's end. The countdown comes
    /// first: its numbers keep their seconds. Then the `At` cues, in time
    /// order; one that would still be speaking when a placed cue starts
    /// (or the hold ends) is left out, with a warning naming it. Last the
    /// halfway cue: if its text does not fit at the middle, the short
    /// [`SHORT_HALFWAY`] is said instead, and if even that does not fit,
    /// nothing — by design, so without a warning. Returns its length.
    pub(super) fn hold(&mut self, hold: &Hold, span: Range<usize>, vars: Vars) -> u64 {
        let length = hold.length.unwrap_or(self.hold);
        let len = samples(length);
        let start = self.cursor;
        self.push(len, Sound::Hold, span.clone(), vars.round, vars.side, Pass::Build);
        let first_overlay = self.events.len();
        let mut placed: Vec<Placed> = Vec::new();
        // A `--hold` shorter than the countdown keeps only the numbers that fit.
        for k in (1..=hold.countdown).rev().filter(|&k| Duration::from_secs(k.into()) < length) {
            let at = len - samples(Duration::from_secs(k.into()));
            let (text, talk) = self.speech(k.to_string());
            placed.push(Placed { at, end: at + talk, text, source: span.clone() });
        }
        for cue in &hold.cues {
            if let Some(p) = self.place_cue(cue, length, &placed, &vars) {
                placed.push(p);
            }
        }
        if let Some(text) = &hold.halfway
            && let Some(p) = self.place_halfway(text, len, &placed, span.clone(), &vars)
        {
            placed.push(p);
        }
        self.place_reminders(len, &mut placed, span);
        placed.sort_by_key(|p| p.at);
        for p in placed {
            self.overlay(start + p.at, p.end - p.at, Sound::Speech(p.text), p.source, vars);
        }
        self.events[first_overlay..].sort_by_key(|e| e.start);
        len
    }

    /// An `At` cue of a hold `length` long, placed if it fits beside
    /// `placed`, else left out with a warning.
    fn place_cue(&mut self, cue: &HoldCue, length: Duration, placed: &[Placed], vars: &Vars) -> Option<Placed> {
        let (text, talk) = self.say(&cue.text, vars);
        if cue.at >= length {
            let message = format!(
                "left out: the cue “{}” at {} is past the end of the hold ({})",
                short_text(&text),
                duration::short(cue.at),
                duration::spoken(length)
            );
            self.warn(Diagnostic::warning(cue.span.clone(), message).with_help("a shorter --hold leaves it out"));
            self.leave_out(text);
            return None;
        }
        let at = samples(cue.at);
        let end = at + talk;
        if let Some(what) = clash(placed, at, end, samples(length)) {
            let message = format!(
                "left out: the cue “{}” at {} of the hold takes about {} and would {what}",
                short_text(&text),
                duration::short(cue.at),
                duration::short(to_duration(talk)),
            );
            let help = "space the cues further apart, shorten the text, or lengthen the hold";
            self.warn(Diagnostic::warning(cue.span.clone(), message).with_help(help));
            self.leave_out(text);
            return None;
        }
        Some(Placed { at, end, text, source: cue.span.clone() })
    }

    /// The reminders of a long hold `len` long: the time left, said every
    /// [`Builder::reminder`] counted back from its end ("4 minutes left."),
    /// none in its first stretch. Placed last, each only where it fits
    /// beside the hold's own cues (the halfway cue wins): a reassurance, so
    /// one that does not fit is left out without a warning. The 12-hour
    /// limit bounds them: at most one every 30 s of a session. A hold of
    /// [`QUIET_HOLD`] or less has none.
    fn place_reminders(&mut self, len: u64, placed: &mut Vec<Placed>, source: Range<usize>) {
        let every = samples(self.reminder);
        if every == 0 || len <= samples(QUIET_HOLD) {
            return;
        }
        let mut left = every;
        while left.saturating_add(every) <= len {
            let at = len - left;
            let (text, talk) = self.speech(time_left(to_duration(left).as_secs()));
            // A cue not made yet has no length: it still may not start
            // where another is spoken (the halfway cue, at a whole minute).
            if clash(placed, at, at + talk.max(1), len).is_none() {
                placed.push(Placed { at, end: at + talk, text, source: source.clone() });
            } else {
                // Real lengths may decide again: its speech is made all the same.
                self.leave_out(text);
            }
            left += every;
        }
    }

    /// The halfway cue of a hold `len` long: its text if it fits at the
    /// middle, else [`SHORT_HALFWAY`], else nothing.
    fn place_halfway(
        &mut self,
        text: &Text,
        len: u64,
        placed: &[Placed],
        source: Range<usize>,
        vars: &Vars,
    ) -> Option<Placed> {
        let at = len / 2;
        let full = self.say(text, vars);
        let short = self.speech(SHORT_HALFWAY.to_string());
        let said = [&full, &short].into_iter().find(|(_, talk)| clash(placed, at, at + talk, len).is_none()).cloned();
        // Every candidate is spoken somewhere in the clips, so real
        // lengths can decide again once speech exists.
        for (t, _) in [full, short] {
            if said.as_ref().is_none_or(|(s, _)| !Arc::ptr_eq(s, &t)) {
                self.leave_out(t);
            }
        }
        said.map(|(text, talk)| Placed { at, end: at + talk, text, source })
    }
}
