//! Users' sound files: every advertised format, made by sox and ffmpeg,
//! decodes at its length; damaged files, text files and FIFOs are errors
//! at the `Sound` step that names them, in `check` as in `render`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use backease::audio::sound::load_file;
use backease::script::timeline::SAMPLE_RATE;

use crate::support::Sandbox;

/// Makes a sound file with sox or ffmpeg (a sine at half or an eighth of
/// full scale); `args` is the command after the program's name, with
/// `OUT` for the file.
pub fn make(dir: &Path, name: &str, command: &str) -> PathBuf {
    let out = dir.join(name);
    let mut words = command.split_whitespace().map(|w| if w == "OUT" { out.to_str().unwrap() } else { w });
    let program = words.next().unwrap();
    let result = std::process::Command::new(program)
        .args(words)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{program} runs (bash .ci/setup): {e}"));
    assert!(result.status.success(), "{command}: {}", String::from_utf8_lossy(&result.stderr));
    out
}

/// A sine of `secs` seconds from ffmpeg at `rate` Hz and `channels`, in
/// the codec `codec`.
pub fn ffmpeg(secs: f32, rate: u32, channels: u32, codec: &str) -> String {
    format!("ffmpeg -v error -y -f lavfi -i sine=f=440:d={secs}:sample_rate={rate} -ac {channels} -c:a {codec} OUT")
}

#[track_caller]
fn check_format(sb: &Sandbox, name: &str, command: &str, secs: f64) {
    let path = make(sb.path(), name, command);
    let samples = load_file(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
    let want = secs * SAMPLE_RATE as f64;
    let got = samples.len() as f64;
    assert!((got - want).abs() <= want / 100.0, "{name}: {got} samples, {want} expected (±1 %)");
    // Sound all through: every tenth of a second has a peak above -30 dBFS.
    for (i, window) in samples.chunks(SAMPLE_RATE as usize / 10).enumerate() {
        let peak = window.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0);
        assert!(peak > 1_000, "{name}: silent around {:.1} s (peak {peak})", i as f64 / 10.0);
    }
}

#[test]
fn every_advertised_format_decodes_at_its_length() {
    let sb = Sandbox::new();
    let sox = |rate: u32, ch: u32, enc: &str| format!("sox -n -r {rate} -c {ch} {enc} OUT synth 1.5 sine 440 vol 0.5");
    let cases: Vec<(&str, String)> = vec![
        ("8bit.wav", sox(22_050, 1, "-b 8")),
        ("16bit.wav", sox(44_100, 2, "-b 16")),
        ("24bit.wav", sox(48_000, 2, "-b 24")),
        ("float.wav", sox(44_100, 1, "-e floating-point -b 32")),
        ("mono.flac", sox(22_050, 1, "-b 16")),
        ("stereo.flac", sox(48_000, 2, "-b 24")),
        ("mono.mp3", ffmpeg(1.5, 22_050, 1, "libmp3lame")),
        ("stereo.mp3", ffmpeg(1.5, 44_100, 2, "libmp3lame")),
        ("48k.mp3", ffmpeg(1.5, 48_000, 2, "libmp3lame")),
        ("sox-mono.ogg", sox(22_050, 1, "")),
        ("sox-stereo.ogg", sox(44_100, 2, "")),
        ("ffmpeg-vorbis.ogg", ffmpeg(1.5, 48_000, 2, "libvorbis")),
        ("ffmpeg-mono-vorbis.ogg", ffmpeg(1.5, 22_050, 1, "libvorbis")),
        ("opus-mono.opus", ffmpeg(1.5, 22_050, 1, "libopus")),
        ("opus-stereo.ogg", ffmpeg(1.5, 44_100, 2, "libopus")),
        ("opus-48k.opus", ffmpeg(1.5, 48_000, 2, "libopus")),
    ];
    for (name, command) in &cases {
        check_format(&sb, name, command, 1.5);
    }
}

