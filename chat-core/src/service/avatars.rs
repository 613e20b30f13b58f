//! Profile pictures stored by the engine, in the blob store beside attachments.
//!
//! A picture is decoded and drawn again at most [`AVATAR_PX`] pixels on its longer side
//! (PNG when it has transparency, JPEG otherwise), so nothing of the upload but its pixels
//! survives: no metadata, no location, no second payload. Its blob key names the user and a
//! SHA-256 of the stored bytes, so it never changes once written and can be served to anyone
//! with a long cache lifetime; nobody finds it without having seen the profile that names it.
//! Messages keep the picture their author had when sending (as they keep the name), so a
//! replaced picture is kept too; the upload collector leaves avatar keys alone.

use sha2::{Digest, Sha256};

use super::ChatService;
use crate::attachment::sniff::sniff;
use crate::blob::{self, BlobKey, ByteStream};
use crate::error::{Error, Result};
use crate::id::UserId;
use crate::user::User;

/// The longer side of a stored profile picture, in pixels: sharp at 64 px on a 4× screen.
pub const AVATAR_PX: u32 = 256;

/// The key prefix of profile pictures.
const PREFIX: &str = "avatar-";

/// The image types a profile picture may be uploaded as.
const ACCEPTED: [&str; 4] = ["image/png", "image/jpeg", "image/gif", "image/webp"];

/// What a stored profile picture is: its key, as the transport names it in a URL, and its type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvatarImage {
    /// The blob key (`avatar-<user>-<sha256>.png|jpg`).
    pub key: BlobKey,
    /// `image/png` or `image/jpeg`.
    pub content_type: &'static str,
}

impl AvatarImage {
    /// Recognises a key made for a profile picture; `None` for anything else (an attachment,
    /// or text that is not a key).
    #[must_use]
    pub fn parse(key: &str) -> Option<Self> {
        let rest = key.strip_prefix(PREFIX)?;
        let (name, content_type) = if let Some(name) = rest.strip_suffix(".png") {
            (name, "image/png")
        } else {
            (rest.strip_suffix(".jpg")?, "image/jpeg")
        };
        // A hyphenated UUID (36), a hyphen, 64 hex digits.
        let (user, digest) = name.split_at_checked(36)?;
        let digest = digest.strip_prefix('-')?;
        user.parse::<UserId>().ok()?;
        let hex = digest.len() == 64 && digest.bytes().all(|b| b.is_ascii_hexdigit());
        if !hex {
            return None;
        }
        Some(Self {
            key: BlobKey::new(key).ok()?,
            content_type,
        })
    }
}

impl ChatService {
    /// Stores `body` as the caller's profile picture and names it in their profile, as the
    /// URL `link` makes of its key (the transport knows where it serves pictures).
    ///
    /// # Errors
    /// [`Error::TooLarge`] past [`Limits::max_attachment_bytes`](crate::Limits);
    /// [`Error::UnsupportedType`] unless the bytes are PNG, JPEG, GIF or WebP;
    /// [`Error::Validation`] (`body`) for an empty body or an image that does not decode;
    /// [`Error::TooLarge`] for a picture past the
    /// [`ImageBudget`](crate::ImageBudget) (its header is judged before anything is decoded,
    /// and a picture that cannot be drawn within the budget's memory or time is refused);
    /// [`Error::RateLimited`] when the caller's earlier images are still in work past the
    /// budget's queue timeout;
    /// [`Error::NotFound`] when the caller has no profile.
    pub async fn set_avatar(
        &self,
        actor: UserId,
        body: ByteStream<'_>,
        link: impl FnOnce(&BlobKey) -> String + Send,
    ) -> Result<User> {
        self.require_profile(actor).await?;
        self.require_blob_store()?;
        let raw = blob::collect_bounded(body, self.limits.max_attachment_bytes).await?;
        if raw.is_empty() {
            return Err(Error::validation("body", "the picture is empty"));
        }
        let sniffed = sniff(&raw, true);
        if !ACCEPTED.contains(&sniffed) {
            return Err(Error::UnsupportedType {
                reason: format!("a picture must be PNG, JPEG, GIF or WebP, not {sniffed}"),
            });
        }
        let (bytes, content_type) = self.draw_avatar(actor, sniffed, raw).await?;
        let extension = if content_type == "image/png" {
            "png"
        } else {
            "jpg"
        };
        let digest = Sha256::digest(&bytes);
        let key = BlobKey::new(format!("{PREFIX}{actor}-{digest:x}.{extension}"))?;
        self.blobs
            .put(&key, blob::once(bytes), self.limits.max_attachment_bytes)
            .await?;
        // Only the picture's field: the profile may have been renamed while it was drawn.
        self.store
            .set_avatar_url(actor, Some(link(&key)), self.clock.now())
            .await?
            .ok_or(Error::NotFound { what: "user" })
    }

