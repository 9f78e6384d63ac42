//! Where the session's samples go: the audio device through rodio, or, in
//! tests, a hand-cranked output that pulls samples only when told to.
//!
//! Both sit behind [`Output`], so the player thread is the same code either
//! way. Opening the device is the only place that knows about rodio's
//! device types.

use std::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::error::{Failure, code};
use crate::session::Stream;

/// Something that plays a [`Stream`]. Pausing happens in the stream
/// itself, so the controls' notices can still be heard.
pub trait Output: Send {
    fn start(&mut self, stream: Stream);
    /// True once everything handed over has been played out.
    fn drained(&self) -> bool;
    /// Why the output has stopped working, once it has: the device or the
    /// sound server is gone. A session cannot go on without it.
    fn lost(&self) -> Option<String> {
        None
    }
    /// Opens the output again after it was lost (the sound server came
    /// back), ready for a new [`Output::start`].
    fn reopen(&mut self) -> Result<(), String> {
        Err("this output cannot be opened again".into())
    }
}

/// Silence sent to the device as it opens, before the session starts.
pub const PRE_ROLL: Duration = Duration::from_millis(60);

/// The audio device, through a rodio `Player`.
pub struct Device {
    /// An `Option` only so that a dead device can be let go of without
    /// waiting for its thread (see [`Drop`]).
    sink: Option<rodio::MixerDeviceSink>,
    player: rodio::Player,
    name: String,
    health: Arc<Health>,
    /// The device asked for (`None`: the default), to open it again.
    wanted: Option<String>,
}

/// How the device's stream is doing, written on the audio thread (atomics
/// only) and read by the player thread.
///
/// A device can die two ways: its stream reports an error (cpal's error
/// callback), or it just stops asking for samples, which is how a stream
/// through PulseAudio's ALSA plugin often dies with its server. Both are
/// watched.
#[derive(Debug)]
struct Health {
    since: Instant,
    /// 1 + the milliseconds after `since` that the stream last pulled
    /// samples; 0 until it first does.
    pulled: AtomicU64,
    /// The same for when the session was handed to the device.
    started: AtomicU64,
    /// The worst error reported: one of the `ERROR_` values.
    error: AtomicU8,
    /// Errors reported since the stream last pulled samples.
    errors: AtomicU32,
}

const ERROR_NONE: u8 = 0;
/// An error that may pass (an underrun, a glitch as a stream starts
/// through PulseAudio): fatal only with a stall.
const ERROR_PASSING: u8 = 1;
/// The device or the sound server is gone: no more samples will be taken.
const ERROR_GONE: u8 = 2;

/// A stream that takes no samples for this long is dead, whatever it
/// says. Long: on a loaded machine a live stream has been seen to stall for
/// 1.5 s; a dead server is told far sooner by [`ERROR_STORM`].
pub const STALL: Duration = Duration::from_secs(4);
/// A stream that reports this many errors without taking a sample is dead:
/// through PulseAudio's ALSA plugin, a server that died makes the stream
/// fail hundreds of thousands of times a second, while a live one reports
/// a few underruns at most.
const ERROR_STORM: u32 = 500;
/// How long the storm must last, so a burst as a stream starts is not one.
const STORM: Duration = Duration::from_millis(100);
/// A stream that has not started within this long never will. Generous: an
/// idle sound server may take a few seconds to wake up for a new stream
/// (a PulseAudio null sink left idle while speech was made has taken over
/// six), and a dead one is told sooner by its errors.
const NEVER_STARTED: Duration = Duration::from_secs(10);
/// Pulls between two notes of the time: cheap, and often enough (at
/// 22 050 Hz, every 12 ms).
const NOTE_EVERY: u32 = 256;

impl Health {
    fn new() -> Arc<Health> {
        Arc::new(Health {
            since: Instant::now(),
            pulled: AtomicU64::new(0),
            started: AtomicU64::new(0),
            error: AtomicU8::new(ERROR_NONE),
            errors: AtomicU32::new(0),
        })
    }

