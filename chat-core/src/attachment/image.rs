//! The image pipeline: dimensions, a thumbnail, and the metadata stripped from what is
//! served. Blocking and CPU-bound: the service runs it on its image threads, after the header
//! has passed the [`ImageBudget`] (see [`super::image_budget`]).
//!
//! Metadata is removed losslessly where the format allows: the JPEG segments and PNG or WebP
//! chunks that carry EXIF (camera, time and GPS position), XMP, IPTC and free text are
//! dropped and the pixel data is kept byte for byte. A JPEG that asks to be rotated (EXIF
//! orientation) is the one exception: dropping the tag would show it sideways, so it is
//! rotated and re-encoded instead, which writes no metadata at all.
//!
//! Decoding is bounded before it starts: the pixel buffer it would allocate (twice that for a
//! quarter turn) is checked against [`ImageBudget::max_decode_bytes`], and an image past it is
//! kept without a thumbnail. (The `image` crate's `Limits::max_alloc` alone does not do this:
//! `DynamicImage::from_decoder` allocates the whole buffer without consulting it, which is how
//! a 633-byte JPEG once cost 12 GB.)

use std::io::Cursor;

use bytes::Bytes;
use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::metadata::Orientation;
use image::{ColorType, DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};
use img_parts::ImageEXIF;
use img_parts::jpeg::{Jpeg, markers};
use img_parts::png::Png;
use img_parts::webp::WebP;

pub use super::image_budget::ImageRefused;
use super::image_budget::{ImageBudget, ImageHeader};

/// What the pipeline made of an image.
#[derive(Debug, Clone)]
pub struct ProcessedImage {
    /// The bytes to serve: the upload without its metadata.
    pub bytes: Bytes,
    /// The served image's width in pixels (after any rotation).
    pub width: u32,
    /// Its height in pixels.
    pub height: u32,
    /// A thumbnail, when the image could be decoded within the budget.
    pub thumbnail: Option<EncodedThumbnail>,
}

/// An encoded thumbnail: never larger than its image, in either dimension.
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

/// The image format of an image content type.
///
/// # Errors
/// [`ImageRefused::Unreadable`] for a type that is not PNG, JPEG, GIF or WebP.
pub fn format_of(content_type: &str) -> Result<ImageFormat, ImageRefused> {
    ImageFormat::from_mime_type(content_type)
        .ok_or_else(|| ImageRefused::Unreadable(format!("{content_type} is not an image format")))
}

/// Processes an image whose `header` the `budget` admitted (see
/// [`read_header`](super::image_header::read_header)), making a thumbnail at most `thumb_px`
/// on its longer side.
///
/// # Errors
/// [`ImageRefused::Unreadable`] when the bytes do not decode as `format`.
pub fn process(
    bytes: Bytes,
    format: ImageFormat,
    header: &ImageHeader,
    budget: &ImageBudget,
    thumb_px: u32,
) -> Result<ProcessedImage, ImageRefused> {
    let unreadable = |e: image::ImageError| ImageRefused::Unreadable(e.to_string());
    let mut reader = ImageReader::with_format(Cursor::new(bytes.clone()), format);
    let mut limits = Limits::default();
    limits.max_alloc = Some(budget.max_decode_bytes);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(unreadable)?;
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let quarter_turn = matches!(
        orientation,
        Orientation::Rotate90
            | Orientation::Rotate270
            | Orientation::Rotate90FlipH
            | Orientation::Rotate270FlipH
    );
    // A quarter turn draws the pixels into a second buffer of the same size.
    let needed = decoder
        .total_bytes()
        .saturating_mul(if quarter_turn { 2 } else { 1 });
    let image = if needed <= budget.max_decode_bytes {
        match DynamicImage::from_decoder(decoder) {
            Ok(image) => Some(image),
            Err(image::ImageError::Limits(_)) => None,
            Err(e) => return Err(unreadable(e)),
        }
    } else {
        None
    };
    let Some(mut image) = image else {
        return Ok(ProcessedImage {
            bytes: strip_metadata(bytes, format)?,
            width: header.width,
            height: header.height,
            thumbnail: None,
        });
    };
    image.apply_orientation(orientation);
    let rotated = orientation != Orientation::NoTransforms;
    let served = match format {
        ImageFormat::Jpeg if rotated => encode_jpeg(&image, 90)?,
        _ => strip_metadata(bytes, format)?,
    };
    Ok(ProcessedImage {
        bytes: served,
        width: image.width(),
        height: image.height(),
        thumbnail: Some(thumbnail(&image, thumb_px)?),
    })
}

