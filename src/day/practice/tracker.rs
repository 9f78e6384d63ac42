//! The `Tracker`: follows a session's steps as they play and says when a
//! point and side is done (its hold ran out) or cut short (skipped,
//! stopped, the session ended inside it). Pure: fed the player's events
//! and the skips; it writes nothing (the recorder does).

use std::sync::Arc;

use crate::script::Side;
use crate::script::timeline::{Event, Sound};

/// A point and side done or cut short.
#[derive(Debug, Clone, PartialEq)]
pub struct Worked {
    pub point: String,
    pub side: Option<Side>,
    pub round: u32,
    /// The hold ran out (`true`), or the side was cut short.
    pub done: bool,
}

/// Follows a session's steps as they play and says when a point and side
/// is done or cut short. Pure: fed the player's events and the skips.
#[derive(Debug, Default)]
pub struct Tracker {
    unit: Option<Unit>,
    /// The points with a side done, in the order first done.
    pub done_points: Vec<String>,
}

#[derive(Debug)]
struct Unit {
    segment: u32,
    round: u32,
    point: Arc<str>,
    side: Option<Side>,
    /// Where the hold (or the strokes) ends, once it has begun.
    work_end: Option<u64>,
    /// Skipped or gone back since the hold began (or since the side began,
    /// before its hold).
    moved: bool,
    recorded: bool,
}

impl Tracker {
    /// A step began in segment `segment`.
    pub fn step(&mut self, segment: u32, event: &Event) -> Vec<Worked> {
        let mut out = Vec::new();
        if event.overlay {
            return out;
        }
        // The hold ran out: this step starts where it ends, or later.
        if let Some(u) = self.unit.as_mut()
            && !u.recorded
            && u.segment == segment
            && u.work_end.is_some_and(|end| event.start >= end)
        {
            u.recorded = true;
            let w = Worked { point: u.point.to_string(), side: u.side, round: u.round, done: !u.moved };
            out.push(w);
        }
        let same = self.unit.as_ref().is_some_and(|u| {
            u.segment == segment
                && u.round == event.round
                && u.side == event.side
                && event.point.as_deref() == Some(&*u.point)
        });
        if !same {
            out.extend(self.close(false));
            if let Some(point) = &event.point {
                self.unit = Some(Unit {
                    segment,
                    round: event.round,
                    point: point.clone(),
                    side: event.side,
                    work_end: None,
                    moved: false,
                    recorded: false,
                });
            }
        }
        if let Some(u) = self.unit.as_mut()
            && matches!(event.sound, Sound::Hold | Sound::Strokes(_))
        {
            u.work_end = Some(event.end());
            u.moved = false;
        }
        for w in &out {
            if w.done && !self.done_points.contains(&w.point) {
                self.done_points.push(w.point.clone());
            }
        }
        out
    }

    /// The person skipped on or went back.
    pub fn moved(&mut self) {
        if let Some(u) = self.unit.as_mut() {
            u.moved = true;
        }
    }

    /// The session ended: played through, or stopped.
    pub fn finished(&mut self, stopped: bool) -> Vec<Worked> {
        let out = self.close(stopped);
        for w in &out {
            if w.done && !self.done_points.contains(&w.point) {
                self.done_points.push(w.point.clone());
            }
        }
        out
    }

