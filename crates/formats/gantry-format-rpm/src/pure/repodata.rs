//! The repodata documents: `primary.xml`, `filelists.xml` and `other.xml` written from the
//! stored metadata of a repository's packages, compressed with gzip, and `repomd.xml` naming
//! each by its checksum. The same packages give the same bytes, so every server replica writes
//! identical files for one state of the repository.

use std::fmt::Write as _;
use std::io::Write as _;

use sha2::{Digest, Sha256};

use super::package::{Dependency, RpmMeta};

/// One package as the documents list it: its metadata and where and what its file is.
pub struct Listed<'a> {
    pub meta: &'a RpmMeta,
    pub sha256: &'a str,
    pub size: u64,
    /// Seconds since the epoch (the file's time in `primary`).
    pub time: u64,
    /// Relative to the repository's base URL.
    pub href: String,
}

/// A compressed document of a generation, named by its checksum.
#[derive(Debug, Clone)]
pub struct DataFile {
    /// `primary`, `filelists`, `other`.
    pub kind: &'static str,
    /// `<sha256>-<kind>.xml.gz`.
    pub filename: String,
    pub bytes: Vec<u8>,
    pub sha256: String,
    pub open_sha256: String,
    pub open_size: usize,
}

/// A complete generation: `repomd.xml` and every file it names.
#[derive(Debug, Clone)]
pub struct Generation {
    pub repomd: Vec<u8>,
    pub files: Vec<DataFile>,
}

/// XML text: escaped, without the characters XML 1.0 cannot hold.
fn esc(text: &str) -> String {
    let clean: String = text
        .chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\t' | '\r'))
        .collect();
    quick_xml::escape::escape(clean.as_str()).into_owned()
}

fn version_element(out: &mut String, meta: &RpmMeta) {
    let _ = writeln!(
        out,
        r#"  <version epoch="{}" ver="{}" rel="{}"/>"#,
        meta.epoch,
        esc(&meta.ver),
        esc(&meta.release)
    );
}

/// Files listed in `primary` as well as `filelists`: those dependencies name most often.
pub fn is_primary_file(path: &str) -> bool {
    path.starts_with("/etc/") || path == "/usr/lib/sendmail" || path.contains("bin/")
}

