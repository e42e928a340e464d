//! A namespace's policies: the list, a new policy, the editor (compile errors shown with the
//! source kept), simulation against packages, and the decision log.

use axum::extract::Path;
use axum::http::Method;
use axum::response::Response;
use gantry_protocol::extract::NameParam;
use maud::{html, Markup};
use serde_json::{json, Value};

use crate::api::enc;
use crate::context::{Ctx, Flash, Submitted};
use crate::error::UiError;
use crate::place::OwnerAt;
use crate::view::{csrf_field, package_link, redirect, when};

/// A new policy's source until one is written.
const EXAMPLE: &str = "package gantry\n\ndeny contains msg if {\n\tinput.event == \"promotion\"\n\tinput.package.num_vulnerabilities > 0\n\tmsg := \"known vulnerabilities\"\n}\n";

fn decisions(list: &[Value]) -> Markup {
    html! {
        h2 { "Decision log" }
        @if list.is_empty() { p.muted { "No decisions yet." } } @else {
            div.scroll { table {
                thead { tr { th scope="col" { "When" } th scope="col" { "Policy" } th scope="col" { "Trigger" }
                    th scope="col" { "Package" } th scope="col" { "Result" } th.hide-narrow scope="col" { "Actor" } } }
                tbody { @for d in list { tr {
                    td { (when(d["occurred_at"].as_str().unwrap_or(""))) }
                    td { (d["policy"].as_str().unwrap_or("")) " v" (d["policy_version"].as_i64().unwrap_or(0)) }
                    td { (d["trigger"].as_str().unwrap_or(""))
                        @if let Some(dest) = d["destination"].as_str() { " → " (dest) } }
                    td { @if let (Some(repo), Some(slug)) = (d["repository"].as_str(), d["slug_perm"].as_str()) {
                        a href=(package_link(repo, slug)) { (repo) "/" (slug) } } }
                    td { @if d["denied"].as_bool() == Some(true) { span.badge.sev-critical { "denied" } }
                         @else { span.badge.sev-none { "allowed" } }
                         @if let Some(e) = d["error"].as_str() { br; span.muted { (e) } } }
                    td.hide-narrow { (d["actor"].as_str().unwrap_or("")) }
                } } }
            } }
        }
    }
}

pub(crate) async fn list(cx: Ctx<OwnerAt>, flash: Flash) -> Result<Response, UiError> {
    render_list(&cx, flash, None).await
}

async fn render_list(
    cx: &Ctx<OwnerAt>,
    flash: Flash,
    draft: Option<(&str, &str)>,
) -> Result<Response, UiError> {
    let base = cx.at.api("policies");
    let policies: Vec<Value> = cx.get(&base).await?;
    let log: Vec<Value> = cx.get(&format!("{base}/decisions?limit=50")).await?;
    let here = cx.at.ui("/-/policies");
    let (name, rego) = draft.unwrap_or(("", EXAMPLE));
    let body = html! {
        (flash)
        div.scroll { table {
            thead { tr { th scope="col" { "Policy" } th scope="col" { "Enabled" } th scope="col" { "Precedence" } th scope="col" { "Version" } th.hide-narrow scope="col" { "Updated" } } }
            tbody { @for p in &policies { tr {
                td { a href={(here) "/" (enc(p["name"].as_str().unwrap_or("")))} { (p["name"].as_str().unwrap_or("")) } }
                td { @if p["enabled"].as_bool() == Some(true) { "yes" } @else { "no" } }
                td { (p["precedence"].as_i64().unwrap_or(0)) }
                td { (p["version"].as_i64().unwrap_or(0)) }
                td.hide-narrow { (when(p["updated_at"].as_str().unwrap_or(""))) }
            } } }
        } }
        form.panel method="post" action=(here) {
            h2 { "New policy" }
            (csrf_field(&cx.viewer))
            div.fields { label { "Name" input name="name" required value=(name); } }
            label { "Rego (package gantry)" textarea name="rego" rows="10" spellcheck="false" { (rego) } }
            button type="submit" { "Create" }
        }
        (decisions(&log))
    };
    let title = format!("Policies of {}", cx.at.owner());
    Ok(cx.page(&title, body))
}

pub(crate) async fn create(
    Submitted { cx, form }: Submitted<OwnerAt>,
) -> Result<Response, UiError> {
    let name = form.text("name").unwrap_or("");
    let rego = form.get("rego").unwrap_or("");
    let body = json!({"name": name, "rego": rego});
    let path = cx.at.api("policies");
    let again = |f| render_list(&cx, f, Some((name, rego)));
    cx.send(Method::POST, &path, Some(&body), again).await?;
    let to = format!("/-/policies/{}?notice=created", enc(name));
    Ok(redirect(&cx.at.ui(&to)))
}

struct Editor<'a> {
    rego: Option<&'a str>,
    flash: Flash,
    simulation: Option<Value>,
}

