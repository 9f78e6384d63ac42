//! `play`: a session played live, from the routine made ready to its last
//! words. The live session's controller (`LiveSession`) lives here: it
//! hands the player what is made ahead, turns keys, media buttons and
//! signals into the player's commands (`command_for`), speaks what the
//! player asks for ("where am I"), records the practice log as it plays,
//! pauses the other media players if asked, and at the end asks how tender
//! it was.
//!
//! The player itself, the keys and the display are `play::`'s; making the
//! speech ahead is `session::ahead`'s.

use std::io::Write;
use std::sync::Arc;

use crate::cli::PlayArgs;
use crate::cli::routine::{Prepared, check_before_work, load_routine, report_timeline, warn_idle_options};
use crate::cli::voice::{cache_warning, choose, stopped_by_signal};
use crate::config::Settings;
use crate::error::{Failure, code};
use crate::play::output::Device;
use crate::play::player::{Player, PlayerEvent};
use crate::script::Script;
use crate::script::diagnostic::escape_controls;
use crate::script::timeline::Timeline;
use crate::session::Segment;
use crate::speech::{Cache, Engine};

/// Has an engine with a model to load start loading it, if the session
/// has speech to make (not every cue in the cache).
fn warm_up(engine: Option<&dyn Engine>, estimate: &Timeline) {
    if let Some(engine) = engine {
        let key = crate::speech::cache_key(engine);
        if crate::speech::cached_lengths(&key, &Cache::default_location(), &estimate.speech_texts()).is_none() {
            engine.warm_up();
        }
    }
}

/// A thread that speaks words on request (the answer to "where am I"):
/// each text sent is made into speech (from the cache when it can) and
/// sent to the player to play at once. It ends when the sender is dropped.
fn on_request(
    engine: Arc<dyn crate::speech::Engine>,
    player: crossbeam_channel::Sender<crate::play::player::PlayerCommand>,
) -> crossbeam_channel::Sender<String> {
    let (tx, rx) = crossbeam_channel::unbounded::<String>();
    std::thread::spawn(move || {
        let cache = Cache::default_location();
        for text in rx {
            let texts = [text.clone()];
            if let Ok((clips, _)) = crate::speech::synthesize_all(engine.as_ref(), &cache, &texts, 1, &mut |_, _, _| {})
                && let Some(clip) = clips.get(&text)
                && player.send(crate::play::player::PlayerCommand::Notify(clip.at_session_rate())).is_err()
            {
                return;
            }
        }
    });
    tx
}

/// The player's command for a key during a session (`None`: nothing to
/// do); `volume` is the session's, changed by `+` and `-`.
fn command_for(
    input: crate::play::live::Input,
    waiting: bool,
    paused: bool,
    volume: &mut f32,
) -> Option<crate::play::player::PlayerCommand> {
    use crate::play::live::Input;
    use crate::play::player::PlayerCommand as Cmd;
    Some(match input {
        Input::TogglePause | Input::Finish | Input::Resume if waiting => Cmd::Release,
        Input::Finish => Cmd::Finish,
        Input::WhereAmI => Cmd::WhereAmI,
        Input::TogglePause if paused => Cmd::Resume,
        Input::TogglePause | Input::Pause => Cmd::Pause,
        Input::Resume => Cmd::Resume,
        Input::Next => Cmd::Next,
        Input::Back => Cmd::Back,
        Input::VolumeUp | Input::VolumeDown => {
            let step = if input == Input::VolumeUp { 0.1 } else { -0.1 };
            *volume = ((*volume + step) * 10.0).round().clamp(0.0, 20.0) / 10.0;
            Cmd::Volume(*volume)
        }
        Input::Quit | Input::Interrupt => Cmd::Stop,
        // The terminal is gone, and whoever sat at it.
        Input::Closed => Cmd::Halt,
        // Digits answer the question after the session, not now.
        Input::Digit(_) => return None,
    })
}

/// How long the end of a session waits for the media buttons to leave the
/// session bus: their D-Bus thread wakes only once a second.
const MEDIA_CLOSE: std::time::Duration = std::time::Duration::from_millis(100);

