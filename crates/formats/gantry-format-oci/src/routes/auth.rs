//! The authentication flow registry clients follow: a 401 with `WWW-Authenticate: Bearer
//! realm=…,service=…,scope=…`, then a token from the realm. Gantry's tokens are already
//! bearer tokens, so the token endpoint hands a client back the token it authenticated with
//! (Basic, any user name, the token as the password); an anonymous client gets a marker that
//! means "no credentials" and reads what is public. HTTP Basic is accepted on every route too.

use std::sync::Arc;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::header::{AUTHORIZATION, HOST};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use gantry_protocol::access::Op;
use gantry_protocol::app::App;
use gantry_protocol::auth::{Caller, Principal};
use gantry_protocol::error::AppError;
use serde_json::json;

use super::error::{Code, OciError};

/// The bearer token of anonymous clients: not a Gantry token, and never one (those start
/// with `gty_`).
const ANONYMOUS_TOKEN: &str = "anonymous";
/// The `service` of the challenge.
const SERVICE: &str = "gantry";

pub(crate) fn anonymous() -> Caller {
    Caller {
        principal: Principal::Anonymous,
        owner: None,
        grants: Vec::new(),
        address: None,
    }
}

/// Drops the anonymous marker from `Authorization`; whether it was there.
pub(crate) fn forget_anonymous_token(headers: &mut HeaderMap) -> bool {
    let anonymous = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .is_some_and(|(scheme, token)| {
            scheme.eq_ignore_ascii_case("bearer") && token.trim() == ANONYMOUS_TOKEN
        });
    if anonymous {
        headers.remove(AUTHORIZATION);
    }
    anonymous
}

/// Where clients reached this server: the configured public URL, else the request's host.
fn base_url(app: &App, headers: &HeaderMap) -> String {
    if let Some(url) = &app.config.public_url {
        return url.trim_end_matches('/').to_owned();
    }
    match headers.get(HOST).and_then(|v| v.to_str().ok()) {
        Some(host) if host.bytes().all(|b| b.is_ascii_graphic()) => format!("http://{host}"),
        _ => app.base_url(),
    }
}

/// The bearer challenge for `name` (empty: the registry as a whole).
pub(crate) fn challenge(app: &App, headers: &HeaderMap, name: &str, op: Op) -> String {
    let realm = format!("{}/v2/token", base_url(app, headers));
    let mut value = format!("Bearer realm=\"{realm}\",service=\"{SERVICE}\"");
    if !name.is_empty() {
        let actions = match op {
            Op::Read => "pull",
            Op::Delete => "delete",
            _ => "pull,push",
        };
        value.push_str(&format!(",scope=\"repository:{name}:{actions}\""));
    }
    value
}

/// A refusal in the registry's shape. An anonymous caller is always asked to authenticate
/// (with the challenge), whether the repository is private or missing: clients send
/// credentials only when challenged, and the answer tells nothing about what exists.
pub(crate) fn refusal(
    app: &App,
    headers: &HeaderMap,
    caller: &Caller,
    name: &str,
    op: Op,
    err: AppError,
) -> OciError {
    let mut e = OciError::from(err);
    if e.status == StatusCode::UNAUTHORIZED
        || (caller.is_anonymous() && e.status == StatusCode::NOT_FOUND)
    {
        if e.status == StatusCode::NOT_FOUND {
            e.message = format!("authentication required to {} {name}", op.key());
        }
        e.status = StatusCode::UNAUTHORIZED;
        e.code = Code::Unauthorized;
        e.challenge = Some(challenge(app, headers, name, op));
    }
    e
}

async fn caller_of(
    app: &Arc<App>,
    request: Request,
) -> (Result<Caller, AppError>, HeaderMap, bool) {
    let (mut parts, _) = request.into_parts();
    let marker = forget_anonymous_token(&mut parts.headers);
    let caller = Caller::from_request_parts(&mut parts, app).await;
    (caller, parts.headers, marker)
}

/// `GET /v2/`: 200 to a client that authenticated (or took the anonymous token), else the
/// challenge, so that clients log in before anything else.
pub(crate) async fn version_check(State(app): State<Arc<App>>, request: Request) -> Response {
    let (caller, headers, marker) = caller_of(&app, request).await;
    let unauthorized =
        |err: AppError| refusal(&app, &headers, &anonymous(), "", Op::Read, err).into_response();
    match caller {
        Ok(caller) if marker || !caller.is_anonymous() => {
            let mut response = axum::Json(json!({})).into_response();
            response.headers_mut().insert(
                "docker-distribution-api-version",
                axum::http::HeaderValue::from_static("registry/2.0"),
            );
            response
        }
        Ok(_) => unauthorized(AppError::Unauthorized("authentication required".into())),
        Err(err) => unauthorized(err),
    }
}

/// `GET /v2/token`: the bearer token for the credentials sent (see the module's notes).
pub(crate) async fn token(State(app): State<Arc<App>>, request: Request) -> Response {
    let secret = presented_secret(request.headers());
    let (caller, headers, _) = caller_of(&app, request).await;
    let caller = match caller {
        Ok(caller) => caller,
        Err(err) => {
            return refusal(&app, &headers, &anonymous(), "", Op::Read, err).into_response()
        }
    };
    let token = match (caller.is_anonymous(), secret) {
        (false, Some(secret)) => secret,
        _ => ANONYMOUS_TOKEN.to_owned(),
    };
    axum::Json(json!({"token": token, "access_token": token, "expires_in": 3600})).into_response()
}

/// The Gantry token in a request (the toolkit's reading of every credential style), unless it
/// is the anonymous marker.
fn presented_secret(headers: &HeaderMap) -> Option<String> {
    gantry_protocol::auth::presented_token(headers).filter(|secret| secret != ANONYMOUS_TOKEN)
}
