//! Writing files so that a crash, Ctrl-C or a full disk never leaves a
//! broken file under the name the user asked for.
//!
//! Both writers go through a temporary file in the same folder, which is
//! removed on failure; only complete files are ever linked or renamed into
//! place. Reading ([`read_regular`]) is the other half of the same care:
//! only regular files are read, never more than a cap, and nothing waits
//! on a pipe or a device a path happens to name.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Failure, io_reason};

/// Writes `bytes` to a new file at `path`, refusing to replace one that
/// exists, even if it appears while writing.
pub fn write_new(path: &Path, bytes: &[u8]) -> Result<(), Failure> {
    let display = path.display();
    if path.exists() {
        return Err(Failure::io(format!("{display} already exists")).hint("edit it, or choose another name"));
    }
    let temp = temp_path(path);
    let result = (|| {
        let mut f = std::fs::File::create_new(&temp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        // A hard link fails if the target exists: no race can overwrite.
        std::fs::hard_link(&temp, path)
    })();
    let _ = std::fs::remove_file(&temp);
    result.map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists && path.exists() {
            Failure::io(format!("{display} already exists")).hint("edit it, or choose another name")
        } else {
            Failure::io(format!("cannot write {display}: {}", io_reason(&e)))
        }
    })
}

/// Removes the temporary files of renders (`.NAME.PID.part`, as
/// [`temp_path`] names them, NAME ending in a format render writes) in
/// `dir` whose process is gone: a render killed outright (SIGKILL, a power
/// cut) cannot remove its own. A file is removed only when it is a regular
/// file of that exact pattern, `/proc` shows no such process, and nobody
/// holds its lock ([`lock_part`]): a render running elsewhere (another
/// container, another machine on a shared home) has the same name's
/// pattern with a PID this machine does not know, and holds the lock.
/// Everything else stays.
pub fn remove_stale_parts(dir: &Path) {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(part_pid) else { continue };
        let regular = entry.file_type().is_ok_and(|t| t.is_file());
        if !regular || pid == std::process::id() || Path::new("/proc").join(pid.to_string()).exists() {
            continue;
        }
        let unlocked = open_regular(&entry.path()).is_ok_and(|f| f.try_lock().is_ok());
        if unlocked {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Locks a temporary file being written, for as long as `file` (or a
/// handle cloned from it) is open, so that [`remove_stale_parts`] in
/// another process leaves it alone. A file system without locks is no
/// reason not to write.
pub fn lock_part(file: &std::fs::File) {
    let _ = file.try_lock();
}

/// The process id in a temporary file's name `.NAME.PID.part`, NAME ending
/// in a format render writes.
fn part_pid(name: &str) -> Option<u32> {
    let rest = name.strip_prefix('.')?.strip_suffix(".part")?;
    let (stem, pid) = rest.rsplit_once('.')?;
    crate::encode::Format::of(Path::new(stem))?;
    if pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    pid.parse().ok()
}

/// A hidden temporary name beside `path`, unique to this process.
pub fn temp_path(path: &Path) -> PathBuf {
    let name = path.file_name().map_or_else(|| "out".into(), |n| n.to_string_lossy().into_owned());
    path.with_file_name(format!(".{name}.{}.part", std::process::id()))
}

/// Reads a whole file that must be a regular file of at most `cap` bytes.
///
/// A script, the settings or a speech cache entry named by a path may turn
/// out to be a named pipe, a device or a folder: reading a FIFO waits for a
/// writer that never comes, and `/dev/zero` never ends. So this refuses
/// anything but a regular file before opening it, opens without blocking (a
/// FIFO swapped in after the check still cannot stall), checks the open
/// file again, and reads at most `cap` bytes, so a file that grows meanwhile
/// cannot fill the memory. The errors say what the file is instead, in
/// words; a path through something that is not a folder names it.
pub fn read_regular(path: &Path, cap: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let file = open_regular(path)?;
    let len = file.metadata()?.len();
    if len > cap {
        return Err(too_large(cap));
    }
    let mut bytes = Vec::with_capacity(len as usize);
    file.take(cap + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > cap {
        return Err(too_large(cap));
    }
    Ok(bytes)
}

/// Opens a regular file for reading, refusing anything else without
/// blocking on it (see [`read_regular`]).
pub fn open_regular(path: &Path) -> std::io::Result<std::fs::File> {
    let meta = std::fs::metadata(path).map_err(|e| explain(path, e))?;
    regular(&meta)?;
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use nix::fcntl::OFlag;
        use std::os::unix::fs::OpenOptionsExt;
        // O_NONBLOCK only matters for what is not a regular file: opening a
        // FIFO then returns at once, and the check below refuses it.
        options.custom_flags((OFlag::O_NONBLOCK | OFlag::O_NOCTTY).bits());
    }
    let file = options.open(path).map_err(|e| explain(path, e))?;
    regular(&file.metadata()?)?;
    Ok(file)
}

/// Fails unless `meta` is a regular file, saying what it is instead.
fn regular(meta: &std::fs::Metadata) -> std::io::Result<()> {
    use std::io::{Error, ErrorKind};
    let t = meta.file_type();
    if t.is_file() {
        return Ok(());
    }
    if t.is_dir() {
        return Err(Error::new(ErrorKind::IsADirectory, "it is a folder, not a file"));
    }
    #[cfg(unix)]
    let what = {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            "a named pipe (FIFO)"
        } else if t.is_char_device() || t.is_block_device() {
            "a device"
        } else if t.is_socket() {
            "a socket"
        } else {
            "a special file"
        }
    };
    #[cfg(not(unix))]
    let what = "a special file";
    Err(Error::new(ErrorKind::InvalidInput, format!("it is {what}, not a file")))
}

fn too_large(cap: u64) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::FileTooLarge, format!("it is larger than {}", size_in_words(cap)))
}