    fn note_pull(&self) {
        self.pulled.store(self.now(), Ordering::Relaxed);
        self.errors.store(0, Ordering::Relaxed);
    }

    /// 1 + milliseconds since `since`.
    fn now(&self) -> u64 {
        self.since.elapsed().as_millis() as u64 + 1
    }

    fn report(&self, e: &rodio::cpal::Error) {
        use rodio::cpal::ErrorKind;
        let level = match e.kind() {
            ErrorKind::DeviceNotAvailable | ErrorKind::HostUnavailable => ERROR_GONE,
            _ => ERROR_PASSING,
        };
        self.error.fetch_max(level, Ordering::Relaxed);
        self.errors.fetch_add(1, Ordering::Relaxed);
    }

    fn lost(&self) -> Option<String> {
        let (pulled, started) = (self.pulled.load(Ordering::Relaxed), self.started.load(Ordering::Relaxed));
        let since = |at: u64| Duration::from_millis(self.now().saturating_sub(at));
        if pulled == 0 {
            return match self.error.load(Ordering::Relaxed) {
                ERROR_GONE => Some("the device or the sound server went away".into()),
                _ if started > 0 && since(started) > NEVER_STARTED => {
                    Some(format!("the device never started ({} s)", since(started).as_secs()))
                }
                _ => None,
            };
        }
        let quiet = since(pulled);
        match self.error.load(Ordering::Relaxed) {
            ERROR_GONE => Some("the device or the sound server went away".into()),
            ERROR_PASSING if quiet > STORM && self.errors.load(Ordering::Relaxed) >= ERROR_STORM => {
                Some("the device or the sound server went away (it fails on every try)".into())
            }
            ERROR_PASSING if quiet > STALL => {
                Some(format!("the device failed and took no sound for {:.1} s", quiet.as_secs_f32()))
            }
            _ if quiet > STALL => Some(format!("the device took no sound for {:.1} s", quiet.as_secs_f32())),
            _ => None,
        }
    }
}

/// The session's stream as the device gets it, noting each time it pulls.
struct Watched {
    stream: Stream,
    health: Arc<Health>,
    count: u32,
}

impl Iterator for Watched {
    type Item = f32;

    fn next(&mut self) -> Option<f32> {
        self.count += 1;
        if self.count == NOTE_EVERY {
            self.count = 0;
            self.health.note_pull();
        }
        self.stream.next()
    }
}

impl rodio::Source for Watched {
    fn current_span_len(&self) -> Option<usize> {
        self.stream.current_span_len()
    }
    fn channels(&self) -> rodio::ChannelCount {
        self.stream.channels()
    }
    fn sample_rate(&self) -> rodio::SampleRate {
        self.stream.sample_rate()
    }
    fn total_duration(&self) -> Option<Duration> {
        self.stream.total_duration()
    }
}

