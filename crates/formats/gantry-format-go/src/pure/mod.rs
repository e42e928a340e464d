//! Go modules. A package is one version of one module: its module zip, with the `go.mod`
//! stored beside it. Identity comes from the zip's `path@version/` prefix (what the uploader
//! declares must agree with it); the module path is kept exactly, since Go paths are
//! case-sensitive. Processing checks the zip by the go command's rules and records the
//! `h1:` checksums `go.sum` will hold.

pub mod bom;
pub mod gomod;
pub mod modzip;
pub mod pack;
pub mod path;
pub mod version;

use serde_json::json;

pub use path::{escape, unescape};
pub use version::Version;

use crate::format::{
    Artifact, Declared, ExtraFile, FileLocation, Format, FormatError, FormatInfo, Identity,
    Processed,
};

pub struct Go;

/// The file names of a version's zip and `go.mod` in its package.
pub fn zip_name(version: &str) -> String {
    format!("{version}.zip")
}

pub fn mod_name(version: &str) -> String {
    format!("{version}.mod")
}

fn identity(path: &str, version: &str) -> Identity {
    Identity {
        name: path.to_owned(),
        normalized_name: path.to_owned(),
        version: version.to_owned(),
        qualifier: String::new(),
    }
}

/// The `go.sum` lines of a module version.
pub fn go_sum_lines(path: &str, version: &str, h1: &str, go_mod_h1: &str) -> Vec<String> {
    vec![
        format!("{path} {version} {h1}"),
        format!("{path} {version}/go.mod {go_mod_h1}"),
    ]
}

static INFO: FormatInfo = FormatInfo {
    id: "go",
    purl_type: "golang",
    vulnerability_ecosystem: Some("Go"),
    install: "GOPROXY={url}/go go get {name}@{version}",
    // Overridden: module paths and versions are case-encoded, not percent-encoded.
    download: None,
    bom_facts: None,
};

impl Format for Go {
    fn info(&self) -> &'static FormatInfo {
        &INFO
    }

    /// What was declared is checked before the body is read, but the upload is always
    /// processed before it is answered: the package's `go.mod` is derived from the zip then,
    /// and stored beside it.
    fn declared_identity(&self, declared: &Declared) -> Result<Option<Identity>, FormatError> {
        if let Some(path) = &declared.name {
            path::check_path(path)?;
            if let Some(version) = &declared.version {
                Version::parse(version)?.check_path_major(path)?;
            }
        } else if let Some(version) = &declared.version {
            Version::parse(version)?;
        }
        Ok(None)
    }

    fn parse(&self, declared: &Declared, artifact: Artifact<'_>) -> Result<Processed, FormatError> {
        let module = modzip::read(artifact.content, artifact.size)?;
        let version = module.version.as_str().to_owned();
        if let Some(name) = declared.name.as_deref().filter(|n| *n != module.path) {
            return Err(FormatError::Invalid(format!(
                "the zip holds module {}, not {}",
                module.path,
                gantry_formats::archive::quote(name)
            )));
        }
        if let Some(v) = declared.version.as_deref().filter(|v| *v != version) {
            return Err(FormatError::Invalid(format!(
                "the zip holds version {version}, not {}",
                gantry_formats::archive::quote(v)
            )));
        }
        let has_go_mod = module.go_mod.is_some();
        let go_mod = module
            .go_mod
            .unwrap_or_else(|| gomod::synthesized(&module.path).into_bytes());
        let go_mod_h1 = modzip::go_mod_hash(&go_mod);
        let requires = bom::requires(&String::from_utf8_lossy(&go_mod));
        let metadata = json!({
            "module": module.path,
            "version": version,
            "h1": module.h1,
            "go_mod_h1": go_mod_h1,
            "checksum_lines": go_sum_lines(&module.path, &version, &module.h1, &go_mod_h1),
            "pseudo_time": module.version.pseudo_time(),
            "has_go_mod": has_go_mod,
            "files": module.files,
            "unpacked_size": module.unpacked_size,
            "requires": requires,
        });
        Ok(Processed {
            identity: identity(&module.path, &version),
            filename: zip_name(&version),
            content_type: "application/zip".into(),
            metadata,
            extra_files: vec![ExtraFile {
                filename: mod_name(&version),
                content_type: "text/plain; charset=utf-8".into(),
                content: go_mod,
            }],
        })
    }

    fn bom_facts(&self, metadata: &serde_json::Value) -> gantry_formats::BomFacts {
        bom::facts(metadata)
    }

    /// `/{owner}/{repo}/go/{escaped path}/@v/{escaped version}.zip` (or `.mod`).
    fn download_path(&self, file: &FileLocation<'_>) -> String {
        let extension = if file.filename.ends_with(".mod") {
            "mod"
        } else {
            "zip"
        };
        format!(
            "/{}/{}/go/{}/@v/{}.{extension}",
            file.namespace,
            file.repository,
            escape(file.name),
            escape(file.version)
        )
    }

    fn pack_directory(
        &self,
        dir: &std::path::Path,
        declared: &Declared,
        out: &mut std::fs::File,
    ) -> Option<Result<Declared, FormatError>> {
        let Some(version) = declared.version.as_deref() else {
            return Some(Err(FormatError::Invalid(
                "give the version to publish with --version (e.g. v1.2.3)".into(),
            )));
        };
        Some(
            pack::pack_dir(dir, declared.name.as_deref(), version, out).map(|packed| Declared {
                filename: zip_name(&packed.version),
                name: Some(packed.path),
                version: Some(packed.version),
                ..declared.clone()
            }),
        )
    }
}

#[cfg(test)]
mod tests;
