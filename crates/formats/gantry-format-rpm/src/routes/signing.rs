//! The repository's OpenPGP signature of `repomd.xml` (`repomd.xml.asc`) and its public key,
//! with the repository's key from `gantry-signing` (made on first use, shared with the other
//! formats of the repository).

use bytes::Bytes;
use gantry_db::RepoRow;

use crate::app::App;
use crate::error::{AppError, AppResult};

/// The fingerprint of the key that signs the repository's metadata now: part of the
/// repodata's fingerprint, so a rotation re-signs.
pub(crate) async fn fingerprint(app: &App, repo: &RepoRow) -> AppResult<String> {
    Ok(gantry_signing::active_key(app, repo).await?.fingerprint())
}

/// The detached, armoured signature of `repomd` with the repository's key.
pub(crate) async fn sign(app: &App, repo: &RepoRow, repomd: &[u8]) -> AppResult<Option<Bytes>> {
    let key = gantry_signing::active_key(app, repo).await?;
    let signature = key.detached_sign(repomd).map_err(AppError::internal)?;
    Ok(Some(Bytes::from(signature)))
}

/// The repository's public key, armoured.
pub(crate) async fn public_key(app: &App, repo: &RepoRow) -> AppResult<Option<Bytes>> {
    let key = gantry_signing::active_key(app, repo).await?;
    Ok(Some(Bytes::from(
        key.public_armored().map_err(AppError::internal)?,
    )))
}
