//! The steps: a list of them, each step's kind, and the steps built of
//! others (Sides, Repeat) or of marks (Strokes), with the points, marks
//! and sound files they name. Hold and Wait, and the cue text every
//! step speaks, are read in `cues`.

use std::path::PathBuf;
use std::time::Duration;

use super::{Body, Ctx, Lower, list_words};
use crate::script::diagnostic::{Diagnostic, did_you_mean};
use crate::script::syntax::{Ident, Node, Value};
use crate::script::{MAX_NESTING, MAX_STEP, MAX_TIMES, Mark, POINTS, Step, StepKind, Strokes, point_name};

const STEP_KINDS: [&str; 9] = ["Say", "Pause", "Chime", "Sound", "Hold", "Repeat", "Sides", "Strokes", "Wait"];

impl<'a> Lower<'a> {
    pub(super) fn steps(&mut self, node: &Node, ctx: Ctx) -> Option<Vec<Step>> {
        let Value::List(items) = &node.value else {
            if !matches!(node.value, Value::Error) {
                let found = node.value.describe();
                let d = self.error(node.span.clone(), format!("steps should be a list in [ ], found {found}"));
                d.help = Some("write steps: [Say(\"…\"), Hold]".into());
            }
            return None;
        };
        if ctx.depth > MAX_NESTING {
            self.error(node.span.start..node.span.start + 1, format!("steps nest more than {MAX_NESTING} deep"));
            return None;
        }
        let mut out = Vec::with_capacity(items.len());
        let mut ok = true;
        for item in items {
            if self.gave_up {
                return None;
            }
            match self.step(item, ctx) {
                Some(step) => out.push(step),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn step(&mut self, node: &Node, ctx: Ctx) -> Option<Step> {
        let (name, body) = self.step_head(node)?;
        let mut point = None;
        let kind = match name.name.as_str() {
            "Say" => {
                let arg = self.one_arg(name, &body, "the text to speak", "Say(\"Lean back into the ball\")")?;
                StepKind::Say(self.text(arg, ctx)?)
            }
            "Pause" => {
                let arg = self.one_arg(name, &body, "a duration", "Pause(\"3s\")")?;
                StepKind::Pause(self.duration(arg, "a pause", MAX_STEP)?)
            }
            "Chime" => {
                let arg = self.one_arg(name, &body, "a chime name", "Chime(\"bell\")")?;
                StepKind::Chime(self.chime(arg)?)
            }
            "Sound" => {
                let arg = self.one_arg(name, &body, "a file path", "Sound(\"sounds/rain.ogg\")")?;
                StepKind::Sound(self.sound(arg)?)
            }
            "Sides" => {
                let (sides_point, steps) = self.sides(name, &body, ctx)?;
                point = sides_point;
                StepKind::Sides(steps)
            }
            "Hold" => StepKind::Hold(Box::new(self.hold(name, &body, ctx)?)),
            "Wait" => StepKind::Wait(Box::new(self.wait(name, &body, ctx)?)),
            "Repeat" => self.repeat(name, &body, ctx)?,
            "Strokes" => StepKind::Strokes(self.strokes(name, &body)?),
            _ => {
                self.unknown_step(name);
                return None;
            }
        };
        Some(Step { kind, span: node.span.clone(), point })
    }

    /// A step's kind and what follows it, or an error for a value that is
    /// no step at all (a bare string, a number, a list).
    fn step_head<'n>(&mut self, node: &'n Node) -> Option<(&'n Ident, Body<'n>)> {
        match &node.value {
            Value::Tuple(Some(name), items) => Some((name, Body::Items(items))),
            Value::Struct(Some(name), fields) => Some((name, Body::Fields(fields))),
            Value::Unit(name) => Some((name, Body::Items(&[]))),
            Value::Error => None,
            Value::Str(_) => {
                let d = self.error(node.span.clone(), "a step needs a kind");
                d.help = Some("to speak this text, write Say(\"…\")".into());
                None
            }
            other => {
                let found = other.describe();
                let d = self.error(node.span.clone(), format!("expected a step, found {found}"));
                d.help = Some(format!("steps are {}", list_words(&STEP_KINDS)));
                None
            }
        }
    }

    /// Reports a step kind that does not exist, suggesting the nearest.
    fn unknown_step(&mut self, name: &Ident) {
        let other = name.name.as_str();
        let d = self.error(name.span.clone(), format!("unknown step `{other}`"));
        d.help = Some(match did_you_mean(other, STEP_KINDS) {
            Some(s) => format!("did you mean `{s}`?"),
            None => format!("steps are {}", list_words(&STEP_KINDS)),
        });
    }

    /// `Sides([ … ])` or `Sides(point: "…", steps: [ … ])`: its point, if
    /// named, and the steps done on each side.
    fn sides(&mut self, name: &Ident, body: &Body, ctx: Ctx) -> Option<(Option<std::sync::Arc<str>>, Vec<Step>)> {
        let (point, arg) = self.sides_args(name, body)?;
        if ctx.in_sides && !self.gave_up {
            // Legal, but each side's steps then play on both sides
            // again: four passes, and {side} means the inner one.
            self.diags.push(
                Diagnostic::warning(
                    name.span.clone(),
                    "Sides inside Sides plays these steps four times: left and right, on each side",
                )
                .with_help("remove the inner Sides([ … ]) and keep its steps"),
            );
        }
        let inner = Ctx { depth: ctx.depth + 1, in_sides: true, ..ctx };
        let steps = self.steps(arg, inner)?;
        if steps.is_empty() {
            self.error(arg.span.clone(), "Sides has no steps");
            return None;
        }
        Some((point, steps))
    }

    /// The point (checked) and the steps node of a `Sides`, written either way.
    fn sides_args<'n>(&mut self, name: &Ident, body: &Body<'n>) -> Option<(Option<std::sync::Arc<str>>, &'n Node)> {
        let Body::Fields(fields) = body else {
            let example = "Sides([Say(\"Ball on the {side}\"), Hold])";
            return Some((None, self.one_arg(name, body, "a list of steps", example)?));
        };
        let f = self.fields(fields, &["point", "steps"], "Sides");
        let mut point = None;
        if let Some(n) = f.get("point") {
            point = Some(self.point(n)?);
        }
        let Some(arg) = f.get("steps").copied() else {
            self.missing(name.span.clone(), "steps", "Sides", "steps: [Say(\"…\"), Hold]");
            return None;
        };
        Some((point, arg))
    }

    /// `Repeat(times: 2, steps: [ … ])`: both fields are checked before
    /// either is given up on, so both mistakes are reported.
    fn repeat(&mut self, name: &Ident, body: &Body, ctx: Ctx) -> Option<StepKind> {
        let fields = self.named_fields(name, body, "Repeat(times: 2, steps: [ … ])")?;
        let f = self.fields(fields, &["times", "steps"], "Repeat");
        let open = name.span.clone();
        let times = match f.get("times") {
            Some(n) => self.count(n, "times", 1..=MAX_TIMES),
            None => {
                self.missing(open.clone(), "times", "Repeat", "times: 2");
                None
            }
        };
        let steps = match f.get("steps") {
            Some(n) => match self.steps(n, Ctx { depth: ctx.depth + 1, ..ctx }) {
                Some(steps) if steps.is_empty() => {
                    self.error(n.span.clone(), "Repeat has no steps").help =
                        Some("give it steps to repeat, or remove it".into());
                    None
                }
                steps => steps,
            },
            None => {
                self.missing(open, "steps", "Repeat", "steps: [ … ]");
                None
            }
        };
        Some(StepKind::Repeat { times: times?, steps: steps? })
    }

    /// `Strokes(count: 8, every: "3s", mark: Count)`; the mark is a tick
    /// unless named.
    fn strokes(&mut self, name: &Ident, body: &Body) -> Option<Strokes> {
        let fields = self.named_fields(name, body, "Strokes(count: 8, every: \"3s\")")?;
        let f = self.fields(fields, &["count", "every", "mark"], "Strokes");
        let open = name.span.clone();
        let count = match f.get("count") {
            Some(n) => self.count(n, "the number of strokes", 1..=MAX_TIMES),
            None => {
                self.missing(open.clone(), "count", "Strokes", "count: 8");
                None
            }
        };
        let every = match f.get("every") {
            Some(n) => self.duration(n, "the time per stroke", Duration::from_secs(60)),
            None => {
                self.missing(open, "every", "Strokes", "every: \"3s\"");
                None
            }
        };
        let mark = match f.get("mark") {
            Some(n) => self.mark(n),
            None => Some(Mark::Tick),
        };
        Some(Strokes { count: count?, every: every?, mark: mark? })
    }

    /// The trigger point of `Sides(point: …)`: one of the built-in points' ids.
    fn point(&mut self, node: &Node) -> Option<std::sync::Arc<str>> {
        let id = self.string(node, "the point")?;
        if point_name(&id).is_some() {
            return Some(id.into());
        }
        let ids = POINTS.map(|(id, _)| id);
        let d = self.error(node.span.clone(), format!("unknown point \"{id}\""));
        d.help = Some(match did_you_mean(&id, ids.iter().copied()) {
            Some(s) => format!("did you mean \"{s}\"?"),
            None => format!("the points are {}", ids.map(|i| format!("\"{i}\"")).join(", ")),
        });
        None
    }

    fn mark(&mut self, node: &Node) -> Option<Mark> {
        match &node.value {
            Value::Unit(id) if id.name == "Tick" => Some(Mark::Tick),
            Value::Unit(id) if id.name == "Count" => Some(Mark::Count),
            Value::Error => None,
            _ => {
                let d = self.error(node.span.clone(), "the mark is `Tick` or `Count`");
                d.help = Some("Tick plays the tick chime; Count says the stroke number".into());
                None
            }
        }
    }

    fn sound(&mut self, node: &Node) -> Option<PathBuf> {
        let raw = self.string(node, "the sound file")?;
        if raw.trim().is_empty() {
            self.error(node.span.clone(), "the sound file path is empty");
            return None;
        }
        let path = match self.base_dir {
            Some(dir) => dir.join(&raw),
            None => PathBuf::from(&raw),
        };
        match std::fs::metadata(&path) {
            Ok(meta) if meta.is_file() => {}
            Ok(_) => {
                let d = self.error(node.span.clone(), format!("{} is not a sound file", path.display()));
                d.help = Some("name a file: a folder, pipe or device cannot be played".into());
                return None;
            }
            Err(_) => {
                let d = self.error(node.span.clone(), format!("sound file not found: {}", path.display()));
                d.help = Some("paths are relative to the script's own folder".into());
                return None;
            }
        }
        self.sounds.push((path.clone(), node.span.clone()));
        Some(path)
    }
}
