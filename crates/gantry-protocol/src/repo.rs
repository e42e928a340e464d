//! Loading a repository or package named in a request, with the caller's authorisation.

use gantry_core::{OwnerName, RepoName, SlugPerm};
use gantry_db::{PackageRow, RepoRow};

use crate::access::Op;
use crate::app::App;
use crate::auth::{not_found_repo, Caller};
use crate::error::{AppError, AppResult};

/// Validates `owner/repo`, loads the repository and checks that the caller may do `op` there.
pub async fn load_repo(
    app: &App,
    caller: &Caller,
    owner: &str,
    repo: &str,
    op: Op,
) -> AppResult<RepoRow> {
    OwnerName::parse(owner)?;
    RepoName::parse(repo)?;
    let row = find_repo(app, owner, repo)
        .await?
        .ok_or_else(|| caller.deny(not_found_repo(owner, repo), Some(owner)))?;
    caller.require(&row, op)?;
    Ok(RepoRow::clone(&row))
}

/// A repository by name, from memory when the caches are current (see `caches`). Missing
/// repositories are not cached, so a new one is found at once.
pub async fn find_repo(
    app: &App,
    owner: &str,
    repo: &str,
) -> AppResult<Option<std::sync::Arc<RepoRow>>> {
    if let Some(row) = app.caches.repo(owner, repo) {
        return Ok(Some(row));
    }
    let epoch = app.caches.epoch();
    let Some(row) = app.db.get_repo(owner, repo).await? else {
        return Ok(None);
    };
    let row = std::sync::Arc::new(row);
    app.caches.keep_repo(epoch, std::sync::Arc::clone(&row));
    Ok(Some(row))
}

/// A package of `repo` by `slug_perm`, from memory when the caches are current. Only
/// packages whose sync has finished are kept: a pending one changes without a user's
/// request (its sync job completes it), and is read anew until then.
pub async fn find_package(
    app: &App,
    repository_id: i64,
    slug: &str,
) -> AppResult<Option<std::sync::Arc<PackageRow>>> {
    if let Some(row) = app.caches.package(repository_id, slug) {
        return Ok(Some(row));
    }
    let epoch = app.caches.epoch();
    let Some(row) = app.db.get_package(repository_id, slug).await? else {
        return Ok(None);
    };
    let row = std::sync::Arc::new(row);
    if row.sync_status == gantry_core::SyncStatus::Completed {
        app.caches.keep_package_as(
            epoch,
            repository_id,
            slug.to_owned(),
            std::sync::Arc::clone(&row),
        );
    }
    Ok(Some(row))
}

/// Loads a package of `repo` by `slug_perm`, in any state.
pub async fn load_package(app: &App, repo: &RepoRow, slug: &str) -> AppResult<PackageRow> {
    let not_found = || AppError::NotFound(format!("package {slug} not found in {}", repo.slug()));
    let slug = SlugPerm::parse(slug).ok_or_else(not_found)?;
    app.db
        .get_package(repo.id, slug.as_str())
        .await?
        .ok_or_else(not_found)
}

/// The live package with this identity (see `Db::find_live_package`), from memory when the
/// caches are current; for downloads. Pending packages are not kept (see [`find_package`]).
pub async fn find_live_package(
    app: &App,
    repository_id: i64,
    format: &str,
    normalized_name: &str,
    version: &str,
    qualifier: &str,
) -> AppResult<Option<std::sync::Arc<PackageRow>>> {
    // NUL cannot occur in names or versions, so the key is unambiguous and never a slug.
    let key = format!("{format}\0{normalized_name}\0{version}\0{qualifier}");
    if let Some(row) = app.caches.package(repository_id, &key) {
        return Ok(Some(row));
    }
    let epoch = app.caches.epoch();
    let Some(row) = app
        .db
        .find_live_package(repository_id, format, normalized_name, version, qualifier)
        .await?
    else {
        return Ok(None);
    };
    let row = std::sync::Arc::new(row);
    if row.sync_status == gantry_core::SyncStatus::Completed {
        app.caches
            .keep_package_as(epoch, repository_id, key, std::sync::Arc::clone(&row));
    }
    Ok(Some(row))
}

/// Splits `REPO` or `OWNER/REPO` (relative to `owner`).
pub fn parse_destination<'a>(
    owner: &'a str,
    destination: &'a str,
) -> AppResult<(&'a str, &'a str)> {
    let destination = destination.trim().trim_matches('/');
    let (o, r) = destination.split_once('/').unwrap_or((owner, destination));
    if r.contains('/') || r.is_empty() {
        return Err(AppError::BadRequest(format!(
            "destination '{destination}' must be REPO or OWNER/REPO"
        )));
    }
    Ok((o, r))
}

#[cfg(test)]
mod tests {
    use super::parse_destination;

    #[test]
    fn destinations() {
        assert_eq!(
            parse_destination("acme", "staging").ok(),
            Some(("acme", "staging"))
        );
        assert_eq!(
            parse_destination("acme", "other/prod").ok(),
            Some(("other", "prod"))
        );
        assert!(parse_destination("acme", "a/b/c").is_err());
        assert!(parse_destination("acme", "").is_err());
    }
}
