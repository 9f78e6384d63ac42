//! `render`: the session written to a file, sample for sample what `play`
//! sends to the device, as WAV, FLAC, Ogg Opus or MP3 (with chapters).
//!
//! Where it goes is settled by [`Output::open`] before any work, so a
//! wrong name fails at once rather than after minutes of speech synthesis:
//! a name whose extension is a format [`Format`] knows, never a folder,
//! never a missing folder. A file (new, existing, or the target of a
//! symlink) is written under a temporary name in its folder and renamed
//! onto the name only when it is complete, so an interrupted or failed
//! render (Ctrl-C, a full disk) never leaves a broken file, and an existing
//! file keeps its permissions. Standard output (`-o -`), a device such as
//! `/dev/null` and a FIFO are written straight into, as WAV (the other
//! formats seek back to finish their headers). Temporary files that a
//! killed render left behind are removed by the next render to the same
//! folder. The formats themselves are `encode/`'s work.

use std::fs::{File, Permissions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::encode::{About, Format};
use crate::error::{Failure, code, io_reason};
use crate::session::{CHANNELS, Control, Segment, Stream, to_i16};
use crate::timeline::SAMPLE_RATE;

/// Samples written between progress reports and interruption checks.
const CHUNK: usize = 1 << 16;

/// Where a render goes, checked and, for streams, opened.
pub struct Output {
    /// How the user named it, for messages.
    shown: String,
    kind: Kind,
    /// Whether it is standard output, by name or not (`-o /dev/stdout`).
    stdout: bool,
}

enum Kind {
    /// Standard output, handed to [`Output::write`] by the caller.
    Stdout,
    /// A device or a FIFO, opened: written straight into.
    Stream(File),
    /// A regular file, new or replaced (through any symlinks): written
    /// beside it under a temporary name, then renamed onto it.
    Replace { target: PathBuf, keep: Option<Permissions>, format: Format },
}

impl Output {
    /// Checks that `path` can take the session, before any work: `-` is
    /// standard output; a FIFO or a character device is written into (as
    /// WAV); any other name must end in a format's extension and lie in an
    /// existing folder.
    pub fn open(path: &Path) -> Result<Output, Failure> {
        let shown = path.display().to_string();
        if path.as_os_str() == "-" {
            if io::IsTerminal::is_terminal(&io::stdout()) {
                return Err(Failure::usage("-o - writes the WAV to standard output, which is a terminal here")
                    .hint("send it to a program or a file, e.g. `-o - | aplay` or `-o session.wav`"));
            }
            return Ok(Output { shown: "standard output".into(), kind: Kind::Stdout, stdout: true });
        }
        // The kernel follows every link, /proc's too (`-o /dev/stdout`).
        match std::fs::metadata(path) {
            Ok(meta) if meta.is_dir() => Err(Failure::usage(format!("{shown} is a folder"))
                .hint(format!("name a file in it, e.g. -o {}", path.join("session.wav").display()))),
            Ok(meta) if meta.is_file() => {
                let format = format_of(path)?;
                let target = resolve_links(path)?;
                writable_folder(path, &target)?;
                Ok(Output {
                    shown,
                    kind: Kind::Replace { target, keep: Some(meta.permissions()), format },
                    stdout: false,
                })
            }
            Ok(meta) => {
                if let Some(format) = Format::of(path).filter(|&f| f != Format::Wav) {
                    return Err(Failure::usage(format!(
                        "{shown} is not a file: render writes only WAV into a FIFO or a device, not .{}",
                        format.extension()
                    ))
                    .hint(format!("name a file, e.g. -o session.{}", format.extension())));
                }
                let file = open_stream(path, &meta, &shown)?;
                Ok(Output { kind: Kind::Stream(file), shown, stdout: same_as_stdout(&meta) })
            }
            // Missing (perhaps behind a dangling symlink), or under
            // something that is not a folder: the folder check says which.
            Err(e) if e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(20) => {
                let format = format_of(path)?;
                let target = resolve_links(path)?;
                writable_folder(path, &target)?;
                Ok(Output { shown, kind: Kind::Replace { target, keep: None, format }, stdout: false })
            }
            Err(e) => Err(Failure::io(format!("cannot write {shown}: {}", io_reason(&e)))),
        }
    }

    /// Whether it is written as WAV (a `.wav` file, standard output, a
    /// device, a FIFO).
    pub fn is_wav(&self) -> bool {
        !matches!(self.kind, Kind::Replace { format, .. } if format != Format::Wav)
    }

    /// Whether the session goes to standard output (so messages must not).
    pub fn is_stdout(&self) -> bool {
        self.stdout
    }

    /// Writes the segment; `title` names it in the file's tags.
    /// `progress(done, total)` is called as it goes; `interrupted` stops it
    /// cleanly. `stdout` is used for `-o -`.
    pub fn write(
        self,
        segment: Arc<Segment>,
        title: &str,
        volume: f32,
        interrupted: &AtomicBool,
        progress: &mut dyn FnMut(u64, u64),
        stdout: &mut dyn Write,
    ) -> Result<Written, Failure> {
        let shown = self.shown;
        let fail = |e: io::Error| match e.kind() {
            io::ErrorKind::BrokenPipe => Failure::io(format!("cannot write {shown}: the program reading it stopped")),
            _ => Failure::io(format!("cannot write {shown}: {}", io_reason(&e))),
        };
        match self.kind {
            Kind::Stdout => {
                let mut buffered = io::BufWriter::with_capacity(1 << 20, stdout);
                wav_stream(segment, volume, interrupted, progress, &mut buffered)
                    .map_err(|e| e.or_io_partly(&shown, fail))
            }
            Kind::Stream(file) => {
                let mut buffered = io::BufWriter::with_capacity(1 << 20, file);
                wav_stream(segment, volume, interrupted, progress, &mut buffered)
                    .map_err(|e| e.or_io_partly(&shown, fail))
            }
            Kind::Replace { target, keep, format } => {
                let about = About {
                    title: title.to_string(),
                    chapters: match format.chapter_limit() {
                        0 => Vec::new(),
                        max => crate::chapters::at_most(crate::chapters::chapters(&segment.timeline), max),
                    },
                    frames: segment.timeline.total,
                };
                let temp = crate::fsutil::temp_path(&target);
                let result: Result<Written, Stop> = (|| {
                    let file = File::create(&temp).map_err(Stop::Io)?;
                    crate::fsutil::lock_part(&file);
                    let mut buffered = io::BufWriter::with_capacity(1 << 20, file);
                    let mut encoder = crate::encode::start(format, &mut buffered, &about).map_err(Stop::Io)?;
                    let frames = pump(segment, volume, interrupted, progress, &mut |s| encoder.write(s))?;
                    encoder.finish().map_err(Stop::Io)?;
                    let file = buffered.into_inner().map_err(|e| Stop::Io(e.into_error()))?;
                    if let Some(p) = keep {
                        file.set_permissions(p).map_err(Stop::Io)?;
                    }
                    file.sync_all().map_err(Stop::Io)?;
                    let bytes = file.metadata().map_err(Stop::Io)?.len();
                    std::fs::rename(&temp, &target).map_err(Stop::Io)?;
                    Ok(Written { frames, bytes, chapters: about.chapters.len() })
                })();
                if result.is_err() {
                    let _ = std::fs::remove_file(&temp);
                }
                result.map_err(|e| e.or_io(fail))
            }
        }
    }
}

/// What a render wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    /// Frames (samples per channel) of sound.
    pub frames: u64,
    /// The size of what was written, headers and all.
    pub bytes: u64,
    /// Chapters in the file's tags.
    pub chapters: usize,
}

