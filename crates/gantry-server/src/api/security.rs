//! Vulnerability scanning: the advisory database, a package's findings, rescans, and
//! security summaries.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use futures::StreamExt;
use gantry_core::{OwnerName, Package, Privilege, ScanStatus, Severity};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{load_package, load_repo};
use crate::access::Op;
use crate::app::App;
use crate::auth::Caller;
use crate::error::{ApiJson, ApiPath, ApiQuery, AppError, AppResult, ErrorBody};
use crate::render::{self, BaseUrl};
use crate::vulndb::ImportReport;

/// Largest bundle accepted in an import request.
const MAX_IMPORT: usize = 512 * 1024 * 1024;

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct VulnDbStatus {
    /// Advisories per OSV ecosystem.
    pub(crate) ecosystems: serde_json::Map<String, serde_json::Value>,
    pub(crate) total: i64,
    pub(crate) withdrawn: i64,
    /// The newest `modified` of any stored advisory.
    pub(crate) newest_modified: Option<String>,
}

/// Record counts per ecosystem and the newest `modified`.
#[utoipa::path(get, path = "/api/v1/vulndb", tag = "security",
    responses((status = 200, body = VulnDbStatus)))]
pub(crate) async fn status(
    State(app): State<Arc<App>>,
    _caller: Caller,
) -> AppResult<ApiJson<VulnDbStatus>> {
    let (per, total, withdrawn, newest) = app.db.vulndb_status().await?;
    Ok(ApiJson(VulnDbStatus {
        ecosystems: per.into_iter().map(|(e, n)| (e, n.into())).collect(),
        total,
        withdrawn,
        newest_modified: newest,
    }))
}

/// Imports OSV records. Body: JSON `{"path": "/dir/or/file"}` naming a directory of records,
/// a zip, or a tree of `<Ecosystem>/all.zip` on the server; or the bytes of a zip or one JSON
/// record. Site admins only.
#[utoipa::path(post, path = "/api/v1/vulndb/import", tag = "security",
    request_body(content = Vec<u8>, content_type = "application/zip"),
    responses((status = 200, body = ImportReport), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 413, body = ErrorBody)))]
pub(crate) async fn import(
    State(app): State<Arc<App>>,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
) -> AppResult<ApiJson<ImportReport>> {
    caller.require_site_admin()?;
    let mut bytes = Vec::new();
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| AppError::BadRequest(format!("reading the body: {e}")))?;
        if bytes.len() + chunk.len() > MAX_IMPORT {
            return Err(AppError::PayloadTooLarge(format!(
                "imports are limited to {MAX_IMPORT} bytes"
            )));
        }
        bytes.extend_from_slice(&chunk);
    }
    let is_path_request = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/json"))
        && serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .is_some_and(|v| v.get("path").is_some() && v.get("id").is_none());
    let report = if is_path_request {
        let request: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| AppError::BadRequest(e.to_string()))?;
        let path = request["path"].as_str().unwrap_or_default();
        crate::vulndb::import_path(&app, std::path::Path::new(path)).await
    } else {
        crate::vulndb::import_bytes(&app, bytes).await
    }
    .map_err(AppError::BadRequest)?;
    Ok(ApiJson(report))
}

#[derive(Debug, Deserialize, IntoParams)]
pub(crate) struct FindingsParams {
    /// Comma-separated severities to keep, e.g. `high,critical`.
    pub(crate) severity: Option<String>,
    /// Only advisories with a fixed version.
    #[serde(default)]
    pub(crate) fixable: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct VulnerabilityReport {
    pub(crate) slug_perm: String,
    pub(crate) security_scan_status: ScanStatus,
    /// Why a scan was indeterminate or not supported.
    pub(crate) scan_reason: Option<String>,
    pub(crate) scanned_at: Option<String>,
    pub(crate) max_severity: Option<Severity>,
    pub(crate) num_vulnerabilities: i64,
    /// Advisory id, aliases, summary, severity, affected ranges, fixed versions, references.
    pub(crate) vulnerabilities: Vec<serde_json::Value>,
}

/// A package's scan results (the target of `vulnerability_scan_results_url`).
#[utoipa::path(get, path = "/api/v1/packages/{owner}/{repo}/{slug_perm}/vulnerabilities", tag = "security",
    params(("owner" = String, Path), ("repo" = String, Path), ("slug_perm" = String, Path), FindingsParams),
    responses((status = 200, body = VulnerabilityReport), (status = 404, body = ErrorBody)))]
