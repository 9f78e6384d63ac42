//! The front end of a live session: keys read without Enter, and what the
//! terminal shows while a routine plays.
//!
//! On a terminal the display is a small block redrawn in place: the
//! routine, the step and the cue being spoken, a countdown for a hold, and
//! a progress bar with the time left. Anywhere else (a pipe, CI) it is one
//! plain timestamped line per step, with no escape codes; `--quiet` shows
//! nothing. This module turns key presses into [`Input`]s and player events
//! into text; it does not steer the player itself.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crossbeam_channel::Sender;
use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use crate::play::player::PlayerEvent;
use crate::script::duration;
use crate::script::timeline::{Sound, to_duration};
use crate::session::Segment;

/// What a key press asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    TogglePause,
    /// From a media button that says which it wants.
    Pause,
    Resume,
    Next,
    Back,
    VolumeUp,
    VolumeDown,
    /// `q` or Esc.
    Quit,
    /// Enter, or a headset's stop button: finish this round, then the
    /// closing. At a `Wait` step, Enter goes on instead.
    Finish,
    /// `t`, or a double press of the headset's play button: say the time
    /// left in the hold and where the session is.
    WhereAmI,
    /// Ctrl-C, which raw mode delivers as a key.
    Interrupt,
    /// The terminal is gone (the end of its input): stop, as for `q`.
    Closed,
    /// A digit key, 0–9: the answer to the question after a session (how
    /// tender it was); ignored while the session plays.
    Digit(u8),
}

/// The key map, in one place: it is also the help line.
pub fn input_for(key: &KeyEvent) -> Option<Input> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    Some(match key.code {
        KeyCode::Char('c') | KeyCode::Char('d') if ctrl => Input::Interrupt,
        KeyCode::Char(' ') => Input::TogglePause,
        KeyCode::Right | KeyCode::Char('n') => Input::Next,
        KeyCode::Left | KeyCode::Char('p') => Input::Back,
        KeyCode::Char('+') | KeyCode::Char('=') | KeyCode::Up => Input::VolumeUp,
        KeyCode::Char('-') | KeyCode::Char('_') | KeyCode::Down => Input::VolumeDown,
        KeyCode::Char('q') | KeyCode::Esc => Input::Quit,
        KeyCode::Enter => Input::Finish,
        KeyCode::Char('t') => Input::WhereAmI,
        KeyCode::Char(c @ '0'..='9') => Input::Digit(c as u8 - b'0'),
        _ => return None,
    })
}

pub const HELP: &str = "space pause · ←/→ step · t time left · Enter last round · +/- volume · q stop";

