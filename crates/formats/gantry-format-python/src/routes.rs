//! The Python package index protocols: the legacy upload API (`twine upload`), the simple
//! repository API as HTML (PEP 503) and JSON (PEP 691) with hashes, `Requires-Python`,
//! PEP 658/714 metadata files and PEP 592 yanking, and file downloads.

use std::fmt::Write as _;
use std::sync::Arc;

use crate::pure::normalize;
use axum::extract::{Multipart, OriginalUri, State};
use axum::http::header::{ACCEPT, CONTENT_TYPE, LOCATION, VARY};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use gantry_db::RepoRow;
use gantry_formats::Declared;

use crate::access::Op;
use crate::app::App;
use crate::auth::Caller;
use crate::error::{ApiPath, AppError, AppResult};
use crate::ingest::{ingest, Upload};
use crate::render::BaseUrl;
use gantry_protocol::repo::load_repo;

const FORMAT: &str = "python";
const JSON_TYPE: &str = "application/vnd.pypi.simple.v1+json";
const HTML_TYPE: &str = "application/vnd.pypi.simple.v1+html";
/// Form fields of an upload other than the file, and their total size.
const MAX_FORM_FIELDS: usize = 256;
const MAX_FORM_BYTES: usize = 1024 * 1024;

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

/// Whether the client prefers the PEP 691 JSON form (by `Accept` q-values, or `?format=`).
fn wants_json(headers: &HeaderMap, uri: &axum::http::Uri) -> bool {
    let is_json_type = |t: &str| {
        let t = t.trim().to_ascii_lowercase();
        t == JSON_TYPE || t == "application/vnd.pypi.simple.latest+json"
    };
    if let Some(q) = uri.query() {
        for kv in q.split('&') {
            if let Some(v) = kv.strip_prefix("format=") {
                let decoded = v.replace("%2B", "+").replace("%2b", "+");
                if is_json_type(&decoded) {
                    return true;
                }
            }
        }
    }
    let Some(accept) = headers.get(ACCEPT).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let mut best_json = 0.0_f32;
    let mut best_html = 0.0_f32;
    for item in accept.split(',') {
        let mut parts = item.split(';');
        let media = parts.next().unwrap_or("").trim();
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|v| v.parse::<f32>().ok())
            .unwrap_or(1.0);
        match media {
            m if is_json_type(m) => best_json = best_json.max(q),
            HTML_TYPE | "text/html" | "*/*" => best_html = best_html.max(q),
            _ => {}
        }
    }
    best_json > 0.0 && best_json >= best_html
}

