//! The house rules, checked on the source itself: each folder of `src/` is
//! a layer, and a layer imports only its own and those below it. Bottom
//! up: `script/` (the pure core), the root files, `audio/`, `speech/`,
//! `session/`, `play/`, `day/`, `cli/`; `lib.rs` and `main.rs` sit above
//! them all. The rule of each is written at the top of its `mod.rs`.

use std::path::{Path, PathBuf};

/// The layers, bottom up, by the first name of a `crate::` path.
const LAYERS: &[(&str, u8)] = &[
    ("script", 0),
    ("config", 1),
    ("error", 1),
    ("fsutil", 1),
    ("library", 1),
    ("signals", 1),
    ("threads", 1),
    ("trace", 1),
    ("ui", 1),
    ("audio", 2),
    ("speech", 3),
    ("session", 4),
    ("play", 5),
    ("day", 6),
    ("cli", 7),
];

fn layer_of(name: &str) -> Option<u8> {
    LAYERS.iter().find(|(n, _)| *n == name).map(|(_, l)| *l)
}

/// The layer a file of `src/` is in (`None` for `lib.rs` and `main.rs`).
fn file_layer(rel: &Path) -> Option<u8> {
    let mut parts = rel.iter().map(|p| p.to_str().unwrap());
    let first = parts.next()?;
    match (first, parts.next()) {
        ("lib.rs" | "main.rs", None) => None,
        (_, None) => Some(1),
        (folder, Some(_)) => {
            Some(layer_of(folder).unwrap_or_else(|| panic!("{folder}/ is no layer: add it to LAYERS")))
        }
    }
}

/// The first names of the `crate::` paths in a file's production code
/// (before its tests), comments left out; a group `crate::{a::x, b}`
/// gives `a` and `b`.
fn crate_names(source: &str) -> Vec<String> {
    let code = source.split("#[cfg(test)]").next().unwrap_or("");
    let code: String = code.lines().map(|l| l.split("//").next().unwrap_or("")).collect::<Vec<_>>().join("\n");
    let mut names = Vec::new();
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0;
            let end = group.find(|c| {
                depth += i32::from(c == '{') - i32::from(c == '}');
                depth < 0
            });
            let group = &group[..end.unwrap_or(group.len())];
            let mut depth = 0;
            for item in group.split(|c| {
                depth += i32::from(c == '{') - i32::from(c == '}');
                c == ',' && depth == 0
            }) {
                names.extend(first_name(item.trim()));
            }
        } else {
            names.extend(first_name(rest));
        }
    }
    names
}

fn first_name(path: &str) -> Option<String> {
    let name: String = path.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
    (!name.is_empty()).then_some(name)
}

/// What a file at `rel` with `source` imports from above its layer.
fn upward(rel: &Path, source: &str) -> Vec<String> {
    let Some(mine) = file_layer(rel) else { return Vec::new() };
    crate_names(source)
        .into_iter()
        .filter(|n| layer_of(n).is_some_and(|l| l > mine))
        .map(|n| format!("{} imports crate::{n}", rel.display()))
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_layer_imports_only_its_own_and_those_below() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(files.len() > 40, "{} files", files.len());
    let mut wrong = Vec::new();
    for file in &files {
        let rel = file.strip_prefix(&src).unwrap();
        wrong.extend(upward(rel, &std::fs::read_to_string(file).unwrap()));
    }
    assert!(wrong.is_empty(), "imports that go up a layer:\n{}", wrong.join("\n"));
}

#[test]
fn every_folder_says_its_rule() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for (folder, _) in LAYERS.iter().filter(|(n, _)| src.join(n).is_dir()) {
        let head = std::fs::read_to_string(src.join(folder).join("mod.rs")).unwrap();
        let doc: String = head.lines().take_while(|l| l.starts_with("//!")).collect::<Vec<_>>().join("\n");
        assert!(doc.contains("rule"), "src/{folder}/mod.rs does not say its rule in its opening comment");
    }
}

#[test]
fn the_checker_sees_what_goes_up() {
    #[track_caller]
    fn check(file: &str, source: &str, expect: &[&str]) {
        assert_eq!(upward(Path::new(file), source), expect.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    }
    check(
        "script/timeline.rs",
        "use crate::script::Chime;\nuse crate::error::Failure;",
        &["script/timeline.rs imports crate::error"],
    );
    check(
        "audio/sound.rs",
        "use crate::{error::Failure, session::{Clips, Segment}};",
        &["audio/sound.rs imports crate::session"],
    );
    check("fsutil.rs", "fn f() { crate::play::part::create_part(p) }", &["fsutil.rs imports crate::play"]);
    check("play/player.rs", "use crate::session::Stream; // crate::cli::x in a comment", &[]);
    check("session/mod.rs", "fn a() {}\n#[cfg(test)]\nmod tests { use crate::play::player::Player; }", &[]);
    check("lib.rs", "use crate::cli::commands;", &[]);
    check("cli/commands.rs", "use crate::{day::practice, play::player};", &[]);
}
