//! apt repository metadata, with no I/O: `Packages` stanzas per component and architecture,
//! compressed forms, and the distribution's `Release` listing every index with its hashes.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256};

/// One package as an index lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct IndexEntry {
    /// Control fields, in file order (generated fields already removed).
    pub control: Vec<(String, String)>,
    pub architecture: String,
    /// Path of the `.deb` from the repository root (`pool/main/h/hello/hello_1.0_amd64.deb`).
    pub filename: String,
    pub size: i64,
    pub md5: String,
    pub sha1: String,
    pub sha256: String,
    pub sha512: String,
    /// Components of this distribution that list it.
    pub components: Vec<String>,
}

/// A file of a distribution's generation: its path under `dists/<dist>/` and bytes.
#[derive(Debug, Clone)]
pub struct IndexFile {
    pub path: String,
    pub body: Vec<u8>,
    pub sha256: String,
}

/// The pool path of a `.deb`: `pool/<component>/<prefix>/<name>/<file>`, with Debian's
/// prefix rule (`libfoo` → `libf`).
pub fn pool_path(component: &str, name: &str, filename: &str) -> String {
    // Names are ASCII (checked at upload); `get` keeps a stray one from panicking.
    let prefix = if name.starts_with("lib") && name.len() > 3 {
        name.get(..4).unwrap_or(name)
    } else {
        name.get(..1).unwrap_or(name)
    };
    format!("pool/{component}/{prefix}/{name}/{filename}")
}

fn stanza(entry: &IndexEntry) -> String {
    let mut out = String::new();
    for (key, value) in &entry.control {
        out.push_str(&format!("{key}: {value}\n"));
    }
    out.push_str(&format!(
        "Filename: {}\nSize: {}\n",
        entry.filename, entry.size
    ));
    // An upstream's index may lack some of the hashes; apt needs only one it trusts.
    for (key, value) in [
        ("MD5sum", &entry.md5),
        ("SHA1", &entry.sha1),
        ("SHA256", &entry.sha256),
        ("SHA512", &entry.sha512),
    ] {
        if !value.is_empty() {
            out.push_str(&format!("{key}: {value}\n"));
        }
    }
    out.push('\n');
    out
}

fn file(path: String, body: Vec<u8>) -> IndexFile {
    let sha256 = hex::encode(Sha256::digest(&body));
    IndexFile { path, body, sha256 }
}

fn gzip(data: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(data)?;
    gz.finish()
}

fn xz(data: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut xz = liblzma::write::XzEncoder::new(Vec::new(), 6);
    xz.write_all(data)?;
    xz.finish()
}

/// The architectures a distribution's `Packages` files are written for: those of its
/// packages, `all` packages listed in each (amd64 alone when every package is `all`).
pub fn architectures(entries: &[IndexEntry]) -> Vec<String> {
    let archs: BTreeSet<String> = entries
        .iter()
        .map(|e| e.architecture.clone())
        .filter(|a| a != "all")
        .collect();
    if archs.is_empty() {
        vec!["amd64".to_owned()]
    } else {
        archs.into_iter().collect()
    }
}

/// Every `Packages` file (plain, `.gz`, `.xz`) of a distribution: one per component and
/// architecture, even when empty, so `Release` never names a file that is not there.
pub fn packages_files(
    entries: &[IndexEntry],
    components: &[String],
    archs: &[String],
) -> std::io::Result<Vec<IndexFile>> {
    let mut files = Vec::new();
    for component in components {
        for arch in archs {
            let mut text = String::new();
            for entry in entries.iter().filter(|e| {
                e.components.contains(component)
                    && (&e.architecture == arch || e.architecture == "all")
            }) {
                text.push_str(&stanza(entry));
            }
            let dir = format!("{component}/binary-{arch}");
            let plain = text.into_bytes();
            files.push(file(format!("{dir}/Packages.gz"), gzip(&plain)?));
            files.push(file(format!("{dir}/Packages.xz"), xz(&plain)?));
            files.push(file(format!("{dir}/Packages"), plain));
        }
    }
    Ok(files)
}