impl Editor<'_> {
    fn new(flash: Flash) -> Self {
        Self {
            rego: None,
            flash,
            simulation: None,
        }
    }
}

async fn render_policy(
    cx: &Ctx<OwnerAt>,
    name: &str,
    editor: Editor<'_>,
) -> Result<Response, UiError> {
    let policy: Value = cx
        .get(&format!("{}/{}", cx.at.api("policies"), enc(name)))
        .await?;
    let here = cx.at.ui("/-/policies");
    let rego = editor.rego.unwrap_or(policy["rego"].as_str().unwrap_or(""));
    let path = format!("{here}/{}", enc(name));
    let body = html! {
        (editor.flash)
        p.muted { "Version " (policy["version"].as_i64().unwrap_or(0)) ", precedence " (policy["precedence"].as_i64().unwrap_or(0))
            @if policy["enabled"].as_bool() != Some(true) { ", disabled" } "." }
        form.panel method="post" action=(path) {
            (csrf_field(&cx.viewer))
            label { "Rego" textarea name="rego" rows="14" spellcheck="false" { (rego) } }
            div.fields {
                label { "Enabled" input type="checkbox" name="enabled" value="1" checked[policy["enabled"].as_bool() == Some(true)]; }
                button type="submit" name="do" value="save" { "Save" }
            }
            h2 { "Simulate" }
            p.muted { "Evaluates the source above (saved or not) against existing packages, without acting or logging." }
            div.fields {
                label { "Repository" input name="repository" placeholder="dev (all when empty)"; }
                label { "Query" input name="query" placeholder="name:app"; }
                label { "As a promotion to" input name="destination" placeholder="staging"; }
                button.secondary type="submit" name="do" value="simulate" { "Simulate" }
            }
        }
        @if let Some(result) = &editor.simulation { (simulation(result)) }
    };
    let title = format!("Policy {name}");
    Ok(cx.page_under(&title, &[("policies", here)], body))
}

fn simulation(result: &Value) -> Markup {
    let empty = Vec::new();
    html! {
        p role="status" { (result["evaluated"].as_i64().unwrap_or(0)) " packages evaluated, "
            (result["denied"].as_i64().unwrap_or(0)) " denied." }
        div.scroll { table {
            thead { tr { th scope="col" { "Package" } th scope="col" { "Result" } th scope="col" { "Reasons and actions" } } }
            tbody { @for p in result["packages"].as_array().unwrap_or(&empty) { tr {
                td { a href=(package_link(p["repository"].as_str().unwrap_or(""), p["slug_perm"].as_str().unwrap_or(""))) {
                    (p["name"].as_str().unwrap_or("")) " " (p["version"].as_str().unwrap_or("")) } }
                td { @if p["denied"].as_bool() == Some(true) { span.badge.sev-critical { "denied" } } @else { span.badge.sev-none { "allowed" } } }
                td { (p["deny"].as_array().map(|d| d.iter().filter_map(Value::as_str).collect::<Vec<_>>().join("; ")).unwrap_or_default())
                    @if p["quarantine"].as_bool() == Some(true) { " · would quarantine" }
                    @if let Some(e) = p["error"].as_str() { " · " (e) } }
            } } }
        } }
    }
}

pub(crate) async fn page(
    cx: Ctx<OwnerAt>,
    Path(NameParam { name }): Path<NameParam>,
    flash: Flash,
) -> Result<Response, UiError> {
    render_policy(&cx, &name, Editor::new(flash)).await
}

pub(crate) async fn submit(
    Path(NameParam { name }): Path<NameParam>,
    Submitted { cx, form }: Submitted<OwnerAt>,
) -> Result<Response, UiError> {
    let rego = form.get("rego").unwrap_or("");
    let path = format!("{}/{}", cx.at.api("policies"), enc(&name));
    if form.get("do") == Some("simulate") {
        let mut body = json!({"rego": rego, "query": form.get("query").unwrap_or("")});
        for key in ["repository", "destination"] {
            if let Some(value) = form.text(key) {
                body[key] = json!(value);
            }
        }
        // The simulation's refusal (a source that does not compile) is its result: the
        // editor shows it, answered 200.
        let answer = cx
            .call(Method::POST, &format!("{path}/simulate"), Some(&body))
            .await?;
        let mut editor = Editor::new(Flash::Nothing);
        editor.rego = Some(rego);
        if answer.status.is_success() {
            editor.simulation = Some(answer.json()?);
        } else {
            editor.flash = Flash::Error(answer.message());
        }
        return render_policy(&cx, &name, editor).await;
    }
    let body = json!({"rego": rego, "enabled": form.get("enabled") == Some("1")});
    let again = |flash| {
        let mut editor = Editor::new(flash);
        editor.rego = Some(rego);
        render_policy(&cx, &name, editor)
    };
    cx.send(Method::PATCH, &path, Some(&body), again).await?;
    let to = format!("/-/policies/{}?notice=saved", enc(&name));
    Ok(redirect(&cx.at.ui(&to)))
}