pub(crate) async fn vulnerabilities(
    State(app): State<Arc<App>>,
    caller: Caller,
    ApiPath((owner, repo, slug)): ApiPath<(String, String, String)>,
    ApiQuery(params): ApiQuery<FindingsParams>,
) -> AppResult<ApiJson<VulnerabilityReport>> {
    let repo = load_repo(&app, &caller, &owner, &repo, Op::Read).await?;
    let p = load_package(&app, &repo, &slug).await?;
    let wanted: Option<Vec<Severity>> = match params.severity.as_deref() {
        None | Some("") => None,
        Some(list) => Some(
            list.split(',')
                .map(|s| {
                    Severity::parse(s.trim()).ok_or_else(|| {
                        AppError::BadRequest(format!(
                            "unknown severity '{s}' (none, low, medium, high, critical, unknown)"
                        ))
                    })
                })
                .collect::<AppResult<_>>()?,
        ),
    };
    let findings = app.db.package_findings(p.id).await?;
    let vulnerabilities = findings
        .iter()
        .filter(|f| {
            wanted
                .as_ref()
                .is_none_or(|w| Severity::parse(&f.severity).is_some_and(|s| w.contains(&s)))
        })
        .filter_map(|f| serde_json::from_str::<serde_json::Value>(&f.finding).ok())
        .filter(|f| {
            !params.fixable
                || f["fixed_versions"]
                    .as_array()
                    .is_some_and(|v| !v.is_empty())
        })
        .collect();
    Ok(ApiJson(VulnerabilityReport {
        slug_perm: p.slug_perm.clone(),
        security_scan_status: ScanStatus::parse(&p.scan_status).unwrap_or(ScanStatus::NotScanned),
        scan_reason: p.scan_reason.clone(),
        scanned_at: p.scanned_at.map(gantry_core::time::rfc3339),
        max_severity: p.max_severity.as_deref().and_then(Severity::parse),
        num_vulnerabilities: p.num_vulnerabilities,
        vulnerabilities,
    }))
}

