//! The access matrix: every route the server answers (REST and native, from `gantry admin
//! routes`) × every kind of caller, each with the status class it must get. A route without an
//! entry here fails the test, so no route can be added without deciding who may call it.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::{TestResult, TestServer, ADMIN};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Caller {
    Anonymous,
    Read,
    Write,
    Admin,
    OtherNamespace,
    Expired,
    Revoked,
    OutsideAllowlist,
}

const CALLERS: &[Caller] = &[
    Caller::Anonymous,
    Caller::Read,
    Caller::Write,
    Caller::Admin,
    Caller::OtherNamespace,
    Caller::Expired,
    Caller::Revoked,
    Caller::OutsideAllowlist,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Level {
    Read,
    Write,
    Admin,
}

/// Who a route is for.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Rule {
    /// No authentication at all (health, metrics, the API description).
    Open,
    /// Any caller; a presented token must be valid.
    AnyCaller,
    /// Any authenticated caller.
    Authenticated,
    /// On the private, allow-listed repository acme/dev; `administrative` routes are open to
    /// its admins from any address.
    Repo { level: Level, administrative: bool },
    /// A copy out of acme/dev into acme/dev2: read on the source, write on the destination.
    CopyOut,
    /// Namespace-wide administration of acme.
    Namespace,
    /// Reading across the namespace acme.
    NamespaceRead,
    /// Site admins only.
    Site,
    /// Fixed status for every caller with a valid (or no) token.
    Always(u16),
    /// Read on acme/dev, except that an anonymous caller is asked to authenticate (cargo
    /// sends its token only after a 401 on `config.json`).
    ReadChallenge,
    /// On acme/dev through the registry protocol: an anonymous caller is always challenged
    /// (401), an outsider sees nothing (404), the rest as for `Repo`.
    RegistryChallenge(Level),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    Allowed,
    Hidden,
    Unauthorized,
    Forbidden,
    Status(u16),
}

fn want(rule: Rule, caller: Caller) -> Want {
    use Caller as C;
    if matches!(rule, Rule::Open) {
        return Want::Allowed;
    }
    if matches!(caller, C::Expired | C::Revoked) {
        return Want::Unauthorized;
    }
    match rule {
        Rule::Open | Rule::AnyCaller => Want::Allowed,
        Rule::Always(code) => Want::Status(code),
        Rule::Authenticated => match caller {
            C::Anonymous => Want::Unauthorized,
            _ => Want::Allowed,
        },
        Rule::Site => match caller {
            C::Anonymous => Want::Unauthorized,
            _ => Want::Forbidden,
        },
        Rule::NamespaceRead => match caller {
            C::Anonymous => Want::Unauthorized,
            C::OtherNamespace => Want::Forbidden,
            _ => Want::Allowed,
        },
        Rule::Namespace => match caller {
            C::Anonymous => Want::Unauthorized,
            C::Admin | C::OutsideAllowlist => Want::Allowed,
            _ => Want::Forbidden,
        },
        Rule::CopyOut => match caller {
            C::Anonymous | C::OtherNamespace => Want::Hidden,
            C::Read | C::OutsideAllowlist => Want::Forbidden,
            _ => Want::Allowed,
        },
        Rule::ReadChallenge => match caller {
            C::Anonymous => Want::Unauthorized,
            C::OtherNamespace => Want::Hidden,
            C::OutsideAllowlist => Want::Forbidden,
            _ => Want::Allowed,
        },
        Rule::RegistryChallenge(level) => match caller {
            C::Anonymous => Want::Unauthorized,
            C::OtherNamespace => Want::Hidden,
            C::Read if level == Level::Read => Want::Allowed,
            C::Write if level != Level::Admin => Want::Allowed,
            C::Admin => Want::Allowed,
            _ => Want::Forbidden,
        },
        Rule::Repo {
            level,
            administrative,
        } => match caller {
            C::Anonymous | C::OtherNamespace => Want::Hidden,
            C::Read if level == Level::Read => Want::Allowed,
            C::Write if level != Level::Admin => Want::Allowed,
            C::Admin => Want::Allowed,
            C::OutsideAllowlist if administrative => Want::Allowed,
            _ => Want::Forbidden,
        },
    }
}

pub(crate) struct Entry {
    method: &'static str,
    template: &'static str,
    path: String,
    /// A JSON body; a string is sent as a form (`application/x-www-form-urlencoded`).
    body: Option<Value>,
    rule: Rule,
}

pub(crate) fn entry(
    method: &'static str,
    template: &'static str,
    path: String,
    body: Option<Value>,
    rule: Rule,
) -> Entry {
    Entry {
        method,
        template,
        path,
        body,
        rule,
    }
}

const PRIVATE_NAME: &str = "secretpkg";
const PRIVATE_BYTES: &[u8] = b"private payload of acme/dev";

pub(crate) fn repo(level: Level) -> Rule {
    Rule::Repo {
        level,
        administrative: false,
    }
}

pub(crate) fn repo_admin() -> Rule {
    Rule::Repo {
        level: Level::Admin,
        administrative: true,
    }
}

/// The private Python project of acme/dev (a real wheel, renamed nowhere).
const PRIVATE_PY: &str = "six";

