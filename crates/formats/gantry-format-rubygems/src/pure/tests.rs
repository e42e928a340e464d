use std::io::{Cursor, Write};

use super::*;
use crate::archive::testing::{append, tar_gz_with};

pub(crate) const SPEC_YAML: &str = "--- !ruby/object:Gem::Specification
name: hello
version: !ruby/object:Gem::Version
  version: 1.2.0
platform: ruby
authors:
- Ann
date: 2024-03-04 00:00:00.000000000 Z
dependencies:
- !ruby/object:Gem::Dependency
  name: rack
  requirement: !ruby/object:Gem::Requirement
    requirements:
    - - \">=\"
      - !ruby/object:Gem::Version
        version: '2.0'
    - - \"<\"
      - !ruby/object:Gem::Version
        version: '4'
  type: :runtime
  prerelease: false
- !ruby/object:Gem::Dependency
  name: rspec
  requirement: !ruby/object:Gem::Requirement
    requirements:
    - - \"~>\"
      - !ruby/object:Gem::Version
        version: '3.0'
  type: :development
email: ann@example.org
licenses:
- MIT
metadata:
  source_code_uri: https://git.example.org/hello
required_ruby_version: !ruby/object:Gem::Requirement
  requirements:
  - - \">=\"
    - !ruby/object:Gem::Version
      version: '2.7'
required_rubygems_version: !ruby/object:Gem::Requirement
  requirements:
  - - \">=\"
    - !ruby/object:Gem::Version
      version: '0'
rubygems_version: 3.3.15
specification_version: 4
summary: Says hello
";

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let _ = e.write_all(bytes);
    e.finish().unwrap_or_default()
}

/// A `.gem` of `metadata` (YAML) and a files archive.
pub(crate) fn gem_with(metadata: &str, data: &[u8]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    append(&mut b, "metadata.gz", &gz(metadata.as_bytes()));
    append(&mut b, "data.tar.gz", data);
    b.into_inner().unwrap_or_default()
}

fn files() -> Vec<u8> {
    tar_gz_with(|b| append(b, "lib/hello.rb", b"puts 'hi'\n"))
}

fn parse(bytes: Vec<u8>) -> Result<Processed, FormatError> {
    let size = bytes.len() as u64;
    let mut cursor = Cursor::new(bytes);
    RubyGems.parse(
        &Declared::default(),
        Artifact {
            content: &mut cursor,
            size,
            md5: "",
            sha1: "",
            sha256: "",
            sha512: "",
        },
    )
}

fn message(result: Result<Processed, FormatError>) -> String {
    match result {
        Ok(p) => panic!("accepted: {:?}", p.identity),
        Err(e) => e.to_string(),
    }
}

#[test]
fn reads_a_gem_and_its_spec_without_instantiating_tags() {
    let p = parse(gem_with(SPEC_YAML, &files())).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (
            p.identity.name.as_str(),
            p.identity.version.as_str(),
            p.identity.qualifier.as_str()
        ),
        ("hello", "1.2.0", "")
    );
    assert_eq!(p.filename, "hello-1.2.0.gem");
    let spec = stored_spec(&p.metadata).unwrap_or_else(|| panic!("no spec"));
    assert_eq!(spec.date.as_deref(), Some("2024-03-04"));
    assert_eq!(spec.email, ["ann@example.org"]);
    assert_eq!(spec.dependencies.len(), 2);
    assert_eq!(spec.dependencies[1].kind, "development");
    let entry = index::IndexEntry {
        spec,
        sha256: "ab".repeat(32),
        yanked: false,
    };
    assert_eq!(
        entry.info_line(),
        format!(
            "1.2.0 rack:>= 2.0&< 4|checksum:{},ruby:>= 2.7",
            "ab".repeat(32)
        )
    );
    let bom = RubyGems.bom_facts(&p.metadata);
    assert_eq!(bom.license.as_deref(), Some("MIT"));
    assert_eq!(bom.dependencies.len(), 1);
}

#[test]
fn platforms_are_the_qualifier() {
    let yaml = SPEC_YAML.replace("platform: ruby", "platform: x86_64-linux");
    let p = parse(gem_with(&yaml, &files())).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.identity.qualifier, "x86_64-linux");
    assert_eq!(p.filename, "hello-1.2.0-x86_64-linux.gem");
}

