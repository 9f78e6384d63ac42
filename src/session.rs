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

use std::collections::HashMap;
use std::num::NonZero;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use crossbeam_channel::Receiver;

use crate::script::Chime;
use crate::timeline::{Event, Lengths, SAMPLE_RATE, Sound, Timeline, samples};

/// Every sound a session needs, as samples at the session rate.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Clips {
    pub speech: HashMap<String, Arc<[i16]>>,
    pub chimes: HashMap<Chime, Arc<[i16]>>,
    pub files: HashMap<PathBuf, Arc<[i16]>>,
    /// The spoken confirmations of the live controls.
    pub notices: HashMap<Notice, Arc<[i16]>>,
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
    pub fn for_sound(&self, sound: &Sound) -> Option<&Arc<[i16]>> {
        match sound {
            Sound::Speech(text) => self.speech.get(text),
            Sound::Chime(c) => self.chimes.get(c),
            Sound::File(p) => self.files.get(p),
            _ => None,
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
        self.speech.get(text).map_or(0, |c| c.len() as u64)
    }
    fn chime(&self, chime: Chime) -> u64 {
        self.chimes.get(&chime).map_or_else(|| crate::sound::chime(chime).len() as u64, |c| c.len() as u64)
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

/// Shared between the stream (audio thread) and whoever steers it.
#[derive(Debug)]
pub struct Control {
    /// A requested position in the current segment; `NO_SEEK` when none.
    seek: AtomicU64,
    stop: AtomicBool,
    /// Gain as f32 bits.
    volume: AtomicU32,
    /// Position in the current segment, in samples.
    position: AtomicU64,
    /// How many segments have been finished.
    segment: AtomicU32,
    finished: AtomicBool,
    /// The session is held still (notices still play).
    paused: AtomicBool,
    /// Samples of silence to keep after a resume before the session goes
    /// on: room for the "resuming" notice.
    lead_in: AtomicU64,
    /// Clips to mix in now, over whatever plays: the controls' notices.
    notices_tx: crossbeam_channel::Sender<Arc<[i16]>>,
    notices_rx: Receiver<Arc<[i16]>>,
    /// Cues with no clip, for a live voice to speak.
    speak_tx: crossbeam_channel::Sender<SpeakRequest>,
    speak_rx: Receiver<SpeakRequest>,
    /// The last gate (a spoken step the stream waits at) let through.
    released: AtomicU64,
    /// While waiting at a gate: 1 + the index of its event.
    gate_event: AtomicU64,
    /// Set by a live player: `Wait` steps hold the stream until released.
    /// Unset (a render), a wait is silence of its rendered length.
    live_waits: AtomicBool,
    /// `Wait` steps reached, for the player to time and release.
    wait_tx: crossbeam_channel::Sender<WaitRequest>,
    wait_rx: Receiver<WaitRequest>,
    /// A skip that fades out first: the position to go to, `NO_SEEK` when none.
    skip: AtomicU64,
    /// "Finish this round, then the closing" was asked for.
    finish: AtomicBool,
    /// The closing of an endless session, sent when it is asked for.
    closing_tx: crossbeam_channel::Sender<Arc<Segment>>,
    closing_rx: Receiver<Arc<Segment>>,
    /// The number of the segment that is the closing, once it plays;
    /// `u32::MAX` before.
    closing_number: AtomicU32,
    /// Fuller versions of a segment whose speech is still being made.
    grown_tx: crossbeam_channel::Sender<Arc<Segment>>,
    grown_rx: Receiver<Arc<Segment>>,
    /// The stream waits at the end of what is made of its segment.
    starved: AtomicBool,
}

/// A `Wait` step the stream holds at until [`Control::release`] is called
/// with its `gate`: by a key, or by the player when the timeout runs out.
#[derive(Debug, Clone, PartialEq)]
pub struct WaitRequest {
    pub gate: u64,
    /// What the wait said, to say again as a reminder.
    pub text: String,
    pub remind: Option<Duration>,
    pub timeout: Option<Duration>,
}

/// A cue for a live voice. With a `gate`, the stream waits until
/// [`Control::release`] is called with it.
#[derive(Debug, Clone, PartialEq)]
pub struct SpeakRequest {
    pub text: String,
    pub gate: Option<u64>,
}

const NO_SEEK: u64 = u64::MAX;
/// How long a finished endless session waits for its closing to be made
/// before it ends without it.
pub const CLOSING_WAIT: Duration = Duration::from_secs(30);

/// How long a stop takes to fade out: long enough not to click.
pub const FADE: Duration = Duration::from_millis(60);
/// How long pausing and resuming ramp the sound down and up.
pub const RAMP: Duration = Duration::from_millis(15);

impl Control {
    pub fn new(volume: f32) -> Arc<Control> {
        let (notices_tx, notices_rx) = crossbeam_channel::unbounded();
        let (speak_tx, speak_rx) = crossbeam_channel::unbounded();
        let (wait_tx, wait_rx) = crossbeam_channel::unbounded();
        let (closing_tx, closing_rx) = crossbeam_channel::bounded(1);
        let (grown_tx, grown_rx) = crossbeam_channel::unbounded();
        Arc::new(Control {
            seek: AtomicU64::new(NO_SEEK),
            stop: AtomicBool::new(false),
            volume: AtomicU32::new(volume.to_bits()),
            position: AtomicU64::new(0),
            segment: AtomicU32::new(0),
            finished: AtomicBool::new(false),
            paused: AtomicBool::new(false),
            lead_in: AtomicU64::new(0),
            notices_tx,
            notices_rx,
            speak_tx,
            speak_rx,
            released: AtomicU64::new(0),
            gate_event: AtomicU64::new(0),
            live_waits: AtomicBool::new(false),
            wait_tx,
            wait_rx,
            skip: AtomicU64::new(NO_SEEK),
            finish: AtomicBool::new(false),
            closing_tx,
            closing_rx,
            closing_number: AtomicU32::new(u32::MAX),
            grown_tx,
            grown_rx,
            starved: AtomicBool::new(false),
        })
    }

    /// Replaces the segment playing, made only in part, with a fuller
    /// version of it (the same events up to where the old one was
    /// ready): the stream goes on past its old limit.
    pub fn grow(&self, segment: Arc<Segment>) {
        let _ = self.grown_tx.send(segment);
    }

    /// Whether the stream is waiting for its segment's speech to be made.
    pub fn is_starved(&self) -> bool {
        self.starved.load(Ordering::Acquire)
    }

    /// Jumps to a sample of the current segment the way a person's skip
    /// should sound: what plays fades out, then `lead` samples of silence
    /// (room for the control's spoken notice), then the new step starts.
    pub fn skip(&self, sample: u64, lead: u64) {
        self.lead_in.store(lead, Ordering::Release);
        self.skip.store(sample, Ordering::Release);
    }

    /// Finishes the round playing, then plays the closing (and, in an
    /// endless session, `closing`, the segment that holds it).
    pub fn finish_round(&self, closing: Option<Arc<Segment>>) {
        if !self.finish.swap(true, Ordering::AcqRel)
            && let Some(c) = closing
        {
            let _ = self.closing_tx.try_send(c);
        }
    }

    /// The closing of an endless session, made after [`Control::finish_round`]
    /// was asked for without it.
    pub fn closing_ready(&self, closing: Arc<Segment>) {
        let _ = self.closing_tx.try_send(closing);
    }

    /// Whether the session was asked to finish after this round.
    pub fn is_finishing(&self) -> bool {
        self.finish.load(Ordering::Acquire)
    }

    /// The number of the segment that is the closing of an endless
    /// session, once it plays.
    pub fn closing_segment(&self) -> Option<u32> {
        match self.closing_number.load(Ordering::Acquire) {
            u32::MAX => None,
            n => Some(n),
        }
    }

    /// Makes `Wait` steps hold the stream for a person (a live session),
    /// rather than pass as silence (a render).
    pub fn hold_at_waits(&self) {
        self.live_waits.store(true, Ordering::Release);
    }

    /// The `Wait` steps the stream has reached.
    pub fn wait_requests(&self) -> &Receiver<WaitRequest> {
        &self.wait_rx
    }

    /// Holds the session still, after a short fade.
    pub fn pause(&self) {
        self.paused.store(true, Ordering::Release);
    }

    /// Goes on after `lead_in` more of silence.
    pub fn resume(&self, lead_in: u64) {
        self.lead_in.store(lead_in, Ordering::Release);
        self.paused.store(false, Ordering::Release);
    }

    pub fn is_paused(&self) -> bool {
        self.paused.load(Ordering::Acquire)
    }

    /// Cues for a live voice to speak.
    pub fn speak_requests(&self) -> &Receiver<SpeakRequest> {
        &self.speak_rx
    }

    /// The event the stream is waiting at for a live voice, if any.
    pub fn waiting_at(&self) -> Option<usize> {
        match self.gate_event.load(Ordering::Acquire) {
            0 => None,
            n => Some(n as usize - 1),
        }
    }

    /// Lets the stream go on past the spoken step `gate`.
    pub fn release(&self, gate: u64) {
        self.released.fetch_max(gate, Ordering::AcqRel);
    }

    /// Plays a clip at once, over the session, at the session's volume.
    pub fn notify(&self, clip: Arc<[i16]>) {
        let _ = self.notices_tx.send(clip);
    }

    /// Jumps to a sample of the current segment.
    pub fn seek(&self, sample: u64) {
        self.seek.store(sample, Ordering::Release);
    }

    /// Fades out and ends the stream.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Release);
    }

    pub fn set_volume(&self, v: f32) {
        self.volume.store(v.clamp(0.0, 2.0).to_bits(), Ordering::Release);
    }

    pub fn volume(&self) -> f32 {
        f32::from_bits(self.volume.load(Ordering::Acquire))
    }

    /// (segments finished, position in the current one).
    pub fn position(&self) -> (u32, u64) {
        (self.segment.load(Ordering::Acquire), self.position.load(Ordering::Acquire))
    }

    pub fn is_finished(&self) -> bool {
        self.finished.load(Ordering::Acquire)
    }
}

struct Active {
    clip: Arc<[i16]>,
    /// Where in the segment the clip's first sample plays.
    start: u64,
    /// Samples of fade-in left: a clip a seek lands in the middle of rises
    /// from silence rather than starting with a step.
    fade_in: u32,
    /// Panned (left, right), or `None` in the middle.
    pan: Option<(f32, f32)>,
}

/// A clip cut by a seek, fading out where it was.
struct Fading {
    clip: Arc<[i16]>,
    /// The next sample of the clip.
    at: usize,
    /// Samples of fade left, out of `samples(SKIP_FADE)`.
    left: u32,
    /// The level it fades from (below 1 if it was still fading in).
    from: f32,
    pan: Option<(f32, f32)>,
}

/// How long a clip cut by a skip takes to fade out, and a clip a skip
/// lands in the middle of to fade in: a step from a sounding sample to
/// silence is a click, and 8 ms is too short to hear as a fade.
pub const SKIP_FADE: Duration = Duration::from_millis(8);

/// Frames the limiter looks ahead (1.3 ms): long enough to bring the gain
/// down smoothly before a peak, short enough not to be felt on the keys.
const LOOKAHEAD: usize = 64;

/// The highest level the limiter lets through, -0.18 dBFS: above the peaks
/// of speech (espeak-ng's reach -0.4 dBFS) and chimes, so a session at
/// volume 1 or below passes through unchanged, unless clips sounding
/// together add up past it (which would otherwise clip).
pub const CEILING: f32 = 0.98;

/// How long the volume takes to glide by 1 (a key press moves it by 0.1,
/// in 10 ms).
pub const VOLUME_GLIDE: Duration = Duration::from_millis(100);

/// How fast the limiter's gain comes back up once a peak has passed
/// (the time constant of an exponential): slow enough not to pump.
const RELEASE: Duration = Duration::from_millis(80);

/// A look-ahead peak limiter, the last stage of the stream: the volume can
/// go above 1 without a hard clip. For each sample it works out the gain
/// that keeps it under [`CEILING`]; the gain applied is the least of those
/// over the look-ahead window, averaged over the window again, so it ramps
/// down over [`LOOKAHEAD`] samples and reaches each peak's gain in time; it
/// then recovers over [`RELEASE`]. Below the ceiling the gain is exactly 1
/// and every sample passes through bit for bit. Both channels share one
/// gain (from the louder), so limiting never moves a sound sideways. Fixed
/// arrays, no allocation: it runs on the audio thread.
struct Limiter {
    /// The last `LOOKAHEAD` frames in; the oldest goes out next.
    delay: [[f32; 2]; LOOKAHEAD],
    /// The gain each of those samples needs.
    need: [f32; LOOKAHEAD],
    /// For each, the least gain needed in the window ending there.
    held: [f32; LOOKAHEAD],
    /// The sum of `held`, and how many of them are below 1.
    held_sum: f64,
    held_below: usize,
    /// The least gain needed in the window, and the sample it came from.
    least: f32,
    least_at: u64,
    /// Samples taken in so far.
    taken: u64,
    /// The gain applied, with the release.
    gain: f32,
    release: f32,
}

impl Limiter {
    fn new() -> Limiter {
        Limiter {
            delay: [[0.0; 2]; LOOKAHEAD],
            need: [1.0; LOOKAHEAD],
            held: [1.0; LOOKAHEAD],
            held_sum: LOOKAHEAD as f64,
            held_below: 0,
            least: 1.0,
            least_at: 0,
            taken: 0,
            gain: 1.0,
            release: 1.0 - (-1.0 / (RELEASE.as_secs_f32() * SAMPLE_RATE as f32)).exp(),
        }
    }

    /// Takes frame `n` in and gives out frame `n - LOOKAHEAD + 1`, limited.
    fn process(&mut self, x: [f32; 2]) -> [f32; 2] {
        let n = self.taken;
        let i = (n % LOOKAHEAD as u64) as usize;
        let peak = x[0].abs().max(x[1].abs());
        let need = if peak > CEILING { CEILING / peak } else { 1.0 };
        self.delay[i] = x;
        self.need[i] = need;
        if need <= self.least {
            self.least = need;
            self.least_at = n;
        } else if self.least_at + LOOKAHEAD as u64 <= n {
            // The least has left the window: find the next, the newest of equals.
            self.least = 1.0;
            for back in 0..LOOKAHEAD as u64 {
                let Some(m) = n.checked_sub(back) else { break };
                let v = self.need[(m % LOOKAHEAD as u64) as usize];
                if v < self.least {
                    self.least = v;
                    self.least_at = m;
                }
            }
            if self.least == 1.0 {
                self.least_at = n;
            }
        }
        let old = self.held[i];
        self.held_below = self.held_below + usize::from(self.least < 1.0) - usize::from(old < 1.0);
        self.held[i] = self.least;
        self.held_sum += self.least as f64 - old as f64;
        let target = if self.held_below == 0 {
            // Exactly 1 again, with no rounding left over from the sums.
            self.held_sum = LOOKAHEAD as f64;
            1.0
        } else {
            ((self.held_sum / LOOKAHEAD as f64) as f32).min(1.0)
        };
        self.gain = if target < self.gain { target } else { self.gain + (target - self.gain) * self.release };
        if target == 1.0 && self.gain > 1.0 - 1e-6 {
            self.gain = 1.0;
        }
        self.taken += 1;
        let [l, r] = self.delay[(i + 1) % LOOKAHEAD];
        [l * self.gain, r * self.gain]
    }
}

/// The session's samples, stereo f32 at [`SAMPLE_RATE`]: frames of (left,
/// right), or interleaved samples as an iterator.
pub struct Stream {
    segment: Arc<Segment>,
    /// Further segments (`--loop`): taken when the current one ends.
    upcoming: Option<Receiver<Arc<Segment>>>,
    control: Arc<Control>,
    pos: u64,
    next_event: usize,
    active: Vec<Active>,
    /// Clips cut by a seek, fading out.
    fading: Vec<Fading>,
    /// The volume applied, gliding towards the control's.
    volume: f32,
    /// The last stage: the volume may go above 1, the sound never clips.
    limiter: Limiter,
    /// Samples the session has made (the limiter holds the last few back),
    /// and whether it has ended.
    made: u64,
    made_all: bool,
    /// Samples left in a fade-out, once stopping.
    fade_left: Option<u64>,
    /// The session's gain, ramped towards 0 when pausing, 1 when playing.
    gain: f32,
    /// Silence still to keep before a resumed session goes on.
    lead_left: u64,
    paused: bool,
    /// Samples handed out so far, paused or not.
    sent: u64,
    /// Gates issued so far, and the one the stream waits at.
    gates: u64,
    waiting: Option<u64>,
    /// Where a `Wait` step being held at ends: released, the stream goes
    /// on from there.
    wait_end: Option<u64>,
    /// A skip waiting for the fade-out before it.
    pending_skip: Option<u64>,
    /// Once asked to finish the round: where the round ends and where the
    /// closing starts, in this segment.
    finish_at: Option<(u64, u64)>,
    /// Playing the closing segment of an endless session.
    in_closing: bool,
    /// Frames of silence spent waiting for a closing still being made.
    closing_waited: u64,
    /// Notices sounding: the clip and how far into it.
    notices: Vec<(Arc<[i16]>, usize)>,
    /// Samples between position reports to the control.
    report_every: u64,
    /// The right half of the frame whose left was last given out.
    right: Option<f32>,
    /// Say on stderr when the first sample is taken (`BACKEASE_TIMING`).
    trace_start: bool,
    /// Say on stderr when controls take effect (`BACKEASE_TIMING`).
    timing: bool,
}

impl Stream {
    pub fn new(segment: Arc<Segment>, upcoming: Option<Receiver<Arc<Segment>>>, control: Arc<Control>) -> Stream {
        // Started again (the output reopened) in the closing: it ends with it.
        let in_closing = control.closing_segment() == Some(control.segment.load(Ordering::Acquire));
        Stream {
            volume: control.volume(),
            segment,
            upcoming,
            control,
            pos: 0,
            next_event: 0,
            active: Vec::with_capacity(8),
            fading: Vec::with_capacity(8),
            limiter: Limiter::new(),
            made: 0,
            made_all: false,
            fade_left: None,
            gain: 1.0,
            lead_left: 0,
            paused: false,
            sent: 0,
            gates: 0,
            waiting: None,
            wait_end: None,
            pending_skip: None,
            finish_at: None,
            in_closing,
            closing_waited: 0,
            notices: Vec::new(),
            report_every: 64,
            right: None,
            trace_start: crate::timing(),
            timing: crate::timing(),
        }
    }

    fn events(&self) -> &[Event] {
        &self.segment.timeline.events
    }

    /// Moves to `target` in the current segment: clips that would be
    /// sounding there start part-way through.
    fn seek_to(&mut self, target: u64) {
        self.waiting = None;
        self.wait_end = None;
        self.control.gate_event.store(0, Ordering::Release);
        let target = target.min(self.segment.timeline.total).min(self.segment.ready.unwrap_or(u64::MAX));
        // What was sounding fades out from where it was, over whatever the
        // seek lands on.
        let fade = samples(SKIP_FADE) as u32;
        for a in self.active.drain(..) {
            let at = (self.pos - a.start) as usize;
            if at < a.clip.len() {
                let from = 1.0 - a.fade_in as f32 / fade as f32;
                self.fading.push(Fading { clip: a.clip, at, left: fade, from, pan: a.pan });
            }
        }
        self.pos = target;
        let segment = self.segment.clone();
        let events = &segment.timeline.events;
        for e in events.iter().filter(|e| e.start < target && e.end() > target) {
            if let Some(clip) = segment.clips.for_sound(&e.sound) {
                let pan = gains_for(e, segment.clips.centred);
                self.active.push(Active { clip: clip.clone(), start: e.start, fade_in: fade, pan });
            }
        }
        self.next_event = events.partition_point(|e| e.start < target);
    }

    /// Where the round playing ends in this segment, and where the closing
    /// starts: the end of the segment for both when it holds no closing
    /// (an endless session's round).
    fn round_end(&self) -> (u64, u64) {
        use crate::script::Section;
        let t = &self.segment.timeline;
        let steps = || t.events.iter().filter(|e| !e.overlay);
        let round = steps().take_while(|e| e.start <= self.pos).last().map_or(1, |e| e.round);
        let closing = steps().find(|e| e.section == Section::Closing).map_or(t.total, |e| e.start);
        let end = steps()
            .find(|e| e.section == Section::Closing || (e.section == Section::Round && e.round > round))
            .map_or(t.total, |e| e.start);
        (end, closing)
    }

    /// Starts the next segment, if there is one ready; `false` at the end.
    fn advance_segment(&mut self) -> bool {
        if self.in_closing {
            return false;
        }
        let Some(rx) = &self.upcoming else { return false };
        if self.control.is_finishing() {
            // The round is done: the closing, not another round.
            return match self.control.closing_rx.try_recv() {
                Ok(closing) => {
                    self.in_closing = true;
                    self.segment = closing;
                    self.pos = 0;
                    self.next_event = 0;
                    self.active.clear();
                    let number = self.control.segment.fetch_add(1, Ordering::AcqRel) + 1;
                    self.control.closing_number.store(number, Ordering::Release);
                    self.control.position.store(0, Ordering::Release);
                    true
                }
                // Asked for before the closing was made (the speech was
                // still being made ahead): wait for it in silence, as for a
                // round; a speech failure ends the session meanwhile. Never
                // for ever: without it after a while, the end.
                Err(_) => {
                    self.closing_waited += 1;
                    self.closing_waited <= samples(CLOSING_WAIT)
                }
            };
        }
        match rx.try_recv() {
            Ok(next) => {
                self.segment = next;
                self.pos = 0;
                self.next_event = 0;
                self.active.clear();
                self.control.segment.fetch_add(1, Ordering::AcqRel);
                self.control.position.store(0, Ordering::Release);
                true
            }
            // Not made yet (it is made a whole round ahead, so this is rare):
            // wait in silence rather than block the audio thread.
            Err(crossbeam_channel::TryRecvError::Empty) => true,
            Err(crossbeam_channel::TryRecvError::Disconnected) => false,
        }
    }

    /// The end, once the limiter has given out every frame made.
    fn finish(&mut self) -> Option<[f32; 2]> {
        self.control.position.store(self.pos, Ordering::Release);
        self.control.finished.store(true, Ordering::Release);
        None
    }

    /// The next frame: the session's, through the limiter, which gives
    /// out each frame `LOOKAHEAD - 1` frames after it was made.
    pub fn next_frame(&mut self) -> Option<[f32; 2]> {
        if self.trace_start {
            self.trace_start = false;
            eprintln!("timing: first sample taken {} ms after start", crate::started().elapsed().as_millis());
        }
        loop {
            let x = match (!self.made_all).then(|| self.make()).flatten() {
                Some(x) => {
                    self.made += 1;
                    x
                }
                None => {
                    self.made_all = true;
                    [0.0; 2]
                }
            };
            let y = self.limiter.process(x);
            let Some(out) = self.limiter.taken.checked_sub(LOOKAHEAD as u64) else {
                // Filling the look-ahead before the first sample goes out.
                continue;
            };
            if out >= self.made {
                return self.finish();
            }
            return Some([y[0].clamp(-1.0, 1.0), y[1].clamp(-1.0, 1.0)]);
        }
    }

    /// The next frame the session makes, at its volume, before the
    /// limiter: `None` at its end.
    fn make(&mut self) -> Option<[f32; 2]> {
        if self.control.stop.load(Ordering::Relaxed) && self.fade_left.is_none() {
            self.fade_left = Some(samples(FADE));
        }
        if self.fade_left == Some(0) && self.notices.is_empty() {
            return None;
        }
        // Steer by samples sent, not session position: a paused session's
        // position stands still, and it must still hear "resume".
        if self.sent.is_multiple_of(self.report_every) {
            self.steer();
        }
        self.sent += 1;
        let session = if self.fade_left == Some(0) { Some([0.0; 2]) } else { self.session_sample() };
        let [mut l, mut r] = session?;
        if let Some(left) = self.fade_left.as_mut().filter(|l| **l > 0) {
            let g = *left as f32 / samples(FADE) as f32;
            l *= g;
            r *= g;
            *left -= 1;
        }
        let notice = self.notice_sample();
        // A change of volume glides rather than jumps, which would click.
        let wanted = self.control.volume();
        if self.volume != wanted {
            let glide = 1.0 / samples(VOLUME_GLIDE) as f32;
            self.volume = if wanted > self.volume {
                (self.volume + glide).min(wanted)
            } else {
                (self.volume - glide).max(wanted)
            };
        }
        Some([(l + notice) * self.volume, (r + notice) * self.volume])
    }

    /// With `BACKEASE_TIMING`, says when the stream acted on a control.
    fn trace(&self, what: &str) {
        if self.timing {
            eprintln!("timing: stream {what} at {} ms", crate::started().elapsed().as_millis());
        }
    }

    /// Takes requests from the control: seeks, pauses, notices.
    fn steer(&mut self) {
        let seek = self.control.seek.swap(NO_SEEK, Ordering::AcqRel);
        if seek != NO_SEEK {
            self.seek_to(seek);
            self.trace("skipped");
        }
        let paused = self.control.paused.load(Ordering::Acquire);
        if paused != self.paused {
            self.paused = paused;
            self.trace(if paused { "paused" } else { "resumed" });
        }
        let skip = self.control.skip.swap(NO_SEEK, Ordering::AcqRel);
        if skip != NO_SEEK {
            self.pending_skip = Some(skip);
            self.trace("skipping");
        }
        let lead = self.control.lead_in.swap(0, Ordering::AcqRel);
        if lead > 0 {
            self.lead_left = lead;
        }
        if self.finish_at.is_none() && self.control.is_finishing() {
            self.finish_at = Some(self.round_end());
        }
        while let Ok(clip) = self.control.notices_rx.try_recv() {
            self.notices.push((clip, 0));
        }
        // The same events up to where the old one was ready, so the
        // position, the next event and the clips sounding all carry over.
        while let Ok(grown) = self.control.grown_rx.try_recv() {
            if self.segment.ready.is_some() && !self.in_closing {
                self.segment = grown;
                self.finish_at = self.finish_at.map(|_| self.round_end());
            }
        }
        self.control.position.store(self.pos, Ordering::Release);
    }

    /// The session's own frame, unscaled: `None` at its end.
    fn session_sample(&mut self) -> Option<[f32; 2]> {
        let hold_still = self.paused || self.lead_left > 0 || self.pending_skip.is_some();
        let step = 1.0 / samples(RAMP).max(1) as f32;
        self.gain = if hold_still { (self.gain - step).max(0.0) } else { (self.gain + step).min(1.0) };
        if hold_still && self.gain == 0.0 {
            // Faded out: now the skip can cut without a click.
            if let Some(target) = self.pending_skip.take() {
                self.seek_to(target);
                self.finish_at = self.finish_at.map(|_| self.round_end());
            }
            // Held: time stands still, so a paused hold keeps its remaining length.
            if !self.paused {
                self.lead_left = self.lead_left.saturating_sub(1);
            }
            return Some([0.0; 2]);
        }
        if let Some(gate) = self.waiting {
            // A live voice is speaking this step: time waits for it.
            if self.control.released.load(Ordering::Acquire) < gate {
                return Some([0.0; 2]);
            }
            self.waiting = None;
            self.control.gate_event.store(0, Ordering::Release);
            if let Some(end) = self.wait_end.take() {
                // A wait let go: on from its end, not through its silence.
                self.pos = end;
                self.next_event = self.events().partition_point(|e| e.start < end);
            }
        }
        if let Some((end, closing)) = self.finish_at
            && self.pos >= end
            && end < closing
        {
            // The round is over: straight on to the closing.
            self.seek_to(closing);
            self.finish_at = Some((closing, closing));
        }
        if self.segment.ready.is_some_and(|r| self.pos >= r) {
            // The speech from here on is still being made: wait for it,
            // at a cue, rather than play anything late or early.
            if !self.control.starved.swap(true, Ordering::AcqRel) {
                self.trace("waits for speech");
            }
            return Some([0.0; 2]);
        }
        if self.control.starved.load(Ordering::Relaxed) {
            self.control.starved.store(false, Ordering::Release);
        }
        if self.pos >= self.segment.timeline.total {
            if !self.advance_segment() {
                return None;
            }
            if self.pos >= self.segment.timeline.total {
                return Some([0.0; 2]);
            }
        }
        let pos = self.pos;
        if self.events().get(self.next_event).is_some_and(|e| e.start <= pos) {
            let segment = self.segment.clone();
            while let Some(e) = segment.timeline.events.get(self.next_event) {
                if e.start > pos {
                    break;
                }
                self.next_event += 1;
                if let Some(clip) = segment.clips.for_sound(&e.sound) {
                    let pan = gains_for(e, segment.clips.centred);
                    self.active.push(Active { clip: clip.clone(), start: e.start, fade_in: 0, pan });
                } else if let Sound::Wait { text, remind, timeout } = &e.sound
                    && self.control.live_waits.load(Ordering::Relaxed)
                {
                    // Time stands still until the person (or the timeout,
                    // which the player keeps) lets it go.
                    self.gates += 1;
                    let request =
                        WaitRequest { gate: self.gates, text: text.clone(), remind: *remind, timeout: *timeout };
                    let _ = self.control.wait_tx.send(request);
                    self.waiting = Some(self.gates);
                    self.wait_end = Some(e.end());
                    self.control.gate_event.store(self.next_event as u64, Ordering::Release);
                    return Some([0.0; 2]);
                } else if let Sound::Speech(text) = &e.sound {
                    // No clip: a live voice speaks it; a step waits for it.
                    let gate = (!e.overlay).then(|| {
                        self.gates += 1;
                        self.gates
                    });
                    let _ = self.control.speak_tx.send(SpeakRequest { text: text.clone(), gate });
                    if gate.is_some() {
                        self.waiting = gate;
                        self.control.gate_event.store(self.next_event as u64, Ordering::Release);
                        return Some([0.0; 2]);
                    }
                }
            }
        }
        // Centred clips are summed exactly, as integers; panned ones, and
        // clips fading in or out after a seek, as scaled floats.
        let mut sum = 0i32;
        let mut panned = [0.0f32; 2];
        let fade = samples(SKIP_FADE) as f32;
        self.active.retain_mut(|a| {
            let i = (pos - a.start) as usize;
            match a.clip.get(i) {
                Some(&s) => {
                    let level = if a.fade_in > 0 {
                        let level = 1.0 - a.fade_in as f32 / fade;
                        a.fade_in -= 1;
                        level
                    } else {
                        1.0
                    };
                    match a.pan {
                        None if level == 1.0 => sum += s as i32,
                        None => {
                            panned[0] += s as f32 * level;
                            panned[1] += s as f32 * level;
                        }
                        Some((l, r)) => {
                            panned[0] += s as f32 * level * l;
                            panned[1] += s as f32 * level * r;
                        }
                    }
                    true
                }
                None => false,
            }
        });
        if !self.fading.is_empty() {
            self.fading.retain_mut(|f| match f.clip.get(f.at) {
                Some(&s) if f.left > 0 => {
                    let v = s as f32 * f.from * (f.left as f32 / fade);
                    let (l, r) = f.pan.unwrap_or((1.0, 1.0));
                    panned[0] += v * l;
                    panned[1] += v * r;
                    f.at += 1;
                    f.left -= 1;
                    true
                }
                _ => false,
            });
        }
        self.pos += 1;
        let centre = sum as f32 / 32768.0;
        let [mut l, mut r] = [centre; 2];
        if panned != [0.0; 2] {
            l += panned[0] / 32768.0;
            r += panned[1] / 32768.0;
        }
        Some([l * self.gain, r * self.gain])
    }

    fn notice_sample(&mut self) -> f32 {
        if self.notices.is_empty() {
            return 0.0;
        }
        let mut sum = 0i32;
        self.notices.retain_mut(|(clip, at)| match clip.get(*at) {
            Some(&s) => {
                sum += s as i32;
                *at += 1;
                true
            }
            None => false,
        });
        sum as f32 / 32768.0
    }
}

impl Iterator for Stream {
    type Item = f32;

    /// Left, then right.
    fn next(&mut self) -> Option<f32> {
        if let Some(r) = self.right.take() {
            return Some(r);
        }
        let [l, r] = self.next_frame()?;
        self.right = Some(r);
        Some(l)
    }
}

impl rodio::Source for Stream {
    fn current_span_len(&self) -> Option<usize> {
        None
    }
    fn channels(&self) -> rodio::ChannelCount {
        NonZero::new(CHANNELS).expect("two")
    }
    fn sample_rate(&self) -> rodio::SampleRate {
        NonZero::new(SAMPLE_RATE).expect("non-zero")
    }
    fn total_duration(&self) -> Option<Duration> {
        None
    }
}

/// The stream's channels: left and right.
pub const CHANNELS: u16 = 2;

/// Quantizes a stream sample the way a 16-bit WAV stores it.
pub fn to_i16(v: f32) -> i16 {
    (v * 32767.0).round() as i16
}

/// Makes a segment ready to play: speaks every cue (from the cache where it
/// can), loads chimes and sound files, and builds the timeline from their
/// real lengths. `round` is `Some(k)` for round k of an endless session.
///
/// With a `live` voice that speaks the cues itself, only the controls'
/// notices are synthesized (by `engine`, when there is one), and spoken
/// steps take no time in the timeline: the stream waits at each for the
/// voice to finish.
pub fn prepare(
    script: &crate::script::Script,
    options: &crate::timeline::Options,
    round: Option<u32>,
    engine: Option<&dyn crate::speech::Engine>,
    live: bool,
    cache: &crate::speech::Cache,
    progress: &mut dyn FnMut(usize, usize, usize),
) -> Result<(Segment, crate::speech::Report), crate::error::Failure> {
    let part = round.map_or(Part::Whole, Part::Round);
    prepare_part(script, options, part, engine, live, cache, progress)
}

/// Which part of a session a segment holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The whole session: opening, every round, closing.
    Whole,
    /// Round k of an endless session (with the opening, for the first).
    Round(u32),
    /// The closing of an endless session, after this many rounds.
    Closing(u32),
}

