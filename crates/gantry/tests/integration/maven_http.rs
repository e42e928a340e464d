//! Maven over plain HTTP (on both databases): hostile deploys (XML bombs, huge POMs, path
//! traversal, checksum mismatches, deploys without a POM) answered 4xx with nothing stored,
//! a deploy sealed after its idle time, another deployer kept out of an open deploy, the
//! shared OSV Maven data matched against a log4j POM and a shaded JAR, and upstreams (a
//! second Gantry cached and then stopped, a static file server of Debian's Maven repository).

use std::io::Write;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::{TestResult, TestServer, ADMIN};

pub(crate) fn pom(group: &str, artifact: &str, version: &str) -> String {
    format!(
        "<project><modelVersion>4.0.0</modelVersion><groupId>{group}</groupId>\
         <artifactId>{artifact}</artifactId><version>{version}</version></project>"
    )
}

pub(crate) fn jar(entries: &[(&str, &str)]) -> TestResult<Vec<u8>> {
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, body) in entries {
        out.start_file(*name, zip::write::SimpleFileOptions::default())?;
        out.write_all(body.as_bytes())?;
    }
    Ok(out.finish()?.into_inner())
}

async fn put(
    s: &TestServer,
    repo: &str,
    path: &str,
    token: &str,
    body: impl Into<reqwest::Body>,
) -> TestResult<(StatusCode, String)> {
    let resp = s
        .req(Method::PUT, &format!("/{repo}/maven/{path}"), None)
        .basic_auth("ci", Some(token))
        .body(body)
        .send()
        .await?;
    Ok((resp.status(), resp.text().await?))
}

/// Deploys `files` (path, bytes) then the artifact-level metadata that ends the deploy; the
/// metadata upload's answer.
pub(crate) async fn deploy(
    s: &TestServer,
    repo: &str,
    dir: &str,
    files: &[(&str, Vec<u8>)],
) -> TestResult<(StatusCode, String)> {
    for (path, bytes) in files {
        let (st, body) = put(s, repo, &format!("{dir}/{path}"), ADMIN, bytes.clone()).await?;
        assert_eq!(st, StatusCode::CREATED, "{path}: {body}");
    }
    let artifact_dir = dir.rsplit_once('/').map_or(dir, |(a, _)| a);
    put(
        s,
        repo,
        &format!("{artifact_dir}/maven-metadata.xml"),
        ADMIN,
        "<metadata><versioning/></metadata>",
    )
    .await
}

