//! A timeline written out for people (`show`) and for programs (`show --json`).
//!
//! Pure formatting: it takes a finished [`Timeline`] and returns text. Text
//! from the script (titles, cues, file names) has its control characters
//! escaped in the listing, so it cannot drive the terminal; JSON escapes
//! them its own way.

use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

use crate::script::diagnostic::escape_controls;
use crate::script::duration;
use crate::script::timeline::{Event, SAMPLE_RATE, Sound, Timeline, to_duration};
use crate::script::{Script, Section};

/// One line per event with an `mm:ss` timestamp, then the total. A
/// heading marks where the opening, each round and the closing begin.
/// `looped` says the timeline is one round of an endless session.
pub fn text(script: &Script, timeline: &Timeline, looped: bool) -> String {
    let mut out = String::new();
    let rounds = match timeline.rounds {
        _ if looped => "1 round shown of an endless loop".to_string(),
        1 => "1 round".to_string(),
        n => format!("{n} rounds"),
    };
    let _ = writeln!(out, "{} — {}", escape_controls(&script.name), escape_controls(&script.title));
    let _ = writeln!(out, "{}", escape_controls(&script.summary));
    let hold = holds_shown(timeline);
    let guess = if timeline.estimated { " (estimated: the speech is not made yet)" } else { "" };
    let all = if looped { "with one round" } else { "in all" };
    let _ = writeln!(out, "{hold}{rounds} · {} {all}{guess}\n", timeline.length_shown());
    if looped {
        let _ = writeln!(
            out,
            "--loop: the opening plays once, then the round again and again until you stop;\n\
             Enter finishes the round and plays the closing.\n"
        );
    }
    let mut part = None;
    for e in &timeline.events {
        if part != Some((e.section, e.round)) && !e.overlay {
            part = Some((e.section, e.round));
            let heading = match e.section {
                Section::Round if looped => "round (repeats)".to_string(),
                Section::Round => format!("round {}", e.round),
                other => other.name().to_string(),
            };
            let _ = writeln!(out, "── {heading}");
        }
        let at = duration::clock(to_duration(e.start));
        let (kind, what) = describe(e);
        if e.overlay {
            let _ = writeln!(out, "{at}    · {kind:<6} {what}");
        } else {
            let _ = writeln!(out, "{at}  {kind:<8} {what}");
        }
    }
    let _ = writeln!(out, "{}  end", timeline.length_shown());
    out
}

/// The holds the session plays, for its header: "hold 30s · ", "holds
/// 10s and 2m · ", or nothing when it plays none.
fn holds_shown(timeline: &Timeline) -> String {
    let holds: Vec<String> = timeline.holds().into_iter().map(duration::short).collect();
    match holds.as_slice() {
        [] => String::new(),
        [one] => format!("hold {one} · "),
        [init @ .., last] => format!("holds {} and {last} · ", init.join(", ")),
    }
}

/// What an event is, in two words for a listing: its kind and what it
/// says or plays, with control characters escaped (the live display shows
/// it too).
pub fn describe(e: &Event) -> (&'static str, String) {
    let (kind, what) = describe_raw(e);
    (kind, escape_controls(&what).into_owned())
}

fn describe_raw(e: &Event) -> (&'static str, String) {
    let len = duration::short(to_duration(e.length));
    let side = e.side.map(|s| format!(" ({} side)", s.word())).unwrap_or_default();
    match &e.sound {
        Sound::Speech(words) => ("say", format!("“{words}”")),
        Sound::Chime(c) => ("chime", c.name().to_string()),
        Sound::File(p) => ("sound", p.display().to_string()),
        Sound::Silence => ("pause", len),
        Sound::Hold => ("hold", format!("{len} of silence{side}")),
        Sound::Strokes(n) => ("strokes", format!("{n} over {len}{side}")),
        Sound::Rest => ("rest", format!("{len} before round {}", e.round)),
        Sound::Wait { remind, timeout, .. } => {
            let until = match timeout {
                Some(t) => format!("for a key, at most {}", duration::short(*t)),
                None => format!("for a key (a rendered file waits {len})"),
            };
            let remind = remind.map(|r| format!(", said again every {}", duration::short(r))).unwrap_or_default();
            ("wait", format!("{until}{remind}"))
        }
    }
}

