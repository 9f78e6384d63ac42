//! Making a segment: every cue spoken (from the cache where it can), the
//! chimes and sound files loaded, and the timeline built from their real
//! lengths; all at once ([`prepare`], [`prepare_portion`]) or growing as the
//! speech is made ([`prepare_growing`], with [`ready_until`] saying how far
//! a segment made in part can play). It makes no sound and steers nothing:
//! the stream plays what it makes.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use super::{Clips, Notice, Segment};
use crate::audio::resample::Clip;
use crate::script::Chime;
use crate::script::timeline::{Lengths, SAMPLE_RATE, Sound, Timeline};

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
    options: &crate::script::timeline::Options,
    round: Option<u32>,
    engine: Option<&dyn crate::speech::Engine>,
    live: bool,
    cache: &crate::speech::Cache,
    progress: &mut dyn FnMut(usize, usize, usize),
) -> Result<(Segment, crate::speech::Report), crate::error::Failure> {
    let part = round.map_or(Portion::Whole, Portion::Round);
    prepare_portion(script, options, part, engine, live, cache, progress)
}

/// Which part of a session a segment holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Portion {
    /// The whole session: opening, every round, closing.
    Whole,
    /// Round k of an endless session (with the opening, for the first).
    Round(u32),
    /// The closing of an endless session, after this many rounds.
    Closing(u32),
}

/// As [`prepare`], for any [`Portion`].
pub fn prepare_portion(
    script: &crate::script::Script,
    options: &crate::script::timeline::Options,
    part: Portion,
    engine: Option<&dyn crate::speech::Engine>,
    live: bool,
    cache: &crate::speech::Cache,
    progress: &mut dyn FnMut(usize, usize, usize),
) -> Result<(Segment, crate::speech::Report), crate::error::Failure> {
    use crate::error::{Failure, code};
    use crate::script::timeline::{Estimate, compile, compile_closing, compile_round};
    let build = |lengths: &dyn Lengths| match part {
        Portion::Round(k) => compile_round(script, options, lengths, k),
        Portion::Closing(k) => compile_closing(script, options, lengths, k),
        Portion::Whole => compile(script, options, lengths),
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
                clips.chimes.entry(*c).or_insert_with(|| crate::audio::sound::chime(*c));
            }
            Sound::File(p) if !clips.files.contains_key(p) => {
                let samples = crate::audio::sound::load_file(p).map_err(crate::error::Failure::io)?;
                clips.files.insert(p.clone(), samples);
            }
            _ => {}
        }
    }
    Ok(())
}

/// The lengths of the speech made so far, the cache's for what it holds
/// but is not read yet, and a guess for the rest: so a session whose
/// speech is all cached has its real length from its first segment on,
/// however long reading the cache takes.
struct SoFar<'a> {
    clips: &'a Clips,
    known: &'a Known,
    /// Whether every text of the timeline is made or cached.
    exact: bool,
}

impl<'a> SoFar<'a> {
    fn new(clips: &'a Clips, known: &'a Known) -> SoFar<'a> {
        let exact = known.texts.iter().all(|t| clips.speech.contains_key(t) || known.lengths.contains_key(t));
        SoFar { clips, known, exact }
    }
}

impl Lengths for SoFar<'_> {
    fn speech(&self, text: &str) -> u64 {
        match (self.clips.speech.get(text), self.known.lengths.get(text)) {
            (Some(clip), _) => clip.len(),
            (None, Some(&n)) => n,
            (None, None) => crate::script::timeline::Estimate::default().speech(text),
        }
    }
    fn chime(&self, chime: Chime) -> u64 {
        self.clips.chime(chime)
    }
    fn sound(&self, path: &std::path::Path) -> u64 {
        self.clips.sound(path)
    }
    fn exact(&self) -> bool {
        self.exact
    }
}

/// A timeline's spoken texts, and the lengths the cache holds for them.
struct Known {
    texts: Vec<String>,
    /// At the session's rate (the lengths the clips will have once read).
    lengths: HashMap<String, u64>,
}

