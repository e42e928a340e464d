//! Maven with the real client: `mvn deploy` of a library (POM, JAR, sources) to a private
//! repository, a second project resolving and compiling against it, a release redeploy
//! refused with Gantry's message in mvn's output, SNAPSHOT builds (the consumer gets the
//! newest), a move dev → prod updating both repositories' metadata, quarantine, and who may
//! read and deploy. Build plugins come from Debian's local Maven repository
//! (`/usr/share/maven-repo`), as `../shared/TESTING.md` describes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::{TestResult, TestServer};

const DEBIAN_REPO: &str = "/usr/share/maven-repo";

/// Whether mvn and the Debian plugins are here (scripts/test.sh installs them).
pub(crate) fn maven_missing() -> bool {
    let deploy = Path::new(DEBIAN_REPO).join("org/apache/maven/plugins/maven-deploy-plugin");
    let missing = Command::new("mvn").arg("-v").output().is_err() || !deploy.exists();
    if missing {
        eprintln!("skipped: mvn or Debian's Maven plugins are missing (run scripts/test.sh)");
    }
    missing
}

/// An mvn with its own local repository and a settings.xml holding one token.
pub(crate) struct Mvn {
    home: tempfile::TempDir,
}

impl Mvn {
    pub(crate) fn new(token: &str) -> TestResult<Self> {
        let home = tempfile::tempdir()?;
        let settings = format!(
            "<settings>\n  <localRepository>{}</localRepository>\n  <mirrors><mirror><id>debian</id>\
             <mirrorOf>central</mirrorOf><url>file://{DEBIAN_REPO}</url></mirror></mirrors>\n  \
             <servers><server><id>gantry</id><username>ci</username><password>{token}</password>\
             </server></servers>\n</settings>\n",
            home.path().join("repository").display()
        );
        std::fs::write(home.path().join("settings.xml"), settings)?;
        Ok(Self { home })
    }

    pub(crate) fn local_repo(&self) -> PathBuf {
        self.home.path().join("repository")
    }

    pub(crate) fn run(&self, dir: &Path, goals: &[&str]) -> TestResult<Output> {
        let settings = self.home.path().join("settings.xml");
        let mut args = vec![
            "-B".to_owned(),
            "-ntp".to_owned(),
            "-s".to_owned(),
            settings.display().to_string(),
        ];
        args.extend(goals.iter().map(|g| (*g).to_owned()));
        Ok(Command::new("mvn")
            .args(&args)
            .current_dir(dir)
            .env("MAVEN_OPTS", "-Xmx256m")
            .output()?)
    }

    pub(crate) fn ok(&self, dir: &Path, goals: &[&str]) -> TestResult<String> {
        let out = self.run(dir, goals)?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if !out.status.success() {
            return Err(format!("mvn {goals:?} failed:\n{text}").into());
        }
        Ok(text)
    }
}

/// The plugin versions Debian ships, pinned (the central repository is unreachable).
const PLUGINS: &str = "<plugin><groupId>org.apache.maven.plugins</groupId><artifactId>maven-compiler-plugin</artifactId><version>3.10.1</version></plugin>\
<plugin><groupId>org.apache.maven.plugins</groupId><artifactId>maven-resources-plugin</artifactId><version>3.3.0</version></plugin>\
<plugin><groupId>org.apache.maven.plugins</groupId><artifactId>maven-surefire-plugin</artifactId><version>2.22.3</version></plugin>\
<plugin><groupId>org.apache.maven.plugins</groupId><artifactId>maven-install-plugin</artifactId><version>3.1.0</version></plugin>\
<plugin><groupId>org.apache.maven.plugins</groupId><artifactId>maven-deploy-plugin</artifactId><version>3.0.0</version></plugin>";

/// The jar plugin, also packing the sources as the `sources` classifier.
const JAR_WITH_SOURCES: &str = "<plugin><groupId>org.apache.maven.plugins</groupId><artifactId>maven-jar-plugin</artifactId><version>3.3.0</version>\
<executions><execution><id>sources</id><phase>package</phase><goals><goal>jar</goal></goals>\
<configuration><classifier>sources</classifier><classesDirectory>${basedir}/src/main/java</classesDirectory></configuration>\
</execution></executions></plugin>";

