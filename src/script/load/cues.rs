//! What a step says and when: Hold (its length, halfway, countdown and
//! timed cues), Wait (its text and reminders), and cue text with its
//! `{variables}`. The other steps are read in `steps`.

use std::ops::Range;
use std::time::Duration;

use super::{Body, Ctx, Lower};
use crate::script::diagnostic::did_you_mean;
use crate::script::duration;
use crate::script::syntax::{self, Ident, Node, Value};
use crate::script::{
    BREATH, Hold, HoldCue, MAX_HOLD, Part, Side, Text, Var, Vars, WORDS_PER_MINUTE, Wait, speech_estimate,
};

impl<'a> Lower<'a> {
    pub(super) fn hold(&mut self, name: &Ident, body: &Body, ctx: Ctx) -> Option<Hold> {
        let fields = self.named_fields(name, body, "Hold(length: \"40s\", countdown: 5)")?;
        let f = self.fields(fields, &["length", "cues", "halfway", "countdown"], "Hold");
        let mut ok = true;
        let length = match f.get("length") {
            Some(n) => {
                let d = self.duration(n, "a hold", MAX_HOLD);
                ok &= d.is_some();
                d
            }
            None => None,
        };
        // Cues are checked against the hold as written; a shorter `--hold`
        // is handled when the timeline is built.
        let effective = length.unwrap_or(ctx.default_hold);
        let halfway = match f.get("halfway") {
            Some(n) => {
                let t = self.text(n, ctx);
                ok &= t.is_some();
                t
            }
            None => None,
        };
        let countdown = match f.get("countdown") {
            Some(n) => {
                let c = self.countdown(n, effective);
                ok &= c.is_some();
                c.unwrap_or(0)
            }
            None => 0,
        };
        let mut cues = Vec::new();
        if let Some(n) = f.get("cues") {
            match &n.value {
                Value::List(items) => {
                    for item in items {
                        match self.hold_cue(item, ctx, effective) {
                            Some(c) => cues.push(c),
                            None => ok = false,
                        }
                    }
                }
                Value::Error => ok = false,
                other => {
                    let found = other.describe();
                    let d = self.error(n.span.clone(), format!("cues should be a list, found {found}"));
                    d.help = Some("write cues: [At(\"15s\", \"Breathe out\")]".into());
                    ok = false;
                }
            }
        }
        cues.sort_by_key(|c| c.at);
        ok.then_some(Hold { length, cues, halfway, countdown })
    }

    /// A hold's countdown: up to 60 seconds counted down to its end, which
    /// must fit in the hold.
    fn countdown(&mut self, node: &Node, hold: Duration) -> Option<u32> {
        let c = self.count(node, "the countdown", 0..=60)?;
        if Duration::from_secs(c.into()) >= hold {
            self.error(
                node.span.clone(),
                format!("a countdown of {c} does not fit in a hold of {}", duration::spoken(hold)),
            );
            return None;
        }
        Some(c)
    }

    /// `Wait("text")`, or `Wait(text: "…", remind: "20s", timeout: "2m")`.
    pub(super) fn wait(&mut self, name: &Ident, body: &Body, ctx: Ctx) -> Option<Wait> {
        let example = "Wait(text: \"Press space when the ball is on the spot.\", remind: \"20s\", timeout: \"2m\")";
        if let Body::Items(_) = body {
            let arg = self.one_arg(name, body, "the text to speak", example)?;
            return Some(Wait { text: self.text(arg, ctx)?, remind: None, timeout: None });
        }
        let fields = self.named_fields(name, body, example)?;
        let f = self.fields(fields, &["text", "remind", "timeout"], "Wait");
        let text = match f.get("text") {
            Some(n) => self.text(n, ctx),
            None => {
                self.missing(name.span.clone(), "text", "Wait", "text: \"Press space when ready.\"");
                None
            }
        };
        let mut ok = true;
        let mut time = |field: &str, what: &str| match f.get(field) {
            Some(n) => {
                let d = self.duration(n, what, MAX_HOLD);
                ok &= d.is_some();
                d
            }
            None => None,
        };
        let remind = time("remind", "the time between reminders");
        let timeout = time("timeout", "a wait's timeout");
        if let (Some(r), Some(t), Some(n)) = (remind, timeout, f.get("remind"))
            && r >= t
        {
            let message =
                format!("a reminder every {} never comes in a wait of {}", duration::short(r), duration::short(t));
            self.error(n.span.clone(), message).help = Some("make the reminder shorter than the timeout".into());
            ok = false;
        }
        let text = text?;
        if let (Some(r), Some(n)) = (remind, f.get("remind")) {
            ok &= self.remind_after_text(r, &text, n, ctx);
        }
        ok.then_some(Wait { text, remind, timeout })
    }

    /// A reminder comes no sooner than its text takes to say, plus a
    /// [`BREATH`]: sooner, the copies of the sentence would pile up and be
    /// heard at once. The length is the estimate's, with the variables at
    /// the routine's defaults.
    fn remind_after_text(&mut self, remind: Duration, text: &Text, node: &Node, ctx: Ctx) -> bool {
        let side = ctx.in_sides.then_some(Side::Left);
        let words = text.fill(&Vars { side, round: 1, rounds: 1, hold: ctx.default_hold });
        let talk = speech_estimate(&words, WORDS_PER_MINUTE);
        let least = talk + BREATH;
        if remind >= least {
            return true;
        }
        let message = format!(
            "a reminder every {} comes before its text is said: it takes about {} to say, so a reminder needs at least {}",
            duration::short(remind),
            duration::short(talk),
            duration::short(least)
        );
        let whole = Duration::from_secs(least.as_secs() + u64::from(least.subsec_nanos() > 0));
        self.error(node.span.clone(), message).help =
            Some(format!("remind every {} or more: the text's length and a breath", duration::short(whole)));
        false
    }

