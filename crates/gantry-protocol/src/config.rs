//! Server configuration: flags and `GANTRY_*` variables (read by the binary's CLI parser)
//! layered over an optional TOML file, over defaults.

use std::path::{Path, PathBuf};

use serde::Deserialize;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_DATA_DIR: &str = "./gantry-data";
/// 5 GiB.
pub const DEFAULT_MAX_UPLOAD_SIZE: u64 = 5 * 1024 * 1024 * 1024;
pub const DEFAULT_WORKERS: usize = 2;
pub const DEFAULT_JOB_LEASE_SECONDS: u64 = 60;
/// Seconds before each retry of a failed webhook delivery: the first retry comes within 10 s.
pub const DEFAULT_WEBHOOK_RETRY_SCHEDULE: &[f64] = &[5.0, 30.0, 120.0, 600.0, 1800.0, 3600.0];
pub const DEFAULT_WEBHOOK_DISABLE_AFTER: i64 = 20;
pub const DEFAULT_WEBHOOK_TIMEOUT_SECONDS: f64 = 10.0;
/// Failed authentications from one address (IPv6: one /64) within the window before its bad
/// tokens and logins get 429; valid tokens are never refused.
pub const DEFAULT_AUTH_FAILURE_LIMIT: u32 = 10;
pub const DEFAULT_AUTH_FAILURE_WINDOW_SECONDS: u64 = 60;
/// Seconds a connection has, from when it is ready for a request, to send the request's
/// headers in full.
pub const DEFAULT_HEADER_TIMEOUT_SECONDS: u64 = 30;
/// Seconds a connection may stay silent while no request is being handled.
pub const DEFAULT_IDLE_TIMEOUT_SECONDS: u64 = 60;
/// Seconds a request or response body may go without a byte moving.
pub const DEFAULT_BODY_TIMEOUT_SECONDS: u64 = 60;
/// Seconds one request body (an upload) may take in all. Temporary upload files older than
/// this are what killed uploads left, and are removed.
pub const DEFAULT_UPLOAD_TIMEOUT_SECONDS: u64 = 24 * 3600;
/// Connections served at once; more wait in the listen backlog. Room for 1,000 concurrent
/// clients with keep-alive and a few connections each for the busiest.
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;

/// The settings a TOML file may carry; every field optional.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    pub storage_url: Option<String>,
    pub max_upload_size: Option<u64>,
    pub public_url: Option<String>,
    pub workers: Option<usize>,
    pub job_lease_seconds: Option<u64>,
    pub webhook_retry_schedule: Option<Vec<f64>>,
    pub webhook_disable_after: Option<i64>,
    pub webhook_timeout_seconds: Option<f64>,
    pub webhook_deny_networks: Option<Vec<String>>,
    pub outbound_allow_networks: Option<Vec<String>>,
    pub trusted_proxies: Option<Vec<String>>,
    pub auth_failure_limit: Option<u32>,
    pub auth_failure_window_seconds: Option<u64>,
    pub vulndb_url: Option<String>,
    pub vulndb_sync_interval_seconds: Option<u64>,
    pub header_timeout_seconds: Option<u64>,
    pub idle_timeout_seconds: Option<u64>,
    pub body_timeout_seconds: Option<u64>,
    pub max_connections: Option<usize>,
    pub upload_timeout_seconds: Option<u64>,
}

impl FileConfig {
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read config file {}: {e}", path.display()))?;
        toml_from_str(&text)
            .map_err(|e| anyhow::anyhow!("invalid config file {}: {e}", path.display()))
    }
}

