//! Sign-in with a user's password (through the API's login, which mints a token for the
//! session) or with an existing token; sign-out ends the session and revokes a minted token.

use axum::extract::{Query, State};
use axum::http::header::SET_COOKIE;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::html;
use serde::Deserialize;
use serde_json::json;

use crate::error::UiError;
use crate::form::Posted;
use crate::layout;
use crate::session::{random_secret, Viewer, SESSION_HOURS};
use crate::view::{csrf_field, error_box, notice, redirect};
use crate::{store, WebState};

#[derive(Deserialize)]
pub(crate) struct SignInQuery {
    next: Option<String>,
    notice: Option<String>,
}

/// Where to go after signing in: a page of this interface only (no open redirect).
fn safe_next(next: Option<&str>) -> String {
    next.filter(|n| n.starts_with("/ui/") && !n.starts_with("//") && !n.contains('\\'))
        .unwrap_or("/ui/")
        .to_owned()
}

fn render(
    viewer: &Viewer,
    next: &str,
    error: Option<&str>,
    status: StatusCode,
    code: Option<&str>,
) -> Response {
    let body = html! {
        (notice(code))
        (error_box(error))
        div.fields {
            form.panel method="post" action="/ui/-/sign-in" {
                h2 { "With your password" }
                (csrf_field(viewer))
                input type="hidden" name="next" value=(next);
                div.fields {
                    label { "User name" input name="username" autocomplete="username" required; }
                    label { "Password" input type="password" name="password" autocomplete="current-password" required; }
                    button type="submit" { "Sign in" }
                }
            }
            form.panel method="post" action="/ui/-/sign-in" {
                h2 { "With a token" }
                (csrf_field(viewer))
                input type="hidden" name="next" value=(next);
                div.fields {
                    label { "API token" input type="password" name="token" autocomplete="off" required; }
                    button type="submit" { "Sign in" }
                }
            }
        }
        p.muted { "A session lasts " (SESSION_HOURS) " hours, and ends after two idle hours. It has the privileges of your account or token, exactly as the API grants them." }
    };
    layout::page_with_status(viewer, status, "Sign in", body)
}

pub(crate) async fn form(viewer: Viewer, Query(query): Query<SignInQuery>) -> Response {
    if viewer.signed_in() {
        return redirect(&safe_next(query.next.as_deref()));
    }
    let next = safe_next(query.next.as_deref());
    render(
        &viewer,
        &next,
        None,
        StatusCode::OK,
        query.notice.as_deref(),
    )
}

#[derive(Deserialize)]
struct Minted {
    token: String,
    id: i64,
}

pub(crate) async fn submit(
    State(web): State<WebState>,
    Posted { viewer, form }: Posted,
) -> Result<Response, UiError> {
    let next = safe_next(form.get("next"));
    // (token id, whether the session minted it), or the API's refusal.
    let outcome = if let Some(token) = form.text("token") {
        let answer = web
            .api
            .call_with_token(&viewer, token, Method::GET, "/api/v1/whoami")
            .await?;
        if answer.status.is_success() {
            match web.app.db.find_token(token).await? {
                Some(row) => Ok((row.id, false)),
                None => Err((
                    StatusCode::UNAUTHORIZED,
                    "the token is invalid, revoked or expired".to_owned(),
                )),
            }
        } else {
            Err((answer.status, answer.message()))
        }
    } else {
        let body = json!({
            "username": form.get("username").unwrap_or(""),
            "password": form.get("password").unwrap_or(""),
            "expires_in_days": 1,
            "description": "web session",
        });
        let answer = web
            .api
            .call(&viewer, Method::POST, "/api/v1/login", Some(&body))
            .await?;
        if answer.status.is_success() {
            let minted: Minted = answer.json()?;
            // The secret is not kept: the session resolves the token by id.
            drop(minted.token);
            Ok((minted.id, true))
        } else {
            Err((answer.status, answer.message()))
        }
    };
    let (token_id, owns) = match outcome {
        Ok(found) => found,
        Err((status, message)) => return Ok(render(&viewer, &next, Some(&message), status, None)),
    };
    let secret = random_secret();
    let now = gantry_core::time::now_millis();
    store::create(
        &web.app.db,
        &secret,
        token_id,
        owns,
        now,
        now + SESSION_HOURS * 3_600_000,
    )
    .await?;
    let mut response = redirect(&next);
    if let Some(cookie) = viewer.session_set_cookie(&secret) {
        response.headers_mut().append(SET_COOKIE, cookie);
    }
    Ok(response)
}

pub(crate) async fn sign_out(
    State(web): State<WebState>,
    Posted { viewer, .. }: Posted,
) -> Result<Response, UiError> {
    let now = gantry_core::time::now_millis();
    if let Some(secret) = &viewer.session {
        if let Some(row) = store::find(&web.app.db, secret, now).await? {
            if row.owns_token != 0 {
                let path = format!("/api/v1/tokens/{}", row.token_id);
                let answer = web.api.call(&viewer, Method::DELETE, &path, None).await?;
                if !answer.status.is_success() {
                    tracing::warn!(status = %answer.status, "revoking a session's token failed");
                }
            }
        }
        store::delete(&web.app.db, secret, now).await?;
    }
    let mut response = redirect("/ui/-/sign-in?notice=signed-out");
    if let Some(cookie) = viewer.session_clear_cookie() {
        response.headers_mut().append(SET_COOKIE, cookie);
    }
    Ok(response.into_response())
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn sign_in_returns_only_to_pages_of_the_interface() {
        assert_eq!(safe_next(Some("/ui/acme/dev")), "/ui/acme/dev");
        for hostile in [
            "https://attacker.invalid/",
            "//attacker.invalid/ui/",
            "/ui\\..\\x",
            "/api/v1/tokens",
            "javascript:alert(1)",
        ] {
            assert_eq!(safe_next(Some(hostile)), "/ui/", "{hostile}");
        }
        assert_eq!(safe_next(None), "/ui/");
    }
}
