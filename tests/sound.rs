//! The session as sound, checked sample by sample: rendered through the real
//! espeak-ng engine and the same stream `play` uses, no device needed.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use backease::audio::format::to_i16;
use backease::script::timeline::{Options, SAMPLE_RATE, Sound, samples};
use backease::script::{Side, load};
use backease::session::{PAN, Segment, pan_gains, prepare};
use backease::speech::espeak::Espeak;
use backease::speech::{Cache, VoiceSettings};

use crate::support::Sandbox;

const ROUTINE: &str = r#"Routine(
    title: "Test",
    summary: "A short routine for the tests",
    defaults: (hold: "3s"),
    steps: [
        Chime("soft"),
        Say("Place the ball."),
        Pause("1s"),
        Sides([
            Say("{side} side."),
            Hold(cues: [At("1s", "breathe")], countdown: 1),
            Chime("tick"),
        ]),
        Strokes(count: 2, every: "1s", mark: Count),
    ],
)"#;

fn segment(sb: &Sandbox, source: &str, options: Options) -> Segment {
    let (script, diags) = load(source, Some(sb.path()), "test");
    let script = script.unwrap_or_else(|| panic!("{diags:?}"));
    let engine = Espeak::new(VoiceSettings::default()).expect("espeak-ng is installed (bash .ci/setup)");
    let cache = Cache::at(sb.path().join("cache"));
    prepare(&script, &options, None, Some(&engine), false, &cache, &mut |_, _, _| {}).expect("prepare").0
}

fn read_wav(path: &std::path::Path) -> Vec<i16> {
    let pcm = backease::audio::wav::parse(&std::fs::read(path).unwrap()).unwrap();
    assert_eq!(pcm.rate, SAMPLE_RATE);
    pcm.samples
}

fn render(seg: Segment, path: &std::path::Path) -> Vec<i16> {
    backease::play::render::to_file(Arc::new(seg), 1.0, path, &AtomicBool::new(false), &mut |_, _| {}).unwrap();
    read_wav(path)
}

#[test]
fn every_cue_starts_on_its_sample_and_silences_are_silent() {
    let sb = Sandbox::new();
    let seg = segment(&sb, ROUTINE, Options::default());
    let wav = render(seg.clone(), &sb.path().join("out.wav"));
    assert_eq!(wav.len() as u64, seg.timeline.total);
    let (channels, _, left, right) = crate::support::read_stereo_wav(&sb.path().join("out.wav"));
    assert_eq!(channels, 2);
    let mut covered = vec![0u32; wav.len()];
    // Centred clips summed exactly; the cues of Sides panned, in each ear.
    let mut centred = vec![0i32; wav.len()];
    let mut panned = vec![[0f32; 2]; wav.len()];
    for e in &seg.timeline.events {
        if let Some(clip) = seg.clips.for_sound(&e.sound) {
            assert!(!clip.is_empty());
            let gains = match (&e.sound, e.side) {
                (Sound::Speech(_), Some(Side::Left)) => Some(pan_gains(-PAN)),
                (Sound::Speech(_), Some(Side::Right)) => Some(pan_gains(PAN)),
                _ => None,
            };
            for (i, &s) in clip.at_session_rate().iter().enumerate() {
                let at = e.start as usize + i;
                covered[at] += 1;
                match gains {
                    None => centred[at] += s as i32,
                    Some((l, r)) => panned[at] = [panned[at][0] + s as f32 * l, panned[at][1] + s as f32 * r],
                }
            }
        }
    }
    for (c, channel) in [&left, &right].into_iter().enumerate() {
        for (at, &got) in channel.iter().enumerate() {
            let want = to_i16(((centred[at] as f32 + panned[at][c]) / 32768.0).clamp(-1.0, 1.0));
            // A panned sample is a product of floats: the last bit may round either way.
            let slack = if panned[at][c] == 0.0 { 0 } else { 1 };
            assert!(
                got.abs_diff(want) <= slack,
                "channel {c} sample {at} ({:.3} s): {got} for {want}",
                at as f64 / SAMPLE_RATE as f64
            );
        }
    }
    assert!(panned.iter().any(|p| p[0] != p[1]), "the routine has cues from the side");
    // Somewhere real silence and real sound both occur.
    assert!(covered.iter().filter(|&&c| c == 0).count() > SAMPLE_RATE as usize * 3);
    assert!(wav.iter().filter(|&&s| s != 0).count() > SAMPLE_RATE as usize);
}

