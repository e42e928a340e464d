//! Server configuration: flags and `GANTRY_*` variables (read by the binary's CLI parser)
//! layered over an optional TOML file, over defaults.

use std::path::{Path, PathBuf};

use serde::Deserialize;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_DATA_DIR: &str = "./gantry-data";
/// 5 GiB.
pub const DEFAULT_MAX_UPLOAD_SIZE: u64 = 5 * 1024 * 1024 * 1024;

/// The settings a TOML file may carry; every field optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    pub storage_url: Option<String>,
    pub max_upload_size: Option<u64>,
    pub public_url: Option<String>,
}

impl FileConfig {
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read config file {}: {e}", path.display()))?;
        toml_from_str(&text)
            .map_err(|e| anyhow::anyhow!("invalid config file {}: {e}", path.display()))
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
}

/// Values given on the command line or in the environment; they win over the file.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub listen: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    pub storage_url: Option<String>,
    pub max_upload_size: Option<u64>,
    pub public_url: Option<String>,
    pub admin_token: Option<String>,
}

impl ServerConfig {
    /// Layers command line/environment over the file over the defaults.
    pub fn resolve(overrides: Overrides, file: FileConfig) -> Self {
        let data_dir = overrides
            .data_dir
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
        let database_url = overrides
            .database_url
            .or(file.database_url)
            .unwrap_or_else(|| gantry_db::Db::sqlite_url(&data_dir));
        let storage_url = overrides
            .storage_url
            .or(file.storage_url)
            .unwrap_or_else(|| data_dir.join("blobs").display().to_string());
        Self {
            listen: overrides
                .listen
                .or(file.listen)
                .unwrap_or_else(|| DEFAULT_LISTEN.to_owned()),
            database_url,
            storage_url,
            max_upload_size: overrides
                .max_upload_size
                .or(file.max_upload_size)
                .unwrap_or(DEFAULT_MAX_UPLOAD_SIZE),
            public_url: overrides
                .public_url
                .or(file.public_url)
                .map(|u| u.trim_end_matches('/').to_owned()),
            admin_token: overrides.admin_token.filter(|t| !t.is_empty()),
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
                listen: Some("127.0.0.1:1".into()),
                ..Overrides::default()
            },
            file,
        );
        assert_eq!(config.listen, "127.0.0.1:1");
        assert_eq!(config.data_dir, PathBuf::from("/srv/g"));
        assert_eq!(config.max_upload_size, 1000);
        assert_eq!(config.storage_url, "/srv/g/blobs");
        assert!(config.database_url.starts_with("sqlite:///srv/g/gantry.db"));
        Ok(())
    }

    #[test]
    fn unknown_keys_are_errors() {
        assert!(toml_from_str("colour = \"red\"").is_err());
        assert!(toml_from_str("listen 1").is_err());
    }
}
