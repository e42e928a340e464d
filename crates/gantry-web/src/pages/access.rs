//! Who may do what in a namespace (its admins only): grants of a privilege to users, teams
//! and service accounts (on the namespace or one repository), teams and their members,
//! service accounts; and the site's users (site admins only).

use axum::extract::Path;
use axum::http::Method;
use axum::response::Response;
use maud::html;
use serde_json::{json, Value};

use crate::api::enc;
use crate::context::{Ctx, Flash, Submitted};
use crate::error::UiError;
use crate::place::{Action, OwnerAt, Site};
use crate::view::{csrf_field, form_panel, redirect, when};

const PRIVILEGES: &[&str] = &["read", "write", "admin"];

fn text(v: &Value, k: &str) -> String {
    v[k].as_str().unwrap_or("").to_owned()
}

pub(crate) async fn page(cx: Ctx<OwnerAt>, flash: Flash) -> Result<Response, UiError> {
    render(&cx, flash).await
}

async fn render(cx: &Ctx<OwnerAt>, flash: Flash) -> Result<Response, UiError> {
    let grants: Vec<Value> = cx.get(&cx.at.api("privileges")).await?;
    let teams: Vec<Value> = cx.get(&cx.at.api("teams")).await?;
    let services: Vec<Value> = cx.get(&cx.at.api("service-accounts")).await?;
    let here = cx.at.ui("/-/access");
    let owner = cx.at.owner();
    let viewer = &cx.viewer;
    let action = |what: &str| format!("{here}/{what}");
    let body = html! {
        (flash)
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
    Ok(cx.page("Access", body))
}

pub(crate) async fn act(
    Path(Action { action }): Path<Action>,
    Submitted { cx, form }: Submitted<OwnerAt>,
) -> Result<Response, UiError> {
    let o = enc(cx.at.owner());
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
    cx.send(method, &path, body.as_ref(), |f| render(&cx, f))
        .await?;
    Ok(redirect(&cx.at.ui("/-/access?notice=saved")))
}

/// The site's users (site admins only), and a form to create one.
pub(crate) async fn users(cx: Ctx<Site>, flash: Flash) -> Result<Response, UiError> {
    render_users(&cx, flash).await
}

async fn render_users(cx: &Ctx<Site>, flash: Flash) -> Result<Response, UiError> {
    let users: Vec<Value> = cx.get("/api/v1/users").await?;
    let viewer = &cx.viewer;
    let body = html! {
        (flash)
        div.scroll { table {
            thead { tr { th scope="col" { "User" } th scope="col" { "Site admin" } th scope="col" { "Since" } } }
            tbody { @for u in &users { tr {
                td { (text(u, "name")) }
                td { @if u["site_admin"].as_bool().unwrap_or(false) { "yes" } @else { "no" } }
                td { (when(&text(u, "created_at"))) }
            } } }
        } }
        (form_panel(viewer, "/ui/-/users", "Create a user", html! {
            label { "Name" input name="name" required maxlength="64" autocomplete="off"; }
            label { "Password (8 characters or more)" input type="password" name="password" required minlength="8" autocomplete="new-password"; }
            label.check { input type="checkbox" name="site_admin" value="1"; " Site admin" }
            button type="submit" { "Create" }
        }))
        p.muted { "Privileges are granted per namespace, on its Access page." }
    };
    Ok(cx.page("Users", body))
}

pub(crate) async fn create_user(
    Submitted { cx, form }: Submitted<Site>,
) -> Result<Response, UiError> {
    let body = json!({
        "name": form.text("name").unwrap_or(""),
        "password": form.get("password").unwrap_or(""),
        "site_admin": form.get("site_admin") == Some("1"),
    });
    let again = |f| render_users(&cx, f);
    cx.send(Method::POST, "/api/v1/users", Some(&body), again)
        .await?;
    Ok(redirect("/ui/-/users?notice=created"))
}
