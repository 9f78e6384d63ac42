//! Running the real binary in a sandbox of its own: a fresh config and
//! cache folder per test, so nothing on the machine leaks in or out.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        Sandbox { dir: tempfile::tempdir().expect("temp dir") }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn config_dir(&self) -> PathBuf {
        self.path().join("config")
    }

    pub fn scripts_dir(&self) -> PathBuf {
        self.config_dir().join("backease").join("scripts")
    }

    /// Writes a file under the sandbox and returns its path.
    pub fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p
    }

    pub fn command(&self, args: &[&str]) -> Command {
        self.command_through(&[], args)
    }

    /// [`Sandbox::command`], run through `wrapper` (a program and its
    /// arguments, e.g. `setpriv …`) that then runs the binary.
    pub fn command_through(&self, wrapper: &[&str], args: &[&str]) -> Command {
        let binary = env!("CARGO_BIN_EXE_backease");
        let mut cmd = match wrapper.split_first() {
            Some((program, rest)) => {
                let mut cmd = Command::new(program);
                cmd.args(rest).arg(binary);
                cmd
            }
            None => Command::new(binary),
        };
        cmd.args(args)
            .current_dir(self.path())
            .env("XDG_CONFIG_HOME", self.config_dir())
            .env("XDG_CACHE_HOME", self.path().join("cache"))
            // The practice log (and Piper's voices) live here: never the real one.
            .env("XDG_DATA_HOME", self.path().join(".local/share"))
            .env("HOME", self.path())
            .env_remove("PULSE_SERVER")
            // No session bus unless a test starts one of its own.
            .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/backease-test-bus")
            // No speech service either (one would be started on demand, and
            // outlive the test), unless a test starts one of its own.
            .env("SPEECHD_ADDRESS", "unix_socket:/nonexistent/backease-test-speechd.sock")
            .env("NO_COLOR", "1")
            .stdin(std::process::Stdio::null());
        cmd
    }

    /// Runs the binary to its end. Nothing a test runs may hang it: past
    /// [`RUN_LIMIT`] the run is killed and the test fails.
    #[track_caller]
    pub fn run(&self, args: &[&str]) -> Run {
        run_within(RUN_LIMIT, &mut self.command(args))
    }
}

impl Sandbox {
    /// Runs the binary like [`Sandbox::run`], but kills it and fails the
    /// test if it has not ended within `limit`: for inputs that used to hang.
    #[track_caller]
    pub fn run_within(&self, limit: std::time::Duration, cmd: &mut Command) -> Run {
        run_within(limit, cmd)
    }
}

/// The longest any one run of the binary may take in a test (the longest,
/// a render of over an hour of session in the tests' build, takes under a
/// minute): past it, something hangs.
pub const RUN_LIMIT: Duration = Duration::from_secs(300);

