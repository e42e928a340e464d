//! A namespace's policies: the list, a new policy, the editor (compile errors shown with the
//! source kept), simulation against packages, and the decision log.

use axum::extract::{Path, Query, State};
use axum::http::Method;
use axum::response::Response;
use maud::{html, Markup};
use serde_json::{json, Value};

use crate::api::enc;
use crate::error::UiError;
use crate::form::Posted;
use crate::layout;
use crate::session::Viewer;
use crate::view::{
    csrf_field, error_box, notice, package_link, redirect, refused, when, NoticeQuery,
};
use crate::WebState;

fn base(owner: &str) -> String {
    format!("/api/v1/policies/{}", enc(owner))
}

fn here(owner: &str) -> String {
    format!("/ui/{}/-/policies", enc(owner))
}

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

pub(crate) async fn list(
    State(web): State<WebState>,
    viewer: Viewer,
    Path(owner): Path<String>,
    Query(query): Query<NoticeQuery>,
) -> Result<Response, UiError> {
    render_list(&web, &viewer, &owner, query.notice.as_deref(), None, None).await
}

async fn render_list(
    web: &WebState,
    viewer: &Viewer,
    owner: &str,
    code: Option<&str>,
    error: Option<&str>,
    draft: Option<(&str, &str)>,
) -> Result<Response, UiError> {
    let policies: Vec<Value> = web.api.get(viewer, &base(owner)).await?;
    let log: Vec<Value> = web
        .api
        .get(viewer, &format!("{}/decisions?limit=50", base(owner)))
        .await?;
    let (name, rego) = draft.unwrap_or(("", "package gantry\n\ndeny contains msg if {\n\tinput.event == \"promotion\"\n\tinput.package.num_vulnerabilities > 0\n\tmsg := \"known vulnerabilities\"\n}\n"));
    let body = html! {
        (notice(code))
        (error_box(error))
        div.scroll { table {
            thead { tr { th scope="col" { "Policy" } th scope="col" { "Enabled" } th scope="col" { "Precedence" } th scope="col" { "Version" } th.hide-narrow scope="col" { "Updated" } } }
            tbody { @for p in &policies { tr {
                td { a href={(here(owner)) "/" (enc(p["name"].as_str().unwrap_or("")))} { (p["name"].as_str().unwrap_or("")) } }
                td { @if p["enabled"].as_bool() == Some(true) { "yes" } @else { "no" } }
                td { (p["precedence"].as_i64().unwrap_or(0)) }
                td { (p["version"].as_i64().unwrap_or(0)) }
                td.hide-narrow { (when(p["updated_at"].as_str().unwrap_or(""))) }
            } } }
        } }
        form.panel method="post" action=(here(owner)) {
            h2 { "New policy" }
            (csrf_field(viewer))
            div.fields { label { "Name" input name="name" required value=(name); } }
            label { "Rego (package gantry)" textarea name="rego" rows="10" spellcheck="false" { (rego) } }
            button type="submit" { "Create" }
        }
        (decisions(&log))
    };
    let crumbs = [(owner, format!("/ui/{}", enc(owner)))];
    Ok(layout::page(
        viewer,
        &format!("Policies of {owner}"),
        &crumbs,
        body,
    ))
}

pub(crate) async fn create(
    State(web): State<WebState>,
    Path(owner): Path<String>,
    Posted { viewer, form }: Posted,
) -> Result<Response, UiError> {
    let name = form.text("name").unwrap_or("");
    let rego = form.get("rego").unwrap_or("");
    let body = json!({"name": name, "rego": rego});
    let answer = web
        .api
        .call(&viewer, Method::POST, &base(&owner), Some(&body))
        .await?;
    if !answer.status.is_success() {
        let message = answer.message();
        let page = render_list(
            &web,
            &viewer,
            &owner,
            None,
            Some(&message),
            Some((name, rego)),
        )
        .await;
        return refused(page, &answer);
    }
    Ok(redirect(&format!(
        "{}/{}?notice=created",
        here(&owner),
        enc(name)
    )))
}

#[derive(Default)]
struct Editor<'a> {
    rego: Option<&'a str>,
    error: Option<String>,
    simulation: Option<Value>,
    code: Option<&'a str>,
}

async fn render_policy(
    web: &WebState,
    viewer: &Viewer,
    owner: &str,
    name: &str,
    editor: Editor<'_>,
) -> Result<Response, UiError> {
    let policy: Value = web
        .api
        .get(viewer, &format!("{}/{}", base(owner), enc(name)))
        .await?;
    let rego = editor.rego.unwrap_or(policy["rego"].as_str().unwrap_or(""));
    let path = format!("{}/{}", here(owner), enc(name));
    let body = html! {
        (notice(editor.code))
        (error_box(editor.error.as_deref()))
        p.muted { "Version " (policy["version"].as_i64().unwrap_or(0)) ", precedence " (policy["precedence"].as_i64().unwrap_or(0))
            @if policy["enabled"].as_bool() != Some(true) { ", disabled" } "." }
        form.panel method="post" action=(path) {
            (csrf_field(viewer))
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
    let crumbs = [
        (owner, format!("/ui/{}", enc(owner))),
        ("policies", here(owner)),
    ];
    Ok(layout::page(
        viewer,
        &format!("Policy {name}"),
        &crumbs,
        body,
    ))
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
    State(web): State<WebState>,
    viewer: Viewer,
    Path((owner, name)): Path<(String, String)>,
    Query(query): Query<NoticeQuery>,
) -> Result<Response, UiError> {
    let editor = Editor {
        code: query.notice.as_deref(),
        ..Editor::default()
    };
    render_policy(&web, &viewer, &owner, &name, editor).await
}

pub(crate) async fn submit(
    State(web): State<WebState>,
    Path((owner, name)): Path<(String, String)>,
    Posted { viewer, form }: Posted,
) -> Result<Response, UiError> {
    let rego = form.get("rego").unwrap_or("");
    let path = format!("{}/{}", base(&owner), enc(&name));
    if form.get("do") == Some("simulate") {
        let mut body = json!({"rego": rego, "query": form.get("query").unwrap_or("")});
        for key in ["repository", "destination"] {
            if let Some(value) = form.text(key) {
                body[key] = json!(value);
            }
        }
        let answer = web
            .api
            .call(
                &viewer,
                Method::POST,
                &format!("{path}/simulate"),
                Some(&body),
            )
            .await?;
        let mut editor = Editor {
            rego: Some(rego),
            ..Editor::default()
        };
        if answer.status.is_success() {
            editor.simulation = Some(answer.json()?);
        } else {
            editor.error = Some(answer.message());
        }
        return render_policy(&web, &viewer, &owner, &name, editor).await;
    }
    let body = json!({"rego": rego, "enabled": form.get("enabled") == Some("1")});
    let answer = web
        .api
        .call(&viewer, Method::PATCH, &path, Some(&body))
        .await?;
    if !answer.status.is_success() {
        let editor = Editor {
            rego: Some(rego),
            error: Some(answer.message()),
            ..Editor::default()
        };
        return refused(
            render_policy(&web, &viewer, &owner, &name, editor).await,
            &answer,
        );
    }
    Ok(redirect(&format!(
        "{}/{}?notice=saved",
        here(&owner),
        enc(&name)
    )))
}
