//! Image dimension detection for Storyblok's `size` sign parameter (`"{w}x{h}"`).
//!
//! Only the header bytes are read: a fixed-size prefix for PNG, GIF and WebP,
//! and a bounded marker walk (skipping segment bodies with `Seek`) for JPEG.
//! Nothing is allocated based on lengths found in the file, every loop is
//! bounded, and malformed input yields `None` rather than a panic.

use std::io::{self, Read, Seek, SeekFrom};

/// Width and height in pixels as stored in the file (no EXIF orientation applied).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Dimensions {
    pub(crate) width: u32,
    pub(crate) height: u32,
}

impl Dimensions {
    /// Formats as Storyblok's `size` parameter, e.g. `"640x480"`.
    pub(crate) fn to_size_param(self) -> String {
        format!("{}x{}", self.width, self.height)
    }

    /// `None` when either side is zero.
    fn new(width: u32, height: u32) -> Option<Self> {
        (width != 0 && height != 0).then_some(Self { width, height })
    }
}

/// Reads from the current position; returns `Ok(None)` for a non-image or
/// unsupported/corrupt header. Leaves the reader position unspecified (caller rewinds).
pub(crate) fn detect<R: Read + Seek>(reader: &mut R) -> io::Result<Option<Dimensions>> {
    let mut head = [0u8; HEAD_LEN];
    let n = read_full(reader, &mut head[..2])?;
    if n == 2 && head[..2] == JPEG_SOI {
        return jpeg(reader);
    }
    let n = n + read_full(reader, &mut head[n..])?;
    Ok(from_head(&head[..n]))
}

/// Same as [`detect`] over an in-memory buffer.
pub(crate) fn detect_bytes(bytes: &[u8]) -> Option<Dimensions> {
    // A cursor over a slice never fails to read, and we only seek forward.
    detect(&mut io::Cursor::new(bytes)).ok().flatten()
}

/// Longest fixed prefix any non-JPEG format needs (WebP: 12 + 8 + 10).
const HEAD_LEN: usize = 30;

/// Reads until `buf` is full or end of input; returns the number of bytes read.
fn read_full<R: Read>(reader: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            // `min` guards against a misbehaving reader reporting too much.
            Ok(n) => filled += n.min(buf.len() - filled),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

fn read_u8<R: Read>(reader: &mut R) -> io::Result<Option<u8>> {
    let mut b = [0u8; 1];
    Ok((read_full(reader, &mut b)? == 1).then_some(b[0]))
}

fn array<const N: usize>(b: &[u8], at: usize) -> Option<[u8; N]> {
    b.get(at..at.checked_add(N)?)?.try_into().ok()
}

fn be_u16(b: &[u8], at: usize) -> Option<u16> {
    array(b, at).map(u16::from_be_bytes)
}

fn le_u16(b: &[u8], at: usize) -> Option<u16> {
    array(b, at).map(u16::from_le_bytes)
}

fn be_u32(b: &[u8], at: usize) -> Option<u32> {
    array(b, at).map(u32::from_be_bytes)
}

fn le_u32(b: &[u8], at: usize) -> Option<u32> {
    array(b, at).map(u32::from_le_bytes)
}

fn le_u24(b: &[u8], at: usize) -> Option<u32> {
    array::<3>(b, at).map(|[a, b, c]| u32::from_le_bytes([a, b, c, 0]))
}

fn from_head(head: &[u8]) -> Option<Dimensions> {
    if head.starts_with(&PNG_SIGNATURE) {
        png(head)
    } else if head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a") {
        gif(head)
    } else if head.starts_with(b"RIFF") && head.get(8..12) == Some(b"WEBP") {
        webp(head)
    } else {
        None
    }
}

