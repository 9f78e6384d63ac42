//! Hold cues never talk over each other, with the lengths real voices give:
//! every built-in at holds from 10 s to 10 minutes, timed with the speech
//! espeak-ng (and Piper, where it is installed) actually makes.

use std::time::Duration;

use backease::config::EngineKind;
use backease::script::timeline::{Options, compile};
use backease::speech::{Cache, VoiceSettings};

#[test]
fn builtins_never_talk_over_themselves_with_real_voices() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::at(dir.path());
    let mut kinds = vec![EngineKind::Espeak];
    if backease::speech::piper::Installation::find().is_some() {
        kinds.push(EngineKind::Piper);
    }
    let holds: Vec<u64> = (10..=60).chain((65..=600).step_by(5)).collect();
    for kind in kinds {
        let chosen = backease::speech::pick::engine(kind, &VoiceSettings::default(), None).unwrap();
        for (name, source) in backease::library::BUILTINS {
            let script = backease::script::load(source, None, name).0.unwrap();
            // The shortest hold leaves the long halfway cues out, so both
            // it and the short one are spoken and measured.
            let short = Options { hold: Some(Duration::from_secs(10)), ..Options::default() };
            let (segment, _) = backease::session::prepare(
                &script,
                &short,
                None,
                Some(chosen.engine.as_ref()),
                false,
                &cache,
                &mut |_, _, _| {},
            )
            .unwrap();
            let clips = segment.clips.as_ref();
            if source.contains("halfway:") {
                assert!(clips.speech.contains_key("Halfway."), "{name}");
            }
            for &hold in &holds {
                let options = Options { hold: Some(Duration::from_secs(hold)), ..Options::default() };
                let t = compile(&script, &options, clips);
                let warnings: Vec<_> = t.diagnostics.iter().map(|d| &d.message).collect();
                assert!(warnings.is_empty(), "{kind:?} {name} at {hold}s: {warnings:?}");
                if let Some((a, b)) = t.first_overlap() {
                    panic!(
                        "{kind:?} {name} at {hold}s: {:?} at {} meets {:?} at {}",
                        a.sound, a.start, b.sound, b.start
                    );
                }
            }
        }
    }
}
