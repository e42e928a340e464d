use std::io::{Cursor, Seek, SeekFrom};

use super::*;

fn process(bytes: Vec<u8>, declared: &Declared) -> Result<Processed, FormatError> {
    let size = bytes.len() as u64;
    Go.process(
        declared,
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

/// A module directory packed as `version`.
fn packed(
    dir: &std::path::Path,
    name: Option<&str>,
    version: &str,
) -> Result<Vec<u8>, FormatError> {
    let mut out = tempfile::tempfile()?;
    let declared = Declared {
        name: name.map(str::to_owned),
        version: Some(version.to_owned()),
        ..Declared::default()
    };
    let packed = Go
        .pack_directory(dir, &declared, &mut out)
        .ok_or_else(|| FormatError::Invalid("no packing".into()))??;
    assert_eq!(packed.filename, zip_name(version));
    out.seek(SeekFrom::Start(0))?;
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut out, &mut bytes)?;
    Ok(bytes)
}

fn module_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let write = |rel: &str, body: &str| {
        let path = dir.path().join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).ok();
        }
        std::fs::write(path, body).ok();
    };
    write("go.mod", "module example.com/Hello\n\ngo 1.19\n");
    write(
        "hello.go",
        "package hello\n\nfunc Greet() string { return \"hello from gantry\" }\n",
    );
    write(".git/config", "[core]\n");
    write("nested/go.mod", "module example.com/Hello/nested\n");
    write("nested/n.go", "package nested\n");
    write("vendor/example.org/v/v.go", "package v\n");
    dir
}

#[test]
fn a_packed_directory_is_the_module_the_go_command_would_zip() {
    let dir = module_dir();
    let bytes = packed(dir.path(), None, "v1.2.3").unwrap_or_else(|e| panic!("{e}"));
    let processed = process(bytes, &Declared::default()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(processed.identity.name, "example.com/Hello");
    assert_eq!(processed.identity.version, "v1.2.3");
    // VCS data, the nested module and the vendored package are left out: the checksum is
    // the one the go command computed for go.mod and hello.go alone.
    assert_eq!(
        processed.metadata["h1"],
        "h1:Cw0YbnnJdPREXD/cau0blFTIAyd59swWXkDSOVThsnk="
    );
    assert_eq!(processed.metadata["files"], 2);
    assert_eq!(
        processed.metadata["checksum_lines"][1],
        "example.com/Hello v1.2.3/go.mod h1:Ujqv6D3TiGFVgA/p4BVj4WbisobGKr5FKXi6Lk0m1Zs="
    );
    assert_eq!(processed.extra_files[0].filename, "v1.2.3.mod");
    assert_eq!(processed.filename, "v1.2.3.zip");
}

#[test]
fn packing_refuses_what_cannot_be_published() {
    let dir = module_dir();
    assert!(packed(dir.path(), Some("example.com/other"), "v1.0.0").is_err());
    assert!(packed(dir.path(), None, "1.0.0").is_err());
    assert!(packed(dir.path(), None, "v2.0.0").is_err());
    assert!(packed(dir.path(), None, "v2.0.0+incompatible").is_err());
    std::fs::write(dir.path().join("bad*name.go"), "package hello\n").ok();
    assert!(packed(dir.path(), None, "v1.0.0").is_err());
    let bare = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(bare.path().join("m.go"), "package m\n").ok();
    assert!(packed(bare.path(), None, "v1.0.0").is_err());
    let bytes = packed(bare.path(), Some("example.com/m"), "v2.0.0+incompatible")
        .unwrap_or_else(|e| panic!("{e}"));
    let processed = process(bytes, &Declared::default()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(processed.extra_files[0].content, b"module example.com/m\n");
    assert_eq!(processed.metadata["has_go_mod"], false);
}

#[test]
fn what_was_declared_must_agree_with_the_zip() {
    let dir = module_dir();
    let bytes = packed(dir.path(), None, "v1.2.3").unwrap_or_else(|e| panic!("{e}"));
    let declared = |name: &str, version: &str| Declared {
        name: Some(name.into()),
        version: Some(version.into()),
        ..Declared::default()
    };
    assert!(process(bytes.clone(), &declared("example.com/Hello", "v1.2.3")).is_ok());
    assert!(process(bytes.clone(), &declared("example.com/hello", "v1.2.3")).is_err());
    assert!(process(bytes, &declared("example.com/Hello", "v1.2.4")).is_err());
    assert!(Go
        .declared_identity(&declared("not a path", "v1.0.0"))
        .is_err());
    assert!(Go
        .declared_identity(&declared("example.com/m", "v2.0.0"))
        .is_err());
    assert!(matches!(
        Go.declared_identity(&declared("example.com/m", "v1.0.0")),
        Ok(None)
    ));
}

#[test]
fn download_paths_are_case_encoded() {
    let location = FileLocation {
        namespace: "acme",
        repository: "dev",
        name: "example.com/Hello",
        version: "v1.0.0-RC1",
        slug_perm: "x",
        filename: "v1.0.0-RC1.mod",
    };
    assert_eq!(
        Go.download_path(&location),
        "/acme/dev/go/example.com/!hello/@v/v1.0.0-!r!c1.mod"
    );
}
