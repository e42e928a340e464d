//! A repository's webhooks: list, create, ping, and each webhook's deliveries with their
//! request payload, responses and retries.

use axum::extract::{Path, Query, State};
use axum::http::Method;
use axum::response::Response;
use maud::html;
use serde_json::{json, Value};

use crate::api::enc;
use crate::error::UiError;
use crate::form::Posted;
use crate::layout;
use crate::session::Viewer;
use crate::view::{csrf_field, error_box, notice, redirect, refused, repo_path, when, NoticeQuery};
use crate::WebState;

fn api_base(owner: &str, repo: &str) -> String {
    format!("/api/v1/webhooks/{}/{}", enc(owner), enc(repo))
}

pub(crate) async fn page(
    State(web): State<WebState>,
    viewer: Viewer,
    Path((owner, repo)): Path<(String, String)>,
    Query(query): Query<NoticeQuery>,
) -> Result<Response, UiError> {
    render(&web, &viewer, &owner, &repo, query.notice.as_deref(), None).await
}

async fn render(
    web: &WebState,
    viewer: &Viewer,
    owner: &str,
    repo: &str,
    code: Option<&str>,
    error: Option<&str>,
) -> Result<Response, UiError> {
    let hooks: Vec<Value> = web.api.get(viewer, &api_base(owner, repo)).await?;
    let here = format!("{}/-/webhooks", repo_path(owner, repo));
    let body = html! {
        (notice(code))
        (error_box(error))
        div.scroll { table {
            thead { tr { th scope="col" { "Target" } th scope="col" { "Events" } th scope="col" { "Active" } th scope="col" { "Failures" } } }
            tbody { @for h in &hooks { tr {
                td { a href={(here) "/" (h["id"].as_i64().unwrap_or(0))} { (h["target_url"].as_str().unwrap_or("")) } }
                td { (h["events"].as_array().map(|a| a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", ")).unwrap_or_default()) }
                td { @if h["is_active"].as_bool() == Some(true) { "yes" } @else { "no" } }
                td { (h["consecutive_failures"].as_i64().unwrap_or(0)) }
            } } }
        } }
        form.panel method="post" action=(here) {
            h2 { "Create a webhook" }
            (csrf_field(viewer))
            div.fields {
                label { "Target URL" input type="url" name="target_url" required size="40"; }
                label { "Events (comma-separated, * for all)" input name="events" value="*"; }
                label { "Secret (optional)" input type="password" name="secret" autocomplete="off"; }
                label { "Package query (optional)" input name="package_query"; }
                button type="submit" { "Create" }
            }
        }
    };
    let crumbs = [
        (owner, format!("/ui/{}", enc(owner))),
        (repo, repo_path(owner, repo)),
    ];
    Ok(layout::page(viewer, "Webhooks", &crumbs, body))
}

pub(crate) async fn create(
    State(web): State<WebState>,
    Path((owner, repo)): Path<(String, String)>,
    Posted { viewer, form }: Posted,
) -> Result<Response, UiError> {
    let events: Vec<&str> = form
        .get("events")
        .unwrap_or("*")
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .collect();
    let mut body = json!({
        "target_url": form.text("target_url").unwrap_or(""),
        "events": events,
        "is_active": true,
    });
    if let Some(secret) = form.text("secret") {
        body["secret"] = json!(secret);
    }
    if let Some(query) = form.text("package_query") {
        body["package_query"] = json!(query);
    }
    let answer = web
        .api
        .call(&viewer, Method::POST, &api_base(&owner, &repo), Some(&body))
        .await?;
    if !answer.status.is_success() {
        let page = render(&web, &viewer, &owner, &repo, None, Some(&answer.message())).await;
        return refused(page, &answer);
    }
    let created: Value = answer.json()?;
    Ok(redirect(&format!(
        "{}/-/webhooks/{}?notice=created",
        repo_path(&owner, &repo),
        created["id"].as_i64().unwrap_or(0)
    )))
}

