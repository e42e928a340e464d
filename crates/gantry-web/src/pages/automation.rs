//! A repository's upstreams and promotion rules: list, create, delete.

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
use crate::view::{csrf_field, error_box, notice, redirect, refused, repo_path, NoticeQuery};
use crate::WebState;

fn api(owner: &str, repo: &str, what: &str) -> String {
    format!("/api/v1/repos/{}/{}/{what}", enc(owner), enc(repo))
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
    let upstreams: Vec<Value> = web.api.get(viewer, &api(owner, repo, "upstreams")).await?;
    let rules: Vec<Value> = web.api.get(viewer, &api(owner, repo, "rules")).await?;
    let here = format!("{}/-/automation", repo_path(owner, repo));
    let with_upstreams = gantry_protocol::plugin::plugins().with_upstreams();
    let text = |v: &Value, k: &str| v[k].as_str().unwrap_or("").to_owned();
    let body = html! {
        (notice(code))
        (error_box(error))
        h2 { "Upstreams" }
        div.scroll { table {
            thead { tr { th scope="col" { "Name" } th scope="col" { "Format" } th scope="col" { "URL" } th scope="col" { "Mode" }
                th scope="col" { "Priority" } th scope="col" { span.muted { "Action" } } } }
            tbody { @for u in &upstreams { tr {
                td { (text(u, "name")) } td { (text(u, "format")) } td.mono { (text(u, "url")) } td { (text(u, "mode")) }
                td { (u["priority"].as_i64().unwrap_or(0)) }
                td { form.inline method="post" action={(here) "/upstreams/" (u["id"].as_i64().unwrap_or(0)) "/delete"}
                    data-confirm="Delete this upstream?" { (csrf_field(viewer)) button.danger type="submit" { "Delete" } } }
            } } }
        } }
        form.panel method="post" action={(here) "/upstreams"} {
            (csrf_field(viewer))
            div.fields {
                label { "Format" select name="format" { @for f in &with_upstreams { option value=(f) { (f) } } } }
                label { "Name" input name="name" required; }
                label { "URL" input type="url" name="url" required size="36"; }
                label { "Mode" select name="mode" { option value="cache" { "cache" } option value="proxy" { "proxy" } } }
                label { "Priority" input type="number" name="priority" value="1" min="0"; }
                button type="submit" { "Add upstream" }
            }
        }
        h2 { "Promotion rules" }
        div.scroll { table {
            thead { tr { th scope="col" { "Name" } th scope="col" { "On" } th scope="col" { "Condition" } th scope="col" { "Action" }
                th scope="col" { span.muted { "Delete" } } } }
            tbody { @for r in &rules { tr {
                td { (text(r, "name")) } td { (text(r, "on")) }
                td.mono { @match r["condition"].as_str() { Some(c) => (c), None => "Rego" } }
                td { (text(r, "action")) " → " (text(r, "destination")) }
                td { form.inline method="post" action={(here) "/rules/" (enc(&text(r, "name"))) "/delete"}
                    data-confirm="Delete this rule?" { (csrf_field(viewer)) button.danger type="submit" { "Delete" } } }
            } } }
        } }
        form.panel method="post" action={(here) "/rules"} {
            (csrf_field(viewer))
            div.fields {
                label { "Name" input name="name" required; }
                label { "On" select name="on" { option value="package.security_scanned" { "scanned" } option value="package.synced" { "synced" } } }
                label { "Condition" input name="condition" required placeholder="max_severity < high" size="28"; }
                label { "Action" select name="action" { option value="copy" { "copy" } option value="move" { "move" } } }
                label { "Destination" input name="destination" required placeholder="staging"; }
                button type="submit" { "Add rule" }
            }
        }
    };
    let crumbs = [
        (owner, format!("/ui/{}", enc(owner))),
        (repo, repo_path(owner, repo)),
    ];
    Ok(layout::page(viewer, "Upstreams and rules", &crumbs, body))
}

/// Creates or deletes an upstream or a rule, then shows the page again (with the API's
/// message when it refused).
pub(crate) async fn act(
    State(web): State<WebState>,
    Path((owner, repo, what)): Path<(String, String, String)>,
    Posted { viewer, form }: Posted,
) -> Result<Response, UiError> {
    let body = match what.as_str() {
        "upstreams" => json!({
            "format": form.get("format").unwrap_or(""),
            "name": form.text("name").unwrap_or(""),
            "url": form.text("url").unwrap_or(""),
            "mode": form.get("mode").unwrap_or("cache"),
            "priority": form.text("priority").and_then(|p| p.parse::<i64>().ok()).unwrap_or(1),
        }),
        "rules" => json!({
            "name": form.text("name").unwrap_or(""),
            "on": form.get("on").unwrap_or("package.security_scanned"),
            "condition": form.text("condition").unwrap_or(""),
            "action": form.get("action").unwrap_or("copy"),
            "destination": form.text("destination").unwrap_or(""),
        }),
        _ => return Err(UiError::BadRequest("unknown form".into())),
    };
    let answer = web
        .api
        .call(
            &viewer,
            Method::POST,
            &api(&owner, &repo, &what),
            Some(&body),
        )
        .await?;
    finish(&web, &viewer, &owner, &repo, &answer, "created").await
}

pub(crate) async fn delete(
    State(web): State<WebState>,
    Path((owner, repo, what, id)): Path<(String, String, String, String)>,
    Posted { viewer, .. }: Posted,
) -> Result<Response, UiError> {
    if what != "upstreams" && what != "rules" {
        return Err(UiError::BadRequest("unknown form".into()));
    }
    let path = format!("{}/{}", api(&owner, &repo, &what), enc(&id));
    let answer = web.api.call(&viewer, Method::DELETE, &path, None).await?;
    finish(&web, &viewer, &owner, &repo, &answer, "deleted-item").await
}

async fn finish(
    web: &WebState,
    viewer: &Viewer,
    owner: &str,
    repo: &str,
    answer: &crate::api::Answer,
    code: &str,
) -> Result<Response, UiError> {
    if !answer.status.is_success() {
        let page = render(web, viewer, owner, repo, None, Some(&answer.message())).await;
        return refused(page, answer);
    }
    Ok(redirect(&format!(
        "{}/-/automation?notice={code}",
        repo_path(owner, repo)
    )))
}
