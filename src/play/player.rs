//! The player thread: an actor that owns the output and the session stream.
//!
//! It takes [`PlayerCommand`]s over a channel (pause, resume, next, back, stop,
//! volume, finish the round, go on from a wait, where am I) and sends
//! [`PlayerEvent`]s back (a step started, the position, waiting, finished)
//! for whatever shows the session. It keeps the clocks of a `Wait` step:
//! its reminders and its timeout. The samples themselves are
//! made by `session::Stream` on the audio thread; this thread only steers
//! it through `session::Control` and watches where it is.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, select};

use crate::play::output::Output;
use crate::script::timeline::{Event, samples};
use crate::session::ahead::Upcoming;
use crate::session::{Control, Notice, Segment, Segments, SpeakRequest, Stream, WaitRequest};
use crate::speech::system::SystemVoice;
use crate::threads::Bounded;

#[derive(Debug, Clone, PartialEq)]
pub enum PlayerCommand {
    Pause,
    Resume,
    /// Skip to the start of the next step.
    Next,
    /// Back to the start of this step; pressed twice quickly, the one
    /// before.
    Back,
    /// Say "stopping", fade out and end.
    Stop,
    /// Fade out and end at once, with nothing said: nobody is listening
    /// (the terminal is gone) or the system wants the process gone.
    Halt,
    /// Set the volume, 0.0 to 2.0.
    Volume(f32),
    /// Finish the round playing, then play the closing ("Last round.").
    Finish,
    /// Go on from the `Wait` step the session is waiting at.
    Release,
    /// Say where the session is: the time left in the hold, the round.
    WhereAmI,
    /// Play this clip now, over the session: speech made on request.
    Notify(Arc<[i16]>),
    /// The closing of an endless session, to play once it is finished.
    Closing(Arc<Segment>),
    /// A fuller version of the first segment, whose speech is still being
    /// made (see `session::prepare_growing`).
    Grow(Arc<Segment>),
    /// Nobody can press a key (no keyboard, no media buttons): a `Wait`
    /// with no timeout goes on after [`crate::script::WAIT_RENDERED`], as
    /// in a rendered file, rather than stand still for ever.
    Unattended,
}

#[derive(Debug, Clone, PartialEq)]
pub enum PlayerEvent {
    /// A step began: its index among the segment's events, the event, and
    /// which round (segment) of an endless session it is in.
    Step {
        index: usize,
        event: Event,
        segment: u32,
    },
    /// The next round of an endless session is ready, before its steps.
    Round(Arc<Segment>),
    /// More of the first segment is ready (and, when it is whole, its
    /// real length is known).
    Grown(Arc<Segment>),
    /// Where the session is, about four times a second.
    Position {
        segment: u32,
        sample: u64,
        total: u64,
    },
    Paused,
    Resumed,
    Volume(f32),
    /// The session waits at a `Wait` step (`true`) or went on (`false`).
    Waiting(bool),
    /// The session stands at a cue whose speech is still being made
    /// (`true`: the synthesizer fell behind), or went on (`false`).
    Starved(bool),
    /// The session will finish after this round.
    Finishing,
    /// The closing of an endless session started playing: its segment
    /// number, and the segment.
    Closing(u32, Arc<Segment>),
    /// Words to speak now, made on request (the answer to "where am I"):
    /// whoever runs the player makes the speech and sends it back as
    /// [`PlayerCommand::Notify`].
    Say(String),
    /// The end: played through, or stopped.
    Finished {
        stopped: bool,
    },
    /// The output stopped working (the device or the sound server is
    /// gone), and why: the player tries to open it again for a while.
    Reconnecting(String),
    /// The output is back: the session goes on where it stood.
    Reconnected,
    /// The output stopped working and did not come back: the session ended
    /// there.
    Lost(String),
}

/// A second [`PlayerCommand::Back`] within this long goes to the step before.
pub const BACK_TWICE: Duration = Duration::from_millis(1500);
/// Silence after a skip's notice ("Next.") before the step it skipped to.
pub const NOTICE_GAP: Duration = Duration::from_millis(150);
/// Silence after "resuming" before the session goes on.
pub const LEAD_IN: Duration = Duration::from_millis(400);
/// How long to keep trying to open a lost output again (a sound server
/// restarting) before giving up.
pub const RECONNECT: Duration = Duration::from_secs(5);
/// How long [`Player::join`] waits for the thread to let go of the output
/// (a sound server that hangs can hold a stream's close).
pub const LET_GO: Duration = Duration::from_secs(1);

pub struct Player {
    pub commands: Sender<PlayerCommand>,
    pub events: Receiver<PlayerEvent>,
    thread: Bounded,
}

