//! The commands about scripts themselves: `list` (the built-in routines
//! and the user's), `show` (a routine's timeline), `check` (every mistake,
//! with file:line:column) and `new` (a starter script).
//!
//! None of them makes speech or sound: the lengths they print come from the
//! speech cache when every cue is there, else they are estimated.

use std::ffi::{OsStr, OsString};
use std::io::Write;

use crate::cli::Timing;
use crate::cli::routine::{
    Prepared, check_sounds, known_timeline, load_routine, loaded_script, report_timeline, sized, warn_idle_options,
};
use crate::cli::{write_json, write_out};
use crate::config::Settings;
use crate::error::{Failure, code};
use crate::library::{self, Loaded, Origin};
use crate::script::timeline::{self, Estimate, Options};
use crate::{fsutil, script::show};

pub(super) fn list(json: bool, out: &mut dyn Write, err: &mut dyn Write) -> Result<u8, Failure> {
    let config = crate::config::load(err)?.settings;
    let (user, unreadable) = match library::read_user_scripts() {
        Ok(user) => (user, None),
        Err(why) => (Vec::new(), Some(why)),
    };
    let user_names: Vec<String> =
        user.iter().filter_map(|p| p.file_stem()).map(|s| s.to_string_lossy().into_owned()).collect();
    let mut routines = Vec::new();
    for (name, source) in library::BUILTINS {
        let shadowed = user_names.iter().any(|n| n == name);
        routines.push(Listed { shadowed, ..listed(&library::load_builtin(name, source), &config) });
    }
    for path in &user {
        let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let shadowed = library::BUILTINS.iter().any(|(n, _)| *n == stem);
        let entry = match library::load_file(path, Origin::User(path.clone())) {
            Ok(loaded) => listed(&loaded, &config),
            Err(e) => {
                Listed { unreadable: true, problem: Some(format!("unreadable: {}", e.message)), ..Listed::new(stem) }
            }
        };
        routines.push(Listed { shadowed, path: Some(path.display().to_string()), ..entry });
    }
    let scripts_dir = library::user_dir().map(|d| d.display().to_string());
    if json {
        write_json(out, &ListJson { scripts_dir, unreadable, routines })?;
    } else {
        write_out(out, &list_text(scripts_dir, unreadable, &routines))?;
    }
    Ok(code::OK)
}

/// `list --json`: the scripts folder (and why it cannot be read, if so)
/// and every routine, the built-in ones first.
#[derive(serde::Serialize)]
struct ListJson {
    scripts_dir: Option<String>,
    unreadable: Option<String>,
    routines: Vec<Listed>,
}

/// A routine as `list` shows it.
#[derive(serde::Serialize)]
struct Listed {
    name: String,
    builtin: bool,
    /// The file, for the user's scripts.
    path: Option<String>,
    summary: Option<String>,
    /// The length at the settings' hold; none when it does not play.
    length_ms: Option<u128>,
    /// The length is estimated: its speech is not made yet.
    estimated: bool,
    /// A built-in that a script of the same name shadows, or a script
    /// that shadows a built-in.
    shadowed: bool,
    /// Why it does not play: it has errors, or cannot be read.
    problem: Option<String>,
    #[serde(skip)]
    unreadable: bool,
}

impl Listed {
    fn new(name: String) -> Listed {
        Listed {
            name,
            builtin: false,
            path: None,
            summary: None,
            length_ms: None,
            estimated: false,
            shadowed: false,
            problem: None,
            unreadable: false,
        }
    }
}

fn list_text(dir: Option<String>, unreadable: Option<String>, routines: &[Listed]) -> String {
    let shown = |s: &str| crate::script::diagnostic::escape_controls(s).into_owned();
    let mut text = String::from("Built-in routines (length at the default hold):\n");
    for r in routines.iter().filter(|r| r.builtin) {
        text += &line(r, if r.shadowed { "  (shadowed by your script)" } else { "" });
    }
    let dir = dir.map_or_else(|| "(no config folder on this system)".into(), |d| shown(&d));
    text += &format!("\nYour scripts, in {dir}:\n");
    let user: Vec<&Listed> = routines.iter().filter(|r| !r.builtin).collect();
    match unreadable {
        Some(why) => text += &format!("  {}\n", shown(&why)),
        None if user.is_empty() => text += "  none yet — `backease new NAME` writes a starter script there\n",
        None => {}
    }
    for r in user {
        text += &line(r, if r.shadowed { "  (shadows the built-in)" } else { "" });
    }
    text
}

/// The options the settings file implies when the command line gives none.
fn config_options(config: &Settings) -> Options {
    Options { hold: config.hold, ..Options::default() }
}

