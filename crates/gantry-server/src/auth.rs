//! Who is calling: the token from `Authorization` (Bearer, HTTP Basic with the token as the
//! password, or cargo's bare token) or `X-Api-Key`, and what it may do.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use base64::Engine;
use gantry_core::{EventType, Privilege};
use gantry_db::{NewEvent, RepoRow, TokenRow};

use crate::app::App;
use crate::error::AppError;

#[derive(Debug, Clone)]
pub(crate) enum Principal {
    Anonymous,
    Token(TokenRow),
}

/// The authenticated principal of a request and where it came from.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    pub principal: Principal,
    pub address: Option<IpAddr>,
}

fn token_from_parts(parts: &Parts) -> Option<String> {
    if let Some(key) = parts.headers.get("x-api-key").and_then(|v| v.to_str().ok()) {
        return Some(key.trim().to_owned());
    }
    let header = parts.headers.get(AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, rest) = header.split_once(' ').unwrap_or(("", header));
    match scheme.to_ascii_lowercase().as_str() {
        "bearer" | "token" => Some(rest.trim().to_owned()),
        "basic" => {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(rest.trim())
                .ok()?;
            let decoded = String::from_utf8(decoded).ok()?;
            let (user, password) = decoded.split_once(':').unwrap_or((&decoded, ""));
            Some(if password.is_empty() { user } else { password }.to_owned())
        }
        // cargo sends the token as the whole header value.
        "" => Some(rest.to_owned()),
        _ => None,
    }
    .filter(|t| !t.is_empty())
}

impl FromRequestParts<Arc<App>> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, AppError> {
        let address = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        let principal = match token_from_parts(parts) {
            None => Principal::Anonymous,
            Some(secret) => match app.db.find_token(&secret).await? {
                Some(token) => Principal::Token(token),
                None => {
                    return Err(AppError::Unauthorized(
                        "the token is invalid, revoked or expired".into(),
                    ))
                }
            },
        };
        Ok(Caller { principal, address })
    }
}

impl Caller {
    /// How the caller is named in events: the token's description and prefix.
    pub(crate) fn actor(&self) -> String {
        match &self.principal {
            Principal::Anonymous => "anonymous".to_owned(),
            Principal::Token(t) => format!("{} ({}…)", t.description, t.prefix),
        }
    }

    pub(crate) fn is_site_admin(&self) -> bool {
        matches!(&self.principal, Principal::Token(t) if t.site_admin != 0)
    }

    pub(crate) fn is_anonymous(&self) -> bool {
        matches!(self.principal, Principal::Anonymous)
    }

    /// A new event attributed to this caller.
    pub(crate) fn event(&self, event_type: EventType) -> NewEvent {
        let mut event = NewEvent::new(event_type, &self.actor());
        event.source_address = self.address.map(|a| a.to_string());
        event
    }

    /// The privilege the caller's token grants on `namespace` (and `repo`, if given).
    pub(crate) fn granted(&self, namespace: &str, repo: Option<&str>) -> Option<Privilege> {
        let Principal::Token(token) = &self.principal else {
            return None;
        };
        if token.site_admin != 0 {
            return Some(Privilege::Admin);
        }
        if token.namespace.as_deref() != Some(namespace) {
            return None;
        }
        match (&token.repository, repo) {
            (None, _) => Privilege::parse(&token.privilege),
            (Some(scoped), Some(repo)) if scoped == repo => Privilege::parse(&token.privilege),
            _ => None,
        }
    }

    /// Whether the caller may see the repository at all.
    pub(crate) fn can_read(&self, repo: &RepoRow) -> bool {
        !repo.is_private() || self.granted(&repo.namespace, Some(&repo.name)).is_some()
    }

    /// Requires `needed` on `repo`. A caller who may not read a private repository learns
    /// nothing of it (404); an anonymous caller is asked to authenticate (401); anyone else
    /// lacks the privilege (403).
    pub(crate) fn require(&self, repo: &RepoRow, needed: Privilege) -> Result<(), AppError> {
        let granted = self.granted(&repo.namespace, Some(&repo.name));
        if granted.is_some_and(|g| g.covers(needed)) {
            return Ok(());
        }
        if !repo.is_private() && needed == Privilege::Read {
            return Ok(());
        }
        if !self.can_read(repo) {
            return Err(not_found_repo(&repo.namespace, &repo.name));
        }
        if self.is_anonymous() {
            return Err(AppError::Unauthorized(format!(
                "authentication required to {needed}-access {}",
                repo.slug()
            )));
        }
        Err(AppError::Forbidden(format!(
            "this token lacks the {needed} privilege on {}",
            repo.slug()
        )))
    }

    /// Requires `needed` on the namespace as a whole (repository creation, tokens).
    pub(crate) fn require_namespace(
        &self,
        namespace: &str,
        needed: Privilege,
    ) -> Result<(), AppError> {
        if self
            .granted(namespace, None)
            .is_some_and(|g| g.covers(needed))
        {
            return Ok(());
        }
        if self.is_anonymous() {
            return Err(AppError::Unauthorized("authentication required".into()));
        }
        Err(AppError::Forbidden(format!(
            "this token lacks the {needed} privilege on namespace {namespace}"
        )))
    }
}

pub(crate) fn not_found_repo(owner: &str, repo: &str) -> AppError {
    AppError::NotFound(format!("repository {owner}/{repo} not found"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(header: &str) -> Parts {
        let (parts, ()) = axum::http::Request::builder()
            .header(AUTHORIZATION, header)
            .body(())
            .unwrap_or_default()
            .into_parts();
        parts
    }

    #[test]
    fn reads_every_auth_style() {
        let basic = base64::engine::general_purpose::STANDARD.encode("user:gty_secret");
        assert_eq!(
            token_from_parts(&parts("Bearer gty_a")).as_deref(),
            Some("gty_a")
        );
        assert_eq!(
            token_from_parts(&parts(&format!("Basic {basic}"))).as_deref(),
            Some("gty_secret")
        );
        assert_eq!(
            token_from_parts(&parts("gty_raw")).as_deref(),
            Some("gty_raw")
        );
        assert_eq!(token_from_parts(&parts("Digest xyz")), None);
        assert_eq!(token_from_parts(&parts("Basic !!!")), None);
    }
}
