//! The sparse index: `config.json` and one file per crate at cargo's prefix paths, local
//! versions merged with upstreams', with ETag/Last-Modified and 304s.

use super::*;
use crate::queries::CargoQueries;

/// `GET /{owner}/{repo}/cargo/index/config.json`. cargo fetches this without credentials
/// first and sends its token only after a 401, so an anonymous caller is asked to
/// authenticate for every repository it may not read, existing or not (which tells it
/// nothing); callers with a token but no read still get 404.
pub(crate) async fn config(
    State(app): State<Arc<App>>,
    caller: Caller,
    base: BaseUrl,
    path: RepoPath,
) -> AppResult<Response> {
    let RepoPath { owner, repo } = &path;
    let repo = match path.load(&app, &caller, Op::Read).await {
        Ok(repo) => repo,
        Err(err) if caller.is_anonymous() && err.status() == StatusCode::NOT_FOUND => {
            return Err(caller.deny(
                AppError::Unauthorized(format!(
                    "authentication required to read {owner}/{repo}; configure a token for this registry"
                )),
                Some(owner.as_str()),
            ));
        }
        Err(err) => return Err(err),
    };
    let root = format!("{}/{}/{}/cargo", base.0, repo.namespace, repo.name);
    let body = serde_json::json!({
        "dl": format!("{root}/api/v1/crates/{{crate}}/{{version}}/download"),
        "api": root,
        "auth-required": repo.is_private(),
    });
    Ok(ok_json(&body))
}

/// The stored index entry of a version, taken from its metadata as written.
#[derive(Deserialize)]
struct StoredEntry<'a> {
    #[serde(borrow)]
    index: &'a serde_json::value::RawValue,
}

/// One line of an index file for a local version: the stored entry plus `cksum` and
/// `yanked`. The entry's text is spliced in as stored, without building a JSON tree of it.
fn local_line(row: &CrateVersionRow) -> Option<String> {
    let stored: StoredEntry<'_> = serde_json::from_str(&row.metadata).ok()?;
    let raw = stored.index.get();
    let fields = raw.strip_prefix('{')?.trim_start();
    // Stored metadata is compact JSON; anything else is re-serialised to stay on one line.
    if raw.contains('\n') || fields.starts_with('}') {
        return local_line_slow(row);
    }
    let sha = serde_json::to_string(&row.primary_sha256).ok()?;
    let yanked = if row.yanked != 0 { "true" } else { "false" };
    Some(format!("{{\"cksum\":{sha},\"yanked\":{yanked},{fields}"))
}

fn local_line_slow(row: &CrateVersionRow) -> Option<String> {
    let mut metadata: serde_json::Value = serde_json::from_str(&row.metadata).ok()?;
    let mut entry = match metadata.get_mut("index").map(serde_json::Value::take) {
        Some(serde_json::Value::Object(entry)) => entry,
        _ => return None,
    };
    entry.insert("cksum".into(), row.primary_sha256.clone().into());
    entry.insert("yanked".into(), (row.yanked != 0).into());
    serde_json::to_string(&entry).ok()
}

fn http_date(millis: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(millis)
        .unwrap_or_default()
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string()
}

fn parse_http_date(text: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc2822(text.trim())
        .ok()
        .map(|d| d.timestamp_millis())
}

/// `GET /{owner}/{repo}/cargo/index/{a}/{b}` and `…/{a}/{b}/{c}`: a crate's index file,
/// local versions in publish order, then versions only an upstream has.
pub(crate) async fn index_file2(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    ApiPath(IndexPath2 { a, name }): ApiPath<IndexPath2>,
    repo: Repo<op::Read>,
) -> AppResult<Response> {
    index_file(&app, &headers, &repo, &format!("{a}/{name}"), &name).await
}

/// An index file's path for names of one or two characters (`1/a`, `2/ab`).
#[derive(Deserialize)]
pub(crate) struct IndexPath2 {
    a: String,
    name: String,
}

/// An index file's path for longer names (`3/a/abc`, `ab/cd/abcd`).
#[derive(Deserialize)]
pub(crate) struct IndexPath3 {
    a: String,
    b: String,
    name: String,
}

pub(crate) async fn index_file3(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    ApiPath(IndexPath3 { a, b, name }): ApiPath<IndexPath3>,
    repo: Repo<op::Read>,
) -> AppResult<Response> {
    let path = format!("{a}/{b}/{name}");
    index_file(&app, &headers, &repo, &path, &name).await
}

/// The stamp of rows read, computed as the database computes it.
fn stamp_of(rows: &[CrateVersionRow]) -> [i64; 4] {
    rows.iter().fold([0; 4], |[n, ids, times, yanks], r| {
        [
            n + 1,
            ids.wrapping_add(r.id),
            times.wrapping_add(r.updated_at),
            yanks.wrapping_add(r.yanked * r.id),
        ]
    })
}