impl Device {
    /// Opens the named output, or the default one.
    pub fn open(name: Option<&str>) -> Result<Device, Failure> {
        use rodio::DeviceTrait;
        let name_wanted = name.map(str::to_string);
        let no_device = |detail: String| {
            Failure::new(code::NO_DEVICE, format!("no audio output device found ({detail})")).hint(
                "start a sound server (PulseAudio or PipeWire) or plug in an output, \
                 or write the session to a file instead: backease render ROUTINE -o session.wav",
            )
        };
        let health = Health::new();
        let reporter = health.clone();
        let on_error = move |e: rodio::cpal::Error| {
            reporter.report(&e);
            stream_error(e);
        };
        // "default", as `devices` lists it, is the default output.
        let name = name.filter(|n| *n != DEFAULT);
        // Opened at real-time priority where the system allows it, so the
        // threads that carry the sound inherit it (see `priority`).
        let (sink, raised) = priority::open_raised(|| {
            quietly(|| match name {
                None => rodio::DeviceSinkBuilder::from_default_device()
                    .and_then(|b| low_latency(b).with_error_callback(on_error).open_stream())
                    .or_else(|_| rodio::DeviceSinkBuilder::open_default_sink())
                    .map_err(|e| no_device(e.to_string())),
                Some(wanted) => {
                    let device = list_devices()
                        .map_err(no_device)?
                        .into_iter()
                        .find(|(n, d)| n == wanted || describe(d) == wanted)
                        .map(|(_, d)| d)
                        .ok_or_else(|| Failure::usage(format!("no output device named \"{wanted}\"")))?;
                    rodio::DeviceSinkBuilder::from_device(device)
                        .and_then(|b| low_latency(b).with_error_callback(on_error).open_stream())
                        .map_err(|e| no_device(e.to_string()))
                }
            })
        });
        // A name that is no output is a usage error, like any wrong option;
        // the outputs are listed only now, as the command ends (listing
        // opens each one, which can upset ALSA for the rest of a session).
        let mut sink = sink.map_err(|f| if f.code == code::USAGE { f.hint(outputs_hint()) } else { f })?;
        sink.log_on_drop(false);
        if crate::trace::timing() {
            eprintln!(
                "timing: device open {} ms after start, {:?} frames a period at {} Hz",
                crate::trace::started().elapsed().as_millis(),
                sink.config().buffer_size(),
                sink.config().sample_rate()
            );
            eprintln!("timing: audio threads {raised}");
        }
        use rodio::Source;
        let player = rodio::Player::connect_new(sink.mixer());
        // A device drops the first few milliseconds it is sent while it
        // starts up (about 10 ms through PulseAudio); a moment of silence
        // first keeps the session's opening sound whole. It is sent now, as
        // the device opens, so that it has played by the time the session
        // (its speech made meanwhile) is handed over, rather than delay it.
        let channels = std::num::NonZero::new(crate::audio::format::CHANNELS).expect("two");
        let rate = std::num::NonZero::new(crate::script::timeline::SAMPLE_RATE).expect("non-zero");
        player.append(rodio::source::Zero::new(channels, rate).take_duration(PRE_ROLL));
        let name = match name {
            Some(n) => n.to_string(),
            None => rodio::cpal::traits::HostTrait::default_output_device(&rodio::cpal::default_host())
                .and_then(|d| d.description().ok().map(|d| d.name().to_string()))
                .unwrap_or_else(|| "default".into()),
        };
        Ok(Device { sink: Some(sink), player, name, health, wanted: name_wanted })
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Output for Device {
    fn start(&mut self, stream: Stream) {
        // After the pre-roll `open` sent, or at once if it has played.
        self.health.started.store(self.health.now(), Ordering::Relaxed);
        self.player.append(Watched { stream, health: self.health.clone(), count: 0 });
        self.player.play();
        if crate::trace::timing() {
            eprintln!(
                "timing: stream handed to the device {} ms after start",
                crate::trace::started().elapsed().as_millis()
            );
        }
    }
    fn drained(&self) -> bool {
        self.player.empty()
    }
    fn lost(&self) -> Option<String> {
        self.health.lost()
    }
    fn reopen(&mut self) -> Result<(), String> {
        // The dead stream's thread spins on its errors until it is closed.
        if let Some(sink) = self.sink.take() {
            let_go(sink);
        }
        let fresh = Device::open(self.wanted.as_deref()).map_err(|f| f.message)?;
        *self = fresh;
        Ok(())
    }
}

impl Drop for Device {
    fn drop(&mut self) {
        let Some(sink) = self.sink.take() else { return };
        if self.health.lost().is_none() {
            drop(sink);
        } else {
            let_go(sink);
        }
    }
}

/// Closes a dead device's stream. Closing joins its audio thread, which may
/// be stuck in the sound library, so it is done on a thread of its own,
/// given a moment, and otherwise left to finish (or to end with the
/// process).
fn let_go(sink: rodio::MixerDeviceSink) {
    let (done_tx, done_rx) = crossbeam_channel::bounded::<()>(1);
    let closing = std::thread::Builder::new().name("backease-close-device".into()).spawn(move || {
        drop(sink);
        let _ = done_tx.send(());
    });
    if closing.is_ok() {
        let _ = done_rx.recv_timeout(Duration::from_millis(300));
    }
}

/// Periods of 1536 frames, 32 ms at 48 kHz (two of them buffered): a
/// pause or a skip is heard within a few tens of milliseconds, and the
/// stream is cheap enough to generate that this does not run dry.
fn low_latency(b: rodio::DeviceSinkBuilder) -> rodio::DeviceSinkBuilder {
    b.with_buffer_size(rodio::cpal::BufferSize::Fixed(PERIOD_FRAMES))
}

pub const PERIOD_FRAMES: u32 = 1536;

/// Errors the audio stream reports while running. Through PulseAudio's
/// ALSA plugin a stream reports a few transient I/O errors as it starts,
/// which mean nothing to a user, so they are kept quiet unless
/// `BACKEASE_AUDIO_DEBUG` is set.
///
/// This runs on the device's thread, which retries at once after an error:
/// after an underrun the plugin answers "I/O error" until its stream is set
/// up again, and without a pause the thread spins on it (tens of thousands
/// of errors a second) and starves the very threads that set it up. A
/// short sleep lets them.
fn stream_error(e: rodio::cpal::Error) {
    if std::env::var_os("BACKEASE_AUDIO_DEBUG").is_some() {
        eprintln!("audio stream error: {e} at {} ms", crate::trace::started().elapsed().as_millis());
    }
    std::thread::sleep(Duration::from_millis(2));
}

/// Runs `f` with the process's stderr sent to /dev/null. Probing audio
/// devices makes ALSA and JACK print screens of diagnostics that mean
/// nothing to a user; backease reports the outcome in one line instead.
/// Set `BACKEASE_AUDIO_DEBUG=1` to see them.
fn quietly<T>(f: impl FnOnce() -> T) -> T {
    #[cfg(unix)]
    if std::env::var_os("BACKEASE_AUDIO_DEBUG").is_none() {
        use std::io::Write;
        let _ = std::io::stderr().flush();
        let saved = nix::unistd::dup(std::io::stderr()).ok();
        let null = std::fs::OpenOptions::new().write(true).open("/dev/null").ok();
        if let (Some(saved), Some(null)) = (saved, null) {
            let _ = nix::unistd::dup2_stderr(&null);
            let out = f();
            let _ = nix::unistd::dup2_stderr(&saved);
            return out;
        }
    }
    f()
}

/// The names of the output devices, with the devices.
pub fn list_devices() -> Result<Vec<(String, rodio::Device)>, String> {
    quietly(list_devices_noisy)
}

fn list_devices_noisy() -> Result<Vec<(String, rodio::Device)>, String> {
    use rodio::DeviceTrait;
    use rodio::cpal::traits::HostTrait;
    let host = rodio::cpal::default_host();
    let devices = host.output_devices().map_err(|e| e.to_string())?;
    Ok(devices
        .filter_map(|d| {
            let id = d.id().ok()?.to_string();
            // "alsa:pulse" → "pulse": the name a user types.
            let name = id.split_once(':').map_or(id.as_str(), |(_, n)| n).to_string();
            Some((name, d))
        })
        .collect())
}

/// The name of the default output, in listings and for `--device`.
pub const DEFAULT: &str = "default";

/// ALSA plugins that convert or reshape sound for another output, and the
/// one that discards it: listed by ALSA, but not outputs to play a session
/// on. (Prefixes: the converters come in variants, `samplerate_best`…)
const NOT_OUTPUTS: [&str; 7] = ["null", "lavrate", "samplerate", "speexrate", "speex", "upmix", "vdownmix"];

/// An output a user can pick (`devices --json` prints these).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Listed {
    pub name: String,
    pub description: String,
    pub default: bool,
}

/// The outputs a user can pick, the default first. ALSA lists every plugin
/// it has a configuration for, most of which never open (`jack` with no
/// JACK server, `oss` with no `/dev/dsp`, the rate converters with no
/// output behind them), so each is listed only if it opens now; the
/// converters and `null` are left out even then, as is the sound server's
/// own name (`pulse`, `pipewire`) when the default already plays through
/// it. Opening a plugin that fails can leave ALSA unable to open others in
/// the same process, so only `devices` calls this, never `play`.
pub fn list_outputs() -> Result<Vec<Listed>, String> {
    use rodio::DeviceTrait;
    use rodio::cpal::traits::HostTrait;
    quietly(|| {
        let all = list_devices_noisy()?;
        let mut out = Vec::new();
        let opens = |d: &rodio::Device| d.default_output_config().is_ok();
        let host = rodio::cpal::default_host();
        let default_description = all
            .iter()
            .find(|(n, _)| n == DEFAULT)
            .map(|(_, d)| describe(d))
            .unwrap_or_else(|| "the system's default output".into());
        if host.default_output_device().is_some_and(|d| opens(&d)) {
            out.push(Listed { name: DEFAULT.into(), description: default_description.clone(), default: true });
        }
        let server = default_description.to_lowercase();
        for (name, device) in all {
            let wrapper = NOT_OUTPUTS.iter().any(|w| name == *w || name.starts_with(&format!("{w}_")));
            let same_as_default = (name == "pulse" && server.contains("pulseaudio"))
                || (name == "pipewire" && server.contains("pipewire"));
            if name == DEFAULT || wrapper || (same_as_default && !out.is_empty()) || !opens(&device) {
                continue;
            }
            out.push(Listed { description: describe(&device), name, default: false });
        }
        Ok(out)
    })
}

/// The hint for a `--device` that names no output: the names there are.
fn outputs_hint() -> String {
    match list_outputs() {
        Ok(list) if !list.is_empty() => {
            let names: Vec<&str> = list.iter().map(|o| o.name.as_str()).collect();
            format!("the outputs here: {} (`backease devices` describes them)", names.join(", "))
        }
        _ => "`backease devices` lists the outputs".into(),
    }
}

/// A device's description, for listings.
pub fn describe(device: &rodio::Device) -> String {
    use rodio::DeviceTrait;
    device.description().map(|d| d.name().to_string()).unwrap_or_default()
}

/// Real-time priority for the threads that carry the sound, as sound
/// servers and players do: a user's laptop is busy (a browser, a build),
/// and at normal priority the device's thread and the sound server's
/// client thread in this process wait behind it for longer than the
/// device's 64 ms buffer lasts, so the sound breaks up and falls behind.
///
/// The device is opened from a short-lived thread raised to round-robin
/// real-time priority, so the threads the opening creates (cpal's, and
/// through PulseAudio's ALSA plugin, its client's) inherit it; the rest of
/// the program stays at normal priority. Raising a thread needs a limit
/// (`RLIMIT_RTPRIO`) or a privilege; failing that, RealtimeKit (rtkit, on
/// the system bus, as PulseAudio and PipeWire use) raises each new thread;
/// failing that too, the session plays at normal priority.
#[cfg(target_os = "linux")]
mod priority {
    use std::time::Duration;

