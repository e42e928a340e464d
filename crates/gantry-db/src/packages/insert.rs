//! Creating a package with its files, tags and events.

use gantry_core::time::now_millis;
use gantry_core::SyncStatus;

use super::{adjust_count, clear_identity, insert_files, insert_tags, NewPackage, PackageRow};
use crate::events::{self, NewEvent};
use crate::jobs::{self, NewJob};
use crate::repos::RepoRow;
use crate::OrConflict;
use crate::{Db, DbError, Result};

impl Db {
    /// Creates a package with its files, tags and events in one transaction. Events get the
    /// package's slug and repository filled in where they have none.
    pub async fn insert_package(
        &self,
        new: &NewPackage,
        repo: &RepoRow,
        events_to_write: &[NewEvent],
        republish: bool,
        jobs_to_enqueue: &[NewJob],
    ) -> Result<PackageRow> {
        let primary = new
            .files
            .first()
            .ok_or_else(|| DbError::Corrupt("a package needs at least one file".into()))?;
        // The package's size is its artifact's; derived files (a wheel's METADATA) are extra.
        let size: i64 = primary.size;
        let now = now_millis();
        let mut tx = self.pool.begin().await?;
        if let Some(first) = events_to_write.first() {
            clear_identity(
                &mut tx,
                repo,
                &new.format,
                &new.normalized_name,
                &new.version,
                &new.qualifier,
                republish,
                first,
            )
            .await?;
        }
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO packages (slug_perm, repository_id, format, name, normalized_name, version, \
             qualifier, filename, sync_status, sync_progress, state, status_reason, size, \
             primary_sha256, uploader, uploaded_at, updated_at, origin_repository, metadata, declared, \
             source, upstream_name, scan_status) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'available', $11, $12, $13, $14, $15, \
             $15, $16, $17, $18, $19, $20, $21) RETURNING id",
        )
        .bind(&new.slug_perm)
        .bind(new.repository_id)
        .bind(new.format.as_str())
        .bind(&new.name)
        .bind(&new.normalized_name)
        .bind(&new.version)
        .bind(&new.qualifier)
        .bind(&primary.filename)
        .bind(new.sync_status.as_str())
        .bind(if new.sync_status == SyncStatus::Completed { 100_i64 } else { 0 })
        .bind(new.status_reason.clone())
        .bind(size)
        .bind(&primary.sha256)
        .bind(&new.uploader)
        .bind(now)
        .bind(&new.origin_repository)
        .bind(new.metadata.to_string())
        .bind(new.declared.to_string())
        .bind(&new.source)
        .bind(new.upstream_name.clone())
        .bind(new.scan_status.as_str())
        .fetch_one(&mut *tx)
        .await
        .or_conflict(|| format!(
                    "{} package {} {} already exists in {}",
                    new.format,
                    new.name,
                    new.version,
                    repo.slug()
                ))?;
        insert_files(&mut tx, id, &new.files, 0).await?;
        insert_tags(&mut tx, id, &new.tags).await?;
        adjust_count(&mut tx, repo.id, id, 1).await?;
        for event in events_to_write {
            let mut event = event.clone();
            event.slug_perm.get_or_insert_with(|| new.slug_perm.clone());
            event.repository.get_or_insert_with(|| repo.slug());
            event
                .namespace
                .get_or_insert_with(|| repo.namespace.clone());
            event
                .checksum_sha256
                .get_or_insert_with(|| primary.sha256.clone());
            events::insert(&mut tx, &event).await?;
        }
        for job in jobs_to_enqueue {
            jobs::enqueue(&mut tx, job).await?;
        }
        tx.commit().await?;
        self.get_package_by_id(id)
            .await?
            .ok_or(DbError::NotFound("package"))
    }
}
