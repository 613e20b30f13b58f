//! Attachments: upload checks, attaching once, reading by room access, deletion and
//! collection.

use super::*;
use crate::attachment::{UploadInput, Variant};
use crate::blob::{self, BlobStore};
use crate::clock::Clock;
use crate::testing::fixtures::{GPS_MARKER, contains, jpeg_with_gps, pdf, png};
use crate::{Attachment, AttachmentId, BlobKey, RoomId};

async fn try_upload(
    h: &Harness,
    actor: UserId,
    room: RoomId,
    name: &str,
    declared: Option<&str>,
    bytes: Vec<u8>,
) -> crate::Result<Attachment> {
    h.chat
        .upload(
            actor,
            room,
            UploadInput {
                file_name: name.into(),
                declared_type: declared.map(str::to_owned),
                body: blob::once(bytes.into()),
            },
        )
        .await
}

async fn read_all(h: &Harness, actor: UserId, id: AttachmentId, variant: Variant) -> Vec<u8> {
    let upload = h.chat.attachment(actor, id).await.expect("readable");
    let mut body = h
        .chat
        .open_attachment(&upload, variant, 0..u64::MAX)
        .await
        .expect("open");
    let mut out = Vec::new();
    while let Some(chunk) = futures::StreamExt::next(&mut body).await {
        out.extend_from_slice(&chunk.expect("chunk"));
    }
    out
}

fn with_files(t: &str, ids: &[AttachmentId]) -> SendMessage {
    SendMessage {
        attachment_ids: ids.to_vec(),
        ..text(t)
    }
}

/// The type comes from the bytes; the allow-list, the declared type, the size limit (exact
/// at 5 MiB), empty files and file names are checked; refusals store nothing.
pub async fn uploads_are_sniffed_and_checked(store: Arc<dyn Store>) {
    let h = Harness::new(store).await;
    let (owner, event, room) = h.owner_event_room().await;

    let photo = try_upload(&h, owner, room, "../../etc/passwd", None, png(640, 480))
        .await
        .unwrap();
    assert_eq!(photo.file_name, "passwd", "only the last path component");
    assert_eq!(photo.content_type, "image/png");
    assert_eq!((photo.width, photo.height), (Some(640), Some(480)));
    let thumb = photo.thumbnail.clone().expect("a thumbnail");
    assert_eq!((thumb.width, thumb.height), (320, 240));
    assert!(photo.checksum.as_deref().unwrap().starts_with("sha256:"));

    let limit = usize::try_from(h.chat.limits().max_attachment_bytes).unwrap();
    let at_limit = try_upload(&h, owner, room, "big.pdf", None, pdf(limit))
        .await
        .unwrap();
    assert_eq!(at_limit.size, 5 * 1024 * 1024);
    assert_eq!(at_limit.content_type, "application/pdf");
    assert_eq!(at_limit.thumbnail, None);
    let stored = h.blob_count().await;

    assert_err!(
        try_upload(&h, owner, room, "big.pdf", None, pdf(limit + 1)).await,
        Error::TooLarge { .. }
    );
    let svg = b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>";
    let refused: [(&str, Option<&str>, Vec<u8>); 5] = [
        ("x.png", Some("image/png"), b"just text".to_vec()),
        ("x.pdf", Some("image/jpeg"), pdf(100)),
        ("x.svg", None, svg.to_vec()),
        ("x.html", Some("text/plain"), b"<!doctype html><p>".to_vec()),
        ("a.zip", None, b"PK\x03\x04\x14\0\0\0".to_vec()),
    ];
    for (name, declared, bytes) in refused {
        assert_err!(
            try_upload(&h, owner, room, name, declared, bytes).await,
            Error::UnsupportedType { .. }
        );
    }
    assert_err!(
        try_upload(&h, owner, room, "empty.txt", None, Vec::new()).await,
        Error::Validation { field, .. } if field == "body"
    );
    assert_err!(
        try_upload(&h, owner, room, "bad.png", None, b"\x89PNG\r\n\x1a\n\0\0broken".to_vec()).await,
        Error::Validation { field, .. } if field == "body"
    );
    assert_err!(
        try_upload(&h, owner, room, "a\u{202e}fdp.exe", None, pdf(100)).await,
        Error::Validation { field, .. } if field == "file_name"
    );
    assert_eq!(
        h.blob_count().await,
        stored,
        "refused uploads store nothing"
    );

    // Text sniffs as text, whatever text flavour was declared.
    let notes = try_upload(
        &h,
        owner,
        room,
        "notes.csv",
        Some("text/csv"),
        b"a,b\n1,2\n".to_vec(),
    )
    .await
    .unwrap();
    assert_eq!(notes.content_type, "text/plain");

    // Who may upload: members who may post.
    let outsider = h.user("Outsider").await;
    assert_err!(
        try_upload(&h, outsider, room, "a.pdf", None, pdf(100)).await,
        Error::NotFound { what: "room" }
    );
    let muted = h.joined("Muted", owner, event, room).await;
    h.chat
        .mute_member(
            owner,
            room,
            muted,
            Some(h.clock.now().saturating_add(Duration::from_secs(3600))),
        )
        .await
        .unwrap();
    assert_err!(
        try_upload(&h, muted, room, "a.pdf", None, pdf(100)).await,
        Error::Forbidden { .. }
    );
}

