//! A repository's entitlements (its admins only): read-only distribution tokens for one
//! repository, with an expiry and a download limit; create (the secret is shown once) and
//! revoke.

use axum::extract::Path;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use maud::html;
use serde_json::{json, Value};

use crate::api::enc;
use crate::context::{Ctx, Flash, Submitted};
use crate::error::UiError;
use crate::place::{Id, RepoAt};
use crate::view::{csrf_field, form_panel, redirect, when};

pub(crate) async fn page(cx: Ctx<RepoAt>, flash: Flash) -> Result<Response, UiError> {
    render(&cx, flash).await
}

async fn render(cx: &Ctx<RepoAt>, flash: Flash) -> Result<Response, UiError> {
    let tokens: Vec<Value> = cx.get(&cx.at.api("entitlements")).await?;
    let here = cx.at.ui("/-/entitlements");
    let viewer = &cx.viewer;
    let body = html! {
        (flash)
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
        (form_panel(viewer, &here, "Create an entitlement", html! {
            label { "For (description)" input name="description" required maxlength="200"; }
            label { "Expires in (days)" input type="number" name="expires_in_days" min="1"; }
            label { "Download limit" input type="number" name="max_downloads" min="1"; }
            button type="submit" { "Create" }
        }))
    };
    Ok(cx.page("Entitlements", body))
}

pub(crate) async fn create(Submitted { cx, form }: Submitted<RepoAt>) -> Result<Response, UiError> {
    let number = |k: &str| form.text(k).and_then(|v| v.parse::<i64>().ok());
    let body = json!({
        "description": form.text("description"),
        "expires_in_days": number("expires_in_days"),
        "max_downloads": number("max_downloads"),
    });
    let path = cx.at.api("entitlements");
    let answer = cx.send(Method::POST, &path, Some(&body), |f| render(&cx, f));
    let created: Value = answer.await?.json()?;
    let shown = html! {
        div.notice role="status" {
            p { "The entitlement's token. It is shown only now: hand it over safely." }
            div.copy { pre #new-token { (created["token"].as_str().unwrap_or("")) } }
        }
    };
    render(&cx, Flash::Shown(shown)).await
}

pub(crate) async fn revoke(
    Path(Id { id }): Path<Id>,
    Submitted { cx, .. }: Submitted<RepoAt>,
) -> Result<Response, UiError> {
    // Only an entitlement of this repository is revoked from its page.
    let tokens: Vec<Value> = cx.get(&cx.at.api("entitlements")).await?;
    if !tokens
        .iter()
        .any(|t| t["id"].as_i64().map(|i| i.to_string()) == Some(id.clone()))
    {
        return Err(UiError::Api {
            status: StatusCode::NOT_FOUND,
            message: format!("entitlement {id} not found in {}", cx.at),
        });
    }
    let path = format!("/api/v1/tokens/{}", enc(&id));
    cx.send(Method::DELETE, &path, None, |f| render(&cx, f))
        .await?;
    Ok(redirect(&cx.at.ui("/-/entitlements?notice=revoked")))
}
