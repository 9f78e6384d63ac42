//! The [`Stream`]: a session's samples, made as they play. It walks the
//! timeline, mixes and pans the clips that sound at each sample, fades
//! what a skip, stop or pause cuts, glides the volume, and ends with the
//! limiter; rodio plays it as an iterator, a render fills 16-bit buffers
//! from it. It steers by its [`Control`] and never blocks; the segments it
//! plays are made in `prepare.rs`.

use std::num::NonZero;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crossbeam_channel::Receiver;

use super::control::NO_SEEK;
use super::{Control, Segment, SpeakRequest, WaitRequest, gains_for};
use crate::audio::format::{CHANNELS, frames_to_i16, to_i16};
use crate::audio::limiter::{LOOKAHEAD, Limiter};
use crate::audio::resample::ToSession;
use crate::script::timeline::{Event, SAMPLE_RATE, Sound, samples};

/// How long a finished endless session waits for its closing to be made
/// before it ends without it.
pub const CLOSING_WAIT: Duration = Duration::from_secs(30);

/// How long a stop takes to fade out: long enough not to click.
pub const FADE: Duration = Duration::from_millis(60);
/// How long pausing and resuming ramp the sound down and up.
pub const RAMP: Duration = Duration::from_millis(15);

/// How long a clip cut by a skip takes to fade out, and a clip a skip
/// lands in the middle of to fade in: a step from a sounding sample to
/// silence is a click, and 8 ms is too short to hear as a fade.
pub const SKIP_FADE: Duration = Duration::from_millis(8);

/// Frames [`Stream::fill_i16`] mixes at a time in a run: small enough for
/// the stack and the cache.
const BLOCK: usize = 512;

/// How long the volume takes to glide by 1 (a key press moves it by 0.1,
/// in 10 ms).
pub const VOLUME_GLIDE: Duration = Duration::from_millis(100);

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