/// `play`: a session played live. Prepared (the script, the voice, the
/// device and the first cue), started, played to its end through its keys
/// and the player's events, then ended.
pub(super) fn play(args: &PlayArgs, out: &mut dyn Write, err: &mut dyn Write) -> Result<u8, Failure> {
    // From here on Ctrl-C, SIGTERM, SIGHUP and SIGQUIT stop the session
    // (or the speech being made) cleanly, with the terminal restored.
    let signals = crate::signals::listen();
    let ready = ready_to_play(args, &signals, err)?;
    // Before anything else of the session: which voice it is.
    if !args.quiet {
        let _ = writeln!(out, "{}", ready.notice);
    }
    let (mut session, player) = LiveSession::start(args, ready, signals, out, err);
    session.run(&player, out);
    // The sound output is let go before anything else ends.
    let sound_closed = player.join();
    session.end(sound_closed, out, err)
}

/// A live session ready to start: its script and settings, the device
/// open and the first segment made.
struct ReadyToPlay {
    config: Settings,
    script: Script,
    volume: f32,
    device: Device,
    /// The system voice, speaking live.
    live: Option<crate::speech::system::SystemVoice>,
    /// Shared from here: rounds ahead, the closing, and speech made on request.
    engine: Option<Arc<dyn Engine>>,
    first: Arc<Segment>,
    ahead: crate::session::ahead::Ahead,
    /// Which voice speaks, said first.
    notice: String,
}

/// Loads the settings and the routine, chooses the voice, opens the
/// device and has the first cue made: everything that can fail before a
/// session starts.
fn ready_to_play(
    args: &PlayArgs,
    signals: &crossbeam_channel::Receiver<i32>,
    err: &mut dyn Write,
) -> Result<ReadyToPlay, Failure> {
    let PlayArgs { routine, timing, looped, voice, device, quiet, .. } = args;
    let config = crate::config::load(err)?.settings;
    let prepared = load_routine(routine, timing, &config, err)?;
    if !quiet {
        warn_idle_options(&prepared.script, timing, *looped, err);
    }
    check_before_work(&prepared, timing, &config, err)?;
    let Prepared { loaded, script, mut options, estimate } = prepared;
    // --quiet: nothing but errors, so no warning about the voice either.
    let mut sink = std::io::sink();
    let mut choices = choose(&script, voice, &config, false, if *quiet { &mut sink } else { err })?;
    if *looped {
        options.rounds = Some(1);
    }
    // Piper starts loading its model now, while the device opens: the
    // first cue is then not held up by the load.
    warm_up(choices.engine.as_deref(), &estimate);
    // Open the device first: with none, say so before any other work.
    let device = Device::open(device.as_deref())?;
    let (live, notice) = (choices.live.take(), choices.notice);
    let engine: Option<Arc<dyn Engine>> = choices.engine.take().map(Arc::from);
    // The speech is made ahead of the listener: playing starts with the
    // first cue.
    let making = crate::session::ahead::Making {
        script: script.clone(),
        options,
        looped: *looped,
        engine: engine.clone(),
        live: live.is_some(),
        centred: choices.centred,
    };
    let (first, ahead) = crate::session::ahead::start(making, signals).map_err(|f| {
        stopped_by_signal("while preparing speech").or(f).unwrap_or_else(|| Failure::new(code::INTERRUPTED, "stopped"))
    })?;
    // Real speech lengths can reveal cues that now collide (warnings
    // only without --quiet); with speech still being made they show next time.
    if first.ready.is_none() {
        report_timeline(&loaded, &first.timeline, !quiet, err)?;
    }
    Ok(ReadyToPlay { config, script, volume: choices.volume, device, live, engine, first, ahead, notice })
}

/// What the steps of a live session share, from its start to its last
/// words. The player is not here: it is joined before the session ends.
struct LiveSession<'a> {
    args: &'a PlayArgs,
    config: Settings,
    script: Script,
    engine: Option<Arc<dyn Engine>>,
    signals: crossbeam_channel::Receiver<i32>,
    /// What is made ahead, as it is made (`upcoming` has gone to the player).
    ahead: crate::session::ahead::Ahead,
    /// The keys and the media buttons, as one stream of inputs.
    input_tx: crossbeam_channel::Sender<crate::play::live::Input>,
    inputs: crossbeam_channel::Receiver<crate::play::live::Input>,
    others: Option<Others>,
    media: Option<crate::play::media_keys::MediaKeys>,
    keyboard: Option<crate::play::live::Keyboard>,
    display: crate::play::live::Display,
    recorder: crate::day::practice::Recorder,
    tracker: crate::day::practice::Tracker,
    /// Speaks the words the player asks for (see [`on_request`]).
    speaker: Option<crossbeam_channel::Sender<String>>,
    state: Standing,
    outcome: Outcome,
}