/// The local lines of a crate's index file and their latest change, from the shared index
/// cache (`crate::index_cache`) when its stamp is current: a crate with thousands of versions
/// is not re-read and re-serialised on every request, and every replica checks the stamp
/// against the database, so none serves a stale file.
async fn local_lines(
    app: &Arc<App>,
    repo: &RepoRow,
    normalized: &str,
    stamp: [i64; 4],
) -> AppResult<(Bytes, i64)> {
    let key = format!("cargo|{}|{normalized}", repo.id);
    let validator = |s: [i64; 4]| format!("{}-{}-{}-{}", s[0], s[1], s[2], s[3]);
    if let Some(hit) = app.index_cache.get_with(&key, &validator(stamp)) {
        return Ok(hit);
    }
    let rows = app.db.crate_versions(repo.id, normalized).await?;
    let mut body = String::with_capacity(rows.len() * 512);
    let mut last_modified = 0i64;
    for row in &rows {
        let Some(line) = local_line(row) else {
            tracing::warn!(crate_name = %row.name, version = %row.version, "stored cargo metadata has no index entry");
            continue;
        };
        body.push_str(&line);
        body.push('\n');
        last_modified = last_modified.max(row.updated_at);
    }
    let body = Bytes::from(body);
    // Stamped with what was read, which may be newer than the stamp the request saw.
    app.index_cache
        .put_with(key, validator(stamp_of(&rows)), body.clone(), last_modified);
    Ok((body, last_modified))
}

async fn index_file(
    app: &Arc<App>,
    headers: &HeaderMap,
    repo: &RepoRow,
    path: &str,
    name: &str,
) -> AppResult<Response> {
    let not_found = || AppError::NotFound(format!("crate {name} not found in {}", repo.slug()));
    if !valid_crate_name(name) || index_path(name) != path {
        return Err(not_found());
    }
    let normalized = normalize(name);
    // Read at most once per cache epoch (`caches`): an unchanged crate costs no query.
    let stamp_key = format!("cargo-stamp|{}|{normalized}", repo.id);
    let stamp = *gantry_protocol::caches::memoized(app, stamp_key, || async {
        Ok(app.db.crate_index_stamp(repo.id, &normalized).await?)
    })
    .await?;
    let local_versions = stamp[0];
    let mut upstream_lines: Vec<crate::upstream::UpstreamLine> = Vec::new();
    for upstream in gantry_protocol::caches::upstreams(app, repo.id, FORMAT)
        .await?
        .iter()
    {
        if upstream.local_names_only != 0 && local_versions > 0 {
            continue;
        }
        match crate::upstream::index_lines(app, upstream, name).await {
            Ok(lines) => upstream_lines.extend(lines),
            // Already logged and counted; the other sources still answer.
            Err(_) => continue,
        }
    }
    let (local_bytes, last_modified) = if local_versions == 0 {
        (Bytes::new(), 0)
    } else {
        local_lines(app, repo, &normalized, stamp).await?
    };
    // Rendered here from strings, so always UTF-8.
    let local = std::str::from_utf8(&local_bytes).unwrap_or_default();
    let mut seen: HashSet<String> = local
        .lines()
        .filter_map(|l| {
            // Only the version is needed; a full parse of every local line is not.
            let start = l.find("\"vers\":\"")? + 8;
            let end = l[start..].find('"')? + start;
            Some(build_less(&l[start..end]))
        })
        .collect();
    let mut extra = String::new();
    for line in upstream_lines {
        if seen.insert(build_less(&line.vers)) {
            extra.push_str(&line.json);
            extra.push('\n');
        }
    }
    if local.is_empty() && extra.is_empty() {
        return Err(not_found());
    }
    let from_upstream = !extra.is_empty();
    let mut hasher = sha2::Sha256::new();
    for part in stamp {
        hasher.update(part.to_le_bytes());
    }
    hasher.update(extra.as_bytes());
    let etag = format!("\"{}\"", hex::encode(&hasher.finalize()[..16]));
    let mut out = HeaderMap::new();
    let header = |v: &str| HeaderValue::from_str(v).map_err(AppError::internal);
    out.insert(ETAG, header(&etag)?);
    out.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    // Upstream lines have no modification time of ours; the ETag alone validates them.
    if !from_upstream {
        out.insert(LAST_MODIFIED, header(&http_date(last_modified))?);
    }
    let matches_etag = headers
        .get(IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let unmodified_since = headers
        .get(IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_http_date)
        .is_some_and(|since| !from_upstream && last_modified / 1000 <= since / 1000);
    if matches_etag.unwrap_or(unmodified_since) {
        return Ok((StatusCode::NOT_MODIFIED, out).into_response());
    }
    out.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    let body = if extra.is_empty() {
        Body::from(local_bytes.clone())
    } else {
        Body::from(format!("{local}{extra}"))
    };
    Ok((StatusCode::OK, out, body).into_response())
}

/// A version without its build metadata: cargo treats `1.0.0+a` and `1.0.0+b` as one.
pub(crate) fn build_less(version: &str) -> String {
    version.split('+').next().unwrap_or(version).to_owned()
}
