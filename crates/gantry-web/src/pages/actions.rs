//! A package's actions: each form posts here and becomes one API request as the signed-in
//! caller; copy and move go through the promotion gate's dry run first ([`super::promote`]).

use axum::extract::Path;
use axum::http::Method;
use axum::response::Response;
use gantry_core::{Package, PackageState};
use maud::{html, Markup};
use serde_json::json;

use crate::api::enc;
use crate::context::Submitted;
use crate::error::UiError;
use crate::place::{Action, RepoAt, Slug};
use crate::session::Viewer;
use crate::view::{csrf_field, package_path, redirect};

/// The API's path of the package `slug` in the repository at `at`.
pub(crate) fn api(at: &RepoAt, slug: &str) -> String {
    format!("{}/{}", at.api("packages"), enc(slug))
}

fn button(viewer: &Viewer, path: &str, action: &str, label: &str, confirm: Option<&str>) -> Markup {
    html! {
        form.inline method="post" action={(path) "/" (action)} data-confirm=[confirm] {
            (csrf_field(viewer))
            button.secondary[confirm.is_none()].danger[confirm.is_some()] type="submit" { (label) }
        }
    }
}

/// The action forms of a package page. Shown to anyone signed in: the API decides.
pub(crate) fn panel(viewer: &Viewer, owner: &str, repo: &str, p: &Package) -> Markup {
    if !viewer.signed_in() {
        return html! {};
    }
    let path = package_path(owner, repo, &p.slug_perm);
    let deleted = p.state == PackageState::Deleted;
    html! {
        h2 { "Actions" }
        @if !deleted {
            form.panel method="post" action={(path) "/promote"} {
                (csrf_field(viewer))
                div.fields {
                    label { "Destination" input name="destination" required placeholder="staging or owner/repo"; }
                    label { "Mode" select name="mode" { option value="copy" { "copy" } option value="move" { "move" } } }
                    button type="submit" { "Check the gate" }
                }
            }
        }
        @if !deleted {
            form.panel method="post" action={(path) "/tags"} {
                (csrf_field(viewer))
                div.fields {
                    label { "Add tags (comma-separated)" input name="add"; }
                    label { "Remove tags" input name="remove" placeholder=(p.tags.join(", ")); }
                    button.secondary type="submit" { "Update tags" }
                }
            }
        }
        div.actions {
            @if deleted {
                (button(viewer, &path, "restore", "Restore", None))
            } @else {
                @if p.state == PackageState::Quarantined {
                    (button(viewer, &path, "release", "Release from quarantine", None))
                } @else {
                    (button(viewer, &path, "quarantine", "Quarantine", Some("Quarantine this package? Every protocol will refuse its downloads.")))
                }
                (button(viewer, &path, "rescan", "Rescan", None))
                (button(viewer, &path, "resync", "Resync", None))
                @if p.is_yanked {
                    (button(viewer, &path, "unyank", "Unyank", None))
                } @else {
                    (button(viewer, &path, "yank", "Yank", Some("Yank this package? Resolvers will skip it.")))
                }
                (button(viewer, &path, "delete", "Delete", Some("Delete this package? It can be restored until garbage collection.")))
            }
        }
    }
}

pub(crate) async fn act(
    Path(Slug { slug }): Path<Slug>,
    Path(Action { action }): Path<Action>,
    Submitted { cx, form }: Submitted<RepoAt>,
) -> Result<Response, UiError> {
    if action == "promote" || action == "promote-confirm" {
        return super::promote::single(&cx, &slug, &action, &form).await;
    }
    let split = |field: &str| -> Vec<String> {
        form.get(field)
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect()
    };
    let post = Method::POST;
    let (method, tail, body, notice) = match action.as_str() {
        "tags" => {
            let body = json!({"add": split("add"), "remove": split("remove")});
            (post, "/tags", Some(body), "tags")
        }
        "quarantine" => (
            post,
            "/quarantine",
            Some(json!({"release": false})),
            "quarantined",
        ),
        "release" => (
            post,
            "/quarantine",
            Some(json!({"release": true})),
            "released",
        ),
        "rescan" => (post, "/scan", None, "rescanned"),
        "resync" => (post, "/resync", None, "resynced"),
        "yank" => (post, "/yank", Some(json!({"yanked": true})), "yanked"),
        "unyank" => (post, "/yank", Some(json!({"yanked": false})), "unyanked"),
        "delete" => (Method::DELETE, "", None, "deleted"),
        "restore" => (post, "/restore", None, "restored"),
        _ => {
            return Err(UiError::BadRequest(format!(
                "unknown action '{}'",
                action.chars().take(32).collect::<String>()
            )))
        }
    };
    let path = format!("{}{tail}", api(&cx.at, &slug));
    cx.call(method, &path, body.as_ref()).await?.accepted()?;
    let back = if action == "delete" {
        cx.at.ui("")
    } else {
        package_path(cx.at.owner(), cx.at.repo(), &slug)
    };
    Ok(redirect(&format!("{back}?notice={notice}")))
}