/// Reads keys on a thread of its own while the terminal is in raw mode;
/// dropping it restores the terminal.
///
/// It reads the terminal itself (poll, then read) rather than through
/// crossterm's event reader, which loops forever on a terminal that has
/// gone (a read of 0 bytes): here the end of input, or an error, sends
/// [`Input::Closed`] and ends the thread.
pub struct Keyboard {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Keyboard {
    /// Starts reading keys, if stdin is a terminal.
    pub fn start(inputs: Sender<Input>) -> Option<Keyboard> {
        if !std::io::stdin().is_terminal() || crossterm::terminal::enable_raw_mode().is_err() {
            return None;
        }
        restore_terminal_on_panic();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let trace = crate::trace::timing();
        let thread = std::thread::Builder::new()
            .name("backease-keys".into())
            .spawn(move || {
                let stdin = std::io::stdin();
                let mut buf = [0u8; 256];
                while !flag.load(Ordering::Relaxed) {
                    let keys = match read_terminal(&stdin, &mut buf, Duration::from_millis(50)) {
                        Read::Nothing => continue,
                        Read::Bytes(n) => parse_keys(&buf[..n]),
                        Read::Closed => {
                            let _ = inputs.send(Input::Closed);
                            return;
                        }
                    };
                    for input in keys.iter().filter_map(input_for) {
                        if trace {
                            eprintln!("timing: key {input:?} at {} ms", crate::trace::started().elapsed().as_millis());
                        }
                        if inputs.send(input).is_err() {
                            return;
                        }
                    }
                }
            })
            .ok()?;
        Some(Keyboard { stop, thread: Some(thread) })
    }
}

/// What one look at the terminal found.
enum Read {
    Nothing,
    Bytes(usize),
    /// The end of input, or an error: the terminal is gone.
    Closed,
}

/// Waits up to `wait` for input, then reads what there is.
fn read_terminal(stdin: &std::io::Stdin, buf: &mut [u8], wait: Duration) -> Read {
    use nix::errno::Errno;
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    use std::os::fd::AsFd;
    let mut fds = [PollFd::new(stdin.as_fd(), PollFlags::POLLIN)];
    let timeout = PollTimeout::try_from(wait).unwrap_or(PollTimeout::MAX);
    match poll(&mut fds, timeout) {
        Ok(0) | Err(Errno::EINTR) => return Read::Nothing,
        Ok(_) => {}
        Err(_) => return Read::Closed,
    }
    let ready = fds[0].revents().unwrap_or(PollFlags::empty());
    if ready.contains(PollFlags::POLLNVAL) {
        return Read::Closed;
    }
    // POLLIN, POLLHUP or POLLERR: a read now does not block, and says which.
    match nix::unistd::read(stdin.as_fd(), buf) {
        Ok(0) => Read::Closed,
        Ok(n) => Read::Bytes(n),
        Err(Errno::EINTR | Errno::EAGAIN) => Read::Nothing,
        Err(_) => Read::Closed,
    }
}

/// The keys in what a terminal in raw mode sent: characters, control keys
/// and the escape sequences of the arrow keys. Other sequences are skipped;
/// a lone ESC is the Esc key.
pub fn parse_keys(bytes: &[u8]) -> Vec<KeyEvent> {
    let mut keys = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        i += 1;
        let code = match b {
            0x1b => match bytes.get(i) {
                None | Some(0x1b) => KeyCode::Esc,
                Some(b'[' | b'O') => {
                    // A CSI or SS3 sequence runs to its final byte (@ to ~).
                    let end = bytes[i + 1..].iter().position(|c| (0x40..=0x7e).contains(c));
                    let Some(end) = end.map(|e| i + 1 + e) else { break };
                    let code = match (end == i + 1, bytes[end]) {
                        (true, b'A') => Some(KeyCode::Up),
                        (true, b'B') => Some(KeyCode::Down),
                        (true, b'C') => Some(KeyCode::Right),
                        (true, b'D') => Some(KeyCode::Left),
                        _ => None,
                    };
                    i = end + 1;
                    match code {
                        Some(c) => c,
                        None => continue,
                    }
                }
                // Alt and a key: not one of ours.
                Some(_) => {
                    i += 1;
                    continue;
                }
            },
            0x01..=0x1a if !matches!(b, b'\r' | b'\n' | b'\t') => {
                keys.push(KeyEvent::new(KeyCode::Char((b'a' + b - 1) as char), KeyModifiers::CONTROL));
                continue;
            }
            b'\r' | b'\n' => {
                // A terminal may send Enter as "\r\n": one press.
                if b == b'\r' && bytes.get(i) == Some(&b'\n') {
                    i += 1;
                }
                KeyCode::Enter
            }
            0x7f => KeyCode::Backspace,
            0x20..=0x7e => KeyCode::Char(b as char),
            // The rest of a UTF-8 character, or other control bytes.
            _ => continue,
        };
        keys.push(KeyEvent::new(code, KeyModifiers::NONE));
    }
    keys
}

impl Drop for Keyboard {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = crossterm::terminal::disable_raw_mode();
    }
}

/// A panic must not leave the terminal in raw mode.
fn restore_terminal_on_panic() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let _ = crossterm::terminal::disable_raw_mode();
            let _ = crossterm::execute!(std::io::stdout(), crossterm::cursor::Show);
            previous(info);
        }));
    });
}

/// How much the display shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// A block redrawn in place.
    Terminal,
    /// One plain line per step.
    Plain,
    /// Nothing but errors.
    Quiet,
}

impl Style {
    pub fn detect(quiet: bool) -> Style {
        // A dumb terminal cannot move its cursor: it gets plain lines.
        let dumb = std::env::var_os("TERM").is_some_and(|t| t == "dumb");
        if quiet {
            Style::Quiet
        } else if std::io::stdout().is_terminal() && !dumb {
            Style::Terminal
        } else {
            Style::Plain
        }
    }
}