    /// Under PulseAudio's own real-time priority (5 by default), so the
    /// server is never kept waiting by its client.
    const PRIORITY: u8 = 4;

    /// How the audio threads were raised.
    pub enum Raised {
        Directly,
        ByRtkit(usize),
        Not(String),
    }

    impl std::fmt::Display for Raised {
        fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            match self {
                Raised::Directly => write!(f, "at real-time priority {PRIORITY}"),
                Raised::ByRtkit(n) => write!(f, "at real-time priority through rtkit ({n} threads)"),
                Raised::Not(why) => write!(f, "at normal priority ({why})"),
            }
        }
    }

    pub fn open_raised<T: Send>(open: impl FnOnce() -> T + Send) -> (T, Raised) {
        let before = threads();
        let (out, direct) = std::thread::scope(|s| {
            let opener = s.spawn(|| {
                let direct = raise_current();
                (open(), direct)
            });
            opener.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        });
        let raised = match direct {
            Ok(()) => Raised::Directly,
            Err(direct) => {
                // rtkit's threads do not pass their priority on: raise each.
                let new: Vec<u64> = threads().into_iter().filter(|t| !before.contains(t)).collect();
                match rtkit_within(new, RTKIT_PATIENCE) {
                    Ok(n) => Raised::ByRtkit(n),
                    Err(rtkit) => Raised::Not(format!("{direct}; rtkit: {rtkit}")),
                }
            }
        };
        (out, raised)
    }