impl Known {
    /// `texts` as `engine` speaks them, looked up in the cache's headers.
    fn in_cache(engine: &dyn crate::speech::Engine, cache: &crate::speech::Cache, texts: Vec<String>) -> Known {
        let key = crate::speech::cache_key(engine);
        let at_session_rate =
            |n| crate::audio::resample::length(n, crate::speech::ENGINE_RATE, crate::audio::format::SAMPLE_RATE);
        let lengths = texts.iter().filter_map(|t| cache.length(&key, t).map(|n| (t.clone(), at_session_rate(n))));
        Known { lengths: lengths.collect(), texts }
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

/// As [`prepare_portion`], for a session that starts before all its speech is
/// made: the cues are made in the order they are heard (the first one
/// first, then the controls' notices, then the rest), and `ready` gets the
/// segment as soon as it can start — with [`Segment::ready`] saying how far
/// it can play, and a timeline estimated beyond — then fuller versions of
/// it as more is made, at most every [`GROW_EVERY`], and last the whole
/// segment, exactly what [`prepare_portion`] makes (at the device's rate, [`Segment::for_device`]). When every cue comes from
/// the cache within [`CACHE_PATIENCE`], `ready` gets the whole segment only. `ready` returns `false` when nobody listens any more,
/// which stops the work.
pub fn prepare_growing(
    script: &crate::script::Script,
    options: &crate::script::timeline::Options,
    part: Portion,
    engine: &dyn crate::speech::Engine,
    cache: &crate::speech::Cache,
    ready: &mut dyn FnMut(Segment) -> bool,
) -> Result<crate::speech::Report, crate::error::Failure> {
    use crate::error::{Failure, code};
    use crate::script::timeline::{Estimate, compile, compile_closing, compile_round};
    let build = |lengths: &dyn Lengths| match part {
        Portion::Round(k) => compile_round(script, options, lengths, k),
        Portion::Closing(k) => compile_closing(script, options, lengths, k),
        Portion::Whole => compile(script, options, lengths),
    };
    let probe = build(&Estimate::default());
    let mut clips = Clips::default();
    load_sounds(&probe, &mut clips)?;
    let known = Known::in_cache(engine, cache, probe.speech_texts());
    let mut texts = known.texts.clone();
    let notices = Notice::ALL.iter().map(|n| n.text().to_string()).filter(|n| !texts.contains(n));
    let at = texts.len().min(1);
    texts.splice(at..at, notices.collect::<Vec<_>>());
    // How far the last segment handed out could play; `None` before any.
    let mut shown: Option<u64> = None;
    let mut last = std::time::Instant::now();
    let began = last;
    let mut listening = true;
    let trace = |what: &str| {
        if crate::trace::timing() {
            eprintln!("timing: {what} {} ms after start", crate::trace::started().elapsed().as_millis());
        }
    };
    trace("making speech");
    let mut take = |text: &str, clip: Arc<[i16]>, cached: bool| {
        // Live only: at the device's rate at once, as the stream there
        // must not resample (see `Clips::at_session_rate`).
        let clip: Clip = crate::audio::resample::clip(&clip, crate::speech::ENGINE_RATE, SAMPLE_RATE).into();
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
        let timeline = build(&SoFar::new(&clips, &known));
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
    use crate::script::timeline::{Options, compile};
    use crate::session::tests::{left, render};
    use crate::session::{Control, Stream};
    use crate::speech::fake::FakeEngine;

    /// A routine whose second-to-last cue sounds inside a hold.
    const GROWING: &str = r#"Routine(title: "T", summary: "S", defaults: (hold: "2s"),
        steps: [Say("a"), Pause("1s"), Say("see"), Hold(cues: [At("1s", "b")]), Say("dee"), Pause("500ms")])"#;

    #[test]
    fn a_session_is_ready_up_to_the_first_cue_not_made_and_never_stops_inside_a_hold() {
        let script = load(GROWING, None, "t").0.unwrap();
        let t = compile(&script, &Options::default(), &crate::script::timeline::Estimate::default());
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
        prepare_growing(&script, &options, Portion::Whole, &engine, &cache, &mut |s| {
            made.push(Arc::new(s));
            true
        })
        .unwrap();
        // Handed out once the first cue was made, then whole.
        let (first, whole) = (made[0].clone(), made.last().unwrap().clone());
        let ready = first.ready.expect("the first is partial");
        let first_missing = first.timeline.events.iter().position(|e| match &e.sound {
            Sound::Speech(t) => !first.clips.speech.contains_key(&**t),
            _ => false,
        });
        assert_eq!(Some(ready), first_missing.map(|i| first.timeline.events[i].start));
        assert!(first.timeline.estimated);
        // The whole one is exactly what `prepare` makes, as render plays it.
        let (prepared, _) =
            prepare_portion(&script, &options, Portion::Whole, Some(&engine), false, &cache, &mut |_, _, _| {})
                .unwrap();
        assert_eq!(*whole, prepared.for_device());

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
        prepare_growing(
            &script,
            &Options::default(),
            Portion::Whole,
            &engine,
            &crate::speech::Cache::none(),
            &mut |s| {
                made.push(Arc::new(s));
                true
            },
        )
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
}