/// Queues a rescan of a package. Needs the `resync` privilege.
#[utoipa::path(post, path = "/api/v1/packages/{owner}/{repo}/{slug_perm}/scan", tag = "security",
    params(("owner" = String, Path), ("repo" = String, Path), ("slug_perm" = String, Path)),
    responses((status = 202, body = Package), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub(crate) async fn scan(
    State(app): State<Arc<App>>,
    caller: Caller,
    base: BaseUrl,
    ApiPath((owner, repo, slug)): ApiPath<(String, String, String)>,
) -> AppResult<(StatusCode, ApiJson<Package>)> {
    let repo = load_repo(&app, &caller, &owner, &repo, Op::Resync).await?;
    let p = load_package(&app, &repo, &slug).await?;
    app.db
        .queue_scans(&[(p.id, crate::jobs::scan::scan_job(&p.slug_perm, "rescan"))])
        .await?;
    app.wake_workers();
    let p = load_package(&app, &repo, &slug).await?;
    Ok((StatusCode::ACCEPTED, ApiJson(render::package(&base, &p))))
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SecuritySummary {
    /// `OWNER` or `OWNER/REPO`.
    pub(crate) scope: String,
    pub(crate) packages: i64,
    /// Packages by scan status.
    pub(crate) by_status: serde_json::Map<String, serde_json::Value>,
    /// Scanned packages by max severity.
    pub(crate) by_max_severity: serde_json::Map<String, serde_json::Value>,
    /// Scanned packages without (pass) and with (fail) vulnerabilities.
    pub(crate) pass: i64,
    pub(crate) fail: i64,
    /// Age of each package's latest scan, in buckets.
    pub(crate) scan_age: serde_json::Map<String, serde_json::Value>,
    pub(crate) newest_scan_at: Option<String>,
}

fn summarize(scope: String, rows: &[(String, Option<String>, Option<i64>)]) -> SecuritySummary {
    let mut by_status = serde_json::Map::new();
    for s in ScanStatus::ALL {
        by_status.insert(s.as_str().into(), 0.into());
    }
    let mut by_max = serde_json::Map::new();
    for s in Severity::ALL {
        by_max.insert(s.as_str().into(), 0.into());
    }
    let buckets = ["under_1h", "under_1d", "under_7d", "under_30d", "older"];
    let mut age: serde_json::Map<String, serde_json::Value> = buckets
        .iter()
        .map(|b| ((*b).to_owned(), 0.into()))
        .collect();
    let bump = |map: &mut serde_json::Map<String, serde_json::Value>, key: &str| {
        let n = map
            .get(key)
            .and_then(serde_json::Value::as_i64)
            .unwrap_or(0);
        map.insert(key.to_owned(), (n + 1).into());
    };
    let now = gantry_core::time::now_millis();
    let (mut pass, mut fail) = (0, 0);
    let mut newest: Option<i64> = None;
    for (status, max, scanned_at) in rows {
        bump(&mut by_status, status);
        match status.as_str() {
            "no_vulnerabilities" => pass += 1,
            "vulnerabilities_found" => fail += 1,
            _ => {}
        }
        if let (Some(max), true) = (
            max,
            matches!(
                status.as_str(),
                "no_vulnerabilities" | "vulnerabilities_found"
            ),
        ) {
            bump(&mut by_max, max);
        }
        if let Some(at) = scanned_at {
            newest = Some(newest.map_or(*at, |n| n.max(*at)));
            let hours = (now - at) / 3_600_000;
            let bucket = match hours {
                h if h < 1 => "under_1h",
                h if h < 24 => "under_1d",
                h if h < 24 * 7 => "under_7d",
                h if h < 24 * 30 => "under_30d",
                _ => "older",
            };
            bump(&mut age, bucket);
        }
    }
    SecuritySummary {
        scope,
        packages: i64::try_from(rows.len()).unwrap_or(i64::MAX),
        by_status,
        by_max_severity: by_max,
        pass,
        fail,
        scan_age: age,
        newest_scan_at: newest.map(gantry_core::time::rfc3339),
    }
}

/// Scan figures of a repository.
#[utoipa::path(get, path = "/api/v1/security/{owner}/{repo}/summary", tag = "security",
    params(("owner" = String, Path), ("repo" = String, Path)),
    responses((status = 200, body = SecuritySummary), (status = 404, body = ErrorBody)))]
pub(crate) async fn repo_summary(
    State(app): State<Arc<App>>,
    caller: Caller,
    ApiPath((owner, repo)): ApiPath<(String, String)>,
) -> AppResult<ApiJson<SecuritySummary>> {
    let repo = load_repo(&app, &caller, &owner, &repo, Op::Read).await?;
    let rows = app.db.scan_rows(&repo.namespace, Some(&repo.name)).await?;
    Ok(ApiJson(summarize(repo.slug(), &rows)))
}

/// Scan figures of a whole namespace. Needs read on the namespace.
#[utoipa::path(get, path = "/api/v1/security/{owner}/summary", tag = "security",
    params(("owner" = String, Path)),
    responses((status = 200, body = SecuritySummary), (status = 403, body = ErrorBody)))]
pub(crate) async fn namespace_summary(
    State(app): State<Arc<App>>,
    caller: Caller,
    ApiPath(owner): ApiPath<String>,
) -> AppResult<ApiJson<SecuritySummary>> {
    OwnerName::parse(&owner)?;
    caller.require_namespace(&owner, Privilege::Read)?;
    let rows = app.db.scan_rows(&owner, None).await?;
    Ok(ApiJson(summarize(owner, &rows)))
}
