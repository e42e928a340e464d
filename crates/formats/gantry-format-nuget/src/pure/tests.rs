use std::io::{Cursor, Write};

use super::*;
use crate::format::Artifact;

pub(crate) fn nuspec(id: &str, version: &str, extra: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<package xmlns="http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd">
  <metadata>
    <id>{id}</id><version>{version}</version><authors>Ann &amp; Bob</authors>
    <description>A test package</description>
    <license type="expression">MIT</license>
    <dependencies>
      <group targetFramework="net6.0"><dependency id="Other.Lib" version="[1.0,2.0)" /></group>
      <group />
    </dependencies>
    {extra}
  </metadata>
</package>"#
    )
}

fn zip_with(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    {
        let mut w = zip::ZipWriter::new(&mut out);
        for (name, body) in entries {
            let _ = w.start_file(*name, zip::write::SimpleFileOptions::default());
            let _ = w.write_all(body);
        }
        let _ = w.finish();
    }
    out.into_inner()
}

fn process(filename: &str, bytes: Vec<u8>) -> Result<Processed, FormatError> {
    let size = bytes.len() as u64;
    let declared = Declared {
        filename: filename.into(),
        ..Declared::default()
    };
    NuGet.parse(
        &declared,
        Artifact {
            content: &mut Cursor::new(bytes),
            size,
            md5: "",
            sha1: "",
            sha256: "",
            sha512: "",
        },
    )
}

fn error_of(filename: &str, bytes: Vec<u8>) -> String {
    match process(filename, bytes) {
        Ok(p) => panic!("accepted {:?}", p.identity),
        Err(e) => e.to_string(),
    }
}

#[test]
fn reads_a_package_and_normalises_its_identity() -> Result<(), FormatError> {
    let spec = nuspec("My.Package", "01.2-Beta+sha.1", "");
    let bytes = zip_with(&[
        ("My.Package.nuspec", spec.as_bytes()),
        ("lib/net6.0/My.Package.dll", b"MZ"),
        ("[Content_Types].xml", b"<Types/>"),
    ]);
    let p = process("package.nupkg", bytes)?;
    assert_eq!(p.identity.name, "My.Package");
    assert_eq!(p.identity.normalized_name, "my.package");
    assert_eq!(p.identity.version, "1.2.0-beta");
    assert_eq!(p.identity.qualifier, "");
    assert_eq!(p.filename, "my.package.1.2.0-beta.nupkg");
    assert_eq!(p.extra_files[0].filename, "my.package.nuspec");
    assert_eq!(p.metadata["version"], "1.2.0-Beta+sha.1");
    assert_eq!(p.metadata["authors"], "Ann & Bob");
    assert_eq!(p.metadata["is_prerelease"], true);
    let groups = &p.metadata["dependency_groups"];
    assert_eq!(groups[0]["target_framework"], "net6.0");
    assert_eq!(groups[0]["dependencies"][0]["id"], "Other.Lib");
    assert_eq!(groups[0]["dependencies"][0]["range"], "[1.0,2.0)");
    let facts = NuGet.bom_facts(&p.metadata);
    assert_eq!(facts.license.as_deref(), Some("MIT"));
    assert_eq!(facts.dependencies[0].name, "Other.Lib");
    Ok(())
}

#[test]
fn symbol_packages_are_their_own_qualifier() -> Result<(), FormatError> {
    let types = r#"<packageTypes><packageType name="SymbolsPackage" /></packageTypes>"#;
    let spec = nuspec("Lib", "1.0", types);
    let p = process(
        "lib.1.0.0.snupkg",
        zip_with(&[("Lib.nuspec", spec.as_bytes())]),
    )?;
    assert_eq!(p.identity.qualifier, SYMBOLS);
    assert_eq!(p.filename, "lib.1.0.0.snupkg");
    let spec = nuspec("Lib", "1.0", "");
    let err = error_of(
        "lib.1.0.0.snupkg",
        zip_with(&[("Lib.nuspec", spec.as_bytes())]),
    );
    assert!(err.contains("SymbolsPackage"), "{err}");
    Ok(())
}

#[test]
fn refuses_hostile_and_malformed_packages() {
    let spec = nuspec("Lib", "1.0.0", "");
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"not a zip".to_vec(), "zip"),
        (zip_with(&[("lib/x.dll", b"")]), "no .nuspec"),
        (
            zip_with(&[("Lib.nuspec", spec.as_bytes()), ("../../evil", b"x")]),
            "escapes",
        ),
        (
            zip_with(&[("Lib.nuspec", spec.as_bytes()), ("b.nuspec", spec.as_bytes())]),
            "more than one",
        ),
        (
            zip_with(&[(
                "Lib.nuspec",
                br#"<!DOCTYPE p [<!ENTITY a "aaaa">]><package><metadata><id>&a;</id></metadata></package>"#,
            )]),
            "document type",
        ),
        (
            zip_with(&[(
                "Lib.nuspec",
                b"<package><metadata><id>&ext;</id><version>1.0</version></metadata></package>",
            )]),
            "predefined",
        ),
        (
            zip_with(&[("Lib.nuspec", nuspec("../evil", "1.0", "").as_bytes())]),
            "package id",
        ),
        (
            zip_with(&[("Lib.nuspec", nuspec("Lib", "1.0.0.0.1", "").as_bytes())]),
            "NuGet version",
        ),
        (
            zip_with(&[("Lib.nuspec", b"<package><metadata></metadata></package>")]),
            "required",
        ),
        (
            zip_with(&[("Lib.nuspec", b"<package><metadata><id>x</id>")]),
            "nuspec",
        ),
        (
            zip_with(&[("Lib.nuspec", " ".repeat(2 << 20).as_bytes())]),
            "larger than",
        ),
    ];
    for (bytes, want) in cases {
        let err = error_of("package.nupkg", bytes);
        assert!(err.contains(want), "{err} lacks {want}");
    }
    let mut out = Cursor::new(Vec::new());
    {
        let mut w = zip::ZipWriter::new(&mut out);
        let options = zip::write::SimpleFileOptions::default();
        let _ = w.add_symlink("lib/evil", "/etc/passwd", options);
        let _ = w.start_file("Lib.nuspec", options);
        let _ = w.write_all(spec.as_bytes());
        let _ = w.finish();
    }
    let err = error_of("package.nupkg", out.into_inner());
    assert!(err.contains("neither a file"), "{err}");
}

#[test]
fn ids_are_checked() {
    for good in ["A", "My.Package", "a_b-c.D9"] {
        assert!(check_id(good).is_ok(), "{good}");
    }
    for bad in ["", ".a", "a..b", "a/b", "a b", "ä", &"a".repeat(101)] {
        assert!(check_id(bad).is_err(), "{bad}");
    }
}
