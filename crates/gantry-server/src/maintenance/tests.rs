//! The interleaving a race test can only hope to hit: garbage collection running after an
//! upload stored its bytes (landing on an unreferenced blob already there) and before the
//! upload recorded its package.

use std::sync::Arc;

use bytes::Bytes;
use gantry_blobs::{BlobStore, Digests};
use gantry_db::Db;
use gantry_protocol::app::MarkWrites;

use super::{gc, GcOptions};

async fn put(blobs: &BlobStore, bytes: &'static [u8]) -> anyhow::Result<Digests> {
    let body = futures::stream::iter([Ok::<_, std::io::Error>(Bytes::from_static(bytes))]);
    Ok(blobs.put_stream(body, 1024).await?)
}

/// Stores `bytes` with nothing recording them, then lets a second upload land on them and
/// collects before that upload is recorded. Returns whether the blob survived.
async fn survives_gc_between_store_and_record(marked: bool) -> anyhow::Result<bool> {
    let dir = tempfile::tempdir()?;
    let db = Db::connect(&Db::sqlite_url(dir.path())).await?;
    let plain = BlobStore::local(&dir.path().join("blobs"))?;
    let orphan = put(&plain, b"bytes a killed upload left").await?;
    let blobs = if marked {
        plain.clone().with_marker(Arc::new(MarkWrites(db.clone())))
    } else {
        plain.clone()
    };
    // The orphan was written long ago; the new upload lands on the same address.
    let h = &orphan.sha256;
    let path = dir
        .path()
        .join(format!("blobs/sha256/{}/{}/{h}", &h[0..2], &h[2..4]));
    let an_hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(path)?
        .set_modified(an_hour_ago)?;
    let again = put(&blobs, b"bytes a killed upload left").await?;
    assert_eq!(again, orphan);
    let options = GcOptions {
        grace_seconds: Some(60),
        dry_run: false,
    };
    let report = gc(&db, &plain, &options).await?;
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    let kept = plain.exists(&orphan.sha256).await?;
    db.close().await;
    Ok(kept)
}

#[tokio::test]
async fn an_upload_landing_on_garbage_keeps_it() -> anyhow::Result<()> {
    assert!(survives_gc_between_store_and_record(true).await?);
    // Without the mark the same interleaving loses the upload's bytes: what the mark is for.
    assert!(!survives_gc_between_store_and_record(false).await?);
    Ok(())
}

#[tokio::test]
async fn gc_keeps_referenced_and_recent_blobs() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let db = Db::connect(&Db::sqlite_url(dir.path())).await?;
    let blobs = BlobStore::local(&dir.path().join("blobs"))?;
    let orphan = put(&blobs, b"nobody's").await?;
    let options = GcOptions {
        grace_seconds: Some(3600),
        dry_run: false,
    };
    let report = gc(&db, &blobs, &options).await?;
    assert_eq!((report.examined, report.recent), (1, 1));
    assert!(blobs.exists(&orphan.sha256).await?);
    db.close().await;
    Ok(())
}