fn dependency_list(out: &mut String, element: &str, deps: &[Dependency]) {
    if deps.is_empty() {
        return;
    }
    let _ = writeln!(out, "    <rpm:{element}>");
    for d in deps {
        let _ = write!(out, r#"      <rpm:entry name="{}""#, esc(&d.name));
        if let Some(flags) = &d.flags {
            let _ = write!(out, r#" flags="{flags}""#);
        }
        for (attr, value) in [("epoch", &d.epoch), ("ver", &d.ver), ("rel", &d.rel)] {
            if let Some(v) = value {
                let _ = write!(out, r#" {attr}="{}""#, esc(v));
            }
        }
        if d.pre {
            out.push_str(r#" pre="1""#);
        }
        out.push_str("/>\n");
    }
    let _ = writeln!(out, "    </rpm:{element}>");
}

/// The requires `primary` lists: not those the package satisfies itself with one of its
/// own files.
fn listed_requires(meta: &RpmMeta) -> Vec<Dependency> {
    meta.requires
        .iter()
        .filter(|d| !(d.name.starts_with('/') && meta.files.iter().any(|f| f.path == d.name)))
        .cloned()
        .collect()
}

fn primary_package(out: &mut String, p: &Listed<'_>) {
    let m = p.meta;
    out.push_str("<package type=\"rpm\">\n");
    let _ = writeln!(
        out,
        "  <name>{}</name>\n  <arch>{}</arch>",
        esc(&m.name),
        esc(&m.arch)
    );
    version_element(out, m);
    let _ = writeln!(
        out,
        "  <checksum type=\"sha256\" pkgid=\"YES\">{}</checksum>",
        p.sha256
    );
    for (element, value) in [
        ("summary", &m.summary),
        ("description", &m.description),
        ("packager", &m.packager),
        ("url", &m.url),
    ] {
        let _ = writeln!(out, "  <{element}>{}</{element}>", esc(value));
    }
    let _ = writeln!(
        out,
        "  <time file=\"{}\" build=\"{}\"/>\n  <size package=\"{}\" installed=\"{}\" archive=\"{}\"/>",
        p.time, m.build_time, p.size, m.installed_size, m.archive_size
    );
    let _ = writeln!(out, "  <location href=\"{}\"/>\n  <format>", esc(&p.href));
    for (element, value) in [
        ("license", &m.license),
        ("vendor", &m.vendor),
        ("group", &m.group),
        ("buildhost", &m.buildhost),
        ("sourcerpm", &m.sourcerpm),
    ] {
        let _ = writeln!(out, "    <rpm:{element}>{}</rpm:{element}>", esc(value));
    }
    let _ = writeln!(
        out,
        "    <rpm:header-range start=\"{}\" end=\"{}\"/>",
        m.header_start, m.header_end
    );
    dependency_list(out, "provides", &m.provides);
    dependency_list(out, "requires", &listed_requires(m));
    dependency_list(out, "conflicts", &m.conflicts);
    dependency_list(out, "obsoletes", &m.obsoletes);
    for f in m.files.iter().filter(|f| is_primary_file(&f.path)) {
        file_element(out, "    ", f);
    }
    out.push_str("  </format>\n</package>\n");
}

fn file_element(out: &mut String, indent: &str, f: &super::package::PackageFile) {
    match &f.kind {
        Some(kind) => {
            let _ = writeln!(out, "{indent}<file type=\"{kind}\">{}</file>", esc(&f.path));
        }
        None => {
            let _ = writeln!(out, "{indent}<file>{}</file>", esc(&f.path));
        }
    }
}

fn package_opening(out: &mut String, p: &Listed<'_>) {
    let _ = writeln!(
        out,
        "<package pkgid=\"{}\" name=\"{}\" arch=\"{}\">",
        p.sha256,
        esc(&p.meta.name),
        esc(&p.meta.arch)
    );
    version_element(out, p.meta);
}

const XML_DECL: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
const NS_COMMON: &str = "http://linux.duke.edu/metadata/common";
const NS_RPM: &str = "http://linux.duke.edu/metadata/rpm";

pub fn primary(packages: &[Listed<'_>]) -> String {
    let mut out = format!(
        "{XML_DECL}<metadata xmlns=\"{NS_COMMON}\" xmlns:rpm=\"{NS_RPM}\" packages=\"{}\">\n",
        packages.len()
    );
    for p in packages {
        primary_package(&mut out, p);
    }
    out.push_str("</metadata>\n");
    out
}

pub fn filelists(packages: &[Listed<'_>]) -> String {
    let mut out = format!(
        "{XML_DECL}<filelists xmlns=\"http://linux.duke.edu/metadata/filelists\" packages=\"{}\">\n",
        packages.len()
    );
    for p in packages {
        package_opening(&mut out, p);
        for f in &p.meta.files {
            file_element(&mut out, "  ", f);
        }
        out.push_str("</package>\n");
    }
    out.push_str("</filelists>\n");
    out
}

pub fn other(packages: &[Listed<'_>]) -> String {
    let mut out = format!(
        "{XML_DECL}<otherdata xmlns=\"http://linux.duke.edu/metadata/other\" packages=\"{}\">\n",
        packages.len()
    );
    for p in packages {
        package_opening(&mut out, p);
        for c in &p.meta.changelog {
            let _ = writeln!(
                out,
                "  <changelog author=\"{}\" date=\"{}\">{}</changelog>",
                esc(&c.author),
                c.date,
                esc(&c.text)
            );
        }
        out.push_str("</package>\n");
    }
    out.push_str("</otherdata>\n");
    out
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn gzip(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes)?;
    encoder.finish()
}

fn data_file(kind: &'static str, open: &str) -> std::io::Result<DataFile> {
    let bytes = gzip(open.as_bytes())?;
    let sha256 = sha256_hex(&bytes);
    Ok(DataFile {
        kind,
        filename: format!("{sha256}-{kind}.xml.gz"),
        open_sha256: sha256_hex(open.as_bytes()),
        open_size: open.len(),
        bytes,
        sha256,
    })
}

/// Every document of one state of a repository; `timestamp` (seconds) is the time of its
/// last change, so the same state gives the same bytes.
pub fn generate(packages: &[Listed<'_>], timestamp: u64) -> std::io::Result<Generation> {
    let files = vec![
        data_file("primary", &primary(packages))?,
        data_file("filelists", &filelists(packages))?,
        data_file("other", &other(packages))?,
    ];
    let mut repomd = format!(
        "{XML_DECL}<repomd xmlns=\"http://linux.duke.edu/metadata/repo\" xmlns:rpm=\"{NS_RPM}\">\n  <revision>{timestamp}</revision>\n"
    );
    for f in &files {
        let _ = write!(
            repomd,
            "  <data type=\"{}\">\n    <checksum type=\"sha256\">{}</checksum>\n    <open-checksum type=\"sha256\">{}</open-checksum>\n    <location href=\"repodata/{}\"/>\n    <timestamp>{timestamp}</timestamp>\n    <size>{}</size>\n    <open-size>{}</open-size>\n  </data>\n",
            f.kind,
            f.sha256,
            f.open_sha256,
            f.filename,
            f.bytes.len(),
            f.open_size
        );
    }
    repomd.push_str("</repomd>\n");
    Ok(Generation {
        repomd: repomd.into_bytes(),
        files,
    })
}