// ---------------------------------------------------------------------------
// PNG (ISO/IEC 15948, W3C PNG spec):
//   0  8-byte signature 89 50 4E 47 0D 0A 1A 0A
//   8  first chunk, which must be IHDR: u32 BE data length (= 13), "IHDR",
//  16  u32 BE width, u32 BE height (each 1 ..= 2^31 - 1),
//      then bit depth, colour type, compression, filter, interlace, CRC.
// ---------------------------------------------------------------------------

const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
const PNG_MAX_SIDE: u32 = i32::MAX as u32;

fn png(head: &[u8]) -> Option<Dimensions> {
    if be_u32(head, 8)? != 13 || head.get(12..16)? != b"IHDR" {
        return None;
    }
    let width = be_u32(head, 16)?;
    let height = be_u32(head, 20)?;
    if width > PNG_MAX_SIDE || height > PNG_MAX_SIDE {
        return None;
    }
    Dimensions::new(width, height)
}

// ---------------------------------------------------------------------------
// GIF (GIF87a / GIF89a specification):
//   0  6-byte header "GIF87a" or "GIF89a"
//   6  logical screen descriptor: u16 LE width, u16 LE height, flags, ...
// ---------------------------------------------------------------------------

fn gif(head: &[u8]) -> Option<Dimensions> {
    let width = le_u16(head, 6)?;
    let height = le_u16(head, 8)?;
    Dimensions::new(width.into(), height.into())
}

// ---------------------------------------------------------------------------
// WebP (RIFF container, Google "WebP Container Specification"):
//   0  "RIFF", u32 LE file size, "WEBP"
//  12  first chunk: FourCC, u32 LE chunk size, payload at 20:
//   "VP8 " (lossy, RFC 6386 key frame):
//      3-byte frame tag (bit 0 of byte 0 is 0 for a key frame),
//      start code 9D 01 2A,
//      u16 LE: 14-bit width + 2-bit horizontal scale,
//      u16 LE: 14-bit height + 2-bit vertical scale.
//   "VP8L" (lossless): signature byte 0x2F, then a u32 LE bit field:
//      bits 0..14 width - 1, 14..28 height - 1, 28 alpha hint, 29..32 version (0).
//   "VP8X" (extended): u8 flags, 3 reserved bytes,
//      u24 LE canvas width - 1, u24 LE canvas height - 1
//      (width * height must fit in 32 bits).
// ---------------------------------------------------------------------------

const WEBP_PAYLOAD: usize = 20;

fn webp(head: &[u8]) -> Option<Dimensions> {
    let p = WEBP_PAYLOAD;
    match head.get(12..16)? {
        b"VP8 " => {
            let tag = *head.get(p)?;
            if tag & 1 != 0 || head.get(p + 3..p + 6)? != [0x9D, 0x01, 0x2A] {
                return None;
            }
            let width = le_u16(head, p + 6)? & 0x3FFF;
            let height = le_u16(head, p + 8)? & 0x3FFF;
            Dimensions::new(width.into(), height.into())
        }
        b"VP8L" => {
            if *head.get(p)? != 0x2F {
                return None;
            }
            let bits = le_u32(head, p + 1)?;
            if bits >> 29 != 0 {
                return None;
            }
            Dimensions::new((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1)
        }
        b"VP8X" => {
            let width = le_u24(head, p + 4)? + 1;
            let height = le_u24(head, p + 7)? + 1;
            if u64::from(width) * u64::from(height) > u64::from(u32::MAX) {
                return None;
            }
            Dimensions::new(width, height)
        }
        _ => None,
    }
}

// ---------------------------------------------------------------------------
// JPEG (ITU-T T.81 / ISO/IEC 10918-1, Annex B):
//   The file starts with SOI (FF D8). Each marker is 0xFF followed by a code
//   byte; any number of extra 0xFF fill bytes may precede the code.
//   Standalone markers without a length: TEM (01), RST0-7 (D0-D7), SOI, EOI.
//   Every other marker is followed by a u16 BE segment length that counts
//   itself (so it is >= 2) but not the marker.
//   SOFn (C0-CF except DHT C4, JPG C8, DAC CC) segment: length, u8 sample
//   precision, u16 BE number of lines (height), u16 BE samples per line
//   (width), u8 component count, then 3 bytes per component.
//   A height of 0 means "defined later by DNL", which we treat as unknown.
//   SOS (DA) starts entropy-coded data; a frame header must precede it.
// ---------------------------------------------------------------------------

const JPEG_SOI: [u8; 2] = [0xFF, 0xD8];
/// Upper bound on markers walked before giving up.
const JPEG_MAX_SEGMENTS: usize = 4096;
/// Upper bound on 0xFF fill bytes accepted over the whole walk.
const JPEG_MAX_FILL: usize = 64 * 1024;
/// Smallest SOF length holding precision, height, width and component count.
const JPEG_MIN_SOF_LEN: u16 = 8;

fn is_sof(marker: u8) -> bool {
    matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC)
}