fn page(json: bool, body: impl Into<axum::body::Body>) -> Response {
    let body: axum::body::Body = body.into();
    let content_type = if json {
        JSON_TYPE
    } else {
        "text/html; charset=utf-8"
    };
    (
        [
            (CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (VARY, HeaderValue::from_static("Accept")),
        ],
        body,
    )
        .into_response()
}

fn redirect(to: &str) -> AppResult<Response> {
    let location = HeaderValue::from_str(to).map_err(AppError::internal)?;
    Ok((StatusCode::MOVED_PERMANENTLY, [(LOCATION, location)]).into_response())
}

/// `/{owner}/{repo}/python/simple/`: every project of the repository.
pub(crate) async fn index(
    State(app): State<Arc<App>>,
    caller: Caller,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    ApiPath((owner, repo)): ApiPath<(String, String)>,
) -> AppResult<Response> {
    let repo = load_repo(&app, &caller, &owner, &repo, Op::Read).await?;
    if !uri.path().ends_with('/') {
        return redirect(&format!("{}/", uri.path()));
    }
    let projects = app.db.project_names(repo.id, FORMAT).await?;
    let json = wants_json(&headers, &uri);
    let body = if json {
        serde_json::json!({
            "meta": { "api-version": "1.1" },
            "projects": projects.iter().map(|(_, name)| serde_json::json!({ "name": name })).collect::<Vec<_>>(),
        })
        .to_string()
    } else {
        let mut html = String::from(
            "<!DOCTYPE html>\n<html><head><meta name=\"pypi:repository-version\" content=\"1.1\"><title>Simple index</title></head><body>\n",
        );
        for (normalized, name) in &projects {
            let _ = writeln!(
                html,
                "<a href=\"{}/\">{}</a><br/>",
                escape(normalized),
                escape(name)
            );
        }
        html.push_str("</body></html>\n");
        html
    };
    Ok(page(json, body))
}

/// Only the field the index needs; the rest of the stored metadata is skipped unparsed.
#[derive(serde::Deserialize)]
struct IndexMetadata {
    requires_python: Option<String>,
}

fn requires_python(metadata: &str) -> Option<String> {
    serde_json::from_str::<IndexMetadata>(metadata)
        .ok()
        .and_then(|m| m.requires_python)
}

/// One file on a project page, local or from an upstream.
struct Entry {
    filename: String,
    url: String,
    sha256: Option<String>,
    requires_python: Option<String>,
    metadata_sha256: Option<String>,
    /// `Some(reason)` when yanked.
    yanked: Option<String>,
    size: Option<i64>,
    upload_time: Option<String>,
}

fn local_entry(files_base: &str, p: gantry_db::IndexRow) -> Entry {
    Entry {
        url: format!(
            "{files_base}/{}/{}",
            p.slug_perm,
            super::encode_segment(&p.filename)
        ),
        filename: p.filename,
        sha256: Some(p.primary_sha256),
        requires_python: requires_python(&p.metadata),
        metadata_sha256: p.sidecar_sha256,
        yanked: (p.yanked != 0).then(|| p.yank_reason.unwrap_or_default()),
        size: Some(p.size),
        upload_time: Some(gantry_core::time::rfc3339(p.uploaded_at)),
    }
}

/// `/{owner}/{repo}/python/simple/{project}/`: the project's files, local first, then those
/// of the repository's upstreams in priority order (a filename already listed is not
/// listed again, so local files win).
pub(crate) async fn project(
    State(app): State<Arc<App>>,
    caller: Caller,
    base: BaseUrl,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    ApiPath((owner, repo, project)): ApiPath<(String, String, String)>,
) -> AppResult<Response> {
    let repo = load_repo(&app, &caller, &owner, &repo, Op::Read).await?;
    let normalized = normalize(&project);
    if normalized != project || !uri.path().ends_with('/') {
        let query = uri.query().map(|q| format!("?{q}")).unwrap_or_default();
        return redirect(&format!(
            "/{owner}/{}/python/simple/{normalized}/{query}",
            repo.name
        ));
    }
    let json = wants_json(&headers, &uri);
    let upstreams = app.db.list_upstreams(repo.id, Some(FORMAT)).await?;
    // Pages made of local packages only are cached while their rows are unchanged.
    let cached = if upstreams.is_empty() {
        let validator = app
            .db
            .project_index_validator(repo.id, FORMAT, &normalized)
            .await?;
        let key = format!("{}|{}|{normalized}|{json}|{owner}", base.0, repo.id);
        if let Some(body) = app.index_cache.get(&key, &validator) {
            return Ok(cached_page(json, &headers, &validator, body));
        }
        Some((key, validator))
    } else {
        None
    };
    let packages = app.db.project_index(repo.id, FORMAT, &normalized).await?;
    let has_local = !packages.is_empty();
    let mut display = packages
        .last()
        .map_or_else(|| normalized.clone(), |p| p.name.clone());
    let files_base = format!("{}/{owner}/{}/python/files", base.0, repo.name);
    let mut entries: Vec<Entry> = packages
        .into_iter()
        .map(|p| local_entry(&files_base, p))
        .collect();
    let mut seen: std::collections::HashSet<String> =
        entries.iter().map(|e| e.filename.clone()).collect();
    for upstream in upstreams {
        if upstream.local_names_only != 0 && has_local {
            continue;
        }
        let files = match crate::upstream::project_files(&app, &upstream, &normalized).await {
            Ok(files) => files,
            // Already logged and counted; the other sources still answer.
            Err(_) => continue,
        };
        for f in files {
            if !seen.insert(f.filename.clone()) {
                continue;
            }
            if !has_local && entries.is_empty() {
                if let Ok(parsed) = crate::pure::parse_filename(&f.filename) {
                    display = parsed.name;
                }
            }
            entries.push(Entry {
                url: format!(
                    "{}/{owner}/{}/python/upstream/{}/{}",
                    base.0,
                    repo.name,
                    upstream.id,
                    super::encode_segment(&f.filename)
                ),
                filename: f.filename,
                sha256: f.sha256,
                requires_python: f.requires_python,
                metadata_sha256: None,
                yanked: f.yanked,
                size: None,
                upload_time: None,
            });
        }
    }
    if entries.is_empty() {
        return Err(AppError::NotFound(format!(
            "project {normalized} not found in {}",
            repo.slug()
        )));
    }
    let body = if json {
        project_json(&display, &entries)
    } else {
        project_html(&display, &entries)
    };
    match cached {
        Some((key, validator)) => {
            let body = bytes::Bytes::from(body);
            app.index_cache.put(key, validator.clone(), body.clone());
            Ok(cached_page(json, &headers, &validator, body))
        }
        None => Ok(page(json, body)),
    }
}

/// A page with an ETag derived from its validator; `If-None-Match` with it gets 304.
fn cached_page(json: bool, headers: &HeaderMap, validator: &str, body: bytes::Bytes) -> Response {
    let etag = format!("\"{}-{validator}\"", if json { "j" } else { "h" });
    let matches = headers
        .get(axum::http::header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut response = if matches {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        page(json, body)
    };
    if let Ok(value) = HeaderValue::from_str(&etag) {
        response
            .headers_mut()
            .insert(axum::http::header::ETAG, value);
    }
    if matches {
        response
            .headers_mut()
            .insert(VARY, HeaderValue::from_static("Accept"));
    }
    response
}

fn project_html(name: &str, entries: &[Entry]) -> String {
    let mut html = format!(
        "<!DOCTYPE html>\n<html><head><meta name=\"pypi:repository-version\" content=\"1.1\"><title>Links for {0}</title></head><body>\n<h1>Links for {0}</h1>\n",
        escape(name)
    );
    for e in entries {
        let _ = write!(html, "<a href=\"{}", escape(&e.url));
        if let Some(sha) = &e.sha256 {
            let _ = write!(html, "#sha256={sha}");
        }
        html.push('"');
        if let Some(rp) = &e.requires_python {
            let _ = write!(html, " data-requires-python=\"{}\"", escape(rp));
        }
        if let Some(meta) = &e.metadata_sha256 {
            let _ = write!(
                html,
                " data-dist-info-metadata=\"sha256={meta}\" data-core-metadata=\"sha256={meta}\""
            );
        }
        if let Some(reason) = &e.yanked {
            let _ = write!(html, " data-yanked=\"{}\"", escape(reason));
        }
        let _ = writeln!(html, ">{}</a><br/>", escape(&e.filename));
    }
    html.push_str("</body></html>\n");
    html
}

/// PEP 691 project page. Serialised straight from borrowed structs: no intermediate JSON tree
/// for pages with thousands of files.
#[derive(serde::Serialize)]
struct ProjectPage<'a> {
    meta: Meta,
    name: String,
    versions: Vec<String>,
    files: Vec<FileEntry<'a>>,
}

#[derive(serde::Serialize)]
struct Meta {
    #[serde(rename = "api-version")]
    api_version: &'static str,
}

#[derive(serde::Serialize)]
struct FileEntry<'a> {
    filename: &'a str,
    url: &'a str,
    hashes: Hashes<'a>,
    #[serde(rename = "requires-python")]
    requires_python: Option<&'a str>,
    #[serde(rename = "core-metadata")]
    core_metadata: MetadataRef<'a>,
    #[serde(rename = "dist-info-metadata")]
    dist_info_metadata: MetadataRef<'a>,
    yanked: Yanked<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    size: Option<i64>,
    #[serde(rename = "upload-time", skip_serializing_if = "Option::is_none")]
    upload_time: Option<&'a str>,
}

