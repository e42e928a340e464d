//! Who is calling and what they may do. The token comes from `Authorization` (Bearer, HTTP
//! Basic with the token as the password, or cargo's bare token), `X-Api-Key` or `X-NuGet-ApiKey`. A token
//! belongs to a principal (user or service account; users also inherit their teams' grants)
//! and may narrow it to a scope and privilege; a token without a principal is a standalone
//! scoped token whose scope is its grant. Entitlements are read-only tokens for one
//! repository.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use base64::Engine;
use gantry_core::{EventType, Privilege};
use gantry_db::{NewEvent, PrincipalRow, RepoRow, TokenRow};
use sha2::{Digest, Sha256};

use crate::access::{self, Op};
use crate::app::App;
use crate::caches::Identity;
use crate::error::{AppError, Denial};

pub const ENTITLEMENT: &str = "entitlement";

#[derive(Debug, Clone)]
pub enum Principal {
    Anonymous,
    Token(Box<TokenRow>),
}

/// The authenticated caller of a request and where it came from.
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: Principal,
    /// The principal the token belongs to, if any.
    pub owner: Option<PrincipalRow>,
    /// The owner's grants, own and through teams: (namespace, repository or '', privilege).
    pub grants: Vec<(String, String, Privilege)>,
    pub address: Option<IpAddr>,
}

fn token_from_parts(parts: &Parts) -> Option<String> {
    presented_token(&parts.headers)
}

/// The secret a request presents, in any of the accepted styles (see the module's notes):
/// for protocols that hand the caller's own token back (a registry's token endpoint).
pub fn presented_token(headers: &axum::http::HeaderMap) -> Option<String> {
    // nuget.exe sends its API key as `X-NuGet-ApiKey`.
    let key = headers
        .get("x-api-key")
        .or_else(|| headers.get("x-nuget-apikey"));
    if let Some(key) = key.and_then(|v| v.to_str().ok()) {
        return Some(key.trim().to_owned()).filter(|t| !t.is_empty());
    }
    let header = headers.get(AUTHORIZATION)?.to_str().ok()?.trim();
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
        if let Some(caller) = parts.extensions.get::<Caller>() {
            return Ok(caller.clone());
        }
        let address = request_address(parts, app);
        let mut caller = Caller {
            principal: Principal::Anonymous,
            owner: None,
            grants: Vec::new(),
            address,
        };
        let Some(secret) = token_from_parts(parts) else {
            parts.extensions.insert(caller.clone());
            return Ok(caller);
        };
        // The lookup comes first: a valid token passes even while its address is blocked
        // (CI runners behind one NAT address must not lock each other out). Only failures
        // are limited. A known token's identity usually comes from memory (`caches`).
        let identity = identify(app, &secret).await?;
        let Some(identity) = identity else {
            if let Some(wait) = address.and_then(|a| app.auth_limiter.blocked(a)) {
                return Err(too_many(wait));
            }
            if let Some(wait) = address.and_then(|a| app.auth_limiter.fail(a)) {
                return Err(too_many(wait));
            }
            return Err(caller.deny(
                AppError::Unauthorized("the token is invalid, revoked or expired".into()),
                None,
            ));
        };
        let Identity {
            token,
            owner,
            grants,
        } = Identity::clone(&identity);
        caller.owner = owner;
        caller.grants = grants;
        caller.principal = Principal::Token(Box::new(token));
        parts.extensions.insert(caller.clone());
        Ok(caller)
    }
}

/// The client address of a request: its peer, or behind a trusted proxy the address the
/// proxies forwarded.
pub fn request_address(parts: &Parts, app: &App) -> Option<IpAddr> {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    // Every X-Forwarded-For line, in order: a proxy may add its own line instead of
    // appending to the client's.
    let forwarded: Vec<&str> = parts
        .headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    let forwarded = (!forwarded.is_empty()).then(|| forwarded.join(","));
    access::client_address(peer, forwarded.as_deref(), &app.trusted_proxies)
}