/// A project: coordinates, its Java class, its dependencies, and where it deploys and
/// resolves from.
pub(crate) struct Project<'a> {
    pub(crate) artifact: &'a str,
    pub(crate) version: &'a str,
    pub(crate) class: &'a str,
    pub(crate) java: &'a str,
    pub(crate) dependencies: &'a [(&'a str, &'a str)],
    pub(crate) url: &'a str,
}

impl Project<'_> {
    pub(crate) fn write(&self, dir: &Path) -> TestResult<()> {
        let deps: String = self
            .dependencies
            .iter()
            .map(|(a, v)| {
                // `artifact` in org.example, or `group:artifact`.
                let (g, a) = a.split_once(':').unwrap_or(("org.example", a));
                format!("<dependency><groupId>{g}</groupId><artifactId>{a}</artifactId><version>{v}</version></dependency>")
            })
            .collect();
        let url = self.url;
        let pom = format!(
            "<project>\n<modelVersion>4.0.0</modelVersion>\n\
             <groupId>org.example</groupId><artifactId>{}</artifactId><version>{}</version>\n\
             <licenses><license><name>Apache-2.0</name></license></licenses>\n\
             <properties><maven.compiler.source>17</maven.compiler.source><maven.compiler.target>17</maven.compiler.target>\
             <project.build.sourceEncoding>UTF-8</project.build.sourceEncoding></properties>\n\
             <dependencies>{deps}</dependencies>\n\
             <repositories><repository><id>gantry</id><url>{url}</url>\
             <snapshots><enabled>true</enabled><updatePolicy>always</updatePolicy></snapshots></repository></repositories>\n\
             <distributionManagement><repository><id>gantry</id><url>{url}</url></repository>\
             <snapshotRepository><id>gantry</id><url>{url}</url></snapshotRepository></distributionManagement>\n\
             <build><plugins>{PLUGINS}{JAR_WITH_SOURCES}</plugins></build>\n</project>\n",
            self.artifact, self.version
        );
        std::fs::write(dir.join("pom.xml"), pom)?;
        let src = dir.join("src/main/java/org/example");
        std::fs::create_dir_all(&src)?;
        std::fs::write(src.join(format!("{}.java", self.class)), self.java)?;
        Ok(())
    }
}

/// The library org.example:greeter at `version`.
fn library(dir: &Path, version: &str, java: &str, url: &str) -> TestResult<()> {
    Project {
        artifact: "greeter",
        version,
        class: "Greeter",
        java,
        dependencies: &[],
        url,
    }
    .write(dir)
}

/// The application org.example:app 1.0, depending on `dependencies`.
pub(crate) fn consumer(
    dir: &Path,
    java: &str,
    dependencies: &[(&str, &str)],
    url: &str,
) -> TestResult<()> {
    Project {
        artifact: "app",
        version: "1.0",
        class: "App",
        java,
        dependencies,
        url,
    }
    .write(dir)
}

pub(crate) fn maven_url(s: &TestServer, repo: &str) -> String {
    format!("{}/{repo}/maven/", s.url)
}

async fn get_text(
    s: &TestServer,
    path: &str,
    token: Option<&str>,
) -> TestResult<(StatusCode, String)> {
    let resp = s.req(Method::GET, path, None);
    let resp = match token {
        Some(t) => resp.basic_auth("ci", Some(t)),
        None => resp,
    };
    let resp = resp.send().await?;
    Ok((resp.status(), resp.text().await?))
}

async fn packages(s: &TestServer, repo: &str) -> TestResult<Vec<Value>> {
    let (st, body) = s
        .admin(Method::GET, &format!("/api/v1/packages/{repo}"), None)
        .await?;
    assert_eq!(st, StatusCode::OK, "{body}");
    Ok(body.as_array().cloned().unwrap_or_default())
}

fn greeter(version: &str, greeting: &str, extra: &str) -> String {
    format!(
        "package org.example;\npublic class Greeter {{\n  public static String greet(String n) {{ return \"{greeting}, \" + n; }}\n{extra}\n}}\n"
    )
    .replace("VERSION", version)
}

