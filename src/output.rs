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

/// Something that plays a [`Stream`], and can pause it.
pub trait Output: Send {
    fn start(&mut self, stream: Stream);
    fn pause(&mut self);
    fn resume(&mut self);
    /// True once everything handed over has been played out.
    fn drained(&self) -> bool;
}

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
        let mut sink = match name {
            None => rodio::DeviceSinkBuilder::open_default_sink().map_err(|e| no_device(e.to_string()))?,
            Some(wanted) => {
                let device = list_devices()
                    .map_err(no_device)?
                    .into_iter()
                    .find(|(n, _)| n == wanted)
                    .map(|(_, d)| d)
                    .ok_or_else(|| {
                        Failure::new(code::NO_DEVICE, format!("no output device named \"{wanted}\""))
                            .hint("`backease devices` lists the outputs")
                    })?;
                rodio::DeviceSinkBuilder::from_device(device)
                    .and_then(|b| b.open_stream())
                    .map_err(|e| no_device(e.to_string()))?
            }
        };
        sink.log_on_drop(false);
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
        self.player.append(stream);
        self.player.play();
    }
    fn pause(&mut self) {
        self.player.pause();
    }
    fn resume(&mut self) {
        self.player.play();
    }
    fn drained(&self) -> bool {
        self.player.empty()
    }
}

/// The names of the output devices, with the devices.
pub fn list_devices() -> Result<Vec<(String, rodio::Device)>, String> {
    use rodio::DeviceTrait;
    use rodio::cpal::traits::HostTrait;
    let host = rodio::cpal::default_host();
    let devices = host.output_devices().map_err(|e| e.to_string())?;
    Ok(devices
        .filter_map(|d| {
            let name = d.description().ok().map(|x| x.name().to_string())?;
            Some((name, d))
        })
        .collect())
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
    paused: bool,
    done: bool,
    pub played: Vec<f32>,
}

impl Manual {
    /// Pulls up to `n` samples, as a device would in `n` sample periods.
    /// A paused output pulls nothing; that is what pausing means.
    pub fn advance(&self, n: usize) {
        let mut s = self.inner.lock().expect("not poisoned");
        if s.paused {
            return;
        }
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

    pub fn is_paused(&self) -> bool {
        self.inner.lock().expect("not poisoned").paused
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
    fn pause(&mut self) {
        self.inner.lock().expect("not poisoned").paused = true;
    }
    fn resume(&mut self) {
        self.inner.lock().expect("not poisoned").paused = false;
    }
    fn drained(&self) -> bool {
        let s = self.inner.lock().expect("not poisoned");
        s.done || s.stream.is_none()
    }
}