/// Where a live session stands, as the player tells and the keys ask.
struct Standing {
    /// Waiting at a `Wait` step: space, Enter and the headset's play button go on.
    waiting: bool,
    paused: bool,
    /// A stop has been sent to the player (it is sent once).
    stopping: bool,
    /// The session finishes after the round playing.
    finishing: bool,
    /// Changed by `+` and `-`.
    volume: f32,
    exit: u8,
}

impl Standing {
    /// The command that stops the session, unless it is stopping already.
    fn stop_with(&mut self, cmd: crate::play::player::PlayerCommand) -> Option<crate::play::player::PlayerCommand> {
        (!std::mem::replace(&mut self.stopping, true)).then_some(cmd)
    }
}

/// What went wrong during a live session, if anything did.
#[derive(Default)]
struct Outcome {
    /// The sound output stopped and did not come back.
    lost: Option<String>,
    /// The rest of the speech could not be made.
    speech_failed: Option<Failure>,
    /// The next round of an endless session could not be made.
    rounds_failed: Option<Failure>,
}

impl Outcome {
    /// The failure the session ends with, if any.
    fn failure(self) -> Option<Failure> {
        self.speech_failed.or(self.rounds_failed).or_else(|| {
            self.lost.map(|why| {
                Failure::new(code::NO_DEVICE, format!("the sound output stopped: {why}")).hint(
                    "is the sound server (PulseAudio or PipeWire) still running? start it again, then play again; \
                     `backease render` writes the session to a file instead",
                )
            })
        })
    }
}

/// Takes the headset's and keyboard's media buttons, if it can; a problem
/// is one warning, and the session plays.
fn media_buttons(
    title: &str,
    inputs: &crossbeam_channel::Sender<crate::play::live::Input>,
    quiet: bool,
    err: &mut dyn Write,
) -> Option<crate::play::media_keys::MediaKeys> {
    if !crate::play::media_keys::bus_expected() {
        return None;
    }
    match crate::play::media_keys::MediaKeys::start(title, inputs.clone()) {
        Ok(m) => Some(m),
        Err(e) => {
            if !quiet {
                let _ = writeln!(err, "warning: headset and media buttons will not work: {e}");
            }
            None
        }
    }
}

/// The first line of a live session: what plays, how long, where, and
/// which keys work.
fn announcement(name: &str, first: &Segment, looped: bool, keyboard: bool, device: &str) -> String {
    // The length every command shows (`list`, `show`, the progress bar):
    // real once the speech is made or cached, else an estimate, marked `≈`.
    let length = if looped { "until stopped".to_string() } else { first.timeline.length_shown() };
    let keys = if keyboard { crate::play::live::HELP } else { "Ctrl-C stops" };
    // The names come from outside (a file, the sound server).
    let (name, device) = (escape_controls(name), escape_controls(device));
    format!("Playing {name} ({length}) on {device}. {keys}.")
}

