//! `render`: the session written to a WAV file, sample for sample what
//! `play` sends to the device.
//!
//! The file is written under a temporary name and renamed only when it is
//! complete, so an interrupted or failed render (Ctrl-C, a full disk) never
//! leaves a broken file under the name the user asked for.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::{Failure, code, io_reason};
use crate::session::{Control, Segment, Stream, to_i16};
use crate::wav::WavWriter;

/// Samples written between progress reports and interruption checks.
const CHUNK: usize = 1 << 16;

/// Writes the segment to `path`. `progress(done, total)` is called as it
/// goes; `interrupted` stops it cleanly.
pub fn to_wav(
    segment: Arc<Segment>,
    volume: f32,
    path: &Path,
    interrupted: &AtomicBool,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<u64, Failure> {
    let total = segment.timeline.total;
    let temp = crate::fsutil::temp_path(path);
    let fail = |e: std::io::Error| Failure::io(format!("cannot write {}: {}", path.display(), io_reason(&e)));
    let result = (|| {
        let file = std::fs::File::create(&temp).map_err(fail)?;
        let mut w = WavWriter::new(std::io::BufWriter::with_capacity(1 << 20, file), crate::timeline::SAMPLE_RATE)
            .map_err(fail)?;
        let mut stream = Stream::new(segment, None, Control::new(volume));
        let mut buf = Vec::with_capacity(CHUNK);
        let mut done = 0u64;
        loop {
            buf.clear();
            buf.extend(stream.by_ref().take(CHUNK).map(to_i16));
            if buf.is_empty() {
                break;
            }
            w.write(&buf).map_err(fail)?;
            done += buf.len() as u64;
            progress(done, total);
            if interrupted.load(Ordering::Relaxed) {
                return Err(Failure::new(code::INTERRUPTED, "render interrupted; nothing was written"));
            }
        }
        let out = w.finish().map_err(fail)?;
        let file = out.into_inner().map_err(|e| fail(e.into_error()))?;
        file.sync_all().map_err(fail)?;
        std::fs::rename(&temp, path).map_err(fail)?;
        Ok(done)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}
