//! A bounded POM reader: coordinates, packaging, name, description, licences, parent and
//! dependencies. No document type declaration is accepted (so no entity can be declared, let
//! alone expanded: no XML bombs, no external entities), only XML's predefined and numeric
//! references are resolved, and sizes, depth and element counts are capped.

use std::collections::BTreeMap;

use quick_xml::events::Event;
use quick_xml::Reader;
use serde::Serialize;

use crate::format::FormatError;

/// Largest POM read. Real ones are a few KiB; the largest public BOMs are a few hundred.
pub const MAX_POM_SIZE: u64 = 2 * 1024 * 1024;
/// Deepest element nesting.
const MAX_DEPTH: usize = 64;
/// Most elements in one document.
const MAX_ELEMENTS: usize = 100_000;
/// Longest text of one element kept.
const MAX_TEXT: usize = 64 * 1024;
/// Most dependencies, licences and properties kept.
const MAX_DEPENDENCIES: usize = 5_000;
const MAX_LICENSES: usize = 64;
const MAX_PROPERTIES: usize = 2_000;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Gav {
    pub group_id: Option<String>,
    pub artifact_id: Option<String>,
    pub version: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct License {
    pub name: Option<String>,
    pub url: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Dependency {
    pub group_id: Option<String>,
    pub artifact_id: Option<String>,
    pub version: Option<String>,
    pub scope: Option<String>,
    pub optional: bool,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub classifier: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Pom {
    pub group_id: String,
    pub artifact_id: String,
    pub version: String,
    pub packaging: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub url: Option<String>,
    pub licenses: Vec<License>,
    pub parent: Option<Gav>,
    pub dependencies: Vec<Dependency>,
    /// The plugin prefix of a `maven-plugin` (from its conventional artifact id).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plugin_prefix: Option<String>,
}

fn invalid(message: impl Into<String>) -> FormatError {
    FormatError::Invalid(format!("invalid POM: {}", message.into()))
}

/// What the reader collects while it walks the document.
#[derive(Default)]
struct Collected {
    fields: BTreeMap<&'static str, String>,
    parent: Gav,
    has_parent: bool,
    licenses: Vec<License>,
    dependencies: Vec<Dependency>,
    properties: BTreeMap<String, String>,
}

/// Where a text belongs, by the element path.
fn store(c: &mut Collected, path: &[String], text: String) {
    let p: Vec<&str> = path.iter().map(String::as_str).collect();
    match p.as_slice() {
        ["project", field] => {
            let key = match *field {
                "groupId" => "groupId",
                "artifactId" => "artifactId",
                "version" => "version",
                "packaging" => "packaging",
                "name" => "name",
                "description" => "description",
                "url" => "url",
                _ => return,
            };
            c.fields.insert(key, text);
        }
        ["project", "parent", field] => match *field {
            "groupId" => c.parent.group_id = Some(text),
            "artifactId" => c.parent.artifact_id = Some(text),
            "version" => c.parent.version = Some(text),
            _ => {}
        },
        ["project", "licenses", "license", field] => {
            if let Some(license) = c.licenses.last_mut() {
                match *field {
                    "name" => license.name = Some(text),
                    "url" => license.url = Some(text),
                    _ => {}
                }
            }
        }
        ["project", "dependencies", "dependency", field] => {
            if let Some(d) = c.dependencies.last_mut() {
                match *field {
                    "groupId" => d.group_id = Some(text),
                    "artifactId" => d.artifact_id = Some(text),
                    "version" => d.version = Some(text),
                    "scope" => d.scope = Some(text),
                    "optional" => d.optional = text == "true",
                    "type" => d.kind = Some(text),
                    "classifier" => d.classifier = Some(text),
                    _ => {}
                }
            }
        }
        ["project", "properties", key] if c.properties.len() < MAX_PROPERTIES => {
            c.properties.insert((*key).to_owned(), text);
        }
        _ => {}
    }
}

/// An element opened at `path` (already pushed).
fn open(c: &mut Collected, path: &[String]) -> Result<(), FormatError> {
    let p: Vec<&str> = path.iter().map(String::as_str).collect();
    match p.as_slice() {
        ["project", "parent"] => c.has_parent = true,
        ["project", "licenses", "license"] => {
            if c.licenses.len() >= MAX_LICENSES {
                return Err(invalid(format!("more than {MAX_LICENSES} licences")));
            }
            c.licenses.push(License::default());
        }
        ["project", "dependencies", "dependency"] => {
            if c.dependencies.len() >= MAX_DEPENDENCIES {
                return Err(invalid(format!(
                    "more than {MAX_DEPENDENCIES} dependencies"
                )));
            }
            c.dependencies.push(Dependency::default());
        }
        [first, ..] if *first != "project" => {
            return Err(invalid(format!(
                "the root element is <{}>, not <project>",
                crate::archive::quote(first)
            )))
        }
        _ => {}
    }
    Ok(())
}

fn walk(bytes: &[u8]) -> Result<Collected, FormatError> {
    let mut reader = Reader::from_reader(bytes);
    reader.config_mut().check_end_names = true;
    let mut collected = Collected::default();
    let mut path: Vec<String> = Vec::new();
    let mut text = String::new();
    let mut elements = 0usize;
    let mut buf = Vec::new();
    loop {
        let event = reader
            .read_event_into(&mut buf)
            .map_err(|e| invalid(e.to_string()))?;
        match event {
            Event::DocType(_) => {
                return Err(invalid("document type declarations are not accepted"));
            }
            Event::Start(start) => {
                count(&mut elements)?;
                if path.len() >= MAX_DEPTH {
                    return Err(invalid(format!("nested deeper than {MAX_DEPTH} elements")));
                }
                path.push(local_name(start.local_name().as_ref()));
                open(&mut collected, &path)?;
                text.clear();
            }
            Event::Empty(start) => {
                count(&mut elements)?;
                path.push(local_name(start.local_name().as_ref()));
                open(&mut collected, &path)?;
                path.pop();
            }
            Event::End(_) => {
                let value = std::mem::take(&mut text).trim().to_owned();
                if !value.is_empty() {
                    store(&mut collected, &path, value);
                }
                path.pop();
            }
            Event::Text(t) => {
                push_text(&mut text, &t.decode().map_err(|e| invalid(e.to_string()))?)?
            }
            Event::CData(t) => push_text(&mut text, &String::from_utf8_lossy(&t))?,
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref().map_err(|e| invalid(e.to_string()))? {
                    Some(c) => c.to_string(),
                    None => predefined(&r.decode().map_err(|e| invalid(e.to_string()))?)
                        .ok_or_else(|| invalid("only XML's predefined entities are accepted"))?
                        .to_owned(),
                };
                push_text(&mut text, &resolved)?;
            }
            Event::Eof => break,
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) => {}
        }
        buf.clear();
    }
    if !path.is_empty() {
        return Err(invalid("the document ends inside an element"));
    }
    Ok(collected)
}

fn count(elements: &mut usize) -> Result<(), FormatError> {
    *elements += 1;
    if *elements > MAX_ELEMENTS {
        return Err(invalid(format!("more than {MAX_ELEMENTS} elements")));
    }
    Ok(())
}

fn local_name(name: &[u8]) -> String {
    String::from_utf8_lossy(name).into_owned()
}

fn predefined(name: &str) -> Option<&'static str> {
    Some(match name {
        "lt" => "<",
        "gt" => ">",
        "amp" => "&",
        "apos" => "'",
        "quot" => "\"",
        _ => return None,
    })
}

