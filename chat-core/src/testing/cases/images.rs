//! Hostile images: every format's decompression bomb is refused from its header, as an
//! attachment and as a profile picture, and stores nothing; thumbnails never outgrow their image.

use super::*;
use crate::attachment::UploadInput;
use crate::blob::{self, BlobKey};
use crate::testing::fixtures::{animated_webp_bomb, gif_bomb, jpeg_bomb, png, png_bomb, webp_bomb};

/// The bombs of each format: a header that declares far more than the pixel or frame budget.
fn bombs() -> [(&'static str, Vec<u8>); 6] {
    [
        ("jpeg 65535×65535", jpeg_bomb(65535, 65535)),
        ("png 20000×20000", png_bomb(20_000, 20_000)),
        ("webp 16383×16383", webp_bomb(16383, 16383)),
        (
            "animated webp 65535×65535",
            animated_webp_bomb(65535, 65535, 10),
        ),
        ("gif 65535×65535", gif_bomb(65535, 65535, 2)),
        ("gif of 2000 frames", gif_bomb(64, 64, 2000)),
    ]
}

/// A JPEG, PNG, WebP or GIF that declares more pixels or frames than the
/// [`ImageBudget`](crate::ImageBudget) allows is refused with `TooLarge`, as an upload
/// and as a profile picture, without being decoded; nothing is stored and the profile keeps
/// its picture.
pub async fn image_bombs_are_refused_from_their_headers(store: Arc<dyn Store>) {
    let h = Harness::new(store).await;
    let (owner, _event, room) = h.owner_event_room().await;
    let link = |key: &BlobKey| format!("/pictures/{}", key.as_str());
    h.chat
        .set_avatar(owner, blob::once(png(64, 64).into()), link)
        .await
        .unwrap();
    let profile = h.chat.get_profile(owner, owner).await.unwrap();
    let stored = h.blob_count().await;
    for (name, bytes) in bombs() {
        let upload = h
            .chat
            .upload(
                owner,
                room,
                UploadInput {
                    file_name: "bomb".into(),
                    declared_type: None,
                    body: blob::once(bytes.clone().into()),
                },
            )
            .await;
        assert!(
            matches!(upload, Err(Error::TooLarge { .. })),
            "{name} as an attachment: {upload:?}"
        );
        let avatar = h
            .chat
            .set_avatar(owner, blob::once(bytes.into()), link)
            .await;
        assert!(
            matches!(avatar, Err(Error::TooLarge { .. })),
            "{name} as a profile picture: {avatar:?}"
        );
    }
    assert_eq!(h.blob_count().await, stored, "refused images store nothing");
    assert_eq!(h.chat.get_profile(owner, owner).await.unwrap(), profile);
}

/// An image smaller than the thumbnail box gets a thumbnail of its own size (never an
/// upscaled one), no bigger in bytes than the image.
pub async fn thumbnails_are_never_larger_than_their_image(store: Arc<dyn Store>) {
    let h = Harness::new(store).await;
    let (owner, _event, room) = h.owner_event_room().await;
    let small = png(40, 30);
    let size = small.len() as u64;
    let upload = h
        .chat
        .upload(
            owner,
            room,
            UploadInput {
                file_name: "small.png".into(),
                declared_type: None,
                body: blob::once(small.into()),
            },
        )
        .await
        .unwrap();
    let thumb = upload.thumbnail.expect("a thumbnail");
    assert_eq!((thumb.width, thumb.height), (40, 30));
    assert!(thumb.size <= size, "{} > {size}", thumb.size);
    assert_eq!(upload.size, size);
}

/// A blob store that renames a user (straight in the store) when a picture of theirs is
/// written: the moment between drawing a profile picture and naming it in the profile.
#[derive(Debug)]
struct RenameWhilePictureIsWritten {
    inner: crate::MemoryBlobStore,
    store: Arc<dyn Store>,
    user: UserId,
}

#[async_trait::async_trait]
impl crate::BlobStore for RenameWhilePictureIsWritten {
    async fn put(
        &self,
        key: &BlobKey,
        body: crate::ByteStream<'_>,
        max_bytes: u64,
    ) -> crate::Result<u64> {
        let written = self.inner.put(key, body, max_bytes).await?;
        if crate::AvatarImage::parse(key.as_str()).is_some() {
            let mut profile = self.store.get_user(self.user).await?.expect("a profile");
            profile.display_name = "Renamed Meanwhile".into();
            self.store.upsert_user(profile).await?;
        }
        Ok(written)
    }

    async fn size(&self, key: &BlobKey) -> crate::Result<Option<u64>> {
        self.inner.size(key).await
    }

    async fn get(
        &self,
        key: &BlobKey,
        range: std::ops::Range<u64>,
    ) -> crate::Result<crate::ByteStream<'static>> {
        self.inner.get(key, range).await
    }

    async fn delete(&self, key: &BlobKey) -> crate::Result<bool> {
        self.inner.delete(key).await
    }

    async fn list_written_before(
        &self,
        before: crate::Timestamp,
        limit: usize,
    ) -> crate::Result<Vec<crate::blob::BlobInfo>> {
        self.inner.list_written_before(before, limit).await
    }
}

/// Setting a profile picture changes only the picture: a rename that commits while the
/// picture is being drawn and stored is kept, and so is the picture.
pub async fn a_new_picture_keeps_a_concurrent_rename(store: Arc<dyn Store>) {
    let user = UserId::new();
    let chat = crate::ChatService::builder(Arc::clone(&store))
        .blobs(Arc::new(RenameWhilePictureIsWritten {
            inner: crate::MemoryBlobStore::new(),
            store: Arc::clone(&store),
            user,
        }))
        .build();
    chat.upsert_profile(
        user,
        ProfileInput {
            display_name: "Before".into(),
            avatar_url: None,
        },
    )
    .await
    .unwrap();
    let link = |key: &BlobKey| format!("/pictures/{}", key.as_str());
    let answered = chat
        .set_avatar(user, blob::once(png(64, 64).into()), link)
        .await
        .unwrap();
    assert_eq!(answered.display_name, "Renamed Meanwhile");
    let stored = store.get_user(user).await.unwrap().unwrap();
    assert_eq!(
        stored.display_name, "Renamed Meanwhile",
        "the rename is kept"
    );
    assert!(stored.avatar_url.is_some(), "and so is the picture");
    let removed = chat.remove_avatar(user).await.unwrap();
    assert_eq!(
        (removed.display_name.as_str(), removed.avatar_url),
        ("Renamed Meanwhile", None)
    );
    assert_err!(
        chat.remove_avatar(UserId::new()).await,
        Error::NotFound { .. }
    );
}