fn entries(
    slug: &str,
    webhook: i64,
    py_file: String,
    upstream: i64,
    npm_file: String,
) -> Vec<Entry> {
    let pkg = format!("/api/v1/packages/acme/dev/{slug}");
    let ghost = "/api/v1/packages/acme/dev/AAAAAAAAAAAA";
    let hook = format!("/api/v1/webhooks/acme/dev/{webhook}");
    let raw = format!("/acme/dev/raw/{PRIVATE_NAME}/1.0/{PRIVATE_NAME}.bin");
    vec![
        entry("GET", "/healthz", "/healthz".into(), None, Rule::Open),
        entry("GET", "/readyz", "/readyz".into(), None, Rule::Open),
        entry(
            "POST",
            "/api/v1/admin/gc",
            "/api/v1/admin/gc".into(),
            Some(json!({"dry_run": true})),
            Rule::Site,
        ),
        entry(
            "POST",
            "/api/v1/admin/fsck",
            "/api/v1/admin/fsck".into(),
            Some(json!({})),
            Rule::Site,
        ),
        entry("GET", "/metrics", "/metrics".into(), None, Rule::Open),
        entry(
            "GET",
            "/api/v1/openapi.json",
            "/api/v1/openapi.json".into(),
            None,
            Rule::Open,
        ),
        entry(
            "GET",
            "/api/v1/whoami",
            "/api/v1/whoami".into(),
            None,
            Rule::AnyCaller,
        ),
        entry(
            "POST",
            "/api/v1/login",
            "/api/v1/login".into(),
            Some(json!({"username": "alice", "password": "wrong password"})),
            Rule::Always(401),
        ),
        entry(
            "GET",
            "/api/v1/users",
            "/api/v1/users".into(),
            None,
            Rule::Site,
        ),
        entry(
            "POST",
            "/api/v1/users",
            "/api/v1/users".into(),
            Some(json!({"name": "mallory", "password": "long enough"})),
            Rule::Site,
        ),
        entry(
            "GET",
            "/api/v1/admin/jobs",
            "/api/v1/admin/jobs".into(),
            None,
            Rule::Site,
        ),
        entry(
            "GET",
            "/api/v1/tokens",
            "/api/v1/tokens".into(),
            None,
            Rule::Authenticated,
        ),
        entry(
            "POST",
            "/api/v1/tokens",
            "/api/v1/tokens".into(),
            Some(json!({"scope": "acme", "privilege": "read"})),
            Rule::Namespace,
        ),
        entry(
            "DELETE",
            "/api/v1/tokens/{id}",
            "/api/v1/tokens/999999".into(),
            None,
            Rule::Always(404),
        ),
        entry(
            "GET",
            "/api/v1/repos/{owner}",
            "/api/v1/repos/acme".into(),
            None,
            Rule::AnyCaller,
        ),
        entry(
            "POST",
            "/api/v1/repos/{owner}",
            "/api/v1/repos/acme".into(),
            Some(json!({"name": "newrepo"})),
            Rule::Namespace,
        ),
        // Readers may see the repository; for its admins this is administration.
        entry(
            "GET",
            "/api/v1/repos/{owner}/{repo}",
            "/api/v1/repos/acme/dev".into(),
            None,
            Rule::Repo {
                level: Level::Read,
                administrative: true,
            },
        ),
        entry(
            "PATCH",
            "/api/v1/repos/{owner}/{repo}",
            "/api/v1/repos/acme/dev".into(),
            Some(json!({"description": "dev builds"})),
            repo_admin(),
        ),
        entry(
            "DELETE",
            "/api/v1/repos/{owner}/{repo}",
            "/api/v1/repos/acme/dev".into(),
            None,
            repo_admin(),
        ),
        entry(
            "GET",
            "/api/v1/packages/{owner}/{repo}",
            "/api/v1/packages/acme/dev".into(),
            None,
            repo(Level::Read),
        ),
        entry(
            "POST",
            "/api/v1/packages/{owner}/{repo}/upload/{format}",
            "/api/v1/packages/acme/dev/upload/raw?name=matrix&version=1&filename=m.bin".into(),
            None,
            repo(Level::Write),
        ),
        entry(
            "GET",
            "/api/v1/packages/{owner}/{repo}/{slug_perm}",
            pkg.clone(),
            None,
            repo(Level::Read),
        ),
        entry(
            "GET",
            "/api/v1/packages/{owner}/{repo}/{slug_perm}/status",
            format!("{pkg}/status"),
            None,
            repo(Level::Read),
        ),
        entry(
            "GET",
            "/api/v1/packages/{owner}/{repo}/{slug_perm}/events",
            format!("{pkg}/events"),
            None,
            repo(Level::Read),
        ),
        entry(
            "GET",
            "/api/v1/packages/{owner}/{repo}/{slug_perm}/vulnerabilities",
            format!("{pkg}/vulnerabilities"),
            None,
            repo(Level::Read),
        ),
        entry(
            "POST",
            "/api/v1/packages/{owner}/{repo}/{slug_perm}/copy",
            format!("{pkg}/copy"),
            Some(json!({"destination": "dev2"})),
            Rule::CopyOut,
        ),
        entry(
            "POST",
            "/api/v1/packages/{owner}/{repo}/{slug_perm}/move",
            format!("{ghost}/move"),
            Some(json!({"destination": "dev2"})),
            repo(Level::Admin),
        ),
        entry(
            "POST",
            "/api/v1/packages/{owner}/{repo}/{slug_perm}/restore",
            format!("{ghost}/restore"),
            None,
            repo(Level::Admin),
        ),
        entry(
            "POST",
            "/api/v1/packages/{owner}/{repo}/{slug_perm}/resync",
            format!("{ghost}/resync"),
            None,
            repo(Level::Admin),
        ),
        entry(
            "DELETE",
            "/api/v1/packages/{owner}/{repo}/{slug_perm}",
            ghost.into(),
            None,
            repo(Level::Admin),
        ),
        entry(
            "GET",
            "/api/v1/webhooks/{owner}/{repo}",
            "/api/v1/webhooks/acme/dev".into(),
            None,
            repo_admin(),
        ),
        entry(
            "POST",
            "/api/v1/webhooks/{owner}/{repo}",
            "/api/v1/webhooks/acme/dev".into(),
            Some(
                json!({"target_url": "http://127.0.0.1:9/hook", "events": ["ping"], "is_active": false}),
            ),
            repo_admin(),
        ),
        entry(
            "GET",
            "/api/v1/webhooks/{owner}/{repo}/{id}",
            hook.clone(),
            None,
            repo_admin(),
        ),
        entry(
            "PATCH",
            "/api/v1/webhooks/{owner}/{repo}/{id}",
            hook.clone(),
            Some(json!({"is_active": false})),
            repo_admin(),
        ),
        entry(
            "DELETE",
            "/api/v1/webhooks/{owner}/{repo}/{id}",
            "/api/v1/webhooks/acme/dev/999999".into(),
            None,
            repo_admin(),
        ),
        entry(
            "POST",
            "/api/v1/webhooks/{owner}/{repo}/{id}/ping",
            format!("{hook}/ping"),
            None,
            repo_admin(),
        ),
        entry(
            "GET",
            "/api/v1/webhooks/{owner}/{repo}/{id}/deliveries",
            format!("{hook}/deliveries"),
            None,
            repo_admin(),
        ),
        entry(
            "POST",
            "/api/v1/webhooks/{owner}/{repo}/{id}/deliveries/{delivery}/redeliver",
            format!("{hook}/deliveries/999999/redeliver"),
            None,
            repo_admin(),
        ),
        entry(
            "GET",
            "/api/v1/entitlements/{owner}/{repo}",
            "/api/v1/entitlements/acme/dev".into(),
            None,
            repo_admin(),
        ),
        entry(
            "POST",
            "/api/v1/entitlements/{owner}/{repo}",
            "/api/v1/entitlements/acme/dev".into(),
            Some(json!({"max_downloads": 1})),
            repo_admin(),
        ),
        entry(
            "GET",
            "/api/v1/audit/{owner}",
            "/api/v1/audit/acme".into(),
            None,
            Rule::Namespace,
        ),
        entry(
            "GET",
            "/api/v1/privileges/{owner}",
            "/api/v1/privileges/acme".into(),
            None,
            Rule::Namespace,
        ),
        entry(
            "PUT",
            "/api/v1/privileges/{owner}",
            "/api/v1/privileges/acme".into(),
            Some(json!({"principal": "service:ci", "privilege": "read"})),
            Rule::Namespace,
        ),
        entry(
            "DELETE",
            "/api/v1/privileges/{owner}",
            "/api/v1/privileges/acme?principal=service:ci".into(),
            None,
            Rule::Namespace,
        ),
        entry(
            "GET",
            "/api/v1/teams/{owner}",
            "/api/v1/teams/acme".into(),
            None,
            Rule::Namespace,
        ),
        entry(
            "POST",
            "/api/v1/teams/{owner}",
            "/api/v1/teams/acme".into(),
            Some(json!({"name": "qa"})),
            Rule::Namespace,
        ),
        entry(
            "PUT",
            "/api/v1/teams/{owner}/{team}/members/{user}",
            "/api/v1/teams/acme/devs/members/alice".into(),
            None,
            Rule::Namespace,
        ),
        entry(
            "DELETE",
            "/api/v1/teams/{owner}/{team}/members/{user}",
            "/api/v1/teams/acme/devs/members/alice".into(),
            None,
            Rule::Namespace,
        ),
        entry(
            "GET",
            "/api/v1/service-accounts/{owner}",
            "/api/v1/service-accounts/acme".into(),
            None,
            Rule::Namespace,
        ),
        entry(
            "POST",
            "/api/v1/service-accounts/{owner}",
            "/api/v1/service-accounts/acme".into(),
            Some(json!({"name": "deployer"})),
            Rule::Namespace,
        ),
        entry(
            "POST",
            "/api/v1/promotions",
            "/api/v1/promotions".into(),
            Some(json!({"source": "acme/dev", "destination": "dev2", "slugs": ["AAAAAAAAAAAA"]})),
            Rule::CopyOut,
        ),
        entry(
            "GET",
            "/api/v1/vulndb",
            "/api/v1/vulndb".into(),
            None,
            Rule::AnyCaller,
        ),
        entry(
            "POST",
            "/api/v1/vulndb/import",
            "/api/v1/vulndb/import".into(),
            Some(json!({"path": "/nonexistent"})),
            Rule::Site,
        ),
        entry(
            "POST",
            "/api/v1/packages/{owner}/{repo}/{slug_perm}/scan",
            format!("{ghost}/scan"),
            None,
            repo(Level::Admin),
        ),
        entry(
            "GET",
            "/api/v1/security/{owner}/{repo}/summary",
            "/api/v1/security/acme/dev/summary".into(),
            None,
            repo(Level::Read),
        ),
        entry(
            "GET",
            "/api/v1/security/{owner}/summary",
            "/api/v1/security/acme/summary".into(),
            None,
            Rule::NamespaceRead,
        ),
        entry(
            "POST",
            "/api/v1/policies/{owner}",
            "/api/v1/policies/acme".into(),
            Some(json!({"name": "matrix", "rego": "package gantry\n"})),
            Rule::Namespace,
        ),
        entry(
            "GET",
            "/api/v1/policies/{owner}",
            "/api/v1/policies/acme".into(),
            None,
            Rule::NamespaceRead,
        ),
        entry(
            "GET",
            "/api/v1/policies/{owner}/decisions",
            "/api/v1/policies/acme/decisions".into(),
            None,
            Rule::NamespaceRead,
        ),
        entry(
            "GET",
            "/api/v1/policies/{owner}/{policy}",
            "/api/v1/policies/acme/nosuch".into(),
            None,
            Rule::NamespaceRead,
        ),
        entry(
            "PATCH",
            "/api/v1/policies/{owner}/{policy}",
            "/api/v1/policies/acme/nosuch".into(),
            Some(json!({"enabled": false})),
            Rule::Namespace,
        ),
        entry(
            "DELETE",
            "/api/v1/policies/{owner}/{policy}",
            "/api/v1/policies/acme/nosuch".into(),
            None,
            Rule::Namespace,
        ),
        entry(
            "POST",
            "/api/v1/policies/{owner}/{policy}/simulate",
            "/api/v1/policies/acme/nosuch/simulate".into(),
            Some(json!({"repository": "dev"})),
            Rule::NamespaceRead,
        ),
        entry(
            "GET",
            "/api/v1/vulnerability-exceptions/{owner}",
            "/api/v1/vulnerability-exceptions/acme".into(),
            None,
            Rule::NamespaceRead,
        ),
        entry(
            "GET",
            "/api/v1/vulnerability-exceptions/{owner}/{repo}",
            "/api/v1/vulnerability-exceptions/acme/dev".into(),
            None,
            repo(Level::Read),
        ),
        entry(
            "POST",
            "/api/v1/vulnerability-exceptions/{owner}/{repo}",
            "/api/v1/vulnerability-exceptions/acme/dev".into(),
            Some(json!({"advisory_id": "MATRIX-1", "status": "under_investigation", "repository": true})),
            repo_admin(),
        ),
        entry(
            "DELETE",
            "/api/v1/vulnerability-exceptions/{owner}/{repo}/{id}",
            "/api/v1/vulnerability-exceptions/acme/dev/999999".into(),
            None,
            repo_admin(),
        ),
        entry(
            "GET",
            "/api/v1/vulnerability-exceptions/{owner}/{repo}/openvex",
            "/api/v1/vulnerability-exceptions/acme/dev/openvex".into(),
            None,
            repo(Level::Read),
        ),
        entry(
            "GET",
            "/api/v1/packages/{owner}/{repo}/{slug_perm}/sbom",
            format!("{pkg}/sbom"),
            None,
            repo(Level::Read),
        ),
        entry(
            "GET",
            "/api/v1/repos/{owner}/{repo}/sbom",
            "/api/v1/repos/acme/dev/sbom".into(),
            None,
            repo(Level::Read),
        ),
        entry(
            "GET",
            "/api/v1/packages/{owner}/{repo}/{slug_perm}/attestations",
            format!("{pkg}/attestations"),
            None,
            repo(Level::Read),
        ),
        entry("GET", "/api/v1/keys", "/api/v1/keys".into(), None, Rule::AnyCaller),
        entry(
            "GET",
            "/api/v1/repos/{owner}/{repo}/retention",
            "/api/v1/repos/acme/dev/retention".into(),
            None,
            repo(Level::Read),
        ),
        entry(
            "POST",
            "/api/v1/repos/{owner}/{repo}/retention",
            "/api/v1/repos/acme/dev/retention".into(),
            Some(json!({"name": "matrix", "older_than_days": 36500})),
            repo_admin(),
        ),
        entry(
            "DELETE",
            "/api/v1/repos/{owner}/{repo}/retention/{id}",
            "/api/v1/repos/acme/dev/retention/999999".into(),
            None,
            repo_admin(),
        ),
        entry(
            "POST",
            "/api/v1/repos/{owner}/{repo}/retention/run",
            "/api/v1/repos/acme/dev/retention/run".into(),
            Some(json!({"dry_run": true})),
            repo_admin(),
        ),
        entry(
            "POST",
            "/api/v1/keys/rotate",
            "/api/v1/keys/rotate".into(),
            None,
            Rule::Site,
        ),
        entry(
            "GET",
            "/api/v1/repos/{owner}/{repo}/signing-keys",
            "/api/v1/repos/acme/dev/signing-keys".into(),
            None,
            repo(Level::Read),
        ),
        entry(
            "POST",
            "/api/v1/repos/{owner}/{repo}/signing-keys/rotate",
            "/api/v1/repos/acme/dev/signing-keys/rotate".into(),
            None,
            repo_admin(),
        ),
        entry(
            "GET",
            "/api/v1/repos/{owner}/{repo}/rules",
            "/api/v1/repos/acme/dev/rules".into(),
            None,
            repo(Level::Read),
        ),
        entry(
            "POST",
            "/api/v1/repos/{owner}/{repo}/rules",
            "/api/v1/repos/acme/dev/rules".into(),
            Some(json!({"name": "matrix", "condition": "tag == matrix", "destination": "dev2"})),
            repo_admin(),
        ),
        entry(
            "DELETE",
            "/api/v1/repos/{owner}/{repo}/rules/{name}",
            "/api/v1/repos/acme/dev/rules/nosuch".into(),
            None,
            repo_admin(),
        ),
        entry(
            "PUT",
            "/api/v1/repos/{owner}/{repo}/rules/{name}",
            "/api/v1/repos/acme/dev/rules/nosuch".into(),
            Some(json!({"name": "nosuch", "condition": "tag == matrix", "destination": "dev2"})),
            repo_admin(),
        ),
        entry(
            "POST",
            "/api/v1/packages/{owner}/{repo}/{slug_perm}/tags",
            format!("{ghost}/tags"),
            Some(json!({"add": ["matrix"]})),
            repo(Level::Write),
        ),
        entry(
            "GET",
            "/api/v1/repos/{owner}/{repo}/upstreams",
            "/api/v1/repos/acme/dev/upstreams".into(),
            None,
            repo_admin(),
        ),
        entry(
            "POST",
            "/api/v1/repos/{owner}/{repo}/upstreams",
            "/api/v1/repos/acme/dev/upstreams".into(),
            Some(
                json!({"format": "python", "name": "matrix", "url": "http://127.0.0.1:9/simple/"}),
            ),
            repo_admin(),
        ),
        entry(
            "GET",
            "/api/v1/repos/{owner}/{repo}/upstreams/{id}",
            "/api/v1/repos/acme/dev/upstreams/999999".into(),
            None,
            repo_admin(),
        ),
        entry(
            "DELETE",
            "/api/v1/repos/{owner}/{repo}/upstreams/{id}",
            "/api/v1/repos/acme/dev/upstreams/999999".into(),
            None,
            repo_admin(),
        ),
        entry(
            "PUT",
            "/api/v1/repos/{owner}/{repo}/upstreams/{id}",
            format!("/api/v1/repos/acme/dev/upstreams/{upstream}"),
            Some(json!({"format": "python", "name": "dead", "url": "http://127.0.0.1:9/simple/", "priority": 2})),
            repo_admin(),
        ),
        entry(
            "GET",
            "/{owner}/{repo}/python/upstream/{upstream}/{filename}",
            format!("/acme/dev/python/upstream/{upstream}/six-1.16.0-py2.py3-none-any.whl"),
            None,
            repo(Level::Read),
        ),
        entry(
            "HEAD",
            "/{owner}/{repo}/python/upstream/{upstream}/{filename}",
            format!("/acme/dev/python/upstream/{upstream}/six-1.16.0-py2.py3-none-any.whl"),
            None,
            repo(Level::Read),
        ),
        entry(
            "POST",
            "/api/v1/packages/{owner}/{repo}/{slug_perm}/yank",
            format!("{ghost}/yank"),
            Some(json!({"yanked": true})),
            repo(Level::Write),
        ),
        entry(
            "POST",
            "/api/v1/packages/{owner}/{repo}/{slug_perm}/quarantine",
            format!("{ghost}/quarantine"),
            Some(json!({"reason": "matrix"})),
            repo(Level::Admin),
        ),
        entry(
            "POST",
            "/{owner}/{repo}/python/",
            "/acme/dev/python/".into(),
            None,
            repo(Level::Write),
        ),
        entry(
            "POST",
            "/{owner}/{repo}/python",
            "/acme/dev/python".into(),
            None,
            repo(Level::Write),
        ),
        entry(
            "GET",
            "/{owner}/{repo}/python/simple/",
            "/acme/dev/python/simple/".into(),
            None,
            repo(Level::Read),
        ),
        entry(
            "GET",
            "/{owner}/{repo}/python/simple",
            "/acme/dev/python/simple".into(),
            None,
            repo(Level::Read),
        ),
        entry(
            "GET",
            "/{owner}/{repo}/python/simple/{project}/",
            format!("/acme/dev/python/simple/{PRIVATE_PY}/"),
            None,
            repo(Level::Read),
        ),
        entry(
            "GET",
            "/{owner}/{repo}/python/simple/{project}",
            format!("/acme/dev/python/simple/{PRIVATE_PY}"),
            None,
            repo(Level::Read),
        ),
        entry(
            "GET",
            "/{owner}/{repo}/python/files/{slug}/{filename}",
            py_file.clone(),
            None,
            repo(Level::Read),
        ),
        entry(
            "HEAD",
            "/{owner}/{repo}/python/files/{slug}/{filename}",
            py_file,
            None,
            repo(Level::Read),
        ),
        entry(
            "GET",
            "/{owner}/{repo}/raw/{name}/{version}/{filename}",
            raw.clone(),
            None,
            repo(Level::Read),
        ),
        entry(
            "HEAD",
            "/{owner}/{repo}/raw/{name}/{version}/{filename}",
            raw,
            None,
            repo(Level::Read),
        ),
        entry(
            "GET",
            "/{owner}/{repo}/cargo/index/config.json",
            "/acme/dev/cargo/index/config.json".into(),
            None,
            Rule::ReadChallenge,
        ),
        entry(
            "GET",
            "/{owner}/{repo}/cargo/index/{a}/{name}",
            "/acme/dev/cargo/index/1/a".into(),
            None,
            repo(Level::Read),
        ),
        entry(
            "GET",
            "/{owner}/{repo}/cargo/index/{a}/{b}/{name}",
            "/acme/dev/cargo/index/it/oa/itoa".into(),
            None,
            repo(Level::Read),
        ),
        entry(
            "PUT",
            "/{owner}/{repo}/cargo/api/v1/crates/new",
            "/acme/dev/cargo/api/v1/crates/new".into(),
            None,
            repo(Level::Write),
        ),
        entry(
            "GET",
            "/{owner}/{repo}/cargo/api/v1/crates",
            "/acme/dev/cargo/api/v1/crates?q=itoa".into(),
            None,
            repo(Level::Read),
        ),
        entry(
            "GET",
            "/{owner}/{repo}/cargo/api/v1/crates/{name}/owners",
            "/acme/dev/cargo/api/v1/crates/itoa/owners".into(),
            None,
            repo(Level::Read),
        ),
        entry(
            "DELETE",
            "/{owner}/{repo}/cargo/api/v1/crates/{name}/{version}/yank",
            "/acme/dev/cargo/api/v1/crates/itoa/1.0.11/yank".into(),
            None,
            repo(Level::Write),
        ),
        entry(
            "PUT",
            "/{owner}/{repo}/cargo/api/v1/crates/{name}/{version}/unyank",
            "/acme/dev/cargo/api/v1/crates/itoa/1.0.11/unyank".into(),
            None,
            repo(Level::Write),
        ),
        entry(
            "GET",
            "/{owner}/{repo}/cargo/api/v1/crates/{name}/{version}/download",
            "/acme/dev/cargo/api/v1/crates/itoa/1.0.11/download".into(),
            None,
            repo(Level::Read),
        ),
        entry(
            "HEAD",
            "/{owner}/{repo}/cargo/api/v1/crates/{name}/{version}/download",
            "/acme/dev/cargo/api/v1/crates/itoa/1.0.11/download".into(),
            None,
            repo(Level::Read),
        ),
    ]
    .into_iter()
    .chain(npm_entries(upstream, npm_file))
    .chain(oci_entries())
    .chain(go_entries())
    .chain(maven_entries())
    .chain(composer_entries())
    .chain(nuget_entries())
    .chain(rubygems_entries())
    .chain(rpm_entries())
    .chain(deb_entries())
    .collect()
}

