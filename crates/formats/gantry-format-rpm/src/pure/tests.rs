use super::header::{read, Limits};
use super::package::split_evr;
use super::*;

#[test]
fn splits_dependency_versions() {
    assert_eq!(
        split_evr("1:2.0-3.el9"),
        ("1".into(), "2.0".into(), Some("3.el9".into()))
    );
    assert_eq!(split_evr("2.0"), ("0".into(), "2.0".into(), None));
    assert_eq!(split_evr("x:2.0"), ("0".into(), "x:2.0".into(), None));
}

#[test]
fn refuses_what_is_not_an_rpm() {
    for bytes in [&b""[..], b"\xed\xab\xee\xdb", &[0u8; 200]] {
        assert!(read(&mut &bytes[..], &Limits::default()).is_err());
    }
}

#[test]
fn reads_another_repositorys_primary() -> Result<(), remote::RemoteError> {
    let sum = "a".repeat(64);
    let xml = format!(
        r#"<?xml version="1.0"?>
<metadata xmlns="http://linux.duke.edu/metadata/common" xmlns:rpm="http://linux.duke.edu/metadata/rpm" packages="3">
<package type="rpm"><name>tool</name><arch>x86_64</arch><version epoch="1" ver="2.0" rel="3.el9"/>
<checksum type="sha256" pkgid="YES">{sum}</checksum><summary>A &amp; B</summary>
<location href="Packages/t/tool-2.0-3.el9.x86_64.rpm"/><size package="10" installed="20" archive="30"/>
<format><rpm:provides><rpm:entry name="tool" flags="EQ" epoch="1" ver="2.0" rel="3.el9"/></rpm:provides>
<rpm:requires><rpm:entry name="libc" pre="1"/></rpm:requires><file>/usr/bin/tool</file></format></package>
<package type="rpm"><name>escape</name><arch>noarch</arch><version epoch="0" ver="1" rel="1"/>
<checksum type="sha256">{sum}</checksum><location href="../../etc/passwd"/></package>
<package type="rpm"><name>bad/name</name><arch>noarch</arch><version epoch="0" ver="1" rel="1"/>
<checksum type="sha256">{sum}</checksum><location href="x.rpm"/></package>
</metadata>"#
    );
    let packages = remote::parse_primary(&xml)?;
    assert_eq!(
        packages.len(),
        1,
        "traversing and odd packages are left out"
    );
    let p = &packages[0];
    assert_eq!(
        (p.meta.name.as_str(), p.meta.epoch, p.meta.release.as_str()),
        ("tool", 1, "3.el9")
    );
    assert_eq!(p.meta.summary, "A & B");
    assert_eq!(p.meta.requires.len(), 1);
    assert!(p.meta.requires[0].pre);
    assert_eq!(p.meta.files[0].path, "/usr/bin/tool");
    assert_eq!(p.size, 10);
    assert!(remote::parse_primary("<!DOCTYPE x [<!ENTITY a 'b'>]><metadata/>").is_err());
    let repomd = format!(
        r#"<repomd><data type="other"><location href="repodata/o.xml.gz"/></data><data type="primary"><checksum type="sha256">{sum}</checksum><location href="repodata/p.xml.gz"/></data></repomd>"#
    );
    assert_eq!(
        remote::primary_location(&repomd)?,
        ("repodata/p.xml.gz".to_owned(), sum.clone())
    );
    assert!(remote::primary_location(&repomd.replace("repodata/p", "../p")).is_err());
    Ok(())
}
