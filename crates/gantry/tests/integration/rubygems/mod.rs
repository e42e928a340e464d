//! RubyGems with the real `gem` and `bundle`: `gem build` → `gem push` (the API key a Gantry
//! token) → `gem install --clear-sources --source …` (the legacy Marshal indexes) and
//! `bundle install` (the compact index, with ranged re-reads); `gem yank` and `gantry push`;
//! yank, promotion (copy, bulk move), quarantine and deletion as both clients see them;
//! refusals printed by `gem` in Gantry's words; hostile `.gem`s refused with nothing stored.

pub(crate) mod client;
mod private;
mod scan;
mod upstream;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::{TestResult, TestServer, ADMIN};
use client::{gem_bytes, get_text, push_bytes, spec_yaml, Ruby};

/// `ruby -e` printing `Module.hi` of each gem, run in the gem home `home`.
fn says(ruby: &Ruby, home: &str, gems: &[&str]) -> TestResult<String> {
    let script: String = gems
        .iter()
        .map(|g| format!("require {g:?}; puts {}.hi; ", client::module_name(g)))
        .collect();
    ruby.ok(ruby.work.path(), home, None, "ruby", &["-e", &script])
}

/// The slug of `name` `version` in `repo`, through the REST API.
async fn slug_of(s: &TestServer, repo: &str, name: &str, version: &str) -> TestResult<String> {
    let (_, list) = s
        .admin(
            Method::GET,
            &format!("/api/v1/packages/{repo}?query=name:{name}"),
            None,
        )
        .await?;
    list.as_array()
        .and_then(|a| a.iter().find(|p| p["version"] == version))
        .and_then(|p| p["slug_perm"].as_str())
        .map(str::to_owned)
        .ok_or_else(|| format!("{name} {version} not in {repo}: {list}").into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gem_and_bundler_install_gems_pushed_to_gantry() -> TestResult {
    if crate::common::native_client_suite_skipped() {
        return Ok(());
    }
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", false).await?;
    s.create_repo("acme", "prod", false).await?;
    let write = s.token("acme/dev", "write").await?;
    let read = s.token("acme/dev", "read").await?;
    let ruby = Ruby::new()?;
    let root = ruby.work.path().to_path_buf();
    let dev = format!("{}/acme/dev/rubygems", s.url);

    // gem push with a write token as the API key; a read token is refused in Gantry's words.
    let greet = ruby.build("greet", "0.1.0", &[])?;
    let hello = ruby.build("hello", "1.2.0", &[("greet", ">= 0.1")])?;
    let hello13 = ruby.build("hello", "1.3.0", &[("greet", ">= 0.1")])?;
    let refused = ruby.push(false, &dev, &read, &greet)?;
    assert!(refused.contains("write"), "{refused}");
    for gem in [&greet, &hello] {
        let out = ruby.push(true, &dev, &write, gem)?;
        assert!(out.contains("Successfully registered gem"), "{out}");
    }
    let again = ruby.push(false, &dev, &write, &hello)?;
    assert!(again.contains("already exists"), "{again}");
    // The generic upload of the CLI takes a .gem too.
    let out = s.cli_ok(
        Some(ADMIN),
        &[
            "push",
            "rubygems",
            "acme/dev",
            &hello13.display().to_string(),
        ],
    )?;
    assert!(!out.trim().is_empty());

    // The compact index: versions with each info's MD5, info lines with dependencies and
    // checksums, ETags that validate.
    let (st, versions) = get_text(&s, "/acme/dev/rubygems/versions", None).await?;
    assert_eq!(st, StatusCode::OK);
    let (_, info) = get_text(&s, "/acme/dev/rubygems/info/hello", None).await?;
    assert!(
        info.starts_with("---\n1.2.0 greet:>= 0.1|checksum:"),
        "{info}"
    );
    let resp = s
        .req(Method::GET, "/acme/dev/rubygems/info/hello", None)
        .header("Range", "bytes=4-")
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT);
    // The ETag is the document's MD5 (Bundler 2.3 checks what it pieced together against
    // it), the same MD5 /versions lists for the gem.
    let etag = resp.headers()["etag"].to_str()?.to_owned();
    let info_md5 = etag.trim_matches('"');
    assert!(
        versions.contains(&format!("\nhello 1.2.0,1.3.0 {info_md5}\n")),
        "{versions}\n{info}"
    );
    assert!(resp.headers().contains_key("repr-digest"));
    assert_eq!(resp.text().await?, &info[4..]);
    let resp = s
        .req(Method::GET, "/acme/dev/rubygems/info/hello", None)
        .header("If-None-Match", &etag)
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::NOT_MODIFIED);

    // gem install reads the legacy indexes; bundler the compact index.
    let out = ruby.ok(
        &root,
        "a",
        None,
        "gem",
        &[
            "install",
            "hello",
            "-v",
            "1.2.0",
            "--clear-sources",
            "--source",
            &format!("{dev}/"),
        ],
    )?;
    assert!(out.contains("2 gems installed"), "{out}");
    assert_eq!(says(&ruby, "a", &["hello"])?, "hello 1.2.0\n");
    // The gemspec gem reads from quick/Marshal.4.8 is Gantry's Marshal of the stored spec.
    let spec = ruby.ok(
        &root,
        "a",
        None,
        "gem",
        &[
            "specification",
            "--remote",
            "hello",
            "-v",
            "1.2.0",
            "--clear-sources",
            "--source",
            &format!("{dev}/"),
        ],
    )?;
    assert!(
        spec.contains("name: hello")
            && spec.contains("name: greet")
            && spec.contains("version: '0.1'"),
        "{spec}"
    );
    let app = ruby.project("1", &format!("{dev}/"), &[("hello", ">= 1.0")])?;
    let out = ruby.bundle_run(
        &app,
        "b",
        "require 'hello'; require 'greet'; puts Hello.hi, Greet.hi",
    )?;
    assert_eq!(out, "hello 1.3.0\ngreet 0.1.0\n");

    // gem yank hides 1.3.0 from every index; bundler then resolves to 1.2.0.
    let out = ruby.yank(&dev, &write, "hello", "1.3.0")?;
    assert!(
        out.contains("Successfully yanked gem: hello (1.3.0)"),
        "{out}"
    );
    let missing = ruby.yank(&dev, &write, "nonesuch", "1.0")?;
    assert!(
        missing.contains("gem nonesuch (1.0) not found in acme/dev"),
        "{missing}"
    );
    let yanked = s
        .admin(
            Method::GET,
            &format!(
                "/api/v1/packages/acme/dev/{}",
                slug_of(&s, "acme/dev", "hello", "1.3.0").await?
            ),
            None,
        )
        .await?
        .1;
    assert_eq!(yanked["is_yanked"], true, "{yanked}");
    let (_, info) = get_text(&s, "/acme/dev/rubygems/info/hello", None).await?;
    assert!(!info.contains("1.3.0"), "{info}");
    let listed = ruby.ok(
        &root,
        "c",
        None,
        "gem",
        &[
            "list",
            "--remote",
            "--all",
            "--clear-sources",
            "--source",
            &format!("{dev}/"),
        ],
    )?;
    assert!(listed.contains("hello (1.2.0)"), "{listed}");
    // A fresh bundle (Bundler counts gems it already installed as candidates).
    let app = ruby.project("fresh", &format!("{dev}/"), &[("hello", ">= 1.0")])?;
    let out = ruby.bundle_run(&app, "g", "require 'hello'; puts Hello.hi")?;
    assert_eq!(out, "hello 1.2.0\n");

    // Promotion: hello 1.2.0 copied to prod, greet moved there in a bulk promotion (gone
    // from dev's indexes); gem installs both from prod.
    let hello_slug = slug_of(&s, "acme/dev", "hello", "1.2.0").await?;
    s.cli_ok(
        Some(ADMIN),
        &["cp", &format!("acme/dev/{hello_slug}"), "prod"],
    )?;
    let greet_slug = slug_of(&s, "acme/dev", "greet", "0.1.0").await?;
    let (st, moved) = s
        .admin(
            Method::POST,
            "/api/v1/promotions",
            Some(json!({"source": "acme/dev", "destination": "acme/prod", "slugs": [greet_slug], "mode": "move"})),
        )
        .await?;
    assert_eq!(st, StatusCode::OK, "{moved}");
    let (st, _) = get_text(&s, "/acme/dev/rubygems/info/greet", None).await?;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let prod = format!("{}/acme/prod/rubygems/", s.url);
    ruby.ok(
        &root,
        "d",
        None,
        "gem",
        &["install", "hello", "--clear-sources", "--source", &prod],
    )?;
    assert_eq!(
        says(&ruby, "d", &["hello", "greet"])?,
        "hello 1.2.0\ngreet 0.1.0\n"
    );

    // Quarantined: out of the indexes, its file refused with the reason; deleted: gone.
    let prod_hello = slug_of(&s, "acme/prod", "hello", "1.2.0").await?;
    s.cli_ok(
        Some(ADMIN),
        &[
            "quarantine",
            "add",
            &format!("acme/prod/{prod_hello}"),
            "--reason",
            "held for review RB-1",
        ],
    )?;
    let (_, names) = get_text(&s, "/acme/prod/rubygems/names", None).await?;
    assert_eq!(names, "---\ngreet\n");
    let (st, body) = get_text(&s, "/acme/prod/rubygems/gems/hello-1.2.0.gem", None).await?;
    assert!(
        st == StatusCode::FORBIDDEN && body.contains("held for review RB-1"),
        "{st} {body}"
    );
    let app = ruby.project("2", &prod, &[("hello", ">= 0")])?;
    let out = ruby.fails(&app, "e", None, "bundle", &["install"])?;
    assert!(out.contains("hello"), "{out}");
    s.cli_ok(Some(ADMIN), &["delete", &format!("acme/prod/{greet_slug}")])?;
    let (_, specs) = get_text(&s, "/acme/prod/rubygems/versions", None).await?;
    assert!(!specs.contains("greet"), "{specs}");
    let none = ruby.fails(
        &root,
        "f",
        None,
        "gem",
        &["install", "greet", "--clear-sources", "--source", &prod],
    )?;
    assert!(none.contains("greet"), "{none}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_gems_are_refused_with_nothing_stored() -> TestResult {
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", false).await?;
    let spec = spec_yaml("evil", "1.0.0");
    let laughs = "a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n";
    let mut bomb = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    std::io::Write::write_all(&mut bomb, &vec![0u8; 64 << 20])?;
    let bomb = bomb.finish()?;
    let bomb_gem = {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(bomb.len() as u64);
        h.set_path("metadata.gz")?;
        h.set_cksum();
        b.append(&h, &bomb[..])?;
        b.into_inner()?
    };
    for (gem, why) in [
        (
            gem_bytes(&spec, &[("../../etc/cron.d/x", b"x")])?,
            "escapes",
        ),
        (gem_bytes(&spec, &[("/etc/passwd", b"x")])?, "escapes"),
        (
            gem_bytes(&spec_yaml("../evil", "1.0.0"), &[])?,
            "not a valid gem name",
        ),
        (
            gem_bytes(&spec_yaml("evil", "1.0; rm"), &[])?,
            "not a valid gem version",
        ),
        (gem_bytes(laughs, &[])?, "metadata"),
        (
            gem_bytes(
                "--- !ruby/object:Gem::Specification\nname: [unclosed\n",
                &[],
            )?,
            "not valid YAML",
        ),
        (bomb_gem, "larger than"),
        (b"not a gem at all".to_vec(), "gem"),
    ] {
        let (st, body) = push_bytes(&s, "acme/dev", ADMIN, gem).await?;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{why}: {body}");
        assert!(body.contains(why), "{why}: {body}");
    }
    // A well-formed gem whose YAML names Ruby classes is read as data, nothing more.
    let tagged = format!("{}metadata: !ruby/hash:ActiveSupport::HashWithIndifferentAccess\n  x: !ruby/object:Kernel\n    y: 1\n", spec_yaml("tagged", "1.0.0"));
    let (st, body) = push_bytes(
        &s,
        "acme/dev",
        ADMIN,
        gem_bytes(&tagged, &[("lib/t.rb", b"")])?,
    )
    .await?;
    assert_eq!(st, StatusCode::OK, "{body}");
    let (_, listed) = s
        .admin(Method::GET, "/api/v1/packages/acme/dev", None)
        .await?;
    let names: Vec<&str> = listed
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p: &Value| p["name"].as_str())
        .collect();
    assert_eq!(names, ["tagged"], "{listed}");
    Ok(())
}