/// Walks the marker segments; the reader is positioned just after SOI.
fn jpeg<R: Read + Seek>(reader: &mut R) -> io::Result<Option<Dimensions>> {
    let mut fill_budget = JPEG_MAX_FILL;
    for _ in 0..JPEG_MAX_SEGMENTS {
        if read_u8(reader)? != Some(0xFF) {
            return Ok(None);
        }
        let marker = loop {
            match read_u8(reader)? {
                None => return Ok(None),
                Some(0xFF) if fill_budget == 0 => return Ok(None),
                Some(0xFF) => fill_budget -= 1,
                Some(code) => break code,
            }
        };
        match marker {
            // Standalone markers: no length, nothing to skip.
            0x01 | 0xD0..=0xD7 => continue,
            // Stuffed zero (only valid inside entropy data), a second SOI,
            // EOI or SOS before any frame header: nothing to find.
            0x00 | 0xD8 | 0xD9 | 0xDA => return Ok(None),
            _ => {}
        }
        let mut len = [0u8; 2];
        if read_full(reader, &mut len)? < 2 {
            return Ok(None);
        }
        let len = u16::from_be_bytes(len);
        if len < 2 {
            return Ok(None);
        }
        if is_sof(marker) {
            if len < JPEG_MIN_SOF_LEN {
                return Ok(None);
            }
            let mut sof = [0u8; 5];
            if read_full(reader, &mut sof)? < sof.len() {
                return Ok(None);
            }
            let height = be_u16(&sof, 1).unwrap_or(0);
            let width = be_u16(&sof, 3).unwrap_or(0);
            return Ok(Dimensions::new(width.into(), height.into()));
        }
        reader.seek(SeekFrom::Current(i64::from(len - 2)))?;
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn dims(width: u32, height: u32) -> Option<Dimensions> {
        Some(Dimensions { width, height })
    }

    fn png(width: u32, height: u32) -> Vec<u8> {
        let mut v = PNG_SIGNATURE.to_vec();
        v.extend_from_slice(&13u32.to_be_bytes());
        v.extend_from_slice(b"IHDR");
        v.extend_from_slice(&width.to_be_bytes());
        v.extend_from_slice(&height.to_be_bytes());
        // bit depth 8, colour type 6 (RGBA), compression, filter, interlace
        v.extend_from_slice(&[8, 6, 0, 0, 0]);
        v.extend_from_slice(&[0xDE, 0xAD, 0xBE, 0xEF]); // CRC (not checked)
        v
    }

    fn gif(version: &[u8; 6], width: u16, height: u16) -> Vec<u8> {
        let mut v = version.to_vec();
        v.extend_from_slice(&width.to_le_bytes());
        v.extend_from_slice(&height.to_le_bytes());
        v.extend_from_slice(&[0x00, 0x00, 0x00]); // flags, background, aspect
        v.push(0x3B); // trailer
        v
    }

    fn segment(marker: u8, payload: &[u8]) -> Vec<u8> {
        let mut v = vec![0xFF, marker];
        let len = u16::try_from(payload.len() + 2).expect("test segment too long");
        v.extend_from_slice(&len.to_be_bytes());
        v.extend_from_slice(payload);
        v
    }

    fn sof_payload(width: u16, height: u16) -> Vec<u8> {
        let mut p = vec![8];
        p.extend_from_slice(&height.to_be_bytes());
        p.extend_from_slice(&width.to_be_bytes());
        p.extend_from_slice(&[3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);
        p
    }

    /// SOI, APP0 (JFIF), APP1 (EXIF-ish), SOF0, DHT, SOS, EOI.
    fn jpeg_baseline(width: u16, height: u16) -> Vec<u8> {
        let mut v = JPEG_SOI.to_vec();
        v.extend(segment(0xE0, b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0"));
        let mut exif = b"Exif\0\0MM\0\x2a".to_vec();
        exif.resize(300, 0xFF); // 0xFF inside a segment body must be skipped
        v.extend(segment(0xE1, &exif));
        v.extend(segment(0xC0, &sof_payload(width, height)));
        v.extend(segment(0xC4, &[0; 20]));
        v.extend(segment(0xDA, &[1, 1, 0, 0, 0x3F, 0]));
        v.extend_from_slice(&[0x12, 0x34, 0xFF, 0xD9]);
        v
    }

    /// SOI, fill bytes, DQT, RST/TEM, fill bytes, SOF2 (progressive).
    fn jpeg_progressive(width: u16, height: u16) -> Vec<u8> {
        let mut v = JPEG_SOI.to_vec();
        v.extend_from_slice(&[0xFF, 0xFF, 0xFF]); // fill before the marker
        v.extend(segment(0xDB, &[0; 65]));
        v.extend_from_slice(&[0xFF, 0xD3, 0xFF, 0x01]); // standalone RST3, TEM
        v.extend_from_slice(&[0xFF; 5]);
        v.extend(segment(0xC2, &sof_payload(width, height)));
        v.extend_from_slice(&[0xFF, 0xD9]);
        v
    }

    fn riff_webp(fourcc: &[u8; 4], payload: &[u8]) -> Vec<u8> {
        let mut v = b"RIFF".to_vec();
        let riff_size = u32::try_from(4 + 8 + payload.len()).expect("small");
        v.extend_from_slice(&riff_size.to_le_bytes());
        v.extend_from_slice(b"WEBP");
        v.extend_from_slice(fourcc);
        let chunk_size = u32::try_from(payload.len()).expect("small");
        v.extend_from_slice(&chunk_size.to_le_bytes());
        v.extend_from_slice(payload);
        v
    }

    fn webp_vp8(width: u16, height: u16) -> Vec<u8> {
        // key frame, version 0, show_frame, first partition size (arbitrary)
        let mut p = vec![0x10, 0x02, 0x00, 0x9D, 0x01, 0x2A];
        // Top two bits are the scale and must be ignored.
        p.extend_from_slice(&(width | 0x4000).to_le_bytes());
        p.extend_from_slice(&(height | 0x8000).to_le_bytes());
        p.extend_from_slice(&[0; 8]);
        riff_webp(b"VP8 ", &p)
    }

    fn webp_vp8l(width: u32, height: u32) -> Vec<u8> {
        let bits = (width - 1) | ((height - 1) << 14) | (1 << 28);
        let mut p = vec![0x2F];
        p.extend_from_slice(&bits.to_le_bytes());
        p.extend_from_slice(&[0; 4]);
        riff_webp(b"VP8L", &p)
    }

    fn webp_vp8x(width: u32, height: u32) -> Vec<u8> {
        let mut p = vec![0x10, 0, 0, 0];
        p.extend_from_slice(&(width - 1).to_le_bytes()[..3]);
        p.extend_from_slice(&(height - 1).to_le_bytes()[..3]);
        riff_webp(b"VP8X", &p)
    }

    /// Reads at most one byte per call, to exercise short reads.
    struct Trickle<R>(R);

    impl<R: Read> Read for Trickle<R> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(1);
            self.0.read(&mut buf[..n])
        }
    }

    impl<R: Seek> Seek for Trickle<R> {
        fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
            self.0.seek(pos)
        }
    }

    /// Asserts detection through every entry point, then checks all prefixes:
    /// shorter than `needed` must give nothing; longer may give the answer.
    fn check(bytes: &[u8], expected: Option<Dimensions>, needed: usize) {
        assert_eq!(detect_bytes(bytes), expected);
        assert_eq!(detect(&mut Cursor::new(bytes)).unwrap(), expected);
        assert_eq!(detect(&mut Trickle(Cursor::new(bytes))).unwrap(), expected);
        for len in 0..bytes.len() {
            let prefix = &bytes[..len];
            let want = if len < needed { None } else { expected };
            assert_eq!(detect_bytes(prefix), want, "prefix of {len} bytes");
            assert_eq!(
                detect(&mut Cursor::new(prefix)).unwrap(),
                want,
                "prefix of {len} bytes"
            );
        }
    }

    /// Offset just past the width field of the first SOF segment.
    fn sof_end(bytes: &[u8], marker: u8) -> usize {
        let at = bytes
            .windows(2)
            .position(|w| w == [0xFF, marker])
            .expect("SOF present");
        at + 2 + 2 + 5
    }

    #[test]
    fn size_param() {
        let d = Dimensions {
            width: 640,
            height: 480,
        };
        assert_eq!(d.to_size_param(), "640x480");
    }

    #[test]
    fn png_ihdr() {
        check(&png(640, 480), dims(640, 480), 24);
        check(&png(1, 0x7FFF_FFFF), dims(1, 0x7FFF_FFFF), 24);
        assert_eq!(detect_bytes(&png(0, 480)), None);
        assert_eq!(detect_bytes(&png(640, 0)), None);
        assert_eq!(detect_bytes(&png(0x8000_0000, 1)), None);
        let mut not_ihdr = png(640, 480);
        not_ihdr[12..16].copy_from_slice(b"IDAT");
        assert_eq!(detect_bytes(&not_ihdr), None);
    }

    #[test]
    fn gif_both_versions() {
        check(&gif(b"GIF87a", 320, 200), dims(320, 200), 10);
        check(&gif(b"GIF89a", 65535, 1), dims(65535, 1), 10);
        assert_eq!(detect_bytes(&gif(b"GIF89a", 0, 5)), None);
        assert_eq!(detect_bytes(&gif(b"GIF88a", 5, 5)), None);
    }

    #[test]
    fn jpeg_app1_then_sof0() {
        let bytes = jpeg_baseline(1920, 1080);
        check(&bytes, dims(1920, 1080), sof_end(&bytes, 0xC0));
    }

    #[test]
    fn jpeg_progressive_with_fill_bytes() {
        let bytes = jpeg_progressive(4000, 3000);
        check(&bytes, dims(4000, 3000), sof_end(&bytes, 0xC2));
    }

    #[test]
    fn jpeg_skips_large_segments_and_non_frame_c_markers() {
        let mut v = JPEG_SOI.to_vec();
        v.extend(segment(0xE2, &vec![0xFF; 65533])); // maximal ICC-sized segment
        v.extend(segment(0xC4, &sof_payload(1, 1))); // DHT, not a frame
        v.extend(segment(0xC8, &sof_payload(2, 2))); // JPG, not a frame
        v.extend(segment(0xCC, &sof_payload(3, 3))); // DAC, not a frame
        v.extend(segment(0xCF, &sof_payload(7, 9))); // SOF15
        assert_eq!(detect_bytes(&v), dims(7, 9));
        assert_eq!(detect(&mut Trickle(Cursor::new(&v))).unwrap(), dims(7, 9));
    }

    #[test]
    fn jpeg_gives_up() {
        let sos_first = [&JPEG_SOI[..], &segment(0xDA, &[0; 6]), &[0xFF, 0xD9]].concat();
        assert_eq!(detect_bytes(&sos_first), None);
        assert_eq!(detect_bytes(&[0xFF, 0xD8, 0xFF, 0xD9]), None);
        // Zero height (DNL) and zero width.
        let mut zero = JPEG_SOI.to_vec();
        zero.extend(segment(0xC0, &sof_payload(100, 0)));
        assert_eq!(detect_bytes(&zero), None);
        let mut zero = JPEG_SOI.to_vec();
        zero.extend(segment(0xC0, &sof_payload(0, 100)));
        assert_eq!(detect_bytes(&zero), None);
        // Garbage between segments instead of a marker.
        let mut junk = JPEG_SOI.to_vec();
        junk.extend(segment(0xE0, &[0; 4]));
        junk.push(0x00);
        junk.extend(segment(0xC0, &sof_payload(10, 10)));
        assert_eq!(detect_bytes(&junk), None);
        // SOF segment too short to hold the fields.
        let short_sof = [0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x07, 8, 0, 1, 0, 1, 0xFF];
        assert_eq!(detect_bytes(&short_sof), None);
    }

    #[test]
    fn jpeg_segment_length_below_two() {
        for len in [0u8, 1] {
            let mut v = vec![0xFF, 0xD8, 0xFF, 0xE1, 0x00, len];
            v.extend(segment(0xC0, &sof_payload(10, 10)));
            assert_eq!(detect_bytes(&v), None);
            assert_eq!(detect(&mut Cursor::new(&v)).unwrap(), None);
        }
        // Length exactly 2 (empty body) is fine.
        let mut v = vec![0xFF, 0xD8, 0xFF, 0xE1, 0x00, 0x02];
        v.extend(segment(0xC0, &sof_payload(10, 10)));
        assert_eq!(detect_bytes(&v), dims(10, 10));
    }

    #[test]
    fn jpeg_segment_cap() {
        let with_empty_segments = |n: usize| {
            let mut v = JPEG_SOI.to_vec();
            for _ in 0..n {
                v.extend_from_slice(&[0xFF, 0xE0, 0x00, 0x02]);
            }
            v.extend(segment(0xC0, &sof_payload(10, 10)));
            v
        };
        // The SOF is the last marker the walk is willing to look at...
        assert_eq!(
            detect_bytes(&with_empty_segments(JPEG_MAX_SEGMENTS - 1)),
            dims(10, 10)
        );
        // ...and one past it.
        assert_eq!(detect_bytes(&with_empty_segments(JPEG_MAX_SEGMENTS)), None);
    }

    /// An endless reader repeating `pattern` after `prefix`; seeks are
    /// accepted and ignored (as if the skipped bytes were the pattern).
    struct Endless {
        prefix: Vec<u8>,
        pattern: Vec<u8>,
        pos: usize,
    }

    impl Read for Endless {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            for b in buf.iter_mut() {
                *b = match self.prefix.get(self.pos) {
                    Some(&b) => b,
                    None => self.pattern[(self.pos - self.prefix.len()) % self.pattern.len()],
                };
                self.pos += 1;
            }
            Ok(buf.len())
        }
    }

    impl Seek for Endless {
        fn seek(&mut self, _: SeekFrom) -> io::Result<u64> {
            Ok(0)
        }
    }

    #[test]
    fn endless_input_terminates() {
        for pattern in [
            vec![0xFF],
            vec![0xFF, 0xD0],
            vec![0xFF, 0x01],
            vec![0xFF, 0xE0, 0x00, 0x02],
        ] {
            let mut r = Endless {
                prefix: JPEG_SOI.to_vec(),
                pattern,
                pos: 0,
            };
            assert_eq!(detect(&mut r).unwrap(), None);
        }
    }

    #[test]
    fn webp_vp8_lossy() {
        let bytes = webp_vp8(550, 368);
        check(&bytes, dims(550, 368), 30);
        let bytes = webp_vp8(16383, 1);
        check(&bytes, dims(16383, 1), 30);
        assert_eq!(detect_bytes(&webp_vp8(0, 10)), None);
        let mut inter = webp_vp8(10, 10);
        inter[20] |= 1; // not a key frame
        assert_eq!(detect_bytes(&inter), None);
        let mut bad_start = webp_vp8(10, 10);
        bad_start[25] = 0x2B;
        assert_eq!(detect_bytes(&bad_start), None);
    }

    #[test]
    fn webp_vp8l_lossless() {
        check(&webp_vp8l(386, 395), dims(386, 395), 25);
        check(&webp_vp8l(16384, 1), dims(16384, 1), 25);
        let mut bad_sig = webp_vp8l(2, 2);
        bad_sig[20] = 0x2E;
        assert_eq!(detect_bytes(&bad_sig), None);
        let mut bad_version = webp_vp8l(2, 2);
        bad_version[24] |= 0x20; // version bit 29
        assert_eq!(detect_bytes(&bad_version), None);
    }

    #[test]
    fn webp_vp8x_extended() {
        check(&webp_vp8x(1000, 750), dims(1000, 750), 30);
        check(&webp_vp8x(1 << 24, 1), dims(1 << 24, 1), 30);
        // Canvas area over 2^32 - 1 is invalid.
        assert_eq!(detect_bytes(&webp_vp8x(1 << 24, 1 << 24)), None);
        let mut unknown = webp_vp8x(1, 1);
        unknown[12..16].copy_from_slice(b"ALPH");
        assert_eq!(detect_bytes(&unknown), None);
    }

    #[test]
    fn not_images() {
        assert_eq!(detect_bytes(&[]), None);
        assert_eq!(detect(&mut Cursor::new(Vec::new())).unwrap(), None);
        let text = b"Hello, this is a plain text file.\nNothing to see here.\n";
        assert_eq!(detect_bytes(text), None);
        assert_eq!(detect_bytes(b"RIFF\x24\0\0\0WAVEfmt \x10\0\0\0"), None);
        assert_eq!(detect_bytes(b"<svg width=\"10\" height=\"10\"/>"), None);
    }

    #[test]
    fn garbage_never_panics() {
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = || {
            // xorshift64
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()[0]
        };
        let prefixes: [&[u8]; 8] = [
            b"",
            &[0xFF, 0xD8],
            &[0xFF, 0xD8, 0xFF],
            &PNG_SIGNATURE,
            b"GIF89a",
            b"RIFF\0\0\0\0WEBPVP8 ",
            b"RIFF\0\0\0\0WEBPVP8L",
            b"RIFF\0\0\0\0WEBPVP8X",
        ];
        for round in 0..2000 {
            let prefix = prefixes[round % prefixes.len()];
            let len = usize::from(next()) % 200;
            let mut v = prefix.to_vec();
            v.extend((0..len).map(|_| next()));
            let a = detect_bytes(&v);
            let b = detect(&mut Trickle(Cursor::new(&v))).unwrap();
            assert_eq!(a, b);
            if let Some(d) = a {
                assert!(d.width > 0 && d.height > 0);
            }
        }
    }

    /// Reader that fails after yielding a JPEG SOI.
    struct Failing(usize);

    impl Read for Failing {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            match (self.0, buf.first_mut()) {
                (_, None) => Ok(0),
                (0, Some(b)) => {
                    *b = 0xFF;
                    self.0 += 1;
                    Ok(1)
                }
                (1, Some(b)) => {
                    *b = 0xD8;
                    self.0 += 1;
                    Ok(1)
                }
                _ => Err(io::Error::other("disk on fire")),
            }
        }
    }

    impl Seek for Failing {
        fn seek(&mut self, _: SeekFrom) -> io::Result<u64> {
            Ok(0)
        }
    }

    #[test]
    fn io_errors_propagate() {
        assert!(detect(&mut Failing(0)).is_err());
    }
}
