//! Holding time under load: `play` through a real sound server while two
//! CPU-bound processes keep both cores of the machine busy, recorded from
//! the null sink's monitor and compared with `render`, event by event.
//! `benches/load-timing.sh` runs the same for three minutes, idle and
//! loaded.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::{Bounded, Guarded, Pulse, RECORD_RATE, Sandbox, SilentSocket, Watched, onsets, read_raw, stop};

/// Short sounds with gaps, so each is one onset, over and over.
fn routine(repeats: u32) -> String {
    format!(
        r#"Routine(
    title: "Gaps",
    summary: "Short sounds with gaps, over and over",
    defaults: (hold: "2500ms"),
    steps: [
        Repeat(times: {repeats}, steps: [
            Chime("tick"),
            Pause("700ms"),
            Say("one"),
            Pause("800ms"),
            Chime("soft"),
            Pause("400ms"),
            Hold(cues: [At("1s", "two")]),
            Say("three"),
            Pause("600ms"),
        ]),
    ],
)"#
    )
}

/// Processes that spin on a core each until dropped.
struct Burners(#[allow(dead_code)] Vec<Guarded>);

impl Burners {
    fn start(n: usize) -> Burners {
        Burners(
            (0..n)
                .map(|_| Guarded::spawn(Command::new("sh").args(["-c", "while :; do :; done"]).stdin(Stdio::null())))
                .collect(),
        )
    }
}

/// Onsets in samples: the first sample over the threshold in each window
/// [`onsets`] finds, so errors are measured to the sample, not the window.
fn exact_onsets(samples: &[i16]) -> Vec<usize> {
    let rate = RECORD_RATE as f64;
    onsets(samples)
        .iter()
        .map(|&t| {
            let from = (t * rate).round() as usize;
            let to = (from + RECORD_RATE as usize / 100).min(samples.len());
            (from..to).find(|&i| samples[i].unsigned_abs() > 330).unwrap_or(from)
        })
        .collect()
}

/// 5 ms stretches where the recording (aligned by `shift` samples) is
/// silent while the render is loud throughout the 25 ms around them: audio
/// the device never played.
fn gaps(rendered: &[i16], heard: &[i16], shift: isize) -> Vec<f64> {
    let win = RECORD_RATE as usize / 200;
    let peak = |s: &[i16], i: isize| -> Option<u16> {
        let from = usize::try_from(i).ok()?;
        s.get(from..(from + win).min(s.len())).map(|w| w.iter().map(|v| v.unsigned_abs()).max().unwrap_or(0))
    };
    let mut out = Vec::new();
    for w in 2..rendered.len() / win - 2 {
        let at = (w * win) as isize;
        let loud = (-2..=2).all(|k| peak(rendered, at + k * win as isize).is_some_and(|p| p > 2000));
        if loud && peak(heard, at + shift).is_some_and(|p| p < 100) {
            out.push(at as f64 / RECORD_RATE as f64);
        }
    }
    out
}

/// Whether this process may raise a thread to real-time priority: as root,
/// or with a real-time priority limit.
fn may_use_real_time() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let root = status.lines().any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"));
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    let rtprio =
        limits.lines().find(|l| l.starts_with("Max realtime priority")).and_then(|l| l.split_whitespace().nth(3));
    root || rtprio.is_some_and(|soft| soft != "0")
}

