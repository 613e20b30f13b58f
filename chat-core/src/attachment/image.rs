//! The image pipeline: dimensions, a thumbnail, and the metadata stripped from what is
//! served. Blocking and CPU-bound: the service runs it on tokio's blocking pool.
//!
//! Metadata is removed losslessly where the format allows: the JPEG segments and PNG or WebP
//! chunks that carry EXIF (camera, time and GPS position), XMP, IPTC and free text are
//! dropped and the pixel data is kept byte for byte. A JPEG that asks to be rotated (EXIF
//! orientation) is the one exception: dropping the tag would show it sideways, so it is
//! rotated and re-encoded instead, which writes no metadata at all.

use std::io::Cursor;

use bytes::Bytes;
use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};
use img_parts::ImageEXIF;
use img_parts::jpeg::{Jpeg, markers};
use img_parts::png::Png;
use img_parts::webp::WebP;

/// What the pipeline made of an image.
#[derive(Debug, Clone)]
pub struct ProcessedImage {
    /// The bytes to serve: the upload without its metadata.
    pub bytes: Bytes,
    /// The served image's width in pixels (after any rotation).
    pub width: u32,
    /// Its height in pixels.
    pub height: u32,
    /// A thumbnail, when the image could be decoded within the memory bound.
    pub thumbnail: Option<EncodedThumbnail>,
}