impl<'a> LiveSession<'a> {
    /// Starts the session: pauses the other players, takes the media
    /// buttons and the keys, says what plays, opens the practice log and
    /// starts the player on the first segment.
    fn start(
        args: &'a PlayArgs,
        ready: ReadyToPlay,
        signals: crossbeam_channel::Receiver<i32>,
        out: &mut dyn Write,
        err: &mut dyn Write,
    ) -> (LiveSession<'a>, Player) {
        use crate::play::live::{Display, Keyboard, Style};
        let ReadyToPlay { config, script, volume, device, live, engine, first, mut ahead, .. } = ready;
        let quiet = args.quiet;
        let (input_tx, inputs) = crossbeam_channel::unbounded();
        let style = Style::detect(quiet);
        // Other players are paused as the session starts (before backease is a
        // player itself), and resumed at its end, or on drop if it ends in an error.
        let others = pause_others_for(args.pause_others || config.pause_others == Some(true), quiet, err);
        // Media buttons before the keyboard: a warning about them is printed
        // before the display starts and the terminal goes raw, not through it.
        let media = media_buttons(&script.title, &input_tx, quiet, err);
        // `input_tx` stays alive here, so with no keyboard the channel stays
        // open and quiet rather than disconnected (which `select!` would see
        // as ready on every turn).
        // `--quiet` quiets the screen, not the keys.
        let keyboard = Keyboard::start(input_tx.clone());
        let mut display = Display::new(style, &script.title, first.clone(), args.looped, volume, keyboard.is_some());
        display.say(out, &announcement(&script.name, &first, args.looped, keyboard.is_some(), device.name()));
        // The practice log: the session is recorded from here, as it plays.
        // The holds played, not the routine's hold they may never take.
        let held = first.timeline.holds().last().copied().unwrap_or_default();
        let recorder = if args.no_log || config.log == Some(false) {
            crate::day::practice::Recorder::off()
        } else {
            crate::day::practice::Recorder::start(None, &script.name, held)
        };
        let tracker = crate::day::practice::Tracker::default();
        let player = Player::spawn_with_voice(Box::new(device), first, ahead.upcoming.take(), volume, live);
        if keyboard.is_none() && media.is_none() {
            let _ = player.commands.send(crate::play::player::PlayerCommand::Unattended);
        }
        let speaker = engine.clone().map(|engine| on_request(engine, player.commands.clone()));
        let state =
            Standing { waiting: false, paused: false, stopping: false, finishing: false, volume, exit: code::OK };
        let session = LiveSession {
            args,
            config,
            script,
            engine,
            signals,
            ahead,
            input_tx,
            inputs,
            others,
            media,
            keyboard,
            display,
            recorder,
            tracker,
            speaker,
            state,
            outcome: Outcome::default(),
        };
        (session, player)
    }

    /// Plays the session to its end: hands the player what is made ahead,
    /// and answers its events, the keys and the signals.
    fn run(&mut self, player: &Player, out: &mut dyn Write) {
        use crate::play::player::PlayerCommand as Cmd;
        use crossbeam_channel::never;
        loop {
            let cmd = crossbeam_channel::select! {
                recv(self.ahead.grown) -> segment => match segment {
                    Ok(s) => Some(Cmd::Grow(s)),
                    Err(_) => { self.ahead.grown = never(); None }
                },
                recv(self.ahead.closing) -> segment => match segment {
                    Ok(s) => Some(Cmd::Closing(s)),
                    Err(_) => { self.ahead.closing = never(); None }
                },
                // The rest of the speech cannot be made: end with "Stopping."
                // (heard, with eyes closed) and say why on screen, rather than
                // wait at the next cue for ever.
                recv(self.ahead.failed) -> why => match why {
                    Ok(f) => {
                        self.outcome.speech_failed = Some(f);
                        self.state.stop_with(Cmd::Stop)
                    }
                    Err(_) => { self.ahead.failed = never(); None }
                },
                // The next round of an endless session cannot be made: this
                // round is the last ("Last round." is heard), then the closing.
                recv(self.ahead.cut_short) -> why => match why {
                    // Finishing already, the round was never going to play.
                    Ok(f) if !self.state.stopping && !self.state.finishing => {
                        self.outcome.rounds_failed = Some(f);
                        Some(Cmd::Finish)
                    }
                    Ok(_) => None,
                    Err(_) => { self.ahead.cut_short = never(); None }
                },
                recv(player.events) -> ev => match ev {
                    Ok(PlayerEvent::Lost(why)) => {
                        self.log_end(true);
                        self.outcome.lost = Some(why);
                        break;
                    }
                    Ok(ev) => {
                        if self.follow(&ev, out) {
                            break;
                        }
                        None
                    }
                    Err(_) => break,
                },
                recv(self.inputs) -> input => input.ok().and_then(|input| self.answer(input)),
                recv(self.signals) -> sig => match sig {
                    Ok(sig) => self.stop_for(sig),
                    // Signals could not be caught: their defaults apply.
                    Err(_) => { self.signals = never(); None }
                },
            };
            if let Some(cmd) = cmd {
                let _ = player.commands.send(cmd);
            }
        }
    }

