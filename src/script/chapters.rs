//! A session's chapters: where a player on a phone can jump to ("Opening",
//! "Left side — hold", …), found from the timeline alone. A pure function:
//! the encoders only write what this gives them.
//!
//! A chapter starts at the opening, the closing, each side a `Sides` step
//! works, and within a side at its first hold and its first strokes. Time
//! in a round outside any side is a chapter too: named for the point the
//! next side works when a routine works several (its introduction), else
//! for the round (the rest and the spoken marker between rounds). It ends where the next one
//! starts, the last at the end of the session. This module does not know
//! any file format.

use crate::script::timeline::{Event, Sound, Timeline};
use crate::script::{Section, Side};

/// One chapter, in samples from the start of the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chapter {
    pub start: u64,
    pub end: u64,
    pub title: String,
}

/// What part of a side a chapter covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Start,
    Hold,
    Strokes,
}

/// Where in the session an event is, as far as chapters care.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Place<'t> {
    section: Section,
    round: u32,
    point: Option<&'t str>,
    side: Option<Side>,
    phase: Phase,
}

/// The chapters of `t`, in order, none empty.
pub fn chapters(t: &Timeline) -> Vec<Chapter> {
    let mut points: Vec<&str> = t.events.iter().filter_map(|e| e.point.as_deref()).collect();
    points.dedup();
    points.sort_unstable();
    points.dedup();
    let named_points = points.len() > 1;
    let rounds = t.rounds > 1;

    let steps: Vec<&Event> = t.events.iter().filter(|e| !e.overlay && e.length > 0).collect();
    // Time in a round before a side (a spoken introduction to the next
    // point, the round's marker) goes with the point that side works:
    // each step's next point, found from the end.
    let mut next_point: Vec<Option<&str>> = vec![None; steps.len()];
    let mut ahead: Option<&str> = None;
    for i in (0..steps.len()).rev() {
        let e = steps[i];
        if between_rounds(e, &steps[..i]) {
            // The rest and the spoken marker are the round's own ("Round 2"),
            // not the introduction of the point that follows them.
            next_point[i] = None;
            continue;
        }
        if e.side.is_some() {
            ahead = e.point.as_deref();
        } else if steps.get(i + 1).is_some_and(|n| (n.section, n.round) != (e.section, e.round)) {
            ahead = None;
        }
        next_point[i] = ahead;
    }

    let mut out: Vec<Chapter> = Vec::new();
    let mut current: Option<Place> = None;
    for (i, e) in steps.iter().enumerate() {
        let phase = match e.sound {
            Sound::Hold => Phase::Hold,
            Sound::Strokes(_) => Phase::Strokes,
            _ => Phase::Start,
        };
        let point = match e.side {
            Some(_) => e.point.as_deref(),
            None if e.section == Section::Round => next_point[i],
            None => None,
        };
        let side = Place { section: e.section, round: e.round, point, side: e.side, phase: Phase::Start };
        // Phases exist only inside a side.
        let phase = if side.side.is_some() { phase } else { Phase::Start };
        if let Some(c) = &current {
            let same_side = Place { phase: Phase::Start, ..c.clone() } == side;
            // A side's cues after its hold (the bell, "ease off") stay in
            // the hold's chapter; a hold after strokes starts its own.
            if same_side && (phase == Phase::Start || phase == c.phase) {
                continue;
            }
        }
        let place = Place { phase, ..side };
        out.push(Chapter { start: e.start, end: e.start, title: title(&place, named_points, rounds) });
        current = Some(place);
    }
    // Each ends where the next starts; an empty one gives way.
    let total = t.total;
    for i in 0..out.len() {
        out[i].end = out.get(i + 1).map_or(total, |next| next.start);
    }
    out.retain(|c| c.end > c.start);
    merge_repeats(out)
}

/// At most `max` chapters, as a format can hold: when there are more, one
/// per part and round; when there are still more, the first `max`, the
/// last running to the end.
pub fn at_most(chapters: Vec<Chapter>, max: usize) -> Vec<Chapter> {
    if chapters.len() <= max {
        return chapters;
    }
    let end = chapters.last().map_or(0, |c| c.end);
    let mut coarse: Vec<Chapter> = Vec::new();
    for c in chapters {
        // "Round 2: Left side — hold" → "Round 2". Without rounds there is
        // nothing coarser (a routine of very many sides): the cut below.
        let part = match c.title.split_once(':') {
            Some((round, _)) => round.to_string(),
            None => c.title,
        };
        match coarse.last_mut() {
            Some(last) if last.title == part => last.end = c.end,
            _ => coarse.push(Chapter { title: part, ..c }),
        }
    }
    coarse.truncate(max);
    if let Some(last) = coarse.last_mut() {
        last.end = end;
    }
    coarse
}

