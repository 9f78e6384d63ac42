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

use crate::error::Failure;

/// Writes `bytes` to a new file at `path`, refusing to replace one that
/// exists, even if it appears while writing.
pub fn write_new(path: &Path, bytes: &[u8]) -> Result<(), Failure> {
    let display = path.display();
    let exists = || Failure::io(format!("{display} already exists")).hint("edit it, or choose another name");
    if path.exists() {
        return Err(exists());
    }
    let result = write_temp(path, bytes).and_then(|temp| {
        // A hard link fails if the target exists: no race can overwrite.
        let linked = std::fs::hard_link(&temp, path);
        let _ = std::fs::remove_file(&temp);
        linked
    });
    result.map_err(|e| match e.kind() == std::io::ErrorKind::AlreadyExists && path.exists() {
        true => exists(),
        false => crate::error::io_failure(format!("cannot write {display}"), &e),
    })
}

/// A new hidden file beside `path` holding `bytes`, complete on disk
/// (synced), to be renamed over `path` or linked to it. It is created
/// exclusively: whatever had its name (left by a process that had our
/// PID, or a link planted there) is removed, never written through. On
/// failure nothing is left.
pub fn write_temp(path: &Path, bytes: &[u8]) -> std::io::Result<PathBuf> {
    let temp = temp_path(path);
    let _ = std::fs::remove_file(&temp);
    let written = std::fs::File::create_new(&temp).and_then(|mut f| {
        f.write_all(bytes)?;
        f.sync_all()
    });
    match written {
        Ok(()) => Ok(temp),
        Err(e) => {
            let _ = std::fs::remove_file(&temp);
            Err(e)
        }
    }
}

/// Replaces `path` with `bytes` as one step: [`write_temp`], then a
/// rename, so a crash or a full disk never leaves half a file under the
/// real name.
pub fn replace(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let temp = write_temp(path, bytes)?;
    std::fs::rename(&temp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&temp);
    })
}

/// A hidden temporary name beside `path`, unique to this process but
/// guessable: create it exclusively ([`std::fs::File::create_new`]), or
/// use [`create_part`].
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
