//! The budget of image work, judged from the header before a single pixel is decoded.
//!
//! A few bytes can declare a canvas of 65535×65535 pixels (17 GB decoded) or thousands of
//! animation frames. Every image, as an attachment or as a profile picture, goes through
//! [`read_header`] and [`ImageBudget::admit`] first: its declared size and frame count are read
//! with each format's own parser (which reads headers and chunk boundaries, never pixel data),
//! and an image past the budget is refused with [`ImageRefused::OverBudget`] (413) without
//! being decoded. What passes is decoded under [`ImageBudget::max_decode_bytes`] and
//! [`ImageBudget::decode_timeout`] (see [`super::image`]).

use std::io::Cursor;
use std::time::Duration;

use image::{ImageFormat, ImageReader};

use super::image::ImageRefused;

/// How much image work one upload may cost. One value, in
/// [`AttachmentPolicy::images`](super::AttachmentPolicy::images), rules attachments and
/// profile pictures alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageBudget {
    /// Most pixels an image (or any frame of it) may declare. Past it the upload is refused
    /// (413). Default 40 megapixels: more than any phone camera's default mode.
    pub max_pixels: u64,
    /// Most frames an animation (GIF, animated WebP or PNG) may declare. Past it the upload is
    /// refused (413). Default 100.
    pub max_frames: u32,
    /// Most bytes one decode may allocate (its pixel buffer, and the copy a quarter turn needs).
    /// An attachment past it is kept without a thumbnail; a profile picture is refused. Default
    /// 128 MiB: a 40-megapixel RGB image fits, an RGBA one does not.
    pub max_decode_bytes: u64,
    /// How long a decode may run before the upload stops waiting for it: an attachment is kept
    /// without a thumbnail, a profile picture is refused. The decode itself cannot be
    /// interrupted; it keeps its worker (and its place in the limits below) until it ends.
    /// Default 10 s.
    pub decode_timeout: Duration,
    /// Images one user may have in work at once; their other uploads wait their turn, so one
    /// account cannot hold every image thread. Default 1.
    pub per_user: usize,
    /// How long an upload waits for its turn (behind the same user's, or for a free worker)
    /// before it is answered 429. Default 30 s.
    pub queue_timeout: Duration,
}

impl Default for ImageBudget {
    fn default() -> Self {
        Self {
            max_pixels: 40_000_000,
            max_frames: 100,
            max_decode_bytes: 128 * 1024 * 1024,
            decode_timeout: Duration::from_secs(10),
            per_user: 1,
            queue_timeout: Duration::from_secs(30),
        }
    }
}

/// What an image's header declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageHeader {
    /// Width of its canvas, in pixels.
    pub width: u32,
    /// Height of its canvas, in pixels.
    pub height: u32,
    /// Its frames: 1 for a still image.
    pub frames: u32,
    /// The largest frame, in pixels (a GIF frame may be larger than its canvas).
    pub largest_frame: u64,
}

impl ImageHeader {
    /// Whether the image fits in a `px`×`px` box as it is.
    #[must_use]
    pub fn fits_in(&self, px: u32) -> bool {
        self.width <= px && self.height <= px
    }
}

impl ImageBudget {
    /// Refuses an image whose header declares more than the budget.
    ///
    /// # Errors
    /// [`ImageRefused::OverBudget`] past [`max_pixels`](Self::max_pixels) or
    /// [`max_frames`](Self::max_frames).
    pub fn admit(&self, header: &ImageHeader) -> Result<(), ImageRefused> {
        let pixels = u64::from(header.width) * u64::from(header.height);
        let largest = pixels.max(header.largest_frame);
        if largest > self.max_pixels {
            return Err(ImageRefused::OverBudget(format!(
                "the image is {}×{} pixels; at most {} megapixels are accepted",
                header.width,
                header.height,
                self.max_pixels / 1_000_000
            )));
        }
        if header.frames > self.max_frames {
            return Err(ImageRefused::OverBudget(format!(
                "the animation has more than {} frames",
                self.max_frames
            )));
        }
        Ok(())
    }
}

