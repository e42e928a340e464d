//! Gantry's HTTP application: the REST API under `/api/v1`, the native protocol routes of
//! each format, authentication, metrics, and the wiring of the database, blob store and
//! formats behind them. [`serve`] runs it until SIGINT/SIGTERM.

mod api;
mod attest;
mod audit;
mod bootstrap;
mod connections;
mod drain;
mod formats;
mod jobs;
mod maintenance;
mod middleware;
mod policy;
mod retention;
mod router;
mod sbom;
mod vex;
mod vulndb;

// The shared toolkit, under the names the server's modules have always used.
pub(crate) use gantry_protocol::{
    access, app, auth, error, ingest, metrics, pipeline, plugin, render,
};

pub use gantry_protocol::app::App;
pub use gantry_protocol::config;
pub use gantry_protocol::config::ServerConfig;

/// Entry points for the fuzz targets in `fuzz/` into parsers that are otherwise private.
/// Not an API: nothing but the fuzzers calls these.
#[doc(hidden)]
pub mod fuzzing {
    /// Parses a `Range` header against a file of `size` bytes.
    pub fn range(header: &str, size: u64) {
        let _ = gantry_protocol::range::parse(Some(header), size);
    }

    /// Splits an npm publish document fed in chunks of `chunk` bytes, as it streams in.
    pub fn npm_publish(document: &[u8], chunk: usize) {
        gantry_format_npm::fuzzing::npm_publish(document, chunk);
    }
}
pub use router::{build_router, openapi, route_table};

/// The registered format with this id, for client verbs that prepare an upload locally
/// (`gantry push FORMAT REPO DIR` packs a directory with the format's own rules).
pub fn format(id: &str) -> Option<Arc<dyn gantry_formats::Format>> {
    formats::registered()
        .into_iter()
        .map(|plugin| plugin.format())
        .find(|format| format.id() == id)
}

/// How `gantry push` makes a package of format `id` through the format's own protocol,
/// when it does not upload one file (see [`gantry_client::push`]).
pub fn native_push(id: &str) -> Option<&'static dyn gantry_client::push::NativePush> {
    formats::registered()
        .into_iter()
        .find(|plugin| plugin.format().id() == id)
        .and_then(|plugin| plugin.native_push())
}

use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;

/// How long running jobs may go on after a shutdown signal before they are stopped and handed
/// back to the queue: short enough for a container engine's stop timeout after the requests
/// drained (see docs/deployment.md).
const JOB_DRAIN: std::time::Duration = std::time::Duration::from_secs(5);

/// Opens storage, bootstraps the admin token, starts the in-process job workers and serves
/// HTTP until a shutdown signal; in-flight requests and running jobs are allowed to finish.
pub async fn serve(config: ServerConfig) -> anyhow::Result<()> {
    formats::install();
    let app = App::open(config).await?;
    bootstrap::admin_token(&app).await?;
    let listener = TcpListener::bind(&app.config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", app.config.listen))?;
    let addr = listener.local_addr()?;
    let _ = app.bound_url.set(format!("http://{addr}"));
    let workers = jobs::start_workers(&app, app.config.workers, "server");
    vulndb::schedule_sync(&app).await?;
    vex::schedule_expiry(&app).await?;
    retention::schedule(&app).await?;
    spawn_temporary_sweep(&app);
    // Scripts and tests read this line to learn the bound address (port 0 picks a free one).
    println!("gantry listening on http://{addr}");
    tracing::info!(%addr, database = ?app.db.backend(), storage = app.blobs.description(), "gantry server started");
    let router = build_router(Arc::clone(&app));
    let limits = connections::Limits::from_config(&app.config);
    connections::serve(listener, router, limits, shutdown_signal()).await;
    workers.shutdown(JOB_DRAIN).await;
    tracing::info!("gantry server stopped");
    app.db.close().await;
    Ok(())
}

/// Runs job workers only (no HTTP) against the configured database and storage, until a
/// shutdown signal.
pub async fn work(config: ServerConfig, count: usize) -> anyhow::Result<()> {
    formats::install();
    let app = App::open(config).await?;
    let workers = jobs::start_workers(&app, count.max(1), "worker");
    println!("gantry worker running {} job worker(s)", count.max(1));
    tracing::info!(count, database = ?app.db.backend(), "gantry worker started");
    shutdown_signal().await;
    workers.shutdown(JOB_DRAIN).await;
    app.db.close().await;
    Ok(())
}

/// Removes, at start and then hourly, temporary upload files that no live upload can still be
/// writing: older than the upload timeout. Other replicas share the store, so age is the only
/// safe test.
fn spawn_temporary_sweep(app: &Arc<App>) {
    let blobs = app.blobs.clone();
    let max_age = std::time::Duration::from_secs(app.config.upload_timeout_seconds);
    tokio::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(3600));
        loop {
            every.tick().await;
            match blobs.sweep_temporary(max_age).await {
                Ok(0) => {}
                Ok(removed) => tracing::info!(removed, "removed stale temporary upload files"),
                Err(error) => tracing::warn!(%error, "sweeping temporary upload files failed"),
            }
        }
    });
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown signal received; finishing in-flight requests");
}
