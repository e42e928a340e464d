//! The distribution specification's routes. Image names hold `/`, so one catch-all route
//! takes `/v2/{owner}/{repo}/{image…}/{manifests|blobs|tags|referrers}/…` and dispatches on
//! the path's tail and the method.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use gantry_db::RepoRow;
use gantry_formats::Format;
use gantry_protocol::access::Op;
use gantry_protocol::app::App;
use gantry_protocol::auth::Caller;
use gantry_protocol::plugin::{ContentScan, FormatPlugin, RouteSet};

mod auth;
mod blobs;
mod error;
mod manifests;
mod pull;
mod scan;
mod uploads;

use error::{Code, OciError, OciResult};

pub struct Plugin;

impl FormatPlugin for Plugin {
    fn format(&self) -> Arc<dyn Format> {
        Arc::new(crate::pure::Oci)
    }

    fn native_push(&self) -> Option<gantry_client::push::NativePush> {
        Some(|client, request| Box::pin(crate::push::push(client, request)))
    }

    fn routes(&self) -> RouteSet {
        RouteSet::new()
            .get("/v2/", auth::version_check)
            .get("/v2/token", auth::token)
            .methods_upload(
                "/v2/{*path}",
                &["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"],
                dispatch,
            )
    }

    /// Pull-through from other registries (see `pull`).
    fn has_upstreams(&self) -> bool {
        true
    }

    /// Images are pushed in parts (blobs, then the manifest) by their clients.
    fn accepts_file_upload(&self) -> bool {
        false
    }

    fn migrations(&self) -> Option<gantry_db::MigrationSet> {
        Some(crate::queries::MIGRATIONS)
    }

    /// Images are scanned by what their layers install, not as one package.
    fn content_scan(&self) -> Option<ContentScan> {
        Some(
            ContentScan::new(|app, package| Box::pin(scan::components(app, package))).touched(
                |app, touched| {
                    Box::pin(async move {
                        use crate::queries::ComponentQueries;
                        Ok(app.db.oci_packages_containing(touched).await?)
                    })
                },
            ),
        )
    }
}

/// What a request under `/v2/` addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    Manifest(String),
    Blob(String),
    Uploads,
    Upload(String),
    Tags,
    Referrers(String),
}

/// A request's repository, image and caller.
pub(crate) struct Scope {
    pub(crate) owner: String,
    pub(crate) repo: String,
    pub(crate) image: String,
    pub(crate) caller: Caller,
}

impl Scope {
    /// `OWNER/REPO/IMAGE`, the name clients use.
    pub(crate) fn full_name(&self) -> String {
        format!("{}/{}/{}", self.owner, self.repo, self.image)
    }

    /// Loads the repository for `op`; refusals carry the bearer challenge for this image.
    pub(crate) async fn load(&self, app: &App, headers: &HeaderMap, op: Op) -> OciResult<RepoRow> {
        gantry_protocol::repo::load_repo(app, &self.caller, &self.owner, &self.repo, op)
            .await
            .map_err(|e| auth::refusal(app, headers, &self.caller, &self.full_name(), op, e))
    }
}

/// Splits `OWNER/REPO/IMAGE…/<tail>`.
fn parse_path(path: &str) -> Option<(String, String, String, Target)> {
    let segments: Vec<&str> = path.split('/').collect();
    let n = segments.len();
    let (name_len, target) = match segments.as_slice() {
        [.., "tags", "list"] => (n - 2, Target::Tags),
        [.., "blobs", "uploads", ""] | [.., "blobs", "uploads"] if n >= 5 => {
            let tail = if segments[n - 1].is_empty() { 3 } else { 2 };
            (n - tail, Target::Uploads)
        }
        [.., "blobs", "uploads", id] => (n - 3, Target::Upload((*id).to_owned())),
        [.., "manifests", reference] => (n - 2, Target::Manifest((*reference).to_owned())),
        [.., "blobs", digest] => (n - 2, Target::Blob((*digest).to_owned())),
        [.., "referrers", digest] => (n - 2, Target::Referrers((*digest).to_owned())),
        _ => return None,
    };
    if name_len < 3 {
        return None;
    }
    let owner = segments[0].to_owned();
    let repo = segments[1].to_owned();
    let image = segments[2..name_len].join("/");
    Some((owner, repo, image, target))
}

/// Every request under `/v2/{owner}/…`.
async fn dispatch(State(app): State<Arc<App>>, request: Request) -> Response {
    match route(&app, request).await {
        Ok(response) => with_api_version(response),
        Err(err) => err.into_response(),
    }
}

fn with_api_version(mut response: Response) -> Response {
    response.headers_mut().insert(
        "docker-distribution-api-version",
        axum::http::HeaderValue::from_static("registry/2.0"),
    );
    response
}

