//! Where the session's samples go: the audio device through rodio, or, in
//! tests, a hand-cranked output that pulls samples only when told to.
//!
//! Both sit behind [`Output`], so the player thread is the same code either
//! way. Opening the device is the only place that knows about rodio's
//! device types.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::error::{Failure, code};
use crate::session::Stream;

/// Something that plays a [`Stream`]. Pausing happens in the stream
/// itself, so the controls' notices can still be heard.
pub trait Output: Send {
    fn start(&mut self, stream: Stream);
    /// True once everything handed over has been played out.
    fn drained(&self) -> bool;
}

/// Silence sent to the device before the session starts.
pub const PRE_ROLL: Duration = Duration::from_millis(60);

/// The audio device, through a rodio `Player`.
pub struct Device {
    _sink: rodio::MixerDeviceSink,
    player: rodio::Player,
    name: String,
}

impl Device {
    /// Opens the named output, or the default one.
    pub fn open(name: Option<&str>) -> Result<Device, Failure> {
        use rodio::DeviceTrait;
        let no_device = |detail: String| {
            Failure::new(code::NO_DEVICE, format!("no audio output device found ({detail})")).hint(
                "start a sound server (PulseAudio or PipeWire) or plug in an output, \
                 or write the session to a file instead: backease render ROUTINE -o session.wav",
            )
        };
        // "default", as `devices` lists it, is the default output.
        let name = name.filter(|n| *n != DEFAULT);
        // Opened at real-time priority where the system allows it, so the
        // threads that carry the sound inherit it (see `priority`).
        let (sink, raised) = priority::open_raised(|| {
            quietly(|| match name {
                None => rodio::DeviceSinkBuilder::from_default_device()
                    .and_then(|b| low_latency(b).with_error_callback(stream_error).open_stream())
                    .or_else(|_| rodio::DeviceSinkBuilder::open_default_sink())
                    .map_err(|e| no_device(e.to_string())),
                Some(wanted) => {
                    let device = list_devices()
                        .map_err(no_device)?
                        .into_iter()
                        .find(|(n, d)| n == wanted || describe(d) == wanted)
                        .map(|(_, d)| d)
                        .ok_or_else(|| {
                            Failure::new(code::NO_DEVICE, format!("no output device named \"{wanted}\""))
                                .hint("`backease devices` lists the outputs")
                        })?;
                    rodio::DeviceSinkBuilder::from_device(device)
                        .and_then(|b| low_latency(b).open_stream())
                        .map_err(|e| no_device(e.to_string()))
                }
            })
        });
        let mut sink = sink?;
        sink.log_on_drop(false);
        if crate::timing() {
            eprintln!(
                "timing: device open {} ms after start, {:?} frames a period at {} Hz",
                crate::started().elapsed().as_millis(),
                sink.config().buffer_size(),
                sink.config().sample_rate()
            );
            eprintln!("timing: audio threads {raised}");
        }
        let player = rodio::Player::connect_new(sink.mixer());
        player.pause();
        let name = match name {
            Some(n) => n.to_string(),
            None => rodio::cpal::traits::HostTrait::default_output_device(&rodio::cpal::default_host())
                .and_then(|d| d.description().ok().map(|d| d.name().to_string()))
                .unwrap_or_else(|| "default".into()),
        };
        Ok(Device { _sink: sink, player, name })
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Output for Device {
    fn start(&mut self, stream: Stream) {
        use rodio::Source;
        // A device drops the first few milliseconds it is sent while it
        // starts up (about 10 ms through PulseAudio); a moment of silence
        // first keeps the session's opening sound whole.
        let one = std::num::NonZero::new(1).expect("one");
        let rate = std::num::NonZero::new(crate::timeline::SAMPLE_RATE).expect("non-zero");
        self.player.append(rodio::source::Zero::new(one, rate).take_duration(PRE_ROLL));
        self.player.append(stream);
        self.player.play();
        if crate::timing() {
            eprintln!("timing: stream handed to the device {} ms after start", crate::started().elapsed().as_millis());
        }
    }
    fn drained(&self) -> bool {
        self.player.empty()
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
        eprintln!("audio stream error: {e} at {} ms", crate::started().elapsed().as_millis());
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

/// An output a user can pick.
#[derive(Debug, Clone, PartialEq)]
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
                match rtkit(&new) {
                    Ok(()) => Raised::ByRtkit(new.len()),
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
    /// Pulls up to `n` samples, as a device would in `n` sample periods.
    pub fn advance(&self, n: usize) {
        let mut s = self.inner.lock().expect("not poisoned");
        let Some(mut stream) = s.stream.take() else { return };
        for _ in 0..n {
            match stream.next() {
                Some(v) => s.played.push(v),
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
