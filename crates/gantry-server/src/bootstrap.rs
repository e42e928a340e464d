//! First-start set-up: the site-admin token.

use std::io::Write;

use anyhow::Context;

use crate::app::App;

/// Prefix of every token Gantry issues, so secret scanners can recognise them.
pub(crate) const TOKEN_PREFIX: &str = "gty_";

/// A new random token: the prefix and 43 base62 characters (about 256 bits).
pub(crate) fn new_token_secret() -> String {
    format!("{TOKEN_PREFIX}{}", gantry_core::ids::random_base62(43))
}

/// `GANTRY_ADMIN_TOKEN` becomes a site-admin token. Without it, the first start creates one,
/// prints it once and writes it to `DATA_DIR/admin-token` (mode 0600).
pub(crate) async fn admin_token(app: &App) -> anyhow::Result<()> {
    if let Some(secret) = &app.config.admin_token {
        app.db.ensure_site_admin_token(secret).await?;
        return Ok(());
    }
    if app.db.has_site_admin_token().await? {
        return Ok(());
    }
    let secret = new_token_secret();
    // A fresh secret matches no token, so this creates one.
    app.db.ensure_site_admin_token(&secret).await?;
    let path = app.config.data_dir.join("admin-token");
    write_private(&path, &secret).with_context(|| format!("cannot write {}", path.display()))?;
    println!(
        "Created the site-admin token (shown once; also saved to {}):",
        path.display()
    );
    println!("{secret}");
    Ok(())
}

fn write_private(path: &std::path::Path, secret: &str) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    writeln!(file, "{secret}")?;
    Ok(())
}
