//! The client's saved settings (`gantry login`): URL and token in a TOML file readable only
//! by its owner.

use std::path::PathBuf;

use anyhow::Context;
use serde::{Deserialize, Serialize};

pub(crate) const DEFAULT_URL: &str = "http://127.0.0.1:8080";

#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Saved {
    pub(crate) url: Option<String>,
    pub(crate) token: Option<String>,
}

/// `$GANTRY_CLIENT_CONFIG`, else `$XDG_CONFIG_HOME/gantry/config.toml`, else
/// `~/.config/gantry/config.toml`.
pub(crate) fn path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("GANTRY_CLIENT_CONFIG") {
        return Some(PathBuf::from(p));
    }
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("gantry").join("config.toml"))
}

pub(crate) fn load() -> Saved {
    path()
        .and_then(|p| std::fs::read_to_string(p).ok())
        .and_then(|text| toml::from_str(&text).ok())
        .unwrap_or_default()
}

pub(crate) fn save(saved: &Saved) -> anyhow::Result<PathBuf> {
    let path = path().context("cannot tell where to save settings: set HOME")?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let text = toml::to_string(saved)?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        let file = options.open(&path)?;
        // An existing file keeps its mode on open; tighten it explicitly.
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        std::io::Write::write_all(&mut &file, text.as_bytes())?;
    }
    #[cfg(not(unix))]
    {
        let mut file = options.open(&path)?;
        std::io::Write::write_all(&mut file, text.as_bytes())?;
    }
    Ok(path)
}