pub(crate) async fn packages(s: &TestServer, repo: &str) -> TestResult<Vec<Value>> {
    let (_, body) = s
        .admin(Method::GET, &format!("/api/v1/packages/{repo}"), None)
        .await?;
    Ok(body.as_array().cloned().unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_maven_deploys_get_4xx_and_store_nothing() -> TestResult {
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", true).await?;
    let bomb = "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;&lol;&lol;\">]>\
                <project><groupId>org.example</groupId><artifactId>bomb</artifactId><version>1.0</version><name>&lol2;</name></project>";
    let (st, body) = deploy(
        &s,
        "acme/dev",
        "org/example/bomb/1.0",
        &[("bomb-1.0.pom", bomb.into())],
    )
    .await?;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body.contains("document type declarations are not accepted"),
        "{body}"
    );

    let huge = format!(
        "<project><groupId>org.example</groupId><artifactId>huge</artifactId><version>1.0</version><description>{}</description></project>",
        "x".repeat(3 * 1024 * 1024)
    );
    let (st, body) = deploy(
        &s,
        "acme/dev",
        "org/example/huge/1.0",
        &[("huge-1.0.pom", huge.into())],
    )
    .await?;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{body}");

    let (st, body) = deploy(
        &s,
        "acme/dev",
        "org/example/nopom/1.0",
        &[("nopom-1.0.jar", jar(&[])?)],
    )
    .await?;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("has no POM"), "{body}");

    // The POM names the package; a POM of something else is refused.
    let (st, body) = deploy(
        &s,
        "acme/dev",
        "org/example/liar/1.0",
        &[("liar-1.0.pom", pom("org.example", "other", "1.0").into())],
    )
    .await?;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{body}");

    for path in [
        "org/%2e%2e/x/1.0/x-1.0.jar",
        "org/example/app/1.0/..%2f..%2fetc",
        "org/example/app/1.0/other-1.0.jar",
        "org/example/app/1.0/app-1.0.jar%00",
    ] {
        let (st, body) = put(&s, "acme/dev", path, ADMIN, "x").await?;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{path}: {body}");
    }

    // A checksum that does not match discards the file.
    let (st, _) = put(
        &s,
        "acme/dev",
        "org/example/sum/1.0/sum-1.0.jar",
        ADMIN,
        jar(&[])?,
    )
    .await?;
    assert_eq!(st, StatusCode::CREATED);
    let (st, body) = put(
        &s,
        "acme/dev",
        "org/example/sum/1.0/sum-1.0.jar.sha1",
        ADMIN,
        "0000000000000000000000000000000000000000",
    )
    .await?;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (st, body) = deploy(
        &s,
        "acme/dev",
        "org/example/sum/1.0",
        &[("sum-1.0.pom", pom("org.example", "sum", "1.0").into())],
    )
    .await?;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    let pkgs = packages(&s, "acme/dev").await?;
    assert_eq!(pkgs.len(), 1, "only the checked deploy is stored: {pkgs:?}");
    assert_eq!(
        pkgs[0]["files"].as_array().map(Vec::len),
        Some(1),
        "{}",
        pkgs[0]
    );

    // A matching checksum is accepted; sidecars are served from the stored digests.
    let bytes = jar(&[])?;
    put(
        &s,
        "acme/dev",
        "org/example/ok/1.0/ok-1.0.jar",
        ADMIN,
        bytes.clone(),
    )
    .await?;
    let sum = crate::common::sha256_hex(&bytes);
    let (st, body) = put(
        &s,
        "acme/dev",
        "org/example/ok/1.0/ok-1.0.jar.sha256",
        ADMIN,
        sum.clone(),
    )
    .await?;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_maven_deploys_are_sealed_and_open_ones_are_their_deployers() -> TestResult {
    let s = TestServer::builder()
        .env("GANTRY_MAVEN_DEPLOY_IDLE_SECONDS", "2")
        .start()?;
    s.create_repo("acme", "dev", true).await?;
    let other = s.token("acme/dev", "write").await?;
    let (st, _) = put(
        &s,
        "acme/dev",
        "org/example/idle/1.0/idle-1.0.pom",
        ADMIN,
        pom("org.example", "idle", "1.0"),
    )
    .await?;
    assert_eq!(st, StatusCode::CREATED);
    // Another deployer cannot add to an open deploy.
    let (st, body) = put(
        &s,
        "acme/dev",
        "org/example/idle/1.0/idle-1.0.jar",
        &other,
        jar(&[])?,
    )
    .await?;
    assert_eq!(st, StatusCode::CONFLICT, "{body}");
    assert!(packages(&s, "acme/dev").await?.is_empty());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let pkgs = packages(&s, "acme/dev").await?;
        if let Some(p) = pkgs.first() {
            assert_eq!(p["name"], "org.example:idle");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the idle deploy was never sealed"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // Sealed: the release is immutable now.
    let (st, body) = put(
        &s,
        "acme/dev",
        "org/example/idle/1.0/idle-1.0.jar",
        ADMIN,
        jar(&[])?,
    )
    .await?;
    assert_eq!(st, StatusCode::CONFLICT, "{body}");
    Ok(())
}

pub(crate) async fn advisories(s: &TestServer, repo: &str, slug: &str) -> TestResult<Vec<String>> {
    let (_, report) = s
        .admin(
            Method::GET,
            &format!("/api/v1/packages/{repo}/{slug}/vulnerabilities"),
            None,
        )
        .await?;
    let mut ids: Vec<String> = report["vulnerabilities"]
        .as_array()
        .ok_or("no vulnerabilities array")?
        .iter()
        .filter_map(|v| v["advisory_id"].as_str().map(str::to_owned))
        .collect();
    ids.sort();
    Ok(ids)
}

/// What the shared OSV Maven data gives for log4j-core 2.14.1.
pub(crate) const LOG4J_ADVISORIES: [&str; 3] = [
    "GHSA-7rjr-3q55-vv33",
    "GHSA-jfh8-c2jp-5v3q",
    "GHSA-p6xc-xr62-6r2g",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maven_packages_and_shaded_jars_match_the_shared_osv_data() -> TestResult {
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", true).await?;
    let osv = crate::cargo::shared("osv/Maven").display().to_string();
    s.cli_ok(Some(ADMIN), &["vulndb", "import", &osv])?;
    let (st, body) = deploy(
        &s,
        "acme/dev",
        "org/apache/logging/log4j/log4j-core/2.14.1",
        &[
            (
                "log4j-core-2.14.1.pom",
                pom("org.apache.logging.log4j", "log4j-core", "2.14.1").into(),
            ),
            ("log4j-core-2.14.1.jar", jar(&[])?),
        ],
    )
    .await?;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    let shaded = jar(&[(
        "META-INF/maven/org.apache.logging.log4j/log4j-core/pom.properties",
        "groupId=org.apache.logging.log4j\nartifactId=log4j-core\nversion=2.14.1\n",
    )])?;
    let (st, body) = deploy(
        &s,
        "acme/dev",
        "org/example/fat/1.0",
        &[
            ("fat-1.0.pom", pom("org.example", "fat", "1.0").into()),
            ("fat-1.0.jar", shaded),
        ],
    )
    .await?;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    let want = LOG4J_ADVISORIES.to_vec();
    for p in packages(&s, "acme/dev").await? {
        let slug = p["slug_perm"].as_str().unwrap_or_default();
        let scanned = crate::scanning::wait_scanned(&s, "acme/dev", slug).await?;
        assert_eq!(
            scanned["security_scan_status"], "vulnerabilities_found",
            "{scanned}"
        );
        assert_eq!(
            advisories(&s, "acme/dev", slug).await?,
            want,
            "{}",
            p["name"]
        );
    }
    Ok(())
}

async fn get(s: &TestServer, path: &str) -> TestResult<(StatusCode, Vec<u8>)> {
    let resp = s
        .req(Method::GET, path, None)
        .basic_auth("ci", Some(ADMIN))
        .send()
        .await?;
    Ok((resp.status(), resp.bytes().await?.to_vec()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maven_upstreams_cache_and_survive_an_outage() -> TestResult {
    let mut upstream = TestServer::start()?;
    upstream.create_repo("up", "central", false).await?;
    let lib = jar(&[("a.txt", "upstream")])?;
    let (st, body) = deploy(
        &upstream,
        "up/central",
        "org/example/lib/1.0",
        &[
            ("lib-1.0.pom", pom("org.example", "lib", "1.0").into()),
            ("lib-1.0.jar", lib.clone()),
            ("lib-1.0-sources.jar", jar(&[("A.java", "class A {}")])?),
        ],
    )
    .await?;
    assert_eq!(st, StatusCode::CREATED, "{body}");

    // Debian's Maven repository served as static files by nginx.
    let mut files = Nginx::start("/usr/share/maven-repo")?;

    let s = TestServer::start()?;
    s.create_repo("acme", "dev", true).await?;
    for (name, url, mode, priority) in [
        (
            "gantry",
            format!("{}/up/central/maven", upstream.url),
            "cache",
            1,
        ),
        ("debian", files.url.clone(), "cache", 2),
    ] {
        let (st, u) = s
            .admin(
                Method::POST,
                "/api/v1/repos/acme/dev/upstreams",
                Some(json!({
                    "format": "maven", "name": name, "url": url, "mode": mode,
                    "priority": priority, "index_ttl_seconds": 1,
                })),
            )
            .await?;
        assert_eq!(st, StatusCode::CREATED, "{u}");
    }
    let meta = "/acme/dev/maven/org/example/lib/maven-metadata.xml";
    let file = "/acme/dev/maven/org/example/lib/1.0/lib-1.0.jar";
    let (st, body) = get(&s, meta).await?;
    assert_eq!(st, StatusCode::OK);
    assert!(String::from_utf8_lossy(&body).contains("<version>1.0</version>"));
    let (st, body) = get(&s, file).await?;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(body, lib);
    // A file asked for later joins the version's package.
    let (st, _) = get(
        &s,
        "/acme/dev/maven/org/example/lib/1.0/lib-1.0-sources.jar",
    )
    .await?;
    assert_eq!(st, StatusCode::OK);

    // The static repository answers what the first upstream lacks.
    let debian_pom = "/acme/dev/maven/org/apache/maven/plugins/maven-jar-plugin/3.3.0/maven-jar-plugin-3.3.0.pom";
    let mut found = (StatusCode::NOT_FOUND, Vec::new());
    for _ in 0..40 {
        found = get(&s, debian_pom).await?;
        if found.0 == StatusCode::OK {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(found.0, StatusCode::OK);
    assert!(String::from_utf8_lossy(&found.1).contains("maven-jar-plugin"));
    // Both cached versions are packages of acme/dev, the plugin with its JAR.
    let cached = packages(&s, "acme/dev").await?;
    let names: Vec<String> = cached
        .iter()
        .map(|p| {
            format!(
                "{} {} {}",
                p["name"],
                p["source"],
                p["files"].as_array().map_or(0, Vec::len)
            )
        })
        .collect();
    assert!(
        names.contains(&"\"org.example:lib\" \"upstream\" 3".to_owned())
            && names.contains(
                &"\"org.apache.maven.plugins:maven-jar-plugin\" \"upstream\" 2".to_owned()
            ),
        "{names:?}"
    );

    // nginx stops: what was cached is still served.
    files.stop();
    let (st, body) = get(&s, debian_pom).await?;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(body, found.1);

    // The upstream goes away: the cached file and the stale metadata are still served.
    upstream.terminate()?;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (st, body) = get(&s, file).await?;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(body, lib);
    let (st, body) = get(&s, meta).await?;
    assert_eq!(st, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    // Nothing stored for what was never fetched.
    let (st, _) = get(&s, "/acme/dev/maven/org/example/lib/2.0/lib-2.0.jar").await?;
    assert_eq!(st, StatusCode::BAD_GATEWAY);
    Ok(())
}

/// nginx serving the files below a directory on a free port, with a private configuration
/// (as `bench/lib.sh` runs it); stopped when dropped.
struct Nginx {
    child: Option<std::process::Child>,
    url: String,
    _dir: tempfile::TempDir,
}

impl Nginx {
    fn start(root: &str) -> TestResult<Self> {
        let dir = tempfile::tempdir()?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let d = dir.path().display();
        let conf = format!(
            "daemon off;\nmaster_process off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
             events {{ worker_connections 64; }}\n\
             http {{ access_log off; sendfile on; default_type application/octet-stream;\n\
             client_body_temp_path {d}/body; proxy_temp_path {d}/proxy; fastcgi_temp_path {d}/fastcgi;\n\
             uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;\n\
             server {{ listen 127.0.0.1:{port}; root {root}; }} }}\n"
        );
        let conf_path = dir.path().join("nginx.conf");
        std::fs::write(&conf_path, conf)?;
        let nginx = ["/usr/sbin/nginx", "nginx"]
            .into_iter()
            .find(|n| std::path::Path::new(n).exists())
            .unwrap_or("nginx");
        let child = std::process::Command::new(nginx)
            .arg("-e")
            .arg(dir.path().join("error.log"))
            .arg("-c")
            .arg(&conf_path)
            .arg("-p")
            .arg(dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()?;
        let url = format!("http://127.0.0.1:{port}");
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(Self {
                    child: Some(child),
                    url,
                    _dir: dir,
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err("nginx did not start".into())
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `gantry push maven acme/dev JAR --pom POM`.
fn push_maven(
    s: &TestServer,
    jar: &std::path::Path,
    pom: &std::path::Path,
) -> TestResult<std::process::Output> {
    let (jar, pom) = (jar.display().to_string(), pom.display().to_string());
    s.cli(
        Some(ADMIN),
        &["push", "maven", "acme/dev", &jar, "--pom", &pom],
    )
}

fn pushed(out: std::process::Output) -> TestResult<String> {
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned().into());
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

async fn listed(s: &TestServer, query: &str) -> TestResult<usize> {
    let (_, found) = s
        .admin(
            Method::GET,
            &format!("/api/v1/packages/acme/dev?query={query}"),
            None,
        )
        .await?;
    Ok(found.as_array().map_or(0, Vec::len))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gantry_push_maven_deploys_a_jar_with_its_pom() -> TestResult {
    let s = TestServer::builder()
        .env("GANTRY_MAVEN_SNAPSHOT_KEEP", "1")
        .start()?;
    s.create_repo("acme", "dev", true).await?;
    let dir = tempfile::tempdir()?;
    let jar_path = dir.path().join("tool.jar");
    std::fs::write(&jar_path, jar(&[("a.txt", "a")])?)?;
    let pom_path = dir.path().join("pom.xml");
    for version in ["1.0", "2.0-SNAPSHOT", "2.0-SNAPSHOT"] {
        std::fs::write(&pom_path, pom("org.example", "tool", version))?;
        let slug = pushed(push_maven(&s, &jar_path, &pom_path)?)?;
        let (st, p) = s
            .admin(
                Method::GET,
                &format!("/api/v1/packages/acme/dev/{}", slug.trim()),
                None,
            )
            .await?;
        assert_eq!(st, StatusCode::OK, "{p}");
        assert_eq!(p["version"], version);
        assert_eq!(p["files"].as_array().map(Vec::len), Some(2), "{p}");
    }
    let (st, meta) = get(
        &s,
        "/acme/dev/maven/org/example/tool/2.0-SNAPSHOT/maven-metadata.xml",
    )
    .await?;
    assert_eq!(st, StatusCode::OK);
    assert!(String::from_utf8_lossy(&meta).contains("<buildNumber>2</buildNumber>"));
    // Only the newest SNAPSHOT build is kept (GANTRY_MAVEN_SNAPSHOT_KEEP=1); the older one is
    // deleted softly.
    assert_eq!(listed(&s, "version:2.0-SNAPSHOT").await?, 1);
    assert_eq!(listed(&s, "version:2.0-SNAPSHOT%20state:deleted").await?, 1);
    // A release is deployed once.
    std::fs::write(&pom_path, pom("org.example", "tool", "1.0"))?;
    let out = push_maven(&s, &jar_path, &pom_path)?;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("releases are immutable"));
    // The group of a plugin lists its prefix.
    let plugin = "<project><groupId>org.example</groupId><artifactId>hello-maven-plugin</artifactId><version>1.0</version><packaging>maven-plugin</packaging></project>";
    let (st, body) = deploy(
        &s,
        "acme/dev",
        "org/example/hello-maven-plugin/1.0",
        &[("hello-maven-plugin-1.0.pom", plugin.into())],
    )
    .await?;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    let (st, group) = get(&s, "/acme/dev/maven/org/example/maven-metadata.xml").await?;
    assert_eq!(st, StatusCode::OK);
    assert!(String::from_utf8_lossy(&group).contains("<prefix>hello</prefix>"));

    // Licence policies read the POM's licences: MIT is promoted, a POM without one is not.
    s.create_repo("acme", "prod", true).await?;
    let policy = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../docs/policies/licence-allowlist.rego");
    s.cli_ok(
        Some(ADMIN),
        &[
            "policy",
            "create",
            "acme",
            "--name",
            "licences",
            "--file",
            &policy.display().to_string(),
        ],
    )?;
    std::fs::write(&pom_path, "<project><groupId>org.example</groupId><artifactId>mit</artifactId><version>1.0</version><licenses><license><name>MIT</name></license></licenses></project>")?;
    let mit = pushed(push_maven(&s, &jar_path, &pom_path)?)?;
    s.cli_ok(
        Some(ADMIN),
        &["cp", &format!("acme/dev/{}", mit.trim()), "prod"],
    )?;
    let unlicensed = packages(&s, "acme/dev")
        .await?
        .into_iter()
        .find(|p| p["name"] == "org.example:tool" && p["version"] == "1.0")
        .ok_or("tool 1.0")?;
    let (st, body) = s
        .admin(
            Method::POST,
            &format!(
                "/api/v1/packages/acme/dev/{}/copy",
                unlicensed["slug_perm"].as_str().unwrap_or_default()
            ),
            Some(json!({"destination": "prod"})),
        )
        .await?;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body.to_string()
            .contains("org.example:tool 1.0 declares no licence"),
        "{body}"
    );
    let (st, prod) = get(&s, "/acme/prod/maven/org/example/mit/maven-metadata.xml").await?;
    assert_eq!(st, StatusCode::OK);
    assert!(String::from_utf8_lossy(&prod).contains("<release>1.0</release>"));
    Ok(())
}