/// A byte count as people read it: "1 MiB", "256 KiB", "300 bytes".
pub fn size_in_words(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{} MiB", b >> 20),
        b if b >= 1 << 10 && b % (1 << 10) == 0 => format!("{} KiB", b >> 10),
        b => format!("{b} bytes"),
    }
}

/// A path through a file, as when `HOME` names a file, fails with a bare
/// "Not a directory"; this names the file that is in the way.
pub fn explain(path: &Path, e: std::io::Error) -> std::io::Error {
    if e.kind() != std::io::ErrorKind::NotADirectory {
        return e;
    }
    let blocker = path.ancestors().skip(1).find(|a| a.is_file());
    match blocker {
        Some(b) => std::io::Error::new(e.kind(), format!("{} is a file, not a folder", b.display())),
        None => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_own_temporary_names_are_taken_for_parts() {
        #[track_caller]
        fn check(name: &str, pid: Option<u32>) {
            assert_eq!(part_pid(name), pid, "{name}");
        }
        check(".session.wav.1234.part", Some(1234));
        check(".a.opus.1.part", Some(1));
        check(".Deep.MP3.42.part", Some(42));
        check(".a.1.part", None);
        check(".notes.9999999.part", None);
        check(".my.ron.1234.part", None);
        check("session.wav.1234.part", None);
        check(".session.wav.part", None);
        check("..1234.part", None);
        check(".x.wav.12a.part", None);
        check(".x.wav.1234.part.wav", None);
        check(".x.wav.99999999999999.part", None);
    }

    /// A part whose PID this machine does not know is still left alone
    /// while someone holds its lock (a render in another PID namespace).
    #[test]
    fn a_locked_part_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let part = dir.path().join(".s.flac.99999999.part");
        std::fs::write(&part, b"half").unwrap();
        let elsewhere = std::fs::File::open(&part).unwrap();
        lock_part(&elsewhere);
        remove_stale_parts(dir.path());
        assert!(part.exists(), "removed while locked");
        drop(elsewhere);
        remove_stale_parts(dir.path());
        assert!(!part.exists(), "left once nobody holds it");
    }

    #[track_caller]
    fn check(path: &Path, cap: u64, expect: Result<&[u8], &str>) {
        let got = read_regular(path, cap).map_err(|e| e.to_string());
        assert_eq!(got.as_ref().map(Vec::as_slice).map_err(String::as_str), expect);
    }

    #[test]
    fn reads_only_regular_files_within_their_cap() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.ron");
        std::fs::write(&file, b"12345").unwrap();
        check(&file, 5, Ok(b"12345"));
        check(&file, 4, Err("it is larger than 4 bytes"));
        check(dir.path(), 5, Err("it is a folder, not a file"));
        check(Path::new("/dev/zero"), 1 << 20, Err("it is a device, not a file"));
        let fifo = dir.path().join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
        // Opened for reading with no writer, a FIFO would block here.
        check(&fifo, 5, Err("it is a named pipe (FIFO), not a file"));
        let through = file.join("config.ron");
        check(&through, 5, Err(&format!("{} is a file, not a folder", file.display())));
    }

    #[test]
    fn sizes_in_words() {
        assert_eq!(size_in_words(1 << 20), "1 MiB");
        assert_eq!(size_in_words(256 << 20), "256 MiB");
        assert_eq!(size_in_words(1024), "1 KiB");
        assert_eq!(size_in_words(1000), "1000 bytes");
    }
}
