//! A repository's upstreams and promotion rules: list, create (a rule with the shorthand or
//! a Rego condition), change (see `automation_edit`) and delete.

use axum::extract::Path;
use axum::http::Method;
use axum::response::Response;
use maud::html;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::api::enc;
use crate::context::{Ctx, Flash, Submitted};
use crate::error::UiError;
use crate::form::Form;
use crate::place::{Action, RepoAt};
use crate::view::{csrf_field, redirect};

/// A route's `{what}`: `upstreams` or `rules`.
#[derive(Deserialize)]
pub(crate) struct What {
    what: String,
}

/// A route's `{what}` and `{id}`: an upstream's id or a rule's name.
#[derive(Deserialize)]
pub(crate) struct Item {
    pub(crate) what: String,
    pub(crate) id: String,
}

pub(crate) fn api(at: &RepoAt, what: &str) -> String {
    format!("{}/{what}", at.api("repos"))
}

pub(crate) async fn page(cx: Ctx<RepoAt>, flash: Flash) -> Result<Response, UiError> {
    render(&cx, flash).await
}

async fn render(cx: &Ctx<RepoAt>, flash: Flash) -> Result<Response, UiError> {
    let upstreams: Vec<Value> = cx.get(&api(&cx.at, "upstreams")).await?;
    let rules: Vec<Value> = cx.get(&api(&cx.at, "rules")).await?;
    let here = cx.at.ui("/-/automation");
    let viewer = &cx.viewer;
    let with_upstreams = gantry_protocol::plugin::plugins().with_upstreams();
    let text = |v: &Value, k: &str| v[k].as_str().unwrap_or("").to_owned();
    let body = html! {
        (flash)
        h2 { "Upstreams" }
        div.scroll { table {
            thead { tr { th scope="col" { "Name" } th scope="col" { "Format" } th scope="col" { "URL" } th scope="col" { "Mode" }
                th scope="col" { "Priority" } th scope="col" { span.muted { "Action" } } } }
            tbody { @for u in &upstreams { tr {
                td { (text(u, "name")) } td { (text(u, "format")) } td.mono { (text(u, "url")) } td { (text(u, "mode")) }
                td { (u["priority"].as_i64().unwrap_or(0)) }
                td { a href={(here) "/upstreams/" (u["id"].as_i64().unwrap_or(0))} { "Edit" } " "
                    form.inline method="post" action={(here) "/upstreams/" (u["id"].as_i64().unwrap_or(0)) "/delete"}
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
                label { "User name" input name="username" autocomplete="off"; }
                label { "Password" input type="password" name="password" autocomplete="new-password"; }
                label.check { input type="checkbox" name="local_names_only" value="1"; " Names that exist here are served from here only" }
                button type="submit" { "Add upstream" }
            }
        }
        h2 { "Promotion rules" }
        div.scroll { table {
            thead { tr { th scope="col" { "Name" } th scope="col" { "On" } th scope="col" { "Condition" } th scope="col" { "State" } th scope="col" { "Action" }
                th scope="col" { span.muted { "Actions" } } } }
            tbody { @for r in &rules { tr {
                td { (text(r, "name")) } td { (text(r, "on")) }
                td.mono { @match r["condition"].as_str() { Some(c) => (c), None => "Rego" } }
                td { @if r["enabled"].as_bool().unwrap_or(true) { "enabled" } @else { "disabled" } }
                td { (text(r, "action")) " → " (text(r, "destination")) }
                td { a href={(here) "/rules/" (enc(&text(r, "name")))} { "Edit" } " "
                    form.inline method="post" action={(here) "/rules/" (enc(&text(r, "name"))) "/delete"}
                    data-confirm="Delete this rule?" { (csrf_field(viewer)) button.danger type="submit" { "Delete" } } }
            } } }
        } }
        form.panel method="post" action={(here) "/rules"} {
            (csrf_field(viewer))
            div.fields {
                label { "Name" input name="name" required; }
                label { "On" select name="on" { option value="package.security_scanned" { "scanned" } option value="package.synced" { "synced" } } }
                label { "Condition" input name="condition" placeholder="max_severity < high" size="28"; }
                label { "Action" select name="action" { option value="copy" { "copy" } option value="move" { "move" } } }
                label { "Destination" input name="destination" required placeholder="staging"; }
            }
            details {
                summary { "Or a Rego module" }
                label.block { "Rego module (defines " code { "promote" } "; replaces the shorthand above when given)"
                    textarea name="rego" rows="6" cols="60" spellcheck="false" placeholder="package gantry\n\npromote if input.package.max_severity == \"none\"" {} }
            }
            button type="submit" { "Add rule" }
        }
    };
    Ok(cx.page("Upstreams and rules", body))
}

/// Creates an upstream or a rule, then shows the page again (with the API's message when it
/// refused).
pub(crate) async fn act(
    Path(What { what }): Path<What>,
    Submitted { cx, form }: Submitted<RepoAt>,
) -> Result<Response, UiError> {
    let body = body(&what, &form)?;
    let path = api(&cx.at, &what);
    cx.send(Method::POST, &path, Some(&body), |f| render(&cx, f))
        .await?;
    Ok(redirect(&cx.at.ui("/-/automation?notice=created")))
}

/// The API's body of an upstream or a rule from its form (the same for a new one and a
/// changed one). A rule's condition is the shorthand, or a Rego module when one is given.
pub(crate) fn body(what: &str, form: &Form) -> Result<Value, UiError> {
    let number = |k: &str, default: i64| {
        form.text(k)
            .and_then(|p| p.parse::<i64>().ok())
            .unwrap_or(default)
    };
    Ok(match what {
        "upstreams" => json!({
            "format": form.get("format").unwrap_or(""),
            "name": form.text("name").unwrap_or(""),
            "url": form.text("url").unwrap_or(""),
            "mode": form.get("mode").unwrap_or("cache"),
            "priority": number("priority", 1),
            "index_ttl_seconds": number("index_ttl_seconds", 300),
            "username": form.text("username"),
            "password": form.text("password"),
            "local_names_only": form.get("local_names_only") == Some("1"),
        }),
        "rules" => json!({
            "name": form.text("name").unwrap_or(""),
            "on": form.get("on").unwrap_or("package.security_scanned"),
            "condition": match form.get("rego").filter(|r| !r.trim().is_empty()) {
                Some(rego) => json!({"rego": rego}),
                None => json!(form.text("condition").unwrap_or("")),
            },
            "action": form.get("action").unwrap_or("copy"),
            "destination": form.text("destination").unwrap_or(""),
            // A new rule's form has no such box: it starts enabled.
            "enabled": form.get("enabled").is_none_or(|v| v == "1"),
        }),
        _ => return Err(UiError::BadRequest("unknown form".into())),
    })
}

/// Deletes an upstream or a rule, or saves its changed form (`PUT`, the whole of it; a
/// refusal shows the changed form again).
pub(crate) async fn change(
    Path(Item { what, id }): Path<Item>,
    Path(Action { action }): Path<Action>,
    Submitted { cx, form }: Submitted<RepoAt>,
) -> Result<Response, UiError> {
    if what != "upstreams" && what != "rules" {
        return Err(UiError::BadRequest("unknown form".into()));
    }
    let list = api(&cx.at, &what);
    match action.as_str() {
        "delete" => {
            let again = |f| render(&cx, f);
            cx.delete_item(&list, &id, "/-/automation", again).await
        }
        "save" => {
            let path = format!("{list}/{}", enc(&id));
            let body = body(&what, &form)?;
            let again = |f| super::automation_edit::render(&cx, &what, &id, Some(&form), f);
            cx.send(Method::PUT, &path, Some(&body), again).await?;
            Ok(redirect(&cx.at.ui("/-/automation?notice=saved")))
        }
        _ => Err(UiError::BadRequest("unknown form".into())),
    }
}
