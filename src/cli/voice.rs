//! The voice a session speaks with, shared by `play` and `render`: the
//! voice settings (flags, then the config file, then the script), the
//! engine chosen for them, and what is said when speech cannot be kept in
//! the cache or its making is cut short by a signal.
//!
//! Making the speech itself is the session layer's (`session::prepare`).

use std::io::Write;

use crate::cli::VoiceArgs;
use crate::config::Settings;
use crate::error::Failure;
use crate::script::Script;
use crate::speech::{Cache, Engine, VoiceSettings};

/// The voice: command-line options, then the config file, then the
/// script's defaults.
pub(super) fn voice_settings(script: &Script, args: Option<&VoiceArgs>, config: &Settings) -> VoiceSettings {
    VoiceSettings {
        voice: args
            .and_then(|a| a.voice.clone())
            .or_else(|| config.voice.clone())
            .or_else(|| script.defaults.voice.clone()),
        rate: args.and_then(|a| a.rate).or(config.rate).or(script.defaults.rate),
        pitch: args.and_then(|a| a.pitch).or(config.pitch).or(script.defaults.pitch),
    }
}

/// Everything a session needs decided before it is made: flags, then the
/// config file, then the script.
pub(super) struct Choices {
    /// Makes the speech, or with a live voice, only the controls' notices.
    pub(super) engine: Option<Box<dyn Engine>>,
    /// The system voice, speaking live.
    pub(super) live: Option<crate::speech::system::SystemVoice>,
    pub(super) volume: f32,
    /// Every cue from the middle (the setting `pan: false`).
    pub(super) centred: bool,
    /// Which voice speaks, for a session's first line (see
    /// [`crate::speech::pick::SessionVoice::notice`]).
    pub(super) notice: String,
}

/// The voice and volume: flags, then the config file, then the script.
/// Which engine speaks is `speech::pick`'s to decide.
pub(super) fn choose(
    script: &Script,
    voice: &VoiceArgs,
    config: &Settings,
    rendering: bool,
    err: &mut dyn Write,
) -> Result<Choices, Failure> {
    let settings = voice_settings(script, Some(voice), config);
    let kind = voice.engine.or(config.engine).unwrap_or_default();
    let command = voice.command.clone().or_else(|| config.command.clone());
    let volume = voice.volume.or(config.volume).or(script.defaults.volume).unwrap_or(1.0);
    let centred = config.pan == Some(false);
    let chosen = crate::speech::pick::for_session(kind, &settings, command.as_deref(), rendering)
        .map_err(|f| stopped_by_signal("while connecting to the system voice").unwrap_or(f))?;
    if let Some(w) = &chosen.warning {
        let _ = writeln!(err, "warning: {w}");
    }
    if voice.verbose {
        let _ = writeln!(err, "speech: {}", chosen.description);
    }
    Ok(Choices { engine: chosen.engine, live: chosen.live, volume, centred, notice: chosen.notice })
}

/// Says that speech made could not be kept in the cache, and why.
pub(super) fn cache_warning(why: &str, err: &mut dyn Write) {
    let dir = Cache::default_location().dir().map_or_else(String::new, |d| format!(" in {}", d.display()));
    let _ = writeln!(err, "warning: could not save speech to the cache{dir} ({why}); it will be made again next time");
}

/// If a signal has come, the failure that ends the command for it: work
/// cut short by a signal reports the signal, not the broken work.
pub(super) fn stopped_by_signal(doing: &str) -> Option<Failure> {
    let sig = crate::signals::received()?;
    Some(Failure::new(
        crate::signals::exit_code(sig),
        format!("stopped by {} {doing}; nothing was left half-made", crate::signals::name(sig)),
    ))
}