#[derive(serde::Serialize)]
struct Hashes<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    sha256: Option<&'a str>,
}

/// `false`, or `{"sha256": …}`.
#[derive(serde::Serialize, Clone, Copy)]
#[serde(untagged)]
enum MetadataRef<'a> {
    Absent(bool),
    Present { sha256: &'a str },
}

/// `false`, `true`, or the reason.
#[derive(serde::Serialize)]
#[serde(untagged)]
enum Yanked<'a> {
    Flag(bool),
    Reason(&'a str),
}

fn project_json(name: &str, entries: &[Entry]) -> String {
    let mut versions: Vec<String> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let files = entries
        .iter()
        .map(|e| {
            if let Ok(parsed) = crate::pure::parse_filename(&e.filename) {
                let version =
                    crate::pure::normalize_version(&parsed.version).unwrap_or(parsed.version);
                if seen.insert(version.clone()) {
                    versions.push(version);
                }
            }
            let metadata = e
                .metadata_sha256
                .as_deref()
                .map_or(MetadataRef::Absent(false), |sha256| MetadataRef::Present {
                    sha256,
                });
            FileEntry {
                filename: &e.filename,
                url: &e.url,
                hashes: Hashes {
                    sha256: e.sha256.as_deref(),
                },
                requires_python: e.requires_python.as_deref(),
                core_metadata: metadata,
                dist_info_metadata: metadata,
                yanked: match e.yanked.as_deref() {
                    None => Yanked::Flag(false),
                    Some("") => Yanked::Flag(true),
                    Some(reason) => Yanked::Reason(reason),
                },
                size: e.size,
                upload_time: e.upload_time.as_deref(),
            }
        })
        .collect();
    let page = ProjectPage {
        meta: Meta { api_version: "1.1" },
        name: normalize(name),
        versions,
        files,
    };
    // Serialising plain structs of strings and integers cannot fail.
    serde_json::to_string(&page).unwrap_or_default()
}

