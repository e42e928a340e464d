//! Blob garbage collection and consistency checks, for site admins (`gantry admin gc|fsck`).

use super::Api;
use crate::error::{ApiJson, AppError, AppResult, ErrorBody};
use crate::maintenance::{self, FsckOptions, FsckReport, GcOptions, GcReport};

/// Removes blobs no package (deleted ones included), upload or format table refers to and
/// that were last written before the grace period. Safe while uploads run. Site admins only.
#[utoipa::path(post, path = "/api/v1/admin/gc", tag = "admin", request_body = GcOptions,
    responses((status = 200, body = GcReport), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 422, description = "an unknown field or a value of the wrong type",
               body = ErrorBody)))]
pub(crate) async fn gc(
    Api { app, caller }: Api,
    ApiJson(options): ApiJson<GcOptions>,
) -> AppResult<ApiJson<GcReport>> {
    caller.require_site_admin()?;
    let report = maintenance::gc(&app.db, &app.blobs, &options)
        .await
        .map_err(AppError::internal)?;
    tracing::info!(actor = %caller.actor(), removed = report.removed.len(),
        dry_run = report.dry_run, "blob garbage collection finished");
    Ok(ApiJson(report))
}

/// Re-hashes every referenced blob against its recorded digests and lists stored objects
/// nothing refers to; `clean` is true when it found nothing. With `repair`, removes the
/// unreferenced blobs. Site admins only.
#[utoipa::path(post, path = "/api/v1/admin/fsck", tag = "admin", request_body = FsckOptions,
    responses((status = 200, body = FsckReport), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 422, description = "an unknown field or a value of the wrong type",
               body = ErrorBody)))]
pub(crate) async fn fsck(
    Api { app, caller }: Api,
    ApiJson(options): ApiJson<FsckOptions>,
) -> AppResult<ApiJson<FsckReport>> {
    caller.require_site_admin()?;
    let report = maintenance::fsck(&app.db, &app.blobs, &options)
        .await
        .map_err(AppError::internal)?;
    tracing::info!(actor = %caller.actor(), clean = report.clean, "blob check finished");
    Ok(ApiJson(report))
}