/// The time the `Wait` steps of a segment took as played, against their
/// length in the timeline (their timeout): one let go early took less.
#[derive(Debug, Default)]
struct WaitClock {
    /// The segment the difference is for; another starts from nothing.
    segment: u32,
    /// Samples played minus samples in the timeline, for the waits so far.
    difference: i64,
    /// The wait being held at: when it began, and how long it has been
    /// paused.
    current: Option<(std::time::Instant, Duration)>,
    paused_at: Option<std::time::Instant>,
}

impl WaitClock {
    fn begin(&mut self) {
        self.current = Some((std::time::Instant::now(), Duration::ZERO));
    }

    /// The wait of `length` samples in `segment`'s timeline is over: let
    /// go by a key, or at its timeout.
    fn end(&mut self, segment: u32, length: u64) {
        let Some((began, paused)) = self.current.take() else { return };
        if segment != self.segment {
            (self.segment, self.difference) = (segment, 0);
        }
        let held = crate::script::timeline::samples(began.elapsed().saturating_sub(paused));
        self.difference += held as i64 - length as i64;
    }

    fn pause(&mut self, paused: bool) {
        match (paused, self.paused_at) {
            (true, None) => self.paused_at = Some(std::time::Instant::now()),
            (false, Some(at)) => {
                self.paused_at = None;
                if let Some((_, p)) = self.current.as_mut() {
                    *p += at.elapsed();
                }
            }
            _ => {}
        }
    }

    /// `sample` of `segment`'s timeline as time played.
    fn played(&self, segment: u32, sample: u64) -> u64 {
        let difference = if segment == self.segment { self.difference } else { 0 };
        sample.saturating_add_signed(difference)
    }
}

/// What the display knows of the session.
pub struct Display {
    style: Style,
    title: String,
    looped: bool,
    segments: crate::session::Segments,
    /// (segment, step index) playing.
    step: Option<(u32, usize)>,
    position: (u32, u64),
    paused: bool,
    /// Waiting at a `Wait` step for a key.
    waiting: bool,
    /// How much longer (or, released early, shorter) than the timeline
    /// says the waits of a segment took: the clocks show time played.
    waits: WaitClock,
    /// Standing at a cue whose speech is still being made.
    starved: bool,
    /// Asked to finish after this round.
    finishing: bool,
    /// The closing segment of an endless session, by number, once it plays.
    closing: Option<(u32, Arc<Segment>)>,
    /// The output was lost and is being opened again.
    reconnecting: bool,
    volume: f32,
    drawn: usize,
    /// The block is drawn in colour (`ui::colour` decides).
    colour: bool,
    /// "\r\n" while the terminal is raw, where "\n" alone does not return
    /// the cursor.
    newline: &'static str,
}

impl Display {
    pub fn new(style: Style, title: &str, first: Arc<Segment>, looped: bool, volume: f32, raw: bool) -> Display {
        Display {
            newline: if raw { "\r\n" } else { "\n" },
            style,
            title: title.to_string(),
            looped,
            segments: crate::session::Segments::new(first),
            step: None,
            position: (0, 0),
            paused: false,
            waiting: false,
            waits: WaitClock::default(),
            starved: false,
            finishing: false,
            closing: None,
            reconnecting: false,
            volume,
            drawn: 0,
            colour: style == Style::Terminal && crate::ui::colour(crate::ui::Stream::Stdout),
        }
    }

