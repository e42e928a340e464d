//! The signed-in account's tokens: create one with a scope, privilege and expiry (its secret
//! is shown once), and revoke.

use axum::extract::Path;
use axum::http::Method;
use axum::response::Response;
use gantry_protocol::extract::IdParam;
use maud::html;
use serde_json::{json, Value};

use crate::context::{Ctx, Flash, Submitted};
use crate::error::UiError;
use crate::place::Site;
use crate::view::{csrf_field, form_panel, redirect, when};

pub(crate) async fn page(cx: Ctx<Site>, flash: Flash) -> Result<Response, UiError> {
    render(&cx, flash).await
}

async fn render(cx: &Ctx<Site>, flash: Flash) -> Result<Response, UiError> {
    let tokens: Vec<Value> = cx.get("/api/v1/tokens").await?;
    let viewer = &cx.viewer;
    let current = viewer.caller.token().map(|t| t.id);
    let body = html! {
        (flash)
        div.scroll { table {
            thead { tr { th scope="col" { "Token" } th scope="col" { "Scope" } th scope="col" { "Privilege" }
                th scope="col" { "Expires" } th scope="col" { "State" } th scope="col" { span.muted { "Action" } } } }
            tbody { @for t in &tokens { tr {
                td { (t["description"].as_str().unwrap_or(""))
                    @if t["id"].as_i64() == current { " " span.badge.sev-low { "this session" } }
                    br; span.mono.muted { (t["prefix"].as_str().unwrap_or("")) "…" } }
                td { (t["scope"].as_str().unwrap_or("all")) }
                td { (t["privilege"].as_str().unwrap_or("")) }
                td { @match t["expires_at"].as_str() { Some(at) => (when(at)), None => { "never" } } }
                td { @if t["revoked_at"].is_string() { "revoked" } @else { "live" } }
                td { @if !t["revoked_at"].is_string() {
                    form.inline method="post" action={"/ui/-/tokens/" (t["id"].as_i64().unwrap_or(0)) "/revoke"}
                        data-confirm="Revoke this token? Whatever uses it stops working." {
                        (csrf_field(viewer))
                        button.danger type="submit" { "Revoke" }
                    }
                } }
            } } }
        } }
        (form_panel(viewer, "/ui/-/tokens", "Create a token", html! {
            label { "Description" input name="description" required; }
            label { "Scope (OWNER or OWNER/REPO; empty: your account)" input name="scope"; }
            label { "Privilege" select name="privilege" {
                option value="read" { "read" } option value="write" { "write" } option value="admin" { "admin" } } }
            label { "Expires in days" input type="number" name="expires_in_days" min="1" max="3650" value="30"; }
            button type="submit" { "Create" }
        }))
    };
    Ok(cx.page("Tokens", body))
}

pub(crate) async fn create(Submitted { cx, form }: Submitted<Site>) -> Result<Response, UiError> {
    let mut body = json!({
        "description": form.text("description").unwrap_or("web"),
        "privilege": form.get("privilege").unwrap_or("read"),
    });
    if let Some(principal) = cx.viewer.caller.owner.as_ref() {
        body["principal"] = json!(principal.reference());
    }
    if let Some(scope) = form.text("scope") {
        body["scope"] = json!(scope);
    }
    if let Some(days) = form
        .text("expires_in_days")
        .and_then(|d| d.parse::<i64>().ok())
    {
        body["expires_in_days"] = json!(days);
    }
    let answer = cx.send(Method::POST, "/api/v1/tokens", Some(&body), |f| {
        render(&cx, f)
    });
    let created: Value = answer.await?.json()?;
    let shown = html! {
        div.notice role="status" {
            p { "Your new token. It is shown only now: copy it somewhere safe." }
            div.copy {
                pre #new-token { (created["token"].as_str().unwrap_or("")) }
                button.secondary type="button" data-copy="new-token" hidden { "Copy" }
            }
        }
    };
    render(&cx, Flash::Shown(shown)).await
}

pub(crate) async fn revoke(
    Path(IdParam { id }): Path<IdParam>,
    Submitted { cx, .. }: Submitted<Site>,
) -> Result<Response, UiError> {
    let path = format!("/api/v1/tokens/{id}");
    cx.call(Method::DELETE, &path, None).await?.accepted()?;
    Ok(redirect("/ui/-/tokens?notice=revoked"))
}
