//! Database rows to the Contract's JSON shapes.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header::HOST;
use axum::http::request::Parts;
use gantry_core::model::OriginPackage;
use gantry_core::time::rfc3339;
use gantry_core::{Event, Package, PackageFile, Repository, Severity};
use gantry_db::{EventRow, PackageRow, RepoRow};

use crate::app::App;
use crate::error::AppError;

/// The URL this server is reached at, for links in responses: the configured public URL, or
/// `http://` plus the request's `Host`.
#[derive(Debug, Clone)]
pub struct BaseUrl(pub String);

fn plausible_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 255
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
}

impl FromRequestParts<Arc<App>> for BaseUrl {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, AppError> {
        if let Some(url) = &app.config.public_url {
            return Ok(BaseUrl(url.clone()));
        }
        let host = parts
            .headers
            .get(HOST)
            .and_then(|h| h.to_str().ok())
            .filter(|h| plausible_host(h))
            .map_or_else(|| app.config.listen.clone(), str::to_owned);
        Ok(BaseUrl(format!("http://{host}")))
    }
}

/// A repository's JSON; `admin` adds its access settings.
pub fn repository(row: &RepoRow, admin: bool) -> Repository {
    let list = |json: &str| serde_json::from_str::<Vec<String>>(json).unwrap_or_default();
    Repository {
        ip_allowlist: admin.then(|| list(&row.ip_allowlist)),
        ip_denylist: admin.then(|| list(&row.ip_denylist)),
        permissions: admin.then(|| {
            crate::access::Op::CONFIGURABLE
                .iter()
                .map(|op| {
                    (
                        op.key().to_owned(),
                        serde_json::Value::from(crate::access::required(row, *op).as_str()),
                    )
                })
                .collect::<serde_json::Map<_, _>>()
                .into()
        }),
        slug: row.slug(),
        namespace: row.namespace.clone(),
        name: row.name.clone(),
        description: row.description.clone(),
        private: row.is_private(),
        immutable_tags: row.tags_immutable(),
        allow_republish: row.republish_allowed(),
        package_count: row.package_count,
        size: None,
        formats: None,
        created_at: rfc3339(row.created_at),
        updated_at: rfc3339(row.updated_at),
    }
}

pub fn package(base: &BaseUrl, row: &PackageRow) -> Package {
    let base = base.0.as_str();
    let files: Vec<PackageFile> = row
        .files
        .iter()
        .map(|f| PackageFile {
            filename: f.filename.clone(),
            size: f.size,
            checksum_md5: f.md5.clone(),
            checksum_sha1: f.sha1.clone(),
            checksum_sha256: f.sha256.clone(),
            checksum_sha512: f.sha512.clone(),
            content_type: f.content_type.clone(),
            download_url: format!("{base}{}", crate::serve::download_path(row, &f.filename)),
        })
        .collect();
    let primary = files.first();
    let api = format!(
        "{base}/api/v1/packages/{}/{}/{}",
        row.namespace, row.repository_name, row.slug_perm
    );
    Package {
        slug_perm: row.slug_perm.clone(),
        format: row.format.to_string(),
        name: row.name.clone(),
        version: row.version.clone(),
        repository: row.repository_slug(),
        origin_repository: row.origin_repository.clone(),
        origin_package: match (&row.origin_slug, &row.origin_slug_repository) {
            (Some(slug), Some(repo)) => Some(OriginPackage {
                slug_perm: slug.clone(),
                repository: repo.clone(),
            }),
            _ => None,
        },
        sync_status: row.sync_status,
        sync_progress: row.sync_progress,
        state: row.state,
        status_reason: row.status_reason.clone(),
        size: row.size,
        checksum_md5: primary.map(|f| f.checksum_md5.clone()).unwrap_or_default(),
        checksum_sha1: primary.map(|f| f.checksum_sha1.clone()).unwrap_or_default(),
        checksum_sha256: row.primary_sha256.clone(),
        checksum_sha512: primary
            .map(|f| f.checksum_sha512.clone())
            .unwrap_or_default(),
        filename: row.filename.clone(),
        files,
        tags: row.tags.clone(),
        uploader: row.uploader.clone(),
        uploaded_at: rfc3339(row.uploaded_at),
        updated_at: rfc3339(row.updated_at),
        security_scan_status: row.scan_status,
        max_severity: row.max_severity.as_deref().and_then(Severity::parse),
        num_vulnerabilities: row.num_vulnerabilities,
        vulnerability_scan_results_url: format!("{api}/vulnerabilities"),
        source: row.source.clone(),
        upstream: row.upstream_name.clone(),
        is_yanked: row.yanked != 0,
        yank_reason: row.yank_reason.clone(),
        metadata: serde_json::from_str(&row.metadata).unwrap_or_default(),
        self_url: api,
    }
}

pub fn event(row: EventRow) -> Event {
    let place = row.place;
    Event {
        id: row.id,
        event: row.event_type,
        occurred_at: rfc3339(row.occurred_at),
        actor: place.actor,
        slug_perm: place.slug_perm,
        repository: place.repository,
        source_repository: place.source_repository,
        destination_repository: place.destination_repository,
        checksum_sha256: place.checksum_sha256,
        source_address: place.source_address,
        context: serde_json::from_str(&row.context).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn host_header_must_look_like_a_host() {
        assert!(super::plausible_host("127.0.0.1:8080"));
        assert!(super::plausible_host("[::1]:80"));
        assert!(!super::plausible_host("evil.com/path"));
        assert!(!super::plausible_host("a b"));
        assert!(!super::plausible_host(""));
    }
}