    /// Takes in a player event and shows what changed.
    pub fn event(&mut self, ev: &PlayerEvent, out: &mut dyn Write) {
        match ev {
            PlayerEvent::Step { index, segment, event } => {
                self.step = Some((*segment, *index));
                self.position = (*segment, event.start);
                if self.style == Style::Plain {
                    let (kind, what) = crate::script::show::describe(event);
                    let round = match () {
                        _ if event.section == crate::script::Section::Closing && self.looped => "closing  ".into(),
                        _ if self.looped => format!("round {}  ", segment + 1),
                        _ => String::new(),
                    };
                    let at = duration::clock(to_duration(self.waits.played(*segment, event.start)));
                    let _ = write!(out, "{round}{at}  {kind:<8} {what}{}", self.newline);
                }
            }
            PlayerEvent::Position { segment, sample, .. } => self.position = (*segment, *sample),
            PlayerEvent::Round(segment) => self.segments.push(segment.clone()),
            PlayerEvent::Grown(segment) => {
                self.segments.replace(0, segment.clone());
            }
            PlayerEvent::Paused => {
                self.paused = true;
                self.waits.pause(true);
                self.plain_line(out, "paused");
            }
            PlayerEvent::Resumed => {
                self.paused = false;
                self.waits.pause(false);
                self.plain_line(out, "resumed");
            }
            PlayerEvent::Volume(v) => {
                self.volume = *v;
                self.plain_line(out, &format!("volume {:.0} %", v * 100.0));
            }
            PlayerEvent::Waiting(w) => {
                self.waiting = *w;
                if *w {
                    self.waits.begin();
                } else if let Some((segment, length)) = self.wait_step() {
                    self.waits.end(segment, length);
                }
                if *w {
                    self.plain_line(out, "waiting: space, Enter or the headset button goes on");
                }
            }
            PlayerEvent::Starved(s) => {
                self.starved = *s;
                if *s {
                    self.plain_line(out, "waiting for the voice: the next words are still being made");
                }
            }
            PlayerEvent::Finishing => {
                self.finishing = true;
                self.plain_line(out, "last round: the closing follows");
            }
            PlayerEvent::Closing(number, segment) => self.closing = Some((*number, segment.clone())),
            PlayerEvent::Say(text) => self.plain_line(out, &format!("“{text}”")),
            PlayerEvent::Reconnecting(why) => {
                self.reconnecting = true;
                self.plain_line(out, &format!("the sound output stopped ({why}); trying to open it again"));
            }
            PlayerEvent::Reconnected => {
                self.reconnecting = false;
                self.plain_line(out, "the sound output is back; going on");
            }
            PlayerEvent::Finished { .. } | PlayerEvent::Lost(_) => {}
        }
        if self.style == Style::Terminal {
            self.draw(out);
        }
        let _ = out.flush();
    }

    /// The `Wait` step playing, if one is: its segment and its length in
    /// the timeline.
    fn wait_step(&mut self) -> Option<(u32, u64)> {
        let (segment, index) = self.step?;
        let e = self.segments.get(segment)?.timeline.events.get(index).cloned()?;
        matches!(e.sound, Sound::Wait { .. }).then_some((segment, e.length))
    }

    fn plain_line(&self, out: &mut dyn Write, text: &str) {
        if self.style == Style::Plain {
            let at = self.waits.played(self.position.0, self.position.1);
            let _ = write!(out, "{}  {text}{}", duration::clock(to_duration(at)), self.newline);
        }
    }

    /// The block's lines, without escape codes: what a person sees.
    pub fn lines(&mut self) -> Vec<String> {
        let closing = self.closing.as_ref().filter(|(n, _)| *n == self.position.0).map(|(_, s)| s.clone());
        let closing_shown = closing.is_some();
        let Some(seg) = closing.or_else(|| self.segments.get(self.position.0)) else { return Vec::new() };
        let t = &seg.timeline;
        let pos = self.position.1.min(t.total);
        let round = match () {
            _ if closing_shown => " · closing".to_string(),
            _ if self.looped => format!(" · round {}", self.position.0 + 1),
            _ => String::new(),
        };
        let mut lines = vec![format!("backease · {}{round}", self.title)];
        let step = self.step.filter(|(s, _)| *s == self.position.0).and_then(|(_, i)| t.events.get(i));
        let steps = t.steps().count();
        let number = self.step.map_or(0, |(_, i)| t.steps().take_while(|(j, _)| *j <= i).count());
        match step {
            Some(e) => {
                let (kind, what) = crate::script::show::describe(e);
                let left = duration::clock(to_duration(e.end().saturating_sub(pos)));
                let status = match e.sound {
                    Sound::Hold | Sound::Strokes(_) | Sound::Silence | Sound::Rest => format!("  {left} left"),
                    _ => String::new(),
                };
                lines.push(format!("step {number}/{steps}  {kind} {what}{status}"));
                // A cue spoken over a hold or strokes.
                let over = t.events.iter().rev().find(|o| o.overlay && o.start <= pos && pos < o.end());
                match over.map(|o| &o.sound) {
                    Some(Sound::Speech(words)) => lines.push(format!("  “{words}”")),
                    _ => lines.push(String::new()),
                }
            }
            None => lines.extend([String::from("starting…"), String::new()]),
        }
        lines.push(self.progress(t, pos, closing_shown));
        let state = if self.reconnecting {
            "NO SOUND — the output stopped; trying to open it again · q stops".to_string()
        } else if self.paused {
            "PAUSED — space resumes · q stops".to_string()
        } else if self.waiting {
            "WAITING — space, Enter or the headset button goes on · q stops".to_string()
        } else if self.starved {
            "WAITING FOR THE VOICE — the next words are still being made · q stops".to_string()
        } else if self.finishing {
            "LAST ROUND — the closing follows · q stops now".to_string()
        } else {
            HELP.to_string()
        };
        lines.push(format!("{state} · volume {:.0} %", self.volume * 100.0));
        lines
    }

