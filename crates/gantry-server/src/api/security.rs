//! Vulnerability scanning: the advisory database, a package's findings, rescans, and
//! security summaries.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use futures::StreamExt;
use gantry_core::{Package, ScanStatus, Severity};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{load_package, op, privilege, Api, Namespace, PackageAt, Repo};
use crate::app::App;
use crate::auth::Caller;
use crate::error::{ApiJson, ApiQuery, AppError, AppResult, ErrorBody};
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
    Api { app, caller }: Api,
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
    /// Also list findings excepted as `not_affected` or `fixed` (each carries its
    /// `exception`); they are left out by default, as they are from the counts.
    #[serde(default)]
    pub(crate) include_excepted: bool,
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
    Api { app, .. }: Api,
    ApiQuery(params): ApiQuery<FindingsParams>,
    PackageAt { package: p, .. }: PackageAt<op::Read>,
) -> AppResult<ApiJson<VulnerabilityReport>> {
    let wanted = parse_severities(params.severity.as_deref())?;
    let findings = app.db.package_findings(p.id).await?;
    let vulnerabilities = findings
        .iter()
        .filter(|f| {
            wanted
                .as_ref()
                .is_none_or(|w| Severity::parse(&f.severity).is_some_and(|s| w.contains(&s)))
        })
        .filter_map(|f| serde_json::from_str::<serde_json::Value>(&f.finding).ok())
        .filter(|f| params.include_excepted || crate::vex::counts(f))
        .filter(|f| {
            !params.fixable
                || f["fixed_versions"]
                    .as_array()
                    .is_some_and(|v| !v.is_empty())
        })
        .collect();
    Ok(ApiJson(VulnerabilityReport {
        slug_perm: p.slug_perm.clone(),
        security_scan_status: p.scan_status,
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
    Api { app, .. }: Api,
    base: BaseUrl,
    PackageAt { repo, package: p }: PackageAt<op::Resync>,
) -> AppResult<(StatusCode, ApiJson<Package>)> {
    app.db
        .queue_scans(&[(p.id, crate::jobs::scan::scan_job(&p.slug_perm, "rescan"))])
        .await?;
    app.wake_workers();
    let p = load_package(&app, &repo, &p.slug_perm).await?;
    Ok((StatusCode::ACCEPTED, ApiJson(render::package(&base, &p))))
}

/// The scan-age buckets, youngest first.
const AGE_BUCKETS: [&str; 5] = ["under_1h", "under_1d", "under_7d", "under_30d", "older"];
/// Packages listed in a summary at most.
const MAX_LISTED: usize = 1000;

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SecuritySummary {
    pub(crate) scope: String,
    pub(crate) packages: i64,
    pub(crate) by_status: serde_json::Map<String, serde_json::Value>,
    pub(crate) by_max_severity: serde_json::Map<String, serde_json::Value>,
    pub(crate) pass: i64,
    pub(crate) fail: i64,
    pub(crate) scan_age: serde_json::Map<String, serde_json::Value>,
    /// The keys of `scan_age`, youngest first (JSON objects have no order).
    pub(crate) scan_age_order: Vec<&'static str>,
    pub(crate) newest_scan_at: Option<String>,
    /// The packages behind the counts, newest first, when asked for with `packages=true`,
    /// `severity` or `fixable`; at most 1000.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) package_list: Option<Vec<SummaryPackage>>,
    /// Whether `package_list` was cut at 1000.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) package_list_truncated: Option<bool>,
}

/// One package behind a summary's counts.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SummaryPackage {
    pub(crate) slug_perm: String,
    pub(crate) repository: String,
    pub(crate) format: String,
    pub(crate) name: String,
    pub(crate) version: String,
    pub(crate) filename: String,
    pub(crate) security_scan_status: String,
    pub(crate) max_severity: Option<String>,
    pub(crate) num_vulnerabilities: i64,
    /// Findings with a fixed version (of the requested severities); only with `fixable`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) fixable_vulnerabilities: Option<i64>,
    /// The `scan_age` bucket; null when never scanned.
    pub(crate) scan_age: Option<&'static str>,
}

#[derive(Debug, Deserialize, IntoParams)]
pub(crate) struct SummaryParams {
    /// List the packages behind the counts.
    #[serde(default)]
    pub(crate) packages: bool,
    /// Comma-separated max severities to list, e.g. `high,critical` (implies `packages`).
    pub(crate) severity: Option<String>,
    /// List only packages with a finding that has a fixed version (implies `packages`).
    #[serde(default)]
    pub(crate) fixable: bool,
}

fn age_bucket(now: i64, at: i64) -> &'static str {
    match (now - at) / 3_600_000 {
        h if h < 1 => "under_1h",
        h if h < 24 => "under_1d",
        h if h < 24 * 7 => "under_7d",
        h if h < 24 * 30 => "under_30d",
        _ => "older",
    }
}

fn parse_severities(text: Option<&str>) -> AppResult<Option<Vec<Severity>>> {
    match text {
        None | Some("") => Ok(None),
        Some(list) => list
            .split(',')
            .map(|s| {
                Severity::parse(s.trim()).ok_or_else(|| {
                    AppError::BadRequest(format!(
                        "unknown severity '{s}' (none, low, medium, high, critical, unknown)"
                    ))
                })
            })
            .collect::<AppResult<Vec<_>>>()
            .map(Some),
    }
}

fn summarize(scope: String, rows: &[gantry_db::ScanPackageRow]) -> SecuritySummary {
    let zeroes = |keys: &mut dyn Iterator<Item = &str>| -> serde_json::Map<_, _> {
        keys.map(|k| (k.to_owned(), 0.into())).collect()
    };
    let mut by_status = zeroes(&mut ScanStatus::ALL.iter().map(|s| s.as_str()));
    let mut by_max = zeroes(&mut Severity::ALL.iter().map(|s| s.as_str()));
    let mut age = zeroes(&mut AGE_BUCKETS.into_iter());
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
    for row in rows {
        let status = row.scan_status.as_str();
        bump(&mut by_status, status);
        match status {
            "no_vulnerabilities" => pass += 1,
            "vulnerabilities_found" => fail += 1,
            _ => {}
        }
        if let (Some(max), "no_vulnerabilities" | "vulnerabilities_found") =
            (&row.max_severity, status)
        {
            bump(&mut by_max, max);
        }
        if let Some(at) = row.scanned_at {
            newest = Some(newest.map_or(at, |n| n.max(at)));
            bump(&mut age, age_bucket(now, at));
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
        scan_age_order: AGE_BUCKETS.to_vec(),
        newest_scan_at: newest.map(gantry_core::time::rfc3339),
        package_list: None,
        package_list_truncated: None,
    }
}

/// The packages behind the counts that pass the filters. `fixable` reads each candidate's
/// findings, so the list stops at [`MAX_LISTED`].
async fn list_packages(
    app: &App,
    namespace: &str,
    rows: &[gantry_db::ScanPackageRow],
    params: &SummaryParams,
) -> AppResult<(Vec<SummaryPackage>, bool)> {
    let wanted = parse_severities(params.severity.as_deref())?;
    let now = gantry_core::time::now_millis();
    let mut listed = Vec::new();
    for row in rows {
        let max = row.max_severity.as_deref().and_then(Severity::parse);
        if wanted
            .as_ref()
            .is_some_and(|w| !max.is_some_and(|m| w.contains(&m)))
        {
            continue;
        }
        let fixable = if params.fixable {
            let findings = app.db.package_findings(row.id).await?;
            let n = findings
                .iter()
                .filter(|f| {
                    wanted.as_ref().is_none_or(|w| {
                        Severity::parse(&f.severity).is_some_and(|s| w.contains(&s))
                    })
                })
                .filter_map(|f| serde_json::from_str::<serde_json::Value>(&f.finding).ok())
                .filter(crate::vex::counts)
                .filter(|f| {
                    f["fixed_versions"]
                        .as_array()
                        .is_some_and(|v| !v.is_empty())
                })
                .count();
            if n == 0 {
                continue;
            }
            Some(i64::try_from(n).unwrap_or(i64::MAX))
        } else {
            None
        };
        if listed.len() == MAX_LISTED {
            return Ok((listed, true));
        }
        listed.push(SummaryPackage {
            slug_perm: row.slug_perm.clone(),
            repository: format!("{namespace}/{}", row.repository),
            format: row.format.to_string(),
            name: row.name.clone(),
            version: row.version.clone(),
            filename: row.filename.clone(),
            security_scan_status: row.scan_status.to_string(),
            max_severity: row.max_severity.clone(),
            num_vulnerabilities: row.num_vulnerabilities,
            fixable_vulnerabilities: fixable,
            scan_age: row.scanned_at.map(|at| age_bucket(now, at)),
        });
    }
    Ok((listed, false))
}

async fn summary(
    app: &App,
    scope: String,
    namespace: &str,
    repository: Option<&str>,
    params: &SummaryParams,
) -> AppResult<SecuritySummary> {
    let rows = app.db.scan_packages(namespace, repository).await?;
    let mut result = summarize(scope, &rows);
    if params.packages || params.fixable || params.severity.is_some() {
        let (list, truncated) = list_packages(app, namespace, &rows, params).await?;
        result.package_list = Some(list);
        result.package_list_truncated = Some(truncated);
    }
    Ok(result)
}

#[utoipa::path(get, path = "/api/v1/security/{owner}/{repo}/summary", tag = "security",
    params(("owner" = String, Path), ("repo" = String, Path), SummaryParams),
    responses((status = 200, body = SecuritySummary), (status = 400, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub(crate) async fn repo_summary(
    Api { app, .. }: Api,
    ApiQuery(params): ApiQuery<SummaryParams>,
    repo: Repo<op::Read>,
) -> AppResult<ApiJson<SecuritySummary>> {
    let result = summary(
        &app,
        repo.slug(),
        &repo.namespace,
        Some(&repo.name),
        &params,
    )
    .await?;
    Ok(ApiJson(result))
}

#[utoipa::path(get, path = "/api/v1/security/{owner}/summary", tag = "security",
    params(("owner" = String, Path), SummaryParams),
    responses((status = 200, body = SecuritySummary), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody)))]
pub(crate) async fn namespace_summary(
    Api { app, .. }: Api,
    ApiQuery(params): ApiQuery<SummaryParams>,
    owner: Namespace<privilege::Read>,
) -> AppResult<ApiJson<SecuritySummary>> {
    let result = summary(&app, owner.to_string(), owner.as_str(), None, &params).await?;
    Ok(ApiJson(result))
}
