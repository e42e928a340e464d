//! `maven-metadata.xml` as served: written from the repository's available packages, kept in
//! memory until anything changes (the caches' epoch), so a resolver polling it costs no
//! database work.

use std::collections::BTreeMap;

use bytes::Bytes;
use gantry_db::{PackageRow, RepoRow};

use crate::app::App;
use crate::error::AppResult;
use crate::pure::metadata::{self, Build, Plugin};
use crate::pure::path::{self, Coordinates, Target};
use crate::pure::ID;
use crate::queries::MavenQueries;

/// The document at a metadata path, if the repository has anything to say there.
pub(super) async fn document(
    app: &App,
    repo: &RepoRow,
    target: &Target,
) -> AppResult<Option<Bytes>> {
    let key = match target {
        Target::VersionMetadata {
            coordinates,
            version,
        } => format!("maven|v|{}|{}|{version}", repo.id, coordinates.name()),
        Target::Metadata { dirs } => format!("maven|m|{}|{}", repo.id, dirs.join("/")),
        Target::File(_) => return Ok(None),
    };
    let doc = gantry_protocol::caches::memoized(app, key, || render(app, repo, target)).await?;
    Ok(doc.as_ref().clone())
}

async fn render(app: &App, repo: &RepoRow, target: &Target) -> AppResult<Option<Bytes>> {
    match target {
        Target::VersionMetadata {
            coordinates,
            version,
        } => {
            let builds = builds(app, repo, coordinates, version).await?;
            Ok((!builds.is_empty())
                .then(|| Bytes::from(metadata::version_level(coordinates, version, &builds))))
        }
        Target::Metadata { dirs } => {
            if let Some(coordinates) = Target::artifact_level(dirs) {
                let versions = versions(app, repo, &coordinates.name()).await?;
                if !versions.is_empty() {
                    return Ok(Some(Bytes::from(metadata::artifact_level(
                        &coordinates,
                        &versions,
                    ))));
                }
            }
            if path::check_group_dirs(dirs).is_err() {
                return Ok(None);
            }
            let plugins = plugins(app, repo, &dirs.join(".")).await?;
            Ok((!plugins.is_empty()).then(|| Bytes::from(metadata::group_level(&plugins))))
        }
        Target::File(_) => Ok(None),
    }
}

/// The available builds of a SNAPSHOT version with their files' classifiers and extensions.
pub(super) async fn builds(
    app: &App,
    repo: &RepoRow,
    coordinates: &Coordinates,
    version: &str,
) -> AppResult<Vec<Build>> {
    let packages = published(app, repo, &coordinates.name()).await?;
    let mut builds: BTreeMap<String, Build> = BTreeMap::new();
    for package in packages.iter().filter(|p| p.version == version) {
        let build = builds
            .entry(package.qualifier.clone())
            .or_insert_with(|| Build {
                id: package.qualifier.clone(),
                files: Vec::new(),
                published: package.uploaded_at,
            });
        for row in &package.files {
            if let Ok(file) = path::parse_filename(coordinates.clone(), version, &row.filename) {
                build.files.push((file.classifier, file.extension));
            }
        }
    }
    Ok(builds.into_values().collect())
}

/// The available, synced packages of an artifact, but those this repository cached from its
/// upstreams: for those the upstreams' own metadata is served.
async fn published(app: &App, repo: &RepoRow, name: &str) -> AppResult<Vec<PackageRow>> {
    let slug = repo.slug();
    let mut packages = app.db.project_packages(repo.id, ID, name).await?;
    packages.retain(|p| !(p.source == "upstream" && p.origin_repository == slug));
    Ok(packages)
}

/// The published versions of an artifact, each with the time it was last published.
pub(crate) async fn versions(
    app: &App,
    repo: &RepoRow,
    name: &str,
) -> AppResult<Vec<(String, i64)>> {
    let mut versions: BTreeMap<String, i64> = BTreeMap::new();
    for package in published(app, repo, name).await? {
        let at = versions.entry(package.version).or_default();
        *at = (*at).max(package.uploaded_at);
    }
    Ok(versions.into_iter().collect())
}

async fn plugins(app: &App, repo: &RepoRow, group: &str) -> AppResult<Vec<Plugin>> {
    let rows = app.db.maven_plugins((repo.id, &repo.slug())).await?;
    Ok(rows
        .into_iter()
        .filter_map(|(name, metadata)| {
            let coordinates = Coordinates::from_name(&name)?;
            if coordinates.group != group {
                return None;
            }
            let value: serde_json::Value = serde_json::from_str(&metadata).ok()?;
            Some(Plugin {
                prefix: value["plugin_prefix"].as_str()?.to_owned(),
                artifact_id: coordinates.artifact,
                name: value["name"].as_str().map(str::to_owned),
            })
        })
        .collect())
}
