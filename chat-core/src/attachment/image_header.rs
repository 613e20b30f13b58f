//! Reading an image's declared size and frame count from its header, with each format's own
//! parser: headers and chunk boundaries, never pixel data (see [`super::image_budget`]).

use std::io::Cursor;

use image::{ImageFormat, ImageReader};

use super::image_budget::{ImageHeader, ImageRefused};

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
    use crate::attachment::image_budget::ImageBudget;
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
}
