//! The session as one continuous stream of samples, generated as it plays.
//!
//! [`Stream`] walks a timeline and mixes the clips that sound at each
//! sample. It is the only source of session audio: `play` hands it to rodio
//! (it implements [`rodio::Source`]) and `render` writes it to a file, so a
//! render is exactly what the device was sent. Silence is a count of zero
//! samples, never a sleep, so the session runs on the device's clock and
//! cannot drift. Memory holds the distinct clips of one routine, not the
//! session: a two-hour session needs no more than a two-minute one.
//!
//! The stream is steered through a shared [`Control`] (seek, stop, volume,
//! "finish this round") and reports its position there; it never blocks,
//! since it runs on the audio thread. Where the session must wait for
//! something outside it — a live voice speaking, a person at a `Wait` step —
//! it stands still at a gate, giving silence, until the player releases it.
//!
//! It is stereo: the cues of `Sides` are panned to their side as they are
//! mixed (the clips stay mono), everything else plays from the middle.
//!
//! Nothing it sends can hurt: every cut of a sounding clip is faded (a
//! skip over [`SKIP_FADE`], a stop over [`FADE`], a pause over [`RAMP`]),
//! volume changes glide, and its last stage is a look-ahead limiter, so a
//! volume above 1 is louder but never clipped. At volume 1 or below the
//! limiter passes every sample through unchanged.
//!
//! The rule of this layer: it may import `speech/`, `audio/`, `script/`
//! and the root, never `play/`, `day/` or `cli/`. It makes samples and
//! clips; it opens no device.
//!
//! Its files: here the clips and segments a stream plays (and the pan
//! law); `control.rs` the [`Control`] shared with the player; `stream.rs`
//! the [`Stream`]; `prepare.rs` the making of segments, whole or growing;
//! `ahead.rs` the segments of an endless session, made a round ahead. The
//! limiter the stream ends with is a pure stage of `audio/`.

pub mod ahead;
mod control;
mod prepare;
mod stream;

pub use control::{Control, SpeakRequest, WaitRequest};
pub use prepare::{CACHE_PATIENCE, GROW_EVERY, Portion, prepare, prepare_growing, prepare_portion, ready_until};
pub use stream::{CLOSING_WAIT, FADE, RAMP, SKIP_FADE, Stream, VOLUME_GLIDE};

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use crate::audio::resample::Clip;
use crate::script::Chime;
use crate::script::timeline::{Event, Lengths, SAMPLE_RATE, Sound, Timeline};

/// Every sound a session needs: speech at the engine's rate (brought to
/// the session's as it plays), chimes and sound files at the session's.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Clips {
    pub speech: HashMap<String, Clip>,
    pub chimes: HashMap<Chime, Arc<[i16]>>,
    pub files: HashMap<PathBuf, Arc<[i16]>>,
    /// The spoken confirmations of the live controls.
    pub notices: HashMap<Notice, Clip>,
    /// Every clip from the middle, the cues of `Sides` too (the setting
    /// `pan: false`).
    pub centred: bool,
}

/// What the live controls say, so a person with eyes closed knows the key
/// press was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Notice {
    Paused,
    Resuming,
    Next,
    Back,
    Stopping,
    /// "Finish this round": the round goes on, then the closing.
    LastRound,
}

impl Notice {
    pub const ALL: [Notice; 6] =
        [Notice::Paused, Notice::Resuming, Notice::Next, Notice::Back, Notice::Stopping, Notice::LastRound];

    pub fn text(self) -> &'static str {
        match self {
            Notice::Paused => "Paused.",
            Notice::Resuming => "Resuming.",
            Notice::Next => "Next.",
            Notice::Back => "Back.",
            Notice::Stopping => "Stopping.",
            Notice::LastRound => "Last round.",
        }
    }
}

impl Clips {
    /// The clip an event plays, if it plays one.
    pub fn for_sound(&self, sound: &Sound) -> Option<Clip> {
        match sound {
            Sound::Speech(text) => self.speech.get(&**text).cloned(),
            Sound::Chime(c) => self.chimes.get(c).map(|c| c.clone().into()),
            Sound::File(p) => self.files.get(p).map(|c| c.clone().into()),
            _ => None,
        }
    }
}