/// As [`prepare`], for any [`Part`].
pub fn prepare_part(
    script: &crate::script::Script,
    options: &crate::timeline::Options,
    part: Part,
    engine: Option<&dyn crate::speech::Engine>,
    live: bool,
    cache: &crate::speech::Cache,
    progress: &mut dyn FnMut(usize, usize, usize),
) -> Result<(Segment, crate::speech::Report), crate::error::Failure> {
    use crate::error::{Failure, code};
    use crate::timeline::{Estimate, compile, compile_closing, compile_round};
    let build = |lengths: &dyn Lengths| match part {
        Part::Round(k) => compile_round(script, options, lengths, k),
        Part::Closing(k) => compile_closing(script, options, lengths, k),
        Part::Whole => compile(script, options, lengths),
    };
    let probe = build(&Estimate::default());
    let mut texts = if live { Vec::new() } else { probe.speech_texts() };
    let mut clips = Clips::default();
    load_sounds(&probe, &mut clips)?;
    // The live controls' notices are spoken by the same voice.
    for n in Notice::ALL {
        if !texts.iter().any(|t| t == n.text()) {
            texts.push(n.text().to_string());
        }
    }
    let (speech, report) = match engine {
        Some(engine) => crate::speech::synthesize_all(engine, cache, &texts, 2, progress).map_err(|e| {
            let f = Failure::new(code::SPEECH, format!("speech failed: {}", e.message));
            match e.hint {
                Some(h) => f.hint(h),
                None => f,
            }
        })?,
        None => Default::default(),
    };
    // Speech is made and cached at the engines' rate; it is brought to the
    // session's here, once.
    let speech: HashMap<String, Arc<[i16]>> = speech
        .into_iter()
        .map(|(text, clip)| (text, crate::resample::clip(&clip, crate::speech::SAMPLE_RATE, SAMPLE_RATE).into()))
        .collect();
    clips.notices = Notice::ALL.iter().filter_map(|&n| speech.get(n.text()).map(|c| (n, c.clone()))).collect();
    clips.speech = speech;
    let timeline = build(&clips);
    Ok((Segment::new(timeline, Arc::new(clips)), report))
}

