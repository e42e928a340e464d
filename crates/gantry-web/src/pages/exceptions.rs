//! A repository's vulnerability exceptions (VEX statements): the list (readers), and for its
//! admins a new exception for one package, a name (and versions) or the whole repository,
//! and deleting one. The OpenVEX document is linked.

use axum::extract::Path;
use axum::http::Method;
use axum::response::Response;
use maud::html;
use serde_json::{json, Value};

use crate::context::{Ctx, Flash, Submitted};
use crate::error::UiError;
use crate::place::{Id, RepoAt};
use crate::view::{csrf_field, package_path, redirect, when};

const STATUSES: &[&str] = &["not_affected", "fixed", "under_investigation"];
const JUSTIFICATIONS: &[&str] = &[
    "component_not_present",
    "vulnerable_code_not_present",
    "vulnerable_code_not_in_execute_path",
    "vulnerable_code_cannot_be_controlled_by_adversary",
    "inline_mitigations_already_exist",
];

const AREA: &str = "vulnerability-exceptions";

pub(crate) async fn page(cx: Ctx<RepoAt>, flash: Flash) -> Result<Response, UiError> {
    render(&cx, flash).await
}

async fn render(cx: &Ctx<RepoAt>, flash: Flash) -> Result<Response, UiError> {
    let admin = cx.administers().await?;
    let api = cx.at.api(AREA);
    let exceptions: Vec<Value> = cx.get(&api).await?;
    let here = cx.at.ui("/-/exceptions");
    let viewer = &cx.viewer;
    let text = |v: &Value, k: &str| v[k].as_str().unwrap_or("").to_owned();
    let body = html! {
        (flash)
        p { "A finding an exception covers no longer fails the package's scan; the decision is recorded, and the API publishes the list as an OpenVEX document:"
            br; code { "GET " (api) "/openvex" } }
        div.scroll { table {
            thead { tr { th scope="col" { "Advisory" } th scope="col" { "Applies to" } th scope="col" { "Status" }
                th.hide-narrow scope="col" { "Justification" } th scope="col" { "Expires" } th scope="col" { span.muted { "Action" } } } }
            tbody { @for e in &exceptions { tr {
                td.mono { (text(e, "advisory_id")) }
                td { @if let Some(slug) = e["slug_perm"].as_str() {
                        "package " a href=(package_path(cx.at.owner(), cx.at.repo(), slug)) { span.mono { (slug) } }
                    } @else if let Some(name) = e["name"].as_str() {
                        (name) " " (e["versions"].as_str().unwrap_or("(all versions)"))
                    } @else { "the whole repository" } }
                td { (text(e, "status").replace('_', " ")) }
                td.hide-narrow { (text(e, "justification").replace('_', " ")) }
                td { @match e["expires_at"].as_str() { Some(at) => (when(at)), None => { "never" } } }
                td { @if admin {
                    form.inline method="post" action={(here) "/" (e["id"].as_i64().unwrap_or(0)) "/delete"} data-confirm="Delete this exception?" {
                        (csrf_field(viewer)) button.danger type="submit" { "Delete" } }
                } }
            } } }
        } }
        @if admin {
            form.panel method="post" action=(here) {
                h2 { "Add an exception" }
                (csrf_field(viewer))
                div.fields {
                    label { "Advisory (id or alias)" input name="advisory_id" required; }
                    label { "Status" select name="status" { @for s in STATUSES { option value=(s) { (s.replace('_', " ")) } } } }
                    label { "Justification (not affected)" select name="justification" {
                        option value="" { "none" }
                        @for j in JUSTIFICATIONS { option value=(j) { (j.replace('_', " ")) } } } }
                    label { "Impact statement" input name="impact_statement" size="30"; }
                    label { "Expires (YYYY-MM-DD)" input name="expires_at" placeholder="2027-01-31"; }
                }
                fieldset { legend { "Applies to" }
                    div.fields {
                        label { "Package name" input name="name"; }
                        label { "Versions" input name="versions" placeholder=">=1.0,<2.0"; }
                        label { "or one package (slug)" input name="slug_perm"; }
                        label.check { input type="checkbox" name="repository" value="1"; " or the whole repository" }
                    }
                }
                button type="submit" { "Add exception" }
            }
        }
    };
    Ok(cx.page("Vulnerability exceptions", body))
}

pub(crate) async fn create(Submitted { cx, form }: Submitted<RepoAt>) -> Result<Response, UiError> {
    let body = json!({
        "advisory_id": form.text("advisory_id").unwrap_or(""),
        "status": form.get("status").unwrap_or(""),
        "justification": form.text("justification"),
        "impact_statement": form.text("impact_statement"),
        "expires_at": form.text("expires_at"),
        "name": form.text("name"),
        "versions": form.text("versions"),
        "slug_perm": form.text("slug_perm"),
        "repository": form.get("repository") == Some("1"),
    });
    let path = cx.at.api(AREA);
    cx.send(Method::POST, &path, Some(&body), |f| render(&cx, f))
        .await?;
    Ok(redirect(&cx.at.ui("/-/exceptions?notice=created")))
}

pub(crate) async fn delete(
    Path(Id { id }): Path<Id>,
    Submitted { cx, .. }: Submitted<RepoAt>,
) -> Result<Response, UiError> {
    let api = cx.at.api(AREA);
    cx.delete_item(&api, &id, "/-/exceptions", |f| render(&cx, f))
        .await
}
