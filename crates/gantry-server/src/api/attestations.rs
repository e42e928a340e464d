//! Signed attestations and the keys that check them.

use gantry_attest::{Envelope, PublicKey};
use serde::Serialize;
use utoipa::ToSchema;

use super::{op, Api, PackageAt};
use crate::error::{ApiJson, AppError, AppResult, ErrorBody};

fn internal(e: anyhow::Error) -> AppError {
    AppError::Internal(e.to_string())
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Attestations {
    /// `OWNER/REPO` of the package asked about.
    pub(crate) repository: String,
    pub(crate) slug_perm: String,
    /// DSSE envelopes (`payload`, `payloadType`, `signatures[]` with `keyid` and `sig`), each
    /// an in-toto statement of one step: the upload first, then every copy and move up to
    /// this package, oldest first.
    #[schema(value_type = Vec<Object>)]
    pub(crate) attestations: Vec<Envelope>,
}

/// A package's signed chain: the attestations of its upload and of every copy and move that
/// brought it here, for `gantry verify` to check offline against the public keys.
#[utoipa::path(get, path = "/api/v1/packages/{owner}/{repo}/{slug_perm}/attestations", tag = "security",
    params(("owner" = String, Path), ("repo" = String, Path), ("slug_perm" = String, Path)),
    responses((status = 200, body = Attestations), (status = 404, body = ErrorBody)))]
pub(crate) async fn list(
    Api { app, .. }: Api,
    PackageAt { repo, package }: PackageAt<op::Read>,
) -> AppResult<ApiJson<Attestations>> {
    let attestations = crate::attest::chain(&app, &package)
        .await
        .map_err(internal)?;
    Ok(ApiJson(Attestations {
        repository: repo.slug(),
        slug_perm: package.slug_perm.clone(),
        attestations,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Keys {
    /// Every ed25519 key the site signs or signed with (`keyid` = hex sha256 of the key,
    /// `public_key` base64, `created_at` and `retired_at` in milliseconds since the epoch). A
    /// retired key verifies only what it signed before `retired_at`.
    #[schema(value_type = Vec<Object>)]
    pub(crate) keys: Vec<PublicKey>,
}

/// The site's public attestation keys. Public: anyone may fetch them (save them to check
/// attestations with `gantry verify --key FILE`).
#[utoipa::path(get, path = "/api/v1/keys", tag = "security",
    responses((status = 200, body = Keys)))]
pub(crate) async fn keys(Api { app, .. }: Api) -> AppResult<ApiJson<Keys>> {
    let keys = crate::attest::public_keys(&app).await.map_err(internal)?;
    Ok(ApiJson(Keys { keys }))
}

/// Retires the active signing key and makes a new one. Site admins only. What the old key
/// signed still verifies; it signs nothing more (other replicas follow within 30 seconds).
#[utoipa::path(post, path = "/api/v1/keys/rotate", tag = "security",
    responses((status = 200, body = Keys), (status = 403, body = ErrorBody)))]
pub(crate) async fn rotate(Api { app, caller }: Api) -> AppResult<ApiJson<Keys>> {
    caller.require_site_admin()?;
    crate::attest::rotate(&app).await.map_err(internal)?;
    let keys = crate::attest::public_keys(&app).await.map_err(internal)?;
    let mut event = caller.event(gantry_core::EventType::SigningKeyRotated);
    event.context = serde_json::json!({ "keys": keys.len() });
    app.db.record_event(&event).await?;
    Ok(ApiJson(Keys { keys }))
}