    fn raise_current() -> Result<(), String> {
        use thread_priority::unix::{RealtimeThreadSchedulePolicy, ThreadSchedulePolicy};
        use thread_priority::{ThreadPriority, ThreadPriorityValue};
        let priority = ThreadPriorityValue::try_from(PRIORITY).map_err(|e| e.to_string())?;
        thread_priority::unix::set_thread_priority_and_policy(
            thread_priority::unix::thread_native_id(),
            ThreadPriority::Crossplatform(priority),
            ThreadSchedulePolicy::Realtime(RealtimeThreadSchedulePolicy::RoundRobin),
        )
        .map_err(|e| format!("not permitted ({e:?})"))
    }

    /// The ids of this process's threads.
    fn threads() -> Vec<u64> {
        std::fs::read_dir("/proc/self/task")
            .map(|dir| dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok()).collect())
            .unwrap_or_default()
    }

    /// How long the system bus and rtkit get to answer, in all: a bus that
    /// takes the connection and never answers would otherwise hold every
    /// device opening for libdbus's 25 s.
    const RTKIT_PATIENCE: Duration = Duration::from_secs(1);

    /// [`rtkit`] on a thread of its own, waited for at most `patience`;
    /// past it, the session plays at normal priority (the thread is left
    /// to finish or not; it holds nothing the session needs).
    fn rtkit_within(threads: Vec<u64>, patience: Duration) -> Result<usize, String> {
        let (tx, rx) = crossbeam_channel::bounded(1);
        let asked = std::thread::Builder::new().name("backease-rtkit".into()).spawn(move || {
            let _ = tx.send(rtkit(&threads).map(|()| threads.len()));
        });
        if let Err(e) = asked {
            return Err(e.to_string());
        }
        rx.recv_timeout(patience)
            .unwrap_or_else(|_| Err(format!("the system bus did not answer within {} s", patience.as_secs_f32())))
    }

    fn rtkit(threads: &[u64]) -> Result<(), String> {
        use dbus::blocking::stdintf::org_freedesktop_dbus::Properties;
        const RTKIT: &str = "org.freedesktop.RealtimeKit1";
        let bus = dbus::blocking::Connection::new_system().map_err(|e| e.to_string())?;
        let rtkit = bus.with_proxy(RTKIT, "/org/freedesktop/RealtimeKit1", Duration::from_millis(500));
        let max_priority: i32 = rtkit.get(RTKIT, "MaxRealtimePriority").map_err(|e| e.to_string())?;
        let max_cpu: i64 = rtkit.get(RTKIT, "RTTimeUSecMax").map_err(|e| e.to_string())?;
        // rtkit serves only a process that limits how long a real-time
        // thread may run without blocking; the audio threads block every
        // period, far sooner.
        let max_cpu = u64::try_from(max_cpu).map_err(|e| e.to_string())?;
        nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_RTTIME, max_cpu, max_cpu)
            .map_err(|e| e.to_string())?;
        let priority = u32::from(PRIORITY).min(max_priority.max(1) as u32);
        for &t in threads {
            rtkit.method_call::<(), _, _, _>(RTKIT, "MakeThreadRealtime", (t, priority)).map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}

