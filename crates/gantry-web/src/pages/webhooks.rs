//! A repository's webhooks: list, create, ping, and each webhook's deliveries with their
//! request payload, responses and retries.

use axum::extract::Path;
use axum::http::Method;
use axum::response::Response;
use gantry_protocol::extract::IdParam;
use maud::html;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::context::{Ctx, Flash, Submitted};
use crate::error::UiError;
use crate::place::RepoAt;
use crate::view::{csrf_field, form_panel, redirect, when};

/// A route's `{id}` (the webhook) and `{delivery}`.
#[derive(Deserialize)]
pub(crate) struct DeliveryParam {
    id: i64,
    delivery: i64,
}

pub(crate) async fn page(cx: Ctx<RepoAt>, flash: Flash) -> Result<Response, UiError> {
    render(&cx, flash).await
}

async fn render(cx: &Ctx<RepoAt>, flash: Flash) -> Result<Response, UiError> {
    let hooks: Vec<Value> = cx.get(&cx.at.api("webhooks")).await?;
    let here = cx.at.ui("/-/webhooks");
    let viewer = &cx.viewer;
    let body = html! {
        (flash)
        div.scroll { table {
            thead { tr { th scope="col" { "Target" } th scope="col" { "Events" } th scope="col" { "Active" } th scope="col" { "Failures" } } }
            tbody { @for h in &hooks { tr {
                td { a href={(here) "/" (h["id"].as_i64().unwrap_or(0))} { (h["target_url"].as_str().unwrap_or("")) } }
                td { (h["events"].as_array().map(|a| a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", ")).unwrap_or_default()) }
                td { @if h["is_active"].as_bool() == Some(true) { "yes" } @else { "no" } }
                td { (h["consecutive_failures"].as_i64().unwrap_or(0)) }
            } } }
        } }
        (form_panel(viewer, &here, "Create a webhook", html! {
            label { "Target URL" input type="url" name="target_url" required size="40"; }
            label { "Events (comma-separated, * for all)" input name="events" value="*"; }
            label { "Secret (optional)" input type="password" name="secret" autocomplete="off"; }
            label { "Package query (optional)" input name="package_query"; }
            button type="submit" { "Create" }
        }))
    };
    Ok(cx.page("Webhooks", body))
}

pub(crate) async fn create(Submitted { cx, form }: Submitted<RepoAt>) -> Result<Response, UiError> {
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
    let path = cx.at.api("webhooks");
    let answer = cx.send(Method::POST, &path, Some(&body), |f| render(&cx, f));
    let created: Value = answer.await?.json()?;
    let id = created["id"].as_i64().unwrap_or(0);
    Ok(redirect(
        &cx.at.ui(&format!("/-/webhooks/{id}?notice=created")),
    ))
}

pub(crate) async fn detail(
    cx: Ctx<RepoAt>,
    Path(IdParam { id }): Path<IdParam>,
    flash: Flash,
) -> Result<Response, UiError> {
    let base = format!("{}/{id}", cx.at.api("webhooks"));
    let hook: Value = cx.get(&base).await?;
    let deliveries: Vec<Value> = cx.get(&format!("{base}/deliveries")).await?;
    let here = cx.at.ui(&format!("/-/webhooks/{id}"));
    let empty = Vec::new();
    let body = html! {
        (flash)
        p { "Target: " code { (hook["target_url"].as_str().unwrap_or("")) } }
        @if let Some(reason) = hook["disabled_reason"].as_str() { p.error { "Disabled: " (reason) } }
        form.panel method="post" action={(here) "/ping"} {
            (csrf_field(&cx.viewer))
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
                    (csrf_field(&cx.viewer))
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
    let list = cx.at.ui("/-/webhooks");
    Ok(cx.page_under(&format!("Webhook {id}"), &[("webhooks", list)], body))
}

/// A webhook's action (`{hook}/TAIL` in the API), then back to the webhook's page.
async fn act(cx: &Ctx<RepoAt>, id: i64, tail: &str, notice: &str) -> Result<Response, UiError> {
    let path = format!("{}/{id}/{tail}", cx.at.api("webhooks"));
    cx.call(Method::POST, &path, None).await?.accepted()?;
    let to = format!("/-/webhooks/{id}?notice={notice}");
    Ok(redirect(&cx.at.ui(&to)))
}

pub(crate) async fn ping(
    Path(IdParam { id }): Path<IdParam>,
    Submitted { cx, .. }: Submitted<RepoAt>,
) -> Result<Response, UiError> {
    act(&cx, id, "ping", "pinged").await
}

pub(crate) async fn redeliver(
    Path(DeliveryParam { id, delivery }): Path<DeliveryParam>,
    Submitted { cx, .. }: Submitted<RepoAt>,
) -> Result<Response, UiError> {
    let tail = format!("deliveries/{delivery}/redeliver");
    act(&cx, id, &tail, "redelivered").await
}
