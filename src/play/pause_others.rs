//! Other media players, paused for a session (`pause_others: true`,
//! `play --pause-others`) and resumed after it.
//!
//! The players are the MPRIS ones on the session D-Bus
//! (`org.mpris.MediaPlayer2.*`) whose `PlaybackStatus` is `Playing`; each
//! gets `Pause` at the start and, at the end, `Play` — only those this
//! module paused, only if they are still paused (one the person stopped or
//! started again meanwhile is left as it is), and never backease itself.
//!
//! Everything here is bounded: connecting, asking and pausing take at most
//! [`BUDGET`], each call at most [`CALL_TIMEOUT`], so a missing bus or a
//! player that never answers costs the session a moment and one warning,
//! never its start. It does not watch the players during the session: music
//! started again by hand plays on.

use std::time::{Duration, Instant};

use dbus::blocking::Connection;
use dbus::blocking::stdintf::org_freedesktop_dbus::Properties;

/// The most the pausing (or the resuming) may take in all.
pub const BUDGET: Duration = Duration::from_secs(1);
/// The most one call to one player may take: a player that hangs leaves
/// time to ask the others.
pub const CALL_TIMEOUT: Duration = Duration::from_millis(250);

const PREFIX: &str = "org.mpris.MediaPlayer2.";
const PATH: &str = "/org/mpris/MediaPlayer2";
const PLAYER: &str = "org.mpris.MediaPlayer2.Player";

/// The players paused for this session; they are resumed by
/// [`Paused::resume`], or on drop (when a session ends by an error).
pub struct Paused {
    bus: Connection,
    players: Vec<String>,
}

/// The players worth asking among the names on the bus: MPRIS ones, and
/// not backease's own (this session's, or another's).
pub fn candidates(names: &[String]) -> Vec<String> {
    let ours = format!("{PREFIX}{}", crate::play::media_keys::BUS_NAME);
    let mut players: Vec<String> = names
        .iter()
        .filter(|n| n.starts_with(PREFIX) && n.len() > PREFIX.len())
        .filter(|n| **n != ours && !n.starts_with(&format!("{ours}.")))
        .cloned()
        .collect();
    players.sort();
    players
}

/// Pauses the players that are playing. Returns what was paused (`None`
/// when nothing was) and at most one warning. Gives up after [`BUDGET`], or
/// at once when a signal asks backease to stop; players paused after that
/// are resumed by the thread that paused them.
pub fn pause_playing() -> (Option<Paused>, Option<String>) {
    let (tx, rx) = crossbeam_channel::bounded(1);
    let spawned = std::thread::Builder::new().name("backease-pause-others".into()).spawn(move || {
        let result = pause_all(Instant::now() + BUDGET);
        if let Err(crossbeam_channel::SendError((Ok(mut late), _))) = tx.send(result) {
            late.resume();
        }
    });
    if let Err(e) = spawned {
        return (None, Some(format!("other media players were not paused ({e})")));
    }
    // A little over the budget: the thread's own calls end by then.
    let deadline = Instant::now() + BUDGET + Duration::from_millis(200);
    loop {
        match rx.recv_timeout(Duration::from_millis(20)) {
            Ok((Ok(paused), warning)) => {
                let paused = (!paused.players.is_empty()).then_some(paused);
                return (paused, warning.map(|w| format!("a media player was not paused ({w})")));
            }
            Ok((Err(e), _)) => return (None, Some(format!("other media players were not paused ({e})"))),
            Err(crossbeam_channel::RecvTimeoutError::Timeout) if crate::signals::stopping() => return (None, None),
            Err(crossbeam_channel::RecvTimeoutError::Timeout) if Instant::now() < deadline => {}
            Err(_) => {
                let why = format!("the session bus did not answer within {} s", BUDGET.as_secs());
                return (None, Some(format!("other media players were not paused ({why})")));
            }
        }
    }
}

