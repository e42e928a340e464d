//! A repository's vulnerability exceptions (VEX statements): the list (readers), and for its
//! admins a new exception for one package, a name (and versions) or the whole repository,
//! and deleting one. The OpenVEX document is linked.

use axum::extract::{Path, Query, State};
use axum::http::Method;
use axum::response::Response;
use gantry_core::Repository;
use maud::html;
use serde_json::{json, Value};

use crate::api::enc;
use crate::error::UiError;
use crate::form::Posted;
use crate::layout;
use crate::session::Viewer;
use crate::view::{
    act_then, csrf_field, error_box, notice, package_path, repo_crumbs, repo_path, when,
    NoticeQuery,
};
use crate::WebState;

const STATUSES: &[&str] = &["not_affected", "fixed", "under_investigation"];
const JUSTIFICATIONS: &[&str] = &[
    "component_not_present",
    "vulnerable_code_not_present",
    "vulnerable_code_not_in_execute_path",
    "vulnerable_code_cannot_be_controlled_by_adversary",
    "inline_mitigations_already_exist",
];

fn api(owner: &str, repo: &str) -> String {
    format!(
        "/api/v1/vulnerability-exceptions/{}/{}",
        enc(owner),
        enc(repo)
    )
}

fn here(owner: &str, repo: &str) -> String {
    format!("{}/-/exceptions", repo_path(owner, repo))
}

pub(crate) async fn page(
    State(web): State<WebState>,
    viewer: Viewer,
    Path((owner, repo)): Path<(String, String)>,
    Query(query): Query<NoticeQuery>,
) -> Result<Response, UiError> {
    render(&web, &viewer, &owner, &repo, query.notice.as_deref(), None).await
}

async fn render(
    web: &WebState,
    viewer: &Viewer,
    owner: &str,
    repo: &str,
    code: Option<&str>,
    error: Option<&str>,
) -> Result<Response, UiError> {
    let repository: Repository = web
        .api
        .get(
            viewer,
            &format!("/api/v1/repos/{}/{}", enc(owner), enc(repo)),
        )
        .await?;
    let exceptions: Vec<Value> = web.api.get(viewer, &api(owner, repo)).await?;
    let admin = repository.permissions.is_some();
    let here = here(owner, repo);
    let text = |v: &Value, k: &str| v[k].as_str().unwrap_or("").to_owned();
    let body = html! {
        (notice(code))
        (error_box(error))
        p { "A finding an exception covers no longer fails the package's scan; the decision is recorded, and the API publishes the list as an OpenVEX document:"
            br; code { "GET " (api(owner, repo)) "/openvex" } }
        div.scroll { table {
            thead { tr { th scope="col" { "Advisory" } th scope="col" { "Applies to" } th scope="col" { "Status" }
                th.hide-narrow scope="col" { "Justification" } th scope="col" { "Expires" } th scope="col" { span.muted { "Action" } } } }
            tbody { @for e in &exceptions { tr {
                td.mono { (text(e, "advisory_id")) }
                td { @if let Some(slug) = e["slug_perm"].as_str() {
                        "package " a href=(package_path(owner, repo, slug)) { span.mono { (slug) } }
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
    let crumbs = repo_crumbs(owner, repo);
    Ok(layout::page(
        viewer,
        "Vulnerability exceptions",
        &crumbs,
        body,
    ))
}

pub(crate) async fn create(
    State(web): State<WebState>,
    Path((owner, repo)): Path<(String, String)>,
    Posted { viewer, form }: Posted,
) -> Result<Response, UiError> {
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
    let to = format!("{}?notice=created", here(&owner, &repo));
    let request = (Method::POST, api(&owner, &repo), Some(&body));
    let (w, v) = (&web, &viewer);
    act_then(
        w,
        v,
        (request.0, &request.1, request.2),
        &to,
        |message| async move { render(w, v, &owner, &repo, None, Some(&message)).await },
    )
    .await
}

pub(crate) async fn delete(
    State(web): State<WebState>,
    Path((owner, repo, id)): Path<(String, String, String)>,
    Posted { viewer, .. }: Posted,
) -> Result<Response, UiError> {
    let path = format!("{}/{}", api(&owner, &repo), enc(&id));
    let to = format!("{}?notice=deleted-item", here(&owner, &repo));
    let (w, v) = (&web, &viewer);
    act_then(
        w,
        v,
        (Method::DELETE, &path, None),
        &to,
        |message| async move { render(w, v, &owner, &repo, None, Some(&message)).await },
    )
    .await
}