/// The token, principal and grants behind `secret`, from the cache or the database (then
/// kept). Unknown tokens are not cached: they are rare, and a new token must work at once.
async fn identify(app: &App, secret: &str) -> Result<Option<Arc<Identity>>, AppError> {
    let hash: [u8; 32] = Sha256::digest(secret.as_bytes()).into();
    if let Some(identity) = app.caches.caller(&hash, gantry_core::time::now_millis()) {
        return Ok(Some(identity));
    }
    let epoch = app.caches.epoch();
    let Some(token) = app.db.find_token(secret).await? else {
        return Ok(None);
    };
    let identity = Arc::new(identity_of(app, token).await?);
    app.caches.keep_caller(epoch, hash, Arc::clone(&identity));
    Ok(Some(identity))
}

/// The principal and grants behind a live token.
async fn identity_of(app: &App, token: TokenRow) -> Result<Identity, AppError> {
    let (owner, grants) = match token.principal_id {
        Some(principal_id) => (
            app.db.get_principal(principal_id).await?,
            app.db
                .effective_grants(principal_id)
                .await?
                .into_iter()
                .filter_map(|(ns, repo, p)| Privilege::parse(&p).map(|p| (ns, repo, p)))
                .collect(),
        ),
        None => (None, Vec::new()),
    };
    Ok(Identity {
        token,
        owner,
        grants,
    })
}

/// The caller acting with the token `id`, if that token is still live (not revoked, not
/// expired): what a web session holds instead of the token's secret. The privileges are
/// exactly those the token would have on the API.
pub async fn caller_for_token_id(
    app: &App,
    id: i64,
    address: Option<IpAddr>,
) -> Result<Option<Caller>, AppError> {
    let Some(token) = app.db.get_token(id).await? else {
        return Ok(None);
    };
    if !token.is_live(gantry_core::time::now_millis()) {
        return Ok(None);
    }
    let Identity {
        token,
        owner,
        grants,
    } = identity_of(app, token).await?;
    Ok(Some(Caller {
        principal: Principal::Token(Box::new(token)),
        owner,
        grants,
        address,
    }))
}

fn too_many(wait: u64) -> AppError {
    AppError::TooManyRequests {
        message: format!("too many failed authentication attempts; retry in {wait} s"),
        retry_after: wait,
    }
}

fn min_privilege(a: Privilege, b: Privilege) -> Privilege {
    if a.covers(b) {
        b
    } else {
        a
    }
}

impl Caller {
    /// How the caller is named in events: the principal or token description, and prefix.
    pub fn actor(&self) -> String {
        match (&self.principal, &self.owner) {
            (Principal::Anonymous, _) => "anonymous".to_owned(),
            (Principal::Token(t), Some(owner)) => format!("{} ({}…)", owner.reference(), t.prefix),
            (Principal::Token(t), None) => format!("{} ({}…)", t.description, t.prefix),
        }
    }

    pub fn token(&self) -> Option<&TokenRow> {
        match &self.principal {
            Principal::Token(t) => Some(t),
            Principal::Anonymous => None,
        }
    }

    pub fn is_site_admin(&self) -> bool {
        let Some(t) = self.token() else { return false };
        t.site_admin != 0
            || (self.is_full_token() && self.owner.as_ref().is_some_and(|o| o.site_admin != 0))
    }

    /// Whether the token carries all of its principal's rights: unscoped, admin-capped, not an
    /// entitlement. Only such a token may act as its principal in account matters (minting
    /// tokens, site administration).
    pub fn is_full_token(&self) -> bool {
        self.token().is_some_and(|t| {
            t.namespace.is_none()
                && t.kind != ENTITLEMENT
                && t.privilege == Privilege::Admin.as_str()
        })
    }

    pub fn is_anonymous(&self) -> bool {
        matches!(self.principal, Principal::Anonymous)
    }

    /// A new event attributed to this caller.
    pub fn event(&self, event_type: EventType) -> NewEvent {
        let mut event = NewEvent::new(event_type, &self.actor());
        event.source_address = self.address.map(|a| a.to_string());
        event
    }

    /// `err`, marked so that the denial is written to the audit log.
    pub fn deny(&self, err: AppError, namespace: Option<&str>) -> AppError {
        AppError::Denied(
            Box::new(err),
            Box::new(Denial {
                namespace: namespace.map(str::to_owned),
                actor: self.actor(),
                address: self.address.map(|a| a.to_string()),
            }),
        )
    }