const CONSUMER: &str = "package org.example;\npublic class App {\n  public static void main(String[] a) { System.out.println(Greeter.greet(\"world\")); }\n}\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mvn_deploys_resolves_refuses_and_promotes() -> TestResult {
    if crate::common::native_client_suite_skipped() || maven_missing() {
        return Ok(());
    }
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", true).await?;
    s.create_repo("acme", "prod", true).await?;
    let writer = s.token("acme", "write").await?;
    let reader = s.token("acme/prod", "read").await?;
    let dev = maven_url(&s, "acme/dev");
    let work = tempfile::tempdir()?;

    // Deploy a release with its sources.
    let lib = work.path().join("lib");
    std::fs::create_dir_all(&lib)?;
    let release = greeter("1.0", "Hello", "");
    library(&lib, "1.0", &release, &dev)?;
    let producer = Mvn::new(&writer)?;
    producer.ok(&lib, &["deploy"])?;
    let pkgs = packages(&s, "acme/dev").await?;
    assert_eq!(pkgs.len(), 1, "{pkgs:?}");
    let pkg = &pkgs[0];
    assert_eq!(pkg["name"], "org.example:greeter");
    assert_eq!(pkg["version"], "1.0");
    assert_eq!(pkg["metadata"]["license"], "Apache-2.0");
    let names: Vec<&str> = pkg["files"]
        .as_array()
        .map(|f| f.iter().filter_map(|f| f["filename"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(names[0], "greeter-1.0.pom");
    assert!(
        names.contains(&"greeter-1.0.jar") && names.contains(&"greeter-1.0-sources.jar"),
        "{names:?}"
    );
    // Checksums are the stored bytes' own.
    let jar = std::fs::read(lib.join("target/greeter-1.0.jar"))?;
    let (st, sha256) = get_text(
        &s,
        "/acme/dev/maven/org/example/greeter/1.0/greeter-1.0.jar.sha256",
        Some(&writer),
    )
    .await?;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(sha256, crate::common::sha256_hex(&jar));

    // A second project resolves and compiles against it.
    let app = work.path().join("app");
    std::fs::create_dir_all(&app)?;
    consumer(&app, CONSUMER, &[("greeter", "1.0")], &dev)?;
    Mvn::new(&writer)?.ok(&app, &["package"])?;

    // A release is immutable: mvn prints Gantry's reason.
    let out = producer.run(&lib, &["deploy"])?;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success());
    assert!(
        text.contains("409")
            && text.contains(
                "org.example:greeter:1.0 is already published in acme/dev; releases are immutable"
            ),
        "{text}"
    );
    assert_eq!(packages(&s, "acme/dev").await?.len(), 1);

    // An admin allows republishing: the same release deploys again and replaces the package;
    // the replaced one is deleted with the reason on its trail.
    let (st, body) = s
        .admin(
            Method::PATCH,
            "/api/v1/repos/acme/dev",
            Some(json!({"allow_republish": true})),
        )
        .await?;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(body["allow_republish"], true);
    library(&lib, "1.0", &greeter("1.0", "Howdy", ""), &dev)?;
    producer.ok(&lib, &["deploy"])?;
    let pkgs = packages(&s, "acme/dev").await?;
    assert_eq!(pkgs.len(), 1, "{pkgs:?}");
    let first_slug = pkg["slug_perm"].as_str().unwrap_or_default();
    let pkg = &pkgs[0];
    assert_ne!(pkg["slug_perm"].as_str(), Some(first_slug));
    let jar = std::fs::read(lib.join("target/greeter-1.0.jar"))?;
    let (_, sha256) = get_text(
        &s,
        "/acme/dev/maven/org/example/greeter/1.0/greeter-1.0.jar.sha256",
        Some(&writer),
    )
    .await?;
    assert_eq!(sha256, crate::common::sha256_hex(&jar));
    let (_, replaced) = s
        .admin(
            Method::GET,
            &format!("/api/v1/packages/acme/dev/{first_slug}/events"),
            None,
        )
        .await?;
    assert!(replaced.to_string().contains("republished"), "{replaced}");

    // SNAPSHOT builds: the consumer gets the newest.
    let snapshot_one = greeter("2.0-SNAPSHOT", "Hi", "");
    library(&lib, "2.0-SNAPSHOT", &snapshot_one, &dev)?;
    producer.ok(&lib, &["deploy"])?;
    let snapshot_two = greeter(
        "2.0-SNAPSHOT",
        "Hi",
        "  public static String second() { return \"two\"; }",
    );
    library(&lib, "2.0-SNAPSHOT", &snapshot_two, &dev)?;
    producer.ok(&lib, &["deploy"])?;
    let (st, meta) = get_text(
        &s,
        "/acme/dev/maven/org/example/greeter/2.0-SNAPSHOT/maven-metadata.xml",
        Some(&writer),
    )
    .await?;
    assert_eq!(st, StatusCode::OK);
    assert!(meta.contains("<buildNumber>2</buildNumber>"), "{meta}");
    let newest_only = "package org.example;\npublic class App {\n  public static void main(String[] a) { System.out.println(Greeter.second()); }\n}\n";
    consumer(&app, newest_only, &[("greeter", "2.0-SNAPSHOT")], &dev)?;
    Mvn::new(&writer)?.ok(&app, &["package"])?;
    let (_, artifact_meta) = get_text(
        &s,
        "/acme/dev/maven/org/example/greeter/maven-metadata.xml",
        Some(&writer),
    )
    .await?;
    assert!(
        artifact_meta.contains("<version>2.0-SNAPSHOT</version>")
            && artifact_meta.contains("<release>1.0</release>"),
        "{artifact_meta}"
    );

    // Move the release to prod: both repositories' metadata follow, and prod serves it.
    let slug = pkg["slug_perm"].as_str().unwrap_or_default();
    let (st, body) = s
        .admin(
            Method::POST,
            &format!("/api/v1/packages/acme/dev/{slug}/move"),
            Some(json!({"destination": "prod"})),
        )
        .await?;
    assert_eq!(st, StatusCode::OK, "{body}");
    let (_, dev_meta) = get_text(
        &s,
        "/acme/dev/maven/org/example/greeter/maven-metadata.xml",
        Some(&writer),
    )
    .await?;
    assert!(!dev_meta.contains("<version>1.0</version>"), "{dev_meta}");
    let (st, prod_meta) = get_text(
        &s,
        "/acme/prod/maven/org/example/greeter/maven-metadata.xml",
        Some(&reader),
    )
    .await?;
    assert_eq!(st, StatusCode::OK);
    assert!(prod_meta.contains("<release>1.0</release>"), "{prod_meta}");
    let prod = maven_url(&s, "acme/prod");
    consumer(&app, CONSUMER, &[("greeter", "1.0")], &prod)?;
    let consumer = Mvn::new(&reader)?;
    consumer.ok(&app, &["package"])?;
    assert!(consumer
        .local_repo()
        .join("org/example/greeter/1.0/greeter-1.0.jar")
        .exists());

    // Quarantine hides the version from metadata and refuses its files.
    let (st, body) = s
        .admin(
            Method::POST,
            &format!("/api/v1/packages/acme/prod/{slug}/quarantine"),
            Some(json!({})),
        )
        .await?;
    assert_eq!(st, StatusCode::OK, "{body}");
    let (st, _) = get_text(
        &s,
        "/acme/prod/maven/org/example/greeter/maven-metadata.xml",
        Some(&reader),
    )
    .await?;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (st, _) = get_text(
        &s,
        "/acme/prod/maven/org/example/greeter/1.0/greeter-1.0.jar",
        Some(&reader),
    )
    .await?;
    assert_eq!(st, StatusCode::FORBIDDEN);

    // Private repositories: anonymous callers are challenged, a read token cannot deploy.
    let (st, _) = get_text(
        &s,
        "/acme/dev/maven/org/example/greeter/maven-metadata.xml",
        None,
    )
    .await?;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    let put = s
        .req(
            Method::PUT,
            "/acme/prod/maven/org/example/greeter/3.0/greeter-3.0.pom",
            None,
        )
        .basic_auth("ci", Some(&reader))
        .body("<project/>")
        .send()
        .await?;
    assert_eq!(put.status(), StatusCode::FORBIDDEN);
    s.create_repo("other", "x", true).await?;
    let outsider = s.token("other", "admin").await?;
    let (st, _) = get_text(
        &s,
        "/acme/prod/maven/org/example/greeter/maven-metadata.xml",
        Some(&outsider),
    )
    .await?;
    assert_eq!(st, StatusCode::NOT_FOUND);
    Ok(())
}
