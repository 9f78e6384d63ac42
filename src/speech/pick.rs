//! Which engine speaks a session: the one asked for, or for `auto` the
//! most natural one this machine has — Piper, then espeak-ng, then flite,
//! then a configured command.
//!
//! This module only makes sample-producing engines; the live system voice,
//! which speaks straight to the speakers, is the session's business.

use super::flite::Flite;
use super::piper::Piper;
use super::{Engine, SpeechError, VoiceSettings, command::CommandEngine, espeak::Espeak};
use crate::config::EngineKind;

/// An engine, and a few words saying which it is and why.
pub struct Chosen {
    pub engine: Box<dyn Engine>,
    pub description: String,
    pub kind: EngineKind,
}

/// Makes the engine `kind` names. `auto` takes the first that works of
/// Piper, espeak-ng, flite and the command; a voice named in the settings
/// must be one the engine has, so `--voice en-gb` with `auto` goes past
/// Piper to espeak-ng.
pub fn engine(kind: EngineKind, settings: &VoiceSettings, command: Option<&str>) -> Result<Chosen, SpeechError> {
    let chosen = |engine: Box<dyn Engine>, kind: EngineKind, description: String| Chosen { engine, description, kind };
    match kind {
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
            for kind in [EngineKind::Piper, EngineKind::Espeak, EngineKind::Flite] {
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
                    hint: Some("run bash .ci/setup, which installs Piper, espeak-ng and flite".into()),
                }),
            }
        }
    }
}
