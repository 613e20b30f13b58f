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