    /// Ends the side playing: done only if its hold (or strokes) began and
    /// the session went on past it unskipped; a side whose hold never
    /// played is cut short, never done.
    fn close(&mut self, stopped: bool) -> Vec<Worked> {
        match self.unit.take() {
            Some(u) if !u.recorded => {
                let done = !stopped && !u.moved && u.work_end.is_some();
                vec![Worked { point: u.point.to_string(), side: u.side, round: u.round, done }]
            }
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::POINTS;

    fn builtin(name: &str) -> crate::script::Script {
        let (_, source) = crate::library::BUILTINS.iter().find(|(n, _)| *n == name).unwrap();
        crate::library::load_builtin(name, source).script.unwrap()
    }

    fn timeline(script: &crate::script::Script) -> crate::script::timeline::Timeline {
        crate::script::timeline::compile(
            script,
            &crate::script::timeline::Options::default(),
            &crate::script::timeline::Estimate::default(),
        )
    }

    #[test]
    fn events_carry_their_point() {
        // full-back names a point for each Sides; the single-point routines
        // work their own (their name); outside Sides, no point.
        let t = timeline(&builtin("full-back"));
        let mut seen: Vec<(Option<&str>, Option<Side>)> = Vec::new();
        for e in &t.events {
            let key = (e.point.as_deref(), e.side);
            if seen.last() != Some(&key) {
                seen.push(key);
            }
        }
        let (l, r) = (Some(Side::Left), Some(Side::Right));
        let expect = [
            (None, None),
            (Some("deep-spinal"), l),
            (Some("deep-spinal"), r),
            (None, None),
            (Some("gluteus-medius"), l),
            (Some("gluteus-medius"), r),
            (None, None),
            (Some("quadratus-lumborum"), l),
            (Some("quadratus-lumborum"), r),
            (None, None),
        ];
        assert_eq!(seen, expect);
        for (id, _) in POINTS {
            let t = timeline(&builtin(id));
            assert!(t.events.iter().filter(|e| e.side.is_some()).all(|e| e.point.as_deref() == Some(id)), "{id}");
        }
    }

    /// The records a session of `routine` makes when its steps play in
    /// order, with `skip` pressed at the steps whose indexes are given.
    fn track(routine: &str, skips: &[usize], stopped_at: Option<usize>) -> Vec<(String, Option<Side>, bool)> {
        let t = timeline(&builtin(routine));
        let mut tracker = Tracker::default();
        let mut out = Vec::new();
        let mut i = 0;
        while i < t.events.len() {
            if stopped_at == Some(i) {
                out.extend(tracker.finished(true));
                return out.into_iter().map(|w| (w.point, w.side, w.done)).collect();
            }
            out.extend(tracker.step(1, &t.events[i]));
            if skips.contains(&i) {
                tracker.moved();
                // A skip goes on to the next step that moves time on.
                i += 1;
                while i < t.events.len() && t.events[i].overlay {
                    i += 1;
                }
                continue;
            }
            i += 1;
        }
        out.extend(tracker.finished(false));
        out.into_iter().map(|w| (w.point, w.side, w.done)).collect()
    }

    #[test]
    fn the_tracker_records_sides_done_and_cut_short() {
        let (l, r) = (Some(Side::Left), Some(Side::Right));
        let ds = |side, done| ("deep-spinal".to_string(), side, done);
        assert_eq!(track("deep-spinal", &[], None), [ds(l, true), ds(r, true)]);
        let t = timeline(&builtin("deep-spinal"));
        let holds: Vec<usize> = (0..t.events.len()).filter(|&i| t.events[i].sound == Sound::Hold).collect();
        // n during the left hold: the left side was cut short.
        assert_eq!(track("deep-spinal", &[holds[0]], None), [ds(l, false), ds(r, true)]);
        // Stopped during the right hold: done, then cut.
        assert_eq!(track("deep-spinal", &[], Some(holds[1] + 1)), [ds(l, true), ds(r, false)]);
        // A skip before the hold (a cue passed over) does not cut the side.
        let first_left = t.events.iter().position(|e| e.side == l).unwrap();
        assert_eq!(track("deep-spinal", &[first_left], None), [ds(l, true), ds(r, true)]);
        // Strokes count like holds.
        let g = track("gluteus-medius", &[], None);
        assert_eq!(g.iter().filter(|(p, _, done)| p == "gluteus-medius" && *done).count(), 2);
    }

    /// A session that ends before a side's hold began (Enter jumping to an
    /// end with no closing) has not done that side, whatever step was last
    /// reported.
    #[test]
    fn a_side_whose_hold_never_played_is_not_done() {
        let t = timeline(&builtin("deep-spinal"));
        let right = t.events.iter().position(|e| e.side == Some(Side::Right)).unwrap();
        let mut tracker = Tracker::default();
        let mut out: Vec<Worked> = t.events[..=right].iter().flat_map(|e| tracker.step(1, e)).collect();
        out.extend(tracker.finished(false));
        let got: Vec<(Option<Side>, bool)> = out.iter().map(|w| (w.side, w.done)).collect();
        assert_eq!(got, [(Some(Side::Left), true), (Some(Side::Right), false)]);
        assert_eq!(tracker.done_points, ["deep-spinal"]);
    }
}
