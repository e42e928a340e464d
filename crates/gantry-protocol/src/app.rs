use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use anyhow::Context;
use gantry_blobs::BlobStore;
use gantry_db::Db;
use gantry_formats::Registry;
use gantry_webhooks::OutboundRules;
use tokio::sync::Notify;

use crate::config::ServerConfig;
use crate::metrics::Metrics;

/// Everything a request handler may need; shared behind an `Arc`.
pub struct App {
    pub config: ServerConfig,
    pub db: Db,
    pub blobs: BlobStore,
    pub formats: Registry,
    pub metrics: Metrics,
    /// Wakes this process's job workers when a job was just enqueued.
    pub wake: Arc<Notify>,
    /// Client for webhook deliveries.
    pub http: reqwest::Client,
    /// Where webhooks and upstreams may connect.
    pub outbound: OutboundRules,
    /// The URL links point at when no public URL is configured: the bound address.
    pub bound_url: OnceLock<String>,
    pub trusted_proxies: Vec<ipnet::IpNet>,
    pub auth_limiter: crate::limiter::AuthLimiter,
    /// Rendered install-index pages (see `index_cache`).
    pub index_cache: crate::index_cache::IndexCache,
    /// Callers, repositories, packages, index validators and small blobs (see `caches`).
    pub caches: Arc<crate::caches::Caches>,
}

impl App {
    /// Creates the data directory and opens the metadata store (migrating it) and blob store.
    pub async fn open(config: ServerConfig) -> anyhow::Result<Arc<Self>> {
        std::fs::create_dir_all(&config.data_dir).with_context(|| {
            format!("cannot create data directory {}", config.data_dir.display())
        })?;
        let db = Db::connect_with(&config.database_url, &crate::plugin::plugins().migrations())
            .await
            .with_context(|| format!("cannot open database {}", redact(&config.database_url)))?;
        let blobs = BlobStore::open(&config.storage_url)
            .with_context(|| format!("cannot open blob storage {}", config.storage_url))?
            .with_marker(Arc::new(MarkWrites(db.clone())));
        let outbound = OutboundRules::new(
            &config.outbound_allow_networks,
            &config.webhook_deny_networks,
        )?;
        let trusted_proxies = crate::access::parse_networks(&config.trusted_proxies)
            .map_err(|e| anyhow::anyhow!("invalid trusted_proxies: {e}"))?;
        let auth_limiter = crate::limiter::AuthLimiter::new(
            config.auth_failure_limit,
            std::time::Duration::from_secs(config.auth_failure_window_seconds),
        );
        let caches = Arc::new(crate::caches::Caches::new());
        let mut metrics = Metrics::new();
        caches.register(metrics.registry_mut());
        // Read the change counter once before serving, then keep reading it.
        caches
            .check(&db)
            .await
            .context("cannot read the change counter")?;
        caches.watch(db.clone());
        Ok(Arc::new(Self {
            config,
            db,
            blobs,
            formats: crate::plugin::plugins().formats().clone(),
            metrics,
            wake: Arc::new(Notify::new()),
            http: gantry_webhooks::client()?,
            outbound,
            bound_url: OnceLock::new(),
            trusted_proxies,
            auth_limiter,
            index_cache: crate::index_cache::IndexCache::new(128 * 1024 * 1024),
            caches,
        }))
    }

    /// Base URL for links built outside a request (webhook payloads).
    pub fn base_url(&self) -> String {
        if let Some(url) = &self.config.public_url {
            return url.clone();
        }
        self.bound_url
            .get()
            .cloned()
            .unwrap_or_else(|| format!("http://{}", self.config.listen))
    }

    /// Lets idle workers of this process pick up a job enqueued just now.
    pub fn wake_workers(&self) {
        self.wake.notify_waiters();
    }

    /// Where parsers get local copies of blobs from remote stores.
    pub fn scratch_dir(&self) -> PathBuf {
        self.config.data_dir.join("tmp")
    }
}

/// Records each upload's blob as just written before it is placed, which keeps garbage
/// collection (`gantry admin gc`) away from it for the grace period.
pub struct MarkWrites(pub Db);

impl gantry_blobs::BlobMarker for MarkWrites {
    fn mark<'a>(
        &'a self,
        d: &'a gantry_blobs::Digests,
    ) -> futures::future::BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let size = i64::try_from(d.size).map_err(|e| e.to_string())?;
            self.0
                .mark_blob(&d.sha256, size, &d.md5, &d.sha1, &d.sha512)
                .await
                .map_err(|e| e.to_string())
        })
    }
}

/// Hides a password in a database URL for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn redacts_passwords() {
        assert_eq!(
            super::redact("postgres://u:secret@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(super::redact("sqlite:///x"), "sqlite:///x");
    }
}