impl FileConfig {
    /// Each setting from `self` where it is set, else from `lower`.
    fn over(self, lower: Self) -> Self {
        Self {
            listen: self.listen.or(lower.listen),
            data_dir: self.data_dir.or(lower.data_dir),
            database_url: self.database_url.or(lower.database_url),
            storage_url: self.storage_url.or(lower.storage_url),
            max_upload_size: self.max_upload_size.or(lower.max_upload_size),
            public_url: self.public_url.or(lower.public_url),
            workers: self.workers.or(lower.workers),
            job_lease_seconds: self.job_lease_seconds.or(lower.job_lease_seconds),
            webhook_retry_schedule: self.webhook_retry_schedule.or(lower.webhook_retry_schedule),
            webhook_disable_after: self.webhook_disable_after.or(lower.webhook_disable_after),
            webhook_timeout_seconds: self
                .webhook_timeout_seconds
                .or(lower.webhook_timeout_seconds),
            webhook_deny_networks: self.webhook_deny_networks.or(lower.webhook_deny_networks),
            outbound_allow_networks: self
                .outbound_allow_networks
                .or(lower.outbound_allow_networks),
            trusted_proxies: self.trusted_proxies.or(lower.trusted_proxies),
            auth_failure_limit: self.auth_failure_limit.or(lower.auth_failure_limit),
            auth_failure_window_seconds: self
                .auth_failure_window_seconds
                .or(lower.auth_failure_window_seconds),
            vulndb_url: self.vulndb_url.or(lower.vulndb_url),
            vulndb_sync_interval_seconds: self
                .vulndb_sync_interval_seconds
                .or(lower.vulndb_sync_interval_seconds),
            header_timeout_seconds: self.header_timeout_seconds.or(lower.header_timeout_seconds),
            idle_timeout_seconds: self.idle_timeout_seconds.or(lower.idle_timeout_seconds),
            body_timeout_seconds: self.body_timeout_seconds.or(lower.body_timeout_seconds),
            max_connections: self.max_connections.or(lower.max_connections),
            upload_timeout_seconds: self.upload_timeout_seconds.or(lower.upload_timeout_seconds),
        }
    }
}

fn toml_from_str(text: &str) -> Result<FileConfig, String> {
    toml::from_str(text).map_err(|e| e.to_string())
}

/// The server's settings after layering.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: String,
    pub data_dir: PathBuf,
    pub database_url: String,
    pub storage_url: String,
    pub max_upload_size: u64,
    /// Base URL used in links (`download_url`, `self_url`); taken from the request's `Host`
    /// header when unset.
    pub public_url: Option<String>,
    /// From `GANTRY_ADMIN_TOKEN`.
    pub admin_token: Option<String>,
    /// In-process job workers (0: none; run `gantry worker` instead).
    pub workers: usize,
    /// How long a job claim lasts without a heartbeat before another worker takes over.
    pub job_lease_seconds: u64,
    pub webhook_retry_schedule: Vec<f64>,
    /// Consecutive failed attempts after which a webhook is disabled.
    pub webhook_disable_after: i64,
    pub webhook_timeout_seconds: f64,
    /// Networks (CIDR) webhooks and upstreams may not target; wins over the allow list.
    pub webhook_deny_networks: Vec<String>,
    /// Private networks (CIDR) webhooks and upstreams may target; by default only public
    /// addresses are reachable, and the cloud metadata address never is.
    pub outbound_allow_networks: Vec<String>,
    /// Proxies (CIDR) whose `X-Forwarded-For` is believed; empty: the socket address counts.
    pub trusted_proxies: Vec<String>,
    pub auth_failure_limit: u32,
    pub auth_failure_window_seconds: u64,
    /// Base URL of OSV bundles laid out as `<Ecosystem>/all.zip`, synced periodically.
    pub vulndb_url: Option<String>,
    pub vulndb_sync_interval_seconds: u64,
    pub header_timeout_seconds: u64,
    pub idle_timeout_seconds: u64,
    pub body_timeout_seconds: u64,
    pub max_connections: usize,
    pub upload_timeout_seconds: u64,
}

/// Values given on the command line or in the environment; they win over the file. The
/// admin token has no file setting: it comes from the environment only.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub settings: FileConfig,
    pub admin_token: Option<String>,
}