    /// Follows one event of the player: in the practice log, in what the
    /// keys mean, on the media buttons and on the display. True when the
    /// session has finished.
    fn follow(&mut self, ev: &PlayerEvent, out: &mut dyn Write) -> bool {
        match ev {
            PlayerEvent::Step { event, segment, .. } => {
                self.tracker.step(*segment, event).into_iter().for_each(|w| self.recorder.worked(w));
            }
            PlayerEvent::Finished { stopped } => self.log_end(*stopped),
            PlayerEvent::Waiting(w) => self.state.waiting = *w,
            PlayerEvent::Finishing => self.state.finishing = true,
            PlayerEvent::Say(text) => {
                if let Some(s) = &self.speaker {
                    let _ = s.send(text.clone());
                }
            }
            PlayerEvent::Paused | PlayerEvent::Resumed => {
                self.state.paused = *ev == PlayerEvent::Paused;
                if let Some(m) = self.media.as_mut() {
                    m.set_playing(!self.state.paused);
                }
            }
            _ => {}
        }
        self.display.event(ev, out);
        matches!(ev, PlayerEvent::Finished { .. })
    }

    /// Records the end of the session (`stopped`: before its end) in the
    /// practice log, with the points worked until then.
    fn log_end(&mut self, stopped: bool) {
        self.tracker.finished(stopped).into_iter().for_each(|w| self.recorder.worked(w));
        self.recorder.end(stopped);
    }

    /// The player's command for a key or media button, if any.
    fn answer(&mut self, input: crate::play::live::Input) -> Option<crate::play::player::PlayerCommand> {
        use crate::play::live::Input;
        use crate::play::player::PlayerCommand as Cmd;
        if matches!(input, Input::Next | Input::Back) {
            self.tracker.moved();
        }
        if input == Input::Interrupt {
            self.state.exit = code::INTERRUPTED;
        }
        let s = &mut self.state;
        let cmd = command_for(input, s.waiting && !s.paused, s.paused, &mut s.volume)?;
        if matches!(cmd, Cmd::Stop | Cmd::Halt) { s.stop_with(cmd) } else { Some(cmd) }
    }

    /// The player's command for a signal: the session ends, with the
    /// shell's exit code for it.
    fn stop_for(&mut self, sig: i32) -> Option<crate::play::player::PlayerCommand> {
        use crate::play::player::PlayerCommand as Cmd;
        self.state.exit = crate::signals::exit_code(sig);
        // Ctrl-C is someone listening; the others end the process at once,
        // with a fade but no words.
        self.state.stop_with(if sig == crate::signals::SIGINT { Cmd::Stop } else { Cmd::Halt })
    }

    /// Ends the session once the player is gone (`sound_closed`: in time):
    /// the words after it, the log closed, the terminal restored, the media
    /// buttons and the other players given back; then how it ended.
    fn end(mut self, sound_closed: bool, out: &mut dyn Write, err: &mut dyn Write) -> Result<u8, Failure> {
        let quiet = self.args.quiet;
        let mut left_behind = Vec::new();
        if !sound_closed {
            left_behind.push("the sound output did not close within 1 s; backease exits without it");
        }
        self.afterwards(out);
        let log_warning = self.recorder.finish();
        // The rounds still being made will never play: stop making them, and
        // give their speech programs a moment to be killed.
        crate::signals::stop();
        drop((self.ahead.grown, self.ahead.closing, self.ahead.failed));
        let _ = self.ahead.done.recv_timeout(std::time::Duration::from_secs(1));
        // Restore the terminal before the last words.
        drop(self.keyboard);
        // Leaving the session bus waits on it (its thread looks once a
        // second): not the process. Left behind, the buttons go with the
        // process a moment later, nothing lost, so nothing is said.
        if let Some(m) = self.media {
            crate::threads::finish_within("backease-media-close", MEDIA_CLOSE, move || drop(m));
        }
        drop(self.input_tx);
        resume_others(self.others.take(), quiet, err);
        for w in log_warning.iter().map(String::as_str).chain(left_behind).filter(|_| !quiet) {
            let _ = writeln!(err, "warning: {w}");
        }
        if let Some(f) = self.outcome.failure() {
            return Err(f);
        }
        self.display.say(out, if self.state.stopping { "Stopped." } else { "Session complete." });
        // Said after the session, not over its display.
        if let Some(e) =
            self.ahead.report.try_recv().ok().and_then(|r| r.cache_errors.into_iter().next()).filter(|_| !quiet)
        {
            cache_warning(&e, err);
        }
        Ok(self.state.exit)
    }

