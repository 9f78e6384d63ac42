//! The loader: a script's syntax tree made into the typed [`Script`],
//! every problem a person can make collected as a [`Diagnostic`] with its
//! span, never stopping at the first.
//!
//! Here: [`load`], the [`Lower`] that carries the diagnostics, and the
//! readers of single values every part shares (and the config file uses):
//! fields, strings, durations, counts, volumes, chimes. The routine's top
//! level and its defaults are in `routine`, the steps in `steps`, and what
//! the steps say — Hold, Wait and cue text — in `cues`.

mod cues;
mod routine;
mod steps;

use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::script::diagnostic::{Diagnostic, MAX_PROBLEMS, did_you_mean};
use crate::script::duration;
use crate::script::syntax::{self, Field, Ident, Node, Value};
use crate::script::{Chime, Script};

/// Loads a script from its text. `base_dir` is the script's folder, against
/// which `Sound` paths are resolved; `file_name` is the routine's name (the
/// file's stem, which `play NAME` takes): a `name` in the script that
/// differs from it is a warning.
pub fn load(source: &str, base_dir: Option<&Path>, file_name: &str) -> (Option<Script>, Vec<Diagnostic>) {
    let loading = load_all(source, base_dir, file_name);
    (loading.script, loading.diagnostics)
}

/// What [`load`] gives, and the sound files the script names that are
/// there: a script with errors has no timeline to find them in, and the
/// caller can still decode them, so that a file that is no sound is
/// reported in the same run as the script's other mistakes.
pub struct Loading {
    pub script: Option<Script>,
    pub diagnostics: Vec<Diagnostic>,
    /// Each file with the span of its `Sound` step's path.
    pub sounds: Vec<(PathBuf, Range<usize>)>,
}

/// [`load`], with the sound files found.
pub fn load_all(source: &str, base_dir: Option<&Path>, file_name: &str) -> Loading {
    let (root, mut diagnostics) = syntax::parse(source);
    let mut lower = Lower::new(source);
    lower.base_dir = base_dir;
    let script = if matches!(root.value, Value::Error) { None } else { lower.routine(&root, file_name) };
    if let Some(script) = &script {
        lower.check_size(script);
    }
    diagnostics.append(&mut lower.diags);
    diagnostics.sort_by_key(|d| (d.span.start, std::cmp::Reverse(d.severity)));
    let ok = !diagnostics.iter().any(Diagnostic::is_error);
    Loading { script: script.filter(|_| ok), diagnostics, sounds: lower.sounds }
}

/// Turns syntax nodes into checked values, collecting diagnostics. Also
/// used for the config file, which shares the script's conventions.
pub struct Lower<'a> {
    source: &'a str,
    base_dir: Option<&'a Path>,
    pub(crate) diags: Vec<Diagnostic>,
    /// Where the routine's `rounds` is written, to blame it for a session
    /// too large.
    rounds_span: Option<Range<usize>>,
    /// Set past [`MAX_PROBLEMS`]: checking stops.
    gave_up: bool,
    /// Where problems past the limit go.
    spare: Diagnostic,
    /// The sound files named, for [`Loading::sounds`].
    sounds: Vec<(PathBuf, Range<usize>)>,
}

#[derive(Clone, Copy)]
struct Ctx {
    depth: usize,
    in_sides: bool,
    default_hold: Duration,
}