/// A routine's entry: its length at the settings' hold, or that it has
/// errors (with its sound files at their real lengths: over a limit, it
/// would not play).
fn listed(loaded: &Loaded, config: &Settings) -> Listed {
    let mut entry = Listed {
        builtin: matches!(loaded.origin, Origin::Builtin),
        summary: loaded.script.as_ref().map(|s| s.summary.clone()),
        problem: Some(format!("has errors: run `backease check {}`", loaded.display)),
        ..Listed::new(loaded.name.clone())
    };
    if let Some(script) = &loaded.script {
        let t = known_timeline(script, &config_options(config), config);
        if !t.diagnostics.iter().any(|d| d.is_error()) {
            (entry.length_ms, entry.estimated, entry.problem) = (Some(t.duration().as_millis()), t.estimated, None);
        }
    }
    entry
}

/// A routine's line in `list`: its name, length and summary, or what is
/// wrong with it.
fn line(r: &Listed, note: &str) -> String {
    let name = crate::script::diagnostic::escape_controls(&r.name);
    let text = match (&r.problem, r.length_ms) {
        (Some(problem), _) if r.unreadable => format!("{name:<20} {problem}"),
        (Some(problem), _) => format!("{name:<20} {:>7}  {problem}{note}", "-"),
        (None, length) => {
            let clock = crate::script::duration::clock(std::time::Duration::from_millis(length.unwrap_or(0) as u64));
            let length = if r.estimated { format!("≈{clock}") } else { clock };
            format!("{name:<20} {length:>7}  {}{note}", r.summary.as_deref().unwrap_or(""))
        }
    };
    format!("  {}\n", crate::script::diagnostic::escape_controls(&text))
}

