//! Image work for attachments and profile pictures, under one set of rules (the design's
//! "hostile media"): the header is read and judged against the [`ImageBudget`] before anything
//! is decoded; then the user's turn and a worker are waited for; then the decode runs on the
//! image threads, bounded in memory and in time.
//!
//! [`ImageBudget`]: crate::ImageBudget

use bytes::Bytes;

use super::ChatService;
use crate::attachment::image::{self, ProcessedImage};
use crate::attachment::image_budget::ImageHeader;
use crate::attachment::image_gate::ImagePass;
use crate::attachment::image_header;
use crate::error::Result;
use crate::id::UserId;

impl ChatService {
    /// Reads the header of `raw`, an image of `content_type`, and judges it against the
    /// budget. Headers only: cheap enough for the runtime's thread, and answered before the
    /// queue for a worker, so a bomb is refused at once whatever else is in work.
    ///
    /// # Errors
    /// [`Error::TooLarge`] when the header declares more pixels or frames than the
    /// budget; [`Error::Validation`] (`body`) when it is not a readable image header.
    ///
    /// [`Error::TooLarge`]: crate::Error::TooLarge
    /// [`Error::Validation`]: crate::Error::Validation
    fn judge_image(&self, raw: &[u8], content_type: &str) -> Result<JudgedImage> {
        let budget = &self.attachments.images;
        let format = image::format_of(content_type)?;
        let header = image_header::read_header(raw, format, budget.max_frames)?;
        budget.admit(&header)?;
        Ok(JudgedImage { format, header })
    }

    /// Judges and decodes an image of `actor`'s, in turn: the bytes that `read` gives are read
    /// for the header under the user's turn and a header slot, let go while waiting for a
    /// worker (a queue of uploads holds no images in memory), and read again for the decode.
    /// An image whose decode does not fit the budget's memory or time comes back without a
    /// thumbnail (its metadata stripped all the same). The flag says whether the bytes to serve
    /// differ from those read (metadata stripped, a rotation applied).
    ///
    /// # Errors
    /// As [`judge_image`](Self::judge_image) and [`decode_image`](Self::decode_image), what
    /// `read` returns, and [`Error::RateLimited`](crate::Error::RateLimited) when the user's
    /// turn, a header slot or a worker does not come within the budget's queue timeout.
    pub(super) async fn process_image<F, Fut>(
        &self,
        actor: UserId,
        content_type: &str,
        thumb_px: u32,
        read: F,
    ) -> Result<(ProcessedImage, bool)>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<Bytes>>,
    {
        let turn = self.image_gate.user_turn(actor).await?;
        let judged = {
            let _slot = self.image_gate.header_slot().await?;
            self.judge_image(&read().await?, content_type)?
        };
        let pass = self.image_gate.worker(turn).await?;
        let raw = read().await?;
        let processed = self
            .decode_image(pass, raw.clone(), judged, thumb_px)
            .await?;
        let rewritten = processed.bytes != raw;
        Ok((processed, rewritten))
    }

    /// Decodes `raw`, judged by [`judge_image`](Self::judge_image), on the image threads
    /// under `pass`, with a thumbnail at most `thumb_px` on its longer side. An image whose
    /// decode does not fit the budget's memory or time comes back without a thumbnail (its
    /// metadata stripped all the same).
    ///
    /// # Errors
    /// [`Error::Validation`](crate::Error::Validation) (`body`) when the bytes do not decode.
    async fn decode_image(
        &self,
        pass: ImagePass,
        raw: Bytes,
        judged: JudgedImage,
        thumb_px: u32,
    ) -> Result<ProcessedImage> {
        let budget = self.attachments.images;
        let JudgedImage { format, header } = judged;
        let input = raw.clone();
        let job = self.image_workers.run(move || {
            // Held until the work ends, even when nobody waits for it any more.
            let _pass = pass;
            image::process(input, format, &header, &budget, thumb_px)
        });
        match tokio::time::timeout(budget.decode_timeout, job).await {
            Ok(done) => Ok(done??),
            // The decode goes on, holding its worker and its pass; the upload does not wait.
            Err(_) => Ok(ProcessedImage {
                bytes: image::strip_metadata(raw, format)?,
                width: header.width,
                height: header.height,
                thumbnail: None,
            }),
        }
    }
}

/// An image whose header passed the budget.
#[derive(Debug, Clone, Copy)]
pub(super) struct JudgedImage {
    format: ::image::ImageFormat,
    header: ImageHeader,
}
