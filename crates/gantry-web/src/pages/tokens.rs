//! The signed-in account's tokens: create one with a scope, privilege and expiry (its secret
//! is shown once), and revoke.

use axum::extract::{Path, Query, State};
use axum::http::Method;
use axum::response::Response;
use maud::{html, Markup};
use serde_json::{json, Value};

use crate::error::UiError;
use crate::form::Posted;
use crate::layout;
use crate::session::Viewer;
use crate::view::{csrf_field, error_box, notice, redirect, refused, when, NoticeQuery};
use crate::WebState;

pub(crate) async fn page(
    State(web): State<WebState>,
    viewer: Viewer,
    Query(query): Query<NoticeQuery>,
) -> Result<Response, UiError> {
    render(&web, &viewer, query.notice.as_deref(), html! {}).await
}

async fn render(
    web: &WebState,
    viewer: &Viewer,
    code: Option<&str>,
    extra: Markup,
) -> Result<Response, UiError> {
    let tokens: Vec<Value> = web.api.get(viewer, "/api/v1/tokens").await?;
    let current = viewer.caller.token().map(|t| t.id);
    let body = html! {
        (notice(code))
        (extra)
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
        form.panel method="post" action="/ui/-/tokens" {
            h2 { "Create a token" }
            (csrf_field(viewer))
            div.fields {
                label { "Description" input name="description" required; }
                label { "Scope (OWNER or OWNER/REPO; empty: your account)" input name="scope"; }
                label { "Privilege" select name="privilege" {
                    option value="read" { "read" } option value="write" { "write" } option value="admin" { "admin" } } }
                label { "Expires in days" input type="number" name="expires_in_days" min="1" max="3650" value="30"; }
                button type="submit" { "Create" }
            }
        }
    };
    Ok(layout::page(viewer, "Tokens", &[], body))
}

pub(crate) async fn create(
    State(web): State<WebState>,
    Posted { viewer, form }: Posted,
) -> Result<Response, UiError> {
    let mut body = json!({
        "description": form.text("description").unwrap_or("web"),
        "privilege": form.get("privilege").unwrap_or("read"),
    });
    if let Some(principal) = viewer.caller.owner.as_ref() {
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
    let answer = web
        .api
        .call(&viewer, Method::POST, "/api/v1/tokens", Some(&body))
        .await?;
    if !answer.status.is_success() {
        let message = answer.message();
        return refused(
            render(&web, &viewer, None, error_box(Some(&message))).await,
            &answer,
        );
    }
    let created: Value = answer.json()?;
    let shown = html! {
        div.notice role="status" {
            p { "Your new token. It is shown only now: copy it somewhere safe." }
            div.copy {
                pre #new-token { (created["token"].as_str().unwrap_or("")) }
                button.secondary type="button" data-copy="new-token" hidden { "Copy" }
            }
        }
    };
    render(&web, &viewer, None, shown).await
}

pub(crate) async fn revoke(
    State(web): State<WebState>,
    Path(id): Path<i64>,
    Posted { viewer, .. }: Posted,
) -> Result<Response, UiError> {
    let answer = web
        .api
        .call(
            &viewer,
            Method::DELETE,
            &format!("/api/v1/tokens/{id}"),
            None,
        )
        .await?;
    if !answer.status.is_success() {
        return Err(UiError::from_answer(&answer));
    }
    Ok(redirect("/ui/-/tokens?notice=revoked"))
}
