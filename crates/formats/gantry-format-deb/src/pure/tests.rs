use std::collections::BTreeMap;
use std::io::{Cursor, Write};

use gantry_formats::archive::testing::{append, gzip, header_block, tar_gz_with};
use gantry_formats::{Artifact, Declared, Format, FormatError};

use super::Deb;

const CONTROL: &str = "Package: hello\nVersion: 1:2.10-3\nArchitecture: amd64\nMaintainer: A <a@example.org>\nDescription: greets\n multi-line text\n .\n more\n";

/// An ar archive of the given members, as `dpkg-deb` writes it.
pub(crate) fn ar(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = b"!<arch>\n".to_vec();
    for (name, body) in members {
        let header = format!(
            "{:<16}{:<12}{:<6}{:<6}{:<8}{:<10}`\n",
            name,
            0,
            0,
            0,
            "100644",
            body.len()
        );
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(body);
        if body.len() % 2 == 1 {
            out.push(b'\n');
        }
    }
    out
}

pub(crate) fn deb_with_control_tar(name: &str, control_tar: &[u8]) -> Vec<u8> {
    ar(&[
        ("debian-binary", b"2.0\n"),
        (name, control_tar),
        ("data.tar.gz", &tar_gz_with(|_| {})),
    ])
}

fn deb(control: &str) -> Vec<u8> {
    let tar = tar_gz_with(|b| append(b, "./control", control.as_bytes()));
    deb_with_control_tar("control.tar.gz", &tar)
}

fn declared(attributes: &[(&str, &str)]) -> Declared {
    Declared {
        filename: "x.deb".into(),
        attributes: attributes
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<BTreeMap<_, _>>(),
        ..Default::default()
    }
}

fn parse(bytes: Vec<u8>, d: &Declared) -> Result<gantry_formats::Processed, FormatError> {
    let mut content = Cursor::new(bytes);
    Deb.parse(
        d,
        Artifact {
            content: &mut content,
            size: 0,
            md5: "",
            sha1: "",
            sha256: "",
            sha512: "",
        },
    )
}

fn refused(bytes: Vec<u8>, needle: &str) {
    match parse(bytes, &declared(&[])) {
        Err(FormatError::Invalid(message)) => {
            assert!(message.contains(needle), "{message} lacks {needle}")
        }
        other => panic!("expected a refusal mentioning {needle}, got {other:?}"),
    }
}

#[test]
fn reads_identity_control_and_listings() -> Result<(), FormatError> {
    let d = declared(&[("distribution", "bookworm,trixie"), ("component", "main")]);
    let p = parse(deb(CONTROL), &d)?;
    assert_eq!(p.identity.name, "hello");
    assert_eq!(p.identity.version, "1:2.10-3");
    assert_eq!(p.identity.qualifier, "amd64");
    assert_eq!(p.filename, "hello_2.10-3_amd64.deb");
    assert_eq!(p.metadata["listings"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        p.metadata["control"][4][1],
        "greets\n multi-line text\n .\n more"
    );
    let p = parse(deb(CONTROL), &declared(&[]))?;
    assert_eq!(p.metadata["listings"][0]["distribution"], "stable");
    Ok(())
}

#[test]
fn reads_xz_zstd_and_plain_control_archives() -> Result<(), Box<dyn std::error::Error>> {
    let mut builder = tar::Builder::new(Vec::new());
    append(&mut builder, "control", CONTROL.as_bytes());
    let tar = builder.into_inner()?;
    let mut xz = liblzma::write::XzEncoder::new(Vec::new(), 1);
    xz.write_all(&tar)?;
    let xz = xz.finish()?;
    let zst = zstd::stream::encode_all(Cursor::new(&tar), 1)?;
    for (name, body) in [
        ("control.tar.xz", xz),
        ("control.tar.zst", zst),
        ("control.tar", tar.clone()),
    ] {
        let p = parse(deb_with_control_tar(name, &body), &declared(&[]))?;
        assert_eq!(p.identity.name, "hello", "{name}");
    }
    Ok(())
}

#[test]
fn hostile_debs_are_refused() {
    refused(b"not an archive at all".to_vec(), "not a .deb");
    refused(ar(&[("control.tar.gz", b"x")]), "debian-binary");
    refused(
        deb_with_control_tar(
            "control.tar.gz",
            &tar_gz_with(|b| append(b, "../control", CONTROL.as_bytes())),
        ),
        "",
    );
    let mut link = header_block(b"control", b'2', 0);
    link.extend(std::iter::repeat_n(0u8, 1024));
    refused(deb_with_control_tar("control.tar.gz", &gzip(&link)), "link");
    // A control file past the bound, and a bomb: 64 MiB of zeros in a few KiB of gzip.
    let big = format!("{CONTROL}X-Pad: {}\n", "a".repeat(70 * 1024));
    refused(deb(&big), "larger than");
    let bomb = tar_gz_with(|b| append(b, "./filler", &vec![0u8; 64 * 1024 * 1024]));
    refused(
        deb_with_control_tar("control.tar.gz", &bomb),
        "decompresses to more than",
    );
    refused(deb_with_control_tar("control.tar.bz2", b"x"), "compressed");
    refused(ar(&[("debian-binary", b"2.0\n")]), "no control.tar");
}

#[test]
fn bad_control_files_are_refused() {
    refused(deb("Version: 1.0\nArchitecture: amd64\n"), "package name");
    refused(
        deb("Package: Hello\nVersion: 1.0\nArchitecture: amd64\n"),
        "package name",
    );
    refused(
        deb("Package: hello\nVersion: one\nArchitecture: amd64\n"),
        "Debian version",
    );
    refused(
        deb("Package: hello\nVersion: 1.0\nArchitecture: AMD 64\n"),
        "architecture",
    );
    refused(deb("Package: hello\nPackage: again\n"), "repeats");
    refused(deb(" continued\n"), "continuation");
    refused(deb("Package hello\n"), "no ':'");
}

#[test]
fn listings_are_checked_before_the_bytes() {
    for bad in ["../x", "a/b", "..", "x y"] {
        let d = declared(&[("distribution", bad)]);
        assert!(Deb.declared_identity(&d).is_err(), "{bad}");
    }
    let many = (0..9)
        .map(|i| format!("d{i}"))
        .collect::<Vec<_>>()
        .join(",");
    assert!(Deb
        .declared_identity(&declared(&[("component", &many)]))
        .is_err());
}