    /// Where the person stands, and how tender it was: heard, with eyes
    /// closed, after a session that played to its end or was stopped with
    /// a key. A signal meanwhile gives the exit code.
    fn afterwards(&mut self, out: &mut dyn Write) {
        if self.outcome.lost.is_some() || self.outcome.speech_failed.is_some() || self.state.exit != code::OK {
            return;
        }
        // Asked to end at the gong; or nothing is logged, so there is no
        // standing to say and nowhere to keep an answer.
        let (args, config) = (self.args, &self.config);
        if args.no_words_after || config.words_after == Some(false) || args.no_log || config.log == Some(false) {
            return;
        }
        // Stopped with `q`: where the person stands is shown, nothing asked.
        let voice =
            self.engine.as_deref().filter(|_| !self.state.stopping).map(|engine| crate::day::afterwards::Voice {
                script: &self.script,
                engine,
                device: self.args.device.as_deref(),
                volume: self.state.volume,
            });
        let keys = self.keyboard.as_ref().map(|_| &self.inputs);
        let display = &mut self.display;
        let mut print = |line: &str| display.say(out, line);
        let worked = &self.tracker.done_points;
        if let Err(Some(sig)) = crate::day::afterwards::after_session(
            voice.as_ref(),
            keys,
            &self.signals,
            &self.recorder,
            &self.config,
            worked,
            &mut print,
        ) {
            self.state.exit = crate::signals::exit_code(sig);
        }
    }
}

#[cfg(target_os = "linux")]
type Others = crate::play::pause_others::Paused;

#[cfg(not(target_os = "linux"))]
type Others = ();

/// Pauses the media players that are playing, if asked to; a problem is one
/// warning, and the session plays.
fn pause_others_for(asked: bool, quiet: bool, err: &mut dyn Write) -> Option<Others> {
    if !asked {
        return None;
    }
    #[cfg(target_os = "linux")]
    {
        let asked_at = std::time::Instant::now();
        let (paused, warning) = crate::play::pause_others::pause_playing();
        if crate::trace::timing() {
            let n = paused.as_ref().map_or(0, |p| p.players().len());
            eprintln!("timing: {n} other players paused in {} ms", asked_at.elapsed().as_millis());
        }
        if let Some(w) = warning.filter(|_| !quiet) {
            let _ = writeln!(err, "warning: {w}");
        }
        paused
    }
    #[cfg(not(target_os = "linux"))]
    {
        if !quiet {
            let _ = writeln!(err, "warning: --pause-others works only on Linux (MPRIS on D-Bus)");
        }
        None
    }
}

