//! A live session's speech, made ahead of the listener on a thread of its
//! own, so that playing starts as soon as the first cue is ready.
//!
//! The thread makes the first segment with `session::prepare_growing`:
//! the first cue first, then the rest in the order they are heard, handing
//! out the segment as soon as it can start and fuller versions of it as
//! more is made (the stream waits at a cue if it catches up). Then, for an
//! endless session, it makes the closing and each next round, a round
//! ahead. When every cue is cached the first segment comes whole, at once.
//!
//! It does not play anything, and does not decide which engine speaks
//! (`speech::pick` does): it only makes segments and says when it fails.

use std::sync::Arc;

use crossbeam_channel::{Receiver, Sender};

use crate::error::Failure;
use crate::script::Script;
use crate::script::timeline::Options;
use crate::session::{self, Portion, Segment};
use crate::speech::{Cache, Engine};

/// The rounds of an endless session after the first, as they are made:
/// `stream` feeds the audio, `announced` gets the same segments so the
/// player can follow steps across rounds.
pub struct Upcoming {
    pub stream: crossbeam_channel::Receiver<std::sync::Arc<crate::session::Segment>>,
    pub announced: crossbeam_channel::Receiver<std::sync::Arc<crate::session::Segment>>,
}

/// What the thread hands out as it works.
pub struct Ahead {
    /// Fuller versions of the first segment, the last one whole; then the
    /// channel closes.
    pub grown: Receiver<Arc<Segment>>,
    /// The closing of an endless session, once made.
    pub closing: Receiver<Arc<Segment>>,
    /// The rounds after the first of an endless session.
    pub upcoming: Option<Upcoming>,
    /// Why making speech failed, if it did: the session cannot go on past
    /// what is made.
    pub failed: Receiver<Failure>,
    /// Why a later round of an endless session could not be made: the
    /// session finishes the round playing, plays its closing, and ends
    /// with this error.
    pub cut_short: Receiver<Failure>,
    /// Closes when the thread has ended.
    pub done: Receiver<()>,
    /// What making the first segment's speech did (cache writes that
    /// failed, say), once it is whole.
    pub report: Receiver<crate::speech::Report>,
}

/// How the session's speech is made.
pub struct Making {
    pub script: Script,
    pub options: Options,
    pub looped: bool,
    /// Makes the speech, or with a live voice only the controls' notices.
    pub engine: Option<Arc<dyn Engine>>,
    /// A live voice speaks the cues: only the notices are made.
    pub live: bool,
    /// Every cue from the middle (`pan: false`).
    pub centred: bool,
}

/// Starts the thread, and waits for the first segment (or the failure
/// that means there is none). `interrupted` is watched meanwhile: a
/// signal ends the wait with `Err(None)`.
pub fn start(making: Making, interrupted: &Receiver<i32>) -> Result<(Arc<Segment>, Ahead), Option<Failure>> {
    let (first_tx, first_rx) = crossbeam_channel::bounded::<Arc<Segment>>(1);
    let (grown_tx, grown) = crossbeam_channel::unbounded();
    let (closing_tx, closing) = crossbeam_channel::bounded(1);
    let (failed_tx, failed) = crossbeam_channel::bounded(1);
    let (cut_short_tx, cut_short) = crossbeam_channel::bounded(1);
    let (done_tx, done) = crossbeam_channel::bounded::<()>(1);
    let (report_tx, report) = crossbeam_channel::bounded(1);
    let (stream_tx, stream_rx) = crossbeam_channel::bounded::<Arc<Segment>>(1);
    let (announce_tx, announce_rx) = crossbeam_channel::unbounded();
    let upcoming = making.looped.then(|| Upcoming { stream: stream_rx, announced: announce_rx });
    let out = Out {
        first: Some(first_tx),
        grown: Some(grown_tx),
        closing: closing_tx,
        stream: stream_tx,
        announce: announce_tx,
        report: report_tx,
        cut_short: cut_short_tx,
    };
    std::thread::Builder::new()
        .name("backease-speech".into())
        .spawn(move || {
            let _done = done_tx;
            if let Err(f) = make(&making, out) {
                let _ = failed_tx.send(f);
            }
        })
        .expect("spawn the speech thread");
    // Signals that cannot be caught (the channel is closed) take their
    // default course: only a signal received ends the wait.
    let mut signals = interrupted.clone();
    loop {
        crossbeam_channel::select! {
            recv(first_rx) -> first => return match first {
                Ok(first) => Ok((first, Ahead { grown, closing, upcoming, failed, cut_short, done, report })),
                Err(_) => {
                    let why = failed.recv().unwrap_or_else(|_| Failure::io("the speech thread ended unexpectedly"));
                    Err(Some(why))
                }
            },
            recv(signals) -> sig => match sig {
                Ok(_) => {
                    // The signal stops the speech being made: give its
                    // programs a moment to be killed, rather than leave them.
                    let _ = done.recv_timeout(std::time::Duration::from_secs(1));
                    return Err(None);
                }
                Err(_) => signals = crossbeam_channel::never(),
            },
        }
    }
}

