//! A repository's entitlements (its admins only): read-only distribution tokens for one
//! repository, with an expiry and a download limit; create (the secret is shown once) and
//! revoke.

use axum::extract::{Path, Query, State};
use axum::http::Method;
use axum::response::Response;
use maud::{html, Markup};
use serde_json::{json, Value};

use crate::api::enc;
use crate::error::UiError;
use crate::form::Posted;
use crate::layout;
use crate::session::Viewer;
use crate::view::{
    after, csrf_field, error_box, notice, refused, repo_crumbs, repo_path, when, NoticeQuery,
};
use crate::WebState;

fn api(owner: &str, repo: &str) -> String {
    format!("/api/v1/entitlements/{}/{}", enc(owner), enc(repo))
}

fn here(owner: &str, repo: &str) -> String {
    format!("{}/-/entitlements", repo_path(owner, repo))
}

pub(crate) async fn page(
    State(web): State<WebState>,
    viewer: Viewer,
    Path((owner, repo)): Path<(String, String)>,
    Query(query): Query<NoticeQuery>,
) -> Result<Response, UiError> {
    render(
        &web,
        &viewer,
        &owner,
        &repo,
        query.notice.as_deref(),
        html! {},
    )
    .await
}

async fn render(
    web: &WebState,
    viewer: &Viewer,
    owner: &str,
    repo: &str,
    code: Option<&str>,
    extra: Markup,
) -> Result<Response, UiError> {
    let tokens: Vec<Value> = web.api.get(viewer, &api(owner, repo)).await?;
    let here = here(owner, repo);
    let body = html! {
        (notice(code))
        (extra)
        p.muted { "An entitlement reads this repository only: give one to a customer or a deployment." }
        div.scroll { table {
            thead { tr { th scope="col" { "For" } th scope="col" { "Downloads" } th scope="col" { "Expires" }
                th scope="col" { "State" } th scope="col" { span.muted { "Action" } } } }
            tbody { @for t in &tokens { tr {
                td { (t["description"].as_str().unwrap_or("")) br; span.mono.muted { (t["prefix"].as_str().unwrap_or("")) "…" } }
                td { (t["download_count"].as_i64().unwrap_or(0))
                    @if let Some(max) = t["max_downloads"].as_i64() { " of " (max) } }
                td { @match t["expires_at"].as_str() { Some(at) => (when(at)), None => { "never" } } }
                td { @if t["revoked_at"].is_string() { "revoked" } @else { "live" } }
                td { @if !t["revoked_at"].is_string() {
                    form.inline method="post" action={(here) "/" (t["id"].as_i64().unwrap_or(0)) "/revoke"}
                        data-confirm="Revoke this entitlement? Whoever uses it loses access." {
                        (csrf_field(viewer)) button.danger type="submit" { "Revoke" } }
                } }
            } } }
        } }
        form.panel method="post" action=(here) {
            h2 { "Create an entitlement" }
            (csrf_field(viewer))
            div.fields {
                label { "For (description)" input name="description" required maxlength="200"; }
                label { "Expires in (days)" input type="number" name="expires_in_days" min="1"; }
                label { "Download limit" input type="number" name="max_downloads" min="1"; }
                button type="submit" { "Create" }
            }
        }
    };
    let crumbs = repo_crumbs(owner, repo);
    Ok(layout::page(viewer, "Entitlements", &crumbs, body))
}

pub(crate) async fn create(
    State(web): State<WebState>,
    Path((owner, repo)): Path<(String, String)>,
    Posted { viewer, form }: Posted,
) -> Result<Response, UiError> {
    let number = |k: &str| form.text(k).and_then(|v| v.parse::<i64>().ok());
    let body = json!({
        "description": form.text("description"),
        "expires_in_days": number("expires_in_days"),
        "max_downloads": number("max_downloads"),
    });
    let answer = web
        .api
        .call(&viewer, Method::POST, &api(&owner, &repo), Some(&body))
        .await?;
    if !answer.status.is_success() {
        let message = answer.message();
        let page = render(
            &web,
            &viewer,
            &owner,
            &repo,
            None,
            error_box(Some(&message)),
        )
        .await;
        return refused(page, &answer);
    }
    let created: Value = answer.json()?;
    let shown = html! {
        div.notice role="status" {
            p { "The entitlement's token. It is shown only now: hand it over safely." }
            div.copy { pre #new-token { (created["token"].as_str().unwrap_or("")) } }
        }
    };
    render(&web, &viewer, &owner, &repo, None, shown).await
}

pub(crate) async fn revoke(
    State(web): State<WebState>,
    Path((owner, repo, id)): Path<(String, String, String)>,
    Posted { viewer, .. }: Posted,
) -> Result<Response, UiError> {
    // Only an entitlement of this repository is revoked from its page.
    let tokens: Vec<Value> = web.api.get(&viewer, &api(&owner, &repo)).await?;
    if !tokens
        .iter()
        .any(|t| t["id"].as_i64().map(|i| i.to_string()) == Some(id.clone()))
    {
        return Err(UiError::Api {
            status: axum::http::StatusCode::NOT_FOUND,
            message: format!("entitlement {id} not found in {owner}/{repo}"),
        });
    }
    let answer = web
        .api
        .call(
            &viewer,
            Method::DELETE,
            &format!("/api/v1/tokens/{}", enc(&id)),
            None,
        )
        .await?;
    let to = format!("{}?notice=revoked", here(&owner, &repo));
    after(answer, &to, |message| async move {
        render(
            &web,
            &viewer,
            &owner,
            &repo,
            None,
            error_box(Some(&message)),
        )
        .await
    })
    .await
}
