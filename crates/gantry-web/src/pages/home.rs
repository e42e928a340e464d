//! The start page: the namespaces the caller holds grants in (every namespace for a site
//! admin), and a way to open any namespace by name (public repositories need no grant).

use std::collections::BTreeSet;

use axum::extract::Query;
use axum::response::Response;
use maud::html;
use serde::Deserialize;

use crate::api::enc;
use crate::context::{Ctx, Flash};
use crate::error::UiError;
use crate::place::Site;
use crate::view::redirect;

/// A site admin's list is cut here; the "open" form reaches the rest.
const MAX_LISTED: i64 = 500;

async fn namespaces(cx: &Ctx<Site>) -> Result<BTreeSet<String>, UiError> {
    let viewer = &cx.viewer;
    let mut names: BTreeSet<String> = viewer
        .caller
        .grants
        .iter()
        .map(|(ns, _, _)| ns.clone())
        .collect();
    if let Some(ns) = viewer.caller.token().and_then(|t| t.namespace.clone()) {
        names.insert(ns);
    }
    if viewer.caller.is_site_admin() {
        let rows: Vec<(String,)> =
            sqlx::query_as("SELECT name FROM namespaces ORDER BY name LIMIT $1")
                .bind(MAX_LISTED)
                .fetch_all(cx.web.app.db.read_pool())
                .await
                .map_err(|e| UiError::Internal(e.to_string()))?;
        names.extend(rows.into_iter().map(|(n,)| n));
    }
    Ok(names)
}

pub(crate) async fn page(cx: Ctx<Site>, flash: Flash) -> Result<Response, UiError> {
    let names = namespaces(&cx).await?;
    let viewer = &cx.viewer;
    let body = html! {
        (flash)
        @if !viewer.signed_in() {
            p { "You are browsing as a visitor: only public repositories show. "
                a href="/ui/-/sign-in" { "Sign in" } " to see yours." }
        }
        @if names.is_empty() {
            p.muted { "No namespaces to list." }
        } @else {
            ul.cards aria-label="Namespaces" {
                @for name in &names {
                    li.card { a href={"/ui/" (enc(name))} { (name) } }
                }
            }
        }
        form.panel method="get" action="/ui/-/go" role="search" {
            div.fields {
                label { "Open a namespace" input name="owner" required placeholder="namespace"; }
                button type="submit" { "Open" }
            }
        }
    };
    Ok(cx.page("Namespaces", body))
}

#[derive(Deserialize)]
pub(crate) struct GoQuery {
    owner: Option<String>,
}

pub(crate) async fn go(Query(query): Query<GoQuery>) -> Response {
    match query
        .owner
        .as_deref()
        .map(str::trim)
        .filter(|o| !o.is_empty())
    {
        Some(owner) => redirect(&format!("/ui/{}", enc(owner))),
        None => redirect("/ui/"),
    }
}