pub(crate) async fn detail(
    State(web): State<WebState>,
    viewer: Viewer,
    Path((owner, repo, id)): Path<(String, String, i64)>,
    Query(query): Query<NoticeQuery>,
) -> Result<Response, UiError> {
    let base = format!("{}/{id}", api_base(&owner, &repo));
    let hook: Value = web.api.get(&viewer, &base).await?;
    let deliveries: Vec<Value> = web.api.get(&viewer, &format!("{base}/deliveries")).await?;
    let here = format!("{}/-/webhooks/{id}", repo_path(&owner, &repo));
    let empty = Vec::new();
    let body = html! {
        (notice(query.notice.as_deref()))
        p { "Target: " code { (hook["target_url"].as_str().unwrap_or("")) } }
        @if let Some(reason) = hook["disabled_reason"].as_str() { p.error { "Disabled: " (reason) } }
        form.panel method="post" action={(here) "/ping"} {
            (csrf_field(&viewer))
            button type="submit" { "Send a ping" }
        }
        h2 { "Deliveries" }
        @if deliveries.is_empty() { p.muted { "No deliveries yet." } }
        @for d in &deliveries {
            details.panel {
                summary {
                    strong { (d["event"].as_str().unwrap_or("")) } " · " (d["state"].as_str().unwrap_or(""))
                    " · " (d["attempts"].as_i64().unwrap_or(0)) " attempts"
                    @if let Some(code) = d["last_status_code"].as_i64() { " · HTTP " (code) }
                    " · " (when(d["created_at"].as_str().unwrap_or("")))
                }
                p.mono { "Delivery " (d["delivery_id"].as_str().unwrap_or("")) }
                form.inline method="post" action={(here) "/deliveries/" (d["id"].as_i64().unwrap_or(0)) "/redeliver"} {
                    (csrf_field(&viewer))
                    button.secondary type="submit" { "Deliver again" }
                }
                h3 { "Request body" }
                pre { (serde_json::to_string_pretty(&d["payload"]).unwrap_or_default()) }
                h3 { "Attempts" }
                ol { @for a in d["attempt_log"].as_array().unwrap_or(&empty) { li {
                    (when(a["attempted_at"].as_str().unwrap_or(""))) " · "
                    @match a["status_code"].as_i64() { Some(c) => { "HTTP " (c) }, None => { "no answer" } }
                    " · " (a["latency_ms"].as_i64().unwrap_or(0)) " ms"
                    @if let Some(e) = a["error"].as_str() { " · " (e) }
                    @if let Some(r) = a["response_excerpt"].as_str() { pre { (r) } }
                } } }
            }
        }
    };
    let crumbs = [
        (owner.as_str(), format!("/ui/{}", enc(&owner))),
        (repo.as_str(), repo_path(&owner, &repo)),
        (
            "webhooks",
            format!("{}/-/webhooks", repo_path(&owner, &repo)),
        ),
    ];
    Ok(layout::page(
        &viewer,
        &format!("Webhook {id}"),
        &crumbs,
        body,
    ))
}

pub(crate) async fn ping(
    State(web): State<WebState>,
    Path((owner, repo, id)): Path<(String, String, i64)>,
    Posted { viewer, .. }: Posted,
) -> Result<Response, UiError> {
    let path = format!("{}/{id}/ping", api_base(&owner, &repo));
    let answer = web.api.call(&viewer, Method::POST, &path, None).await?;
    if !answer.status.is_success() {
        return Err(UiError::from_answer(&answer));
    }
    Ok(redirect(&format!(
        "{}/-/webhooks/{id}?notice=pinged",
        repo_path(&owner, &repo)
    )))
}

pub(crate) async fn redeliver(
    State(web): State<WebState>,
    Path((owner, repo, id, delivery)): Path<(String, String, i64, i64)>,
    Posted { viewer, .. }: Posted,
) -> Result<Response, UiError> {
    let path = format!(
        "{}/{id}/deliveries/{delivery}/redeliver",
        api_base(&owner, &repo)
    );
    let answer = web.api.call(&viewer, Method::POST, &path, None).await?;
    if !answer.status.is_success() {
        return Err(UiError::from_answer(&answer));
    }
    Ok(redirect(&format!(
        "{}/-/webhooks/{id}?notice=redelivered",
        repo_path(&owner, &repo)
    )))
}