/// Loads the chimes and sound files a timeline plays into `clips`.
fn load_sounds(timeline: &Timeline, clips: &mut Clips) -> Result<(), crate::error::Failure> {
    for e in &timeline.events {
        match &e.sound {
            Sound::Chime(c) => {
                clips.chimes.entry(*c).or_insert_with(|| crate::sound::chime(*c));
            }
            Sound::File(p) if !clips.files.contains_key(p) => {
                let samples = crate::sound::load_file(p).map_err(crate::error::Failure::io)?;
                clips.files.insert(p.clone(), samples);
            }
            _ => {}
        }
    }
    Ok(())
}

/// The lengths of the speech made so far, and a guess for the rest.
struct SoFar<'a>(&'a Clips);

impl Lengths for SoFar<'_> {
    fn speech(&self, text: &str) -> u64 {
        self.0.speech.get(text).map_or_else(|| crate::timeline::Estimate::default().speech(text), |c| c.len() as u64)
    }
    fn chime(&self, chime: Chime) -> u64 {
        self.0.chime(chime)
    }
    fn sound(&self, path: &std::path::Path) -> u64 {
        self.0.sound(path)
    }
    fn exact(&self) -> bool {
        false
    }
}

/// How far a timeline built by [`SoFar`] can play with the speech `made`:
/// up to the first cue not made, moved back to the start of a spoken step
/// (a cue in a hold not made stops the session before the hold's own
/// cue), so a wait for speech falls between steps, never inside a hold.
/// Everything before it was timed from real lengths only, since a
/// timeline is built from the start on. A cue that did not fit its hold
/// (`unspoken`) and is not made yet could still fit once it is, so it
/// stops the session before the first hold.
pub fn ready_until(timeline: &Timeline, made: &dyn Fn(&str) -> bool) -> u64 {
    let missing = timeline.events.iter().find(|e| matches!(&e.sound, Sound::Speech(t) if !made(t)));
    let mut limit = missing.map_or(timeline.total, |e| e.start);
    if timeline.unspoken.iter().any(|t| !made(t))
        && let Some(hold) = timeline.events.iter().find(|e| matches!(e.sound, Sound::Hold | Sound::Strokes(_)))
    {
        limit = limit.min(hold.start);
    }
    if limit >= timeline.total && missing.is_none() {
        return timeline.total;
    }
    timeline
        .events
        .iter()
        .filter(|e| !e.overlay && e.start <= limit && matches!(e.sound, Sound::Speech(_)))
        .map(|e| e.start)
        .next_back()
        .unwrap_or(0)
}

