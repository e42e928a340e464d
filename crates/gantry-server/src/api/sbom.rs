//! SBOMs: a package's or a repository's CycloneDX document (read access).

use gantry_core::PackageQuery;
use serde::Deserialize;
use utoipa::IntoParams;

use super::{op, Api, PackageAt, Repo};
use crate::error::{ApiJson, ApiQuery, AppResult, ErrorBody};

/// A package's SBOM: CycloneDX 1.5 JSON with the package (purl, hashes, SPDX licence), its
/// declared dependencies, for images the packages installed in them, and its findings with
/// their exceptions as the vulnerabilities section.
#[utoipa::path(get, path = "/api/v1/packages/{owner}/{repo}/{slug_perm}/sbom", tag = "security",
    params(("owner" = String, Path), ("repo" = String, Path), ("slug_perm" = String, Path)),
    responses((status = 200, description = "a CycloneDX 1.5 JSON document", body = Object),
              (status = 404, body = ErrorBody)))]
pub(crate) async fn package(
    Api { app, .. }: Api,
    PackageAt { package, .. }: PackageAt<op::Read>,
) -> AppResult<ApiJson<serde_json::Value>> {
    Ok(ApiJson(
        crate::sbom::package_document(&app, &package).await?,
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
pub(crate) struct RepositorySbomParams {
    /// Only the packages matching this query (the package listing's syntax); deleted
    /// packages are left out unless asked for with `state:deleted`.
    pub query: Option<String>,
}

/// A repository's SBOM: every package (at most 10,000, newest first; the document's
/// `gantry:truncated_at` property says when it was cut) as CycloneDX 1.5 JSON.
#[utoipa::path(get, path = "/api/v1/repos/{owner}/{repo}/sbom", tag = "security",
    params(("owner" = String, Path), ("repo" = String, Path), RepositorySbomParams),
    responses((status = 200, description = "a CycloneDX 1.5 JSON document", body = Object),
              (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn repository(
    Api { app, .. }: Api,
    ApiQuery(params): ApiQuery<RepositorySbomParams>,
    repo: Repo<op::Read>,
) -> AppResult<ApiJson<serde_json::Value>> {
    let query = PackageQuery::parse(params.query.as_deref().unwrap_or(""))?;
    Ok(ApiJson(
        crate::sbom::repository_document(&app, &repo, &query).await?,
    ))
}