/// The module proxy's one route, on the module example.com/matrix of acme/dev (go sends
/// `.netrc` credentials as HTTP Basic auth).
fn go_entries() -> Vec<Entry> {
    let list = "/acme/dev/go/example.com/matrix/@v/list".to_owned();
    let zip = "/acme/dev/go/example.com/matrix/@v/v1.0.0.zip".to_owned();
    vec![
        entry(
            "GET",
            "/{owner}/{repo}/go/{*path}",
            list,
            None,
            repo(Level::Read),
        ),
        entry(
            "HEAD",
            "/{owner}/{repo}/go/{*path}",
            zip,
            None,
            repo(Level::Read),
        ),
    ]
}

/// The Composer repository's routes, on the package acme/matrix 1.0.0 of acme/dev (composer
/// sends its `http-basic` credentials as HTTP Basic auth).
fn composer_entries() -> Vec<Entry> {
    let dist = "/acme/dev/composer/dists/acme/matrix/1.0.0.zip".to_owned();
    vec![
        entry(
            "GET",
            "/{owner}/{repo}/composer/packages.json",
            "/acme/dev/composer/packages.json".into(),
            None,
            repo(Level::Read),
        ),
        entry(
            "GET",
            "/{owner}/{repo}/composer/p2/{vendor}/{file}",
            "/acme/dev/composer/p2/acme/matrix.json".into(),
            None,
            repo(Level::Read),
        ),
        entry(
            "GET",
            "/{owner}/{repo}/composer/dists/{vendor}/{package}/{file}",
            dist.clone(),
            None,
            repo(Level::Read),
        ),
        entry(
            "HEAD",
            "/{owner}/{repo}/composer/dists/{vendor}/{package}/{file}",
            dist,
            None,
            repo(Level::Read),
        ),
    ]
}

