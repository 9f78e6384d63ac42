//! `render`: the session written to a file, sample for sample what `play`
//! sends to the device, as WAV, FLAC, Ogg Opus or MP3 (with chapters).
//!
//! Where it goes is settled by [`Target::open`] before any work, so a
//! wrong name fails at once rather than after minutes of speech synthesis:
//! a name whose extension is a format [`Format`] knows, never a folder,
//! never a missing folder, never a file that may not be written (one
//! without a write permission bit, even for root). A file (new, existing,
//! or the target of a symlink) is written under a temporary name in its
//! folder and renamed onto the name only when it is complete, so an
//! interrupted or failed render (Ctrl-C, a full disk) never leaves a broken
//! file, and an existing file keeps its permissions. The temporary file is
//! created exclusively, under a name nobody can guess, so a symlink planted
//! in the folder is never written through. Standard output (`-o -`), a
//! device such as `/dev/null` and a FIFO are written straight into, as WAV
//! (the other formats seek back to finish their headers). Temporary files
//! that a killed render left behind are removed by the next render to the
//! same folder. The formats themselves are `encode/`'s work.

use std::fs::{File, Permissions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::audio::encode::{About, Format};
use crate::audio::format::CHANNELS;
use crate::error::{Failure, code, io_reason};
use crate::script::timeline::SAMPLE_RATE;
use crate::session::{Control, Segment, Stream};

/// Samples written between progress reports and interruption checks.
const CHUNK: usize = 1 << 16;

/// Chunks the mixing may be ahead of the writing (see [`pump`]).
const CHUNKS_AHEAD: usize = 2;

/// The buffer between an encoder and the file: big enough that writing
/// is a few thousand calls for an hour of WAV, small beside the clips a
/// render holds (a WAV's blocks of `CHUNK` samples pass it straight by).
const WRITE_BUFFER: usize = 256 << 10;

/// Where a render goes, checked and, for streams, opened.
pub struct Target {
    /// How the user named it, for messages.
    shown: String,
    kind: Kind,
    /// Whether it is standard output, by name or not (`-o /dev/stdout`).
    stdout: bool,
}

enum Kind {
    /// Standard output, handed to [`Target::write`] by the caller.
    Stdout,
    /// A device or a FIFO, opened: written straight into.
    Stream(File),
    /// A regular file, new or replaced (through any symlinks): written
    /// beside it under a temporary name, then renamed onto it.
    Replace { target: PathBuf, keep: Option<Permissions>, format: Format },
}

impl Target {
    /// Checks that `path` can take the session, before any work: `-` is
    /// standard output; a FIFO or a character device is written into (as
    /// WAV); any other name must end in a format's extension and lie in an
    /// existing folder.
    pub fn open(path: &Path) -> Result<Target, Failure> {
        let shown = path.display().to_string();
        if path.as_os_str() == "-" {
            if io::IsTerminal::is_terminal(&io::stdout()) {
                return Err(Failure::usage("-o - writes the WAV to standard output, which is a terminal here")
                    .hint("send it to a program or a file, e.g. `-o - | aplay` or `-o session.wav`"));
            }
            return Ok(Target { shown: "standard output".into(), kind: Kind::Stdout, stdout: true });
        }
        // The kernel follows every link, /proc's too (`-o /dev/stdout`).
        match std::fs::metadata(path) {
            Ok(meta) if meta.is_dir() => Err(Failure::usage(format!("{shown} is a folder"))
                .hint(format!("name a file in it, e.g. -o {}", path.join("session.wav").display()))),
            Ok(meta) if meta.is_file() => {
                let format = format_of(path)?;
                replaceable(path, &meta, &shown)?;
                let target = resolve_links(path)?;
                writable_folder(path, &target)?;
                Ok(Target {
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
                Ok(Target { kind: Kind::Stream(file), shown, stdout: same_as_stdout(&meta) })
            }
            // Missing (perhaps behind a dangling symlink), or under
            // something that is not a folder: the folder check says which.
            Err(e) if e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(20) => {
                let format = format_of(path)?;
                let target = resolve_links(path)?;
                writable_folder(path, &target)?;
                Ok(Target { shown, kind: Kind::Replace { target, keep: None, format }, stdout: false })
            }
            Err(e) => Err(crate::error::io_failure(format!("cannot write {shown}"), &e)),
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
            _ => crate::error::io_failure(format!("cannot write {shown}"), &e),
        };
        match self.kind {
            Kind::Stdout => {
                let mut buffered = io::BufWriter::with_capacity(WRITE_BUFFER, stdout);
                wav_stream(segment, volume, interrupted, progress, &mut buffered)
                    .map_err(|e| e.or_io_partly(&shown, fail))
            }
            Kind::Stream(file) => {
                let mut buffered = io::BufWriter::with_capacity(WRITE_BUFFER, file);
                wav_stream(segment, volume, interrupted, progress, &mut buffered)
                    .map_err(|e| e.or_io_partly(&shown, fail))
            }
            Kind::Replace { target, keep, format } => {
                let about = About {
                    title: title.to_string(),
                    chapters: match format.chapter_limit() {
                        0 => Vec::new(),
                        max => {
                            crate::script::chapters::at_most(crate::script::chapters::chapters(&segment.timeline), max)
                        }
                    },
                    frames: segment.timeline.total,
                };
                // On any failure the part is dropped, which removes it.
                let result: Result<Written, Stop> = (|| {
                    let part = crate::play::part::create_part(&target).map_err(Stop::Io)?;
                    let mut buffered = io::BufWriter::with_capacity(WRITE_BUFFER, part.as_file());
                    let mut encoder = crate::audio::encode::start(format, &mut buffered, &about).map_err(Stop::Io)?;
                    let frames = pump(segment, volume, interrupted, progress, &mut |s| encoder.write(s))?;
                    encoder.finish().map_err(Stop::Io)?;
                    let file = buffered.into_inner().map_err(|e| Stop::Io(e.into_error()))?;
                    if let Some(p) = keep {
                        file.set_permissions(p).map_err(Stop::Io)?;
                    }
                    file.sync_all().map_err(Stop::Io)?;
                    let bytes = file.metadata().map_err(Stop::Io)?.len();
                    part.persist(&target).map_err(|e| Stop::Io(e.error))?;
                    Ok(Written { frames, bytes, chapters: about.chapters.len() })
                })();
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
/// [`Target::open`], then [`Target::write`].
pub fn to_file(
    segment: Arc<Segment>,
    volume: f32,
    path: &Path,
    interrupted: &AtomicBool,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Written, Failure> {
    Target::open(path)?.write(segment, "backease session", volume, interrupted, progress, &mut io::sink())
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
    let mut w = crate::audio::wav::WavStream::new(out, SAMPLE_RATE, CHANNELS, total).map_err(Stop::Io)?;
    let frames = pump(segment, volume, interrupted, progress, &mut |s| w.write(s))?;
    w.finish().map_err(Stop::Io)?;
    Ok(Written { frames, bytes: crate::audio::wav::size(CHANNELS, frames), chapters: 0 })
}

/// Plays the segment into `write`, a chunk at a time, as 16-bit stereo.
/// Returns the frames written.
///
/// The session is mixed on a thread of its own, a few chunks ahead of
/// the writing here: encoding and the kernel's copying of the bytes (half
/// of a WAV render's time) run beside the mixing, on the other core, not
/// after it. The chunks go round between the two, made once.
fn pump(
    segment: Arc<Segment>,
    volume: f32,
    interrupted: &AtomicBool,
    progress: &mut dyn FnMut(u64, u64),
    write: &mut dyn FnMut(&[i16]) -> io::Result<()>,
) -> Result<u64, Stop> {
    let total = segment.timeline.total;
    let (mixed, to_write) = crossbeam_channel::bounded::<(Vec<i16>, usize)>(CHUNKS_AHEAD);
    let (written, to_mix) = crossbeam_channel::bounded::<Vec<i16>>(CHUNKS_AHEAD + 1);
    for _ in 0..=CHUNKS_AHEAD {
        written.send(vec![0i16; CHUNK]).expect("room for every chunk");
    }
    // `move`: the writing's ends of the channels go with it, so once it
    // stops (an error, an interruption) the mixer's sends and receives
    // fail and it ends, rather than the scope waiting on it for ever.
    std::thread::scope(move |scope| {
        // Ends at the session's end, or once the writing below stops.
        let mixer = std::thread::Builder::new().name("render mixer".into()).spawn_scoped(scope, move || {
            let mut stream = Stream::new(segment, None, Control::new(volume)).steering_every(CHUNK as u64);
            for mut buf in to_mix.iter() {
                let n = stream.fill_i16(&mut buf);
                if n == 0 || mixed.send((buf, n)).is_err() {
                    break;
                }
            }
        });
        mixer.map_err(Stop::Io)?;
        let mut done = 0u64;
        for (buf, n) in to_write.iter() {
            write(&buf[..n]).map_err(Stop::Io)?;
            done += (n / CHANNELS as usize) as u64;
            progress(done, total);
            if interrupted.load(Ordering::Relaxed) {
                return Err(Stop::Interrupted);
            }
            let _ = written.send(buf);
        }
        Ok(done)
    })
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

/// An existing file is replaced only if it may be written: one without a
/// write permission bit (`chmod a-w`, 0444) says "keep me", which root,
/// whom permissions do not stop, must heed too, so the bits are read
/// rather than tried.
fn replaceable(path: &Path, meta: &std::fs::Metadata, shown: &str) -> Result<(), Failure> {
    use std::os::unix::fs::PermissionsExt;
    let hint = || format!("name another file, or make it writable first: chmod u+w {shown}");
    if meta.permissions().readonly() {
        let mode = meta.permissions().mode() & 0o7777;
        return Err(
            Failure::io(format!("{shown} is read-only (mode {mode:04o}); render will not replace it")).hint(hint())
        );
    }
    if let Err(e) = nix::unistd::access(path, nix::unistd::AccessFlags::W_OK) {
        let reason = io_reason(&io::Error::from_raw_os_error(e as i32));
        return Err(Failure::io(format!("cannot replace {shown}: {reason}")).hint(hint()));
    }
    Ok(())
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
        Err(e) => return Err(crate::error::io_failure(format!("cannot write {}", path.display()), &e)),
    }
    if let Err(e) = nix::unistd::access(dir, nix::unistd::AccessFlags::W_OK) {
        let reason = io_reason(&io::Error::from_raw_os_error(e as i32));
        return Err(Failure::io(format!("cannot write {}: {reason} in {}", path.display(), dir.display())));
    }
    crate::play::part::remove_stale_parts(dir);
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
                    .map_err(|e| crate::error::io_failure(format!("cannot write {}", path.display()), &e))?;
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
            _ => crate::error::io_failure(format!("cannot write {shown}"), &e),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_says_its_format_or_what_render_writes() {
        #[track_caller]
        fn check(name: &str, expect: Result<Format, &str>) {
            let got = format_of(Path::new(name)).map_err(|f| f.message);
            assert_eq!(got.as_ref().copied().map_err(String::as_str), expect, "{name}");
        }
        check("s.wav", Ok(Format::Wav));
        check("s.FLAC", Ok(Format::Flac));
        check("a/b/s.opus", Ok(Format::Opus));
        check("s.mp3", Ok(Format::Mp3));
        check("s.ogg", Err("render writes .wav, .flac, .opus or .mp3 files, not .ogg"));
        check(
            "session",
            Err("render writes .wav, .flac, .opus or .mp3 files, and session has none of these at its end"),
        );
    }

    #[test]
    fn a_read_only_file_is_not_replaced_even_by_root() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kept.wav");
        std::fs::write(&path, b"mine").unwrap();
        let meta = std::fs::metadata(&path).unwrap();
        assert!(replaceable(&path, &meta, "kept.wav").is_ok());
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o444)).unwrap();
        let meta = std::fs::metadata(&path).unwrap();
        let refused = replaceable(&path, &meta, "kept.wav").unwrap_err();
        assert_eq!(refused.message, "kept.wav is read-only (mode 0444); render will not replace it");
        assert_eq!(refused.hint.as_deref(), Some("name another file, or make it writable first: chmod u+w kept.wav"));
    }
}
