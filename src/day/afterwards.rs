//! The words after a live session: where the person stands today ("That was
//! your third deep spinal session today."), then, for each point worked,
//! "How tender was it, from zero to ten?", answered with a digit key.
//!
//! The session's player has ended by then, so each sentence is a small
//! session of its own: one `Say`, made by the session's engine (from the
//! cache when it can) and played on the same output. Everything said is
//! printed too. Where the person stands is always said, as the session's
//! last words (a session started by a reminder has no terminal, and its
//! listener's eyes are closed); the question is asked only when a keyboard
//! is there to answer it. It never runs for `render`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, select};

use crate::config::Settings;
use crate::day::practice::{Recorder, question, standing};
use crate::play::live::Input;
use crate::play::player::{Player, PlayerEvent};
use crate::script::point_name;
use crate::script::timeline::Options;
use crate::script::{Script, Step, StepKind, Text};
use crate::speech::{Cache, Engine};

/// How long the question waits for a digit, after it is said.
pub const ANSWER_WAIT: Duration = Duration::from_secs(8);
/// After a 1, how long a 0 may follow to make it 10.
const TEN_WAIT: Duration = Duration::from_millis(700);

/// What the words after a session are said with.
pub struct Voice<'a> {
    pub script: &'a Script,
    pub engine: &'a dyn Engine,
    pub device: Option<&'a str>,
    pub volume: f32,
}

/// Why the words after a session end early: the signal that came, or
/// `None` (`q`, the terminal gone, or speech that could not be said).
pub type Ended = Option<i32>;

/// Says where the person stands and asks how tender each point was.
/// `inputs` is the live keyboard (`None` without one: nothing is asked);
/// `print` shows a line. Ends early (`Err`) on a signal, `q`, Ctrl-C or
/// the terminal closing.
pub fn after_session(
    voice: Option<&Voice>,
    inputs: Option<&Receiver<Input>>,
    signals: &Receiver<i32>,
    recorder: &Recorder,
    settings: &Settings,
    worked: &[String],
    print: &mut dyn FnMut(&str),
) -> Result<(), Ended> {
    if worked.is_empty() {
        return Ok(());
    }
    // Where you stand, for every point worked: a routine of one's own is
    // counted under its name.
    if let Some(today) = recorder.today(settings, Duration::from_secs(4))
        && let Some(text) = standing(&today, worked)
    {
        print(&text);
        if let Some(v) = voice {
            speak(v, &text, signals)?;
        }
    }
    let (Some(voice), Some(inputs)) = (voice, inputs) else { return Ok(()) };
    // How tender: asked of the built-in points, which it names.
    let known: Vec<&String> = worked.iter().filter(|p| point_name(p).is_some()).collect();
    for (n, point) in known.iter().enumerate() {
        let text = question(point, known.len() > 1);
        print(&format!("{text} (a digit key; anything else skips)"));
        // A digit pressed while the words before were said (a person who
        // knows the question) is the answer, confirmed by voice; `q` or
        // Ctrl-C pressed meanwhile still stop.
        let early = early_answer(inputs)?;
        if early.is_none() {
            // Said with how to answer, the first time: with eyes closed, the
            // screen's "(a digit key)" is not there, and an answer said
            // aloud would be lost.
            let said = if n == 0 { format!("{text} Press a number key.") } else { text.clone() };
            speak(voice, &said, signals)?;
        }
        let reply = match early.unwrap_or_else(|| answer(inputs, signals)) {
            Answer::Value(v) => {
                recorder.tender(point, v);
                format!("{v}, noted.")
            }
            Answer::Skip => "Skipped.".to_string(),
            Answer::Stop(sig) => return Err(sig),
        };
        print(&reply);
        speak(voice, &reply, signals)?;
    }
    Ok(())
}

enum Answer {
    Value(u8),
    Skip,
    /// `q`, Ctrl-C, the terminal gone, or a signal (which).
    Stop(Option<i32>),
}

/// The keys pressed so far: the answer if a digit is among them (1 then 0
/// for 10, as ever), `None` if not; `Err` for `q`, Ctrl-C or the terminal
/// gone. Other keys are let go.
fn early_answer(inputs: &Receiver<Input>) -> Result<Option<Answer>, Ended> {
    while let Ok(key) = inputs.try_recv() {
        match key {
            Input::Interrupt => return Err(Some(crate::signals::SIGINT)),
            Input::Quit | Input::Closed => return Err(None),
            Input::Digit(d) => return Ok(Some(ten_or(d, inputs))),
            _ => {}
        }
    }
    Ok(None)
}

