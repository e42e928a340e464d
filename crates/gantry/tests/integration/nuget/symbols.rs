//! Symbol packages, yanks and relisting over the routes nuget.exe uses (database-facing, no
//! nuget.exe: runs on both backends): a `.snupkg` is stored beside its package and served
//! from the flat container; one that does not declare itself a symbol package is refused,
//! nothing stored; a yank's reason shows as a deprecation, and a relist lists again.

use reqwest::{Method, StatusCode};
use std::io::Write;

use crate::common::{TestResult, TestServer, ADMIN};

fn package(id: &str, version: &str, symbols: bool) -> TestResult<Vec<u8>> {
    let types = if symbols {
        "<packageTypes><packageType name=\"SymbolsPackage\" /></packageTypes>"
    } else {
        ""
    };
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    zip.start_file(
        format!("{id}.nuspec"),
        zip::write::SimpleFileOptions::default(),
    )?;
    zip.write_all(
        format!(
            "<package><metadata><id>{id}</id><version>{version}</version><authors>t</authors>\
             <description>d</description>{types}</metadata></package>"
        )
        .as_bytes(),
    )?;
    Ok(zip.finish()?.into_inner())
}

async fn push(s: &TestServer, route: &str, bytes: Vec<u8>) -> TestResult<(StatusCode, String)> {
    let form = reqwest::multipart::Form::new().part(
        "package",
        reqwest::multipart::Part::bytes(bytes).file_name("package.nupkg"),
    );
    let resp = s
        .req(Method::PUT, &format!("/acme/dev/nuget/v3/{route}/"), None)
        .header("X-NuGet-ApiKey", ADMIN)
        .multipart(form)
        .send()
        .await?;
    let status = resp.status();
    Ok((status, resp.text().await?))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn symbol_packages_are_stored_beside_their_packages() -> TestResult {
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", true).await?;
    let (st, body) = push(&s, "package", package("Sym.Lib", "1.0", false)?).await?;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    let symbols = package("Sym.Lib", "1.0", true)?;
    let (st, body) = push(&s, "symbolpackage", symbols.clone()).await?;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    let resp = s
        .req(
            Method::GET,
            "/acme/dev/nuget/v3/flat/sym.lib/1.0.0/sym.lib.1.0.0.snupkg",
            Some(ADMIN),
        )
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.bytes().await?.as_ref(), symbols.as_slice());
    // Symbol packages are not versions of the feed.
    let (_, flat) = s
        .admin(
            Method::GET,
            "/acme/dev/nuget/v3/flat/sym.lib/index.json",
            None,
        )
        .await?;
    assert_eq!(flat["versions"], serde_json::json!(["1.0.0"]));

    // The wrong kind on either route is refused, and nothing is stored.
    let (st, body) = push(&s, "symbolpackage", package("Sym.Lib", "2.0", false)?).await?;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("SymbolsPackage"), "{body}");
    let (st, body) = push(&s, "package", package("Sym.Lib", "2.0", true)?).await?;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{body}");
    let (_, list) = s
        .admin(Method::GET, "/api/v1/packages/acme/dev", None)
        .await?;
    assert_eq!(list.as_array().map(Vec::len), Some(2), "{list}");
    Ok(())
}

/// A yank with a reason is an unlisting shown as a deprecation; a relist (`POST`) lists the
/// version again, and the registration follows each change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn yanks_show_as_unlisting_and_deprecation_in_the_registration() -> TestResult {
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", true).await?;
    let (st, body) = push(&s, "package", package("Dep.Lib", "1.0", false)?).await?;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    let (_, list) = s
        .admin(Method::GET, "/api/v1/packages/acme/dev", None)
        .await?;
    let slug = list[0]["slug_perm"].as_str().ok_or("slug")?.to_owned();
    let leaf = "/acme/dev/nuget/v3/registration/dep.lib/1.0.0.json";
    let (_, before) = s.admin(Method::GET, leaf, None).await?;
    assert_eq!(before["listed"], true, "{before}");
    s.cli_ok(
        Some(ADMIN),
        &[
            "yank",
            &format!("acme/dev/{slug}"),
            "--reason",
            "use Dep.Lib2",
        ],
    )?;
    let (_, after) = s.admin(Method::GET, leaf, None).await?;
    assert_eq!(after["listed"], false, "{after}");
    assert_eq!(
        after["catalogEntry"]["deprecation"]["message"], "use Dep.Lib2",
        "{after}"
    );
    let resp = s
        .req(Method::POST, "/acme/dev/nuget/v3/package/Dep.Lib/1.0", None)
        .header("X-NuGet-ApiKey", ADMIN)
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let (_, relisted) = s.admin(Method::GET, leaf, None).await?;
    assert_eq!(relisted["listed"], true, "{relisted}");
    assert!(
        relisted["catalogEntry"].get("deprecation").is_none(),
        "{relisted}"
    );
    Ok(())
}