#[cfg(not(target_os = "linux"))]
mod priority {
    pub struct Raised;

    impl std::fmt::Display for Raised {
        fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            write!(f, "at the system's priority")
        }
    }

    pub fn open_raised<T>(open: impl FnOnce() -> T) -> (T, Raised) {
        (open(), Raised)
    }
}

/// An output for tests: pulls samples only when [`Manual::advance`] is
/// called, as a device would, and keeps what it pulled.
#[derive(Clone, Default)]
pub struct Manual {
    inner: Arc<Mutex<ManualState>>,
}

#[derive(Default)]
struct ManualState {
    stream: Option<Stream>,
    done: bool,
    pub played: Vec<f32>,
}

impl Manual {
    /// Pulls up to `n` frames, as a device would in `n` sample periods,
    /// and keeps each mixed down to one channel.
    pub fn advance(&self, n: usize) {
        let mut s = self.inner.lock().expect("not poisoned");
        let Some(mut stream) = s.stream.take() else { return };
        for _ in 0..n {
            match stream.next_frame() {
                Some([l, r]) => s.played.push((l + r) / 2.0),
                None => {
                    s.done = true;
                    return;
                }
            }
        }
        s.stream = Some(stream);
    }

    /// Everything played so far.
    pub fn played(&self) -> Vec<f32> {
        self.inner.lock().expect("not poisoned").played.clone()
    }