impl Clips {
    /// Every speech clip at the session's rate now (notices share the
    /// speech clip of their text), for a stream that plays to a device: a
    /// render's stream resamples each cue as it starts, but on a device's
    /// audio thread that work could starve the output (a gap in a cue).
    pub fn at_session_rate(&mut self) {
        for clip in self.speech.values_mut() {
            *clip = clip.at_session_rate().into();
        }
        for (n, clip) in &mut self.notices {
            *clip = self.speech.get(n.text()).cloned().unwrap_or_else(|| clip.at_session_rate().into());
        }
    }
}

/// How far a side's cues are panned: 0 is the middle, 1 all the way.
/// Not all the way: a cue from one ear only is unnatural and tiring.
pub const PAN: f32 = 0.6;

/// The gains (left, right) of a clip at `pan` (-1 left, 1 right), by the
/// constant-power law, scaled so that the nearer ear gets the clip at its
/// own level: the two ears differ by what the law gives (9.8 dB at
/// [`PAN`]), a centred clip is the same in both, and no pan makes a clip
/// louder than it was levelled to (so it never meets the limiter at unity).
pub fn pan_gains(pan: f32) -> (f32, f32) {
    let angle = (pan.clamp(-1.0, 1.0) + 1.0) * std::f32::consts::FRAC_PI_4;
    let (left, right) = (angle.cos(), angle.sin());
    let near = left.max(right);
    if pan == 0.0 { (1.0, 1.0) } else { (left / near, right / near) }
}

/// Where an event's clip sounds: the cues inside `Sides` from their side,
/// everything else from the middle.
fn gains_for(event: &Event, centred: bool) -> Option<(f32, f32)> {
    match (&event.sound, event.side) {
        (Sound::Speech(_), Some(side)) if !centred => Some(pan_gains(match side {
            crate::script::Side::Left => -PAN,
            crate::script::Side::Right => PAN,
        })),
        _ => None,
    }
}

/// Real lengths, from the clips themselves.
impl Lengths for Clips {
    fn speech(&self, text: &str) -> u64 {
        self.speech.get(text).map_or(0, Clip::len)
    }
    fn chime(&self, chime: Chime) -> u64 {
        self.chimes.get(&chime).map_or_else(|| crate::audio::sound::chime(chime).len() as u64, |c| c.len() as u64)
    }
    fn sound(&self, path: &std::path::Path) -> u64 {
        self.files.get(path).map_or(0, |c| c.len() as u64)
    }
}

/// A stretch of session: a timeline and the clips it plays. A plain
/// session is one segment; `--loop` is one per round, made ahead.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    pub timeline: Timeline,
    pub clips: Arc<Clips>,
    /// Made only up to this sample (its speech is still being made, see
    /// [`prepare_growing`]): the stream plays up to it, then waits there in
    /// silence for the fuller segment that replaces this one
    /// ([`Control::grow`]). `None`: all of it is ready.
    pub ready: Option<u64>,
}

impl Segment {
    /// A segment ready to play through.
    pub fn new(timeline: Timeline, clips: Arc<Clips>) -> Segment {
        Segment { timeline, clips, ready: None }
    }

    /// For a device: every clip at the session's rate
    /// ([`Clips::at_session_rate`]).
    pub fn for_device(mut self) -> Segment {
        if self.clips.speech.values().chain(self.clips.notices.values()).any(|c| c.rate() != SAMPLE_RATE) {
            Arc::make_mut(&mut self.clips).at_session_rate();
        }
        self
    }

    /// With `centred`, plays every clip from the middle (`pan: false`).
    pub fn centre(&mut self, centred: bool) {
        if centred != self.clips.centred {
            Arc::make_mut(&mut self.clips).centred = centred;
        }
    }
}

/// The segments of a session by number, keeping only the recent ones: an
/// endless session must not hold every round it has played.
#[derive(Debug, Clone)]
pub struct Segments {
    /// The number of the oldest segment kept.
    first: u32,
    kept: std::collections::VecDeque<Arc<Segment>>,
}

