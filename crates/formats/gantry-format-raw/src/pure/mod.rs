//! Raw packages: any file, with the name and version the client gives. The filename is the
//! qualifier, so one name and version may hold several differently named files.

use std::io::Read;

use crate::format::{Artifact, Declared, Format, FormatError, FormatInfo, Identity, Processed};

const MAX_FIELD_LEN: usize = 128;
const MAX_FILENAME_LEN: usize = 255;
const SNIFF_LEN: usize = 512;

pub struct Raw;

fn check_field(field: &str, value: &str, max: usize) -> Result<(), FormatError> {
    if value.is_empty() {
        return Err(FormatError::Invalid(format!("{field} must not be empty")));
    }
    if value.len() > max {
        return Err(FormatError::Invalid(format!(
            "{field} is longer than {max} characters"
        )));
    }
    let quoted = gantry_core::names::quote_prefix(value, max);
    if value == "." || value == ".." || value.contains(['/', '\\']) {
        return Err(FormatError::Invalid(format!(
            "{field} '{quoted}' must not contain path separators or be '.' or '..'"
        )));
    }
    // U+FFFD is what invalid UTF-8 in the request became; the bytes the client meant are gone.
    if value
        .chars()
        .any(|c| c.is_whitespace() || gantry_core::names::is_odd_char(c))
    {
        return Err(FormatError::Invalid(format!(
            "{field} '{quoted}' must not contain whitespace, control or invisible formatting characters, or invalid UTF-8"
        )));
    }
    Ok(())
}

static INFO: FormatInfo = FormatInfo {
    id: "raw",
    purl_type: "generic",
    vulnerability_ecosystem: None,
    install: "curl -O {url}/raw/{name}/{version}/FILENAME",
    // Raw files are addressed by what the uploader named them.
    download: Some("/{owner}/{repo}/raw/{name}/{version}/{filename}"),
    bom_facts: None,
};

impl Format for Raw {
    fn info(&self) -> &'static FormatInfo {
        &INFO
    }

    fn declared_identity(&self, declared: &Declared) -> Result<Option<Identity>, FormatError> {
        check_field("filename", &declared.filename, MAX_FILENAME_LEN)?;
        let name = declared
            .name
            .clone()
            .unwrap_or_else(|| declared.filename.clone());
        let version = declared
            .version
            .clone()
            .ok_or_else(|| FormatError::Invalid("a raw package needs a version".into()))?;
        check_field("name", &name, MAX_FIELD_LEN)?;
        check_field("version", &version, MAX_FIELD_LEN)?;
        Ok(Some(Identity {
            normalized_name: name.clone(),
            name,
            version,
            qualifier: declared.filename.clone(),
        }))
    }

    fn parse(&self, declared: &Declared, artifact: Artifact<'_>) -> Result<Processed, FormatError> {
        let identity = self
            .declared_identity(declared)?
            .ok_or_else(|| FormatError::Invalid("a raw package needs a name".into()))?;
        let mut head = Vec::with_capacity(SNIFF_LEN);
        artifact
            .content
            .take(SNIFF_LEN as u64)
            .read_to_end(&mut head)?;
        let content_type = crate::content_type(&declared.filename, &head);
        Ok(Processed {
            identity,
            filename: declared.filename.clone(),
            content_type: content_type.to_owned(),
            metadata: serde_json::json!({ "content_type": content_type }),
            extra_files: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn declared(name: &str, version: &str, filename: &str) -> Declared {
        Declared {
            name: Some(name.into()),
            version: Some(version.into()),
            filename: filename.into(),
            ..Declared::default()
        }
    }

    fn run(d: &Declared, bytes: &[u8], sha256: &str) -> Result<Processed, FormatError> {
        let mut cursor = Cursor::new(bytes.to_vec());
        Raw.process(
            d,
            Artifact {
                content: &mut cursor,
                size: bytes.len() as u64,
                md5: "m",
                sha1: "s1",
                sha256,
                sha512: "s5",
            },
        )
    }

    #[test]
    fn identity_uses_filename_as_qualifier() -> Result<(), FormatError> {
        let p = run(
            &declared("app", "1.0", "app.tar.gz"),
            b"\x1f\x8b\x08rest",
            "abc",
        )?;
        assert_eq!(p.identity.qualifier, "app.tar.gz");
        assert_eq!(p.content_type, "application/gzip");
        Ok(())
    }

    #[test]
    fn rejects_traversal_and_missing_fields() {
        for (n, v, f) in [
            ("app", "1.0", "../etc/passwd"),
            ("a/b", "1.0", "x"),
            ("app", "1.0", ".."),
            ("app", "", "x"),
            ("app", "1 0", "x"),
            ("app", "1.0", "invoice\u{202E}fdp.exe"),
            ("app", "1.0", "bad-\u{FFFD}\u{FFFD}.bin"),
            ("app\u{2066}", "1.0", "x"),
        ] {
            assert!(
                matches!(
                    run(&declared(n, v, f), b"", "x"),
                    Err(FormatError::Invalid(_))
                ),
                "{n} {v} {f}"
            );
        }
        let mut no_version = declared("app", "1", "x");
        no_version.version = None;
        assert!(Raw.declared_identity(&no_version).is_err());
    }

    #[test]
    fn verifies_declared_checksum() {
        let mut d = declared("app", "1", "x.bin");
        d.sha256 = Some("ABC".into());
        assert!(run(&d, b"", "abc").is_ok());
        d.sha256 = Some("def".into());
        assert!(matches!(
            run(&d, b"", "abc"),
            Err(FormatError::ChecksumMismatch {
                algorithm: "sha256",
                ..
            })
        ));
    }
}
