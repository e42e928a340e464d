use super::*;

fn names(found: &[Found]) -> Vec<(String, String)> {
    found
        .iter()
        .map(|f| (f.name.clone(), f.version.clone()))
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn dpkg_status_source_packages_and_removed_ones() {
    let status = b"Package: libssl3\nStatus: install ok installed\nSource: openssl\n\
Version: 3.0.11-1~deb12u2\nDescription: x\n continuation: not a field\n\n\
Package: zlib1g\nStatus: install ok installed\nSource: zlib (1:1.2.13.dfsg-1)\n\
Version: 1:1.2.13.dfsg-1\n\n\
Package: gone\nStatus: deinstall ok config-files\nVersion: 1.0\n\n\
Package: bash\r\nStatus: install ok installed\r\nVersion: 5.2.15-2+b2\r\n\r\n\
Package: no-version\nStatus: install ok installed\n\n\
garbage without colon\n\n\n\n";
    let found = dpkg_status(status);
    assert_eq!(
        names(&found),
        pairs(&[
            ("openssl", "3.0.11-1~deb12u2"),
            ("zlib", "1:1.2.13.dfsg-1"),
            ("bash", "5.2.15-2+b2"),
        ])
    );
    assert!(found.iter().all(|f| f.source == Source::Dpkg));
    // status.d files of distroless images carry no Status field.
    let single = dpkg_status(b"Package: base-files\nVersion: 12.4+deb12u5\n");
    assert_eq!(names(&single), pairs(&[("base-files", "12.4+deb12u5")]));
}

#[test]
fn apk_database_by_origin() {
    let db =
        b"C:Q1abc=\nP:libcrypto3\nV:3.1.4-r5\no:openssl\n\nP:musl\nV:1.2.4-r2\n\nP:no-version\n\n";
    assert_eq!(
        names(&apk_installed(db)),
        pairs(&[("openssl", "3.1.4-r5"), ("musl", "1.2.4-r2")])
    );
}

#[test]
fn os_release_picks_the_ecosystem() {
    let debian = OsRelease::parse(
        b"PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\n",
    );
    assert_eq!(debian.ecosystem(Source::Dpkg).as_deref(), Some("Debian:12"));
    assert_eq!(debian.ecosystem(Source::Apk), None);
    let alpine = OsRelease::parse(b"ID=alpine\nVERSION_ID=3.18.4\n");
    assert_eq!(
        alpine.ecosystem(Source::Apk).as_deref(),
        Some("Alpine:v3.18")
    );
    let sid = OsRelease::parse(b"ID=debian\nVERSION_CODENAME=bookworm\n");
    assert_eq!(sid.ecosystem(Source::Dpkg).as_deref(), Some("Debian:12"));
    for odd in [
        &b"ID=ubuntu\nVERSION_ID=22.04\n"[..],
        b"ID=alpine\nVERSION_ID=edge\n",
        b"ID=debian\nVERSION_ID=../x\n",
        b"\xff\xfe",
        b"",
    ] {
        let r = OsRelease::parse(odd);
        assert_eq!(r.ecosystem(Source::Dpkg), None, "{r:?}");
        assert_eq!(r.ecosystem(Source::Apk), None, "{r:?}");
    }
}

#[test]
fn gemspec_names() {
    assert_eq!(
        names(&gemspec_file("rack-2.2.3.gemspec")),
        pairs(&[("rack", "2.2.3")])
    );
    assert_eq!(
        names(&gemspec_file("net-http-persistent-4.0.2.gemspec")),
        pairs(&[("net-http-persistent", "4.0.2")])
    );
    assert_eq!(
        names(&gemspec_file("nokogiri-1.15.4-x86_64-linux.gemspec")),
        pairs(&[("nokogiri", "1.15.4")])
    );
    for bad in [
        "rack.gemspec",
        "1.0.gemspec",
        "-1.0.gemspec",
        "rack-2.2.3.rb",
        "",
    ] {
        assert!(gemspec_file(bad).is_empty(), "{bad:?}");
    }
}

#[test]
fn composer_both_shapes() {
    let v1 = br#"[{"name": "guzzlehttp/psr7", "version": "1.8.1"}, {"name": 5}, {}]"#;
    let v2 =
        br#"{"packages": [{"name": "symfony/http-kernel", "version": "v5.4.1"}], "dev": true}"#;
    assert_eq!(
        names(&composer_installed(v1)),
        pairs(&[("guzzlehttp/psr7", "1.8.1")])
    );
    assert_eq!(
        names(&composer_installed(v2)),
        pairs(&[("symfony/http-kernel", "v5.4.1")])
    );
    for bad in [
        &b"{}"[..],
        b"null",
        b"[1,2]",
        b"{\"packages\": {}}",
        b"\x00",
    ] {
        assert!(composer_installed(bad).is_empty());
    }
}

fn jar(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    let mut w = zip::ZipWriter::new(&mut out);
    for (name, body) in files {
        let options = zip::write::SimpleFileOptions::default();
        w.start_file(*name, options)
            .unwrap_or_else(|e| panic!("{e}"));
        std::io::Write::write_all(&mut w, body).unwrap_or_else(|e| panic!("{e}"));
    }
    w.finish().unwrap_or_else(|e| panic!("{e}"));
    out.into_inner()
}

#[test]
fn jar_pom_properties() {
    let bytes = jar(&[
        ("META-INF/MANIFEST.MF", b"Manifest-Version: 1.0\n"),
        (
            "META-INF/maven/com.example/lib/pom.properties",
            b"#Generated\nversion=2.14.0\ngroupId=com.example\nartifactId=lib\n",
        ),
        (
            "META-INF/maven/org.shaded/inner/pom.properties",
            b"groupId = org.shaded\nartifactId: inner\nversion=1.0\n",
        ),
        (
            "META-INF/maven/x/y/pom.properties",
            b"groupId=\nartifactId=y\nversion=1\n",
        ),
        (
            "META-INF/maven/deeper/a/b/pom.properties",
            b"groupId=a\nartifactId=b\nversion=1\n",
        ),
    ]);
    let found = jar_artifacts(&bytes);
    assert_eq!(
        names(&found),
        pairs(&[("com.example:lib", "2.14.0"), ("org.shaded:inner", "1.0")])
    );
    assert_eq!(
        found[0].detail.as_deref(),
        Some("META-INF/maven/com.example/lib/pom.properties")
    );
}

#[test]
fn hostile_inputs_answer_nothing() {
    // Not a zip, a truncated zip, a zip bomb-ish properties file beyond the bound.
    assert!(jar_artifacts(b"PK\x03\x04garbage").is_empty());
    let good = jar(&[(
        "META-INF/maven/g/a/pom.properties",
        b"groupId=g\nartifactId=a\nversion=1\n",
    )]);
    assert!(jar_artifacts(&good[..good.len() / 2]).is_empty());
    let huge = vec![b'#'; (MAX_POM_PROPERTIES + 10) as usize];
    assert!(jar_artifacts(&jar(&[("META-INF/maven/g/a/pom.properties", &huge)])).is_empty());
    // Fields with control characters or of absurd length are dropped.
    let long = format!("Package: {}\nVersion: 1\n", "a".repeat(MAX_FIELD + 1));
    assert!(dpkg_status(long.as_bytes()).is_empty());
    assert!(apk_installed(b"P:a\x1b[31m\nV:1\n").is_empty());
    // Random bytes never panic.
    let noise: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    for parse in [
        dpkg_status,
        apk_installed,
        composer_installed,
        jar_artifacts,
        npm_package,
        python_metadata,
    ] {
        let _ = parse(&noise);
    }
    let _ = OsRelease::parse(&noise);
}
