//! How a live session ends when something outside it goes wrong: the
//! terminal vanishes, the sound server dies, a signal comes while speech is
//! being made. The real binary runs in tmux or as a child, against the
//! test's own PulseAudio; processes are watched through /proc.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::{
    Bounded, Guarded, PrivateBus, Pulse, RECORD_RATE, Sandbox, Tmux, onsets, pane_backease, pane_command, read_raw,
    stop,
};

/// A routine that plays long enough for anything to happen to it.
const LONG: &str = r#"Routine(title: "Long", summary: "s", steps: [Chime("tick"), Pause("30s"), Chime("tick")])"#;

/// A process the test did not start directly (it runs in tmux), killed
/// on drop if it is still there.
struct Process(u32);

impl Drop for Process {
    fn drop(&mut self) {
        if alive(self.0) {
            signal(self.0, "KILL");
        }
    }
}

fn signal(pid: u32, name: &str) {
    let ok = std::process::Command::new("kill").arg(format!("-{name}")).arg(pid.to_string()).status().unwrap();
    assert!(ok.success(), "kill -{name} {pid}");
}

/// Whether a process exists and is not a zombie.
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|s| s.rsplit_once(") ").is_some_and(|(_, rest)| !rest.starts_with('Z')))
}

/// CPU time a process has used, in clock ticks (user + system).
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(") ")?.1.split(' ').collect();
    Some(fields[11].parse::<u64>().ok()? + fields[12].parse::<u64>().ok()?)
}

/// The processes whose command line contains `needle`.
fn processes_with(needle: &str) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmdline).replace('\0', " ").contains(needle) && alive(pid) {
            found.push(pid);
        }
    }
    found
}