/// Runs a command, killing it (and failing) if it outlives `limit`. Its
/// output is read on threads, so a chatty process cannot block on a pipe.
#[track_caller]
pub fn run_within(limit: Duration, cmd: &mut Command) -> Run {
    let child = Guarded::spawn(cmd.stdout(Stdio::piped()).stderr(Stdio::piped()));
    let out = child.output_within(limit);
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// [`Command::output`] for the binary, bounded: past [`RUN_LIMIT`] the run
/// is killed and the test fails, rather than the suite hanging.
pub trait Bounded {
    fn output_bounded(&mut self) -> Output;
}

impl Bounded for Command {
    #[track_caller]
    fn output_bounded(&mut self) -> Output {
        Guarded::spawn(self.stdout(Stdio::piped()).stderr(Stdio::piped())).output_within(RUN_LIMIT)
    }
}

/// A process a test started, killed and reaped when dropped: a test that
/// fails part-way leaves nothing running. It is a [`Child`] otherwise.
pub struct Guarded(Child);

impl Guarded {
    #[track_caller]
    pub fn spawn(cmd: &mut Command) -> Guarded {
        Guarded(
            cmd.spawn()
                .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e} (bash .ci/setup installs what the tests run)")),
        )
    }

    /// Its exit status once it has ended, if within `limit`.
    pub fn wait_timeout(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.0.try_wait().expect("wait for a child") {
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits for it to end; past `limit` it is killed and the test fails.
    #[track_caller]
    pub fn wait_within(&mut self, limit: Duration) -> ExitStatus {
        match self.wait_timeout(limit) {
            Some(status) => status,
            None => panic!("process {} did not end within {limit:?}", self.0.id()),
        }
    }

    /// Its exit status and what it wrote to its piped stdout and stderr,
    /// like [`Child::wait_with_output`] but failing the test past `limit`.
    #[track_caller]
    pub fn output_within(mut self, limit: Duration) -> Output {
        let read = |pipe: Option<Box<dyn Read + Send>>| {
            std::thread::spawn(move || {
                let mut bytes = Vec::new();
                if let Some(mut pipe) = pipe {
                    let _ = pipe.read_to_end(&mut bytes);
                }
                bytes
            })
        };
        let stdout = read(self.0.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
        let stderr = read(self.0.stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
        let status = self.wait_within(limit);
        Output { status, stdout: stdout.join().unwrap(), stderr: stderr.join().unwrap() }
    }

    /// Sends it a signal by name (`"INT"`, `"TERM"`, `"STOP"`, …).
    pub fn signal(&self, name: &str) {
        let sent = Command::new("kill").args([&format!("-{name}"), &self.0.id().to_string()]).status();
        assert!(sent.is_ok_and(|s| s.success()), "kill -{name} {}", self.0.id());
    }
}

/// `backease ARGS` (a render) started, once it says it is rendering (within
/// a minute; its standard error is read to the end on a thread, so it never
/// blocks; its standard output is a pipe nobody reads); killed on drop.
#[track_caller]
pub fn rendering(sb: &Sandbox, args: &[&str]) -> Guarded {
    let mut child = Guarded::spawn(sb.command(args).stdout(Stdio::piped()).stderr(Stdio::piped()));
    let stderr = child.stderr.take().unwrap();
    let (tx, begun) = crossbeam_channel::bounded(1);
    std::thread::spawn(move || {
        for line in std::io::BufRead::lines(std::io::BufReader::new(stderr)).map_while(Result::ok) {
            if line.starts_with("rendering:") {
                let _ = tx.try_send(());
            }
        }
    });
    if begun.recv_timeout(Duration::from_secs(60)).is_err() {
        panic!("{args:?} never said it was rendering");
    }
    child
}

/// A process a test started whose standard output comes line by line on a
/// channel, and whose standard error is kept for its end (both read on
/// threads: it never blocks on a full pipe). Killed on drop.
pub struct Watched {
    child: Guarded,
    lines: crossbeam_channel::Receiver<String>,
    stderr: std::thread::JoinHandle<String>,
}

impl Watched {
    #[track_caller]
    pub fn spawn(cmd: &mut Command) -> Watched {
        let mut child = Guarded::spawn(cmd.stdout(Stdio::piped()).stderr(Stdio::piped()));
        let (tx, lines) = crossbeam_channel::unbounded();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in std::io::BufRead::lines(std::io::BufReader::new(stdout)).map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut err = child.stderr.take().unwrap();
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = err.read_to_string(&mut text);
            text
        });
        Watched { child, lines, stderr }
    }

    /// The next line of its output that contains `needle`; the test fails
    /// if none comes within `limit`.
    #[track_caller]
    pub fn wait_for(&self, needle: &str, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        loop {
            match self.lines.recv_deadline(deadline) {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => {}
                Err(_) => panic!("no line with {needle:?} within {limit:?}"),
            }
        }
    }

    pub fn signal(&self, name: &str) {
        self.child.signal(name);
    }

    /// Its process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Its exit status once it has ended, if within `limit`.
    pub fn wait_timeout(&mut self, limit: Duration) -> Option<ExitStatus> {
        self.child.wait_timeout(limit)
    }

    /// Waits for it to end, within `limit`: its exit status and standard error.
    #[track_caller]
    pub fn end(mut self, limit: Duration) -> (ExitStatus, String) {
        let status = self.child.wait_within(limit);
        (status, self.stderr.join().unwrap())
    }
}

impl std::ops::Deref for Guarded {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Guarded {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Run {
    /// Exit code, stdout and stderr in one block, for snapshots.
    pub fn snapshot(&self, sandbox: &Sandbox) -> String {
        let root = sandbox.path().display().to_string();
        format!("exit {}\n--- stdout\n{}--- stderr\n{}", self.code, self.stdout, self.stderr).replace(&root, "<tmp>")
    }
}

impl Sandbox {
    /// Runs a shell script in a private user and mount namespace, so it
    /// can mount a small filesystem of its own without root; with this
    /// sandbox's environment. Returns (stdout, stderr).
    pub fn unshared(&self, script: &str) -> (String, String) {
        let template = self.command(&[]);
        let mut cmd = std::process::Command::new("unshare");
        for (k, v) in template.get_envs() {
            match v {
                Some(v) => cmd.env(k, v),
                None => cmd.env_remove(k),
            };
        }
        let out = cmd
            .args(["--user", "--map-root-user", "--mount", "sh", "-c", script])
            .output()
            .expect("unshare (util-linux) runs");
        (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// A PulseAudio server of the test's own, with a null sink as the default
/// output: its own runtime folder, stopped (and waited for) on drop.
pub struct Pulse {
    child: std::process::Child,
    /// Silence played at low latency, as a desktop's sound server would
    /// always have something running: an idle null sink sleeps in blocks of
    /// up to two seconds, which would delay a new stream's start.
    keepalive: Option<std::process::Child>,
    runtime: PathBuf,
    home: PathBuf,
}

pub const SINK: &str = "backease_test";

impl Pulse {
    pub fn start(sb: &Sandbox) -> Pulse {
        Pulse::start_with(sb, false)
    }

    /// With shared memory and every thread at real-time priority (where
    /// the test may raise them), as a desktop's sound server runs its data
    /// path: otherwise the server's main thread, at normal priority, stalls
    /// behind a loaded machine and its gaps would be blamed on the client.
    pub fn start_shared(sb: &Sandbox) -> Pulse {
        let pulse = Pulse::start_with(sb, true);
        let _ = Command::new("chrt")
            .args(["-r", "-p", "6", &pulse.child.id().to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
        pulse
    }

    fn start_with(sb: &Sandbox, shared_memory: bool) -> Pulse {
        let runtime = sb.path().join("pulse-run");
        std::fs::create_dir_all(&runtime).unwrap();
        std::fs::set_permissions(&runtime, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
        let log = std::fs::File::create(sb.path().join("pulse.log")).unwrap();
        let child = Command::new("pulseaudio")
            .args(["-n", "--daemonize=no", "--exit-idle-time=-1", "--use-pid-file=no"])
            .arg(format!("--disable-shm={}", if shared_memory { "no" } else { "yes" }))
            .arg(format!("--load=module-null-sink sink_name={SINK} rate=48000 channels=2"))
            .arg("--load=module-native-protocol-unix")
            .env("XDG_RUNTIME_DIR", &runtime)
            .env("HOME", sb.path())
            .stdin(std::process::Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("pulseaudio is installed (bash .ci/setup)");
        let mut pulse = Pulse { child, keepalive: None, runtime, home: sb.path().to_path_buf() };
        for _ in 0..200 {
            let ok = pulse.command("pactl").arg("info").output().map(|o| o.status.success()).unwrap_or(false);
            if ok {
                let set = pulse.command("pactl").args(["set-default-sink", SINK]).status().unwrap();
                assert!(set.success());
                let keepalive = pulse
                    .command("pacat")
                    .args(["--playback", "--raw", "--latency-msec=10", "--format=s16le", "--channels=2"])
                    .args(["--rate=48000", &format!("--device={SINK}"), "/dev/zero"])
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .spawn()
                    .expect("pacat (pulseaudio-utils) runs");
                pulse.keepalive = Some(keepalive);
                std::thread::sleep(std::time::Duration::from_millis(200));
                return pulse;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let log = std::fs::read_to_string(sb.path().join("pulse.log")).unwrap_or_default();
        panic!("pulseaudio did not start:\n{log}");
    }

    /// Kills the server (and its keepalive stream) by PID, as a crash
    /// would, and waits for it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(mut k) = self.keepalive.take() {
            let _ = k.kill();
            let _ = k.wait();
        }
    }

    /// A command that talks to this server.
    pub fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        self.apply(&mut cmd);
        cmd
    }

    pub fn apply(&self, cmd: &mut Command) {
        cmd.env("XDG_RUNTIME_DIR", &self.runtime)
            .env("PULSE_SERVER", format!("unix:{}", self.runtime.join("pulse").join("native").display()))
            .env("PULSE_COOKIE", self.home.join(".config/pulse/cookie"));
    }

    /// Starts recording the null sink's monitor as raw stereo 16-bit at `rate`.
    pub fn record(&self, path: &Path, rate: u32) -> Guarded {
        Guarded::spawn(
            self.command("parec")
                .args([
                    "-d",
                    &format!("{SINK}.monitor"),
                    "--format=s16le",
                    "--channels=2",
                    "--raw",
                    "--latency-msec=10",
                ])
                .arg(format!("--rate={rate}"))
                .stdout(std::fs::File::create(path).unwrap())
                .stderr(std::process::Stdio::null()),
        )
    }
}

impl Drop for Pulse {
    fn drop(&mut self) {
        if let Some(mut k) = self.keepalive.take() {
            let _ = k.kill();
            let _ = k.wait();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Stops a recorder gracefully (so it flushes) and waits for it.
pub fn stop(mut child: Guarded) {
    child.signal("TERM");
    child.wait_within(Duration::from_secs(10));
}

/// The rate recordings are made at, the session's own.
pub const RECORD_RATE: u32 = backease::script::timeline::SAMPLE_RATE;

/// Writes a 16-bit WAV of a sine tone with sox: `seconds` of `freq` Hz at
/// `rate`, on `channels`, at half of full scale.
#[track_caller]
pub fn tone_file(path: &Path, rate: u32, channels: u16, seconds: f64, freq: f64) {
    let made = Command::new("sox")
        .args(["-n", "-r", &rate.to_string(), "-c", &channels.to_string(), "-b", "16"])
        .arg(path)
        .args(["synth", &seconds.to_string(), "sine", &freq.to_string(), "vol", "0.5"])
        .status()
        .expect("sox is installed (bash .ci/setup)");
    assert!(made.success(), "sox made no {}", path.display());
}

/// The names in a folder, sorted: to see that a command made nothing.
pub fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    v.sort();
    v
}

/// Onsets in seconds: a 5 ms window louder than about -40 dBFS after at
/// least 150 ms of quiet.
pub fn onsets(samples: &[i16]) -> Vec<f64> {
    let win = (RECORD_RATE / 200) as usize;
    let mut out = Vec::new();
    let mut quiet = 1_000usize;
    for (i, w) in samples.chunks(win).enumerate() {
        if w.iter().any(|s| s.unsigned_abs() > 330) {
            if quiet * win >= RECORD_RATE as usize * 15 / 100 {
                out.push((i * win) as f64 / RECORD_RATE as f64);
            }
            quiet = 0;
        } else {
            quiet += 1;
        }
    }
    out
}

/// A raw recording from `parec`, mixed down to one channel.
pub fn read_raw(path: &Path) -> Vec<i16> {
    let (left, right) = read_raw_stereo(path);
    left.iter().zip(&right).map(|(&l, &r)| ((l as i32 + r as i32) / 2) as i16).collect()
}

/// A raw recording from `parec`: stereo 16-bit little-endian, as (left, right).
pub fn read_raw_stereo(path: &Path) -> (Vec<i16>, Vec<i16>) {
    let bytes = std::fs::read(path).unwrap();
    let frames = bytes.chunks_exact(4).map(|c| (i16::from_le_bytes([c[0], c[1]]), i16::from_le_bytes([c[2], c[3]])));
    frames.unzip()
}

/// A terminal for the binary: a private tmux server, killed on drop.
pub struct Tmux {
    socket: std::path::PathBuf,
}

impl Tmux {
    /// Runs `command` in a new detached tmux session on a private server.
    /// Each terminal has a server of its own: one started on the socket of
    /// one just killed may find it still going away ("tmux starts" failed
    /// so in CI, a test playing several sessions one after the other).
    pub fn start(sb: &Sandbox, command: &str) -> Tmux {
        static STARTED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = STARTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let t = Tmux { socket: sb.path().join(format!("tmux-{n}.sock")) };
        let ok = t.tmux(&["new-session", "-d", "-s", "s", "-x", "100", "-y", "20", command]).status.success();
        assert!(ok, "tmux starts");
        t
    }

    pub fn tmux(&self, args: &[&str]) -> std::process::Output {
        std::process::Command::new("tmux").arg("-S").arg(&self.socket).args(args).output().expect("tmux is installed")
    }

    pub fn screen(&self) -> String {
        String::from_utf8_lossy(&self.tmux(&["capture-pane", "-p", "-t", "s"]).stdout).into_owned()
    }

    pub fn keys(&self, keys: &str) {
        self.tmux(&["send-keys", "-t", "s", keys]);
    }

    /// Waits until the screen shows `text`.
    pub fn wait_for(&self, text: &str, limit: Duration) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if screen.contains(text) {
                return screen;
            }
            assert!(start.elapsed() < limit, "waited {limit:?} for {text:?}; the screen:\n{screen}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.tmux(&["kill-server"]);
    }
}

/// The shell command that runs backease in the pane with this sandbox's
/// environment and the test's sound server, then reports how it ended.
pub fn pane_command(sb: &Sandbox, pulse: &Pulse, args: &str) -> String {
    format!("{} {args}; echo EXIT=$?; stty -a | grep -o -- '-\\?icanon' ; sleep 60", pane_backease(sb, pulse))
}

/// A shell command line that starts backease (arguments to follow) in the
/// sandbox with the test's sound server: `cd DIR && env K=V... BIN`.
pub fn pane_backease(sb: &Sandbox, pulse: &Pulse) -> String {
    let mut cmd = sb.command(&[]);
    pulse.apply(&mut cmd);
    let env: Vec<String> = cmd
        .get_envs()
        .filter_map(|(k, v)| v.map(|v| format!("{}='{}'", k.to_string_lossy(), v.to_string_lossy())))
        .collect();
    format!("cd '{}' && env {} '{}'", sb.path().display(), env.join(" "), env!("CARGO_BIN_EXE_backease"))
}

/// A WAV as `render` writes it (a 44-byte header, then interleaved 16-bit
/// frames): its channel count, its rate, and its left and right channels.
pub fn read_stereo_wav(path: &Path) -> (u16, u32, Vec<i16>, Vec<i16>) {
    let bytes = std::fs::read(path).unwrap();
    let channels = u16::from_le_bytes([bytes[22], bytes[23]]);
    let rate = u32::from_le_bytes(bytes[24..28].try_into().unwrap());
    let samples: Vec<i16> = bytes[44..].chunks_exact(2).map(|c| i16::from_le_bytes([c[0], c[1]])).collect();
    let channel = |c: usize| samples.iter().skip(c).step_by(channels as usize).copied().collect();
    (channels, rate, channel(0), channel(1.min(channels as usize - 1)))
}

/// A Unix socket that takes connections and never answers — a hung daemon
/// or bus — served by a process that is killed when this is dropped.
pub struct SilentSocket {
    child: std::process::Child,
    calls: std::io::BufReader<std::process::ChildStdout>,
}

impl SilentSocket {
    /// Listens at `path`, and returns once the socket is there.
    pub fn start(path: &Path) -> SilentSocket {
        let mut child = Command::new("python3")
            .args([
                "-c",
                "import socket,sys,time\n\
                 s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(8); c=[]\n\
                 for _ in range(8):\n    c.append(s.accept()); print('called', flush=True)\n\
                 time.sleep(120)",
            ])
            .arg(path)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("python3 is installed (bash .ci/setup)");
        let calls = std::io::BufReader::new(child.stdout.take().expect("piped"));
        while !path.exists() {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        SilentSocket { child, calls }
    }

    /// Waits until something has connected.
    pub fn wait_for_a_caller(&mut self) {
        let mut line = String::new();
        std::io::BufRead::read_line(&mut self.calls, &mut line).unwrap();
        assert_eq!(line, "called\n");
    }
}

impl Drop for SilentSocket {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A D-Bus session bus of the test's own (`dbus-daemon --nofork`), killed
/// when this is dropped, even when the test fails.
pub struct PrivateBus {
    child: Guarded,
    pub address: String,
}

impl PrivateBus {
    pub fn start() -> PrivateBus {
        let mut child = Guarded::spawn(
            Command::new("dbus-daemon")
                .args(["--session", "--nofork", "--print-address=1"])
                .stdout(std::process::Stdio::piped())
                // It cannot raise its file limit unprivileged, and says so.
                .stderr(std::process::Stdio::null()),
        );
        let mut line = String::new();
        let stdout = child.stdout.take().expect("piped");
        std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).unwrap();
        PrivateBus { child, address: line.trim().to_string() }
    }

    /// The bus daemon's process: to freeze it (`kill -STOP`).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A connection of the test's own to this bus.
    pub fn connect(&self) -> dbus::blocking::Connection {
        let mut channel = dbus::channel::Channel::open_private(&self.address).expect("connect to the test's bus");
        channel.register().expect("register on the test's bus");
        dbus::blocking::Connection::from(channel)
    }
}

/// A D-Bus service of the test's own: it owns `name` on a [`PrivateBus`]
/// and answers each method call with the messages `answer` returns (the
/// reply first, then any signals), on a thread that ends when this is
/// dropped. `answer` returning nothing leaves the call unanswered.
pub struct Service {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Service {
    pub fn start(
        bus: &PrivateBus,
        name: &str,
        mut answer: impl FnMut(&dbus::Message) -> Vec<dbus::Message> + Send + 'static,
    ) -> Service {
        use dbus::channel::{MatchingReceiver, Sender};
        let conn = bus.connect();
        conn.request_name(name, false, true, true).expect("own the name");
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            conn.start_receive(
                dbus::message::MatchRule::new_method_call(),
                Box::new(move |msg, conn| {
                    for m in answer(&msg) {
                        let _ = conn.send(m);
                    }
                    true
                }),
            );
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                let _ = conn.process(Duration::from_millis(20));
            }
        });
        Service { stop, thread: Some(thread) }
    }

    /// Owns `name` and never answers: a player or service that hangs.
    pub fn silent(bus: &PrivateBus, name: &str) -> Service {
        Service::start(bus, name, |_| Vec::new())
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