/// Two chapters in a row with one title are one.
fn merge_repeats(chapters: Vec<Chapter>) -> Vec<Chapter> {
    let mut out: Vec<Chapter> = Vec::with_capacity(chapters.len());
    for c in chapters {
        match out.last_mut() {
            Some(last) if last.title == c.title => last.end = c.end,
            _ => out.push(c),
        }
    }
    out
}

/// Whether `e` is the rest or the spoken marker that opens a round after
/// the first (`before`: the steps before it): the first steps of such a
/// round, before any of the script's own.
fn between_rounds(e: &Event, before: &[&Event]) -> bool {
    if e.section != Section::Round || e.round < 2 || e.side.is_some() {
        return false;
    }
    let earlier_in_round = before.iter().rev().take_while(|b| b.section == e.section && b.round == e.round);
    match e.sound {
        Sound::Rest => true,
        // The marker follows the rest, if there is one, and nothing else.
        Sound::Speech(_) => earlier_in_round.into_iter().all(|b| b.sound == Sound::Rest),
        _ => false,
    }
}

fn title(place: &Place, named_points: bool, rounds: bool) -> String {
    match place.section {
        Section::Opening => return "Opening".into(),
        Section::Closing => return "Closing".into(),
        Section::Round => {}
    }
    let Some(side) = place.side else {
        // Before a side: the point it introduces, when there are several.
        return match (named_points, place.point) {
            (true, Some(point)) if rounds => format!("Round {}: {}", place.round, point_name(point)),
            (true, Some(point)) => point_name(point),
            _ => format!("Round {}", place.round),
        };
    };
    let side = match side {
        Side::Left => "left side",
        Side::Right => "right side",
    };
    let mut title = match (named_points, place.point) {
        (true, Some(point)) => format!("{}, {side}", point_name(point)),
        _ => capitalized(side),
    };
    match place.phase {
        Phase::Start => {}
        Phase::Hold => title.push_str(" — hold"),
        Phase::Strokes => title.push_str(" — strokes"),
    }
    if rounds { format!("Round {}: {title}", place.round) } else { title }
}

/// A point's name as a title: "Deep spinal" for `deep-spinal`.
fn point_name(point: &str) -> String {
    let spoken = crate::script::point_name(point).map_or_else(|| point.replace(['-', '_'], " "), str::to_string);
    capitalized(&spoken)
}