/// Waits for a process named in `needle` (a path in the sandbox) to appear.
fn wait_for_process(needle: &str, limit: Duration) -> u32 {
    let start = Instant::now();
    loop {
        let pids: Vec<u32> = processes_with(needle)
            .into_iter()
            .filter(|p| std::fs::read_to_string(format!("/proc/{p}/comm")).is_ok_and(|c| c.trim() == "backease"))
            .collect();
        if let [pid] = pids[..] {
            return pid;
        }
        assert!(start.elapsed() < limit, "no backease running {needle}: {pids:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Reads a file the shell in the pane writes at the end, such as an exit code.
fn wait_for_file(path: &Path, limit: Duration) -> String {
    let start = Instant::now();
    loop {
        if let Ok(text) = std::fs::read_to_string(path)
            && text.ends_with('\n')
        {
            return text.trim().to_string();
        }
        assert!(start.elapsed() < limit, "{} was never written", path.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The speech for `LONG`'s notices, made once, so sessions start at once.
fn warm(sb: &Sandbox) -> String {
    let script = sb.write("long.ron", LONG);
    assert_eq!(sb.run(&["render", "long.ron", "-o", "warm.wav"]).code, 0);
    script.display().to_string()
}

/// The terminal goes away under a session. `how` starts backease in the
/// pane (`{bin}` is the command line that runs it, `{exec}` the same with
/// the shell replaced by it, `{code}` a file for its exit code); the signal
/// `then`, if any, is sent to it once the terminal is gone.
#[track_caller]
fn check_terminal_loss(how: &str, then: Option<&str>, code: Option<&str>) {
    check_terminal_loss_on(how, then, code, None);
}

/// [`check_terminal_loss`], with backease on `bus` (its media buttons
/// registered there) if given.
#[track_caller]
fn check_terminal_loss_on(how: &str, then: Option<&str>, code: Option<&str>, bus: Option<&PrivateBus>) {
    let sb = Sandbox::new();
    let script = warm(&sb);
    let pulse = Pulse::start(&sb);
    let code_file = sb.path().join("code");
    let mut bin = format!("{} play '{script}'", pane_backease(&sb, &pulse));
    if let Some(bus) = bus {
        bin = bin.replace("unix:path=/nonexistent/backease-test-bus", &bus.address);
    }
    let command = how
        .replace("{exec}", &bin.replacen(" && env ", " && exec env ", 1))
        .replace("{bin}", &bin)
        .replace("{code}", &code_file.display().to_string());
    let tmux = Tmux::start(&sb, &command);
    let pid = wait_for_process(&script, Duration::from_secs(20));
    let began = Instant::now();
    let _guard = Process(pid);
    tmux.wait_for("pause 30s", Duration::from_secs(20));
    // On a bus, 4 s into the session, as the issue measured (the media
    // buttons' D-Bus thread wakes once a second from its start).
    let bound = match bus {
        Some(_) => {
            std::thread::sleep(Duration::from_secs(4).saturating_sub(began.elapsed()));
            Duration::from_millis(800)
        }
        None => Duration::from_millis(1200),
    };
    let before = cpu_ticks(pid).unwrap();
    let gone = Instant::now();
    tmux.tmux(&["kill-server"]);
    if let Some(sig) = then {
        signal(pid, sig);
    }
    // Its CPU time until it ended (or until now, if it never does).
    let mut spent = 0;
    while alive(pid) && gone.elapsed() < Duration::from_secs(3) {
        spent = cpu_ticks(pid).unwrap_or(before) - before;
        std::thread::sleep(Duration::from_millis(10));
    }
    let took = gone.elapsed();
    assert!(!alive(pid), "backease still runs {took:?} after its terminal went away, {spent} ticks of CPU");
    // It ends in about a quarter of a second (benches/lifecycle.sh); the
    // bound leaves room for a loaded machine.
    assert!(took < bound, "took {took:?} to end");
    // Linux counts CPU time in hundredths of a second.
    let hz = 100;
    assert!(spent < hz / 4, "it spun: {spent} ticks of CPU in {took:?}");
    if let Some(code) = code {
        assert_eq!(wait_for_file(&code_file, Duration::from_secs(5)), code);
    }
}

#[test]
fn a_session_whose_terminal_is_killed_ends() {
    // backease leads the pane's session, so the kernel hangs it up (SIGHUP).
    check_terminal_loss("{exec}", None, None);
}

#[test]
fn a_session_whose_terminal_is_gone_ends_like_q() {
    // The shell before it shields it from the hang-up signal: it learns of
    // the loss by reading its input, which has ended.
    check_terminal_loss("trap '' HUP; {bin}; echo $? > '{code}'", None, Some("0"));
}

#[test]
fn sighup_after_the_terminal_is_gone_exits_129() {
    check_terminal_loss("trap '' HUP; {bin}; echo $? > '{code}'", Some("HUP"), Some("129"));
}

#[test]
fn a_session_with_input_at_its_end_plays_on_without_spinning() {
    let sb = Sandbox::new();
    let script = warm(&sb);
    let pulse = Pulse::start(&sb);
    for stdin in ["null", "closed pipe"] {
        let mut cmd = sb.command(&["play", &script]);
        pulse.apply(&mut cmd);
        cmd.stdin(if stdin == "null" { Stdio::null() } else { Stdio::piped() }).stdout(Stdio::piped());
        let mut child = Guarded::spawn(&mut cmd);
        drop(child.stdin.take());
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        assert!(lines.any(|l| l.unwrap().contains("pause")), "stdin {stdin}: it plays");
        let pid = child.id();
        let before = cpu_ticks(pid).unwrap();
        std::thread::sleep(Duration::from_millis(1500));
        let spent = cpu_ticks(pid).unwrap() - before;
        assert!(spent < 15, "stdin {stdin}: {spent} ticks of CPU in 1.5 s of silence");
        assert!(child.try_wait().unwrap().is_none(), "stdin {stdin}: still playing, not stopped");
        signal(pid, "INT");
        assert_eq!(child.wait_within(Duration::from_secs(20)).code(), Some(130));
    }
}

/// A signal sent to `play` in a terminal: the exit code and the terminal
/// restored.
#[track_caller]
fn check_signal_in_terminal(sig: &str, code: u8) {
    let sb = Sandbox::new();
    let script = warm(&sb);
    let pulse = Pulse::start(&sb);
    let tmux = Tmux::start(&sb, &pane_command(&sb, &pulse, &format!("play '{script}'")));
    let pid = wait_for_process(&script, Duration::from_secs(20));
    let _guard = Process(pid);
    tmux.wait_for("pause 30s", Duration::from_secs(20));
    signal(pid, sig);
    let screen = tmux.wait_for("icanon", Duration::from_secs(10));
    assert!(screen.contains(&format!("EXIT={code}\nicanon")), "SIG{sig}: exit {code}, terminal restored:\n{screen}");
}

#[test]
fn sigquit_restores_the_terminal_and_exits_131() {
    check_signal_in_terminal("QUIT", 131);
}

#[test]
fn sigterm_restores_the_terminal_and_exits_143() {
    check_signal_in_terminal("TERM", 143);
}

#[test]
fn sighup_in_a_terminal_exits_129() {
    check_signal_in_terminal("HUP", 129);
}

/// The sound server is killed mid-session; if `comes_back`, a new one is
/// started in its place a moment later. Returns the session's stdout and
/// stderr, and its exit code.
fn kill_the_sound_server(comes_back: bool) -> (String, String, Option<i32>) {
    let sb = Sandbox::new();
    let script = sb.write(
        "short.ron",
        r#"Routine(title: "Short", summary: "s", steps: [Chime("tick"), Pause("4s"), Chime("tick")])"#,
    );
    assert_eq!(sb.run(&["render", "short.ron", "-o", "warm.wav"]).code, 0);
    let mut pulse = Pulse::start(&sb);
    let mut cmd = sb.command(&["play", script.to_str().unwrap()]);
    pulse.apply(&mut cmd);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = Guarded::spawn(&mut cmd);
    // Its lines as they come, each with when it came.
    let (tx, lines) = crossbeam_channel::unbounded();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    std::thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            let _ = tx.send((Instant::now(), line));
        }
    });
    let mut seen = String::new();
    let mut wait_line = |text: &str, limit: Duration| -> Option<Instant> {
        let deadline = Instant::now() + limit;
        while let Ok((at, line)) = lines.recv_deadline(deadline) {
            seen += &format!("{line}\n");
            if line.contains(text) {
                return Some(at);
            }
        }
        None
    };
    assert!(wait_line("pause", Duration::from_secs(20)).is_some(), "it plays");
    let died = Instant::now();
    pulse.kill();
    let told = wait_line("the sound output stopped", Duration::from_secs(5)).map(|t| t - died);
    assert!(told.is_some_and(|t| t < Duration::from_secs(2)), "told after {told:?}");
    let mut heard = Vec::new();
    if comes_back {
        pulse = Pulse::start(&sb);
        let recording = sb.path().join("rec.raw");
        let recorder = pulse.record(&recording, RECORD_RATE);
        assert!(wait_line("the sound output is back", Duration::from_secs(10)).is_some(), "reconnected");
        wait_line("never", Duration::from_secs(8));
        stop(recorder);
        heard = onsets(&read_raw(&recording));
    }
    let status = child.wait_timeout(Duration::from_secs(15)).and_then(|s| s.code());
    wait_line("never", Duration::from_millis(200));
    // Its stderr ends with it: a session still running is ended first.
    let _ = child.kill();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    if comes_back {
        // "Resuming.", then the last tick, from the new server.
        assert_eq!(heard.len(), 2, "heard after reconnecting: {heard:?}\n{seen}{stderr}");
    }
    (seen, stderr, status)
}

#[test]
fn the_sound_server_dying_ends_the_session_with_exit_4() {
    let (_, stderr, code) = kill_the_sound_server(false);
    assert_eq!(code, Some(4), "{stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.starts_with("warning: headset")).collect();
    assert!(
        lines.len() <= 2 && lines[0].starts_with("backease: error: the sound output stopped"),
        "one line saying so: {stderr}"
    );
}

#[test]
fn a_sound_server_that_comes_back_gets_the_rest_of_the_session() {
    let (stdout, stderr, code) = kill_the_sound_server(true);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.ends_with("Session complete.\n"), "{stdout}");
}

/// A signal while a slow or hung speech command is making a cue: it ends
/// at once with the signal's code, its synthesizer killed, nothing half
/// written. `args` run backease; `synthesizer` is the command's shell line.
#[track_caller]
fn check_signal_while_preparing(args: &[&str], synthesizer: &str, sig: &str, code: i32) {
    let sb = Sandbox::new();
    sb.write("one.ron", r#"Routine(title: "One", summary: "s", steps: [Say("hello there")])"#);
    let pulse = Pulse::start(&sb);
    // A mark that finds the synthesizer's processes, and only this test's:
    // `sleep 6.000PID0N` sleeps for 6 s.
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mark = format!("000{}0{n}", std::process::id());
    let synthesizer = synthesizer.replace("{mark}", &mark);
    let sleeping = format!("sleep {}.{mark}", synthesizer.split("sleep ").nth(1).unwrap().split('.').next().unwrap());
    let mut all = args.to_vec();
    all.extend(["--engine", "command", "--command", &synthesizer]);
    let mut cmd = sb.command(&all);
    pulse.apply(&mut cmd);
    cmd.env("TMPDIR", sb.path()).stdout(Stdio::null()).stderr(Stdio::piped());
    let mut child = Guarded::spawn(&mut cmd);
    let _leftovers = Leftovers(sleeping.clone());
    let start = Instant::now();
    let pid = child.id();
    while processes_with(&sleeping).iter().all(|&p| p == pid) {
        if start.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            let mut stderr = String::new();
            std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
            panic!("the synthesizer never started ({sleeping:?}, {:?}): {stderr}", processes_with("sleep"));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(200));
    let sent = Instant::now();
    signal(child.id(), sig);
    let mut status = None;
    while sent.elapsed() < Duration::from_secs(20) {
        status = child.try_wait().unwrap();
        if status.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let took = sent.elapsed();
    let _ = child.kill();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.and_then(|s| s.code()), Some(code), "{args:?} SIG{sig}: {stderr}");
    assert!(took < Duration::from_secs(2), "{args:?} SIG{sig}: ended {took:?} after the signal");
    // Killed, the synthesizer's own children may take a moment to go.
    let killed = Instant::now();
    while !processes_with(&sleeping).is_empty() && killed.elapsed() < Duration::from_millis(500) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let left: Vec<String> = processes_with(&sleeping)
        .iter()
        .map(|p| std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default())
        .collect();
    assert!(left.is_empty(), "the synthesizer is left running: {left:?}");
    let mut left = Vec::new();
    for dir in [sb.path().to_path_buf(), sb.path().join("cache/backease/speech")] {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            // backease-*: the private folder a speech program writes its WAV in.
            if name.ends_with(".part")
                || name.ends_with(".wav")
                || name.ends_with(".pcm")
                || name.starts_with("backease-")
            {
                left.push(name);
            }
        }
    }
    // The notices were made before the cue, so only a cue's entry could be half.
    let cached = std::fs::read_dir(sb.path().join("cache/backease/speech")).map_or(0, |d| d.count());
    assert!(left.iter().all(|n| n.ends_with(".pcm")) && cached == left.len(), "{args:?}: left behind {left:?}");
}

/// Kills, on drop, whatever still runs with this in its command line.
struct Leftovers(String);

impl Drop for Leftovers {
    fn drop(&mut self) {
        for pid in processes_with(&self.0) {
            signal(pid, "KILL");
        }
    }
}

/// Speaks the notices at once, but the cue slowly (`slow`) or never.
fn synthesizer(slow: &str) -> String {
    format!(
        "t=$(cat); case \"$t\" in hello*) sleep {slow}.{{mark}};; esac; \
         sox -n -r 22050 -b 16 -c 1 {{out}} synth 0.2 sine 440"
    )
}

/// A speech program that leaves something running outside its process
/// group (a daemon that calls setsid), holding its output pipes open: the
/// cue is taken once the program itself has ended, not waited on forever.
#[test]
fn a_speech_program_that_leaves_a_daemon_behind_does_not_hold_the_render() {
    let sb = Sandbox::new();
    sb.write("one.ron", r#"Routine(title: "One", summary: "s", steps: [Say("hello there")])"#);
    let mark = format!("600.000{}", std::process::id());
    let _leftovers = Leftovers(format!("sleep {mark}"));
    let synthesizer =
        format!("setsid sleep {mark} & cat > /dev/null; sox -n -r 22050 -b 16 -c 1 {{out}} synth 0.2 sine 440");
    let mut cmd = sb.command(&["render", "one.ron", "-o", "out.wav", "--engine", "command", "--command", &synthesizer]);
    let started = Instant::now();
    let run = crate::support::run_within(Duration::from_secs(60), cmd.env("TMPDIR", sb.path()));
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(started.elapsed() < Duration::from_secs(30), "took {:?}", started.elapsed());
    assert!(!processes_with(&format!("sleep {mark}")).is_empty(), "the daemon was left running, as such things are");
    let left: Vec<String> = std::fs::read_dir(sb.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("backease-"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn ctrl_c_while_speech_is_made_stops_at_once() {
    check_signal_while_preparing(&["play", "one.ron"], &synthesizer("6"), "INT", 130);
}

#[test]
fn sigterm_while_a_hung_synthesizer_runs_stops_at_once() {
    check_signal_while_preparing(&["play", "one.ron"], &synthesizer("999"), "TERM", 143);
}

#[test]
fn ctrl_c_while_render_makes_speech_stops_at_once() {
    check_signal_while_preparing(&["render", "one.ron", "-o", "out.wav"], &synthesizer("6"), "INT", 130);
}

#[test]
fn warnings_come_before_the_display_on_a_terminal() {
    let sb = Sandbox::new();
    let script = warm(&sb);
    let pulse = Pulse::start(&sb);
    let tmux = Tmux::start(&sb, &pane_command(&sb, &pulse, &format!("play '{script}'")));
    let _guard = Process(wait_for_process(&script, Duration::from_secs(20)));
    let screen = tmux.wait_for("pause 30s", Duration::from_secs(20));
    tmux.keys("q");
    tmux.wait_for("EXIT=", Duration::from_secs(10));
    let lines: Vec<&str> = screen.lines().collect();
    let at = |prefix: &str| lines.iter().position(|l| l.starts_with(prefix));
    let warning = at("warning: headset and media buttons will not work");
    let playing = at("Playing long");
    let block = at("backease · Long");
    assert!(warning.is_some() && playing.is_some() && block.is_some(), "each at the start of a line:\n{screen}");
    assert!(warning < playing && playing < block, "warning, then the session:\n{screen}");
}

#[test]
fn a_dumb_terminal_gets_plain_lines() {
    let sb = Sandbox::new();
    let script = warm(&sb);
    let pulse = Pulse::start(&sb);
    let bin = pane_backease(&sb, &pulse);
    let tmux = Tmux::start(&sb, &format!("export TERM=dumb; {bin} play '{script}'; echo EXIT=$?; sleep 60"));
    let _guard = Process(wait_for_process(&script, Duration::from_secs(20)));
    let screen = tmux.wait_for("pause    30s", Duration::from_secs(20));
    tmux.keys("q");
    let end = tmux.wait_for("EXIT=", Duration::from_secs(10));
    assert!(!screen.contains("backease · Long"), "no block redrawn in place:\n{screen}");
    assert!(end.lines().any(|l| l.starts_with("00:00  pause    30s")), "plain lines:\n{end}");
    assert!(end.contains("Stopped.\nEXIT=0"), "{end}");
}

#[test]
fn quiet_prints_nothing_but_errors() {
    let sb = Sandbox::new();
    let pulse = Pulse::start(&sb);
    sb.write("short.ron", r#"Routine(title: "Short", summary: "s", steps: [Chime("tick")])"#);
    let mut cmd = sb.command(&["play", "--quiet", "short.ron"]);
    pulse.apply(&mut cmd);
    let out = cmd.output_bounded();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "", "not even the media buttons' warning");
}

// ── Ending without waiting on the outside world (issue 15) ──

/// With media buttons on a session bus, a closed terminal still ends the
/// session at once: leaving the bus used to hold the process for a second
/// (the D-Bus thread's wait), 1.1 s in all.
#[test]
fn a_session_with_media_buttons_whose_terminal_is_killed_ends_at_once() {
    let bus = PrivateBus::start();
    check_terminal_loss_on("{exec}", None, None, Some(&bus));
}
