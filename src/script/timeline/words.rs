//! The words a session says of itself: the marker between rounds, the
//! time left in a hold, and "where am I" — numbers in words, the same for
//! every engine.

use std::time::Duration;

use super::{Sound, Timeline, to_duration};
use crate::script::{Section, duration};

/// What is said between rounds, before round `round`: its number, or
/// "Last round." when the number of rounds is known and this is the last.
pub fn round_marker(round: u32, rounds: Option<u32>) -> String {
    if rounds == Some(round) {
        return "Last round.".to_string();
    }
    format!("Round {}.", number_words(round))
}

/// "Twenty seconds left.", "4 minutes left.": the time left in a hold,
/// said by "where am I" and by the reminders in a long hold.
pub(super) fn time_left(secs: u64) -> String {
    match secs {
        1 => "One second left.".to_string(),
        2..60 => format!("{} seconds left.", capitalized(&number_words(secs as u32))),
        _ => format!("{} left.", duration::spoken(Duration::from_secs(secs))),
    }
}

/// What the "where am I" control says at `sample` of this timeline: the
/// time left in the hold playing, if one is, then where the session is —
/// "Twenty seconds left. Round two of three." `looped` says the number of
/// rounds is not known.
pub fn where_am_i(t: &Timeline, sample: u64, looped: bool) -> String {
    let mut words = Vec::new();
    let step = t.step_at(sample).map(|i| &t.events[i]);
    if let Some(e) = step.filter(|e| e.sound == Sound::Hold && sample < e.end()) {
        let secs = to_duration(e.end() - sample).as_secs_f64().ceil() as u64;
        words.push(time_left(secs));
    }
    let (section, round) = step.map_or((Section::Opening, 1), |e| (e.section, e.round));
    words.push(match section {
        Section::Opening => "The opening.".to_string(),
        Section::Closing => "The closing.".to_string(),
        Section::Round if looped => format!("Round {}.", number_words(round)),
        Section::Round if t.rounds > 1 => {
            format!("Round {} of {}.", number_words(round), number_words(t.rounds))
        }
        Section::Round => "One round.".to_string(),
    });
    if !looped {
        let left = to_duration(t.total.saturating_sub(sample)).as_secs();
        words.push(match left / 60 {
            0 => "Less than a minute to go.".to_string(),
            1 => "About a minute to go.".to_string(),
            n => format!("About {} minutes to go.", number_words(n as u32)),
        });
    }
    words.join(" ")
}

fn capitalized(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// A number up to a thousand in words: a voice reads "Round two." more
/// evenly than "Round 2.", and every engine reads it the same way.
fn number_words(n: u32) -> String {
    const ONES: [&str; 20] = [
        "zero",
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "eleven",
        "twelve",
        "thirteen",
        "fourteen",
        "fifteen",
        "sixteen",
        "seventeen",
        "eighteen",
        "nineteen",
    ];
    const TENS: [&str; 10] = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"];
    match n {
        0..20 => ONES[n as usize].to_string(),
        20..100 if n.is_multiple_of(10) => TENS[(n / 10) as usize].to_string(),
        20..100 => format!("{}-{}", TENS[(n / 10) as usize], ONES[(n % 10) as usize]),
        100..1000 if n.is_multiple_of(100) => format!("{} hundred", ONES[(n / 100) as usize]),
        100..1000 => format!("{} hundred and {}", ONES[(n / 100) as usize], number_words(n % 100)),
        _ => n.to_string(),
    }
}