/// A JPEG's EXIF (GPS position included) is gone from what is stored and served.
pub async fn image_metadata_is_stripped(store: Arc<dyn Store>) {
    let h = Harness::new(store).await;
    let (owner, _event, room) = h.owner_event_room().await;
    let raw = jpeg_with_gps(800, 600);
    assert!(contains(&raw, GPS_MARKER));
    let photo = try_upload(&h, owner, room, "IMG_0001.JPG", Some("image/jpeg"), raw)
        .await
        .unwrap();
    assert_eq!(photo.content_type, "image/jpeg");
    let served = read_all(&h, owner, photo.id, Variant::Original).await;
    assert_eq!(served.len() as u64, photo.size);
    assert!(!contains(&served, GPS_MARKER), "GPS position still served");
    assert!(!contains(&served, b"Exif\0\0"), "EXIF segment still served");
    let thumb = read_all(&h, owner, photo.id, Variant::Thumbnail).await;
    assert!(!contains(&thumb, GPS_MARKER));
    assert_eq!(thumb.len() as u64, photo.thumbnail.unwrap().size);
}

/// Only the uploader attaches an upload, only in its room, only once, even racing; a
/// retried send with the same `client_msg_id` replays instead of conflicting.
pub async fn attachments_attach_once_by_their_uploader(store: Arc<dyn Store>) {
    let h = Harness::with_limits(store, relaxed()).await;
    let (owner, event, room) = h.owner_event_room().await;
    let other_room = h.room(owner, event, "Other", Visibility::Public).await;
    let alice = h.joined("Alice", owner, event, room).await;
    let file = h.upload(owner, room, "plan.pdf", pdf(2000)).await;

    assert_err!(
        h.chat
            .send_message(alice, room, with_files("mine?", &[file.id]))
            .await,
        Error::NotFound { what: "attachment" }
    );
    assert_err!(
        h.chat
            .send_message(owner, other_room, with_files("here", &[file.id]))
            .await,
        Error::Validation { field, .. } if field == "attachment_ids[0]"
    );
    assert_err!(
        h.chat
            .send_message(owner, room, with_files("twice", &[file.id, file.id]))
            .await,
        Error::Validation { field, .. } if field == "attachment_ids[1]"
    );
    assert_err!(
        h.chat
            .send_message(owner, room, with_files("x", &[AttachmentId::new()]))
            .await,
        Error::NotFound { what: "attachment" }
    );
    let eleven: Vec<AttachmentId> = (0..11).map(|_| AttachmentId::new()).collect();
    assert_err!(
        h.chat
            .send_message(owner, room, with_files("x", &eleven))
            .await,
        Error::Validation { field, .. } if field == "attachment_ids"
    );

    // Eight racing sends name one upload: one attaches it, seven conflict and store nothing.
    let before = h.chat.get_room(owner, room).await.unwrap().room.last_seq;
    let sends = (0..8).map(|i| {
        let chat = Arc::clone(&h.chat);
        async move {
            chat.send_message(owner, room, with_files(&format!("race {i}"), &[file.id]))
                .await
        }
    });
    let results = join_all(sends).await;
    let won: Vec<_> = results.iter().filter(|r| r.is_ok()).collect();
    assert_eq!(won.len(), 1, "{results:?}");
    for r in &results {
        if let Err(e) = r {
            assert!(matches!(e, Error::Conflict { .. }), "{e:?}");
        }
    }
    let message = &won[0].as_ref().unwrap().message;
    assert_eq!(message.attachments, vec![file.clone()]);
    assert_eq!(message.seq, before.next(), "the losers stored nothing");
    assert_eq!(
        h.chat.get_room(owner, room).await.unwrap().room.last_seq,
        message.seq
    );

    // The same send retried with its client_msg_id is a replay, not a conflict.
    let second = h.upload(owner, room, "second.pdf", pdf(3000)).await;
    let keyed = SendMessage {
        client_msg_id: Some("c-1".into()),
        ..with_files("keyed", &[second.id])
    };
    let first = h
        .chat
        .send_message(owner, room, keyed.clone())
        .await
        .unwrap();
    let again = h.chat.send_message(owner, room, keyed).await.unwrap();
    assert!(again.replayed);
    assert_eq!(again.message.id, first.message.id);
    let stored = h.store.get_upload(second.id).await.unwrap().unwrap();
    assert_eq!(stored.message_id, Some(first.message.id));
}