impl Player {
    /// Starts the thread and the stream. `upcoming` feeds further segments
    /// for an endless session; each is also announced on `announced` so the
    /// thread can follow steps across rounds.
    pub fn spawn(output: Box<dyn Output>, first: Arc<Segment>, upcoming: Option<Upcoming>, volume: f32) -> Player {
        Player::spawn_with_voice(output, first, upcoming, volume, None)
    }

    /// As [`Player::spawn`], with a live system voice that speaks the cues
    /// the segments have no clips for.
    pub fn spawn_with_voice(
        mut output: Box<dyn Output>,
        first: Arc<Segment>,
        upcoming: Option<Upcoming>,
        volume: f32,
        voice: Option<SystemVoice>,
    ) -> Player {
        let (cmd_tx, cmd_rx) = crossbeam_channel::unbounded();
        let (ev_tx, ev_rx) = crossbeam_channel::unbounded();
        let thread = Bounded::spawn("backease-player", move || {
            let control = Control::new(volume);
            let (stream_rx, announced) = match upcoming {
                Some(u) => (Some(u.stream), Some(u.announced)),
                None => (None, None),
            };
            output.start(Stream::new(first.clone(), stream_rx.clone(), control.clone()));
            let mut actor = Actor {
                output,
                upcoming: stream_rx,
                control,
                segments: Segments::new(first),
                announced,
                events: ev_tx,
                step: None,
                paused: false,
                last_back: None,
                voice,
                pending: None,
                closing: None,
                closings: Vec::new(),
                finishing: None,
                wait: None,
                paused_at: None,
                closing_told: false,
                starved: false,
                retired: None,
                unattended: false,
            };
            actor.control.hold_at_waits();
            actor.run(cmd_rx);
        })
        .expect("spawn the player thread");
        Player { commands: cmd_tx, events: ev_rx, thread }
    }

    /// Waits for the thread to end (after `Finished`), up to [`LET_GO`]:
    /// `false` if it still holds the output then, and is left behind.
    #[must_use = "a player left behind is said so"]
    pub fn join(self) -> bool {
        self.thread.join_within(LET_GO)
    }
}

struct Actor {
    output: Box<dyn Output>,
    /// Further segments for the stream, kept to start a new stream on an
    /// output opened again.
    upcoming: Option<Receiver<Arc<Segment>>>,
    control: Arc<Control>,
    /// Segments seen so far, by number (an endless session keeps the last
    /// two; older ones are dropped).
    segments: Segments,
    announced: Option<Receiver<Arc<Segment>>>,
    events: Sender<PlayerEvent>,
    /// (segment, index) of the step playing.
    step: Option<(u32, usize)>,
    paused: bool,
    /// When Back was last pressed, for "twice quickly".
    last_back: Option<Instant>,
    voice: Option<SystemVoice>,
    /// The spoken step the stream waits at.
    pending: Option<Pending>,
    /// The closing of an endless session that plays, once the person
    /// asked to finish.
    closing: Option<Arc<Segment>>,
    /// The closings made so far, by the number of rounds they count
    /// (`{rounds}`); one, for 1, when the words do not count them.
    closings: Vec<Arc<Segment>>,
    /// The round the person asked to finish with.
    finishing: Option<u32>,
    /// The `Wait` step the stream holds at.
    wait: Option<Waiting>,
    /// When the session was paused, to move a wait's clocks on.
    paused_at: Option<Instant>,
    /// Whether the closing segment was announced.
    closing_told: bool,
    /// Whether the stream was last seen waiting for speech still being made.
    starved: bool,
    /// The segment a grown one replaced, kept until the stream has let go.
    retired: Option<Arc<Segment>>,
    /// Nobody can press a key: waits time out (see [`PlayerCommand::Unattended`]).
    unattended: bool,
}

/// A `Wait` step being held at, and its clocks.
struct Waiting {
    request: WaitRequest,
    /// When to say the text again.
    remind_at: Option<Instant>,
    /// When to go on by itself.
    give_up: Option<Instant>,
}

/// How an attempt to open a lost output again ended.
enum Reconnect {
    Done,
    Stopped,
    /// Why the output was lost.
    GaveUp(String),
}

struct Pending {
    gate: u64,
    text: String,
    /// The utterance speaking it, if the voice took it.
    id: Option<String>,
    /// When to stop waiting for the end callback and carry on.
    give_up: Instant,
}

/// The starts of a segment's steps and which one plays: where
/// [`PlayerCommand::Next`] and [`PlayerCommand::Back`] go.
#[derive(Debug)]
struct Steps {
    starts: Vec<u64>,
    /// The segment's length.
    total: u64,
    /// The step playing: the last to start at or before the sample (the
    /// first, before any has started).
    current: usize,
}