/// An encoded thumbnail.
#[derive(Debug, Clone)]
pub struct EncodedThumbnail {
    /// Its bytes.
    pub bytes: Bytes,
    /// `image/jpeg`, or `image/png` for images with transparency.
    pub content_type: &'static str,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

/// Why an image was refused.
#[derive(Debug, thiserror::Error)]
#[error("not a readable image: {0}")]
pub struct ImageRefused(String);

/// Decoding allocates at most this much. A 5 MiB file can claim a huge canvas (a
/// decompression bomb); past the bound the image is kept without a thumbnail.
const MAX_DECODE_BYTES: u64 = 128 * 1024 * 1024;

/// Processes an image of `content_type` (`image/png`, `image/jpeg`, `image/gif` or
/// `image/webp`), making a thumbnail at most `thumb_px` on its longer side.
///
/// # Errors
/// [`ImageRefused`] when the bytes do not decode as the sniffed format.
pub fn process(
    bytes: Bytes,
    content_type: &str,
    thumb_px: u32,
) -> Result<ProcessedImage, ImageRefused> {
    let format = ImageFormat::from_mime_type(content_type)
        .ok_or_else(|| ImageRefused(format!("{content_type} is not an image format")))?;
    let mut reader = ImageReader::with_format(Cursor::new(bytes.as_ref()), format);
    let mut limits = Limits::default();
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    let mut decoder = reader
        .into_decoder()
        .map_err(|e| ImageRefused(e.to_string()))?;
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let decoded = DynamicImage::from_decoder(decoder);
    let mut image = match decoded {
        Ok(image) => Some(image),
        Err(image::ImageError::Limits(_)) => None,
        Err(e) => return Err(ImageRefused(e.to_string())),
    };
    if let Some(image) = image.as_mut() {
        image.apply_orientation(orientation);
    }
    let rotated = orientation != Orientation::NoTransforms;
    let served = match (&image, format) {
        (Some(image), ImageFormat::Jpeg) if rotated => encode_jpeg(image, 90)?,
        _ => strip_metadata(bytes, format)?,
    };
    let (width, height) = match &image {
        Some(image) => (image.width(), image.height()),
        None => dimensions_of(&served, format)?,
    };
    let thumbnail = image.map(|image| thumbnail(&image, thumb_px)).transpose()?;
    Ok(ProcessedImage {
        bytes: served,
        width,
        height,
        thumbnail,
    })
}

fn dimensions_of(bytes: &[u8], format: ImageFormat) -> Result<(u32, u32), ImageRefused> {
    ImageReader::with_format(Cursor::new(bytes), format)
        .into_dimensions()
        .map_err(|e| ImageRefused(e.to_string()))
}

fn thumbnail(image: &DynamicImage, max_px: u32) -> Result<EncodedThumbnail, ImageRefused> {
    let small = image.thumbnail(max_px, max_px);
    let (bytes, content_type) = if small.color().has_alpha() {
        let mut out = Vec::new();
        small
            .write_with_encoder(PngEncoder::new(&mut out))
            .map_err(|e| ImageRefused(e.to_string()))?;
        (Bytes::from(out), "image/png")
    } else {
        (encode_jpeg(&small, 80)?, "image/jpeg")
    };
    Ok(EncodedThumbnail {
        bytes,
        content_type,
        width: small.width(),
        height: small.height(),
    })
}

fn encode_jpeg(image: &DynamicImage, quality: u8) -> Result<Bytes, ImageRefused> {
    let mut out = Vec::new();
    DynamicImage::ImageRgb8(image.to_rgb8())
        .write_with_encoder(JpegEncoder::new_with_quality(&mut out, quality))
        .map_err(|e| ImageRefused(e.to_string()))?;
    Ok(Bytes::from(out))
}

/// The image without its metadata, pixels untouched. GIF carries no EXIF and is kept as is.
fn strip_metadata(bytes: Bytes, format: ImageFormat) -> Result<Bytes, ImageRefused> {
    let refused = |e: img_parts::Error| ImageRefused(e.to_string());
    Ok(match format {
        ImageFormat::Jpeg => {
            let mut jpeg = Jpeg::from_bytes(bytes).map_err(refused)?;
            // Keep JFIF (APP0), the colour profile (APP2) and Adobe's colour transform (APP14),
            // which decoders need; drop EXIF and XMP (APP1), IPTC (APP13), the other
            // application segments and comments.
            jpeg.segments_mut().retain(|s| {
                let m = s.marker();
                !((markers::APP1..=markers::APP15).contains(&m)
                    && m != markers::APP2
                    && m != markers::APP14
                    || m == markers::COM)
            });
            jpeg.encoder().bytes()
        }
        ImageFormat::Png => {
            let mut png = Png::from_bytes(bytes).map_err(refused)?;
            png.chunks_mut()
                .retain(|c| !matches!(&c.kind(), b"eXIf" | b"tEXt" | b"zTXt" | b"iTXt" | b"tIME"));
            png.encoder().bytes()
        }
        ImageFormat::WebP => {
            let mut webp = WebP::from_bytes(bytes).map_err(refused)?;
            webp.remove_chunks_by_id(*b"XMP ");
            // `set_exif` also clears the header flags that announce the removed chunks.
            webp.set_exif(None);
            webp.encoder().bytes()
        }
        _ => bytes,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use image::{Rgb, RgbImage, Rgba, RgbaImage};

    /// A JPEG with an EXIF segment holding a GPS marker string, as a phone would write it.
    pub(crate) fn jpeg_with_exif(width: u32, height: u32) -> Vec<u8> {
        let img = RgbImage::from_fn(width, height, |x, y| {
            Rgb([(x % 256) as u8, (y % 256) as u8, 128])
        });
        let mut plain = Vec::new();
        DynamicImage::ImageRgb8(img)
            .write_with_encoder(JpegEncoder::new_with_quality(&mut plain, 85))
            .unwrap();
        let mut jpeg = Jpeg::from_bytes(Bytes::from(plain)).unwrap();
        let exif = Bytes::from_static(b"MM\0*\0\0\0\x08\0\0GPSLatitude 48.8584 N");
        jpeg.set_exif(Some(exif));
        jpeg.encoder().bytes().to_vec()
    }

    #[test]
    fn jpeg_exif_is_gone_and_pixels_kept() {
        let raw = jpeg_with_exif(640, 480);
        assert!(raw.windows(11).any(|w| w == b"GPSLatitude"));
        let out = process(Bytes::from(raw.clone()), "image/jpeg", 320).unwrap();
        assert!(!out.bytes.windows(11).any(|w| w == b"GPSLatitude"));
        assert!(
            Jpeg::from_bytes(out.bytes.clone())
                .unwrap()
                .exif()
                .is_none(),
            "no EXIF segment"
        );
        assert_eq!((out.width, out.height), (640, 480));
        let thumb = out.thumbnail.unwrap();
        assert_eq!((thumb.width, thumb.height), (320, 240));
        assert_eq!(thumb.content_type, "image/jpeg");
        // Lossless: only the EXIF segment went.
        assert!(out.bytes.len() < raw.len());
        assert!(raw.len() - out.bytes.len() < 64);
    }

    #[test]
    fn transparent_images_get_png_thumbnails() {
        let img = RgbaImage::from_fn(100, 900, |_, y| Rgba([0, 0, 0, (y % 256) as u8]));
        let mut png = Vec::new();
        DynamicImage::ImageRgba8(img)
            .write_with_encoder(PngEncoder::new(&mut png))
            .unwrap();
        let out = process(Bytes::from(png), "image/png", 320).unwrap();
        let thumb = out.thumbnail.unwrap();
        assert_eq!(thumb.content_type, "image/png");
        assert_eq!(thumb.height, 320);
        assert!(thumb.width <= 36);
    }

    #[test]
    fn bytes_that_do_not_decode_are_refused() {
        assert!(
            process(
                Bytes::from_static(b"\x89PNG\r\n\x1a\nbroken"),
                "image/png",
                320
            )
            .is_err()
        );
    }
}
