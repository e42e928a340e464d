//! Who may do what in a namespace (its admins only): grants of a privilege to users, teams
//! and service accounts (on the namespace or one repository), teams and their members,
//! service accounts; and the site's users (site admins only).

use axum::extract::{Path, Query, State};
use axum::http::Method;
use axum::response::Response;
use maud::html;
use serde_json::{json, Value};

use crate::api::enc;
use crate::error::UiError;
use crate::form::Posted;
use crate::layout;
use crate::session::Viewer;
use crate::view::{act_then, csrf_field, error_box, notice, when, NoticeQuery};
use crate::WebState;

const PRIVILEGES: &[&str] = &["read", "write", "admin"];

fn here(owner: &str) -> String {
    format!("/ui/{}/-/access", enc(owner))
}

fn text(v: &Value, k: &str) -> String {
    v[k].as_str().unwrap_or("").to_owned()
}

pub(crate) async fn page(
    State(web): State<WebState>,
    viewer: Viewer,
    Path(owner): Path<String>,
    Query(query): Query<NoticeQuery>,
) -> Result<Response, UiError> {
    render(&web, &viewer, &owner, query.notice.as_deref(), None).await
}

async fn render(
    web: &WebState,
    viewer: &Viewer,
    owner: &str,
    code: Option<&str>,
    error: Option<&str>,
) -> Result<Response, UiError> {
    let o = enc(owner);
    let grants: Vec<Value> = web
        .api
        .get(viewer, &format!("/api/v1/privileges/{o}"))
        .await?;
    let teams: Vec<Value> = web.api.get(viewer, &format!("/api/v1/teams/{o}")).await?;
    let services: Vec<Value> = web
        .api
        .get(viewer, &format!("/api/v1/service-accounts/{o}"))
        .await?;
    let here = here(owner);
    let action = |what: &str| format!("{here}/{what}");
    let body = html! {
        (notice(code))
        (error_box(error))
        h2 { "Privileges" }
        div.scroll { table {
            thead { tr { th scope="col" { "Who" } th scope="col" { "Where" } th scope="col" { "Privilege" }
                th.hide-narrow scope="col" { "Granted" } th scope="col" { span.muted { "Action" } } } }
            tbody { @for g in &grants { tr {
                td { (text(g, "principal")) }
                td { @match g["repository"].as_str() { Some(r) => { (owner) "/" (r) }, None => { "all of " (owner) } } }
                td { (text(g, "privilege")) }
                td.hide-narrow { (when(&text(g, "created_at"))) " " span.muted { (text(g, "created_by")) } }
                td { form.inline method="post" action=(action("revoke")) data-confirm="Revoke this privilege?" {
                    (csrf_field(viewer))
                    input type="hidden" name="principal" value=(text(g, "principal"));
                    @if let Some(r) = g["repository"].as_str() { input type="hidden" name="repository" value=(r); }
                    button.danger type="submit" { "Revoke" }
                } }
            } } }
        } }
        form.panel method="post" action=(action("grant")) {
            h3 { "Grant a privilege" }
            (csrf_field(viewer))
            div.fields {
                label { "Who" input name="principal" required size="30" placeholder="user:ada, team:devs or service:ci"; }
                label { "Repository (empty: the whole namespace)" input name="repository"; }
                label { "Privilege" select name="privilege" { @for p in PRIVILEGES { option value=(p) { (p) } } } }
                button type="submit" { "Grant" }
            }
        }
        h2 { "Teams" }
        @for t in &teams {
            section.panel aria-label={"Team " (text(t, "name"))} {
                h3 { (text(t, "name")) }
                ul { @for m in t["members"].as_array().into_iter().flatten() { li {
                    (m.as_str().unwrap_or(""))
                    form.inline method="post" action=(action("remove-member")) {
                        (csrf_field(viewer))
                        input type="hidden" name="team" value=(text(t, "name"));
                        input type="hidden" name="user" value=(m.as_str().unwrap_or(""));
                        button.link type="submit" aria-label={"Remove " (m.as_str().unwrap_or(""))} { "remove" }
                    }
                } } }
                form method="post" action=(action("member")) {
                    (csrf_field(viewer))
                    input type="hidden" name="team" value=(text(t, "name"));
                    div.fields {
                        label { "User name" input name="user" required; }
                        button.secondary type="submit" { "Add member" }
                    }
                }
            }
        }
        form.panel method="post" action=(action("team")) {
            (csrf_field(viewer))
            div.fields {
                label { "New team" input name="name" required maxlength="64"; }
                button type="submit" { "Create team" }
            }
        }
        h2 { "Service accounts" }
        ul { @for s in &services { li { (text(s, "reference")) " " span.muted { "since " (when(&text(s, "created_at"))) } } } }
        form.panel method="post" action=(action("service-account")) {
            (csrf_field(viewer))
            div.fields {
                label { "New service account" input name="name" required maxlength="64"; }
                button type="submit" { "Create service account" }
            }
        }
        p.muted { "A service account acts through tokens: create one for it with the API or the CLI." }
    };
    let crumbs = [(owner, format!("/ui/{}", enc(owner)))];
    Ok(layout::page(viewer, "Access", &crumbs, body))
}

