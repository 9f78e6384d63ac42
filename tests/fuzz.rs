//! Random and mutated scripts fed to the loader: it must never panic, and
//! every diagnostic must point inside the text.

use proptest::prelude::*;

use backease::library::BUILTINS;
use backease::script::load;
use backease::script::timeline::{Estimate, Options, compile};

fn load_all(text: &str) {
    let (script, diags) = load(text, None, "fuzz");
    for d in &diags {
        assert!(d.span.start <= text.len(), "span {:?} outside {} bytes", d.span, text.len());
        assert!(!d.message.is_empty());
    }
    if let Some(script) = script {
        assert!(diags.iter().all(|d| !d.is_error()));
        let t = compile(&script, &Options::default(), &Estimate::default());
        let _ = backease::script::diagnostic::render("f", text, &t.diagnostics);
    }
    let _ = backease::script::diagnostic::render("f", text, &diags);
}

/// A built-in script with a few bytes changed, removed or inserted.
fn mutated() -> impl Strategy<Value = String> {
    let edits = prop::collection::vec((any::<prop::sample::Index>(), 0u8..3, any::<char>()), 1..6);
    (0..BUILTINS.len(), edits).prop_map(|(which, edits)| {
        let mut chars: Vec<char> = BUILTINS[which].1.chars().collect();
        for (at, op, ch) in edits {
            let i = at.index(chars.len().max(1));
            match op {
                0 if !chars.is_empty() => {
                    chars.remove(i.min(chars.len() - 1));
                }
                1 => chars.insert(i.min(chars.len()), ch),
                _ if !chars.is_empty() => {
                    let last = chars.len() - 1;
                    chars[i.min(last)] = ch;
                }
                _ => {}
            }
        }
        chars.into_iter().collect()
    })
}

/// Text made of the pieces scripts are made of, in random order.
fn token_soup() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "Routine(",
        "steps:",
        "[",
        "]",
        "(",
        ")",
        ",",
        ":",
        "Say(\"a {side}\")",
        "Hold",
        "Sides([",
        "Repeat(times: 3, steps: [",
        "\"30s\"",
        "-",
        "1e9",
        "r#\"x\"#",
        "//c\n",
        "/*",
        "*/",
        "{",
        "}",
        "\"\\u{",
        "Strokes(count: 999, every: \"1ms\")",
        "title: \"t\"",
        "summary: \"s\"",
        "At(\"1s\", \"x\")",
    ]);
    prop::collection::vec(pieces, 0..60).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn mutated_builtins_never_panic(text in mutated()) {
        load_all(&text);
    }

    #[test]
    fn token_soup_never_panics(text in token_soup()) {
        load_all(&text);
    }

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,400}") {
        load_all(&text);
    }
}

#[test]
fn our_reader_agrees_with_the_ron_crate_on_the_builtins() {
    // Every built-in is valid RON by the reference implementation too.
    for (name, text) in BUILTINS {
        let parsed: Result<ron::Value, _> = ron::from_str(text);
        assert!(parsed.is_ok(), "{name}: {parsed:?}");
    }
}

#[test]
fn large_inputs_finish() {
    // A megabyte of nested-looking junk and a long flat list both load
    // (with errors) rather than hanging or overflowing the stack.
    load_all(&"Repeat(times: 2, steps: [".repeat(40_000));
    load_all(&format!("Routine(title: \"t\", summary: \"s\", steps: [{}])", "Pause(\"1ms\"),".repeat(80_000)));
}