impl Steps {
    fn new(starts: Vec<u64>, total: u64, sample: u64) -> Steps {
        let current = starts.iter().rposition(|&s| s <= sample).unwrap_or(0);
        Steps { starts, total, current }
    }

    /// The start of the next step; the end of the segment after the last.
    fn next(&self) -> u64 {
        self.starts.get(self.current + 1).copied().unwrap_or(self.total)
    }

    /// The start of the step before this one, if there is one.
    fn before(&self) -> Option<u64> {
        self.current.checked_sub(1).and_then(|i| self.starts.get(i).copied())
    }

    /// The start of this step. An empty segment (a loop's closing with no
    /// steps) has no step to go back to: its start.
    fn this(&self) -> u64 {
        self.starts.get(self.current).copied().unwrap_or(0)
    }
}

impl Actor {
    /// Takes commands and the stream's requests until the session ends:
    /// stopped, played through, or its output lost.
    fn run(&mut self, commands: Receiver<PlayerCommand>) {
        // Commands wake the thread at once; the tick only notices new steps
        // and the end, so it can be slow enough to cost next to nothing.
        let tick = crossbeam_channel::tick(Duration::from_millis(40));
        let mut last_position = Instant::now() - Duration::from_secs(1);
        let speak_requests = self.control.speak_requests().clone();
        let wait_requests = self.control.wait_requests().clone();
        let ended = self.voice.as_ref().map_or_else(crossbeam_channel::never, |v| v.ended.clone());
        loop {
            select! {
                recv(commands) -> cmd => match cmd {
                    Ok(cmd @ (PlayerCommand::Stop | PlayerCommand::Halt)) => return self.stop_and_report(cmd == PlayerCommand::Stop),
                    Err(_) => return self.stop_and_report(false),
                    Ok(cmd) => self.handle(cmd),
                },
                recv(speak_requests) -> req => {
                    if let Ok(req) = req {
                        self.speak(req);
                    }
                }
                recv(wait_requests) -> req => {
                    if let Ok(request) = req {
                        self.begin_wait(request);
                    }
                }
                recv(ended) -> id => {
                    if let Ok(id) = id {
                        self.spoken(&id);
                    }
                }
                recv(tick) -> _ => {}
            }
            self.keep_waiting();
            // An end callback that never comes: carry on regardless.
            if self.pending.as_ref().is_some_and(|p| !self.paused && Instant::now() > p.give_up) {
                self.release();
            }
            self.watch();
            if last_position.elapsed() >= Duration::from_millis(250) {
                last_position = Instant::now();
                self.report_position();
            }
            if self.is_over(&commands) {
                return;
            }
        }
    }

    /// Stops, saying "stopping" if `say`, and reports the end.
    fn stop_and_report(&mut self, say: bool) {
        self.stop(say);
        let _ = self.events.send(PlayerEvent::Finished { stopped: true });
    }

    /// Holds at a `Wait` step the stream reached, and starts its clocks.
    fn begin_wait(&mut self, request: WaitRequest) {
        let now = Instant::now();
        let timeout = request.timeout.or(self.unattended.then_some(crate::script::WAIT_RENDERED));
        self.wait =
            Some(Waiting { remind_at: request.remind.map(|r| now + r), give_up: timeout.map(|t| now + t), request });
        let _ = self.events.send(PlayerEvent::Waiting(true));
    }

    /// The live voice finished the utterance `id`: the step it was saying
    /// goes on.
    fn spoken(&mut self, id: &str) {
        if self.pending.as_ref().is_some_and(|p| p.id.as_deref() == Some(id)) {
            self.release();
        }
    }

    /// Says where the session is.
    fn report_position(&mut self) {
        let (segment, sample) = self.control.position();
        let total = self.segment(segment).map_or(0, |s| s.timeline.total);
        let _ = self.events.send(PlayerEvent::Position { segment, sample, total });
    }

    /// Whether the session has ended, reported: its output lost and not
    /// opened again (or stopped meanwhile), or everything played.
    fn is_over(&mut self, commands: &Receiver<PlayerCommand>) -> bool {
        // A device that died takes nothing more: try to open it again,
        // or say so and end.
        if !self.control.is_finished()
            && let Some(why) = self.output.lost()
        {
            let end = match self.reconnect(commands, why) {
                Reconnect::Done => return false,
                Reconnect::Stopped => PlayerEvent::Finished { stopped: true },
                Reconnect::GaveUp(why) => PlayerEvent::Lost(why),
            };
            let _ = self.events.send(end);
            return true;
        }
        if self.control.is_finished() && self.output.drained() {
            // Let the device play out what it has buffered.
            std::thread::sleep(Duration::from_millis(150));
            let _ = self.events.send(PlayerEvent::Finished { stopped: false });
            return true;
        }
        false
    }