impl ServerConfig {
    /// Layers command line/environment over the file over the defaults.
    pub fn resolve(overrides: Overrides, file: FileConfig) -> Self {
        let s = overrides.settings.over(file);
        let data_dir = s
            .data_dir
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
        let database_url = s
            .database_url
            .unwrap_or_else(|| gantry_db::Db::sqlite_url(&data_dir));
        let storage_url = s
            .storage_url
            .unwrap_or_else(|| data_dir.join("blobs").display().to_string());
        Self {
            listen: s.listen.unwrap_or_else(|| DEFAULT_LISTEN.to_owned()),
            database_url,
            storage_url,
            max_upload_size: s.max_upload_size.unwrap_or(DEFAULT_MAX_UPLOAD_SIZE),
            public_url: s.public_url.map(|u| u.trim_end_matches('/').to_owned()),
            admin_token: overrides.admin_token.filter(|t| !t.is_empty()),
            workers: s.workers.unwrap_or(DEFAULT_WORKERS),
            job_lease_seconds: s
                .job_lease_seconds
                .unwrap_or(DEFAULT_JOB_LEASE_SECONDS)
                .max(1),
            webhook_retry_schedule: s
                .webhook_retry_schedule
                .unwrap_or_else(|| DEFAULT_WEBHOOK_RETRY_SCHEDULE.to_vec()),
            webhook_disable_after: s
                .webhook_disable_after
                .unwrap_or(DEFAULT_WEBHOOK_DISABLE_AFTER)
                .max(1),
            webhook_timeout_seconds: s
                .webhook_timeout_seconds
                .unwrap_or(DEFAULT_WEBHOOK_TIMEOUT_SECONDS),
            webhook_deny_networks: s.webhook_deny_networks.unwrap_or_default(),
            outbound_allow_networks: s.outbound_allow_networks.unwrap_or_default(),
            trusted_proxies: s.trusted_proxies.unwrap_or_default(),
            auth_failure_limit: s
                .auth_failure_limit
                .unwrap_or(DEFAULT_AUTH_FAILURE_LIMIT)
                .max(1),
            auth_failure_window_seconds: s
                .auth_failure_window_seconds
                .unwrap_or(DEFAULT_AUTH_FAILURE_WINDOW_SECONDS)
                .max(1),
            vulndb_url: s.vulndb_url.map(|u| u.trim_end_matches('/').to_owned()),
            vulndb_sync_interval_seconds: s.vulndb_sync_interval_seconds.unwrap_or(86_400).max(60),
            header_timeout_seconds: s
                .header_timeout_seconds
                .unwrap_or(DEFAULT_HEADER_TIMEOUT_SECONDS)
                .max(1),
            idle_timeout_seconds: s
                .idle_timeout_seconds
                .unwrap_or(DEFAULT_IDLE_TIMEOUT_SECONDS)
                .max(1),
            body_timeout_seconds: s
                .body_timeout_seconds
                .unwrap_or(DEFAULT_BODY_TIMEOUT_SECONDS)
                .max(1),
            max_connections: s.max_connections.unwrap_or(DEFAULT_MAX_CONNECTIONS).max(1),
            upload_timeout_seconds: s
                .upload_timeout_seconds
                .unwrap_or(DEFAULT_UPLOAD_TIMEOUT_SECONDS)
                .max(60),
            data_dir,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_win_over_file_over_defaults() -> Result<(), String> {
        let file = toml_from_str(
            "# comment\nlisten = \"0.0.0.0:9000\"\ndata_dir = \"/srv/g\"\nmax_upload_size = 1_000\n",
        )?;
        let config = ServerConfig::resolve(
            Overrides {
                settings: FileConfig {
                    listen: Some("127.0.0.1:1".into()),
                    ..FileConfig::default()
                },
                ..Overrides::default()
            },
            file,
        );
        assert_eq!(config.listen, "127.0.0.1:1");
        assert_eq!(config.data_dir, PathBuf::from("/srv/g"));
        assert_eq!(config.max_upload_size, 1000);
        assert_eq!(config.storage_url, "/srv/g/blobs");
        assert!(config.database_url.starts_with("sqlite:///srv/g/gantry.db"));
        assert_eq!(config.max_connections, DEFAULT_MAX_CONNECTIONS);
        let file = toml_from_str("header_timeout_seconds = 5\nmax_connections = 10\n")?;
        let config = ServerConfig::resolve(
            Overrides {
                settings: FileConfig {
                    max_connections: Some(20),
                    ..FileConfig::default()
                },
                ..Overrides::default()
            },
            file,
        );
        assert_eq!(
            (config.header_timeout_seconds, config.max_connections),
            (5, 20)
        );
        Ok(())
    }

    #[test]
    fn unknown_keys_are_errors() {
        assert!(toml_from_str("colour = \"red\"").is_err());
        assert!(toml_from_str("listen 1").is_err());
    }
}