/// Connects, lists the players and pauses those playing, within
/// `deadline`. The warning is the first player that failed.
fn pause_all(deadline: Instant) -> (Result<Paused, String>, Option<String>) {
    let bus = match Connection::new_session() {
        Ok(bus) => bus,
        Err(e) => return (Err(reason(&e)), None),
    };
    let proxy = bus.with_proxy("org.freedesktop.DBus", "/org/freedesktop/DBus", left(deadline));
    let names: Vec<String> = match proxy.method_call("org.freedesktop.DBus", "ListNames", ()) {
        Ok((names,)) => names,
        Err(e) => return (Err(reason(&e)), None),
    };
    let mut warning = None;
    let mut players = Vec::new();
    for name in candidates(&names) {
        let player = bus.with_proxy(name.as_str(), PATH, left(deadline));
        let paused = match player.get::<String>(PLAYER, "PlaybackStatus") {
            Ok(status) if status == "Playing" => player.method_call(PLAYER, "Pause", ()),
            Ok(_) => continue,
            Err(e) => Err(e),
        };
        match paused {
            Ok(()) => players.push(name),
            Err(e) => {
                warning.get_or_insert_with(|| format!("{}: {}", short(&name), reason(&e)));
            }
        }
    }
    (Ok(Paused { bus, players }), warning)
}

impl Paused {
    /// The bus names of the players paused.
    pub fn players(&self) -> &[String] {
        &self.players
    }

    /// Plays again each player paused that is still paused, within
    /// [`BUDGET`]. Returns a warning for the first that could not be.
    pub fn resume(&mut self) -> Option<String> {
        let deadline = Instant::now() + BUDGET;
        let mut warning = None;
        for name in std::mem::take(&mut self.players) {
            let player = self.bus.with_proxy(name.as_str(), PATH, left(deadline));
            let resumed: Result<(), dbus::Error> = match player.get::<String>(PLAYER, "PlaybackStatus") {
                Ok(status) if status == "Paused" => player.method_call(PLAYER, "Play", ()),
                Ok(_) => continue,
                Err(e) => Err(e),
            };
            if let Err(e) = resumed {
                warning.get_or_insert_with(|| format!("{} was not resumed ({})", short(&name), reason(&e)));
            }
        }
        warning
    }
}

impl Drop for Paused {
    fn drop(&mut self) {
        let _ = self.resume();
    }
}

/// A call's time limit: what is left of the budget, at most
/// [`CALL_TIMEOUT`], and never zero (which libdbus reads as its default).
fn left(deadline: Instant) -> Duration {
    deadline.saturating_duration_since(Instant::now()).min(CALL_TIMEOUT).max(Duration::from_millis(1))
}

/// A player's name without the MPRIS prefix: `vlc`, `spotify`.
fn short(name: &str) -> &str {
    name.strip_prefix(PREFIX).unwrap_or(name)
}

fn reason(e: &dbus::Error) -> String {
    match e.name() {
        Some("org.freedesktop.DBus.Error.NoReply") | Some("org.freedesktop.DBus.Error.Timeout") => {
            "it did not answer in time".into()
        }
        _ => e.message().unwrap_or("no session bus").to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asks_the_mpris_players_but_not_backease() {
        let names: Vec<String> = [
            ":1.7",
            "org.freedesktop.DBus",
            "org.mpris.MediaPlayer2.vlc",
            "org.mpris.MediaPlayer2.backease",
            "org.mpris.MediaPlayer2.backease.instance42",
            "org.mpris.MediaPlayer2.",
            "org.mpris.MediaPlayer2.firefox.instance_1_25",
            "org.mpris.MediaPlayer2Extra",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(candidates(&names), ["org.mpris.MediaPlayer2.firefox.instance_1_25", "org.mpris.MediaPlayer2.vlc"]);
    }

    #[test]
    fn a_call_never_waits_past_the_budget_and_never_for_ever() {
        let now = Instant::now();
        assert_eq!(left(now + Duration::from_secs(5)), CALL_TIMEOUT);
        assert_eq!(left(now), Duration::from_millis(1));
        assert!(left(now + Duration::from_millis(100)) <= Duration::from_millis(100));
    }
}
