//! `render`: the session written to a file (or standard output) rather
//! than played: made whole, written with a progress line, stopped cleanly
//! by a signal, then one line saying what was written.
//!
//! The formats and their writing are `play::render`'s.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::cli::routine::{Prepared, check_before_work, load_routine, report_timeline, warn_idle_options};
use crate::cli::voice::{Choices, cache_warning, choose, stopped_by_signal};
use crate::cli::{RenderArgs, write_out};
use crate::error::{Failure, code};
use crate::library::Loaded;
use crate::script::Script;
use crate::script::duration;
use crate::script::timeline::{self, Options};
use crate::session::{self, Segment};
use crate::speech::Cache;
use crate::ui::Progress;

/// Makes the session (or round `round` of an endless one) ready: speaks
/// every cue, or with a live voice only the notices, showing progress while
/// there is synthesis to wait for; then reports what the real lengths show.
fn make_segment(
    loaded: &Loaded,
    prepared: (&Script, &Options),
    round: Option<u32>,
    choices: &Choices,
    quiet: bool,
    err: &mut dyn Write,
) -> Result<Segment, Failure> {
    let (script, options) = prepared;
    let mut progress = Progress::new("preparing speech");
    let cache = Cache::default_location();
    let live = choices.live.is_some();
    let engine = choices.engine.as_deref();
    let (mut segment, report) =
        session::prepare(script, options, round, engine, live, &cache, &mut |done, total, synthesized| {
            // Cached cues are instant: show progress only while speaking anew.
            if synthesized > 0 && !quiet {
                progress.update(done as u64, total as u64, &|n| n.to_string())
            }
        })
        .map_err(|f| stopped_by_signal("while preparing speech").unwrap_or(f))?;
    segment.centre(choices.centred);
    progress.finish();
    if let Some(e) = report.cache_errors.first().filter(|_| !quiet) {
        cache_warning(e, err);
    }
    // Real speech lengths can reveal cues that now collide (warnings
    // only without --quiet).
    report_timeline(loaded, &segment.timeline, !quiet, err)?;
    Ok(segment)
}

/// How long a render may take to stop after a signal before the process
/// ends regardless: far longer than stopping takes unless it is stuck.
const STUCK_AFTER_SIGNAL: std::time::Duration = std::time::Duration::from_secs(2);

/// `render`: the session written to a file (or standard output), with a
/// progress line, then one line saying what was written (neither with
/// `--quiet`).
pub(super) fn render(args: &RenderArgs, out: &mut dyn Write, err: &mut dyn Write) -> Result<u8, Failure> {
    let RenderArgs { routine, output: path, timing, looped, voice, quiet } = args;
    if *looped {
        return Err(Failure::usage("render cannot --loop: an endless session has no end to write")
            .hint("write a number of rounds instead, e.g. --rounds 3"));
    }
    // Where the file goes is settled before any work.
    let output = crate::play::render::Target::open(path)?;
    let config = crate::config::load(err)?.settings;
    let prepared = load_routine(routine, timing, &config, err)?;
    if !quiet {
        warn_idle_options(&prepared.script, timing, false, err);
    }
    let frames = check_before_work(&prepared, timing, &config, err)?;
    let Prepared { loaded, script, options, .. } = prepared;
    check_wav_holds(&output, frames)?;
    let choices = choose(&script, voice, &config, true, err)?;
    if !quiet {
        let _ = writeln!(err, "{}", choices.notice);
    }
    let stop = stop_on_signal();
    let segment = Arc::new(make_segment(&loaded, (&script, &options), None, &choices, *quiet, err)?);
    let total = segment.timeline.duration();
    let to_stdout = output.is_stdout();
    let written = write_with_progress(output, segment, (&script.title, choices.volume), &stop, *quiet, out)?;
    if *quiet {
        return Ok(code::OK);
    }
    let shown = if to_stdout { "standard output".to_string() } else { path.display().to_string() };
    let done = rendered(&shown, total, &written);
    // With the WAV on standard output, the words go with the progress.
    if to_stdout {
        let _ = err.write_all(done.as_bytes());
    } else {
        write_out(out, &done)?;
    }
    Ok(code::OK)
}

