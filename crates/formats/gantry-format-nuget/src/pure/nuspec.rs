//! A bounded `.nuspec` reader: the package's id, version, descriptive fields, licence and
//! dependency groups. A document type declaration is refused outright (so no entity can be
//! declared or expanded), only XML's predefined and numeric references resolve, and the
//! document's size, depth, element count, text lengths and dependency count are capped.

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;
use serde::Serialize;

use crate::format::FormatError;

/// Largest `.nuspec` read (real ones are a few KiB).
pub const MAX_NUSPEC: u64 = 1024 * 1024;
const MAX_DEPTH: usize = 32;
const MAX_ELEMENTS: usize = 20_000;
const MAX_TEXT: usize = 64 * 1024;
const MAX_DEPENDENCIES: usize = 5_000;
const MAX_GROUPS: usize = 256;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Dependency {
    pub id: String,
    /// The version range as written (`[1.0,2.0)`, or a bare minimum).
    pub range: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DependencyGroup {
    /// Empty for the group that applies to every framework.
    pub target_framework: String,
    pub dependencies: Vec<Dependency>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Nuspec {
    pub id: String,
    pub version: String,
    pub title: String,
    pub authors: String,
    pub description: String,
    pub summary: String,
    pub tags: String,
    pub project_url: String,
    pub icon_url: String,
    pub license_url: String,
    /// An SPDX expression, when the licence is given as one.
    pub license_expression: String,
    pub require_license_acceptance: bool,
    pub dependency_groups: Vec<DependencyGroup>,
    /// `packageTypes` names (`SymbolsPackage` in a `.snupkg`).
    pub package_types: Vec<String>,
}

fn invalid(message: impl Into<String>) -> FormatError {
    FormatError::Invalid(format!("invalid .nuspec: {}", message.into()))
}

fn attribute(start: &BytesStart<'_>, name: &str) -> Result<String, FormatError> {
    for attr in start.attributes() {
        let attr = attr.map_err(|e| invalid(e.to_string()))?;
        if attr.key.local_name().as_ref() == name.as_bytes() {
            let value = attr.unescape_value().map_err(|e| invalid(e.to_string()))?;
            if value.len() > MAX_TEXT {
                return Err(invalid(format!("attribute {name} is too long")));
            }
            return Ok(value.trim().to_owned());
        }
    }
    Ok(String::new())
}

/// What the reader gathers while walking the document.
#[derive(Default)]
struct Walk {
    spec: Nuspec,
    path: Vec<String>,
    text: String,
    elements: usize,
    dependencies: usize,
    license_type: String,
}

impl Walk {
    /// An element opened (`path` already holds it).
    fn open(&mut self, start: &BytesStart<'_>) -> Result<(), FormatError> {
        self.elements += 1;
        if self.elements > MAX_ELEMENTS {
            return Err(invalid(format!("more than {MAX_ELEMENTS} elements")));
        }
        if self.path.len() > MAX_DEPTH {
            return Err(invalid(format!("nested deeper than {MAX_DEPTH} elements")));
        }
        let p: Vec<&str> = self.path.iter().map(String::as_str).collect();
        match p.as_slice() {
            [root, ..] if *root != "package" => {
                return Err(invalid("the root element is not <package>"));
            }
            ["package", "metadata", "dependencies", "group"] => {
                if self.spec.dependency_groups.len() >= MAX_GROUPS {
                    return Err(invalid(format!("more than {MAX_GROUPS} dependency groups")));
                }
                self.spec.dependency_groups.push(DependencyGroup {
                    target_framework: attribute(start, "targetFramework")?,
                    dependencies: Vec::new(),
                });
            }
            ["package", "metadata", "dependencies", rest @ .., "dependency"] if rest.len() <= 1 => {
                self.dependencies += 1;
                if self.dependencies > MAX_DEPENDENCIES {
                    return Err(invalid(format!(
                        "more than {MAX_DEPENDENCIES} dependencies"
                    )));
                }
                let dependency = Dependency {
                    id: attribute(start, "id")?,
                    range: attribute(start, "version")?,
                };
                // Old-style dependencies outside any group apply to every framework.
                if rest.is_empty() {
                    if self
                        .spec
                        .dependency_groups
                        .first()
                        .is_none_or(|g| !g.target_framework.is_empty())
                    {
                        self.spec
                            .dependency_groups
                            .insert(0, DependencyGroup::default());
                    }
                    if let Some(g) = self.spec.dependency_groups.first_mut() {
                        g.dependencies.push(dependency);
                    }
                } else if let Some(g) = self.spec.dependency_groups.last_mut() {
                    g.dependencies.push(dependency);
                }
            }
            ["package", "metadata", "license"] => self.license_type = attribute(start, "type")?,
            ["package", "metadata", "packageTypes", "packageType"] => {
                self.spec.package_types.push(attribute(start, "name")?);
            }
            _ => {}
        }
        Ok(())
    }

    /// An element closed with its text.
    fn close(&mut self) {
        let text = std::mem::take(&mut self.text).trim().to_owned();
        let p: Vec<&str> = self.path.iter().map(String::as_str).collect();
        let s = &mut self.spec;
        let slot = match p.as_slice() {
            ["package", "metadata", field] => match *field {
                "id" => &mut s.id,
                "version" => &mut s.version,
                "title" => &mut s.title,
                "authors" => &mut s.authors,
                "description" => &mut s.description,
                "summary" => &mut s.summary,
                "tags" => &mut s.tags,
                "projectUrl" => &mut s.project_url,
                "iconUrl" => &mut s.icon_url,
                "licenseUrl" => &mut s.license_url,
                "license" if self.license_type == "expression" => &mut s.license_expression,
                "requireLicenseAcceptance" => {
                    s.require_license_acceptance = text.eq_ignore_ascii_case("true");
                    return;
                }
                _ => return,
            },
            _ => return,
        };
        *slot = text;
    }

    fn push_text(&mut self, more: &str) -> Result<(), FormatError> {
        if self.text.len() + more.len() > MAX_TEXT {
            return Err(invalid(format!("a text is longer than {MAX_TEXT} bytes")));
        }
        self.text.push_str(more);
        Ok(())
    }
}

/// Reads a `.nuspec`; `id` and `version` must be there.
pub fn parse(bytes: &[u8]) -> Result<Nuspec, FormatError> {
    if bytes.len() as u64 > MAX_NUSPEC {
        return Err(invalid(format!("larger than {MAX_NUSPEC} bytes")));
    }
    let mut reader = Reader::from_reader(bytes);
    reader.config_mut().check_end_names = true;
    let mut walk = Walk::default();
    let mut buf = Vec::new();
    loop {
        match reader
            .read_event_into(&mut buf)
            .map_err(|e| invalid(e.to_string()))?
        {
            Event::DocType(_) => return Err(invalid("document type declarations are refused")),
            Event::Start(start) => {
                walk.path
                    .push(String::from_utf8_lossy(start.local_name().as_ref()).into_owned());
                walk.open(&start)?;
                walk.text.clear();
            }
            Event::Empty(start) => {
                walk.path
                    .push(String::from_utf8_lossy(start.local_name().as_ref()).into_owned());
                walk.open(&start)?;
                walk.path.pop();
            }
            Event::End(_) => {
                walk.close();
                walk.path.pop();
            }
            Event::Text(t) => walk.push_text(&t.decode().map_err(|e| invalid(e.to_string()))?)?,
            Event::CData(t) => walk.push_text(&String::from_utf8_lossy(&t))?,
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref().map_err(|e| invalid(e.to_string()))? {
                    Some(c) => c.to_string(),
                    None => quick_xml::escape::resolve_predefined_entity(
                        &r.decode().map_err(|e| invalid(e.to_string()))?,
                    )
                    .ok_or_else(|| invalid("only XML's predefined entities are accepted"))?
                    .to_owned(),
                };
                walk.push_text(&resolved)?;
            }
            Event::Eof => break,
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) => {}
        }
        buf.clear();
    }
    if !walk.path.is_empty() {
        return Err(invalid("the document ends inside an element"));
    }
    let spec = walk.spec;
    if spec.id.is_empty() || spec.version.is_empty() {
        return Err(invalid("metadata/id and metadata/version are required"));
    }
    Ok(spec)
}
