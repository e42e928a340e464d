//! The NuGet v3 protocol at `/{owner}/{repo}/nuget/v3/`: the service index, push and symbol
//! push (`PackagePublish/2.0.0`, `SymbolPackagePublish/4.9.0`), unlist and relist, the flat
//! container (`PackageBaseAddress/3.0.0`), registrations and search.
//!
//! Refusals answer in the shape nuget.exe prints: the HTTP reason phrase carries Gantry's
//! message (`Response status code does not indicate success: 403 (message)`).

use std::sync::Arc;

use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use gantry_db::RepoRow;
use serde::Deserialize;
use serde_json::json;

use crate::error::AppResult;
use crate::render::BaseUrl;
use access::Feed;
use gantry_protocol::extract::op;

mod access;
pub(crate) mod entries;
mod flat;
mod hits;
mod publish;
mod registration;
mod search;

pub(crate) const FORMAT: &str = "nuget";

/// `http://host/{owner}/{repo}/nuget/v3`: the base of every URL the feed hands out.
pub(crate) fn feed(base: &BaseUrl, repo: &RepoRow) -> String {
    format!("{}/{}/{}/nuget/v3", base.0, repo.namespace, repo.name)
}

fn json_response(body: &serde_json::Value) -> Response {
    json_text(body.to_string())
}

fn json_text(body: String) -> Response {
    (
        StatusCode::OK,
        [
            (CONTENT_TYPE, HeaderValue::from_static("application/json")),
            (CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        body,
    )
        .into_response()
}

/// The `{id}` of a package's routes.
#[derive(Deserialize)]
pub(crate) struct IdPath {
    id: String,
}

/// `GET /{owner}/{repo}/nuget/v3/index.json`: the resources a client looks up.
async fn service_index(base: BaseUrl, repo: Feed<op::Read>) -> AppResult<Response> {
    let feed = feed(&base, &repo);
    let mut resources = vec![
        json!({ "@id": format!("{feed}/package/"), "@type": "PackagePublish/2.0.0" }),
        json!({ "@id": format!("{feed}/symbolpackage/"), "@type": "SymbolPackagePublish/4.9.0" }),
        json!({ "@id": format!("{feed}/flat/"), "@type": "PackageBaseAddress/3.0.0" }),
    ];
    // Every registration is SemVer 2 aware and gzip-free, so one URL serves each version of
    // the resource.
    for kind in [
        "RegistrationsBaseUrl",
        "RegistrationsBaseUrl/3.0.0-rc",
        "RegistrationsBaseUrl/3.0.0-beta",
        "RegistrationsBaseUrl/3.4.0",
        "RegistrationsBaseUrl/3.6.0",
        "RegistrationsBaseUrl/Versioned",
    ] {
        resources.push(json!({ "@id": format!("{feed}/registration/"), "@type": kind }));
    }
    for (path, kind) in [
        ("query", "SearchQueryService"),
        ("autocomplete", "SearchAutocompleteService"),
    ] {
        for suffix in ["", "/3.0.0-rc", "/3.0.0-beta", "/3.5.0"] {
            resources.push(
                json!({ "@id": format!("{feed}/{path}"), "@type": format!("{kind}{suffix}") }),
            );
        }
    }
    Ok(json_response(
        &json!({ "version": "3.0.0", "resources": resources }),
    ))
}

/// NuGet: the v3 protocol (push, unlist, flat container, registrations, search), local and
/// from upstream feeds.
pub struct Plugin;

impl crate::plugin::FormatPlugin for Plugin {
    fn format(&self) -> Arc<dyn gantry_formats::Format> {
        Arc::new(crate::pure::NuGet)
    }

    fn routes(&self) -> crate::plugin::RouteSet {
        crate::plugin::RouteSet::new()
            .get("/{owner}/{repo}/nuget/v3/index.json", service_index)
            .put_upload("/{owner}/{repo}/nuget/v3/package/", publish::push)
            .put_upload(
                "/{owner}/{repo}/nuget/v3/symbolpackage/",
                publish::push_symbols,
            )
            .methods_upload(
                "/{owner}/{repo}/nuget/v3/package/{id}/{version}",
                &["DELETE", "POST"],
                publish::unlist_or_relist,
            )
            .get(
                "/{owner}/{repo}/nuget/v3/flat/{id}/index.json",
                flat::versions,
            )
            .file(
                "/{owner}/{repo}/nuget/v3/flat/{id}/{version}/{file}",
                flat::file,
            )
            .get(
                "/{owner}/{repo}/nuget/v3/registration/{id}/{leaf}",
                registration::document,
            )
            .get(
                "/{owner}/{repo}/nuget/v3/registration/{id}/page/{lower}/{upper}",
                registration::page,
            )
            .get("/{owner}/{repo}/nuget/v3/query", search::query)
            .get(
                "/{owner}/{repo}/nuget/v3/autocomplete",
                search::autocomplete,
            )
    }

    /// nuget.exe prints a refusal's reason phrase.
    fn client_shape(&self) -> Option<gantry_protocol::client_error::ClientShape> {
        Some(gantry_protocol::client_error::ClientShape::ReasonPhrase)
    }

    fn has_upstreams(&self) -> bool {
        true
    }
}

/// The lower-cased id of a route, checked (a malformed id is not found, like an unknown one).
pub(crate) fn checked_id(id: &str, repo: &RepoRow) -> AppResult<String> {
    crate::pure::check_id(id).map_err(|_| {
        crate::error::AppError::NotFound(format!(
            "package {} not found in {}",
            gantry_formats::archive::quote(id),
            repo.slug()
        ))
    })?;
    Ok(id.to_lowercase())
}
