//! The budget of image work, judged from the header before a single pixel is decoded.
//!
//! A few bytes can declare a canvas of 65535×65535 pixels (17 GB decoded) or thousands of
//! animation frames. Every image, as an attachment or as a profile picture, goes through
//! `image_header::read_header` and [`ImageBudget::admit`] first: its declared size and frame
//! count are read
//! with each format's own parser (which reads headers and chunk boundaries, never pixel data),
//! and an image past the budget is refused with [`ImageRefused::OverBudget`] (413) without
//! being decoded. What passes is decoded under [`ImageBudget::max_decode_bytes`] and
//! [`ImageBudget::decode_timeout`] (the `image` module, with the `media` feature).

use std::time::Duration;

use crate::error::Error;

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

/// Why an image was refused.
#[derive(Debug, thiserror::Error)]
pub enum ImageRefused {
    /// The bytes do not parse or decode as the sniffed format.
    #[error("not a readable image: {0}")]
    Unreadable(String),
    /// The header declares more pixels or frames than the [`ImageBudget`] allows.
    #[error("{0}")]
    OverBudget(String),
}

impl From<ImageRefused> for Error {
    /// Unreadable images are [`Error::Validation`] on `body`; images over the budget are
    /// [`Error::TooLarge`].
    fn from(refused: ImageRefused) -> Self {
        match refused {
            ImageRefused::Unreadable(_) => Error::validation("body", refused.to_string()),
            ImageRefused::OverBudget(reason) => Error::TooLarge { reason },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
