//! Which engine speaks a session: the one asked for, or for `auto` the
//! one best understood that this machine has — hibari, then Piper, then
//! espeak-ng, then flite,
//! then a configured command, and for a live session the system voice when
//! none of those can be had. [`for_session`] is all a command asks for.
//!
//! It only decides and connects; it makes no speech.

use super::flite::Flite;
use super::hibari::Hibari;
use super::piper::Piper;
use super::system::{CONNECT_TIMEOUT, SystemVoice};
use super::{Engine, SpeechError, VoiceSettings, command::CommandEngine, espeak::Espeak};
use crate::config::EngineKind;
use crate::error::{Failure, code};

/// An engine, and a few words saying which it is and why.
pub struct Chosen {
    pub engine: Box<dyn Engine>,
    pub description: String,
    pub kind: EngineKind,
    /// Which it is, in a few words: the description without the why.
    pub name: String,
}

/// Makes the engine `kind` names. `auto` takes the first that works of
/// hibari, Piper, espeak-ng, flite and the command (hibari is understood
/// best through noise); a voice named in the settings must be one the
/// engine has, so `--voice joe` with `auto` goes past hibari to Piper, and
/// `--voice en-gb` on to espeak-ng.
pub fn engine(kind: EngineKind, settings: &VoiceSettings, command: Option<&str>) -> Result<Chosen, SpeechError> {
    let chosen = |engine: Box<dyn Engine>, kind: EngineKind, description: String| Chosen {
        engine,
        name: description.clone(),
        description,
        kind,
    };
    match kind {
        EngineKind::Hibari => {
            let h = Hibari::new(settings)?;
            let description = format!("hibari, voice {}", super::hibari::VOICE);
            Ok(chosen(Box::new(h), kind, description))
        }
        EngineKind::Piper => {
            let p = Piper::new(settings)?;
            let description = format!("Piper, voice {}", p.voice().name);
            Ok(chosen(Box::new(p), kind, description))
        }
        EngineKind::Espeak => Ok(chosen(Box::new(Espeak::new(settings.clone())?), kind, "espeak-ng".into())),
        EngineKind::Flite => {
            let f = Flite::new(settings)?;
            Ok(chosen(Box::new(f), kind, "flite".into()))
        }
        EngineKind::Command => {
            let c = CommandEngine::new(command.unwrap_or_default())?;
            Ok(chosen(Box::new(c), kind, format!("the command `{}`", command.unwrap_or_default())))
        }
        EngineKind::System => Err(SpeechError {
            message: "the system voice speaks only live, straight to the speakers".into(),
            hint: Some("use --engine piper, espeak, flite or command to render to a file".into()),
        }),
        EngineKind::Auto => {
            let mut passed = Vec::new();
            for kind in [EngineKind::Hibari, EngineKind::Piper, EngineKind::Espeak, EngineKind::Flite] {
                match engine(kind, settings, None) {
                    Ok(mut c) => {
                        let why = if passed.is_empty() { String::new() } else { format!("; {}", passed.join("; ")) };
                        c.description = format!("{} (picked by auto{why})", c.description);
                        return Ok(c);
                    }
                    Err(e) => passed.push(format!("not {}: {}", kind.name(), e.message)),
                }
            }
            match command {
                Some(c) => {
                    let mut chosen = engine(EngineKind::Command, settings, Some(c))?;
                    chosen.description = format!("{} (picked by auto; {})", chosen.description, passed.join("; "));
                    Ok(chosen)
                }
                None => Err(SpeechError {
                    message: format!("no speech engine could be used ({})", passed.join("; ")),
                    hint: Some(
                        "run backease setup for the natural voice, or install espeak-ng: sudo apt install espeak-ng"
                            .into(),
                    ),
                }),
            }
        }
    }
}

