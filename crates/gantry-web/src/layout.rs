//! The page shell: header with navigation and sign-in state, breadcrumbs, the page's body,
//! and the headers every page answers with (a strict content security policy, no caching).

use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, SET_COOKIE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::{html, Markup, DOCTYPE};

use crate::session::Viewer;

/// Pages load only their own stylesheet and script, post forms only to this site, and are
/// never framed. Charts are inline SVG markup, which needs no source.
pub(crate) const CSP: &str = "default-src 'none'; style-src 'self'; script-src 'self'; \
     img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; \
     base-uri 'none'";

/// One step of the breadcrumb trail: (label, link).
pub(crate) type Crumbs<'a> = &'a [(&'a str, String)];

/// Fixed messages a redirect after an action may ask a page to show (by code, so a link
/// cannot make a page say something of its choosing).
pub(crate) fn notice_text(code: &str) -> Option<&'static str> {
    Some(match code {
        "quarantined" => "The package is quarantined: every protocol refuses its downloads.",
        "released" => "The package is released from quarantine.",
        "rescanned" => "A new vulnerability scan is queued.",
        "resynced" => "The package is being processed again.",
        "yanked" => "The package is yanked.",
        "unyanked" => "The package is no longer yanked.",
        "deleted" => "The package is deleted (restorable until garbage collection).",
        "restored" => "The package is restored.",
        "promoted" => "Promotion done.",
        "uploaded" => "Upload received; the package is being processed.",
        "created" => "Created.",
        "saved" => "Saved.",
        "deleted-item" => "Deleted.",
        "pinged" => "Ping sent; its delivery is listed below.",
        "redelivered" => "The delivery is queued again.",
        "revoked" => "Revoked.",
        "signed-out" => "You are signed out.",
        "tags" => "Tags updated.",
        _ => return None,
    })
}

fn shell(viewer: Option<&Viewer>, title: &str, crumbs: Crumbs<'_>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Gantry" }
                // No favicon request (it would be a 404 in every console).
                link rel="icon" href="data:,";
                link rel="stylesheet" href="/ui/-/static/style.css";
                script src="/ui/-/static/app.js" defer {}
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    a.brand href="/ui/" { "Gantry" }
                    nav aria-label="Main" {
                        a href="/ui/" { "Namespaces" }
                        @if viewer.is_some_and(Viewer::signed_in) {
                            a href="/ui/-/tokens" { "Tokens" }
                        }
                        // Only the site's admins may list its users (the API's rule).
                        @if viewer.is_some_and(|v| v.caller.is_site_admin()) {
                            a href="/ui/-/users" { "Users" }
                        }
                    }
                    div.who {
                        @match viewer {
                            Some(v) if v.signed_in() => {
                                span.actor { (v.actor()) }
                                form method="post" action="/ui/-/sign-out" {
                                    input type="hidden" name="csrf" value=(v.csrf_token());
                                    button.link type="submit" { "Sign out" }
                                }
                            }
                            _ => { a href="/ui/-/sign-in" { "Sign in" } }
                        }
                    }
                }
                @if !crumbs.is_empty() {
                    nav.crumbs aria-label="Breadcrumb" {
                        ol {
                            @for (label, link) in crumbs {
                                li { a href=(link) { (label) } }
                            }
                        }
                    }
                }
                main #main {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

fn respond(status: StatusCode, markup: Markup, cookie: Option<HeaderValue>) -> Response {
    let mut response = (status, markup.into_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    if let Some(cookie) = cookie {
        headers.append(SET_COOKIE, cookie);
    }
    response
}

/// A whole page for `viewer`.
pub(crate) fn page(viewer: &Viewer, title: &str, crumbs: Crumbs<'_>, body: Markup) -> Response {
    respond(
        StatusCode::OK,
        shell(Some(viewer), title, crumbs, body),
        viewer.pre_set_cookie(),
    )
}

/// A page with a status other than 200 (a form shown again with its error).
pub(crate) fn page_with_status(
    viewer: &Viewer,
    status: StatusCode,
    title: &str,
    body: Markup,
) -> Response {
    respond(
        status,
        shell(Some(viewer), title, &[], body),
        viewer.pre_set_cookie(),
    )
}

pub(crate) fn error_page(status: StatusCode, message: &str, hint: Option<&str>) -> Response {
    let title = status.canonical_reason().unwrap_or("Error");
    let body = html! {
        p.error role="alert" { (message) }
        @if let Some(hint) = hint { p { (hint) } }
        p {
            a href="/ui/" { "Back to the namespaces" }
            @if status == StatusCode::UNAUTHORIZED || status == StatusCode::NOT_FOUND {
                " · " a href="/ui/-/sign-in" { "Sign in" }
            }
        }
    };
    respond(status, shell(None, title, &[], body), None)
}
