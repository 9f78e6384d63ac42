//! A desktop notification with a "Start" action, through the freedesktop
//! notification service (`org.freedesktop.Notifications` on the session
//! D-Bus), called directly with the `dbus` crate.
//!
//! It asks for the desktop's "new message" sound too (the `sound-name`
//! hint), so a reminder is heard as well as seen where the service plays
//! sounds. It only shows and waits; what "Start" does is the caller's.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dbus::arg::{PropMap, RefArg, Variant};
use dbus::blocking::Connection;
use dbus::message::MatchRule;

const DEST: &str = "org.freedesktop.Notifications";
const PATH: &str = "/org/freedesktop/Notifications";

/// The action key of the "Start" button.
pub const START: &str = "start";

/// A notification's id, and the action chosen (`None`: closed).
type Answer = (u32, Option<String>);

/// How long connecting and each call may take.
const BUS_TIMEOUT: Duration = Duration::from_secs(5);

/// Shows a notification and waits up to `wait` for the person. It does not
/// expire by itself (a reminder with a button is no use gone in five
/// seconds); it is closed here when the time is up. `true` when
/// "Start" is chosen, `false` when it is dismissed, the time runs out (it
/// is then closed, not left stale) or a signal asks backease to stop.
pub fn notify(summary: &str, body: &str, wait: Duration) -> Result<bool, String> {
    let bus = connect()?;
    // What the person did, by notification id: the signals may come before
    // the reply to Notify has been read.
    let seen: Arc<Mutex<Vec<Answer>>> = Arc::default();
    let s = seen.clone();
    bus.add_match(MatchRule::new_signal(DEST, "ActionInvoked"), move |(id, key): (u32, String), _, _| {
        s.lock().unwrap_or_else(|e| e.into_inner()).push((id, Some(key)));
        true
    })
    .map_err(|e| reason(&e))?;
    let s = seen.clone();
    bus.add_match(MatchRule::new_signal(DEST, "NotificationClosed"), move |(id, _why): (u32, u32), _, _| {
        s.lock().unwrap_or_else(|e| e.into_inner()).push((id, None));
        true
    })
    .map_err(|e| reason(&e))?;
    let proxy = bus.with_proxy(DEST, PATH, BUS_TIMEOUT);
    let mut hints = PropMap::new();
    hints.insert("urgency".into(), Variant(Box::new(1u8) as Box<dyn RefArg>));
    hints.insert("category".into(), Variant(Box::new("x-backease.reminder".to_string()) as Box<dyn RefArg>));
    hints.insert("sound-name".into(), Variant(Box::new("message-new-instant".to_string()) as Box<dyn RefArg>));
    let actions = vec![START, "Start"];
    let (id,): (u32,) = proxy
        .method_call(DEST, "Notify", ("backease", 0u32, "", summary, body, actions, hints, 0i32))
        .map_err(|e| reason(&e))?;
    let deadline = Instant::now() + wait;
    loop {
        let outcome = seen.lock().unwrap_or_else(|e| e.into_inner()).iter().find(|(n, _)| *n == id).cloned();
        match outcome {
            Some((_, Some(key))) if key == START => return Ok(true),
            // Another action, or closed: dismissed.
            Some(_) => return Ok(false),
            None => {}
        }
        if Instant::now() >= deadline || crate::signals::stopping() {
            let _: Result<(), _> = proxy.method_call(DEST, "CloseNotification", (id,));
            return Ok(false);
        }
        bus.process(Duration::from_millis(100)).map_err(|e| reason(&e))?;
    }
}

/// The session bus, within [`BUS_TIMEOUT`]: a bus that takes the
/// connection and never answers would otherwise hold the service for ever.
fn connect() -> Result<Connection, String> {
    let (tx, rx) = crossbeam_channel::bounded(1);
    std::thread::Builder::new()
        .name("backease-notify".into())
        .spawn(move || {
            let _ = tx.send(Connection::new_session().map_err(|e| reason(&e)));
        })
        .map_err(|e| e.to_string())?;
    rx.recv_timeout(BUS_TIMEOUT)
        .map_err(|_| format!("the session bus did not answer within {} s", BUS_TIMEOUT.as_secs()))?
}

fn reason(e: &dbus::Error) -> String {
    match e.name() {
        Some("org.freedesktop.DBus.Error.ServiceUnknown") => "no notification service is running".into(),
        Some("org.freedesktop.DBus.Error.NoReply") => "the notification service did not answer".into(),
        _ => e.message().unwrap_or("no session bus").to_string(),
    }
}
