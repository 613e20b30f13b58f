//! Files for attachment tests, made in code so that no binary fixture hides in the tree.

use bytes::Bytes;
use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::{DynamicImage, Rgb, RgbImage};
use img_parts::ImageEXIF;
use img_parts::jpeg::Jpeg;

/// The text a [`jpeg_with_gps`] hides in its EXIF segment: read it back to prove it is gone.
pub const GPS_MARKER: &[u8] = b"GPSLatitude 48.8584 N, GPSLongitude 2.2945 E";

fn gradient(width: u32, height: u32) -> DynamicImage {
    DynamicImage::ImageRgb8(RgbImage::from_fn(width, height, |x, y| {
        Rgb([
            u8::try_from(x % 256).unwrap_or(0),
            u8::try_from(y % 256).unwrap_or(0),
            128,
        ])
    }))
}

/// A PNG of `width` × `height`.
///
/// # Panics
/// Never for sizes that fit in memory.
#[must_use]
pub fn png(width: u32, height: u32) -> Vec<u8> {
    let mut out = Vec::new();
    gradient(width, height)
        .write_with_encoder(PngEncoder::new(&mut out))
        .expect("encode png");
    out
}

/// A JPEG of `width` × `height` carrying an EXIF segment with [`GPS_MARKER`], as a phone
/// camera writes one.
///
/// # Panics
/// Never for sizes that fit in memory.
#[must_use]
pub fn jpeg_with_gps(width: u32, height: u32) -> Vec<u8> {
    let mut plain = Vec::new();
    gradient(width, height)
        .write_with_encoder(JpegEncoder::new_with_quality(&mut plain, 85))
        .expect("encode jpeg");
    let mut jpeg = Jpeg::from_bytes(Bytes::from(plain)).expect("parse jpeg");
    let mut exif = b"MM\0*\0\0\0\x08\0\0".to_vec();
    exif.extend_from_slice(GPS_MARKER);
    jpeg.set_exif(Some(Bytes::from(exif)));
    jpeg.encoder().bytes().to_vec()
}

/// A valid one-page PDF of exactly `size` bytes (padded with comment lines), or of its
/// minimal size when `size` is smaller.
#[must_use]
pub fn pdf(size: usize) -> Vec<u8> {
    let mut out = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n\
2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n\
3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\n\
trailer<</Root 1 0 R>>\n"
        .to_vec();
    let end = b"%%EOF\n";
    let mut remaining = size.saturating_sub(out.len() + end.len());
    while remaining > 0 {
        if remaining == 1 {
            out.push(b'\n');
            break;
        }
        let n = (remaining - 2).min(70);
        out.push(b'%');
        out.extend(std::iter::repeat_n(b'x', n));
        out.push(b'\n');
        remaining -= n + 2;
    }
    out.extend_from_slice(end);
    out
}

/// Whether `haystack` contains `needle`.
#[must_use]
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// A JPEG of a few hundred bytes whose header declares `width` × `height` (a decompression
/// bomb: 65535 × 65535 would decode to 12 GB). Its scan holds 8 × 8 pixels.
///
/// # Panics
/// Never.
#[must_use]
pub fn jpeg_bomb(width: u16, height: u16) -> Vec<u8> {
    let mut out = Vec::new();
    gradient(8, 8)
        .write_with_encoder(JpegEncoder::new_with_quality(&mut out, 50))
        .expect("encode jpeg");
    // SOF0: FF C0, length (2), precision (1), height (2), width (2).
    let sof = out
        .windows(2)
        .position(|w| w == [0xFF, 0xC0])
        .expect("a baseline frame header");
    out[sof + 5..sof + 7].copy_from_slice(&height.to_be_bytes());
    out[sof + 7..sof + 9].copy_from_slice(&width.to_be_bytes());
    out
}

