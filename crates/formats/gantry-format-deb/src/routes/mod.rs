//! The apt protocol: `dists/` (generated, signed), `pool/` (the stored `.deb`s) and the
//! repository's public key.

mod dists;
mod generation;
mod pool;

use std::sync::Arc;

use futures::future::BoxFuture;
use gantry_protocol::app::App;
use gantry_protocol::client_error::ClientShape;
use gantry_protocol::error::AppResult;
use gantry_protocol::plugin::{Component, FormatPlugin, RouteSet};

use crate::queries::{DebQueries, DebRow};

/// The repository's `.deb`s (not deleted, synced), read at most once per cache epoch.
pub(crate) async fn packages(app: &App, repository_id: i64) -> AppResult<Arc<Vec<DebRow>>> {
    let key = format!("deb-packages:{repository_id}");
    gantry_protocol::caches::memoized(app, key, || async {
        Ok(app.db.deb_packages(repository_id).await?)
    })
    .await
}

/// The package's source in each Debian release it is listed for.
fn components(package: &gantry_db::PackageRow) -> Vec<Component> {
    let metadata: serde_json::Value = serde_json::from_str(&package.metadata).unwrap_or_default();
    let control = crate::pure::Control {
        fields: metadata["control"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| Some((p[0].as_str()?.to_owned(), p[1].as_str()?.to_owned())))
            .collect(),
    };
    let (name, version) = crate::pure::scan::source(&control);
    let mut releases: Vec<&str> = metadata["listings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|l| crate::pure::scan::debian_release(l["distribution"].as_str()?))
        .collect();
    releases.sort_unstable();
    releases.dedup();
    releases
        .into_iter()
        .map(|release| Component {
            ecosystem: format!("Debian:{release}"),
            name: name.clone(),
            version: version.clone(),
            location: serde_json::json!({"package": package.name, "version": package.version}),
        })
        .collect()
}

pub struct Plugin;

impl FormatPlugin for Plugin {
    fn format(&self) -> Arc<dyn gantry_formats::Format> {
        Arc::new(crate::pure::Deb)
    }

    fn routes(&self) -> RouteSet {
        RouteSet::new()
            .file("/{owner}/{repo}/deb/dists/{dist}/{*path}", dists::get)
            .file(
                "/{owner}/{repo}/deb/pool/{component}/{prefix}/{name}/{filename}",
                pool::get,
            )
            .file(
                "/{owner}/{repo}/deb/signing-key.asc",
                gantry_signing::public_key_asc,
            )
    }

    /// Matched by source package in each Debian release the package's distributions name
    /// (`bookworm` → `Debian:12`); a package listed in no Debian release has nothing to
    /// match.
    fn scans_contents(&self) -> bool {
        true
    }

    fn components<'a>(
        &'a self,
        _app: &'a App,
        package: &'a gantry_db::PackageRow,
    ) -> BoxFuture<'a, AppResult<Vec<Component>>> {
        Box::pin(async move { Ok(components(package)) })
    }

    /// apt prints the status line's reason phrase, so the message goes there.
    fn client_shape(&self) -> Option<ClientShape> {
        Some(ClientShape::ReasonPhrase)
    }
}
