//! Ogg Opus (RFC 7845) through libopus and the `ogg` crate: the OpusHead
//! with the encoder's lookahead as pre-skip, so a player drops exactly the
//! samples the encoder put before the sound; OpusTags with the title and
//! chapters; 20 ms packets, a page a second; and the last page's granule
//! position at the session's last sample, so the end is trimmed to it.

use std::io;

use ogg::writing::{PacketWriteEndInfo, PacketWriter};

use super::{About, Encoder, Sink, failed};
use crate::audio::format::CHANNELS;
use crate::script::timeline::SAMPLE_RATE;

/// Frames per packet: 20 ms, Opus's own best size.
const PACKET: usize = 960;
/// Packets per page: a second, so a player can seek to within one.
const PER_PAGE: u32 = 50;
/// Bits per second while there is sound: what Opus's makers suggest for
/// fullband speech, in stereo for the cues that come from one side. A
/// quiet hold costs almost nothing (VBR), so a session averages less:
/// about 1.5 MB per 10 minutes for the built-in routines.
pub const BITRATE: i32 = 32_000;

pub struct Opus<'w> {
    ogg: PacketWriter<'static, &'w mut dyn Sink>,
    encoder: ::opus::Encoder,
    serial: u32,
    pending: Vec<i16>,
    packet: Vec<u8>,
    /// Frames the stream must decode to: pre-skip and the session.
    frames: u64,
    /// Frames given to the encoder so far, padding included.
    fed: u64,
    in_page: u32,
}

impl<'w> Opus<'w> {
    pub fn start(out: &'w mut dyn Sink, about: &About) -> io::Result<Opus<'w>> {
        let opus = |e: ::opus::Error| failed("Opus", e);
        let mut encoder =
            ::opus::Encoder::new(SAMPLE_RATE, ::opus::Channels::Stereo, ::opus::Application::Audio).map_err(opus)?;
        encoder.set_bitrate(::opus::Bitrate::Bits(BITRATE)).map_err(opus)?;
        encoder.set_vbr(true).map_err(opus)?;
        encoder.set_complexity(10).map_err(opus)?;
        let pre_skip = encoder.get_lookahead().map_err(opus)?.max(0) as u64;
        // Any serial will do for a file of one stream; one that differs
        // between files keeps them apart if someone chains them.
        let serial = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0x6261_636b, |d| d.subsec_nanos() ^ std::process::id());
        let mut ogg = PacketWriter::new(out);
        let mut head = Vec::with_capacity(19);
        head.extend_from_slice(b"OpusHead");
        head.push(1);
        head.push(CHANNELS as u8);
        head.extend_from_slice(&(pre_skip as u16).to_le_bytes());
        head.extend_from_slice(&SAMPLE_RATE.to_le_bytes());
        head.extend_from_slice(&0i16.to_le_bytes());
        head.push(0);
        ogg.write_packet(head, serial, PacketWriteEndInfo::EndPage, 0)?;
        let mut tags = b"OpusTags".to_vec();
        let vendor = super::vendor(&format!("libopus {}", ::opus::version()));
        tags.extend(super::vorbis_comment(&vendor, &super::comments(about)));
        ogg.write_packet(tags, serial, PacketWriteEndInfo::EndPage, 0)?;
        Ok(Opus {
            ogg,
            encoder,
            serial,
            pending: Vec::with_capacity(PACKET * CHANNELS as usize),
            packet: vec![0; 4000],
            frames: pre_skip + about.frames,
            fed: 0,
            in_page: 0,
        })
    }

    /// Encodes the pending samples, a whole packet of them.
    fn packet(&mut self, last: bool) -> io::Result<()> {
        let len = self.encoder.encode(&self.pending, &mut self.packet).map_err(|e| failed("Opus", e))?;
        self.pending.clear();
        self.fed += PACKET as u64;
        self.in_page += 1;
        let (end, granule) = if last {
            (PacketWriteEndInfo::EndStream, self.frames)
        } else if self.in_page == PER_PAGE {
            (PacketWriteEndInfo::EndPage, self.fed)
        } else {
            (PacketWriteEndInfo::NormalPacket, self.fed)
        };
        if end != PacketWriteEndInfo::NormalPacket {
            self.in_page = 0;
        }
        self.ogg.write_packet(self.packet[..len].to_vec(), self.serial, end, granule)
    }
}

impl Encoder for Opus<'_> {
    fn write(&mut self, mut samples: &[i16]) -> io::Result<()> {
        let whole = PACKET * CHANNELS as usize;
        while !samples.is_empty() {
            let take = (whole - self.pending.len()).min(samples.len());
            self.pending.extend_from_slice(&samples[..take]);
            samples = &samples[take..];
            if self.pending.len() == whole {
                if self.fed >= self.frames {
                    // More than the session announced: never from render.
                    return Err(failed("Opus", "more samples than the session holds"));
                }
                self.packet(self.fed + PACKET as u64 >= self.frames)?;
            }
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> io::Result<()> {
        // The encoder runs `pre_skip` frames behind: feed silence until
        // every frame of the session has come out of it.
        let whole = PACKET * CHANNELS as usize;
        while self.fed < self.frames || self.fed == 0 {
            self.pending.resize(whole, 0);
            self.packet(self.fed + PACKET as u64 >= self.frames)?;
        }
        io::Write::flush(self.ogg.inner_mut())
    }
}
