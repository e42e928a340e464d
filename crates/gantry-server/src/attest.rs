//! Signed attestations of every step in a package's life: its upload, and each copy and move
//! (single, bulk or by a rule). Each step is an in-toto statement in a DSSE envelope signed
//! with the site's ed25519 key (`gantry-attest`). The key is made on first use and kept in
//! the database, so every replica signs with it; rotation retires it (it still verifies what
//! it signed) and makes a new one.
//!
//! A step is recorded after the change it describes committed. Should that fail, the chain
//! has a gap and `gantry verify` fails on it: missing evidence never passes.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gantry_attest::{Envelope, KeyPair, Location, PublicKey, Step};
use gantry_db::{NewDecision, PackageRow, PromotionMode, RepoRow, SigningKeyRow};

use crate::app::App;

/// How long a replica signs with the key it read before looking again (so a rotation on
/// another replica is followed within this time).
const KEY_REFRESH: Duration = Duration::from_secs(30);
/// Deepest chain of copies followed when collecting a package's attestations.
const MAX_CHAIN_DEPTH: usize = 64;

static KEY: Mutex<Option<(Instant, Arc<KeyPair>)>> = Mutex::new(None);

fn cached_key() -> Option<Arc<KeyPair>> {
    let guard = KEY.lock().ok()?;
    guard
        .as_ref()
        .filter(|(at, _)| at.elapsed() < KEY_REFRESH)
        .map(|(_, k)| Arc::clone(k))
}

fn cache_key(key: Arc<KeyPair>) {
    if let Ok(mut guard) = KEY.lock() {
        *guard = Some((Instant::now(), key));
    }
}

fn new_row(key: &KeyPair) -> SigningKeyRow {
    let public = key.public(gantry_core::time::now_millis(), None);
    SigningKeyRow {
        keyid: public.keyid,
        algorithm: public.algorithm,
        public_key: public.public_key,
        secret: key.secret(),
        created_at: public.created_at,
        retired_at: None,
    }
}

/// The active signing key, made (once, across replicas) when there is none.
async fn signing_key(app: &App) -> anyhow::Result<Arc<KeyPair>> {
    if let Some(key) = cached_key() {
        return Ok(key);
    }
    let row = match app.db.active_signing_key().await? {
        Some(row) => row,
        None => {
            let fresh = KeyPair::generate();
            if app.db.insert_first_signing_key(&new_row(&fresh)).await? {
                tracing::info!(keyid = %fresh.keyid(), "made the site's attestation signing key");
            }
            // Another replica may have won: sign with whatever is stored.
            app.db
                .active_signing_key()
                .await?
                .ok_or_else(|| anyhow::anyhow!("no active signing key after making one"))?
        }
    };
    let key = Arc::new(KeyPair::from_secret(&row.secret)?);
    cache_key(Arc::clone(&key));
    Ok(key)
}

/// Retires the active key and makes a new one; returns the new public key.
pub(crate) async fn rotate(app: &App) -> anyhow::Result<PublicKey> {
    let fresh = KeyPair::generate();
    let row = new_row(&fresh);
    if app.db.active_signing_key().await?.is_none() {
        app.db.insert_first_signing_key(&row).await?;
    } else {
        app.db.rotate_signing_key(&row).await?;
    }
    let public = fresh.public(row.created_at, None);
    cache_key(Arc::new(fresh));
    Ok(public)
}

/// Every public key, retired ones with their retirement time. Makes the first key if there
/// is none yet, so a verifier can fetch keys before the first promotion.
pub(crate) async fn public_keys(app: &App) -> anyhow::Result<Vec<PublicKey>> {
    signing_key(app).await?;
    Ok(app
        .db
        .signing_keys()
        .await?
        .into_iter()
        .map(|k| PublicKey {
            keyid: k.keyid,
            algorithm: k.algorithm,
            public_key: k.public_key,
            created_at: k.created_at,
            retired_at: k.retired_at,
        })
        .collect())
}

fn files(package: &PackageRow) -> BTreeMap<String, String> {
    package
        .files
        .iter()
        .map(|f| (f.filename.clone(), f.sha256.clone()))
        .collect()
}

fn scan(package: &PackageRow) -> serde_json::Value {
    serde_json::json!({
        "status": package.scan_status,
        "max_severity": package.max_severity,
        "num_vulnerabilities": package.num_vulnerabilities,
        "scanned_at": package.scanned_at.map(gantry_core::time::rfc3339),
    })
}

fn base_step(kind: &str, package: &PackageRow, to: Location, actor: &str) -> Step {
    let now = gantry_core::time::now_millis();
    Step {
        step: kind.to_owned(),
        format: package.format.as_str().to_owned(),
        name: package.name.clone(),
        version: package.version.clone(),
        from: None,
        to,
        actor: actor.to_owned(),
        time: gantry_core::time::rfc3339(now),
        time_ms: now,
        source: None,
        scan: scan(package),
        policy_decisions: Vec::new(),
        gate: "none".into(),
        files: files(package),
    }
}