/// The voice of a session: an engine that makes samples, or the system
/// voice speaking live (with, if espeak-ng is there, an engine for the
/// controls' notices).
pub struct SessionVoice {
    pub engine: Option<Box<dyn Engine>>,
    pub live: Option<SystemVoice>,
    /// Which voice it is and why, for `--verbose`.
    pub description: String,
    /// To say before the session: the voice asked for could not be had.
    pub warning: Option<String>,
    /// Which voice speaks, said on a session's first line; with how to
    /// get the natural voice when `auto` had to do without it.
    pub notice: String,
}

/// The voice for a session of `kind`. A render cannot have the system
/// voice; a live session asking for it falls back to espeak-ng when the
/// speech service cannot be reached, and `auto` takes it when no engine
/// that makes samples can be had. A signal while connecting fails with
/// `code::INTERRUPTED`, for the caller to report as the signal.
pub fn for_session(
    kind: EngineKind,
    settings: &VoiceSettings,
    command: Option<&str>,
    rendering: bool,
) -> Result<SessionVoice, Failure> {
    let v = settings.voice.as_deref().unwrap_or("the default voice");
    let interrupted = || crate::signals::received().map(|_| Failure::new(code::INTERRUPTED, "stopped"));
    let mut warning = None;
    if kind == EngineKind::System {
        if rendering {
            return Err(Failure::usage(
                "render cannot use the system voice: it speaks through the system's speech service, \
                 straight to the speakers, so there is no sound to write",
            )
            .hint("render with --engine auto (the default), piper, espeak, flite or command"));
        }
        match SystemVoice::connect(settings, CONNECT_TIMEOUT) {
            Ok(live) => {
                // espeak-ng, if there, still speaks the controls' notices.
                let engine = engine(EngineKind::Espeak, settings, None).ok().map(|c| c.engine);
                let description = format!("the system voice, {v}");
                let notice = notice(kind, settings, "the system voice");
                return Ok(SessionVoice { engine, live: Some(live), description, warning, notice });
            }
            Err(e) => {
                if let Some(stopped) = interrupted() {
                    return Err(stopped);
                }
                warning = Some(format!("the system voice is not available ({e}); using espeak-ng instead"));
            }
        }
    }
    let kind = if kind == EngineKind::System { EngineKind::Espeak } else { kind };
    match engine_or_failure(kind, settings, command) {
        Ok(chosen) => {
            let description = format!("{}, {v}", chosen.description);
            let notice = notice(kind, settings, &chosen.name);
            Ok(SessionVoice { engine: Some(chosen.engine), live: None, description, warning, notice })
        }
        // With no engine that makes samples (hibari, Piper, espeak-ng, flite or a
        // command), auto takes the system voice for a live session.
        Err(e) if kind == EngineKind::Auto && !rendering => match SystemVoice::connect(settings, CONNECT_TIMEOUT) {
            Ok(live) => Ok(SessionVoice {
                engine: None,
                live: Some(live),
                description: format!("the system voice (picked by auto: no engine that makes samples), {v}"),
                warning,
                notice: notice(kind, settings, "the system voice"),
            }),
            Err(_) => Err(interrupted().unwrap_or(e)),
        },
        Err(e) => Err(e),
    }
}

/// The first line of a session about its voice: which one speaks, and how
/// to get the natural one when `auto` had to do without it because it is
/// not installed (a voice named that Piper lacks is a choice, not a lack).
fn notice(asked: EngineKind, settings: &VoiceSettings, name: &str) -> String {
    let lacking = asked == EngineKind::Auto && settings.voice.is_none() && super::hibari::find().is_err();
    match lacking {
        true => format!("speaking with {name}; for the natural voice run: backease setup"),
        false => format!("speaking with {name}"),
    }
}

/// As [`engine`], failing as a command does: asking the system voice to
/// make samples is a usage error, any other a speech error.
pub fn engine_or_failure(kind: EngineKind, settings: &VoiceSettings, command: Option<&str>) -> Result<Chosen, Failure> {
    engine(kind, settings, command).map_err(|e| {
        let f =
            if kind == EngineKind::System { Failure::usage(e.message) } else { Failure::new(code::SPEECH, e.message) };
        match e.hint {
            Some(h) => f.hint(h),
            None if kind == EngineKind::System => f.hint(""),
            None => f,
        }
    })
}
