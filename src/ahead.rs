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
use crate::player::Upcoming;
use crate::script::Script;
use crate::session::{self, Part, Segment};
use crate::speech::{Cache, Engine};
use crate::timeline::Options;

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
        grown: grown_tx,
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
    grown: Sender<Arc<Segment>>,
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
            None => self.grown.send(segment).is_ok(),
        }
    }
}

fn make(m: &Making, mut out: Out) -> Result<(), Failure> {
    let cache = Cache::default_location();
    let first_part = if m.looped { Part::Round(1) } else { Part::Whole };
    let centred = |mut s: Segment| {
        s.centre(m.centred);
        Arc::new(s)
    };
    let report = match m.engine.as_deref().filter(|_| !m.live) {
        Some(engine) => {
            session::prepare_growing(&m.script, &m.options, first_part, engine, &cache, &mut |s| out.first(centred(s)))?
        }
        None => {
            let (s, report) = session::prepare_part(
                &m.script,
                &m.options,
                first_part,
                m.engine.as_deref(),
                m.live,
                &cache,
                &mut |_, _, _| {},
            )?;
            out.first(centred(s));
            report
        }
    };
    let _ = out.report.send(report);
    drop(out.grown);
    if !m.looped {
        return Ok(());
    }
    // An endless session's closing, to play when it is finished; then each
    // next round, made while the one before plays.
    let (closing, _) = session::prepare_part(
        &m.script,
        &m.options,
        Part::Closing(1),
        m.engine.as_deref(),
        m.live,
        &cache,
        &mut |_, _, _| {},
    )?;
    if out.closing.send(centred(closing)).is_err() {
        return Ok(());
    }
    // A closing that says how many rounds were done ("{rounds}") is made
    // again for each round, before that round can play, so the one the
    // player picks when the person finishes counts right.
    let counted = closing_counts_rounds(&m.script, &m.options);
    for round in 2.. {
        let made = session::prepare(
            &m.script,
            &m.options,
            Some(round),
            m.engine.as_deref(),
            m.live,
            &cache,
            &mut |_, _, _| {},
        );
        // A round that cannot be made ends the session after the one
        // playing, with its closing (made already), and says why.
        let cut_short = |mut f: Failure| {
            f.message = format!(
                "round {round} could not be made, so the session ended after round {}: {}",
                round - 1,
                f.message
            );
            let _ = out.cut_short.send(f);
        };
        let segment = match made {
            Ok((segment, _)) => centred(segment),
            Err(f) => {
                cut_short(f);
                break;
            }
        };
        if counted {
            let made = session::prepare_part(
                &m.script,
                &m.options,
                Part::Closing(round),
                m.engine.as_deref(),
                m.live,
                &cache,
                &mut |_, _, _| {},
            );
            let closing = match made {
                Ok((closing, _)) => closing,
                Err(f) => {
                    cut_short(f);
                    break;
                }
            };
            if out.closing.send(centred(closing)).is_err() {
                break;
            }
        }
        if out.announce.send(segment.clone()).is_err() || out.stream.send(segment).is_err() {
            break;
        }
    }
    Ok(())
}

/// Whether the closing's words change with the number of rounds done.
fn closing_counts_rounds(script: &Script, options: &Options) -> bool {
    use crate::timeline::{Estimate, compile_closing};
    let texts = |rounds| compile_closing(script, options, &Estimate::default(), rounds).speech_texts();
    texts(1) != texts(2)
}
