//! The public key as a download, for any format to mount under its own prefix (apt's
//! `/{owner}/{repo}/deb/signing-key.asc`, dnf's `/{owner}/{repo}/rpm/signing-key.asc`): the
//! same key for every format of a repository.

use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use gantry_protocol::app::App;
use gantry_protocol::error::AppResult;
use gantry_protocol::extract::{op, Repo};

/// `GET …/signing-key.asc`: the repository's active public key, armored. Anonymous for a
/// public repository; 404 to whoever may not read a private one (the extractor decides).
pub async fn public_key_asc(
    State(app): State<Arc<App>>,
    repo: Repo<op::Read>,
) -> AppResult<Response> {
    let armored = crate::store::public_key(&app, &repo).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/pgp-keys"),
            // A rotation must reach clients that fetch the key again.
            (header::CACHE_CONTROL, "no-cache"),
        ],
        armored,
    )
        .into_response())
}