/// The image drawn at most `max_px` on its longer side, never larger than it is.
fn thumbnail(image: &DynamicImage, max_px: u32) -> Result<EncodedThumbnail, ImageRefused> {
    let fits = image.width() <= max_px && image.height() <= max_px;
    // `thumbnail` scales to fill its box, up as well as down.
    let small = if fits {
        std::borrow::Cow::Borrowed(image)
    } else {
        std::borrow::Cow::Owned(image.thumbnail(max_px, max_px))
    };
    let (bytes, content_type) = if small.color().has_alpha() {
        let mut out = Vec::new();
        small
            .write_with_encoder(PngEncoder::new(&mut out))
            .map_err(|e| ImageRefused::Unreadable(e.to_string()))?;
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
    let encoder = JpegEncoder::new_with_quality(&mut out, quality);
    // JPEG decodes to grey or RGB, which encode as they are; anything else is converted (a
    // copy, but only of thumbnails: full-size re-encodes are of decoded JPEGs).
    let written = match image.color() {
        ColorType::L8 | ColorType::Rgb8 => image.write_with_encoder(encoder),
        _ => DynamicImage::ImageRgb8(image.to_rgb8()).write_with_encoder(encoder),
    };
    written.map_err(|e| ImageRefused::Unreadable(e.to_string()))?;
    Ok(Bytes::from(out))
}

/// The image without its metadata, pixels untouched. GIF carries no EXIF and is kept as is.
/// Linear in the file's size and decodes nothing, so it is also what an upload whose decode
/// ran out of time is stored as.
///
/// # Errors
/// [`ImageRefused::Unreadable`] when the container does not parse.
pub fn strip_metadata(bytes: Bytes, format: ImageFormat) -> Result<Bytes, ImageRefused> {
    let refused = |e: img_parts::Error| ImageRefused::Unreadable(e.to_string());
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
mod tests {
    use super::*;
    use crate::attachment::image_header::read_header;
    use crate::testing::fixtures::{animated_webp_bomb, gif_bomb, jpeg_bomb, jpeg_with_gps, png};
    use image::{Rgba, RgbaImage};

    /// The pipeline as the service runs it: header, budget, then decode.
    fn run(
        bytes: Vec<u8>,
        content_type: &str,
        budget: &ImageBudget,
    ) -> Result<ProcessedImage, ImageRefused> {
        let format = format_of(content_type)?;
        let header = read_header(&bytes, format, budget.max_frames)?;
        budget.admit(&header)?;
        process(Bytes::from(bytes), format, &header, budget, 320)
    }

    #[test]
    fn jpeg_exif_is_gone_and_pixels_kept() {
        let raw = jpeg_with_gps(640, 480);
        assert!(raw.windows(11).any(|w| w == b"GPSLatitude"));
        let out = run(raw.clone(), "image/jpeg", &ImageBudget::default()).unwrap();
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
        assert!(raw.len() - out.bytes.len() < 128);
    }

    #[test]
    fn transparent_images_get_png_thumbnails() {
        let img = RgbaImage::from_fn(100, 900, |_, y| Rgba([0, 0, 0, (y % 256) as u8]));
        let mut png = Vec::new();
        DynamicImage::ImageRgba8(img)
            .write_with_encoder(PngEncoder::new(&mut png))
            .unwrap();
        let out = run(png, "image/png", &ImageBudget::default()).unwrap();
        let thumb = out.thumbnail.unwrap();
        assert_eq!(thumb.content_type, "image/png");
        assert_eq!(thumb.height, 320);
        assert!(thumb.width <= 36);
    }

    #[test]
    fn thumbnails_are_never_larger_than_their_image() {
        let out = run(png(40, 30), "image/png", &ImageBudget::default()).unwrap();
        let thumb = out.thumbnail.unwrap();
        assert_eq!(
            (thumb.width, thumb.height),
            (40, 30),
            "not upscaled to 320 × 240"
        );
    }

    #[test]
    fn bytes_that_do_not_decode_are_refused() {
        assert!(matches!(
            run(
                b"\x89PNG\r\n\x1a\nbroken".to_vec(),
                "image/png",
                &ImageBudget::default()
            ),
            Err(ImageRefused::Unreadable(_))
        ));
    }

    #[test]
    fn a_decode_past_the_memory_budget_is_skipped_not_attempted() {
        // Within the pixel budget, past the decode budget: kept, without a thumbnail.
        let budget = ImageBudget {
            max_decode_bytes: 100 * 100 * 3 - 1,
            ..ImageBudget::default()
        };
        let out = run(png(100, 100), "image/png", &budget).unwrap();
        assert!(out.thumbnail.is_none());
        assert_eq!((out.width, out.height), (100, 100));
        let fits = ImageBudget {
            max_decode_bytes: 100 * 100 * 3,
            ..ImageBudget::default()
        };
        assert!(
            run(png(100, 100), "image/png", &fits)
                .unwrap()
                .thumbnail
                .is_some()
        );
    }

    #[test]
    fn bombs_never_reach_the_decoder() {
        // Each would take gigabytes if decoded; refused from the header in microseconds.
        let budget = ImageBudget::default();
        for (bytes, content_type) in [
            (jpeg_bomb(65535, 65535), "image/jpeg"),
            (gif_bomb(65535, 65535, 2000), "image/gif"),
            (gif_bomb(100, 100, 2000), "image/gif"),
            (animated_webp_bomb(65535, 65535, 10), "image/webp"),
        ] {
            assert!(
                matches!(
                    run(bytes, content_type, &budget),
                    Err(ImageRefused::OverBudget(_))
                ),
                "{content_type}"
            );
        }
    }
}