#[test]
fn an_ogg_vorbis_file_plays_in_a_rendered_session() {
    let sb = Sandbox::new();
    make(sb.path(), "rain.ogg", "sox -n -r 44100 -c 2 OUT synth 0.5 sine 500 vol 0.5");
    sb.write("r.ron", r#"Routine(title: "T", summary: "S", steps: [Pause("1s"), Sound("rain.ogg")])"#);
    let run = sb.run(&["render", "r.ron", "-o", "out.wav"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let wav = backease::audio::wav::parse(&std::fs::read(sb.path().join("out.wav")).unwrap()).unwrap().samples;
    assert_eq!(wav.len(), SAMPLE_RATE as usize * 3 / 2);
    // The tone, brought under the voice like every sound file.
    let loudness = backease::audio::loudness::integrated(&wav[SAMPLE_RATE as usize..], SAMPLE_RATE).unwrap();
    assert!((loudness - backease::audio::loudness::CHIME_LUFS).abs() < 0.5, "{loudness} LUFS");
}

/// A routine that plays `file` at line 3, column 5.
fn routine_with(sb: &Sandbox, file: &str) -> PathBuf {
    sb.write(
        "r.ron",
        &format!("Routine(title: \"T\", summary: \"S\", steps: [\n    Pause(\"1s\"),\n    Sound(\"{file}\"),\n])\n"),
    )
}

#[track_caller]
fn check_refused(sb: &Sandbox, file: &str, reason: &str) {
    routine_with(sb, file);
    for args in [&["check", "r.ron"][..], &["render", "r.ron", "-o", "x.wav"], &["play", "r.ron"]] {
        let started = Instant::now();
        let run = sb.run(args);
        assert!(started.elapsed() < Duration::from_secs(20), "{args:?} took {:?}", started.elapsed());
        assert_eq!(run.code, 1, "{args:?} on {file}: {}", run.stderr);
        assert!(!run.stderr.contains("panicked"), "{args:?} on {file}: {}", run.stderr);
        assert!(run.stderr.contains("r.ron:3:5: error: "), "{args:?} on {file}: located: {}", run.stderr);
        assert!(run.stderr.contains(file), "{args:?} on {file}: names the file: {}", run.stderr);
        assert!(run.stderr.contains(reason), "{args:?} on {file}: says {reason:?}: {}", run.stderr);
        assert!(run.stderr.contains("ffmpeg -i"), "{args:?} on {file}: says what to do: {}", run.stderr);
    }
    assert!(!sb.path().join("x.wav").exists());
}

#[test]
fn a_sound_file_that_does_not_decode_is_a_located_error_in_check_and_render() {
    let sb = Sandbox::new();
    sb.write("notes.txt", "remember to breathe\n");
    check_refused(&sb, "notes.txt", "is not a sound file backease knows");
    sb.write("empty.wav", "");
    check_refused(&sb, "empty.wav", "is not a sound file backease knows");
    // A real WAV cut off inside its header.
    let wav = make(sb.path(), "whole.wav", "sox -n -r 22050 -c 1 OUT synth 0.5 sine 440");
    std::fs::write(sb.path().join("cut.wav"), &std::fs::read(&wav).unwrap()[..30]).unwrap();
    check_refused(&sb, "cut.wav", "cannot decode");
}

/// Files that made the decoders panic (exit 101) before decoding was
/// contained: found by the fuzzer in tests/fuzz_sounds.rs, remade here as
/// one field of a real file overwritten.
#[test]
fn damaged_files_that_made_decoders_panic_are_located_errors() {
    let sb = Sandbox::new();
    let wav = std::fs::read(make(sb.path(), "w.wav", "sox -n -r 22050 -c 1 OUT synth 0.5 sine 440")).unwrap();
    let mp3 = std::fs::read(make(sb.path(), "m.mp3", &ffmpeg(0.5, 44_100, 2, "libmp3lame"))).unwrap();
    let info = mp3.windows(4).position(|w| w == b"Info").expect("ffmpeg writes a LAME Info frame");
    #[track_caller]
    fn check(sb: &Sandbox, name: &str, original: &[u8], at: usize, bytes: &[u8]) {
        let mut damaged = original.to_vec();
        damaged[at..at + bytes.len()].copy_from_slice(bytes);
        std::fs::write(sb.path().join(name), &damaged).unwrap();
        check_refused(sb, name, name);
    }
    // A sample rate of zero: "TimeBase cannot have 0 numerator or denominator".
    check(&sb, "zero-rate.wav", &wav, 24, &0u32.to_le_bytes());
    // 65 281 channels: "attempt to shift left with overflow".
    check(&sb, "many-channels.wav", &wav, 22, &0xff01u16.to_le_bytes());
    // An MP3 of no frames with an encoder delay: "attempt to subtract with overflow".
    check(&sb, "no-frames.mp3", &mp3, info + 8, &0u32.to_be_bytes());
    // And fields that were errors already, without a place: no channels,
    // no bytes per frame.
    check(&sb, "no-channels.wav", &wav, 22, &0u16.to_le_bytes());
    check(&sb, "no-align.wav", &wav, 32, &0u16.to_le_bytes());
}

#[test]
fn a_fifo_or_a_device_is_refused_without_hanging() {
    let sb = Sandbox::new();
    let fifo = sb.path().join("pipe.wav");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    std::os::unix::fs::symlink("/dev/zero", sb.path().join("zero.wav")).unwrap();
    for (path, reason) in
        [(fifo, "FIFO"), (sb.path().join("zero.wav"), "device"), (PathBuf::from("/dev/zero"), "device")]
    {
        // On a thread with a deadline: a hang fails the test instead of
        // stopping it.
        let (tx, rx) = std::sync::mpsc::channel();
        let p = path.clone();
        std::thread::spawn(move || tx.send(load_file(&p)));
        let result = rx.recv_timeout(Duration::from_secs(5)).unwrap_or_else(|_| panic!("{path:?} hangs"));
        let message = result.unwrap_err();
        assert!(message.message.contains(reason), "{path:?}: {message}");
    }
    // Nor does a routine that names one hang any command.
    let started = Instant::now();
    routine_with(&sb, "pipe.wav");
    let run = sb.run(&["check", "r.ron"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn a_file_longer_than_ten_minutes_is_refused_in_bounded_memory() {
    let sb = Sandbox::new();
    // Three hours of silence at 8 kHz: FLAC makes it about 100 KB.
    let path = make(sb.path(), "long.flac", "sox -D -n -r 8000 -c 1 -b 16 OUT trim 0 3:00:00");
    assert!(std::fs::metadata(&path).unwrap().len() < 2_000_000);
    let started = Instant::now();
    let message = load_file(&path).unwrap_err();
    assert!(message.message.contains("long.flac is longer than 10 minutes"), "{message}");
    assert!(message.help.contains("-t 10:00"), "says how to cut it: {}", message.help);
    assert!(started.elapsed() < Duration::from_secs(60), "stops at the limit: {:?}", started.elapsed());
}

#[test]
fn a_file_over_a_gibibyte_is_refused_unread() {
    let sb = Sandbox::new();
    // Sparse: it takes no disk space, and reading it would take long.
    let path = sb.path().join("huge.wav");
    std::fs::File::create(&path).unwrap().set_len(backease::audio::sound::MAX_BYTES + 1).unwrap();
    let started = Instant::now();
    let e = load_file(&path).unwrap_err();
    assert!(e.message.contains("huge.wav is 1024 MB; sound files are at most 1024 MB"), "{e}");
    assert!(started.elapsed() < Duration::from_secs(2));
}