/// Readers of the room read an attached file; others get `NotFound`; an unattached upload
/// is its uploader's alone; deleting the message hides the file at once and the collector
/// removes its bytes.
pub async fn attachment_reads_follow_room_access(store: Arc<dyn Store>) {
    let h = Harness::new(store).await;
    let (owner, event, room) = h.owner_event_room().await;
    let alice = h.joined("Alice", owner, event, room).await;
    let outsider = h.user("Outsider").await;
    let photo = h.upload(owner, room, "photo.png", png(400, 300)).await;

    assert!(h.chat.attachment(owner, photo.id).await.is_ok());
    assert_err!(
        h.chat.attachment(alice, photo.id).await,
        Error::NotFound { what: "attachment" }
    );
    let message = h
        .chat
        .send_message(owner, room, with_files("", &[photo.id]))
        .await
        .unwrap()
        .message;
    assert_eq!(
        read_all(&h, alice, photo.id, Variant::Original).await.len() as u64,
        photo.size
    );
    assert!(
        !read_all(&h, alice, photo.id, Variant::Thumbnail)
            .await
            .is_empty()
    );
    for stranger in [outsider, h.user("Other").await] {
        assert_err!(
            h.chat.attachment(stranger, photo.id).await,
            Error::NotFound { what: "attachment" }
        );
    }
    assert_err!(
        h.chat.attachment(alice, AttachmentId::new()).await,
        Error::NotFound { what: "attachment" }
    );
    // A file has no thumbnail to open.
    let doc = h.upload(owner, room, "a.pdf", pdf(100)).await;
    let doc_upload = h.chat.attachment(owner, doc.id).await.unwrap();
    assert_err!(
        h.chat
            .open_attachment(&doc_upload, Variant::Thumbnail, 0..10)
            .await,
        Error::NotFound { what: "attachment" }
    );

    let blobs_before = h.blob_count().await;
    let link = h.chat.attachment_by_link(photo.id).await.unwrap();
    h.chat.delete_message(owner, message.id).await.unwrap();
    for reader in [owner, alice] {
        assert_err!(
            h.chat.attachment(reader, photo.id).await,
            Error::NotFound { what: "attachment" }
        );
    }
    assert_err!(
        h.chat.attachment_by_link(photo.id).await,
        Error::NotFound { what: "attachment" }
    );
    let tombstone = h.store.get_message(message.id).await.unwrap().unwrap();
    assert!(tombstone.attachments.is_empty());
    let collected = h.chat.collect_uploads(100).await.unwrap();
    assert_eq!(collected.uploads, 1);
    assert_eq!(
        h.blob_count().await,
        blobs_before - 2,
        "file and thumbnail removed"
    );
    assert!(h.store.get_upload(photo.id).await.unwrap().is_none());
    assert_err!(
        h.chat
            .open_attachment(&link, Variant::Original, 0..10)
            .await,
        Error::NotFound { what: "attachment" }
    );
}