async fn route(app: &Arc<App>, request: Request) -> OciResult<Response> {
    let (mut parts, body) = request.into_parts();
    let path = parts
        .uri
        .path()
        .strip_prefix("/v2/")
        .unwrap_or_default()
        .to_owned();
    let Some((owner, repo, image, target)) = parse_path(&path) else {
        return Err(OciError::not_found(
            Code::NameUnknown,
            "no such registry route",
        ));
    };
    if !crate::pure::valid_image_name(&image) {
        return Err(OciError::bad(
            Code::NameInvalid,
            format!(
                "invalid image name '{}'",
                gantry_core::names::quote_prefix(&image, 120)
            ),
        ));
    }
    auth::forget_anonymous_token(&mut parts.headers);
    let caller = Caller::from_request_parts(&mut parts, app)
        .await
        .map_err(|e| auth::refusal(app, &parts.headers, &auth::anonymous(), "", Op::Read, e))?;
    let scope = Scope {
        owner,
        repo,
        image,
        caller,
    };
    let query = parts.uri.query().unwrap_or_default().to_owned();
    let method = parts.method.clone();
    let headers = parts.headers;
    let ctx = Ctx {
        app,
        scope: &scope,
        headers: &headers,
        query: &query,
    };
    match (method.clone(), target) {
        (Method::GET | Method::HEAD, Target::Manifest(r)) => {
            manifests::get(&ctx, &method, &r).await
        }
        (Method::PUT, Target::Manifest(r)) => manifests::put(&ctx, &r, body).await,
        (Method::DELETE, Target::Manifest(r)) => manifests::delete(&ctx, &r).await,
        (Method::GET | Method::HEAD, Target::Blob(d)) => blobs::get(&ctx, &method, &d).await,
        (Method::DELETE, Target::Blob(d)) => blobs::delete(&ctx, &d).await,
        (Method::POST, Target::Uploads) => uploads::start(&ctx, body).await,
        (Method::GET, Target::Upload(id)) => uploads::status(&ctx, &id).await,
        (Method::PATCH, Target::Upload(id)) => uploads::patch(&ctx, &id, body).await,
        (Method::PUT, Target::Upload(id)) => uploads::finish(&ctx, &id, body).await,
        (Method::DELETE, Target::Upload(id)) => uploads::cancel(&ctx, &id).await,
        (Method::GET, Target::Tags) => manifests::tags(&ctx).await,
        (Method::GET, Target::Referrers(d)) => manifests::referrers(&ctx, &d).await,
        _ => Err(OciError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            Code::Unsupported,
            format!("{method} is not supported here"),
        )),
    }
}

/// What a handler needs of its request.
pub(crate) struct Ctx<'a> {
    pub(crate) app: &'a Arc<App>,
    pub(crate) scope: &'a Scope,
    pub(crate) headers: &'a HeaderMap,
    pub(crate) query: &'a str,
}

impl Ctx<'_> {
    /// A query parameter (the first of its name), percent-decoded.
    pub(crate) fn param(&self, name: &str) -> Option<String> {
        self.query.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (k == name).then(|| decode(v))
        })
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub(crate) async fn repo(&self, op: Op) -> OciResult<RepoRow> {
        self.scope.load(self.app, self.headers, op).await
    }
}

fn decode(value: &str) -> String {
    let value = value.replace('+', " ");
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&value[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A response with headers and an empty body.
pub(crate) fn empty(status: StatusCode, headers: &[(&'static str, String)]) -> OciResult<Response> {
    let mut response = (status, Body::empty()).into_response();
    for (name, value) in headers {
        let value = axum::http::HeaderValue::from_str(value).map_err(OciError::internal)?;
        response.headers_mut().insert(*name, value);
    }
    Ok(response)
}

/// Parses a digest from a request, as the specification's `DIGEST_INVALID`.
pub(crate) fn digest(text: &str) -> OciResult<crate::pure::Digest> {
    crate::pure::Digest::parse(text).map_err(|e| OciError::bad(Code::DigestInvalid, e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        let p = |s: &str| parse_path(s).map(|(o, r, i, t)| (format!("{o}/{r}/{i}"), t));
        assert_eq!(
            p("acme/dev/team/app/manifests/latest"),
            Some((
                "acme/dev/team/app".into(),
                Target::Manifest("latest".into())
            ))
        );
        assert_eq!(
            p("acme/dev/app/blobs/uploads/"),
            Some(("acme/dev/app".into(), Target::Uploads))
        );
        assert_eq!(
            p("acme/dev/app/blobs/uploads/abc"),
            Some(("acme/dev/app".into(), Target::Upload("abc".into())))
        );
        assert_eq!(
            p("acme/dev/app/tags/list"),
            Some(("acme/dev/app".into(), Target::Tags))
        );
        assert_eq!(p("acme/dev/manifests/x"), None);
        assert_eq!(p("acme/dev/app/other"), None);
        assert_eq!(decode("a%2Fb+c"), "a/b c");
    }
}