/// `/{owner}/{repo}/python/files/{slug}/{filename}`: a distribution or its metadata file.
pub(crate) async fn file(
    State(app): State<Arc<App>>,
    caller: Caller,
    method: Method,
    headers: HeaderMap,
    ApiPath((owner, repo, slug, filename)): ApiPath<(String, String, String, String)>,
) -> AppResult<Response> {
    let repo = load_repo(&app, &caller, &owner, &repo, Op::Read).await?;
    let not_found = || AppError::NotFound(format!("file {filename} not found in {}", repo.slug()));
    let slug = gantry_core::SlugPerm::parse(&slug).ok_or_else(not_found)?;
    let package = app
        .db
        .get_package(repo.id, slug.as_str())
        .await?
        .filter(|p| p.format == FORMAT)
        .ok_or_else(not_found)?;
    let file = package
        .files
        .iter()
        .find(|f| f.filename == filename)
        .ok_or_else(not_found)?
        .clone();
    super::serve_file(&app, &caller, &method, &headers, &package, &file).await
}

/// `POST /{owner}/{repo}/python/`: the legacy upload API that twine, poetry and uv publish
/// use (multipart form, `:action=file_upload`, the file in `content`).
pub(crate) async fn upload(
    State(app): State<Arc<App>>,
    caller: Caller,
    ApiPath((owner, repo)): ApiPath<(String, String)>,
    request: axum::extract::Request,
) -> Response {
    match upload_inner(&app, &caller, &owner, &repo, request).await {
        Ok(response) => response,
        Err(err) => {
            let mut response = err.into_response();
            response.headers_mut().insert(
                axum::http::header::CONNECTION,
                HeaderValue::from_static("close"),
            );
            response
        }
    }
}

async fn upload_inner(
    app: &Arc<App>,
    caller: &Caller,
    owner: &str,
    repo: &str,
    request: axum::extract::Request,
) -> AppResult<Response> {
    // Authorise before reading the body, so strangers learn nothing from form errors.
    let repo: RepoRow = load_repo(app, caller, owner, repo, Op::Push).await?;
    let mut multipart = <Multipart as axum::extract::FromRequest<()>>::from_request(request, &())
        .await
        .map_err(|e| {
            AppError::BadRequest(format!(
                "expected a multipart upload form: {}",
                e.body_text()
            ))
        })?;
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut form_bytes = 0usize;
    let bad = |e: axum::extract::multipart::MultipartError| {
        AppError::BadRequest(format!("malformed upload form: {}", e.body_text()))
    };
    while let Some(field) = multipart.next_field().await.map_err(bad)? {
        let name = field.name().unwrap_or_default().to_owned();
        if name == "content" {
            let filename = field
                .file_name()
                .map(str::to_owned)
                .ok_or_else(|| AppError::BadRequest("the content field has no filename".into()))?;
            let get = |key: &str| {
                fields
                    .iter()
                    .find(|(k, _)| k == key)
                    .map(|(_, v)| v.clone())
                    .filter(|v| !v.is_empty())
            };
            if get(":action").is_some_and(|a| a != "file_upload") {
                return Err(AppError::BadRequest(
                    "only :action=file_upload is supported".into(),
                ));
            }
            let declared = Declared {
                name: get("name"),
                version: get("version"),
                filename,
                md5: get("md5_digest"),
                sha1: None,
                sha256: get("sha256_digest"),
                sha512: None,
            };
            let format = app
                .formats
                .get(FORMAT)
                .ok_or_else(|| AppError::internal("python format missing"))?;
            let outcome = ingest(
                app,
                caller,
                &repo,
                format,
                Upload {
                    declared,
                    republish: false,
                    tags: Vec::new(),
                    content_length: None,
                    inline: true,
                    identical_ok: true,
                },
                field,
            )
            .await
            .map_err(|e| match e {
                // A form that disagrees with the file is a bad request, checksums included.
                AppError::Unprocessable(m) => AppError::BadRequest(m),
                other => other,
            })?;
            // twine wants 200 for a new file and for an identical re-upload alike.
            return Ok((
                StatusCode::OK,
                axum::Json(serde_json::json!({
                    "ok": true,
                    "created": outcome.created,
                    "slug_perm": outcome.package.slug_perm,
                })),
            )
                .into_response());
        }
        if fields.len() >= MAX_FORM_FIELDS {
            return Err(AppError::BadRequest(format!(
                "more than {MAX_FORM_FIELDS} form fields"
            )));
        }
        let value = field.text().await.map_err(bad)?;
        form_bytes += name.len() + value.len();
        if form_bytes > MAX_FORM_BYTES {
            return Err(AppError::PayloadTooLarge(
                "the form fields are too large".into(),
            ));
        }
        fields.push((name, value));
    }
    Err(AppError::BadRequest(
        "the upload has no content field".into(),
    ))
}

