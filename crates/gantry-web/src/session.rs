//! Who is looking at a page. A session cookie (a random secret; the database keeps its
//! sha256) names an API token; the caller is resolved from that token exactly as the API
//! resolves it from a header, so a revoked or expired token ends the session at once.
//! Sessions expire after [`SESSION_HOURS`], or [`IDLE_MINUTES`] without a request.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header::{AUTHORIZATION, COOKIE, HOST};
use axum::http::request::Parts;
use axum::http::HeaderValue;
use gantry_protocol::auth::{Caller, Principal};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::error::UiError;
use crate::{store, WebState};

pub(crate) const SESSION_HOURS: i64 = 12;
pub(crate) const IDLE_MINUTES: i64 = 120;
/// How often a busy session's last request time is written back.
const TOUCH_EVERY_MS: i64 = 60_000;

/// The browser behind a request: its caller (anonymous or a session's), and what forms and
/// cookies need.
pub(crate) struct Viewer {
    pub(crate) caller: Caller,
    /// The session cookie's secret, when signed in.
    pub(crate) session: Option<String>,
    /// What this browser's CSRF tokens derive from: the session, or before sign-in a
    /// pre-session cookie.
    csrf_key: Option<String>,
    /// A pre-session secret to set as a cookie with this answer.
    pub(crate) new_pre: Option<String>,
    /// Cookies get `Secure` (and the `__Host-` prefix) behind TLS.
    pub(crate) secure: bool,
    pub(crate) host: Option<HeaderValue>,
    pub(crate) peer: Option<ConnectInfo<SocketAddr>>,
    /// `X-Forwarded-For`, for API requests that resolve their caller themselves (sign-in).
    pub(crate) forwarded: Vec<HeaderValue>,
    /// The request did not come from another site (by `Sec-Fetch-Site` and `Origin`).
    pub(crate) same_origin: bool,
    /// The caller came from an `Authorization: Bearer` header (a script, the access
    /// matrix), not from a cookie: a browser never sends such a header on its own, so
    /// its forms need no CSRF token.
    by_header: bool,
}

pub(crate) fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

fn cookie<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts
        .headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
        .filter(|v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// `scheme://host[:port]` without the scheme.
fn authority(url: &str) -> &str {
    url.split_once("://")
        .map_or("", |(_, rest)| rest.split('/').next().unwrap_or(""))
}

/// Whether the request came from this site: `Sec-Fetch-Site` says so (when sent), and an
/// `Origin` (when sent) names this server as the browser reached it: the `Host`, the host a
/// proxy forwarded, or the configured public URL (a proxy may rewrite `Host`).
fn same_origin(parts: &Parts, public_url: Option<&str>) -> bool {
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = header("sec-fetch-site") {
        if !matches!(site, "same-origin" | "none") {
            return false;
        }
    }
    let Some(origin) = header("origin") else {
        return true;
    };
    let origin = authority(origin);
    let ours = [
        header(HOST.as_str()),
        header("x-forwarded-host"),
        public_url.map(authority),
    ];
    !origin.is_empty()
        && ours
            .into_iter()
            .flatten()
            .any(|host| host.eq_ignore_ascii_case(origin))
}

impl Viewer {
    pub(crate) fn signed_in(&self) -> bool {
        self.session.is_some() || self.by_header
    }

    /// The token every form of this browser carries.
    pub(crate) fn csrf_token(&self) -> String {
        self.csrf_key
            .as_deref()
            .map(|key| {
                let mut hasher = Sha256::new();
                hasher.update(b"gantry-web-csrf\0");
                hasher.update(key.as_bytes());
                hex::encode(hasher.finalize())
            })
            .unwrap_or_default()
    }

    /// Who the pages say is signed in.
    pub(crate) fn actor(&self) -> String {
        match (&self.caller.principal, &self.caller.owner) {
            (Principal::Anonymous, _) => "anonymous".into(),
            (_, Some(owner)) => owner.reference(),
            (Principal::Token(t), None) => format!("{} ({}…)", t.description, t.prefix),
        }
    }

    pub(crate) fn session_cookie_name(&self) -> &'static str {
        if self.secure {
            "__Host-gantry_session"
        } else {
            "gantry_session"
        }
    }

    fn pre_cookie_name(secure: bool) -> &'static str {
        if secure {
            "__Host-gantry_pre"
        } else {
            "gantry_pre"
        }
    }

    fn cookie_value(&self, name: &str, value: &str, max_age: i64) -> Option<HeaderValue> {
        let secure = if self.secure { "; Secure" } else { "" };
        HeaderValue::from_str(&format!(
            "{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"
        ))
        .ok()
    }

    pub(crate) fn session_set_cookie(&self, secret: &str) -> Option<HeaderValue> {
        self.cookie_value(self.session_cookie_name(), secret, SESSION_HOURS * 3600)
    }

    pub(crate) fn session_clear_cookie(&self) -> Option<HeaderValue> {
        self.cookie_value(self.session_cookie_name(), "", 0)
    }

    /// The pre-session cookie to set with this answer, if the browser has none yet.
    pub(crate) fn pre_set_cookie(&self) -> Option<HeaderValue> {
        let secret = self.new_pre.as_deref()?;
        self.cookie_value(Self::pre_cookie_name(self.secure), secret, 3600)
    }

    /// Refuses a form without this browser's CSRF token or sent from another site.
    pub(crate) fn check_csrf(&self, token: Option<&str>) -> Result<(), UiError> {
        if self.by_header {
            return Ok(());
        }
        let expected = self.csrf_token();
        let given = token.unwrap_or("");
        let equal = expected.len() == given.len()
            && expected
                .bytes()
                .zip(given.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0;
        if !self.same_origin || expected.is_empty() || !equal || self.new_pre.is_some() {
            return Err(UiError::Csrf);
        }
        Ok(())
    }
}

