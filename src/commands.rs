//! One function per subcommand, dispatched by one `match`.
//!
//! Each reads the plain options it needs, does its work through the library
//! modules, and returns an exit code or a [`Failure`]. Output goes to the
//! writers it is given, so tests can read it.

use std::io::Write;

use crate::cli::{Command, Timing};
use crate::error::{Failure, code};
use crate::library::{self, Loaded, Origin};
use crate::script::Script;
use crate::timeline::{self, Estimate, Options, Timeline};
use crate::{duration, fsutil, show};

pub fn dispatch(command: Command, out: &mut dyn Write, err: &mut dyn Write) -> Result<u8, Failure> {
    match command {
        Command::List => list(out, err),
        Command::Show { routine, timing, json } => show(&routine, &timing, json, out, err),
        Command::Check { files } => check(&files, out, err),
        Command::New { name } => new(&name, out),
    }
}

impl From<&Timing> for Options {
    fn from(t: &Timing) -> Self {
        Options { hold: t.hold, rounds: t.rounds, rest: t.rest }
    }
}

/// Loads a routine and builds its timeline, printing every problem. Fails
/// (exit 1) when the script or its timeline has errors.
pub fn prepare(routine: &str, options: &Options, err: &mut dyn Write) -> Result<(Script, Timeline), Failure> {
    let loaded = library::resolve(routine)?;
    let script = loaded_script(&loaded, err)?;
    let timeline = timeline::compile(&script, options, &Estimate::default());
    report_timeline(&loaded, &timeline, err)?;
    Ok((script, timeline))
}

fn loaded_script(loaded: &Loaded, err: &mut dyn Write) -> Result<Script, Failure> {
    if !loaded.diagnostics.is_empty() {
        let _ = write!(err, "{}", loaded.report());
    }
    loaded.script.clone().ok_or_else(|| invalid(loaded, loaded.errors()))
}

fn report_timeline(loaded: &Loaded, timeline: &Timeline, err: &mut dyn Write) -> Result<(), Failure> {
    if !timeline.diagnostics.is_empty() {
        let _ = write!(err, "{}", crate::diagnostic::render(&loaded.display, &loaded.text, &timeline.diagnostics));
    }
    let errors = timeline.diagnostics.iter().filter(|d| d.is_error()).count();
    if errors > 0 { Err(invalid(loaded, errors)) } else { Ok(()) }
}

fn invalid(loaded: &Loaded, errors: usize) -> Failure {
    let s = if errors == 1 { "" } else { "s" };
    Failure::invalid(format!("{} has {errors} error{s}", loaded.display))
        .hint("fix the lines shown above; docs/scripts.md describes every step")
}

fn list(out: &mut dyn Write, _err: &mut dyn Write) -> Result<u8, Failure> {
    let user = library::user_scripts();
    let user_names: Vec<String> =
        user.iter().filter_map(|p| p.file_stem()).map(|s| s.to_string_lossy().into_owned()).collect();
    let mut text = String::from("Built-in routines (length at the default hold):\n");
    for (name, source) in library::BUILTINS {
        let loaded = library::load_builtin(name, source);
        let shadow = if user_names.iter().any(|n| n == name) { "  (shadowed by your script)" } else { "" };
        text += &line(&loaded, shadow);
    }
    let dir =
        library::user_dir().map_or_else(|| "(no config folder on this system)".into(), |d| d.display().to_string());
    text += &format!("\nYour scripts, in {dir}:\n");
    if user.is_empty() {
        text += "  none yet — `backease new NAME` writes a starter script there\n";
    }
    for path in &user {
        let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let shadow = if library::BUILTINS.iter().any(|(n, _)| *n == stem) { "  (shadows the built-in)" } else { "" };
        match library::load_file(path, Origin::User(path.clone())) {
            Ok(loaded) => text += &line(&loaded, shadow),
            Err(e) => text += &format!("  {stem:<20} unreadable: {}\n", e.message),
        }
    }
    write_out(out, &text)?;
    Ok(code::OK)
}

fn line(loaded: &Loaded, note: &str) -> String {
    let Some(script) = &loaded.script else {
        return format!(
            "  {:<20} {:>7}  has errors: run `backease check {}`{note}\n",
            loaded.name, "-", loaded.display
        );
    };
    let t = timeline::compile(script, &Options::default(), &Estimate::default());
    format!("  {:<20} {:>7}  {}{note}\n", loaded.name, duration::clock(t.duration()), script.summary)
}

fn show(routine: &str, timing: &Timing, json: bool, out: &mut dyn Write, err: &mut dyn Write) -> Result<u8, Failure> {
    let (script, timeline) = prepare(routine, &timing.into(), err)?;
    let text = if json { show::json(&script, &timeline) } else { show::text(&script, &timeline) };
    write_out(out, &text)?;
    Ok(code::OK)
}

fn check(files: &[String], out: &mut dyn Write, err: &mut dyn Write) -> Result<u8, Failure> {
    let mut bad = 0;
    let mut missing = 0;
    for file in files {
        let loaded = match library::resolve(file) {
            Ok(l) => l,
            Err(e) => {
                let _ = writeln!(err, "{file}: error: {}", e.message);
                missing += 1;
                continue;
            }
        };
        let result = loaded_script(&loaded, err).and_then(|script| {
            let t = timeline::compile(&script, &Options::default(), &Estimate::default());
            report_timeline(&loaded, &t, err)?;
            Ok(t)
        });
        match result {
            Ok(t) => {
                let warnings = loaded.diagnostics.len() + t.diagnostics.len();
                let note = match warnings {
                    0 => String::new(),
                    1 => ", 1 warning".into(),
                    n => format!(", {n} warnings"),
                };
                write_out(out, &format!("{}: ok ({}{note})\n", loaded.display, duration::clock(t.duration())))?;
            }
            Err(e) => {
                let _ = writeln!(err, "{}\n", e.message);
                bad += 1;
            }
        }
    }
    if missing > 0 {
        return Err(Failure::io(format!("{missing} of {} scripts could not be read", files.len())));
    }
    Ok(if bad > 0 { code::INVALID } else { code::OK })
}

fn new(name: &str, out: &mut dyn Write) -> Result<u8, Failure> {
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') {
        return Err(Failure::usage(format!("`{name}` is not a routine name"))
            .hint("use lowercase letters, digits and dashes, like `evening-stretch`"));
    }
    let dir = library::user_dir().ok_or_else(|| Failure::io("this system has no config folder for your scripts"))?;
    std::fs::create_dir_all(&dir)
        .map_err(|e| Failure::io(format!("cannot create {}: {}", dir.display(), crate::error::io_reason(&e))))?;
    let path = dir.join(format!("{name}.ron"));
    fsutil::write_new(&path, library::starter(name).as_bytes())?;
    let shadow = if library::BUILTINS.iter().any(|(n, _)| *n == name) {
        format!("\nnote: it has the name of a built-in routine; `backease play {name}` now plays yours")
    } else {
        String::new()
    };
    write_out(out, &format!("{}\nedit it, then: backease play {name}{shadow}\n", path.display()))?;
    Ok(code::OK)
}

/// Writes to stdout; a closed pipe (`backease show x | head`) is not an
/// error worth a message.
fn write_out(out: &mut dyn Write, text: &str) -> Result<(), Failure> {
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Failure::io(format!("cannot write output: {}", crate::error::io_reason(&e)))),
    }
}