fn push_text(text: &mut String, more: &str) -> Result<(), FormatError> {
    if text.len() + more.len() > MAX_TEXT {
        return Err(invalid(format!(
            "an element's text is longer than {MAX_TEXT} bytes"
        )));
    }
    text.push_str(more);
    Ok(())
}

/// `${name}` references resolved once against the POM's own properties and coordinates.
fn interpolate(value: &str, vars: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find('}') {
            Some(end) => {
                let key = &after[..end];
                match vars.get(key) {
                    Some(v) => out.push_str(v),
                    None => out.push_str(&rest[start..start + 3 + end]),
                }
                rest = &after[end + 1..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// Parses a POM, inheriting the group and version from `<parent>` as Maven does.
pub fn parse(bytes: &[u8]) -> Result<Pom, FormatError> {
    if bytes.len() as u64 > MAX_POM_SIZE {
        return Err(invalid(format!("larger than {MAX_POM_SIZE} bytes")));
    }
    let c = walk(bytes)?;
    let field = |k: &str| c.fields.get(k).cloned();
    let group_id = field("groupId")
        .or_else(|| c.parent.group_id.clone())
        .ok_or_else(|| invalid("no groupId (and no parent to inherit it from)"))?;
    let artifact_id = field("artifactId").ok_or_else(|| invalid("no artifactId"))?;
    let version = field("version")
        .or_else(|| c.parent.version.clone())
        .ok_or_else(|| invalid("no version (and no parent to inherit it from)"))?;
    let mut vars = c.properties.clone();
    for (key, value) in [
        ("project.groupId", &group_id),
        ("project.artifactId", &artifact_id),
        ("project.version", &version),
        ("pom.version", &version),
    ] {
        vars.insert(key.to_owned(), value.clone());
    }
    if let Some(v) = &c.parent.version {
        vars.insert("project.parent.version".into(), v.clone());
    }
    let resolve = |v: Option<String>| v.map(|v| interpolate(&v, &vars));
    let group_id = interpolate(&group_id, &vars);
    let version = interpolate(&version, &vars);
    let packaging = field("packaging").unwrap_or_else(|| "jar".into());
    let plugin_prefix = (packaging == "maven-plugin").then(|| plugin_prefix(&artifact_id));
    Ok(Pom {
        dependencies: c
            .dependencies
            .iter()
            .cloned()
            .map(|d| Dependency {
                group_id: resolve(d.group_id),
                artifact_id: resolve(d.artifact_id),
                version: resolve(d.version),
                ..d
            })
            .collect(),
        licenses: c.licenses.clone(),
        parent: c.has_parent.then(|| c.parent.clone()),
        name: resolve(field("name")),
        description: field("description"),
        url: resolve(field("url")),
        group_id,
        artifact_id,
        version,
        packaging,
        plugin_prefix,
    })
}

/// The prefix Maven derives from a plugin's artifact id (`foo-maven-plugin`,
/// `maven-foo-plugin` → `foo`).
pub fn plugin_prefix(artifact_id: &str) -> String {
    if let Some(p) = artifact_id.strip_suffix("-maven-plugin") {
        return p.to_owned();
    }
    if let Some(p) = artifact_id
        .strip_prefix("maven-")
        .and_then(|a| a.strip_suffix("-plugin"))
    {
        return p.to_owned();
    }
    artifact_id.to_owned()
}

impl Pom {
    /// The licence names, for policies: one name, or several joined with ` OR ` (a POM
    /// listing several licences offers a choice).
    pub fn license_summary(&self) -> Option<String> {
        let names: Vec<&str> = self
            .licenses
            .iter()
            .filter_map(|l| l.name.as_deref())
            .collect();
        (!names.is_empty()).then(|| names.join(" OR "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POM: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<project>
  <modelVersion>4.0.0</modelVersion>
  <parent><groupId>org.example</groupId><artifactId>parent</artifactId><version>2.1</version></parent>
  <artifactId>app</artifactId>
  <name>App &amp; more &#65;</name>
  <properties><dep.version>3.4</dep.version></properties>
  <licenses><license><name>Apache-2.0</name><url>https://example.invalid/l</url></license></licenses>
  <dependencies>
    <dependency><groupId>org.dep</groupId><artifactId>lib</artifactId><version>${dep.version}</version><scope>test</scope></dependency>
    <dependency><groupId>${project.groupId}</groupId><artifactId>core</artifactId><version>${project.version}</version><optional>true</optional></dependency>
  </dependencies>
</project>"#;

    #[test]
    fn reads_coordinates_inherited_from_the_parent() -> Result<(), FormatError> {
        let pom = parse(POM.as_bytes())?;
        assert_eq!(pom.group_id, "org.example");
        assert_eq!(pom.version, "2.1");
        assert_eq!(pom.packaging, "jar");
        assert_eq!(pom.name.as_deref(), Some("App & more A"));
        assert_eq!(pom.license_summary().as_deref(), Some("Apache-2.0"));
        assert_eq!(pom.dependencies[0].version.as_deref(), Some("3.4"));
        assert_eq!(pom.dependencies[0].scope.as_deref(), Some("test"));
        assert_eq!(pom.dependencies[1].group_id.as_deref(), Some("org.example"));
        assert_eq!(pom.dependencies[1].version.as_deref(), Some("2.1"));
        assert!(pom.dependencies[1].optional);
        Ok(())
    }

    #[test]
    fn refuses_bombs_entities_and_oversize() {
        let bomb = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><project><artifactId>&lol2;</artifactId></project>"#;
        assert!(parse(bomb.as_bytes()).is_err());
        let external = r#"<project><groupId>a</groupId><artifactId>&xxe;</artifactId><version>1</version></project>"#;
        assert!(parse(external.as_bytes()).is_err());
        let deep = format!(
            "<project>{}{}</project>",
            "<a>".repeat(100),
            "</a>".repeat(100)
        );
        assert!(parse(deep.as_bytes()).is_err());
        let huge = vec![b' '; (MAX_POM_SIZE + 1) as usize];
        assert!(parse(&huge).is_err());
        assert!(parse(b"<project><groupId>a</groupId>").is_err());
        assert!(parse(b"<html/>").is_err());
        assert!(parse(b"<project><artifactId>a</artifactId></project>").is_err());
        assert!(parse(b"\xff\xfe<<").is_err());
    }

    #[test]
    fn plugin_prefixes() {
        assert_eq!(plugin_prefix("hello-maven-plugin"), "hello");
        assert_eq!(plugin_prefix("maven-deploy-plugin"), "deploy");
    }
}
