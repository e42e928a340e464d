//! A repository's retention rules: the list (readers), and for its admins a new rule,
//! deleting one, a dry run that lists what would go, and a run now.

use axum::extract::Path;
use axum::http::Method;
use axum::response::Response;
use maud::{html, Markup};
use serde_json::{json, Value};

use crate::context::{Ctx, Flash, Submitted};
use crate::error::UiError;
use crate::place::{Action, Id, RepoAt};
use crate::view::{csrf_field, form_panel, package_path, redirect, when};

fn api(at: &RepoAt) -> String {
    format!("{}/retention", at.api("repos"))
}

pub(crate) async fn page(cx: Ctx<RepoAt>, flash: Flash) -> Result<Response, UiError> {
    render(&cx, flash).await
}

async fn render(cx: &Ctx<RepoAt>, flash: Flash) -> Result<Response, UiError> {
    let admin = cx.administers().await?;
    let rules: Vec<Value> = cx.get(&api(&cx.at)).await?;
    let here = cx.at.ui("/-/retention");
    let viewer = &cx.viewer;
    let number = |v: &Value| v.as_i64().map_or_else(|| "—".to_owned(), |n| n.to_string());
    let body = html! {
        (flash)
        p.muted { "A round applies every rule once an hour; deletions are soft (restorable until garbage collection)." }
        div.scroll { table {
            thead { tr { th scope="col" { "Rule" } th scope="col" { "Keep last" } th scope="col" { "Older than (days)" }
                th scope="col" { "Query" } th scope="col" { "Keeps promoted" } th scope="col" { span.muted { "Action" } } } }
            tbody { @for r in &rules { tr {
                td { (r["name"].as_str().unwrap_or("")) }
                td { (number(&r["keep_last"])) } td { (number(&r["older_than_days"])) }
                td.mono { (r["query"].as_str().unwrap_or("")) }
                td { @if r["protect_promoted"].as_bool().unwrap_or(true) { "yes" } @else { "no" } }
                td { @if admin {
                    form.inline method="post" action={(here) "/" (r["id"].as_i64().unwrap_or(0)) "/delete"} data-confirm="Delete this rule?" {
                        (csrf_field(viewer)) button.danger type="submit" { "Delete" } }
                } }
            } } }
        } }
        @if admin {
            (form_panel(viewer, &format!("{here}/create"), "Add a rule", html! {
                label { "Name" input name="name" required maxlength="64"; }
                label { "Keep the newest (per name)" input type="number" name="keep_last" min="1"; }
                label { "Delete when older than (days)" input type="number" name="older_than_days" min="1"; }
                label { "Only packages matching" input name="query" placeholder="tag:nightly"; }
                label.check { input type="checkbox" name="protect_promoted" value="1" checked; " Keep packages promoted onwards" }
                button type="submit" { "Add rule" }
            }))
            div.actions {
                form.inline method="post" action={(here) "/dry-run"} { (csrf_field(viewer)) button.secondary type="submit" { "Dry run" } }
                form.inline method="post" action={(here) "/run"} data-confirm="Apply the rules now?" {
                    (csrf_field(viewer)) button.danger type="submit" { "Run now" } }
            }
        }
    };
    Ok(cx.page("Retention", body))
}

/// The packages a run deleted, or a dry run would.
fn outcome(at: &RepoAt, result: &Value) -> Markup {
    let packages = result["packages"].as_array().cloned().unwrap_or_default();
    let dry = result["dry_run"].as_bool().unwrap_or(true);
    html! {
        div.notice role="status" {
            p { (packages.len()) @if dry { " packages would be deleted." } @else { " packages were deleted." } }
            @if !packages.is_empty() { ul { @for p in &packages { li {
                a href=(package_path(at.owner(), at.repo(), p["slug_perm"].as_str().unwrap_or(""))) {
                    (p["name"].as_str().unwrap_or("")) " " (p["version"].as_str().unwrap_or("")) }
                " (" (p["format"].as_str().unwrap_or("")) ", uploaded " (when(p["uploaded_at"].as_str().unwrap_or(""))) "): "
                (p["rule"].as_str().unwrap_or("")) " — " (p["reason"].as_str().unwrap_or(""))
            } } } }
        }
    }
}

pub(crate) async fn act(
    Path(Action { action }): Path<Action>,
    Submitted { cx, form }: Submitted<RepoAt>,
) -> Result<Response, UiError> {
    let base = api(&cx.at);
    let (path, body) = match action.as_str() {
        "create" => {
            let number = |k: &str| form.text(k).and_then(|v| v.parse::<i64>().ok());
            let body = json!({
                "name": form.text("name").unwrap_or(""),
                "keep_last": number("keep_last"),
                "older_than_days": number("older_than_days"),
                "query": form.text("query").unwrap_or(""),
                "protect_promoted": form.get("protect_promoted") == Some("1"),
            });
            (base, body)
        }
        "dry-run" | "run" => (
            format!("{base}/run"),
            json!({"dry_run": action == "dry-run"}),
        ),
        _ => return Err(UiError::BadRequest("unknown form".into())),
    };
    let answer = cx.send(Method::POST, &path, Some(&body), |f| render(&cx, f));
    let answer = answer.await?;
    if action == "create" {
        return Ok(redirect(&cx.at.ui("/-/retention?notice=created")));
    }
    let result: Value = answer.json()?;
    render(&cx, Flash::Shown(outcome(&cx.at, &result))).await
}

pub(crate) async fn delete(
    Path(Id { id }): Path<Id>,
    Submitted { cx, .. }: Submitted<RepoAt>,
) -> Result<Response, UiError> {
    let api = api(&cx.at);
    cx.delete_item(&api, &id, "/-/retention", |f| render(&cx, f))
        .await
}
