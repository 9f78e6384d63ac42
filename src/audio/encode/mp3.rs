//! MP3 through LAME, with an ID3v2.3 tag in front: the title (TIT2) and
//! the chapters as CHAP frames under one ordered CTOC, as podcast players
//! read them. LAME starts the stream with an empty frame held for its tag;
//! at the end that frame is rewritten with the real one (frame count, seek
//! table, encoder delay and padding), so players trim LAME's delay and the
//! decoded sound lines up with the WAV.

use std::io::{self, SeekFrom};

use id3::frame::{Chapter, TableOfContents};
use id3::{Frame, Tag, TagLike, Version};
use mp3lame_encoder::{Builder, FlushGap, InterleavedPcm, Mode, Quality, VbrMode};

use super::{About, Encoder, Sink, failed};
use crate::script::timeline::SAMPLE_RATE;

pub struct Mp3<'w> {
    out: &'w mut dyn Sink,
    lame: mp3lame_encoder::Encoder,
    buf: Vec<u8>,
    /// Where LAME's first frame, the one held for its tag, begins.
    tag_frame_at: u64,
}

impl<'w> Mp3<'w> {
    pub fn start(out: &'w mut dyn Sink, about: &About) -> io::Result<Mp3<'w>> {
        let lame = |e| failed("MP3", e);
        let mut b = Builder::new().ok_or_else(|| failed("MP3", "LAME could not start"))?;
        b.set_num_channels(2).map_err(lame)?;
        b.set_sample_rate(SAMPLE_RATE).map_err(lame)?;
        b.set_output_sample_rate(std::num::NonZeroU32::new(SAMPLE_RATE)).map_err(lame)?;
        b.set_mode(Mode::JointStereo).map_err(lame)?;
        // VBR at -V 5: clear speech, and the silence of a hold in the
        // smallest frames.
        b.set_vbr_mode(VbrMode::Mtrh).map_err(lame)?;
        b.set_vbr_quality(Quality::Good).map_err(lame)?;
        b.set_quality(Quality::NearBest).map_err(lame)?;
        b.set_to_write_vbr_tag(true).map_err(lame)?;
        let encoder = b.build().map_err(lame)?;

        let mut tag = Tag::new();
        tag.set_title(about.title.clone());
        tag.set_artist("backease");
        tag.set_text("TSSE", super::vendor(&format!("LAME {}", mp3lame_encoder::mp3lame_version())));
        let chapters = &about.chapters;
        let ms = |samples: u64| u32::try_from(samples * 1000 / SAMPLE_RATE as u64).unwrap_or(u32::MAX);
        for (i, c) in chapters.iter().enumerate() {
            tag.add_frame(Chapter {
                element_id: format!("ch{}", i + 1),
                start_time: ms(c.start),
                end_time: ms(c.end),
                // No byte offsets: the times are what counts.
                start_offset: u32::MAX,
                end_offset: u32::MAX,
                frames: vec![Frame::text("TIT2", c.title.clone())],
            });
        }
        if !chapters.is_empty() {
            tag.add_frame(TableOfContents {
                element_id: "toc".into(),
                top_level: true,
                ordered: true,
                elements: (1..=chapters.len()).map(|i| format!("ch{i}")).collect(),
                frames: vec![Frame::text("TIT2", about.title.clone())],
            });
        }
        let mut head = Vec::new();
        tag.write_to(&mut head, Version::Id3v23).map_err(|e| failed("ID3", e))?;
        out.write_all(&head)?;
        let tag_frame_at = out.stream_position()?;
        Ok(Mp3 { out, lame: encoder, buf: Vec::new(), tag_frame_at })
    }
}

impl Encoder for Mp3<'_> {
    fn write(&mut self, samples: &[i16]) -> io::Result<()> {
        self.buf.clear();
        self.buf.reserve(mp3lame_encoder::max_required_buffer_size(samples.len() / 2));
        self.lame.encode_to_vec(InterleavedPcm(samples), &mut self.buf).map_err(|e| failed("MP3", e))?;
        self.out.write_all(&self.buf)
    }

    fn finish(mut self: Box<Self>) -> io::Result<()> {
        self.buf.clear();
        self.buf.reserve(7200);
        self.lame.flush_to_vec::<FlushGap>(&mut self.buf).map_err(|e| failed("MP3", e))?;
        self.out.write_all(&self.buf)?;
        self.buf.clear();
        self.buf.reserve(self.lame.lame_tag_size());
        if self.lame.lame_tag_encode_to_vec(&mut self.buf).is_some() {
            let end = self.out.stream_position()?;
            self.out.seek(SeekFrom::Start(self.tag_frame_at))?;
            self.out.write_all(&self.buf)?;
            self.out.seek(SeekFrom::Start(end))?;
        }
        self.out.flush()
    }
}