    /// Times a `Wait` step: says its text again when a reminder is due,
    /// and goes on when its timeout runs out. Paused, its clocks stand
    /// still (they are moved on by the pause's length on resume).
    fn keep_waiting(&mut self) {
        let Some(w) = self.wait.as_mut() else { return };
        if self.paused {
            return;
        }
        let now = Instant::now();
        if w.give_up.is_some_and(|t| now >= t) {
            self.release_wait();
            return;
        }
        if let (Some(at), Some(every)) = (w.remind_at, w.request.remind)
            && now >= at
        {
            w.remind_at = Some(now + every);
            let text = w.request.text.clone();
            let (segment, _) = self.control.position();
            match self.segment(segment).and_then(|s| s.clips.speech.get(&text).map(|c| c.at_session_rate())) {
                Some(clip) => self.control.notify(clip),
                // The system voice speaks the cues itself, reminders too.
                None => {
                    if let Some(v) = &self.voice {
                        let _ = v.speak(&text);
                    }
                }
            }
        }
    }

    /// Lets the stream go on from the `Wait` step it holds at.
    fn release_wait(&mut self) {
        if let Some(w) = self.wait.take() {
            self.control.release(w.request.gate);
            let _ = self.events.send(PlayerEvent::Waiting(false));
        }
    }

    /// Tries to open a lost output again for [`RECONNECT`], still taking
    /// commands meanwhile, and starts a stream on it where the session
    /// stood, after "resuming" and a breath of silence.
    fn reconnect(&mut self, commands: &Receiver<PlayerCommand>, why: String) -> Reconnect {
        let _ = self.events.send(PlayerEvent::Reconnecting(why.clone()));
        let deadline = Instant::now() + RECONNECT;
        while Instant::now() < deadline {
            match commands.recv_timeout(Duration::from_millis(250)) {
                Ok(PlayerCommand::Stop | PlayerCommand::Halt)
                | Err(crossbeam_channel::RecvTimeoutError::Disconnected) => {
                    return Reconnect::Stopped;
                }
                Ok(cmd) => self.handle(cmd),
                Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
            }
            if self.output.reopen().is_err() {
                continue;
            }
            let (segment, sample) = self.control.position();
            let Some(seg) = self.segment(segment) else { break };
            self.output.start(Stream::new(seg, self.upcoming.clone(), self.control.clone()));
            self.control.seek(sample);
            self.notify(Notice::Resuming);
            if !self.paused {
                let lead = self.notice_length(Notice::Resuming) + samples(LEAD_IN);
                self.control.resume(lead);
            }
            let _ = self.events.send(PlayerEvent::Reconnected);
            return Reconnect::Done;
        }
        Reconnect::GaveUp(why)
    }

    /// The closing for a session finished after `round` rounds: the one
    /// that counts them, else the nearest made before it.
    fn closing_for(&self, round: u32) -> Option<Arc<Segment>> {
        let before = self.closings.iter().rev().find(|c| c.timeline.rounds <= round);
        before.or(self.closings.first()).cloned()
    }

    fn segment(&mut self, number: u32) -> Option<Arc<Segment>> {
        if self.control.closing_segment() == Some(number) {
            return self.closing.clone();
        }
        if let Some(rx) = &self.announced {
            while let Ok(seg) = rx.try_recv() {
                self.segments.push(seg.clone());
                let _ = self.events.send(PlayerEvent::Round(seg));
            }
        }
        self.segments.get(number)
    }

    /// Notices a new step and says so.
    fn watch(&mut self) {
        let starved = self.control.is_starved();
        if starved != self.starved {
            self.starved = starved;
            let _ = self.events.send(PlayerEvent::Starved(starved));
        }
        let (segment, sample) = self.control.position();
        if let (Some(n), Some(closing)) = (self.control.closing_segment(), &self.closing)
            && n == segment
            && !self.closing_told
        {
            self.closing_told = true;
            let _ = self.events.send(PlayerEvent::Closing(n, closing.clone()));
        }
        let Some(seg) = self.segment(segment) else { return };
        // A spoken step a live voice is saying takes no samples: the stream
        // waits at it, and says so. At the end of the timeline no step
        // plays: a session finished early (Enter, with no closing to play)
        // jumps there, past steps that were never heard.
        let playing = || (sample < seg.timeline.total).then(|| seg.timeline.step_at(sample)).flatten();
        let Some(index) = self.control.waiting_at().or_else(playing) else { return };
        if self.step != Some((segment, index)) {
            self.step = Some((segment, index));
            let event = seg.timeline.events[index].clone();
            let _ = self.events.send(PlayerEvent::Step { index, event, segment });
        }
    }

