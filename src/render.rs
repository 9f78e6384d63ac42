//! `render`: the session written as WAV, sample for sample what `play`
//! sends to the device.
//!
//! Where it goes is settled by [`Output::open`] before any work, so a
//! wrong name fails at once rather than after minutes of speech synthesis:
//! only `.wav` names, never a folder, never a missing folder. A file (new,
//! existing, or the target of a symlink) is written under a temporary name
//! in its folder and renamed onto the name only when it is complete, so an
//! interrupted or failed render (Ctrl-C, a full disk) never leaves a broken
//! file, and an existing file keeps its permissions. Standard output (`-o
//! -`), a device such as `/dev/null` and a FIFO are written straight into.
//! Temporary files that a killed render left behind are removed by the
//! next render to the same folder. This module does not convert to other
//! formats.

use std::fs::{File, Permissions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

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
    Replace { target: PathBuf, keep: Option<Permissions> },
}

impl Output {
    /// Checks that `path` can take a WAV file, before any work: `-` is
    /// standard output; a FIFO or a character device is written into; any
    /// other name must end in `.wav` and lie in an existing folder.
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
                wav_name(path)?;
                let target = resolve_links(path)?;
                writable_folder(path, &target)?;
                Ok(Output { shown, kind: Kind::Replace { target, keep: Some(meta.permissions()) }, stdout: false })
            }
            Ok(meta) => {
                let file = open_stream(path, &meta, &shown)?;
                Ok(Output { kind: Kind::Stream(file), shown, stdout: same_as_stdout(&meta) })
            }
            // Missing (perhaps behind a dangling symlink), or under
            // something that is not a folder: the folder check says which.
            Err(e) if e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(20) => {
                wav_name(path)?;
                let target = resolve_links(path)?;
                writable_folder(path, &target)?;
                Ok(Output { shown, kind: Kind::Replace { target, keep: None }, stdout: false })
            }
            Err(e) => Err(Failure::io(format!("cannot write {shown}: {}", io_reason(&e)))),
        }
    }

    /// Whether the WAV goes to standard output (so messages must not).
    pub fn is_stdout(&self) -> bool {
        self.stdout
    }

    /// Writes the segment. `progress(done, total)` is called as it goes;
    /// `interrupted` stops it cleanly. `stdout` is used for `-o -`.
    /// Returns the number of samples written.
    pub fn write(
        self,
        segment: Arc<Segment>,
        volume: f32,
        interrupted: &AtomicBool,
        progress: &mut dyn FnMut(u64, u64),
        stdout: &mut dyn Write,
    ) -> Result<u64, Failure> {
        let shown = self.shown;
        let fail = |e: io::Error| match e.kind() {
            io::ErrorKind::BrokenPipe => Failure::io(format!("cannot write {shown}: the program reading it stopped")),
            _ => Failure::io(format!("cannot write {shown}: {}", io_reason(&e))),
        };
        match self.kind {
            Kind::Stdout => {
                let mut buffered = io::BufWriter::with_capacity(1 << 20, stdout);
                stream(segment, volume, interrupted, progress, &mut buffered).map_err(|e| e.or_io_partly(&shown, fail))
            }
            Kind::Stream(file) => {
                let mut buffered = io::BufWriter::with_capacity(1 << 20, file);
                stream(segment, volume, interrupted, progress, &mut buffered).map_err(|e| e.or_io_partly(&shown, fail))
            }
            Kind::Replace { target, keep } => {
                let temp = crate::fsutil::temp_path(&target);
                let result: Result<u64, Stop> = (|| {
                    let file = File::create(&temp).map_err(Stop::Io)?;
                    let mut buffered = io::BufWriter::with_capacity(1 << 20, file);
                    let done = stream(segment, volume, interrupted, progress, &mut buffered)?;
                    let file = buffered.into_inner().map_err(|e| Stop::Io(e.into_error()))?;
                    if let Some(p) = keep {
                        file.set_permissions(p).map_err(Stop::Io)?;
                    }
                    file.sync_all().map_err(Stop::Io)?;
                    std::fs::rename(&temp, &target).map_err(Stop::Io)?;
                    Ok(done)
                })();
                if result.is_err() {
                    let _ = std::fs::remove_file(&temp);
                }
                result.map_err(|e| e.or_io(fail))
            }
        }
    }
}

/// Writes the segment to `path` as a WAV file: [`Output::open`], then
/// [`Output::write`].
pub fn to_wav(
    segment: Arc<Segment>,
    volume: f32,
    path: &Path,
    interrupted: &AtomicBool,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<u64, Failure> {
    Output::open(path)?.write(segment, volume, interrupted, progress, &mut io::sink())
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
fn stream(
    segment: Arc<Segment>,
    volume: f32,
    interrupted: &AtomicBool,
    progress: &mut dyn FnMut(u64, u64),
    out: &mut dyn Write,
) -> Result<u64, Stop> {
    let total = segment.timeline.total;
    let mut w = crate::wav::WavStream::new(out, SAMPLE_RATE, CHANNELS, total).map_err(Stop::Io)?;
    let mut stream = Stream::new(segment, None, Control::new(volume));
    let mut buf = Vec::with_capacity(CHUNK);
    let mut done = 0u64;
    loop {
        buf.clear();
        buf.extend(stream.by_ref().take(CHUNK).map(to_i16));
        if buf.is_empty() {
            break;
        }
        w.write(&buf).map_err(Stop::Io)?;
        done += (buf.len() / CHANNELS as usize) as u64;
        progress(done, total);
        if interrupted.load(Ordering::Relaxed) {
            return Err(Stop::Interrupted);
        }
    }
    w.finish().map_err(Stop::Io)?;
    Ok(done)
}

/// Only `.wav` is written: a WAV under another name would mislead every
/// program that opens it.
fn wav_name(path: &Path) -> Result<(), Failure> {
    let ext = path.extension().map(|e| e.to_string_lossy().to_lowercase());
    if ext.as_deref() == Some("wav") {
        return Ok(());
    }
    let wav = path.with_extension("wav");
    let message = match ext {
        Some(ext) => {
            format!("render writes WAV files only, not .{ext}: {} would be a WAV under another name", path.display())
        }
        None => format!("render writes WAV files, and {} has no .wav at its end", path.display()),
    };
    let hint = match path.extension() {
        Some(_) => {
            format!("use -o {}, then convert it, e.g. `ffmpeg -i {} {}`", wav.display(), wav.display(), path.display())
        }
        None => format!("use -o {}", wav.display()),
    };
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