fn capitalized(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::timeline::{Lengths, Options, compile};
    use std::time::Duration;

    /// Every cue a second, every chime half a second: lengths that make
    /// the chapters' times easy to read.
    struct Even;

    impl Lengths for Even {
        fn speech(&self, _: &str) -> u64 {
            48_000
        }
        fn chime(&self, _: crate::script::Chime) -> u64 {
            24_000
        }
        fn sound(&self, _: &std::path::Path) -> u64 {
            48_000
        }
    }

    #[track_caller]
    fn check(source: &str, rounds: Option<u32>, expect: expect_test::Expect) {
        let (script, diagnostics) = crate::script::load(source, None, "test");
        let script = script.unwrap_or_else(|| panic!("{diagnostics:?}"));
        let options = Options { hold: None, rounds, rest: None };
        let t = compile(&script, &options, &Even);
        let got = chapters(&t);
        // Contiguous from the first sample to the last.
        assert_eq!(got.first().map(|c| c.start), Some(0));
        assert_eq!(got.last().map(|c| c.end), Some(t.total));
        assert!(got.windows(2).all(|w| w[0].end == w[1].start && w[0].start < w[0].end));
        let shown: String = got
            .iter()
            .map(|c| format!("{:.1}–{:.1} {}\n", c.start as f64 / 48e3, c.end as f64 / 48e3, c.title))
            .collect();
        expect.assert_eq(&shown);
    }

    const ONE_POINT: &str = r#"Routine(
        title: "T", summary: "S",
        defaults: (hold: "10s", rounds: 1),
        opening: [Say("Hello.")],
        steps: [Sides([Say("{side}"), Strokes(count: 2, every: "2s"), Say("lean"), Hold(), Chime("bell"), Say("off")])],
        closing: [Say("Done."), Chime("gong")],
    )"#;

    #[test]
    fn one_point_one_round() {
        check(
            ONE_POINT,
            None,
            expect_test::expect![[r#"
                0.0–1.0 Opening
                1.0–2.0 Left side
                2.0–7.0 Left side — strokes
                7.0–18.5 Left side — hold
                18.5–19.5 Right side
                19.5–24.5 Right side — strokes
                24.5–36.0 Right side — hold
                36.0–37.5 Closing
            "#]],
        );
    }

    #[test]
    fn rounds_are_named_and_a_round_marker_is_its_own_chapter() {
        check(
            r#"Routine(
                title: "T", summary: "S",
                defaults: (hold: "5s", rounds: 2),
                opening: [Say("Hello.")],
                steps: [Sides([Say("{side}"), Hold()])],
                closing: [Say("Done.")],
            )"#,
            None,
            expect_test::expect![[r#"
                0.0–1.0 Opening
                1.0–2.0 Round 1: Left side
                2.0–7.0 Round 1: Left side — hold
                7.0–8.0 Round 1: Right side
                8.0–13.0 Round 1: Right side — hold
                13.0–14.0 Round 2
                14.0–15.0 Round 2: Left side
                15.0–20.0 Round 2: Left side — hold
                20.0–21.0 Round 2: Right side
                21.0–26.0 Round 2: Right side — hold
                26.0–27.0 Closing
            "#]],
        );
    }

    #[test]
    fn several_points_are_named() {
        check(
            r#"Routine(
                title: "T", summary: "S",
                defaults: (hold: "5s", rounds: 1),
                steps: [
                    Say("First the spine."),
                    Sides(point: "deep-spinal", steps: [Say("{side}"), Hold()]),
                    Sides(point: "gluteus-medius", steps: [Say("{side}"), Strokes(count: 2, every: "1s")]),
                ],
            )"#,
            None,
            expect_test::expect![[r#"
                0.0–1.0 Deep spinal
                1.0–2.0 Deep spinal, left side
                2.0–7.0 Deep spinal, left side — hold
                7.0–8.0 Deep spinal, right side
                8.0–13.0 Deep spinal, right side — hold
                13.0–14.0 Gluteus medius, left side
                14.0–16.0 Gluteus medius, left side — strokes
                16.0–17.0 Gluteus medius, right side
                17.0–19.0 Gluteus medius, right side — strokes
            "#]],
        );
    }

    #[test]
    fn too_many_chapters_become_one_a_round_then_are_cut() {
        let (script, _) = crate::script::load(ONE_POINT, None, "test");
        let options = Options { hold: None, rounds: Some(40), rest: None };
        let t = compile(&script.unwrap(), &options, &Even);
        let all = chapters(&t);
        assert_eq!(all.len(), 1 + 40 * 6 + 39 + 1);
        let coarse = at_most(all.clone(), 100);
        assert_eq!(coarse.len(), 42);
        assert_eq!(coarse[1].title, "Round 1");
        assert_eq!((coarse[1].start, coarse[2].start), (all[1].start, all[7].start));
        let cut = at_most(all, 10);
        assert_eq!(cut.len(), 10);
        assert_eq!(cut[9].end, t.total);
    }

    #[test]
    fn the_built_in_routines_have_a_chapter_per_side() {
        let (_, source) = crate::library::BUILTINS.iter().find(|(n, _)| *n == "full-back").unwrap();
        let full = crate::library::load_builtin("full-back", source).script.unwrap();
        let t = compile(&full, &Options { hold: None, rounds: None, rest: None }, &Even);
        let titles: Vec<String> = chapters(&t).into_iter().map(|c| c.title).collect();
        assert_eq!(titles.first().map(String::as_str), Some("Opening"));
        assert_eq!(titles.last().map(String::as_str), Some("Closing"));
        for point in ["Deep spinal", "Gluteus medius", "Quadratus lumborum"] {
            for side in ["left side", "right side"] {
                assert!(titles.contains(&format!("{point}, {side}")), "{point}, {side}: {titles:?}");
            }
        }
        assert!(titles.contains(&"Quadratus lumborum, right side — hold".to_string()), "{titles:?}");
        // Between points, the next point's introduction is that point's.
        assert!(!titles.iter().any(|t| t.starts_with("Round")), "{titles:?}");
        assert!(titles.contains(&"Gluteus medius".to_string()), "{titles:?}");
        // The second round's marker opens its first point's chapter.
        let two = compile(&full, &Options { hold: None, rounds: Some(2), rest: None }, &Even);
        let titles: Vec<String> = chapters(&two).into_iter().map(|c| c.title).collect();
        assert!(titles.contains(&"Round 2: Deep spinal".to_string()), "{titles:?}");
        assert!(titles.contains(&"Round 2: Gluteus medius, left side — strokes".to_string()), "{titles:?}");
        // The marker between rounds (and a rest) is a chapter of its own, as
        // with one point: "Round 2", then the point it leads into.
        let at = titles.iter().position(|t| t == "Round 2").unwrap_or_else(|| panic!("no Round 2: {titles:?}"));
        assert_eq!(titles[at + 1], "Round 2: Deep spinal", "{titles:?}");
        let rested =
            compile(&full, &Options { hold: None, rounds: Some(2), rest: Some(Duration::from_secs(5)) }, &Even);
        let marked: Vec<Chapter> = chapters(&rested).into_iter().filter(|c| c.title == "Round 2").collect();
        assert_eq!(marked.len(), 1, "{marked:?}");
        assert_eq!(marked[0].end - marked[0].start, 6 * 48_000, "the rest and the marker: {marked:?}");
    }
}