impl<'a> Lower<'a> {
    pub(crate) fn new(source: &'a str) -> Lower<'a> {
        Lower {
            source,
            base_dir: None,
            diags: Vec::new(),
            rounds_span: None,
            gave_up: false,
            spare: Diagnostic::error(0..0, ""),
            sounds: Vec::new(),
        }
    }

    pub(crate) fn error(&mut self, span: Range<usize>, message: impl Into<String>) -> &mut Diagnostic {
        if self.diags.len() >= MAX_PROBLEMS {
            // Past the limit, a problem goes to a spare that is dropped, so
            // callers can still set its help.
            if !self.gave_up {
                self.gave_up = true;
                let note = format!("more than {MAX_PROBLEMS} problems: stopped checking here");
                self.diags.push(Diagnostic::error(span.clone(), note).with_help("fix these, then check again"));
            }
            self.spare = Diagnostic::error(span, message);
            return &mut self.spare;
        }
        self.diags.push(Diagnostic::error(span, message));
        self.diags.last_mut().expect("just pushed")
    }

    fn missing(&mut self, span: Range<usize>, field: &str, owner: &str, example: &str) {
        let d = self.error(span, format!("{owner} is missing the field `{field}`"));
        d.help = Some(format!("add {example}"));
    }

    /// Checks a structure's field names and returns them by name. Unknown
    /// and repeated fields are reported here, once, for every structure.
    ///
    /// A field whose name could not be read (its problem is reported
    /// already) might have been any of them: every field not found is then
    /// given that unreadable value, so none is called missing.
    pub(crate) fn fields<'n>(
        &mut self,
        fields: &'n [Field],
        allowed: &[&'n str],
        owner: &str,
    ) -> HashMap<&'n str, &'n Node> {
        let mut out: HashMap<&str, &Node> = HashMap::new();
        let mut unread = None;
        for field in fields {
            let name = field.name.name.as_str();
            if name.is_empty() {
                unread = Some(&field.value);
            } else if !allowed.contains(&name) {
                let d = self.error(field.name.span.clone(), format!("{owner} has no field `{name}`"));
                d.help = Some(match did_you_mean(name, allowed.iter().copied()) {
                    Some(s) if name.contains('-') && s == name.replace('-', "_") => {
                        format!("did you mean `{s}`? names are written with _, not -")
                    }
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!("its fields are {}", list_words(allowed)),
                });
            } else if out.insert(name, &field.value).is_some() {
                self.error(field.name.span.clone(), format!("`{name}` is given twice"));
            }
        }
        if let Some(node) = unread {
            for name in allowed {
                out.entry(name).or_insert(node);
            }
        }
        out
    }

    pub(crate) fn string(&mut self, node: &Node, what: &str) -> Option<String> {
        match &node.value {
            Value::Str(s) => Some(s.clone()),
            Value::Error => None,
            other => {
                let found = other.describe();
                self.error(node.span.clone(), format!("{what} should be text in double quotes, found {found}"));
                None
            }
        }
    }

    /// A string shown on a terminal or passed on as one line (a title, a
    /// voice name): an escape sequence or a line break in it would act
    /// rather than show, so control characters are refused.
    pub(crate) fn line(&mut self, node: &Node, what: &str) -> Option<String> {
        let s = self.string(node, what)?;
        if let Some(c) = s.chars().find(|c| c.is_control()) {
            let message = format!("{what} has a control character (U+{:04X})", c as u32);
            self.error(node.span.clone(), message).help = Some(format!("{what} is one line of plain text"));
            return None;
        }
        Some(s)
    }

    pub(crate) fn duration(&mut self, node: &Node, what: &str, max: Duration) -> Option<Duration> {
        let text = match &node.value {
            Value::Str(s) => s.clone(),
            Value::Int(_) | Value::Float(_) => {
                let src = &self.source[node.span.clone()];
                let d = self.error(node.span.clone(), format!("{what} needs a unit"));
                d.help = Some(format!("write it in quotes with a unit, like \"{src}s\""));
                return None;
            }
            Value::Error => return None,
            other => {
                let found = other.describe();
                let d =
                    self.error(node.span.clone(), format!("{what} should be a duration like \"30s\", found {found}"));
                d.help = Some("durations are written in quotes: \"30s\", \"1m30s\", \"500ms\"".into());
                return None;
            }
        };
        match duration::parse(&text) {
            Ok(d) if d.is_zero() => {
                self.error(node.span.clone(), format!("{what} is zero"));
                None
            }
            Ok(d) if d > max => {
                let limit = duration::spoken(max);
                self.error(
                    node.span.clone(),
                    format!("{what} of {} is longer than the limit of {limit}", duration::spoken(d)),
                );
                None
            }
            Ok(d) => Some(d),
            Err(e) => {
                self.error(node.span.clone(), e.0);
                None
            }
        }
    }

    /// A volume: a number from 0.0 to 2.0.
    pub(crate) fn volume(&mut self, node: &Node) -> Option<f32> {
        match node.value {
            Value::Float(v) if (0.0..=2.0).contains(&v) => Some(v as f32),
            Value::Int(v) if (0..=2).contains(&v) => Some(v as f32),
            Value::Error => None,
            _ => {
                self.error(node.span.clone(), "the volume must be a number from 0.0 to 2.0 (1.0 is unchanged)");
                None
            }
        }
    }

    pub(crate) fn count(&mut self, node: &Node, what: &str, range: std::ops::RangeInclusive<i64>) -> Option<u32> {
        match node.value {
            Value::Int(v) if range.contains(&v) => Some(v as u32),
            Value::Int(v) => {
                let (lo, hi) = (range.start(), range.end());
                self.error(node.span.clone(), format!("{what} must be from {lo} to {hi}, not {v}"));
                None
            }
            Value::Error => None,
            Value::Float(_) => {
                let written = &self.source[node.span.clone()];
                self.error(node.span.clone(), format!("{what} must be a whole number, not {written}"));
                None
            }
            ref other => {
                let found = other.describe();
                self.error(node.span.clone(), format!("{what} should be a whole number, found {found}"));
                None
            }
        }
    }

    pub(crate) fn chime(&mut self, node: &Node) -> Option<Chime> {
        let name = self.string(node, "the chime")?;
        match Chime::from_name(&name) {
            Some(c) => Some(c),
            None => {
                let names: Vec<&str> = Chime::ALL.iter().map(|c| c.name()).collect();
                let d = self.error(node.span.clone(), format!("unknown chime \"{name}\""));
                d.help = Some(match did_you_mean(&name, names.iter().copied()) {
                    Some(s) => format!("did you mean \"{s}\"?"),
                    None => format!("the chimes are {}", list_words(&names)),
                });
                None
            }
        }
    }

    fn named_fields<'n>(&mut self, name: &Ident, body: &Body<'n>, example: &str) -> Option<&'n [Field]> {
        match body {
            Body::Fields(fields) => Some(fields),
            Body::Items([]) => Some(&[]),
            Body::Items([first, ..]) => {
                let d = self.error(first.span.clone(), format!("{} takes named fields", name.name));
                d.help = Some(format!("write {example}"));
                None
            }
        }
    }

    fn one_arg<'n>(&mut self, name: &Ident, body: &Body<'n>, what: &str, example: &str) -> Option<&'n Node> {
        match body {
            Body::Items([one]) => Some(one),
            Body::Items([]) => {
                let d = self.error(name.span.clone(), format!("{} needs {what}", name.name));
                d.help = Some(format!("write {example}"));
                None
            }
            Body::Items([_, second, ..]) => {
                let d = self.error(second.span.clone(), format!("{} takes one value", name.name));
                d.help = Some(format!("write {example}"));
                None
            }
            Body::Fields(_) => {
                let d = self
                    .error(name.span.clone(), format!("{} takes its value directly, without a field name", name.name));
                d.help = Some(format!("write {example}"));
                None
            }
        }
    }
}