/// Uploads the Composer package acme/matrix 1.0.0 to acme/dev.
async fn push_matrix_composer(s: &TestServer) -> TestResult {
    use std::io::Write;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    zip.start_file("composer.json", zip::write::SimpleFileOptions::default())?;
    zip.write_all(br#"{"name": "acme/matrix", "version": "1.0.0"}"#)?;
    let bytes = zip.finish()?.into_inner();
    let resp = s
        .req(
            Method::POST,
            "/api/v1/packages/acme/dev/upload/composer?filename=matrix.zip",
            Some(ADMIN),
        )
        .body(bytes)
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::CREATED);
    Ok(())
}

/// Uploads the module example.com/matrix v1.0.0 to acme/dev.
async fn push_matrix_module(s: &TestServer) -> TestResult {
    use std::io::Write;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    zip.start_file(
        "example.com/matrix@v1.0.0/go.mod",
        zip::write::SimpleFileOptions::default(),
    )?;
    zip.write_all(b"module example.com/matrix\n")?;
    let bytes = zip.finish()?.into_inner();
    let resp = s
        .req(
            Method::POST,
            "/api/v1/packages/acme/dev/upload/go?filename=matrix.zip",
            Some(ADMIN),
        )
        .body(bytes)
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::CREATED);
    Ok(())
}

