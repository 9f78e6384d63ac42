//! Headset and keyboard media buttons: backease shows itself as a media
//! player on the session D-Bus (MPRIS, through souvlaki), so play/pause and
//! next on headphones steer the session like the keyboard does.
//!
//! The buttons arrive as the same [`Input`]s the keyboard sends. Without a
//! session bus this module fails with a reason and the session plays on;
//! it knows nothing of the player itself.

use std::time::{Duration, Instant};

use crossbeam_channel::Sender;
use souvlaki::{MediaControlEvent, MediaControls, MediaMetadata, MediaPlayback, PlatformConfig};

use crate::live::Input;

pub struct MediaKeys {
    controls: MediaControls,
}

/// The bus name is `org.mpris.MediaPlayer2.backease`.
pub const BUS_NAME: &str = "backease";

/// How long to wait for the session bus to answer. A bus that hangs would
/// otherwise hold the session's start for D-Bus's own 25 s; it costs the
/// media buttons instead.
pub const BUS_TIMEOUT: Duration = Duration::from_secs(2);

impl MediaKeys {
    /// Registers on the session bus; media buttons become [`Input`]s. Gives
    /// up after [`BUS_TIMEOUT`], or at once when a signal asks backease to
    /// stop; a registration that comes later is let go of.
    pub fn start(title: &str, inputs: Sender<Input>) -> Result<MediaKeys, String> {
        let (tx, rx) = crossbeam_channel::bounded(1);
        let title = title.to_string();
        std::thread::Builder::new()
            .name("backease-media-keys".into())
            .spawn(move || {
                let _ = tx.send(MediaKeys::register(&title, inputs));
            })
            .map_err(|e| e.to_string())?;
        let deadline = Instant::now() + BUS_TIMEOUT;
        loop {
            match rx.recv_timeout(Duration::from_millis(20)) {
                Ok(registered) => return registered,
                Err(crossbeam_channel::RecvTimeoutError::Timeout) if crate::signals::stopping() => {
                    return Err("stopped".into());
                }
                Err(crossbeam_channel::RecvTimeoutError::Timeout) if Instant::now() < deadline => {}
                Err(_) => return Err(format!("the session bus did not answer within {} s", BUS_TIMEOUT.as_secs())),
            }
        }
    }

    fn register(title: &str, inputs: Sender<Input>) -> Result<MediaKeys, String> {
        let config = PlatformConfig { dbus_name: BUS_NAME, display_name: "backease", hwnd: None };
        let mut controls = MediaControls::new(config).map_err(|e| format!("{e:?}"))?;
        controls
            .attach(move |event| {
                let input = match event {
                    MediaControlEvent::Play => Input::Resume,
                    MediaControlEvent::Pause => Input::Pause,
                    MediaControlEvent::Toggle => Input::TogglePause,
                    MediaControlEvent::Next => Input::Next,
                    MediaControlEvent::Previous => Input::Back,
                    MediaControlEvent::Stop | MediaControlEvent::Quit => Input::Quit,
                    _ => return,
                };
                let _ = inputs.send(input);
            })
            .map_err(|e| match e {
                souvlaki::Error::DbusError(e) => e.message().unwrap_or("no session bus").to_string(),
                other => format!("{other:?}"),
            })?;
        let _ =
            controls.set_metadata(MediaMetadata { title: Some(title), artist: Some("backease"), ..Default::default() });
        let _ = controls.set_playback(MediaPlayback::Playing { progress: None });
        Ok(MediaKeys { controls })
    }

    /// Tells the desktop whether the session is playing.
    pub fn set_playing(&mut self, playing: bool) {
        let state =
            if playing { MediaPlayback::Playing { progress: None } } else { MediaPlayback::Paused { progress: None } };
        let _ = self.controls.set_playback(state);
    }
}

impl Drop for MediaKeys {
    fn drop(&mut self) {
        let _ = self.controls.detach();
    }
}