/// What `Release` says besides its file list.
pub struct ReleaseHead<'a> {
    pub label: &'a str,
    pub distribution: &'a str,
    pub date: &'a str,
    pub components: &'a [String],
    pub architectures: &'a [String],
}

/// The `Release` text listing `files` with their sizes and MD5, SHA1 and SHA256 hashes
/// (apt fetches them by their SHA256 under `by-hash/`).
pub fn release(head: &ReleaseHead<'_>, files: &[IndexFile]) -> String {
    let mut out = format!(
        "Origin: Gantry\nLabel: {label}\nSuite: {dist}\nCodename: {dist}\nDate: {date}\n\
         Architectures: {archs}\nComponents: {components}\nAcquire-By-Hash: yes\n\
         Description: {label} {dist}, served by Gantry\n",
        label = head.label,
        dist = head.distribution,
        date = head.date,
        archs = head.architectures.join(" "),
        components = head.components.join(" "),
    );
    let sorted: BTreeMap<&str, &IndexFile> = files.iter().map(|f| (f.path.as_str(), f)).collect();
    let section = |name: &str, hash: &dyn Fn(&[u8]) -> String| {
        let mut text = format!("{name}:\n");
        for (path, f) in &sorted {
            text.push_str(&format!(" {} {:>16} {path}\n", hash(&f.body), f.body.len()));
        }
        text
    };
    out.push_str(&section("MD5Sum", &|b| hex::encode(Md5::digest(b))));
    out.push_str(&section("SHA1", &|b| hex::encode(Sha1::digest(b))));
    out.push_str(&section("SHA256", &|b| hex::encode(Sha256::digest(b))));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, arch: &str, components: &[&str]) -> IndexEntry {
        IndexEntry {
            control: vec![
                ("Package".into(), name.into()),
                ("Version".into(), "1.0".into()),
                ("Architecture".into(), arch.into()),
            ],
            architecture: arch.into(),
            filename: pool_path("main", name, &format!("{name}_1.0_{arch}.deb")),
            size: 10,
            md5: "m".into(),
            sha1: "s".into(),
            sha256: "h".into(),
            sha512: "x".into(),
            components: components.iter().map(|c| (*c).to_owned()).collect(),
        }
    }

    #[test]
    fn packages_per_component_and_architecture_with_all_in_each() -> std::io::Result<()> {
        let entries = vec![
            entry("hello", "amd64", &["main"]),
            entry("libdata", "all", &["main", "contrib"]),
            entry("tool", "arm64", &["contrib"]),
        ];
        let archs = architectures(&entries);
        assert_eq!(archs, ["amd64", "arm64"]);
        let components = vec!["contrib".to_owned(), "main".to_owned()];
        let files = packages_files(&entries, &components, &archs)?;
        assert_eq!(files.len(), 12);
        let text = |path: &str| {
            files
                .iter()
                .find(|f| f.path == path)
                .map(|f| String::from_utf8_lossy(&f.body).into_owned())
                .unwrap_or_default()
        };
        let main_amd64 = text("main/binary-amd64/Packages");
        assert!(main_amd64.contains("Package: hello\n"));
        assert!(main_amd64.contains("Filename: pool/main/libd/libdata/libdata_1.0_all.deb\n"));
        assert!(!main_amd64.contains("tool"));
        assert!(text("contrib/binary-arm64/Packages").contains("Package: tool"));
        assert_eq!(
            text("main/binary-arm64/Packages")
                .matches("Package:")
                .count(),
            1
        );

        let head = ReleaseHead {
            label: "acme/dev",
            distribution: "bookworm",
            date: "Thu, 01 Jan 1970 00:00:00 UTC",
            components: &components,
            architectures: &archs,
        };
        let release = release(&head, &files);
        assert!(release.contains("Acquire-By-Hash: yes\n"));
        let sha = &files[0].sha256;
        assert!(release.contains(&format!(" {sha} ")), "{release}");
        Ok(())
    }
}
