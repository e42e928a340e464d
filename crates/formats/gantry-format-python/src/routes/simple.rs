//! The simple repository API: the index of projects and each project's page, as HTML
//! (PEP 503) or JSON (PEP 691), rendered once per change and served from the index cache.

use super::*;

/// `/{owner}/{repo}/python/simple/`: every project of the repository.
pub(crate) async fn index(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    repo: Repo<op::Read>,
) -> AppResult<Response> {
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
            crate::encode_segment(&p.filename)
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

/// A project's name as the client wrote it (the page redirects to the normalised one).
#[derive(Deserialize)]
pub(crate) struct ProjectParam {
    project: String,
}

/// `/{owner}/{repo}/python/simple/{project}/`: the project's files, local first, then those
/// of the repository's upstreams in priority order (a filename already listed is not
/// listed again, so local files win).
pub(crate) async fn project(
    State(app): State<Arc<App>>,
    base: BaseUrl,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    ApiPath(ProjectParam { project }): ApiPath<ProjectParam>,
    repo: Repo<op::Read>,
) -> AppResult<Response> {
    let owner = &repo.namespace;
    let normalized = normalize(&project);
    if normalized != project || !uri.path().ends_with('/') {
        let query = uri.query().map(|q| format!("?{q}")).unwrap_or_default();
        return redirect(&format!(
            "/{owner}/{}/python/simple/{normalized}/{query}",
            repo.name
        ));
    }
    let json = wants_json(&headers, &uri);
    let upstreams = gantry_protocol::caches::upstreams(&app, repo.id, FORMAT).await?;
    // Pages made of local packages only are cached while their rows are unchanged; the
    // validator itself is read at most once per cache epoch (`caches`).
    let cached = if upstreams.is_empty() {
        let memo_key = format!("python-validator|{}|{normalized}", repo.id);
        let validator = gantry_protocol::caches::memoized(&app, memo_key, || async {
            Ok(app
                .db
                .project_index_validator(repo.id, FORMAT, &normalized)
                .await?)
        })
        .await?;
        let validator = String::clone(&validator);
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
    for upstream in upstreams.iter() {
        if upstream.local_names_only != 0 && has_local {
            continue;
        }
        let files = match crate::upstream::project_files(&app, upstream, &normalized).await {
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
                    crate::encode_segment(&f.filename)
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
