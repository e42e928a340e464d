//! The decision log of a namespace's policies, shown only as far as the caller may read the
//! repositories each entry names.

use gantry_db::DecisionRow;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::policies::load_policy;
use super::{privilege, Api, Namespace};
use crate::access::Op;
use crate::app::App;
use crate::auth::Caller;
use crate::error::{ApiJson, ApiQuery, AppResult, ErrorBody};

#[derive(Debug, Deserialize, IntoParams)]
pub(crate) struct DecisionParams {
    /// Only this policy's decisions (name or id).
    pub(crate) policy: Option<String>,
    /// Only decisions about this package.
    pub(crate) slug_perm: Option<String>,
    /// Most decisions returned, newest first (default 100, at most 1000).
    pub(crate) limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DecisionEntry {
    pub(crate) id: i64,
    pub(crate) policy: String,
    pub(crate) policy_id: Option<i64>,
    pub(crate) policy_version: i64,
    /// `package.synced`, `package.security_scanned` or `promotion`.
    pub(crate) trigger: String,
    pub(crate) slug_perm: Option<String>,
    pub(crate) repository: Option<String>,
    pub(crate) destination: Option<String>,
    /// sha256 of the input document's JSON.
    pub(crate) input_digest: String,
    pub(crate) denied: bool,
    #[schema(value_type = Object)]
    pub(crate) output: serde_json::Value,
    #[schema(value_type = Object)]
    pub(crate) actions: serde_json::Value,
    pub(crate) error: Option<String>,
    pub(crate) actor: String,
    pub(crate) occurred_at: String,
}

fn render_decision(d: DecisionRow) -> DecisionEntry {
    let s = d.subject;
    DecisionEntry {
        id: d.id,
        policy: s.policy_name,
        policy_id: s.policy_id,
        policy_version: s.policy_version,
        trigger: s.trigger_event,
        slug_perm: s.slug_perm,
        repository: s.repository,
        destination: s.destination,
        input_digest: s.input_digest,
        denied: d.denied != 0,
        output: serde_json::from_str(&d.output).unwrap_or_default(),
        actions: serde_json::from_str(&d.actions).unwrap_or_default(),
        error: s.error,
        actor: s.actor,
        occurred_at: gantry_core::time::rfc3339(d.occurred_at),
    }
}

/// The decision log of the namespace's policies, newest first.
#[utoipa::path(get, path = "/api/v1/policies/{owner}/decisions", tag = "policies",
    params(("owner" = String, Path), DecisionParams),
    responses((status = 200, body = Vec<DecisionEntry>), (status = 403, body = ErrorBody)))]
pub(crate) async fn decisions(
    Api { app, caller }: Api,
    ApiQuery(params): ApiQuery<DecisionParams>,
    ns: Namespace<privilege::Read>,
) -> AppResult<ApiJson<Vec<DecisionEntry>>> {
    let owner = ns.as_str();
    let policy_id = match &params.policy {
        Some(p) => Some(load_policy(&app, owner, p).await?.id),
        None => None,
    };
    let limit = params.limit.unwrap_or(100).clamp(1, 1000);
    // Entries name packages, repositories and destinations: show only those whose
    // repositories the caller may read right now (privileges and address rules), as the read
    // routes would. Filtering happens after the query, so read newest-first in batches.
    let mut readable = ReadableRepos::default();
    let mut shown = Vec::new();
    let mut before = None;
    for _ in 0..MAX_DECISION_BATCHES {
        let rows = app
            .db
            .list_decisions(owner, policy_id, params.slug_perm.as_deref(), before, limit)
            .await?;
        let exhausted = rows.len() < usize::try_from(limit).unwrap_or(usize::MAX);
        for row in rows {
            before = Some(row.id);
            if readable
                .all(&app, &caller, [&row.repository, &row.destination])
                .await?
            {
                shown.push(render_decision(row));
                if shown.len() >= usize::try_from(limit).unwrap_or(usize::MAX) {
                    return Ok(ApiJson(shown));
                }
            }
        }
        if exhausted {
            break;
        }
    }
    Ok(ApiJson(shown))
}

/// Most batches the decision log reads to fill a page the caller may see.
const MAX_DECISION_BATCHES: usize = 10;

/// Which repositories (by `OWNER/REPO`) the caller may read, remembered for one request.
#[derive(Default)]
pub(super) struct ReadableRepos(std::collections::HashMap<String, bool>);

impl ReadableRepos {
    async fn all<'a>(
        &mut self,
        app: &App,
        caller: &Caller,
        slugs: impl IntoIterator<Item = &'a Option<String>>,
    ) -> AppResult<bool> {
        for slug in slugs.into_iter().flatten() {
            if !self.one(app, caller, slug).await? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    pub(super) async fn one(&mut self, app: &App, caller: &Caller, slug: &str) -> AppResult<bool> {
        if let Some(known) = self.0.get(slug) {
            return Ok(*known);
        }
        let readable = match slug.split_once('/') {
            Some((o, r)) => app
                .db
                .get_repo(o, r)
                .await?
                .is_some_and(|repo| caller.may(&repo, Op::Read)),
            None => false,
        };
        self.0.insert(slug.to_owned(), readable);
        Ok(readable)
    }
}
