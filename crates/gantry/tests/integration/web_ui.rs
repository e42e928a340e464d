//! The web interface's security over real HTTP: sessions and their cookies, CSRF on every
//! form, the API's privileges and private-repository rules seen through the pages.
//! (The browser suite in `tests/browser/` drives the same pages in Chromium.)

use std::collections::HashMap;

use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::common::{TestResult, TestServer};

/// A cookie jar and a client that does not follow redirects, so each answer is seen.
pub(crate) struct Browser<'a> {
    server: &'a TestServer,
    http: reqwest::Client,
    cookies: HashMap<String, String>,
    /// Every `Set-Cookie` line received, for the flag checks.
    set_cookies: Vec<String>,
    headers: Vec<(&'static str, String)>,
}

pub(crate) struct Page {
    pub(crate) status: StatusCode,
    pub(crate) location: Option<String>,
    pub(crate) body: String,
}

impl<'a> Browser<'a> {
    pub(crate) fn new(server: &'a TestServer) -> TestResult<Self> {
        Ok(Self {
            server,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()?,
            cookies: HashMap::new(),
            set_cookies: Vec::new(),
            headers: Vec::new(),
        })
    }

    async fn send(
        &mut self,
        method: Method,
        path: &str,
        form: Option<&[(&str, &str)]>,
    ) -> TestResult<Page> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.server.url));
        if !self.cookies.is_empty() {
            let jar: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            request = request.header(COOKIE, jar.join("; "));
        }
        for (name, value) in &self.headers {
            request = request.header(*name, value);
        }
        if let Some(form) = form {
            request = request.form(form);
        }
        let response = request.send().await?;
        for line in response.headers().get_all(SET_COOKIE) {
            let line = line.to_str()?.to_owned();
            if let Some((name, rest)) = line.split_once('=') {
                let value = rest.split(';').next().unwrap_or("").to_owned();
                if value.is_empty() {
                    self.cookies.remove(name);
                } else {
                    self.cookies.insert(name.to_owned(), value);
                }
            }
            self.set_cookies.push(line);
        }
        let status = response.status();
        let location = response
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        Ok(Page {
            status,
            location,
            body: response.text().await?,
        })
    }

    pub(crate) async fn get(&mut self, path: &str) -> TestResult<Page> {
        self.send(Method::GET, path, None).await
    }

    pub(crate) async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> TestResult<Page> {
        self.send(Method::POST, path, Some(form)).await
    }

    /// The CSRF token of the first form on `path`.
    pub(crate) async fn csrf(&mut self, path: &str) -> TestResult<String> {
        let page = self.get(path).await?;
        let marker = "name=\"csrf\" value=\"";
        let start = page
            .body
            .find(marker)
            .ok_or_else(|| format!("no form on {path}: {}", page.body))?
            + marker.len();
        Ok(page.body[start..start + 64].to_owned())
    }

    pub(crate) async fn sign_in_with_token(&mut self, token: &str) -> TestResult<Page> {
        let csrf = self.csrf("/ui/-/sign-in").await?;
        self.post(
            "/ui/-/sign-in",
            &[("csrf", &csrf), ("token", token), ("next", "/ui/")],
        )
        .await
    }

    async fn sign_in_with_password(&mut self, user: &str, password: &str) -> TestResult<Page> {
        let csrf = self.csrf("/ui/-/sign-in").await?;
        self.post(
            "/ui/-/sign-in",
            &[("csrf", &csrf), ("username", user), ("password", password)],
        )
        .await
    }
}

/// Uploads a small raw package (version 1.0.0) and returns its `slug_perm`.
async fn uploaded(server: &TestServer, repo: &str, name: &str) -> TestResult<String> {
    let (_, package) = server
        .upload_raw(repo, name, "1.0.0", &format!("{name}.txt"), b"hello")
        .await?;
    Ok(package["slug_perm"].as_str().ok_or("no slug")?.to_owned())
}