/// The npm registry routes, called with the bearer token npm sends from `.npmrc`.
fn npm_entries(upstream: i64, npm_file: String) -> Vec<Entry> {
    vec![
        entry(
            "GET",
            "/{owner}/{repo}/npm/-/whoami",
            "/acme/dev/npm/-/whoami".into(),
            None,
            repo(Level::Read),
        ),
        entry(
            "GET",
            "/{owner}/{repo}/npm/-/ping",
            "/acme/dev/npm/-/ping".into(),
            None,
            repo(Level::Read),
        ),
        entry(
            "GET",
            "/{owner}/{repo}/npm/-/package/{package}/dist-tags",
            format!("/acme/dev/npm/-/package/{PRIVATE_NPM}/dist-tags"),
            None,
            repo(Level::Read),
        ),
        entry(
            "PUT",
            "/{owner}/{repo}/npm/-/package/{package}/dist-tags/{tag}",
            format!("/acme/dev/npm/-/package/{PRIVATE_NPM}/dist-tags/matrix"),
            Some(json!("7.0.0")),
            repo(Level::Write),
        ),
        entry(
            "DELETE",
            "/{owner}/{repo}/npm/-/package/{package}/dist-tags/{tag}",
            format!("/acme/dev/npm/-/package/{PRIVATE_NPM}/dist-tags/matrix"),
            None,
            repo(Level::Write),
        ),
        entry(
            "GET",
            "/{owner}/{repo}/npm/-/upstream/{upstream}/{package}/{version}",
            format!("/acme/dev/npm/-/upstream/{upstream}/{PRIVATE_NPM}/7.0.0"),
            None,
            repo(Level::Read),
        ),
        entry(
            "HEAD",
            "/{owner}/{repo}/npm/-/upstream/{upstream}/{package}/{version}",
            format!("/acme/dev/npm/-/upstream/{upstream}/{PRIVATE_NPM}/7.0.0"),
            None,
            repo(Level::Read),
        ),
        entry(
            "GET",
            "/{owner}/{repo}/npm/files/{slug}/{filename}",
            npm_file.clone(),
            None,
            repo(Level::Read),
        ),
        entry(
            "HEAD",
            "/{owner}/{repo}/npm/files/{slug}/{filename}",
            npm_file,
            None,
            repo(Level::Read),
        ),
        entry(
            "GET",
            "/{owner}/{repo}/npm/{*path}",
            format!("/acme/dev/npm/{PRIVATE_NPM}"),
            None,
            repo(Level::Read),
        ),
        entry(
            "PUT",
            "/{owner}/{repo}/npm/{*path}",
            format!("/acme/dev/npm/{PRIVATE_NPM}"),
            Some(json!({"name": PRIVATE_NPM, "versions": {}})),
            repo(Level::Write),
        ),
        entry(
            "DELETE",
            "/{owner}/{repo}/npm/{*path}",
            "/acme/dev/npm/not-here/-rev/1-matrix".into(),
            None,
            repo(Level::Admin),
        ),
    ]
}

/// Pushes the gem matrix 1.0.0 to acme/dev, as `gem push` does.
async fn push_matrix_gem(s: &TestServer) -> TestResult {
    use crate::rubygems::client::{gem_bytes, push_bytes, spec_yaml};
    let gem = gem_bytes(&spec_yaml("matrix", "1.0.0"), &[("lib/matrix.rb", b"")])?;
    let (st, body) = push_bytes(s, "acme/dev", ADMIN, gem).await?;
    assert_eq!(st, StatusCode::OK, "{body}");
    Ok(())
}

/// The RubyGems routes on the gem matrix 1.0.0 of acme/dev (gem and Bundler send a token as
/// the API key, or as the password of credentials in the source URL).
fn rubygems_entries() -> Vec<Entry> {
    let root = "/acme/dev/rubygems";
    let get = |template: &'static str, path: String| {
        entry("GET", template, path, None, repo(Level::Read))
    };
    vec![
        entry(
            "POST",
            "/{owner}/{repo}/rubygems/api/v1/gems",
            format!("{root}/api/v1/gems"),
            None,
            repo(Level::Write),
        ),
        entry(
            "DELETE",
            "/{owner}/{repo}/rubygems/api/v1/gems/yank",
            format!("{root}/api/v1/gems/yank?gem_name=matrix&version=1.0.0"),
            None,
            repo(Level::Write),
        ),
        get(
            "/{owner}/{repo}/rubygems/versions",
            format!("{root}/versions"),
        ),
        get(
            "/{owner}/{repo}/rubygems/info/{name}",
            format!("{root}/info/matrix"),
        ),
        get("/{owner}/{repo}/rubygems/names", format!("{root}/names")),
        get(
            "/{owner}/{repo}/rubygems/specs.4.8.gz",
            format!("{root}/specs.4.8.gz"),
        ),
        get(
            "/{owner}/{repo}/rubygems/latest_specs.4.8.gz",
            format!("{root}/latest_specs.4.8.gz"),
        ),
        get(
            "/{owner}/{repo}/rubygems/prerelease_specs.4.8.gz",
            format!("{root}/prerelease_specs.4.8.gz"),
        ),
        get(
            "/{owner}/{repo}/rubygems/quick/Marshal.4.8/{file}",
            format!("{root}/quick/Marshal.4.8/matrix-1.0.0.gemspec.rz"),
        ),
        get(
            "/{owner}/{repo}/rubygems/gems/{file}",
            format!("{root}/gems/matrix-1.0.0.gem"),
        ),
        entry(
            "HEAD",
            "/{owner}/{repo}/rubygems/gems/{file}",
            format!("{root}/gems/matrix-1.0.0.gem"),
            None,
            repo(Level::Read),
        ),
    ]
}