impl Segments {
    pub fn new(first: Arc<Segment>) -> Segments {
        Segments { first: 0, kept: std::collections::VecDeque::from([first]) }
    }

    pub fn push(&mut self, segment: Arc<Segment>) {
        self.kept.push_back(segment);
    }

    /// Segment `number`, and forgets those before the one before it.
    pub fn get(&mut self, number: u32) -> Option<Arc<Segment>> {
        while self.first + 1 < number && self.kept.len() > 1 {
            self.kept.pop_front();
            self.first += 1;
        }
        number.checked_sub(self.first).and_then(|i| self.kept.get(i as usize)).cloned()
    }

    /// Puts a fuller version of segment `number` in its place, if it is
    /// still kept, and gives back the one it replaced.
    pub fn replace(&mut self, number: u32, segment: Arc<Segment>) -> Option<Arc<Segment>> {
        let kept = number.checked_sub(self.first).and_then(|i| self.kept.get_mut(i as usize))?;
        Some(std::mem::replace(kept, segment))
    }

    pub fn len_kept(&self) -> usize {
        self.kept.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::load;
    use crate::script::timeline::{Options, compile};
    use crate::speech::Engine;
    use crate::speech::fake::FakeEngine;

    // The fixtures first: the tests of `stream.rs` and `prepare.rs` make
    // their sessions and hear them with these.

    pub(super) fn segment(steps: &str, options: Options) -> Arc<Segment> {
        let src = format!("Routine(title: \"T\", summary: \"S\", defaults: (hold: \"2s\"), steps: [{steps}])");
        let (script, diags) = load(&src, None, "t");
        let script = script.unwrap_or_else(|| panic!("{diags:?}"));
        // Speech lengths come from the fake engine, chimes from the real files.
        let probe = compile(&script, &options, &crate::script::timeline::Estimate::default());
        let mut clips = Clips::default();
        for e in &probe.events {
            match &e.sound {
                Sound::Speech(t) => {
                    // At the engine's rate, as `prepare` keeps speech.
                    let made = FakeEngine::default().synthesize(t).unwrap();
                    clips.speech.insert(t.to_string(), Clip::new(made.into(), crate::speech::ENGINE_RATE));
                }
                Sound::Chime(c) => {
                    clips.chimes.insert(*c, crate::audio::sound::chime(*c));
                }
                _ => {}
            }
        }
        let timeline = compile(&script, &options, &clips);
        Arc::new(Segment::new(timeline, Arc::new(clips)))
    }

    /// The left channel: all of a session with nothing in `Sides`.
    pub(super) fn left(stream: &mut Stream) -> impl Iterator<Item = f32> + '_ {
        std::iter::from_fn(move || stream.next_frame().map(|[l, _]| l))
    }

    pub(super) fn render(seg: &Arc<Segment>, control: &Arc<Control>) -> Vec<f32> {
        left(&mut Stream::new(seg.clone(), None, control.clone())).collect()
    }

    #[test]
    fn the_pan_law_keeps_the_near_ear_at_the_clips_level() {
        #[track_caller]
        fn check(pan: f32, left_db: f32, right_db: f32) {
            let (l, r) = pan_gains(pan);
            let db = |g: f32| 20.0 * g.log10();
            assert!((db(l) - left_db).abs() < 0.05 && (db(r) - right_db).abs() < 0.05, "{pan}: {l} {r}");
        }
        check(0.0, 0.0, 0.0);
        check(-PAN, 0.0, -9.76);
        check(PAN, -9.76, 0.0);
        assert_eq!(pan_gains(-1.0), (1.0, 0.0), "all the way: one ear only");
    }

    #[test]
    fn only_recent_segments_are_kept() {
        let seg = segment(r#"Say("a")"#, Options::default());
        let mut segments = Segments::new(seg.clone());
        for _ in 0..10 {
            segments.push(seg.clone());
        }
        assert!(segments.get(0).is_some());
        assert!(segments.get(6).is_some());
        assert_eq!(segments.len_kept(), 6, "rounds 5 to 10");
        assert!(segments.get(4).is_none(), "forgotten");
        assert!(segments.get(5).is_some(), "the one before is kept");
        assert!(segments.get(11).is_none(), "not made yet");
    }
}