    /// The most the token itself allows on `namespace` (and `repo`): its scope and privilege.
    fn token_cap(token: &TokenRow, namespace: &str, repo: Option<&str>) -> Option<Privilege> {
        let Some(scope_ns) = &token.namespace else {
            // Unscoped tokens of a principal are still capped by their privilege.
            return Privilege::parse(&token.privilege);
        };
        if scope_ns != namespace {
            return None;
        }
        let privilege = if token.kind == ENTITLEMENT {
            Privilege::Read
        } else {
            Privilege::parse(&token.privilege)?
        };
        match (&token.repository, repo) {
            (None, _) => Some(privilege),
            (Some(scoped), Some(repo)) if scoped == repo => Some(privilege),
            _ => None,
        }
    }

    /// The privilege the caller holds on `namespace` (and `repo`, if given).
    pub fn granted(&self, namespace: &str, repo: Option<&str>) -> Option<Privilege> {
        let token = self.token()?;
        if token.site_admin != 0 {
            return Some(Privilege::Admin);
        }
        let cap = Self::token_cap(token, namespace, repo)?;
        let Some(owner) = &self.owner else {
            // A standalone token: its scope is its grant (an unscoped one grants nothing).
            return token.namespace.is_some().then_some(cap);
        };
        if owner.site_admin != 0 && token.kind != ENTITLEMENT {
            return Some(cap);
        }
        let base = self
            .grants
            .iter()
            .filter(|(ns, r, _)| ns == namespace && (r.is_empty() || Some(r.as_str()) == repo))
            .map(|(_, _, p)| *p)
            .reduce(|a, b| if a.covers(b) { a } else { b })?;
        Some(min_privilege(base, cap))
    }

    /// Whether the caller may see the repository at all.
    pub fn can_read(&self, repo: &RepoRow) -> bool {
        !repo.is_private() || self.granted(&repo.namespace, Some(&repo.name)).is_some()
    }

    /// Requires what `op` needs on `repo`, and that the caller's address may reach it. A
    /// caller who may not see a private repository learns nothing of it (404); an anonymous
    /// caller is asked to authenticate (401); anyone else is refused (403). Denials go to the
    /// audit log.
    pub fn require(&self, repo: &RepoRow, op: Op) -> Result<(), AppError> {
        self.check(repo, op).map_err(|err| {
            if matches!(err, AppError::Forbidden(_)) && self.can_read(repo) {
                tracing::warn!(repository = %repo.slug(), address = ?self.address, op = op.key(), "request denied");
            }
            self.deny(err, Some(repo.namespace.as_str()))
        })
    }

    /// Whether the caller may do `op` on `repo`, by the same rules as [`Caller::require`]
    /// (privileges and address rules), without recording anything. Routes that gather
    /// packages from several repositories (simulations, decision logs) filter with this so
    /// that they show exactly what the read routes would.
    pub fn may(&self, repo: &RepoRow, op: Op) -> bool {
        self.check(repo, op).is_ok()
    }

    fn check(&self, repo: &RepoRow, op: Op) -> Result<(), AppError> {
        let needed = access::required(repo, op);
        let granted = self.granted(&repo.namespace, Some(&repo.name));
        let public_read = !repo.is_private() && !op.mutates() && needed == Privilege::Read;
        let allowed = public_read || granted.is_some_and(|g| g.covers(needed));
        if !allowed {
            if !self.can_read(repo) {
                return Err(not_found_repo(&repo.namespace, &repo.name));
            }
            if self.is_anonymous() {
                return Err(AppError::Unauthorized(format!(
                    "authentication required to {} in {}",
                    op.key(),
                    repo.slug()
                )));
            }
            return Err(AppError::Forbidden(format!(
                "{} needs the {needed} privilege on {}",
                op.key(),
                repo.slug()
            )));
        }
        // Address rules apply to everything but the administration of the repository by its
        // admins, so an allowlist can never lock the owners out.
        let admin = granted.is_some_and(|g| g.covers(Privilege::Admin));
        if !(op.administrative() && admin) {
            access::address_allowed(repo, self.address).map_err(AppError::Forbidden)?;
        }
        Ok(())
    }