/// A small PNG whose header declares `width` × `height`: a real 1 × 1 image with its IHDR
/// rewritten (and its checksum recomputed).
///
/// # Panics
/// Never.
#[must_use]
pub fn png_bomb(width: u32, height: u32) -> Vec<u8> {
    let mut png = img_parts::png::Png::from_bytes(png(1, 1).into()).expect("parse png");
    let chunks = png.chunks_mut();
    let ihdr = chunks
        .iter()
        .position(|c| &c.kind() == b"IHDR")
        .expect("a header");
    let mut contents = chunks[ihdr].contents().to_vec();
    contents[0..4].copy_from_slice(&width.to_be_bytes());
    contents[4..8].copy_from_slice(&height.to_be_bytes());
    chunks[ihdr] = img_parts::png::PngChunk::new(*b"IHDR", contents.into());
    png.encoder().bytes().to_vec()
}

/// A 48-byte lossy WebP whose frame header declares `width` × `height` (at most 16383 each).
#[must_use]
pub fn webp_bomb(width: u16, height: u16) -> Vec<u8> {
    // VP8 frame: a key-frame tag, the start code, then 14-bit width and height.
    let mut vp8 = vec![0x30, 0x01, 0x00, 0x9d, 0x01, 0x2a];
    vp8.extend_from_slice(&(width & 0x3FFF).to_le_bytes());
    vp8.extend_from_slice(&(height & 0x3FFF).to_le_bytes());
    vp8.resize(28, 0);
    riff_webp(&[(*b"VP8 ", vp8)])
}

/// An animated WebP whose canvas is `width` × `height` (up to 2^24 each), with `frames` frames
/// of one pixel each.
///
/// # Panics
/// Never.
#[must_use]
pub fn animated_webp_bomb(width: u32, height: u32, frames: u32) -> Vec<u8> {
    let mut one = Vec::new();
    gradient(1, 1)
        .write_with_encoder(image::codecs::webp::WebPEncoder::new_lossless(&mut one))
        .expect("encode webp");
    // The encoder writes RIFF, size, WEBP, then the VP8L chunk: keep that chunk whole.
    let pixel = one[12..].to_vec();
    let u24 = |v: u32| v.to_le_bytes()[..3].to_vec();
    let mut vp8x = vec![0x02, 0, 0, 0]; // the animation flag
    vp8x.extend(u24(width - 1));
    vp8x.extend(u24(height - 1));
    let mut chunks = vec![(*b"VP8X", vp8x), (*b"ANIM", vec![0; 6])];
    for _ in 0..frames {
        let mut anmf = [u24(0), u24(0), u24(0), u24(0), u24(100)].concat();
        anmf.push(0);
        anmf.extend_from_slice(&pixel);
        chunks.push((*b"ANMF", anmf));
    }
    riff_webp(&chunks)
}

fn riff_webp(chunks: &[([u8; 4], Vec<u8>)]) -> Vec<u8> {
    let mut body = b"WEBP".to_vec();
    for (id, data) in chunks {
        body.extend_from_slice(id);
        body.extend_from_slice(&u32::try_from(data.len()).unwrap_or(0).to_le_bytes());
        body.extend_from_slice(data);
        if data.len() % 2 == 1 {
            body.push(0);
        }
    }
    let mut out = b"RIFF".to_vec();
    out.extend_from_slice(&u32::try_from(body.len()).unwrap_or(0).to_le_bytes());
    out.extend(body);
    out
}

/// A GIF whose logical screen is `width` × `height`, holding `frames` frames of one pixel.
#[must_use]
pub fn gif_bomb(width: u16, height: u16, frames: u32) -> Vec<u8> {
    let mut out = b"GIF89a".to_vec();
    out.extend_from_slice(&width.to_le_bytes());
    out.extend_from_slice(&height.to_le_bytes());
    // A global table of two colours, black and white.
    out.extend_from_slice(&[0x80, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF]);
    for _ in 0..frames {
        // Image descriptor at (0, 0), 1 × 1, then its LZW data: one pixel.
        out.extend_from_slice(&[0x2C, 0, 0, 0, 0, 1, 0, 1, 0, 0]);
        out.extend_from_slice(&[0x02, 0x02, 0x44, 0x01, 0x00]);
    }
    out.push(0x3B);
    out
}
