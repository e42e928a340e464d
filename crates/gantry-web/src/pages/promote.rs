//! Promotion from the browser: the gate's dry run is shown first, with every package's
//! reason; only a confirmation sends the real request. Both are `POST /api/v1/promotions`
//! (bulk, atomic), so the browser meets the same gate as the CLI and the rules.

use axum::http::Method;
use axum::response::Response;
use maud::html;
use serde_json::{json, Value};

use crate::api::Answer;
use crate::context::{Ctx, Submitted};
use crate::error::UiError;
use crate::form::Form;
use crate::layout;
use crate::place::RepoAt;
use crate::view::{csrf_field, package_link, package_path, redirect, repo_path};

/// A selection larger than this is promoted by query with the CLI or the API.
const MAX_SELECTED: usize = 1000;

struct Request<'a> {
    owner: &'a str,
    repo: &'a str,
    slugs: Vec<&'a str>,
    destination: &'a str,
    mode: &'a str,
}

impl Request<'_> {
    /// The promotion (`dry_run`: the gate's answer only) as the viewer.
    async fn send(&self, cx: &Ctx<RepoAt>, dry_run: bool) -> Result<Answer, UiError> {
        let body = json!({
            "source": format!("{}/{}", self.owner, self.repo),
            "destination": self.destination,
            "slugs": self.slugs,
            "mode": self.mode,
            "dry_run": dry_run,
        });
        cx.call(Method::POST, "/api/v1/promotions", Some(&body))
            .await
    }
}

fn parse<'a>(
    owner: &'a str,
    repo: &'a str,
    form: &'a Form,
    slugs: Vec<&'a str>,
) -> Result<Request<'a>, UiError> {
    if slugs.is_empty() {
        return Err(UiError::BadRequest("select at least one package".into()));
    }
    if slugs.len() > MAX_SELECTED {
        return Err(UiError::BadRequest(format!(
            "select at most {MAX_SELECTED} packages"
        )));
    }
    let mode = match form.get("mode") {
        Some("move") => "move",
        _ => "copy",
    };
    let destination = form
        .text("destination")
        .ok_or_else(|| UiError::BadRequest("name a destination repository".into()))?;
    Ok(Request {
        owner,
        repo,
        slugs,
        destination,
        mode,
    })
}

/// The dry run's result, and a form to confirm when the gate lets every package through.
async fn preview(
    cx: &Ctx<RepoAt>,
    request: &Request<'_>,
    action: &str,
) -> Result<Response, UiError> {
    let result: Value = request.send(cx, true).await?.json()?;
    let refused = result["refused"].as_i64().unwrap_or(0);
    let empty = Vec::new();
    let items = result["packages"].as_array().unwrap_or(&empty);
    let body = html! {
        p { "The gate's dry run for a " strong { (request.mode) } " from " strong { (request.owner) "/" (request.repo) }
            " to " strong { (result["destination"].as_str().unwrap_or(request.destination)) } ":" }
        div.scroll { table {
            thead { tr { th scope="col" { "Package" } th scope="col" { "Version" } th scope="col" { "Result" } th scope="col" { "Reason" } } }
            tbody { @for item in items { tr {
                td { a href=(package_link(&format!("{}/{}", request.owner, request.repo), item["slug_perm"].as_str().unwrap_or(""))) {
                    (item["name"].as_str().unwrap_or("")) } }
                td.mono { (item["version"].as_str().unwrap_or("")) }
                td { span class={"badge gate-" (item["status"].as_str().unwrap_or(""))} { (item["status"].as_str().unwrap_or("").replace('_', " ")) } }
                td { (item["reason"].as_str().unwrap_or("")) }
            } } }
        } }
        @if refused > 0 {
            p.error role="alert" { (refused) " of " (items.len()) " packages would be refused; nothing can be promoted as selected." }
        } @else {
            form.panel method="post" action=(action) {
                (csrf_field(&cx.viewer))
                @for slug in &request.slugs { input type="hidden" name="slug" value=(slug); }
                input type="hidden" name="destination" value=(request.destination);
                input type="hidden" name="mode" value=(request.mode);
                input type="hidden" name="confirm" value="1";
                button type="submit" { "Confirm the " (request.mode) }
            }
        }
        p { a href=(repo_path(request.owner, request.repo)) { "Back to " (request.owner) "/" (request.repo) } }
    };
    Ok(layout::page(
        &cx.viewer,
        "Promotion: the gate's answer",
        &[],
        body,
    ))
}

async fn confirm(cx: &Ctx<RepoAt>, request: &Request<'_>, back: &str) -> Result<Response, UiError> {
    let result: Value = request.send(cx, false).await?.json()?;
    // One package: follow it to where it now is (a move leaves nothing behind).
    let single = match (
        result["packages"].as_array(),
        result["destination"].as_str(),
    ) {
        (Some(items), Some(dest)) if items.len() == 1 => items[0]["result_slug_perm"]
            .as_str()
            .map(|slug| package_link(dest, slug)),
        _ => None,
    };
    Ok(redirect(&format!(
        "{}?notice=promoted",
        single.as_deref().unwrap_or(back)
    )))
}

/// `POST /ui/OWNER/REPO/-/promote`: a selection from the package list.
pub(crate) async fn bulk(Submitted { cx, form }: Submitted<RepoAt>) -> Result<Response, UiError> {
    let (owner, repo) = (cx.at.owner(), cx.at.repo());
    let request = parse(owner, repo, &form, form.all("slug"))?;
    let here = repo_path(owner, repo);
    if form.get("confirm") == Some("1") {
        return confirm(&cx, &request, &here).await;
    }
    preview(&cx, &request, &format!("{here}/-/promote")).await
}

/// The copy/move form of one package page.
pub(crate) async fn single(
    cx: &Ctx<RepoAt>,
    slug: &str,
    action: &str,
    form: &Form,
) -> Result<Response, UiError> {
    let (owner, repo) = (cx.at.owner(), cx.at.repo());
    let request = parse(owner, repo, form, vec![slug])?;
    let here = package_path(owner, repo, slug);
    if action == "promote-confirm" {
        return confirm(cx, &request, &here).await;
    }
    preview(cx, &request, &format!("{here}/promote-confirm")).await
}
