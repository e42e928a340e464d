//! The repository's OpenPGP signature of `repomd.xml` (`repomd.xml.asc`) and its public key.

use bytes::Bytes;
use gantry_db::RepoRow;

use crate::app::App;
use crate::error::AppResult;

/// The detached, armoured signature of `repomd` with the repository's key.
pub(crate) async fn sign(_app: &App, _repo: &RepoRow, _repomd: &[u8]) -> AppResult<Option<Bytes>> {
    Ok(None)
}

/// The repository's public key, armoured.
pub(crate) async fn public_key(_app: &App, _repo: &RepoRow) -> AppResult<Option<Bytes>> {
    Ok(None)
}