/// Reads the declared size and frame count of `bytes` in `format` without decoding pixels.
/// Counting stops once `max_frames` is passed, so a file of thousands of frames costs no more
/// than one of `max_frames + 1`.
///
/// # Errors
/// [`ImageRefused::Unreadable`] when the header does not parse.
pub fn read_header(
    bytes: &[u8],
    format: ImageFormat,
    max_frames: u32,
) -> Result<ImageHeader, ImageRefused> {
    let unreadable = |e: &dyn std::fmt::Display| ImageRefused::Unreadable(e.to_string());
    let still = |(width, height): (u32, u32)| ImageHeader {
        width,
        height,
        frames: 1,
        largest_frame: u64::from(width) * u64::from(height),
    };
    match format {
        ImageFormat::Gif => gif_header(bytes, max_frames),
        ImageFormat::WebP => {
            let decoder =
                image_webp::WebPDecoder::new(Cursor::new(bytes)).map_err(|e| unreadable(&e))?;
            let mut header = still(decoder.dimensions());
            header.frames = decoder.num_frames().max(1);
            Ok(header)
        }
        ImageFormat::Png => {
            let mut decoder = png::Decoder::new(Cursor::new(bytes));
            let info = decoder.read_header_info().map_err(|e| unreadable(&e))?;
            let mut header = still((info.width, info.height));
            if let Some(animation) = info.animation_control {
                header.frames = animation.num_frames.max(1);
            }
            Ok(header)
        }
        // JPEG has one frame; its header parser reads markers up to the first scan.
        _ => ImageReader::with_format(Cursor::new(bytes), format)
            .into_dimensions()
            .map(still)
            .map_err(|e| unreadable(&e)),
    }
}

/// A GIF's screen and frames, read with LZW decoding turned off: each frame's descriptor is
/// parsed and its compressed data skipped.
fn gif_header(bytes: &[u8], max_frames: u32) -> Result<ImageHeader, ImageRefused> {
    let unreadable = |e: gif::DecodingError| ImageRefused::Unreadable(e.to_string());
    let mut options = gif::DecodeOptions::new();
    options.skip_frame_decoding(true);
    let mut decoder = options.read_info(Cursor::new(bytes)).map_err(unreadable)?;
    let mut header = ImageHeader {
        width: u32::from(decoder.width()),
        height: u32::from(decoder.height()),
        frames: 0,
        largest_frame: 0,
    };
    // With decoding off, each call parses a frame's descriptor and skips its compressed data.
    while let Some(frame) = decoder.read_next_frame().map_err(unreadable)? {
        let pixels = u64::from(frame.width) * u64::from(frame.height);
        header.largest_frame = header.largest_frame.max(pixels);
        header.frames += 1;
        if header.frames > max_frames {
            break;
        }
    }
    header.frames = header.frames.max(1);
    Ok(header)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::fixtures::{animated_webp_bomb, gif_bomb, jpeg_bomb, png_bomb, webp_bomb};

    #[test]
    fn bombs_are_read_from_their_headers_and_refused() {
        let budget = ImageBudget::default();
        for (name, bytes, format, (w, h)) in [
            (
                "jpeg",
                jpeg_bomb(65535, 65535),
                ImageFormat::Jpeg,
                (65535, 65535),
            ),
            (
                "png",
                png_bomb(20_000, 20_000),
                ImageFormat::Png,
                (20_000, 20_000),
            ),
            (
                "webp",
                webp_bomb(16383, 16383),
                ImageFormat::WebP,
                (16383, 16383),
            ),
            (
                "gif",
                gif_bomb(65535, 65535, 3),
                ImageFormat::Gif,
                (65535, 65535),
            ),
            (
                "animated webp",
                animated_webp_bomb(65535, 65535, 10),
                ImageFormat::WebP,
                (65535, 65535),
            ),
        ] {
            let header = read_header(&bytes, format, budget.max_frames).unwrap();
            assert_eq!((header.width, header.height), (w, h), "{name}");
            assert!(
                matches!(budget.admit(&header), Err(ImageRefused::OverBudget(_))),
                "{name}"
            );
        }
    }

    #[test]
    fn frames_are_counted_without_decoding_and_capped() {
        let budget = ImageBudget::default();
        let header = read_header(&gif_bomb(10, 10, 2000), ImageFormat::Gif, 100).unwrap();
        assert_eq!(header.frames, 101, "counting stops past the budget");
        assert!(matches!(
            budget.admit(&header),
            Err(ImageRefused::OverBudget(_))
        ));
        let small = read_header(&gif_bomb(10, 10, 5), ImageFormat::Gif, 100).unwrap();
        assert_eq!(small.frames, 5);
        assert!(budget.admit(&small).is_ok());
    }

    #[test]
    fn a_frame_larger_than_its_screen_counts() {
        let header = ImageHeader {
            width: 10,
            height: 10,
            frames: 1,
            largest_frame: 50_000_000,
        };
        assert!(ImageBudget::default().admit(&header).is_err());
    }
}
