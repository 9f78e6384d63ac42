//! The temporary files a render writes through (`.NAME.PID.RANDOM.part`
//! beside the file it makes), and the clean-up of those a killed render
//! left behind.

use std::path::Path;

use crate::fsutil::open_regular;

/// Removes the temporary files of renders (`.NAME.PID.RANDOM.part`, as
/// [`create_part`] names them, NAME ending in a format render writes) in
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

/// Creates the temporary file a render writes `target` through: in its
/// folder, named `.NAME.PID.RANDOM.part` (RANDOM being [`PART_RANDOM`]
/// letters and digits), locked ([`lock_part`]). It is created exclusively
/// (`O_CREAT | O_EXCL`), so never through a symlink or onto a file someone
/// placed at the name, and the name cannot be guessed ahead; a name taken
/// is passed over for another. Its mode is what a new file gets from the
/// umask. Dropped before [`tempfile::NamedTempFile::persist`], it is removed.
pub fn create_part(target: &Path) -> std::io::Result<tempfile::NamedTempFile> {
    use std::os::unix::fs::PermissionsExt;
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = target.file_name().map_or_else(|| "out".into(), |n| n.to_string_lossy().into_owned());
    let part = tempfile::Builder::new()
        .prefix(&format!(".{name}.{}.", std::process::id()))
        .suffix(".part")
        .rand_bytes(PART_RANDOM)
        .permissions(std::fs::Permissions::from_mode(0o666))
        .tempfile_in(dir)?;
    lock_part(part.as_file());
    Ok(part)
}

/// How many random letters and digits a render's temporary name has.
pub const PART_RANDOM: usize = 12;

/// The process id in a render's temporary file's name
/// `.NAME.PID.RANDOM.part` ([`create_part`]), NAME ending in a format render
/// writes.
fn part_pid(name: &str) -> Option<u32> {
    let rest = name.strip_prefix('.')?.strip_suffix(".part")?;
    let (rest, random) = rest.rsplit_once('.')?;
    if random.len() != PART_RANDOM || !random.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    let (stem, pid) = rest.rsplit_once('.')?;
    crate::audio::encode::Format::of(Path::new(stem))?;
    if pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    pid.parse().ok()
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
        check(".session.wav.1234.a1B2c3D4e5F6.part", Some(1234));
        check(".a.opus.1.000000000000.part", Some(1));
        check(".Deep.MP3.42.zzzzzzzzzzzz.part", Some(42));
        check(".a.1.a1B2c3D4e5F6.part", None);
        check(".notes.9999999.a1B2c3D4e5F6.part", None);
        check(".notes.9999999.part", None);
        check(".my.ron.1234.a1B2c3D4e5F6.part", None);
        check("session.wav.1234.a1B2c3D4e5F6.part", None);
        check(".session.wav.a1B2c3D4e5F6.part", None);
        check(".session.wav.1234.part", None);
        check(".session.wav.1234.a1B2c3D4e5F.part", None);
        check(".session.wav.1234.a1B2c3D4e5F6x.part", None);
        check(".session.wav.1234.a1B2c3-4e5F6.part", None);
        check("..1234.a1B2c3D4e5F6.part", None);
        check(".x.wav.12a.a1B2c3D4e5F6.part", None);
        check(".x.wav.1234.a1B2c3D4e5F6.part.wav", None);
        check(".x.wav.99999999999999.a1B2c3D4e5F6.part", None);
    }

    /// A render's part lies beside its target, and the clean-up knows it
    /// as this process's own.
    #[test]
    fn a_part_is_named_for_its_target_and_found_again_by_the_clean_up() {
        let dir = tempfile::tempdir().unwrap();
        let part = create_part(&dir.path().join("s.flac")).unwrap();
        let name = part.path().file_name().unwrap().to_str().unwrap();
        assert!(name.starts_with(&format!(".s.flac.{}.", std::process::id())), "{name}");
        assert_eq!(part_pid(name), Some(std::process::id()), "{name}");
    }

    /// A part whose PID this machine does not know is still left alone
    /// while someone holds its lock (a render in another PID namespace).
    #[test]
    fn a_locked_part_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let part = dir.path().join(".s.flac.99999999.a1B2c3D4e5F6.part");
        std::fs::write(&part, b"half").unwrap();
        let elsewhere = std::fs::File::open(&part).unwrap();
        lock_part(&elsewhere);
        remove_stale_parts(dir.path());
        assert!(part.exists(), "removed while locked");
        drop(elsewhere);
        remove_stale_parts(dir.path());
        assert!(!part.exists(), "left once nobody holds it");
    }
}
