//! Small pieces many pages share: the CSRF field, notices, badges, sizes, times, redirects.

use axum::http::header::LOCATION;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::{html, Markup};

use crate::api::enc;
use crate::layout::notice_text;
use crate::session::Viewer;

/// The query of a page that a redirect may ask to show a notice (`?notice=CODE`).
#[derive(serde::Deserialize)]
pub(crate) struct NoticeQuery {
    pub(crate) notice: Option<String>,
}

pub(crate) fn csrf_field(viewer: &Viewer) -> Markup {
    html! { input type="hidden" name="csrf" value=(viewer.csrf_token()); }
}

/// A panel with a form that makes something: its heading, this browser's CSRF token, and
/// its fields (the submit button among them).
pub(crate) fn form_panel(viewer: &Viewer, action: &str, heading: &str, fields: Markup) -> Markup {
    html! {
        form.panel method="post" action=(action) {
            h2 { (heading) }
            (csrf_field(viewer))
            div.fields { (fields) }
        }
    }
}

/// The notice a redirect asked for, if its code is one of the fixed ones.
pub(crate) fn notice(code: Option<&str>) -> Markup {
    html! {
        @if let Some(text) = code.and_then(notice_text) {
            p.notice role="status" { (text) }
        }
    }
}

pub(crate) fn error_box(message: Option<&str>) -> Markup {
    html! {
        @if let Some(message) = message {
            p.error role="alert" { (message) }
        }
    }
}

/// `303 See Other` to `to` (a path of this site), after a form's action.
pub(crate) fn redirect(to: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(to) {
        response.headers_mut().insert(LOCATION, value);
    }
    response
}

pub(crate) fn size(bytes: i64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    #[expect(clippy::cast_precision_loss, reason = "a size shown rounded")]
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

pub(crate) fn severity(level: Option<&str>) -> Markup {
    let level = level.unwrap_or("none");
    html! { span class={"badge sev-" (level)} { (level) } }
}

pub(crate) fn badge(kind: &str, text: &str) -> Markup {
    html! { span class={"badge " (kind) "-" (text)} { (text.replace('_', " ")) } }
}

/// An RFC 3339 time, shown to the minute, with the full value for machines.
pub(crate) fn when(rfc3339: &str) -> Markup {
    let short = rfc3339.get(..16).unwrap_or(rfc3339).replace('T', " ");
    html! { time datetime=(rfc3339) { (short) } }
}

pub(crate) fn repo_path(owner: &str, repo: &str) -> String {
    format!("/ui/{}/{}", enc(owner), enc(repo))
}

pub(crate) fn package_path(owner: &str, repo: &str, slug: &str) -> String {
    format!("/ui/{}/{}/{}", enc(owner), enc(repo), enc(slug))
}

/// `/ui/OWNER/REPO/SLUG` of a package whose repository is `OWNER/REPO`.
pub(crate) fn package_link(repository: &str, slug: &str) -> String {
    match repository.split_once('/') {
        Some((owner, repo)) => package_path(owner, repo, slug),
        None => "/ui/".into(),
    }
}

/// A repository's formats with their package counts and sizes ("python 3 · 1.2 MiB"), from
/// the counters the API returns with it.
pub(crate) fn formats(repository: &gantry_core::Repository) -> Markup {
    html! {
        @for (i, f) in repository.formats.iter().flatten().enumerate() {
            @if i > 0 { ", " }
            span.nowrap { (f.format) " " (f.package_count) " · " (size(f.size)) }
        }
    }
}