pub(crate) async fn act(
    State(web): State<WebState>,
    Path((owner, action)): Path<(String, String)>,
    Posted { viewer, form }: Posted,
) -> Result<Response, UiError> {
    let o = enc(&owner);
    let field = |k: &str| form.text(k).unwrap_or("").to_owned();
    let member = || {
        format!(
            "/api/v1/teams/{o}/{}/members/{}",
            enc(&field("team")),
            enc(&field("user"))
        )
    };
    let (method, path, body) = match action.as_str() {
        "grant" => (
            Method::PUT,
            format!("/api/v1/privileges/{o}"),
            Some(
                json!({"principal": field("principal"), "repository": form.text("repository"),
                "privilege": field("privilege")}),
            ),
        ),
        "revoke" => {
            let mut path = format!(
                "/api/v1/privileges/{o}?principal={}",
                enc(&field("principal"))
            );
            if let Some(repository) = form.text("repository") {
                path.push_str(&format!("&repository={}", enc(repository)));
            }
            (Method::DELETE, path, None)
        }
        "team" => (
            Method::POST,
            format!("/api/v1/teams/{o}"),
            Some(json!({"name": field("name")})),
        ),
        "member" => (Method::PUT, member(), None),
        "remove-member" => (Method::DELETE, member(), None),
        "service-account" => (
            Method::POST,
            format!("/api/v1/service-accounts/{o}"),
            Some(json!({"name": field("name")})),
        ),
        _ => return Err(UiError::BadRequest("unknown form".into())),
    };
    let to = format!("{}?notice=saved", here(&owner));
    let (w, v) = (&web, &viewer);
    act_then(
        w,
        v,
        (method, &path, body.as_ref()),
        &to,
        |message| async move { render(w, v, &owner, None, Some(&message)).await },
    )
    .await
}

/// The site's users (site admins only), and a form to create one.
pub(crate) async fn users(
    State(web): State<WebState>,
    viewer: Viewer,
    Query(query): Query<NoticeQuery>,
) -> Result<Response, UiError> {
    render_users(&web, &viewer, query.notice.as_deref(), None).await
}

async fn render_users(
    web: &WebState,
    viewer: &Viewer,
    code: Option<&str>,
    error: Option<&str>,
) -> Result<Response, UiError> {
    let users: Vec<Value> = web.api.get(viewer, "/api/v1/users").await?;
    let body = html! {
        (notice(code))
        (error_box(error))
        div.scroll { table {
            thead { tr { th scope="col" { "User" } th scope="col" { "Site admin" } th scope="col" { "Since" } } }
            tbody { @for u in &users { tr {
                td { (text(u, "name")) }
                td { @if u["site_admin"].as_bool().unwrap_or(false) { "yes" } @else { "no" } }
                td { (when(&text(u, "created_at"))) }
            } } }
        } }
        form.panel method="post" action="/ui/-/users" {
            h2 { "Create a user" }
            (csrf_field(viewer))
            div.fields {
                label { "Name" input name="name" required maxlength="64" autocomplete="off"; }
                label { "Password (8 characters or more)" input type="password" name="password" required minlength="8" autocomplete="new-password"; }
                label.check { input type="checkbox" name="site_admin" value="1"; " Site admin" }
                button type="submit" { "Create" }
            }
        }
        p.muted { "Privileges are granted per namespace, on its Access page." }
    };
    Ok(layout::page(viewer, "Users", &[], body))
}

pub(crate) async fn create_user(
    State(web): State<WebState>,
    Posted { viewer, form }: Posted,
) -> Result<Response, UiError> {
    let body = json!({
        "name": form.text("name").unwrap_or(""),
        "password": form.get("password").unwrap_or(""),
        "site_admin": form.get("site_admin") == Some("1"),
    });
    let request = (Method::POST, "/api/v1/users", Some(&body));
    let (w, v) = (&web, &viewer);
    act_then(
        w,
        v,
        request,
        "/ui/-/users?notice=created",
        |message| async move { render_users(w, v, None, Some(&message)).await },
    )
    .await
}
