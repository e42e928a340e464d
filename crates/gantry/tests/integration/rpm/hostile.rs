//! Hostile and broken `.rpm` uploads: each refused with a 4xx and Gantry's message, nothing
//! stored, and the repodata unchanged.

use reqwest::{Method, StatusCode};

use crate::common::{TestResult, TestServer, ADMIN};

fn header(entries: &[(u32, u32, u32, &[u8])], declared_store: Option<u32>) -> Vec<u8> {
    let mut index = Vec::new();
    let mut store = Vec::new();
    for (tag, kind, count, data) in entries {
        for word in [*tag, *kind, store.len() as u32, *count] {
            index.extend_from_slice(&word.to_be_bytes());
        }
        store.extend_from_slice(data);
    }
    let mut out = vec![0x8e, 0xad, 0xe8, 1, 0, 0, 0, 0];
    out.extend_from_slice(&(entries.len() as u32).to_be_bytes());
    out.extend_from_slice(&declared_store.unwrap_or(store.len() as u32).to_be_bytes());
    out.extend(index);
    out.extend(store);
    out
}

fn rpm(main: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; 96];
    out[..4].copy_from_slice(&[0xed, 0xab, 0xee, 0xdb]);
    out.extend(header(&[], None));
    out.extend_from_slice(main);
    out
}

/// The smallest package Gantry accepts: a lead and headers naming `name` 1.0-1 noarch, no
/// payload (the access matrix lists it without rpmbuild).
pub(crate) fn minimal_rpm(name: &str) -> Vec<u8> {
    let name = format!("{name}\0");
    rpm(&header(
        &[
            (1000, 6, 1, name.as_bytes()),
            (1001, 6, 1, b"1.0\0"),
            (1002, 6, 1, b"1\0"),
            (1022, 6, 1, b"noarch\0"),
            (1044, 6, 1, b"x-1.0-1.src.rpm\0"),
        ],
        None,
    ))
}

async fn upload(s: &TestServer, filename: &str, body: Vec<u8>) -> TestResult<(StatusCode, String)> {
    let resp = s
        .req(
            Method::POST,
            "/api/v1/packages/acme/dev/upload/rpm",
            Some(ADMIN),
        )
        .query(&[("filename", filename)])
        .body(body)
        .send()
        .await?;
    Ok((resp.status(), resp.text().await?))
}

#[tokio::test]
async fn hostile_rpms_are_refused_and_nothing_is_stored() -> TestResult<()> {
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", false).await?;
    let name = |n: &str| format!("{n}\0");
    let traversal = name("../../etc/passwd");
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("not an rpm", b"PK\x03\x04 this is a zip".to_vec()),
        ("empty", Vec::new()),
        ("lead only", rpm(&[])[..100].to_vec()),
        // A header claiming 4 GiB of data, and one claiming a billion entries.
        ("huge store", rpm(&header(&[], Some(u32::MAX)))),
        ("huge index", {
            let mut h = header(&[], None);
            h[8..12].copy_from_slice(&u32::MAX.to_be_bytes());
            rpm(&h)
        }),
        // An entry pointing past the data, and a string array with more items than bytes.
        (
            "offset outside",
            rpm(&header(&[(1000, 4, 1_000, b"abcd")], None)),
        ),
        (
            "count past data",
            rpm(&header(&[(1047, 8, 900_000, b"a\0")], None)),
        ),
        // A name that would be a path.
        (
            "traversal",
            rpm(&header(
                &[
                    (1000, 6, 1, traversal.as_bytes()),
                    (1001, 6, 1, b"1\0"),
                    (1002, 6, 1, b"1\0"),
                    (1022, 6, 1, b"noarch\0"),
                ],
                None,
            )),
        ),
        // No name at all.
        (
            "nameless",
            rpm(&header(&[(1001, 6, 1, b"1\0"), (1002, 6, 1, b"1\0")], None)),
        ),
        // Relative file paths.
        (
            "relative file",
            rpm(&header(
                &[
                    (1000, 6, 1, b"x\0"),
                    (1001, 6, 1, b"1\0"),
                    (1002, 6, 1, b"1\0"),
                    (1022, 6, 1, b"noarch\0"),
                    (1027, 8, 1, b"../x\0"),
                ],
                None,
            )),
        ),
    ];
    for (what, body) in cases {
        let (status, text) = upload(&s, "x-1-1.noarch.rpm", body).await?;
        assert!(status.is_client_error(), "{what}: {status} {text}");
        assert!(text.contains("\"error\""), "{what}: {text}");
    }
    let (status, listing) = s
        .admin(Method::GET, "/api/v1/packages/acme/dev", None)
        .await?;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listing.as_array().map(Vec::len), Some(0), "{listing}");
    let resp = s
        .req(Method::GET, "/acme/dev/rpm/repodata/repomd.xml", None)
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.text().await?.contains("<repomd"));
    Ok(())
}