    /// Has the live voice speak a cue; a step's cue holds the stream until
    /// it is spoken.
    fn speak(&mut self, req: SpeakRequest) {
        let id = self.voice.as_ref().and_then(|v| v.speak(&req.text));
        match req.gate {
            Some(gate) if id.is_some() => {
                let give_up = Instant::now() + crate::speech::system::patience(&req.text);
                self.pending = Some(Pending { gate, text: req.text, id, give_up });
            }
            // No voice, or it refused (the service died): go on at once.
            Some(gate) => self.control.release(gate),
            None => {}
        }
    }

    fn release(&mut self) {
        if let Some(p) = self.pending.take() {
            self.control.release(p.gate);
        }
    }

    /// Says a notice, if the session has its clip.
    fn notify(&mut self, notice: Notice) {
        let (segment, _) = self.control.position();
        if let Some(clip) =
            self.segment(segment).and_then(|s| s.clips.notices.get(&notice).map(|c| c.at_session_rate()))
        {
            self.control.notify(clip);
        }
    }

    fn notice_length(&mut self, notice: Notice) -> u64 {
        let (segment, _) = self.control.position();
        self.segment(segment).and_then(|s| s.clips.notices.get(&notice).map(|c| c.len())).unwrap_or(0)
    }

    /// Does what a command asks; [`PlayerCommand::Stop`] and [`PlayerCommand::Halt`]
    /// end the loop and are taken there.
    fn handle(&mut self, cmd: PlayerCommand) {
        match cmd {
            PlayerCommand::Pause => self.pause(),
            PlayerCommand::Resume => self.resume(),
            PlayerCommand::Next => self.next(),
            PlayerCommand::Back => self.back(),
            PlayerCommand::Volume(v) => self.set_volume(v),
            PlayerCommand::Finish => self.finish(),
            PlayerCommand::Release => self.release_wait(),
            PlayerCommand::WhereAmI => self.where_am_i(),
            PlayerCommand::Notify(clip) => self.control.notify(clip),
            PlayerCommand::Closing(segment) => self.add_closing(segment),
            PlayerCommand::Grow(segment) => self.grow(segment),
            PlayerCommand::Unattended => self.go_unattended(),
            PlayerCommand::Stop | PlayerCommand::Halt => {}
        }
    }

    /// Pauses, and says so; nothing if paused already.
    fn pause(&mut self) {
        if self.paused {
            return;
        }
        self.paused_at = Some(Instant::now());
        self.control.pause();
        if let Some(v) = &self.voice {
            v.stop();
        }
        self.notify(Notice::Paused);
        self.paused = true;
        let _ = self.events.send(PlayerEvent::Paused);
    }

    /// Says "resuming", then a breath of silence, then goes on; nothing if
    /// not paused.
    fn resume(&mut self) {
        if !self.paused {
            return;
        }
        // A wait's clocks stood still while paused.
        if let (Some(w), Some(at)) = (self.wait.as_mut(), self.paused_at.take()) {
            let held = at.elapsed();
            w.remind_at = w.remind_at.map(|t| t + held);
            w.give_up = w.give_up.map(|t| t + held);
        }
        self.notify(Notice::Resuming);
        let lead = self.notice_length(Notice::Resuming) + samples(LEAD_IN);
        self.control.resume(lead);
        self.paused = false;
        // A spoken step cut off by the pause is said again.
        if let (Some(v), Some(p)) = (&self.voice, self.pending.as_mut()) {
            p.id = v.speak(&p.text);
            p.give_up = Instant::now() + crate::speech::system::patience(&p.text);
        }
        let _ = self.events.send(PlayerEvent::Resumed);
    }

    /// The steps of the segment playing, and which one plays; `None` when
    /// the segment is not known.
    fn steps_here(&mut self) -> Option<Steps> {
        let (segment, sample) = self.control.position();
        let seg = self.segment(segment)?;
        let starts = seg.timeline.steps().map(|(_, e)| e.start).collect();
        Some(Steps::new(starts, seg.timeline.total, sample))
    }

    /// Skips to the start of the next step.
    fn next(&mut self) {
        let Some(steps) = self.steps_here() else { return };
        self.last_back = None;
        self.skip_to(steps.next(), Notice::Next);
    }

    /// Goes back to the start of this step; pressed twice quickly, to the
    /// one before.
    fn back(&mut self) {
        let Some(steps) = self.steps_here() else { return };
        let again = self.last_back.is_some_and(|t| t.elapsed() < BACK_TWICE);
        let target = match steps.before().filter(|_| again) {
            Some(before) => {
                self.last_back = None;
                before
            }
            None => {
                self.last_back = Some(Instant::now());
                steps.this()
            }
        };
        self.skip_to(target, Notice::Back);
    }

