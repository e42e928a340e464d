//! The binary package's `control` paragraph (deb822): fields in their order, continuation
//! lines kept, with `Package`, `Version` and `Architecture` checked against Debian policy's
//! character sets.

use gantry_formats::archive;
use gantry_formats::FormatError;

const MAX_FIELDS: usize = 128;
const MAX_NAME: usize = 128;
/// Fields that the index writes itself and must not come from the package.
const GENERATED: &[&str] = &["Filename", "Size", "MD5sum", "SHA1", "SHA256", "SHA512"];

fn invalid(message: impl Into<String>) -> FormatError {
    FormatError::Invalid(message.into())
}

/// A parsed control paragraph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Control {
    /// (field, value) in file order; a multi-line value keeps its continuation lines
    /// (each starting with a space) joined by `\n`.
    pub fields: Vec<(String, String)>,
}

impl Control {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn package(&self) -> &str {
        self.get("Package").unwrap_or_default()
    }

    pub fn version(&self) -> &str {
        self.get("Version").unwrap_or_default()
    }

    pub fn architecture(&self) -> &str {
        self.get("Architecture").unwrap_or_default()
    }
}

/// Parses and checks the control file.
pub fn parse(bytes: &[u8]) -> Result<Control, FormatError> {
    let text = std::str::from_utf8(bytes).map_err(|_| invalid("the control file is not UTF-8"))?;
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            if fields.is_empty() {
                continue;
            }
            // One paragraph only: what follows a blank line is not this package's.
            break;
        }
        if line.starts_with(' ') || line.starts_with('\t') {
            let (_, value) = fields
                .last_mut()
                .ok_or_else(|| invalid("the control file starts with a continuation line"))?;
            value.push('\n');
            value.push_str(line);
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let (name, value) = line.split_once(':').ok_or_else(|| {
            invalid(format!(
                "control line '{}' has no ':'",
                archive::quote(line)
            ))
        })?;
        check_field_name(name)?;
        if fields.iter().any(|(k, _)| k.eq_ignore_ascii_case(name)) {
            return Err(invalid(format!(
                "the control file repeats the field {name}"
            )));
        }
        if fields.len() >= MAX_FIELDS {
            return Err(invalid(format!(
                "the control file has more than {MAX_FIELDS} fields"
            )));
        }
        fields.push((name.to_owned(), value.trim().to_owned()));
    }
    let control = Control {
        fields: fields
            .into_iter()
            .filter(|(k, _)| !GENERATED.iter().any(|g| g.eq_ignore_ascii_case(k)))
            .collect(),
    };
    check_package(control.package())?;
    check_version(control.version())?;
    check_architecture(control.architecture())?;
    Ok(control)
}

fn check_field_name(name: &str) -> Result<(), FormatError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('-')
        && name.bytes().all(|b| b.is_ascii_graphic() && b != b':');
    if ok {
        Ok(())
    } else {
        Err(invalid(format!(
            "'{}' is not a control field name",
            archive::quote(name)
        )))
    }
}

/// Policy 5.6.1: lower-case letters, digits, `+`, `-`, `.`; at least two characters,
/// starting with an alphanumeric.
pub fn check_package(name: &str) -> Result<(), FormatError> {
    let ok = name.len() >= 2
        && name.len() <= MAX_NAME
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.')
        });
    if ok {
        Ok(())
    } else {
        Err(invalid(format!(
            "'{}' is not a Debian package name (lower-case letters, digits, '+', '-', '.')",
            archive::quote(name)
        )))
    }
}

/// Policy 5.6.12: `[epoch:]upstream[-revision]`, upstream starting with a digit.
pub fn check_version(version: &str) -> Result<(), FormatError> {
    gantry_formats::format::check_version_len(version)?;
    let bad = || {
        invalid(format!(
            "'{}' is not a Debian version ([epoch:]upstream[-revision])",
            archive::quote(version)
        ))
    };
    let (epoch, rest) = match version.split_once(':') {
        Some((e, rest)) => (Some(e), rest),
        None => (None, version),
    };
    if epoch.is_some_and(|e| e.is_empty() || !e.bytes().all(|b| b.is_ascii_digit())) {
        return Err(bad());
    }
    if !rest.starts_with(|c: char| c.is_ascii_digit())
        || !rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'+' | b'-' | b'~' | b':'))
        || rest.ends_with('-')
    {
        return Err(bad());
    }
    Ok(())
}

/// An architecture name (`amd64`, `arm64`, `all`, `linux-any` …).
pub fn check_architecture(arch: &str) -> Result<(), FormatError> {
    let ok = !arch.is_empty()
        && arch.len() <= 32
        && arch
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(invalid(format!(
            "'{}' is not a Debian architecture",
            archive::quote(arch)
        )))
    }
}

/// A distribution or component name (`bookworm`, `stable`, `main`): one path segment of
/// letters, digits, `.`, `-`, `_`, never `.` or `..`.
pub fn check_suite_name(what: &str, name: &str) -> Result<(), FormatError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
    if ok {
        Ok(())
    } else {
        Err(invalid(format!(
            "'{}' is not a valid {what} name",
            archive::quote(name)
        )))
    }
}