/// The round a person asked to finish, and where it ends and the closing
/// starts in the segment playing.
#[derive(Debug, Clone, Copy)]
struct Finish {
    round: u32,
    end: u64,
    closing: u64,
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
    /// Once asked to finish the round: which, where it ends and where the
    /// closing starts, in this segment.
    finish: Option<Finish>,
    /// Playing the closing segment of an endless session.
    in_closing: bool,
    /// Frames of silence spent waiting for a closing still being made.
    closing_waited: u64,
    /// Notices sounding: the clip and how far into it.
    notices: Vec<(Arc<[i16]>, usize)>,
    /// Brings each speech clip to the session's rate as it starts.
    to_session: ToSession,
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
            finish: None,
            in_closing,
            closing_waited: 0,
            notices: Vec::new(),
            to_session: ToSession::for_rate(crate::speech::ENGINE_RATE),
            report_every: 64,
            right: None,
            trace_start: crate::trace::timing(),
            timing: crate::trace::timing(),
        }
    }

    /// Steers by its control (takes requests, reports the position) every
    /// `frames` frames rather than every 64: for a render, which nobody
    /// steers, so its runs between events are long.
    pub fn steering_every(mut self, frames: u64) -> Stream {
        self.report_every = frames.max(1);
        self
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
                let clip = self.to_session.clip(&clip);
                self.active.push(Active { clip, start: e.start, fade_in: fade, pan });
            }
        }
        self.next_event = events.partition_point(|e| e.start < target);
    }

    /// The round playing.
    fn round_at(&self) -> u32 {
        let steps = self.events().iter().filter(|e| !e.overlay);
        steps.take_while(|e| e.start <= self.pos).last().map_or(1, |e| e.round)
    }

    /// Where `round` ends in this segment, and where the closing starts:
    /// the end of the segment for both when it holds no closing (an
    /// endless session's round).
    fn finish_of(&self, round: u32) -> Finish {
        use crate::script::Section;
        let t = &self.segment.timeline;
        let steps = || t.events.iter().filter(|e| !e.overlay);
        let closing = steps().find(|e| e.section == Section::Closing).map_or(t.total, |e| e.start);
        let end = steps()
            .find(|e| e.section == Section::Closing || (e.section == Section::Round && e.round > round))
            .map_or(t.total, |e| e.start);
        Finish { round, end, closing }
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

    /// Fills `out` with interleaved 16-bit frames (left, right), as
    /// [`Stream::next_frame`] and [`to_i16`] would one at a time, and
    /// returns how many samples it wrote: fewer than `out` holds only at
    /// the end. `render`'s way: between the events, where nothing but the
    /// clips changes, frames are made in a run without the checks each
    /// frame needs otherwise, and silence (most of a session) a whole
    /// stretch at a time.
    pub fn fill_i16(&mut self, out: &mut [i16]) -> usize {
        debug_assert!(self.right.is_none(), "fill_i16 after a half-taken frame");
        let width = CHANNELS as usize;
        let mut n = 0;
        while out.len() - n >= width {
            let run = self.steady_frames(((out.len() - n) / width) as u64);
            let end = n + run as usize * width;
            if run == 0 {
                let Some(frame) = self.next_frame() else { break };
                out[n..n + width].copy_from_slice(&frame.map(to_i16));
                n += width;
            } else if self.active.is_empty() && self.fading.is_empty() && self.limiter.is_at_rest() {
                self.pass_silence(run);
                out[n..end].fill(0);
                n = end;
            } else if self.fading.is_empty() && self.active.iter().all(|a| a.fade_in == 0) {
                for block in out[n..end].chunks_mut(BLOCK * width) {
                    self.steady_block(block);
                }
                n = end;
            } else {
                for frame in out[n..end].chunks_exact_mut(width) {
                    let x = self.steady_frame();
                    frame.copy_from_slice(&self.limit(x).map(to_i16));
                }
                n = end;
            }
        }
        n
    }

    /// How many of the next frames (at most `max`) need nothing of
    /// [`Stream::make`] but the mixing of the clips ([`Stream::steady_frame`]):
    /// no event starting, nothing held, stopping, gliding or steering, no
    /// notice, and the limiter past its look-ahead. 0 where any of that
    /// does not hold.
    fn steady_frames(&self, max: u64) -> u64 {
        let steady = !self.paused && self.lead_left == 0 && self.pending_skip.is_none() && self.gain == 1.0;
        let free = self.waiting.is_none() && self.fade_left.is_none() && !self.made_all && !self.trace_start;
        let to_steer = self.report_every - self.sent % self.report_every;
        if !(steady && free && self.notices.is_empty())
            || to_steer == self.report_every
            || self.limiter.taken() < LOOKAHEAD as u64
            || self.volume != self.control.volume()
            || self.control.stop.load(Ordering::Relaxed)
        {
            return 0;
        }
        let mut limit = max.min(to_steer).min(self.segment.timeline.total.saturating_sub(self.pos));
        if let Some(next) = self.events().get(self.next_event) {
            limit = limit.min(next.start.saturating_sub(self.pos));
        }
        if let Some(ready) = self.segment.ready {
            limit = limit.min(ready.saturating_sub(self.pos));
        }
        if let Some(f) = self.finish
            && self.pos < f.closing
        {
            limit = limit.min(f.end.saturating_sub(self.pos));
        }
        if limit > 0 && self.control.starved.load(Ordering::Relaxed) {
            // As `session_sample` does on its way to the clips.
            self.control.starved.store(false, Ordering::Release);
        }
        limit
    }

    /// One frame of a run [`Stream::steady_frames`] allowed, as
    /// [`Stream::make`] makes it there.
    fn steady_frame(&mut self) -> [f32; 2] {
        self.sent += 1;
        let [l, r] = self.mix_clips(self.pos);
        self.pos += 1;
        self.scaled([l * self.gain, r * self.gain], 0.0)
    }

    /// [`Stream::steady_frame`] and [`Stream::limit`] for a block of at
    /// most [`BLOCK`] frames of a run, to 16 bits: the same samples, made
    /// clip by clip rather than frame by frame (each frame's sums taken in
    /// the same order), where no clip fades. A render's speed is here.
    fn steady_block(&mut self, out: &mut [i16]) {
        let m = out.len() / CHANNELS as usize;
        let mut frames = [[0.0f32; 2]; BLOCK];
        let frames = &mut frames[..m];
        self.mix_block(frames);
        for x in frames.iter_mut() {
            *x = self.scaled([x[0] * self.gain, x[1] * self.gain], 0.0);
        }
        self.sent += m as u64;
        self.pos += m as u64;
        self.made += m as u64;
        self.limiter.process_block(frames);
        frames_to_i16(frames, out);
    }

    /// [`Stream::mix_clips`] for the `frames.len()` frames from the
    /// position on, where no clip fades in or out: centred clips summed as
    /// integers, panned ones as floats, clip after clip.
    fn mix_block(&mut self, frames: &mut [[f32; 2]]) {
        let m = frames.len();
        let mut sum = [0i32; BLOCK];
        let mut panned = [[0.0f32; 2]; BLOCK];
        for a in &self.active {
            let from = (self.pos - a.start) as usize;
            let samples = &a.clip[from.min(a.clip.len())..a.clip.len().min(from + m)];
            match a.pan {
                None => sum.iter_mut().zip(samples).for_each(|(t, &s)| *t += s as i32),
                Some((l, r)) => panned.iter_mut().zip(samples).for_each(|(t, &s)| {
                    t[0] += s as f32 * l;
                    t[1] += s as f32 * r;
                }),
            }
        }
        let end = self.pos + m as u64;
        self.active.retain(|a| ((end - a.start) as usize) < a.clip.len());
        for ((x, &sum), panned) in frames.iter_mut().zip(&sum).zip(&panned) {
            let centre = sum as f32 / 32768.0;
            *x = [centre; 2];
            if *panned != [0.0; 2] {
                x[0] += panned[0] / 32768.0;
                x[1] += panned[1] / 32768.0;
            }
        }
    }

    /// A frame made, through the limiter: the frame it gives out, once the
    /// look-ahead is full.
    fn limit(&mut self, x: [f32; 2]) -> [f32; 2] {
        self.made += 1;
        let y = self.limiter.process(x);
        [y[0].clamp(-1.0, 1.0), y[1].clamp(-1.0, 1.0)]
    }

    /// The session's frame with the notices over it, at the volume.
    fn scaled(&self, [l, r]: [f32; 2], notice: f32) -> [f32; 2] {
        [(l + notice) * self.volume, (r + notice) * self.volume]
    }

    /// Gives out `n` frames of silence in a run [`Stream::steady_frames`]
    /// allowed, with nothing sounding and the limiter at rest, moving every count as `n` frames of [`Stream::next_frame`]
    /// would.
    fn pass_silence(&mut self, n: u64) {
        self.sent += n;
        self.pos += n;
        self.made += n;
        self.limiter.pass_silence(n);
    }

    /// The next frame: the session's, through the limiter, which gives
    /// out each frame `LOOKAHEAD - 1` frames after it was made.
    pub fn next_frame(&mut self) -> Option<[f32; 2]> {
        if self.trace_start {
            self.trace_start = false;
            eprintln!("timing: first sample taken {} ms after start", crate::trace::started().elapsed().as_millis());
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
            let Some(out) = self.limiter.taken().checked_sub(LOOKAHEAD as u64) else {
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
        Some(self.scaled([l, r], notice))
    }

    /// With `BACKEASE_TIMING`, says when the stream acted on a control.
    fn trace(&self, what: &str) {
        if self.timing {
            eprintln!("timing: stream {what} at {} ms", crate::trace::started().elapsed().as_millis());
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
        if self.finish.is_none() && self.control.is_finishing() {
            self.finish = Some(self.finish_of(self.round_at()));
        }
        while let Ok(clip) = self.control.notices_rx.try_recv() {
            self.notices.push((clip, 0));
        }
        // The same events up to where the old one was ready, so the
        // position, the next event and the clips sounding all carry over.
        while let Ok(grown) = self.control.grown_rx.try_recv() {
            if self.segment.ready.is_some() && !self.in_closing {
                self.segment = grown;
                // The round asked to finish, wherever the stream waits.
                self.finish = self.finish.map(|f| self.finish_of(f.round));
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
                self.finish = self.finish.map(|_| self.finish_of(self.round_at()));
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
        if let Some(f) = self.finish
            && (f.end..f.closing).contains(&self.pos)
            && self.segment.ready.is_none_or(|r| self.pos < r)
        {
            // The round is over: straight on to the closing, or as far
            // towards it as the speech is made (and on once more is).
            self.seek_to(f.closing);
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
                    let clip = self.to_session.clip(&clip);
                    self.active.push(Active { clip, start: e.start, fade_in: 0, pan });
                } else if let Sound::Wait { text, remind, timeout } = &e.sound
                    && self.control.live_waits.load(Ordering::Relaxed)
                {
                    // Time stands still until the person (or the timeout,
                    // which the player keeps) lets it go.
                    self.gates += 1;
                    let request =
                        WaitRequest { gate: self.gates, text: text.to_string(), remind: *remind, timeout: *timeout };
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
                    let _ = self.control.speak_tx.send(SpeakRequest { text: text.to_string(), gate });
                    if gate.is_some() {
                        self.waiting = gate;
                        self.control.gate_event.store(self.next_event as u64, Ordering::Release);
                        return Some([0.0; 2]);
                    }
                }
            }
        }
        let [l, r] = self.mix_clips(pos);
        self.pos += 1;
        Some([l * self.gain, r * self.gain])
    }

    /// The clips sounding at `pos`, mixed: centred ones summed exactly, as
    /// integers; panned ones, and clips fading in or out after a seek, as
    /// scaled floats. Clips that have ended are let go, in order.
    fn mix_clips(&mut self, pos: u64) -> [f32; 2] {
        let mut sum = 0i32;
        let mut panned = [0.0f32; 2];
        let fade = samples(SKIP_FADE) as f32;
        let mut ended = false;
        for a in &mut self.active {
            let Some(&s) = a.clip.get((pos - a.start) as usize) else {
                ended = true;
                continue;
            };
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
        }
        if ended {
            self.active.retain(|a| ((pos - a.start) as usize) < a.clip.len());
        }
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
        let centre = sum as f32 / 32768.0;
        let [mut l, mut r] = [centre; 2];
        if panned != [0.0; 2] {
            l += panned[0] / 32768.0;
            r += panned[1] / 32768.0;
        }
        [l, r]
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::limiter::CEILING;
    use crate::script::Chime;
    use crate::script::load;
    use crate::script::timeline::{Options, compile};
    use crate::session::Clips;
    use crate::session::tests::{left, render, segment};

    #[test]
    fn every_clip_starts_on_its_sample_and_silence_is_silent() {
        let seg =
            segment(r#"Say("ab"), Pause("1s"), Chime("tick"), Hold(cues: [At("500ms", "c")])"#, Options::default());
        let out = render(&seg, &Control::new(1.0));
        assert_eq!(out.len() as u64, seg.timeline.total);
        let mut covered = vec![false; out.len()];
        for e in &seg.timeline.events {
            if let Some(clip) = seg.clips.for_sound(&e.sound) {
                for (i, &s) in clip.at_session_rate().iter().enumerate() {
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
        clips.speech.insert("a".into(), sine(200.0, 0.5, Duration::from_secs(2)).into());
        clips.speech.insert("b".into(), sine(300.0, 0.5, Duration::from_secs(1)).into());
        let (script, d) = load(&format!(r#"Routine(title: "T", summary: "S", steps: [{steps}])"#), None, "t");
        let timeline = compile(&script.unwrap_or_else(|| panic!("{d:?}")), &Options::default(), &clips);
        Arc::new(Segment::new(timeline, Arc::new(clips)))
    }

    /// The 16-bit samples `stream` gives one frame at a time, the way
    /// `play` takes them, and through [`Stream::fill_i16`] in pieces of
    /// `piece` samples, the way `render` does.
    fn frame_by_frame(seg: &Arc<Segment>, volume: f32) -> Vec<i16> {
        let mut stream = Stream::new(seg.clone(), None, Control::new(volume));
        std::iter::from_fn(|| stream.next_frame()).flat_map(|f| f.map(to_i16)).collect()
    }

    fn filled(seg: &Arc<Segment>, volume: f32, piece: usize, steer_every: u64) -> Vec<i16> {
        let mut stream = Stream::new(seg.clone(), None, Control::new(volume)).steering_every(steer_every);
        let (mut out, mut buf) = (Vec::new(), vec![0i16; piece]);
        loop {
            let n = stream.fill_i16(&mut buf);
            out.extend_from_slice(&buf[..n]);
            if n < piece - piece % 2 {
                return out;
            }
        }
    }

    #[test]
    fn filling_a_buffer_gives_the_samples_of_frame_after_frame() {
        // Clips overlapping and ending in a run, panned sides, chimes,
        // silence between; and at volume 4 the limiter at work.
        let steps = r#"Say("a"), Pause("300ms"), Sides([Say("b on the {side}"), Hold(length: "1s", cues: [At("100ms", "a")])]),
            Chime("bell"), Say("b"), Pause("2s"), Say("a")"#;
        let seg = segment(steps, Options::default());
        for volume in [1.0, 0.5, 4.0] {
            let want = frame_by_frame(&seg, volume);
            assert!(want.iter().filter(|&&s| s == 0).count() > want.len() / 4, "silence in it");
            // Steered as a live stream is (runs of at most 64 frames), and
            // as a render is (runs as long as the events allow, mixed in
            // blocks, the limiter's look-ahead copied in a run).
            for (piece, steer_every) in [(2, 64), (7, 64), (128, 64), (1 << 16, 64), (7, 1 << 16), (1 << 16, 1 << 16)] {
                let got = filled(&seg, volume, piece, steer_every);
                assert!(
                    got == want,
                    "volume {volume}, pieces of {piece}, steered every {steer_every}: {} samples, want {}",
                    got.len(),
                    want.len()
                );
            }
        }
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
        let a = seg.clips.speech["a"].samples();
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
        let b = seg.clips.speech["b"].samples();
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
        clips.speech.insert("a".into(), loud.clone().into());
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
        let probe = compile(&script, &options, &crate::script::timeline::Estimate::default());
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
            said.extend(seg.clips.speech.iter().find(|(_, c)| c.samples()[0] == run[0]).map(|(t, _)| t.clone()));
        }
        said
    }

    #[test]
    fn finishing_a_round_while_speech_is_made_goes_on_to_the_closing_once_it_is() {
        // Three rounds, speech made only up to round two's second cue
        // (`b2`) when the person asks to finish in round one: round one
        // ends, the stream waits for the speech, then plays the closing,
        // never round two.
        let src = r#"Routine(title: "T", summary: "S", opening: [Say("hi")],
            steps: [Say("a{round}"), Say("b{round}")], closing: [Say("bye")])"#;
        let whole = levels(src, Options { rounds: Some(3), ..Options::default() });
        let start =
            |text: &str| whole.timeline.events.iter().find(|e| e.sound == Sound::Speech(text.into())).unwrap().start;
        let partial = Arc::new(Segment { ready: Some(start("b2")), ..(*whole).clone() });
        let control = Control::new(1.0);
        let mut stream = Stream::new(partial, None, control.clone());
        let mut out: Vec<f32> = left(&mut stream).take(start("a1") as usize + 10).collect();
        control.finish_round(None);
        while !control.is_starved() {
            out.push(stream.next_frame().unwrap()[0]);
        }
        control.grow(whole.clone());
        out.extend(left(&mut stream));
        assert_eq!(heard(&whole, &out), ["hi", "a1", "b1", "bye"]);
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
            crate::script::timeline::compile_closing(&script, &Options::default(), &*one.clips, 1),
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
            crate::script::timeline::compile_round(&script, &Options::default(), &*one.clips, 1),
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
        let a = seg.clips.speech["a"].samples()[0];
        // The first cue fades rather than stops dead ...
        let fading: Vec<i16> = out[128..128 + samples(RAMP) as usize].iter().map(|&v| level(v)).collect();
        assert!(fading.windows(2).all(|w| w[1] <= w[0]) && fading[0] > 0 && fading[0] <= a, "{fading:?}");
        // ... then silence as long as the notice, then the next cue.
        let gap = out[128..].iter().skip_while(|&&v| v != 0.0).take_while(|&&v| v == 0.0).count();
        assert!(gap as u64 >= lead, "{gap}");
        assert_eq!(heard(&seg, &out), ["a", "b"]);
    }

    #[test]
    fn sides_cues_come_from_their_side_and_the_rest_from_the_middle() {
        let mut clips = Clips::default();
        clips.speech.insert("a left".into(), sine(200.0, 0.5, Duration::from_millis(300)).into());
        clips.speech.insert("a right".into(), sine(200.0, 0.5, Duration::from_millis(300)).into());
        clips.chimes.insert(Chime::Tick, crate::audio::sound::chime(Chime::Tick));
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
                    seg.clips.speech[match e.side {
                        Some(crate::script::Side::Left) => "a left",
                        _ => "a right",
                    }]
                    .samples(),
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
