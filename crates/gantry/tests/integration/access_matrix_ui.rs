//! The web interface's rows of the access matrix. The pages act through the REST API as
//! their caller, so each page and form answers as the API routes behind it: the callers of
//! the matrix present their tokens as `Authorization: Bearer` (which the pages accept in
//! place of a session), and forms are sent as a browser sends them. An anonymous form
//! (no session, so no CSRF token) is refused with 403 before anything else.

use serde_json::{json, Value};

use crate::access_matrix::{entry, repo, repo_admin, Entry, Level, Rule};

fn form(fields: &str) -> Option<Value> {
    Some(Value::String(fields.to_owned()))
}

/// A multipart upload form as a browser sends it (see the matrix's request builder).
pub(crate) const MULTIPART_BOUNDARY: &str = "matrixboundary";

fn upload_form() -> Option<Value> {
    let part = |name: &str, extra: &str, value: &str| {
        format!("--{MULTIPART_BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"{extra}\r\n\r\n{value}\r\n")
    };
    let body = [
        part("format", "", "raw"),
        part("name", "", "uimatrix"),
        part("version", "", "1"),
        part("file", "; filename=\"m.bin\"", "matrix upload"),
    ]
    .concat()
        + &format!("--{MULTIPART_BOUNDARY}--\r\n");
    Some(json!({ "multipart": body }))
}

pub(crate) fn entries(slug: &str, webhook: i64, upstream: i64) -> Vec<Entry> {
    let ghost = "/ui/acme/dev/AAAAAAAAAAAA";
    let hook = format!("/ui/acme/dev/-/webhooks/{webhook}");
    let read_or_admin = Rule::Repo {
        level: Level::Read,
        administrative: true,
    };
    vec![
        // These redirect to /ui/, which the client follows.
        entry("GET", "/", "/".into(), None, Rule::AnyCaller),
        entry("GET", "/ui", "/ui".into(), None, Rule::AnyCaller),
        entry(
            "GET",
            "/ui/-/static/{file}",
            "/ui/-/static/style.css".into(),
            None,
            Rule::Open,
        ),
        entry("GET", "/ui/-/go", "/ui/-/go?owner=acme".into(), None, Rule::AnyCaller),
        entry("GET", "/ui/", "/ui/".into(), None, Rule::AnyCaller),
        entry("GET", "/ui/-/sign-in", "/ui/-/sign-in".into(), None, Rule::AnyCaller),
        entry(
            "POST",
            "/ui/-/sign-in",
            "/ui/-/sign-in".into(),
            form("username=alice&password=wrong+password"),
            Rule::Always(401),
        ),
        entry("POST", "/ui/-/sign-out", "/ui/-/sign-out".into(), form(""), Rule::AnyCaller),
        entry("GET", "/ui/-/tokens", "/ui/-/tokens".into(), None, Rule::Authenticated),
        entry(
            "POST",
            "/ui/-/tokens",
            "/ui/-/tokens".into(),
            form("description=matrix&scope=acme&privilege=read"),
            Rule::Namespace,
        ),
        entry(
            "POST",
            "/ui/-/tokens/{id}/revoke",
            "/ui/-/tokens/999999/revoke".into(),
            form(""),
            Rule::Always(404),
        ),
        entry("GET", "/ui/{owner}", "/ui/acme".into(), None, Rule::AnyCaller),
        entry(
            "POST",
            "/ui/{owner}",
            "/ui/acme".into(),
            form("name=uirepo&visibility=private"),
            Rule::Namespace,
        ),
        entry(
            "GET",
            "/ui/{owner}/-/security",
            "/ui/acme/-/security".into(),
            None,
            Rule::NamespaceRead,
        ),
        entry("GET", "/ui/{owner}/-/audit", "/ui/acme/-/audit".into(), None, Rule::Namespace),
        entry(
            "GET",
            "/ui/{owner}/-/policies",
            "/ui/acme/-/policies".into(),
            None,
            Rule::NamespaceRead,
        ),
        entry(
            "POST",
            "/ui/{owner}/-/policies",
            "/ui/acme/-/policies".into(),
            form("name=uimatrix&rego=package+gantry%0A"),
            Rule::Namespace,
        ),
        entry(
            "GET",
            "/ui/{owner}/-/policies/{name}",
            "/ui/acme/-/policies/uimatrix".into(),
            None,
            Rule::NamespaceRead,
        ),
        entry(
            "POST",
            "/ui/{owner}/-/policies/{name}",
            "/ui/acme/-/policies/uimatrix".into(),
            form("rego=package+gantry%0A&enabled=1"),
            Rule::Namespace,
        ),
        entry("GET", "/ui/{owner}/{repo}", "/ui/acme/dev".into(), None, repo(Level::Read)),
        entry(
            "GET",
            "/ui/{owner}/{repo}/-/security",
            "/ui/acme/dev/-/security".into(),
            None,
            repo(Level::Read),
        ),
        entry(
            "GET",
            "/ui/{owner}/{repo}/-/upload",
            "/ui/acme/dev/-/upload".into(),
            None,
            read_or_admin,
        ),
        entry(
            "POST",
            "/ui/{owner}/{repo}/-/upload",
            "/ui/acme/dev/-/upload".into(),
            upload_form(),
            repo(Level::Write),
        ),
        entry(
            "POST",
            "/ui/{owner}/{repo}/-/promote",
            "/ui/acme/dev/-/promote".into(),
            form("destination=dev2&mode=copy&slug=AAAAAAAAAAAA"),
            Rule::CopyOut,
        ),
        entry(
            "GET",
            "/ui/{owner}/{repo}/-/automation",
            "/ui/acme/dev/-/automation".into(),
            None,
            // Rules are read with the read operation, which the address rules block.
            repo(Level::Admin),
        ),
        entry(
            "POST",
            "/ui/{owner}/{repo}/-/automation/{what}",
            "/ui/acme/dev/-/automation/rules".into(),
            form("name=uimatrix&on=package.synced&condition=tag+%3D%3D+matrix&action=copy&destination=dev2"),
            repo_admin(),
        ),
        entry(
            "POST",
            "/ui/{owner}/{repo}/-/automation/{what}/{id}/{action}",
            "/ui/acme/dev/-/automation/upstreams/999999/delete".into(),
            form(""),
            repo_admin(),
        ),
        entry(
            "GET",
            "/ui/{owner}/{repo}/-/webhooks",
            "/ui/acme/dev/-/webhooks".into(),
            None,
            repo_admin(),
        ),
        entry(
            "POST",
            "/ui/{owner}/{repo}/-/webhooks",
            "/ui/acme/dev/-/webhooks".into(),
            form("target_url=http%3A%2F%2F127.0.0.1%3A9%2Fhook&events=ping"),
            repo_admin(),
        ),
        entry("GET", "/ui/{owner}/{repo}/-/webhooks/{id}", hook.clone(), None, repo_admin()),
        entry(
            "POST",
            "/ui/{owner}/{repo}/-/webhooks/{id}/ping",
            format!("{hook}/ping"),
            form(""),
            repo_admin(),
        ),
        entry(
            "POST",
            "/ui/{owner}/{repo}/-/webhooks/{id}/deliveries/{delivery}/redeliver",
            format!("{hook}/deliveries/999999/redeliver"),
            form(""),
            repo_admin(),
        ),
        entry(
            "GET",
            "/ui/{owner}/{repo}/{slug}",
            format!("/ui/acme/dev/{slug}"),
            None,
            repo(Level::Read),
        ),
        entry(
            "POST",
            "/ui/{owner}/{repo}/{slug}/{action}",
            format!("{ghost}/quarantine"),
            form(""),
            repo(Level::Admin),
        ),
    ]
    .into_iter()
    .chain(new_pages(upstream))
    .collect()
}

/// The administration pages.
fn new_pages(upstream: i64) -> Vec<Entry> {
    vec![
        entry(
            "GET",
            "/ui/{owner}/{repo}/-/automation/{what}/{id}",
            format!("/ui/acme/dev/-/automation/upstreams/{upstream}"),
            None,
            repo_admin(),
        ),
        entry("GET", "/ui/-/users", "/ui/-/users".into(), None, Rule::Site),
        entry(
            "POST",
            "/ui/-/users",
            "/ui/-/users".into(),
            form("name=uimallory&password=long+enough"),
            Rule::Site,
        ),
        entry(
            "GET",
            "/ui/{owner}/-/access",
            "/ui/acme/-/access".into(),
            None,
            Rule::Namespace,
        ),
        entry(
            "POST",
            "/ui/{owner}/-/access/{action}",
            "/ui/acme/-/access/team".into(),
            form("name=uiqa"),
            Rule::Namespace,
        ),
        // Settings are administration: the address rules do not keep its admins out.
        entry(
            "GET",
            "/ui/{owner}/{repo}/-/settings",
            "/ui/acme/dev/-/settings".into(),
            None,
            repo_admin(),
        ),
        entry(
            "POST",
            "/ui/{owner}/{repo}/-/settings",
            "/ui/acme/dev/-/settings".into(),
            form("description=dev+builds&visibility=private&ip_allowlist=10.0.0.0%2F8"),
            repo_admin(),
        ),
        entry(
            "GET",
            "/ui/{owner}/{repo}/-/retention",
            "/ui/acme/dev/-/retention".into(),
            None,
            repo(Level::Read),
        ),
        // The dry run's answer is shown on the rules' page, which reading (blocked by the
        // address rules) shows.
        entry(
            "POST",
            "/ui/{owner}/{repo}/-/retention/{action}",
            "/ui/acme/dev/-/retention/dry-run".into(),
            form(""),
            repo(Level::Admin),
        ),
        entry(
            "POST",
            "/ui/{owner}/{repo}/-/retention/{id}/delete",
            "/ui/acme/dev/-/retention/999999/delete".into(),
            form(""),
            repo_admin(),
        ),
        entry(
            "GET",
            "/ui/{owner}/{repo}/-/exceptions",
            "/ui/acme/dev/-/exceptions".into(),
            None,
            repo(Level::Read),
        ),
        // (An invalid status: the API checks the privilege first, then refuses it.)
        entry(
            "POST",
            "/ui/{owner}/{repo}/-/exceptions",
            "/ui/acme/dev/-/exceptions".into(),
            form("advisory_id=MATRIX-UI&status=bogus&repository=1"),
            repo_admin(),
        ),
        entry(
            "POST",
            "/ui/{owner}/{repo}/-/exceptions/{id}/delete",
            "/ui/acme/dev/-/exceptions/999999/delete".into(),
            form(""),
            repo_admin(),
        ),
        entry(
            "GET",
            "/ui/{owner}/{repo}/-/entitlements",
            "/ui/acme/dev/-/entitlements".into(),
            None,
            repo_admin(),
        ),
        entry(
            "POST",
            "/ui/{owner}/{repo}/-/entitlements",
            "/ui/acme/dev/-/entitlements".into(),
            form("description=matrix&max_downloads=1"),
            repo_admin(),
        ),
        entry(
            "POST",
            "/ui/{owner}/{repo}/-/entitlements/{id}/revoke",
            "/ui/acme/dev/-/entitlements/999999/revoke".into(),
            form(""),
            repo_admin(),
        ),
    ]
}
