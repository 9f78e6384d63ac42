//! Where routines come from: the built-ins compiled into the binary, the
//! user's scripts folder, or a path, and how a ROUTINE argument picks one.
//!
//! This module reads files and knows folders; it does not interpret
//! scripts beyond handing their text to `script::load`. A script is read
//! only from a regular file of at most [`MAX_SCRIPT_BYTES`].

use std::ffi::OsStr;
use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::error::Failure;
use crate::script::diagnostic::{Diagnostic, did_you_mean};
use crate::script::{self, Script};

/// The built-in routines, embedded so the binary works from anywhere.
pub const BUILTINS: [(&str, &str); 4] = [
    ("deep-spinal", include_str!("../scripts/deep-spinal.ron")),
    ("gluteus-medius", include_str!("../scripts/gluteus-medius.ron")),
    ("quadratus-lumborum", include_str!("../scripts/quadratus-lumborum.ron")),
    ("full-back", include_str!("../scripts/full-back.ron")),
];

/// Scripts larger than this are refused before reading: no routine a
/// person writes comes near it, and a stray huge file must not stall.
pub const MAX_SCRIPT_BYTES: u64 = 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Builtin,
    /// In the user's scripts folder.
    User(PathBuf),
    /// Named by path on the command line.
    File(PathBuf),
}

/// A script's text and where it came from, loaded or not.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub name: String,
    pub origin: Origin,
    /// How to name the file in messages.
    pub display: String,
    pub text: String,
    pub script: Option<Script>,
    pub diagnostics: Vec<Diagnostic>,
    /// The sound files the script names, with the span of each path.
    pub sounds: Vec<(PathBuf, Range<usize>)>,
}

impl Loaded {
    pub fn errors(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.is_error()).count()
    }

    /// The problems, drawn for a terminal.
    pub fn report(&self) -> String {
        crate::script::diagnostic::render(&self.display, &self.text, &self.diagnostics)
    }
}

/// The user's scripts folder, e.g. `~/.config/backease/scripts`.
pub fn user_dir() -> Option<PathBuf> {
    dirs::config_dir().map(|d| d.join("backease").join("scripts"))
}

/// Reads and loads the routine a ROUTINE argument names: a path (it has a
/// slash or ends in `.ron`), else a user script, else a built-in.
pub fn resolve(routine: &OsStr) -> Result<Loaded, Failure> {
    // A name is plain text; anything else, a file name that is not UTF-8
    // among them, can only be a path.
    let name = match routine.to_str() {
        Some(n) if !(n.contains(std::path::MAIN_SEPARATOR) || n.contains('/') || n.ends_with(".ron")) => n,
        _ => return load_file(Path::new(routine), Origin::File(PathBuf::from(routine))),
    };
    let routine = name;
    if let Some(dir) = user_dir() {
        let path = dir.join(format!("{routine}.ron"));
        if path.is_file() {
            return load_file(&path, Origin::User(path.clone()));
        }
    }
    if let Some(&(name, text)) = BUILTINS.iter().find(|(n, _)| *n == routine) {
        return Ok(load_builtin(name, text));
    }
    let hint = match named_inside(routine) {
        // A name written inside a script is not the routine's: its file's is.
        Some(file) => {
            format!("your script {file}.ron names itself `{routine}`, but a routine is called after its file: `{file}`")
        }
        None => not_found_hint(routine, &all_names()),
    };
    let shown = crate::script::diagnostic::escape_controls(routine);
    Err(Failure::usage(format!("no routine named `{shown}`")).hint(hint))
}

pub fn load_builtin(name: &str, text: &str) -> Loaded {
    let script::Loading { script, diagnostics, sounds } = script::load_all(text, None, name);
    Loaded {
        name: name.to_string(),
        origin: Origin::Builtin,
        display: format!("<built-in {name}>"),
        text: text.to_string(),
        script,
        diagnostics,
        sounds,
    }
}