/// As [`prepare_part`], for a session that starts before all its speech is
/// made: the cues are made in the order they are heard (the first one
/// first, then the controls' notices, then the rest), and `ready` gets the
/// segment as soon as it can start — with [`Segment::ready`] saying how far
/// it can play, and a timeline estimated beyond — then fuller versions of
/// it as more is made, at most every [`GROW_EVERY`], and last the whole
/// segment, exactly what [`prepare_part`] makes. When every cue comes from
/// the cache within [`CACHE_PATIENCE`], `ready` gets the whole segment only. `ready` returns `false` when nobody listens any more,
/// which stops the work.
pub fn prepare_growing(
    script: &crate::script::Script,
    options: &crate::timeline::Options,
    part: Part,
    engine: &dyn crate::speech::Engine,
    cache: &crate::speech::Cache,
    ready: &mut dyn FnMut(Segment) -> bool,
) -> Result<crate::speech::Report, crate::error::Failure> {
    use crate::error::{Failure, code};
    use crate::timeline::{Estimate, compile, compile_closing, compile_round};
    let build = |lengths: &dyn Lengths| match part {
        Part::Round(k) => compile_round(script, options, lengths, k),
        Part::Closing(k) => compile_closing(script, options, lengths, k),
        Part::Whole => compile(script, options, lengths),
    };
    let probe = build(&Estimate::default());
    let mut clips = Clips::default();
    load_sounds(&probe, &mut clips)?;
    let mut texts = probe.speech_texts();
    let notices = Notice::ALL.iter().map(|n| n.text().to_string()).filter(|n| !texts.contains(n));
    let at = texts.len().min(1);
    texts.splice(at..at, notices.collect::<Vec<_>>());
    // How far the last segment handed out could play; `None` before any.
    let mut shown: Option<u64> = None;
    let mut last = std::time::Instant::now();
    let began = last;
    let mut listening = true;
    let trace = |what: &str| {
        if crate::timing() {
            eprintln!("timing: {what} {} ms after start", crate::started().elapsed().as_millis());
        }
    };
    trace("making speech");
    let mut take = |text: &str, clip: &[i16], cached: bool| {
        let clip: Arc<[i16]> = crate::resample::clip(clip, crate::speech::SAMPLE_RATE, SAMPLE_RATE).into();
        if let Some(n) = Notice::ALL.iter().find(|n| n.text() == text) {
            clips.notices.insert(*n, clip.clone());
        }
        clips.speech.insert(text.to_string(), clip);
        // Start early when a cue had to be made, or reading the cache takes
        // a while (a long routine); after that, grow only now and then.
        let due = match shown {
            None => !cached || began.elapsed() >= CACHE_PATIENCE,
            Some(_) => last.elapsed() >= GROW_EVERY,
        };
        if !due || !listening {
            return listening;
        }
        let timeline = build(&SoFar(&clips));
        let until = ready_until(&timeline, &|t| clips.speech.contains_key(t));
        if until > 0 && shown.is_none_or(|s| until > s) && until < timeline.total {
            if shown.is_none() {
                trace("the session can start");
            }
            shown = Some(until);
            last = std::time::Instant::now();
            let segment = Segment { timeline, clips: Arc::new(clips.clone()), ready: Some(until) };
            listening = ready(segment);
        }
        listening
    };
    // The first cue alone first, so that it is not queued behind another
    // at the voice; then the rest on two threads.
    let first = texts.len().min(1);
    let result = crate::speech::synthesize_each(engine, cache, &texts[..first], 1, &mut take).and_then(|a| {
        let b = crate::speech::synthesize_each(engine, cache, &texts[first..], 2, &mut take)?;
        Ok(crate::speech::Report {
            from_cache: a.from_cache + b.from_cache,
            synthesized: a.synthesized + b.synthesized,
            cache_errors: [a.cache_errors, b.cache_errors].concat(),
        })
    });
    let report = result.map_err(|e| {
        let f = Failure::new(code::SPEECH, format!("speech failed: {}", e.message));
        match e.hint {
            Some(h) => f.hint(h),
            None => f,
        }
    })?;
    trace("all speech ready");
    if listening {
        let timeline = build(&clips);
        ready(Segment::new(timeline, Arc::new(clips)));
    }
    Ok(report)
}

