//! The rest of the registry web API: yank and unyank, owners, search.

use super::*;
use crate::queries::CargoQueries;

pub(crate) async fn find_version(
    app: &Arc<App>,
    repo: &RepoRow,
    name: &str,
    version: &str,
) -> AppResult<Option<gantry_db::PackageRow>> {
    Ok(app
        .db
        .find_live_package(repo.id, FORMAT, &normalize(name), version, "")
        .await?)
}

/// `DELETE …/crates/{name}/{version}/yank`: `cargo yank`.
pub(crate) async fn yank(
    State(app): State<Arc<App>>,
    caller: Caller,
    ApiPath(CrateVersion { name, version }): ApiPath<CrateVersion>,
    repo: Repo<op::Yank>,
) -> Response {
    web(set_yanked(&app, &caller, &repo, &name, &version, true).await)
}

/// `PUT …/crates/{name}/{version}/unyank`: `cargo yank --undo`.
pub(crate) async fn unyank(
    State(app): State<Arc<App>>,
    caller: Caller,
    ApiPath(CrateVersion { name, version }): ApiPath<CrateVersion>,
    repo: Repo<op::Yank>,
) -> Response {
    web(set_yanked(&app, &caller, &repo, &name, &version, false).await)
}

async fn set_yanked(
    app: &Arc<App>,
    caller: &Caller,
    repo: &RepoRow,
    name: &str,
    version: &str,
    yanked: bool,
) -> AppResult<Response> {
    let package = find_version(app, repo, name, version)
        .await?
        .ok_or_else(|| {
            AppError::NotFound(format!(
                "crate {name}@{version} not found in {}",
                repo.slug()
            ))
        })?;
    let event = caller.event(if yanked {
        gantry_core::EventType::PackageYanked
    } else {
        gantry_core::EventType::PackageUnyanked
    });
    app.db.set_yanked(&package, yanked, None, &event).await?;
    Ok(ok_json(&serde_json::json!({ "ok": true })))
}

/// `GET …/crates/{name}/owners`: `cargo owner --list`. A repository's crates belong to
/// whoever holds write on it; the list names those who published the crate's versions.
pub(crate) async fn owners(
    State(app): State<Arc<App>>,
    ApiPath(CrateName { name }): ApiPath<CrateName>,
    repo: Repo<op::Read>,
) -> Response {
    web(owners_inner(&app, &repo, &name).await)
}

/// The `{name}` of a crate's routes.
#[derive(Deserialize)]
pub(crate) struct CrateName {
    name: String,
}

async fn owners_inner(app: &Arc<App>, repo: &RepoRow, name: &str) -> AppResult<Response> {
    let rows = app.db.crate_versions(repo.id, &normalize(name)).await?;
    if rows.is_empty() {
        return Err(AppError::NotFound(format!(
            "crate {name} not found in {}",
            repo.slug()
        )));
    }
    let mut logins: Vec<&str> = Vec::new();
    for row in &rows {
        // Uploader names carry a token prefix in parentheses; the login is what precedes it.
        let login = row.uploader.split(" (").next().unwrap_or(&row.uploader);
        if !logins.contains(&login) {
            logins.push(login);
        }
    }
    let users: Vec<serde_json::Value> = logins
        .iter()
        .enumerate()
        .map(|(i, login)| serde_json::json!({ "id": i + 1, "login": login, "name": login }))
        .collect();
    Ok(ok_json(&serde_json::json!({ "users": users })))
}

#[derive(Debug, Deserialize)]
pub(crate) struct SearchParams {
    q: Option<String>,
    per_page: Option<u32>,
}

/// `GET …/api/v1/crates?q=…&per_page=…`: `cargo search`, by name substring.
pub(crate) async fn search(
    State(app): State<Arc<App>>,
    ApiQuery(params): ApiQuery<SearchParams>,
    repo: Repo<op::Read>,
) -> Response {
    web(search_inner(&app, &repo, params).await)
}

async fn search_inner(app: &Arc<App>, repo: &RepoRow, params: SearchParams) -> AppResult<Response> {
    let query = params.q.unwrap_or_default();
    if query.len() > 200 {
        return Err(AppError::BadRequest("the query is too long".into()));
    }
    let per_page = params.per_page.unwrap_or(10).clamp(1, MAX_SEARCH) as usize;
    let rows = app
        .db
        .crate_search(repo.id, &normalize(query.trim()), SEARCH_ROWS)
        .await?;
    // (name, newest unyanked version, its description) per crate, in name order.
    let mut crates: Vec<(String, String, Option<crate::pure::Version>, String)> = Vec::new();
    for (name, normalized, version, metadata, yanked) in rows {
        if crates.last().is_none_or(|c| c.0 != normalized) {
            crates.push((normalized.clone(), name.clone(), None, String::new()));
        }
        let Some(entry) = crates.last_mut() else {
            continue;
        };
        let Ok(parsed) = crate::pure::Version::parse(&version) else {
            continue;
        };
        if yanked == 0 && entry.2.as_ref().is_none_or(|v| parsed > *v) {
            entry.1 = name;
            entry.2 = Some(parsed);
            entry.3 = serde_json::from_str::<serde_json::Value>(&metadata)
                .ok()
                .and_then(|m| m["description"].as_str().map(str::to_owned))
                .unwrap_or_default();
        }
    }
    crates.retain(|c| c.2.is_some());
    let total = crates.len();
    let listed: Vec<serde_json::Value> = crates
        .into_iter()
        .take(per_page)
        .map(|(_, name, version, description)| {
            serde_json::json!({
                "name": name,
                "max_version": version.map(|v| v.to_string()),
                "description": description,
            })
        })
        .collect();
    Ok(ok_json(&serde_json::json!({
        "crates": listed,
        "meta": { "total": total },
    })))
}