/// Writes the segment to `path` in the format its name gives:
/// [`Output::open`], then [`Output::write`].
pub fn to_file(
    segment: Arc<Segment>,
    volume: f32,
    path: &Path,
    interrupted: &AtomicBool,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Written, Failure> {
    Output::open(path)?.write(segment, "backease session", volume, interrupted, progress, &mut io::sink())
}

/// Why writing stopped.
enum Stop {
    Io(io::Error),
    Interrupted,
}

impl Stop {
    fn or_io(self, fail: impl Fn(io::Error) -> Failure) -> Failure {
        match self {
            Stop::Io(e) => fail(e),
            Stop::Interrupted => Failure::new(code::INTERRUPTED, "render interrupted; nothing was written"),
        }
    }

    /// For a stream, which has taken what came before the stop.
    fn or_io_partly(self, shown: &str, fail: impl Fn(io::Error) -> Failure) -> Failure {
        match self {
            Stop::Interrupted => {
                Failure::new(code::INTERRUPTED, format!("render interrupted; {shown} has only part of the session"))
            }
            e => e.or_io(fail),
        }
    }
}

/// The WAV, header first: its length is known before a sample is made, so
/// nothing needs seeking back and any stream can take it.
fn wav_stream(
    segment: Arc<Segment>,
    volume: f32,
    interrupted: &AtomicBool,
    progress: &mut dyn FnMut(u64, u64),
    out: &mut dyn Write,
) -> Result<Written, Stop> {
    let total = segment.timeline.total;
    let mut w = crate::wav::WavStream::new(out, SAMPLE_RATE, CHANNELS, total).map_err(Stop::Io)?;
    let frames = pump(segment, volume, interrupted, progress, &mut |s| w.write(s))?;
    w.finish().map_err(Stop::Io)?;
    Ok(Written { frames, bytes: crate::wav::size(CHANNELS, frames), chapters: 0 })
}

/// Plays the segment into `write`, a chunk at a time, as 16-bit stereo.
/// Returns the frames written.
fn pump(
    segment: Arc<Segment>,
    volume: f32,
    interrupted: &AtomicBool,
    progress: &mut dyn FnMut(u64, u64),
    write: &mut dyn FnMut(&[i16]) -> io::Result<()>,
) -> Result<u64, Stop> {
    let total = segment.timeline.total;
    let mut stream = Stream::new(segment, None, Control::new(volume));
    let mut buf = Vec::with_capacity(CHUNK);
    let mut done = 0u64;
    loop {
        buf.clear();
        buf.extend(stream.by_ref().take(CHUNK).map(to_i16));
        if buf.is_empty() {
            break;
        }
        write(&buf).map_err(Stop::Io)?;
        done += (buf.len() / CHANNELS as usize) as u64;
        progress(done, total);
        if interrupted.load(Ordering::Relaxed) {
            return Err(Stop::Interrupted);
        }
    }
    Ok(done)
}

/// The format a file's name asks for; one render cannot write is refused
/// before any work, with the names it can.
fn format_of(path: &Path) -> Result<Format, Failure> {
    if let Some(format) = Format::of(path) {
        return Ok(format);
    }
    let names: Vec<String> = Format::ALL.iter().map(|f| format!(".{}", f.extension())).collect();
    let known = format!("{} or {}", names[..names.len() - 1].join(", "), names[names.len() - 1]);
    let message = match path.extension() {
        Some(ext) => format!("render writes {known} files, not .{}", ext.to_string_lossy()),
        None => format!("render writes {known} files, and {} has none of these at its end", path.display()),
    };
    let stem = path.with_extension("");
    let hint = format!(
        "name the format, e.g. -o {}.opus for a phone (small), .mp3 to play anywhere, .flac or .wav for every sample",
        stem.display()
    );
    Err(Failure::usage(message).hint(hint))
}

/// The folder a new file goes in must exist and take files; stale
/// temporary files of killed renders in it are removed.
fn writable_folder(path: &Path, target: &Path) -> Result<(), Failure> {
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            return Err(Failure::io(format!("cannot write {}: {} is not a folder", path.display(), dir.display())));
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(Failure::io(format!(
                "cannot write {}: the folder {} does not exist",
                path.display(),
                dir.display()
            ))
            .hint(format!("create it first: mkdir -p {}", dir.display())));
        }
        Err(e) => return Err(Failure::io(format!("cannot write {}: {}", path.display(), io_reason(&e)))),
    }
    if let Err(e) = nix::unistd::access(dir, nix::unistd::AccessFlags::W_OK) {
        let reason = io_reason(&io::Error::from_raw_os_error(e as i32));
        return Err(Failure::io(format!("cannot write {}: {reason} in {}", path.display(), dir.display())));
    }
    crate::fsutil::remove_stale_parts(dir);
    Ok(())
}

