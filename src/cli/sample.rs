//! `voices --try NAME`: a sample cue said in one voice through the sound
//! output, so a person can choose a voice by ear — and then keep it with
//! `voice:` in the settings file, which this says how to do.
//!
//! The sample is a one-step routine played the way `play` plays one: its
//! speech made by `session::ahead` (the system voice live), the player
//! thread on the device, so what is heard is what a session sounds like.
//! There are no keys and no practice log; Ctrl-C stops it.

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::cli::voice::stopped_by_signal;
use crate::cli::voices::{ENGINES, gather};
use crate::config::{EngineKind, Settings};
use crate::error::{Failure, code};
use crate::play::player::{Player, PlayerCommand, PlayerEvent};
use crate::speech::VoiceSettings;

/// What every voice says: a cue as the routines have them.
pub(super) const SAMPLE: &str = "Place the ball beside your spine and lean in, firm but never painful. \
                                 Breathe out slowly, and let the muscle soften.";

/// Longer than the sample takes to say, past which it is stopped.
const SLACK: Duration = Duration::from_secs(15);

/// The engine that has the voice `name`: the one asked for, else the first
/// in `auto`'s order (then the system voice) that lists it.
fn engine_of(name: &str, engine: Option<EngineKind>, config: &Settings) -> Result<EngineKind, Failure> {
    if let Some(kind) = engine.filter(|k| *k != EngineKind::Auto) {
        return Ok(kind);
    }
    // The system voice is asked last, and only if no other engine has it:
    // connecting to it takes a moment.
    for kind in ENGINES {
        if let Some(row) = gather(&[kind], config).rows.into_iter().find(|r| r.answers_to(name)) {
            return Ok(row.engine);
        }
    }
    let shown = crate::script::diagnostic::escape_controls(name);
    Err(Failure::usage(format!("no voice called \"{shown}\" was found"))
        .hint("`backease voices --all` lists every voice, with the name --try takes"))
}

/// `backease voices --try NAME`.
pub(super) fn try_voice(
    name: &str,
    engine: Option<EngineKind>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<u8, Failure> {
    let signals = crate::signals::listen();
    let loaded = crate::config::load(err)?;
    let config = loaded.settings;
    let kind = engine_of(name, engine, &config)?;
    let settings = VoiceSettings { voice: Some(name.to_string()), rate: config.rate, pitch: config.pitch };
    let chosen = crate::speech::pick::for_session(kind, &settings, config.command.as_deref(), false)
        .map_err(|f| stopped_by_signal("while connecting to the system voice").unwrap_or(f))?;
    if let Some(w) = &chosen.warning {
        let _ = writeln!(err, "warning: {w}");
    }
    let device = crate::play::output::Device::open(None)?;
    let shown = crate::script::diagnostic::escape_controls(name).into_owned();
    let on = crate::script::diagnostic::escape_controls(device.name());
    crate::ui::write_out(out, &format!("Saying a sample in {shown} ({}) on {on}.\n", kind.name()))?;
    let loaded_sample = crate::library::load_builtin("voice-sample", &sample_routine());
    let script = loaded_sample.script.expect("the sample routine is valid");
    let making = crate::session::ahead::Making {
        script,
        options: Default::default(),
        looped: false,
        engine: chosen.engine.map(Arc::from),
        live: chosen.live.is_some(),
        centred: config.pan == Some(false),
    };
    let (first, ahead) = crate::session::ahead::start(making, &signals).map_err(|f| {
        stopped_by_signal("while making the sample").or(f).unwrap_or_else(|| Failure::new(code::INTERRUPTED, "stopped"))
    })?;
    let limit = first.timeline.duration() + SLACK;
    let volume = config.volume.unwrap_or(1.0);
    let player = Player::spawn_with_voice(Box::new(device), first, None, volume, chosen.live);
    let _ = player.commands.send(PlayerCommand::Unattended);
    let ended = follow(&player, &ahead, &signals, limit);
    let closed = player.join();
    crate::signals::stop();
    let crate::session::ahead::Ahead { grown, failed, done, .. } = ahead;
    drop((grown, failed));
    let _ = done.recv_timeout(Duration::from_secs(1));
    if !closed {
        let _ = writeln!(err, "warning: the sound output did not close within 1 s; backease exits without it");
    }
    if let Some(f) = stopped_by_signal("while saying the sample") {
        return Err(f);
    }
    ended?;
    let place = loaded.path.map_or_else(
        || "the settings file".into(),
        |p| crate::script::diagnostic::escape_controls(&p.display().to_string()).into_owned(),
    );
    let engine_too = if kind == EngineKind::System { format!("engine: \"{}\", ", kind.name()) } else { String::new() };
    crate::ui::write_out(out, &format!("To keep this voice, put {engine_too}voice: \"{shown}\" into {place}\n"))?;
    Ok(code::OK)
}

/// The sample as a routine: one spoken step.
fn sample_routine() -> String {
    format!("Routine(title: \"Voice sample\", summary: \"how a voice sounds\", steps: [Say(\"{SAMPLE}\")])")
}

/// Plays the sample to its end, handing the player the speech as it is
/// made; a signal or `limit` stops it. `Err` if the sound output was lost
/// or the speech could not be made.
fn follow(
    player: &Player,
    ahead: &crate::session::ahead::Ahead,
    signals: &crossbeam_channel::Receiver<i32>,
    limit: Duration,
) -> Result<(), Failure> {
    let deadline = Instant::now() + limit;
    let (mut grown, mut failed, mut signals) = (ahead.grown.clone(), ahead.failed.clone(), signals.clone());
    let mut outcome = Ok(());
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        crossbeam_channel::select! {
            recv(player.events) -> ev => match ev {
                Ok(PlayerEvent::Finished { .. }) | Err(_) => return outcome,
                Ok(PlayerEvent::Lost(why)) => {
                    outcome = Err(Failure::new(code::NO_DEVICE, format!("the sound output stopped: {why}"))
                        .hint("is the sound server (PulseAudio or PipeWire) still running?"));
                }
                Ok(_) => {}
            },
            recv(grown) -> seg => match seg {
                Ok(seg) => { let _ = player.commands.send(PlayerCommand::Grow(seg)); }
                Err(_) => grown = crossbeam_channel::never(),
            },
            recv(failed) -> f => match f {
                Ok(f) => { outcome = Err(f); let _ = player.commands.send(PlayerCommand::Stop); }
                Err(_) => failed = crossbeam_channel::never(),
            },
            recv(signals) -> _ => {
                let _ = player.commands.send(PlayerCommand::Stop);
                signals = crossbeam_channel::never();
            }
            default(left) => {
                let _ = player.commands.send(PlayerCommand::Stop);
                return Err(Failure::new(code::NO_DEVICE, format!(
                    "the sample did not finish playing within {} s", limit.as_secs()
                )).hint("is the sound output working? `backease devices` lists the outputs"));
            }
        }
    }
}
