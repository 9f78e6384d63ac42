//! The system voice, through the `tts` crate: speech-dispatcher on Linux,
//! the native voices on macOS and Windows.
//!
//! It speaks through the system's own speech path, straight to the
//! speakers, so it cannot be mixed or written to a file: it is live only.
//! The session waits at each spoken step for the end-of-utterance callback
//! (forwarded over a channel), while chimes and silences still come from
//! rodio. It fails in practice in three ways, each handled: no daemon (an
//! error, so the caller can fall back), a daemon that hangs on connect (the
//! connection is made on a thread of its own, within a time limit), and an
//! end callback that never comes (see [`patience`]).

use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};

use super::VoiceSettings;

/// How long to wait for the speech service to answer a connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

enum Request {
    /// Speak, and say the utterance's id on the reply channel.
    Speak(String, Sender<Option<String>>),
    Stop,
}

/// A connection to the system's speech service, owned by a thread of its
/// own (the `tts` handle is not `Send`).
pub struct SystemVoice {
    requests: Sender<Request>,
    /// Ids of utterances that ended.
    pub ended: Receiver<String>,
}

impl SystemVoice {
    /// Connects, giving up after `timeout`.
    pub fn connect(settings: &VoiceSettings, timeout: Duration) -> Result<SystemVoice, String> {
        let (ready_tx, ready_rx) = crossbeam_channel::bounded(1);
        let (req_tx, req_rx) = crossbeam_channel::unbounded::<Request>();
        let (end_tx, end_rx) = crossbeam_channel::unbounded();
        let settings = settings.clone();
        std::thread::Builder::new()
            .name("backease-system-voice".into())
            .spawn(move || {
                let mut tts = match tts::Tts::default() {
                    Ok(t) => t,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.to_string()));
                        return;
                    }
                };
                if !tts.supported_features().utterance_callbacks {
                    let _ = ready_tx.send(Err("it cannot say when it has finished speaking".into()));
                    return;
                }
                let _ = tts.on_utterance_end(Some(Box::new(move |id| {
                    let _ = end_tx.send(format!("{id:?}"));
                })));
                apply(&mut tts, &settings);
                let _ = ready_tx.send(Ok(()));
                for req in req_rx {
                    match req {
                        Request::Speak(text, reply) => {
                            let text = super::reading::as_spoken(&text).into_owned();
                            let id = tts.speak(text, false).ok().flatten().map(|id| format!("{id:?}"));
                            let _ = reply.send(id);
                        }
                        Request::Stop => {
                            let _ = tts.stop();
                        }
                    }
                }
            })
            .map_err(|e| e.to_string())?;
        // Waited for in slices, so that a signal (Ctrl-C) need not wait out
        // a service that hangs.
        let deadline = std::time::Instant::now() + timeout;
        loop {
            match ready_rx.recv_timeout(Duration::from_millis(20)) {
                Ok(Ok(())) => return Ok(SystemVoice { requests: req_tx, ended: end_rx }),
                Ok(Err(e)) => return Err(e),
                Err(crossbeam_channel::RecvTimeoutError::Timeout) if crate::signals::stopping() => {
                    return Err("stopped while connecting".into());
                }
                Err(crossbeam_channel::RecvTimeoutError::Timeout) if std::time::Instant::now() < deadline => {}
                Err(_) => {
                    return Err(format!("the speech service did not answer within {} s", timeout.as_secs()));
                }
            }
        }
    }

    /// Starts speaking; the utterance's id, or `None` if the service
    /// refused (it died, say).
    pub fn speak(&self, text: &str) -> Option<String> {
        let (tx, rx) = crossbeam_channel::bounded(1);
        self.requests.send(Request::Speak(text.to_string(), tx)).ok()?;
        rx.recv_timeout(Duration::from_secs(2)).ok().flatten()
    }

    pub fn stop(&self) {
        let _ = self.requests.send(Request::Stop);
    }
}

/// Voice, rate and pitch, as far as the service offers them.
fn apply(tts: &mut tts::Tts, settings: &VoiceSettings) {
    if let Some(wpm) = settings.rate {
        // 175 words a minute is a voice's normal pace.
        let (min, normal, max) = (tts.min_rate(), tts.normal_rate(), tts.max_rate());
        let r = if wpm >= 175 {
            normal + (max - normal) * ((wpm - 175) as f32 / 275.0)
        } else {
            normal - (normal - min) * ((175 - wpm) as f32 / 95.0)
        };
        let _ = tts.set_rate(r.clamp(min, max));
    }
    if let Some(p) = settings.pitch {
        let (min, max) = (tts.min_pitch(), tts.max_pitch());
        let _ = tts.set_pitch(min + (max - min) * p as f32 / 100.0);
    }
    if let Some(name) = &settings.voice
        && let Ok(voices) = tts.voices()
        && let Some(v) = voices.iter().find(|v| v.name() == *name || v.id() == *name)
    {
        let _ = tts.set_voice(v);
    }
}

/// How long to wait for an utterance to end before carrying on without the
/// callback: generously longer than the text could take to say.
pub fn patience(text: &str) -> Duration {
    let words = text.split_whitespace().count() as u64;
    Duration::from_secs(3) + Duration::from_millis(words * 800)
}

/// The service's voices, for `backease voices`.
pub fn voices() -> Result<Vec<super::Listed>, String> {
    let (tx, rx) = crossbeam_channel::bounded(1);
    std::thread::spawn(move || {
        let listed = |v: &tts::Voice| super::Listed {
            name: v.name(),
            language: v.language().to_string(),
            gender: v.gender().map(|g| match g {
                tts::Gender::Male => "male",
                tts::Gender::Female => "female",
            }),
            about: String::new(),
        };
        let result = tts::Tts::default()
            .map_err(|e| e.to_string())
            .and_then(|t| t.voices().map_err(|e| e.to_string()))
            .map(|vs| vs.iter().map(listed).collect::<Vec<_>>());
        let _ = tx.send(result);
    });
    rx.recv_timeout(CONNECT_TIMEOUT).map_err(|_| "the speech service did not answer".to_string())?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patience_grows_with_the_text() {
        assert_eq!(patience("one"), Duration::from_millis(3_800));
        assert!(patience("a much longer cue with many words in it") > patience("short"));
    }
}
