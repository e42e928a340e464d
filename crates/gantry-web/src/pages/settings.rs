//! A repository's settings (its admins only): description, visibility, immutable tags, the
//! address lists and the minimum privilege per operation. One `PATCH` of the repository.

use axum::extract::{Path, Query, State};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use gantry_core::Repository;
use maud::html;
use serde_json::{json, Map, Value};

use crate::api::enc;
use crate::error::UiError;
use crate::form::{Form, Posted};
use crate::layout;
use crate::session::Viewer;
use crate::view::{
    csrf_field, error_box, notice, redirect, refused, repo_crumbs, repo_path, NoticeQuery,
};
use crate::WebState;

const PRIVILEGES: &[&str] = &["read", "write", "admin"];

fn api(owner: &str, repo: &str) -> String {
    format!("/api/v1/repos/{}/{}", enc(owner), enc(repo))
}

/// The repository as its admin sees it: the API shows the access settings to admins only,
/// so a caller who gets none is not one.
pub(crate) async fn administered(
    web: &WebState,
    viewer: &Viewer,
    owner: &str,
    repo: &str,
) -> Result<Repository, UiError> {
    let repository: Repository = web.api.get(viewer, &api(owner, repo)).await?;
    if repository.permissions.is_none() {
        return Err(UiError::Api {
            status: StatusCode::FORBIDDEN,
            message: format!("this page needs the admin privilege on {owner}/{repo}"),
        });
    }
    Ok(repository)
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
    let r = administered(web, viewer, owner, repo).await?;
    let lines = |list: &Option<Vec<String>>| list.as_deref().unwrap_or_default().join("\n");
    let permissions: Vec<(String, String)> = r
        .permissions
        .as_ref()
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_owned()))
                .collect()
        })
        .unwrap_or_default();
    let here = format!("{}/-/settings", repo_path(owner, repo));
    let body = html! {
        (notice(code))
        (error_box(error))
        form.panel method="post" action=(here) {
            (csrf_field(viewer))
            div.fields {
                label { "Description" input name="description" value=(r.description) maxlength="2000" size="40"; }
                label { "Visibility"
                    select name="visibility" {
                        option value="private" selected[r.private] { "private" }
                        option value="public" selected[!r.private] { "public" }
                    }
                }
                label.check { input type="checkbox" name="immutable_tags" value="1" checked[r.immutable_tags];
                    " Tags are immutable (a push that moves a tag is refused)" }
            }
            h2 { "Addresses" }
            p.muted { "CIDR networks, one a line. Empty allowlist: every address may reach the packages." }
            div.fields {
                label { "Allowlist" textarea name="ip_allowlist" rows="3" cols="30" { (lines(&r.ip_allowlist)) } }
                label { "Denylist" textarea name="ip_denylist" rows="3" cols="30" { (lines(&r.ip_denylist)) } }
            }
            h2 { "Minimum privilege per operation" }
            div.fields {
                @for (op, current) in &permissions {
                    label { (op)
                        select name={"perm." (op)} {
                            @for p in PRIVILEGES { option value=(p) selected[current == p] { (p) } }
                        }
                    }
                }
            }
            button type="submit" { "Save" }
        }
    };
    let crumbs = repo_crumbs(owner, repo);
    Ok(layout::page(viewer, "Repository settings", &crumbs, body))
}

fn list(form: &Form, name: &str) -> Vec<String> {
    form.get(name)
        .unwrap_or("")
        .split(['\n', ','])
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The form as the API's update: every field the page shows.
fn update(form: &Form) -> Value {
    let permissions: Map<String, Value> = form
        .fields()
        .filter_map(|(k, v)| Some((k.strip_prefix("perm.")?.to_owned(), Value::from(v))))
        .collect();
    let mut body = json!({
        "description": form.get("description").unwrap_or(""),
        "private": form.get("visibility") != Some("public"),
        "immutable_tags": form.get("immutable_tags") == Some("1"),
        "ip_allowlist": list(form, "ip_allowlist"),
        "ip_denylist": list(form, "ip_denylist"),
    });
    if !permissions.is_empty() {
        body["permissions"] = Value::Object(permissions);
    }
    body
}

pub(crate) async fn save(
    State(web): State<WebState>,
    Path((owner, repo)): Path<(String, String)>,
    Posted { viewer, form }: Posted,
) -> Result<Response, UiError> {
    let answer = web
        .api
        .call(
            &viewer,
            Method::PATCH,
            &api(&owner, &repo),
            Some(&update(&form)),
        )
        .await?;
    if !answer.status.is_success() {
        let page = render(&web, &viewer, &owner, &repo, None, Some(&answer.message())).await;
        return refused(page, &answer);
    }
    Ok(redirect(&format!(
        "{}/-/settings?notice=saved",
        repo_path(&owner, &repo)
    )))
}