/// The `derived` cache hits on `/metrics` (memoised index snapshots among them).
async fn derived_hits(s: &TestServer) -> TestResult<f64> {
    let text = s
        .req(Method::GET, "/metrics", None)
        .send()
        .await?
        .text()
        .await?;
    let hits = "gantry_cache_lookups_total{cache=\"derived\",result=\"hit\"}";
    Ok(text
        .lines()
        .find(|l| l.starts_with(hits))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0.0))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promotion_rules_feed_the_index_which_is_served_from_memory() -> TestResult {
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", false).await?;
    s.create_repo("acme", "staging", false).await?;
    let (st, rule) = s
        .admin(
            Method::POST,
            "/api/v1/repos/acme/dev/rules",
            Some(json!({"name": "clean-gems", "on": "package.security_scanned",
                        "condition": "num_vulnerabilities == 0", "action": "copy", "destination": "staging"})),
        )
        .await?;
    assert_eq!(st, StatusCode::CREATED, "{rule}");
    let gem = gem_bytes(&spec_yaml("calm", "1.0.0"), &[("lib/calm.rb", b"")])?;
    let (st, body) = push_bytes(&s, "acme/dev", ADMIN, gem).await?;
    assert_eq!(st, StatusCode::OK, "{body}");
    // The rule copies it once scanned; staging's indexes list it then.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let info = loop {
        let (st, info) = get_text(&s, "/acme/staging/rubygems/info/calm", None).await?;
        if st == StatusCode::OK {
            break info;
        }
        if std::time::Instant::now() > deadline {
            return Err("the rule never copied the gem".into());
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert!(info.starts_with("---\n1.0.0 |checksum:"), "{info}");
    // While nothing changes, index requests are answered from the memoised snapshot (the
    // jobs that follow a copy may still move the cache epoch: read until a round is clean).
    let mut clean = false;
    for _ in 0..20 {
        let before = derived_hits(&s).await?;
        for path in ["versions", "info/calm", "names", "specs.4.8.gz"] {
            let (st, _) = get_text(&s, &format!("/acme/staging/rubygems/{path}"), None).await?;
            assert_eq!(st, StatusCode::OK, "{path}");
        }
        if derived_hits(&s).await? - before >= 4.0 {
            clean = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(clean, "index requests never hit the memoised snapshot");
    Ok(())
}