/// How often a segment still being made is handed out again, grown.
pub const GROW_EVERY: Duration = Duration::from_millis(150);

/// How long to wait for every cue to come from the cache before starting
/// with those read so far.
pub const CACHE_PATIENCE: Duration = Duration::from_millis(25);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::load;
    use crate::speech::Engine;
    use crate::speech::fake::FakeEngine;
    use crate::timeline::{Options, compile};

    fn segment(steps: &str, options: Options) -> Arc<Segment> {
        let src = format!("Routine(title: \"T\", summary: \"S\", defaults: (hold: \"2s\"), steps: [{steps}])");
        let (script, diags) = load(&src, None, "t");
        let script = script.unwrap_or_else(|| panic!("{diags:?}"));
        // Speech lengths come from the fake engine, chimes from the real files.
        let probe = compile(&script, &options, &crate::timeline::Estimate::default());
        let mut clips = Clips::default();
        for e in &probe.events {
            match &e.sound {
                Sound::Speech(t) => {
                    clips.speech.insert(t.clone(), FakeEngine::default().synthesize(t).unwrap().into());
                }
                Sound::Chime(c) => {
                    clips.chimes.insert(*c, crate::sound::chime(*c));
                }
                _ => {}
            }
        }
        let timeline = compile(&script, &options, &clips);
        Arc::new(Segment::new(timeline, Arc::new(clips)))
    }

    /// A routine whose second-to-last cue sounds inside a hold.
    const GROWING: &str = r#"Routine(title: "T", summary: "S", defaults: (hold: "2s"),
        steps: [Say("a"), Pause("1s"), Say("see"), Hold(cues: [At("1s", "b")]), Say("dee"), Pause("500ms")])"#;

    #[test]
    fn a_session_is_ready_up_to_the_first_cue_not_made_and_never_stops_inside_a_hold() {
        let script = load(GROWING, None, "t").0.unwrap();
        let t = compile(&script, &Options::default(), &crate::timeline::Estimate::default());
        let start = |text: &str| t.events.iter().find(|e| e.sound == Sound::Speech(text.into())).unwrap().start;
        let until = |missing: &[&str]| ready_until(&t, &|text| !missing.contains(&text));
        assert_eq!(until(&[]), t.total);
        assert_eq!(until(&["dee"]), start("dee"));
        // "b" sounds inside the hold: the wait comes before the hold's cue.
        assert_eq!(until(&["b"]), start("see"));
        assert_eq!(until(&["b", "dee"]), start("see"));
        assert_eq!(until(&["a"]), 0);
    }

    #[test]
    fn a_growing_segment_waits_at_its_cue_then_plays_on_as_the_whole_one() {
        let script = load(GROWING, None, "t").0.unwrap();
        let options = Options::default();
        let engine = FakeEngine::default();
        let mut made = Vec::new();
        let cache = crate::speech::Cache::none();
        prepare_growing(&script, &options, Part::Whole, &engine, &cache, &mut |s| {
            made.push(Arc::new(s));
            true
        })
        .unwrap();
        // Handed out once the first cue was made, then whole.
        let (first, whole) = (made[0].clone(), made.last().unwrap().clone());
        let ready = first.ready.expect("the first is partial");
        let first_missing = first.timeline.events.iter().position(|e| match &e.sound {
            Sound::Speech(t) => !first.clips.speech.contains_key(t),
            _ => false,
        });
        assert_eq!(Some(ready), first_missing.map(|i| first.timeline.events[i].start));
        assert!(first.timeline.estimated);
        // The whole one is exactly what `prepare` makes, as render plays it.
        let (prepared, _) =
            prepare_part(&script, &options, Part::Whole, Some(&engine), false, &cache, &mut |_, _, _| {}).unwrap();
        assert_eq!(*whole, prepared);

        // Played from the partial segment: up to `ready`, then silence
        // while it waits, then on, once it has grown, as the whole one.
        let expected = render(&whole, &Control::new(1.0));
        let control = Control::new(1.0);
        let mut stream = Stream::new(first.clone(), None, control.clone());
        let mut out = Vec::new();
        while !control.is_starved() {
            out.push(stream.next_frame().unwrap()[0]);
        }
        out.extend((0..2000).map(|_| stream.next_frame().unwrap()[0]));
        assert_eq!(control.position(), (0, ready), "waits at the cue");
        control.grow(whole);
        out.extend(left(&mut stream));
        let wait = out.len() - expected.len();
        let ready = ready as usize;
        assert!(wait >= 2000, "{wait}");
        assert_eq!(out[..ready], expected[..ready]);
        assert!(out[ready..ready + wait].iter().all(|&x| x == 0.0));
        assert_eq!(out[ready + wait..], expected[ready..]);
    }

    #[test]
    fn a_skip_past_what_is_made_stops_at_the_cue_not_made() {
        let script = load(GROWING, None, "t").0.unwrap();
        let engine = FakeEngine::default();
        let mut made = Vec::new();
        prepare_growing(&script, &Options::default(), Part::Whole, &engine, &crate::speech::Cache::none(), &mut |s| {
            made.push(Arc::new(s));
            true
        })
        .unwrap();
        let first = made[0].clone();
        let ready = first.ready.unwrap();
        let control = Control::new(1.0);
        let mut stream = Stream::new(first.clone(), None, control.clone());
        stream.next_frame();
        // The next step by the estimated timeline lies beyond: the skip
        // lands at the first cue not made, and waits there.
        control.seek(first.timeline.total);
        let out: Vec<f32> = (0..2000).map(|_| stream.next_frame().unwrap()[0]).collect();
        assert_eq!(control.position(), (0, ready));
        // What was playing faded out, then silence.
        assert!(out[1000..].iter().all(|&x| x == 0.0));
        assert!(control.is_starved());
    }

    /// The left channel: all of a session with nothing in `Sides`.
    fn left(stream: &mut Stream) -> impl Iterator<Item = f32> + '_ {
        std::iter::from_fn(move || stream.next_frame().map(|[l, _]| l))
    }

    fn render(seg: &Arc<Segment>, control: &Arc<Control>) -> Vec<f32> {
        left(&mut Stream::new(seg.clone(), None, control.clone())).collect()
    }

    #[test]
    fn every_clip_starts_on_its_sample_and_silence_is_silent() {
        let seg =
            segment(r#"Say("ab"), Pause("1s"), Chime("tick"), Hold(cues: [At("500ms", "c")])"#, Options::default());
        let out = render(&seg, &Control::new(1.0));
        assert_eq!(out.len() as u64, seg.timeline.total);
        let mut covered = vec![false; out.len()];
        for e in &seg.timeline.events {
            if let Some(clip) = seg.clips.for_sound(&e.sound) {
                for (i, &s) in clip.iter().enumerate() {
                    let at = e.start as usize + i;
                    assert_eq!(
                        to_i16(out[at]),
                        ((s as f32 / 32768.0) * 32767.0).round() as i16,
                        "{:?} sample {i}",
                        e.sound
                    );
                    covered[at] = true;
                }
            }
        }
        // Everything no clip covers is exactly zero.
        assert!(out.iter().zip(&covered).all(|(&v, &c)| c || v == 0.0));
        // The hold cue sits 500 ms into the hold.
        let hold = seg.timeline.events.iter().find(|e| e.sound == Sound::Hold).unwrap();
        let cue = seg.timeline.events.iter().find(|e| e.sound == Sound::Speech("c".into())).unwrap();
        assert_eq!(cue.start - hold.start, SAMPLE_RATE as u64 / 2);
    }

    #[test]
    fn seeking_and_stopping() {
        let seg = segment(r#"Say("abcd"), Pause("2s"), Say("ef")"#, Options::default());
        let control = Control::new(1.0);
        let mut stream = Stream::new(seg.clone(), None, control.clone());
        // Ten samples in, jump to the last cue.
        for _ in 0..10 {
            stream.next_frame();
        }
        let last = seg.timeline.events.last().unwrap();
        control.seek(last.start);
        // The stream has made the limiter's look-ahead more than it gave
        // out, and takes the seek at the next reporting boundary.
        let rest: Vec<f32> = left(&mut stream).collect();
        let boundary = (10 + LOOKAHEAD as u64 - 1).next_multiple_of(64);
        assert_eq!(rest.len() as u64, boundary - 10 + last.length, "64-sample boundary, then the last cue");
        assert!(control.is_finished());

        let control = Control::new(1.0);
        let mut stream = Stream::new(seg.clone(), None, control.clone());
        stream.next_frame();
        control.stop();
        let tail: Vec<f32> = left(&mut stream).collect();
        assert_eq!(tail.len() as u64, LOOKAHEAD as u64 - 1 + samples(FADE), "what was made ahead, then the fade");
        // The fade ends near silence.
        assert!(tail.last().unwrap().abs() < 0.01);
    }

    #[test]
    fn pause_holds_time_still_and_notices_still_play() {
        // One clip of constant level, three seconds long.
        let mut clips = Clips::default();
        clips.speech.insert("a".into(), vec![1000i16; 3 * SAMPLE_RATE as usize].into());
        let (script, _) = load(r#"Routine(title: "T", summary: "S", steps: [Say("a")])"#, None, "t");
        let timeline = compile(&script.unwrap(), &Options::default(), &clips);
        let total = timeline.total;
        let seg = Arc::new(Segment::new(timeline, Arc::new(clips)));
        let control = Control::new(1.0);
        let mut stream = Stream::new(seg, None, control.clone());
        let level = |v: f32| (v * 32768.0).round() as i16;
        let mut take = |n: usize| -> Vec<i16> { left(&mut stream).take(n).map(level).collect() };

        assert!(take(1000).iter().all(|&v| v == 1000));
        control.pause();
        let fading = take(2000);
        let ramp = samples(RAMP) as usize + 64 + LOOKAHEAD;
        assert!(fading[ramp..].iter().all(|&v| v == 0), "silent once the ramp is done");
        let held = control.position().1;
        assert!(take(5000).iter().all(|&v| v == 0));
        assert_eq!(control.position().1, held, "a paused session's time stands still");

        // A notice plays while paused.
        control.notify(vec![500i16; 100].into());
        let with_notice = take(300);
        assert_eq!(with_notice.iter().filter(|&&v| v == 500).count(), 100);

        control.resume(1000);
        let lead = take(1000);
        assert!(lead.iter().all(|&v| v == 0), "the lead-in is silent");
        let rest: Vec<i16> = take(usize::MAX);
        assert_eq!(*rest.last().unwrap(), 1000, "the clip goes on where it stopped");
        // All of the clip was played: the session's time only moved while it sounded.
        let sounding =
            1000 + fading.iter().filter(|&&v| v != 0).count() as u64 + rest.iter().filter(|&&v| v != 0).count() as u64;
        assert!(sounding.abs_diff(total) < 64 + 2 * samples(RAMP), "{sounding} vs {total}");
    }

    /// A clip of a sine wave at `hz`, `level` of full scale, from zero.
    fn sine(hz: f32, level: f32, len: Duration) -> Arc<[i16]> {
        let w = 2.0 * std::f32::consts::PI * hz / SAMPLE_RATE as f32;
        (0..samples(len)).map(|i| ((i as f32 * w).sin() * level * 32767.0).round() as i16).collect()
    }

    /// Cues "a" and "b" spoken as sines (200 and 300 Hz at half scale),
    /// with steps written around them.
    fn sines(steps: &str) -> Arc<Segment> {
        let mut clips = Clips::default();
        clips.speech.insert("a".into(), sine(200.0, 0.5, Duration::from_secs(2)));
        clips.speech.insert("b".into(), sine(300.0, 0.5, Duration::from_secs(1)));
        let (script, d) = load(&format!(r#"Routine(title: "T", summary: "S", steps: [{steps}])"#), None, "t");
        let timeline = compile(&script.unwrap_or_else(|| panic!("{d:?}")), &Options::default(), &clips);
        Arc::new(Segment::new(timeline, Arc::new(clips)))
    }

    /// The largest step from one sample to the next.
    fn max_step(out: &[f32]) -> f32 {
        out.windows(2).map(|w| (w[1] - w[0]).abs()).fold(0.0, f32::max)
    }

    /// Plays `seg` for `before` samples, seeks to `target`, plays a second
    /// more; returns what played and the sample the seek was taken at.
    #[track_caller]
    fn skip(seg: &Arc<Segment>, before: usize, target: u64) -> (Vec<f32>, usize) {
        let control = Control::new(1.0);
        let mut stream = Stream::new(seg.clone(), None, control.clone());
        let mut out: Vec<f32> = left(&mut stream).take(before).collect();
        control.seek(target);
        out.extend(left(&mut stream).take(SAMPLE_RATE as usize));
        // The stream made the limiter's look-ahead more than it gave out,
        // and takes the seek at its next reporting boundary.
        let at = (before + LOOKAHEAD - 1).next_multiple_of(64);
        let uncut: Vec<f32> = render(seg, &Control::new(1.0));
        assert_eq!(out[..at], uncut[..at], "the same until the seek");
        // A half-scale sine steps by at most 0.029 a sample at 200 Hz,
        // 0.043 at 300 Hz, so 0.072 both at once; a cut mid-wave is a step
        // of up to 0.5.
        assert!(max_step(&out) < 0.08, "a step of {} at a skip", max_step(&out));
        (out, at)
    }

    #[test]
    fn a_skip_fades_out_what_it_cuts() {
        let seg = sines(r#"Say("a"), Pause("2s"), Say("b")"#);
        let pause = seg.timeline.events.iter().find(|e| e.sound == Sound::Silence).unwrap().start;
        // Cut "a" partway, onto the silent pause: what remains is the fade.
        let (out, at) = skip(&seg, 5_000, pause);
        let a = &seg.clips.speech["a"];
        let heard = out[at..].iter().rposition(|&v| v != 0.0).unwrap();
        let fade = samples(SKIP_FADE) as usize;
        assert!(heard + 1 >= samples(Duration::from_millis(5)) as usize, "faded over {heard} samples");
        assert!(heard < fade, "silent after {heard} samples");
        // The envelope only falls: each sample is the cut clip scaled by
        // less than the one before.
        let mut last = 1.0f32;
        for (i, &v) in out[at..at + heard].iter().enumerate() {
            let s = a[at + i] as f32 / 32768.0;
            if s.abs() > 0.05 {
                let gain = v / s;
                assert!(gain <= last + 1e-4 && gain > 0.0, "gain {gain} after {last} at {i}");
                last = gain;
            }
        }

        // Cut "a" onto "b": "b" starts from its first sample, under the fade.
        let b_start = seg.timeline.events.iter().find(|e| e.sound == Sound::Speech("b".into())).unwrap().start;
        let (out, at) = skip(&seg, 5_000, b_start);
        let b = &seg.clips.speech["b"];
        for i in fade..SAMPLE_RATE as usize / 2 {
            assert_eq!(to_i16(out[at + i]), to_i16(b[i] as f32 / 32768.0), "sample {i} of b");
        }
    }

    #[test]
    fn a_skip_into_the_middle_of_a_clip_fades_it_in() {
        let seg = sines(r#"Pause("1s"), Say("a")"#);
        let a_start = seg.timeline.events.iter().find(|e| e.sound == Sound::Speech("a".into())).unwrap().start;
        // From the silent pause to 37 samples past a crest of "a".
        let (out, at) = skip(&seg, 5_000, a_start + SAMPLE_RATE as u64 / 800 + 37);
        assert!(out[..at].iter().all(|&v| v == 0.0));
        assert!(out[at + samples(SKIP_FADE) as usize..].iter().any(|&v| v.abs() > 0.45), "at full level after");
    }

    #[test]
    fn the_limiter_holds_loud_volumes_under_full_scale() {
        // A sine at 90 % of full scale, sharply after silence, at twice the
        // volume: 1.8 before the limiter.
        let mut clips = Clips::default();
        let loud = sine(150.0, 0.9, Duration::from_secs(2));
        clips.speech.insert("a".into(), loud.clone());
        let (script, _) = load(r#"Routine(title: "T", summary: "S", steps: [Pause("1s"), Say("a")])"#, None, "t");
        let timeline = compile(&script.unwrap(), &Options::default(), &clips);
        let seg = Arc::new(Segment::new(timeline, Arc::new(clips)));
        #[track_caller]
        fn check(out: &[f32], unity: &[f32]) {
            let peak = out.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            assert!(peak <= CEILING + 1e-4, "peak {peak}");
            let energy = |s: &[f32]| s.iter().map(|v| v * v).sum::<f32>();
            assert!(energy(out) > 1.1 * energy(unity), "louder than at unity");
            // The gain moves smoothly: no step much beyond the sine's own
            // (1.8 × 2π × 150 / 22 050 = 0.077).
            assert!(max_step(out) < 0.1, "a step of {}", max_step(out));
        }
        let unity = render(&seg, &Control::new(1.0));
        check(&render(&seg, &Control::new(2.0)), &unity);
        // The volume raised mid-sound, as the + key does.
        let control = Control::new(1.0);
        let mut stream = Stream::new(seg.clone(), None, control.clone());
        let mut out: Vec<f32> = left(&mut stream).take(SAMPLE_RATE as usize * 3 / 2).collect();
        control.set_volume(2.0);
        out.extend(left(&mut stream));
        check(&out, &unity);
    }

    #[test]
    fn a_wait_is_silence_in_a_render_and_holds_a_live_stream_until_released() {
        let seg = segment(r#"Wait(text: "ready", timeout: "1s"), Say("go")"#, Options::default());
        let wait = seg.timeline.events.iter().find(|e| matches!(e.sound, Sound::Wait { .. })).unwrap().clone();
        let go = seg.timeline.events.last().unwrap().clone();
        // Rendered: the timeout's length of silence, then the next cue.
        let out = render(&seg, &Control::new(1.0));
        assert_eq!(out.len() as u64, seg.timeline.total);
        assert_eq!(wait.length, SAMPLE_RATE as u64);
        assert!(out[wait.start as usize..wait.end() as usize].iter().all(|&v| v == 0.0));

        // Live: the stream stands still at the wait, however long, and asks
        // the player to time it.
        let control = Control::new(1.0);
        control.hold_at_waits();
        let mut stream = Stream::new(seg.clone(), None, control.clone());
        let before: Vec<f32> = left(&mut stream).take(wait.start as usize + 5 * SAMPLE_RATE as usize).collect();
        let request = control.wait_requests().try_recv().expect("the wait is announced");
        assert_eq!((request.text.as_str(), request.timeout), ("ready", Some(Duration::from_secs(1))));
        assert!(before[wait.start as usize..].iter().all(|&v| v == 0.0), "silent while waiting");
        assert_eq!(control.position().1, wait.start, "time stands still");
        assert_eq!(control.waiting_at(), seg.timeline.events.iter().position(|e| *e == wait));
        // Released: straight on to the next cue, not through the wait's silence.
        control.release(request.gate);
        let rest: Vec<f32> = left(&mut stream).collect();
        assert!(rest.len() as u64 <= go.length + 64, "{} vs {}", rest.len(), go.length);
        assert!(rest.iter().any(|&v| v != 0.0), "the next cue plays");
    }

    /// A session of constant-level clips, one level per text, so the
    /// output shows what played.
    fn levels(src: &str, options: Options) -> Arc<Segment> {
        let (script, d) = load(src, None, "t");
        let script = script.unwrap_or_else(|| panic!("{d:?}"));
        let probe = compile(&script, &options, &crate::timeline::Estimate::default());
        let mut clips = Clips::default();
        for (i, t) in probe.speech_texts().into_iter().enumerate() {
            clips.speech.insert(t, vec![100 * (i as i16 + 1); SAMPLE_RATE as usize / 10].into());
        }
        let timeline = compile(&script, &options, &clips);
        Arc::new(Segment::new(timeline, Arc::new(clips)))
    }

    /// The texts heard, in order, from a stream's levels: a level held
    /// for a while (not passed through in a fade) is its clip.
    fn heard(seg: &Segment, out: &[f32]) -> Vec<String> {
        let levels: Vec<i16> = out.iter().map(|&v| (v * 32768.0).round() as i16).collect();
        let mut said = Vec::new();
        for run in levels.chunk_by(|a, b| a == b).filter(|r| r.len() > 50 && r[0] != 0) {
            said.extend(seg.clips.speech.iter().find(|(_, c)| c[0] == run[0]).map(|(t, _)| t.clone()));
        }
        said
    }

    #[test]
    fn finishing_the_round_goes_on_to_the_closing() {
        let src = r#"Routine(title: "T", summary: "S", opening: [Say("hi")],
            steps: [Say("a{round}"), Say("b{round}")], closing: [Say("bye")])"#;
        let seg = levels(src, Options { rounds: Some(3), ..Options::default() });
        let control = Control::new(1.0);
        let mut stream = Stream::new(seg.clone(), None, control.clone());
        // Into round two's first cue, then "finish this round".
        let a2 = seg.timeline.events.iter().find(|e| e.sound == Sound::Speech("a2".into())).unwrap().start;
        let mut out: Vec<f32> = left(&mut stream).take(a2 as usize + 10).collect();
        control.finish_round(None);
        out.extend(left(&mut stream));
        assert_eq!(heard(&seg, &out), ["hi", "a1", "b1", "Round two.", "a2", "b2", "bye"]);

        // An endless session: the round's segment ends, then the closing
        // segment plays instead of another round, and is numbered.
        let script = load(src, None, "t").0.unwrap();
        let one = levels(src, Options { rounds: Some(1), ..Options::default() });
        let closing = Arc::new(Segment::new(
            crate::timeline::compile_closing(&script, &Options::default(), &*one.clips, 1),
            one.clips.clone(),
        ));
        let (tx, rx) = crossbeam_channel::bounded(1);
        tx.send(one.clone()).unwrap();
        let control = Control::new(1.0);
        let mut stream = Stream::new(one.clone(), Some(rx), control.clone());
        let mut out: Vec<f32> = left(&mut stream).take(10).collect();
        control.finish_round(Some(closing.clone()));
        out.extend(left(&mut stream));
        assert_eq!(heard(&one, &out), ["hi", "a1", "b1", "bye"]);
        assert_eq!(control.closing_segment(), Some(1));

        // Asked to finish before the closing was made: the round ends, the
        // stream waits in silence, and the closing plays once it comes.
        let round_one = Arc::new(Segment::new(
            crate::timeline::compile_round(&script, &Options::default(), &*one.clips, 1),
            one.clips.clone(),
        ));
        let endless = |control: &Arc<Control>| {
            let (tx, rx) = crossbeam_channel::bounded(1);
            tx.send(round_one.clone()).unwrap();
            Stream::new(round_one.clone(), Some(rx), control.clone())
        };
        let control = Control::new(1.0);
        let mut stream = endless(&control);
        control.finish_round(None);
        let round = round_one.timeline.total as usize;
        let mut out: Vec<f32> = left(&mut stream).take(round + 48_000).collect();
        assert_eq!(out.len(), round + 48_000, "still going a second after the round");
        assert!(out[round + 100..].iter().all(|&v| v == 0.0), "in silence");
        control.closing_ready(closing.clone());
        out.extend(left(&mut stream));
        assert_eq!(heard(&one, &out), ["hi", "a1", "b1", "bye"]);

        // A closing that never comes: the end, after a while.
        let control = Control::new(1.0);
        let mut stream = endless(&control);
        control.finish_round(None);
        let all = left(&mut stream).count() as u64;
        let round = round_one.timeline.total;
        assert!(all >= round + samples(CLOSING_WAIT), "{all}");
        assert!(all < round + samples(CLOSING_WAIT) + 48_000, "{all}");

        // The output opened again during the closing (the sound server
        // restarted): the new stream plays the rest of the closing and
        // ends with it, not waiting for a closing it already has.
        let control = Control::new(1.0);
        let mut stream = endless(&control);
        control.finish_round(Some(closing.clone()));
        let _ = left(&mut stream).take(round as usize + 100).count();
        assert_eq!(control.closing_segment(), Some(1));
        let (_tx, rx) = crossbeam_channel::bounded::<Arc<Segment>>(1);
        let mut again = Stream::new(closing.clone(), Some(rx), control.clone());
        let rest = left(&mut again).count() as u64;
        assert!(rest < closing.timeline.total + 48_000, "{rest} samples for a closing of {}", closing.timeline.total);
    }

    #[test]
    fn a_skip_fades_out_then_waits_for_its_notice() {
        let seg = levels(r#"Routine(title: "T", summary: "S", steps: [Say("a"), Say("b")])"#, Options::default());
        let control = Control::new(1.0);
        let mut stream = Stream::new(seg.clone(), None, control.clone());
        let mut out: Vec<f32> = left(&mut stream).take(100).collect();
        let b = seg.timeline.events[1].start;
        let lead = 1000;
        control.skip(b, lead);
        out.extend(left(&mut stream));
        let level = |v: f32| (v * 32768.0).round() as i16;
        let a = seg.clips.speech["a"][0];
        // The first cue fades rather than stops dead ...
        let fading: Vec<i16> = out[128..128 + samples(RAMP) as usize].iter().map(|&v| level(v)).collect();
        assert!(fading.windows(2).all(|w| w[1] <= w[0]) && fading[0] > 0 && fading[0] <= a, "{fading:?}");
        // ... then silence as long as the notice, then the next cue.
        let gap = out[128..].iter().skip_while(|&&v| v != 0.0).take_while(|&&v| v == 0.0).count();
        assert!(gap as u64 >= lead, "{gap}");
        assert_eq!(heard(&seg, &out), ["a", "b"]);
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
    fn sides_cues_come_from_their_side_and_the_rest_from_the_middle() {
        let mut clips = Clips::default();
        clips.speech.insert("a left".into(), sine(200.0, 0.5, Duration::from_millis(300)));
        clips.speech.insert("a right".into(), sine(200.0, 0.5, Duration::from_millis(300)));
        clips.chimes.insert(Chime::Tick, crate::sound::chime(Chime::Tick));
        let (script, d) =
            load(r#"Routine(title: "T", summary: "S", steps: [Sides([Say("a {side}"), Chime("tick")])])"#, None, "t");
        let timeline = compile(&script.unwrap_or_else(|| panic!("{d:?}")), &Options::default(), &clips);
        let mut seg = Segment::new(timeline, Arc::new(clips));
        let frames = |seg: &Segment| -> Vec<[f32; 2]> {
            let mut stream = Stream::new(Arc::new(seg.clone()), None, Control::new(1.0));
            std::iter::from_fn(|| stream.next_frame()).collect()
        };
        let energy_db = |f: &[[f32; 2]], ch: usize| 10.0 * f.iter().map(|v| v[ch] * v[ch]).sum::<f32>().log10();
        let out = frames(&seg);
        let mut sounds = Vec::new();
        for e in &seg.timeline.events {
            let part = &out[e.start as usize..e.end() as usize];
            sounds.push((e.sound.clone(), energy_db(part, 0) - energy_db(part, 1)));
            if let Sound::Speech(_) = e.sound {
                // The near ear hears the cue exactly as it was levelled.
                let (near, clip) = (
                    usize::from(e.side == Some(crate::script::Side::Right)),
                    &seg.clips.speech[match e.side {
                        Some(crate::script::Side::Left) => "a left",
                        _ => "a right",
                    }],
                );
                assert!(part.iter().zip(clip.iter()).all(|(f, &s)| f[near] == s as f32 / 32768.0));
            }
        }
        let [(_, left), (_, tick_l), (_, right), (_, tick_r)] = &sounds[..] else { panic!("{sounds:?}") };
        // Left louder in the left ear by the pan law's 9.8 dB, right the other way; chimes even.
        assert!((left - 9.76).abs() < 0.05, "left cue: {left} dB");
        assert!((right + 9.76).abs() < 0.05, "right cue: {right} dB");
        assert_eq!((*tick_l, *tick_r), (0.0, 0.0), "chimes centred");

        // pan: false: every frame the same in both ears.
        seg.centre(true);
        assert!(frames(&seg).iter().all(|f| f[0] == f[1]));
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

    #[test]
    fn volume_scales_and_loop_segments_follow_each_other() {
        let seg = segment(r#"Say("a")"#, Options::default());
        let loud = render(&seg, &Control::new(1.0));
        let quiet = render(&seg, &Control::new(0.5));
        assert!((quiet[0] - loud[0] * 0.5).abs() < 1e-6);

        let (tx, rx) = crossbeam_channel::bounded(1);
        tx.send(seg.clone()).unwrap();
        drop(tx);
        let control = Control::new(1.0);
        let two: Vec<f32> = left(&mut Stream::new(seg.clone(), Some(rx), control.clone())).collect();
        assert_eq!(two.len() as u64, 2 * seg.timeline.total);
        assert_eq!(control.position().0, 1);
    }
}