#[test]
fn hostile_and_malformed_gems_are_refused() {
    let evil_files = tar_gz_with(|b| append(b, "../../etc/passwd", b"x"));
    assert!(message(parse(gem_with(SPEC_YAML, &evil_files))).contains("escapes"));
    let linked = tar_gz_with(|b| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        let _ = h.set_link_name("/etc/passwd");
        let _ = h.set_path("lib/x.rb");
        h.set_cksum();
        let _ = b.append(&h, &[][..]);
    });
    assert!(message(parse(gem_with(SPEC_YAML, &linked))).contains("link"));
    // A metadata.gz that unpacks to more than the bound.
    let mut b = tar::Builder::new(Vec::new());
    append(&mut b, "metadata.gz", &gz(&vec![b' '; 5 << 20]));
    append(&mut b, "data.tar.gz", &files());
    assert!(message(parse(b.into_inner().unwrap_or_default())).contains("larger than"));
    // A billion laughs: aliases that would expand without end.
    let laughs = "a: &a [\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\nh: [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n";
    assert!(parse(gem_with(laughs, &files())).is_err());
    for (yaml, why) in [
        (
            SPEC_YAML.replace("name: hello", "name: ../x"),
            "not a valid gem name",
        ),
        (
            SPEC_YAML.replace("version: 1.2.0", "version: 1.2.0 evil"),
            "not a valid gem version",
        ),
        (
            SPEC_YAML.replace("platform: ruby", "platform: ../x"),
            "platform",
        ),
        (
            SPEC_YAML.replace("- - \"~>\"", "- - \"=~\""),
            "malformed requirement",
        ),
        ("- just\n- a list\n".to_owned(), "not a specification"),
        ("{{{".to_owned(), "not valid YAML"),
    ] {
        assert!(
            message(parse(gem_with(&yaml, &files()))).contains(why),
            "{why}"
        );
    }
    assert!(message(parse(b"not a gem".to_vec())).contains("gem"));
    let mut only = tar::Builder::new(Vec::new());
    append(&mut only, "data.tar.gz", &files());
    assert!(message(parse(only.into_inner().unwrap_or_default())).contains("no metadata.gz"));
}

#[test]
fn marshal_matches_what_ruby_writes() {
    let specs = marshal::spec_tuples([("a", "1.0", "ruby")].into_iter());
    assert_eq!(
        specs.as_deref(),
        Some(&b"\x04\x08[\x06[\x08I\"\x06a\x06:\x06ETU:\x11Gem::Version[\x06I\"\x081.0\x06;\x00TI\"\x09ruby\x06;\x00T"[..])
    );
    let mut w = marshal::Writer::new();
    w.array(5);
    for n in [300, -300, 123, -124, 256] {
        w.int(n);
    }
    assert_eq!(
        w.finish().as_deref(),
        Some(&b"\x04\x08[\x0ai\x02,\x01i\xfe\xd4\xfei\x01{i\xff\x84i\x02\x00\x01"[..])
    );
}

#[test]
fn legacy_indexes_split_releases_and_prereleases() {
    let spec = |v: &str| {
        let mut s = Spec::from_yaml(SPEC_YAML.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        s.version = v.into();
        index::IndexEntry {
            spec: s,
            sha256: String::new(),
            yanked: v == "1.3.0",
        }
    };
    let entries = vec![
        spec("1.10.0"),
        spec("1.9.0"),
        spec("2.0.0.rc1"),
        spec("1.3.0"),
    ];
    let versions = |which| -> Vec<String> {
        index::legacy_tuples(&entries, which)
            .into_iter()
            .map(|(_, v, _)| v.to_owned())
            .collect()
    };
    assert_eq!(versions(index::Legacy::Specs), ["1.9.0", "1.10.0"]);
    assert_eq!(versions(index::Legacy::Latest), ["1.10.0"]);
    assert_eq!(versions(index::Legacy::Prerelease), ["2.0.0.rc1"]);
    let refs: Vec<&index::IndexEntry> = entries.iter().collect();
    let info = index::info_document(&refs);
    assert!(
        info.starts_with("---\n1.9.0 ") && !info.contains("1.3.0"),
        "{info}"
    );
}