async fn store(app: &App, step: &Step, origin: Option<&str>) -> anyhow::Result<()> {
    let key = signing_key(app).await?;
    let envelope = Envelope::sign(&step.statement(), &key);
    app.db
        .insert_attestation(
            &step.to.slug_perm,
            &step.step,
            origin,
            &key.keyid(),
            &serde_json::to_string(&envelope)?,
        )
        .await?;
    Ok(())
}

/// Records the upload of `package` unless it has been: once its sync completed, with the
/// digests computed while its bytes were received. A copy has no upload of its own (its
/// chain runs through its origin).
pub(crate) async fn record_upload(app: &App, package: &PackageRow) -> anyhow::Result<()> {
    if package.origin_slug.is_some() || package.sync_status != gantry_core::SyncStatus::Completed {
        return Ok(());
    }
    let to = Location {
        repository: package.origin_repository.clone(),
        slug_perm: package.slug_perm.clone(),
    };
    let mut step = base_step("upload", package, to, &package.uploader);
    step.source = Some(match &package.upstream_name {
        Some(name) if package.source == "upstream" => format!("upstream:{name}"),
        _ => "upload".to_owned(),
    });
    step.time_ms = package.uploaded_at;
    step.time = gantry_core::time::rfc3339(package.uploaded_at);
    store(app, &step, None).await
}

/// Where a promotion went and who made it: the same for every package of a bulk promotion.
pub(crate) struct Promotion<'a> {
    pub(crate) mode: PromotionMode,
    pub(crate) source: &'a RepoRow,
    pub(crate) dest: &'a RepoRow,
    pub(crate) actor: &'a str,
}

/// One promoted package: as it was, as it is now, and the gate's decisions on it.
pub(crate) struct Promoted<'a> {
    pub(crate) before: &'a PackageRow,
    pub(crate) after: &'a PackageRow,
    pub(crate) decisions: &'a [NewDecision],
}

/// Records a copy or move the gate allowed. Logs rather than fails: the promotion has
/// committed, and a missing step makes verification fail anyway.
pub(crate) async fn record_promotion(app: &App, p: &Promotion<'_>, package: Promoted<'_>) {
    if let Err(error) = try_record_promotion(app, p, &package).await {
        tracing::error!(%error, package = %package.after.slug_perm, "recording a promotion attestation failed");
    }
}

async fn try_record_promotion(
    app: &App,
    p: &Promotion<'_>,
    package: &Promoted<'_>,
) -> anyhow::Result<()> {
    let Promoted {
        before,
        after,
        decisions,
    } = package;
    // The chain must start with the upload, so it is recorded first if it was not yet.
    record_upload(app, before).await?;
    let (kind, origin) = match p.mode {
        PromotionMode::Copy => ("copy", Some(before.slug_perm.as_str())),
        PromotionMode::Move => ("move", None),
    };
    let to = Location {
        repository: p.dest.slug(),
        slug_perm: after.slug_perm.clone(),
    };
    let mut step = base_step(kind, before, to, p.actor);
    step.from = Some(Location {
        repository: p.source.slug(),
        slug_perm: before.slug_perm.clone(),
    });
    step.gate = "passed".into();
    step.policy_decisions = decisions
        .iter()
        .map(|d| {
            serde_json::json!({
                "policy": d.policy_name,
                "policy_version": d.policy_version,
                "input_digest": d.input_digest,
                "allowed": !d.denied && d.error.is_none(),
            })
        })
        .collect();
    store(app, &step, origin).await
}

/// The envelopes of a package's chain, oldest first: through each copy back to the upload.
pub(crate) async fn chain(app: &App, package: &PackageRow) -> anyhow::Result<Vec<Envelope>> {
    record_upload(app, package).await?;
    let mut parts: Vec<Vec<gantry_db::AttestationRow>> = Vec::new();
    let mut slug = package.slug_perm.clone();
    let mut upto = i64::MAX;
    for _ in 0..MAX_CHAIN_DEPTH {
        let mut rows = app.db.attestations_of(&slug, upto).await?;
        // An upload recorded late still comes first.
        rows.sort_by_key(|r| (r.step != "upload", r.id));
        let copy = rows
            .iter()
            .find(|r| r.step == "copy")
            .and_then(|r| r.origin_slug.clone().map(|o| (o, r.id)));
        parts.push(rows);
        match copy {
            Some((origin, id)) => {
                slug = origin;
                upto = id;
            }
            None => break,
        }
    }
    let mut out = Vec::new();
    for rows in parts.into_iter().rev() {
        for row in rows {
            out.push(serde_json::from_str(&row.envelope)?);
        }
    }
    Ok(out)
}