/// The apt repository: read like any other repository route (apt sends its credentials
/// from auth.conf unasked).
fn deb_entries() -> Vec<Entry> {
    let mut out = Vec::new();
    for method in ["GET", "HEAD"] {
        out.push(entry(
            method,
            "/{owner}/{repo}/deb/dists/{dist}/{*path}",
            "/acme/dev/deb/dists/stable/InRelease".into(),
            None,
            repo(Level::Read),
        ));
        out.push(entry(
            method,
            "/{owner}/{repo}/deb/pool/{component}/{prefix}/{name}/{filename}",
            "/acme/dev/deb/pool/main/m/matrix/matrix_1.0_amd64.deb".into(),
            None,
            repo(Level::Read),
        ));
        out.push(entry(
            method,
            "/{owner}/{repo}/deb/signing-key.asc",
            "/acme/dev/deb/signing-key.asc".into(),
            None,
            repo(Level::Read),
        ));
    }
    // A file no upstream lists: 404 (naming the file) for whoever may read.
    out.push(entry(
        "GET",
        "/{owner}/{repo}/deb/upstream/{upstream}/{dist}/{*path}",
        "/acme/dev/deb/upstream/1/stable/pool/main/x/x/x_1_all.deb".into(),
        None,
        repo(Level::Read),
    ));
    out
}

/// Deploys org.example:matrix:1.0 (a POM and the metadata that ends the deploy) to acme/dev.
async fn push_matrix_maven(s: &TestServer) -> TestResult {
    let dir = "/acme/dev/maven/org/example/matrix";
    for (path, body) in [
        (format!("{dir}/1.0/matrix-1.0.pom"), "<project><groupId>org.example</groupId><artifactId>matrix</artifactId><version>1.0</version></project>"),
        (format!("{dir}/maven-metadata.xml"), "<metadata/>"),
    ] {
        let resp = s.req(Method::PUT, &path, Some(ADMIN)).body(body).send().await?;
        assert_eq!(resp.status(), StatusCode::CREATED, "{path}");
    }
    Ok(())
}

/// The Maven layout: an anonymous caller is challenged (Maven sends its credentials only
/// then), an outsider sees nothing.
fn maven_entries() -> Vec<Entry> {
    let file = "/acme/dev/maven/org/example/matrix/1.0/matrix-1.0.pom".to_owned();
    vec![
        entry(
            "GET",
            "/{owner}/{repo}/maven/{*path}",
            file.clone(),
            None,
            Rule::RegistryChallenge(Level::Read),
        ),
        entry(
            "HEAD",
            "/{owner}/{repo}/maven/{*path}",
            file,
            None,
            Rule::RegistryChallenge(Level::Read),
        ),
        entry(
            "PUT",
            "/{owner}/{repo}/maven/{*path}",
            "/acme/dev/maven/org/example/matrix/2.0/matrix-2.0.jar".into(),
            None,
            Rule::RegistryChallenge(Level::Write),
        ),
    ]
}

/// The registry protocol's routes on the image acme/dev/app (tag `matrix`).
fn oci_entries() -> Vec<Entry> {
    let image = "/acme/dev/app";
    vec![
        entry("GET", "/v2/", "/v2/".into(), None, Rule::Authenticated),
        entry(
            "GET",
            "/v2/token",
            "/v2/token?service=gantry".into(),
            None,
            Rule::AnyCaller,
        ),
        entry(
            "GET",
            "/v2/{*path}",
            format!("/v2{image}/manifests/matrix"),
            None,
            Rule::RegistryChallenge(Level::Read),
        ),
        entry(
            "HEAD",
            "/v2/{*path}",
            format!("/v2{image}/manifests/matrix"),
            None,
            Rule::RegistryChallenge(Level::Read),
        ),
        entry(
            "POST",
            "/v2/{*path}",
            format!("/v2{image}/blobs/uploads/"),
            None,
            Rule::RegistryChallenge(Level::Write),
        ),
        entry(
            "PUT",
            "/v2/{*path}",
            format!("/v2{image}/manifests/matrix-put"),
            Some(json!({"schemaVersion": 2})),
            Rule::RegistryChallenge(Level::Write),
        ),
        entry(
            "PATCH",
            "/v2/{*path}",
            format!("/v2{image}/blobs/uploads/not-a-session"),
            None,
            Rule::RegistryChallenge(Level::Write),
        ),
        entry(
            "DELETE",
            "/v2/{*path}",
            format!("/v2{image}/manifests/not-a-tag"),
            None,
            Rule::RegistryChallenge(Level::Admin),
        ),
    ]
}

/// Pushes the image acme/dev/app:matrix (an empty config, no layers).
async fn push_matrix_image(s: &TestServer) -> TestResult {
    let config = b"{}";
    let digest = format!("sha256:{}", crate::common::sha256_hex(config));
    let resp = s
        .req(
            Method::POST,
            &format!("/v2/acme/dev/app/blobs/uploads/?digest={digest}"),
            Some(ADMIN),
        )
        .body(config.to_vec())
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let manifest = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest, "size": 2},
        "layers": []});
    let resp = s
        .req(
            Method::PUT,
            "/v2/acme/dev/app/manifests/matrix",
            Some(ADMIN),
        )
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(manifest.to_string())
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::CREATED);
    Ok(())
}

/// The private npm package of acme/dev (a real tarball).
const PRIVATE_NPM: &str = "is-number";