/// Uploads never attached are collected after the TTL, not before; attached ones never;
/// blobs that no record names (a crash mid-upload) are collected as orphans.
pub async fn unattached_uploads_are_collected_after_the_ttl(store: Arc<dyn Store>) {
    let h = Harness::new(store).await;
    let (owner, _event, room) = h.owner_event_room().await;
    let kept = h.upload(owner, room, "kept.pdf", pdf(100)).await;
    h.chat
        .send_message(owner, room, with_files("", &[kept.id]))
        .await
        .unwrap();
    let dropped = h.upload(owner, room, "dropped.pdf", pdf(100)).await;
    let orphan = BlobKey::new(AttachmentId::new().to_string()).unwrap();
    h.blobs
        .put(&orphan, blob::once(pdf(10).into()), 1 << 20)
        .await
        .unwrap();
    assert_eq!(
        h.chat.collect_uploads(100).await.unwrap(),
        Default::default()
    );

    h.advance_secs(24 * 60 * 60 - 1);
    assert_eq!(h.chat.collect_uploads(100).await.unwrap().uploads, 0);
    h.advance_secs(2);
    let collected = h.chat.collect_uploads(100).await.unwrap();
    assert_eq!(collected.uploads, 1);
    assert_eq!(collected.orphan_blobs, 1);
    assert!(h.store.get_upload(dropped.id).await.unwrap().is_none());
    assert_eq!(h.blobs.size(&orphan).await.unwrap(), None);
    assert!(h.chat.attachment(owner, kept.id).await.is_ok());
    assert_eq!(h.blob_count().await, 1, "the attached file stays");
    // Too late to attach.
    assert_err!(
        h.chat
            .send_message(owner, room, with_files("late", &[dropped.id]))
            .await,
        Error::NotFound { what: "attachment" }
    );
}

