//! The end of a deploy: the staged files of each version (each build, for a SNAPSHOT) become
//! one package, named by its POM, processed, and followed by its scan and policy evaluation
//! like any upload. A deploy ends with the artifact-level `maven-metadata.xml` every
//! `mvn deploy` sends last, or, for clients that never send it, once its files have been idle
//! for `GANTRY_MAVEN_DEPLOY_IDLE_SECONDS`. Older SNAPSHOT builds beyond
//! `GANTRY_MAVEN_SNAPSHOT_KEEP` are then deleted (softly, so they can be restored).

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use gantry_core::time::now_millis;
use gantry_core::{EventType, PackageState};
use gantry_db::{NewEvent, NewFile, PackageRow, RepoRow};
use gantry_formats::Declared;
use gantry_protocol::ingest::{Origin, Stored, Upload};
use gantry_protocol::plugin::Component;
use serde_json::json;

use crate::app::App;
use crate::error::{AppError, AppResult};
use crate::pure::path::{Coordinates, SNAPSHOT_SUFFIX};
use crate::pure::{jar, Maven, ID};
use crate::queries::{MavenQueries, StageKey, StagedFile};

/// Default idle time after which a deploy without a closing metadata upload is sealed.
const DEFAULT_IDLE_SECONDS: i64 = 600;
/// Default number of builds kept per SNAPSHOT version.
const DEFAULT_SNAPSHOT_KEEP: usize = 10;
/// The actor of deletions of superseded SNAPSHOT builds.
const SNAPSHOT_ACTOR: &str = "gantry (maven snapshots)";

fn env_number(name: &str) -> Option<i64> {
    std::env::var(name).ok()?.trim().parse().ok()
}

/// How long a deploy may be idle before it is sealed, in milliseconds.
pub(crate) fn idle_millis() -> i64 {
    env_number("GANTRY_MAVEN_DEPLOY_IDLE_SECONDS")
        .filter(|s| *s > 0)
        .unwrap_or(DEFAULT_IDLE_SECONDS)
        .saturating_mul(1000)
}

fn snapshot_keep() -> usize {
    env_number("GANTRY_MAVEN_SNAPSHOT_KEEP")
        .and_then(|n| usize::try_from(n).ok())
        .filter(|n| *n > 0)
        .unwrap_or(DEFAULT_SNAPSHOT_KEEP)
}

/// Seals the staged files of an artifact: those of `actor` (the deployer whose metadata
/// upload ends the deploy), or all of them. Each version's files leave the staging table
/// either way, so a refused deploy leaves nothing behind; the first refusal is returned.
pub(crate) async fn seal_artifact(
    app: &Arc<App>,
    repo: &RepoRow,
    coordinates: &Coordinates,
    actor: Option<&str>,
) -> AppResult<()> {
    let key = StageKey {
        repository_id: repo.id,
        group_id: &coordinates.group,
        artifact_id: &coordinates.artifact,
    };
    let staged = app.db.maven_staged(&key).await?;
    let mut groups: BTreeMap<(String, String), Vec<StagedFile>> = BTreeMap::new();
    for file in staged {
        if actor.is_some_and(|a| a != file.uploader) {
            continue;
        }
        groups
            .entry((file.version.clone(), file.build.clone()))
            .or_default()
            .push(file);
    }
    let mut refused = None;
    for ((version, build), files) in groups {
        let sealed = seal_one(app, repo, coordinates, &version, &build, &files).await;
        for file in &files {
            app.db
                .maven_unstage(&key, &version, Some(&file.filename))
                .await?;
        }
        match sealed {
            Ok(()) if version.ends_with(SNAPSHOT_SUFFIX) => {
                prune_snapshots(app, repo, coordinates, &version).await?;
            }
            Ok(()) => {}
            Err(err) => {
                refused.get_or_insert(err);
            }
        }
    }
    refused.map_or(Ok(()), Err)
}

/// A package file of a stored blob.
pub(crate) fn stored_file(filename: &str, digests: &gantry_blobs::Digests) -> NewFile {
    NewFile {
        filename: filename.to_owned(),
        content_type: crate::pure::content_type(filename),
        size: i64::try_from(digests.size).unwrap_or(i64::MAX),
        md5: digests.md5.clone(),
        sha1: digests.sha1.clone(),
        sha256: digests.sha256.clone(),
        sha512: digests.sha512.clone(),
    }
}

fn new_file(file: &StagedFile) -> NewFile {
    stored_file(&file.filename, &digests(file))
}

/// The digests of a staged file's blob.
fn digests(file: &StagedFile) -> gantry_blobs::Digests {
    gantry_blobs::Digests {
        sha256: file.sha256.clone(),
        size: u64::try_from(file.size).unwrap_or(0),
        md5: file.md5.clone(),
        sha1: file.sha1.clone(),
        sha512: file.sha512.clone(),
    }
}

/// The POM a version's package is read from: `{artifact}-{version}.pom`, or for a SNAPSHOT
/// build `{artifact}-{base}{build}.pom` (the build is `yyyyMMdd.HHmmss-N`).
pub(crate) fn pom_filename(artifact: &str, version: &str, build: &str) -> String {
    if build.is_empty() {
        format!("{artifact}-{version}.pom")
    } else {
        let base = version.strip_suffix("SNAPSHOT").unwrap_or(version);
        format!("{artifact}-{base}{build}.pom")
    }
}