pub(super) fn show(
    routine: &OsStr,
    timing: &Timing,
    json: bool,
    looped: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<u8, Failure> {
    let config = crate::config::load(err)?.settings;
    let Prepared { loaded, script, mut options, .. } = load_routine(routine, timing, &config, err)?;
    warn_idle_options(&script, timing, looped, err);
    if looped {
        // One round stands for them all: `play --loop` repeats it.
        options.rounds = Some(1);
    }
    // Once the speech is cached, the times are exact.
    let timeline = known_timeline(&script, &options, &config);
    report_timeline(&loaded, &timeline, true, err)?;
    let text = if json { show::json(&script, &timeline, looped) } else { show::text(&script, &timeline, looped) };
    write_out(out, &text)?;
    Ok(code::OK)
}

pub(super) fn check(files: &[OsString], json: bool, out: &mut dyn Write, err: &mut dyn Write) -> Result<u8, Failure> {
    let config = crate::config::load(err)?.settings;
    let files = match files {
        [] => match scripts_folder(json, out)? {
            Some(files) => files,
            None => return Ok(code::OK),
        },
        given => given.to_vec(),
    };
    let mut bad = 0;
    let mut missing = 0;
    // The exit code of the first script that could not be read: a routine
    // name that does not exist is a usage error, as it is for `play`.
    let mut missing_code = code::IO;
    let mut found = Vec::new();
    for file in &files {
        let mut loaded = match library::resolve(file) {
            Ok(l) => l,
            // One name: the same failure `play` and `show` give.
            Err(e) if files.len() == 1 => return Err(e),
            Err(e) => {
                let name = crate::script::diagnostic::escape_controls(&file.to_string_lossy()).into_owned();
                let _ = writeln!(err, "{name}: error: {}", e.message);
                if let Some(hint) = &e.hint {
                    let _ = writeln!(err, "hint: {hint}");
                }
                if missing == 0 {
                    missing_code = e.code;
                }
                missing += 1;
                continue;
            }
        };
        let ok = if json { check_json(&mut loaded, &mut found) } else { check_text(&mut loaded, &config, out, err)? };
        if !ok {
            bad += 1;
        }
    }
    if json {
        write_json(out, &found)?;
    }
    if missing > 0 {
        return Err(Failure::new(missing_code, format!("{missing} of {} scripts could not be read", files.len())));
    }
    Ok(if bad > 0 { code::INVALID } else { code::OK })
}

/// The scripts `check` with no FILE checks: every one in the user's
/// folder, said so first (on a terminal; `--json` prints only JSON). None
/// when there are none, which it says.
fn scripts_folder(json: bool, out: &mut dyn Write) -> Result<Option<Vec<OsString>>, Failure> {
    let dir = library::user_dir().ok_or_else(|| Failure::io("this system has no config folder for your scripts"))?;
    let shown = crate::script::diagnostic::escape_controls(&dir.display().to_string()).into_owned();
    let paths = library::read_user_scripts().map_err(Failure::io)?;
    let text = match paths.len() {
        0 => format!("No scripts in {shown} yet: `backease new NAME` starts one.\n"),
        1 => format!("Checking 1 routine in {shown}:\n"),
        n => format!("Checking {n} routines in {shown}:\n"),
    };
    if json && paths.is_empty() {
        write_json(out, &Vec::<CheckedJson>::new())?;
    } else if !json {
        write_out(out, &text)?;
    }
    Ok((!paths.is_empty()).then(|| paths.into_iter().map(OsString::from).collect()))
}

/// Checks one script, printing its problems as the checker draws them and
/// a line if it is fine; false if it has errors.
fn check_text(
    loaded: &mut Loaded,
    config: &Settings,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<bool, Failure> {
    let result = loaded_script(loaded, err).and_then(|script| {
        let t = timeline::compile(&script, &Options::default(), &Estimate::default());
        report_timeline(loaded, &t, true, err)?;
        // What is no fault, but worth knowing: said by `check` alone.
        let notes = script.notes();
        if !notes.is_empty() {
            let _ = write!(err, "{}", crate::script::diagnostic::render(&loaded.display, &loaded.text, &notes));
        }
        check_sounds(loaded, &t, err)?;
        // With its sound files at their real lengths, within the limits.
        report_timeline(loaded, &sized(&script, &Options::default()), false, err)?;
        // The length as well as it is known: exact once the speech is cached.
        let length = known_timeline(&script, &config_options(config), config);
        Ok((t, length, notes.len()))
    });
    match result {
        Ok((t, length, notes)) => {
            let warnings = loaded.diagnostics.len() + t.diagnostics.len();
            let note = counted(warnings, "warning") + &counted(notes, "note");
            write_out(out, &format!("{}: ok ({}{note})\n", loaded.display, length.length_shown()))?;
            Ok(true)
        }
        Err(e) => {
            let _ = writeln!(err, "{}\n", e.message);
            Ok(false)
        }
    }
}

/// One problem as `check --json` gives it, for editors: lines and columns
/// from 1, columns in characters; the end is where the span ends.
#[derive(serde::Serialize)]
struct CheckedJson {
    file: String,
    line: usize,
    column: usize,
    end_line: usize,
    end_column: usize,
    severity: crate::script::diagnostic::Severity,
    message: String,
    hint: Option<String>,
}

/// Checks one script as [`check_text`] does, adding its problems to
/// `found`; false if it has errors.
fn check_json(loaded: &mut Loaded, found: &mut Vec<CheckedJson>) -> bool {
    use crate::script::diagnostic::line_col;
    let mut problems = std::mem::take(&mut loaded.diagnostics);
    if let Some(script) = loaded.script.take() {
        let t = timeline::compile(&script, &Options::default(), &Estimate::default());
        let failed = t.diagnostics.iter().any(|d| d.is_error());
        problems.extend(t.diagnostics.iter().cloned());
        if !failed {
            let sounds = crate::audio::sound::check(&t);
            if sounds.is_empty() {
                let sized = sized(&script, &Options::default());
                problems.extend(sized.diagnostics.into_iter().filter(|d| d.is_error()));
            }
            problems.extend(sounds);
        }
    }
    for d in &problems {
        let (start, end) = (line_col(&loaded.text, d.span.start), line_col(&loaded.text, d.span.end));
        found.push(CheckedJson {
            file: loaded.display.clone(),
            line: start.line,
            column: start.column,
            end_line: end.line,
            end_column: end.column,
            severity: d.severity,
            message: d.message.clone(),
            hint: d.help.clone(),
        });
    }
    !problems.iter().any(|d| d.is_error())
}

/// ", 2 warnings" after a script's length; nothing for none.
fn counted(n: usize, what: &str) -> String {
    match n {
        0 => String::new(),
        1 => format!(", 1 {what}"),
        n => format!(", {n} {what}s"),
    }
}

pub(super) fn new(name: &str, out: &mut dyn Write) -> Result<u8, Failure> {
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') {
        return Err(Failure::usage(format!("`{name}` is not a routine name"))
            .hint("use lowercase letters, digits and dashes, like `evening-stretch`"));
    }
    let dir = library::user_dir().ok_or_else(|| Failure::io("this system has no config folder for your scripts"))?;
    if std::fs::metadata(&dir).is_ok_and(|m| !m.is_dir()) {
        return Err(Failure::io(format!("cannot write your script: {} is a file, not a folder", dir.display()))
            .hint("move that file away; backease keeps your scripts in a folder there"));
    }
    std::fs::create_dir_all(&dir).map_err(|e| {
        let e = fsutil::explain(&dir, e);
        crate::error::io_failure(format!("cannot create {}", dir.display()), &e)
    })?;
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
