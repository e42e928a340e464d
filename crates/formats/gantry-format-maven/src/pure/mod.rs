//! Maven artifacts. A package is one `groupId:artifactId:version` (for a SNAPSHOT, one
//! timestamped build of it: the qualifier is the build id `yyyyMMdd.HHmmss-N`) with all of
//! its files; its primary file is the POM, which alone says what the package is, so
//! processing reads the POM (bounded, no entities) and nothing the client claims.

pub mod bom;
pub mod jar;
pub mod metadata;
pub mod path;
pub mod pom;

use std::io::Read;

use serde_json::json;

use crate::format::{
    Artifact, Declared, FileLocation, Format, FormatError, FormatInfo, Identity, Processed,
};
use path::{Coordinates, SNAPSHOT_SUFFIX};

/// The format's id.
pub const ID: &str = "maven";

pub struct Maven;

/// The build id (`20240102.030405-7`) a SNAPSHOT POM's file name carries.
fn build_of(filename: &str, artifact: &str, version: &str) -> Option<String> {
    let base = version.strip_suffix("SNAPSHOT")?;
    let rest = filename
        .strip_prefix(artifact)?
        .strip_prefix('-')?
        .strip_prefix(base)?
        .strip_suffix(".pom")?;
    match path::split_build(rest) {
        Some((build, "")) => Some(build.to_owned()),
        _ => None,
    }
}

/// The content type a Maven repository file is served with.
pub fn content_type(filename: &str) -> String {
    let ty = if filename.ends_with(".jar") {
        "application/java-archive"
    } else if filename.ends_with(".pom") {
        "text/xml"
    } else if filename.ends_with(".asc") {
        "application/pgp-signature"
    } else if filename.ends_with(".module") {
        "application/json"
    } else {
        gantry_formats::content_type(filename, &[])
    };
    ty.to_owned()
}

/// The package metadata of a POM.
pub fn pom_metadata(pom: &pom::Pom) -> serde_json::Value {
    json!({
        "group_id": pom.group_id,
        "artifact_id": pom.artifact_id,
        "packaging": pom.packaging,
        "name": pom.name,
        "description": pom.description,
        "url": pom.url,
        "license": pom.license_summary(),
        "licenses": pom.licenses,
        "parent": pom.parent,
        "dependencies": pom.dependencies,
        "plugin_prefix": pom.plugin_prefix,
    })
}

static INFO: FormatInfo = FormatInfo {
    id: ID,
    purl_type: "maven",
    vulnerability_ecosystem: Some("Maven"),
    // Overridden: a Maven name is GROUP:ARTIFACT, which the snippet splits.
    install: "",
    // Overridden: the group's dots become directories.
    download: None,
    bom_facts: None,
};

