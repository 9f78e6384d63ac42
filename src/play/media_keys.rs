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

use crate::play::live::Input;

pub struct MediaKeys {
    controls: MediaControls,
}

/// The bus name is `org.mpris.MediaPlayer2.backease`.
pub const BUS_NAME: &str = "backease";

/// How long to wait for the session bus to answer. A bus that hangs would
/// otherwise hold the session's start for D-Bus's own 25 s; it costs the
/// media buttons instead.
pub const BUS_TIMEOUT: Duration = Duration::from_secs(2);

/// Whether this session has a bus to look for: its address is set, or
/// the usual socket (`$XDG_RUNTIME_DIR/bus`) is there, as libdbus looks
/// for it. Without either, as on a console or over ssh, nothing is tried
/// and nothing is said; libdbus would only try to start a bus for X11 and
/// fail.
pub fn bus_expected() -> bool {
    use std::os::unix::fs::FileTypeExt;
    let set = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    set("DBUS_SESSION_BUS_ADDRESS").is_some()
        || set("XDG_RUNTIME_DIR").is_some_and(|dir| {
            std::fs::metadata(std::path::Path::new(&dir).join("bus")).is_ok_and(|m| m.file_type().is_socket())
        })
}

/// What a bus that cannot be reached is, in plain words: libdbus's own
/// name sockets, X11 and `$DISPLAY`.
const UNREACHABLE: &str = "the session bus (D-Bus) could not be reached";

/// Whether a D-Bus error named `name` means there is no bus to talk to.
fn unreachable(name: Option<&str>) -> bool {
    let Some(what) = name.and_then(|n| n.strip_prefix("org.freedesktop.DBus.Error.")) else { return false };
    matches!(what, "NotSupported" | "FileNotFound" | "NoServer" | "Disconnected" | "BadAddress" | "NoNetwork")
        || what.starts_with("Spawn.")
}

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
        // libdbus's own words name sockets and X11: one plain sentence instead.
        let mut controls = MediaControls::new(config).map_err(|_| UNREACHABLE.to_string())?;
        let presses = Presses::default();
        controls
            .attach(move |event| {
                let input = match event {
                    // A headset has one button: play and pause wait a
                    // moment to see whether a second press follows.
                    MediaControlEvent::Play | MediaControlEvent::Pause | MediaControlEvent::Toggle => {
                        let single = match event {
                            MediaControlEvent::Play => Input::Resume,
                            MediaControlEvent::Pause => Input::Pause,
                            _ => Input::TogglePause,
                        };
                        presses.press(single, inputs.clone());
                        return;
                    }
                    MediaControlEvent::Next => Input::Next,
                    MediaControlEvent::Previous => Input::Back,
                    // Stop finishes the round and plays the closing;
                    // leaving the player (Quit) stops at once.
                    MediaControlEvent::Stop => Input::Finish,
                    MediaControlEvent::Quit => Input::Quit,
                    _ => return,
                };
                let _ = inputs.send(input);
            })
            .map_err(|e| match e {
                souvlaki::Error::DbusError(e) if unreachable(e.name()) => UNREACHABLE.to_string(),
                souvlaki::Error::DbusError(e) => e.message().unwrap_or(UNREACHABLE).to_string(),
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

/// Two presses of the play button within this long ask "where am I".
pub const DOUBLE_PRESS: std::time::Duration = std::time::Duration::from_millis(400);

/// Tells a single press of the play button from a double one. A press is
/// held back for [`DOUBLE_PRESS`]: if a second comes in that time, both
/// are one [`Input::WhereAmI`]; if not, the first is sent as it was.
#[derive(Clone, Default)]
struct Presses {
    /// The number of the press held back, if one is.
    pending: std::sync::Arc<std::sync::Mutex<Option<u64>>>,
    count: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Presses {
    fn press(&self, single: Input, inputs: Sender<Input>) {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        if pending.take().is_some() {
            let _ = inputs.send(Input::WhereAmI);
            return;
        }
        let number = self.count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        *pending = Some(number);
        let held = self.pending.clone();
        std::thread::spawn(move || {
            std::thread::sleep(DOUBLE_PRESS);
            let mut pending = held.lock().unwrap_or_else(|e| e.into_inner());
            if *pending == Some(number) {
                *pending = None;
                let _ = inputs.send(single);
            }
        });
    }
}

impl Drop for MediaKeys {
    fn drop(&mut self) {
        let _ = self.controls.detach();
    }
}