/// Reads a script file. Problems with the file itself (missing, too large)
/// are failures; problems in its text are diagnostics.
pub fn load_file(path: &Path, origin: Origin) -> Result<Loaded, Failure> {
    let display = crate::script::diagnostic::escape_controls(&path.display().to_string()).into_owned();
    let bytes = crate::fsutil::read_regular(path, MAX_SCRIPT_BYTES).map_err(|e| match e.kind() {
        std::io::ErrorKind::FileTooLarge => {
            let size = std::fs::metadata(path).map_or(0, |m| m.len());
            Failure::io(format!(
                "{display} is {} KiB; a script is at most {} KiB",
                size / 1024,
                MAX_SCRIPT_BYTES / 1024
            ))
            .hint("is this the right file? scripts are short RON text files")
        }
        std::io::ErrorKind::NotFound => crate::error::io_failure(format!("cannot read {display}"), &e)
            .hint("check the path; `backease list` shows the routines by name"),
        _ => crate::error::io_failure(format!("cannot read {display}"), &e),
    })?;
    let name = path.file_stem().map_or_else(
        || "routine".into(),
        |s| crate::script::diagnostic::escape_controls(&s.to_string_lossy()).into_owned(),
    );
    let (text, decoding) = crate::script::syntax::decode(bytes);
    let loading = if decoding.is_empty() {
        script::load_all(&text, path.parent(), &name)
    } else {
        script::Loading { script: None, diagnostics: decoding, sounds: Vec::new() }
    };
    let script::Loading { script, diagnostics, sounds } = loading;
    Ok(Loaded { name, origin, display, text, script, diagnostics, sounds })
}

/// What to say of a routine name that is none of `names`: the nearest,
/// or the names (a few of them, when there are many).
fn not_found_hint(routine: &str, names: &[String]) -> String {
    match did_you_mean(routine, names.iter().map(String::as_str)) {
        Some(s) => format!("did you mean `{s}`? `backease list` shows every routine"),
        // A folder of a thousand scripts is not a hint.
        None if names.len() > SHOWN_NAMES => format!(
            "the routines include {}, … ({} in all); `backease list` shows them all",
            names[..SHOWN_NAMES].join(", "),
            names.len()
        ),
        None => format!("the routines are {}; `backease list` shows them all", names.join(", ")),
    }
}

/// The name of the user's script that says `name: "<routine>"` inside
/// though its file is called otherwise, if one does (escaped). Read only
/// when a name is not found, so a wrong name costs what finding it would.
fn named_inside(routine: &str) -> Option<String> {
    use crate::script::syntax::{Value, decode, parse};
    user_scripts().into_iter().find_map(|path| {
        let (text, _) = decode(crate::fsutil::read_regular(&path, MAX_SCRIPT_BYTES).ok()?);
        let Value::Struct(_, fields) = parse(&text).0.value else { return None };
        let named =
            |f: &crate::script::syntax::Field| f.name.name == "name" && f.value.value == Value::Str(routine.into());
        let stem = path.file_stem()?.to_string_lossy().into_owned();
        fields.iter().any(named).then(|| crate::script::diagnostic::escape_controls(&stem).into_owned())
    })
}

/// How many routine names a hint lists at most.
const SHOWN_NAMES: usize = 12;

/// Every routine name a user can play: built-ins and their own (control
/// characters in a file's name escaped: they go to the terminal).
pub fn all_names() -> Vec<String> {
    let mut names: Vec<String> = BUILTINS.iter().map(|(n, _)| n.to_string()).collect();
    for path in user_scripts() {
        if let Some(stem) = path.file_stem() {
            let stem = crate::script::diagnostic::escape_controls(&stem.to_string_lossy()).into_owned();
            if !names.contains(&stem) {
                names.push(stem);
            }
        }
    }
    names
}

/// The `.ron` files in the user's scripts folder, sorted by name; none
/// when the folder cannot be read (see [`read_user_scripts`]).
pub fn user_scripts() -> Vec<PathBuf> {
    read_user_scripts().unwrap_or_default()
}

/// As [`user_scripts`], or why the folder is there but cannot be read (not
/// a folder, no permission). A folder not made yet has no scripts.
pub fn read_user_scripts() -> Result<Vec<PathBuf>, String> {
    let Some(dir) = user_dir() else {
        return Ok(Vec::new());
    };
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) if e.raw_os_error() == Some(20) => return Err(format!("{} is a file, not a folder", dir.display())),
        Err(e) => return Err(format!("cannot read {}: {}", dir.display(), crate::error::io_reason(&e))),
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        // Only regular files: a FIFO here would stall `list` on reading it.
        .filter(|p| p.extension().is_some_and(|x| x == "ron") && p.is_file())
        .collect();
    paths.sort();
    Ok(paths)
}

/// The script `backease new` writes: every kind of step, commented.
pub fn starter(name: &str) -> String {
    include_str!("starter.ron").replace("{{name}}", name)
}
