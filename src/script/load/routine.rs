//! The routine's top level: `Routine(…)` and its fields — name, title,
//! summary, defaults, the opening, the round's steps and the closing — and
//! the check that the whole session is not too large. The steps themselves
//! are read in `steps`.

use std::collections::HashMap;
use std::ops::Range;

use super::{Ctx, Lower};
use crate::script::diagnostic::Diagnostic;
use crate::script::syntax::{Field, Node, Value};
use crate::script::{Defaults, MAX_EVENTS, MAX_HOLD, MAX_TIMES, Script, Step, StepKind, events};

impl<'a> Lower<'a> {
    pub(super) fn routine(&mut self, root: &Node, file_name: &str) -> Option<Script> {
        let fields = self.routine_fields(root)?;
        let f =
            self.fields(fields, &["name", "title", "summary", "defaults", "opening", "steps", "closing"], "Routine");
        let open = root.span.start..root.span.start + 1;
        // One name: the file's, which `play NAME` takes.
        let name = match f.get("name") {
            Some(n) => self.routine_name(n, file_name),
            None => Some(file_name.to_string()),
        };
        let title = self.required_text(&f, "title", "Routine", open.clone());
        let summary = self.required_text(&f, "summary", "Routine", open.clone());
        let defaults = match f.get("defaults") {
            Some(node) => self.defaults(node),
            None => Some(Defaults::default()),
        };
        let ctx = Ctx {
            depth: 0,
            in_sides: false,
            default_hold: defaults.as_ref().map_or(Defaults::default().hold, |d| d.hold),
        };
        let steps = match f.get("steps") {
            Some(node) => {
                let steps = self.steps(node, ctx);
                if let Some(s) = &steps
                    && s.is_empty()
                {
                    self.error(node.span.clone(), "the routine has no steps");
                }
                steps
            }
            None => {
                self.missing(open, "steps", "Routine", "steps: [Say(\"…\"), Hold]");
                None
            }
        };
        // The opening and the closing may be empty lists, or left out.
        let mut once = |field: &str| match f.get(field) {
            Some(node) => self.steps(node, ctx),
            None => Some(Vec::new()),
        };
        let opening = once("opening");
        let closing = once("closing");
        Some(Script {
            name: name?,
            title: title?,
            summary: summary?,
            defaults: defaults?,
            opening: opening?,
            steps: steps?,
            closing: closing?,
        })
    }

