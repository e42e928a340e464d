//! A repository's OpenPGP signing keys (apt and dnf metadata): list and rotate.

use gantry_core::EventType;
use serde::Serialize;
use utoipa::ToSchema;

use super::{op, repo_event, Api, Repo};
use crate::error::{ApiJson, AppResult, ErrorBody};

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SigningKeys {
    /// `OWNER/REPO`.
    pub(crate) repository: String,
    /// The active key first, then retired ones, newest first: `fingerprint` (40 hex digits),
    /// `public_key` (armored), `created_at` and `retired_at` (milliseconds since the epoch).
    #[schema(value_type = Vec<Object>)]
    pub(crate) keys: Vec<gantry_signing::KeyInfo>,
}

/// The repository's metadata signing keys (made on first use). The active key is also served
/// armored at `/{owner}/{repo}/deb/signing-key.asc`.
#[utoipa::path(get, path = "/api/v1/repos/{owner}/{repo}/signing-keys", tag = "repositories",
    params(("owner" = String, Path), ("repo" = String, Path)),
    responses((status = 200, body = SigningKeys), (status = 404, body = ErrorBody)))]
pub(crate) async fn list(
    Api { app, .. }: Api,
    repo: Repo<op::Read>,
) -> AppResult<ApiJson<SigningKeys>> {
    let keys = gantry_signing::keys(&app, &repo).await?;
    Ok(ApiJson(SigningKeys {
        repository: repo.slug(),
        keys,
    }))
}

/// Retires the repository's active signing key and makes a new one (repository admins).
/// Metadata is signed with the new key from its next read on; clients must fetch the new
/// public key into their keyring, or their next update fails its signature check.
#[utoipa::path(post, path = "/api/v1/repos/{owner}/{repo}/signing-keys/rotate", tag = "repositories",
    params(("owner" = String, Path), ("repo" = String, Path)),
    responses((status = 200, body = SigningKeys), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub(crate) async fn rotate(
    Api { app, caller }: Api,
    repo: Repo<op::Admin>,
) -> AppResult<ApiJson<SigningKeys>> {
    let fresh = gantry_signing::rotate(&app, &repo).await?;
    let context = serde_json::json!({ "fingerprint": fresh.fingerprint });
    let event = repo_event(&caller, EventType::SigningKeyRotated, &repo, context);
    app.db.record_event(&event).await?;
    let keys = gantry_signing::keys(&app, &repo).await?;
    Ok(ApiJson(SigningKeys {
        repository: repo.slug(),
        keys,
    }))
}
