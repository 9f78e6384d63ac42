//! The [`Control`] a player steers a session's stream through, from any
//! thread: seek, skip, stop, pause, volume, "finish this round", a segment
//! grown or the closing made; and where the stream reports back: its
//! position, the `Wait` steps ([`WaitRequest`]) and the cues for a live
//! voice ([`SpeakRequest`]) it reached. Atomics and channels only: nothing
//! here blocks or makes a sample. The stream that reads it is `stream.rs`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use crossbeam_channel::Receiver;

use super::Segment;

/// Shared between the stream (audio thread) and whoever steers it.
#[derive(Debug)]
pub struct Control {
    /// A requested position in the current segment; `NO_SEEK` when none.
    pub(super) seek: AtomicU64,
    pub(super) stop: AtomicBool,
    /// Gain as f32 bits.
    volume: AtomicU32,
    /// Position in the current segment, in samples.
    pub(super) position: AtomicU64,
    /// How many segments have been finished.
    pub(super) segment: AtomicU32,
    pub(super) finished: AtomicBool,
    /// The session is held still (notices still play).
    pub(super) paused: AtomicBool,
    /// Samples of silence to keep after a resume before the session goes
    /// on: room for the "resuming" notice.
    pub(super) lead_in: AtomicU64,
    /// Clips to mix in now, over whatever plays: the controls' notices.
    notices_tx: crossbeam_channel::Sender<Arc<[i16]>>,
    pub(super) notices_rx: Receiver<Arc<[i16]>>,
    /// Cues with no clip, for a live voice to speak.
    pub(super) speak_tx: crossbeam_channel::Sender<SpeakRequest>,
    speak_rx: Receiver<SpeakRequest>,
    /// The last gate (a spoken step the stream waits at) let through.
    pub(super) released: AtomicU64,
    /// While waiting at a gate: 1 + the index of its event.
    pub(super) gate_event: AtomicU64,
    /// Set by a live player: `Wait` steps hold the stream until released.
    /// Unset (a render), a wait is silence of its rendered length.
    pub(super) live_waits: AtomicBool,
    /// `Wait` steps reached, for the player to time and release.
    pub(super) wait_tx: crossbeam_channel::Sender<WaitRequest>,
    wait_rx: Receiver<WaitRequest>,
    /// A skip that fades out first: the position to go to, `NO_SEEK` when none.
    pub(super) skip: AtomicU64,
    /// "Finish this round, then the closing" was asked for.
    finish: AtomicBool,
    /// The closing of an endless session, sent when it is asked for.
    closing_tx: crossbeam_channel::Sender<Arc<Segment>>,
    pub(super) closing_rx: Receiver<Arc<Segment>>,
    /// The number of the segment that is the closing, once it plays;
    /// `u32::MAX` before.
    pub(super) closing_number: AtomicU32,
    /// Fuller versions of a segment whose speech is still being made.
    grown_tx: crossbeam_channel::Sender<Arc<Segment>>,
    pub(super) grown_rx: Receiver<Arc<Segment>>,
    /// The stream waits at the end of what is made of its segment.
    pub(super) starved: AtomicBool,
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

pub(super) const NO_SEEK: u64 = u64::MAX;

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