/// A WAV file counts its bytes in 32 bits: past 4 GiB (6 h 12 min of
/// session) it cannot be written, which is known now, not at the end.
fn check_wav_holds(output: &crate::play::render::Target, frames: u64) -> Result<(), Failure> {
    let most = crate::audio::wav::max_frames(2);
    if output.is_wav() && frames > most {
        return Err(Failure::usage(format!(
            "this session lasts {}: a WAV file holds at most {} of it",
            duration::clock(timeline::to_duration(frames)),
            duration::clock(timeline::to_duration(most)),
        ))
        .hint("write it as -o NAME.flac (lossless, a third of the size) or -o NAME.opus (small)"));
    }
    Ok(())
}

/// A flag a signal sets, for a render to stop at the next block it writes.
fn stop_on_signal() -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let signals = crate::signals::listen();
    let flag = stop.clone();
    std::thread::spawn(move || {
        if let Ok(sig) = signals.recv() {
            flag.store(true, Ordering::Relaxed);
            // The render stops at the next block it writes, and removes
            // what it began. A write that never returns (a pipe or FIFO
            // whose reader stopped reading) cannot see the flag: past a
            // moment, the process ends here instead. A stream has no
            // temporary file to remove.
            std::thread::sleep(STUCK_AFTER_SIGNAL);
            // Said from a thread of its own: stderr may be the stuck pipe.
            std::thread::spawn(move || {
                eprintln!(
                    "backease: error: stopped by {}; the output took nothing more, so the process ends here",
                    crate::signals::name(sig)
                );
            });
            std::thread::sleep(std::time::Duration::from_millis(100));
            std::process::exit(crate::signals::exit_code(sig).into());
        }
    });
    stop
}

/// Writes the session, showing how far it got; stopped by a signal, it
/// fails with the shell's code for it (143 for SIGTERM).
fn write_with_progress(
    output: crate::play::render::Target,
    segment: Arc<Segment>,
    (title, volume): (&str, f32),
    stop: &AtomicBool,
    quiet: bool,
    out: &mut dyn Write,
) -> Result<crate::play::render::Written, Failure> {
    let mut progress = Progress::new("rendering");
    let written = output.write(
        segment,
        title,
        volume,
        stop,
        &mut |done, total| {
            if !quiet {
                progress.update(done, total, &|n| duration::clock(timeline::to_duration(n)))
            }
        },
        out,
    );
    progress.finish();
    written.map_err(|mut f| {
        if let (code::INTERRUPTED, Some(sig)) = (f.code, crate::signals::received()) {
            f.code = crate::signals::exit_code(sig);
        }
        f
    })
}

/// The line that says what a render wrote: where, how long, how big, and
/// its chapters.
fn rendered(shown: &str, total: std::time::Duration, written: &crate::play::render::Written) -> String {
    let size = match written.bytes {
        b if b >= 1_000_000 => format!("{:.1} MB", b as f64 / 1e6),
        b => format!("{} kB", b.div_ceil(1000)),
    };
    let chapters = match written.chapters {
        0 => String::new(),
        1 => ", 1 chapter".to_string(),
        n => format!(", {n} chapters"),
    };
    format!("wrote {shown} ({}, {size}{chapters})\n", duration::clock(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_rendered(secs: u64, bytes: u64, chapters: usize, expect: &str) {
        let written = crate::play::render::Written { frames: 0, bytes, chapters };
        assert_eq!(rendered("out.flac", std::time::Duration::from_secs(secs), &written), expect);
    }

    #[test]
    fn a_render_says_where_how_long_how_big_and_its_chapters() {
        check_rendered(65, 0, 0, "wrote out.flac (01:05, 0 kB)\n");
        check_rendered(65, 1, 0, "wrote out.flac (01:05, 1 kB)\n");
        check_rendered(65, 999_999, 1, "wrote out.flac (01:05, 1000 kB, 1 chapter)\n");
        check_rendered(3725, 1_000_000, 2, "wrote out.flac (1:02:05, 1.0 MB, 2 chapters)\n");
        check_rendered(65, 12_345_678, 0, "wrote out.flac (01:05, 12.3 MB)\n");
    }
}
