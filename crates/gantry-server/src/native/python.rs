//! The Python package index protocols: the legacy upload API (`twine upload`), the simple
//! repository API as HTML (PEP 503) and JSON (PEP 691) with hashes, `Requires-Python`,
//! PEP 658/714 metadata files and PEP 592 yanking, and file downloads.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::{Multipart, OriginalUri, State};
use axum::http::header::{ACCEPT, CONTENT_TYPE, LOCATION, VARY};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use gantry_db::{PackageRow, RepoRow};
use gantry_formats::python::normalize;
use gantry_formats::Declared;

use crate::access::Op;
use crate::api::load_repo;
use crate::app::App;
use crate::auth::Caller;
use crate::error::{ApiPath, AppError, AppResult};
use crate::ingest::{ingest, Upload};
use crate::render::BaseUrl;

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
    if let Some(q) = uri.query() {
        if q.split('&').any(|kv| {
            kv == format!("format={}", JSON_TYPE.replace('+', "%2B"))
                || kv == format!("format={JSON_TYPE}")
        }) {
            return true;
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
            JSON_TYPE => best_json = best_json.max(q),
            HTML_TYPE | "text/html" | "*/*" => best_html = best_html.max(q),
            _ => {}
        }
    }
    best_json > 0.0 && best_json >= best_html
}

fn page(json: bool, body: String) -> Response {
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

fn metadata_file(package: &PackageRow) -> Option<&gantry_db::PackageFileRow> {
    let wanted = format!("{}.metadata", package.filename);
    package.files.iter().find(|f| f.filename == wanted)
}

fn requires_python(package: &PackageRow) -> Option<String> {
    serde_json::from_str::<serde_json::Value>(&package.metadata)
        .ok()
        .and_then(|m| m["requires_python"].as_str().map(str::to_owned))
}

/// `/{owner}/{repo}/python/simple/{project}/`: the project's files.
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
        return redirect(&format!(
            "/{owner}/{}/python/simple/{normalized}/",
            repo.name
        ));
    }
    let packages = app
        .db
        .project_packages(repo.id, FORMAT, &normalized)
        .await?;
    if packages.is_empty() {
        return Err(AppError::NotFound(format!(
            "project {normalized} not found in {}",
            repo.slug()
        )));
    }
    let display = packages
        .last()
        .map_or_else(|| normalized.clone(), |p| p.name.clone());
    let json = wants_json(&headers, &uri);
    let body = if json {
        project_json(&base, &display, &packages)
    } else {
        project_html(&base, &display, &packages)
    };
    Ok(page(json, body))
}

fn file_url(base: &BaseUrl, package: &PackageRow) -> String {
    format!(
        "{}{}",
        base.0,
        super::download_path(package, &package.filename)
    )
}

fn project_html(base: &BaseUrl, name: &str, packages: &[PackageRow]) -> String {
    let mut html = format!(
        "<!DOCTYPE html>\n<html><head><meta name=\"pypi:repository-version\" content=\"1.1\"><title>Links for {0}</title></head><body>\n<h1>Links for {0}</h1>\n",
        escape(name)
    );
    for p in packages {
        let _ = write!(
            html,
            "<a href=\"{}#sha256={}\"",
            escape(&file_url(base, p)),
            p.primary_sha256
        );
        if let Some(rp) = requires_python(p) {
            let _ = write!(html, " data-requires-python=\"{}\"", escape(&rp));
        }
        if let Some(meta) = metadata_file(p) {
            let _ = write!(
                html,
                " data-dist-info-metadata=\"sha256={0}\" data-core-metadata=\"sha256={0}\"",
                meta.sha256
            );
        }
        if p.yanked != 0 {
            let _ = write!(
                html,
                " data-yanked=\"{}\"",
                escape(p.yank_reason.as_deref().unwrap_or(""))
            );
        }
        let _ = writeln!(html, ">{}</a><br/>", escape(&p.filename));
    }
    html.push_str("</body></html>\n");
    html
}

fn project_json(base: &BaseUrl, name: &str, packages: &[PackageRow]) -> String {
    let mut versions: Vec<&str> = Vec::new();
    let files: Vec<serde_json::Value> = packages
        .iter()
        .map(|p| {
            if !versions.contains(&p.version.as_str()) {
                versions.push(&p.version);
            }
            let metadata = metadata_file(p).map_or(
                serde_json::Value::Bool(false),
                |m| serde_json::json!({ "sha256": m.sha256 }),
            );
            let yanked = if p.yanked == 0 {
                serde_json::Value::Bool(false)
            } else {
                p.yank_reason
                    .clone()
                    .map_or(serde_json::Value::Bool(true), serde_json::Value::String)
            };
            serde_json::json!({
                "filename": p.filename,
                "url": file_url(base, p),
                "hashes": { "sha256": p.primary_sha256 },
                "requires-python": requires_python(p),
                "core-metadata": metadata,
                "dist-info-metadata": metadata,
                "yanked": yanked,
                "size": p.files.first().map_or(p.size, |f| f.size),
                "upload-time": gantry_core::time::rfc3339(p.uploaded_at),
            })
        })
        .collect();
    serde_json::json!({
        "meta": { "api-version": "1.1" },
        "name": normalize(name),
        "versions": versions,
        "files": files,
    })
    .to_string()
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