    /// The progress line of timeline `t` at `pos`: the time played and
    /// the length, with a bar when the session's end is known.
    fn progress(&self, t: &crate::script::timeline::Timeline, pos: u64, closing: bool) -> String {
        // Time played, and the length as played: a wait let go early
        // shortens both (it played less than its timeout).
        let (played, length) = (self.waits.played(self.position.0, pos), self.waits.played(self.position.0, t.total));
        let (elapsed, length_samples, length) = (to_duration(played), length, to_duration(length));
        // Until its speech is made or found in the cache, a segment's length
        // is a guess: marked as `Timeline::length_shown` marks it.
        let about = if t.estimated { "≈" } else { "" };
        if closing {
            format!("the closing: {} of {about}{}", duration::clock(elapsed), duration::clock(length))
        } else if self.looped {
            format!("{} into this round of {about}{}", duration::clock(elapsed), duration::clock(length))
        } else {
            let width = 30;
            let filled = (played.min(length_samples) as u128 * width as u128 / length_samples.max(1) as u128) as usize;
            format!(
                "[{}{}] {} / {about}{} · {about}{} left",
                "#".repeat(filled),
                "-".repeat(width - filled),
                duration::clock(elapsed),
                duration::clock(length),
                duration::clock(to_duration(t.total - pos))
            )
        }
    }

    fn draw(&mut self, out: &mut dyn Write) {
        let width = crossterm::terminal::size().map_or(80, |(w, _)| w as usize).max(20);
        let lines = self.lines();
        let mut text = String::new();
        if self.drawn > 0 {
            text += &format!("\r\x1b[{}A", self.drawn);
        }
        for (i, line) in lines.iter().enumerate() {
            let cut: String = line.chars().take(width - 1).collect();
            let cut = crate::ui::style::paint(&cut, self.line_style(i, lines.len()), self.colour);
            text += &format!("\r\x1b[2K{cut}\r\n");
        }
        self.drawn = lines.len();
        let _ = out.write_all(text.as_bytes());
    }

    /// How line `i` of the block's `count` is drawn in colour: the title
    /// bold, the state line red with no sound, yellow while the session
    /// stands or ends, else dim (the keys' help).
    fn line_style(&self, i: usize, count: usize) -> anstyle::Style {
        use crate::ui::style;
        match () {
            _ if i == 0 => style::TITLE,
            _ if i + 1 < count => anstyle::Style::new(),
            _ if self.reconnecting => style::ERROR,
            _ if self.paused || self.waiting || self.starved || self.finishing => style::WARNING,
            _ => style::DIM,
        }
    }

