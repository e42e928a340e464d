//! A namespace: its repositories the caller may see, and a form to create one.

use axum::extract::{Path, Query, State};
use axum::http::Method;
use axum::response::Response;
use gantry_core::Repository;
use maud::html;
use serde_json::json;

use crate::api::enc;
use crate::error::UiError;
use crate::form::Posted;
use crate::layout;
use crate::session::Viewer;
use crate::view::{
    csrf_field, error_box, formats, notice, redirect, refused, repo_path, size, NoticeQuery,
};
use crate::WebState;

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
    let repos: Vec<Repository> = web
        .api
        .get(viewer, &format!("/api/v1/repos/{}", enc(owner)))
        .await?;
    let total: i64 = repos.iter().map(|r| r.package_count).sum();
    let bytes: i64 = repos.iter().filter_map(|r| r.size).sum();
    let body = html! {
        (notice(code))
        (error_box(error))
        p.actions {
            a href={"/ui/" (enc(owner)) "/-/security"} { "Security" }
            a href={"/ui/" (enc(owner)) "/-/policies"} { "Policies" }
            a href={"/ui/" (enc(owner)) "/-/audit"} { "Audit log" }
            a href={"/ui/" (enc(owner)) "/-/access"} { "Access" }
        }
        p.muted { (repos.len()) " repositories, " (total) " packages, " (size(bytes)) "." }
        div.scroll {
            table {
                caption.muted { "Repositories" }
                thead { tr { th scope="col" { "Repository" } th scope="col" { "Packages" } th scope="col" { "Size" }
                    th.hide-narrow scope="col" { "Formats" } th scope="col" { "Visibility" } th.hide-narrow scope="col" { "Description" } } }
                tbody {
                    @for repo in &repos {
                        tr {
                            td { a href=(repo_path(&repo.namespace, &repo.name)) { (repo.name) } }
                            td { (repo.package_count) }
                            td.nowrap { (size(repo.size.unwrap_or(0))) }
                            td.hide-narrow { (formats(repo)) }
                            td { @if repo.private { "private" } @else { "public" } }
                            td.hide-narrow { (repo.description) }
                        }
                    }
                }
            }
        }
        @if viewer.signed_in() {
            form.panel method="post" action={"/ui/" (enc(owner))} {
                h2 { "Create a repository" }
                (csrf_field(viewer))
                div.fields {
                    label { "Name" input name="name" required pattern="[a-z0-9][a-z0-9._\\-]*" maxlength="64"; }
                    label { "Description" input name="description" maxlength="200"; }
                    label { "Visibility"
                        select name="visibility" {
                            option value="private" selected { "private" }
                            option value="public" { "public" }
                        }
                    }
                    button type="submit" { "Create" }
                }
            }
        }
    };
    let crumbs = [(owner, format!("/ui/{}", enc(owner)))];
    Ok(layout::page(viewer, owner, &crumbs, body))
}

pub(crate) async fn create_repo(
    State(web): State<WebState>,
    Path(owner): Path<String>,
    Posted { viewer, form }: Posted,
) -> Result<Response, UiError> {
    let name = form.text("name").unwrap_or("");
    let body = json!({
        "name": name,
        "description": form.get("description").unwrap_or(""),
        "private": form.get("visibility") != Some("public"),
    });
    let answer = web
        .api
        .call(
            &viewer,
            Method::POST,
            &format!("/api/v1/repos/{}", enc(&owner)),
            Some(&body),
        )
        .await?;
    if !answer.status.is_success() {
        let page = render(&web, &viewer, &owner, None, Some(&answer.message())).await;
        return refused(page, &answer);
    }
    Ok(redirect(&format!(
        "{}?notice=created",
        repo_path(&owner, name)
    )))
}