    /// The picture drawn again at most [`AVATAR_PX`], and its type.
    #[cfg(feature = "media")]
    async fn draw_avatar(
        &self,
        actor: UserId,
        sniffed: &'static str,
        raw: bytes::Bytes,
    ) -> Result<(bytes::Bytes, &'static str)> {
        let drawn = self
            .process_image(actor, sniffed, AVATAR_PX, || async { Ok(raw.clone()) })
            .await?
            .0
            .thumbnail
            .ok_or_else(|| Error::TooLarge {
                reason: "the picture is too large to draw within the image budget".to_owned(),
            })?;
        Ok((drawn.bytes, drawn.content_type))
    }

    /// Without image work nothing can be drawn, and an undrawn upload would keep its
    /// metadata: refused.
    #[cfg(not(feature = "media"))]
    #[allow(clippy::unused_async, reason = "the same signature as with media")]
    async fn draw_avatar(
        &self,
        _: UserId,
        _: &'static str,
        _: bytes::Bytes,
    ) -> Result<(bytes::Bytes, &'static str)> {
        Err(Error::UnsupportedType {
            reason: "profile pictures need this server's image support".to_owned(),
        })
    }

    /// Takes the picture out of the caller's profile (initials show instead).
    ///
    /// # Errors
    /// [`Error::NotFound`] when the caller has no profile.
    pub async fn remove_avatar(&self, actor: UserId) -> Result<User> {
        self.store
            .set_avatar_url(actor, None, self.clock.now())
            .await?
            .ok_or(Error::NotFound { what: "user" })
    }

    /// The bytes of a stored profile picture, for anyone: its key is its capability.
    ///
    /// # Errors
    /// [`Error::NotFound`] (`what: "avatar"`) for a key that is not a picture's, or one never
    /// stored.
    pub async fn open_avatar(&self, key: &str) -> Result<(AvatarImage, ByteStream<'static>)> {
        let hidden = || Error::NotFound { what: "avatar" };
        let avatar = AvatarImage::parse(key).ok_or_else(hidden)?;
        let bytes = self
            .blobs
            .get(&avatar.key, 0..u64::MAX)
            .await
            .map_err(|e| match e {
                Error::NotFound { .. } => hidden(),
                other => other,
            })?;
        Ok((avatar, bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_keys_made_for_pictures_parse() {
        let user = UserId::new();
        let digest = "ab".repeat(32);
        let png = format!("avatar-{user}-{digest}.png");
        assert_eq!(
            AvatarImage::parse(&png).map(|a| a.content_type),
            Some("image/png")
        );
        let jpg = format!("avatar-{user}-{digest}.jpg");
        assert_eq!(
            AvatarImage::parse(&jpg).map(|a| a.content_type),
            Some("image/jpeg")
        );
        for bad in [
            format!("avatar-{user}-{digest}.gif"),
            format!("avatar-{user}-{}.png", &digest[..63]),
            format!("avatar-{user}-{}g.png", &digest[..63]),
            format!("avatar-not-a-user-{digest}.png"),
            format!("{user}"),
            format!("{user}.thumb"),
            "avatar-".to_owned(),
            String::new(),
            format!("avatar-{user}-{digest}.png/../x"),
        ] {
            assert_eq!(AvatarImage::parse(&bad), None, "{bad}");
        }
    }
}
