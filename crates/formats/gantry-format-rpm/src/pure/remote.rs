//! Another repository's `repomd.xml` and `primary.xml` read back into what Gantry lists: the
//! upstream side of a repository. Bounded (document sizes by the caller, packages and entries
//! here), entities never expanded (quick-xml's reader leaves them alone and a DTD is refused).

use quick_xml::events::{BytesStart, Event};
use serde::{Deserialize, Serialize};

use super::package::{Dependency, PackageFile, RpmMeta};

/// Most packages taken from one upstream.
pub const MAX_PACKAGES: usize = 200_000;

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct RemoteError(pub String);

fn bad<T>(msg: impl Into<String>) -> Result<T, RemoteError> {
    Err(RemoteError(msg.into()))
}

/// A package an upstream lists: what `primary` says of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemotePackage {
    pub meta: RpmMeta,
    pub sha256: String,
    pub size: u64,
    pub time: u64,
    /// The upstream's `location href`, relative to its base URL.
    pub href: String,
}

/// The `primary` entry of a `repomd.xml`: (href, sha256 of the compressed file).
pub fn primary_location(repomd: &str) -> Result<(String, String), RemoteError> {
    let mut reader = quick_xml::Reader::from_str(repomd);
    let (mut in_primary, mut in_checksum) = (false, false);
    let (mut href, mut sha256) = (None, None);
    loop {
        match reader
            .read_event()
            .map_err(|e| RemoteError(format!("repomd.xml: {e}")))?
        {
            Event::DocType(_) => return bad("repomd.xml declares a DTD"),
            Event::Start(e) | Event::Empty(e) => match e.name().as_ref() {
                b"data" => in_primary = attr(&e, "type")?.as_deref() == Some("primary"),
                b"location" if in_primary => href = attr(&e, "href")?,
                b"checksum" if in_primary => {
                    in_checksum = attr(&e, "type")?.as_deref() == Some("sha256");
                }
                _ => {}
            },
            Event::Text(t) if in_checksum => {
                let value = t.decode().map_err(|e| RemoteError(e.to_string()))?;
                sha256 = Some(value.trim().to_owned());
            }
            Event::End(e) => {
                in_checksum = false;
                if e.name().as_ref() == b"data" {
                    in_primary = false;
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    match (href, sha256) {
        (Some(h), Some(s)) if !h.contains("..") && !h.starts_with('/') && !h.contains("://") => {
            Ok((h, s))
        }
        (Some(_), Some(_)) => bad("repomd.xml names its primary outside the repository"),
        _ => bad("repomd.xml names no primary with a sha256 checksum"),
    }
}

fn attr(e: &BytesStart<'_>, name: &str) -> Result<Option<String>, RemoteError> {
    for a in e.attributes() {
        let a = a.map_err(|e| RemoteError(e.to_string()))?;
        if a.key.as_ref() == name.as_bytes() {
            let v = a.unescape_value().map_err(|e| RemoteError(e.to_string()))?;
            return Ok(Some(v.into_owned()));
        }
    }
    Ok(None)
}

fn num(e: &BytesStart<'_>, name: &str) -> Result<u64, RemoteError> {
    Ok(attr(e, name)?.and_then(|v| v.parse().ok()).unwrap_or(0))
}

fn empty_meta() -> RpmMeta {
    RpmMeta {
        name: String::new(),
        epoch: 0,
        ver: String::new(),
        release: String::new(),
        arch: String::new(),
        summary: String::new(),
        description: String::new(),
        license: String::new(),
        url: String::new(),
        vendor: String::new(),
        packager: String::new(),
        group: String::new(),
        buildhost: String::new(),
        sourcerpm: String::new(),
        build_time: 0,
        installed_size: 0,
        archive_size: 0,
        header_start: 0,
        header_end: 0,
        requires: Vec::new(),
        provides: Vec::new(),
        conflicts: Vec::new(),
        obsoletes: Vec::new(),
        files: Vec::new(),
        changelog: Vec::new(),
    }
}

fn empty_package() -> RemotePackage {
    RemotePackage {
        meta: empty_meta(),
        sha256: String::new(),
        size: 0,
        time: 0,
        href: String::new(),
    }
}

fn dependency(e: &BytesStart<'_>) -> Result<Dependency, RemoteError> {
    Ok(Dependency {
        name: attr(e, "name")?.unwrap_or_default(),
        flags: attr(e, "flags")?,
        epoch: attr(e, "epoch")?,
        ver: attr(e, "ver")?,
        rel: attr(e, "rel")?,
        pre: attr(e, "pre")?.as_deref() == Some("1"),
    })
}

/// Applies one element's attributes to the package being read.
fn element(p: &mut RemotePackage, e: &BytesStart<'_>, list: &[u8]) -> Result<(), RemoteError> {
    let m = &mut p.meta;
    match e.name().as_ref() {
        b"version" => {
            m.epoch = num(e, "epoch")?;
            m.ver = attr(e, "ver")?.unwrap_or_default();
            m.release = attr(e, "rel")?.unwrap_or_default();
        }
        b"time" => {
            p.time = num(e, "file")?;
            m.build_time = num(e, "build")?;
        }
        b"size" => {
            p.size = num(e, "package")?;
            m.installed_size = num(e, "installed")?;
            m.archive_size = num(e, "archive")?;
        }
        b"location" => p.href = attr(e, "href")?.unwrap_or_default(),
        b"rpm:header-range" => {
            m.header_start = num(e, "start")?;
            m.header_end = num(e, "end")?;
        }
        b"rpm:entry" => {
            let target = match list {
                b"rpm:provides" => &mut m.provides,
                b"rpm:requires" => &mut m.requires,
                b"rpm:conflicts" => &mut m.conflicts,
                b"rpm:obsoletes" => &mut m.obsoletes,
                _ => return Ok(()),
            };
            if target.len() >= super::MAX_DEPENDENCIES {
                return bad("an upstream package lists too many dependencies");
            }
            target.push(dependency(e)?);
        }
        _ => {}
    }
    Ok(())
}

fn text(p: &mut RemotePackage, element: &[u8], text: String, file_kind: Option<String>) {
    let m = &mut p.meta;
    match element {
        b"name" => m.name = text,
        b"arch" => m.arch = text,
        b"checksum" => p.sha256 = text.trim().to_owned(),
        b"summary" => m.summary = text,
        b"description" => m.description = text,
        b"packager" => m.packager = text,
        b"url" => m.url = text,
        b"rpm:license" => m.license = text,
        b"rpm:vendor" => m.vendor = text,
        b"rpm:group" => m.group = text,
        b"rpm:buildhost" => m.buildhost = text,
        b"rpm:sourcerpm" => m.sourcerpm = text,
        b"file" if m.files.len() < super::MAX_FILES => m.files.push(PackageFile {
            path: text,
            kind: file_kind,
        }),
        _ => {}
    }
}

/// The character an entity reference in text stands for (only XML's own and numeric ones).
fn reference(r: &quick_xml::events::BytesRef<'_>) -> Result<Option<char>, RemoteError> {
    if let Some(c) = r
        .resolve_char_ref()
        .map_err(|e| RemoteError(e.to_string()))?
    {
        return Ok(Some(c));
    }
    let name = r.decode().map_err(|e| RemoteError(e.to_string()))?;
    Ok(match name.as_ref() {
        "amp" => Some('&'),
        "lt" => Some('<'),
        "gt" => Some('>'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        _ => None,
    })
}

/// The packages of a `primary.xml`. Packages whose identity or checksum is unusable, or whose
/// location leaves the repository, are left out.
pub fn parse_primary(xml: &str) -> Result<Vec<RemotePackage>, RemoteError> {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut out = Vec::new();
    let mut current: Option<RemotePackage> = None;
    let mut list: Vec<u8> = Vec::new();
    let mut buf = String::new();
    let mut file_kind = None;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| RemoteError(format!("primary.xml: {e}")))?;
        match event {
            Event::DocType(_) => return bad("primary.xml declares a DTD"),
            Event::Start(e) | Event::Empty(e) => {
                buf.clear();
                let name = e.name().as_ref().to_vec();
                if name == b"package" {
                    if out.len() >= MAX_PACKAGES {
                        return bad(format!(
                            "the upstream lists more than {MAX_PACKAGES} packages"
                        ));
                    }
                    current = Some(empty_package());
                } else if let Some(p) = current.as_mut() {
                    if matches!(
                        name.as_slice(),
                        b"rpm:provides" | b"rpm:requires" | b"rpm:conflicts" | b"rpm:obsoletes"
                    ) {
                        list = name.clone();
                    }
                    if name == b"file" {
                        file_kind = attr(&e, "type")?;
                    }
                    element(p, &e, &list)?;
                }
            }
            Event::Text(t) => buf.push_str(&t.decode().map_err(|e| RemoteError(e.to_string()))?),
            Event::CData(t) => buf.push_str(&String::from_utf8_lossy(&t)),
            Event::GeneralRef(r) => buf.extend(reference(&r)?),
            Event::End(e) => {
                let name = e.name().as_ref().to_vec();
                if name == b"package" {
                    if let Some(p) = current.take() {
                        if usable(&p) {
                            out.push(p);
                        }
                    }
                } else if name == list {
                    list.clear();
                } else if let Some(p) = current.as_mut() {
                    text(p, &name, std::mem::take(&mut buf), file_kind.take());
                }
                buf.clear();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(out)
}

fn usable(p: &RemotePackage) -> bool {
    super::validate(&p.meta).is_ok()
        && p.sha256.len() == 64
        && p.sha256.bytes().all(|b| b.is_ascii_hexdigit())
        && !p.href.is_empty()
        && !p.href.starts_with('/')
        && !p.href.contains("..")
        && !p.href.contains("://")
        && !p.href.contains('?')
}