async fn user(server: &TestServer, name: &str, namespace: &str, privilege: &str) -> TestResult {
    let (status, body) = server
        .admin(
            Method::POST,
            "/api/v1/users",
            Some(json!({"name": name, "password": "long-enough-pw"})),
        )
        .await?;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = server
        .admin(
            Method::PUT,
            &format!("/api/v1/privileges/{namespace}"),
            Some(json!({"principal": format!("user:{name}"), "privilege": privilege})),
        )
        .await?;
    assert!(status.is_success(), "{body}");
    Ok(())
}

#[tokio::test]
async fn web_sessions_have_safe_cookies_and_end_at_sign_out() -> TestResult {
    let server = TestServer::start()?;
    server.create_repo("acme", "dev", true).await?;
    user(&server, "alice", "acme", "read").await?;
    let mut browser = Browser::new(&server)?;
    let wrong = browser
        .sign_in_with_password("alice", "not-the-password")
        .await?;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(
        wrong.body.contains("wrong user name or password"),
        "{}",
        wrong.body
    );
    let signed = browser
        .sign_in_with_password("alice", "long-enough-pw")
        .await?;
    assert_eq!(signed.status, StatusCode::SEE_OTHER, "{}", signed.body);
    let cookie = browser
        .set_cookies
        .iter()
        .find(|c| c.starts_with("gantry_session="))
        .ok_or("no session cookie")?
        .clone();
    for flag in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age="] {
        assert!(cookie.contains(flag), "{cookie} lacks {flag}");
    }
    assert!(
        !cookie.contains("Secure"),
        "plain HTTP cannot keep a Secure cookie: {cookie}"
    );
    let csp = browser
        .http
        .get(format!("{}/ui/", server.url))
        .send()
        .await?
        .headers()
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    assert!(
        csp.contains("script-src 'self'")
            && csp.contains("frame-ancestors 'none'")
            && !csp.contains("unsafe"),
        "{csp}"
    );
    let page = browser.get("/ui/acme/dev").await?;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("user:alice"), "{}", page.body);
    let stolen = browser.cookies.clone();
    // The session lives in the database: another replica serves the same browser.
    let replica = TestServer::builder().replica_of(&server).start()?;
    let mut elsewhere = Browser::new(&replica)?;
    elsewhere.cookies = stolen.clone();
    let page = elsewhere.get("/ui/acme/dev").await?;
    assert_eq!(page.status, StatusCode::OK, "a replica knows the session");
    assert!(page.body.contains("user:alice"));

    let csrf = browser.csrf("/ui/").await?;
    let out = browser.post("/ui/-/sign-out", &[("csrf", &csrf)]).await?;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    // The old cookie opens nothing any more: the session row is gone and its token revoked.
    let mut replay = Browser::new(&server)?;
    replay.cookies = stolen;
    assert_eq!(
        replay.get("/ui/acme/dev").await?.status,
        StatusCode::NOT_FOUND
    );

    // Behind TLS (as a proxy reports it) the cookie is Secure and host-bound.
    let mut tls = Browser::new(&server)?;
    tls.headers.push(("x-forwarded-proto", "https".into()));
    let signed = tls.sign_in_with_token(crate::common::ADMIN).await?;
    assert_eq!(signed.status, StatusCode::SEE_OTHER, "{}", signed.body);
    let cookie = tls
        .set_cookies
        .iter()
        .find(|c| c.starts_with("__Host-gantry_session="))
        .ok_or("no __Host- cookie")?;
    assert!(cookie.contains("; Secure"), "{cookie}");
    Ok(())
}