    fn hold_cue(&mut self, node: &Node, ctx: Ctx, hold: Duration) -> Option<HoldCue> {
        let example = "At(\"15s\", \"Breathe out\")";
        match &node.value {
            Value::Tuple(Some(name), items) if name.name == "At" => {
                let [at, text] = items.as_slice() else {
                    let d = self.error(node.span.clone(), "At takes a time and the text to say");
                    d.help = Some(format!("write {example}"));
                    return None;
                };
                let at_d = self.duration(at, "a cue time", MAX_HOLD);
                let text = self.text(text, ctx);
                let at_d = at_d?;
                if at_d >= hold {
                    let d = self.error(
                        at.span.clone(),
                        format!(
                            "this cue at {} is past the end of the hold ({})",
                            duration::short(at_d),
                            duration::spoken(hold)
                        ),
                    );
                    d.help = Some("move it earlier or make the hold longer".into());
                    return None;
                }
                Some(HoldCue { at: at_d, text: text?, span: node.span.clone() })
            }
            Value::Error => None,
            Value::Tuple(Some(name), _) | Value::Struct(Some(name), _) | Value::Unit(name) => {
                let d = self.error(name.span.clone(), format!("a hold cue is written At(…), not `{}`", name.name));
                d.help = Some(format!("write {example}"));
                None
            }
            other => {
                let found = other.describe();
                let d = self.error(node.span.clone(), format!("expected a hold cue, found {found}"));
                d.help = Some(format!("write {example}"));
                None
            }
        }
    }

    /// Reads cue text and its `{variables}`.
    pub(super) fn text(&mut self, node: &Node, ctx: Ctx) -> Option<Text> {
        let raw = self.string(node, "cue text")?;
        if raw.trim().is_empty() {
            self.error(node.span.clone(), "empty cue text");
            return None;
        }
        if let Some(c) = raw.chars().find(|&c| c.is_control() && !matches!(c, '\n' | '\t' | '\r')) {
            let message = format!("cue text has a control character (U+{:04X})", c as u32);
            self.error(node.span.clone(), message).help = Some("cue text is words to speak".into());
            return None;
        }
        // Most cue text is plain words: keep the string as it is.
        if !raw.contains(['{', '}']) {
            return Some(Text { parts: vec![Part::Lit(raw)] });
        }
        self.text_parts(&raw, node, ctx)
    }

    /// Cue text with braces in it, cut into words and `{variables}`; `{{`
    /// and `}}` are literal braces.
    fn text_parts(&mut self, raw: &str, node: &Node, ctx: Ctx) -> Option<Text> {
        let mut parts = Vec::new();
        let mut lit = String::new();
        let mut ok = true;
        let mut places = syntax::Places::new(self.source, node.span.clone());
        let mut rest = raw;
        while let Some(i) = rest.find(['{', '}']) {
            if self.gave_up {
                return None;
            }
            lit.push_str(&rest[..i]);
            let tail = &rest[i..];
            // Where `tail` starts in the decoded text: each mistake is
            // reported at its own place, even the same mistake twice.
            let at = raw.len() - tail.len();
            if tail.starts_with("{{") || tail.starts_with("}}") {
                lit.push(tail.as_bytes()[0] as char);
                rest = &tail[2..];
                continue;
            }
            if let Some(after) = tail.strip_prefix('}') {
                let d = self.error(places.span(at..at + 1), "unmatched `}` in cue text");
                d.help = Some("write `}}` for a literal brace".into());
                ok = false;
                rest = after;
                continue;
            }
            let Some(close) = tail.find('}') else {
                let d = self.error(places.span(at..raw.len()), "unclosed `{` in cue text");
                d.help = Some("variables are written {side}; write `{{` for a literal brace".into());
                ok = false;
                rest = "";
                break;
            };
            let var_name = &tail[1..close];
            let whole = &tail[..=close];
            let span = places.span(at..at + whole.len());
            match Var::ALL.iter().find(|(n, _)| *n == var_name) {
                Some(&(_, var)) => {
                    if matches!(var, Var::Side | Var::OtherSide) && !ctx.in_sides {
                        let d = self.error(span, format!("{whole} is only known inside Sides(…)"));
                        d.help = Some("wrap these steps in Sides([ … ]) to do them on each side".into());
                        ok = false;
                    }
                    if !lit.is_empty() {
                        parts.push(Part::Lit(std::mem::take(&mut lit)));
                    }
                    parts.push(Part::Var(var));
                }
                None => {
                    self.unknown_variable(span, var_name, whole);
                    ok = false;
                }
            }
            rest = &tail[close + 1..];
        }
        lit.push_str(rest);
        if !lit.is_empty() {
            parts.push(Part::Lit(lit));
        }
        parts.shrink_to_fit();
        ok.then_some(Text { parts })
    }

    /// Reports a `{name}` that is no variable, suggesting the nearest.
    fn unknown_variable(&mut self, span: Range<usize>, var_name: &str, whole: &str) {
        let names: Vec<&str> = Var::ALL.iter().map(|(n, _)| *n).collect();
        let d = self.error(span, format!("undefined variable {whole}"));
        d.help = Some(match did_you_mean(var_name, names.iter().copied()) {
            Some(s) => format!("did you mean {{{s}}}?"),
            None => {
                format!("the variables are {}", names.iter().map(|n| format!("{{{n}}}")).collect::<Vec<_>>().join(", "))
            }
        });
    }
}