#[test]
fn hold_cues_sit_at_their_offsets() {
    let sb = Sandbox::new();
    let seg = segment(&sb, ROUTINE, Options::default());
    let events = &seg.timeline.events;
    let holds: Vec<_> = events.iter().filter(|e| e.sound == Sound::Hold).collect();
    assert_eq!(holds.len(), 2);
    for hold in holds {
        assert_eq!(hold.length, samples(Duration::from_secs(3)));
        let cue = events.iter().find(|e| e.start > hold.start && e.sound == Sound::Speech("breathe".into())).unwrap();
        assert_eq!(cue.start - hold.start, SAMPLE_RATE as u64);
        let count = events.iter().find(|e| e.start > hold.start && e.sound == Sound::Speech("1".into())).unwrap();
        assert_eq!(count.start - hold.start, 2 * SAMPLE_RATE as u64, "the countdown's 1 is one second before the end");
    }
}

#[test]
fn hold_rounds_and_rest_change_exactly_what_they_should() {
    let sb = Sandbox::new();
    let base = segment(&sb, ROUTINE, Options::default()).timeline.total;
    let longer = segment(&sb, ROUTINE, Options { hold: Some(Duration::from_secs(5)), ..Options::default() });
    assert_eq!(longer.timeline.total - base, 2 * samples(Duration::from_secs(2)), "two holds, two seconds longer each");
    let rounds = segment(
        &sb,
        ROUTINE,
        Options { rounds: Some(3), rest: Some(Duration::from_millis(1500)), ..Options::default() },
    );
    // Between rounds, the rest and then the spoken marker.
    let events = &rounds.timeline.events;
    let marker = |text: &str| events.iter().find(|e| e.sound == Sound::Speech(text.into())).unwrap().clone();
    let (two, last) = (marker("Round two."), marker("Last round."));
    let rest = samples(Duration::from_millis(1500));
    assert_eq!(rounds.timeline.total, 3 * base + 2 * rest + two.length + last.length);
    // The rests are exact silence between the rounds, each just before its marker.
    let wav = render(rounds.clone(), &sb.path().join("rounds.wav"));
    let rests: Vec<_> = events.iter().filter(|e| e.sound == Sound::Rest).collect();
    assert_eq!(rests.len(), 2);
    assert_eq!((rests[0].start, rests[0].end()), (base, two.start));
    assert_eq!((rests[1].start, rests[1].end()), (2 * base + rest + two.length, last.start));
    for r in rests {
        assert!(wav[r.start as usize..r.end() as usize].iter().all(|&s| s == 0));
    }
}

#[test]
fn a_users_sound_file_plays_at_its_place() {
    let sb = Sandbox::new();
    // Half a second of 44.1 kHz stereo, made by sox: resampled and mixed down.
    crate::support::tone_file(&sb.path().join("beep.wav"), 44_100, 2, 0.5, 500.0);
    let seg = segment(
        &sb,
        r#"Routine(title: "T", summary: "S", steps: [Pause("1s"), Sound("beep.wav"), Pause("1s")])"#,
        Options::default(),
    );
    let e = seg.timeline.events.iter().find(|e| matches!(e.sound, Sound::File(_))).unwrap();
    assert_eq!(e.start, SAMPLE_RATE as u64);
    assert_eq!(e.length, SAMPLE_RATE as u64 / 2);
    let wav = render(seg.clone(), &sb.path().join("out.wav"));
    // The file is brought under the voice, like the chimes.
    let loudness =
        backease::audio::loudness::integrated(&wav[e.start as usize..e.end() as usize], SAMPLE_RATE).unwrap();
    assert!((loudness - backease::audio::loudness::CHIME_LUFS).abs() < 0.5, "{loudness} LUFS");
    assert!(wav[e.end() as usize..].iter().all(|&s| s == 0));
}

#[test]
fn a_corrupt_cache_entry_is_made_again() {
    let sb = Sandbox::new();
    let first = segment(&sb, ROUTINE, Options::default());
    let a = render(first, &sb.path().join("a.wav"));
    let dir = sb.path().join("cache");
    let entries: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    assert!(entries.len() >= 6, "{entries:?}");
    // Truncate one entry and scribble over another.
    let bytes = std::fs::read(&entries[0]).unwrap();
    std::fs::write(&entries[0], &bytes[..bytes.len() / 2]).unwrap();
    std::fs::write(&entries[1], b"junk").unwrap();
    let again = segment(&sb, ROUTINE, Options::default());
    let b = render(again, &sb.path().join("b.wav"));
    assert_eq!(a, b, "the same session, sample for sample");
    assert_eq!(std::fs::read(&entries[0]).unwrap(), bytes, "the entry was written anew");
}