#[tokio::test]
async fn web_forms_need_the_csrf_token_and_this_site() -> TestResult {
    let server = TestServer::start()?;
    server.create_repo("acme", "dev", true).await?;
    let slug = uploaded(&server, "acme/dev", "tool").await?;
    let mut browser = Browser::new(&server)?;
    // Signing in is a form too (no login CSRF): without the pre-session token it is refused.
    let forged = browser
        .post("/ui/-/sign-in", &[("token", crate::common::ADMIN)])
        .await?;
    assert_eq!(forged.status, StatusCode::FORBIDDEN, "{}", forged.body);
    assert_eq!(
        browser
            .sign_in_with_token(crate::common::ADMIN)
            .await?
            .status,
        StatusCode::SEE_OTHER
    );
    let page = format!("/ui/acme/dev/{slug}");
    let action = format!("{page}/quarantine");
    let csrf = browser.csrf(&page).await?;
    let state = || async {
        let (_, p) = server
            .admin(
                Method::GET,
                &format!("/api/v1/packages/acme/dev/{slug}"),
                None,
            )
            .await?;
        TestResult::Ok(p["state"].as_str().unwrap_or("").to_owned())
    };
    assert_eq!(
        browser.post(&action, &[]).await?.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        browser
            .post(&action, &[("csrf", &"0".repeat(64))])
            .await?
            .status,
        StatusCode::FORBIDDEN
    );
    browser
        .headers
        .push(("origin", "http://attacker.invalid".into()));
    assert_eq!(
        browser.post(&action, &[("csrf", &csrf)]).await?.status,
        StatusCode::FORBIDDEN
    );
    browser.headers.clear();
    browser
        .headers
        .push(("sec-fetch-site", "cross-site".into()));
    assert_eq!(
        browser.post(&action, &[("csrf", &csrf)]).await?.status,
        StatusCode::FORBIDDEN
    );
    browser.headers.clear();
    assert_eq!(
        state().await?,
        "available",
        "a refused form changed nothing"
    );
    let done = browser.post(&action, &[("csrf", &csrf)]).await?;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(
        done.location.as_deref(),
        Some(format!("{page}?notice=quarantined").as_str())
    );
    assert_eq!(state().await?, "quarantined");
    // Another browser's token is worth nothing here.
    let mut other = Browser::new(&server)?;
    let foreign = other.csrf("/ui/-/sign-in").await?;
    let release = format!("{page}/release");
    assert_eq!(
        browser.post(&release, &[("csrf", &foreign)]).await?.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(state().await?, "quarantined");
    Ok(())
}

#[tokio::test]
async fn web_outsiders_see_no_private_names() -> TestResult {
    let server = TestServer::start()?;
    server.create_repo("acme", "secret-stuff", true).await?;
    server.create_repo("bobco", "tools", true).await?;
    let slug = uploaded(&server, "acme/secret-stuff", "hidden-pkg").await?;
    user(&server, "bob", "bobco", "admin").await?;
    let mut bob = Browser::new(&server)?;
    assert_eq!(
        bob.sign_in_with_password("bob", "long-enough-pw")
            .await?
            .status,
        StatusCode::SEE_OTHER
    );
    let mut anonymous = Browser::new(&server)?;
    for browser in [&mut bob, &mut anonymous] {
        let home = browser.get("/ui/").await?;
        assert!(!home.body.contains("acme"), "{}", home.body);
        for path in [
            "/ui/acme".to_owned(),
            "/ui/acme/secret-stuff".to_owned(),
            format!("/ui/acme/secret-stuff/{slug}"),
            "/ui/acme/secret-stuff/-/security".to_owned(),
            "/ui/acme/secret-stuff/-/webhooks".to_owned(),
            "/ui/acme/secret-stuff/-/upload".to_owned(),
        ] {
            let page = browser.get(&path).await?;
            assert!(
                matches!(
                    page.status,
                    StatusCode::NOT_FOUND | StatusCode::FORBIDDEN | StatusCode::UNAUTHORIZED
                ),
                "{path}: {}",
                page.status
            );
            assert!(!page.body.contains("hidden-pkg"), "{path}: {}", page.body);
        }
        let listing = browser.get("/ui/acme").await?;
        assert!(!listing.body.contains("secret-stuff"), "{}", listing.body);
    }
    let own = bob.get("/ui/").await?;
    assert!(own.body.contains("bobco"), "{}", own.body);
    Ok(())
}

#[tokio::test]
async fn web_a_read_token_cannot_act_and_a_revoked_one_ends_the_session() -> TestResult {
    let server = TestServer::start()?;
    server.create_repo("acme", "dev", true).await?;
    server.create_repo("acme", "staging", true).await?;
    let slug = uploaded(&server, "acme/dev", "tool").await?;
    let (status, created) = server
        .admin(
            Method::POST,
            "/api/v1/tokens",
            Some(json!({"scope": "acme", "privilege": "read"})),
        )
        .await?;
    assert_eq!(status, StatusCode::CREATED);
    let read = created["token"].as_str().ok_or("no token")?;
    let mut browser = Browser::new(&server)?;
    assert_eq!(
        browser.sign_in_with_token(read).await?.status,
        StatusCode::SEE_OTHER
    );
    let page = format!("/ui/acme/dev/{slug}");
    let shown = browser.get(&page).await?;
    assert_eq!(
        shown.status,
        StatusCode::OK,
        "a read token sees the package"
    );
    let csrf = browser.csrf(&page).await?;
    for action in ["quarantine", "delete", "rescan", "yank"] {
        let refused = browser
            .post(&format!("{page}/{action}"), &[("csrf", &csrf)])
            .await?;
        assert_eq!(
            refused.status,
            StatusCode::FORBIDDEN,
            "{action}: {}",
            refused.body
        );
    }
    let promote = browser
        .post(
            &format!("{page}/promote-confirm"),
            &[
                ("csrf", &csrf),
                ("destination", "staging"),
                ("mode", "move"),
            ],
        )
        .await?;
    assert_eq!(promote.status, StatusCode::FORBIDDEN, "{}", promote.body);
    let (_, after) = server
        .admin(
            Method::GET,
            &format!("/api/v1/packages/acme/dev/{slug}"),
            None,
        )
        .await?;
    assert_eq!(after["state"], "available");
    assert_eq!(after["repository"], "acme/dev");

    let id = created["id"].as_i64().ok_or("no id")?;
    let (status, _) = server
        .admin(Method::DELETE, &format!("/api/v1/tokens/{id}"), None)
        .await?;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        browser.get(&page).await?.status,
        StatusCode::NOT_FOUND,
        "the session ended with its token"
    );
    Ok(())
}