#[test]
fn play_keeps_time_with_every_core_busy() {
    let sb = Sandbox::new();
    let script = sb.write("gaps.ron", &routine(5));
    let render = sb.run(&["render", script.to_str().unwrap(), "-o", "gaps.wav"]);
    assert_eq!(render.code, 0, "{}", render.stderr);
    let rendered = backease::audio::wav::parse(&std::fs::read(sb.path().join("gaps.wav")).unwrap()).unwrap().samples;
    let expected = exact_onsets(&rendered);
    assert_eq!(expected.len(), 25, "five sounds a repeat");

    let pulse = Pulse::start_shared(&sb);
    let recording = sb.path().join("rec.raw");
    let recorder = pulse.record(&recording, RECORD_RATE);
    std::thread::sleep(Duration::from_millis(300));
    let burners = Burners::start(2);
    let mut cmd = sb.command(&["play", script.to_str().unwrap()]);
    cmd.env("BACKEASE_TIMING", "1").env("BACKEASE_AUDIO_DEBUG", "1");
    pulse.apply(&mut cmd);
    let out = cmd.output_bounded();
    drop(burners);
    std::thread::sleep(Duration::from_millis(300));
    stop(recorder);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    // The threads that carry the sound run at real-time priority where the
    // system allows it (as root, or with a real-time limit), as sound
    // servers' do.
    let raised = stderr.lines().find(|l| l.starts_with("timing: audio threads")).expect("the priority is traced");
    if may_use_real_time() {
        assert!(raised.contains("at real-time priority"), "{raised}");
    }
    // An underrun is an error or two, not a thread spinning on them.
    let errors = stderr.matches("audio stream error").count();
    assert!(errors < 20, "{errors} audio stream errors:\n{stderr}");

    let heard_samples = read_raw(&recording);
    let heard = exact_onsets(&heard_samples);
    assert_eq!(heard.len(), expected.len(), "heard {heard:?}, rendered {expected:?}");
    let shift = heard[0] as isize - expected[0] as isize;
    let errors: Vec<f64> = heard
        .iter()
        .zip(&expected)
        .map(|(&h, &e)| (h as isize - shift - e as isize) as f64 * 1000.0 / RECORD_RATE as f64)
        .collect();
    let worst = errors.iter().fold(0.0f64, |m, e| m.max(e.abs()));
    eprintln!("under load: worst onset error {worst:.1} ms over {} onsets", errors.len());
    assert!(worst <= 10.0, "onsets off by up to {worst:.1} ms under load: {errors:.1?}");
    let gaps = gaps(&rendered, &heard_samples, shift);
    assert!(gaps.is_empty(), "silent under load where the render sounds, at (s) {gaps:.2?}");
}

/// Where the audio threads cannot be raised directly (an ordinary user: no
/// CAP_SYS_NICE, no RLIMIT_RTPRIO), rtkit is asked on the system bus. A
/// system bus that takes the connection and never answers costs a second,
/// not libdbus's 25 s, and the session plays at normal priority.
#[test]
fn a_system_bus_that_never_answers_costs_a_second_at_the_start() {
    let sb = Sandbox::new();
    let script = sb.write("t.ron", r#"Routine(title: "T", summary: "s", steps: [Chime("tick"), Pause("20s")])"#);
    assert_eq!(sb.run(&["render", script.to_str().unwrap(), "-o", "warm.wav"]).code, 0);
    let pulse = Pulse::start(&sb);
    let socket = sb.path().join("system-bus.sock");
    let silent = SilentSocket::start(&socket);
    let unprivileged = ["setpriv", "--inh-caps=-sys_nice", "--bounding-set=-sys_nice", "--"];
    let mut cmd = sb.command_through(&unprivileged, &["play", script.to_str().unwrap()]);
    pulse.apply(&mut cmd);
    let started = std::time::Instant::now();
    let play = Watched::spawn(
        cmd.env("DBUS_SYSTEM_BUS_ADDRESS", format!("unix:path={}", socket.display())).env("BACKEASE_TIMING", "1"),
    );
    play.wait_for("pause", Duration::from_secs(20));
    let took = started.elapsed();
    play.signal("INT");
    let (status, stderr) = play.end(Duration::from_secs(20));
    drop(silent);
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("audio threads at normal priority (not permitted")
            && stderr.contains("rtkit: the system bus did not answer within 1 s)"),
        "{stderr}"
    );
    assert!(took < Duration::from_secs(6), "playing only after {took:?}: {stderr}");
}