impl Format for Maven {
    fn info(&self) -> &'static FormatInfo {
        &INFO
    }

    /// The repository to add and the dependency to declare in a POM.
    fn install_hint(&self, repository_url: &str, name: &str, version: &str) -> String {
        let (group, artifact) = name.split_once(':').unwrap_or((name, name));
        format!(
            "<repository><url>{repository_url}/maven/</url></repository>\n<dependency><groupId>{group}</groupId><artifactId>{artifact}</artifactId><version>{version}</version></dependency>"
        )
    }

    /// Files are served in the repository layout, by their Maven names.
    fn download_path(&self, file: &FileLocation<'_>) -> String {
        match Coordinates::from_name(file.name) {
            Some(coordinates) => format!(
                "/{}/{}/maven/{}/{}/{}",
                file.namespace,
                file.repository,
                coordinates.dir(),
                crate::encode_segment(file.version),
                crate::encode_segment(file.filename)
            ),
            None => file.default_path(ID),
        }
    }

    /// `group/artifact`: the group is the purl namespace.
    fn purl_name(&self, name: &str) -> String {
        name.replacen(':', "/", 1)
    }

    fn bom_facts(&self, metadata: &serde_json::Value) -> gantry_formats::BomFacts {
        bom::facts(metadata)
    }

    /// Only the POM says what a package is.
    fn declared_identity(&self, _declared: &Declared) -> Result<Option<Identity>, FormatError> {
        Ok(None)
    }

    fn parse(&self, declared: &Declared, artifact: Artifact<'_>) -> Result<Processed, FormatError> {
        if artifact.size > pom::MAX_POM_SIZE {
            return Err(FormatError::Invalid(format!(
                "a POM is at most {} bytes; this file has {}",
                pom::MAX_POM_SIZE,
                artifact.size
            )));
        }
        let mut bytes = Vec::new();
        artifact
            .content
            .take(pom::MAX_POM_SIZE + 1)
            .read_to_end(&mut bytes)?;
        let pom = pom::parse(&bytes)?;
        let coordinates = Coordinates {
            group: pom.group_id.clone(),
            artifact: pom.artifact_id.clone(),
        };
        // The coordinates must be valid path segments, as they become the file's path.
        let filename_check = format!(
            "{}/{}/{}-{}.pom",
            coordinates.dir(),
            pom.version,
            pom.artifact_id,
            pom.version
        );
        path::parse(&filename_check)?;
        crate::format::check_version_len(&pom.version)?;
        let name = coordinates.name();
        if let Some(declared_name) = &declared.name {
            if declared_name != &name {
                return Err(FormatError::Invalid(format!(
                    "the POM describes {name}, not {}",
                    crate::archive::quote(declared_name)
                )));
            }
        }
        if let Some(declared_version) = &declared.version {
            if declared_version != &pom.version {
                return Err(FormatError::Invalid(format!(
                    "the POM describes version {}, not {}",
                    crate::archive::quote(&pom.version),
                    crate::archive::quote(declared_version)
                )));
            }
        }
        let (qualifier, filename) = if pom.version.ends_with(SNAPSHOT_SUFFIX) {
            let build =
                build_of(&declared.filename, &pom.artifact_id, &pom.version).ok_or_else(|| {
                    FormatError::Invalid(format!(
                        "a SNAPSHOT POM must be named {}-{}yyyyMMdd.HHmmss-N.pom",
                        pom.artifact_id,
                        pom.version.trim_end_matches("SNAPSHOT")
                    ))
                })?;
            (build, declared.filename.clone())
        } else {
            (
                String::new(),
                format!("{}-{}.pom", pom.artifact_id, pom.version),
            )
        };
        Ok(Processed {
            identity: Identity {
                normalized_name: name.clone(),
                name,
                version: pom.version.clone(),
                qualifier,
            },
            filename,
            content_type: "text/xml".into(),
            metadata: pom_metadata(&pom),
            extra_files: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn run(filename: &str, pom: &str) -> Result<Processed, FormatError> {
        let mut cursor = Cursor::new(pom.as_bytes().to_vec());
        Maven.process(
            &Declared {
                filename: filename.into(),
                ..Declared::default()
            },
            Artifact {
                content: &mut cursor,
                size: pom.len() as u64,
                md5: "",
                sha1: "",
                sha256: "",
                sha512: "",
            },
        )
    }

    const POM: &str = "<project><groupId>org.example</groupId><artifactId>app</artifactId><version>VERSION</version><licenses><license><name>MIT</name></license></licenses></project>";

    #[test]
    fn identity_from_the_pom() -> Result<(), FormatError> {
        let p = run("pom.xml", &POM.replace("VERSION", "1.0"))?;
        assert_eq!(p.identity.name, "org.example:app");
        assert_eq!(p.identity.qualifier, "");
        assert_eq!(p.filename, "app-1.0.pom");
        assert_eq!(p.metadata["license"], "MIT");
        let s = run(
            "app-1.0-20240102.030405-3.pom",
            &POM.replace("VERSION", "1.0-SNAPSHOT"),
        )?;
        assert_eq!(s.identity.qualifier, "20240102.030405-3");
        assert!(run(
            "app-1.0-SNAPSHOT.pom",
            &POM.replace("VERSION", "1.0-SNAPSHOT")
        )
        .is_err());
        assert!(run("x.pom", &POM.replace("VERSION", "../1")).is_err());
        Ok(())
    }

    #[test]
    fn download_paths_follow_the_layout() {
        let path = Maven.download_path(&FileLocation {
            namespace: "acme",
            repository: "dev",
            name: "org.example:app",
            version: "1.0",
            slug_perm: "x",
            filename: "app-1.0.jar",
        });
        assert_eq!(path, "/acme/dev/maven/org/example/app/1.0/app-1.0.jar");
    }
}
