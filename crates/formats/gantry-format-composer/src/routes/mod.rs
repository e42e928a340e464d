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
}

/// `VENDOR` and `FILE` of a path, joined into a package name when valid.
pub(crate) fn package_name(vendor: &str, package: &str) -> Option<String> {
    let name = format!("{vendor}/{package}");
    crate::pure::name::check_name(&name).ok()?;
    Some(name)
}