/// Waits for a digit: 0–9, or 1 then 0 quickly for 10.
fn answer(inputs: &Receiver<Input>, signals: &Receiver<i32>) -> Answer {
    let deadline = Instant::now() + ANSWER_WAIT;
    let first = select! {
        recv(inputs) -> i => i,
        recv(signals) -> sig => return Answer::Stop(sig.ok()),
        recv(crossbeam_channel::at(deadline)) -> _ => return Answer::Skip,
    };
    match first {
        Ok(Input::Digit(d)) => ten_or(d, inputs),
        Ok(Input::Interrupt) => Answer::Stop(Some(crate::signals::SIGINT)),
        Ok(Input::Quit | Input::Closed) | Err(_) => Answer::Stop(None),
        Ok(_) => Answer::Skip,
    }
}

/// The answer a digit gives: a 1 followed quickly by a 0 is 10.
fn ten_or(digit: u8, inputs: &Receiver<Input>) -> Answer {
    match digit {
        1 if inputs.recv_timeout(TEN_WAIT) == Ok(Input::Digit(0)) => Answer::Value(10),
        _ => Answer::Value(digit),
    }
}

/// Says `words` on the output, and waits until they are said; a signal
/// cuts them off (`Err` with it), and speech that cannot be made or played
/// ends the talk (`Err(None)`).
fn speak(voice: &Voice, words: &str, signals: &Receiver<i32>) -> Result<(), Ended> {
    let mut script = voice.script.clone();
    script.opening.clear();
    script.closing.clear();
    script.steps = vec![Step { kind: StepKind::Say(Text::literal(words)), span: 0..0, point: None }];
    let options = Options { hold: None, rounds: Some(1), rest: None };
    let cache = Cache::default_location();
    let made = crate::session::prepare(&script, &options, None, Some(voice.engine), false, &cache, &mut |_, _, _| {});
    let Ok((segment, _)) = made else { return Err(None) };
    let Ok(device) = crate::play::output::Device::open(voice.device) else { return Err(None) };
    let player = Player::spawn(Box::new(device), Arc::new(segment.for_device()), None, voice.volume);
    let mut spoken = Ok(());
    loop {
        select! {
            recv(player.events) -> ev => match ev {
                Ok(PlayerEvent::Finished { .. }) | Err(_) => break,
                Ok(PlayerEvent::Lost(_)) => {
                    spoken = Err(None);
                    break;
                }
                Ok(_) => {}
            },
            recv(signals) -> sig => {
                if let Ok(sig) = sig {
                    spoken = Err(Some(sig));
                }
                let _ = player.commands.send(crate::play::player::PlayerCommand::Halt);
            }
        }
    }
    // A player that cannot let go of the output is left behind, and so
    // are the words after it.
    if !player.join() {
        return Err(None);
    }
    spoken
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The answer to keys already pressed.
    fn answer_to(keys: &[Input]) -> String {
        let (tx, rx) = crossbeam_channel::unbounded();
        for k in keys {
            tx.send(*k).unwrap();
        }
        let (_signal_tx, signals) = crossbeam_channel::unbounded();
        match answer(&rx, &signals) {
            Answer::Value(v) => format!("value {v}"),
            Answer::Skip => "skip".into(),
            Answer::Stop(sig) => format!("stop {sig:?}"),
        }
    }

    #[test]
    fn a_digit_answers_and_anything_else_skips_or_stops() {
        assert_eq!(answer_to(&[Input::Digit(4)]), "value 4");
        assert_eq!(answer_to(&[Input::Digit(0)]), "value 0");
        assert_eq!(answer_to(&[Input::Digit(1), Input::Digit(0)]), "value 10");
        assert_eq!(answer_to(&[Input::Digit(1), Input::Digit(5)]), "value 1");
        assert_eq!(answer_to(&[Input::Digit(1)]), "value 1");
        assert_eq!(answer_to(&[Input::Next]), "skip");
        assert_eq!(answer_to(&[Input::Quit]), "stop None");
        assert_eq!(answer_to(&[Input::Interrupt]), format!("stop Some({})", crate::signals::SIGINT));
    }

    #[test]
    fn a_digit_pressed_before_the_question_is_its_answer() {
        let early = |keys: &[Input]| {
            let (tx, rx) = crossbeam_channel::unbounded();
            keys.iter().for_each(|k| tx.send(*k).unwrap());
            match early_answer(&rx) {
                Ok(Some(Answer::Value(v))) => format!("value {v}"),
                Ok(Some(_)) => "other".into(),
                Ok(None) => "none".into(),
                Err(sig) => format!("stop {sig:?}"),
            }
        };
        assert_eq!(early(&[Input::Next, Input::Digit(6)]), "value 6");
        assert_eq!(early(&[Input::Digit(1), Input::Digit(0)]), "value 10");
        assert_eq!(early(&[Input::TogglePause]), "none");
        assert_eq!(early(&[Input::Quit, Input::Digit(3)]), "stop None");
    }
}
