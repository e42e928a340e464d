//! A namespace: its repositories the caller may see, and a form to create one.

use axum::http::Method;
use axum::response::Response;
use gantry_core::Repository;
use maud::html;
use serde_json::json;

use crate::context::{Ctx, Flash, Submitted};
use crate::error::UiError;
use crate::place::OwnerAt;
use crate::view::{form_panel, formats, redirect, repo_path, size};

pub(crate) async fn page(cx: Ctx<OwnerAt>, flash: Flash) -> Result<Response, UiError> {
    render(&cx, flash).await
}

async fn render(cx: &Ctx<OwnerAt>, flash: Flash) -> Result<Response, UiError> {
    let repos: Vec<Repository> = cx.get(&cx.at.api("repos")).await?;
    let viewer = &cx.viewer;
    let total: i64 = repos.iter().map(|r| r.package_count).sum();
    let bytes: i64 = repos.iter().filter_map(|r| r.size).sum();
    let body = html! {
        (flash)
        p.actions {
            a href=(cx.at.ui("/-/security")) { "Security" }
            a href=(cx.at.ui("/-/policies")) { "Policies" }
            a href=(cx.at.ui("/-/audit")) { "Audit log" }
            a href=(cx.at.ui("/-/access")) { "Access" }
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
            (form_panel(viewer, &cx.at.ui(""), "Create a repository", html! {
                label { "Name" input name="name" required pattern="[a-z0-9][a-z0-9._\\-]*" maxlength="64"; }
                label { "Description" input name="description" maxlength="200"; }
                label { "Visibility"
                    select name="visibility" {
                        option value="private" selected { "private" }
                        option value="public" { "public" }
                    }
                }
                button type="submit" { "Create" }
            }))
        }
    };
    Ok(cx.page(cx.at.owner(), body))
}

pub(crate) async fn create_repo(
    Submitted { cx, form }: Submitted<OwnerAt>,
) -> Result<Response, UiError> {
    let name = form.text("name").unwrap_or("");
    let body = json!({
        "name": name,
        "description": form.get("description").unwrap_or(""),
        "private": form.get("visibility") != Some("public"),
    });
    let path = cx.at.api("repos");
    cx.send(Method::POST, &path, Some(&body), |f| render(&cx, f))
        .await?;
    let to = format!("{}?notice=created", repo_path(cx.at.owner(), name));
    Ok(redirect(&to))
}
