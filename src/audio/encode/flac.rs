//! FLAC through flacenc: lossless, so the decoded file is the WAV sample
//! for sample. The STREAMINFO block is written first with the known length
//! and rewritten at the end with the frame sizes and the MD5 of the audio,
//! which `flac -t` and players check.

use std::io::{self, SeekFrom};

use flacenc::bitsink::MemSink;
use flacenc::component::{BitRepr, StreamInfo};
use flacenc::error::Verify;
use flacenc::source::{Context, Fill, FrameBuf};

use super::{About, Encoder, Sink, failed};
use crate::audio::format::CHANNELS;
use crate::script::timeline::SAMPLE_RATE;

/// Frames per FLAC block: the reference encoder's default.
const BLOCK: usize = 4096;
const BITS: usize = 16;

pub struct Flac<'w> {
    out: &'w mut dyn Sink,
    config: flacenc::error::Verified<flacenc::config::Encoder>,
    info: StreamInfo,
    buffers: (FrameBuf, Context),
    /// Interleaved samples not yet a whole block.
    pending: Vec<i32>,
    sink: MemSink<u8>,
    /// Where STREAMINFO's body is, to rewrite it.
    info_at: u64,
}

impl<'w> Flac<'w> {
    pub fn start(out: &'w mut dyn Sink, about: &About) -> io::Result<Flac<'w>> {
        let channels = CHANNELS as usize;
        let config = flacenc::config::Encoder::default().into_verified().map_err(|(_, e)| failed("FLAC", e))?;
        let mut info = StreamInfo::new(SAMPLE_RATE as usize, channels, BITS).map_err(|e| failed("FLAC", e))?;
        info.set_total_samples(about.frames as usize);
        let info_at = out.stream_position()? + 8;
        out.write_all(b"fLaC")?;
        let mut sink = MemSink::new();
        block_header(out, 0, false, 34)?;
        info.write(&mut sink).map_err(|e| failed("FLAC", e))?;
        out.write_all(sink.as_slice())?;
        let comment = super::vorbis_comment(&super::vendor("flacenc"), &super::comments(about));
        block_header(out, 4, true, comment.len())?;
        out.write_all(&comment)?;
        Ok(Flac {
            out,
            config,
            info,
            buffers: (
                FrameBuf::with_size(channels, BLOCK).map_err(|e| failed("FLAC", e))?,
                Context::new(BITS, channels),
            ),
            pending: Vec::with_capacity(BLOCK * channels),
            sink,
            info_at,
        })
    }

    /// Encodes the pending samples as one frame.
    fn frame(&mut self) -> io::Result<()> {
        self.buffers.fill_interleaved(&self.pending).map_err(|e| failed("FLAC", e))?;
        self.pending.clear();
        let number = self.buffers.1.current_frame_number().unwrap_or(0);
        let frame = flacenc::encode_fixed_size_frame(&self.config, &self.buffers.0, number, &self.info)
            .map_err(|e| failed("FLAC", e))?;
        self.info.update_frame_info(&frame);
        self.sink.clear();
        frame.write(&mut self.sink).map_err(|e| failed("FLAC", e))?;
        self.out.write_all(self.sink.as_slice())
    }
}

impl Encoder for Flac<'_> {
    fn write(&mut self, mut samples: &[i16]) -> io::Result<()> {
        let whole = BLOCK * CHANNELS as usize;
        while !samples.is_empty() {
            let take = (whole - self.pending.len()).min(samples.len());
            self.pending.extend(samples[..take].iter().map(|&s| s as i32));
            samples = &samples[take..];
            if self.pending.len() == whole {
                self.frame()?;
            }
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> io::Result<()> {
        if !self.pending.is_empty() {
            self.frame()?;
        }
        // update_frame_info added every frame to the length announced at
        // the start: what was encoded is the length.
        let total = self.buffers.1.total_samples();
        self.info.set_md5_digest(&self.buffers.1.md5_digest());
        // The stream's block size is fixed, its last block shorter, as the
        // reference encoder records it.
        self.info.set_block_sizes(BLOCK, BLOCK).map_err(|e| failed("FLAC", e))?;
        self.info.set_total_samples(total);
        self.sink.clear();
        self.info.write(&mut self.sink).map_err(|e| failed("FLAC", e))?;
        let end = self.out.stream_position()?;
        self.out.seek(SeekFrom::Start(self.info_at))?;
        self.out.write_all(self.sink.as_slice())?;
        self.out.seek(SeekFrom::Start(end))?;
        self.out.flush()
    }
}

/// A metadata block's header: last-block flag, type, 24-bit length.
fn block_header(out: &mut dyn Sink, kind: u8, last: bool, len: usize) -> io::Result<()> {
    let len = u32::try_from(len)
        .ok()
        .filter(|&l| l < 1 << 24)
        .ok_or_else(|| failed("FLAC", "a metadata block is too long"))?;
    let [_, a, b, c] = len.to_be_bytes();
    out.write_all(&[kind | if last { 0x80 } else { 0 }, a, b, c])
}