    /// Waits (briefly) until the player thread has handed over a stream.
    pub fn wait_started(&self) {
        for _ in 0..500 {
            if self.inner.lock().expect("not poisoned").stream.is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        panic!("the player never started the output");
    }
}

impl Output for Manual {
    fn start(&mut self, stream: Stream) {
        self.inner.lock().expect("not poisoned").stream = Some(stream);
    }
    fn drained(&self) -> bool {
        let s = self.inner.lock().expect("not poisoned");
        s.done || s.stream.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A health 60 s old whose stream last pulled `pulled` ago (never:
    /// `None`), handed over `started` ago, with `errors` of `error`.
    fn health(pulled: Option<Duration>, started: Option<Duration>, error: u8, errors: u32) -> Health {
        let since = Instant::now() - Duration::from_secs(60);
        let at = |ago: Option<Duration>| ago.map_or(0, |ago| (Duration::from_secs(60) - ago).as_millis() as u64 + 1);
        Health {
            since,
            pulled: AtomicU64::new(at(pulled)),
            started: AtomicU64::new(at(started)),
            error: AtomicU8::new(error),
            errors: AtomicU32::new(errors),
        }
    }

    #[test]
    fn a_device_is_lost_when_it_says_so_or_stops_taking_sound() {
        #[track_caller]
        fn check(h: Health, expect: Option<&str>) {
            let lost = h.lost();
            match expect {
                None => assert_eq!(lost, None),
                Some(start) => assert!(lost.as_deref().is_some_and(|l| l.starts_with(start)), "{lost:?}"),
            }
        }
        let ms = Duration::from_millis;
        check(health(None, None, ERROR_NONE, 0), None);
        check(health(None, Some(ms(2000)), ERROR_NONE, 0), None);
        check(health(None, Some(ms(11_000)), ERROR_NONE, 0), Some("the device never started (11 s)"));
        check(health(None, None, ERROR_GONE, 1), Some("the device or the sound server went away"));
        check(health(Some(ms(10)), None, ERROR_NONE, 0), None);
        check(health(Some(ms(3000)), None, ERROR_NONE, 0), None);
        check(health(Some(ms(5000)), None, ERROR_NONE, 0), Some("the device took no sound for 5.0 s"));
        check(health(Some(ms(10)), None, ERROR_GONE, 1), Some("the device or the sound server went away"));
        check(health(Some(ms(50)), None, ERROR_PASSING, ERROR_STORM), None);
        check(
            health(Some(ms(200)), None, ERROR_PASSING, ERROR_STORM),
            Some("the device or the sound server went away (it fails"),
        );
        check(health(Some(ms(200)), None, ERROR_PASSING, 3), None);
        check(health(Some(ms(4500)), None, ERROR_PASSING, 3), Some("the device failed and took no sound for 4.5 s"));
    }

    #[test]
    fn a_pull_is_noted_and_clears_the_errors_counted() {
        let h = health(Some(Duration::from_secs(5)), None, ERROR_PASSING, 7);
        assert!(h.lost().is_some());
        h.note_pull();
        assert_eq!(h.errors.load(Ordering::Relaxed), 0);
        assert_eq!(h.lost(), None);
    }
}