    /// The fields of `Routine(…)`, or an error for a file that is
    /// something else.
    fn routine_fields<'n>(&mut self, root: &'n Node) -> Option<&'n [Field]> {
        let fields = match &root.value {
            Value::Struct(name, fields) if name.as_ref().is_none_or(|n| n.name == "Routine") => fields,
            Value::Struct(Some(name), _) | Value::Tuple(Some(name), _) | Value::Unit(name) => {
                let d = self.error(name.span.clone(), format!("a script starts with `Routine(`, not `{}`", name.name));
                d.help = Some("write Routine(title: \"…\", summary: \"…\", steps: [ … ])".into());
                return None;
            }
            other => {
                let what = other.describe();
                let d =
                    self.error(root.span.start..root.span.start + 1, format!("expected `Routine(…)`, found {what}"));
                d.help = Some("a script is Routine(title: \"…\", summary: \"…\", steps: [ … ])".into());
                return None;
            }
        };
        Some(fields)
    }

    /// Refuses a routine that expands to more than [`MAX_EVENTS`] events,
    /// counted from the tree, blaming the innermost step that does it alone,
    /// else the step where the count passes the limit, else the rounds.
    pub(super) fn check_size(&mut self, script: &Script) {
        /// The innermost step that alone expands past the limit.
        fn culprit(steps: &[Step]) -> Option<&Step> {
            let step = steps.iter().find(|s| s.events() > MAX_EVENTS)?;
            Some(match &step.kind {
                StepKind::Repeat { steps, .. } | StepKind::Sides(steps) => culprit(steps).unwrap_or(step),
                _ => step,
            })
        }
        let rest = !script.defaults.rest.is_zero();
        let total = script.events(script.defaults.rounds, rest);
        if total <= MAX_EVENTS {
            return;
        }
        let limit = format!("a session holds at most {MAX_EVENTS}");
        let found = script.parts().into_iter().find_map(|(_, steps)| culprit(steps));
        if let Some(step) = found {
            let (what, help) = match step.kind {
                StepKind::Repeat { .. } => ("Repeat", "lower its times, or those of the repeats inside it"),
                StepKind::Sides(_) => ("Sides", "lower the times of the repeats inside it"),
                _ => ("step", "split it into smaller steps"),
            };
            let at = step.span.start..step.span.start + 1;
            let message = format!("this {what} expands to {} steps and cues; {limit}", step.events());
            self.error(at, message).help = Some(help.into());
            return;
        }
        let mut sum = 0u64;
        let all = script.parts().into_iter().flat_map(|(_, steps)| steps.iter());
        if let Some(step) = all.clone().find(|s| {
            sum = sum.saturating_add(s.events());
            sum > MAX_EVENTS
        }) {
            let at = step.span.start..step.span.start + 1;
            let message = format!("the steps up to here expand to {sum} steps and cues; {limit}");
            self.error(at, message).help = Some("lower the repeat counts, or split the routine in two".into());
            return;
        }
        let rounds = script.defaults.rounds;
        let at = self.rounds_span.clone().unwrap_or(0..1);
        self.error(at, format!("{rounds} rounds expand to {total} steps and cues; {limit}")).help =
            Some(format!("a round is {} steps and cues: lower the rounds", events(&script.steps)));
    }

    /// The routine's `name`, checked; the routine is called `file_name`
    /// all the same, and a `name` that differs is a warning.
    fn routine_name(&mut self, node: &Node, file_name: &str) -> Option<String> {
        let name = self.string(node, "the routine's name")?;
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') {
            let d = self.error(
                node.span.clone(),
                format!("routine name \"{name}\" must be lowercase letters, digits and dashes"),
            );
            d.help = Some("for example \"lower-back\"".into());
            return None;
        }
        if name != file_name && !self.gave_up {
            let message = format!("this routine is called `{file_name}`, after its file, not \"{name}\"");
            let help = format!("rename the file to {name}.ron, or write name: \"{file_name}\"");
            self.diags.push(Diagnostic::warning(node.span.clone(), message).with_help(help));
        }
        Some(file_name.to_string())
    }

    fn required_text(
        &mut self,
        f: &HashMap<&str, &Node>,
        field: &str,
        owner: &str,
        open: Range<usize>,
    ) -> Option<String> {
        match f.get(field) {
            Some(node) => {
                let s = self.line(node, &format!("the {field}"))?;
                if s.trim().is_empty() {
                    self.error(node.span.clone(), format!("the {field} is empty"));
                    return None;
                }
                Some(s)
            }
            None => {
                self.missing(open, field, owner, &format!("{field}: \"…\""));
                None
            }
        }
    }

    fn defaults(&mut self, node: &Node) -> Option<Defaults> {
        let fields = match &node.value {
            Value::Struct(name, fields) if name.as_ref().is_none_or(|n| n.name == "Defaults") => fields,
            Value::Tuple(_, items) if items.is_empty() => return Some(Defaults::default()),
            Value::Error => return None,
            other => {
                let found = other.describe();
                let d = self.error(node.span.clone(), format!("defaults should be a structure, found {found}"));
                d.help = Some("write defaults: (hold: \"45s\", rounds: 1)".into());
                return None;
            }
        };
        let f = self.fields(fields, &["hold", "rounds", "rest", "voice", "rate", "pitch", "volume"], "defaults");
        let mut out = Defaults::default();
        let mut ok = true;
        if let Some(n) = f.get("hold") {
            match self.duration(n, "the default hold", MAX_HOLD) {
                Some(d) => out.hold = d,
                None => ok = false,
            }
        }
        if let Some(n) = f.get("rounds") {
            self.rounds_span = Some(n.span.clone());
            match self.count(n, "rounds", 1..=MAX_TIMES) {
                Some(v) => out.rounds = v,
                None => ok = false,
            }
        }
        if let Some(n) = f.get("rest") {
            match self.duration(n, "the rest between rounds", MAX_HOLD) {
                Some(d) => out.rest = d,
                None => ok = false,
            }
        }
        ok &= self.speech_defaults(&f, &mut out);
        ok.then_some(out)
    }

    /// The defaults for speech — voice, rate, pitch, volume — read into
    /// `out`; false if any is wrong.
    fn speech_defaults(&mut self, f: &HashMap<&str, &Node>, out: &mut Defaults) -> bool {
        let mut ok = true;
        if let Some(n) = f.get("voice") {
            match self.line(n, "the voice") {
                Some(v) if !v.trim().is_empty() => out.voice = Some(v),
                Some(_) => {
                    self.error(n.span.clone(), "the voice is empty");
                    ok = false;
                }
                None => ok = false,
            }
        }
        if let Some(n) = f.get("rate") {
            match self.count(n, "the speaking rate (words per minute)", 80..=450) {
                Some(v) => out.rate = Some(v),
                None => ok = false,
            }
        }
        if let Some(n) = f.get("pitch") {
            match self.count(n, "the pitch", 0..=100) {
                Some(v) => out.pitch = Some(v),
                None => ok = false,
            }
        }
        if let Some(n) = f.get("volume") {
            match self.volume(n) {
                Some(v) => out.volume = Some(v),
                None => ok = false,
            }
        }
        ok
    }
}