    /// Requires `needed` on the namespace as a whole (repository creation, tokens, teams).
    pub fn require_namespace(&self, namespace: &str, needed: Privilege) -> Result<(), AppError> {
        if self
            .granted(namespace, None)
            .is_some_and(|g| g.covers(needed))
        {
            return Ok(());
        }
        if self.is_anonymous() {
            return Err(self.deny(
                AppError::Unauthorized("authentication required".into()),
                Some(namespace),
            ));
        }
        Err(self.deny(
            AppError::Forbidden(format!(
                "this token lacks the {needed} privilege on namespace {namespace}"
            )),
            Some(namespace),
        ))
    }

    /// Requires a site admin.
    pub fn require_site_admin(&self) -> Result<(), AppError> {
        if self.is_site_admin() {
            return Ok(());
        }
        Err(self.deny(
            if self.is_anonymous() {
                AppError::Unauthorized("authentication required".into())
            } else {
                AppError::Forbidden("only site admins may do this".into())
            },
            None,
        ))
    }
}

pub fn not_found_repo(owner: &str, repo: &str) -> AppError {
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

    fn token(ns: Option<&str>, repo: Option<&str>, privilege: &str, kind: &str) -> TokenRow {
        TokenRow {
            id: 1,
            prefix: "gty_x".into(),
            description: "t".into(),
            site_admin: 0,
            namespace: ns.map(str::to_owned),
            repository: repo.map(str::to_owned),
            privilege: privilege.into(),
            created_at: 0,
            expires_at: None,
            revoked_at: None,
            principal_id: None,
            kind: kind.into(),
            max_downloads: None,
            download_count: 0,
            created_by: None,
        }
    }

    fn caller(
        t: TokenRow,
        owner: Option<PrincipalRow>,
        grants: &[(&str, &str, Privilege)],
    ) -> Caller {
        Caller {
            principal: Principal::Token(Box::new(t)),
            owner,
            grants: grants
                .iter()
                .map(|(a, b, p)| ((*a).to_owned(), (*b).to_owned(), *p))
                .collect(),
            address: None,
        }
    }

    fn user() -> PrincipalRow {
        PrincipalRow {
            id: 7,
            kind: "user".into(),
            namespace: String::new(),
            name: "alice".into(),
            password_hash: None,
            site_admin: 0,
            created_by: None,
            created_at: 0,
        }
    }

    #[test]
    fn a_token_never_exceeds_its_principal_nor_its_own_scope() {
        let grants = [
            ("acme", "", Privilege::Write),
            ("acme", "prod", Privilege::Read),
        ];
        let unscoped = caller(token(None, None, "admin", "api"), Some(user()), &grants);
        assert_eq!(
            unscoped.granted("acme", Some("dev")),
            Some(Privilege::Write)
        );
        assert_eq!(
            unscoped.granted("acme", Some("prod")),
            Some(Privilege::Write)
        );
        assert_eq!(unscoped.granted("other", Some("x")), None);
        let narrowed = caller(
            token(Some("acme"), Some("dev"), "read", "api"),
            Some(user()),
            &grants,
        );
        assert_eq!(narrowed.granted("acme", Some("dev")), Some(Privilege::Read));
        assert_eq!(narrowed.granted("acme", Some("prod")), None);
        let standalone = caller(token(Some("acme"), None, "write", "api"), None, &[]);
        assert_eq!(
            standalone.granted("acme", Some("any")),
            Some(Privilege::Write)
        );
        assert_eq!(standalone.granted("acme", None), Some(Privilege::Write));
        let entitlement = caller(
            token(Some("acme"), Some("prod"), "admin", ENTITLEMENT),
            None,
            &[],
        );
        assert_eq!(
            entitlement.granted("acme", Some("prod")),
            Some(Privilege::Read)
        );
        assert_eq!(entitlement.granted("acme", Some("dev")), None);
        assert_eq!(entitlement.granted("acme", None), None);
    }
}