    /// Ends whatever is said or waited for, and moves the stream to
    /// `target` after the notice.
    fn skip_to(&mut self, target: u64, notice: Notice) {
        if let Some(v) = &self.voice {
            v.stop();
        }
        self.pending = None;
        if self.wait.take().is_some() {
            let _ = self.events.send(PlayerEvent::Waiting(false));
        }
        // The notice is heard first, then the step starts: what
        // plays fades out, and the step waits for the notice.
        let lead = match self.notice_length(notice) {
            0 => 0,
            spoken => spoken + samples(NOTICE_GAP),
        };
        self.control.skip(target, lead);
        self.notify(notice);
    }

    /// Sets the volume, with a tick to hear it by.
    fn set_volume(&mut self, volume: f32) {
        self.control.set_volume(volume);
        // The tick, at the new volume, lets the change be heard.
        self.control.notify(crate::audio::sound::chime(crate::script::Chime::Tick));
        let _ = self.events.send(PlayerEvent::Volume(self.control.volume()));
    }

    /// Finishes the round playing, then plays the closing; once.
    fn finish(&mut self) {
        if self.control.is_finishing() {
            return;
        }
        let (segment, _) = self.control.position();
        let round = self.segment(segment).map_or(1, |s| s.timeline.rounds);
        self.finishing = Some(round);
        self.closing = self.closing_for(round);
        self.control.finish_round(self.closing.clone());
        self.notify(Notice::LastRound);
        let _ = self.events.send(PlayerEvent::Finishing);
    }

    /// Says where the session is: the time left in the hold, the round.
    fn where_am_i(&mut self) {
        let (segment, sample) = self.control.position();
        let Some(seg) = self.segment(segment) else { return };
        let looped = self.announced.is_some();
        let mut text = crate::script::timeline::where_am_i(&seg.timeline, sample, looped);
        if self.control.is_finishing() && looped {
            text.push_str(" Last round.");
        }
        // The system voice says it at once; otherwise whoever
        // runs the player makes the speech.
        match &self.voice {
            Some(v) => {
                let _ = v.speak(&text);
            }
            None => {
                let _ = self.events.send(PlayerEvent::Say(text));
            }
        }
    }

    /// Keeps a closing made ahead, replacing one that counts as many
    /// rounds; hands it to the stream if the person already asked to finish.
    fn add_closing(&mut self, segment: Arc<Segment>) {
        let count = segment.timeline.rounds;
        self.closings.retain(|c| c.timeline.rounds != count);
        self.closings.push(segment);
        self.closings.sort_by_key(|c| c.timeline.rounds);
        // Only the newest few can still be asked for.
        if self.closings.len() > 3 {
            self.closings.remove(0);
        }
        // Made after the person asked to finish (the speech was
        // still being made ahead): it still comes after the round.
        if let Some(round) = self.finishing
            && self.closing.is_none()
        {
            self.closing = self.closing_for(round);
            if let Some(c) = &self.closing {
                self.control.closing_ready(c.clone());
            }
        }
    }

    /// Takes a fuller version of the first segment.
    fn grow(&mut self, segment: Arc<Segment>) {
        // The one replaced is let go of here, at the next grow, not
        // on the audio thread when the stream swaps it out.
        self.retired = self.segments.replace(0, segment.clone());
        self.control.grow(segment.clone());
        let _ = self.events.send(PlayerEvent::Grown(segment));
    }

    /// Nobody can press a key: from now on a wait times out.
    fn go_unattended(&mut self) {
        self.unattended = true;
        // A wait already begun gets its timeout from now.
        if let Some(w) = self.wait.as_mut() {
            w.give_up.get_or_insert(Instant::now() + crate::script::WAIT_RENDERED);
        }
    }

