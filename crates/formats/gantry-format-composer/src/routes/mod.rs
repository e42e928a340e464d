//! The Composer v2 repository protocol at `/{owner}/{repo}/composer/`: `packages.json`
//! (its `metadata-url`, and `available-packages` when the repository has no upstreams),
//! `p2/VENDOR/PACKAGE.json` and `p2/VENDOR/PACKAGE~dev.json` (tagged and development
//! versions), and `dists/VENDOR/PACKAGE/VERSION.zip`. Uploads go through the REST API
//! (`gantry push composer`).
//!
//! Available, unyanked versions are listed; yanked ones are still served to whoever names
//! them (a `composer.lock` pins them), quarantined ones are refused with the reason, deleted
//! ones are gone. Errors carry Gantry's message as a `warning`, which Composer prints.

use std::sync::Arc;

mod dist;
mod index;

/// Composer: the v2 repository protocol; uploads go through the REST API.
pub struct Plugin;

impl crate::plugin::FormatPlugin for Plugin {
    fn format(&self) -> Arc<dyn gantry_formats::Format> {
        Arc::new(crate::pure::Composer)
    }

    fn routes(&self) -> crate::plugin::RouteSet {
        crate::plugin::RouteSet::new()
            .get(
                "/{owner}/{repo}/composer/packages.json",
                index::packages_json,
            )
            .get(
                "/{owner}/{repo}/composer/p2/{vendor}/{file}",
                index::metadata,
            )
            .file(
                "/{owner}/{repo}/composer/dists/{vendor}/{package}/{file}",
                dist::dist,
            )
    }

    /// Composer prints a failed response's `warning` when its type is `application/json`.
    fn client_shape(&self) -> Option<gantry_protocol::client_error::ClientShape> {
        Some(gantry_protocol::client_error::ClientShape::JsonWarning)
    }

    fn has_upstreams(&self) -> bool {
        true
    }

    /// One version per Composer version: `1.0` beside `1.0.0` (both `1.0.0.0`) would give
    /// Composer two packages for one version.
    fn before_insert<'a>(
        &'a self,
        app: &'a crate::app::App,
        repo: &'a gantry_db::RepoRow,
        identity: &'a gantry_formats::Identity,
    ) -> futures::future::BoxFuture<'a, crate::error::AppResult<()>> {
        Box::pin(check_new_version(app, repo, identity))
    }
}

async fn check_new_version(
    app: &crate::app::App,
    repo: &gantry_db::RepoRow,
    identity: &gantry_formats::Identity,
) -> crate::error::AppResult<()> {
    let Ok(normal) = crate::pure::version::normalize(&identity.version) else {
        return Ok(());
    };
    let existing = app
        .db
        .name_versions(repo.id, index::FORMAT, &identity.normalized_name)
        .await?;
    let same = existing.iter().map(|(_, v)| v).find(|v| {
        *v != &identity.version && crate::pure::version::normalize(v).is_ok_and(|n| n == normal)
    });
    if let Some(other) = same {
        return Err(crate::error::AppError::Conflict(format!(
            "{} {} is the same Composer version ({normal}) as the existing {other} in {}",
            identity.name,
            identity.version,
            repo.slug()
        )));
    }
    Ok(())
}

/// `VENDOR` and `FILE` of a path, joined into a package name when valid.
pub(crate) fn package_name(vendor: &str, package: &str) -> Option<String> {
    let name = format!("{vendor}/{package}");
    crate::pure::name::check_name(&name).ok()?;
    Some(name)
}