fn routes_of_the_server() -> TestResult<BTreeSet<(String, String)>> {
    let out = std::process::Command::new(crate::common::bin())
        .args(["admin", "routes"])
        .output()?;
    let routes: Vec<Value> = serde_json::from_slice(&out.stdout)?;
    Ok(routes
        .iter()
        .map(|r| {
            (
                r["method"].as_str().unwrap_or_default().to_owned(),
                r["path"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_answers_every_caller_as_the_matrix_says() -> TestResult {
    let s = TestServer::builder()
        .arg("--trusted-proxies")
        .arg("127.0.0.1/32")
        .arg("--auth-failure-limit")
        .arg("100000")
        .start()?;
    s.create_repo("acme", "dev", true).await?;
    s.create_repo("acme", "dev2", true).await?;
    s.create_repo("other", "secret", true).await?;
    let (st, p) = s
        .upload_raw(
            "acme/dev",
            PRIVATE_NAME,
            "1.0",
            &format!("{PRIVATE_NAME}.bin"),
            PRIVATE_BYTES,
        )
        .await?;
    assert_eq!(st, StatusCode::CREATED);
    let slug = p["slug_perm"].as_str().ok_or("slug")?.to_owned();
    let wheel = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures/python/six-1.16.0-py2.py3-none-any.whl");
    let py_slug = s.cli_ok(
        Some(ADMIN),
        &["push", "python", "acme/dev", &wheel.display().to_string()],
    )?;
    let py_file = format!("/acme/dev/python/files/{py_slug}/six-1.16.0-py2.py3-none-any.whl");
    let itoa = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures/cargo/itoa-1.0.11.crate");
    s.cli_ok(
        Some(ADMIN),
        &["push", "cargo", "acme/dev", &itoa.display().to_string()],
    )?;
    let tgz = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures/npm/is-number-7.0.0.tgz");
    let npm_slug = s.cli_ok(
        Some(ADMIN),
        &["push", "npm", "acme/dev", &tgz.display().to_string()],
    )?;
    let npm_file = format!("/acme/dev/npm/files/{npm_slug}/is-number-7.0.0.tgz");
    push_matrix_image(&s).await?;
    push_matrix_module(&s).await?;
    push_matrix_maven(&s).await?;
    push_matrix_composer(&s).await?;
    push_matrix_nuget(&s).await?;
    push_matrix_gem(&s).await?;
    push_matrix_rpm(&s).await?;
    let (st, body) = crate::deb::upload_deb(
        &s,
        "acme/dev",
        crate::deb::tiny_deb("Package: matrix\nVersion: 1.0\nArchitecture: amd64\n", &[]),
        "",
        Some(ADMIN),
    )
    .await?;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    let (st, hook) = s
        .admin(
            Method::POST,
            "/api/v1/webhooks/acme/dev",
            Some(json!({"target_url": "http://127.0.0.1:9/hook", "events": ["ping"], "is_active": false})),
        )
        .await?;
    assert_eq!(st, StatusCode::CREATED, "{hook}");
    let webhook = hook["id"].as_i64().ok_or("id")?;
    // Principals the routes refer to.
    let (st, _) = s
        .admin(
            Method::POST,
            "/api/v1/users",
            Some(json!({"name": "alice", "password": "correct horse"})),
        )
        .await?;
    assert_eq!(st, StatusCode::CREATED);
    s.admin(
        Method::POST,
        "/api/v1/teams/acme",
        Some(json!({"name": "devs"})),
    )
    .await?;
    s.admin(
        Method::POST,
        "/api/v1/service-accounts/acme",
        Some(json!({"name": "ci"})),
    )
    .await?;
    // The allowlist is set last: the callers inside send X-Forwarded-For 10.1.2.3 through the
    // trusted proxy 127.0.0.1; the one outside sends 203.0.113.7.
    let (st, body) = s
        .admin(
            Method::PATCH,
            "/api/v1/repos/acme/dev",
            Some(json!({"ip_allowlist": ["10.0.0.0/8"]})),
        )
        .await?;
    assert_eq!(st, StatusCode::OK, "{body}");

    let read = s.token("acme", "read").await?;
    let write = s.token("acme", "write").await?;
    let admin = s.token("acme", "admin").await?;
    let other = s.token("other", "admin").await?;
    let (_, expired) = s
        .admin(
            Method::POST,
            "/api/v1/tokens",
            Some(json!({"scope": "acme", "privilege": "admin", "expires_in_seconds": 1})),
        )
        .await?;
    let expired = expired["token"].as_str().ok_or("token")?.to_owned();
    let revoked_token = s
        .admin(
            Method::POST,
            "/api/v1/tokens",
            Some(json!({"scope": "acme", "privilege": "admin"})),
        )
        .await?
        .1;
    let revoked = revoked_token["token"].as_str().ok_or("token")?.to_owned();
    let (st, _) = s
        .admin(
            Method::DELETE,
            &format!("/api/v1/tokens/{}", revoked_token["id"]),
            None,
        )
        .await?;
    assert_eq!(st, StatusCode::NO_CONTENT);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;

    let (st, up) = s
        .admin(
            Method::POST,
            "/api/v1/repos/acme/dev/upstreams",
            Some(json!({"format": "python", "name": "dead", "url": "http://127.0.0.1:9/simple/"})),
        )
        .await?;
    assert_eq!(st, StatusCode::CREATED, "{up}");
    let upstream = up["id"].as_i64().ok_or("id")?;
    let mut table = entries(&slug, webhook, py_file, upstream, npm_file);
    table.extend(crate::access_matrix_ui::entries(&slug, webhook, upstream));
    // Coverage: the matrix and the server's route table are the same set.
    let covered: BTreeSet<(String, String)> = table
        .iter()
        .map(|e| (e.method.to_owned(), e.template.to_owned()))
        .collect();
    let served = routes_of_the_server()?;
    let missing: Vec<_> = served.difference(&covered).collect();
    assert!(
        missing.is_empty(),
        "routes without an access-matrix entry: {missing:?}"
    );
    let stale: Vec<_> = covered.difference(&served).collect();
    assert!(
        stale.is_empty(),
        "matrix entries for routes that do not exist: {stale:?}"
    );

    let sha = crate::common::sha256_hex(PRIVATE_BYTES);
    let mut failures = Vec::new();
    for e in &table {
        for &caller in CALLERS {
            let (token, address) = match caller {
                Caller::Anonymous => (None, "10.1.2.3"),
                Caller::Read => (Some(read.as_str()), "10.1.2.3"),
                Caller::Write => (Some(write.as_str()), "10.1.2.3"),
                Caller::Admin => (Some(admin.as_str()), "10.1.2.3"),
                Caller::OtherNamespace => (Some(other.as_str()), "10.1.2.3"),
                Caller::Expired => (Some(expired.as_str()), "10.1.2.3"),
                Caller::Revoked => (Some(revoked.as_str()), "10.1.2.3"),
                Caller::OutsideAllowlist => (Some(admin.as_str()), "203.0.113.7"),
            };
            let method = Method::from_bytes(e.method.as_bytes())?;
            let mut req = match token {
                // cargo sends its token as the whole Authorization header.
                Some(t) if e.template.contains("/cargo/") => {
                    s.req(method, &e.path, None).header("authorization", t)
                }
                _ => s.req(method, &e.path, token),
            }
            .header("x-forwarded-for", address);
            if let Some(multipart) = e.body.as_ref().and_then(|b| b["multipart"].as_str()) {
                let boundary = crate::access_matrix_ui::MULTIPART_BOUNDARY;
                req = req
                    .header(
                        "content-type",
                        format!("multipart/form-data; boundary={boundary}"),
                    )
                    .body(multipart.to_owned());
            } else if let Some(Value::String(form)) = &e.body {
                req = req
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(form.clone());
            } else if let Some(body) = &e.body {
                req = req.json(body);
            } else if e.method == "POST" {
                req = req.body("matrix upload");
            }
            let resp = req.send().await?;
            let status = resp.status();
            let text = resp.text().await?;
            // HEAD answers carry no body: a 404 there can only be judged by its status.
            let hidden = status == StatusCode::NOT_FOUND
                && (text.contains("repository acme/dev not found") || e.method == "HEAD");
            // The web interface's forms refuse a request without the session's CSRF token
            // before anything else; a bearer token stands in for the session.
            let wanted = if e.template.starts_with("/ui")
                && e.method == "POST"
                && caller == Caller::Anonymous
            {
                Want::Forbidden
            } else {
                want(e.rule, caller)
            };
            let ok = match wanted {
                Want::Allowed => {
                    !matches!(status.as_u16(), 401 | 403 | 429) && !hidden && status.as_u16() < 500
                }
                Want::Hidden => hidden,
                Want::Unauthorized => status == StatusCode::UNAUTHORIZED,
                Want::Forbidden => status == StatusCode::FORBIDDEN,
                Want::Status(code) => status.as_u16() == code,
            };
            if !ok {
                failures.push(format!(
                    "{} {} as {caller:?}: wanted {:?}, got {status} {}",
                    e.method,
                    e.path,
                    wanted,
                    text.chars().take(160).collect::<String>()
                ));
            }
            // Nobody without read on acme/dev learns anything of its packages.
            let may_read = matches!(
                caller,
                Caller::Read | Caller::Write | Caller::Admin | Caller::OutsideAllowlist
            );
            let six_sha = "8abb2f1d86890a2dfb989f9a77cfcfd3e47c2a354b01111771326f8aa26e0254";
            if !may_read
                && (text.contains(PRIVATE_NAME) || text.contains(&sha) || text.contains(six_sha))
            {
                failures.push(format!(
                    "{} {} as {caller:?} leaked private data: {text}",
                    e.method, e.path
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );

    // Denied requests are in the audit log, with the address they came from.
    let (_, denied) = s
        .call(
            Method::GET,
            "/api/v1/audit/acme?event=request.denied&limit=1000",
            Some(ADMIN),
            None,
        )
        .await?;
    let denied = denied.as_array().ok_or("array")?;
    assert!(denied.len() > 40, "only {} denials recorded", denied.len());
    assert!(denied.iter().any(|e| e["context"]["reason"]
        .as_str()
        .is_some_and(|r| r.contains("allowlist"))));
    Ok(())
}

/// Pushes Matrix.Lib 1.0.0 to acme/dev through the NuGet push route.
async fn push_matrix_nuget(s: &TestServer) -> TestResult {
    use std::io::Write;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    zip.start_file(
        "Matrix.Lib.nuspec",
        zip::write::SimpleFileOptions::default(),
    )?;
    zip.write_all(b"<package><metadata><id>Matrix.Lib</id><version>1.0.0</version><authors>t</authors><description>d</description></metadata></package>")?;
    let bytes = zip.finish()?.into_inner();
    let form = reqwest::multipart::Form::new().part(
        "package",
        reqwest::multipart::Part::bytes(bytes).file_name("package.nupkg"),
    );
    let resp = s
        .req(Method::PUT, "/acme/dev/nuget/v3/package/", None)
        .header("X-NuGet-ApiKey", ADMIN)
        .multipart(form)
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::CREATED);
    Ok(())
}

/// The NuGet feed: readers as for any repository, but an anonymous caller is challenged
/// (nuget.exe sends its packageSourceCredentials only then).
fn nuget_entries() -> Vec<Entry> {
    let feed = "/acme/dev/nuget/v3";
    let read = |method: &'static str, template: &'static str, path: String| {
        entry(method, template, path, None, Rule::ReadChallenge)
    };
    vec![
        read(
            "GET",
            "/{owner}/{repo}/nuget/v3/index.json",
            format!("{feed}/index.json"),
        ),
        read(
            "GET",
            "/{owner}/{repo}/nuget/v3/flat/{id}/index.json",
            format!("{feed}/flat/matrix.lib/index.json"),
        ),
        read(
            "GET",
            "/{owner}/{repo}/nuget/v3/flat/{id}/{version}/{file}",
            format!("{feed}/flat/matrix.lib/1.0.0/matrix.lib.1.0.0.nupkg"),
        ),
        read(
            "HEAD",
            "/{owner}/{repo}/nuget/v3/flat/{id}/{version}/{file}",
            format!("{feed}/flat/matrix.lib/1.0.0/matrix.lib.nuspec"),
        ),
        read(
            "GET",
            "/{owner}/{repo}/nuget/v3/registration/{id}/{leaf}",
            format!("{feed}/registration/matrix.lib/index.json"),
        ),
        read(
            "GET",
            "/{owner}/{repo}/nuget/v3/registration/{id}/page/{lower}/{upper}",
            format!("{feed}/registration/matrix.lib/page/1.0.0/1.0.0.json"),
        ),
        read(
            "GET",
            "/{owner}/{repo}/nuget/v3/query",
            format!("{feed}/query?q=matrix"),
        ),
        read(
            "GET",
            "/{owner}/{repo}/nuget/v3/autocomplete",
            format!("{feed}/autocomplete?q=matrix"),
        ),
        entry(
            "PUT",
            "/{owner}/{repo}/nuget/v3/package/",
            format!("{feed}/package/"),
            None,
            repo(Level::Write),
        ),
        entry(
            "PUT",
            "/{owner}/{repo}/nuget/v3/symbolpackage/",
            format!("{feed}/symbolpackage/"),
            None,
            repo(Level::Write),
        ),
        entry(
            "DELETE",
            "/{owner}/{repo}/nuget/v3/package/{id}/{version}",
            format!("{feed}/package/matrix.lib/1.0.0"),
            None,
            repo(Level::Write),
        ),
        entry(
            "POST",
            "/{owner}/{repo}/nuget/v3/package/{id}/{version}",
            format!("{feed}/package/matrix.lib/1.0.0"),
            None,
            repo(Level::Write),
        ),
    ]
}

/// Where the access matrix's RPM is served (its slug is known once it is uploaded).
static RPM_FILE: std::sync::OnceLock<String> = std::sync::OnceLock::new();

async fn push_matrix_rpm(s: &TestServer) -> TestResult {
    let resp = s
        .req(
            Method::POST,
            "/api/v1/packages/acme/dev/upload/rpm?filename=matrix.rpm",
            Some(ADMIN),
        )
        .body(crate::rpm::hostile::minimal_rpm("matrix"))
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let body: Value = resp.json().await?;
    let slug = body["slug_perm"].as_str().ok_or("slug")?;
    let _ = RPM_FILE.set(format!(
        "/acme/dev/rpm/files/{slug}/matrix-1.0-1.noarch.rpm"
    ));
    Ok(())
}

/// The RPM repository: an anonymous caller is challenged (dnf sends the credentials of a
/// repository only then), an outsider sees nothing.
fn rpm_entries() -> Vec<Entry> {
    let file = RPM_FILE.get().cloned().unwrap_or_default();
    let mut out = Vec::new();
    for method in ["GET", "HEAD"] {
        out.push(entry(
            method,
            "/{owner}/{repo}/rpm/repodata/{filename}",
            "/acme/dev/rpm/repodata/repomd.xml".into(),
            None,
            Rule::ReadChallenge,
        ));
        out.push(entry(
            method,
            "/{owner}/{repo}/rpm/key.asc",
            "/acme/dev/rpm/key.asc".into(),
            None,
            Rule::ReadChallenge,
        ));
        out.push(entry(
            method,
            "/{owner}/{repo}/rpm/files/{slug}/{filename}",
            file.clone(),
            None,
            Rule::ReadChallenge,
        ));
    }
    // A package no upstream lists: 404 for whoever may read, the challenge for the rest.
    out.push(entry(
        "GET",
        "/{owner}/{repo}/rpm/upstream/{upstream}/{*path}",
        "/acme/dev/rpm/upstream/1/Packages/x-1-1.noarch.rpm".into(),
        None,
        Rule::ReadChallenge,
    ));
    out
}
