//! `render`, `play` and `devices` through the real binary, at their edges:
//! interrupted, out of disk, no device, no speech engine, a hung engine.

use std::os::unix::fs::FileTypeExt;
use std::process::Stdio;

use std::time::Duration;

use backease::script::timeline::{SAMPLE_RATE, samples};

use crate::support::{Bounded, Guarded, RUN_LIMIT, Sandbox, names, rendering, run_within};

fn wav_samples(path: &std::path::Path) -> usize {
    backease::audio::wav::parse(&std::fs::read(path).unwrap()).unwrap().samples.len()
}

#[test]
fn render_writes_exactly_the_timeline_that_show_gives() {
    let sb = Sandbox::new();
    let run = sb.run(&["render", "gluteus-medius", "--rate", "220", "-o", "g.wav"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.starts_with("wrote g.wav ("), "{}", run.stdout);
    assert!(run.stderr.contains("rendering: 100%"), "progress is shown: {}", run.stderr);
    // With the speech now cached, `show` knows the exact length (at the
    // script's own voice settings, so render those again to compare).
    let run = sb.run(&["render", "gluteus-medius", "-o", "plain.wav"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let show = sb.run(&["show", "gluteus-medius", "--json"]);
    let doc: serde_json::Value = serde_json::from_str(&show.stdout).unwrap();
    assert_eq!(wav_samples(&sb.path().join("plain.wav")) as u64, doc["total_samples"].as_u64().unwrap());
    // A faster voice makes a shorter session.
    assert!(wav_samples(&sb.path().join("g.wav")) < wav_samples(&sb.path().join("plain.wav")));
    // Nothing temporary is left behind.
    let names: Vec<String> =
        std::fs::read_dir(sb.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert!(names.iter().all(|n| !n.ends_with(".part")), "{names:?}");
}

#[test]
fn render_refuses_loop() {
    let sb = Sandbox::new();
    let run = sb.run(&["render", "deep-spinal", "--loop", "-o", "x.wav"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("render cannot --loop: an endless session has no end to write"), "{}", run.stderr);
    assert!(run.stderr.contains("--rounds 3"));
    assert!(!sb.path().join("x.wav").exists());
}

#[test]
fn an_interrupted_render_leaves_no_file() {
    let sb = Sandbox::new();
    // Two hours of session: long enough to interrupt part-way.
    let mut child = rendering(&sb, &["render", "deep-spinal", "--rounds", "28", "-o", "long.wav"]);
    child.signal("INT");
    assert_eq!(child.wait_within(Duration::from_secs(20)).code(), Some(130));
    let left: Vec<_> = std::fs::read_dir(sb.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(!sb.path().join("long.wav").exists());
    assert!(left.iter().all(|n| !n.to_string_lossy().contains("long.wav")), "{left:?}");
}

#[test]
fn render_on_a_full_disk_fails_cleanly() {
    let sb = Sandbox::new();
    let out = sb.path().join("small");
    std::fs::create_dir_all(&out).unwrap();
    let script = format!(
        "mount -t tmpfs -o size=1m none '{o}' && cd '{o}' && '{bin}' render gluteus-medius -o session.wav; \
         echo \"exit=$?\"; ls -A '{o}'",
        o = out.display(),
        bin = env!("CARGO_BIN_EXE_backease")
    );
    let (stdout, stderr) = sb.unshared(&script);
    assert_eq!(stdout.trim_end(), "exit=3", "stderr: {stderr}");
    assert!(stderr.contains("cannot write session.wav: the disk is full"), "{stderr}");
}

#[test]
fn no_audio_device_is_one_clear_error() {
    let sb = Sandbox::new();
    // An empty ALSA configuration: no device at all, whatever the machine has.
    let conf = sb.write("alsa.conf", "");
    let out = sb.command(&["play", "deep-spinal"]).env("ALSA_CONFIG_PATH", &conf).output_bounded();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 2, "no ALSA noise: {stderr}");
    assert!(lines[0].starts_with("backease: error: no audio output device found"), "{stderr}");
    assert!(lines[1].contains("backease render ROUTINE -o session.wav"), "{stderr}");
}

#[test]
fn a_missing_speech_engine_is_named() {
    let sb = Sandbox::new();
    let out = sb
        .command(&["render", "deep-spinal", "-o", "x.wav", "--engine", "espeak"])
        .env("BACKEASE_ESPEAK", "/nonexistent/espeak-ng")
        .output_bounded();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{stderr}");
    assert!(stderr.contains("the speech engine `/nonexistent/espeak-ng` is not installed"), "{stderr}");
    assert!(stderr.contains("apt-get install espeak-ng"), "{stderr}");
}

#[test]
fn a_hung_speech_engine_times_out() {
    let sb = Sandbox::new();
    let fake = sb.write("hang.sh", "#!/bin/sh\nexec sleep 600\n");
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let started = std::time::Instant::now();
    let out = sb.command(&["render", "gluteus-medius", "-o", "x.wav"]).env("BACKEASE_ESPEAK", &fake).output_bounded();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{stderr}");
    assert!(stderr.contains("did not finish speaking within"), "{stderr}");
    assert!(started.elapsed().as_secs() < 60);
    assert!(!sb.path().join("x.wav").exists());
}

#[test]
fn the_command_engine_speaks_through_any_program() {
    let sb = Sandbox::new();
    // sox stands in for Piper: a third of a second of tone for every cue.
    let template = "cat > /dev/null; sox -n -r 16000 -b 16 -c 1 {out} synth 0.3 sine 300";
    let script =
        sb.write("r.ron", r#"Routine(title: "T", summary: "S", steps: [Say("one"), Pause("1s"), Say("two")])"#);
    let run = sb.run(&[
        "render",
        script.to_str().unwrap(),
        "--engine",
        "command",
        "--command",
        template,
        "--verbose",
        "-o",
        "c.wav",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains(&format!("speech: the command `{template}`")), "{}", run.stderr);
    // Two cues of 0.3 s and a second of silence.
    assert_eq!(
        wav_samples(&sb.path().join("c.wav")),
        2 * samples(Duration::from_millis(300)) as usize + SAMPLE_RATE as usize
    );

    let broken = sb.run(&["render", script.to_str().unwrap(), "--engine", "command", "-o", "x.wav"]);
    assert_eq!(broken.code, 5);
    assert!(broken.stderr.contains("the command engine needs a command"), "{}", broken.stderr);
}

#[test]
fn a_timeline_warning_is_reported_once() {
    let sb = Sandbox::new();
    sb.write(
        "w.ron",
        r#"Routine(title: "W", summary: "s", steps: [Hold(length: "5s", cues: [At("1s", "a long sentence with many many words"), At("2s", "b")])])"#,
    );
    for args in [&["show", "w.ron"][..], &["render", "w.ron", "-o", "w.wav"][..]] {
        let run = sb.run(args);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(
            run.stderr.matches("left out: the cue “b” at 2s of the hold").count(),
            1,
            "{args:?}: {}",
            run.stderr
        );
    }
}

/// A short routine with no speech of its own, for the tests of where the
/// file goes.
const SHORT: &str = r#"Routine(title: "T", summary: "S", steps: [Chime("bell"), Pause("2s")])"#;

#[test]
fn render_refuses_a_name_it_cannot_honour_before_any_work() {
    let sb = Sandbox::new();
    sb.write("short.ron", SHORT);
    std::fs::create_dir(sb.path().join("folder")).unwrap();
    #[track_caller]
    fn check(sb: &Sandbox, output: &str, code: i32, message: &str, hint: &str) {
        let before = names(sb.path());
        // No speech engine: had any work started, the exit would be 5.
        let out = sb
            .command(&["render", "short.ron", "-o", output])
            .env("BACKEASE_ESPEAK", "/nonexistent/espeak-ng")
            .output_bounded();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "-o {output}: {stderr}");
        assert!(stderr.contains(message), "-o {output}: {stderr}");
        assert!(stderr.contains(hint), "-o {output}: {stderr}");
        assert!(out.stdout.is_empty(), "-o {output}: nothing said to be written");
        assert_eq!(names(sb.path()), before, "-o {output}: nothing made");
    }
    check(&sb, "x.ogg", 2, "render writes .wav, .flac, .opus or .mp3 files, not .ogg", "-o x.opus for a phone");
    check(&sb, "x.m4a", 2, "not .m4a", "-o x.opus");
    check(&sb, "session", 2, "session has none of these at its end", "-o session.opus");
    check(&sb, "missing/x.FLAC", 3, "the folder missing does not exist", "mkdir -p missing");
    check(&sb, "folder", 2, "folder is a folder", "-o folder/session.wav");
    check(&sb, "missing/x.wav", 3, "the folder missing does not exist", "mkdir -p missing");
    check(&sb, "short.ron/x.wav", 3, "short.ron is not a folder", "");
}

#[test]
fn render_to_standard_output_writes_the_wav_there_and_words_to_stderr() {
    let sb = Sandbox::new();
    sb.write("short.ron", SHORT);
    for name in ["-", "/dev/stdout"] {
        let out = sb.command(&["render", "short.ron", "-o", name]).output_bounded();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{stderr}");
        let chime = backease::audio::sound::chime(backease::script::Chime::Bell).len();
        // Exactly the WAV: its header, its samples, and not a byte more.
        let frames = chime + 2 * SAMPLE_RATE as usize;
        assert_eq!(out.stdout.len(), 44 + 2 * 2 * frames, "-o {name}: {stderr}");
        let pcm = backease::audio::wav::parse(&out.stdout).unwrap_or_else(|e| panic!("stdout is a WAV: {e}; {stderr}"));
        assert_eq!(pcm.samples.len(), frames);
        assert!(stderr.contains("rendering: 100%"), "{stderr}");
        assert!(stderr.contains("wrote standard output"), "{stderr}");
    }
    let left = names(sb.path());
    assert!(left.iter().all(|n| n != "-" && !n.ends_with(".part")), "no file, no temporary file: {left:?}");
}

#[test]
fn render_into_a_device_writes_into_it_and_leaves_it_a_device() {
    let sb = Sandbox::new();
    sb.write("short.ron", SHORT);
    // /dev/null itself, bind-mounted into a folder of the test's own, in a
    // private mount namespace: whatever render did, the real one is safe.
    let dev = sb.path().join("dev");
    std::fs::create_dir(&dev).unwrap();
    let script = format!(
        "cd '{sb}' && mount -t tmpfs none '{d}' && touch '{d}/null' && mount --bind /dev/null '{d}/null' && \
         '{bin}' render short.ron -o '{d}/null'; echo \"exit=$?\"; test -c '{d}/null' && echo device; ls -A '{d}'",
        sb = sb.path().display(),
        d = dev.display(),
        bin = env!("CARGO_BIN_EXE_backease")
    );
    let (stdout, stderr) = sb.unshared(&script);
    assert!(stdout.contains("exit=0"), "{stdout}{stderr}");
    assert!(stdout.contains(&format!("wrote {}/null", dev.display())), "{stdout}");
    assert!(stdout.contains("\ndevice\nnull\n"), "still a device, and nothing beside it: {stdout}");
}

#[test]
fn render_through_a_symlink_replaces_its_target_and_keeps_the_link() {
    let sb = Sandbox::new();
    sb.write("short.ron", SHORT);
    std::fs::create_dir(sb.path().join("store")).unwrap();
    sb.write("store/real.wav", "old");
    std::os::unix::fs::symlink("store/real.wav", sb.path().join("link.wav")).unwrap();
    let run = sb.run(&["render", "short.ron", "-o", "link.wav"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let link = std::fs::symlink_metadata(sb.path().join("link.wav")).unwrap();
    assert!(link.file_type().is_symlink(), "the link is kept");
    assert!(wav_samples(&sb.path().join("store/real.wav")) > 44_100, "its target is the new WAV");
    assert_eq!(names(&sb.path().join("store")), ["real.wav"], "nothing temporary is left");
}

#[test]
fn render_over_an_existing_file_keeps_its_permissions() {
    use std::os::unix::fs::PermissionsExt;
    let sb = Sandbox::new();
    sb.write("short.ron", SHORT);
    let path = sb.write("kept.wav", "old");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
    let run = sb.run(&["render", "short.ron", "-o", "kept.wav"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(wav_samples(&path) > 44_100);
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o640);
}

/// A reader that holds the pipe open and never reads: the render blocks in
/// a write, and Ctrl-C still ends it (at most a couple of seconds later).
#[test]
fn ctrl_c_ends_a_render_whose_reader_stopped_reading() {
    use std::os::unix::fs::OpenOptionsExt;
    let sb = Sandbox::new();
    let fifo = sb.path().join("pipe");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let _reader =
        std::fs::OpenOptions::new().read(true).custom_flags(nix::fcntl::OFlag::O_NONBLOCK.bits()).open(&fifo).unwrap();
    // Into a FIFO, and into standard output (a pipe nobody reads).
    for output in ["pipe", "-"] {
        let mut render = rendering(&sb, &["render", "deep-spinal", "--rounds", "3", "-o", output]);
        // Long enough for the pipe to fill and the write to block.
        std::thread::sleep(Duration::from_millis(1500));
        assert!(render.try_wait().unwrap().is_none(), "-o {output}: ended before Ctrl-C");
        let sent = std::time::Instant::now();
        render.signal("INT");
        let status = render.wait_within(Duration::from_secs(20));
        assert_eq!(status.code(), Some(130), "-o {output}");
        assert!(sent.elapsed() < Duration::from_secs(4), "-o {output}: ended {:?} after Ctrl-C", sent.elapsed());
    }
    assert!(std::fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo(), "still a FIFO");
}

#[test]
fn render_into_a_fifo_writes_to_its_reader_and_refuses_one_with_none() {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let sb = Sandbox::new();
    sb.write("short.ron", SHORT);
    let fifo = sb.path().join("pipe");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    // Nobody reads: refused at once, not waited on.
    let started = std::time::Instant::now();
    let run = sb.run(&["render", "short.ron", "-o", "pipe"]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(run.stderr.contains("nothing is reading from the FIFO pipe"), "{}", run.stderr);
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    // With a reader, the WAV comes through it.
    let mut reader =
        std::fs::OpenOptions::new().read(true).custom_flags(nix::fcntl::OFlag::O_NONBLOCK.bits()).open(&fifo).unwrap();
    let mut child = Guarded::spawn(sb.command(&["render", "short.ron", "-o", "pipe"]).stdout(Stdio::piped()));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut got = Vec::new();
    let mut buf = vec![0u8; 1 << 16];
    let status = loop {
        assert!(std::time::Instant::now() < deadline, "render into a FIFO hangs");
        match reader.read(&mut buf) {
            Ok(n) if n > 0 => got.extend_from_slice(&buf[..n]),
            _ => match child.try_wait().unwrap() {
                Some(status) => {
                    while let Ok(n @ 1..) = reader.read(&mut buf) {
                        got.extend_from_slice(&buf[..n]);
                    }
                    break status;
                }
                None => std::thread::sleep(std::time::Duration::from_millis(5)),
            },
        }
    };
    assert!(status.success());
    let pcm = backease::audio::wav::parse(&got).unwrap();
    assert!(pcm.samples.len() > 44_100);
    assert!(std::fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo(), "still a FIFO");
}

#[test]
fn a_part_left_by_a_killed_render_is_removed_by_the_next() {
    let sb = Sandbox::new();
    sb.write("short.ron", SHORT);
    let child = rendering(&sb, &["render", "deep-spinal", "--rounds", "28", "-o", "long.wav"]);
    let part = part_of(sb.path(), "long.wav", child.id(), Duration::ZERO);
    drop(child);
    assert!(sb.path().join(&part).exists(), "SIGKILL leaves the part");
    // Parts of live processes and other files that only look alike stay.
    let live = format!(".other.wav.{}.a1B2c3D4e5F6.part", std::process::id());
    let others = [".notes.part", ".notes.9999999.a1B2c3D4e5F6.part", "x.wav.1.a1B2c3D4e5F6.part", ".x.wav.12a.part"];
    for keep in others.iter().chain([&&live[..]]) {
        sb.write(keep, "keep");
    }
    let run = sb.run(&["render", "short.ron", "-o", "short.wav"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let left = names(sb.path());
    assert!(!left.contains(&part), "{left:?}");
    for keep in others.iter().chain([&&live[..]]) {
        assert!(left.iter().any(|n| n == keep), "{keep} stays: {left:?}");
    }
}

/// The name of the temporary file process `pid` writes `name` through in
/// `dir` (`.NAME.PID.RANDOM.part`), waiting up to `limit` for it to appear.
#[track_caller]
pub fn part_of(dir: &std::path::Path, name: &str, pid: u32, limit: Duration) -> String {
    let prefix = format!(".{name}.{pid}.");
    let begun = std::time::Instant::now();
    loop {
        let found = names(dir).into_iter().find(|n| n.starts_with(&prefix) && n.ends_with(".part"));
        match found {
            Some(part) => return part,
            None if begun.elapsed() >= limit => panic!("no {prefix}….part in {:?}", names(dir)),
            None => std::thread::sleep(Duration::from_millis(10)),
        }
    }
}

/// Someone who can write in the output folder plants a symlink where the
/// render's temporary file would go (the name the render would pick: here
/// the PID's, which `exec` keeps) to a file of theirs to ruin: the render
/// goes on beside it, never writing through the link.
#[test]
fn a_render_never_writes_through_a_link_planted_at_its_temporary_name() {
    let sb = Sandbox::new();
    sb.write("short.ron", SHORT);
    let victim = sb.write("victim.txt", "precious");
    std::fs::create_dir(sb.path().join("out")).unwrap();
    let plant = format!("ln -s {} out/.x.wav.$$.part && exec \"$0\" \"$@\"", victim.display());
    let run = run_within(
        RUN_LIMIT,
        &mut sb.command_through(&["sh", "-c", &plant], &["render", "short.ron", "-o", "out/x.wav"]),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious", "written through the link");
    let out = sb.path().join("out/x.wav");
    assert!(std::fs::symlink_metadata(&out).unwrap().file_type().is_file(), "out/x.wav is not a file of its own");
    assert!(wav_samples(&out) > 0);
}

/// A read-only file says "keep me": render refuses it as `cp` would, even
/// as root (whom the permission bits do not stop), and leaves it alone.
#[test]
fn a_read_only_file_is_not_replaced() {
    use std::os::unix::fs::PermissionsExt;
    let sb = Sandbox::new();
    sb.write("short.ron", SHORT);
    let kept = sb.write("kept.wav", "mine");
    std::fs::set_permissions(&kept, std::fs::Permissions::from_mode(0o444)).unwrap();
    let run = sb.run(&["render", "short.ron", "-o", "kept.wav"]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(run.stderr.contains("kept.wav is read-only (mode 0444); render will not replace it"), "{}", run.stderr);
    assert!(run.stderr.contains("chmod u+w kept.wav"), "{}", run.stderr);
    assert_eq!(std::fs::read_to_string(&kept).unwrap(), "mine");
    assert_eq!(std::fs::metadata(&kept).unwrap().permissions().mode() & 0o777, 0o444);
    assert_eq!(names(sb.path()).iter().filter(|n| n.contains("kept.wav")).count(), 1, "{:?}", names(sb.path()));
}

/// Past 4 GiB (6 h 12 min of session) no WAV file can hold it: said before
/// any speech is made, with the formats that can.
#[test]
fn a_session_too_long_for_wav_is_refused_before_any_work() {
    let sb = Sandbox::new();
    let started = std::time::Instant::now();
    // About 7 hours; no speech engine, so any work begun would fail as 5.
    let run = crate::support::run_within(
        Duration::from_secs(60),
        sb.command(&["render", "deep-spinal", "--hold", "10m", "--rounds", "20", "-o", "long.wav"])
            .env("BACKEASE_ESPEAK", "/nonexistent/espeak-ng"),
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("a WAV file holds at most 6:12:"), "{}", run.stderr);
    assert!(run.stderr.contains("hint: write it as -o NAME.flac"), "{}", run.stderr);
    assert!(started.elapsed() < Duration::from_secs(20));
    assert!(names(sb.path()).is_empty(), "{:?}", names(sb.path()));
}

/// The limits are checked with sound files at their real lengths (the
/// estimate counts a second each), before any speech is made.
#[test]
fn a_session_long_only_by_its_sound_files_is_refused_before_any_speech() {
    let sb = Sandbox::new();
    crate::support::tone_file(&sb.path().join("rain.wav"), 48_000, 1, 120.0, 440.0);
    sb.write(
        "long.ron",
        r#"Routine(title: "Long", summary: "s", steps: [Say("Rain."), Repeat(times: 400, steps: [Sound("rain.wav")])])"#,
    );
    let check = sb.run(&["check", "long.ron"]);
    assert_eq!(check.code, 1, "{}{}", check.stdout, check.stderr);
    assert!(check.stderr.contains("12 hours"), "{}", check.stderr);
    // Among the user's scripts, `list` marks it.
    std::fs::create_dir_all(sb.scripts_dir()).unwrap();
    std::fs::copy(sb.path().join("rain.wav"), sb.scripts_dir().join("rain.wav")).unwrap();
    std::fs::copy(sb.path().join("long.ron"), sb.scripts_dir().join("long.ron")).unwrap();
    let list = sb.run(&["list"]);
    assert!(list.stdout.contains("has errors: run `backease check"), "{}", list.stdout);
    // A speech command that notes each cue it is asked for.
    let asked = sb.path().join("asked");
    let synthesizer = format!("cat >> '{}'; sox -n -r 22050 -b 16 -c 1 {{out}} synth 0.2 sine 440", asked.display());
    let run = sb.run(&["render", "long.ron", "-o", "long.flac", "--engine", "command", "--command", &synthesizer]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("12 hours"), "{}", run.stderr);
    assert!(!asked.exists(), "speech was made first: {:?}", std::fs::read_to_string(&asked));
}