/// Profile pictures: redrawn at most `AVATAR_PX` (nothing of the upload but its pixels
/// survives), named in the profile through the transport's link, readable by key only, kept
/// when replaced (messages name the picture they were sent with) and by the collector.
pub async fn profile_pictures_are_redrawn_and_kept(store: Arc<dyn Store>) {
    use crate::AvatarImage;
    let h = Harness::new(store).await;
    let (owner, _event, room) = h.owner_event_room().await;
    let link = |key: &BlobKey| format!("/pictures/{}", key.as_str());
    let read = |key: String| {
        let chat = Arc::clone(&h.chat);
        async move {
            let (avatar, mut body) = chat.open_avatar(&key).await?;
            let mut out = Vec::new();
            while let Some(chunk) = futures::StreamExt::next(&mut body).await {
                out.extend_from_slice(&chunk.map_err(blob::body_error)?);
            }
            Ok::<_, Error>((avatar.content_type, out))
        }
    };

    let user = h
        .chat
        .set_avatar(owner, blob::once(png(1024, 512).into()), link)
        .await
        .unwrap();
    let url = user.avatar_url.clone().expect("named in the profile");
    let first = url
        .strip_prefix("/pictures/")
        .expect("the transport's link")
        .to_owned();
    assert!(AvatarImage::parse(&first).is_some(), "{first}");
    assert_eq!(
        h.chat.get_profile(owner, owner).await.unwrap().avatar_url,
        Some(url)
    );
    let (content_type, bytes) = read(first.clone()).await.unwrap();
    let drawn = ::image::load_from_memory(&bytes).expect("a picture");
    assert_eq!(
        (drawn.width(), drawn.height()),
        (crate::AVATAR_PX, crate::AVATAR_PX / 2)
    );
    assert!(matches!(content_type, "image/png" | "image/jpeg"));

    // A photo with a location: redrawn, the location gone.
    let user = h
        .chat
        .set_avatar(owner, blob::once(jpeg_with_gps(300, 300).into()), link)
        .await
        .unwrap();
    let second = user.avatar_url.unwrap().replace("/pictures/", "");
    assert_ne!(second, first);
    let (content_type, bytes) = read(second.clone()).await.unwrap();
    assert_eq!(content_type, "image/jpeg");
    assert!(!contains(&bytes, GPS_MARKER));

    // Refusals change nothing.
    let profile = h.chat.get_profile(owner, owner).await.unwrap();
    assert_err!(
        h.chat
            .set_avatar(owner, blob::once(pdf(100).into()), link)
            .await,
        Error::UnsupportedType { .. }
    );
    assert_err!(
        h.chat
            .set_avatar(owner, blob::once(Vec::new().into()), link)
            .await,
        Error::Validation { .. }
    );
    let mut broken = png(64, 64);
    broken.truncate(60);
    assert_err!(
        h.chat
            .set_avatar(owner, blob::once(broken.into()), link)
            .await,
        Error::Validation { .. }
    );
    let too_big = vec![0_u8; usize::try_from(h.chat.limits().max_attachment_bytes).unwrap() + 1];
    assert_err!(
        h.chat
            .set_avatar(owner, blob::once(too_big.into()), link)
            .await,
        Error::TooLarge { .. }
    );
    assert_eq!(h.chat.get_profile(owner, owner).await.unwrap(), profile);
    assert_err!(
        h.chat
            .set_avatar(UserId::new(), blob::once(png(8, 8).into()), link)
            .await,
        Error::NotFound { what: "user" }
    );

    // Keys that are not a stored picture's read as missing, attachments included.
    let attachment = h.upload(owner, room, "a.pdf", pdf(10)).await;
    for key in [
        attachment.id.to_string(),
        format!("avatar-{owner}-{}.png", "0".repeat(64)),
        "../secret".to_owned(),
    ] {
        assert_err!(read(key).await, Error::NotFound { what: "avatar" });
    }

    // The collector keeps both pictures, long after.
    h.advance_secs(30 * 24 * 60 * 60);
    h.chat.collect_uploads(100).await.unwrap();
    assert!(read(first).await.is_ok(), "a replaced picture stays");
    assert!(read(second).await.is_ok());

    let user = h.chat.remove_avatar(owner).await.unwrap();
    assert_eq!(user.avatar_url, None);
    assert_eq!(user.display_name, profile.display_name);
}

/// A service built without a blob store keeps files only where its store keeps records as
/// briefly: over an in-memory store, in memory; over a durable store, nowhere, refusing uploads
/// and profile pictures with `Forbidden` (files in memory beside durable records would vanish
/// on restart while the records stay) and storing nothing.
pub async fn a_durable_store_is_never_paired_with_memory_blobs(store: Arc<dyn Store>) {
    let h = Harness::new(Arc::clone(&store)).await;
    let (owner, _event, room) = h.owner_event_room().await;
    let chat = crate::ChatService::builder(Arc::clone(&store)).build();
    let upload = chat
        .upload(
            owner,
            room,
            UploadInput {
                file_name: "notes.pdf".into(),
                declared_type: None,
                body: blob::once(pdf(100).into()),
            },
        )
        .await;
    let picture = chat
        .set_avatar(owner, blob::once(png(32, 32).into()), |k: &BlobKey| {
            k.as_str().to_owned()
        })
        .await;
    if store.durable() {
        assert_err!(upload, Error::Forbidden { .. });
        assert_err!(picture, Error::Forbidden { .. });
        assert_eq!(
            h.chat.get_profile(owner, owner).await.unwrap().avatar_url,
            None
        );
    } else {
        let upload = upload.expect("kept in memory, as the records are");
        assert!(chat.attachment(owner, upload.id).await.is_ok());
        assert!(picture.is_ok());
    }
}
