//! Writing files so that a crash, Ctrl-C or a full disk never leaves a
//! broken file under the name the user asked for.
//!
//! Both writers go through a temporary file in the same folder, which is
//! removed on failure; only complete files are ever linked or renamed into
//! place.

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

/// Removes the temporary files (`.NAME.PID.part`, as [`temp_path`] names
/// them) in `dir` whose process is gone: a render killed outright (SIGKILL,
/// a power cut) cannot remove its own. Only regular files of that exact
/// pattern are touched, and only when `/proc` shows the process is not
/// running; files of live processes, and everything else, stay.
pub fn remove_stale_parts(dir: &Path) {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(part_pid) else { continue };
        let regular = entry.file_type().is_ok_and(|t| t.is_file());
        if regular && pid != std::process::id() && !Path::new("/proc").join(pid.to_string()).exists() {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// The process id in a temporary file's name `.NAME.PID.part`.
fn part_pid(name: &str) -> Option<u32> {
    let rest = name.strip_prefix('.')?.strip_suffix(".part")?;
    let (stem, pid) = rest.rsplit_once('.')?;
    if stem.is_empty() || pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    pid.parse().ok()
}

/// A hidden temporary name beside `path`, unique to this process.
pub fn temp_path(path: &Path) -> PathBuf {
    let name = path.file_name().map_or_else(|| "out".into(), |n| n.to_string_lossy().into_owned());
    path.with_file_name(format!(".{name}.{}.part", std::process::id()))
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
        check(".a.1.part", Some(1));
        check("session.wav.1234.part", None);
        check(".session.wav.part", None);
        check("..1234.part", None);
        check(".x.12a.part", None);
        check(".x.1234.part.wav", None);
        check(".x.99999999999999.part", None);
    }
}
