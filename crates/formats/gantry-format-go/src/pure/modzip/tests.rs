use std::io::{Cursor, Write};

use super::*;

/// A zip with these entries, stored as given.
fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    let mut zip = zip::ZipWriter::new(&mut out);
    for (name, body) in entries {
        let options = zip::write::SimpleFileOptions::default();
        if name.ends_with('/') {
            zip.add_directory(*name, options).ok();
        } else {
            zip.start_file(*name, options).ok();
            zip.write_all(body).ok();
        }
    }
    zip.finish().ok();
    out.into_inner()
}

fn check(entries: &[(&str, &[u8])]) -> Result<ModuleZip, FormatError> {
    let bytes = zip_of(entries);
    let size = bytes.len() as u64;
    read(&mut Cursor::new(bytes), size)
}

fn refused(entries: &[(&str, &[u8])], why: &str) {
    match check(entries) {
        Err(FormatError::Invalid(message)) => assert!(message.contains(why), "{message}"),
        other => panic!("expected a refusal with '{why}', got {other:?}"),
    }
}

const GO_MOD: &[u8] = b"module example.com/Hello\n\ngo 1.19\n";
const HELLO: &[u8] = b"package hello\n\nfunc Greet() string { return \"hello from gantry\" }\n";

#[test]
fn checksums_agree_with_the_go_command() {
    // The go command (1.19) computed these for a module of exactly these two files.
    let module = check(&[
        ("example.com/Hello@v1.2.3/go.mod", GO_MOD),
        ("example.com/Hello@v1.2.3/hello.go", HELLO),
    ])
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(module.h1, "h1:Cw0YbnnJdPREXD/cau0blFTIAyd59swWXkDSOVThsnk=");
    assert_eq!(
        go_mod_hash(GO_MOD),
        "h1:Ujqv6D3TiGFVgA/p4BVj4WbisobGKr5FKXi6Lk0m1Zs="
    );
    assert_eq!(module.path, "example.com/Hello");
    assert_eq!(module.version.as_str(), "v1.2.3");
    assert_eq!(module.files, 2);
    assert_eq!(module.go_mod.as_deref(), Some(GO_MOD));
}

#[test]
fn entry_order_does_not_change_the_checksum() {
    let a = check(&[
        ("example.com/Hello@v1.2.3/hello.go", HELLO),
        ("example.com/Hello@v1.2.3/go.mod", GO_MOD),
    ]);
    assert_eq!(
        a.map(|m| m.h1).ok().as_deref(),
        Some("h1:Cw0YbnnJdPREXD/cau0blFTIAyd59swWXkDSOVThsnk=")
    );
}

#[test]
fn refuses_what_the_go_command_refuses() {
    let p = "example.com/m@v1.0.0/";
    let gm: &[u8] = b"module example.com/m\n";
    refused(&[("example.com/m/go.mod", gm)], "module@version/");
    refused(
        &[(&format!("{p}go.mod"), gm), ("other@v1.0.0/x.go", b"")],
        "is not under",
    );
    refused(
        &[(&format!("{p}go.mod"), gm), (&format!("{p}../x.go"), b"")],
        "escapes",
    );
    refused(
        &[(&format!("{p}go.mod"), gm), (&format!("{p}sub/go.mod"), gm)],
        "another module",
    );
    refused(
        &[
            (&format!("{p}go.mod"), gm),
            (&format!("{p}vendor/x.org/y/y.go"), b""),
        ],
        "vendored",
    );
    refused(
        &[
            (&format!("{p}go.mod"), gm),
            (&format!("{p}A.go"), b""),
            (&format!("{p}a.go"), b""),
        ],
        "equal but for case",
    );
    refused(
        &[(&format!("{p}go.mod"), gm), (&format!("{p}x/con.go"), b"")],
        "disallowed",
    );
    refused(
        &[(&format!("{p}go.mod"), gm), (&format!("{p}a*b.go"), b"")],
        "invalid char",
    );
    refused(
        &[(&format!("{p}go.mod"), b"module example.com/other\n")],
        "declares module",
    );
    refused(
        &[(&format!("{p}go.mod"), b"go 1.19\n")],
        "no module directive",
    );
    refused(&[("example.com/m@v2.0.0/x.go", b"")], "does not fit");
    refused(
        &[("example.com/m@v2.0.0+incompatible/go.mod", gm)],
        "+incompatible, but the module has a go.mod",
    );
    refused(&[("example.com/m@1.0/x.go", b"")], "invalid module version");
    refused(
        &[("Example.com/m@v1.0.0/x.go", b"")],
        "malformed module path",
    );
    refused(&[], "module zip is empty");
    assert!(
        matches!(read(&mut Cursor::new(b"not a zip".to_vec()), 9), Err(FormatError::Invalid(m)) if m.contains("not a valid zip"))
    );
}

#[test]
fn accepts_what_the_go_command_accepts() {
    let vendor_list = check(&[
        ("example.com/m@v1.0.0/go.mod", b"module example.com/m\n"),
        ("example.com/m@v1.0.0/vendor/modules.txt", b""),
        ("example.com/m@v1.0.0/dir/", b""),
        ("example.com/m@v1.0.0/dir/a b.go", b""),
    ]);
    assert!(vendor_list.is_ok(), "{vendor_list:?}");
    let incompatible = check(&[("example.com/m@v2.0.0+incompatible/m.go", b"package m\n")]);
    assert!(incompatible.is_ok_and(|m| m.go_mod.is_none()));
    let pseudo = check(&[(
        "example.com/m@v0.0.0-20240102150405-abcdef123456/m.go",
        b"package m\n",
    )]);
    assert!(pseudo.is_ok());
}

#[test]
fn refuses_oversize_and_lying_entries() {
    assert!(matches!(
        read(&mut Cursor::new(Vec::new()), MAX_ZIP + 1),
        Err(FormatError::Invalid(m)) if m.contains("larger than")
    ));
    // A go.mod over its bound is refused on its declared size, before it is read.
    let big = vec![b' '; (MAX_GO_MOD + 1) as usize];
    refused(&[("example.com/m@v1.0.0/go.mod", &big)], "go.mod is larger");
}

#[test]
fn refuses_links() {
    let mut out = Cursor::new(Vec::new());
    let mut zip = zip::ZipWriter::new(&mut out);
    zip.add_symlink(
        "example.com/m@v1.0.0/x",
        "/etc/passwd",
        zip::write::SimpleFileOptions::default(),
    )
    .ok();
    zip.finish().ok();
    let bytes = out.into_inner();
    let size = bytes.len() as u64;
    assert!(matches!(
        read(&mut Cursor::new(bytes), size),
        Err(FormatError::Invalid(m)) if m.contains("neither a file nor a directory")
    ));
}

#[test]
fn vendored_packages_are_told_apart_as_the_go_command_does() {
    assert!(is_vendored_package("vendor/x.org/y/y.go"));
    assert!(!is_vendored_package("vendor/modules.txt"));
    assert!(is_vendored_package("a/vendor/x/y.go"));
    assert!(!is_vendored_package("vendored/x/y.go"));
}