fn bearer(parts: &Parts) -> bool {
    parts
        .headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.get(..7))
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("bearer "))
}

fn behind_tls(parts: &Parts, public_url: Option<&str>) -> bool {
    public_url.is_some_and(|u| u.starts_with("https://"))
        || parts
            .headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|p| p.eq_ignore_ascii_case("https"))
}

impl FromRequestParts<WebState> for Viewer {
    type Rejection = UiError;

    async fn from_request_parts(parts: &mut Parts, web: &WebState) -> Result<Self, UiError> {
        let app = &web.app;
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().cloned();
        let address = gantry_protocol::auth::request_address(parts, app);
        let forwarded = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .cloned()
            .collect();
        let secure = behind_tls(parts, app.config.public_url.as_deref());
        let mut viewer = Viewer {
            caller: Caller {
                principal: Principal::Anonymous,
                owner: None,
                grants: Vec::new(),
                address,
            },
            session: None,
            csrf_key: None,
            new_pre: None,
            secure,
            host: parts.headers.get(HOST).cloned(),
            peer,
            forwarded,
            same_origin: same_origin(parts, app.config.public_url.as_deref()),
            by_header: false,
        };
        // A bearer token is resolved as the API resolves it (invalid, revoked and expired
        // tokens answer 401; failures count toward the address's limit). Other schemes are
        // ignored: a browser may replay Basic credentials to any request on its own.
        if bearer(parts) {
            viewer.caller = Caller::from_request_parts(parts, app).await?;
            viewer.by_header = true;
            return Ok(viewer);
        }
        let now = gantry_core::time::now_millis();
        let name = viewer.session_cookie_name();
        if let Some(secret) = cookie(parts, name).map(str::to_owned) {
            if let Some(caller) = signed_in_caller(web, &secret, address, now).await? {
                viewer.caller = caller;
                viewer.csrf_key = Some(secret.clone());
                viewer.session = Some(secret);
                return Ok(viewer);
            }
        }
        match cookie(parts, Self::pre_cookie_name(secure)) {
            Some(pre) => viewer.csrf_key = Some(pre.to_owned()),
            None => {
                let pre = random_secret();
                viewer.csrf_key = Some(pre.clone());
                viewer.new_pre = Some(pre);
            }
        }
        Ok(viewer)
    }
}

/// The caller of a live session, touching it; ends sessions that expired, idled out, or
/// whose token is no longer live.
async fn signed_in_caller(
    web: &WebState,
    secret: &str,
    address: Option<std::net::IpAddr>,
    now: i64,
) -> Result<Option<Caller>, UiError> {
    let db = &web.app.db;
    let Some(row) = store::find(db, secret, now).await? else {
        return Ok(None);
    };
    let idle = now - row.last_seen_at > IDLE_MINUTES * 60_000;
    let caller = if idle {
        None
    } else {
        gantry_protocol::auth::caller_for_token_id(&web.app, row.token_id, address).await?
    };
    let Some(caller) = caller else {
        store::delete(db, secret, now).await?;
        return Ok(None);
    };
    if now - row.last_seen_at > TOUCH_EVERY_MS {
        store::touch(db, secret, now).await?;
    }
    Ok(Some(caller))
}

#[cfg(test)]
mod tests {
    use axum::http::Request;

    use super::{cookie, same_origin};

    fn parts(headers: &[(&str, &str)]) -> axum::http::request::Parts {
        let mut builder = Request::builder().uri("/ui/");
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        builder
            .body(())
            .map(|r| r.into_parts().0)
            .unwrap_or_else(|_| unreachable!())
    }

    #[test]
    fn forms_from_other_sites_are_told_apart() {
        let host = ("host", "gantry.example:8080");
        let same = |headers: &[(&str, &str)]| same_origin(&parts(headers), None);
        assert!(same(&[host]));
        assert!(same(&[host, ("origin", "http://gantry.example:8080")]));
        assert!(same(&[host, ("sec-fetch-site", "same-origin")]));
        assert!(!same(&[host, ("origin", "http://other.example")]));
        assert!(!same(&[host, ("origin", "null")]));
        assert!(!same(&[host, ("sec-fetch-site", "cross-site")]));
        assert!(!same(&[host, ("sec-fetch-site", "same-site")]));
        // Behind a proxy that rewrites Host: the forwarded host or the public URL.
        let inner = ("host", "127.0.0.1:8080");
        let origin = ("origin", "https://packages.example");
        assert!(!same(&[inner, origin]));
        assert!(same(&[
            inner,
            origin,
            ("x-forwarded-host", "packages.example")
        ]));
        assert!(same_origin(
            &parts(&[inner, origin]),
            Some("https://packages.example/")
        ));
    }

    #[test]
    fn only_well_formed_secrets_are_read_from_cookies() {
        let secret = "a".repeat(64);
        let line = format!("other=1; gantry_session={secret}");
        let p = parts(&[("cookie", line.as_str())]);
        assert_eq!(cookie(&p, "gantry_session"), Some(secret.as_str()));
        let p = parts(&[("cookie", "gantry_session=short")]);
        assert_eq!(cookie(&p, "gantry_session"), None);
    }
}
