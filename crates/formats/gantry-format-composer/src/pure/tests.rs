use std::io::{Cursor, Write};

use super::*;

fn zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    let mut zip = zip::ZipWriter::new(&mut out);
    for (name, body) in files {
        let options = zip::write::SimpleFileOptions::default();
        if let Some(target) = name.strip_prefix("@link:") {
            zip.add_symlink(target, "/etc/passwd", options)
                .unwrap_or_else(|e| panic!("{e}"));
            continue;
        }
        zip.start_file(*name, options)
            .unwrap_or_else(|e| panic!("{e}"));
        zip.write_all(body).unwrap_or_else(|e| panic!("{e}"));
    }
    zip.finish().unwrap_or_else(|e| panic!("{e}"));
    out.into_inner()
}

fn process(zip: &[u8], version: Option<&str>) -> Result<Processed, FormatError> {
    let mut content = Cursor::new(zip.to_vec());
    let declared = Declared {
        version: version.map(str::to_owned),
        filename: "x.zip".into(),
        ..Declared::default()
    };
    Composer.parse(
        &declared,
        Artifact {
            content: &mut content,
            size: zip.len() as u64,
            md5: "",
            sha1: "0123456789abcdef0123456789abcdef01234567",
            sha256: "",
            sha512: "",
        },
    )
}

const MANIFEST: &[u8] =
    br#"{"name":"acme/hello","require":{"php":">=7.4","acme/util":"^1.0"},"license":"MIT"}"#;

#[test]
fn reads_composer_json_at_the_root_or_in_one_directory() {
    let p = process(
        &zip_of(&[("composer.json", MANIFEST), ("src/Hello.php", b"<?php\n")]),
        Some("v1.2"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.identity.name, "acme/hello");
    assert_eq!(p.identity.version, "v1.2");
    assert_eq!(p.metadata["version_normalized"], "1.2.0.0");
    assert_eq!(p.metadata["dev"], false);
    assert_eq!(
        p.metadata["shasum"],
        "0123456789abcdef0123456789abcdef01234567"
    );
    assert_eq!(p.filename, "acme-hello-v1.2.zip");
    let facts = Composer.bom_facts(&p.metadata);
    assert_eq!(facts.license.as_deref(), Some("MIT"));
    assert_eq!(facts.dependencies.len(), 1, "php is a platform requirement");

    let nested = br#"{"name":"acme/hello","version":"dev-main"}"#;
    let p = process(
        &zip_of(&[
            ("hello-abc123/composer.json", nested),
            ("hello-abc123/a.php", b""),
        ]),
        None,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.metadata["version_normalized"], "dev-main");
    assert_eq!(p.metadata["dev"], true);
}

#[test]
fn hostile_or_bad_zips_are_refused() {
    let cases: Vec<(Vec<u8>, Option<&str>, &str)> = vec![
        (b"not a zip".to_vec(), Some("1.0.0"), "not a valid zip"),
        (
            zip_of(&[("composer.json", MANIFEST), ("../../etc/x", b"")]),
            Some("1.0.0"),
            "escapes",
        ),
        (
            zip_of(&[("composer.json", MANIFEST), ("/abs", b"")]),
            Some("1.0.0"),
            "escapes",
        ),
        (
            zip_of(&[("composer.json", MANIFEST), ("@link:evil", b"")]),
            Some("1.0.0"),
            "neither a file",
        ),
        (
            zip_of(&[("src/a.php", b"")]),
            Some("1.0.0"),
            "no composer.json",
        ),
        (zip_of(&[("composer.json", MANIFEST)]), None, "--version"),
        (
            zip_of(&[(
                "composer.json",
                br#"{"name":"acme/hello","version":"2.0.0"}"#,
            )]),
            Some("1.0.0"),
            "says version",
        ),
        (
            zip_of(&[("composer.json", MANIFEST)]),
            Some("banana"),
            "not a Composer version",
        ),
        (
            zip_of(&[("composer.json", b"{nope")]),
            Some("1.0.0"),
            "not valid JSON",
        ),
        (
            zip_of(&[("composer.json", br#"{"name":"nope"}"#)]),
            Some("1.0.0"),
            "vendor",
        ),
        (
            zip_of(&[("composer.json", &vec![b' '; 2 << 20])]),
            Some("1.0.0"),
            "larger than",
        ),
    ];
    for (zip, version, why) in cases {
        let err = process(&zip, version)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains(why), "{why}: {err}");
    }
}

#[test]
fn a_zip_lying_about_its_sizes_is_refused() {
    // A stored entry whose local header and central directory claim 4 bytes, holding 64.
    let mut zip = zip_of(&[("composer.json", MANIFEST), ("big.bin", &[7u8; 64])]);
    let name = b"big.bin";
    let mut patched = 0;
    let mut i = 0;
    while i + 4 <= zip.len() {
        let sig = &zip[i..i + 4];
        let (size_at, name_at) = match sig {
            b"PK\x03\x04" => (i + 22, i + 30),
            b"PK\x01\x02" => (i + 24, i + 46),
            _ => {
                i += 1;
                continue;
            }
        };
        if zip.get(name_at..name_at + name.len()) == Some(&name[..]) {
            zip[size_at..size_at + 4].copy_from_slice(&4u32.to_le_bytes());
            patched += 1;
        }
        i += 4;
    }
    assert_eq!(patched, 2);
    assert!(process(&zip, Some("1.0.0")).is_err());
}

#[test]
fn packs_a_directory_with_its_composer_json() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let d = dir.path();
    std::fs::write(d.join("composer.json"), MANIFEST).unwrap_or_else(|e| panic!("{e}"));
    for sub in ["src", ".git", "vendor/x"] {
        std::fs::create_dir_all(d.join(sub)).unwrap_or_else(|e| panic!("{e}"));
    }
    std::fs::write(d.join("src/Hello.php"), "<?php\n").unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(d.join(".git/HEAD"), "x").unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(d.join("vendor/x/y.php"), "x").unwrap_or_else(|e| panic!("{e}"));
    let out_dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let out_path = out_dir.path().join("out.zip");
    let mut out = std::fs::File::create(&out_path).unwrap_or_else(|e| panic!("{e}"));
    let declared = Declared {
        version: Some("1.0.0".into()),
        ..Declared::default()
    };
    let packed = Composer
        .pack_directory(&d.join("."), &declared, &mut out)
        .unwrap_or_else(|| panic!("packs"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(packed.name.as_deref(), Some("acme/hello"));
    assert_eq!(packed.filename, "acme-hello-1.0.0.zip");
    let bytes = std::fs::read(&out_path).unwrap_or_else(|e| panic!("{e}"));
    let archive = zip::ZipArchive::new(Cursor::new(bytes)).unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = archive.file_names().collect();
    assert!(
        names.contains(&"composer.json") && names.contains(&"src/Hello.php"),
        "{names:?}"
    );
    assert!(
        !names
            .iter()
            .any(|n| n.starts_with(".git") || n.starts_with("vendor")),
        "{names:?}"
    );
}