fn resume_others(others: Option<Others>, quiet: bool, err: &mut dyn Write) {
    #[cfg(target_os = "linux")]
    if let Some(mut others) = others {
        let asked_at = std::time::Instant::now();
        let warning = others.resume();
        if crate::trace::timing() {
            eprintln!("timing: other players resumed in {} ms", asked_at.elapsed().as_millis());
        }
        if let Some(w) = warning.filter(|_| !quiet) {
            let _ = writeln!(err, "warning: {w}");
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (others, quiet, err);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::play::live::Input;
    use crate::play::player::PlayerCommand as Cmd;

    /// Where a session stands when a key comes: at a `Wait` step, paused.
    #[derive(Clone, Copy)]
    struct At {
        waiting: bool,
        paused: bool,
    }
    const PLAYING: At = At { waiting: false, paused: false };
    const WAITING: At = At { waiting: true, paused: false };
    const PAUSED: At = At { waiting: false, paused: true };

    #[track_caller]
    fn check(input: Input, at: At, expect: Option<Cmd>) {
        let mut volume = 1.0;
        assert_eq!(command_for(input, at.waiting, at.paused, &mut volume), expect, "{input:?}");
        assert_eq!(volume, 1.0, "{input:?} changed the volume");
    }

    #[test]
    fn keys_become_the_players_commands() {
        check(Input::TogglePause, PLAYING, Some(Cmd::Pause));
        check(Input::TogglePause, PAUSED, Some(Cmd::Resume));
        check(Input::Pause, PLAYING, Some(Cmd::Pause));
        check(Input::Pause, PAUSED, Some(Cmd::Pause));
        check(Input::Resume, PLAYING, Some(Cmd::Resume));
        check(Input::Resume, PAUSED, Some(Cmd::Resume));
        check(Input::Next, PLAYING, Some(Cmd::Next));
        check(Input::Back, PLAYING, Some(Cmd::Back));
        check(Input::Finish, PLAYING, Some(Cmd::Finish));
        check(Input::WhereAmI, PLAYING, Some(Cmd::WhereAmI));
        check(Input::Quit, PLAYING, Some(Cmd::Stop));
        check(Input::Interrupt, PLAYING, Some(Cmd::Stop));
        check(Input::Closed, PLAYING, Some(Cmd::Halt));
        check(Input::Digit(7), PLAYING, None);
    }

    #[test]
    fn at_a_wait_the_keys_that_go_on_release_it() {
        check(Input::TogglePause, WAITING, Some(Cmd::Release));
        check(Input::Finish, WAITING, Some(Cmd::Release));
        check(Input::Resume, WAITING, Some(Cmd::Release));
        check(Input::Pause, WAITING, Some(Cmd::Pause));
        check(Input::Next, WAITING, Some(Cmd::Next));
        check(Input::WhereAmI, WAITING, Some(Cmd::WhereAmI));
        check(Input::Quit, WAITING, Some(Cmd::Stop));
        check(Input::Closed, WAITING, Some(Cmd::Halt));
        check(Input::Digit(0), WAITING, None);
    }

    #[track_caller]
    fn check_volume(input: Input, before: f32, after: f32) {
        let mut volume = before;
        assert_eq!(command_for(input, false, false, &mut volume), Some(Cmd::Volume(after)), "{input:?} from {before}");
        assert_eq!(volume, after, "{input:?} from {before}");
    }

    #[test]
    fn volume_keys_step_by_a_tenth_within_0_and_2() {
        check_volume(Input::VolumeUp, 1.0, 1.1);
        check_volume(Input::VolumeDown, 1.0, 0.9);
        check_volume(Input::VolumeUp, 0.3, 0.4);
        check_volume(Input::VolumeDown, 0.1, 0.0);
        check_volume(Input::VolumeDown, 0.0, 0.0);
        check_volume(Input::VolumeUp, 2.0, 2.0);
        check_volume(Input::VolumeUp, 1.95, 2.0);
    }

    #[test]
    fn a_stop_is_sent_once() {
        let mut state =
            Standing { waiting: false, paused: false, stopping: false, finishing: false, volume: 1.0, exit: code::OK };
        assert_eq!(state.stop_with(Cmd::Stop), Some(Cmd::Stop));
        assert_eq!(state.stop_with(Cmd::Halt), None);
        assert!(state.stopping);
    }

    #[track_caller]
    fn check_failure(outcome: Outcome, expect: Option<(u8, &str)>) {
        let got = outcome.failure().map(|f| (f.code, f.message));
        assert_eq!(got.as_ref().map(|(c, m)| (*c, m.as_str())), expect);
    }

    #[test]
    fn a_session_ends_with_the_first_of_its_failures() {
        let failed = |m: &str| Some(Failure::new(code::SPEECH, m));
        let lost = || Some("gone".to_string());
        check_failure(Outcome::default(), None);
        check_failure(
            Outcome { lost: lost(), ..Outcome::default() },
            Some((code::NO_DEVICE, "the sound output stopped: gone")),
        );
        check_failure(
            Outcome { rounds_failed: failed("round"), lost: lost(), ..Outcome::default() },
            Some((code::SPEECH, "round")),
        );
        check_failure(
            Outcome { speech_failed: failed("speech"), rounds_failed: failed("round"), lost: lost() },
            Some((code::SPEECH, "speech")),
        );
    }
}
