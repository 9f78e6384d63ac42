//! Sound that never hurts, checked in what `render` writes: turning the
//! volume up is louder but never clipped.

use crate::support::Sandbox;

/// Full sentences of espeak-ng speech (which peaks just under full scale)
/// and the loudest chimes.
const ROUTINE: &str = r#"Routine(
    title: "Loud",
    summary: "Speech and chimes near full scale",
    steps: [
        Chime("bell"),
        Say("One rule the whole way through: the ball sits on muscle, never on the bony ridge of the spine itself."),
        Chime("tick"),
        Say("Breathe out slowly, and let the muscle soften over the ball."),
        Chime("soft"),
        Say("Stop, roll the ball away, and rest for a moment."),
    ],
)"#;

/// The session rendered at `volume`, as 16-bit samples.
fn render(sb: &Sandbox, volume: &str) -> Vec<i16> {
    let out = format!("loud-{volume}.wav");
    let run = sb.run(&["render", "loud.ron", "--volume", volume, "-o", &out]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    backease::audio::wav::parse(&std::fs::read(sb.path().join(out)).unwrap()).unwrap().samples
}

fn rms(samples: &[i16]) -> f64 {
    (samples.iter().map(|&s| (s as f64).powi(2)).sum::<f64>() / samples.len() as f64).sqrt()
}

/// Samples at full scale: what a hard clip leaves.
fn clipped(samples: &[i16]) -> usize {
    samples.iter().filter(|&&s| s == i16::MAX || s <= -i16::MAX).count()
}

#[test]
fn loud_volumes_are_louder_and_never_clip() {
    let sb = Sandbox::new();
    sb.write("loud.ron", ROUTINE);
    let unity = render(&sb, "1.0");
    let peak = unity.iter().map(|s| s.unsigned_abs()).max().unwrap();
    // Speech is levelled to a true peak of -1 dBTP: at 1.2 its peaks would
    // pass full scale, so louder must be limited.
    assert!(peak as f64 * 1.2 > 32_767.0, "the speech peaks near full scale at unity ({peak})");
    assert_eq!(clipped(&unity), 0);
    let check = |volume: &str, min_gain: f64| {
        let loud = render(&sb, volume);
        assert_eq!(loud.len(), unity.len(), "the same length at {volume}");
        assert_eq!(clipped(&loud), 0, "samples at full scale at volume {volume}");
        let gain = rms(&loud) / rms(&unity);
        assert!(gain >= min_gain, "volume {volume} is only {gain:.2}x as loud as 1.0");
    };
    check("1.2", 1.15);
    check("2.0", 1.6);
}
