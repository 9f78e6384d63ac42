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

/// A hidden temporary name beside `path`, unique to this process.
pub fn temp_path(path: &Path) -> PathBuf {
    let name = path.file_name().map_or_else(|| "out".into(), |n| n.to_string_lossy().into_owned());
    path.with_file_name(format!(".{name}.{}.part", std::process::id()))
}