/// Where the thread's segments go.
struct Out {
    /// The first segment, until it is sent.
    first: Option<Sender<Arc<Segment>>>,
    /// Fuller versions of the first segment, until it is whole.
    grown: Option<Sender<Arc<Segment>>>,
    closing: Sender<Arc<Segment>>,
    stream: Sender<Arc<Segment>>,
    announce: Sender<Arc<Segment>>,
    report: Sender<crate::speech::Report>,
    cut_short: Sender<Failure>,
}

impl Out {
    /// Hands out the first segment or a fuller version of it; `false` once
    /// nobody listens.
    fn first(&mut self, segment: Arc<Segment>) -> bool {
        match self.first.take() {
            Some(tx) => tx.send(segment).is_ok(),
            None => self.grown.as_ref().is_some_and(|tx| tx.send(segment).is_ok()),
        }
    }

    /// The first segment is whole: closes `grown`, so whoever takes the
    /// fuller versions knows there are no more.
    fn first_whole(&mut self) {
        self.grown = None;
    }
}

impl Making {
    /// A segment made, ready to hand out to the device: every cue from the
    /// middle if asked, every clip at the session's rate.
    fn centre(&self, segment: Segment) -> Arc<Segment> {
        let mut segment = segment.for_device();
        segment.centre(self.centred);
        Arc::new(segment)
    }

    /// Makes one part of the session whole, with no progress shown.
    fn prepare_portion(&self, part: Portion, cache: &Cache) -> Result<(Segment, crate::speech::Report), Failure> {
        let engine = self.engine.as_deref();
        session::prepare_portion(&self.script, &self.options, part, engine, self.live, cache, &mut |_, _, _| {})
    }
}

/// The thread's work: the first segment, then for an endless session its
/// closing and each next round.
fn make(m: &Making, mut out: Out) -> Result<(), Failure> {
    let cache = Cache::default_location();
    let report = make_first(m, &mut out, &cache)?;
    let _ = out.report.send(report);
    out.first_whole();
    if !m.looped {
        return Ok(());
    }
    // An endless session's closing, to play when it is finished; then each
    // next round, made while the one before plays.
    let (closing, _) = m.prepare_portion(Portion::Closing(1), &cache)?;
    if out.closing.send(m.centre(closing)).is_err() {
        return Ok(());
    }
    // A closing that says how many rounds were done ("{rounds}") is made
    // again for each round, before that round can play, so the one the
    // player picks when the person finishes counts right.
    let counted = closing_counts_rounds(&m.script, &m.options);
    for round in 2.. {
        if !make_round(m, &out, &cache, round, counted) {
            break;
        }
    }
    Ok(())
}

/// Makes the first segment (the first round of an endless session) and
/// hands it out: growing as its speech is made, or whole at once when a
/// live voice speaks the cues or there is no engine.
fn make_first(m: &Making, out: &mut Out, cache: &Cache) -> Result<crate::speech::Report, Failure> {
    let first_part = if m.looped { Portion::Round(1) } else { Portion::Whole };
    match m.engine.as_deref().filter(|_| !m.live) {
        Some(engine) => {
            session::prepare_growing(&m.script, &m.options, first_part, engine, cache, &mut |s| out.first(m.centre(s)))
        }
        None => {
            let (s, report) = m.prepare_portion(first_part, cache)?;
            out.first(m.centre(s));
            Ok(report)
        }
    }
}

/// Makes round `round` of an endless session (and, when the closing counts
/// the rounds, the closing after it) and hands them out: `false` once
/// nobody listens, or when the round could not be made (said on
/// `cut_short`).
fn make_round(m: &Making, out: &Out, cache: &Cache, round: u32, counted: bool) -> bool {
    // A round that cannot be made ends the session after the one
    // playing, with its closing (made already), and says why.
    let cut_short = |mut f: Failure| {
        f.message =
            format!("round {round} could not be made, so the session ended after round {}: {}", round - 1, f.message);
        let _ = out.cut_short.send(f);
        false
    };
    let segment = match m.prepare_portion(Portion::Round(round), cache) {
        Ok((segment, _)) => m.centre(segment),
        Err(f) => return cut_short(f),
    };
    if counted {
        let closing = match m.prepare_portion(Portion::Closing(round), cache) {
            Ok((closing, _)) => closing,
            Err(f) => return cut_short(f),
        };
        if out.closing.send(m.centre(closing)).is_err() {
            return false;
        }
    }
    out.announce.send(segment.clone()).is_ok() && out.stream.send(segment).is_ok()
}

/// Whether the closing's words change with the number of rounds done.
fn closing_counts_rounds(script: &Script, options: &Options) -> bool {
    use crate::script::timeline::{Estimate, compile_closing};
    let texts = |rounds| compile_closing(script, options, &Estimate::default(), rounds).speech_texts();
    texts(1) != texts(2)
}