enum Body<'n> {
    Items(&'n [Node]),
    Fields(&'n [Field]),
}

fn list_words(words: &[&str]) -> String {
    match words {
        [] => String::new(),
        [one] => one.to_string(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The problems of a routine with these steps, each as (the text its
    /// span covers, its message, its help), in the order of the file.
    fn problems(steps: &str) -> Vec<(String, String, Option<String>)> {
        let source = format!("Routine(title: \"T\", summary: \"S\", steps: [{steps}])");
        let (script, diags) = load(&source, None, "t");
        assert_eq!(script.is_some(), !diags.iter().any(Diagnostic::is_error), "a script only without errors");
        diags.into_iter().map(|d| (source[d.span].to_string(), d.message, d.help)).collect()
    }

    #[test]
    fn every_mistake_is_reported_in_one_run_where_it_is_written() {
        let got = problems(r#"Chime("bel"), Pause(30), Hold(length: "0s"), Repeat(times: 0, steps: [Say("a")])"#);
        let at: Vec<&str> = got.iter().map(|p| p.0.as_str()).collect();
        assert_eq!(at, ["\"bel\"", "30", "\"0s\"", "0"], "{got:?}");
        assert_eq!(got[0].2.as_deref(), Some("did you mean \"bell\"?"));
        assert_eq!(got[1].2.as_deref(), Some("write it in quotes with a unit, like \"30s\""));
        assert!(got[2].1.ends_with("is zero"), "{}", got[2].1);
        assert!(got[3].1.contains("must be from"), "{}", got[3].1);
    }

    #[test]
    fn durations_take_the_spellings_people_type() {
        for length in ["45s", "45sec", "2min", "1 min", "1m 30s", "1m30s", "9m59s", "500ms"] {
            assert_eq!(problems(&format!("Hold(length: \"{length}\")")), [], "{length}");
        }
        let got = problems(r#"Hold(length: "1m30")"#);
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(got[0].2.as_deref().unwrap_or(&got[0].1).contains("1m30s"), "{got:?}");
    }

    #[test]
    fn a_step_in_the_wrong_shape_says_how_to_write_it() {
        let got = problems(r#"Say(text: "a"), Say("a", "b"), Say"#);
        assert_eq!(got.len(), 3, "{got:?}");
        assert!(got.iter().all(|p| p.2.as_deref().is_some_and(|h| h.starts_with("write "))), "{got:?}");
        assert_eq!(got[1].0, "\"b\"", "the value too many");
    }

    #[test]
    fn a_volume_and_a_count_are_checked_against_their_range() {
        let routine = |fields: &str| {
            let source = format!("Routine(title: \"T\", summary: \"S\", {fields}, steps: [Say(\"a\")])");
            let (_, diags) = load(&source, None, "t");
            diags.into_iter().map(|d| (source[d.span].to_string(), d.message)).collect::<Vec<_>>()
        };
        assert_eq!(routine("defaults: (volume: 1.5)"), []);
        let got = routine("defaults: (volume: 3.0)");
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0].0, "3.0");
        let got = problems(r#"Repeat(times: 2.5, steps: [Say("a")])"#);
        assert_eq!(got.iter().map(|p| p.0.as_str()).collect::<Vec<_>>(), ["2.5"], "{got:?}");
        assert!(got[0].1.contains("whole number"), "{}", got[0].1);
    }
}