#[tokio::test]
async fn web_upload_form_streams_to_the_api_and_needs_the_csrf_token() -> TestResult {
    let server = TestServer::start()?;
    server.create_repo("acme", "dev", true).await?;
    let mut browser = Browser::new(&server)?;
    assert_eq!(
        browser
            .sign_in_with_token(crate::common::ADMIN)
            .await?
            .status,
        StatusCode::SEE_OTHER
    );
    let csrf = browser.csrf("/ui/acme/dev/-/upload").await?;
    let jar: Vec<String> = browser
        .cookies
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let bytes = vec![7u8; 3 * 1024 * 1024];
    let send = |csrf: &str| {
        let form = reqwest::multipart::Form::new()
            .text("csrf", csrf.to_owned())
            .text("format", "raw")
            .text("name", "blob")
            .text("version", "1.0.0")
            .part(
                "file",
                reqwest::multipart::Part::bytes(bytes.clone()).file_name("blob.bin"),
            );
        browser
            .http
            .post(format!("{}/ui/acme/dev/-/upload", server.url))
            .header(COOKIE, jar.join("; "))
            .multipart(form)
            .send()
    };
    let refused = send(&"0".repeat(64)).await?;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let (_, list) = server
        .admin(Method::GET, "/api/v1/packages/acme/dev", None)
        .await?;
    assert_eq!(list.as_array().map(Vec::len), Some(0), "{list}");
    let done = send(&csrf).await?;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    let location = done
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    assert!(location.ends_with("?notice=uploaded"), "{location}");
    let slug = location
        .trim_end_matches("?notice=uploaded")
        .rsplit('/')
        .next()
        .unwrap_or("");
    let package = server.wait_for_sync("acme/dev", slug).await?;
    assert_eq!(package["size"], 3 * 1024 * 1024, "{package}");
    assert_eq!(
        package["checksum_sha256"],
        crate::common::sha256_hex(&bytes),
        "{package}"
    );
    Ok(())
}
