//! The apt protocol: `dists/` (generated, signed), `pool/` (the stored `.deb`s), the
//! upstreams' `.deb`s (`upstream/`) and the repository's public key.

mod dists;
mod generation;
mod pool;
mod scan;
mod upstream_file;

use std::sync::Arc;

use gantry_protocol::app::App;
use gantry_protocol::client_error::ClientShape;
use gantry_protocol::error::AppResult;
use gantry_protocol::plugin::{ContentScan, FormatPlugin, RouteSet};

use crate::queries::{DebQueries, DebRow};

/// The repository's `.deb`s (not deleted, synced), read at most once per cache epoch.
pub(crate) async fn packages(app: &App, repository_id: i64) -> AppResult<Arc<Vec<DebRow>>> {
    let key = format!("deb-packages:{repository_id}");
    gantry_protocol::caches::memoized(app, key, || async {
        Ok(app.db.deb_packages(repository_id).await?)
    })
    .await
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
            // apt only GETs packages; no HEAD is offered, so no upstream is asked for one.
            .get(
                "/{owner}/{repo}/deb/upstream/{upstream}/{dist}/{*path}",
                upstream_file::get,
            )
    }

    fn has_upstreams(&self) -> bool {
        true
    }

    /// Matched by source package in each Debian release the package's distributions name
    /// (`bookworm` → `Debian:12`), see [`scan`].
    fn content_scan(&self) -> Option<ContentScan> {
        Some(
            ContentScan::new(|_, package| Box::pin(async move { Ok(scan::components(package)) }))
                .unsupported(|app, package| Box::pin(scan::unsupported(app, package)))
                .touched(|app, touched| Box::pin(scan::touched(app, touched))),
        )
    }

    /// apt prints the status line's reason phrase, so the message goes there.
    fn client_shape(&self) -> Option<ClientShape> {
        Some(ClientShape::ReasonPhrase)
    }
}
