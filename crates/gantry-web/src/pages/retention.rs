//! A repository's retention rules: the list (readers), and for its admins a new rule,
//! deleting one, a dry run that lists what would go, and a run now.

use axum::extract::{Path, Query, State};
use axum::http::Method;
use axum::response::Response;
use gantry_core::Repository;
use maud::{html, Markup};
use serde_json::{json, Value};

use crate::api::enc;
use crate::error::UiError;
use crate::form::Posted;
use crate::layout;
use crate::session::Viewer;
use crate::view::{
    after, csrf_field, error_box, notice, package_path, repo_crumbs, repo_path, when, NoticeQuery,
};
use crate::WebState;

fn api(owner: &str, repo: &str) -> String {
    format!("/api/v1/repos/{}/{}/retention", enc(owner), enc(repo))
}

fn here(owner: &str, repo: &str) -> String {
    format!("{}/-/retention", repo_path(owner, repo))
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
    let repository: Repository = web
        .api
        .get(
            viewer,
            &format!("/api/v1/repos/{}/{}", enc(owner), enc(repo)),
        )
        .await?;
    let rules: Vec<Value> = web.api.get(viewer, &api(owner, repo)).await?;
    let admin = repository.permissions.is_some();
    let here = here(owner, repo);
    let number = |v: &Value| v.as_i64().map_or_else(|| "—".to_owned(), |n| n.to_string());
    let body = html! {
        (notice(code))
        (extra)
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
            form.panel method="post" action={(here) "/create"} {
                h2 { "Add a rule" }
                (csrf_field(viewer))
                div.fields {
                    label { "Name" input name="name" required maxlength="64"; }
                    label { "Keep the newest (per name)" input type="number" name="keep_last" min="1"; }
                    label { "Delete when older than (days)" input type="number" name="older_than_days" min="1"; }
                    label { "Only packages matching" input name="query" placeholder="tag:nightly"; }
                    label.check { input type="checkbox" name="protect_promoted" value="1" checked; " Keep packages promoted onwards" }
                    button type="submit" { "Add rule" }
                }
            }
            div.actions {
                form.inline method="post" action={(here) "/dry-run"} { (csrf_field(viewer)) button.secondary type="submit" { "Dry run" } }
                form.inline method="post" action={(here) "/run"} data-confirm="Apply the rules now?" {
                    (csrf_field(viewer)) button.danger type="submit" { "Run now" } }
            }
        }
    };
    let crumbs = repo_crumbs(owner, repo);
    Ok(layout::page(viewer, "Retention", &crumbs, body))
}

/// The packages a run deleted, or a dry run would.
fn outcome(owner: &str, repo: &str, result: &Value) -> Markup {
    let packages = result["packages"].as_array().cloned().unwrap_or_default();
    let dry = result["dry_run"].as_bool().unwrap_or(true);
    html! {
        div.notice role="status" {
            p { (packages.len()) @if dry { " packages would be deleted." } @else { " packages were deleted." } }
            @if !packages.is_empty() { ul { @for p in &packages { li {
                a href=(package_path(owner, repo, p["slug_perm"].as_str().unwrap_or(""))) {
                    (p["name"].as_str().unwrap_or("")) " " (p["version"].as_str().unwrap_or("")) }
                " (" (p["format"].as_str().unwrap_or("")) ", uploaded " (when(p["uploaded_at"].as_str().unwrap_or(""))) "): "
                (p["rule"].as_str().unwrap_or("")) " — " (p["reason"].as_str().unwrap_or(""))
            } } } }
        }
    }
}

pub(crate) async fn act(
    State(web): State<WebState>,
    Path((owner, repo, action)): Path<(String, String, String)>,
    Posted { viewer, form }: Posted,
) -> Result<Response, UiError> {
    let base = api(&owner, &repo);
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
    let answer = web
        .api
        .call(&viewer, Method::POST, &path, Some(&body))
        .await?;
    if action != "create" && answer.status.is_success() {
        let result: Value = answer.json()?;
        return render(
            &web,
            &viewer,
            &owner,
            &repo,
            None,
            outcome(&owner, &repo, &result),
        )
        .await;
    }
    let to = format!("{}?notice=created", here(&owner, &repo));
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

pub(crate) async fn delete(
    State(web): State<WebState>,
    Path((owner, repo, id)): Path<(String, String, String)>,
    Posted { viewer, .. }: Posted,
) -> Result<Response, UiError> {
    let path = format!("{}/{}", api(&owner, &repo), enc(&id));
    let answer = web.api.call(&viewer, Method::DELETE, &path, None).await?;
    let to = format!("{}?notice=deleted-item", here(&owner, &repo));
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