#[derive(Serialize)]
struct JsonTimeline<'a> {
    name: &'a str,
    title: &'a str,
    summary: &'a str,
    /// The routine's hold after `--hold`: what holds without a length of
    /// their own take.
    hold_ms: u128,
    /// The lengths of the holds played, each once, shortest first.
    holds_ms: Vec<u128>,
    rounds: u32,
    /// Set for `--loop`: the timeline is one round, repeated until stopped.
    looped: bool,
    total_ms: u128,
    /// Set when the times are estimated: the speech is not made yet.
    estimated: bool,
    sample_rate: u32,
    total_samples: u64,
    events: Vec<JsonEvent>,
    /// The chapters `render` writes into FLAC, Opus and MP3 files.
    chapters: Vec<JsonChapter>,
}

#[derive(Serialize)]
struct JsonChapter {
    start_ms: u128,
    start_sample: u64,
    end_sample: u64,
    title: String,
}

#[derive(Serialize)]
struct JsonEvent {
    start_ms: u128,
    length_ms: u128,
    start_sample: u64,
    length_samples: u64,
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    chime: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<String>,
    /// A wait's reminder period and timeout.
    #[serde(skip_serializing_if = "Option::is_none")]
    remind_ms: Option<u128>,
    #[serde(skip_serializing_if = "Option::is_none")]
    timeout_ms: Option<u128>,
    overlay: bool,
    /// "opening", "round" or "closing".
    part: &'static str,
    round: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    side: Option<&'static str>,
    /// The trigger point a `Sides` step works.
    #[serde(skip_serializing_if = "Option::is_none")]
    point: Option<String>,
}

pub fn json(script: &Script, timeline: &Timeline, looped: bool) -> String {
    let events = timeline
        .events
        .iter()
        .map(|e| {
            let (kind, text, chime, path) = match &e.sound {
                Sound::Speech(w) => ("say", Some(w.to_string()), None, None),
                Sound::Chime(c) => ("chime", None, Some(c.name()), None),
                Sound::File(p) => ("sound", None, None, Some(p.display().to_string())),
                Sound::Silence => ("pause", None, None, None),
                Sound::Hold => ("hold", None, None, None),
                Sound::Strokes(_) => ("strokes", None, None, None),
                Sound::Rest => ("rest", None, None, None),
                Sound::Wait { text, .. } => ("wait", Some(text.to_string()), None, None),
            };
            let (remind_ms, timeout_ms) = match &e.sound {
                Sound::Wait { remind, timeout, .. } => (remind.map(|d| d.as_millis()), timeout.map(|d| d.as_millis())),
                _ => (None, None),
            };
            JsonEvent {
                start_ms: to_duration(e.start).as_millis(),
                length_ms: to_duration(e.length).as_millis(),
                start_sample: e.start,
                length_samples: e.length,
                kind,
                text,
                chime,
                path,
                remind_ms,
                timeout_ms,
                overlay: e.overlay,
                part: e.section.name(),
                round: e.round,
                side: e.side.map(|s| s.word()),
                point: e.point.as_deref().map(str::to_string),
            }
        })
        .collect();
    let doc = JsonTimeline {
        name: &script.name,
        title: &script.title,
        summary: &script.summary,
        hold_ms: timeline.hold.as_millis(),
        holds_ms: timeline.holds().iter().map(Duration::as_millis).collect(),
        rounds: timeline.rounds,
        looped,
        total_ms: timeline.duration().as_millis(),
        estimated: timeline.estimated,
        sample_rate: SAMPLE_RATE,
        total_samples: timeline.total,
        events,
        chapters: crate::script::chapters::chapters(timeline)
            .into_iter()
            .map(|c| JsonChapter {
                start_ms: to_duration(c.start).as_millis(),
                start_sample: c.start,
                end_sample: c.end,
                title: c.title,
            })
            .collect(),
    };
    serde_json::to_string_pretty(&doc).expect("timeline JSON has only plain fields") + "\n"
}