    /// A line of its own, before the block or after it.
    pub fn say(&mut self, out: &mut dyn Write, message: &str) {
        if self.style != Style::Quiet {
            let _ = write!(out, "{message}{}", self.newline);
            let _ = out.flush();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::Clips;

    fn key(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, modifiers)
    }

    #[test]
    fn keys_map_to_inputs() {
        let none = KeyModifiers::NONE;
        assert_eq!(input_for(&key(KeyCode::Char(' '), none)), Some(Input::TogglePause));
        assert_eq!(input_for(&key(KeyCode::Right, none)), Some(Input::Next));
        assert_eq!(input_for(&key(KeyCode::Char('n'), none)), Some(Input::Next));
        assert_eq!(input_for(&key(KeyCode::Left, none)), Some(Input::Back));
        assert_eq!(input_for(&key(KeyCode::Char('p'), none)), Some(Input::Back));
        assert_eq!(input_for(&key(KeyCode::Char('+'), none)), Some(Input::VolumeUp));
        assert_eq!(input_for(&key(KeyCode::Char('-'), none)), Some(Input::VolumeDown));
        assert_eq!(input_for(&key(KeyCode::Char('q'), none)), Some(Input::Quit));
        assert_eq!(input_for(&key(KeyCode::Esc, none)), Some(Input::Quit));
        assert_eq!(input_for(&key(KeyCode::Char('c'), KeyModifiers::CONTROL)), Some(Input::Interrupt));
        assert_eq!(input_for(&key(KeyCode::Char('x'), none)), None);
        assert_eq!(input_for(&key(KeyCode::Char('0'), none)), Some(Input::Digit(0)));
        assert_eq!(input_for(&key(KeyCode::Char('7'), none)), Some(Input::Digit(7)));
    }

    #[track_caller]
    fn check_keys(bytes: &[u8], expect: &[Input]) {
        let got: Vec<Input> = parse_keys(bytes).iter().filter_map(input_for).collect();
        assert_eq!(got, expect, "{bytes:?}");
    }

    #[test]
    fn bytes_from_the_terminal_are_keys() {
        use Input::*;
        check_keys(b" ", &[TogglePause]);
        check_keys(b"nnp", &[Next, Next, Back]);
        check_keys(b"\x1b[C\x1b[D\x1b[A\x1b[B", &[Next, Back, VolumeUp, VolumeDown]);
        check_keys(b"\x1bOC", &[Next]);
        check_keys(b"\x1b", &[Quit]);
        check_keys(b"\x1b\x1b[C", &[Quit, Next]);
        check_keys(b"\x03", &[Interrupt]);
        check_keys(b"\x04", &[Interrupt]);
        check_keys(b"+-=_q", &[VolumeUp, VolumeDown, VolumeUp, VolumeDown, Quit]);
        // Other sequences (F5, a mouse report), Alt and a key, UTF-8: nothing.
        check_keys(b"\x1b[15~\x1b[<0;3;4M\x1bq\xc3\xa9", &[]);
        // Enter, however the terminal sends it, and t.
        check_keys(b"\r\n\r\nt", &[Finish, Finish, WhereAmI]);
        // A sequence cut short is dropped.
        check_keys(b"n\x1b[1;", &[Next]);
    }

    #[test]
    fn a_wait_let_go_early_counts_only_the_time_it_held() {
        let (script, _) = crate::script::load(
            r#"Routine(title: "W", summary: "S", steps: [Say("a"), Wait(text: "Ready?", timeout: "1m"), Say("b")])"#,
            None,
            "t",
        );
        let mut clips = crate::session::Clips::default();
        for t in ["a", "Ready?", "b"] {
            clips.speech.insert(t.into(), vec![1; 8 * crate::script::timeline::SAMPLE_RATE as usize].into());
        }
        let timeline = crate::script::timeline::compile(&script.unwrap(), &Default::default(), &clips);
        let wait = timeline.events.iter().position(|e| matches!(e.sound, Sound::Wait { .. })).unwrap();
        let (at, end) = (timeline.events[wait].start, timeline.events[wait].end());
        let seg = Arc::new(Segment::new(timeline.clone(), Arc::new(clips)));
        let mut d = Display::new(Style::Quiet, "W", seg, false, 1.0, false);
        let mut sink = Vec::new();
        d.event(&PlayerEvent::Step { index: wait, event: timeline.events[wait].clone(), segment: 0 }, &mut sink);
        d.event(&PlayerEvent::Waiting(true), &mut sink);
        d.event(&PlayerEvent::Position { segment: 0, sample: at, total: 0 }, &mut sink);
        assert_eq!(d.lines()[3], "[#####-------------------------] 00:16 / 01:24 · 01:08 left");
        // Space at once: the minute's timeout was not played, so the clock
        // goes on from 00:16, and the session is that much shorter.
        d.event(&PlayerEvent::Waiting(false), &mut sink);
        d.event(
            &PlayerEvent::Step { index: wait + 1, event: timeline.events[wait + 1].clone(), segment: 0 },
            &mut sink,
        );
        d.event(&PlayerEvent::Position { segment: 0, sample: end, total: 0 }, &mut sink);
        assert_eq!(d.lines()[3], "[####################----------] 00:16 / 00:24 · 00:08 left");
    }

    #[test]
    fn the_closing_of_an_endless_session_is_not_called_a_round() {
        let (script, _) = crate::script::load(r#"Routine(title: "L", summary: "S", steps: [Pause("3s")])"#, None, "t");
        let timeline = crate::script::timeline::compile(&script.unwrap(), &Default::default(), &Clips::default());
        let seg = Arc::new(Segment::new(timeline.clone(), Arc::new(Clips::default())));
        let mut d = Display::new(Style::Quiet, "L", seg.clone(), true, 1.0, false);
        let mut sink = Vec::new();
        d.event(&PlayerEvent::Position { segment: 0, sample: 48_000, total: 0 }, &mut sink);
        assert_eq!(d.lines()[3], "00:01 into this round of 00:03");
        // The closing, played to its end.
        d.event(&PlayerEvent::Closing(1, seg), &mut sink);
        d.event(&PlayerEvent::Position { segment: 1, sample: timeline.total, total: 0 }, &mut sink);
        assert_eq!(d.lines()[0], "backease · L · closing");
        assert_eq!(d.lines()[3], "the closing: 00:03 of 00:03");
    }

    #[test]
    fn the_block_shows_step_countdown_and_progress() {
        let (script, _) = crate::script::load(
            r#"Routine(title: "Test", summary: "S", steps: [Say("lean in"), Hold(length: "30s", cues: [At("10s", "breathe out")])])"#,
            None,
            "t",
        );
        let script = script.unwrap();
        let mut clips = crate::session::Clips::default();
        for t in ["lean in", "breathe out"] {
            clips.speech.insert(t.into(), vec![1; 2 * crate::script::timeline::SAMPLE_RATE as usize].into());
        }
        let timeline = crate::script::timeline::compile(&script, &Default::default(), &clips);
        let hold = timeline.events[1].clone();
        let seg = Arc::new(Segment::new(timeline, Arc::new(clips)));
        let mut d = Display::new(Style::Quiet, "Test", seg, false, 1.0, false);
        let mut sink = Vec::new();
        d.event(&PlayerEvent::Step { index: 1, event: hold.clone(), segment: 0 }, &mut sink);
        // Eleven seconds into the hold: the cue at 10 s is being spoken.
        d.event(
            &PlayerEvent::Position {
                segment: 0,
                sample: hold.start + 11 * crate::script::timeline::SAMPLE_RATE as u64,
                total: 0,
            },
            &mut sink,
        );
        expect_test::expect![[r#"
            backease · Test
            step 2/2  hold 30s of silence  00:19 left
              “breathe out”
            [############------------------] 00:13 / 00:32 · 00:19 left
            space pause · ←/→ step · t time left · Enter last round · +/- volume · q stop · volume 100 %"#]]
        .assert_eq(&d.lines().join("\n"));
        d.event(&PlayerEvent::Paused, &mut sink);
        assert!(d.lines()[4].starts_with("PAUSED"));
        assert!(sink.is_empty(), "quiet shows nothing");

        // While its speech is still being made, its length is known if the
        // cache had it, a guess if not.
        let mut partial = (*d.segments.get(0).unwrap()).clone();
        partial.ready = Some(hold.start);
        d.event(&PlayerEvent::Grown(Arc::new(partial.clone())), &mut sink);
        assert_eq!(d.lines()[3], "[############------------------] 00:13 / 00:32 · 00:19 left");
        partial.timeline.estimated = true;
        d.event(&PlayerEvent::Grown(Arc::new(partial)), &mut sink);
        assert_eq!(d.lines()[3], "[############------------------] 00:13 / ≈00:32 · ≈00:19 left");
    }
}
