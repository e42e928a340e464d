//! `primary.xml` read into what the suite compares: per package its name, arch, version,
//! checksum, and its provides and requires as attribute maps.

use std::collections::BTreeMap;

use quick_xml::events::{BytesStart, Event};

use crate::common::TestResult;

pub(crate) type Attrs = BTreeMap<String, String>;

#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Listed {
    pub(crate) name: String,
    pub(crate) arch: String,
    pub(crate) version: Attrs,
    pub(crate) checksum: String,
    pub(crate) provides: Vec<Attrs>,
    pub(crate) requires: Vec<Attrs>,
    pub(crate) href: String,
    pub(crate) header_range: Attrs,
}

fn attrs(e: &BytesStart<'_>) -> TestResult<Attrs> {
    let mut out = Attrs::new();
    for a in e.attributes() {
        let a = a?;
        out.insert(
            String::from_utf8(a.key.as_ref().to_vec())?,
            a.unescape_value()?.into_owned(),
        );
    }
    Ok(out)
}

/// The packages of a `primary.xml`, sorted by name.
pub(crate) fn parse(xml: &str) -> TestResult<Vec<Listed>> {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut out: Vec<Listed> = Vec::new();
    let mut list = String::new();
    let mut text_of = String::new();
    loop {
        match reader.read_event()? {
            Event::Start(e) | Event::Empty(e) => {
                let tag = String::from_utf8(e.name().as_ref().to_vec())?;
                match tag.as_str() {
                    "package" => out.push(Listed::default()),
                    "version" => {
                        if let Some(p) = out.last_mut() {
                            p.version = attrs(&e)?;
                        }
                    }
                    "location" => {
                        if let Some(p) = out.last_mut() {
                            p.href = attrs(&e)?.remove("href").unwrap_or_default();
                        }
                    }
                    "rpm:header-range" => {
                        if let Some(p) = out.last_mut() {
                            p.header_range = attrs(&e)?;
                        }
                    }
                    "rpm:provides" | "rpm:requires" => list = tag,
                    "rpm:entry" => {
                        let entry = attrs(&e)?;
                        if let Some(p) = out.last_mut() {
                            match list.as_str() {
                                "rpm:provides" => p.provides.push(entry),
                                "rpm:requires" => p.requires.push(entry),
                                _ => {}
                            }
                        }
                    }
                    "name" | "arch" | "checksum" => text_of = tag,
                    _ => {}
                }
            }
            Event::Text(t) => {
                let text = t.decode()?.into_owned();
                if let Some(p) = out.last_mut() {
                    match text_of.as_str() {
                        "name" => p.name = text,
                        "arch" => p.arch = text,
                        "checksum" => p.checksum = text,
                        _ => {}
                    }
                }
            }
            Event::End(e) => {
                let tag = e.name();
                if tag.as_ref() == list.as_bytes() {
                    list.clear();
                }
                text_of.clear();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    for p in &mut out {
        p.provides.sort();
        p.requires.sort();
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}