/// Follows symlinks to the file they name, which may not exist yet; the
/// links themselves stay.
fn resolve_links(path: &Path) -> Result<PathBuf, Failure> {
    let mut p = path.to_path_buf();
    for _ in 0..40 {
        match std::fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => {
                let link = std::fs::read_link(&p)
                    .map_err(|e| Failure::io(format!("cannot write {}: {}", path.display(), io_reason(&e))))?;
                p = match p.parent() {
                    Some(dir) if link.is_relative() => dir.join(link),
                    _ => link,
                };
            }
            _ => return Ok(p),
        }
    }
    Err(Failure::io(format!("cannot write {}: its symlinks go round in a loop", path.display())))
}

/// Whether `meta` is the file standard output is open on.
fn same_as_stdout(meta: &std::fs::Metadata) -> bool {
    use std::os::fd::AsFd;
    use std::os::unix::fs::MetadataExt;
    let stdout = io::stdout().as_fd().try_clone_to_owned().ok().map(File::from).and_then(|f| f.metadata().ok());
    stdout.is_some_and(|m| m.dev() == meta.dev() && m.ino() == meta.ino())
}

/// Opens a device or a FIFO to write into. A FIFO with no reader is
/// refused rather than waited on; a disk, a socket or a terminal is refused.
fn open_stream(target: &Path, meta: &std::fs::Metadata, shown: &str) -> Result<File, Failure> {
    use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
    let t = meta.file_type();
    if !(t.is_fifo() || t.is_char_device()) {
        let what = if t.is_block_device() { "a disk device" } else { "not a file" };
        return Err(Failure::usage(format!("{shown} is {what}; render will not write over it"))
            .hint("name a .wav file, or - for standard output"));
    }
    let file = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(nix::fcntl::OFlag::O_NONBLOCK.bits())
        .open(target)
        .map_err(|e| match e.raw_os_error() {
            Some(6) => Failure::io(format!("nothing is reading from the FIFO {shown}"))
                .hint("start the program that reads it first, then render"),
            _ => Failure::io(format!("cannot write {shown}: {}", io_reason(&e))),
        })?;
    if io::IsTerminal::is_terminal(&file) {
        return Err(Failure::usage(format!("{shown} is a terminal; a WAV file is no use there"))
            .hint("name a .wav file, or - for standard output"));
    }
    // Opened without waiting; now written with waiting, like any file.
    let flags = nix::fcntl::OFlag::from_bits_truncate(
        nix::fcntl::fcntl(&file, nix::fcntl::FcntlArg::F_GETFL).map_err(|e| Failure::io(e.desc()))?,
    );
    nix::fcntl::fcntl(&file, nix::fcntl::FcntlArg::F_SETFL(flags - nix::fcntl::OFlag::O_NONBLOCK))
        .map_err(|e| Failure::io(e.desc()))?;
    Ok(file)
}
