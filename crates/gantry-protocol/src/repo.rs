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
    let row = app
        .db
        .get_repo(owner, repo)
        .await?
        .ok_or_else(|| caller.deny(not_found_repo(owner, repo), Some(owner)))?;
    caller.require(&row, op)?;
    Ok(row)
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