    /// Says "stopping" if asked to, fades out, and waits (briefly) for both
    /// to play; not for a device that has died.
    fn stop(&mut self, say: bool) {
        if let Some(v) = &self.voice {
            v.stop();
        }
        self.release();
        if say {
            self.notify(Notice::Stopping);
        }
        self.control.stop();
        if self.paused {
            self.control.resume(0);
        }
        // Room for "stopping" to be said; a halt only waits for the fade,
        // and not for long: whoever halts wants the process gone.
        let deadline = Instant::now() + Duration::from_millis(if say { 1500 } else { 300 });
        while !self.control.is_finished() && Instant::now() < deadline && self.output.lost().is_none() {
            std::thread::sleep(Duration::from_millis(5));
        }
        if self.control.is_finished() {
            // What the device still holds.
            std::thread::sleep(Duration::from_millis(150));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::play::output::Manual;
    use crate::script::timeline::{SAMPLE_RATE, Sound};
    use crate::session::Clips;

    /// Three three-second steps, each a different constant "clip", so the
    /// output shows which step was playing.
    fn segment() -> Arc<Segment> {
        let (script, d) = crate::script::load(
            r#"Routine(title: "T", summary: "S", steps: [Say("a"), Say("b"), Say("c")])"#,
            None,
            "t",
        );
        let script = script.unwrap_or_else(|| panic!("{d:?}"));
        let mut clips = Clips::default();
        for (i, t) in ["a", "b", "c"].iter().enumerate() {
            clips.speech.insert(t.to_string(), vec![1000 * (i as i16 + 1); 3 * SAMPLE_RATE as usize].into());
        }
        let timeline = crate::script::timeline::compile(&script, &Default::default(), &clips);
        Arc::new(Segment::new(timeline, Arc::new(clips)))
    }

    fn level(v: f32) -> i16 {
        (v * 32768.0).round() as i16
    }

    fn next_event(p: &Player, want: impl Fn(&PlayerEvent) -> bool) -> PlayerEvent {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let ev = p.events.recv_deadline(deadline).expect("an event before the deadline");
            if want(&ev) {
                return ev;
            }
        }
    }

    /// A player on a hand-cranked output, started.
    fn start(upcoming: Option<Upcoming>) -> (Player, Manual) {
        let out = Manual::default();
        let p = Player::spawn(Box::new(out.clone()), segment(), upcoming, 1.0);
        out.wait_started();
        (p, out)
    }

    /// Plays `quarters` quarter-seconds, taking the player's events as it
    /// goes: after each quarter, until it has been quiet for a tick or two,
    /// so that on a busy machine it still sees every three-second step.
    fn play_along(p: &Player, out: &Manual, quarters: usize) -> Vec<PlayerEvent> {
        let mut events = Vec::new();
        for _ in 0..quarters {
            out.advance(SAMPLE_RATE as usize / 4);
            while let Ok(ev) = p.events.recv_timeout(Duration::from_millis(100)) {
                events.push(ev);
            }
        }
        events
    }

    /// Sends a command, gives the player a moment, then plays `n` samples
    /// and returns the level of the last.
    fn press(p: &Player, out: &Manual, cmd: PlayerCommand, n: usize) -> i16 {
        p.commands.send(cmd).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        out.advance(n);
        level(*out.played().last().unwrap())
    }

    /// Stops the player and returns how it said it finished.
    fn stop(p: Player) -> PlayerEvent {
        p.commands.send(PlayerCommand::Stop).unwrap();
        let finished = next_event(&p, |e| matches!(e, PlayerEvent::Finished { .. }));
        assert!(p.join(), "the player thread ended");
        finished
    }

    fn step_text(ev: &PlayerEvent) -> String {
        match ev {
            PlayerEvent::Step { event: Event { sound: Sound::Speech(t), .. }, .. } => t.to_string(),
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn plays_through_and_reports_each_step() {
        let (p, out) = start(None);
        let mut steps = Vec::new();
        let mut finished = None;
        for ev in play_along(&p, &out, 40) {
            match ev {
                PlayerEvent::Step { .. } => steps.push(step_text(&ev)),
                PlayerEvent::Finished { stopped } => finished = Some(stopped),
                _ => {}
            }
        }
        assert_eq!(finished, Some(false));
        assert_eq!(steps, ["a", "b", "c"]);
        assert_eq!(out.played().len(), 9 * SAMPLE_RATE as usize);
        assert!(p.join(), "the player thread ended");
    }

    #[test]
    fn pause_holds_the_position_and_resume_continues() {
        let (p, out) = start(None);
        out.advance(1000);
        p.commands.send(PlayerCommand::Pause).unwrap();
        next_event(&p, |e| *e == PlayerEvent::Paused);
        out.advance(5000);
        let played = out.played();
        let ramp = samples(crate::session::RAMP) as usize + 128;
        assert!(played[1000 + ramp..].iter().all(|&v| v == 0.0), "silence while paused");
        let held = played.len();
        p.commands.send(PlayerCommand::Resume).unwrap();
        next_event(&p, |e| *e == PlayerEvent::Resumed);
        // The lead-in: silence (this session has no spoken notices) ...
        out.advance(samples(LEAD_IN) as usize - 200);
        assert!(out.played()[held..].iter().all(|&v| v == 0.0), "a lead-in before going on");
        // ... then the first step goes on where it was.
        out.advance(2000);
        assert_eq!(level(*out.played().last().unwrap()), 1000, "still the first step");
        assert_eq!(stop(p), PlayerEvent::Finished { stopped: true });
    }

    #[test]
    fn next_and_back_move_between_steps() {
        let (p, out) = start(None);
        out.advance(64);
        // A skip fades out and in (a ramp each way), so 50 ms on.
        let on = samples(Duration::from_millis(50)) as usize;
        assert_eq!(press(&p, &out, PlayerCommand::Next, on), 2000, "skipped to the second step");
        next_event(&p, |e| step_text(e) == "b");

        // Back once restarts the step: half a second in, then back to its start.
        out.advance(SAMPLE_RATE as usize / 2);
        assert_eq!(press(&p, &out, PlayerCommand::Back, on), 2000, "still the second step");
        let restarted = out.played().len();
        // Twice quickly: the step before.
        assert_eq!(press(&p, &out, PlayerCommand::Back, on), 1000, "back to the first step");
        assert!(out.played().len() > restarted);
        stop(p);
    }

    #[test]
    fn an_endless_session_follows_steps_into_the_next_round() {
        let (stream_tx, stream_rx) = crossbeam_channel::bounded(1);
        let (announce_tx, announce_rx) = crossbeam_channel::unbounded();
        let second = segment();
        announce_tx.send(second.clone()).unwrap();
        // Past the end of the first segment (three 3-second steps and the
        // gaps after them) and into the second.
        let seconds = second.timeline.total / SAMPLE_RATE as u64 + 2;
        stream_tx.send(second).unwrap();
        let (p, out) = start(Some(Upcoming { stream: stream_rx, announced: announce_rx }));
        let mut seen = Vec::new();
        for ev in play_along(&p, &out, seconds as usize * 4) {
            if let PlayerEvent::Step { segment, .. } = &ev {
                seen.push((*segment, step_text(&ev)));
            }
        }
        assert_eq!(seen[..4], [(0, "a".into()), (0, "b".into()), (0, "c".into()), (1, "a".into())]);
        stop(p);
    }

    /// Back in a segment with no steps (the empty closing of an
    /// endless session, reached as Enter ends the round) goes to its start.
    #[test]
    fn back_in_a_segment_with_no_steps() {
        let empty = crate::script::timeline::Timeline {
            events: Vec::new(),
            total: SAMPLE_RATE as u64,
            rounds: 1,
            hold: Duration::from_secs(30),
            diagnostics: Vec::new(),
            over_by_options: None,
            unspoken: Vec::new(),
            estimated: false,
        };
        let out = Manual::default();
        let p = Player::spawn(Box::new(out.clone()), Arc::new(Segment::new(empty, Arc::default())), None, 1.0);
        out.wait_started();
        out.advance(64);
        for cmd in [PlayerCommand::Back, PlayerCommand::Back] {
            p.commands.send(cmd).unwrap();
            std::thread::sleep(Duration::from_millis(50));
            out.advance(64);
        }
        assert!(matches!(stop(p), PlayerEvent::Finished { .. }));
    }

    /// Where Next and Back go from `sample` in a segment `total` long
    /// whose steps start at `starts`: (next, the one before, this one).
    #[track_caller]
    fn check_steps(starts: &[u64], total: u64, sample: u64, expect: (u64, Option<u64>, u64)) {
        let steps = Steps::new(starts.to_vec(), total, sample);
        assert_eq!((steps.next(), steps.before(), steps.this()), expect, "{steps:?} at {sample}");
    }

    #[test]
    fn where_next_and_back_go() {
        let starts = [100, 200, 300];
        // Before the first step starts: the first plays.
        check_steps(&starts, 400, 0, (200, None, 100));
        check_steps(&starts, 400, 100, (200, None, 100));
        check_steps(&starts, 400, 150, (200, None, 100));
        check_steps(&starts, 400, 200, (300, Some(100), 200));
        check_steps(&starts, 400, 299, (300, Some(100), 200));
        // In the last step, the next is the end of the segment.
        check_steps(&starts, 400, 350, (400, Some(200), 300));
        check_steps(&starts, 400, 400, (400, Some(200), 300));
        // A segment with no steps: its end ahead, its start behind.
        check_steps(&[], 400, 50, (400, None, 0));
        check_steps(&[0], 400, 50, (400, None, 0));
    }

    #[test]
    fn volume_changes_the_samples() {
        let (p, out) = start(None);
        p.commands.send(PlayerCommand::Volume(0.5)).unwrap();
        assert_eq!(next_event(&p, |e| matches!(e, PlayerEvent::Volume(_))), PlayerEvent::Volume(0.5));
        let tick = crate::audio::sound::chime(crate::script::Chime::Tick).len();
        out.advance(tick + 200);
        let played = out.played();
        // The tick is heard at the new volume, then the step goes on at half level.
        assert!(played[..tick].iter().any(|&v| level(v) != 500), "the change is heard");
        assert_eq!(level(*played.last().unwrap()), 500);
        stop(p);
    }
}