/// The package of a version (of one build, for a SNAPSHOT): read from its POM (`pom`), with
/// the other files after it, ingested like any upload. A repository that allows republishing
/// has a published release replaced in the same transaction, the replaced package deleted
/// with a `republished` event.
pub(crate) async fn ingest(
    app: &Arc<App>,
    repo: &RepoRow,
    origin: &Origin,
    (coordinates, version): (&Coordinates, &str),
    pom: (&str, gantry_blobs::Digests),
    others: Vec<NewFile>,
    identical_ok: bool,
) -> AppResult<PackageRow> {
    let (pom_name, pom_digests) = pom;
    let declared = Declared {
        name: Some(coordinates.name()),
        version: Some(version.to_owned()),
        filename: pom_name.to_owned(),
        ..Declared::default()
    };
    let mut upload = Upload::inline(declared, identical_ok);
    upload.republish = repo.republish_allowed() && !version.ends_with(SNAPSHOT_SUFFIX);
    let stored = Stored {
        digests: pom_digests,
        companions: others,
    };
    let ingested = gantry_protocol::ingest::ingest_blob(
        app,
        origin,
        repo,
        Arc::new(Maven),
        upload,
        stored,
        None,
    )
    .await?;
    Ok(ingested.package)
}

async fn seal_one(
    app: &Arc<App>,
    repo: &RepoRow,
    coordinates: &Coordinates,
    version: &str,
    build: &str,
    files: &[StagedFile],
) -> AppResult<()> {
    let gav = format!("{}:{version}", coordinates.name());
    let pom_name = pom_filename(&coordinates.artifact, version, build);
    let pom = files
        .iter()
        .find(|f| f.filename == pom_name)
        .ok_or_else(|| {
            AppError::BadRequest(format!(
                "the deploy of {gav} has no POM ({pom_name}); Gantry reads the package from it"
            ))
        })?;
    let origin = Origin {
        actor: pom.uploader.clone(),
        address: pom.source_address.clone(),
        upstream: None,
    };
    let others = files
        .iter()
        .filter(|f| f.filename != pom_name)
        .map(new_file)
        .collect();
    ingest(
        app,
        repo,
        &origin,
        (coordinates, version),
        (&pom_name, digests(pom)),
        others,
        false,
    )
    .await?;
    Ok(())
}

/// Deletes the oldest builds of a SNAPSHOT version beyond the number kept.
async fn prune_snapshots(
    app: &App,
    repo: &RepoRow,
    coordinates: &Coordinates,
    version: &str,
) -> AppResult<()> {
    // Available builds only: a quarantined one stays for whoever reviews it.
    let mut builds = app
        .db
        .project_packages(repo.id, ID, &coordinates.name())
        .await?;
    builds.retain(|p| p.version == version);
    builds.sort_by(|a, b| a.qualifier.cmp(&b.qualifier));
    let keep = snapshot_keep();
    if builds.len() <= keep {
        return Ok(());
    }
    let reason = format!("superseded: the newest {keep} builds of each SNAPSHOT are kept");
    for package in &builds[..builds.len() - keep] {
        let mut event = NewEvent::new(EventType::PackageDeleted, SNAPSHOT_ACTOR);
        event.context = json!({"reason": reason});
        app.db
            .set_package_state(package, PackageState::Deleted, Some(&reason), &event)
            .await?;
    }
    Ok(())
}

/// Starts, once per process, the task that seals deploys left idle.
pub(super) fn start_sweeper(app: &Arc<App>) {
    static STARTED: OnceLock<()> = OnceLock::new();
    if STARTED.set(()).is_err() {
        return;
    }
    let app = Arc::clone(app);
    let every = std::time::Duration::from_millis(
        u64::try_from((idle_millis() / 4).clamp(500, 30_000)).unwrap_or(30_000),
    );
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            if let Err(error) = sweep(&app).await {
                tracing::warn!(%error, "sealing idle Maven deploys failed");
            }
        }
    });
}

async fn sweep(app: &Arc<App>) -> AppResult<()> {
    let idle = app
        .db
        .maven_idle_artifacts(now_millis() - idle_millis())
        .await?;
    for (repository_id, group, artifact) in idle {
        let Some(repo) = app.db.get_repo_by_id(repository_id).await? else {
            continue;
        };
        let coordinates = Coordinates { group, artifact };
        if let Err(error) = seal_artifact(app, &repo, &coordinates, None).await {
            tracing::warn!(%error, artifact = %coordinates.name(), "an idle Maven deploy was refused");
        }
    }
    Ok(())
}

/// The artifact itself and every library its main JAR says it carries.
pub(super) async fn components(app: &App, package: &PackageRow) -> AppResult<Vec<Component>> {
    let mut out = vec![Component {
        ecosystem: "Maven".into(),
        name: package.name.clone(),
        version: package.version.clone(),
        location: json!({"file": package.filename}),
    }];
    let Some(coordinates) = Coordinates::from_name(&package.name) else {
        return Ok(out);
    };
    let main = package.files.iter().find(|f| {
        f.filename.ends_with(".jar")
            && crate::pure::path::parse_filename(coordinates.clone(), &package.version, &f.filename)
                .is_ok_and(|p| p.classifier.is_none() && p.extension == "jar")
    });
    let Some(main) = main else {
        return Ok(out);
    };
    let (file, _guard) = app
        .blobs
        .open_file(&main.sha256, &app.scratch_dir())
        .await?;
    let embedded = tokio::task::spawn_blocking(move || jar::embedded(file))
        .await
        .map_err(AppError::internal)?;
    match embedded {
        Ok(found) => out.extend(
            found
                .into_iter()
                .filter(|e| format!("{}:{}", e.group_id, e.artifact_id) != package.name)
                .map(|e| Component {
                    ecosystem: "Maven".into(),
                    name: format!("{}:{}", e.group_id, e.artifact_id),
                    version: e.version,
                    location: json!({"file": main.filename, "path": e.path}),
                }),
        ),
        Err(error) => tracing::debug!(%error, file = %main.filename, "not read as a JAR"),
    }
    Ok(out)
}