/// `/{owner}/{repo}/python/upstream/{upstream}/{filename}`: a file an upstream offers. A file
/// cached before is served from the repository. Otherwise it is streamed from the upstream
/// to the client; in `cache` mode it is stored on the way and becomes a package of the
/// repository (source `upstream`), so later downloads — and outages — do not need the
/// upstream.
pub(crate) async fn upstream_file(
    State(app): State<Arc<App>>,
    caller: Caller,
    method: Method,
    headers: HeaderMap,
    ApiPath((owner, repo, upstream_id, filename)): ApiPath<(String, String, i64, String)>,
) -> AppResult<Response> {
    let repo = load_repo(&app, &caller, &owner, &repo, Op::Read).await?;
    let not_found = || AppError::NotFound(format!("file {filename} not found in {}", repo.slug()));
    let upstream = app
        .db
        .get_upstream(upstream_id)
        .await?
        .filter(|u| u.repository_id == repo.id && u.format == FORMAT)
        .ok_or_else(not_found)?;
    let parsed = crate::pure::parse_filename(&filename).map_err(|_| not_found())?;
    let project = normalize(&parsed.name);
    let version = crate::pure::normalize_version(&parsed.version).unwrap_or(parsed.version);
    if let Some(local) = app
        .db
        .find_live_package(repo.id, FORMAT, &project, &version, &filename)
        .await?
    {
        let file = local.files.first().cloned().ok_or_else(not_found)?;
        return super::serve_file(&app, &caller, &method, &headers, &local, &file).await;
    }
    // Entitlements count every file served, fetched from an upstream or not.
    if let Some(token) = caller
        .token()
        .filter(|t| t.kind == crate::auth::ENTITLEMENT)
    {
        if method != Method::HEAD && !app.db.consume_download(token.id).await? {
            return Err(caller.deny(
                AppError::Forbidden(format!(
                    "this entitlement token has used its {} downloads",
                    token.max_downloads.unwrap_or(0)
                )),
                Some(&repo.namespace),
            ));
        }
    }
    let files = crate::upstream::project_files(&app, &upstream, &project)
        .await
        .map_err(|e| AppError::BadGateway(format!("upstream {} failed: {e}", upstream.name)))?;
    let remote = files
        .into_iter()
        .find(|f| f.filename == filename)
        .ok_or_else(not_found)?;
    let file = gantry_protocol::upstream::RemoteFile {
        format: FORMAT,
        url: remote.url,
        what: filename.clone(),
        content_type: "application/octet-stream",
        declared: Declared {
            filename,
            ..Declared::default()
        },
        expected: gantry_protocol::upstream::Expected {
            sha256: remote.sha256,
            ..Default::default()
        },
    };
    gantry_protocol::upstream::serve_file(app, repo, &upstream, &method, file).await
}

/// Python: the legacy upload API, the simple API and file downloads (local and upstream).
pub struct Plugin;

impl crate::plugin::FormatPlugin for Plugin {
    fn format(&self) -> Arc<dyn gantry_formats::Format> {
        Arc::new(crate::pure::Python)
    }

    fn routes(&self) -> crate::plugin::RouteSet {
        crate::plugin::RouteSet::new()
            .post_upload("/{owner}/{repo}/python/", upload)
            .post_upload("/{owner}/{repo}/python", upload)
            .get("/{owner}/{repo}/python/simple/", index)
            .get("/{owner}/{repo}/python/simple", index)
            .get("/{owner}/{repo}/python/simple/{project}/", project)
            .get("/{owner}/{repo}/python/simple/{project}", project)
            .file("/{owner}/{repo}/python/files/{slug}/{filename}", file)
            .file(
                "/{owner}/{repo}/python/upstream/{upstream}/{filename}",
                upstream_file,
            )
    }

    /// twine prints the HTTP reason phrase of a refusal.
    fn client_shape(&self) -> Option<crate::client_error::ClientShape> {
        Some(crate::client_error::ClientShape::ReasonPhrase)
    }

    fn has_upstreams(&self) -> bool {
        true
    }
}
